package io.jublk.spi;

import io.jublk.sys.Errno;
import java.lang.foreign.MemorySegment;
import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblksrvIoDesc;

/**
 * Checks a descriptor before any target sees it. The kernel is trusted, but a server that indexes buffers
 * and files with numbers it was handed should not be able to read or write out of bounds whatever those
 * numbers are: every request is either valid for this device or answered with an errno.
 */
public final class RequestDecoder {
    /** Changes with an online resize; read once per request. */
    private volatile long deviceSectors;
    private final int maxIoBytes;
    private final int blockSectorsMask;
    private final boolean readOnly;

    /**
     * @param deviceSectors    device size in 512-byte sectors
     * @param maxIoBytes       capacity of a tag's buffer
     * @param logicalBlockSize requests must be aligned to it
     * @param readOnly         writes are refused with EROFS
     */
    public RequestDecoder(long deviceSectors, int maxIoBytes, int logicalBlockSize, boolean readOnly) {
        this.deviceSectors = deviceSectors;
        this.maxIoBytes = maxIoBytes;
        this.blockSectorsMask = (logicalBlockSize >> 9) - 1;
        this.readOnly = readOnly;
    }

    /**
     * Decodes {@code opFlags/nrSectors/startSector} into {@code r}, a new request on its tag (with a new
     * {@link Request#id()}). Returns 0 if the request may be served, or the negative errno to answer it with.
     */
    public int decode(Request r, int opFlags, int nrSectors, long startSector) {
        int op = UblksrvIoDesc.op(opFlags);
        r.id = ((((r.id >>> 16) + 1) & Request.GENERATION_MASK) << 16) | r.tag();
        r.op = op;
        r.flags = opFlags & ~0xff;
        r.startSector = startSector;
        r.sectors = nrSectors;
        r.scratch = 0;
        switch (op) {
            case Ublk.UBLK_IO_OP_READ, Ublk.UBLK_IO_OP_WRITE -> {
                // Unsigned: a sector count above 2^31 must not pass as negative.
                long bytes = Integer.toUnsignedLong(nrSectors) << 9;
                if (nrSectors == 0 || bytes > maxIoBytes) {
                    return -Errno.EIO;
                }
                if (op == Ublk.UBLK_IO_OP_WRITE && readOnly) {
                    return -Errno.EROFS;
                }
                return checkRange(startSector, nrSectors);
            }
            case Ublk.UBLK_IO_OP_DISCARD, Ublk.UBLK_IO_OP_WRITE_ZEROES -> {
                if (nrSectors == 0) {
                    return -Errno.EIO;
                }
                if (readOnly) {
                    return -Errno.EROFS;
                }
                return checkRange(startSector, nrSectors);
            }
            case Ublk.UBLK_IO_OP_FLUSH -> {
                return 0;
            }
            default -> {
                return -Errno.EOPNOTSUPP;
            }
        }
    }

    private int checkRange(long start, int nrSectors) {
        long n = Integer.toUnsignedLong(nrSectors);
        // start + n <= deviceSectors, without overflow for any 64-bit start.
        if (Long.compareUnsigned(start, deviceSectors) >= 0 || n > deviceSectors - start) {
            return -Errno.EIO;
        }
        if (((start | n) & blockSectorsMask) != 0) {
            return -Errno.EINVAL;
        }
        return 0;
    }

    /**
     * The request object of one tag, made once when a queue starts and reused for every request on that tag; for
     * queue runtimes (and tests that stand in for one).
     *
     * @param buffer the tag's data buffer, or {@link MemorySegment#NULL} on a zero-copy device
     */
    public static Request newRequest(int tag, MemorySegment buffer) {
        return new Request(tag, buffer);
    }

    /**
     * The device's size changed (an online resize): requests are checked against {@code sectors} from now on. The
     * server makes it larger before the kernel's capacity grows, and smaller after it shrank.
     */
    public void resize(long sectors) {
        deviceSectors = sectors;
    }

    public long deviceSectors() {
        return deviceSectors;
    }

    public int maxIoBytes() {
        return maxIoBytes;
    }
}
