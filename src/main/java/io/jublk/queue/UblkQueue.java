package io.jublk.queue;

import io.jublk.spi.Target;
import io.jublk.spi.RequestDecoder;
import io.jublk.spi.Request;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.QueueContext;
import static io.jublk.uapi.IoUringUapi.IORING_ASYNC_CANCEL_ANY;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.IoUringUapi.IOSQE_FIXED_FILE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.Mmap;
import io.jublk.sys.NativeException;
import io.jublk.uapi.IoUringSqe;
import io.jublk.uapi.IoUringUapi;
import io.jublk.uapi.Layouts;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblksrvIoCmd;
import io.jublk.uapi.UblksrvIoDesc;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The runtime of one hardware queue: its own platform thread, io_uring, descriptor mapping and request
 * buffers, all owned by that thread (confined arenas) and released when it ends.
 *
 * <p>The cycle, per tag: FETCH_REQ once at start; when it completes the descriptor names a request, which is
 * checked and handed to the target; the target's answer goes back with COMMIT_AND_FETCH_REQ, which also
 * fetches the tag's next request. The kernel ends the cycle by completing the outstanding fetches with
 * UBLK_IO_RES_ABORT (STOP_DEV); once every tag is aborted and no target operation is in flight the thread
 * exits.
 *
 * <p>FETCH and COMMIT of a tag must come from the same OS thread (the 7.x driver enforces a per-I/O daemon
 * task), hence a platform thread, never a virtual one. All submissions of a loop turn go to the kernel in one
 * io_uring_enter, which also waits for the next completions.
 *
 * <p>On the way out, memory the kernel may write into (request buffers, the wake buffer) outlives every
 * operation that was given it: what can be cancelled is cancelled, completions are reaped until nothing but
 * ublk commands is outstanding (or {@link #DRAIN_NANOS} pass), the ring is closed, and only then is that
 * memory released — or, if something could still write into it, deliberately kept (see {@link #tearDown}).
 */
public final class UblkQueue implements CompletionHandler, Runnable {
    private static final System.Logger LOG = System.getLogger(UblkQueue.class.getName());

    static final int KIND_UBLK = 1;
    static final int KIND_TARGET = 2;
    static final int KIND_WAKE = 3;
    static final int KIND_CANCEL = 4;

    private static final byte FETCHING = 1;
    private static final byte SERVING = 2;
    private static final byte DONE = 3;

    /** io_uring refuses a single registered buffer larger than 1 GiB. */
    private static final long MAX_FIXED_BUFFER = 1L << 30;

    /**
     * How long a queue on its way out waits for cancelled operations to complete. A bound, because I/O already
     * in the block layer cannot be cancelled and a hung backing device may never answer; well under the 30 s
     * UblkServer gives an abandoned queue to exit.
     */
    static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * Everything the queue needs to know about its device.
     *
     * @param zeroCopy the device has UBLK_F_AUTO_BUF_REG: the kernel registers each request's own pages in this
     *                 queue's ring (slot = tag) when it hands the request over, and the target's reads and writes
     *                 use them directly; the queue has no buffers of its own
     */
    public record Config(int devId, int queueId, int depth, int ioDescSize, int bufferBytes, int ublkcFd,
            List<Integer> cpus, RequestDecoder decoder, boolean ioFlusher, boolean zeroCopy) {}

    private final Config cfg;
    private final Target target;
    private final QueueStats stats;
    private final Thread thread;
    private final Runnable onExit;
    private final CountDownLatch ready = new CountDownLatch(1);
    /** Written by {@link #abandon()} from any thread, closed by the queue thread: both under {@link #wakeLock}. */
    private final Fd wake;
    private final Object wakeLock = new Object();
    private volatile boolean stopRequested;
    private volatile Throwable failure;

    // Owned by the queue thread.
    private IoUring ring;
    private MemorySegment descriptors;
    private Request[] requests;
    private byte[] state;
    private long[] backendStart;
    private long[] startNanos;
    private int[] backendOps;
    private int active;
    private int backendInflight;
    /** FETCH_REQ/COMMIT_AND_FETCH_REQ queued or submitted whose completion was not reaped yet. */
    private int ublkInflight;
    private boolean wakeArmed;
    /** On the way out: completions are only counted, nothing new is started. */
    private boolean draining;
    private QueueHandler handler;
    private boolean fixedBuffers;
    private boolean abandon;
    private MemorySegment wakeBuf;
    private final Context context = new Context();
    private final List<Integer> files = new ArrayList<>();
    private boolean registering;
    private final boolean[] reportedErrno = new boolean[QueueStats.MAX_ERRNO + 1];

    /**
     * @param onExit run on the queue thread when it ends, whatever the reason (e.g. to wake the daemon's main
     *               thread)
     */
    public UblkQueue(Config cfg, Target target, QueueStats stats, Runnable onExit) {
        this.cfg = cfg;
        this.target = target;
        this.stats = stats;
        this.onExit = onExit;
        this.wake = Fd.adopt(NativeException.check(LibC.rawEventfd(0, LinuxUapi.EFD_CLOEXEC),
                "eventfd for queue " + cfg.queueId()), "eventfd");
        this.thread = Thread.ofPlatform().name("ublk" + cfg.devId() + "-q" + cfg.queueId()).unstarted(this);
    }

    public void start() {
        thread.start();
    }

    /**
     * Waits until every tag has a FETCH_REQ outstanding (the condition START_DEV waits for) or the queue
     * failed; rethrows the failure.
     */
    public boolean awaitReady(long timeout, TimeUnit unit) throws InterruptedException {
        boolean ok = ready.await(timeout, unit);
        Throwable f = failure;
        if (f instanceof RuntimeException re) {
            throw re;
        }
        if (f != null) {
            throw new IllegalStateException("queue " + cfg.queueId() + " failed", f);
        }
        return ok;
    }

    /**
     * Makes the thread leave its loop at once without waiting for the kernel to abort its fetches: it cancels and
     * reaps its target operations, and closing its ring then cancels the fetches. For tearing down a queue whose
     * device never started or cannot be stopped. Safe from any thread, also after the queue ended.
     */
    public void abandon() {
        stopRequested = true;
        synchronized (wakeLock) {
            // The queue thread closes the eventfd under the same lock when it ends: checked and written under it,
            // the number cannot be closed and reused by another descriptor in between.
            if (!wake.isOpen()) {
                return;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment one = a.allocate(JAVA_LONG);
                one.set(JAVA_LONG, 0, 1L);
                LibC.rawWrite(wake.get(), one, 8);
            }
        }
    }

    public boolean join(long timeout, TimeUnit unit) throws InterruptedException {
        return thread.join(java.time.Duration.ofNanos(unit.toNanos(timeout)));
    }

    public boolean isAlive() {
        return thread.isAlive();
    }

    public Throwable failure() {
        return failure;
    }

    public int queueId() {
        return cfg.queueId();
    }

    @Override
    public void run() {
        // Memory the kernel writes into has an arena of its own, released only when nothing can reach it any more;
        // the descriptor mapping is the kernel's memory, which our unmapping cannot harm.
        Arena ioMemory = Arena.ofConfined();
        Arena descMemory = Arena.ofConfined();
        try {
            setUp(ioMemory, descMemory);
            ready.countDown();
            loop();
        } catch (Throwable t) {
            failure = t;
            LOG.log(Level.ERROR, "queue " + cfg.queueId() + " of device " + cfg.devId() + " failed: " + t, t);
        } finally {
            ready.countDown();
            tearDown(ioMemory, descMemory);
            onExit.run();
        }
    }

    private void setUp(Arena ioMemory, Arena descMemory) {
        pinAndMarkThread();
        int depth = cfg.depth();
        int sq = Integer.highestOneBit(Math.max(8, 2 * depth + 2) - 1) << 1;
        ring = IoUring.open(Math.min(sq, 32768), Math.min(sq * 2, 65536), 0,
                IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN, true);

        int page = LibC.pageSize();
        long descStride = Layouts.roundUp((long) Ublk.UBLK_MAX_QUEUE_DEPTH * cfg.ioDescSize(), page);
        long descBytes = Layouts.roundUp((long) depth * cfg.ioDescSize(), page);
        // The kernel finds the queue from offset / stride; a wrong offset that lands on queue 0 is silently
        // accepted, so this must be exact.
        descriptors = Mmap.map(descMemory, descBytes, LinuxUapi.PROT_READ,
                LinuxUapi.MAP_SHARED | LinuxUapi.MAP_POPULATE, cfg.ublkcFd(),
                Ublk.UBLKSRV_CMD_BUF_OFFSET + cfg.queueId() * descStride,
                "mmap io descriptors of queue " + cfg.queueId() + " of device " + cfg.devId());

        MemorySegment buffers = MemorySegment.NULL;
        requests = new Request[depth];
        if (cfg.zeroCopy()) {
            for (int tag = 0; tag < depth; tag++) {
                requests[tag] = RequestDecoder.newRequest(tag, MemorySegment.NULL);
            }
        } else {
            long stride = Layouts.roundUp(cfg.bufferBytes(), page);
            buffers = Mmap.map(ioMemory, stride * depth, LinuxUapi.PROT_READ | LinuxUapi.PROT_WRITE,
                    LinuxUapi.MAP_PRIVATE | LinuxUapi.MAP_ANONYMOUS, -1, 0, "mmap request buffers");
            for (int tag = 0; tag < depth; tag++) {
                requests[tag] = RequestDecoder.newRequest(tag, buffers.asSlice(tag * stride, cfg.bufferBytes()));
            }
        }
        state = new byte[depth];
        backendStart = new long[depth];
        startNanos = new long[depth];
        backendOps = new int[depth];
        wakeBuf = ioMemory.allocate(8, 8);

        files.add(cfg.ublkcFd());
        registering = true;
        handler = target.openQueue(context);
        registering = false;
        ring.registerFiles(files.stream().mapToInt(Integer::intValue).toArray());
        if (cfg.zeroCopy()) {
            // One empty slot per tag for the kernel to put the request's pages in (and take them out again on
            // COMMIT_AND_FETCH).
            ring.registerSparseBuffers(depth);
            fixedBuffers = true;
        } else if (target.wantsFixedBuffers() && buffers.byteSize() <= MAX_FIXED_BUFFER) {
            ring.registerBuffers(buffers);
            fixedBuffers = true;
        }

        armWake();
        for (int tag = 0; tag < depth; tag++) {
            ublkCmd(tag, Ublk.UBLK_U_IO_FETCH_REQ, 0);
        }
        active = depth;
        int r = ring.submit();
        if (r < 0) {
            throw new NativeException(r, "FETCH_REQ for queue " + cfg.queueId() + " of device " + cfg.devId());
        }
    }

    private void pinAndMarkThread() {
        if (!cfg.cpus().isEmpty()) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment mask = a.allocate(128);
                for (int cpu : cfg.cpus()) {
                    if (cpu < 1024) {
                        mask.set(JAVA_BYTE, cpu / 8, (byte) (mask.get(JAVA_BYTE, cpu / 8) | (1 << (cpu % 8))));
                    }
                }
                int r = LibC.rawSchedSetaffinity(0, 128, mask);
                if (r < 0) {
                    LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": cannot pin to CPUs " + cfg.cpus() + ": "
                            + Errno.name(r));
                }
            }
        }
        if (cfg.ioFlusher()) {
            // Memory reclaim must never wait for I/O on the device this thread serves.
            int r = LibC.rawPrctl(LinuxUapi.PR_SET_IO_FLUSHER, 1, 0, 0, 0);
            if (r < 0) {
                LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": PR_SET_IO_FLUSHER refused: " + Errno.name(r));
            }
        }
    }

    private void loop() {
        while (!abandon && (active > 0 || backendInflight > 0)) {
            int r = ring.submitAndWait(1);
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new NativeException(r, "io_uring_enter on queue " + cfg.queueId());
            }
            ring.forEachCompletion(this);
        }
    }

    /**
     * Drain, close the ring, then release memory. Closing a ring does not wait for what is outstanding
     * (io_ring_exit_work runs later in a kworker), and until an operation ends it may write into what it was
     * given: a target's read through an io-wq worker, the wake read once the eventfd is written. So those are
     * cancelled and reaped first ({@link #drain}), within a bound; what is still outstanding after it keeps
     * {@code ioMemory} alive for the rest of the process.
     *
     * <p>ublk's FETCH_REQ/COMMIT_AND_FETCH_REQ are not among what IORING_OP_ASYNC_CANCEL reaches (io_try_cancel
     * in io_uring/cancel.c: io-wq, poll, waitid, futex, timeouts). The driver gets to cancel them when the ring
     * closes: io_ring_exit_work → io_uring_try_cancel_requests → io_uring_try_cancel_uring_cmd (uring_cmd.c) →
     * ublk_ch_uring_cmd(IO_URING_F_CANCEL) → ublk_uring_cmd_cancel_fn → ublk_cancel_cmd (ublk_drv.c), which
     * completes each with UBLK_IO_RES_ABORT and touches no memory of ours. The one place ublk writes into a
     * tag's buffer is ublk_map_io (a WRITE's data, copied to io->buf.addr), called from ublk_start_io in
     * ublk_dispatch_req — task work of the command, which aborts the request instead when {@code current} is
     * not the queue thread or is exiting (PF_EXITING); a command whose request already started is skipped by
     * ublk_cancel_cmd for exactly that task work to finish it. With IORING_SETUP_DEFER_TASKRUN (granted on
     * 6.1+) that task work runs only inside io_uring_enter on this ring by this thread (io_allowed_defer_tw_run:
     * submitter_task == current) — never again after the close — or cancelled from the exit work (a kworker)
     * or the exiting thread, which abort. So after the close, ublk writes nothing into our buffers. Without
     * DEFER_TASKRUN it is ordinary task_work of this thread (io_req_normal_work_add), run on its next return
     * to user space even after the close (ublk_cmd_tw_cb ignores the cancel flag): the buffers are then kept.
     * With zero copy (AUTO_BUF_REG) ublk copies nothing (ublk_need_map_io is false).
     */
    private void tearDown(Arena ioMemory, Arena descMemory) {
        boolean drained = true;
        if (ring != null) {
            try {
                drained = drain();
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "queue " + cfg.queueId() + " of device " + cfg.devId()
                        + ": reaping completions on the way out failed: " + e);
                drained = false;
            }
            ring.close();
        }
        descMemory.close();
        String keep = whyKeepMemory(drained);
        if (keep == null) {
            closeHandler();
            ioMemory.close();
        } else {
            // The handler may own memory its operations were given, too.
            LOG.log(Level.WARNING, "queue " + cfg.queueId() + " of device " + cfg.devId() + ": " + keep
                    + "; its buffers (and the target's queue handler) stay for the rest of the process");
        }
        synchronized (wakeLock) {
            wake.close();
        }
    }

    private void closeHandler() {
        try {
            if (handler != null) {
                handler.close();
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "closing the target's queue handler: " + e);
        }
    }

    /** Why {@code ioMemory} must not be released, or null. */
    private String whyKeepMemory(boolean drained) {
        if (!drained) {
            return backendInflight + " target operation(s) and " + (wakeArmed ? "the" : "no") + " wake read still"
                    + " outstanding " + TimeUnit.NANOSECONDS.toSeconds(DRAIN_NANOS) + " s after they were cancelled";
        }
        if (ublkInflight > 0 && !cfg.zeroCopy() && (ring.setupFlags() & IORING_SETUP_DEFER_TASKRUN) == 0) {
            return ublkInflight + " ublk command(s) outstanding when the ring closed, on a ring without"
                    + " DEFER_TASKRUN: ublk may still copy a request's data into a buffer until this thread exits";
        }
        return null;
    }

    /**
     * Cancels everything the kernel can cancel and reaps completions until no target operation and no wake read
     * is outstanding, or {@link #DRAIN_NANOS} passed. SQEs still queued go to the kernel first (in the same
     * io_uring_enter, ahead of the cancel), so they are covered too. ublk commands stay: see {@link #tearDown}.
     * Returns whether it got there.
     */
    private boolean drain() {
        draining = true;
        if (backendInflight > 0 || ublkInflight > 0) {
            LOG.log(Level.INFO, "queue " + cfg.queueId() + " of device " + cfg.devId() + " leaves with "
                    + backendInflight + " target operation(s) and " + ublkInflight + " ublk command(s) outstanding");
        }
        long deadline = System.nanoTime() + DRAIN_NANOS;
        boolean cancelQueued = false;
        while (backendInflight > 0 || wakeArmed) {
            if (!cancelQueued) {
                long sqe = ring.nextSqe();
                if (sqe >= 0) {
                    ring.prepCancel(sqe, 0, IORING_ASYNC_CANCEL_ANY, UserData.encode(0, KIND_CANCEL, 0, 0));
                    cancelQueued = true;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            int r = ring.submitAndWait(1, left);
            if (r < 0 && r != -Errno.ETIME && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new NativeException(r, "io_uring_enter on queue " + cfg.queueId());
            }
            ring.forEachCompletion(this);
        }
        return true;
    }

    // ---- completions ------------------------------------------------------------------------------------

    @Override
    public void onCompletion(long userData, int res, int flags) {
        int tag = UserData.tag(userData);
        switch (UserData.kind(userData)) {
            case KIND_UBLK -> ublkDone(tag, res);
            case KIND_TARGET -> targetDone(tag, UserData.sub(userData), res);
            case KIND_WAKE -> {
                wakeArmed = false;
                if (stopRequested) {
                    abandon = true;
                } else if (!draining) {
                    armWake();
                }
            }
            case KIND_CANCEL -> {
                if (res < 0) {
                    LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": IORING_OP_ASYNC_CANCEL: " + Errno.name(res));
                }
            }
            default -> LOG.log(Level.WARNING, "completion with unknown user_data " + Long.toHexString(userData));
        }
    }

    private void ublkDone(int tag, int res) {
        ublkInflight--;
        if (draining) {
            // A request that arrives now is not served: the kernel fails or requeues it when /dev/ublkcN closes.
            state[tag] = DONE;
            return;
        }
        if (res == Ublk.UBLK_IO_RES_OK) {
            serve(tag);
        } else {
            // UBLK_IO_RES_ABORT: the device is stopping, this tag gets no more requests. Anything else means the
            // kernel refused the command; the tag is lost either way.
            if (res != Ublk.UBLK_IO_RES_ABORT) {
                LOG.log(Level.ERROR, "queue " + cfg.queueId() + " tag " + tag + ": FETCH/COMMIT failed: "
                        + Errno.name(res));
            }
            state[tag] = DONE;
            active--;
        }
    }

    private void serve(int tag) {
        Request r = requests[tag];
        state[tag] = SERVING;
        long desc = (long) tag * cfg.ioDescSize();
        int opFlags = descriptors.get(JAVA_INT, desc + UblksrvIoDesc.OP_FLAGS);
        int nrSectors = descriptors.get(JAVA_INT, desc + UblksrvIoDesc.NR_SECTORS);
        long startSector = descriptors.get(JAVA_LONG, desc + UblksrvIoDesc.START_SECTOR);
        startNanos[tag] = System.nanoTime();
        stats.started();
        int result = cfg.decoder().decode(r, opFlags, nrSectors, startSector);
        if (result == 0) {
            try {
                result = handler.handle(r);
            } catch (RuntimeException e) {
                result = targetFailed(r, e);
            }
        }
        if (result != QueueHandler.QUEUED) {
            commit(r, result);
        }
    }

    private void targetDone(int tag, int sub, int res) {
        Request r = requests[tag];
        backendInflight--;
        if (--backendOps[tag] == 0) {
            stats.backendDone(System.nanoTime() - backendStart[tag]);
        }
        if (draining) {
            return;
        }
        int result;
        try {
            result = handler.ioDone(r, sub, res);
        } catch (RuntimeException e) {
            result = targetFailed(r, e);
        }
        if (result != QueueHandler.QUEUED) {
            if (backendOps[tag] != 0) {
                // The target answered while operations of this request are still in flight: wait for them
                // rather than commit a buffer the kernel may still write into.
                LOG.log(Level.ERROR, "target answered " + r + " with operations still in flight");
                return;
            }
            commit(r, result);
        }
    }

    private int targetFailed(Request r, RuntimeException e) {
        LOG.log(Level.ERROR, "target failed on " + r + ": " + e, e);
        return -Errno.EIO;
    }

    /**
     * Answers the request. A failure is counted and logged under the errno it came with, and committed as one the
     * block layer reads right ({@link BlockLayerErrno}).
     */
    private void commit(Request r, int result) {
        int given = result;
        if (result < 0) {
            given = BlockLayerErrno.of(result);
            logOnce(r, result, given);
        }
        stats.completed(r.op(), result, System.nanoTime() - startNanos[r.tag()]);
        ublkCmd(r.tag(), Ublk.UBLK_U_IO_COMMIT_AND_FETCH_REQ, given);
    }

    private void logOnce(Request r, int result, int given) {
        int e = Math.min(-result, QueueStats.MAX_ERRNO);
        if (!reportedErrno[e]) {
            reportedErrno[e] = true;
            String as = given == result ? "" : ", given to the block layer as " + Errno.name(given);
            LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": " + r + " failed with " + Errno.name(result) + as
                    + " (further " + Errno.name(result) + " errors are only counted)");
        }
    }

    private void ublkCmd(int tag, int cmdOp, int result) {
        long sqe = ring.sqe();
        long cmd = ring.prepUringCmd(sqe, 0, cmdOp, UserData.encode(tag, KIND_UBLK, 0, 0));
        ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        if (cfg.zeroCopy()) {
            // struct ublk_auto_buf_reg travels in the SQE's own addr (bits 0-15 the buffer slot: the tag; flags and
            // reserved bits 0), and the command's addr must be 0.
            ring.sqes().set(JAVA_LONG, sqe + IoUringSqe.ADDR, tag);
            UblksrvIoCmd.write(ring.sqes(), cmd, cfg.queueId(), tag, result, 0);
        } else {
            UblksrvIoCmd.write(ring.sqes(), cmd, cfg.queueId(), tag, result, requests[tag].bufferAddress());
        }
        state[tag] = FETCHING;
        ublkInflight++;
    }

    private void armWake() {
        ring.prepRead(ring.sqe(), wake.get(), wakeBuf.address(), 8, 0, 0, UserData.encode(0, KIND_WAKE, 0, 0));
        wakeArmed = true;
    }

    // ---- the context targets use ------------------------------------------------------------------------

    private final class Context implements QueueContext {
        @Override
        public int deviceId() {
            return cfg.devId();
        }

        @Override
        public int queueId() {
            return cfg.queueId();
        }

        @Override
        public int depth() {
            return cfg.depth();
        }

        @Override
        public int registerFile(int fd) {
            if (!registering) {
                throw new IllegalStateException("registerFile is only allowed in Target.openQueue");
            }
            files.add(fd);
            return files.size() - 1;
        }

        private long prep(Request r, int sub, long bufferOffset, int length) {
            long capacity = cfg.zeroCopy() ? r.length() : r.buffer().byteSize();
            if (bufferOffset < 0 || length < 0 || bufferOffset + length > capacity) {
                throw new IndexOutOfBoundsException("buffer range " + bufferOffset + "+" + length + " of " + r);
            }
            long sqe = ring.sqe();
            if (backendOps[r.tag()]++ == 0) {
                backendStart[r.tag()] = System.nanoTime();
                stats.backendStarted();
            }
            backendInflight++;
            return sqe;
        }

        /**
         * The fixed buffer of a request: with zero copy the kernel put its pages in slot r.tag(), and as the
         * request has no buffer of its own (address 0) its "address" is the offset into those pages; otherwise
         * the one registered region of all tags' buffers, slot 0.
         */
        private int bufIndex(Request r) {
            return cfg.zeroCopy() ? r.tag() : 0;
        }

        private long ud(Request r, int sub) {
            return UserData.encode(r.tag(), KIND_TARGET, sub, 0);
        }

        @Override
        public void read(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags) {
            long sqe = prep(r, sub, bufferOffset, length);
            long addr = r.bufferAddress() + bufferOffset;
            if (fixedBuffers) {
                ring.prepReadFixed(sqe, file, addr, length, fileOffset, bufIndex(r), rwFlags, ud(r, sub));
            } else {
                ring.prepRead(sqe, file, addr, length, fileOffset, rwFlags, ud(r, sub));
            }
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }

        @Override
        public void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length,
                int rwFlags) {
            long sqe = prep(r, sub, bufferOffset, length);
            long addr = r.bufferAddress() + bufferOffset;
            if (fixedBuffers) {
                ring.prepWriteFixed(sqe, file, addr, length, fileOffset, bufIndex(r), rwFlags, ud(r, sub));
            } else {
                ring.prepWrite(sqe, file, addr, length, fileOffset, rwFlags, ud(r, sub));
            }
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }

        @Override
        public void fsync(Request r, int sub, int file, boolean datasync) {
            long sqe = prep(r, sub, 0, 0);
            ring.prepFsync(sqe, file, datasync ? IoUringUapi.IORING_FSYNC_DATASYNC : 0, ud(r, sub));
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }

        @Override
        public void fallocate(Request r, int sub, int file, int mode, long offset, long length) {
            long sqe = prep(r, sub, 0, 0);
            ring.prepFallocate(sqe, file, mode, offset, length, ud(r, sub));
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }
    }
}
