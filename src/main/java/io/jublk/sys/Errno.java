package io.jublk.sys;

import java.lang.foreign.MemorySegment;

/**
 * Linux errno values (x86-64/generic numbering) and their symbolic names.
 *
 * <p>Names come from glibc's {@code strerrorname_np} when it exists (glibc 2.32+), so every errno the
 * kernel can return gets its real name, not just the ones listed here as constants.
 */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int EBADF = 9;
    public static final int ECHILD = 10;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int EXDEV = 18;
    public static final int ENODEV = 19;
    public static final int ENOTDIR = 20;
    public static final int EISDIR = 21;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int ESPIPE = 29;
    public static final int EROFS = 30;
    public static final int EPIPE = 32;
    public static final int ERANGE = 34;
    public static final int ENOLCK = 37;
    public static final int ENOSYS = 38;
    public static final int ELOOP = 40;
    /** Same number as EAGAIN on Linux. */
    public static final int EWOULDBLOCK = EAGAIN;
    public static final int EBADE = 52;
    public static final int ENODATA = 61;
    public static final int ETIME = 62;
    public static final int ENOLINK = 67;
    public static final int EPROTO = 71;
    public static final int EOVERFLOW = 75;
    public static final int EILSEQ = 84;
    public static final int ENOTSOCK = 88;
    public static final int EAFNOSUPPORT = 97;
    public static final int EOPNOTSUPP = 95;
    public static final int ECONNRESET = 104;
    public static final int ENOBUFS = 105;
    public static final int EISCONN = 106;
    public static final int ENOTCONN = 107;
    public static final int ESHUTDOWN = 108;
    public static final int ETIMEDOUT = 110;
    public static final int ECONNREFUSED = 111;
    public static final int EALREADY = 114;
    public static final int EINPROGRESS = 115;
    public static final int EREMOTEIO = 121;
    public static final int EDQUOT = 122;
    public static final int ECANCELED = 125;

    private static final int MAX = 134;

    /** The names, looked up once when the first error is described. */
    private static final class Table {
        static final String[] NAMES = new String[MAX];
        static final String[] DESCRIPTIONS = new String[MAX];

        static {
            for (int e = 1; e < MAX; e++) {
                NAMES[e] = LibC.cString(LibC.strerrorname(e));
                DESCRIPTIONS[e] = LibC.cString(LibC.strerrordesc(e));
            }
        }
    }

    /** The symbolic name, e.g. {@code EINVAL}; {@code errno N} for a number the C library does not know. */
    public static String name(int errno) {
        int e = Math.abs(errno);
        String n = e > 0 && e < MAX ? Table.NAMES[e] : null;
        return n != null ? n : "errno " + e;
    }

    /** The C library's one-line description, e.g. "Invalid argument". */
    public static String describe(int errno) {
        int e = Math.abs(errno);
        String d = e > 0 && e < MAX ? Table.DESCRIPTIONS[e] : null;
        return d != null ? d : "Unknown error " + e;
    }

    static boolean isNull(MemorySegment s) {
        return s == null || s.address() == 0;
    }
}
