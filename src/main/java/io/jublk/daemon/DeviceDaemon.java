package io.jublk.daemon;

import io.jublk.spi.DeviceInfo;
import io.jublk.spi.DeviceParams;
import io.jublk.ctrl.UblkControl;
import io.jublk.metrics.MetricsServer;
import io.jublk.queue.QueueStats;
import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.DeviceSpec;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.record.Serial;
import io.jublk.record.ServerProcess;
import io.jublk.server.UblkServer;
import io.jublk.targets.TargetSpec;
import io.jublk.targets.Targets;
import io.jublk.uapi.Ublk;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * One server process, start to end: for `ublk add` it claims an id (lock and record first), opens the target,
 * creates and starts the device; for `ublk recover` it takes over a device whose server died, after checking that
 * the device, its record and its backing file are still the ones it was created with; for `ublk upgrade` it asks the
 * device's live server to hand the device over, then takes it over the same way. Then it serves until a stop
 * is asked for (SIGTERM/SIGINT, `ublk del` on the control socket, a queue that died), stops the device, makes its
 * data durable, removes the record and deletes the device.
 *
 * <p>Whatever fails before the device is ready is undone — the device deleted, a backing file the add created
 * removed, the record removed, the lock released — and reported as a typed {@link Failure}.
 */
public final class DeviceDaemon {
    private static final System.Logger LOG = System.getLogger(DeviceDaemon.class.getName());

    /** Where the start's outcome goes: the `ublk add` that started this daemon, or the terminal. */
    public interface Reporter {
        void warning(String message);

        void ready(int id, String blockDevice);

        void failed(Failure failure);
    }

    private final RunDirectory run;
    private final Reporter reporter;
    private final Duration readyTimeout;
    private final Path log;
    private final Lifecycle lifecycle = new Lifecycle();
    private final Faults faults = Faults.fromEnvironment();

    private volatile boolean abandoned;
    /** This upgrade asked the old server to let go: from then on the device needs this server, abandoned or not. */
    private volatile boolean handOverAsked;
    /** What {@link #run} returns once the device is stopped (-1 before). */
    private volatile int exitStatus = -1;
    private DeviceLock lock;
    private volatile DeviceRecord record;
    /** For a takeover: the record as it was, restored if the takeover fails. */
    private DeviceRecord recoveringFrom;
    private UblkServer server;
    private Target target;
    private TargetSpec opened;
    private MetricsServer metrics;
    private ControlServer control;

    /**
     * @param log the file this process's stderr goes to (renamed to the device's log once the id is known), or null
     */
    public DeviceDaemon(Reporter reporter, Duration readyTimeout, Path log) {
        this.run = RunDirectory.get();
        this.reporter = reporter;
        this.readyTimeout = readyTimeout;
        this.log = log;
    }

    /**
     * Carries out {@code request} and serves until stopped. Returns the exit status: 0, 1 (the stop lost data or a
     * start failed), 2 (a refused request). SIGTERM and SIGINT ask for a stop and wait until it is done.
     */
    public int run(Handshake.Request request) {
        Thread hook = new Thread(() -> {
            lifecycle.requestStop("signal");
            try {
                lifecycle.awaitDone();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // The stop's own status, not the JVM's 143 for SIGTERM: systemd (`ublk up`) sees a stop that lost data
            // as a failure and a clean one as a success. Everything is released by now; no other hook is ours.
            int status = exitStatus;
            if (status >= 0) {
                Runtime.getRuntime().halt(status);
            }
        }, "ublk-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            try {
                switch (request) {
                    case Handshake.Add add -> add(add);
                    case Handshake.Recover rec -> recover(rec.id());
                    case Handshake.Upgrade up -> upgrade(up.id());
                }
            } catch (RuntimeException | Error e) {
                undoStart();
                LOG.log(Level.ERROR, "the start failed: " + Failure.of(e).message());
                reporter.failed(Failure.of(e));
                exitStatus = e instanceof ConfigException ? 2 : 1;
                return exitStatus;
            }
            int status = serve();
            exitStatus = status;
            return status;
        } finally {
            lifecycle.done();
        }
    }

    /**
     * The add is given up by whoever asked for it (its launcher was interrupted before telling the user): stop, and
     * undo it whole — the file it created too — even if the device is already live.
     */
    public void abandon() {
        if (handOverAsked) {
            // The old server is letting go or gone: giving up now would leave the device without any server.
            LOG.log(Level.WARNING, "the upgrade was abandoned after the old server was asked to hand the device over; "
                    + "serving it anyway");
            return;
        }
        abandoned = true;
        lifecycle.requestStop("the add was abandoned");
    }

    // ---- add ------------------------------------------------------------------------------------------------

    private void add(Handshake.Add req) {
        DeviceSpec asked = req.spec();
        asked.check();
        run.ensure();
        long token = Claim.newToken();
        Instant now = Instant.now();
        String serial = req.serial() != null ? req.serial() : Serial.random();
        DeviceSpec spec;
        long flags;
        try (UblkControl ctrl = UblkControl.open()) {
            long features = ctrl.getFeatures();
            // The choices left to the kernel (e.g. loop's zero copy) are made now and kept in the record.
            spec = asked.with(asked.target().settle(features, ctrl.privileged(), this::warn));
            flags = spec.deviceFlags();
            if (spec.recovery() != DeviceSpec.Recovery.NONE && (features & Ublk.UBLK_F_QUIESCE) != 0) {
                // What `ublk upgrade` needs (the kernel allows it only with USER_RECOVERY); it changes nothing else.
                flags |= Ublk.UBLK_F_QUIESCE;
            }
            DeviceRecord template = new DeviceRecord(DeviceRecord.FORMAT, -1, req.name(), serial,
                    DeviceRecord.token(token), DeviceRecord.State.STARTING, ServerProcess.self(), spec, null, logName(),
                    now, now);
            lock = Claim.claim(run, ctrl, req.id(), template);
        }
        int id = lock.id();
        record = Records.read(run, id).orElseThrow();
        adoptLog(id);
        LOG.log(Level.INFO, "claimed device id " + id + " (token " + record.token() + ")");
        faults.at("claimed");
        lifecycle.checkNotStopped();

        TargetSpec.Opened o = spec.target().open(spec.logicalBlockSize());
        target = o.target();
        opened = o.spec();
        updateRecord(record.with(DeviceRecord.State.STARTING, record.server(), spec.with(opened), null, record.log()));
        faults.at("opened");
        o.warnings().forEach(this::warn);
        lifecycle.checkNotStopped();

        UblkServer.Options options = UblkServer.Options.builder().devId(id)
                .queues(spec.queues() != null ? spec.queues() : 0).depth(spec.depth())
                .flags(flags).ublksrvFlags(token).readyTimeout(readyTimeout)
                .observer(this::step).build();
        Target t = target;
        target = null; // the server owns it from here, and closes it whether the start succeeds or fails
        try {
            server = UblkServer.start(t, options);
        } catch (RuntimeException | Error e) {
            opened.undoCreate(t);
            throw e;
        }
        finishStart(DeviceRecord.State.LIVE);
    }

    // ---- recover --------------------------------------------------------------------------------------------

    private void recover(int id) {
        run.check();
        lock = DeviceLock.tryAcquire(run, id).orElseThrow(() -> new ConfigException("device " + id
                + " is being served, or taken over, by another process"));
        takeOver(id, Duration.ZERO);
    }

    /**
     * With the id's lock held: checks that the device, its record and the kernel agree and that the device waits for
     * a server (within {@code awaitQuiesced}: a server that just let go of it leaves it live until the kernel has
     * released its rings), then takes it over.
     */
    private void takeOver(int id, Duration awaitQuiesced) {
        DeviceRecord before = Records.read(run, id).orElseThrow(() -> new ConfigException("device " + id
                + " has no record in " + run.path() + ": it was not added by jublk (or its record is gone), so which "
                + "file it served is not known; not recovering it (ublk del -n " + id + " removes it)"));
        DeviceInfo info;
        DeviceParams params;
        try (UblkControl ctrl = UblkControl.open()) {
            info = Cleanup.info(ctrl, id).orElseThrow(() -> new ConfigException("device " + id
                    + " does not exist (see ublk list)"));
            if (info.ublksrvFlags() != before.tokenValue()) {
                throw new ConfigException("device " + id + " is not the device its record describes (another device "
                        + "took its id): not recovering it");
            }
            if (!info.has(Ublk.UBLK_F_USER_RECOVERY)) {
                throw new ConfigException("device " + id + " was not added with --recovery and cannot be recovered "
                        + "(ublk del -n " + id + " removes it)");
            }
            long waitUntil = System.nanoTime() + awaitQuiesced.toNanos();
            while (info.state() == Ublk.UBLK_S_DEV_LIVE && System.nanoTime() - waitUntil < 0) {
                sleep(20);
                info = Cleanup.info(ctrl, id).orElseThrow(() -> new ConfigException("device " + id
                        + " is gone"));
            }
            if (info.state() != Ublk.UBLK_S_DEV_QUIESCED && info.state() != Ublk.UBLK_S_DEV_FAIL_IO) {
                throw new ConfigException("device " + id + " is " + info.stateName() + ", not waiting for a new "
                        + "server (only a device whose server died can be recovered)");
            }
            params = ctrl.getParams(id);
        }
        DeviceRecord.KernelDevice had = before.device();
        if (had != null && (had.size() != params.sizeBytes() || had.logicalBlockSize() != params.logicalBlockSize())) {
            throw new ConfigException("device " + id + " has " + params.sizeBytes() + " bytes in "
                    + params.logicalBlockSize() + "-byte blocks, its record " + had.size() + " in "
                    + had.logicalBlockSize() + ": not recovering it");
        }
        record = before;
        recoveringFrom = before;
        adoptLog(id);
        updateRecord(before.with(DeviceRecord.State.RECOVERING, ServerProcess.self(), before.spec(), before.device(),
                logName()));
        LOG.log(Level.INFO, "taking over device " + id + " (token " + before.token() + ")");
        DeviceSpec spec = before.spec();
        opened = spec.target();
        Target t = spec.target().reopen(params.sizeBytes(), params.logicalBlockSize());
        lifecycle.checkNotStopped();
        server = UblkServer.recover(t, id, readyTimeout, true, this::step);
        finishStart(DeviceRecord.State.LIVE);
    }

    // ---- upgrade --------------------------------------------------------------------------------------------

    /** How long the old server may take to let go (it answers what it holds, up to a minute per queue, and flushes). */
    private static final Duration HAND_OVER_WAIT = Duration.ofMinutes(5);

    /**
     * `ublk upgrade`: this server takes a live device over from the jublk server serving it, failing none of its
     * I/O. The old server quiesces the device (QUIESCE_DEV: new requests wait in the block layer), answers what it
     * holds, releases the device and the backing file, answers {@link Control.HandedOver} and exits, leaving the device
     * and its record; this one then takes the id's lock, the record (its pid and start time as the server) and the
     * device (user recovery), and the waiting requests come here. Everything that can be refused is refused before
     * the old server is asked, and the device serves on as before.
     */
    private void upgrade(int id) {
        run.check();
        DeviceRecord rec = Records.read(run, id).orElseThrow(() -> new ConfigException("device " + id
                + " has no record in " + run.path() + ": it is not served by jublk (see ublk list)"));
        try (UblkControl ctrl = UblkControl.open()) {
            DeviceInfo info = Cleanup.info(ctrl, id).orElseThrow(() -> new ConfigException("device " + id
                    + " does not exist (see ublk list)"));
            if (info.ublksrvFlags() != rec.tokenValue()) {
                throw new ConfigException("device " + id + " is not the device its record describes (another device "
                        + "took its id): not upgrading it");
            }
            String why = whyNotUpgradable(info);
            if (why != null) {
                throw new ConfigException(why);
            }
            if (info.state() != Ublk.UBLK_S_DEV_LIVE) {
                throw new ConfigException("device " + id + " is " + info.stateName() + ", not live"
                        + (info.state() == Ublk.UBLK_S_DEV_QUIESCED ? ": its server is gone (ublk recover -n " + id
                        + " serves it again)" : ""));
            }
        }
        if (!DeviceLock.isHeld(run, id)) {
            throw new ConfigException("device " + id + " has no live server to hand it over (ublk recover -n " + id
                    + " serves a device whose server died)");
        }
        warmUp();
        lifecycle.checkNotStopped();
        handOverAsked = true;
        LOG.log(Level.INFO, "asking the server of device " + id + " (" + rec.server() + ") to hand it over");
        Control.Event answer = ControlClient.ask(run.socketFile(id), new Control.HandOver(), HAND_OVER_WAIT.toMillis())
                .orElseThrow(() -> new Failure.DaemonException("device " + id + "'s server (" + rec.server()
                        + ") did not answer the handover; if it is gone, ublk recover -n " + id
                        + " serves the device again"));
        switch (answer) {
            case Control.HandedOver h -> {
                if (h.flushErrno() != 0) {
                    warn("the old server's final flush" + (h.flushed() != null ? " of " + h.flushed() : "")
                            + " failed with " + Failure.errnoText(h.flushErrno())
                            + ": writes it acknowledged may not be on the backing store");
                }
            }
            case Control.Refused r -> {
                handOverAsked = false;
                throw r.failure().toException();
            }
            default -> throw new Failure.DaemonException("device " + id + "'s server answered the handover with "
                    + answer);
        }
        LOG.log(Level.INFO, "the old server let go of device " + id + "; taking it over");
        // It releases the lock last, as it exits; whoever gets the lock first serves the device (a `ublk recover`
        // racing this would be refused the same way).
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        while ((lock = DeviceLock.tryAcquire(run, id).orElse(null)) == null) {
            if (System.nanoTime() - deadline > 0) {
                throw new ConfigException("device " + id + "'s old server let go of it but did not exit within "
                        + readyTimeout.toSeconds() + " s; ublk recover -n " + id + " serves the device once it has");
            }
            sleep(10);
        }
        run.keepPreviousLog(id);
        takeOver(id, Duration.ofSeconds(30));
    }

    /**
     * Loads and initializes what taking a device over runs (the native bindings, the rings, the queues, the targets),
     * while the old server still serves: the device waits for no class loading or native stub generation, which takes
     * seconds in a fresh JVM on a slow machine.
     */
    private static void warmUp() {
        for (Class<?> c : List.of(UblkServer.class, io.jublk.queue.UblkQueue.class, io.jublk.uring.IoUring.class,
                io.jublk.sys.LibC.class, io.jublk.sys.Mmap.class, io.jublk.uapi.Syscalls.class,
                io.jublk.spi.RequestDecoder.class, io.jublk.targets.LoopTarget.class,
                io.jublk.targets.BackingFile.class, ControlServer.class, MetricsServer.class)) {
            initialize(c);
            // The native bindings are made on first use, one holder class each.
            for (Class<?> nested : c.getDeclaredClasses()) {
                initialize(nested);
            }
        }
    }

    private static void initialize(Class<?> c) {
        try {
            Class.forName(c.getName(), true, c.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            LOG.log(Level.DEBUG, "warming up " + c.getName() + ": " + e);
        }
    }

    /** Why a device cannot be handed to a new server without failing I/O, as one line; null if it can. */
    public static String whyNotUpgradable(DeviceInfo info) {
        int id = info.devId();
        if (!info.has(Ublk.UBLK_F_USER_RECOVERY)) {
            return "device " + id + " was not added with --recovery: it cannot change servers while it lives "
                    + "(a live upgrade needs a device added with --recovery)";
        }
        if (info.has(Ublk.UBLK_F_USER_RECOVERY_FAIL_IO)) {
            return "device " + id + " was added with --recovery=fail-io: its I/O would fail while it changes servers; "
                    + "not upgrading it";
        }
        if (!info.has(Ublk.UBLK_F_QUIESCE)) {
            return "device " + id + " was added without UBLK_F_QUIESCE (by a jublk that did not ask for it, or on a "
                    + "kernel without it): it cannot change servers while it lives";
        }
        return null;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    // ---- both -----------------------------------------------------------------------------------------------

    private void finishStart(DeviceRecord.State state) {
        DeviceInfo info = server.info();
        DeviceParams p = server.params();
        DeviceRecord.KernelDevice k = new DeviceRecord.KernelDevice(p.sizeBytes(), p.logicalBlockSize(),
                info.nrHwQueues(), info.queueDepth(), info.maxIoBufBytes(), "0x" + Long.toHexString(info.flags()));
        updateRecord(record.with(state, ServerProcess.self(), record.spec(), k, logName()));
        DeviceSpec spec = record.spec();
        if (spec.metricsPort() != null) {
            metrics = MetricsServer.start(server, Targets.labels(opened), spec.metricsAddress(), spec.metricsPort());
        }
        control = ControlServer.start(run.socketFile(info.devId()), lifecycle, this::counters, this::change);
        lifecycle.checkNotStopped();
        Thread.ofPlatform().daemon().name("ublk-queue-watch").start(() -> {
            try {
                server.awaitQueueExit();
                if (!server.handingOver()) {
                    lifecycle.requestStop("a queue ended: " + server.queueFailures());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        LOG.log(Level.INFO, "device " + info.devId() + " is " + info.blockDevice());
        reporter.ready(info.devId(), info.blockDevice());
        // Start-up leaves ~20 MB of garbage (classes read, method handles spun, JSON): collected now, once, rather
        // than as a pause under load later (the I/O path allocates nothing, so this is the daemon's only one).
        System.gc();
    }

    private int serve() {
        try {
            lifecycle.awaitStopRequest();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            lifecycle.requestStop("interrupted");
        }
        int id = server.info().devId();
        if (abandoned && recoveringFrom != null) {
            // A takeover nobody was told of is given up, not the device: it waits for the next `ublk recover`.
            LOG.log(Level.INFO, "the takeover of device " + id + " was abandoned; leaving the device to the next one");
            undoStart();
            return 1;
        }
        UblkServer.StopResult r = server.stop(); // waits for a handover under way, and does nothing after one
        if (server.handedOver()) {
            // The device, its record and its backing file are the new server's now: only what is this process's goes.
            LOG.log(Level.INFO, "device " + id + " was handed over to a new server; exiting");
            releaseAll();
            return r.flushErrno() == 0 ? 0 : 1;
        }
        LOG.log(Level.INFO, "stopping device " + id + " (" + lifecycle.stopReason() + ")");
        if (abandoned && recoveringFrom == null) {
            opened.undoCreate(server.target());
        }
        String flushed = opened.backingStore();
        if (control != null) {
            control.broadcast(new Control.Stopped(r.stopErrno(), r.flushErrno(), r.deleteErrno(), flushed));
        }
        if (r.flushErrno() != 0) {
            LOG.log(Level.ERROR, "device " + id + ": the final flush" + (flushed != null ? " of " + flushed : "")
                    + " failed with " + Failure.errnoText(r.flushErrno())
                    + ": writes the device acknowledged may not be on the backing store");
        }
        releaseAll();
        return r.ok() ? 0 : 1;
    }

    /**
     * A request that changes the live device: a safe stop's check (null: go on and stop; else the refusal) or a
     * resize (the answer). On the control socket's thread; the server serializes it with a stop.
     */
    private Control.Event change(Control.Request r) {
        try {
            switch (r) {
                case Control.Stop stop -> {
                    server.tryStop();
                    return null;
                }
                case Control.Resize resize -> {
                    long now = server.params().sizeBytes();
                    if (resize.size() < now && !resize.force()) {
                        throw new ConfigException("shrinking device " + server.info().devId() + " from " + now
                                + " to " + resize.size() + " bytes cuts off what lies past the new end: give --force");
                    }
                    server.resize(resize.size());
                    DeviceRecord rec = record;
                    if (rec != null) {
                        DeviceRecord.KernelDevice d = rec.device();
                        DeviceRecord.KernelDevice k = new DeviceRecord.KernelDevice(server.params().sizeBytes(),
                                d.logicalBlockSize(), d.queues(), d.depth(), d.maxIoBytes(), d.flags());
                        updateRecord(rec.with(rec.state(), rec.server(),
                                rec.spec().with(rec.spec().target().resized(server.target(), resize.size())), k,
                                rec.log()));
                    }
                    return new Control.Resized(server.params().sizeBytes());
                }
                case Control.HandOver h -> {
                    if (lifecycle.stopRequested()) {
                        throw new ConfigException("device " + server.info().devId() + " is being stopped ("
                                + lifecycle.stopReason() + "): not handing it over");
                    }
                    LOG.log(Level.INFO, "handing device " + server.info().devId() + " over to a new server");
                    int flush = server.handOver(QUIESCE_WAIT);
                    return new Control.HandedOver(flush, opened.backingStore());
                }
                default -> throw new IllegalArgumentException("not a change: " + r);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "refused " + r + ": " + Failure.of(e).message());
            return new Control.Refused(Failure.of(e));
        }
    }

    /** How long QUIESCE_DEV waits for an idle command on each queue (the handover goes on after it anyway). */
    private static final Duration QUIESCE_WAIT = Duration.ofSeconds(30);

    /** The device's counters, summed over its queues (read from the queues' counters, which only grow). */
    private Control.Counters counters() {
        long[] completed = new long[QueueStats.OPS];
        long bytesRead = 0;
        long bytesWritten = 0;
        long failed = 0;
        long inFlight = 0;
        for (QueueStats q : server.stats()) {
            for (int op = 0; op < QueueStats.OPS; op++) {
                completed[op] += q.completed(op);
                failed += q.failed(op);
            }
            bytesRead += q.bytes(QueueStats.OP_READ);
            bytesWritten += q.bytes(QueueStats.OP_WRITE);
            inFlight += q.inflight();
        }
        return new Control.Counters(System.nanoTime(), completed[QueueStats.OP_READ], completed[QueueStats.OP_WRITE],
                completed[QueueStats.OP_FLUSH], completed[QueueStats.OP_DISCARD], completed[QueueStats.OP_WRITE_ZEROES],
                bytesRead, bytesWritten, failed, inFlight);
    }

    /** Told of each step of the device's life by the server, on the thread taking it. */
    private void step(UblkServer.Step step) {
        switch (step) {
            case ADDED -> {
                faults.at("added");
                lifecycle.checkNotStopped();
            }
            case STARTED -> {
                faults.at("started");
                lifecycle.checkNotStopped();
            }
            case STOPPING -> {
                setState(DeviceRecord.State.STOPPING);
                if (control != null) {
                    control.broadcast(new Control.Stopping());
                }
            }
            case FLUSHING -> {
                setState(DeviceRecord.State.FLUSHING);
                if (control != null) {
                    String what = opened != null ? opened.backingStore() : null;
                    control.broadcast(new Control.Flushing(what != null ? what : ""));
                }
                faults.at("flushing");
            }
            case DELETING -> {
                // Before DEL_DEV frees the id: once it is free, a record for it must not describe this device.
                DeviceRecord r = record;
                if (r != null) {
                    Records.removeIfSame(run, r);
                    record = null;
                }
            }
        }
    }

    private void setState(DeviceRecord.State s) {
        DeviceRecord r = record;
        if (r != null) {
            updateRecord(r.with(s));
        }
    }

    private synchronized void updateRecord(DeviceRecord r) {
        Records.write(run, r);
        record = r;
    }

    /** After a failed start: the device, the created file, the record, the lock. */
    private void undoStart() {
        if (recoveringFrom != null) {
            // A takeover that failed leaves the device waiting for a server, and its record as it was, for the next
            // attempt.
            if (server != null) {
                server.detach();
                server = null;
            }
            if (record != null) {
                updateRecord(recoveringFrom);
            }
            record = null;
            releaseAll();
            return;
        }
        if (server != null) {
            // The device was started; anything after that failed (metrics, control socket, a stop request).
            server.stop();
            opened.undoCreate(server.target());
            server = null;
        }
        if (target != null) {
            opened.undoCreate(target);
            target.close();
            target = null;
        }
        DeviceRecord r = record;
        if (r != null && r.state() == DeviceRecord.State.STARTING) {
            Records.removeIfSame(run, r);
        }
        record = null;
        releaseAll();
    }

    private void releaseAll() {
        if (control != null) {
            control.close();
            control = null;
        }
        if (metrics != null) {
            metrics.close();
            metrics = null;
        }
        if (lock != null) {
            lock.close();
            lock = null;
        }
    }

    private void warn(String w) {
        LOG.log(Level.WARNING, w);
        reporter.warning(w);
    }

    private Path currentLog;

    private void adoptLog(int id) {
        if (log != null) {
            currentLog = run.adoptLog(log, id);
        }
    }

    private String logName() {
        Path l = currentLog != null ? currentLog : log;
        return l != null ? l.toString() : null;
    }
}
