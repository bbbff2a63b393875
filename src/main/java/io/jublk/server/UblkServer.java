package io.jublk.server;

import io.jublk.spi.DeviceInfo;
import io.jublk.spi.ConfigException;
import io.jublk.spi.DeviceParams;
import io.jublk.ctrl.UblkControl;
import io.jublk.queue.QueueStats;
import io.jublk.spi.RequestDecoder;
import io.jublk.spi.Target;
import io.jublk.queue.UblkQueue;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One ublk device served by this process, from ADD_DEV to DEL_DEV. The lifecycle is one readable sequence:
 *
 * <ol>
 *   <li>ADD_DEV, then SET_PARAMS from the target's parameters;</li>
 *   <li>open {@code /dev/ublkcN}; start one thread per queue (pinned to one of the CPUs GET_QUEUE_AFFINITY names:
 *       {@link #queueCpus}), each maps its descriptors and fetches every tag; wait until all are ready;</li>
 *   <li>START_DEV with the process id: {@code /dev/ublkbN} appears;</li>
 *   <li>on {@link #stop()}: STOP_DEV (the kernel drains in-flight requests, then aborts the fetches), the
 *       queue threads exit, the target flushes and closes, the char device is closed, DEL_DEV.</li>
 * </ol>
 *
 * If any step after ADD_DEV fails, the device is deleted again: no orphan devices.
 */
public final class UblkServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(UblkServer.class.getName());

    /**
     * What a device is created with. Build it with {@link #builder()}.
     *
     * @param devId        requested id, or -1 for the kernel's choice
     * @param queues       hardware queues (the kernel clamps to the number of CPUs), or 0 for the target's
     *                     {@linkplain Target#defaultQueues default} given {@link #defaultQueues()}
     * @param depth        tags per queue
     * @param maxIoBytes   largest request, the size of each tag's buffer
     * @param flags        UBLK_F_* to request (e.g. USER_RECOVERY)
     * @param ublksrvFlags the server's own 64 bits, kept by the kernel with the device (jublk stamps its record's
     *                     token there, so a device can be told from another that reused its id)
     * @param ioFlusher    mark queue threads PR_SET_IO_FLUSHER
     * @param readyTimeout how long queues may take to fetch their tags
     * @param observer     told of each step of the device's life, on the thread taking it
     */
    public record Options(int devId, int queues, int depth, int maxIoBytes, long flags, long ublksrvFlags,
            boolean ioFlusher, Duration readyTimeout, Observer observer) {
        public static final int DEFAULT_MAX_IO_BYTES = 512 * 1024;

        public Options {
            if (queues < 0 || queues > Ublk.UBLK_MAX_NR_QUEUES) {
                throw new IllegalArgumentException("queues must be 1.." + Ublk.UBLK_MAX_NR_QUEUES + " (or 0 for the "
                        + "default), not " + queues);
            }
            if (depth < 1 || depth > Ublk.UBLK_MAX_QUEUE_DEPTH) {
                throw new IllegalArgumentException("depth must be 1.." + Ublk.UBLK_MAX_QUEUE_DEPTH + ", not " + depth);
            }
        }

        public static Builder builder() {
            return new Builder();
        }
    }

    /**
     * Builds {@link Options}: the default number of queues ({@link #defaultQueues()}, as the target allows) of depth
     * 128, the kernel's choice of id, 512 KiB requests by default.
     */
    public static final class Builder {
        private Builder() {}

        private int devId = -1;
        private int queues;
        private int depth = 128;
        private int maxIoBytes = Options.DEFAULT_MAX_IO_BYTES;
        private long flags;
        private long ublksrvFlags;
        private boolean ioFlusher = true;
        private Duration readyTimeout = Duration.ofSeconds(60);
        private Observer observer = step -> { };

        public Builder devId(int v) {
            devId = v;
            return this;
        }

        public Builder queues(int v) {
            queues = v;
            return this;
        }

        public Builder depth(int v) {
            depth = v;
            return this;
        }

        public Builder maxIoBytes(int v) {
            maxIoBytes = v;
            return this;
        }

        public Builder flags(long v) {
            flags = v;
            return this;
        }

        public Builder ublksrvFlags(long v) {
            ublksrvFlags = v;
            return this;
        }

        public Builder ioFlusher(boolean v) {
            ioFlusher = v;
            return this;
        }

        public Builder readyTimeout(Duration v) {
            readyTimeout = v;
            return this;
        }

        public Builder observer(Observer v) {
            observer = v;
            return this;
        }

        public Options build() {
            return new Options(devId, queues, depth, maxIoBytes, flags, ublksrvFlags, ioFlusher, readyTimeout, observer);
        }
    }

    /** The steps of a device's life that whoever runs the server may need to act on. */
    public enum Step {
        /** ADD_DEV returned: the device exists in the kernel ({@link #info()} is set). */
        ADDED,
        /** START_DEV returned: {@code /dev/ublkbN} is live. */
        STARTED,
        /** STOP_DEV is about to be sent. */
        STOPPING,
        /** The queues have stopped; the target is about to make everything durable. */
        FLUSHING,
        /** DEL_DEV is about to be sent (also when a failed start deletes the device): the id is about to be freed. */
        DELETING
    }

    /** Told of each {@link Step}; an exception thrown at ADDED or STARTED fails the start (the device is deleted). */
    @FunctionalInterface
    public interface Observer {
        void reached(Step step);
    }

    /**
     * How a stop went: the first negative errno of each part, 0 where it went well.
     *
     * @param stopErrno  STOP_DEV
     * @param flushErrno the target's final flush (fdatasync of a backing file): data acknowledged may be lost
     * @param deleteErrno DEL_DEV
     */
    public record StopResult(int stopErrno, int flushErrno, int deleteErrno) {
        public boolean ok() {
            return stopErrno == 0 && flushErrno == 0 && deleteErrno == 0;
        }
    }

    private final UblkControl ctrl;
    private final Target target;
    private final Options options;
    private final boolean recovering;
    private DeviceInfo info;
    private DeviceParams params;
    private Fd ublkc;
    private final List<UblkQueue> queues = new ArrayList<>();
    private final List<QueueStats> stats = new ArrayList<>();
    private final CountDownLatch queueExited = new CountDownLatch(1);
    private boolean stopped;
    /** TRY_STOP_DEV succeeded: the kernel has stopped the device already; {@link #stop()} does the rest. */
    private boolean kernelStopped;
    private StopResult stopResult;
    /** {@link #handOver} began: queues that end now end for it, not because the device failed. */
    private volatile boolean handingOver;
    /** {@link #handOver} finished: the device is a new server's. */
    private volatile boolean handedOver;
    /** Checks every queue's requests; shared, so that a resize reaches all queues at once. */
    private RequestDecoder decoder;

    private UblkServer(UblkControl ctrl, Target target, Options options, boolean recovering) {
        this.ctrl = ctrl;
        this.target = target;
        this.options = options;
        this.recovering = recovering;
    }

    /**
     * Creates and starts a device served by {@code target}; returns once {@code /dev/ublkbN} is live. The server
     * owns the target from here on: it is closed when the server stops, or at once if the start fails,
     * whatever step failed.
     */
    public static UblkServer start(Target target, Options options) {
        UblkControl ctrl = null;
        try {
            ctrl = UblkControl.open();
            UblkServer server = new UblkServer(ctrl, target, options, false);
            server.add();
            return server;
        } catch (RuntimeException | Error e) {
            if (ctrl != null) {
                ctrl.close();
            }
            target.close();
            throw e;
        }
    }

    /**
     * Takes over device {@code devId} whose server died (UBLK_F_USER_RECOVERY): START_USER_RECOVERY, queues
     * fetch every tag, END_USER_RECOVERY with this process id. Requests that waited complete; with REISSUE,
     * requests that were in flight are served again. Like {@link #start}, the server owns the target, and closes
     * it if the takeover fails.
     */
    public static UblkServer recover(Target target, int devId, Duration readyTimeout, boolean ioFlusher,
            Observer observer) {
        UblkControl ctrl;
        try {
            ctrl = UblkControl.open();
        } catch (RuntimeException | Error e) {
            target.close();
            throw e;
        }
        try {
            DeviceInfo info = ctrl.getDevInfo(devId);
            Options o = Options.builder().devId(devId).queues(info.nrHwQueues()).depth(info.queueDepth())
                    .maxIoBytes(info.maxIoBufBytes()).flags(info.flags()).ublksrvFlags(info.ublksrvFlags())
                    .ioFlusher(ioFlusher).readyTimeout(readyTimeout).observer(observer).build();
            UblkServer server = new UblkServer(ctrl, target, o, true);
            server.info = info;
            server.takeOver();
            return server;
        } catch (RuntimeException | Error e) {
            ctrl.close();
            target.close();
            throw e;
        }
    }

    private void add() {
        if ((options.flags() & Ublk.UBLK_F_AUTO_BUF_REG) != 0 && !target.supportsZeroCopy()) {
            throw new IllegalArgumentException("the " + target.name() + " target cannot serve a zero-copy device");
        }
        int queues = options.queues() > 0 ? target.queues(options.queues()) : target.defaultQueues(defaultQueues());
        if (queues < 1 || queues > Ublk.UBLK_MAX_NR_QUEUES) {
            throw new IllegalStateException("the " + target.name() + " target asks for " + queues + " queues");
        }
        info = ctrl.addDev(options.devId(), queues, options.depth(), options.maxIoBytes(), options.flags(),
                options.ublksrvFlags());
        LOG.log(Level.INFO, "ADD_DEV: device " + info.devId() + ", " + info.nrHwQueues() + " queue(s) of depth "
                + info.queueDepth() + ", flags " + info.flagNames());
        try {
            options.observer().reached(Step.ADDED);
            boolean unprivileged = info.has(Ublk.UBLK_F_UNPRIVILEGED_DEV);
            if (unprivileged) {
                awaitHandedOver(Path.of(info.charDevice()), info);
            }
            params = target.params(info.maxIoBufBytes());
            ctrl.setParams(info.devId(), params);
            startQueues();
            ctrl.startDev(info.devId(), LibC.getpid());
            if (unprivileged) {
                // The block device appeared root's (and only its owner may open it: the kernel checks uid and gid).
                awaitHandedOver(Path.of(info.blockDevice()), info);
            }
            params = ctrl.getParams(info.devId());
            info = ctrl.getDevInfo(info.devId());
            options.observer().reached(Step.STARTED);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "starting device " + info.devId() + " failed, deleting it: " + e);
            abort();
            throw e;
        }
    }

    /** How long udev may take to give a new unprivileged device's nodes to their owner. */
    private static final Duration HANDOVER_TIMEOUT = Duration.ofSeconds(90);

    /**
     * Waits until this process may read and write {@code node}: a device node of an unprivileged device is created
     * root's, and udev gives it to the device's owner (jublk's rules ask the kernel who that is). Until then the kernel
     * refuses every command on the device (its permission check is this process's access to {@code /dev/ublkcN}).
     */
    private static void awaitHandedOver(Path node, DeviceInfo info) {
        long deadline = System.nanoTime() + HANDOVER_TIMEOUT.toNanos();
        while (!(Files.isReadable(node) && Files.isWritable(node))) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(node + " of unprivileged device " + info.devId() + " was not given to "
                        + "its owner (uid " + info.ownerUid() + ") within " + HANDOVER_TIMEOUT.toSeconds() + " s: are "
                        + "jublk's udev rules installed and udev running (README: unprivileged devices)? Only root can "
                        + "remove the device now (ublk del -n " + info.devId() + ")");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for udev to hand " + node + " over");
            }
        }
    }

    private void takeOver() {
        int devId = info.devId();
        startUserRecovery(devId);
        try {
            params = ctrl.getParams(devId);
            startQueues();
            ctrl.endUserRecovery(devId, LibC.getpid());
            info = ctrl.getDevInfo(devId);
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "recovering device " + devId + " failed: " + e);
            abandonQueues();
            closeCharDevice();
            throw e;
        }
    }

    /**
     * START_USER_RECOVERY, which the kernel refuses (EBUSY) until the last server's {@code /dev/ublkcN} is released:
     * the release runs after the old server's rings are freed, which the kernel does in the background after they
     * close (a handover) or the process exits (a crash). So EBUSY is retried, within the ready timeout.
     */
    private void startUserRecovery(int devId) {
        long deadline = System.nanoTime() + options.readyTimeout().toNanos();
        while (true) {
            try {
                ctrl.startUserRecovery(devId);
                return;
            } catch (NativeException e) {
                if (e.errno() != Errno.EBUSY || System.nanoTime() - deadline > 0) {
                    throw e;
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for device " + devId
                        + " to be released by its last server", e);
            }
        }
    }

    /** The most queues {@link #defaultQueues()} gives: what was measured (vm-tests/bench/FINDINGS.md). */
    public static final int MAX_DEFAULT_QUEUES = 2;

    /**
     * How many hardware queues a device gets when nobody says: one per CPU this process may run on, at most
     * {@value #MAX_DEFAULT_QUEUES}. On the two-CPU machines the bench ran on, two queues served the seed's ext4 table
     * 1.00-1.43x as fast as one (its 16 jobs spread over both CPUs' queues), and a single stream loses nothing: blk-mq
     * maps a CPU to one queue. More than two was not measured; a queue costs a thread, a ring and its tags.
     */
    public static int defaultQueues() {
        return Math.max(1, Math.min(MAX_DEFAULT_QUEUES, Runtime.getRuntime().availableProcessors()));
    }

    /**
     * System property choosing where a queue thread runs ({@code -Djublk.queue.affinity=}): {@code one} (the default)
     * pins it to one CPU of the set GET_QUEUE_AFFINITY gives its queue, as kublk does; {@code all} lets it run on any
     * CPU of that set (with fewer queues than CPUs a set has several). Read as the device starts, so that a run can
     * measure both. The daemon takes it from {@code JUBLK_DAEMON_JAVA_OPTS}.
     */
    public static final String QUEUE_AFFINITY = "jublk.queue.affinity";

    /**
     * The CPUs a queue thread may run on. A pinned thread keeps its cache and its ring's memory warm and the kernel's
     * task work for its uring_cmds lands where it runs. With policy {@code one}, the CPU is the set's entry at
     * {@code devId} modulo its size, so that one-queue devices (whose set is every CPU) spread over the CPUs instead
     * of all taking the first; device 0 takes the first, as kublk does.
     */
    static List<Integer> queueCpus(List<Integer> set, int devId, String policy) {
        return switch (policy) {
            case "all" -> set;
            case "one" -> set.isEmpty() ? set : List.of(set.get(Math.floorMod(devId, set.size())));
            default -> throw new IllegalArgumentException(QUEUE_AFFINITY + " must be one or all, not '" + policy + "'");
        };
    }

    private void startQueues() {
        int devId = info.devId();
        Path charDev = Path.of(info.charDevice());
        ublkc = Fd.open(charDev, LinuxUapi.O_RDWR | LinuxUapi.O_CLOEXEC, 0, "open " + charDev);
        boolean readOnly = params.has(Ublk.UBLK_ATTR_READ_ONLY);
        decoder = new RequestDecoder(params.devSectors(), info.maxIoBufBytes(),
                params.logicalBlockSize(), readOnly);
        String affinity = System.getProperty(QUEUE_AFFINITY, "one");
        for (int q = 0; q < info.nrHwQueues(); q++) {
            List<Integer> cpus = queueCpus(ctrl.getQueueAffinity(devId, q), devId, affinity);
            QueueStats s = new QueueStats(q);
            UblkQueue queue = new UblkQueue(new UblkQueue.Config(devId, q, info.queueDepth(), info.ioDescSize(),
                    info.maxIoBufBytes(), ublkc.get(), cpus, decoder, options.ioFlusher(),
                    (info.flags() & Ublk.UBLK_F_AUTO_BUF_REG) != 0, (info.flags() & Ublk.UBLK_F_BATCH_IO) != 0,
                    (info.flags() & Ublk.UBLK_F_USER_COPY) != 0),
                    target, s,
                    queueExited::countDown);
            stats.add(s);
            queues.add(queue);
            queue.start();
        }
        long deadline = System.nanoTime() + options.readyTimeout().toNanos();
        for (UblkQueue queue : queues) {
            try {
                long left = Math.max(0, deadline - System.nanoTime());
                if (!queue.awaitReady(left, TimeUnit.NANOSECONDS)) {
                    throw new IllegalStateException("queue " + queue.queueId() + " of device " + devId
                            + " did not fetch its tags within " + options.readyTimeout().toSeconds() + " s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while starting queues", e);
            }
        }
    }

    /** Undoes a failed start: queues leave without the kernel's abort, the char device is closed, DEL_DEV. */
    private void abort() {
        stopped = true;
        if (startedQueues()) {
            // START_DEV may have made the block device live before the failure: stop it so that nothing waits on
            // requests no server will answer, then let the queues go.
            try {
                ctrl.stopDev(info.devId());
            } catch (NativeException e) {
                // Never started: nothing to stop.
            }
        }
        abandonQueues();
        closeCharDevice();
        try {
            options.observer().reached(Step.DELETING);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "before deleting device " + info.devId() + ": " + e);
        }
        try {
            ctrl.delete(info.devId());
        } catch (NativeException e) {
            LOG.log(Level.ERROR, "could not delete device " + info.devId() + " after a failed start: " + e);
        }
    }

    private boolean startedQueues() {
        return !queues.isEmpty();
    }

    private void abandonQueues() {
        for (UblkQueue q : queues) {
            q.abandon();
        }
        for (UblkQueue q : queues) {
            try {
                if (!q.join(30, TimeUnit.SECONDS)) {
                    LOG.log(Level.ERROR, "queue " + q.queueId() + " did not exit");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeCharDevice() {
        if (ublkc != null) {
            ublkc.close();
        }
    }

    /** Blocks until a queue thread ends (the device was stopped, or a queue failed). */
    public void awaitQueueExit() throws InterruptedException {
        queueExited.await();
    }

    /**
     * Stops and deletes the device: STOP_DEV lets the kernel finish in-flight requests (the queues are still
     * serving, and answer themselves what the target leaves unanswered for {@link UblkQueue#STOP_GRACE}) and abort
     * the fetches; the queue threads then exit; the target makes everything durable and
     * closes; the char device is closed (DEL_DEV waits for that); DEL_DEV. Every step runs even when one before it
     * failed. Idempotent: a second call returns the first call's result.
     */
    public synchronized StopResult stop() {
        if (stopped) {
            return stopResult != null ? stopResult : new StopResult(0, 0, 0);
        }
        stopped = true;
        int devId = info.devId();
        int stopErrno = 0;
        observe(Step.STOPPING);
        // STOP_DEV waits for every request the queues hold: a target's answer that never comes must not hold it
        // forever (UblkQueue.STOP_GRACE).
        for (UblkQueue q : queues) {
            q.stopping();
        }
        if (!kernelStopped) {
            try {
                ctrl.stopDev(devId);
            } catch (NativeException e) {
                LOG.log(Level.ERROR, "STOP_DEV failed: " + e);
                stopErrno = -e.errno();
            }
        }
        for (UblkQueue q : queues) {
            try {
                if (!q.join(60, TimeUnit.SECONDS)) {
                    LOG.log(Level.ERROR, "queue " + q.queueId() + " still running 60 s after STOP_DEV; abandoning it");
                    q.abandon();
                    q.join(30, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        observe(Step.FLUSHING);
        int flush = target.flush();
        if (flush < 0) {
            LOG.log(Level.ERROR, "the final flush of device " + devId + " failed with " + Errno.name(flush) + " ("
                    + Errno.describe(flush) + "): writes it acknowledged may not be on the backing store");
        }
        target.close();
        closeCharDevice();
        observe(Step.DELETING);
        int deleteErrno = 0;
        try {
            ctrl.delete(devId);
        } catch (NativeException e) {
            if (e.errno() != Errno.ENODEV) {
                LOG.log(Level.ERROR, "DEL_DEV failed: " + e);
                deleteErrno = -e.errno();
            }
        }
        stopResult = new StopResult(stopErrno, Math.min(flush, 0), deleteErrno);
        LOG.log(Level.INFO, "device " + devId + " stopped and deleted" + (stopResult.ok() ? "" : " with errors"));
        return stopResult;
    }

    private void observe(Step step) {
        try {
            options.observer().reached(step);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "at " + step + " of device " + info.devId() + ": " + e);
        }
    }

    /**
     * Stops the device in the kernel only if nobody has it open (TRY_STOP_DEV; a mounted file system holds it); the
     * rest of the stop is {@link #stop()}'s, which the caller makes next. Throws {@link ConfigException} (and the
     * device goes on as it was) when it is in use.
     */
    public synchronized void tryStop() {
        if (stopped || kernelStopped) {
            return;
        }
        try {
            ctrl.tryStopDev(info.devId());
        } catch (NativeException e) {
            if (e.errno() == Errno.EBUSY) {
                throw new ConfigException("device " + info.devId() + " is in use (open, or mounted): not deleting it");
            }
            throw e;
        }
        kernelStopped = true;
    }

    /**
     * Changes the live device's size (UBLK_F_UPDATE_SIZE): the target first (a loop target extends its file), then
     * the request checks and the kernel's capacity when growing; the kernel first when shrinking, so that no request
     * is ever checked against a range the device does not have. The size must be a multiple of the logical block
     * size; ConfigException otherwise, or if the target cannot.
     */
    public synchronized void resize(long newSizeBytes) {
        if (stopped) {
            throw new IllegalStateException("device " + info.devId() + " is stopped");
        }
        int lbs = params.logicalBlockSize();
        if (newSizeBytes <= 0 || newSizeBytes % lbs != 0) {
            throw new ConfigException("the size must be a positive multiple of the device's " + lbs
                    + "-byte blocks, not " + newSizeBytes);
        }
        long sectors = newSizeBytes >> 9;
        long now = decoder.deviceSectors();
        if (sectors > now) {
            target.resize(newSizeBytes);
            decoder.resize(sectors);
            ctrl.updateSize(info.devId(), sectors);
        } else if (sectors < now) {
            ctrl.updateSize(info.devId(), sectors);
            decoder.resize(sectors);
            target.resize(newSizeBytes);
        }
        params = ctrl.getParams(info.devId());
        LOG.log(Level.INFO, "device " + info.devId() + " resized from " + (now << 9) + " to " + newSizeBytes + " bytes");
    }

    /**
     * Hands the live device to a new server, failing none of its I/O (UBLK_F_QUIESCE; the device must have
     * UBLK_F_USER_RECOVERY without FAIL_IO, so that requests wait while no server serves it). The queues are told to
     * hold on; QUIESCE_DEV makes the kernel hand out nothing new (new requests wait in the block layer) and abort the
     * idle fetches; the queues answer every request they hold and leave; the target makes everything durable and
     * closes (its file's advisory lock with it); {@code /dev/ublkcN} is closed. The device is then the kernel's: once
     * the old rings are freed it is quiesced, and a new server takes it over (START_USER_RECOVERY) and gets the waiting
     * requests. Nothing is stopped or deleted. Returns the final flush's result (0, or a negative errno).
     *
     * <p>Refused (the device serves on as before) if the device lacks the flags, or is stopped or being stopped.
     *
     * @param quiesceTimeout how long QUIESCE_DEV may wait for each queue to have an idle command (it goes on after
     *                       that too: the kernel hands out nothing new either way)
     */
    public synchronized int handOver(Duration quiesceTimeout) {
        int devId = info.devId();
        if (stopped || kernelStopped) {
            throw new ConfigException("device " + devId + " is being stopped: not handing it over");
        }
        long flags = info.flags();
        if ((flags & Ublk.UBLK_F_QUIESCE) == 0 || (flags & Ublk.UBLK_F_USER_RECOVERY) == 0
                || (flags & Ublk.UBLK_F_USER_RECOVERY_FAIL_IO) != 0) {
            throw new ConfigException("device " + devId + " cannot be handed over without failing I/O: it needs "
                    + "UBLK_F_QUIESCE and UBLK_F_USER_RECOVERY without FAIL_IO (flags " + info.flagNames() + ")");
        }
        if ((flags & Ublk.UBLK_F_BATCH_IO) != 0) {
            // The batch protocol's quiesce (its fetches cancelled, no per-tag abort) has not been tried yet.
            throw new ConfigException("device " + devId + " was added with --batch, which cannot be handed over "
                    + "(upgraded) yet");
        }
        handingOver = true;
        for (UblkQueue q : queues) {
            q.holdOn();
        }
        try {
            ctrl.quiesceDev(devId, Math.max(1, quiesceTimeout.toMillis()));
        } catch (NativeException e) {
            if (e.errno() != Errno.EBUSY && e.errno() != Errno.EINTR) {
                // Refused before anything changed (EOPNOTSUPP, ENODEV): serve on.
                for (UblkQueue q : queues) {
                    q.letGo();
                }
                handingOver = false;
                throw e;
            }
            // The kernel hands out nothing new already; the fetches it did not abort end with the rings.
            LOG.log(Level.WARNING, "QUIESCE_DEV of device " + devId + ": " + e.getMessage() + "; handing over anyway");
        }
        LOG.log(Level.INFO, "device " + devId + " quiesced: answering what the queues hold, then leaving");
        for (UblkQueue q : queues) {
            q.quiesce();
        }
        for (UblkQueue q : queues) {
            try {
                if (!q.join(60, TimeUnit.SECONDS)) {
                    LOG.log(Level.ERROR, "queue " + q.queueId() + " still holds requests 60 s into the handover; "
                            + "abandoning it (the kernel fails or reissues what it holds)");
                    q.abandon();
                    q.join(30, TimeUnit.SECONDS);
                } else if (!q.leftQuiesced() && q.failure() != null) {
                    LOG.log(Level.ERROR, "queue " + q.queueId() + " failed during the handover: " + q.failure());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        stopped = true;
        int flush = target.flush();
        if (flush < 0) {
            LOG.log(Level.ERROR, "the final flush of device " + devId + " before the handover failed with "
                    + Errno.name(flush) + " (" + Errno.describe(flush) + ")");
        }
        target.close();
        closeCharDevice();
        stopResult = new StopResult(0, Math.min(flush, 0), 0);
        handedOver = true;
        LOG.log(Level.INFO, "device " + devId + " handed over: this server no longer serves it");
        return Math.min(flush, 0);
    }

    /** Whether {@link #handOver} began (queues that end now end for it). */
    public boolean handingOver() {
        return handingOver;
    }

    /** Whether {@link #handOver} finished: {@link #stop()} does nothing after it. */
    public boolean handedOver() {
        return handedOver;
    }

    /**
     * Leaves the device to the kernel without stopping it: the queues are abandoned and the char device is
     * closed, as if this process had died. With UBLK_F_USER_RECOVERY the device then waits for
     * {@link #recover}; without, its I/O fails.
     */
    public synchronized void detach() {
        stopped = true;
        abandonQueues();
        target.close();
        closeCharDevice();
    }

    public DeviceInfo info() {
        return info;
    }

    public DeviceParams params() {
        return params;
    }

    public Target target() {
        return target;
    }

    public boolean recovered() {
        return recovering;
    }

    public List<QueueStats> stats() {
        return Collections.unmodifiableList(stats);
    }

    /** Queue threads that ended with an error, as their exceptions. */
    public List<Throwable> queueFailures() {
        List<Throwable> f = new ArrayList<>();
        for (UblkQueue q : queues) {
            if (q.failure() != null) {
                f.add(q.failure());
            }
        }
        return f;
    }

    public boolean anyQueueAlive() {
        return queues.stream().anyMatch(UblkQueue::isAlive);
    }

    public String blockDevice() {
        return info.blockDevice();
    }

    /** Whether {@code /dev/ublkbN} exists. */
    public boolean blockDeviceExists() {
        return Files.exists(Path.of(blockDevice()));
    }

    @Override
    public void close() {
        try {
            stop();
        } finally {
            ctrl.close();
        }
    }
}
