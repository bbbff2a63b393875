package io.jublk.uapi;

/** Constants of {@code include/uapi/linux/io_uring.h} jublk uses, under the kernel's names. */
public final class IoUringUapi {
    private IoUringUapi() {}

    public static final int IORING_SETUP_IOPOLL = 1 << 0;
    public static final int IORING_SETUP_SQPOLL = 1 << 1;
    public static final int IORING_SETUP_CQSIZE = 1 << 3;
    public static final int IORING_SETUP_CLAMP = 1 << 4;
    public static final int IORING_SETUP_R_DISABLED = 1 << 6;
    public static final int IORING_SETUP_SUBMIT_ALL = 1 << 7;
    public static final int IORING_SETUP_COOP_TASKRUN = 1 << 8;
    public static final int IORING_SETUP_TASKRUN_FLAG = 1 << 9;
    public static final int IORING_SETUP_SQE128 = 1 << 10;
    public static final int IORING_SETUP_CQE32 = 1 << 11;
    public static final int IORING_SETUP_SINGLE_ISSUER = 1 << 12;
    public static final int IORING_SETUP_DEFER_TASKRUN = 1 << 13;
    public static final int IORING_SETUP_NO_SQARRAY = 1 << 16;

    public static final int IORING_ENTER_GETEVENTS = 1 << 0;
    public static final int IORING_ENTER_SQ_WAKEUP = 1 << 1;
    public static final int IORING_ENTER_SQ_WAIT = 1 << 2;
    public static final int IORING_ENTER_EXT_ARG = 1 << 3;
    public static final int IORING_ENTER_REGISTERED_RING = 1 << 4;

    public static final int IORING_FEAT_SINGLE_MMAP = 1 << 0;
    public static final int IORING_FEAT_NODROP = 1 << 1;
    public static final int IORING_FEAT_SUBMIT_STABLE = 1 << 2;
    public static final int IORING_FEAT_EXT_ARG = 1 << 8;
    public static final int IORING_FEAT_NATIVE_WORKERS = 1 << 9;

    public static final long IORING_OFF_SQ_RING = 0L;
    public static final long IORING_OFF_CQ_RING = 0x8000000L;
    public static final long IORING_OFF_SQES = 0x10000000L;

    public static final int IORING_SQ_NEED_WAKEUP = 1 << 0;
    public static final int IORING_SQ_CQ_OVERFLOW = 1 << 1;
    public static final int IORING_SQ_TASKRUN = 1 << 2;

    public static final int IOSQE_FIXED_FILE = 1 << 0;
    public static final int IOSQE_IO_DRAIN = 1 << 1;
    public static final int IOSQE_IO_LINK = 1 << 2;
    public static final int IOSQE_IO_HARDLINK = 1 << 3;
    public static final int IOSQE_ASYNC = 1 << 4;
    public static final int IOSQE_CQE_SKIP_SUCCESS = 1 << 6;
    /** The operation takes its buffer from the provided-buffer ring named by sqe->buf_group. */
    public static final int IOSQE_BUFFER_SELECT = 1 << 5;

    public static final int IORING_CQE_F_BUFFER = 1 << 0;
    /** More CQEs follow for this SQE: for SEND_ZC, the notification that the kernel let go of the buffer. */
    public static final int IORING_CQE_F_MORE = 1 << 1;
    /** This CQE is a SEND_ZC notification: the buffer the send was given is free again. */
    public static final int IORING_CQE_F_NOTIF = 1 << 3;
    /** Of an incrementally consumed provided buffer (IOU_PBUF_RING_INC): the kernel keeps using the rest of it. */
    public static final int IORING_CQE_F_BUF_MORE = 1 << 4;

    /** sqe->uring_cmd_flags: the command completes many times (each CQE with F_MORE until the last). */
    public static final int IORING_URING_CMD_MULTISHOT = 1 << 1;

    public static final int IORING_FSYNC_DATASYNC = 1 << 0;

    /** sqe->nop_flags: the NOP completes with sqe->len as its result. */
    public static final int IORING_NOP_INJECT_RESULT = 1 << 0;

    public static final int IORING_OP_NOP = 0;
    public static final int IORING_OP_READV = 1;
    public static final int IORING_OP_WRITEV = 2;
    public static final int IORING_OP_FSYNC = 3;
    public static final int IORING_OP_READ_FIXED = 4;
    public static final int IORING_OP_WRITE_FIXED = 5;
    public static final int IORING_OP_POLL_ADD = 6;
    public static final int IORING_OP_ASYNC_CANCEL = 14;
    public static final int IORING_OP_CONNECT = 16;
    public static final int IORING_OP_FALLOCATE = 17;
    public static final int IORING_OP_READ = 22;
    public static final int IORING_OP_WRITE = 23;
    public static final int IORING_OP_SEND = 26;
    public static final int IORING_OP_RECV = 27;
    public static final int IORING_OP_URING_CMD = 46;
    public static final int IORING_OP_SEND_ZC = 47;

    /** sqe->ioprio of SEND/RECV/SEND_ZC: arm the poll first instead of trying the socket at once. */
    public static final int IORING_RECVSEND_POLL_FIRST = 1 << 0;
    /** sqe->ioprio of SEND/RECV/SEND_ZC: {@code addr} lies in registered buffer {@code buf_index}. */
    public static final int IORING_RECVSEND_FIXED_BUF = 1 << 2;
    /** sqe->ioprio of SEND_ZC: the notification says whether the kernel had to copy after all. */
    public static final int IORING_SEND_ZC_REPORT_USAGE = 1 << 3;
    /** In a SEND_ZC notification's res (with REPORT_USAGE): the data was copied, not sent from the pages. */
    public static final int IORING_NOTIF_USAGE_ZC_COPIED = 1 << 31;

    /** sqe->cancel_flags of IORING_OP_ASYNC_CANCEL: which requests match (default: the one with user_data addr). */
    public static final int IORING_ASYNC_CANCEL_ALL = 1 << 0;
    public static final int IORING_ASYNC_CANCEL_FD = 1 << 1;
    public static final int IORING_ASYNC_CANCEL_ANY = 1 << 2;
    public static final int IORING_ASYNC_CANCEL_FD_FIXED = 1 << 3;
    public static final int IORING_ASYNC_CANCEL_USERDATA = 1 << 4;
    public static final int IORING_ASYNC_CANCEL_OP = 1 << 5;

    public static final int IORING_REGISTER_BUFFERS = 0;
    public static final int IORING_UNREGISTER_BUFFERS = 1;
    public static final int IORING_REGISTER_FILES = 2;
    public static final int IORING_UNREGISTER_FILES = 3;
    public static final int IORING_REGISTER_FILES_UPDATE = 6;
    public static final int IORING_REGISTER_PROBE = 8;
    public static final int IORING_REGISTER_BUFFERS2 = 15;
    public static final int IORING_REGISTER_FILES2 = 13;
    public static final int IORING_REGISTER_RING_FDS = 20;
    public static final int IORING_UNREGISTER_RING_FDS = 21;
    public static final int IORING_REGISTER_PBUF_RING = 22;
    public static final int IORING_UNREGISTER_PBUF_RING = 23;

    /** io_uring_buf_reg.flags: each buffer is consumed in pieces, not whole per completion. */
    public static final int IOU_PBUF_RING_INC = 2;

    public static final int IORING_RSRC_REGISTER_SPARSE = 1 << 0;
}
