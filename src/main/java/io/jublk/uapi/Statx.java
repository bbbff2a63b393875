package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** {@code struct statx} (256 bytes); only the members jublk reads are named, the rest is padding. */
public final class Statx {
    private Statx() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("stx_mask"),
            JAVA_INT.withName("stx_blksize"),
            MemoryLayout.paddingLayout(20),
            JAVA_SHORT.withName("stx_mode"),
            MemoryLayout.paddingLayout(2),
            JAVA_LONG.withName("stx_ino"),
            JAVA_LONG.withName("stx_size"),
            JAVA_LONG.withName("stx_blocks"),
            MemoryLayout.paddingLayout(24),
            MemoryLayout.structLayout(
                    JAVA_LONG.withName("tv_sec"),
                    JAVA_INT.withName("tv_nsec"),
                    MemoryLayout.paddingLayout(4)).withName("stx_btime"),
            MemoryLayout.paddingLayout(32),
            JAVA_INT.withName("stx_rdev_major"),
            JAVA_INT.withName("stx_rdev_minor"),
            JAVA_INT.withName("stx_dev_major"),
            JAVA_INT.withName("stx_dev_minor"),
            MemoryLayout.paddingLayout(8),
            JAVA_INT.withName("stx_dio_mem_align"),
            JAVA_INT.withName("stx_dio_offset_align"),
            MemoryLayout.paddingLayout(96)).withName("statx");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long STX_MASK = Layouts.offset(LAYOUT, "stx_mask");
    public static final long STX_BLKSIZE = Layouts.offset(LAYOUT, "stx_blksize");
    public static final long STX_MODE = Layouts.offset(LAYOUT, "stx_mode");
    public static final long STX_INO = Layouts.offset(LAYOUT, "stx_ino");
    public static final long STX_SIZE = Layouts.offset(LAYOUT, "stx_size");
    public static final long STX_BLOCKS = Layouts.offset(LAYOUT, "stx_blocks");
    public static final long STX_BTIME = Layouts.offset(LAYOUT, "stx_btime");
    public static final long STX_RDEV_MAJOR = Layouts.offset(LAYOUT, "stx_rdev_major");
    public static final long STX_RDEV_MINOR = Layouts.offset(LAYOUT, "stx_rdev_minor");
    public static final long STX_DEV_MAJOR = Layouts.offset(LAYOUT, "stx_dev_major");
    public static final long STX_DEV_MINOR = Layouts.offset(LAYOUT, "stx_dev_minor");
    public static final long STX_DIO_MEM_ALIGN = Layouts.offset(LAYOUT, "stx_dio_mem_align");
    public static final long STX_DIO_OFFSET_ALIGN = Layouts.offset(LAYOUT, "stx_dio_offset_align");

    public static int mask(MemorySegment s) {
        return s.get(JAVA_INT, STX_MASK);
    }

    public static int mode(MemorySegment s) {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, STX_MODE));
    }

    public static long ino(MemorySegment s) {
        return s.get(JAVA_LONG, STX_INO);
    }

    public static long size(MemorySegment s) {
        return s.get(JAVA_LONG, STX_SIZE);
    }

    public static long blocks(MemorySegment s) {
        return s.get(JAVA_LONG, STX_BLOCKS);
    }

    /** Birth time in nanoseconds since the epoch (valid when the mask has STATX_BTIME). */
    public static long btimeNanos(MemorySegment s) {
        return s.get(JAVA_LONG, STX_BTIME) * 1_000_000_000L + s.get(JAVA_INT, STX_BTIME + 8);
    }

    public static int blksize(MemorySegment s) {
        return s.get(JAVA_INT, STX_BLKSIZE);
    }

    public static int rdevMajor(MemorySegment s) {
        return s.get(JAVA_INT, STX_RDEV_MAJOR);
    }

    public static int rdevMinor(MemorySegment s) {
        return s.get(JAVA_INT, STX_RDEV_MINOR);
    }

    public static int devMajor(MemorySegment s) {
        return s.get(JAVA_INT, STX_DEV_MAJOR);
    }

    public static int devMinor(MemorySegment s) {
        return s.get(JAVA_INT, STX_DEV_MINOR);
    }

    public static int dioMemAlign(MemorySegment s) {
        return s.get(JAVA_INT, STX_DIO_MEM_ALIGN);
    }

    public static int dioOffsetAlign(MemorySegment s) {
        return s.get(JAVA_INT, STX_DIO_OFFSET_ALIGN);
    }
}
