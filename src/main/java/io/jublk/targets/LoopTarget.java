package io.jublk.targets;

import static io.jublk.uapi.LinuxUapi.FALLOC_FL_KEEP_SIZE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_PUNCH_HOLE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_ZERO_RANGE;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.ConfigException;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.sys.Errno;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
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
 * written with RWF_DSYNC; DISCARD punches a hole; WRITE_ZEROES zeroes the range: a hole, or, when the kernel asks
 * not to unmap (REQ_NOUNMAP), ZERO_RANGE and never a hole (EOPNOTSUPP where the file system cannot, and the block
 * layer writes the zeros). Short transfers are continued, never returned short: a short O_DIRECT one from its last
 * whole block, or, when that gets no further, through the buffered descriptor.
 */
public final class LoopTarget implements Target {
    /** READ/WRITE on {@link BackingFile#ioFd()} (O_DIRECT in direct mode). */
    private static final int SUB_RW = 0;
    private static final int SUB_FLUSH = 1;
    private static final int SUB_PUNCH = 2;
    private static final int SUB_ZERO_RANGE = 3;
    /** The rest of a short O_DIRECT transfer that O_DIRECT gets no further with, through the page cache. */
    private static final int SUB_RW_BUFFERED = 4;
    /** EAGAIN or EINTR answers to one request, without progress in between, before it fails with EIO. */
    private static final int MAX_RETRIES = 8;
    /** Largest discard / write-zeroes per request, in sectors (2 GiB). */
    private static final int MAX_DISCARD_SECTORS = 1 << 22;

    private final BackingFile file;
    /** Changes with an online resize. */
    private volatile long sizeBytes;
    private final int logicalBlockSize;
    private final boolean readOnly;
    private final boolean discard;
    /** FALLOC_FL_ZERO_RANGE is worth trying: what a WRITE_ZEROES that must not unmap needs. */
    private final boolean zeroRange;
    /**
     * The file system answered PUNCH_HOLE / ZERO_RANGE with EOPNOTSUPP (possible where it was not probed, see
     * {@link BackingFile.Discard#UNKNOWN}): learned once for every queue of the device, so that later requests
     * are answered at once. Only ever set, by any queue; a read costs a plain load.
     */
    private volatile boolean punchRefused;
    /**
     * How the last FLUSH went (0 or a negative errno). A failed fdatasync reports a writeback error to one open file
     * only once, so a FLUSH that saw it leaves the final fdatasync at stop nothing to see: that one must not then
     * report success for data the failed FLUSH lost.
     */
    private volatile int lastFlush;
    private volatile boolean zeroRangeRefused;
    private final List<String> warnings;

    private LoopTarget(BackingFile file, long sizeBytes, int lbs, boolean readOnly, List<String> warnings) {
        this.file = file;
        this.sizeBytes = sizeBytes;
        this.logicalBlockSize = lbs;
        this.readOnly = readOnly;
        this.discard = !readOnly && file.discard() != BackingFile.Discard.NO;
        this.zeroRange = !readOnly && file.zeroRange();
        this.warnings = warnings;
    }

    /**
     * What `ublk add loop` asked for.
     *
     * @param size             device size in bytes, or null for the file's size; a missing file is created
     *                         (sparse) only when a size is given
     * @param logicalBlockSize 512 or 4096, or null for "512 unless the backing file needs more"
     * @param allowShared      serve a file another jublk device serves too (a shared advisory lock, not an
     *                         exclusive one)
     */
    public record Config(Path file, Long size, BackingFile.Mode mode, boolean readOnly, Integer logicalBlockSize,
            boolean allowShared) {
        BackingFile.Request request() {
            return new BackingFile.Request(file, size, mode, readOnly, allowShared);
        }
    }

    /**
     * Checks {@code c} without opening or creating anything: the checks `ublk add` makes before it starts a
     * daemon. Throws ConfigException with a message for the user.
     */
    public static void check(Config c) {
        BackingFile.check(c.request());
        if (c.size() != null) {
            int lbs = c.logicalBlockSize() != null ? c.logicalBlockSize() : 512;
            if (c.size() % lbs != 0) {
                throw new ConfigException("--size " + c.size() + " is not a multiple of the logical block size " + lbs);
            }
        }
    }

    /** Opens (or creates) the backing file for a new device and works out the device's geometry. */
    public static LoopTarget open(Config c) {
        BackingFile f = BackingFile.open(c.request());
        try {
            return build(c, f, c.size());
        } catch (RuntimeException | Error e) {
            f.removeIfCreated();
            f.close();
            throw e;
        }
    }

    /**
     * Opens the backing file of an existing device for a server that takes it over: the file must be the one the
     * device was created with ({@code expected}), and the geometry the one the kernel has ({@code deviceSize},
     * {@code logicalBlockSize}).
     */
    public static LoopTarget reopen(Config c, BackingFile.Identity expected, long deviceSize, int logicalBlockSize) {
        BackingFile f = BackingFile.reopen(c.request(), expected);
        try {
            LoopTarget t = build(new Config(c.file(), deviceSize, c.mode(), c.readOnly(), logicalBlockSize,
                    c.allowShared()), f, deviceSize);
            if (t.logicalBlockSize != logicalBlockSize) {
                throw new ConfigException(f.path() + " now needs " + t.logicalBlockSize + "-byte blocks for "
                        + f.mode().label() + " I/O, but the device has " + logicalBlockSize + "-byte blocks");
            }
            return t;
        } catch (RuntimeException | Error e) {
            f.close();
            throw e;
        }
    }

    private static LoopTarget build(Config c, BackingFile f, Long wanted) {
        Path p = f.path();
        List<String> warnings = new ArrayList<>(f.warnings());
        int lbsMin = f.alignment();
        int lbs = c.logicalBlockSize() != null ? c.logicalBlockSize() : 512;
        if (lbs < lbsMin) {
            if (c.logicalBlockSize() != null) {
                warnings.add("logical block size raised from " + lbs + " to " + lbsMin + ": " + p + " needs " + lbsMin
                        + "-byte aligned " + (f.mode() == BackingFile.Mode.DIRECT ? "direct I/O" : "I/O"));
            }
            lbs = lbsMin;
        }
        if (Integer.bitCount(lbs) != 1 || lbs > 4096) {
            throw new ConfigException(p + " needs " + lbs + "-byte alignment, which ublk cannot offer");
        }
        long available = f.identity().size();
        long size;
        if (wanted != null) {
            size = wanted;
            if (size % lbs != 0) {
                throw new ConfigException("--size " + size + " is not a multiple of the logical block size " + lbs
                        + " that " + p + " needs");
            }
            if (size > available) {
                if (f.identity().blockDevice()) {
                    throw new ConfigException("--size " + size + " is larger than " + p + " (" + available + " bytes)");
                }
                if (c.readOnly()) {
                    throw new ConfigException("--size " + size + " is larger than " + p + " (" + available
                            + " bytes), which --read-only cannot extend");
                }
                f.extendTo(size);
                if (!f.created()) {
                    warnings.add(p + " extended (sparse) from " + available + " to " + size + " bytes");
                }
            }
        } else {
            size = available - available % lbs;
            if (size == 0) {
                throw new ConfigException(p + " is empty (or smaller than one " + lbs
                        + "-byte block): give --size to size it");
            }
        }
        return new LoopTarget(f, size, lbs, c.readOnly(), warnings);
    }

    // ---- Target -----------------------------------------------------------------------------------------

    @Override
    public String name() {
        return "loop";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        int attrs = Ublk.UBLK_ATTR_VOLATILE_CACHE | Ublk.UBLK_ATTR_FUA | (readOnly ? Ublk.UBLK_ATTR_READ_ONLY : 0);
        int pbs = Math.max(file.physicalBlockSize(), logicalBlockSize);
        DeviceParams p = DeviceParams.basic(sizeBytes, logicalBlockSize, pbs, maxIoBytes, attrs);
        if (discard) {
            p = p.withDiscard(Math.max(pbs, 4096), MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
        }
        int dioMemAlign = file.dioMemAlign();
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
        m.put("file", file.path().toString());
        m.put("mode", file.mode().label());
        m.put("read_only", Boolean.toString(readOnly));
        m.put("discard", discard ? file.discard().name().toLowerCase(java.util.Locale.ROOT) : "no");
        m.put("backing", file.identity().blockDevice() ? "block device" : "file");
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
        int io = queue.registerFile(file.ioFd().get());
        if (file.directFd() == null) {
            return new Handler(queue, io, io, 1);
        }
        return new Handler(queue, io, queue.registerFile(file.fd().get()), file.alignment());
    }

    /** fdatasync: at shutdown, after the queues stopped, nothing acknowledged may stay only in a cache. */
    @Override
    public int flush() {
        if (readOnly) {
            return 0;
        }
        int r = file.fdatasync();
        return r < 0 ? r : lastFlush;
    }

    @Override
    public void close() {
        file.close();
    }

    /** Removes the backing file if this target's `ublk add` created it (for a device that failed to start). */
    public void removeIfCreated() {
        file.removeIfCreated();
    }

    public BackingFile backingFile() {
        return file;
    }

    public BackingFile.Mode mode() {
        return file.mode();
    }

    /**
     * Grows into the file: a regular file is extended (sparse) when the device outgrows it, which is the one change
     * of its extent jublk makes; a block device cannot grow past its own size. Shrinking leaves the file as it is.
     */
    @Override
    public void resize(long newSizeBytes) {
        if (newSizeBytes > sizeBytes) {
            BackingFile.Identity id = file.identity();
            if (newSizeBytes > id.size()) {
                if (id.blockDevice()) {
                    throw new ConfigException(file.path() + " has " + id.size() + " bytes: a device on it cannot grow to "
                            + newSizeBytes);
                }
                if (readOnly) {
                    throw new ConfigException(file.path() + " is served read-only: the device cannot grow past its "
                            + id.size() + " bytes");
                }
                file.extendTo(newSizeBytes);
            }
        }
        sizeBytes = newSizeBytes;
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

    private boolean canPunch() {
        return discard && !punchRefused;
    }

    private boolean canZeroRange() {
        return zeroRange && !zeroRangeRefused;
    }

    // ---- the per-queue handler --------------------------------------------------------------------------

    /**
     * The errno the block layer gets for a failed operation on the backing file. errno_to_blk_status gives some
     * errnos a meaning no file error has: EAGAIN is BLK_STS_AGAIN (retry a REQ_NOWAIT bio), EBUSY and ENOMEM are
     * the resource statuses a driver uses to be called again, ENOLINK a transport error multipath retries on
     * another path, EOPNOTSUPP on a read or a write says the operation does not exist. What passes describes the
     * data: EIO, ENOSPC (EDQUOT is the same to the device), and what a backing block device reports about its
     * medium (ENODATA), integrity (EILSEQ) or itself (EREMOTEIO). Everything else is EIO, ECANCELED (an operation
     * the kernel cancelled) included. EAGAIN and EINTR never get here: the handler sends the operation again.
     */
    static int forBlockLayer(int errno) {
        return switch (-errno) {
            case Errno.EIO, Errno.ENOSPC, Errno.ENODATA, Errno.EILSEQ, Errno.EREMOTEIO -> errno;
            case Errno.EDQUOT -> -Errno.ENOSPC;
            default -> -Errno.EIO;
        };
    }

    private final class Handler implements QueueHandler {
        private final QueueContext q;
        private final int file;
        private final int buffered;
        /** The O_DIRECT alignment of offsets on {@link #file}, less one (0 in buffered mode). */
        private final long alignMask;
        /** Per tag: EAGAIN/EINTR answers since the request last made progress. */
        private final byte[] retries;

        /**
         * @param file      the fixed file requests go to
         * @param buffered  the fixed file of the buffered descriptor ({@code file} itself in buffered mode)
         * @param alignment what offsets on {@code file} must be aligned to (1: anything)
         */
        Handler(QueueContext q, int file, int buffered, int alignment) {
            this.q = q;
            this.file = file;
            this.buffered = buffered;
            this.alignMask = alignment - 1;
            this.retries = new byte[q.depth()];
        }

        @Override
        public int handle(Request r) {
            retries[r.tag()] = 0;
            switch (r.op()) {
                case Ublk.UBLK_IO_OP_READ, Ublk.UBLK_IO_OP_WRITE -> transfer(r, SUB_RW);
                case Ublk.UBLK_IO_OP_FLUSH -> flush(r);
                case Ublk.UBLK_IO_OP_DISCARD -> {
                    if (!canPunch()) {
                        return -Errno.EOPNOTSUPP;
                    }
                    punch(r);
                }
                case Ublk.UBLK_IO_OP_WRITE_ZEROES -> {
                    return writeZeroes(r);
                }
                default -> {
                    return -Errno.EOPNOTSUPP;
                }
            }
            return QUEUED;
        }

        /**
         * A hole reads as zeros, so WRITE_ZEROES punches where it may; with REQ_NOUNMAP the blocks must stay
         * allocated: zeroed in place or not at all. EOPNOTSUPP makes the block layer write zeros itself
         * (blkdev_issue_zeroout falls back to zero pages).
         */
        private int writeZeroes(Request r) {
            if (!r.noUnmap() && canPunch()) {
                punch(r);
            } else if (canZeroRange()) {
                zeroRange(r);
            } else {
                return -Errno.EOPNOTSUPP;
            }
            return QUEUED;
        }

        /**
         * The rest of a READ or WRITE, from what is done ({@link Request#scratch}, 0 at first), on the O_DIRECT
         * descriptor ({@code SUB_RW}) or the buffered one ({@code SUB_RW_BUFFERED}).
         */
        private void transfer(Request r, int sub) {
            int fd = sub == SUB_RW ? file : buffered;
            long done = r.scratch;
            int left = (int) (r.length() - done);
            if (r.op() == Ublk.UBLK_IO_OP_READ) {
                q.read(r, sub, fd, r.offset() + done, done, left, 0);
            } else {
                q.write(r, sub, fd, r.offset() + done, done, left, writeFlags(r));
            }
        }

        private void flush(Request r) {
            q.fsync(r, SUB_FLUSH, file, true);
        }

        private void punch(Request r) {
            q.fallocate(r, SUB_PUNCH, file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, r.offset(), r.length());
        }

        private void zeroRange(Request r) {
            q.fallocate(r, SUB_ZERO_RANGE, file, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, r.offset(), r.length());
        }

        private int writeFlags(Request r) {
            return r.fua() ? LinuxUapi.RWF_DSYNC : 0;
        }

        @Override
        public int ioDone(Request r, int sub, int res) {
            if (res == -Errno.EAGAIN || res == -Errno.EINTR) {
                // Nothing was done (io_uring waits for blocking file I/O rather than answer EAGAIN, so this is
                // rare): the same operation again, a few times, not forever.
                if (++retries[r.tag()] > MAX_RETRIES) {
                    return -Errno.EIO;
                }
                again(r, sub);
                return QUEUED;
            }
            return switch (sub) {
                case SUB_RW, SUB_RW_BUFFERED -> transferDone(r, sub, res);
                case SUB_PUNCH -> {
                    if (res == -Errno.EOPNOTSUPP) {
                        punchRefused = true;
                        if (r.op() == Ublk.UBLK_IO_OP_WRITE_ZEROES && canZeroRange()) {
                            zeroRange(r);
                            yield QUEUED;
                        }
                    }
                    yield fallocateDone(res);
                }
                case SUB_ZERO_RANGE -> {
                    if (res == -Errno.EOPNOTSUPP) {
                        zeroRangeRefused = true;
                    }
                    yield fallocateDone(res);
                }
                case SUB_FLUSH -> {
                    lastFlush = Math.min(res, 0);
                    yield res < 0 ? forBlockLayer(res) : 0;
                }
                default -> res < 0 ? forBlockLayer(res) : 0;
            };
        }

        private void again(Request r, int sub) {
            switch (sub) {
                case SUB_RW, SUB_RW_BUFFERED -> transfer(r, sub);
                case SUB_FLUSH -> flush(r);
                case SUB_PUNCH -> punch(r);
                default -> zeroRange(r);
            }
        }

        /** EOPNOTSUPP is an answer the block layer acts on for DISCARD and WRITE_ZEROES. */
        private static int fallocateDone(int res) {
            return res == -Errno.EOPNOTSUPP ? res : res < 0 ? forBlockLayer(res) : 0;
        }

        /** READ/WRITE progress: the whole length, a negative errno, or another round for a short transfer. */
        private int transferDone(Request r, int sub, int res) {
            if (res < 0) {
                return forBlockLayer(res);
            }
            if (res == 0) {
                // A read at end of file, or a write that wrote nothing: the backing file is shorter than the
                // device (truncated under us) or full. Retrying would spin; the block layer gets EIO.
                return -Errno.EIO;
            }
            long done = r.scratch + res;
            if (done >= r.length()) {
                return (int) r.length();
            }
            retries[r.tag()] = 0;
            // O_DIRECT takes aligned offsets only: go on from the last whole block (reading or writing part of it
            // again is harmless). When that is where this part started, O_DIRECT gets no further (an unaligned
            // end of file, a file system that stops mid-block): the rest goes through the page cache.
            long aligned = sub == SUB_RW ? done & ~alignMask : done;
            if (aligned > r.scratch) {
                r.scratch = aligned;
                transfer(r, sub);
            } else {
                r.scratch = done;
                transfer(r, SUB_RW_BUFFERED);
            }
            return QUEUED;
        }
    }
}
