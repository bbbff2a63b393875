package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_zoned}: zoned-device limits (jublk serves no zoned target yet). */
public final class UblkParamZoned {
    private UblkParamZoned() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("max_open_zones"),
            JAVA_INT.withName("max_active_zones"),
            JAVA_INT.withName("max_zone_append_sectors"),
            MemoryLayout.sequenceLayout(20, JAVA_BYTE).withName("reserved")).withName("ublk_param_zoned");
}
