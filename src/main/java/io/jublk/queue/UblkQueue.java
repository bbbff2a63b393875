package io.jublk.queue;

import io.jublk.spi.Target;
import io.jublk.spi.RequestDecoder;
import io.jublk.spi.Request;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.QueueContext;
import static io.jublk.uapi.IoUringUapi.IORING_ASYNC_CANCEL_ANY;
import static io.jublk.uapi.IoUringUapi.IORING_CQE_F_MORE;
import static io.jublk.uapi.IoUringUapi.IORING_CQE_F_NOTIF;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_TASKRUN_FLAG;
import static io.jublk.uapi.IoUringUapi.IOSQE_FIXED_FILE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.jublk.sys.Errno;
import io.jublk.sys.LibC;
import io.jublk.sys.Mmap;
import io.jublk.sys.NativeException;
import io.jublk.uapi.IoUringBuf;
import io.jublk.uapi.IoUringUapi;
import io.jublk.uapi.Layouts;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblkBatchIo;
import io.jublk.uapi.UblkElemHeader;
import io.jublk.uapi.UblksrvIoCmd;
import io.jublk.uapi.UblksrvIoDesc;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The runtime of one hardware queue: its own platform thread, io_uring, descriptor mapping and request
 * buffers, all owned by that thread and released when it ends (the ring and the mapping in confined arenas; the
 * buffers in a shared one, as a target may fill a buffer from another thread before it answers).
 *
 * <p>The cycle, per tag: FETCH_REQ once at start; when it completes the descriptor names a request, which is
 * checked and handed to the target; the target's answer goes back with COMMIT_AND_FETCH_REQ, which also
 * fetches the tag's next request. The kernel ends the cycle by completing the outstanding fetches with
 * UBLK_IO_RES_ABORT (STOP_DEV); once every tag is aborted and no target operation is in flight the thread
 * exits.
 *
 * <p>With UBLK_F_BATCH_IO ({@link Config#batch}) the cycle is the queue's, not each tag's: PREP_IO_CMDS hands
 * every tag to the kernel once; two multishot FETCH_IO_CMDS, each with a provided-buffer ring of one buffer, complete
 * with the tags of new requests (u16s, one completion after the other in the buffer until it is used up and
 * re-armed); the answers of a loop turn go back in one COMMIT_IO_CMDS. STOP_DEV ends the fetches with ENODEV. The
 * targets see no difference.
 *
 * <p>FETCH and COMMIT of a tag must come from the same OS thread (the 7.x driver enforces a per-I/O daemon
 * task), hence a platform thread, never a virtual one. All submissions of a loop turn go to the kernel in one
 * io_uring_enter, which also waits for the next completions. A target answering from another thread
 * ({@link QueueContext#complete}) goes through a {@link CompletionMailbox}, which this thread empties every turn
 * and which wakes it through an eventfd read it keeps in the ring when it waits.
 *
 * <p>A device that stops holds its STOP_DEV until every request the server holds is answered (del_gendisk waits
 * for them). So once {@link #stopping()} is called, a request waiting for its answer gets {@link #STOP_GRACE};
 * then the queue cancels what the kernel can cancel of the target's operations and answers the request itself
 * with ECANCELED (an EIO to the block layer).
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
    /** An operation of the target's bound to no request: a 56-bit token in user_data. */
    static final int KIND_TOKEN = 5;
    /** A batch command (UBLK_F_BATCH_IO): sub says which, tag the buffer it uses. */
    static final int KIND_BATCH = 6;

    private static final int BATCH_PREP = 1;
    private static final int BATCH_COMMIT = 2;
    private static final int BATCH_FETCH = 3;
    /**
     * Multishot FETCH_IO_CMDS per queue, each with a buffer group of its own: while one's buffer is used up and it
     * is re-armed, the kernel hands tags to the other (kublk does the same).
     */
    private static final int FETCH_COMMANDS = 2;
    /**
     * COMMIT_IO_CMDS buffers: one is filled per loop turn; the kernel reads it when the command is issued, but it
     * stays ours until the completion, so a few rotate.
     */
    private static final int COMMIT_BUFFERS = 4;

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
     * How long, once the device is stopping, a request may wait for its answer (counted from the stop, or from its
     * arrival if later) before the queue answers it itself. Bounded, because STOP_DEV waits for every request the
     * server holds and a target may never answer (a peer that went away); within UblkServer's 60 s wait for a
     * queue after STOP_DEV, with {@link #DRAIN_NANOS} after it.
     */
    public static final Duration STOP_GRACE = Duration.ofSeconds(10);

    /**
     * System property that turns the queue ring's cheap io_uring levers off ({@code -Djublk.ring.levers=off}; on by
     * default), read once as each queue starts, so that a run can measure with and without them: the ring entered by
     * its registered slot rather than its descriptor (IORING_REGISTER_RING_FDS), IORING_SETUP_TASKRUN_FLAG so that a
     * non-blocking reap enters only when the kernel flags deferred work, and the CQ head published once per batch.
     * The daemon takes it from {@code JUBLK_DAEMON_JAVA_OPTS} or from the {@code ublk} command's own JVM options.
     */
    public static final String RING_LEVERS = "jublk.ring.levers";

    /**
     * Everything the queue needs to know about its device.
     *
     * @param zeroCopy the device has UBLK_F_AUTO_BUF_REG: the kernel registers each request's own pages in this
     *                 queue's ring (slot = tag) when it hands the request over, and the target's reads and writes
     *                 use them directly; the queue has no buffers of its own
     * @param batch    the device has UBLK_F_BATCH_IO: tags come and answers go many per command (PREP_IO_CMDS once,
     *                 multishot FETCH_IO_CMDS, COMMIT_IO_CMDS once per loop turn) instead of FETCH_REQ and
     *                 COMMIT_AND_FETCH_REQ per tag
     * @param userCopy the device has UBLK_F_USER_COPY: a request's data can also be copied with pread/pwrite on the
     *                 char device (at the tag's offset), e.g. the small payloads of a zero-copy network target
     */
    public record Config(int devId, int queueId, int depth, int ioDescSize, int bufferBytes, int ublkcFd,
            List<Integer> cpus, RequestDecoder decoder, boolean ioFlusher, boolean zeroCopy, boolean batch,
            boolean userCopy) {}

    private final Config cfg;
    private final Target target;
    private final QueueStats stats;
    private final Thread thread;
    private final Runnable onExit;
    private final CountDownLatch ready = new CountDownLatch(1);
    /** Written from any thread ({@link #abandon()}, {@link #stopping()}, completers), closed by the queue thread. */
    private final Waker waker;
    private final CompletionMailbox mailbox;
    private volatile boolean stopRequested;
    /** Set by {@link #stopping()}, after {@link #stopBegan}. */
    private volatile boolean stopping;
    /** System.nanoTime() of {@link #stopping()}. */
    private volatile long stopBegan;
    /** {@link #holdOn()}: the device is being handed over; a queue left without fetches waits for the word. */
    private volatile boolean handingOver;
    /** {@link #quiesce()}: the kernel hands out no more requests; leave once every held one is answered. */
    private volatile boolean quiesced;
    /** The queue left at {@link #quiesce()}'s word, with every request it was given answered. */
    private volatile boolean leftQuiesced;
    private volatile Throwable failure;

    // Owned by the queue thread.
    private IoUring ring;
    private MemorySegment descriptors;
    private Request[] requests;
    private byte[] state;
    private long[] backendStart;
    private long[] startNanos;
    private int[] backendOps;
    /** Of backendOps: SEND_ZC whose result came and whose notification has not. */
    private int[] notifs;
    /** The request was answered while operations of it were in flight: heldResult is committed when they end. */
    private boolean[] held;
    private int[] heldResult;
    /** The target said the request waits for its backend outside the ring: backend time until it is answered. */
    private boolean[] remote;
    private int active;
    /** Tags whose request the server holds (SERVING): handed over by the kernel, not yet committed. */
    private int serving;
    /** Operations bound to no request in flight: they do not keep the loop going; {@link #drain} reaps them. */
    private int tokenInflight;
    private boolean expiryCancelOutstanding;
    private boolean sendRecvFixed;
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
    private boolean reportedWrongCount;

    // UBLK_F_BATCH_IO, owned by the queue thread; memory in the I/O arena (the kernel writes tags into it).
    private MemorySegment fetchBufs;
    private MemorySegment bufRings;
    private int fetchBytes;
    private final int[] fetchOff = new int[FETCH_COMMANDS];
    private int fetchesLive;
    private MemorySegment commitBufs;
    private int commitStride;
    private int elemBytes;
    private int batchFlags;
    private final boolean[] commitBusy = new boolean[COMMIT_BUFFERS];
    /** Answers not yet written into a COMMIT_IO_CMDS buffer; a tag is here at most once. */
    private int[] pendTag;
    private int[] pendRes;
    private int pendN;
    private boolean prepDone;
    private int prepResult;
    private boolean reportedCommitFailure;

    /**
     * @param onExit run on the queue thread when it ends, whatever the reason (e.g. to wake the daemon's main
     *               thread)
     */
    public UblkQueue(Config cfg, Target target, QueueStats stats, Runnable onExit) {
        this.cfg = cfg;
        this.target = target;
        this.stats = stats;
        this.onExit = onExit;
        this.waker = new Waker("queue " + cfg.queueId());
        this.mailbox = new CompletionMailbox(cfg.depth(), waker);
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
        waker.wake();
    }

    /**
     * The device is about to be stopped (call before STOP_DEV): requests that wait for an answer from the target get
     * {@link #STOP_GRACE}, then the queue answers them itself. Safe from any thread, also after the queue ended.
     */
    public void stopping() {
        if (!stopping) {
            stopBegan = System.nanoTime();
            stopping = true;
            waker.wake();
        }
    }

    /**
     * The device is about to be quiesced (call before QUIESCE_DEV): the kernel will abort this queue's idle fetches,
     * and the queue must not take that for the device's end. It keeps serving what it holds and waits for
     * {@link #quiesce()} (or {@link #letGo()}). Safe from any thread.
     */
    public void holdOn() {
        handingOver = true;
        waker.wake();
    }

    /** The quiesce did not happen (the kernel refused it before changing anything): back to serving as before. */
    public void letGo() {
        handingOver = false;
        waker.wake();
    }

    /**
     * QUIESCE_DEV returned: the kernel hands this queue nothing new (requests wait in the block layer for the next
     * server). The queue answers every request it holds, sends those answers to the kernel and leaves; closing its
     * ring then cancels the fetches the answers came with. Nothing it was given is left unanswered, so nothing fails
     * when {@code /dev/ublkcN} closes. Safe from any thread.
     */
    public void quiesce() {
        quiesced = true;
        waker.wake();
    }

    /** Whether the queue left because of {@link #quiesce()}, every request it held answered. */
    public boolean leftQuiesced() {
        return leftQuiesced;
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
        // the descriptor mapping is the kernel's memory, which our unmapping cannot harm. Shared, not confined: a
        // target answering from another thread fills a READ's buffer there, and one that comes after the queue
        // ended gets an IllegalStateException from the closed arena instead of writing into unmapped memory.
        Arena ioMemory = Arena.ofShared();
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
        boolean levers = !"off".equalsIgnoreCase(System.getProperty(RING_LEVERS, "on").trim());
        // Created here, on the thread that submits: SINGLE_ISSUER binds the ring to it at once, so there is nothing
        // for IORING_SETUP_R_DISABLED + IORING_REGISTER_ENABLE_RINGS to defer.
        ring = IoUring.open(Math.min(sq, 32768), Math.min(sq * 2, 65536), 0,
                IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN
                        | (levers ? IORING_SETUP_TASKRUN_FLAG : 0), true);
        if (levers) {
            // Registered per task: this thread is the one that enters. Refused (an old kernel): the descriptor serves.
            ring.registerRingFd();
            ring.batchCqHead(true);
        }
        // Before the target may queue anything: the probe reaps whatever completes.
        sendRecvFixed = ring.socketsTakeFixedBuffers();

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
        notifs = new int[depth];
        held = new boolean[depth];
        heldResult = new int[depth];
        remote = new boolean[depth];
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
            try {
                ring.registerBuffers(buffers);
                fixedBuffers = true;
            } catch (NativeException e) {
                if (e.errno() != Errno.ENOMEM) {
                    throw e;
                }
                // Registered buffers are pinned, and counted against RLIMIT_MEMLOCK, which root is exempt from: a
                // user's limit (an unprivileged device) is often below depth × the largest request. Plain reads and
                // writes work the same, pinning each request's pages as they go.
                LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": " + buffers.byteSize() / 1024 + " KiB of buffers "
                        + "cannot be registered (ENOMEM: RLIMIT_MEMLOCK?); serving with unregistered buffers");
            }
        }
        sendRecvFixed &= fixedBuffers;

        armWake();
        if (cfg.batch()) {
            setUpBatch(ioMemory, page);
            return;
        }
        for (int tag = 0; tag < depth; tag++) {
            ublkCmd(tag, Ublk.UBLK_U_IO_FETCH_REQ, 0);
        }
        active = depth;
        int r = ring.submit();
        if (r < 0) {
            throw new NativeException(r, "FETCH_REQ for queue " + cfg.queueId() + " of device " + cfg.devId());
        }
    }

    /**
     * UBLK_F_BATCH_IO: PREP_IO_CMDS hands the kernel every tag (what START_DEV waits for), then the multishot
     * fetches go in — not before: a queue whose server died stays canceling until every tag is prepared again, and
     * the kernel answers a fetch on it with ENODEV.
     */
    private void setUpBatch(Arena ioMemory, int page) {
        int depth = cfg.depth();
        // With zero copy an element names the fixed-buffer slot for the request's pages (the tag); otherwise it
        // carries the request buffer's address, which ublk copies data to and from.
        elemBytes = (int) UblkElemHeader.SIZE + (cfg.zeroCopy() ? 0 : Long.BYTES);
        batchFlags = cfg.zeroCopy() ? 0 : Ublk.UBLK_BATCH_F_HAS_BUF_ADDR;
        commitStride = (int) Layouts.roundUp((long) depth * elemBytes, page);
        commitBufs = Mmap.map(ioMemory, (long) commitStride * COMMIT_BUFFERS,
                LinuxUapi.PROT_READ | LinuxUapi.PROT_WRITE, LinuxUapi.MAP_PRIVATE | LinuxUapi.MAP_ANONYMOUS, -1, 0,
                "mmap batch commit buffers");
        fetchBytes = (int) Layouts.roundUp(2L * depth, page);
        fetchBufs = Mmap.map(ioMemory, (long) fetchBytes * FETCH_COMMANDS,
                LinuxUapi.PROT_READ | LinuxUapi.PROT_WRITE, LinuxUapi.MAP_PRIVATE | LinuxUapi.MAP_ANONYMOUS, -1, 0,
                "mmap batch fetch buffers");
        // One provided-buffer ring of one entry per fetch command, a page each (the kernel pins it).
        bufRings = Mmap.map(ioMemory, (long) page * FETCH_COMMANDS, LinuxUapi.PROT_READ | LinuxUapi.PROT_WRITE,
                LinuxUapi.MAP_PRIVATE | LinuxUapi.MAP_ANONYMOUS, -1, 0, "mmap provided-buffer rings");
        for (int b = 0; b < FETCH_COMMANDS; b++) {
            // Consumed in pieces: each completion's tags follow the last one's in the same buffer.
            ring.registerBufRing(bufRings.asSlice((long) b * page, page), 1, b, IoUringUapi.IOU_PBUF_RING_INC);
        }
        pendTag = new int[depth];
        pendRes = new int[depth];

        for (int tag = 0; tag < depth; tag++) {
            writeElem(0, tag, tag, 0);
        }
        batchCmd(0, Ublk.UBLK_U_IO_PREP_IO_CMDS, BATCH_PREP, depth);
        while (!prepDone) {
            int r = ring.submitAndWait(1);
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY && r != -Errno.EINTR) {
                throw new NativeException(r, "io_uring_enter on queue " + cfg.queueId());
            }
            ring.forEachCompletion(this);
        }
        if (prepResult < 0) {
            throw new NativeException(prepResult, "PREP_IO_CMDS for queue " + cfg.queueId() + " of device "
                    + cfg.devId());
        }
        for (int b = 0; b < FETCH_COMMANDS; b++) {
            armFetch(b, page);
        }
        int r = ring.submit();
        if (r < 0) {
            throw new NativeException(r, "FETCH_IO_CMDS for queue " + cfg.queueId() + " of device " + cfg.devId());
        }
    }

    /** Element {@code i} of commit buffer {@code b}. */
    private void writeElem(int b, int i, int tag, int result) {
        long e = (long) b * commitStride + (long) i * elemBytes;
        commitBufs.set(JAVA_SHORT, e + UblkElemHeader.TAG, (short) tag);
        commitBufs.set(JAVA_SHORT, e + UblkElemHeader.BUF_INDEX, (short) (cfg.zeroCopy() ? tag : 0));
        commitBufs.set(JAVA_INT, e + UblkElemHeader.RESULT, result);
        if (!cfg.zeroCopy()) {
            commitBufs.set(JAVA_LONG, e + UblkElemHeader.SIZE, requests[tag].bufferAddress());
        }
    }

    /** PREP_IO_CMDS or COMMIT_IO_CMDS of {@code n} elements in commit buffer {@code b}. */
    private void batchCmd(int b, int cmdOp, int which, int n) {
        IoUring.Sqe sqe = ring.next().uringCmd(0, cmdOp).flags(IOSQE_FIXED_FILE)
                .addr(commitBufs.address() + (long) b * commitStride).len(n * elemBytes)
                .userData(UserData.encode(b, KIND_BATCH, which, n));
        UblkBatchIo.write(sqe.memory(), sqe.cmd(), cfg.queueId(), batchFlags, n, elemBytes);
        commitBusy[b] = true;
        ublkInflight++;
    }

    /**
     * Gives fetch command {@code b} its whole buffer again (the one entry of its provided-buffer ring) and queues
     * the command: multishot, so it completes once per batch of tags until the buffer is used up.
     */
    private void armFetch(int b, int page) {
        long entry = (long) b * page;
        bufRings.set(JAVA_LONG, entry + IoUringBuf.ADDR, fetchBufs.address() + (long) b * fetchBytes);
        bufRings.set(JAVA_INT, entry + IoUringBuf.LEN, fetchBytes);
        bufRings.set(JAVA_SHORT, entry + IoUringBuf.BID, (short) 0);
        short tail = bufRings.get(JAVA_SHORT, entry + IoUringBuf.RING_TAIL);
        // The entry must be visible before the tail that publishes it.
        VarHandle.releaseFence();
        bufRings.set(JAVA_SHORT, entry + IoUringBuf.RING_TAIL, (short) (tail + 1));
        fetchOff[b] = 0;

        IoUring.Sqe sqe = ring.next().uringCmd(0, Ublk.UBLK_U_IO_FETCH_IO_CMDS)
                .flags(IOSQE_FIXED_FILE | IoUringUapi.IOSQE_BUFFER_SELECT).bufGroup(b)
                .uringCmdFlags(IoUringUapi.IORING_URING_CMD_MULTISHOT)
                .userData(UserData.encode(b, KIND_BATCH, BATCH_FETCH, 0));
        UblkBatchIo.write(sqe.memory(), sqe.cmd(), cfg.queueId(), 0, Math.min(fetchBytes / 2, 0xffff), 2);
        fetchesLive++;
        ublkInflight++;
    }

    /** Writes the answers gathered this turn into a free commit buffer and queues COMMIT_IO_CMDS for them. */
    private void flushCommits() {
        if (pendN == 0) {
            return;
        }
        int b = 0;
        while (b < COMMIT_BUFFERS && commitBusy[b]) {
            b++;
        }
        if (b == COMMIT_BUFFERS) {
            return; // all in flight: their completions come with the next wait, then these go
        }
        for (int i = 0; i < pendN; i++) {
            writeElem(b, i, pendTag[i], pendRes[i]);
        }
        batchCmd(b, Ublk.UBLK_U_IO_COMMIT_IO_CMDS, BATCH_COMMIT, pendN);
        pendN = 0;
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
        while (!abandon && (live() || backendInflight > 0 || (handingOver && !quiesced))) {
            takeAnswers();
            if (quiesced && serving == 0 && backendInflight == 0) {
                flushCommits();
                // Every request the kernel gave this queue is answered: the last answers go to the kernel (which
                // completes each request as it takes its COMMIT_AND_FETCH_REQ), and the queue leaves.
                int r = ring.submit();
                if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                    throw new NativeException(r, "io_uring_enter on queue " + cfg.queueId());
                }
                if (ring.pending() == 0) {
                    leftQuiesced = true;
                    break;
                }
            }
            long waitNanos = -1;
            if (stopping) {
                long now = System.nanoTime();
                long next = expire(now);
                if (next != Long.MAX_VALUE) {
                    waitNanos = next - now;
                }
            }
            flushCommits();
            // An answer that came meanwhile: submit and reap without waiting, so that a steady stream of answers
            // still lets the commits out and the completions in.
            boolean block = mailbox.mayBlock();
            int r = !block ? ring.submitAndWait(0)
                    : waitNanos < 0 ? ring.submitAndWait(1) : ring.submitAndWait(1, waitNanos);
            if (block) {
                mailbox.awake();
            }
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY && r != -Errno.ETIME) {
                throw new NativeException(r, "io_uring_enter on queue " + cfg.queueId());
            }
            ring.forEachCompletion(this);
        }
    }

    /**
     * The kernel may still hand this queue requests, or the queue holds some: per tag, a tag not yet aborted; in
     * batch mode, a live fetch command, a request being served or an answer not yet sent.
     */
    private boolean live() {
        return cfg.batch() ? fetchesLive > 0 || serving > 0 || pendN > 0 : active > 0;
    }

    /** Commits what completers answered since the last turn. */
    private void takeAnswers() {
        for (int tag = mailbox.take(); tag >= 0; tag = mailbox.take()) {
            if (!draining) {
                settle(requests[tag], mailbox.result(tag));
            }
        }
    }

    /**
     * The device is stopping: answers every request whose grace ended with ECANCELED (after its operations, which
     * a cancel cuts short where the kernel can) and returns when the next one's ends, Long.MAX_VALUE if none waits.
     * A scan of the tags per loop turn, only while the device stops.
     */
    private long expire(long now) {
        long grace = STOP_GRACE.toNanos();
        long began = stopBegan;
        long next = Long.MAX_VALUE;
        boolean cancelled = false;
        for (int tag = 0; tag < requests.length; tag++) {
            if (state[tag] != SERVING || held[tag]) {
                continue;
            }
            long end = Math.max(startNanos[tag], began) + grace;
            if (end - now > 0) {
                next = Math.min(next, end);
                continue;
            }
            Request r = requests[tag];
            mailbox.beLenient();
            // Fails only if a completer took the request just now: its answer is in the mailbox.
            if (mailbox.cancel(r.id())) {
                LOG.log(Level.WARNING, "queue " + cfg.queueId() + ": " + r + " still unanswered "
                        + STOP_GRACE.toSeconds() + " s into the device's stop: answering it with ECANCELED"
                        + (backendOps[tag] > 0 ? " once its " + backendOps[tag] + " operation(s) end" : ""));
                if (backendOps[tag] > 0) {
                    hold(tag, -Errno.ECANCELED);
                } else {
                    commit(r, -Errno.ECANCELED);
                }
                cancelled = true;
            }
        }
        if (cancelled && !expiryCancelOutstanding) {
            IoUring.Sqe sqe = ring.tryNext();
            if (sqe != null) {
                sqe.cancel(0, IORING_ASYNC_CANCEL_ANY).userData(UserData.encode(0, KIND_CANCEL, 0, 0));
                expiryCancelOutstanding = true;
            }
        }
        return next;
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
        // From here on an answer from another thread is dropped: complete() returns false.
        mailbox.close();
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
            try {
                ioMemory.close();
            } catch (IllegalStateException e) {
                // A thread of the target's holds a request buffer in a native call right now (a shared arena
                // refuses to close then): the memory stays, and that thread's later accesses still fail cleanly.
                LOG.log(Level.WARNING, "queue " + cfg.queueId() + " of device " + cfg.devId()
                        + ": its buffers are in use by another thread and stay for the rest of the process: " + e);
            }
        } else {
            // The handler may own memory its operations were given, too.
            LOG.log(Level.WARNING, "queue " + cfg.queueId() + " of device " + cfg.devId() + ": " + keep
                    + "; its buffers (and the target's queue handler) stay for the rest of the process");
        }
        waker.close();
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
            return backendInflight + " target operation(s) of requests, " + tokenInflight + " of no request and "
                    + (wakeArmed ? "the" : "no") + " wake read still outstanding "
                    + TimeUnit.NANOSECONDS.toSeconds(DRAIN_NANOS) + " s after they were cancelled";
        }
        // In batch mode ublk also writes tags into the fetch buffers, zero copy or not.
        if (ublkInflight > 0 && (!cfg.zeroCopy() || cfg.batch())
                && (ring.setupFlags() & IORING_SETUP_DEFER_TASKRUN) == 0) {
            return ublkInflight + " ublk command(s) outstanding when the ring closed, on a ring without"
                    + " DEFER_TASKRUN: ublk may still copy a request's data into a buffer until this thread exits";
        }
        return null;
    }

    /**
     * Cancels everything the kernel can cancel and reaps completions until no target operation (bound to a request
     * or not; a SEND_ZC until its notification) and no wake read is outstanding, or {@link #DRAIN_NANOS} passed.
     * SQEs still queued go to the kernel first (in the same io_uring_enter, ahead of the cancel), so they are
     * covered too. ublk commands stay: see {@link #tearDown}.
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
        while (backendInflight > 0 || tokenInflight > 0 || wakeArmed) {
            if (!cancelQueued) {
                IoUring.Sqe sqe = ring.tryNext();
                if (sqe != null) {
                    sqe.cancel(0, IORING_ASYNC_CANCEL_ANY).userData(UserData.encode(0, KIND_CANCEL, 0, 0));
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
            case KIND_TARGET -> targetDone(tag, UserData.sub(userData), res, flags);
            case KIND_TOKEN -> tokenDone(UserData.token(userData), res);
            case KIND_BATCH -> batchDone(tag, UserData.sub(userData), UserData.data(userData), res, flags);
            case KIND_WAKE -> {
                wakeArmed = false;
                if (stopRequested) {
                    abandon = true;
                } else if (!draining) {
                    armWake();
                }
            }
            case KIND_CANCEL -> {
                expiryCancelOutstanding = false;
                if (res < 0 && res != -Errno.ENOENT) {
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

    private void batchDone(int b, int which, int n, int res, int flags) {
        switch (which) {
            case BATCH_PREP -> {
                ublkInflight--;
                commitBusy[b] = false;
                prepDone = true;
                prepResult = res;
            }
            case BATCH_COMMIT -> {
                ublkInflight--;
                commitBusy[b] = false;
                if (res != n * elemBytes && !reportedCommitFailure) {
                    // The kernel took the elements before the one it refused (res bytes) or none (-errno); a refused
                    // tag's request stays unanswered. Not expected from a correct server.
                    reportedCommitFailure = true;
                    LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": COMMIT_IO_CMDS of " + n + " answers: "
                            + (res < 0 ? Errno.name(res) : "the kernel took " + res / elemBytes)
                            + " (further failures are not logged)");
                }
            }
            case BATCH_FETCH -> fetchDone(b, res, flags);
            default -> LOG.log(Level.WARNING, "batch completion of unknown kind " + which);
        }
    }

    /** A FETCH_IO_CMDS completion: {@code res} bytes of u16 tags after the last ones in its buffer, or -errno. */
    private void fetchDone(int b, int res, int flags) {
        if (res > 0) {
            long at = (long) b * fetchBytes + fetchOff[b];
            fetchOff[b] += res;
            for (int i = 0; i < res / 2; i++) {
                int tag = Short.toUnsignedInt(fetchBufs.get(JAVA_SHORT, at + 2L * i));
                if (draining) {
                    // Not served: the kernel fails or requeues it when /dev/ublkcN closes.
                    continue;
                }
                if (tag >= cfg.depth() || state[tag] == SERVING) {
                    LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": FETCH_IO_CMDS handed over tag " + tag
                            + (tag >= cfg.depth() ? ", beyond the queue's depth" : ", which is being served"));
                    continue;
                }
                serve(tag);
            }
        }
        if ((flags & IORING_CQE_F_MORE) != 0) {
            return;
        }
        // The command ended: its buffer used up (ENOBUFS; tags wait in the kernel for the other command or this
        // one re-armed), or the device is going (ENODEV), or something else went wrong.
        fetchesLive--;
        ublkInflight--;
        if (res >= 0 || res == -Errno.ENOBUFS) {
            if (draining || stopRequested) {
                return;
            }
            if (fetchOff[b] >= fetchBytes) {
                // Used up (the kernel consumes exactly what each completion reports): the buffer left the ring and
                // goes back whole.
                armFetch(b, LibC.pageSize());
            } else {
                // Ended with part of its buffer unreported: a completion the kernel could not post (a full CQ), whose
                // tags it took back but whose bytes it may have consumed. Where the next tags would land is then
                // unknown, so this command is not re-armed; the other one serves the queue.
                LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": FETCH_IO_CMDS " + b + " ended with "
                        + Errno.name(res) + " and " + (fetchBytes - fetchOff[b]) + " bytes of its buffer unreported;"
                        + " not re-armed");
            }
        } else if (res != Ublk.UBLK_IO_RES_ABORT) {
            LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": FETCH_IO_CMDS failed: " + Errno.name(res));
        }
    }

    private void serve(int tag) {
        Request r = requests[tag];
        state[tag] = SERVING;
        serving++;
        long desc = (long) tag * cfg.ioDescSize();
        int opFlags = descriptors.get(JAVA_INT, desc + UblksrvIoDesc.OP_FLAGS);
        int nrSectors = descriptors.get(JAVA_INT, desc + UblksrvIoDesc.NR_SECTORS);
        long startSector = descriptors.get(JAVA_LONG, desc + UblksrvIoDesc.START_SECTOR);
        startNanos[tag] = System.nanoTime();
        stats.started();
        int result = cfg.decoder().decode(r, opFlags, nrSectors, startSector);
        if (result == 0) {
            mailbox.arm(r.id());
            try {
                result = handler.handle(r);
            } catch (RuntimeException e) {
                result = targetFailed(r, e);
            }
            if (result == QueueHandler.QUEUED || !answeredByHandler(r)) {
                return;
            }
        }
        settle(r, result);
    }

    /**
     * The handler answered {@code r} by returning a result: takes the request from the mailbox. False (and an error
     * logged) if a completer answered it already; that answer counts.
     */
    private boolean answeredByHandler(Request r) {
        if (mailbox.disarm(r.id())) {
            return true;
        }
        LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": the target answered " + r + " twice, by complete() and"
                + " by a returned result; the first counts");
        return false;
    }

    private void targetDone(int tag, int sub, int res, int flags) {
        Request r = requests[tag];
        boolean answered = held[tag];
        if ((flags & IORING_CQE_F_NOTIF) != 0) {
            // SEND_ZC let go of the pages; its result came before.
            notifs[tag]--;
            opEnded(tag);
        } else if ((flags & IORING_CQE_F_MORE) != 0) {
            notifs[tag]++; // a SEND_ZC's result: in flight until its notification
        } else {
            opEnded(tag);
        }
        if ((flags & IORING_CQE_F_NOTIF) != 0 || draining || answered) {
            return; // nothing to tell the handler, or the request has its answer already
        }
        int result;
        try {
            result = handler.ioDone(r, sub, res);
        } catch (RuntimeException e) {
            result = targetFailed(r, e);
        }
        if (result != QueueHandler.QUEUED && answeredByHandler(r)) {
            settle(r, result);
        }
    }

    private void opEnded(int tag) {
        backendInflight--;
        if (--backendOps[tag] == 0) {
            if (!remote[tag]) {
                stats.backendDone(System.nanoTime() - backendStart[tag]);
            }
            if (held[tag] && !draining) {
                held[tag] = false;
                commit(requests[tag], heldResult[tag]);
            }
        }
    }

    private void tokenDone(long token, int res) {
        tokenInflight--;
        if (draining) {
            return;
        }
        try {
            handler.ioDone(token, res);
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "target failed on the completion of its operation " + token + " (" + res + "): " + e,
                    e);
        }
    }

    /**
     * {@code r} has its answer: committed now, or once the operations of it still in flight have ended (the kernel
     * may still write into its buffer). Waiting for a SEND_ZC's notification is normal; for anything else it means
     * the target answered too early.
     */
    private void settle(Request r, int result) {
        int tag = r.tag();
        if (backendOps[tag] == 0) {
            commit(r, result);
            return;
        }
        if (backendOps[tag] != notifs[tag]) {
            LOG.log(Level.ERROR, "target answered " + r + " with " + (backendOps[tag] - notifs[tag])
                    + " operation(s) still in flight; the answer waits for them");
        }
        hold(tag, result);
    }

    /** The answer is committed when the tag's last operation ends; later completions are not delivered. */
    private void hold(int tag, int result) {
        held[tag] = true;
        heldResult[tag] = result;
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
        serving--;
        int tag = r.tag();
        if (remote[tag]) {
            remote[tag] = false;
            if (backendOps[tag] == 0) {
                stats.backendDone(System.nanoTime() - backendStart[tag]);
            }
        }
        result = checkCount(r, result);
        int given = result;
        if (result < 0) {
            given = BlockLayerErrno.of(result);
            logOnce(r, result, given);
        }
        stats.completed(r.op(), result, System.nanoTime() - startNanos[r.tag()]);
        if (cfg.batch()) {
            // Goes with the turn's other answers in one COMMIT_IO_CMDS (flushCommits).
            pendTag[pendN] = tag;
            pendRes[pendN] = given;
            pendN++;
            state[tag] = FETCHING;
        } else {
            ublkCmd(r.tag(), Ublk.UBLK_U_IO_COMMIT_AND_FETCH_REQ, given);
        }
    }

    /**
     * A READ or WRITE is answered whole or not at all: ublk_drv completes it whole whatever positive count it gets
     * (see {@link QueueHandler}), so any other count would acknowledge data that was not moved. Such an answer
     * becomes EIO.
     */
    private int checkCount(Request r, int result) {
        int op = r.op();
        if (result >= 0 && (op == Ublk.UBLK_IO_OP_READ || op == Ublk.UBLK_IO_OP_WRITE) && result != r.length()) {
            if (!reportedWrongCount) {
                reportedWrongCount = true;
                LOG.log(Level.ERROR, "queue " + cfg.queueId() + ": the target answered " + r + " with " + result
                        + " bytes, not its length; given to the block layer as EIO (further such answers are only"
                        + " counted)");
            }
            return -Errno.EIO;
        }
        return result;
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
        IoUring.Sqe sqe = ring.next().uringCmd(0, cmdOp).flags(IOSQE_FIXED_FILE)
                .userData(UserData.encode(tag, KIND_UBLK, 0, 0));
        if (cfg.zeroCopy()) {
            // struct ublk_auto_buf_reg travels in the SQE's own addr (bits 0-15 the buffer slot: the tag; flags and
            // reserved bits 0), and the command's addr must be 0.
            sqe.addr(tag);
            UblksrvIoCmd.write(sqe.memory(), sqe.cmd(), cfg.queueId(), tag, result, 0);
        } else {
            UblksrvIoCmd.write(sqe.memory(), sqe.cmd(), cfg.queueId(), tag, result, requests[tag].bufferAddress());
        }
        state[tag] = FETCHING;
        ublkInflight++;
    }

    private void armWake() {
        ring.next().read(waker.fd(), wakeBuf.address(), 8, 0).userData(UserData.encode(0, KIND_WAKE, 0, 0));
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

        /** {@code length} bytes at {@code bufferOffset} lie within the request's data, and it is being served. */
        private void requireServed(Request r, long bufferOffset, int length, String what) {
            long capacity = cfg.zeroCopy() ? r.length() : r.buffer().byteSize();
            if (bufferOffset < 0 || length < 0 || bufferOffset + length > capacity) {
                throw new IndexOutOfBoundsException("buffer range " + bufferOffset + "+" + length + " of " + r);
            }
            if (state[r.tag()] != SERVING || held[r.tag()]) {
                throw new IllegalStateException(what + " for " + r + ", which is not being served");
            }
        }

        private IoUring.Sqe prep(Request r, int sub, long bufferOffset, int length) {
            requireServed(r, bufferOffset, length, "an operation");
            IoUring.Sqe sqe = ring.next();
            if (backendOps[r.tag()]++ == 0 && !remote[r.tag()]) {
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
            IoUring.Sqe sqe = prep(r, sub, bufferOffset, length);
            long addr = r.bufferAddress() + bufferOffset;
            if (fixedBuffers) {
                sqe.readFixed(file, addr, length, fileOffset, bufIndex(r)).rwFlags(rwFlags).userData(ud(r, sub));
            } else {
                sqe.read(file, addr, length, fileOffset).rwFlags(rwFlags).userData(ud(r, sub));
            }
            sqe.flags(IOSQE_FIXED_FILE);
        }

        @Override
        public void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length,
                int rwFlags) {
            IoUring.Sqe sqe = prep(r, sub, bufferOffset, length);
            long addr = r.bufferAddress() + bufferOffset;
            if (fixedBuffers) {
                sqe.writeFixed(file, addr, length, fileOffset, bufIndex(r)).rwFlags(rwFlags).userData(ud(r, sub));
            } else {
                sqe.write(file, addr, length, fileOffset).rwFlags(rwFlags).userData(ud(r, sub));
            }
            sqe.flags(IOSQE_FIXED_FILE);
        }

        @Override
        public void fsync(Request r, int sub, int file, boolean datasync) {
            prep(r, sub, 0, 0).fsync(file, datasync ? IoUringUapi.IORING_FSYNC_DATASYNC : 0).flags(IOSQE_FIXED_FILE)
                    .userData(ud(r, sub));
        }

        @Override
        public void fallocate(Request r, int sub, int file, int mode, long offset, long length) {
            prep(r, sub, 0, 0).fallocate(file, mode, offset, length).flags(IOSQE_FIXED_FILE).userData(ud(r, sub));
        }

        @Override
        public void replaceFile(int file, int fd) {
            if (file <= 0 || file >= files.size()) {
                throw new IllegalArgumentException("file index " + file + " was not registered");
            }
            files.set(file, fd);
            if (!registering) {
                ring.updateFile(file, fd);
            }
        }

        @Override
        public void waitingOnBackend(Request r) {
            int tag = r.tag();
            if (state[tag] != SERVING || held[tag]) {
                throw new IllegalStateException(r + " is not being served");
            }
            if (!remote[tag]) {
                if (backendOps[tag] == 0) {
                    backendStart[tag] = System.nanoTime();
                    stats.backendStarted();
                }
                remote[tag] = true;
            }
        }

        @Override
        public boolean complete(long requestId, int result) {
            return mailbox.complete(requestId, result);
        }

        @Override
        public void send(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
            requireSocketBuffers(r, "SEND from");
            IoUring.Sqe sqe = prep(r, sub, bufferOffset, length);
            sqe.send(socket, r.bufferAddress() + bufferOffset, length).msgFlags(msgFlags).userData(ud(r, sub));
            socketBuffer(sqe, r, sendRecvFixed);
        }

        @Override
        public void sendZeroCopy(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
            IoUring.Sqe sqe = prep(r, sub, bufferOffset, length);
            sqe.sendZc(socket, r.bufferAddress() + bufferOffset, length).msgFlags(msgFlags).userData(ud(r, sub));
            // SEND_ZC has taken fixed buffers since it came.
            socketBuffer(sqe, r, true);
        }

        @Override
        public void recv(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
            requireSocketBuffers(r, "RECV into");
            IoUring.Sqe sqe = prep(r, sub, bufferOffset, length);
            sqe.recv(socket, r.bufferAddress() + bufferOffset, length).msgFlags(msgFlags).userData(ud(r, sub));
            socketBuffer(sqe, r, sendRecvFixed);
        }

        @Override
        public int copyFromRequest(Request r, long bufferOffset, MemorySegment to, int length) {
            checkCopy(r, bufferOffset, to, length);
            if (!cfg.zeroCopy()) {
                MemorySegment.copy(r.buffer(), bufferOffset, to, 0, length);
                return length;
            }
            return copied(LibC.rawPread(cfg.ublkcFd(), to, length, userCopyPosition(r, bufferOffset)), length);
        }

        @Override
        public int copyToRequest(Request r, long bufferOffset, MemorySegment from, int length) {
            checkCopy(r, bufferOffset, from, length);
            if (!cfg.zeroCopy()) {
                MemorySegment.copy(from, 0, r.buffer(), bufferOffset, length);
                return length;
            }
            return copied(LibC.rawPwrite(cfg.ublkcFd(), from, length, userCopyPosition(r, bufferOffset)), length);
        }

        private void checkCopy(Request r, long bufferOffset, MemorySegment memory, int length) {
            requireServed(r, bufferOffset, length, "a copy");
            if (memory.byteSize() < length) {
                throw new IndexOutOfBoundsException("copy of " + length + " bytes with " + memory.byteSize()
                        + " bytes of memory");
            }
            if (cfg.zeroCopy() && !cfg.userCopy()) {
                throw new UnsupportedOperationException("copying the data of a zero-copy request (" + r + ") needs "
                        + "a device made with UBLK_F_USER_COPY too (the server's options' flags)");
            }
        }

        /** Where the char device's pread/pwrite reach a request's data (UBLK_F_USER_COPY). */
        private long userCopyPosition(Request r, long bufferOffset) {
            return Ublk.UBLKSRV_IO_BUF_OFFSET + ((long) cfg.queueId() << Ublk.UBLK_QID_OFF)
                    + ((long) r.tag() << Ublk.UBLK_TAG_OFF) + bufferOffset;
        }

        /** A whole copy gives its length; a short one EIO (the driver copies all or fails); an error its -errno. */
        private static int copied(long n, int length) {
            return n == length ? length : n < 0 ? (int) n : -Errno.EIO;
        }

        /** A zero-copy request's pages are reachable only as its fixed buffer, which SEND/RECV take on 7.3. */
        private void requireSocketBuffers(Request r, String what) {
            if (cfg.zeroCopy() && !sendRecvFixed) {
                throw new UnsupportedOperationException(what + " a zero-copy request's pages (" + r + ") needs a"
                        + " kernel that takes fixed buffers on SEND and RECV (7.3 does); sendZeroCopy works");
            }
        }

        /** Fixed file, and the request's fixed buffer where there is one and the operation may use it. */
        private void socketBuffer(IoUring.Sqe sqe, Request r, boolean fixedOk) {
            if (fixedBuffers && fixedOk) {
                sqe.fixedBuffer(bufIndex(r));
            }
            sqe.flags(IOSQE_FIXED_FILE);
        }

        /** An SQE for an operation bound to no request, on a fixed file; its user_data says {@code token}. */
        private IoUring.Sqe tokenSqe(long token) {
            if (token < 0 || token > MAX_TOKEN) {
                throw new IllegalArgumentException("token " + token + " is not in 0.." + MAX_TOKEN);
            }
            IoUring.Sqe sqe = ring.next().flags(IOSQE_FIXED_FILE);
            tokenInflight++;
            return sqe;
        }

        private static long ud(long token) {
            return UserData.encodeToken(KIND_TOKEN, token);
        }

        /** Memory the handler gives an operation: native, and no more than an SQE's length takes. */
        private static long address(MemorySegment m, long length) {
            if (!m.isNative() || length < 0 || length > Math.min(m.byteSize(), Integer.MAX_VALUE)) {
                throw new IllegalArgumentException(length + " bytes of " + m + " for an operation");
            }
            return m.address();
        }

        @Override
        public void connect(long token, int socket, MemorySegment address, int addressLength) {
            long addr = address(address, addressLength);
            tokenSqe(token).connect(socket, addr, addressLength).userData(ud(token));
        }

        @Override
        public void send(long token, int socket, MemorySegment data, int msgFlags) {
            long addr = address(data, data.byteSize());
            tokenSqe(token).send(socket, addr, (int) data.byteSize()).msgFlags(msgFlags).userData(ud(token));
        }

        @Override
        public void recv(long token, int socket, MemorySegment into, int msgFlags) {
            long addr = address(into, into.byteSize());
            tokenSqe(token).recv(socket, addr, (int) into.byteSize()).msgFlags(msgFlags).userData(ud(token));
        }

        @Override
        public void poll(long token, int file, int events) {
            tokenSqe(token).pollAdd(file, events).userData(ud(token));
        }
    }
}
