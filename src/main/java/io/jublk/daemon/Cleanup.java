package io.jublk.daemon;

import io.jublk.spi.DeviceInfo;
import io.jublk.ctrl.UblkControl;
import io.jublk.spi.ConfigException;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.Errno;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Removing jublk devices, live or orphaned: what `ublk del` does, and what a new server does with the leftovers of
 * one that died before its device existed.
 *
 * <p>Ownership is never guessed. A device is jublk's when its kernel {@code ublksrv_flags} carry the token of the
 * device's record (or, with no record left, jublk's token magic); a live server is asked over its control socket, or
 * signalled through a pidfd after its pid and start time are checked; a device whose server is gone is stopped and
 * deleted here with the device's lock held, so no server or command can act on it at the same time. The record is
 * removed before DEL_DEV frees the id.
 */
public final class Cleanup {
    private static final System.Logger LOG = System.getLogger(Cleanup.class.getName());

    private Cleanup() {}

    /**
     * How a deletion went.
     *
     * @param stopped the server's own account of its stop, when it gave one
     * @param killed  the server did not stop in time and was killed
     * @param orphan  no server was alive: the device (or record) was removed here
     */
    public record Outcome(int id, Control.Stopped stopped, boolean killed, boolean orphan) {
        /** Acknowledged writes may be lost (the final flush failed), or the server had to be killed. */
        public boolean failed() {
            return killed || (stopped != null && (stopped.flushErrno() != 0 || stopped.deleteErrno() != 0));
        }

        /** One line for the user when {@link #failed()}. */
        public String problem() {
            if (killed) {
                return "device " + id + ": its server did not stop in time and was killed; writes it had not yet "
                        + "flushed may be lost";
            }
            if (stopped != null && stopped.flushErrno() != 0) {
                return "device " + id + ": the final flush" + (stopped.flushed() != null ? " of " + stopped.flushed() : "")
                        + " failed with " + Failure.errnoText(stopped.flushErrno())
                        + ": writes the device acknowledged may not be on the backing store";
            }
            if (stopped != null && stopped.deleteErrno() != 0) {
                return "device " + id + ": DEL_DEV failed with " + Failure.errnoText(stopped.deleteErrno());
            }
            return "";
        }
    }

    /**
     * Stops and deletes jublk device {@code id}, or removes what is left of it. A device that is not jublk's is
     * refused (ConfigException); so is an id with neither a device nor a record.
     *
     * @param timeout  how long a server may take to stop before it is killed — never while it is flushing
     * @param progress told (rarely) why this is taking long
     */
    public static Outcome delete(RunDirectory run, UblkControl ctrl, int id, Duration timeout, Consumer<String> progress)
            throws InterruptedException {
        return delete(run, ctrl, id, false, timeout, progress);
    }

    /**
     * Like {@link #delete(RunDirectory, UblkControl, int, Duration, Consumer)}; with {@code safe}, only a device
     * nobody has open (TRY_STOP_DEV): one that is open or mounted is refused with a ConfigException and goes on.
     */
    @SuppressWarnings("try") // the lock is held for the block, not used in it
    public static Outcome delete(RunDirectory run, UblkControl ctrl, int id, boolean safe, Duration timeout,
            Consumer<String> progress) throws InterruptedException {
        Control.Stopped stopped = null;
        boolean killed = false;
        for (int attempt = 0; ; attempt++) {
            Optional<DeviceRecord> rec = readRecord(run, id);
            Optional<DeviceInfo> dev = info(ctrl, id);
            Optional<DeviceLock> lock = run.exists() ? DeviceLock.tryAcquire(run, id) : Optional.empty();
            if (lock.isPresent() || !run.exists()) {
                try (DeviceLock ignored = lock.orElse(null)) {
                    if (stopped == null && !killed) {
                        refuseOthersLiveDevice(ctrl, id, rec, dev);
                    }
                    boolean removed = removeOrphan(run, ctrl, id, rec, dev, safe);
                    if (!removed && stopped == null && !killed) {
                        if (dev.isPresent()) {
                            throw new ConfigException("device " + id + " is not a jublk device (another program serves "
                                    + "it): not deleting it");
                        }
                        if (!ctrl.privileged() && UblkControl.listDeviceIds().contains(id)) {
                            // The kernel would not even describe it to us (EPERM, EACCES).
                            throw new ConfigException("device " + id + " is not yours (it belongs to root or another "
                                    + "user): not deleting it");
                        }
                        throw new ConfigException("device " + id + " does not exist (see ublk list)");
                    }
                    return new Outcome(id, stopped, killed, stopped == null && !killed);
                }
            }
            // A live process holds the lock: the device's server (or one starting), or a command acting on it.
            if (rec.isPresent() && rec.get().server().running() && stopped == null && !killed) {
                StopAnswer a = stopServer(run, rec.get(), safe, timeout, progress);
                stopped = a.stopped;
                killed = a.killed;
                continue;
            }
            if (attempt > 100) {
                throw new ConfigException("device " + id + " is held by another process that does not let go (a "
                        + "command acting on it?)");
            }
            Thread.sleep(100);
        }
    }

    /**
     * Every jublk device and record of this user: deletes each; foreign devices are left alone. A user sees only its
     * own devices (the kernel describes no other); root leaves the users' devices (UBLK_F_UNPRIVILEGED_DEV) to them.
     */
    public static TreeSet<Integer> jublkIds(RunDirectory run, UblkControl ctrl) {
        TreeSet<Integer> ids = new TreeSet<>(run.recordIds());
        for (int id : UblkControl.listDeviceIds()) {
            info(ctrl, id).filter(i -> Claim.isJublkToken(i.ublksrvFlags()))
                    .filter(i -> !(ctrl.privileged() && i.has(Ublk.UBLK_F_UNPRIVILEGED_DEV)))
                    .ifPresent(i -> ids.add(id));
        }
        return ids;
    }

    /**
     * Root acting on a user's device (UBLK_F_UNPRIVILEGED_DEV) has no record of it (the record is in the user's run
     * directory): it may remove the device once its server is gone, never from under a server that still runs.
     */
    private static void refuseOthersLiveDevice(UblkControl ctrl, int id, Optional<DeviceRecord> rec,
            Optional<DeviceInfo> dev) {
        if (rec.isPresent() || dev.isEmpty() || !dev.get().has(Ublk.UBLK_F_UNPRIVILEGED_DEV)) {
            return;
        }
        DeviceInfo d = dev.get();
        if (d.ublksrvPid() > 0 && ProcessHandle.of(d.ublksrvPid()).isPresent()) {
            throw new ConfigException("device " + id + " belongs to uid " + d.ownerUid() + " and its server (pid "
                    + d.ublksrvPid() + ") is running: its owner deletes it (ublk del -n " + id + " as that user)");
        }
    }

    private static Optional<DeviceRecord> readRecord(RunDirectory run, int id) {
        try {
            return Records.read(run, id);
        } catch (ConfigException e) {
            // A damaged record says nothing we can trust; the kernel's token decides.
            LOG.log(System.Logger.Level.WARNING, e.getMessage());
            return Optional.empty();
        }
    }

    /** Whether the kernel device carries a jublk token (it was created by a jublk server). */
    public static boolean isJublk(DeviceInfo info) {
        return Claim.isJublkToken(info.ublksrvFlags());
    }

    public static Optional<DeviceInfo> info(UblkControl ctrl, int id) {
        try {
            return Optional.of(ctrl.getDevInfo(id));
        } catch (NativeException e) {
            return Optional.empty();
        }
    }

    /**
     * With the id's lock held (nobody else acts on it): removes a device of jublk's whose server is gone, and the
     * record. Returns false when there was nothing of jublk's to remove.
     */
    private static boolean removeOrphan(RunDirectory run, UblkControl ctrl, int id, Optional<DeviceRecord> rec,
            Optional<DeviceInfo> dev, boolean safe) {
        boolean ours = dev.isPresent() && (rec.isPresent() ? dev.get().ublksrvFlags() == rec.get().tokenValue()
                : Claim.isJublkToken(dev.get().ublksrvFlags()));
        if (ours) {
            try {
                if (safe) {
                    ctrl.tryStopDev(id);
                } else {
                    ctrl.stopDev(id);
                }
            } catch (NativeException e) {
                if (safe && e.errno() == Errno.EBUSY) {
                    throw new ConfigException("device " + id + " is in use (open, or mounted): not deleting it");
                }
                // Never started, or already stopped: DEL_DEV still applies.
            }
            rec.ifPresent(r -> Records.removeIfSame(run, r));
            try {
                ctrl.delete(id);
            } catch (NativeException e) {
                if (e.errno() != Errno.ENODEV) {
                    throw e;
                }
            }
            rec.filter(r -> r.state() == DeviceRecord.State.STARTING).ifPresent(r -> r.spec().target().forgetCreated());
            LOG.log(System.Logger.Level.INFO, "removed device " + id + ", whose server was gone");
            return true;
        }
        if (rec.isPresent()) {
            // Its device is gone (or the id now belongs to another device): the record describes nothing.
            forgetRecord(run, rec.get());
            return true;
        }
        return false;
    }

    /**
     * Removes a record that describes no device (its server died before ADD_DEV, or the device is gone), and with it
     * what an add that never finished created.
     */
    static void forgetRecord(RunDirectory run, DeviceRecord r) {
        if (Records.removeIfSame(run, r) && r.state() == DeviceRecord.State.STARTING) {
            r.spec().target().forgetCreated();
        }
        try {
            java.nio.file.Files.deleteIfExists(run.socketFile(r.id()));
        } catch (IOException ignored) {
            // Replaced by the next server of this id.
        }
    }

    private record StopAnswer(Control.Stopped stopped, boolean killed) {}

    /**
     * Asks a live server to stop (control socket; SIGTERM through a checked pidfd if the socket does not answer) and
     * waits. A server still stopping after {@code timeout} is killed, unless it is flushing: then it is waited for
     * however long that takes, saying so every 30 s.
     */
    private static StopAnswer stopServer(RunDirectory run, DeviceRecord rec, boolean safe, Duration timeout,
            Consumer<String> progress) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextNote = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        boolean flushing = false;
        Control.Stopped stopped = null;
        Optional<ControlClient> client = ControlClient.connect(run.socketFile(rec.id()));
        try {
            boolean asked = false;
            if (client.isPresent()) {
                try {
                    client.get().send(new Control.Stop(safe));
                    asked = true;
                } catch (IOException e) {
                    asked = false;
                }
            }
            if (!asked) {
                if (safe) {
                    throw new ConfigException("device " + rec.id() + "'s server does not answer on its control "
                            + "socket, so whether the device is in use cannot be asked: not deleting it");
                }
                // Still starting (no socket yet), or the socket is broken: SIGTERM stops it the same way.
                rec.server().signal(LinuxUapi.SIGTERM);
            }
            while (rec.server().running()) {
                if (client.isPresent() && !client.get().ended()) {
                    Optional<Control.Event> e = client.get().next(500);
                    if (e.isPresent() && e.get() instanceof Control.Refused r) {
                        throw r.failure().toException();
                    }
                    if (e.isPresent() && e.get() instanceof Control.Flushing) {
                        flushing = true;
                    } else if (e.isPresent() && e.get() instanceof Control.Stopped s) {
                        stopped = s;
                    }
                } else {
                    rec.server().awaitExit(500);
                    flushing = flushing || readRecord(run, rec.id()).map(r -> r.state() == DeviceRecord.State.FLUSHING)
                            .orElse(false);
                }
                long now = System.nanoTime();
                if (flushing && now > nextNote) {
                    progress.accept("device " + rec.id() + ": its server (" + rec.server()
                            + ") is flushing the backing store; waiting (a flushing server is never killed)");
                    nextNote = now + Duration.ofSeconds(30).toNanos();
                }
                if (!flushing && stopped == null && now > deadline) {
                    progress.accept("device " + rec.id() + ": its server (" + rec.server() + ") did not stop within "
                            + timeout.toSeconds() + " s; killing it");
                    rec.server().signal(LinuxUapi.SIGKILL);
                    rec.server().awaitExit(10_000);
                    return new StopAnswer(null, true);
                }
            }
            // Gone: an answer already on its way is still read.
            while (stopped == null && client.isPresent()) {
                Optional<Control.Event> e = client.get().next(200);
                if (e.isEmpty()) {
                    break;
                }
                if (e.get() instanceof Control.Stopped s) {
                    stopped = s;
                }
            }
            return new StopAnswer(stopped, false);
        } finally {
            client.ifPresent(ControlClient::close);
        }
    }
}
