package io.jublk.spi;

import io.jublk.uapi.Ublk;
import java.lang.foreign.MemorySegment;

/**
 * One ublk request as a target sees it. There is one {@code Request} per tag, created when the queue
 * starts and reused for every I/O on that tag; its fields are (re)decoded from the tag's
 * {@code ublksrv_io_desc} and checked before the target is called.
 *
 * <p>For READ the target fills {@link #buffer()} with {@link #length()} bytes (the kernel copies them to the
 * request's pages after the commit); for WRITE the kernel has already copied the data in.
 *
 * <p>Decoded on the queue thread before {@code handle}; a thread the handler hands the request to (through an
 * executor, a queue, a started thread: anything that orders the hand-off) reads the same values, which stay until
 * the request is answered.
 */
public final class Request {
    /** Bits of {@link #id()} that count the tag's requests; 16 more hold the tag. */
    static final int GENERATION_BITS = 40;
    static final long GENERATION_MASK = (1L << GENERATION_BITS) - 1;
    /** Ids are below this: 56 bits, so that one fits wherever a target's token does. */
    public static final long ID_LIMIT = 1L << (GENERATION_BITS + 16);

    private final int tag;
    private final MemorySegment buffer;
    private final long bufferAddress;

    long id;
    int op;
    int flags;
    long startSector;
    int sectors;

    /** Free for the target: e.g. how many bytes of a READ/WRITE are done, when continuing a short one. */
    public long scratch;

    Request(int tag, MemorySegment buffer) {
        this.tag = tag;
        this.id = tag;
        this.buffer = buffer;
        this.bufferAddress = buffer.address();
    }

    public int tag() {
        return tag;
    }

    /**
     * This request among all requests of its queue, also across the reuse of its tag: the tag in bits 0-15 and a
     * count of the tag's requests above it (wrapping after 2^40), never negative and below {@link #ID_LIMIT}. The
     * {@code Request} object is reused for the tag's next request, its id is not: a thread that answers later
     * keeps the id and hands it to {@link QueueContext#complete(long, int)}, which refuses an id whose request
     * was answered already. Also what a network target can put into its protocol's request handle.
     */
    public long id() {
        return id;
    }

    /** The tag of request {@code id}. */
    public static int tagOf(long id) {
        return (int) (id & 0xffff);
    }

    /** UBLK_IO_OP_*. */
    public int op() {
        return op;
    }

    /** UBLK_IO_F_* (already shifted: compare with the constants directly). */
    public int flags() {
        return flags;
    }

    /** Force unit access: the write must be durable when it completes. */
    public boolean fua() {
        return (flags & Ublk.UBLK_IO_F_FUA) != 0;
    }

    /** For WRITE_ZEROES: the device must not deallocate (punch) the range. */
    public boolean noUnmap() {
        return (flags & Ublk.UBLK_IO_F_NOUNMAP) != 0;
    }

    public long startSector() {
        return startSector;
    }

    public int sectors() {
        return sectors;
    }

    /** Byte offset on the device. */
    public long offset() {
        return startSector << 9;
    }

    /** Bytes to transfer (READ/WRITE) or affected (DISCARD/WRITE_ZEROES). */
    public long length() {
        return (long) sectors << 9;
    }

    /**
     * The tag's data buffer (its full capacity; the request uses the first {@link #length()} bytes). Empty on a
     * zero-copy device ({@link Target#supportsZeroCopy()}), where the data never passes through the server's
     * memory. Any thread may use it while the request waits for its answer (a thread that answers with
     * {@link QueueContext#complete} fills a READ's data first); it goes with its queue, after which every access
     * throws IllegalStateException.
     */
    public MemorySegment buffer() {
        return buffer;
    }

    public long bufferAddress() {
        return bufferAddress;
    }

    public static String opName(int op) {
        return switch (op) {
            case Ublk.UBLK_IO_OP_READ -> "read";
            case Ublk.UBLK_IO_OP_WRITE -> "write";
            case Ublk.UBLK_IO_OP_FLUSH -> "flush";
            case Ublk.UBLK_IO_OP_DISCARD -> "discard";
            case Ublk.UBLK_IO_OP_WRITE_ZEROES -> "write_zeroes";
            case Ublk.UBLK_IO_OP_WRITE_SAME -> "write_same";
            default -> "op" + op;
        };
    }

    @Override
    public String toString() {
        return opName(op) + " tag " + tag + " sector " + startSector + " +" + sectors;
    }
}
