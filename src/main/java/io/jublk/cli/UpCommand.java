package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.Cleanup;
import io.jublk.daemon.DeviceDaemon;
import io.jublk.daemon.Handshake;
import io.jublk.daemon.MountNamespace;
import io.jublk.daemon.ServiceNotify;
import io.jublk.record.Declaration;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.spi.DeviceInfo;
import io.jublk.uapi.Ublk;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * `ublk up NAME`: serves the device declared in {@code /etc/jublk/NAME.json} in this process, until SIGTERM stops it
 * as `ublk del` would (requests in flight finished, the backing store flushed, the device deleted). What the unit
 * {@code jublk@NAME.service} runs: once the device is live it sends READY=1 on {@code $NOTIFY_SOCKET}.
 *
 * <p>If the declared device is still there because its server died (a crash; systemd restarts the unit), it is taken
 * over as `ublk recover` would when it was declared with recovery, and otherwise deleted and added again: either way
 * it keeps its serial. While one `ublk up NAME` runs, another is refused.
 */
@Command(name = "up", description = "Serve the device declared in /etc/jublk/NAME.json in this process (what "
        + "jublk@NAME.service runs): tells systemd once it is live (READY=1 on $NOTIFY_SOCKET), recovers it if its "
        + "server died, and stops and deletes it on SIGTERM.")
final class UpCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME", description = "The declaration's name: /etc/jublk/NAME.json "
            + "($JUBLK_CONFIG_DIR/NAME.json).")
    String name;

    @Override
    public Integer call() throws InterruptedException {
        Declaration d = Declaration.read(Declaration.directory(), name);
        Preflight.requireUblk();
        Preflight.requireFeatures(d.spec().deviceFlags());
        RunDirectory run = RunDirectory.get().ensure();
        // Held until this process exits (the kernel drops it then): one server per declaration.
        DeviceLock declared = DeviceLock.tryAcquireDeclaration(run, name).orElseThrow(() -> new Errors.UserError(
                "the device declared as " + name + " is being served, or started, by another `ublk up " + name + "`"));
        Handshake.Request request = request(run, d);
        // In a mount namespace of its own (the unit's PrivateMounts=yes), mounts on ublk devices must not pin them.
        MountNamespace.leaveUblkMounts();
        Logging.serverLevel();
        Optional<ServiceNotify> notify = ServiceNotify.fromEnvironment();
        try {
            return new DeviceDaemon(new Reporter(name, notify), Serving.startTimeout(), null).run(request);
        } finally {
            declared.close();
        }
    }

    /** A new device, or the takeover of the declared one that a dead server left. */
    private static Handshake.Request request(RunDirectory run, Declaration d) throws InterruptedException {
        Handshake.Add add = new Handshake.Add(d.spec(), d.id(), d.name(), d.serial());
        Optional<DeviceRecord> left = Optional.empty();
        for (int id : run.recordIds()) {
            try {
                left = Records.read(run, id).filter(r -> d.name().equals(r.name()));
            } catch (RuntimeException e) {
                continue; // a damaged record is `ublk list`'s to report, not a reason to refuse this device
            }
            if (left.isPresent()) {
                break;
            }
        }
        if (left.isEmpty()) {
            return add;
        }
        DeviceRecord r = left.get();
        if (DeviceLock.isHeld(run, r.id())) {
            throw new Errors.UserError("the device declared as " + d.name() + " is device " + r.id()
                    + ", served by " + r.server() + " (ublk del -n " + r.id() + " stops it)");
        }
        Optional<DeviceInfo> info;
        try (UblkControl ctrl = UblkControl.open()) {
            info = Cleanup.info(ctrl, r.id());
            boolean recoverable = info.isPresent() && info.get().ublksrvFlags() == r.tokenValue()
                    && info.get().has(Ublk.UBLK_F_USER_RECOVERY)
                    && (info.get().state() == Ublk.UBLK_S_DEV_QUIESCED || info.get().state() == Ublk.UBLK_S_DEV_FAIL_IO);
            if (recoverable) {
                System.err.println("ublk: device " + r.id() + " (" + d.name() + ") lost its server: taking it over");
                return new Handshake.Recover(r.id());
            }
            // Not recoverable (declared without recovery, or the device is gone): what is left goes, as `ublk del`
            // removes it, and the device is added again with the same serial.
            System.err.println("ublk: device " + r.id() + " (" + d.name() + ") lost its server and cannot be taken "
                    + "over: deleting it and adding it again");
            Cleanup.Outcome o = Cleanup.delete(run, ctrl, r.id(), Duration.ofSeconds(60),
                    m -> System.err.println("ublk: " + m));
            if (o.failed()) {
                throw new IllegalStateException(o.problem());
            }
        } catch (NativeException e) {
            throw new IllegalStateException("cannot look at device " + r.id() + ": " + e.getMessage(), e);
        }
        return add;
    }

    /** As `ublk add --foreground` reports (stdout and stderr: the journal), and READY=1 to systemd. */
    private static final class Reporter extends Serving.Console {
        private final String name;
        private final Optional<ServiceNotify> manager;

        Reporter(String name, Optional<ServiceNotify> manager) {
            this.name = name;
            this.manager = manager;
        }

        @Override
        public void ready(int id, String blockDevice) {
            super.ready(id, blockDevice);
            manager.ifPresent(n -> {
                try {
                    n.send("READY=1", "STATUS=serving " + blockDevice + " (" + name + ")", "MAINPID=" + LibC.getpid());
                } catch (RuntimeException e) {
                    // systemd then times the start out and stops the device (SIGTERM): said here first.
                    System.err.println("ublk: warning: cannot tell the service manager the device is ready: "
                            + Errors.describe(e));
                }
            });
        }
    }
}
