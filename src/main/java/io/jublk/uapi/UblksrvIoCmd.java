package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** {@code struct ublksrv_io_cmd}: FETCH_REQ / COMMIT_AND_FETCH_REQ payload, in an SQE's 16-byte command area. */
public final class UblksrvIoCmd {
    private UblksrvIoCmd() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("q_id"),
            JAVA_SHORT.withName("tag"),
            JAVA_INT.withName("result"),
            MemoryLayout.unionLayout(
                    JAVA_LONG.withName("addr"),
                    JAVA_LONG.withName("zone_append_lba")).withName(Layouts.ANONYMOUS + "u1"))
            .withName("ublksrv_io_cmd");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long Q_ID = Layouts.offset(LAYOUT, "q_id");
    public static final long TAG = Layouts.offset(LAYOUT, "tag");
    public static final long RESULT = Layouts.offset(LAYOUT, "result");
    public static final long ADDR = Layouts.offset(LAYOUT, Layouts.ANONYMOUS + "u1", "addr");

    /** Writes the command at {@code base} (the SQE's command area). Allocation-free. */
    public static void write(MemorySegment s, long base, int qid, int tag, int result, long addr) {
        s.set(JAVA_SHORT, base + Q_ID, (short) qid);
        s.set(JAVA_SHORT, base + TAG, (short) tag);
        s.set(JAVA_INT, base + RESULT, result);
        s.set(JAVA_LONG, base + ADDR, addr);
    }
}
