package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * {@code struct ublk_batch_io}: the 16-byte command of UBLK_U_IO_PREP_IO_CMDS, UBLK_U_IO_COMMIT_IO_CMDS and
 * UBLK_U_IO_FETCH_IO_CMDS (UBLK_F_BATCH_IO), in an SQE's command area. PREP and COMMIT point the SQE's
 * {@code addr} at {@code nr_elem} elements of {@code elem_bytes} each ({@link UblkElemHeader}, then the buffer
 * address with UBLK_BATCH_F_HAS_BUF_ADDR); FETCH takes {@code elem_bytes} = 2 (one u16 tag per request handed over)
 * and its buffer from a provided-buffer ring.
 */
public final class UblkBatchIo {
    private UblkBatchIo() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("q_id"),
            JAVA_SHORT.withName("flags"),
            JAVA_SHORT.withName("nr_elem"),
            JAVA_BYTE.withName("elem_bytes"),
            JAVA_BYTE.withName("reserved"),
            JAVA_LONG.withName("reserved2")).withName("ublk_batch_io");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long Q_ID = Layouts.offset(LAYOUT, "q_id");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long NR_ELEM = Layouts.offset(LAYOUT, "nr_elem");
    public static final long ELEM_BYTES = Layouts.offset(LAYOUT, "elem_bytes");

    /** Writes the command at {@code base} (a zeroed SQE's command area). Allocation-free. */
    public static void write(MemorySegment s, long base, int qid, int flags, int nrElem, int elemBytes) {
        s.set(JAVA_SHORT, base + Q_ID, (short) qid);
        s.set(JAVA_SHORT, base + FLAGS, (short) flags);
        s.set(JAVA_SHORT, base + NR_ELEM, (short) nrElem);
        s.set(JAVA_BYTE, base + ELEM_BYTES, (byte) elemBytes);
    }
}
