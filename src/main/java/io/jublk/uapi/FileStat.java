package io.jublk.uapi;

import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * What statx(2) says about a file: type, inode, birth time (0 where the file system keeps none), size, blocks,
 * device numbers and the O_DIRECT alignment
 * (STATX_DIOALIGN, Linux 6.1+; {@code dioOffsetAlign} is 0 when the file system does not report it or does
 * not support O_DIRECT).
 */
public record FileStat(int mode, long ino, long btime, long size, long blocks, int blksize, int rdevMajor, int rdevMinor,
        int devMajor, int devMinor, int dioMemAlign, int dioOffsetAlign) {

    private static final int MASK = LinuxUapi.STATX_BASIC_STATS | LinuxUapi.STATX_BTIME | LinuxUapi.STATX_DIOALIGN;

    public static FileStat of(Fd fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Statx.LAYOUT);
            int r = LibC.rawStatx(fd.get(), a.allocateFrom(""), LinuxUapi.AT_EMPTY_PATH, MASK, buf);
            NativeException.check(r, "statx " + fd.name());
            return decode(buf);
        }
    }

    /** statx of a path without following a final symbolic link (what the path itself is). */
    public static FileStat ofLink(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Statx.LAYOUT);
            int r = LibC.rawStatx(LinuxUapi.AT_FDCWD, a.allocateFrom(path.toString()), LinuxUapi.AT_SYMLINK_NOFOLLOW,
                    MASK, buf);
            NativeException.check(r, "statx " + path);
            return decode(buf);
        }
    }

    /** statx of a path, following symlinks. */
    public static FileStat of(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Statx.LAYOUT);
            int r = LibC.rawStatx(LinuxUapi.AT_FDCWD, a.allocateFrom(path.toString()), 0, MASK, buf);
            NativeException.check(r, "statx " + path);
            return decode(buf);
        }
    }

    private static FileStat decode(MemorySegment s) {
        boolean dio = (Statx.mask(s) & LinuxUapi.STATX_DIOALIGN) != 0;
        long btime = (Statx.mask(s) & LinuxUapi.STATX_BTIME) != 0 ? Statx.btimeNanos(s) : 0;
        return new FileStat(Statx.mode(s), Statx.ino(s), btime, Statx.size(s), Statx.blocks(s), Statx.blksize(s), Statx.rdevMajor(s),
                Statx.rdevMinor(s), Statx.devMajor(s), Statx.devMinor(s), dio ? Statx.dioMemAlign(s) : 0,
                dio ? Statx.dioOffsetAlign(s) : 0);
    }

    /** The file system's device number as the kernel encodes a dev_t (st_dev of stat(2)). */
    public long dev() {
        return encodeDev(devMajor, devMinor);
    }

    /** new_encode_dev: the 32-bit major:minor layout of dev_t (minor's low 8 bits, major, minor's high bits). */
    public static long encodeDev(int major, int minor) {
        return (minor & 0xffL) | ((major & 0xfffL) << 8) | ((minor & ~0xffL & 0xffffffffL) << 12);
    }

    public boolean isSymbolicLink() {
        return type() == 0120000;
    }

    public int type() {
        return mode & LinuxUapi.S_IFMT;
    }

    public boolean isRegular() {
        return type() == LinuxUapi.S_IFREG;
    }

    public boolean isBlockDevice() {
        return type() == LinuxUapi.S_IFBLK;
    }

    public boolean isCharDevice() {
        return type() == LinuxUapi.S_IFCHR;
    }

    public boolean isDirectory() {
        return type() == LinuxUapi.S_IFDIR;
    }
}
