package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_basic}: size, block sizes, limits and attributes (UBLK_ATTR_*). */
public final class UblkParamBasic {
    private UblkParamBasic() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("attrs"),
            JAVA_BYTE.withName("logical_bs_shift"),
            JAVA_BYTE.withName("physical_bs_shift"),
            JAVA_BYTE.withName("io_opt_shift"),
            JAVA_BYTE.withName("io_min_shift"),
            JAVA_INT.withName("max_sectors"),
            JAVA_INT.withName("chunk_sectors"),
            JAVA_LONG.withName("dev_sectors"),
            JAVA_LONG.withName("virt_boundary_mask")).withName("ublk_param_basic");

    public static final long ATTRS = Layouts.offset(LAYOUT, "attrs");
    public static final long LOGICAL_BS_SHIFT = Layouts.offset(LAYOUT, "logical_bs_shift");
    public static final long PHYSICAL_BS_SHIFT = Layouts.offset(LAYOUT, "physical_bs_shift");
    public static final long IO_OPT_SHIFT = Layouts.offset(LAYOUT, "io_opt_shift");
    public static final long IO_MIN_SHIFT = Layouts.offset(LAYOUT, "io_min_shift");
    public static final long MAX_SECTORS = Layouts.offset(LAYOUT, "max_sectors");
    public static final long CHUNK_SECTORS = Layouts.offset(LAYOUT, "chunk_sectors");
    public static final long DEV_SECTORS = Layouts.offset(LAYOUT, "dev_sectors");
    public static final long VIRT_BOUNDARY_MASK = Layouts.offset(LAYOUT, "virt_boundary_mask");
}
