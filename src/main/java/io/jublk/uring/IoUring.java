package io.jublk.uring;

import static io.jublk.uapi.IoUringUapi.IORING_ENTER_EXT_ARG;
import static io.jublk.uapi.IoUringUapi.IORING_ENTER_GETEVENTS;
import static io.jublk.uapi.IoUringUapi.IORING_ENTER_REGISTERED_RING;
import static io.jublk.uapi.IoUringUapi.IORING_FEAT_SINGLE_MMAP;
import static io.jublk.uapi.IoUringUapi.IORING_OFF_CQ_RING;
import static io.jublk.uapi.IoUringUapi.IORING_OFF_SQES;
import static io.jublk.uapi.IoUringUapi.IORING_OFF_SQ_RING;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_CQE32;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_CQSIZE;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_TASKRUN_FLAG;
import static io.jublk.uapi.IoUringUapi.IORING_SQ_CQ_OVERFLOW;
import static io.jublk.uapi.IoUringUapi.IORING_SQ_TASKRUN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.Mmap;
import io.jublk.sys.NativeException;
import io.jublk.uapi.IoCqringOffsets;
import io.jublk.uapi.IoSqringOffsets;
import io.jublk.uapi.IoUringBufReg;
import io.jublk.uapi.IoUringCqe;
import io.jublk.uapi.IoUringFilesUpdate;
import io.jublk.uapi.IoUringGeteventsArg;
import io.jublk.uapi.IoUringParams;
import io.jublk.uapi.IoUringRsrcRegister;
import io.jublk.uapi.IoUringRsrcUpdate;
import io.jublk.uapi.IoUringSqe;
import io.jublk.uapi.IoUringUapi;
import io.jublk.uapi.KernelTimespec;
import io.jublk.uapi.LinuxUapi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One io_uring instance: the ring file descriptor, the SQ and CQ ring mappings and the SQE array, owned
 * together and released together by {@link #close()}.
 *
 * <p>The ring logic is plain Java over the shared memory, as the kernel documents it: the application
 * writes SQEs, then publishes the SQ tail with a <em>release</em> store; it reads the CQ tail with an
 * <em>acquire</em> load, consumes the CQEs, and publishes the CQ head with a release store. The kernel does
 * the mirror image. One thread owns a ring (the confined arena enforces it for queue rings).
 *
 * <p>Preparing, submitting and reaping allocate nothing: SQEs are written in place by the ring's one {@link Sqe}
 * cursor, and completions are delivered to a long-lived {@link CompletionHandler}.
 */
public final class IoUring implements AutoCloseable {
    /** Int fields of the rings are accessed through this handle: (segment, byte offset). */
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final Arena arena;
    private final boolean confined;
    private final Fd fd;
    private final int setupFlags;
    /**
     * DEFER_TASKRUN without TASKRUN_FLAG: the kernel says nowhere that deferred work waits, so a reap that must not
     * miss completions has to enter. With TASKRUN_FLAG it sets IORING_SQ_TASKRUN whenever it queues such work.
     */
    private final boolean blindDeferred;
    /**
     * What io_uring_enter is given: the ring's descriptor, or after {@link #registerRingFd()} the index of the
     * calling task's registered-ring slot, with IORING_ENTER_REGISTERED_RING in {@link #enterFlags}.
     */
    private int enterFd;
    private int enterFlags;
    private int ringIndex = -1;
    /** Publish the CQ head once per batch of completions rather than after each ({@link #batchCqHead(boolean)}). */
    private boolean batchCqHead;
    private long enters;
    private final int features;
    private final MemorySegment capture;
    /** io_uring_getevents_arg and the timeout it points to, for {@link #submitAndWait(int, long)}. */
    private final MemorySegment waitArg;
    private final MemorySegment waitTimeout;

    private final MemorySegment sqRing;
    private final MemorySegment sqes;
    private final long sqHeadOff;
    private final long sqTailOff;
    private final long sqFlagsOff;
    private final int sqMask;
    private final int sqEntries;
    private final int sqeSize;
    private int sqeTail;
    /** The one SQE writer, placed by {@link #next()}. */
    private final Sqe cursor;

    private final MemorySegment cqRing;
    private final long cqHeadOff;
    private final long cqTailOff;
    private final long cqOverflowOff;
    private final long cqesOff;
    private final int cqMask;
    private final int cqEntries;
    private final int cqeSize;
    private int cqHead;

    private boolean closed;

    private IoUring(Arena arena, boolean confined, Fd fd, MemorySegment params) {
        this.arena = arena;
        this.confined = confined;
        this.fd = fd;
        this.enterFd = fd.get();
        this.setupFlags = params.get(JAVA_INT, IoUringParams.FLAGS);
        this.blindDeferred = (setupFlags & IORING_SETUP_DEFER_TASKRUN) != 0
                && (setupFlags & IORING_SETUP_TASKRUN_FLAG) == 0;
        this.features = params.get(JAVA_INT, IoUringParams.FEATURES);
        this.capture = LibC.newCaptureState(arena);
        this.waitArg = arena.allocate(IoUringGeteventsArg.LAYOUT);
        this.waitTimeout = arena.allocate(KernelTimespec.LAYOUT);
        waitArg.set(JAVA_LONG, IoUringGeteventsArg.TS, waitTimeout.address());
        this.sqEntries = params.get(JAVA_INT, IoUringParams.SQ_ENTRIES);
        this.cqEntries = params.get(JAVA_INT, IoUringParams.CQ_ENTRIES);
        this.sqeSize = (int) ((setupFlags & IORING_SETUP_SQE128) != 0 ? IoUringSqe.SIZE128 : IoUringSqe.SIZE);
        this.cqeSize = (int) ((setupFlags & IORING_SETUP_CQE32) != 0 ? 2 * IoUringCqe.SIZE : IoUringCqe.SIZE);

        long sq = IoUringParams.SQ_OFF;
        long cq = IoUringParams.CQ_OFF;
        long sqArray = params.get(JAVA_INT, sq + IoSqringOffsets.ARRAY);
        long cqCqes = params.get(JAVA_INT, cq + IoCqringOffsets.CQES);
        long sqRingSize = sqArray + (long) sqEntries * Integer.BYTES;
        long cqRingSize = cqCqes + (long) cqEntries * cqeSize;

        int prot = LinuxUapi.PROT_READ | LinuxUapi.PROT_WRITE;
        int flags = LinuxUapi.MAP_SHARED | LinuxUapi.MAP_POPULATE;
        if ((features & IORING_FEAT_SINGLE_MMAP) != 0) {
            // Since 5.4 both rings live in one mapping; map the larger size once.
            long size = Math.max(sqRingSize, cqRingSize);
            this.sqRing = Mmap.map(arena, size, prot, flags, fd.get(), IORING_OFF_SQ_RING, "mmap io_uring rings");
            this.cqRing = sqRing;
        } else {
            this.sqRing = Mmap.map(arena, sqRingSize, prot, flags, fd.get(), IORING_OFF_SQ_RING, "mmap io_uring SQ");
            this.cqRing = Mmap.map(arena, cqRingSize, prot, flags, fd.get(), IORING_OFF_CQ_RING, "mmap io_uring CQ");
        }
        this.sqes = Mmap.map(arena, (long) sqEntries * sqeSize, prot, flags, fd.get(), IORING_OFF_SQES,
                "mmap io_uring SQEs");
        this.cursor = new Sqe(sqes);

        this.sqHeadOff = params.get(JAVA_INT, sq + IoSqringOffsets.HEAD);
        this.sqTailOff = params.get(JAVA_INT, sq + IoSqringOffsets.TAIL);
        this.sqFlagsOff = params.get(JAVA_INT, sq + IoSqringOffsets.FLAGS);
        this.sqMask = sqRing.get(JAVA_INT, params.get(JAVA_INT, sq + IoSqringOffsets.RING_MASK));
        this.cqHeadOff = params.get(JAVA_INT, cq + IoCqringOffsets.HEAD);
        this.cqTailOff = params.get(JAVA_INT, cq + IoCqringOffsets.TAIL);
        this.cqOverflowOff = params.get(JAVA_INT, cq + IoCqringOffsets.OVERFLOW);
        this.cqMask = cqRing.get(JAVA_INT, params.get(JAVA_INT, cq + IoCqringOffsets.RING_MASK));
        this.cqesOff = cqCqes;

        // The SQ index array is an indirection jublk does not need: entry i always names SQE i.
        for (int i = 0; i < sqEntries; i++) {
            sqRing.set(JAVA_INT, sqArray + (long) i * Integer.BYTES, i);
        }
        this.sqeTail = (int) INT.getAcquire(sqRing, sqTailOff);
        this.cqHead = (int) INT.getAcquire(cqRing, cqHeadOff);
    }

    /**
     * Sets up a ring.
     *
     * @param entries   SQ size (rounded up to a power of two by the kernel)
     * @param cqEntries CQ size, or 0 for the kernel's default (twice the SQ)
     * @param required  IORING_SETUP_* flags the caller cannot do without; if the kernel lacks one, the error
     *                  names it
     * @param preferred flags used when the kernel has them (e.g. SINGLE_ISSUER, DEFER_TASKRUN), silently
     *                  dropped one by one otherwise; {@link #setupFlags()} tells what was granted
     * @param confined  true to confine the ring's memory to the calling thread (queue rings); false for a
     *                  ring used from several threads in turn (the control ring)
     */
    public static IoUring open(int entries, int cqEntries, int required, int preferred, boolean confined) {
        Arena arena = confined ? Arena.ofConfined() : Arena.ofShared();
        try {
            MemorySegment params = arena.allocate(IoUringParams.LAYOUT);
            int extra = cqEntries > 0 ? IORING_SETUP_CQSIZE : 0;
            int r = setup(params, entries, cqEntries, required | preferred | extra);
            if (r == -Errno.EINVAL && preferred != 0) {
                int granted = 0;
                for (int bit = 0; bit < 32; bit++) {
                    int f = 1 << bit;
                    if ((preferred & f) != 0 && probe(arena, entries, required | granted | f | extra)) {
                        granted |= f;
                    }
                }
                r = setup(params, entries, cqEntries, required | granted | extra);
            }
            if (r == -Errno.EINVAL) {
                for (int bit = 0; bit < 32; bit++) {
                    int f = 1 << bit;
                    if ((required & f) != 0 && !probe(arena, entries, f)) {
                        throw new NativeException(Errno.EINVAL,
                                "io_uring_setup: this kernel lacks " + IoUringFlags.setupFlagName(f));
                    }
                }
            }
            NativeException.check(r, "io_uring_setup(" + entries + " entries, flags "
                    + IoUringFlags.describeSetup(required | preferred | extra) + ")");
            Fd fd = Fd.adopt(r, "io_uring");
            try {
                return new IoUring(arena, confined, fd, params);
            } catch (RuntimeException | Error e) {
                fd.close();
                throw e;
            }
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A ring of {@code entries} with default flags, confined to the calling thread. */
    public static IoUring open(int entries) {
        return open(entries, 0, 0, 0, true);
    }

    private static int setup(MemorySegment params, int entries, int cqEntries, int flags) {
        params.fill((byte) 0);
        params.set(JAVA_INT, IoUringParams.FLAGS, flags);
        params.set(JAVA_INT, IoUringParams.CQ_ENTRIES, cqEntries);
        return (int) LibC.rawSyscall(LinuxUapi.__NR_io_uring_setup, entries, params.address(), 0, 0, 0, 0);
    }

    private static boolean probe(Arena arena, int entries, int flags) {
        MemorySegment p = arena.allocate(IoUringParams.LAYOUT);
        p.set(JAVA_INT, IoUringParams.FLAGS, flags);
        p.set(JAVA_INT, IoUringParams.CQ_ENTRIES, entries * 2);
        int r = (int) LibC.rawSyscall(LinuxUapi.__NR_io_uring_setup, entries, p.address(), 0, 0, 0, 0);
        if (r >= 0) {
            LibC.rawClose(r);
        }
        return r >= 0;
    }

    // ---- submission -------------------------------------------------------------------------------------

    /**
     * Claims the next free SQE, zeroed, and returns this ring's {@link Sqe} cursor placed on it. When the SQ is full,
     * submits what is queued to make room; returns null only if the kernel takes nothing right now (then reap
     * completions and try again).
     */
    public Sqe tryNext() {
        long off = claim();
        if (off < 0) {
            return null;
        }
        cursor.at = off;
        return cursor;
    }

    /** Like {@link #tryNext()} but throws when no SQE can be had. */
    public Sqe next() {
        Sqe sqe = tryNext();
        if (sqe == null) {
            throw new IllegalStateException("io_uring submission queue full and the kernel takes no more");
        }
        return sqe;
    }

    /**
     * Places the cursor on slot {@code index} of the SQE array without claiming or zeroing it: for measuring what
     * writing an SQE costs apart from claiming it (SqePrepBench). Nothing is submitted that {@link #next()} did not
     * claim; a field not written keeps what the slot held.
     */
    public Sqe sqeAt(int index) {
        cursor.at = (long) (index & sqMask) * sqeSize;
        return cursor;
    }

    /** The next free SQE, zeroed: its byte offset in the SQE array, or -1 (see {@link #tryNext()}). */
    private long claim() {
        int head = (int) INT.getAcquire(sqRing, sqHeadOff);
        if (sqeTail - head >= sqEntries) {
            submit();
            head = (int) INT.getAcquire(sqRing, sqHeadOff);
            if (sqeTail - head >= sqEntries) {
                return -1;
            }
        }
        long off = (long) (sqeTail & sqMask) * sqeSize;
        for (int i = 0; i < sqeSize; i += Long.BYTES) {
            sqes.set(JAVA_LONG, off + i, 0L);
        }
        sqeTail++;
        return off;
    }

    /** SQEs queued here but not yet consumed by the kernel. */
    public int pending() {
        return sqeTail - (int) INT.getAcquire(sqRing, sqHeadOff);
    }

    /** Whether both SEND and RECV take a fixed buffer (see below): Linux 7.3 does, 6.18 does not. */
    public boolean socketsTakeFixedBuffers() {
        return recvSendFixedBufferSupported(IoUringUapi.IORING_OP_SEND)
                && recvSendFixedBufferSupported(IoUringUapi.IORING_OP_RECV);
    }

    /**
     * Whether this kernel takes IORING_RECVSEND_FIXED_BUF on {@code opcode} (SEND, RECV or SEND_ZC): 7.3 does on all
     * three, 6.18 only on SEND_ZC. Learned by trying it on descriptor -1: the flags are checked when the SQE is
     * prepared (EINVAL if refused), the descriptor only after that (EBADF). For setting up a ring: call it while
     * nothing else is queued or outstanding (it reaps every completion until its own) and allocates.
     */
    public boolean recvSendFixedBufferSupported(int opcode) {
        next().op(opcode, -1, 0, 0, 0).fixedBuffer(0).userData(0);
        int[] res = {0};
        boolean[] more = {true};
        while (more[0]) {
            int r = submitAndWait(1);
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new NativeException(r, "io_uring_enter probing fixed buffers for opcode " + opcode);
            }
            forEachCompletion((userData, result, flags) -> {
                if ((flags & IoUringUapi.IORING_CQE_F_NOTIF) == 0) {
                    res[0] = result;
                }
                // SEND_ZC: the result says MORE, and a notification follows even for a failed one.
                more[0] = (flags & IoUringUapi.IORING_CQE_F_MORE) != 0 && (flags & IoUringUapi.IORING_CQE_F_NOTIF) == 0;
            });
        }
        return res[0] != -Errno.EINVAL;
    }

    /**
     * The writer of one SQE, and each ring has exactly one: {@link #next()} places it on the slot it claims and
     * returns it, the same object every time, so preparing an SQE allocates nothing. Name the operation first, then
     * set the optional fields in any order, and always the user_data, which is what the completion is known by:
     *
     * <pre>{@code
     * ring.next().write(fd, addr, len, offset).rwFlags(RWF_DSYNC).flags(IOSQE_FIXED_FILE).userData(ud);
     * }</pre>
     *
     * <p>A claimed slot is zeroed, so a field left unwritten is 0 (no flags, user_data 0). The cursor is valid until
     * the next claim on its ring: keep no reference to it past that. An operation method writes the fields its
     * operation needs and no others, so it may come before or after {@link #flags(int)}. The field offsets are
     * {@link IoUringSqe}'s, the one description of the struct.
     */
    public static final class Sqe {
        private final MemorySegment sqes;
        /** Byte offset in {@link #sqes} of the SQE the cursor is on. */
        private long at;

        private Sqe(MemorySegment sqes) {
            this.sqes = sqes;
        }

        private Sqe op(int opcode, int fd, long addr, int len, long offset) {
            long s = at;
            sqes.set(JAVA_BYTE, s + IoUringSqe.OPCODE, (byte) opcode);
            sqes.set(JAVA_INT, s + IoUringSqe.FD, fd);
            sqes.set(JAVA_LONG, s + IoUringSqe.OFF, offset);
            sqes.set(JAVA_LONG, s + IoUringSqe.ADDR, addr);
            sqes.set(JAVA_INT, s + IoUringSqe.LEN, len);
            return this;
        }

        /** IORING_OP_NOP: completes with 0. */
        public Sqe nop() {
            return op(IoUringUapi.IORING_OP_NOP, -1, 0, 0, 0);
        }

        /**
         * A NOP that completes with {@code result} (IORING_NOP_INJECT_RESULT), e.g. a negative errno: the kernel's
         * own way to have a completion say what a test needs, and, as the head of a link, to fail it.
         */
        public Sqe nopResult(int result) {
            op(IoUringUapi.IORING_OP_NOP, -1, 0, result, 0);
            sqes.set(JAVA_INT, at + IoUringSqe.NOP_FLAGS, IoUringUapi.IORING_NOP_INJECT_RESULT);
            return this;
        }

        /** IORING_OP_READ: read {@code len} bytes at file {@code offset} into {@code addr}. */
        public Sqe read(int fd, long addr, int len, long offset) {
            return op(IoUringUapi.IORING_OP_READ, fd, addr, len, offset);
        }

        /** IORING_OP_WRITE of {@code len} bytes at {@code addr} to file {@code offset}. */
        public Sqe write(int fd, long addr, int len, long offset) {
            return op(IoUringUapi.IORING_OP_WRITE, fd, addr, len, offset);
        }

        /**
         * IORING_OP_READ_FIXED into registered buffer {@code bufIndex}: {@code addr} is an address inside it, or for
         * a buffer the kernel registered itself (ublk's UBLK_F_AUTO_BUF_REG) an offset into it.
         */
        public Sqe readFixed(int fd, long addr, int len, long offset, int bufIndex) {
            op(IoUringUapi.IORING_OP_READ_FIXED, fd, addr, len, offset);
            sqes.set(JAVA_SHORT, at + IoUringSqe.BUF_INDEX, (short) bufIndex);
            return this;
        }

        /** IORING_OP_WRITE_FIXED from registered buffer {@code bufIndex}, {@code addr} as for {@link #readFixed}. */
        public Sqe writeFixed(int fd, long addr, int len, long offset, int bufIndex) {
            op(IoUringUapi.IORING_OP_WRITE_FIXED, fd, addr, len, offset);
            sqes.set(JAVA_SHORT, at + IoUringSqe.BUF_INDEX, (short) bufIndex);
            return this;
        }

        /** RWF_* of a READ or WRITE (plain or fixed), e.g. RWF_DSYNC for a FUA write. */
        public Sqe rwFlags(int rwFlags) {
            sqes.set(JAVA_INT, at + IoUringSqe.RW_FLAGS, rwFlags);
            return this;
        }

        /** IORING_OP_FSYNC; {@code fsyncFlags} IORING_FSYNC_DATASYNC for fdatasync, 0 for fsync. */
        public Sqe fsync(int fd, int fsyncFlags) {
            op(IoUringUapi.IORING_OP_FSYNC, fd, 0, 0, 0);
            sqes.set(JAVA_INT, at + IoUringSqe.FSYNC_FLAGS, fsyncFlags);
            return this;
        }

        /** IORING_OP_FALLOCATE: the kernel takes the mode in {@code len} and the length in {@code addr}. */
        public Sqe fallocate(int fd, int mode, long offset, long length) {
            return op(IoUringUapi.IORING_OP_FALLOCATE, fd, length, mode, offset);
        }

        // Sockets are pollable: the kernel tries the operation at once and, when it would block, arms a poll and
        // tries again when the socket is ready, on the submitting task (no io-wq thread). A SEND or RECV may complete
        // with fewer bytes than asked (a stream socket's normal answer); with MSG_WAITALL on a stream socket the
        // kernel goes on by itself until all is done, and a short count then means the peer closed, an error after
        // part of it, or a signal (io_send/io_recv, io_net_retry in io_uring/net.c).

        /**
         * IORING_OP_CONNECT of socket {@code fd} to the {@code addrLen}-byte sockaddr at {@code addr}. Completes
         * with 0 or -errno (ECONNREFUSED, ETIMEDOUT…). The kernel copies the address when it takes the SQE.
         */
        public Sqe connect(int fd, long addr, int addrLen) {
            return op(IoUringUapi.IORING_OP_CONNECT, fd, addr, 0, addrLen);
        }

        /** IORING_OP_SEND of {@code len} bytes at {@code addr}; MSG_* in {@link #msgFlags(int)}. */
        public Sqe send(int fd, long addr, int len) {
            return op(IoUringUapi.IORING_OP_SEND, fd, addr, len, 0);
        }

        /** IORING_OP_RECV of at most {@code len} bytes into {@code addr}; completes with 0 when the peer closed. */
        public Sqe recv(int fd, long addr, int len) {
            return op(IoUringUapi.IORING_OP_RECV, fd, addr, len, 0);
        }

        /**
         * IORING_OP_SEND_ZC: like SEND, but the kernel sends from the pages themselves instead of copying them into
         * socket buffers, and completes twice: first with the result (IORING_CQE_F_MORE set when a notification
         * follows), then, with the same user_data and IORING_CQE_F_NOTIF, when it no longer needs the memory, which
         * may be much later (a TCP peer's acknowledgement). The memory must stay unchanged until the notification.
         * Only sockets that support it: TCP and UDP, not Unix sockets (EOPNOTSUPP). Its own flags
         * (IORING_SEND_ZC_REPORT_USAGE) would go in ioprio, beside {@link #fixedBuffer(int)}'s; jublk sets none.
         */
        public Sqe sendZc(int fd, long addr, int len) {
            return op(IoUringUapi.IORING_OP_SEND_ZC, fd, addr, len, 0);
        }

        /** MSG_* of a SEND, RECV or SEND_ZC (the kernel adds MSG_NOSIGNAL). */
        public Sqe msgFlags(int msgFlags) {
            sqes.set(JAVA_INT, at + IoUringSqe.MSG_FLAGS, msgFlags);
            return this;
        }

        /**
         * Makes a SEND, RECV or SEND_ZC use registered buffer {@code bufIndex} (IORING_RECVSEND_FIXED_BUF; 7.3 takes
         * it for these three, not for SENDMSG/RECVMSG, multishot or bundles: io_sendmsg_prep, io_recvmsg_prep): its
         * {@code addr} is then an address inside that buffer, or for a buffer the kernel registered itself (ublk's
         * UBLK_F_AUTO_BUF_REG) an offset into it. The kernel checks the direction of a kernel buffer
         * (io_import_fixed): a block READ's pages can only be received into, a WRITE's only sent from; the other way
         * is EFAULT. Whether the kernel takes it: {@link IoUring#recvSendFixedBufferSupported(int)}.
         */
        public Sqe fixedBuffer(int bufIndex) {
            short prio = sqes.get(JAVA_SHORT, at + IoUringSqe.IOPRIO);
            sqes.set(JAVA_SHORT, at + IoUringSqe.IOPRIO, (short) (prio | IoUringUapi.IORING_RECVSEND_FIXED_BUF));
            sqes.set(JAVA_SHORT, at + IoUringSqe.BUF_INDEX, (short) bufIndex);
            return this;
        }

        /**
         * IORING_OP_POLL_ADD, one shot: completes with the POLL* events of {@code fd} that are ready among
         * {@code events} (POLLERR and POLLHUP always count), as soon as one is.
         */
        public Sqe pollAdd(int fd, int events) {
            op(IoUringUapi.IORING_OP_POLL_ADD, fd, 0, 0, 0);
            sqes.set(JAVA_INT, at + IoUringSqe.POLL32_EVENTS, events);
            return this;
        }

        /**
         * IORING_OP_URING_CMD with the 32-bit {@code cmd_op}. The driver's command goes in the command area at
         * {@link #cmd()} of {@link #memory()} (16 bytes, or 80 on an SQE128 ring); some commands also take the SQE's
         * own {@link #addr(long)} and {@link #len(int)}.
         */
        public Sqe uringCmd(int fd, int cmdOp) {
            long s = at;
            sqes.set(JAVA_BYTE, s + IoUringSqe.OPCODE, (byte) IoUringUapi.IORING_OP_URING_CMD);
            sqes.set(JAVA_INT, s + IoUringSqe.FD, fd);
            sqes.set(JAVA_INT, s + IoUringSqe.CMD_OP, cmdOp);
            return this;
        }

        /** IORING_URING_CMD_* of a URING_CMD, e.g. IORING_URING_CMD_MULTISHOT. */
        public Sqe uringCmdFlags(int uringCmdFlags) {
            sqes.set(JAVA_INT, at + IoUringSqe.URING_CMD_FLAGS, uringCmdFlags);
            return this;
        }

        /**
         * IORING_OP_ASYNC_CANCEL: cancels the requests of this ring that {@code cancelFlags} (IORING_ASYNC_CANCEL_*)
         * and {@code match} select; with no flags, the one request whose user_data is {@code match}. With
         * IORING_ASYNC_CANCEL_ANY, every request of the ring the kernel can cancel. A cancelled request completes
         * with -ECANCELED (work an io-wq worker is running is interrupted and may end with -EINTR, or finish); the
         * cancel completes with 0, or with the number cancelled for ALL/ANY, or with -ENOENT/-EALREADY.
         *
         * <p>What the kernel can cancel this way (io_uring/cancel.c, io_try_cancel): io-wq work, armed polls (a read
         * of an eventfd or a pipe that waits for data), waitid, futex waits and timeouts. Not: I/O already in the
         * block layer (it completes on its own) and uring_cmds (their driver is asked to cancel them only when the
         * ring closes or its task exits).
         */
        public Sqe cancel(long match, int cancelFlags) {
            op(IoUringUapi.IORING_OP_ASYNC_CANCEL, -1, match, 0, 0);
            sqes.set(JAVA_INT, at + IoUringSqe.CANCEL_FLAGS, cancelFlags);
            return this;
        }

        /** ORs IOSQE_* flags (IOSQE_FIXED_FILE: {@code fd} is a fixed-file index; IOSQE_IO_LINK…) into the SQE. */
        public Sqe flags(int iosqeFlags) {
            byte old = sqes.get(JAVA_BYTE, at + IoUringSqe.FLAGS);
            sqes.set(JAVA_BYTE, at + IoUringSqe.FLAGS, (byte) (old | iosqeFlags));
            return this;
        }

        /** The SQE's addr, for an operation that takes one besides those above (a URING_CMD's buffer). */
        public Sqe addr(long addr) {
            sqes.set(JAVA_LONG, at + IoUringSqe.ADDR, addr);
            return this;
        }

        /** The SQE's len, for an operation that takes one besides those above (a URING_CMD's buffer length). */
        public Sqe len(int len) {
            sqes.set(JAVA_INT, at + IoUringSqe.LEN, len);
            return this;
        }

        /** The provided-buffer group an operation with IOSQE_BUFFER_SELECT picks its buffer from. */
        public Sqe bufGroup(int group) {
            sqes.set(JAVA_SHORT, at + IoUringSqe.BUF_GROUP, (short) group);
            return this;
        }

        /** What the completion will carry back: the only way to tell which SQE it answers. */
        public Sqe userData(long userData) {
            sqes.set(JAVA_LONG, at + IoUringSqe.USER_DATA, userData);
            return this;
        }

        /** The SQE array the cursor writes into; a URING_CMD's command area is written through it at {@link #cmd()}. */
        public MemorySegment memory() {
            return sqes;
        }

        /** Byte offset in {@link #memory()} of this SQE's command area, {@link IoUring#cmdAreaBytes()} long. */
        public long cmd() {
            return at + IoUringSqe.CMD;
        }
    }

    /** Size of the command area of this ring's SQEs. */
    public int cmdAreaBytes() {
        return (int) (sqeSize == IoUringSqe.SIZE128 ? IoUringSqe.CMD_BYTES_128 : IoUringSqe.CMD_BYTES);
    }

    /**
     * Publishes queued SQEs and calls io_uring_enter without waiting. Returns the number the kernel took, or
     * a negative errno (EAGAIN/EBUSY: reap completions first).
     */
    public int submit() {
        return enter(0, 0);
    }

    /**
     * Publishes queued SQEs and waits until at least {@code waitNr} completions are available. With
     * DEFER_TASKRUN this is also where the kernel runs the ring's deferred work and posts completions.
     * Returns the number of SQEs the kernel took, or a negative errno other than EINTR.
     */
    public int submitAndWait(int waitNr) {
        return enter(waitNr, IORING_ENTER_GETEVENTS);
    }

    /**
     * Like {@link #submitAndWait(int)}, but waits at most {@code timeoutNanos}: returns -ETIME if it submitted
     * nothing and fewer than {@code waitNr} completions came in that time (IORING_ENTER_EXT_ARG, 5.11+). For
     * waits that must end whatever the kernel does, such as draining a ring before its memory is released.
     */
    public int submitAndWait(int waitNr, long timeoutNanos) {
        long t = Math.max(0, timeoutNanos);
        waitTimeout.set(JAVA_LONG, KernelTimespec.TV_SEC, t / 1_000_000_000L);
        waitTimeout.set(JAVA_LONG, KernelTimespec.TV_NSEC, t % 1_000_000_000L);
        return enter(waitNr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, waitArg.address(), waitArg.byteSize());
    }

    /** Lets the kernel post pending completions (deferred task work, CQ overflow) without waiting. */
    public int getEvents() {
        return enter(0, IORING_ENTER_GETEVENTS);
    }

    private int enter(int waitNr, int flags) {
        return enter(waitNr, flags, 0, 0);
    }

    private int enter(int waitNr, int flags, long arg, long argSize) {
        INT.setRelease(sqRing, sqTailOff, sqeTail);
        int toSubmit = sqeTail - (int) INT.getAcquire(sqRing, sqHeadOff);
        if (toSubmit == 0 && waitNr == 0 && !needsEnterForCompletions(flags)) {
            return 0;
        }
        for (;;) {
            enters++;
            long r = LibC.rawSyscall(capture, LinuxUapi.__NR_io_uring_enter, enterFd, toSubmit, waitNr,
                    flags | enterFlags, arg, argSize);
            if (r != -Errno.EINTR) {
                return (int) r;
            }
        }
    }

    private boolean needsEnterForCompletions(int flags) {
        if ((flags & IORING_ENTER_GETEVENTS) == 0) {
            return false;
        }
        return blindDeferred
                || (((int) INT.getAcquire(sqRing, sqFlagsOff)) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
    }

    // ---- completion -------------------------------------------------------------------------------------

    /**
     * Hands every available completion to {@code handler}, in order, and returns how many there were. If the
     * kernel had to hold completions back because the CQ was full (IORING_SQ_CQ_OVERFLOW; no completion is
     * lost with IORING_FEAT_NODROP), they are flushed into the ring and delivered too.
     */
    public int forEachCompletion(CompletionHandler handler) {
        int n = 0;
        for (;;) {
            int tail = (int) INT.getAcquire(cqRing, cqTailOff);
            if (cqHead == tail) {
                if ((((int) INT.getAcquire(sqRing, sqFlagsOff)) & IORING_SQ_CQ_OVERFLOW) != 0) {
                    int r = enter(0, IORING_ENTER_GETEVENTS);
                    if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                        throw new NativeException(r, "io_uring_enter to flush completions");
                    }
                    if (cqHead != (int) INT.getAcquire(cqRing, cqTailOff)) {
                        continue;
                    }
                }
                return n;
            }
            while (cqHead != tail) {
                long off = cqesOff + (long) (cqHead & cqMask) * cqeSize;
                long userData = cqRing.get(JAVA_LONG, off + IoUringCqe.USER_DATA);
                int res = cqRing.get(JAVA_INT, off + IoUringCqe.RES);
                int flags = cqRing.get(JAVA_INT, off + IoUringCqe.FLAGS);
                cqHead++;
                if (!batchCqHead) {
                    // Publish before the handler runs: the slot's content is copied, the kernel may reuse it.
                    INT.setRelease(cqRing, cqHeadOff, cqHead);
                }
                n++;
                handler.onCompletion(userData, res, flags);
            }
            if (batchCqHead) {
                // Once for the batch. Holding the slots back meanwhile is harmless: a handler that makes the kernel
                // post completions (a submit) finds the CQ that much fuller at worst, and with NODROP the kernel then
                // keeps them on its overflow list, which the loop above flushes. A nested reap publishes our
                // consumed slots too: each was copied before its handler ran.
                INT.setRelease(cqRing, cqHeadOff, cqHead);
            }
        }
    }

    /** Completions in the CQ not yet consumed. */
    public int ready() {
        return (int) INT.getAcquire(cqRing, cqTailOff) - cqHead;
    }

    /** CQEs the kernel dropped for lack of room (only possible without IORING_FEAT_NODROP). */
    public int droppedCompletions() {
        return (int) INT.getAcquire(cqRing, cqOverflowOff);
    }

    /**
     * Publishes the CQ head once per batch of completions {@link #forEachCompletion} hands out instead of after each
     * one (off by default). Either is correct; the batch saves a release store per completion into the cache line the
     * kernel reads. For a ring whose completions nobody else posts while its owner reaps, as a queue ring's.
     */
    public void batchCqHead(boolean on) {
        batchCqHead = on;
    }

    /** io_uring_enter calls made so far (each retry after EINTR counts). */
    public long enters() {
        return enters;
    }

    // ---- registration -----------------------------------------------------------------------------------

    /**
     * IORING_REGISTER_RING_FDS: puts this ring in the calling thread's registered-ring table, and from then on enters
     * it by that slot (IORING_ENTER_REGISTERED_RING), which spares the kernel the descriptor lookup (fdget/fdput) on
     * every io_uring_enter. The table is per task, so only for a ring confined to its thread, called on that thread.
     * Returns false and changes nothing if the ring is not confined or the kernel refuses (older than 5.18, or the
     * thread's 16 slots are taken): the ring is then entered by its descriptor as before. {@link #close()} gives the
     * slot back; until then the slot holds a reference to the ring.
     */
    public boolean registerRingFd() {
        if (ringIndex >= 0) {
            return true;
        }
        if (!confined) {
            return false;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment up = a.allocate(IoUringRsrcUpdate.LAYOUT);
            up.set(JAVA_INT, IoUringRsrcUpdate.OFFSET, -1);
            up.set(JAVA_LONG, IoUringRsrcUpdate.DATA, fd.get());
            if (tryRegister(IoUringUapi.IORING_REGISTER_RING_FDS, up.address(), 1) != 1) {
                return false;
            }
            ringIndex = up.get(JAVA_INT, IoUringRsrcUpdate.OFFSET);
            enterFd = ringIndex;
            enterFlags = IORING_ENTER_REGISTERED_RING;
            return true;
        }
    }

    /** The calling thread's registered-ring slot this ring is entered by, or -1 (entered by its descriptor). */
    public int registeredRingIndex() {
        return ringIndex;
    }

    private void unregisterRingFd() {
        if (ringIndex < 0) {
            return;
        }
        int index = ringIndex;
        ringIndex = -1;
        enterFd = fd.get();
        enterFlags = 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment up = a.allocate(IoUringRsrcUpdate.LAYOUT);
            up.set(JAVA_INT, IoUringRsrcUpdate.OFFSET, index);
            tryRegister(IoUringUapi.IORING_UNREGISTER_RING_FDS, up.address(), 1);
            // Should it fail, the kernel drops the slot's reference when the thread exits.
        }
    }

    /** IORING_REGISTER_FILES: {@code fds[i]} becomes fixed file {@code i} (use IOSQE_FIXED_FILE and fd = i). */
    public void registerFiles(int... fds) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment array = a.allocateFrom(JAVA_INT, fds);
            register(IoUringUapi.IORING_REGISTER_FILES, array.address(), fds.length, "IORING_REGISTER_FILES");
        }
    }

    /**
     * IORING_REGISTER_FILES_UPDATE: fixed file {@code index} becomes {@code fd} (the table must exist). Operations in
     * flight on the descriptor it replaces keep their own reference to its file until they end.
     */
    public void updateFile(int index, int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fds = a.allocateFrom(JAVA_INT, fd);
            MemorySegment up = a.allocate(IoUringFilesUpdate.LAYOUT);
            up.set(JAVA_INT, IoUringFilesUpdate.OFFSET, index);
            up.set(JAVA_LONG, IoUringFilesUpdate.FDS, fds.address());
            register(IoUringUapi.IORING_REGISTER_FILES_UPDATE, up.address(), 1,
                    "IORING_REGISTER_FILES_UPDATE (slot " + index + ")");
        }
    }

    public void unregisterFiles() {
        register(IoUringUapi.IORING_UNREGISTER_FILES, 0, 0, "IORING_UNREGISTER_FILES");
    }

    /** IORING_REGISTER_BUFFERS: {@code buffers[i]} becomes fixed buffer {@code i} for READ/WRITE_FIXED. */
    public void registerBuffers(MemorySegment... buffers) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment iovecs = a.allocate(16L * buffers.length, 8);
            for (int i = 0; i < buffers.length; i++) {
                iovecs.set(JAVA_LONG, 16L * i, buffers[i].address());
                iovecs.set(JAVA_LONG, 16L * i + 8, buffers[i].byteSize());
            }
            register(IoUringUapi.IORING_REGISTER_BUFFERS, iovecs.address(), buffers.length,
                    "IORING_REGISTER_BUFFERS");
        }
    }

    /**
     * IORING_REGISTER_BUFFERS2 with IORING_RSRC_REGISTER_SPARSE: an empty buffer table of {@code slots}
     * entries, for buffers the kernel registers itself (ublk's UBLK_F_AUTO_BUF_REG puts each request's pages
     * in the slot its FETCH/COMMIT named). READ/WRITE_FIXED on such a buffer take an offset into it as address.
     */
    public void registerSparseBuffers(int slots) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment rr = a.allocate(IoUringRsrcRegister.LAYOUT);
            rr.set(JAVA_INT, IoUringRsrcRegister.NR, slots);
            rr.set(JAVA_INT, IoUringRsrcRegister.FLAGS, IoUringUapi.IORING_RSRC_REGISTER_SPARSE);
            register(IoUringUapi.IORING_REGISTER_BUFFERS2, rr.address(), (int) IoUringRsrcRegister.LAYOUT.byteSize(),
                    "IORING_REGISTER_BUFFERS2 (sparse, " + slots + " slots)");
        }
    }

    /**
     * IORING_REGISTER_PBUF_RING: {@code ring} (page aligned, {@code entries} × 16 bytes, a power of two entries)
     * becomes provided-buffer group {@code bgid}; the caller adds buffers to it and publishes its tail
     * ({@link io.jublk.uapi.IoUringBuf}). The kernel pins the memory until the ring closes.
     */
    public void registerBufRing(MemorySegment ring, int entries, int bgid, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment reg = a.allocate(IoUringBufReg.LAYOUT);
            reg.set(JAVA_LONG, IoUringBufReg.RING_ADDR, ring.address());
            reg.set(JAVA_INT, IoUringBufReg.RING_ENTRIES, entries);
            reg.set(JAVA_SHORT, IoUringBufReg.BGID, (short) bgid);
            reg.set(JAVA_SHORT, IoUringBufReg.FLAGS, (short) flags);
            register(IoUringUapi.IORING_REGISTER_PBUF_RING, reg.address(), 1,
                    "IORING_REGISTER_PBUF_RING (group " + bgid + ")");
        }
    }

    public void unregisterBuffers() {
        register(IoUringUapi.IORING_UNREGISTER_BUFFERS, 0, 0, "IORING_UNREGISTER_BUFFERS");
    }

    private void register(int opcode, long arg, int nrArgs, String what) {
        NativeException.check(tryRegister(opcode, arg, nrArgs), what);
    }

    /** io_uring_register, retried on EINTR: what it returns, or a negative errno. */
    private long tryRegister(int opcode, long arg, int nrArgs) {
        long r;
        do {
            r = LibC.rawSyscall(capture, LinuxUapi.__NR_io_uring_register, fd.get(), opcode, arg, nrArgs, 0, 0);
        } while (r == -Errno.EINTR);
        return r;
    }

    // ---- facts ------------------------------------------------------------------------------------------

    /** The IORING_SETUP_* flags the ring was created with (what the kernel granted). */
    public int setupFlags() {
        return setupFlags;
    }

    /** IORING_FEAT_* reported by the kernel. */
    public int features() {
        return features;
    }

    public int sqEntries() {
        return sqEntries;
    }

    public int cqEntries() {
        return cqEntries;
    }

    public int sqeSize() {
        return sqeSize;
    }

    public int fd() {
        return fd.get();
    }

    /**
     * Unmaps the rings and closes the ring fd. Idempotent. Closing does not wait: the kernel cancels what is
     * outstanding and waits for the rest in a worker of its own (io_ring_exit_work), and until an operation
     * ends it may still write into the memory it was given. Before releasing such memory, cancel
     * ({@link Sqe#cancel}) and reap ({@link #submitAndWait(int, long)}) first.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            // First: the slot holds a reference to the ring, which would otherwise outlive close() (and with it the
            // cancellation of what is outstanding) until the thread exits.
            unregisterRingFd();
        } finally {
            try {
                arena.close();
            } finally {
                fd.close();
            }
        }
    }
}
