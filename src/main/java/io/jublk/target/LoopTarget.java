package io.jublk.target;

import static io.jublk.uapi.LinuxUapi.FALLOC_FL_KEEP_SIZE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_PUNCH_HOLE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_ZERO_RANGE;

import io.jublk.ctrl.DeviceParams;
import io.jublk.queue.QueueContext;
import io.jublk.queue.QueueHandler;
import io.jublk.queue.Request;
import io.jublk.queue.Target;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.FileStat;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loop target: a file (or a block device) served as a block device, like the kernel's loop driver, with
 * every request turned into asynchronous I/O on the queue's own io_uring.
 *
 * <p>By default the file is opened with O_DIRECT: the page cache above {@code /dev/ublkbN} is the only cache,
 * and no copy of the data also sits in the backing file's cache (the double caching the kernel loop driver's
 * direct-I/O mode was made to avoid). {@code buffered} uses the backing file's page cache on purpose.
 *
 * <p>Block semantics: the device has a volatile write cache and FUA. FLUSH is fdatasync of the backing file
 * (every write acknowledged before it is on the file already, so this makes them all durable); a FUA write is
 * written with RWF_DSYNC; DISCARD punches a hole; WRITE_ZEROES zeroes the range (ZERO_RANGE when the kernel
 * asks not to unmap, else a hole). Short transfers are continued, never returned short.
 */
public final class LoopTarget implements Target {
    /** How the backing file is accessed. */
    public enum Mode {
        DIRECT, BUFFERED;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private static final int SUB_RW = 0;
    private static final int SUB_FLUSH = 1;
    private static final int SUB_DISCARD = 2;
    private static final int SUB_ZERO_RANGE = 3;
    /** Largest discard / write-zeroes per request, in sectors (2 GiB). */
    private static final int MAX_DISCARD_SECTORS = 1 << 22;

    private final Path path;
    private final Fd fd;
    private final Mode mode;
    private final long sizeBytes;
    private final int logicalBlockSize;
    private final int physicalBlockSize;
    private final boolean readOnly;
    private final boolean discard;
    private final boolean blockDevice;
    private final int dioMemAlign;
    private final List<String> warnings;

    private LoopTarget(Path path, Fd fd, Mode mode, long sizeBytes, int lbs, int pbs, boolean readOnly,
            boolean discard, boolean blockDevice, int dioMemAlign, List<String> warnings) {
        this.path = path;
        this.fd = fd;
        this.mode = mode;
        this.sizeBytes = sizeBytes;
        this.logicalBlockSize = lbs;
        this.physicalBlockSize = pbs;
        this.readOnly = readOnly;
        this.discard = discard;
        this.blockDevice = blockDevice;
        this.dioMemAlign = dioMemAlign;
        this.warnings = warnings;
    }

    /**
     * What `ublk add loop` asked for.
     *
     * @param size             device size in bytes, or null for the file's size; a missing file is created
     *                         (sparse) only when a size is given
     * @param logicalBlockSize 512 or 4096, or null for "512 unless the backing file needs more"
     */
    public record Config(Path file, Long size, Mode mode, boolean readOnly, Integer logicalBlockSize) {}

    /**
     * Checks {@code c} without opening or creating anything: the checks `ublk add` makes before it starts a
     * daemon. Throws IllegalArgumentException with a message for the user.
     */
    public static void check(Config c) {
        Path p = c.file();
        if (Files.isDirectory(p)) {
            throw new IllegalArgumentException(p + " is a directory, not a file or block device");
        }
        if (!Files.exists(p)) {
            if (Files.isSymbolicLink(p)) {
                String to;
                try {
                    to = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    to = "a path";
                }
                throw new IllegalArgumentException(p + " is a symbolic link to " + to
                        + ", which does not exist: not creating a file through it");
            }
            if (c.size() == null) {
                throw new IllegalArgumentException(p + " does not exist (give --size to create it)");
            }
            Path parent = p.toAbsolutePath().getParent();
            if (parent == null || !Files.exists(parent)) {
                throw new IllegalArgumentException("cannot create " + p + ": " + parent + " does not exist");
            }
            if (!Files.isDirectory(parent)) {
                throw new IllegalArgumentException("cannot create " + p + ": " + parent + " is not a directory");
            }
        } else {
            FileStat st = FileStat.of(p);
            if (st.isCharDevice()) {
                throw new IllegalArgumentException(p + " is a character device, not a file or block device");
            }
            if (!st.isRegular() && !st.isBlockDevice()) {
                throw new IllegalArgumentException(p + " is not a regular file or block device");
            }
            if (!c.readOnly() && !Files.isWritable(p)) {
                throw new IllegalArgumentException("cannot open " + p
                        + " read-write (use --read-only to serve it read-only)");
            }
            String ublk = ublkDeviceName(p, st);
            if (ublk != null) {
                throw new IllegalArgumentException(p + " is ublk device " + ublk
                        + ": a ublk device cannot be backed by a ublk device");
            }
        }
        if (c.size() != null) {
            if (c.size() <= 0) {
                throw new IllegalArgumentException("--size must be greater than 0");
            }
            int lbs = c.logicalBlockSize() != null ? c.logicalBlockSize() : 512;
            if (c.size() % lbs != 0) {
                throw new IllegalArgumentException("--size " + c.size() + " is not a multiple of the logical block size "
                        + lbs);
            }
        }
    }

    /** Opens (or creates) the backing file and works out the device's geometry. */
    public static LoopTarget open(Config c) {
        check(c);
        Path p = c.file();
        List<String> warnings = new ArrayList<>();
        boolean created = false;
        if (!Files.exists(p)) {
            int r = Fd.tryOpen(p, LinuxUapi.O_RDWR | LinuxUapi.O_CREAT | LinuxUapi.O_EXCL | LinuxUapi.O_CLOEXEC, 0600);
            NativeException.check(r, "create " + p);
            LibC.rawClose(r);
            created = true;
        }
        try {
            return open(c, p, warnings, created);
        } catch (RuntimeException e) {
            if (created) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // Best effort: nothing else of ours exists yet.
                }
            }
            throw e;
        }
    }

    private static LoopTarget open(Config c, Path p, List<String> warnings, boolean created) {
        int access = c.readOnly() ? LinuxUapi.O_RDONLY : LinuxUapi.O_RDWR;
        int base = access | LinuxUapi.O_CLOEXEC;
        int probe = Fd.tryOpen(p, base, 0);
        if (probe < 0) {
            if (probe == -Errno.EACCES || probe == -Errno.EPERM || probe == -Errno.EROFS) {
                throw new IllegalArgumentException("cannot open " + p + (c.readOnly() ? " for reading" : " read-write")
                        + ": " + Errno.name(probe) + (c.readOnly() ? "" : " (use --read-only to serve it read-only)"));
            }
            throw new NativeException(probe, "open " + p);
        }
        Fd fd = Fd.adopt(probe, p.toString());
        Mode mode = c.mode();
        try {
            FileStat st = FileStat.of(fd);
            boolean bdev = st.isBlockDevice();
            long available;
            int memAlign = 0;
            int lbsMin = 512;
            int pbs = 4096;
            if (bdev) {
                available = blockDeviceSize(fd);
                lbsMin = ioctlInt(fd, LinuxUapi.BLKSSZGET, "BLKSSZGET");
                pbs = ioctlInt(fd, LinuxUapi.BLKPBSZGET, "BLKPBSZGET");
            } else {
                available = st.size();
            }
            if (mode == Mode.DIRECT) {
                int direct = Fd.tryOpen(p, base | LinuxUapi.O_DIRECT, 0);
                FileStat dio = FileStat.of(p);
                int align = dio.dioOffsetAlign();
                memAlign = dio.dioMemAlign();
                if (direct < 0) {
                    warnings.add(p + " refuses O_DIRECT (" + Errno.name(direct) + "): serving it buffered instead");
                    mode = Mode.BUFFERED;
                    memAlign = 0;
                } else {
                    fd.close();
                    fd = Fd.adopt(direct, p.toString());
                    lbsMin = Math.max(lbsMin, align);
                }
            }
            int lbs = c.logicalBlockSize() != null ? c.logicalBlockSize() : 512;
            if (lbs < lbsMin) {
                if (c.logicalBlockSize() != null) {
                    warnings.add("logical block size raised from " + lbs + " to " + lbsMin + ": " + p
                            + " needs " + lbsMin + "-byte aligned " + (mode == Mode.DIRECT ? "direct I/O" : "I/O"));
                }
                lbs = lbsMin;
            }
            if (Integer.bitCount(lbs) != 1 || lbs > 4096) {
                throw new IllegalArgumentException(p + " needs " + lbs + "-byte alignment, which ublk cannot offer");
            }
            pbs = Math.max(pbs, lbs);

            long size;
            if (c.size() != null) {
                size = c.size();
                if (size % lbs != 0) {
                    throw new IllegalArgumentException("--size " + size + " is not a multiple of the logical block size "
                            + lbs + " that " + p + " needs");
                }
                if (size > available) {
                    if (bdev) {
                        throw new IllegalArgumentException("--size " + size + " is larger than " + p + " ("
                                + available + " bytes)");
                    }
                    if (c.readOnly()) {
                        throw new IllegalArgumentException("--size " + size + " is larger than " + p + " ("
                                + available + " bytes), which --read-only cannot extend");
                    }
                    // Sparse: the file grows to the device's size without allocating blocks.
                    NativeException.check(LibC.rawFtruncate(fd.get(), size), "extend " + p + " to " + size + " bytes");
                    if (!created) {
                        warnings.add(p + " extended (sparse) from " + available + " to " + size + " bytes");
                    }
                }
            } else {
                size = available - available % lbs;
                if (size == 0) {
                    throw new IllegalArgumentException(p + " is empty (or smaller than one " + lbs
                            + "-byte block): give --size to size it");
                }
            }
            boolean discard = !c.readOnly() && (bdev ? blockDeviceZeroes(st) : punchHoleWorks(fd, size));
            return new LoopTarget(p, fd, mode, size, lbs, pbs, c.readOnly(), discard, bdev, memAlign, warnings);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The name ("ublkb3") if {@code p} is a ublk block or char device. */
    static String ublkDeviceName(Path p, FileStat st) {
        try {
            Path real = p.toRealPath();
            String name = real.getFileName() != null ? real.getFileName().toString() : "";
            if (name.matches("ublk[bc]\\d+")) {
                return name;
            }
            if (st.isBlockDevice() || st.isCharDevice()) {
                String kind = st.isBlockDevice() ? "block" : "char";
                Path sys = Path.of("/sys/dev/" + kind + "/" + st.rdevMajor() + ":" + st.rdevMinor());
                if (Files.exists(sys, LinkOption.NOFOLLOW_LINKS)) {
                    String target = sys.toRealPath().getFileName().toString();
                    if (target.matches("ublk[bc]\\d+")) {
                        return target;
                    }
                }
            }
        } catch (IOException e) {
            // Not resolvable: not a ublk device as far as we can tell.
        }
        return null;
    }

    private static long blockDeviceSize(Fd fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            NativeException.check(LibC.rawIoctl(fd.get(), LinuxUapi.BLKGETSIZE64, out.address()),
                    "BLKGETSIZE64 on " + fd.name());
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
     * Whether the file system punches holes: punching a block past the device's end (KEEP_SIZE, so the file
     * does not change) succeeds where it is supported and says EOPNOTSUPP where not.
     */
    private static boolean punchHoleWorks(Fd fd, long size) {
        int r = LibC.rawFallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, size + (1 << 20), 4096);
        return r == 0;
    }

    // ---- Target -----------------------------------------------------------------------------------------

    @Override
    public String name() {
        return "loop";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        int attrs = Ublk.UBLK_ATTR_VOLATILE_CACHE | Ublk.UBLK_ATTR_FUA | (readOnly ? Ublk.UBLK_ATTR_READ_ONLY : 0);
        DeviceParams p = DeviceParams.basic(sizeBytes, logicalBlockSize, physicalBlockSize, maxIoBytes, attrs);
        if (discard) {
            p = p.withDiscard(Math.max(physicalBlockSize, 4096), MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
        }
        if (dioMemAlign > 512) {
            // On a zero-copy device O_DIRECT reads and writes use the request's own pages: the block layer must
            // align them as the backing file's direct I/O needs (it aligns to 512 bytes by default).
            p = p.withDmaAlignment(dioMemAlign - 1);
        }
        return p;
    }

    @Override
    public Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("file", path.toAbsolutePath().toString());
        m.put("mode", mode.label());
        m.put("read_only", Boolean.toString(readOnly));
        m.put("discard", Boolean.toString(discard));
        m.put("backing", blockDevice ? "block device" : "file");
        return m;
    }

    @Override
    public boolean wantsFixedBuffers() {
        return true;
    }

    /** Data only moves through the queue's read and write: zero copy works. */
    @Override
    public boolean supportsZeroCopy() {
        return true;
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return new Handler(queue, queue.registerFile(fd.get()));
    }

    /** fdatasync: at shutdown, after the queues stopped, nothing acknowledged may stay only in a cache. */
    @Override
    public int flush() {
        return fd.isOpen() && !readOnly ? LibC.rawFdatasync(fd.get()) : 0;
    }

    @Override
    public void close() {
        fd.close();
    }

    public Mode mode() {
        return mode;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    public boolean discardSupported() {
        return discard;
    }

    /** Things the user should hear about (fallback to buffered, raised block size, extended file). */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    // ---- the per-queue handler --------------------------------------------------------------------------

    private final class Handler implements QueueHandler {
        private final QueueContext q;
        private final int file;

        Handler(QueueContext q, int file) {
            this.q = q;
            this.file = file;
        }

        @Override
        public int handle(Request r) {
            switch (r.op()) {
                case Ublk.UBLK_IO_OP_READ -> q.read(r, SUB_RW, file, r.offset(), 0, (int) r.length(), 0);
                case Ublk.UBLK_IO_OP_WRITE -> q.write(r, SUB_RW, file, r.offset(), 0, (int) r.length(), writeFlags(r));
                case Ublk.UBLK_IO_OP_FLUSH -> q.fsync(r, SUB_FLUSH, file, true);
                case Ublk.UBLK_IO_OP_DISCARD -> {
                    if (!discard) {
                        return -Errno.EOPNOTSUPP;
                    }
                    q.fallocate(r, SUB_DISCARD, file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r.offset(), r.length());
                }
                case Ublk.UBLK_IO_OP_WRITE_ZEROES -> {
                    if (!discard) {
                        return -Errno.EOPNOTSUPP;
                    }
                    if (r.noUnmap()) {
                        q.fallocate(r, SUB_ZERO_RANGE, file, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, r.offset(),
                                r.length());
                    } else {
                        q.fallocate(r, SUB_DISCARD, file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r.offset(),
                                r.length());
                    }
                }
                default -> {
                    return -Errno.EOPNOTSUPP;
                }
            }
            return QUEUED;
        }

        private int writeFlags(Request r) {
            return r.fua() ? LinuxUapi.RWF_DSYNC : 0;
        }

        @Override
        public int ioDone(Request r, int sub, int res) {
            return switch (sub) {
                case SUB_RW -> transferDone(r, res);
                case SUB_ZERO_RANGE -> {
                    if (res == -Errno.EOPNOTSUPP) {
                        // The file system zeroes by punching only: the range still reads as zeros.
                        q.fallocate(r, SUB_DISCARD, file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r.offset(),
                                r.length());
                        yield QUEUED;
                    }
                    yield Math.min(res, 0);
                }
                default -> Math.min(res, 0);
            };
        }

        /** READ/WRITE progress: the whole length, a negative errno, or another round for a short transfer. */
        private int transferDone(Request r, int res) {
            if (res < 0) {
                return res;
            }
            if (res == 0) {
                // A read at end of file, or a write that wrote nothing: the backing file is shorter than the
                // device (truncated under us) or full. Retrying would spin; the block layer gets EIO.
                return -Errno.EIO;
            }
            long done = r.scratch + res;
            long total = r.length();
            if (done >= total) {
                return (int) total;
            }
            r.scratch = done;
            int left = (int) (total - done);
            if (r.op() == Ublk.UBLK_IO_OP_READ) {
                q.read(r, SUB_RW, file, r.offset() + done, done, left, 0);
            } else {
                q.write(r, SUB_RW, file, r.offset() + done, done, left, writeFlags(r));
            }
            return QUEUED;
        }
    }
}
