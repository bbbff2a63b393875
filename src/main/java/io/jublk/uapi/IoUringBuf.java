package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_buf}: one entry of a provided-buffer ring. The ring's tail (a u16 the application
 * publishes) overlays {@code resv} of entry 0 ({@code struct io_uring_buf_ring}). With IOU_PBUF_RING_INC the kernel
 * consumes an entry in pieces, moving its {@code addr} forward and shrinking its {@code len} as it goes.
 */
public final class IoUringBuf {
    private IoUringBuf() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("addr"),
            JAVA_INT.withName("len"),
            JAVA_SHORT.withName("bid"),
            JAVA_SHORT.withName("resv")).withName("io_uring_buf");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long ADDR = Layouts.offset(LAYOUT, "addr");
    public static final long LEN = Layouts.offset(LAYOUT, "len");
    public static final long BID = Layouts.offset(LAYOUT, "bid");
    /** Where {@code struct io_uring_buf_ring} keeps its tail: entry 0's resv. */
    public static final long RING_TAIL = Layouts.offset(LAYOUT, "resv");
}
