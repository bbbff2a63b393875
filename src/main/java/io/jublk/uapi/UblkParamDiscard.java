package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_discard}: discard and write-zeroes limits. */
public final class UblkParamDiscard {
    private UblkParamDiscard() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("discard_alignment"),
            JAVA_INT.withName("discard_granularity"),
            JAVA_INT.withName("max_discard_sectors"),
            JAVA_INT.withName("max_write_zeroes_sectors"),
            JAVA_SHORT.withName("max_discard_segments"),
            JAVA_SHORT.withName("reserved0")).withName("ublk_param_discard");

    public static final long DISCARD_ALIGNMENT = Layouts.offset(LAYOUT, "discard_alignment");
    public static final long DISCARD_GRANULARITY = Layouts.offset(LAYOUT, "discard_granularity");
    public static final long MAX_DISCARD_SECTORS = Layouts.offset(LAYOUT, "max_discard_sectors");
    public static final long MAX_WRITE_ZEROES_SECTORS = Layouts.offset(LAYOUT, "max_write_zeroes_sectors");
    public static final long MAX_DISCARD_SEGMENTS = Layouts.offset(LAYOUT, "max_discard_segments");
}
