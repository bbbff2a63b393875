package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_integrity} (7.x, needs UBLK_F_INTEGRITY): metadata/PI layout. */
public final class UblkParamIntegrity {
    private UblkParamIntegrity() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"),
            JAVA_SHORT.withName("max_integrity_segments"),
            JAVA_BYTE.withName("interval_exp"),
            JAVA_BYTE.withName("metadata_size"),
            JAVA_BYTE.withName("pi_offset"),
            JAVA_BYTE.withName("csum_type"),
            JAVA_BYTE.withName("tag_size"),
            MemoryLayout.sequenceLayout(5, JAVA_BYTE).withName("pad")).withName("ublk_param_integrity");
}
