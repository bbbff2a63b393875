package io.jublk.spi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblkParamBasic;
import io.jublk.uapi.UblkParamDevt;
import io.jublk.uapi.UblkParamDiscard;
import io.jublk.uapi.UblkParamDmaAlign;
import io.jublk.uapi.UblkParams;
import java.lang.foreign.MemorySegment;

/**
 * The parameters of a device ({@code struct ublk_params}) as a value: what SET_PARAMS sends and GET_PARAMS
 * returns. Only the groups whose {@code UBLK_PARAM_TYPE_*} bit is in {@link #types()} are meaningful.
 *
 * @param devSectors            size in 512-byte sectors
 * @param logicalBsShift        log2 of the logical block size (9 or 12)
 * @param physicalBsShift       log2 of the physical block size
 * @param ioOptShift            log2 of the optimal I/O size
 * @param ioMinShift            log2 of the minimal I/O size
 * @param maxSectors            largest request in sectors (at most the per-tag buffer)
 * @param attrs                 UBLK_ATTR_* (read-only, rotational, volatile cache, FUA)
 * @param discardGranularity    bytes; discard group present when {@code maxDiscardSectors > 0 || maxWriteZeroesSectors > 0}
 * @param maxDiscardSectors     0: no discard
 * @param maxWriteZeroesSectors 0: no write-zeroes
 * @param maxDiscardSegments    at least 1 when discard is on
 * @param dmaAlignment          buffer alignment mask the block layer must honour (0: no group)
 */
public record DeviceParams(int types, long devSectors, int logicalBsShift, int physicalBsShift, int ioOptShift,
        int ioMinShift, int maxSectors, int chunkSectors, int attrs, int discardAlignment, int discardGranularity,
        int maxDiscardSectors, int maxWriteZeroesSectors, int maxDiscardSegments, int dmaAlignment, int charMajor,
        int charMinor, int diskMajor, int diskMinor) {

    public long sizeBytes() {
        return devSectors << 9;
    }

    public int logicalBlockSize() {
        return 1 << logicalBsShift;
    }

    public int physicalBlockSize() {
        return 1 << physicalBsShift;
    }

    public boolean has(int attr) {
        return (attrs & attr) != 0;
    }

    public boolean discard() {
        return (types & Ublk.UBLK_PARAM_TYPE_DISCARD) != 0 && maxDiscardSectors > 0;
    }

    public boolean writeZeroes() {
        return (types & Ublk.UBLK_PARAM_TYPE_DISCARD) != 0 && maxWriteZeroesSectors > 0;
    }

    public void encode(MemorySegment s) {
        s.asSlice(0, UblkParams.SIZE).fill((byte) 0);
        s.set(JAVA_INT, UblkParams.LEN, (int) UblkParams.SIZE);
        // devt is read-only: the kernel rejects SET_PARAMS that carries it.
        int sendTypes = types & ~Ublk.UBLK_PARAM_TYPE_DEVT;
        s.set(JAVA_INT, UblkParams.TYPES, sendTypes);
        long b = UblkParams.BASIC;
        s.set(JAVA_INT, b + UblkParamBasic.ATTRS, attrs);
        s.set(JAVA_BYTE, b + UblkParamBasic.LOGICAL_BS_SHIFT, (byte) logicalBsShift);
        s.set(JAVA_BYTE, b + UblkParamBasic.PHYSICAL_BS_SHIFT, (byte) physicalBsShift);
        s.set(JAVA_BYTE, b + UblkParamBasic.IO_OPT_SHIFT, (byte) ioOptShift);
        s.set(JAVA_BYTE, b + UblkParamBasic.IO_MIN_SHIFT, (byte) ioMinShift);
        s.set(JAVA_INT, b + UblkParamBasic.MAX_SECTORS, maxSectors);
        s.set(JAVA_INT, b + UblkParamBasic.CHUNK_SECTORS, chunkSectors);
        s.set(JAVA_LONG, b + UblkParamBasic.DEV_SECTORS, devSectors);
        if ((sendTypes & Ublk.UBLK_PARAM_TYPE_DISCARD) != 0) {
            long d = UblkParams.DISCARD;
            s.set(JAVA_INT, d + UblkParamDiscard.DISCARD_ALIGNMENT, discardAlignment);
            s.set(JAVA_INT, d + UblkParamDiscard.DISCARD_GRANULARITY, discardGranularity);
            s.set(JAVA_INT, d + UblkParamDiscard.MAX_DISCARD_SECTORS, maxDiscardSectors);
            s.set(JAVA_INT, d + UblkParamDiscard.MAX_WRITE_ZEROES_SECTORS, maxWriteZeroesSectors);
            s.set(JAVA_SHORT, d + UblkParamDiscard.MAX_DISCARD_SEGMENTS, (short) maxDiscardSegments);
        }
        if ((sendTypes & Ublk.UBLK_PARAM_TYPE_DMA_ALIGN) != 0) {
            s.set(JAVA_INT, UblkParams.DMA + UblkParamDmaAlign.ALIGNMENT, dmaAlignment);
        }
    }

    public static DeviceParams decode(MemorySegment s) {
        long b = UblkParams.BASIC;
        long d = UblkParams.DISCARD;
        long t = UblkParams.DEVT;
        return new DeviceParams(s.get(JAVA_INT, UblkParams.TYPES),
                s.get(JAVA_LONG, b + UblkParamBasic.DEV_SECTORS),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, b + UblkParamBasic.LOGICAL_BS_SHIFT)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, b + UblkParamBasic.PHYSICAL_BS_SHIFT)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, b + UblkParamBasic.IO_OPT_SHIFT)),
                Byte.toUnsignedInt(s.get(JAVA_BYTE, b + UblkParamBasic.IO_MIN_SHIFT)),
                s.get(JAVA_INT, b + UblkParamBasic.MAX_SECTORS),
                s.get(JAVA_INT, b + UblkParamBasic.CHUNK_SECTORS),
                s.get(JAVA_INT, b + UblkParamBasic.ATTRS),
                s.get(JAVA_INT, d + UblkParamDiscard.DISCARD_ALIGNMENT),
                s.get(JAVA_INT, d + UblkParamDiscard.DISCARD_GRANULARITY),
                s.get(JAVA_INT, d + UblkParamDiscard.MAX_DISCARD_SECTORS),
                s.get(JAVA_INT, d + UblkParamDiscard.MAX_WRITE_ZEROES_SECTORS),
                Short.toUnsignedInt(s.get(JAVA_SHORT, d + UblkParamDiscard.MAX_DISCARD_SEGMENTS)),
                s.get(JAVA_INT, UblkParams.DMA + UblkParamDmaAlign.ALIGNMENT),
                s.get(JAVA_INT, t + UblkParamDevt.CHAR_MAJOR), s.get(JAVA_INT, t + UblkParamDevt.CHAR_MINOR),
                s.get(JAVA_INT, t + UblkParamDevt.DISK_MAJOR), s.get(JAVA_INT, t + UblkParamDevt.DISK_MINOR));
    }

    /** Basic parameters for a device of {@code sizeBytes} with the given block sizes and attributes. */
    public static DeviceParams basic(long sizeBytes, int logicalBlockSize, int physicalBlockSize, int maxIoBytes,
            int attrs) {
        int lbs = Integer.numberOfTrailingZeros(logicalBlockSize);
        int pbs = Integer.numberOfTrailingZeros(physicalBlockSize);
        return new DeviceParams(Ublk.UBLK_PARAM_TYPE_BASIC, sizeBytes >>> 9, lbs, pbs, pbs, pbs, maxIoBytes >>> 9, 0,
                attrs, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    /** Adds the discard group: discard and/or write-zeroes up to {@code maxSectors} per request. */
    public DeviceParams withDiscard(int granularity, int maxDiscard, int maxWriteZeroes) {
        return new DeviceParams(types | Ublk.UBLK_PARAM_TYPE_DISCARD, devSectors, logicalBsShift, physicalBsShift,
                ioOptShift, ioMinShift, maxSectors, chunkSectors, attrs, 0, granularity, maxDiscard, maxWriteZeroes,
                maxDiscard > 0 ? 1 : 0, dmaAlignment, charMajor, charMinor, diskMajor, diskMinor);
    }

    /** Adds the DMA alignment group ({@code alignmentMask}: e.g. 511 for 512-byte aligned buffers). */
    public DeviceParams withDmaAlignment(int alignmentMask) {
        return new DeviceParams(types | Ublk.UBLK_PARAM_TYPE_DMA_ALIGN, devSectors, logicalBsShift, physicalBsShift,
                ioOptShift, ioMinShift, maxSectors, chunkSectors, attrs, discardAlignment, discardGranularity,
                maxDiscardSectors, maxWriteZeroesSectors, maxDiscardSegments, alignmentMask, charMajor, charMinor,
                diskMajor, diskMinor);
    }
}
