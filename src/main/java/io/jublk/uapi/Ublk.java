package io.jublk.uapi;

import static io.jublk.sys.Errno.ENODEV;

/**
 * Constants of {@code include/uapi/linux/ublk_cmd.h}, under the kernel's own names so they can be grepped
 * in the driver. The ABI test checks every one against the probe built from the 7.3 header.
 */
@SuppressWarnings("PointlessBitwiseExpression")
public final class Ublk {
    private Ublk() {}

    // Legacy command numbers; the ioctl-encoded UBLK_U_* forms below are what jublk sends.
    public static final int UBLK_CMD_GET_QUEUE_AFFINITY = 0x01;
    public static final int UBLK_CMD_GET_DEV_INFO = 0x02;
    public static final int UBLK_CMD_ADD_DEV = 0x04;
    public static final int UBLK_CMD_DEL_DEV = 0x05;
    public static final int UBLK_CMD_START_DEV = 0x06;
    public static final int UBLK_CMD_STOP_DEV = 0x07;
    public static final int UBLK_CMD_SET_PARAMS = 0x08;
    public static final int UBLK_CMD_GET_PARAMS = 0x09;
    public static final int UBLK_CMD_START_USER_RECOVERY = 0x10;
    public static final int UBLK_CMD_END_USER_RECOVERY = 0x11;
    public static final int UBLK_CMD_GET_DEV_INFO2 = 0x12;

    private static final long CTRL = UblksrvCtrlCmd.SIZE;
    public static final int UBLK_U_CMD_GET_QUEUE_AFFINITY = Ioctl.ior('u', UBLK_CMD_GET_QUEUE_AFFINITY, CTRL);
    public static final int UBLK_U_CMD_GET_DEV_INFO = Ioctl.ior('u', UBLK_CMD_GET_DEV_INFO, CTRL);
    public static final int UBLK_U_CMD_ADD_DEV = Ioctl.iowr('u', UBLK_CMD_ADD_DEV, CTRL);
    public static final int UBLK_U_CMD_DEL_DEV = Ioctl.iowr('u', UBLK_CMD_DEL_DEV, CTRL);
    public static final int UBLK_U_CMD_START_DEV = Ioctl.iowr('u', UBLK_CMD_START_DEV, CTRL);
    public static final int UBLK_U_CMD_STOP_DEV = Ioctl.iowr('u', UBLK_CMD_STOP_DEV, CTRL);
    public static final int UBLK_U_CMD_SET_PARAMS = Ioctl.iowr('u', UBLK_CMD_SET_PARAMS, CTRL);
    public static final int UBLK_U_CMD_GET_PARAMS = Ioctl.ior('u', UBLK_CMD_GET_PARAMS, CTRL);
    public static final int UBLK_U_CMD_START_USER_RECOVERY = Ioctl.iowr('u', UBLK_CMD_START_USER_RECOVERY, CTRL);
    public static final int UBLK_U_CMD_END_USER_RECOVERY = Ioctl.iowr('u', UBLK_CMD_END_USER_RECOVERY, CTRL);
    public static final int UBLK_U_CMD_GET_DEV_INFO2 = Ioctl.ior('u', UBLK_CMD_GET_DEV_INFO2, CTRL);
    public static final int UBLK_U_CMD_GET_FEATURES = Ioctl.ior('u', 0x13, CTRL);
    public static final int UBLK_U_CMD_DEL_DEV_ASYNC = Ioctl.ior('u', 0x14, CTRL);
    public static final int UBLK_U_CMD_UPDATE_SIZE = Ioctl.iowr('u', 0x15, CTRL);
    public static final int UBLK_U_CMD_QUIESCE_DEV = Ioctl.iowr('u', 0x16, CTRL);
    public static final int UBLK_U_CMD_TRY_STOP_DEV = Ioctl.iowr('u', 0x17, CTRL);

    public static final int UBLK_FEATURES_LEN = 8;

    public static final int UBLK_IO_FETCH_REQ = 0x20;
    public static final int UBLK_IO_COMMIT_AND_FETCH_REQ = 0x21;
    public static final int UBLK_IO_NEED_GET_DATA = 0x22;
    private static final long IO = UblksrvIoCmd.SIZE;
    public static final int UBLK_U_IO_FETCH_REQ = Ioctl.iowr('u', UBLK_IO_FETCH_REQ, IO);
    public static final int UBLK_U_IO_COMMIT_AND_FETCH_REQ = Ioctl.iowr('u', UBLK_IO_COMMIT_AND_FETCH_REQ, IO);
    public static final int UBLK_U_IO_NEED_GET_DATA = Ioctl.iowr('u', UBLK_IO_NEED_GET_DATA, IO);
    public static final int UBLK_U_IO_REGISTER_IO_BUF = Ioctl.iowr('u', 0x23, IO);
    public static final int UBLK_U_IO_UNREGISTER_IO_BUF = Ioctl.iowr('u', 0x24, IO);

    // UBLK_F_BATCH_IO: many tags per uring_cmd instead of FETCH_REQ / COMMIT_AND_FETCH_REQ per tag.
    private static final long BATCH = UblkBatchIo.SIZE;
    /** Hands the kernel every tag of a queue at once (the batch counterpart of FETCH_REQ on each tag). */
    public static final int UBLK_U_IO_PREP_IO_CMDS = Ioctl.iowr('u', 0x25, BATCH);
    /** Answers many requests; completes with the number of element bytes the kernel took, or -errno. */
    public static final int UBLK_U_IO_COMMIT_IO_CMDS = Ioctl.iowr('u', 0x26, BATCH);
    /** Multishot: each completion names requests to serve as u16 tags in a provided buffer. */
    public static final int UBLK_U_IO_FETCH_IO_CMDS = Ioctl.iowr('u', 0x27, BATCH);
    public static final int UBLK_BATCH_F_HAS_ZONE_LBA = 1 << 0;
    public static final int UBLK_BATCH_F_HAS_BUF_ADDR = 1 << 1;
    public static final int UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK = 1 << 2;

    /** A fetch completed with a request to serve. */
    public static final int UBLK_IO_RES_OK = 0;
    public static final int UBLK_IO_RES_NEED_GET_DATA = 1;
    /** The device is stopping (or the queue is being torn down): this tag gets no more requests. */
    public static final int UBLK_IO_RES_ABORT = -ENODEV;

    public static final long UBLKSRV_CMD_BUF_OFFSET = 0;
    public static final long UBLKSRV_IO_BUF_OFFSET = 0x80000000L;
    /** UBLK_F_USER_COPY: a request's data at UBLKSRV_IO_BUF_OFFSET + (queue << QID_OFF) + (tag << TAG_OFF) + offset. */
    public static final int UBLK_IO_BUF_BITS = 25;
    public static final int UBLK_TAG_OFF = UBLK_IO_BUF_BITS;
    public static final int UBLK_TAG_BITS = 16;
    public static final int UBLK_QID_OFF = UBLK_TAG_OFF + UBLK_TAG_BITS;
    public static final int UBLK_MAX_QUEUE_DEPTH = 4096;
    public static final int UBLK_MAX_NR_QUEUES = 1 << 12;
    public static final int UBLK_MIN_SEGMENT_SIZE = 4096;

    public static final long UBLK_F_SUPPORT_ZERO_COPY = 1L << 0;
    public static final long UBLK_F_URING_CMD_COMP_IN_TASK = 1L << 1;
    public static final long UBLK_F_NEED_GET_DATA = 1L << 2;
    public static final long UBLK_F_USER_RECOVERY = 1L << 3;
    public static final long UBLK_F_USER_RECOVERY_REISSUE = 1L << 4;
    public static final long UBLK_F_UNPRIVILEGED_DEV = 1L << 5;
    public static final long UBLK_F_CMD_IOCTL_ENCODE = 1L << 6;
    public static final long UBLK_F_USER_COPY = 1L << 7;
    public static final long UBLK_F_ZONED = 1L << 8;
    public static final long UBLK_F_USER_RECOVERY_FAIL_IO = 1L << 9;
    public static final long UBLK_F_UPDATE_SIZE = 1L << 10;
    public static final long UBLK_F_AUTO_BUF_REG = 1L << 11;
    public static final long UBLK_F_QUIESCE = 1L << 12;
    public static final long UBLK_F_PER_IO_DAEMON = 1L << 13;
    public static final long UBLK_F_BUF_REG_OFF_DAEMON = 1L << 14;
    public static final long UBLK_F_BATCH_IO = 1L << 15;
    public static final long UBLK_F_INTEGRITY = 1L << 16;
    public static final long UBLK_F_SAFE_STOP_DEV = 1L << 17;
    public static final long UBLK_F_NO_AUTO_PART_SCAN = 1L << 18;
    public static final long UBLK_F_SHMEM_ZC = 1L << 19;
    public static final long UBLK_F_IO_DESC_SIZE = 1L << 20;

    public static final int UBLK_S_DEV_DEAD = 0;
    public static final int UBLK_S_DEV_LIVE = 1;
    public static final int UBLK_S_DEV_QUIESCED = 2;
    public static final int UBLK_S_DEV_FAIL_IO = 3;

    public static final int UBLK_IO_OP_READ = 0;
    public static final int UBLK_IO_OP_WRITE = 1;
    public static final int UBLK_IO_OP_FLUSH = 2;
    public static final int UBLK_IO_OP_DISCARD = 3;
    public static final int UBLK_IO_OP_WRITE_SAME = 4;
    public static final int UBLK_IO_OP_WRITE_ZEROES = 5;
    public static final int UBLK_IO_OP_ZONE_OPEN = 10;
    public static final int UBLK_IO_OP_ZONE_CLOSE = 11;
    public static final int UBLK_IO_OP_ZONE_FINISH = 12;
    public static final int UBLK_IO_OP_ZONE_APPEND = 13;
    public static final int UBLK_IO_OP_ZONE_RESET_ALL = 14;
    public static final int UBLK_IO_OP_ZONE_RESET = 15;
    public static final int UBLK_IO_OP_REPORT_ZONES = 18;

    public static final int UBLK_IO_F_FAILFAST_DEV = 1 << 8;
    public static final int UBLK_IO_F_FAILFAST_TRANSPORT = 1 << 9;
    public static final int UBLK_IO_F_FAILFAST_DRIVER = 1 << 10;
    public static final int UBLK_IO_F_META = 1 << 11;
    public static final int UBLK_IO_F_FUA = 1 << 13;
    public static final int UBLK_IO_F_NOUNMAP = 1 << 15;
    public static final int UBLK_IO_F_SWAP = 1 << 16;
    public static final int UBLK_IO_F_NEED_REG_BUF = 1 << 17;
    public static final int UBLK_IO_F_INTEGRITY = 1 << 18;
    public static final int UBLK_IO_F_SHMEM_ZC = 1 << 19;

    public static final int UBLK_ATTR_READ_ONLY = 1 << 0;
    public static final int UBLK_ATTR_ROTATIONAL = 1 << 1;
    public static final int UBLK_ATTR_VOLATILE_CACHE = 1 << 2;
    public static final int UBLK_ATTR_FUA = 1 << 3;

    public static final int UBLK_PARAM_TYPE_BASIC = 1 << 0;
    public static final int UBLK_PARAM_TYPE_DISCARD = 1 << 1;
    public static final int UBLK_PARAM_TYPE_DEVT = 1 << 2;
    public static final int UBLK_PARAM_TYPE_ZONED = 1 << 3;
    public static final int UBLK_PARAM_TYPE_DMA_ALIGN = 1 << 4;
    public static final int UBLK_PARAM_TYPE_SEGMENT = 1 << 5;
    public static final int UBLK_PARAM_TYPE_INTEGRITY = 1 << 6;

    public static final int UBLK_AUTO_BUF_REG_FALLBACK = 1 << 0;
}
