package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_dma_align}: the memory alignment the device asks of I/O buffers. */
public final class UblkParamDmaAlign {
    private UblkParamDmaAlign() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("alignment"),
            MemoryLayout.sequenceLayout(4, JAVA_BYTE).withName("pad")).withName("ublk_param_dma_align");

    public static final long ALIGNMENT = Layouts.offset(LAYOUT, "alignment");
}
