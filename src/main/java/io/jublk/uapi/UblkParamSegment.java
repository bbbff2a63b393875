package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_segment}: segment limits of the request queue. */
public final class UblkParamSegment {
    private UblkParamSegment() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("seg_boundary_mask"),
            JAVA_INT.withName("max_segment_size"),
            JAVA_SHORT.withName("max_segments"),
            MemoryLayout.sequenceLayout(2, JAVA_BYTE).withName("pad")).withName("ublk_param_segment");
}
