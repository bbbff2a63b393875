package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** {@code struct ublksrv_ctrl_cmd}: a control command, carried in the command area of a 128-byte SQE. */
public final class UblksrvCtrlCmd {
    private UblksrvCtrlCmd() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("dev_id"),
            JAVA_SHORT.withName("queue_id"),
            JAVA_SHORT.withName("len"),
            JAVA_LONG.withName("addr"),
            MemoryLayout.sequenceLayout(1, JAVA_LONG).withName("data"),
            JAVA_SHORT.withName("dev_path_len"),
            JAVA_SHORT.withName("pad"),
            JAVA_INT.withName("reserved")).withName("ublksrv_ctrl_cmd");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long DEV_ID = Layouts.offset(LAYOUT, "dev_id");
    public static final long QUEUE_ID = Layouts.offset(LAYOUT, "queue_id");
    public static final long LEN = Layouts.offset(LAYOUT, "len");
    public static final long ADDR = Layouts.offset(LAYOUT, "addr");
    public static final long DATA = Layouts.offset(LAYOUT, "data");
    public static final long DEV_PATH_LEN = Layouts.offset(LAYOUT, "dev_path_len");

    /**
     * Writes a whole command at {@code base}; fields not named here are zeroed. {@code devPathLen} is non-zero when
     * {@code addr} begins with the char device's path (an unprivileged device, or GET_DEV_INFO2).
     */
    public static void write(MemorySegment s, long base, int devId, int queueId, int len, long addr, long data0,
            int devPathLen) {
        s.asSlice(base, SIZE).fill((byte) 0);
        s.set(JAVA_SHORT, base + DEV_PATH_LEN, (short) devPathLen);
        s.set(JAVA_INT, base + DEV_ID, devId);
        s.set(JAVA_SHORT, base + QUEUE_ID, (short) queueId);
        s.set(JAVA_SHORT, base + LEN, (short) len);
        s.set(JAVA_LONG, base + ADDR, addr);
        s.set(JAVA_LONG, base + DATA, data0);
    }
}
