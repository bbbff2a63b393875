package io.jublk.targets;

import static io.jublk.uapi.LinuxUapi.FALLOC_FL_KEEP_SIZE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_PUNCH_HOLE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_ZERO_RANGE;

import io.jublk.spi.ConfigException;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.FileStat;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.OpenHow;
import io.jublk.uapi.Syscalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The loop target's backing file (or block device): opened once, and everything about it learned through that
 * one descriptor — its kind, identity, size, alignment, whether it can punch holes — so that no later step can
 * act on another file that took its path in the meantime.
 *
 * <p>The rule this class keeps: no byte of the file outside {@code [0, device size)} is ever written, punched or
 * truncated. The only change to the file's size is extending it when {@code --size} asks for a larger device.
 * Whether holes can be punched is learned on an unnamed scratch file ({@code O_TMPFILE}) in the same directory,
 * never on the user's file.
 *
 * <p>Two descriptors may be open: {@link #fd()} (buffered, from the open by path) and, in direct mode,
 * {@link #directFd()}, a second open of the same file through {@code /proc/self/fd} with {@code O_DIRECT} (the
 * same inode for certain: it is not a lookup by path). The buffered one stays for what O_DIRECT cannot do (an
 * unaligned remainder of a short transfer).
 */
public final class BackingFile implements AutoCloseable {
    /** How the backing file is accessed. */
    public enum Mode {
        DIRECT, BUFFERED;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Whether discard (punching holes) works on the file. */
    public enum Discard {
        /** Probed on a scratch file in the same file system: it works. */
        YES,
        /** Probed: the file system cannot punch holes, or the file is read-only. */
        NO,
        /** Could not probe without touching the file (no O_TMPFILE there): learned from the first discard. */
        UNKNOWN
    }

    /**
     * What identifies the file the device was created with: its path without symbolic links, the file system's
     * device number, the inode and its birth time (an inode number is reused as soon as a file is deleted; the
     * birth time tells the new file from the old; 0 where the file system keeps none), and its size (for a block
     * device, the device's size).
     */
    public record Identity(String path, long dev, long ino, long btime, long size, boolean blockDevice) {
        boolean sameFile(FileStat st) {
            return st.dev() == dev && st.ino() == ino && st.btime() == btime;
        }
    }

    /** What `ublk add loop` asked for about the file. */
    public record Request(Path file, Long size, Mode mode, boolean readOnly, boolean allowShared) {}

    private final Path path;
    private final Fd fd;
    private final Fd direct;
    private final boolean created;
    /** What the created file was, so that it can be removed later only if the path still names it. */
    private final FileStat createdStat;
    private Identity identity;
    private final Mode mode;
    private final int alignment;
    private final int dioMemAlign;
    private final int physicalBlockSize;
    private final Discard discard;
    private final boolean zeroRange;
    private final List<String> warnings;

    private BackingFile(Path path, Fd fd, Fd direct, boolean created, Identity identity, Mode mode, int alignment,
            int dioMemAlign, int physicalBlockSize, Discard discard, boolean zeroRange, List<String> warnings) {
        this.path = path;
        this.fd = fd;
        this.direct = direct;
        this.created = created;
        this.createdStat = created ? FileStat.of(fd) : null;
        this.identity = identity;
        this.mode = mode;
        this.alignment = alignment;
        this.dioMemAlign = dioMemAlign;
        this.physicalBlockSize = physicalBlockSize;
        this.discard = discard;
        this.zeroRange = zeroRange;
        this.warnings = warnings;
    }

    // ---- checks that need no descriptor, for `ublk add` before it starts a daemon --------------------------

    /**
     * The checks `ublk add` makes before it starts a daemon, without opening or creating anything, so that bad
     * input costs little. They are repeated on the descriptor when the file is opened: these only give the
     * clearer message early.
     */
    public static void check(Request c) {
        Path p = c.file();
        if (Files.isDirectory(p)) {
            throw new ConfigException(p + " is a directory, not a file or block device");
        }
        if (!Files.exists(p)) {
            if (Files.isSymbolicLink(p)) {
                String to;
                try {
                    to = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    to = "a path";
                }
                throw new ConfigException(p + " is a symbolic link to " + to
                        + ", which does not exist: not creating a file through it");
            }
            if (c.size() == null) {
                throw new ConfigException(p + " does not exist (give --size to create it)");
            }
            if (c.readOnly()) {
                throw new ConfigException(p + " does not exist, and --read-only cannot create it");
            }
            Path parent = p.toAbsolutePath().getParent();
            if (parent == null || !Files.exists(parent)) {
                throw new ConfigException("cannot create " + p + ": " + parent + " does not exist");
            }
            if (!Files.isDirectory(parent)) {
                throw new ConfigException("cannot create " + p + ": " + parent + " is not a directory");
            }
        } else {
            FileStat st = FileStat.of(p);
            checkKind(p, st);
            if (!c.readOnly() && !Files.isWritable(p)) {
                throw new ConfigException("cannot open " + p + " read-write (use --read-only to serve it read-only)");
            }
        }
        if (c.size() != null && c.size() <= 0) {
            throw new ConfigException("--size must be greater than 0");
        }
    }

    private static void checkKind(Path p, FileStat st) {
        if (st.isDirectory()) {
            throw new ConfigException(p + " is a directory, not a file or block device");
        }
        if (st.isCharDevice()) {
            String ublk = ublkDeviceName(st);
            throw new ConfigException(p + (ublk != null ? " is ublk device " + ublk
                    + ": a ublk device cannot be backed by a ublk device" : " is a character device, not a file or block device"));
        }
        if (!st.isRegular() && !st.isBlockDevice()) {
            throw new ConfigException(p + " is not a regular file or block device");
        }
        String ublk = ublkDeviceName(st);
        if (ublk != null) {
            throw new ConfigException(p + " is ublk device " + ublk
                    + ": a ublk device cannot be backed by a ublk device");
        }
    }

    /** The name ("ublkb3") if {@code st} is a ublk block or char device, from sysfs by device number. */
    static String ublkDeviceName(FileStat st) {
        if (!st.isBlockDevice() && !st.isCharDevice()) {
            return null;
        }
        String kind = st.isBlockDevice() ? "block" : "char";
        Path sys = Path.of("/sys/dev/" + kind + "/" + st.rdevMajor() + ":" + st.rdevMinor());
        try {
            if (Files.exists(sys, LinkOption.NOFOLLOW_LINKS)) {
                String name = sys.toRealPath().getFileName().toString();
                if (name.matches("ublk[bc]\\d+")) {
                    return name;
                }
            }
        } catch (IOException e) {
            // Not resolvable: not a ublk device as far as we can tell.
        }
        return null;
    }

    // ---- opening ----------------------------------------------------------------------------------------

    /**
     * Opens (or, when {@code --size} is given and the path does not exist, creates) the file for a new device of
     * {@code size} bytes (null: the file's size, rounded down to {@code logicalBlockSize}).
     *
     * @param logicalBlockSize what the user asked for, or null
     */
    public static BackingFile open(Request c) {
        check(c);
        Path given = c.file().toAbsolutePath();
        int access = c.readOnly() ? LinuxUapi.O_RDONLY : LinuxUapi.O_RDWR;
        boolean created = false;
        int r;
        if (c.size() != null && !c.readOnly() && !Files.exists(given, LinkOption.NOFOLLOW_LINKS)) {
            // O_EXCL|O_NOFOLLOW: never through a symbolic link, never a file someone else just made.
            r = open(given, LinuxUapi.O_RDWR | LinuxUapi.O_CREAT | LinuxUapi.O_EXCL | LinuxUapi.O_NOFOLLOW, 0600);
            if (r == -Errno.EEXIST) {
                throw new ConfigException(given + " appeared while it was being created: not touching it");
            }
            created = r >= 0;
        } else {
            r = open(given, access, 0);
        }
        if (r < 0) {
            throw openError(given, r, c.readOnly());
        }
        Fd fd = Fd.adopt(r, given.toString());
        try {
            return finish(c, fd, created, null);
        } catch (RuntimeException | Error e) {
            try {
                if (created) {
                    unlinkIfSame(given, FileStat.of(fd));
                }
            } finally {
                fd.close();
            }
            throw e;
        }
    }

    /**
     * Opens the file a device was created with, for a new server taking the device over: by its recorded path,
     * refusing any symbolic link on the way (a path replaced by a link while the server was away is not followed),
     * never creating anything, and refusing a file whose identity or size differs from the record.
     */
    public static BackingFile reopen(Request c, Identity expected) {
        Path p = Path.of(expected.path());
        int access = c.readOnly() ? LinuxUapi.O_RDONLY : LinuxUapi.O_RDWR;
        int r = openNoSymlinks(p, access);
        if (r == -Errno.ELOOP) {
            throw new ConfigException(p + " is no longer the path the device was created with (a symbolic link "
                    + "is in its way now): not serving it");
        }
        if (r == -Errno.ENOENT || r == -Errno.ENOTDIR) {
            throw new ConfigException(p + ", the device's backing file, no longer exists: not creating it");
        }
        if (r < 0) {
            throw openError(p, r, c.readOnly());
        }
        Fd fd = Fd.adopt(r, p.toString());
        try {
            FileStat st = FileStat.of(fd);
            if (!expected.sameFile(st)) {
                throw new ConfigException(p + " is another file than the one the device was created with (device "
                        + st.dev() + " inode " + st.ino() + " born " + st.btime() + ", recorded " + expected.dev()
                        + " inode " + expected.ino() + " born " + expected.btime() + "): not serving it");
            }
            return finish(c, fd, false, expected);
        } catch (RuntimeException | Error e) {
            fd.close();
            throw e;
        }
    }

    private static int open(Path p, int flags, int mode) {
        return Fd.tryOpen(p, flags | LinuxUapi.O_CLOEXEC, mode);
    }

    /** openat2 with RESOLVE_NO_SYMLINKS (ELOOP if any component is a link); a kernel without it: O_NOFOLLOW. */
    private static int openNoSymlinks(Path p, int access) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment how = a.allocate(OpenHow.LAYOUT);
            OpenHow.write(how, access | LinuxUapi.O_CLOEXEC | LinuxUapi.O_NOFOLLOW, 0,
                    LinuxUapi.RESOLVE_NO_SYMLINKS | LinuxUapi.RESOLVE_NO_MAGICLINKS);
            int r = Syscalls.rawOpenat2(LinuxUapi.AT_FDCWD, a.allocateFrom(p.toString()), how);
            if (r == -Errno.ENOSYS) {
                // Before Linux 5.6: the last component at least; the identity check decides anyway.
                r = open(p, access | LinuxUapi.O_NOFOLLOW, 0);
            }
            return r;
        }
    }

    private static RuntimeException openError(Path p, int r, boolean readOnly) {
        if (r == -Errno.EACCES || r == -Errno.EPERM || r == -Errno.EROFS) {
            return new ConfigException("cannot open " + p + (readOnly ? " for reading" : " read-write") + ": "
                    + Errno.name(r) + (readOnly ? "" : " (use --read-only to serve it read-only)"));
        }
        if (r == -Errno.ELOOP) {
            return new ConfigException(p + " is a symbolic link: not creating a file through it");
        }
        if (r == -Errno.ENOENT) {
            return new ConfigException(p + " does not exist");
        }
        if (r == -Errno.ENOTDIR) {
            return new ConfigException(p + ": a component of the path is not a directory");
        }
        return new NativeException(r, "open " + p);
    }

    private static BackingFile finish(Request c, Fd fd, boolean created, Identity expected) {
        List<String> warnings = new ArrayList<>();
        FileStat st = FileStat.of(fd);
        checkKind(Path.of(fd.name()), st);
        Path real = realPath(fd);
        boolean bdev = st.isBlockDevice();
        lock(fd, real, c.allowShared());

        long available;
        int lbsMin = 512;
        int pbs = 4096;
        if (bdev) {
            available = ioctlLong(fd, LinuxUapi.BLKGETSIZE64, "BLKGETSIZE64");
            lbsMin = ioctlInt(fd, LinuxUapi.BLKSSZGET, "BLKSSZGET");
            pbs = ioctlInt(fd, LinuxUapi.BLKPBSZGET, "BLKPBSZGET");
        } else {
            available = st.size();
        }
        if (expected != null && available != expected.size()) {
            throw new ConfigException(real + " is " + available + " bytes now, not " + expected.size()
                    + " as when the device was created: not serving it");
        }

        Mode mode = c.mode();
        Fd direct = null;
        int alignment = lbsMin;
        int memAlign = 0;
        if (mode == Mode.DIRECT) {
            int d = open(Path.of("/proc/self/fd/" + fd.get()),
                    (c.readOnly() ? LinuxUapi.O_RDONLY : LinuxUapi.O_RDWR) | LinuxUapi.O_DIRECT, 0);
            if (d < 0) {
                warnings.add(real + " refuses O_DIRECT (" + Errno.name(d) + "): serving it buffered instead");
                mode = Mode.BUFFERED;
            } else {
                direct = Fd.adopt(d, real + " (O_DIRECT)");
                FileStat dio = FileStat.of(direct);
                if (dio.dioOffsetAlign() > 0) {
                    alignment = Math.max(lbsMin, dio.dioOffsetAlign());
                    memAlign = dio.dioMemAlign();
                } else {
                    // No STATX_DIOALIGN (an older kernel or a file system that does not say): the backing
                    // device's logical block size is what O_DIRECT needs, not 512.
                    int dev = bdev ? lbsMin : deviceLogicalBlockSize(st);
                    alignment = Math.max(lbsMin, dev);
                    memAlign = alignment;
                }
            }
        }
        Identity id;
        try {
            id = new Identity(real.toString(), st.dev(), st.ino(), st.btime(), available, bdev);
            Discard discard = Discard.NO;
            boolean zeroRange = false;
            if (!c.readOnly()) {
                if (bdev) {
                    discard = blockDeviceZeroes(st) ? Discard.YES : Discard.NO;
                    zeroRange = discard == Discard.YES;
                } else {
                    int[] probe = probeHoles(real, st);
                    discard = probe == null ? Discard.UNKNOWN : probe[0] == 0 ? Discard.YES : Discard.NO;
                    zeroRange = probe == null || probe[1] == 0;
                }
            }
            return new BackingFile(real, fd, direct, created, id, mode, alignment, memAlign, Math.max(pbs, alignment),
                    discard, zeroRange, warnings);
        } catch (RuntimeException | Error e) {
            if (direct != null) {
                direct.close();
            }
            throw e;
        }
    }

    /**
     * Makes the file {@code size} bytes long if it is shorter (sparse: no blocks are allocated). The one change
     * to the file's extent this class ever makes, and only when the device was asked to be larger than the file.
     */
    public void extendTo(long size) {
        if (identity.blockDevice() || size <= identity.size()) {
            return;
        }
        NativeException.check(LibC.rawFtruncate(fd.get(), size), "extend " + path + " to " + size + " bytes");
        identity = new Identity(identity.path(), identity.dev(), identity.ino(), identity.btime(), size, false);
    }

    private static Path realPath(Fd fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.get()));
        } catch (IOException e) {
            return Path.of(fd.name());
        }
    }

    /** Two devices on one file would each cache and write it unaware of the other: an advisory lock says no. */
    private static void lock(Fd fd, Path real, boolean shared) {
        int r = Syscalls.rawFlock(fd.get(), (shared ? LinuxUapi.LOCK_SH : LinuxUapi.LOCK_EX) | LinuxUapi.LOCK_NB);
        if (r == -Errno.EWOULDBLOCK) {
            throw new ConfigException(real + " is in use by another jublk device (two devices on one file each "
                    + "cache it unaware of the other; --allow-shared serves it anyway)");
        }
        if (r < 0 && r != -Errno.ENOLCK && r != -Errno.EOPNOTSUPP) {
            throw new NativeException(r, "flock " + real);
        }
    }

    /**
     * Whether holes can be punched (and ranges zeroed) in the file system of {@code real}, asked of an unnamed
     * scratch file in its directory: {punch result, zero-range result}, or null when no such file can be made
     * there (no O_TMPFILE support, no write permission, another file system).
     */
    private static int[] probeHoles(Path real, FileStat st) {
        Path dir = real.getParent();
        if (dir == null) {
            return null;
        }
        int t = open(dir, LinuxUapi.O_TMPFILE | LinuxUapi.O_RDWR, 0600);
        if (t < 0) {
            return null;
        }
        try (Fd scratch = Fd.adopt(t, dir + " (O_TMPFILE)")) {
            FileStat s = FileStat.of(scratch);
            if (s.dev() != st.dev()) {
                return null;
            }
            if (LibC.rawFtruncate(t, 1 << 16) < 0) {
                return null;
            }
            int punch = LibC.rawFallocate(t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
            int zero = LibC.rawFallocate(t, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 4096, 4096);
            return new int[] {punch, zero};
        }
    }

    /** A block device's fallocate zeroes through write-zeroes: usable when the queue has a limit for it. */
    private static boolean blockDeviceZeroes(FileStat st) {
        Path limit = Path.of("/sys/dev/block/" + st.rdevMajor() + ":" + st.rdevMinor() + "/queue/write_zeroes_max_bytes");
        try {
            return Long.parseLong(Files.readString(limit).trim()) > 0;
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }

    /**
     * The logical block size of the block device holding a regular file's file system (a partition has its
     * queue in its parent's directory); the page size when there is no such device (a network file system).
     */
    static int deviceLogicalBlockSize(FileStat st) {
        Path dev = Path.of("/sys/dev/block/" + st.devMajor() + ":" + st.devMinor());
        for (Path q : List.of(dev.resolve("queue/logical_block_size"), dev.resolve("../queue/logical_block_size"))) {
            try {
                int v = Integer.parseInt(Files.readString(q).trim());
                if (v >= 512 && Integer.bitCount(v) == 1) {
                    return v;
                }
            } catch (IOException | NumberFormatException e) {
                // Next candidate.
            }
        }
        return LibC.pageSize();
    }

    private static long ioctlLong(Fd fd, long request, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            NativeException.check(LibC.rawIoctl(fd.get(), request, out.address()), what + " on " + fd.name());
            return out.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    private static int ioctlInt(Fd fd, long request, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            NativeException.check(LibC.rawIoctl(fd.get(), request, out.address()), what + " on " + fd.name());
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * Removes the file {@code id} names if the path still names that very file (device, inode, birth time): what a
     * failed `ublk add` created, cleaned up by another process after the server died.
     */
    public static void removeIfIdentical(Identity id) {
        if (id.blockDevice()) {
            return;
        }
        Path p = Path.of(id.path());
        try {
            if (id.sameFile(FileStat.ofLink(p))) {
                Files.deleteIfExists(p);
            }
        } catch (RuntimeException | IOException e) {
            // Gone already, or not that file any more.
        }
    }

    /** Removes {@code p} if it still is the file {@code st} describes (never another file now at that path). */
    private static void unlinkIfSame(Path p, FileStat st) {
        try {
            FileStat now = FileStat.ofLink(p);
            if (now.dev() == st.dev() && now.ino() == st.ino() && now.btime() == st.btime()) {
                Files.deleteIfExists(p);
            }
        } catch (RuntimeException | IOException e) {
            // Gone already, or not ours any more.
        }
    }

    // ---- what the target uses ---------------------------------------------------------------------------

    /**
     * Removes the file if this object created it (a failed `ublk add`), and only if the path still names it; also
     * after {@link #close()}.
     */
    public void removeIfCreated() {
        if (created) {
            unlinkIfSame(path, createdStat);
        }
    }

    /** The buffered descriptor (the one opened by path). */
    Fd fd() {
        return fd;
    }

    /** The O_DIRECT descriptor, or null in buffered mode. */
    Fd directFd() {
        return direct;
    }

    /** The descriptor requests go to: O_DIRECT in direct mode. */
    Fd ioFd() {
        return direct != null ? direct : fd;
    }

    public Path path() {
        return path;
    }

    public Identity identity() {
        return identity;
    }

    public boolean created() {
        return created;
    }

    public Mode mode() {
        return mode;
    }

    /** Alignment of offsets and lengths that I/O on {@link #ioFd()} needs (512 in buffered mode). */
    public int alignment() {
        return alignment;
    }

    /** O_DIRECT's memory alignment (0 in buffered mode or when unknown). */
    public int dioMemAlign() {
        return dioMemAlign;
    }

    public int physicalBlockSize() {
        return physicalBlockSize;
    }

    public Discard discard() {
        return discard;
    }

    /** Whether FALLOC_FL_ZERO_RANGE is worth trying (probed, or not known to fail). */
    public boolean zeroRange() {
        return zeroRange;
    }

    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** Makes everything written durable: fdatasync of the file. Returns 0 or a negative errno. */
    public int fdatasync() {
        return fd.isOpen() ? LibC.rawFdatasync(fd.get()) : 0;
    }

    @Override
    public void close() {
        if (direct != null) {
            direct.close();
        }
        fd.close();
    }
}
