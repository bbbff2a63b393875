package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_rsrc_update}: one entry of the argument of IORING_REGISTER_RING_FDS and
 * IORING_UNREGISTER_RING_FDS. To register, {@code data} is the ring's descriptor and {@code offset} the wanted slot
 * of the calling task's registered-ring table, or -1 for any free one; the kernel writes the slot it took back into
 * {@code offset}. To unregister, {@code offset} names the slot and {@code data} is 0.
 */
public final class IoUringRsrcUpdate {
    private IoUringRsrcUpdate() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("offset"),
            JAVA_INT.withName("resv"),
            JAVA_LONG.withName("data")).withName("io_uring_rsrc_update");

    public static final long OFFSET = Layouts.offset(LAYOUT, "offset");
    public static final long DATA = Layouts.offset(LAYOUT, "data");
}
