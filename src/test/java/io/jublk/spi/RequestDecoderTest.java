package io.jublk.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Hostile descriptors: whatever the kernel (or a bug, or memory corruption) puts into an io descriptor, the
 * decoder either accepts a request that is inside the device, fits the tag's buffer, is aligned and is a known
 * operation, or answers it with an errno. Fuzzed with random and edge-case values.
 */
class RequestDecoderTest {
    static final long SECTORS = (1L << 30) >> 9; // 1 GiB
    static final int MAX_IO = 512 * 1024;

    final MemorySegment buffer = Arena.ofAuto().allocate(MAX_IO, 4096);

    static final long[] EDGE_SECTORS = {0, 1, 7, 8, SECTORS - 8, SECTORS - 1, SECTORS, SECTORS + 1, Long.MAX_VALUE,
        Long.MIN_VALUE, -1, -8, 1L << 55, 0xffff_ffffL};
    static final int[] EDGE_COUNTS = {0, 1, 7, 8, 1024, 1025, MAX_IO >> 9, (MAX_IO >> 9) + 1, Integer.MAX_VALUE,
        Integer.MIN_VALUE, -1, -8, 1 << 22, 0x00ff_ffff};

    @Test
    void randomDescriptorsNeverEscapeTheDeviceOrTheBuffer() {
        for (int lbs : new int[] {512, 4096}) {
            for (boolean ro : new boolean[] {false, true}) {
                RequestDecoder d = new RequestDecoder(SECTORS, MAX_IO, lbs, ro);
                Request r = RequestDecoder.newRequest(3, buffer);
                SplittableRandom rnd = new SplittableRandom(lbs * 31L + (ro ? 1 : 0));
                int accepted = 0;
                for (int i = 0; i < 500_000; i++) {
                    int opFlags = switch (rnd.nextInt(4)) {
                        case 0 -> rnd.nextInt(); // anything
                        case 1 -> rnd.nextInt(6) | (rnd.nextInt(1 << 12) << 8); // known ops, random flags
                        default -> rnd.nextInt(3); // read, write, flush
                    };
                    long start = rnd.nextInt(3) == 0 ? EDGE_SECTORS[rnd.nextInt(EDGE_SECTORS.length)]
                            : rnd.nextBoolean() ? rnd.nextLong() : rnd.nextLong(SECTORS + 64);
                    int count = rnd.nextInt(3) == 0 ? EDGE_COUNTS[rnd.nextInt(EDGE_COUNTS.length)]
                            : rnd.nextBoolean() ? rnd.nextInt() : rnd.nextInt((MAX_IO >> 9) + 16);
                    int res = d.decode(r, opFlags, count, start);
                    if (res == 0) {
                        accepted++;
                        assertValid(r, lbs, ro);
                    } else {
                        assertTrue(res == -Errno.EIO || res == -Errno.EINVAL || res == -Errno.EOPNOTSUPP
                                || res == -Errno.EROFS, "an errno the block layer understands: " + res);
                    }
                }
                assertTrue(accepted > 10_000, "the fuzzer also reached valid requests: " + accepted);
            }
        }
    }

    static void assertValid(Request r, int lbs, boolean ro) {
        int op = r.op();
        assertTrue(op == Ublk.UBLK_IO_OP_READ || op == Ublk.UBLK_IO_OP_WRITE || op == Ublk.UBLK_IO_OP_FLUSH
                || op == Ublk.UBLK_IO_OP_DISCARD || op == Ublk.UBLK_IO_OP_WRITE_ZEROES, "known op " + op);
        if (op == Ublk.UBLK_IO_OP_FLUSH) {
            return;
        }
        long n = Integer.toUnsignedLong(r.sectors());
        assertTrue(n > 0, r.toString());
        assertTrue(r.startSector() >= 0 && r.startSector() + n <= SECTORS, "inside the device: " + r);
        assertEquals(0, (r.startSector() * 512) % lbs, "aligned start: " + r);
        assertEquals(0, (n * 512) % lbs, "aligned length: " + r);
        if (op == Ublk.UBLK_IO_OP_READ || op == Ublk.UBLK_IO_OP_WRITE) {
            assertTrue(r.length() <= r.buffer().byteSize(), "fits the buffer: " + r);
        }
        if (ro) {
            assertEquals(Ublk.UBLK_IO_OP_READ, op, "a read-only device serves reads and flushes only");
        }
    }

    @Test
    void specificCases() {
        RequestDecoder d = new RequestDecoder(SECTORS, MAX_IO, 4096, false);
        Request r = RequestDecoder.newRequest(0, buffer);
        assertEquals(0, d.decode(r, Ublk.UBLK_IO_OP_READ, 8, 0));
        assertEquals(0, d.decode(r, Ublk.UBLK_IO_OP_WRITE | Ublk.UBLK_IO_F_FUA, 8, SECTORS - 8));
        assertTrue(r.fua());
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, 8, SECTORS), "past the end");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, 16, SECTORS - 8), "crossing the end");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, 8, -8), "negative start");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, (MAX_IO >> 9) + 8, 0), "larger than the buffer");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, 0, 0), "empty read");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_READ, -8, 0), "2^32-8 sectors");
        assertEquals(-Errno.EINVAL, d.decode(r, Ublk.UBLK_IO_OP_READ, 1, 0), "unaligned length");
        assertEquals(-Errno.EINVAL, d.decode(r, Ublk.UBLK_IO_OP_READ, 8, 1), "unaligned start");
        assertEquals(0, d.decode(r, Ublk.UBLK_IO_OP_DISCARD, 1 << 20, 0), "a discard may exceed the buffer");
        assertEquals(-Errno.EIO, d.decode(r, Ublk.UBLK_IO_OP_DISCARD, 1 << 22, 0), "but not the device");
        assertEquals(0, d.decode(r, Ublk.UBLK_IO_OP_FLUSH, 0, 0));
        assertEquals(-Errno.EOPNOTSUPP, d.decode(r, Ublk.UBLK_IO_OP_ZONE_APPEND, 8, 0));
        assertEquals(-Errno.EOPNOTSUPP, d.decode(r, 0xff, 8, 0));
        RequestDecoder ro = new RequestDecoder(SECTORS, MAX_IO, 512, true);
        assertEquals(-Errno.EROFS, ro.decode(r, Ublk.UBLK_IO_OP_WRITE, 8, 0));
        assertEquals(-Errno.EROFS, ro.decode(r, Ublk.UBLK_IO_OP_DISCARD, 8, 0));
    }
}
