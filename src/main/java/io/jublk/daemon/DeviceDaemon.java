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

/**
 * One server process, start to end: for `ublk add` it claims an id (lock and record first), opens the target,
 * creates and starts the device; for `ublk recover` it takes over a device whose server died, after checking that
 * the device, its record and its backing file are still the ones it was created with. Then it serves until a stop
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
        abandoned = true;
        lifecycle.requestStop("the add was abandoned");
    }

    // ---- add ------------------------------------------------------------------------------------------------

    private void add(Handshake.Add req) {
        DeviceSpec spec = req.spec();
        spec.check();
        run.ensure();
        long token = Claim.newToken();
        Instant now = Instant.now();
        String serial = req.serial() != null ? req.serial() : Serial.random();
        DeviceRecord template = new DeviceRecord(DeviceRecord.FORMAT, -1, req.name(), serial, DeviceRecord.token(token),
                DeviceRecord.State.STARTING, ServerProcess.self(), spec, null, logName(), now, now);
        try (UblkControl ctrl = UblkControl.open()) {
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

        UblkServer.Options options = UblkServer.Options.builder().devId(id).queues(spec.queues()).depth(spec.depth())
                .flags(spec.deviceFlags()).ublksrvFlags(token).readyTimeout(readyTimeout)
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
                lifecycle.requestStop("a queue ended: " + server.queueFailures());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        LOG.log(Level.INFO, "device " + info.devId() + " is " + info.blockDevice());
        reporter.ready(info.devId(), info.blockDevice());
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
        LOG.log(Level.INFO, "stopping device " + id + " (" + lifecycle.stopReason() + ")");
        UblkServer.StopResult r = server.stop();
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
                default -> throw new IllegalArgumentException("not a change: " + r);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "refused " + r + ": " + Failure.of(e).message());
            return new Control.Refused(Failure.of(e));
        }
    }

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
