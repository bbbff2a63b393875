package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct ublk_elem_header}: the fixed 8 bytes of each element of a PREP_IO_CMDS / COMMIT_IO_CMDS buffer
 * (UBLK_F_BATCH_IO). An element may carry 8 more bytes after it: the request buffer's address
 * (UBLK_BATCH_F_HAS_BUF_ADDR), then a zone append LBA (UBLK_BATCH_F_HAS_ZONE_LBA).
 */
public final class UblkElemHeader {
    private UblkElemHeader() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("tag"),
            JAVA_SHORT.withName("buf_index"),
            JAVA_INT.withName("result")).withName("ublk_elem_header");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long TAG = Layouts.offset(LAYOUT, "tag");
    public static final long BUF_INDEX = Layouts.offset(LAYOUT, "buf_index");
    public static final long RESULT = Layouts.offset(LAYOUT, "result");
}
