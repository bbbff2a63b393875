package io.jublk.targets;

import io.jublk.sys.Errno;

/**
 * The NBD protocol's numbers, under the names its specification ({@code doc/proto.md} of the NetworkBlockDevice/nbd
 * project) gives them. Everything on the wire is big-endian.
 */
public final class Nbd {
    private Nbd() {}

    /** IANA port for the newstyle handshake. */
    public static final int DEFAULT_PORT = 10809;

    // ---- handshake ---------------------------------------------------------------------------------------------
    /** "NBDMAGIC": the server's first 8 bytes, old and new style. */
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    /** "IHAVEOPT": newstyle's second magic, and the magic of every option the client sends. */
    public static final long IHAVEOPT = 0x49484156454F5054L;
    /** The oldstyle handshake's second magic ({@code cliserv_magic}). */
    public static final long CLISERV_MAGIC = 0x00420281861253L;
    /** Magic of an option reply. */
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

    public static final int NBD_FLAG_FIXED_NEWSTYLE = 1;
    public static final int NBD_FLAG_NO_ZEROES = 1 << 1;
    public static final int NBD_FLAG_C_FIXED_NEWSTYLE = 1;
    public static final int NBD_FLAG_C_NO_ZEROES = 1 << 1;

    public static final int NBD_OPT_EXPORT_NAME = 1;
    public static final int NBD_OPT_ABORT = 2;
    public static final int NBD_OPT_STARTTLS = 5;
    public static final int NBD_OPT_INFO = 6;
    public static final int NBD_OPT_GO = 7;

    public static final int NBD_REP_ACK = 1;
    public static final int NBD_REP_INFO = 3;
    public static final int NBD_REP_FLAG_ERROR = 1 << 31;
    public static final int NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR | 1;
    public static final int NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR | 2;
    public static final int NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR | 3;
    public static final int NBD_REP_ERR_PLATFORM = NBD_REP_FLAG_ERROR | 4;
    public static final int NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR | 5;
    public static final int NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR | 6;
    public static final int NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR | 7;
    public static final int NBD_REP_ERR_BLOCK_SIZE_REQD = NBD_REP_FLAG_ERROR | 8;
    public static final int NBD_REP_ERR_TOO_BIG = NBD_REP_FLAG_ERROR | 9;

    public static final int NBD_INFO_EXPORT = 0;
    public static final int NBD_INFO_BLOCK_SIZE = 3;

    // ---- transmission flags ------------------------------------------------------------------------------------
    public static final int NBD_FLAG_HAS_FLAGS = 1;
    public static final int NBD_FLAG_READ_ONLY = 1 << 1;
    public static final int NBD_FLAG_SEND_FLUSH = 1 << 2;
    public static final int NBD_FLAG_SEND_FUA = 1 << 3;
    public static final int NBD_FLAG_ROTATIONAL = 1 << 4;
    public static final int NBD_FLAG_SEND_TRIM = 1 << 5;
    public static final int NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
    public static final int NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

    // ---- transmission ------------------------------------------------------------------------------------------
    public static final int NBD_REQUEST_MAGIC = 0x25609513;
    public static final int NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;
    /** Bytes of a request header: magic, flags, type, handle, offset, length. */
    public static final int REQUEST_BYTES = 28;
    /** Bytes of a simple reply: magic, error, handle. */
    public static final int SIMPLE_REPLY_BYTES = 16;

    public static final int NBD_CMD_FLAG_FUA = 1;
    public static final int NBD_CMD_FLAG_NO_HOLE = 1 << 1;

    public static final int NBD_CMD_READ = 0;
    public static final int NBD_CMD_WRITE = 1;
    public static final int NBD_CMD_DISC = 2;
    public static final int NBD_CMD_FLUSH = 3;
    public static final int NBD_CMD_TRIM = 4;
    public static final int NBD_CMD_WRITE_ZEROES = 6;

    public static final int NBD_EPERM = 1;
    public static final int NBD_EIO = 5;
    public static final int NBD_ENOMEM = 12;
    public static final int NBD_EINVAL = 22;
    public static final int NBD_ENOSPC = 28;
    public static final int NBD_EOVERFLOW = 75;
    public static final int NBD_ENOTSUP = 95;
    public static final int NBD_ESHUTDOWN = 108;

    /** Without NBD_INFO_BLOCK_SIZE a client keeps READ and WRITE payloads within 32 MiB. */
    public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    /** The negative errno a request gets for an NBD error value; EIO for one the protocol does not define. */
    public static int errno(int nbdError) {
        return switch (nbdError) {
            case NBD_EPERM -> -Errno.EPERM;
            case NBD_ENOMEM -> -Errno.ENOMEM;
            case NBD_EINVAL -> -Errno.EINVAL;
            case NBD_ENOSPC -> -Errno.ENOSPC;
            case NBD_ENOTSUP -> -Errno.EOPNOTSUPP;
            default -> -Errno.EIO;
        };
    }

    /** Transmission flags in words, for the log and `ublk list`. */
    public static String describeFlags(int flags) {
        StringBuilder b = new StringBuilder();
        String[] names = {"has_flags", "read_only", "flush", "fua", "rotational", "trim", "write_zeroes", "df",
                "multi_conn", "resize", "cache", "fast_zero"};
        for (int i = 1; i < names.length; i++) {
            if ((flags & (1 << i)) != 0) {
                b.append(b.isEmpty() ? "" : ",").append(names[i]);
            }
        }
        return b.toString();
    }

    /** An option reply type in words. */
    static String replyName(int type) {
        return switch (type) {
            case NBD_REP_ACK -> "NBD_REP_ACK";
            case NBD_REP_INFO -> "NBD_REP_INFO";
            case NBD_REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
            case NBD_REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
            case NBD_REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
            case NBD_REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
            case NBD_REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
            case NBD_REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
            case NBD_REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
            case NBD_REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
            case NBD_REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
            default -> "reply type 0x" + Integer.toHexString(type);
        };
    }
}
