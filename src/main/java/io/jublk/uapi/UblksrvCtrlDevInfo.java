package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct ublksrv_ctrl_dev_info}: the payload of ADD_DEV and GET_DEV_INFO.
 *
 * <p>Since 7.3 the 16-bit field at byte 6 (padding before) is {@code io_desc_size}: the kernel reports the
 * size of one {@code ublksrv_io_desc}, and takes it as an input with {@code UBLK_F_IO_DESC_SIZE}.
 * Older kernels leave it 0, which means {@link UblksrvIoDesc#SIZE}.
 */
public final class UblksrvCtrlDevInfo {
    private UblksrvCtrlDevInfo() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("nr_hw_queues"),
            JAVA_SHORT.withName("queue_depth"),
            JAVA_SHORT.withName("state"),
            JAVA_SHORT.withName("io_desc_size"),
            JAVA_INT.withName("max_io_buf_bytes"),
            JAVA_INT.withName("dev_id"),
            JAVA_INT.withName("ublksrv_pid"),
            JAVA_INT.withName("pad1"),
            JAVA_LONG.withName("flags"),
            JAVA_LONG.withName("ublksrv_flags"),
            JAVA_INT.withName("owner_uid"),
            JAVA_INT.withName("owner_gid"),
            JAVA_LONG.withName("reserved1"),
            JAVA_LONG.withName("reserved2")).withName("ublksrv_ctrl_dev_info");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long NR_HW_QUEUES = Layouts.offset(LAYOUT, "nr_hw_queues");
    public static final long QUEUE_DEPTH = Layouts.offset(LAYOUT, "queue_depth");
    public static final long STATE = Layouts.offset(LAYOUT, "state");
    public static final long IO_DESC_SIZE = Layouts.offset(LAYOUT, "io_desc_size");
    public static final long MAX_IO_BUF_BYTES = Layouts.offset(LAYOUT, "max_io_buf_bytes");
    public static final long DEV_ID = Layouts.offset(LAYOUT, "dev_id");
    public static final long UBLKSRV_PID = Layouts.offset(LAYOUT, "ublksrv_pid");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long UBLKSRV_FLAGS = Layouts.offset(LAYOUT, "ublksrv_flags");
    public static final long OWNER_UID = Layouts.offset(LAYOUT, "owner_uid");
    public static final long OWNER_GID = Layouts.offset(LAYOUT, "owner_gid");

    public static int nrHwQueues(MemorySegment s) {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, NR_HW_QUEUES));
    }

    public static int queueDepth(MemorySegment s) {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, QUEUE_DEPTH));
    }

    public static int state(MemorySegment s) {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, STATE));
    }

    public static int ioDescSize(MemorySegment s) {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, IO_DESC_SIZE));
    }

    public static int maxIoBufBytes(MemorySegment s) {
        return s.get(JAVA_INT, MAX_IO_BUF_BYTES);
    }

    public static int devId(MemorySegment s) {
        return s.get(JAVA_INT, DEV_ID);
    }

    public static int ublksrvPid(MemorySegment s) {
        return s.get(JAVA_INT, UBLKSRV_PID);
    }

    public static long flags(MemorySegment s) {
        return s.get(JAVA_LONG, FLAGS);
    }

    public static long ublksrvFlags(MemorySegment s) {
        return s.get(JAVA_LONG, UBLKSRV_FLAGS);
    }

    public static int ownerUid(MemorySegment s) {
        return s.get(JAVA_INT, OWNER_UID);
    }

    public static int ownerGid(MemorySegment s) {
        return s.get(JAVA_INT, OWNER_GID);
    }

    /** Fills the fields a server sets for ADD_DEV; the rest is zeroed. */
    public static void writeForAdd(MemorySegment s, int devId, int queues, int depth, int maxIoBufBytes,
            long flags, long ublksrvFlags) {
        s.asSlice(0, SIZE).fill((byte) 0);
        s.set(JAVA_SHORT, NR_HW_QUEUES, (short) queues);
        s.set(JAVA_SHORT, QUEUE_DEPTH, (short) depth);
        s.set(JAVA_INT, MAX_IO_BUF_BYTES, maxIoBufBytes);
        s.set(JAVA_INT, DEV_ID, devId);
        s.set(JAVA_LONG, FLAGS, flags);
        s.set(JAVA_LONG, UBLKSRV_FLAGS, ublksrvFlags);
    }
}
