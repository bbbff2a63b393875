package io.jublk.uring;

/**
 * The one codec for an SQE's 64-bit {@code user_data}, so a completion can be routed without a lookup:
 *
 * <pre>
 *  63            32 31     24 23      16 15             0
 * +----------------+---------+----------+----------------+
 * |      data      |   sub   |   kind   |      tag       |
 * +----------------+---------+----------+----------------+
 * </pre>
 *
 * {@code tag} is the ublk request tag (0..65535; ublk allows at most 4096), {@code kind} says who issued
 * the operation (the queue's own FETCH/COMMIT, or the target), {@code sub} is free for the issuer (e.g. which
 * of several operations of one request), {@code data} carries 32 more bits (e.g. a byte count).
 *
 * <p>An operation that belongs to no request carries a 56-bit token instead of tag, sub and data
 * ({@link #encodeToken}): its low 16 bits where the tag is, the rest where sub and data are.
 */
public final class UserData {
    private UserData() {}

    public static final int MAX_TAG = 0xffff;
    public static final int MAX_KIND = 0xff;
    public static final int MAX_SUB = 0xff;

    /** The largest token {@link #encodeToken} carries. */
    public static final long MAX_TOKEN = (1L << 56) - 1;

    /** user_data of {@code kind} carrying {@code token} (0..{@link #MAX_TOKEN}) in the bits kind leaves. */
    public static long encodeToken(int kind, long token) {
        return (token & 0xffff) | (kind & 0xffL) << 16 | (token >>> 16) << 24;
    }

    public static long token(long userData) {
        return (userData & 0xffff) | (userData >>> 24) << 16;
    }

    public static long encode(int tag, int kind, int sub, int data) {
        return (tag & 0xffffL)
                | (kind & 0xffL) << 16
                | (sub & 0xffL) << 24
                | (data & 0xffff_ffffL) << 32;
    }

    public static int tag(long userData) {
        return (int) (userData & 0xffff);
    }

    public static int kind(long userData) {
        return (int) ((userData >>> 16) & 0xff);
    }

    public static int sub(long userData) {
        return (int) ((userData >>> 24) & 0xff);
    }

    public static int data(long userData) {
        return (int) (userData >>> 32);
    }
}
