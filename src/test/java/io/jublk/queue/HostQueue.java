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
import static io.jublk.uapi.IoUringUapi.IOSQE_FIXED_FILE;
import static io.jublk.uapi.IoUringUapi.IOSQE_IO_LINK;

import io.jublk.spi.DeviceParams;
import io.jublk.sys.Errno;
import io.jublk.sys.LibC;
import io.jublk.uapi.IoUringUapi;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A queue without ublk: drives a target's {@link QueueHandler} with requests made in memory, on this machine's
 * real io_uring. Requests are decoded and checked by the same {@link RequestDecoder} a device uses; what the
 * handler prepares goes to the kernel as {@link UblkQueue} sends it (fixed files, fixed buffers or a zero-copy
 * device's per-tag buffer slots); completions come back through {@link QueueHandler#ioDone}, and each request's
 * final result is recorded, once. Every operation the handler starts is logged as an {@link Op}. A handler may also
 * answer later from any thread ({@link #complete}), through the same {@link CompletionMailbox} and eventfd wake-up
 * a device's queue uses, and start socket operations, bound to a request or carrying a token.
 *
 * <p>Between the handler and the kernel an {@link Interposer} may change chosen operations, for what a backing
 * file rarely does on demand: report fewer bytes than the kernel moved (a short transfer), have the kernel
 * complete the operation with an errno instead of doing it, have it cancel the operation (ECANCELED), or send a
 * read or write with RWF_NOWAIT (a real EAGAIN when the data is not in the page cache).
 *
 * <p>Single-threaded, like a real queue: everything happens on the thread that opened it, except
 * {@link #complete}, which any thread may call.
 */
public final class HostQueue implements QueueContext, CompletionHandler, AutoCloseable {
    private static final int KIND_OP = 1;
    private static final int KIND_LINK_HEAD = 2;
    private static final int KIND_WAKE = 3;
    private static final int KIND_CANCEL = 4;
    /** How long {@link #close()} waits for what it cancelled. */
    private static final long DRAIN_NANOS = 10_000_000_000L;

    /** What an operation was. */
    public enum Kind {
        READ, WRITE, FSYNC, FALLOCATE, SEND, SEND_ZC, RECV, CONNECT, POLL;

        /** Moves data between a request's buffer and a file or socket. */
        boolean bufferOp() {
            return this == READ || this == WRITE || this == SEND || this == SEND_ZC || this == RECV;
        }
    }

    /**
     * One operation a handler started.
     *
     * @param tag          the request's tag, -1 for an operation bound to no request
     * @param token        the token of an operation bound to no request, -1 for one bound to a request
     * @param file         the fixed-file index the handler passed
     * @param fd           the descriptor registered at that index
     * @param bufferOffset offset into the request's buffer (0 for FSYNC and FALLOCATE, and without a request)
     * @param flags        rw_flags for READ/WRITE, msg_flags for SEND/RECV, poll events for POLL, 1 for an
     *                     fdatasync, the mode for FALLOCATE
     */
    public record Op(int seq, int tag, int sub, Kind kind, int file, int fd, long fileOffset, long bufferOffset,
            long length, int flags, long token) {
        public boolean transfer() {
            return kind == Kind.READ || kind == Kind.WRITE;
        }
    }

    /** What an {@link Interposer} does to an operation. */
    public sealed interface Fault {
        /** The kernel does the operation; the handler is told at most {@code bytes} of it were done. */
        record ReportAtMost(int bytes) implements Fault {}

        /** The kernel completes the operation with {@code -errno} without doing it (a NOP with that result). */
        record Fail(int errno) implements Fault {}

        /** The kernel cancels the operation: it is linked behind a NOP that fails. */
        record Cancel() implements Fault {}

        /** A READ or WRITE goes with RWF_NOWAIT: EAGAIN from the kernel where it would have to wait. */
        record NoWait() implements Fault {}
    }

    /** Decides, for each operation as the handler starts it, whether it is changed; null: it is not. */
    @FunctionalInterface
    public interface Interposer {
        Fault on(Op op);
    }

    /** Shared: a handler's other threads fill READ buffers before they answer. */
    private final Arena arena = Arena.ofShared();
    private final IoUring ring;
    private final Waker waker = new Waker("a host queue");
    private final CompletionMailbox mailbox;
    private final MemorySegment wakeBuf = arena.allocate(8, 8);
    private boolean wakeArmed;
    private Duration answerTimeout = Duration.ofSeconds(10);
    private final RequestDecoder decoder;
    private final boolean zeroCopy;
    private final int depth;
    private final MemorySegment[] data;
    private final Request[] requests;
    private final int[] results;
    private final boolean[] active;
    private final int[] opsInFlight;
    /** Of opsInFlight: SEND_ZC whose result came and whose notification has not. */
    private final int[] notifs;
    private final boolean[] held;
    private final int[] heldResult;
    private int tokenOpsInFlight;
    private int backendWaits;
    private final boolean sendRecvFixed;
    private final List<Integer> files = new ArrayList<>();
    private final List<Op> log = new ArrayList<>();
    private final List<Fault> faults = new ArrayList<>();
    private final List<Integer> opResults = new ArrayList<>();
    private final List<String> violations = new ArrayList<>();
    private final boolean fixedBuffers;
    private final QueueHandler handler;
    private boolean registering;
    private int linkHeads;
    private Interposer interposer = op -> null;
    private boolean closed;

    private HostQueue(Target target, int depth, int bufferBytes, boolean zeroCopy) {
        this.depth = depth;
        this.zeroCopy = zeroCopy;
        if (zeroCopy && !target.supportsZeroCopy()) {
            throw new IllegalArgumentException(target.name() + " does not serve zero-copy devices");
        }
        DeviceParams p = target.params(bufferBytes);
        this.decoder = new RequestDecoder(p.devSectors(), bufferBytes, p.logicalBlockSize(),
                p.has(Ublk.UBLK_ATTR_READ_ONLY));
        int entries = Integer.highestOneBit(Math.max(8, 4 * depth) - 1) << 1;
        this.ring = IoUring.open(entries, 2 * entries, 0,
                IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN, true);
        // Before the target may queue anything: the probe reaps whatever completes.
        boolean kernelSendRecvFixed = ring.recvSendFixedBufferSupported(IoUringUapi.IORING_OP_SEND)
                && ring.recvSendFixedBufferSupported(IoUringUapi.IORING_OP_RECV);
        long page = LibC.pageSize();
        long stride = (bufferBytes + page - 1) / page * page;
        MemorySegment all = arena.allocate(stride * depth, page);
        data = new MemorySegment[depth];
        requests = new Request[depth];
        for (int tag = 0; tag < depth; tag++) {
            data[tag] = all.asSlice(tag * stride, bufferBytes);
            // A zero-copy request has no buffer of its own: its data is only reachable as fixed buffer "tag".
            requests[tag] = RequestDecoder.newRequest(tag, zeroCopy ? MemorySegment.NULL : data[tag]);
        }
        results = new int[depth];
        active = new boolean[depth];
        opsInFlight = new int[depth];
        notifs = new int[depth];
        held = new boolean[depth];
        heldResult = new int[depth];
        mailbox = new CompletionMailbox(depth, waker);

        // Slot 0 is the queue's /dev/ublkcN on a real device: a target's own files never start at 0.
        files.add(-1);
        registering = true;
        try {
            handler = target.openQueue(this);
        } finally {
            registering = false;
        }
        ring.registerFiles(files.stream().mapToInt(Integer::intValue).toArray());
        if (zeroCopy) {
            ring.registerBuffers(data);
            fixedBuffers = true;
        } else if (target.wantsFixedBuffers()) {
            ring.registerBuffers(all);
            fixedBuffers = true;
        } else {
            fixedBuffers = false;
        }
        sendRecvFixed = fixedBuffers && kernelSendRecvFixed;
        armWake();
    }

    private void armWake() {
        ring.next().read(waker.fd(), wakeBuf.address(), 8, 0).userData(UserData.encode(0, KIND_WAKE, 0, 0));
        wakeArmed = true;
    }

    /**
     * A queue of {@code depth} tags with {@code bufferBytes} per request, serving {@code target}; with
     * {@code zeroCopy} the requests have no buffer, as on a UBLK_F_AUTO_BUF_REG device, and their data sits in
     * fixed buffer slot {@code tag} (here memory of this queue's, where the kernel lends the request's pages).
     */
    public static HostQueue open(Target target, int depth, int bufferBytes, boolean zeroCopy) {
        return new HostQueue(target, depth, bufferBytes, zeroCopy);
    }

    /** The data of request {@code tag}: what a WRITE writes and a READ fills (also on a zero-copy queue). */
    public MemorySegment data(int tag) {
        return data[tag];
    }

    public void interpose(Interposer i) {
        this.interposer = i;
    }

    /**
     * How long {@link #awaitAll()} waits with nothing happening (no completion, no answer) before it fails the test:
     * a request that waits for an answer from another thread that never comes. 10 s unless set.
     */
    public void answerTimeout(Duration d) {
        this.answerTimeout = d;
    }

    /** Whether SEND and RECV use the request's fixed buffer here (the kernel takes them: 7.3 does, 6.18 not). */
    public boolean sendRecvFixed() {
        return sendRecvFixed;
    }

    /** Every operation started since the queue opened or {@link #clearLog()}, in order. */
    public List<Op> log() {
        return List.copyOf(log);
    }

    /** Forgets the operations logged so far (only between requests). */
    public void clearLog() {
        if (busy() || inFlight() > 0) {
            throw new IllegalStateException("requests are in flight");
        }
        log.clear();
        faults.clear();
        opResults.clear();
    }

    /** What the handler was told {@code op} did (bytes or -errno); null while it is in flight. */
    public Integer resultOf(Op op) {
        return opResults.get(op.seq());
    }

    /** The descriptor registered at fixed-file index {@code file}. */
    public int fd(int file) {
        return files.get(file);
    }

    // ---- requests ---------------------------------------------------------------------------------------------

    /** Starts a request on {@code tag}: UBLK_IO_OP_* with UBLK_IO_F_* {@code flags}. */
    public void start(int tag, int op, int flags, long startSector, int sectors) {
        if (active[tag]) {
            throw new IllegalStateException("tag " + tag + " is busy");
        }
        Request r = requests[tag];
        active[tag] = true;
        int result = decoder.decode(r, op | flags, sectors, startSector);
        if (result == 0) {
            mailbox.arm(r.id());
            result = handler.handle(r);
            if (result == QueueHandler.QUEUED || !answeredByHandler(r, result)) {
                return;
            }
        }
        settle(r, result);
    }

    /** As UblkQueue: a returned result takes the request from the mailbox, unless complete() took it first. */
    private boolean answeredByHandler(Request r, int result) {
        if (mailbox.disarm(r.id())) {
            return true;
        }
        violations.add(r + " answered twice, by complete() and by returning " + result);
        return false;
    }

    /**
     * Submits, reaps and takes answers from other threads until every started request has its result. Fails when
     * nothing happens for {@link #answerTimeout(Duration)}: a request waits, and neither an operation nor an answer
     * comes.
     */
    public void awaitAll() {
        long deadline = System.nanoTime() + answerTimeout.toNanos();
        while (true) {
            if (takeAnswers() > 0) {
                deadline = System.nanoTime() + answerTimeout.toNanos();
            }
            if (!busy()) {
                break;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                String what = ring.pending() == 0 && inFlight() == 0
                        ? "a request waits but its handler started nothing and no answer came"
                        : "requests wait and their operations did not complete";
                throw new IllegalStateException(what + " within " + answerTimeout.toMillis() + " ms: " + busyTags());
            }
            boolean block = mailbox.mayBlock();
            int r = block ? ring.submitAndWait(1, left) : ring.submitAndWait(0);
            if (block) {
                mailbox.awake();
            }
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY && r != -Errno.ETIME) {
                throw new IllegalStateException("io_uring_enter: " + Errno.name(r));
            }
            if (ring.forEachCompletion(this) > 0) {
                deadline = System.nanoTime() + answerTimeout.toNanos();
            }
        }
        if (!violations.isEmpty()) {
            throw new AssertionError("the handler broke the queue's rules: " + violations);
        }
    }

    private int takeAnswers() {
        int n = 0;
        for (int tag = mailbox.take(); tag >= 0; tag = mailbox.take()) {
            settle(requests[tag], mailbox.result(tag));
            n++;
        }
        return n;
    }

    /** One request, start to result. */
    public int run(int tag, int op, int flags, long startSector, int sectors) {
        start(tag, op, flags, startSector, sectors);
        awaitAll();
        return results[tag];
    }

    public int read(int tag, long offset, int bytes) {
        return run(tag, Ublk.UBLK_IO_OP_READ, 0, offset >> 9, bytes >> 9);
    }

    public int write(int tag, long offset, int bytes, int flags) {
        return run(tag, Ublk.UBLK_IO_OP_WRITE, flags, offset >> 9, bytes >> 9);
    }

    /** The id ({@link Request#id()}) of the last request started on {@code tag}. */
    public long lastId(int tag) {
        return requests[tag].id();
    }

    /** The final result of the last request on {@code tag}. */
    public int result(int tag) {
        if (active[tag]) {
            throw new IllegalStateException("tag " + tag + " has no result yet");
        }
        return results[tag];
    }

    private boolean busy() {
        for (boolean a : active) {
            if (a) {
                return true;
            }
        }
        return false;
    }

    private int inFlight() {
        int n = linkHeads + tokenOpsInFlight;
        for (int ops : opsInFlight) {
            n += ops;
        }
        return n;
    }

    private String busyTags() {
        StringBuilder b = new StringBuilder();
        for (int tag = 0; tag < depth; tag++) {
            if (active[tag]) {
                b.append(requests[tag]).append("; ");
            }
        }
        return b.toString();
    }

    /**
     * {@code r} has its answer: recorded now, or once its operations in flight have ended, as UblkQueue commits it.
     * Waiting for a SEND_ZC's notification is normal; for anything else the handler answered too early.
     */
    private void settle(Request r, int result) {
        int tag = r.tag();
        if (!active[tag] || held[tag]) {
            violations.add("a second result for " + r + ": " + result);
            return;
        }
        if (result == QueueHandler.QUEUED) {
            violations.add(r + " answered QUEUED");
        }
        if (opsInFlight[tag] > notifs[tag]) {
            violations.add(r + " answered " + result + " with " + (opsInFlight[tag] - notifs[tag])
                    + " operations in flight");
        }
        if (opsInFlight[tag] > 0) {
            held[tag] = true;
            heldResult[tag] = result;
        } else {
            finish(r, result);
        }
    }

    private void finish(Request r, int result) {
        int op = r.op();
        if (result >= 0 && (op == Ublk.UBLK_IO_OP_READ || op == Ublk.UBLK_IO_OP_WRITE) && result != r.length()) {
            violations.add(r + " answered " + result + " bytes, not its length: a device's queue commits EIO");
            result = -Errno.EIO;
        }
        held[r.tag()] = false;
        active[r.tag()] = false;
        results[r.tag()] = result;
    }

    @Override
    public void onCompletion(long userData, int res, int flags) {
        switch (UserData.kind(userData)) {
            case KIND_LINK_HEAD -> linkHeads--;
            case KIND_WAKE -> {
                wakeArmed = false;
                if (!closed) {
                    armWake();
                }
            }
            case KIND_CANCEL -> { }
            case KIND_OP -> opDone(UserData.tag(userData), UserData.sub(userData), UserData.data(userData), res, flags);
            default -> violations.add("a completion of unknown kind: " + Long.toHexString(userData));
        }
    }

    private void opDone(int tag, int sub, int seq, int res, int flags) {
        Op op = log.get(seq);
        if ((flags & IORING_CQE_F_NOTIF) != 0) {
            notifs[tag]--;
            opEnded(tag);
            return;
        }
        if (faults.get(seq) instanceof Fault.ReportAtMost(int bytes) && res > bytes) {
            res = bytes;
        }
        opResults.set(seq, res);
        if (op.tag() < 0) {
            tokenOpsInFlight--;
            if (!closed) {
                handler.ioDone(op.token(), res);
            }
            return;
        }
        Request r = requests[tag];
        if (opsInFlight[tag] == 0) {
            violations.add("a completion for " + r + ", which has no operation in flight");
            return;
        }
        boolean answered = held[tag];
        if ((flags & IORING_CQE_F_MORE) != 0) {
            notifs[tag]++;
        } else {
            opEnded(tag);
        }
        if (closed || answered || !active[tag]) {
            return;
        }
        int result = handler.ioDone(r, sub, res);
        if (result != QueueHandler.QUEUED && answeredByHandler(r, result)) {
            settle(r, result);
        }
    }

    private void opEnded(int tag) {
        if (--opsInFlight[tag] == 0 && held[tag]) {
            finish(requests[tag], heldResult[tag]);
        }
    }

    /** Answers request {@code requestId} from any thread, as {@link QueueContext#complete} does on a device. */
    @Override
    public boolean complete(long requestId, int result) {
        return mailbox.complete(requestId, result);
    }

    // ---- QueueContext -----------------------------------------------------------------------------------------

    @Override
    public int deviceId() {
        return -1;
    }

    @Override
    public int queueId() {
        return 0;
    }

    @Override
    public int depth() {
        return depth;
    }

    @Override
    public int registerFile(int fd) {
        if (!registering) {
            throw new IllegalStateException("registerFile is only allowed in Target.openQueue");
        }
        files.add(fd);
        return files.size() - 1;
    }

    @Override
    public void replaceFile(int file, int fd) {
        registered(file);
        files.set(file, fd);
        if (!registering) {
            ring.updateFile(file, fd);
        }
    }

    @Override
    public void waitingOnBackend(Request r) {
        if (!active[r.tag()] || held[r.tag()]) {
            violations.add("waitingOnBackend for " + r + ", which is not being served");
        }
        backendWaits++;
    }

    /** How often a handler said a request waits for its backend outside the ring. */
    public int backendWaits() {
        return backendWaits;
    }

    @Override
    public void read(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags) {
        transfer(Kind.READ, r, sub, file, fileOffset, bufferOffset, length, rwFlags);
    }

    @Override
    public void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags) {
        transfer(Kind.WRITE, r, sub, file, fileOffset, bufferOffset, length, rwFlags);
    }

    @Override
    public void fsync(Request r, int sub, int file, boolean datasync) {
        Op op = logged(r, sub, Kind.FSYNC, file, 0, 0, 0, datasync ? 1 : 0);
        IoUring.Sqe sqe = sqe(op);
        if (sqe != null) {
            sqe.fsync(file, datasync ? IoUringUapi.IORING_FSYNC_DATASYNC : 0).userData(ud(op));
            sqe.flags(IOSQE_FIXED_FILE);
        }
    }

    @Override
    public void fallocate(Request r, int sub, int file, int mode, long offset, long length) {
        Op op = logged(r, sub, Kind.FALLOCATE, file, offset, 0, length, mode);
        IoUring.Sqe sqe = sqe(op);
        if (sqe != null) {
            sqe.fallocate(file, mode, offset, length).userData(ud(op));
            sqe.flags(IOSQE_FIXED_FILE);
        }
    }

    /** The bounds UblkQueue enforces: a zero-copy request's pages are exactly its length. */
    private void checkRange(Request r, long bufferOffset, int length) {
        long capacity = zeroCopy ? r.length() : r.buffer().byteSize();
        if (bufferOffset < 0 || length < 0 || bufferOffset + length > capacity) {
            throw new IndexOutOfBoundsException("buffer range " + bufferOffset + "+" + length + " of " + r);
        }
    }

    private void transfer(Kind kind, Request r, int sub, int file, long fileOffset, long bufferOffset, int length,
            int rwFlags) {
        checkRange(r, bufferOffset, length);
        Op op = logged(r, sub, kind, file, fileOffset, bufferOffset, length, rwFlags);
        IoUring.Sqe sqe = sqe(op);
        if (sqe == null) {
            return;
        }
        int flags = faults.get(op.seq()) instanceof Fault.NoWait ? rwFlags | LinuxUapi.RWF_NOWAIT : rwFlags;
        long addr = (zeroCopy ? data[r.tag()].address() : r.bufferAddress()) + bufferOffset;
        if (fixedBuffers) {
            int slot = zeroCopy ? r.tag() : 0;
            if (kind == Kind.READ) {
                sqe.readFixed(file, addr, length, fileOffset, slot).rwFlags(flags).userData(ud(op));
            } else {
                sqe.writeFixed(file, addr, length, fileOffset, slot).rwFlags(flags).userData(ud(op));
            }
        } else if (kind == Kind.READ) {
            sqe.read(file, addr, length, fileOffset).rwFlags(flags).userData(ud(op));
        } else {
            sqe.write(file, addr, length, fileOffset).rwFlags(flags).userData(ud(op));
        }
        sqe.flags(IOSQE_FIXED_FILE);
    }

    private Op logged(Request r, int sub, Kind kind, int file, long fileOffset, long bufferOffset, long length,
            int flags) {
        if (!active[r.tag()] || held[r.tag()]) {
            violations.add("an operation for " + r + ", which is not being served");
        }
        Op op = log(new Op(log.size(), r.tag(), sub, kind, file, registered(file), fileOffset, bufferOffset,
                length, flags, -1));
        opsInFlight[r.tag()]++;
        return op;
    }

    private Op loggedToken(long token, Kind kind, int file, long length, int flags) {
        if (token < 0 || token > MAX_TOKEN) {
            throw new IllegalArgumentException("token " + token + " is not in 0.." + MAX_TOKEN);
        }
        Op op = log(new Op(log.size(), -1, 0, kind, file, registered(file), 0, 0, length, flags, token));
        tokenOpsInFlight++;
        return op;
    }

    private int registered(int file) {
        if (file <= 0 || file >= files.size()) {
            throw new IllegalArgumentException("file index " + file + " was not registered");
        }
        return files.get(file);
    }

    private Op log(Op op) {
        log.add(op);
        faults.add(interposer.on(op));
        opResults.add(null);
        return op;
    }

    /** The operation's SQE, or null when the interposer answers it with a NOP instead. */
    private IoUring.Sqe sqe(Op op) {
        Fault f = faults.get(op.seq());
        if (f instanceof Fault.Fail(int errno)) {
            ring.next().nopResult(-errno).userData(ud(op));
            return null;
        }
        if (f instanceof Fault.Cancel) {
            ring.next().nopResult(-Errno.EIO).flags(IOSQE_IO_LINK)
                    .userData(UserData.encode(op.tag(), KIND_LINK_HEAD, 0, 0));
            linkHeads++;
        }
        return ring.next();
    }

    private static long ud(Op op) {
        return UserData.encode(Math.max(op.tag(), 0), KIND_OP, op.sub(), op.seq());
    }

    // ---- sockets --------------------------------------------------------------------------------------------

    @Override
    public void send(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        socketTransfer(Kind.SEND, r, sub, socket, bufferOffset, length, msgFlags);
    }

    @Override
    public void sendZeroCopy(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        socketTransfer(Kind.SEND_ZC, r, sub, socket, bufferOffset, length, msgFlags);
    }

    @Override
    public void recv(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        socketTransfer(Kind.RECV, r, sub, socket, bufferOffset, length, msgFlags);
    }

    /** As UblkQueue: a memory copy here, where a zero-copy device's pread on the char device copies the pages. */
    @Override
    public int copyFromRequest(Request r, long bufferOffset, MemorySegment to, int length) {
        checkRange(r, bufferOffset, length);
        MemorySegment.copy(zeroCopy ? data[r.tag()] : r.buffer(), bufferOffset, to, 0, length);
        return length;
    }

    @Override
    public int copyToRequest(Request r, long bufferOffset, MemorySegment from, int length) {
        checkRange(r, bufferOffset, length);
        MemorySegment.copy(from, 0, zeroCopy ? data[r.tag()] : r.buffer(), bufferOffset, length);
        return length;
    }

    /** As UblkQueue: from or into the request's fixed buffer where there is one and the kernel takes it. */
    private void socketTransfer(Kind kind, Request r, int sub, int socket, long bufferOffset, int length,
            int msgFlags) {
        checkRange(r, bufferOffset, length);
        if (zeroCopy && kind != Kind.SEND_ZC && !sendRecvFixed) {
            throw new UnsupportedOperationException(kind + " on a zero-copy request's pages (" + r + ") needs a"
                    + " kernel that takes fixed buffers on SEND and RECV (7.3 does)");
        }
        Op op = logged(r, sub, kind, socket, 0, bufferOffset, length, msgFlags);
        IoUring.Sqe sqe = sqe(op);
        if (sqe == null) {
            return;
        }
        int flags = faults.get(op.seq()) instanceof Fault.NoWait ? msgFlags | LinuxUapi.MSG_DONTWAIT : msgFlags;
        long addr = (zeroCopy ? data[r.tag()].address() : r.bufferAddress()) + bufferOffset;
        switch (kind) {
            case SEND -> sqe.send(socket, addr, length).msgFlags(flags).userData(ud(op));
            case SEND_ZC -> sqe.sendZc(socket, addr, length).msgFlags(flags).userData(ud(op));
            default -> sqe.recv(socket, addr, length).msgFlags(flags).userData(ud(op));
        }
        if (fixedBuffers && (kind == Kind.SEND_ZC || sendRecvFixed)) {
            sqe.fixedBuffer(zeroCopy ? r.tag() : 0);
        }
        sqe.flags(IOSQE_FIXED_FILE);
    }

    @Override
    public void connect(long token, int socket, MemorySegment address, int addressLength) {
        if (addressLength < 0 || addressLength > address.byteSize()) {
            throw new IndexOutOfBoundsException("address length " + addressLength + " of " + address);
        }
        Op op = loggedToken(token, Kind.CONNECT, socket, addressLength, 0);
        IoUring.Sqe sqe = tokenSqe(op);
        if (sqe != null) {
            sqe.connect(socket, address.address(), addressLength).userData(ud(op));
        }
    }

    @Override
    public void send(long token, int socket, MemorySegment data, int msgFlags) {
        Op op = loggedToken(token, Kind.SEND, socket, data.byteSize(), msgFlags);
        IoUring.Sqe sqe = tokenSqe(op);
        if (sqe != null) {
            sqe.send(socket, data.address(), (int) data.byteSize()).msgFlags(tokenFlags(op, msgFlags))
                    .userData(ud(op));
        }
    }

    @Override
    public void recv(long token, int socket, MemorySegment into, int msgFlags) {
        Op op = loggedToken(token, Kind.RECV, socket, into.byteSize(), msgFlags);
        IoUring.Sqe sqe = tokenSqe(op);
        if (sqe != null) {
            sqe.recv(socket, into.address(), (int) into.byteSize()).msgFlags(tokenFlags(op, msgFlags))
                    .userData(ud(op));
        }
    }

    @Override
    public void poll(long token, int file, int events) {
        Op op = loggedToken(token, Kind.POLL, file, 0, events);
        IoUring.Sqe sqe = tokenSqe(op);
        if (sqe != null) {
            sqe.pollAdd(file, events).userData(ud(op));
        }
    }

    /** The operation's SQE on a fixed file, or -1 when the interposer answers it with a NOP instead. */
    private IoUring.Sqe tokenSqe(Op op) {
        IoUring.Sqe sqe = sqe(op);
        if (sqe != null) {
            sqe.flags(IOSQE_FIXED_FILE);
        }
        return sqe;
    }

    private int tokenFlags(Op op, int msgFlags) {
        return faults.get(op.seq()) instanceof Fault.NoWait ? msgFlags | LinuxUapi.MSG_DONTWAIT : msgFlags;
    }

    /**
     * Cancels what the kernel can cancel (an operation bound to no request, such as a RECV, may never end
     * otherwise) and waits for the operations still in flight (the kernel may write into the buffers until they
     * complete), then closes the handler and the ring and frees the buffers. A request that is still waiting gets no
     * result; an answer given after this is dropped ({@link #complete} returns false).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        mailbox.close();
        boolean drained = false;
        try {
            ring.next().cancel(0, IORING_ASYNC_CANCEL_ANY).userData(UserData.encode(0, KIND_CANCEL, 0, 0));
            long deadline = System.nanoTime() + DRAIN_NANOS;
            while (inFlight() > 0 || wakeArmed) {
                int r = ring.submitAndWait(1, deadline - System.nanoTime());
                if (r == -Errno.ETIME) {
                    throw new AssertionError(inFlight() + " operation(s) still in flight 10 s after they were"
                            + " cancelled: " + log.stream().filter(o -> opResults.get(o.seq()) == null).toList());
                }
                if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                    throw new IllegalStateException("io_uring_enter: " + Errno.name(r));
                }
                ring.forEachCompletion(this);
            }
            drained = true;
            handler.close();
        } finally {
            try {
                ring.close();
                waker.close();
            } finally {
                if (drained) {
                    arena.close();
                }
            }
        }
    }
}
