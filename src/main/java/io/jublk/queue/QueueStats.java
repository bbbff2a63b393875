package io.jublk.queue;

import io.jublk.uapi.Ublk;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Counters of one queue. Written only by the queue's thread, with opaque stores (a plain store on x86, but
 * one the JIT may not keep in a register), so the I/O path takes no lock and allocates nothing; read by any
 * thread, e.g. a metrics scrape, with opaque loads.
 *
 * <p>Latency histograms have power-of-two buckets from 1 µs to about 33 s: bucket {@code i} counts
 * durations up to {@link #bucketUpperNanos(int)}.
 */
public final class QueueStats {
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    /** Operations counted separately; anything else is OTHER. */
    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_FLUSH = 2;
    public static final int OP_DISCARD = 3;
    public static final int OP_WRITE_ZEROES = 4;
    public static final int OP_OTHER = 5;
    public static final int OPS = 6;
    private static final String[] OP_NAMES = {"read", "write", "flush", "discard", "write_zeroes", "other"};

    public static final int BUCKETS = 26;
    public static final int MAX_ERRNO = 134;

    private final int queueId;
    private final long[] completed = new long[OPS];
    private final long[] failed = new long[OPS];
    private final long[] bytes = new long[OPS];
    private final long[] errors = new long[MAX_ERRNO + 1];
    private final long[] serviceBuckets = new long[BUCKETS + 1];
    private final long[] serviceSum = new long[1];
    private final long[] backendBuckets = new long[BUCKETS + 1];
    private final long[] backendSum = new long[1];
    private final long[] gauges = new long[2];
    private static final int G_INFLIGHT = 0;
    private static final int G_BACKEND_INFLIGHT = 1;

    public QueueStats(int queueId) {
        this.queueId = queueId;
    }

    public int queueId() {
        return queueId;
    }

    public static String opName(int statOp) {
        return OP_NAMES[statOp];
    }

    public static int statOp(int ublkOp) {
        return switch (ublkOp) {
            case Ublk.UBLK_IO_OP_READ -> OP_READ;
            case Ublk.UBLK_IO_OP_WRITE -> OP_WRITE;
            case Ublk.UBLK_IO_OP_FLUSH -> OP_FLUSH;
            case Ublk.UBLK_IO_OP_DISCARD -> OP_DISCARD;
            case Ublk.UBLK_IO_OP_WRITE_ZEROES -> OP_WRITE_ZEROES;
            default -> OP_OTHER;
        };
    }

    /** Upper bound of bucket {@code i} in nanoseconds: 1 µs × 2^i. The last bucket is +Inf. */
    public static long bucketUpperNanos(int i) {
        return 1000L << i;
    }

    static int bucket(long nanos) {
        if (nanos <= 1000) {
            return 0;
        }
        // Smallest i with 1000 << i >= nanos.
        int i = 64 - Long.numberOfLeadingZeros((nanos - 1) / 1000);
        if (bucketUpperNanos(i) < nanos) {
            i++;
        }
        return Math.min(i, BUCKETS);
    }

    private static void add(long[] a, int i, long delta) {
        LONGS.setOpaque(a, i, (long) LONGS.getOpaque(a, i) + delta);
    }

    private static long get(long[] a, int i) {
        return (long) LONGS.getOpaque(a, i);
    }

    // ---- written by the queue thread -------------------------------------------------------------------

    void started() {
        add(gauges, G_INFLIGHT, 1);
    }

    /** A request was committed with {@code result} after {@code nanos}. */
    void completed(int ublkOp, int result, long nanos) {
        int op = statOp(ublkOp);
        add(gauges, G_INFLIGHT, -1);
        if (result < 0) {
            add(failed, op, 1);
            add(errors, Math.min(-result, MAX_ERRNO), 1);
        } else {
            add(completed, op, 1);
            if (op == OP_READ || op == OP_WRITE) {
                add(bytes, op, result);
            }
        }
        add(serviceBuckets, bucket(nanos), 1);
        add(serviceSum, 0, nanos);
    }

    void backendStarted() {
        add(gauges, G_BACKEND_INFLIGHT, 1);
    }

    void backendDone(long nanos) {
        add(gauges, G_BACKEND_INFLIGHT, -1);
        add(backendBuckets, bucket(nanos), 1);
        add(backendSum, 0, nanos);
    }

    // ---- read by anyone ---------------------------------------------------------------------------------

    /** Requests of {@code statOp} completed successfully. */
    public long completed(int statOp) {
        return get(completed, statOp);
    }

    /** Requests of {@code statOp} answered with an error. */
    public long failed(int statOp) {
        return get(failed, statOp);
    }

    public long bytes(int statOp) {
        return get(bytes, statOp);
    }

    /**
     * Requests that failed with {@code -errno}, as the target (or the request check) answered; the block layer
     * was given EIO instead where it would misread that errno.
     */
    public long errors(int errno) {
        return get(errors, errno);
    }

    public long inflight() {
        return get(gauges, G_INFLIGHT);
    }

    public long backendInflight() {
        return get(gauges, G_BACKEND_INFLIGHT);
    }

    /** Count in service-time bucket {@code i} (not cumulative). */
    public long serviceBucket(int i) {
        return get(serviceBuckets, i);
    }

    public long serviceSumNanos() {
        return get(serviceSum, 0);
    }

    public long backendBucket(int i) {
        return get(backendBuckets, i);
    }

    public long backendSumNanos() {
        return get(backendSum, 0);
    }
}
