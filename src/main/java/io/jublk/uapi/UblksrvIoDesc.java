package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct ublksrv_io_desc}: one request, written by the driver into the read-only array a queue maps
 * from {@code /dev/ublkcN}, indexed by tag. {@code op_flags}: operation in bits 0-7 (UBLK_IO_OP_*), flags
 * above (UBLK_IO_F_*).
 */
public final class UblksrvIoDesc {
    private UblksrvIoDesc() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("op_flags"),
            MemoryLayout.unionLayout(
                    JAVA_INT.withName("nr_sectors"),
                    JAVA_INT.withName("nr_zones")).withName(Layouts.ANONYMOUS + "u1"),
            JAVA_LONG.withName("start_sector"),
            JAVA_LONG.withName("addr")).withName("ublksrv_io_desc");

    /** The size this layout describes; the driver's actual stride is {@code io_desc_size} of the device info. */
    public static final long SIZE = LAYOUT.byteSize();
    public static final long OP_FLAGS = Layouts.offset(LAYOUT, "op_flags");
    public static final long NR_SECTORS = Layouts.offset(LAYOUT, Layouts.ANONYMOUS + "u1", "nr_sectors");
    public static final long START_SECTOR = Layouts.offset(LAYOUT, "start_sector");
    public static final long ADDR = Layouts.offset(LAYOUT, "addr");

    public static int op(int opFlags) {
        return opFlags & 0xff;
    }

    public static int flags(int opFlags) {
        return opFlags >>> 8;
    }
}
