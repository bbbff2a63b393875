package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_rsrc_register}: the argument of IORING_REGISTER_BUFFERS2 / FILES2. With
 * IORING_RSRC_REGISTER_SPARSE and no data it creates an empty table of {@code nr} slots, which is what ublk's
 * automatic buffer registration fills with each request's pages.
 */
public final class IoUringRsrcRegister {
    private IoUringRsrcRegister() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("nr"),
            JAVA_INT.withName("flags"),
            JAVA_LONG.withName("resv2"),
            JAVA_LONG.withName("data"),
            JAVA_LONG.withName("tags")).withName("io_uring_rsrc_register");

    public static final long NR = Layouts.offset(LAYOUT, "nr");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long DATA = Layouts.offset(LAYOUT, "data");
    public static final long TAGS = Layouts.offset(LAYOUT, "tags");
}
