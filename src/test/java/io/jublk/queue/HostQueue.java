package io.jublk.queue;

import io.jublk.spi.Target;
import io.jublk.spi.RequestDecoder;
import io.jublk.spi.Request;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.QueueContext;
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
import java.util.ArrayList;
import java.util.List;

/**
 * A queue without ublk: drives a target's {@link QueueHandler} with requests made in memory, on this machine's
 * real io_uring. Requests are decoded and checked by the same {@link RequestDecoder} a device uses; what the
 * handler prepares goes to the kernel as {@link UblkQueue} sends it (fixed files, fixed buffers or a zero-copy
 * device's per-tag buffer slots); completions come back through {@link QueueHandler#ioDone}, and each request's
 * final result is recorded, once. Every operation the handler starts is logged as an {@link Op}.
 *
 * <p>Between the handler and the kernel an {@link Interposer} may change chosen operations, for what a backing
 * file rarely does on demand: report fewer bytes than the kernel moved (a short transfer), have the kernel
 * complete the operation with an errno instead of doing it, have it cancel the operation (ECANCELED), or send a
 * read or write with RWF_NOWAIT (a real EAGAIN when the data is not in the page cache).
 *
 * <p>Single-threaded, like a real queue: everything happens on the thread that opened it.
 */
public final class HostQueue implements QueueContext, CompletionHandler, AutoCloseable {
    private static final int KIND_OP = 1;
    private static final int KIND_LINK_HEAD = 2;

    /** What an operation was. */
    public enum Kind {
        READ, WRITE, FSYNC, FALLOCATE
    }

    /**
     * One operation a handler started.
     *
     * @param file        the fixed-file index the handler passed
     * @param fd          the descriptor registered at that index
     * @param bufferOffset offset into the request's buffer (0 for FSYNC and FALLOCATE)
     * @param flags       rw_flags for READ/WRITE, 1 for an fdatasync, the mode for FALLOCATE
     */
    public record Op(int seq, int tag, int sub, Kind kind, int file, int fd, long fileOffset, long bufferOffset,
            long length, int flags) {
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

    private final Arena arena = Arena.ofConfined();
    private final IoUring ring;
    private final RequestDecoder decoder;
    private final boolean zeroCopy;
    private final int depth;
    private final MemorySegment[] data;
    private final Request[] requests;
    private final int[] results;
    private final boolean[] active;
    private final int[] opsInFlight;
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
            result = handler.handle(r);
        }
        if (result != QueueHandler.QUEUED) {
            finish(r, result);
        }
    }

    /** Submits and reaps until every started request has its result. */
    public void awaitAll() {
        while (busy()) {
            if (ring.pending() == 0 && inFlight() == 0) {
                throw new IllegalStateException("a request waits but its handler started nothing: " + busyTags());
            }
            int r = ring.submitAndWait(1);
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new IllegalStateException("io_uring_enter: " + Errno.name(r));
            }
            ring.forEachCompletion(this);
        }
        if (!violations.isEmpty()) {
            throw new AssertionError("the handler broke the queue's rules: " + violations);
        }
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
        int n = linkHeads;
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

    private void finish(Request r, int result) {
        int tag = r.tag();
        if (!active[tag]) {
            violations.add("a second result for " + r + ": " + result);
            return;
        }
        if (opsInFlight[tag] != 0) {
            violations.add(r + " answered " + result + " with " + opsInFlight[tag] + " operations in flight");
        }
        if (result == QueueHandler.QUEUED) {
            violations.add(r + " answered QUEUED");
        }
        active[tag] = false;
        results[tag] = result;
    }

    @Override
    public void onCompletion(long userData, int res, int flags) {
        if (UserData.kind(userData) == KIND_LINK_HEAD) {
            linkHeads--;
            return;
        }
        int tag = UserData.tag(userData);
        Request r = requests[tag];
        if (opsInFlight[tag] == 0) {
            violations.add("a completion for " + r + ", which has no operation in flight");
            return;
        }
        opsInFlight[tag]--;
        int seq = UserData.data(userData);
        if (faults.get(seq) instanceof Fault.ReportAtMost(int bytes) && res > bytes) {
            res = bytes;
        }
        opResults.set(seq, res);
        if (!active[tag]) {
            return; // Answered already, with this operation in flight: finish() reported it.
        }
        int result = handler.ioDone(r, UserData.sub(userData), res);
        if (result != QueueHandler.QUEUED) {
            finish(r, result);
        }
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
        long sqe = sqe(op);
        if (sqe >= 0) {
            ring.prepFsync(sqe, file, datasync ? IoUringUapi.IORING_FSYNC_DATASYNC : 0, ud(op));
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }
    }

    @Override
    public void fallocate(Request r, int sub, int file, int mode, long offset, long length) {
        Op op = logged(r, sub, Kind.FALLOCATE, file, offset, 0, length, mode);
        long sqe = sqe(op);
        if (sqe >= 0) {
            ring.prepFallocate(sqe, file, mode, offset, length, ud(op));
            ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        }
    }

    private void transfer(Kind kind, Request r, int sub, int file, long fileOffset, long bufferOffset, int length,
            int rwFlags) {
        // The bounds UblkQueue enforces: a zero-copy request's pages are exactly its length.
        long capacity = zeroCopy ? r.length() : r.buffer().byteSize();
        if (bufferOffset < 0 || length < 0 || bufferOffset + length > capacity) {
            throw new IndexOutOfBoundsException("buffer range " + bufferOffset + "+" + length + " of " + r);
        }
        Op op = logged(r, sub, kind, file, fileOffset, bufferOffset, length, rwFlags);
        long sqe = sqe(op);
        if (sqe < 0) {
            return;
        }
        int flags = faults.get(op.seq()) instanceof Fault.NoWait ? rwFlags | LinuxUapi.RWF_NOWAIT : rwFlags;
        long addr = (zeroCopy ? data[r.tag()].address() : r.bufferAddress()) + bufferOffset;
        if (fixedBuffers) {
            int slot = zeroCopy ? r.tag() : 0;
            if (kind == Kind.READ) {
                ring.prepReadFixed(sqe, file, addr, length, fileOffset, slot, flags, ud(op));
            } else {
                ring.prepWriteFixed(sqe, file, addr, length, fileOffset, slot, flags, ud(op));
            }
        } else if (kind == Kind.READ) {
            ring.prepRead(sqe, file, addr, length, fileOffset, flags, ud(op));
        } else {
            ring.prepWrite(sqe, file, addr, length, fileOffset, flags, ud(op));
        }
        ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
    }

    private Op logged(Request r, int sub, Kind kind, int file, long fileOffset, long bufferOffset, long length,
            int flags) {
        if (!active[r.tag()]) {
            violations.add("an operation for " + r + ", which is not being served");
        }
        if (file <= 0 || file >= files.size()) {
            throw new IllegalArgumentException("file index " + file + " was not registered");
        }
        Op op = new Op(log.size(), r.tag(), sub, kind, file, files.get(file), fileOffset, bufferOffset, length, flags);
        log.add(op);
        faults.add(interposer.on(op));
        opResults.add(null);
        opsInFlight[r.tag()]++;
        return op;
    }

    /** The operation's SQE, or -1 when the interposer answers it with a NOP instead. */
    private long sqe(Op op) {
        Fault f = faults.get(op.seq());
        if (f instanceof Fault.Fail(int errno)) {
            ring.prepNopResult(ring.sqe(), -errno, ud(op));
            return -1;
        }
        if (f instanceof Fault.Cancel) {
            long head = ring.sqe();
            ring.prepNopResult(head, -Errno.EIO, UserData.encode(op.tag(), KIND_LINK_HEAD, 0, 0));
            ring.sqeFlags(head, IOSQE_IO_LINK);
            linkHeads++;
        }
        return ring.sqe();
    }

    private static long ud(Op op) {
        return UserData.encode(op.tag(), KIND_OP, op.sub(), op.seq());
    }

    /**
     * Waits for the operations still in flight (the kernel may write into the buffers until they complete), then
     * closes the handler and the ring and frees the buffers. A request that is still waiting gets no result.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            while (inFlight() > 0) {
                int r = ring.submitAndWait(1);
                if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                    throw new IllegalStateException("io_uring_enter: " + Errno.name(r));
                }
                ring.forEachCompletion(this);
            }
            handler.close();
        } finally {
            try {
                ring.close();
            } finally {
                arena.close();
            }
        }
    }
}
