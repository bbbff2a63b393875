package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct ublk_params}: what SET_PARAMS sends and GET_PARAMS returns. {@code len} must be set by the
 * caller for both; {@code types} says which groups are present (UBLK_PARAM_TYPE_*).
 */
public final class UblkParams {
    private UblkParams() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("len"),
            JAVA_INT.withName("types"),
            UblkParamBasic.LAYOUT.withName("basic"),
            UblkParamDiscard.LAYOUT.withName("discard"),
            UblkParamDevt.LAYOUT.withName("devt"),
            UblkParamZoned.LAYOUT.withName("zoned"),
            UblkParamDmaAlign.LAYOUT.withName("dma"),
            // C aligns the next group (it holds a __u64) to 8: 4 bytes of implicit padding at 116.
            MemoryLayout.paddingLayout(4),
            UblkParamSegment.LAYOUT.withName("seg"),
            UblkParamIntegrity.LAYOUT.withName("integrity")).withName("ublk_params");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long LEN = Layouts.offset(LAYOUT, "len");
    public static final long TYPES = Layouts.offset(LAYOUT, "types");
    public static final long BASIC = Layouts.offset(LAYOUT, "basic");
    public static final long DISCARD = Layouts.offset(LAYOUT, "discard");
    public static final long DEVT = Layouts.offset(LAYOUT, "devt");
    public static final long ZONED = Layouts.offset(LAYOUT, "zoned");
    public static final long DMA = Layouts.offset(LAYOUT, "dma");
    public static final long SEG = Layouts.offset(LAYOUT, "seg");
    public static final long INTEGRITY = Layouts.offset(LAYOUT, "integrity");
}
