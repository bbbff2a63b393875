package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct io_uring_buf_reg}: the argument of IORING_REGISTER_PBUF_RING (a provided-buffer ring). */
public final class IoUringBufReg {
    private IoUringBufReg() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("ring_addr"),
            JAVA_INT.withName("ring_entries"),
            JAVA_SHORT.withName("bgid"),
            JAVA_SHORT.withName("flags"),
            JAVA_INT.withName("min_left"),
            MemoryLayout.sequenceLayout(5, JAVA_INT).withName("resv")).withName("io_uring_buf_reg");

    public static final long RING_ADDR = Layouts.offset(LAYOUT, "ring_addr");
    public static final long RING_ENTRIES = Layouts.offset(LAYOUT, "ring_entries");
    public static final long BGID = Layouts.offset(LAYOUT, "bgid");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
}
