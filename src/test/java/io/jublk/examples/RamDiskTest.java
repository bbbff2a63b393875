package io.jublk.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.HostQueue;
import io.jublk.spi.DeviceParams;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The RAM disk example through {@link HostQueue}: what it is told to keep, it gives back, and nothing else. */
class RamDiskTest {
    private static final int KIB = 1 << 10;
    private static final int MIB = 1 << 20;
    private static final int DEPTH = 4;
    private static final int BUF = 256 * KIB;

    private final Random random = new Random(12);

    private byte[] fill(MemorySegment s, int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, length);
        return b;
    }

    private static byte[] bytes(MemorySegment s, int length) {
        return s.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void whatIsWrittenReadsBackWhereItWasWrittenAndTheRestReadsZeros() {
        try (RamDisk disk = new RamDisk(4 * MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF, false)) {
            byte[][] written = new byte[DEPTH][];
            for (int tag = 0; tag < DEPTH; tag++) {
                written[tag] = fill(q.data(tag), BUF - tag * 4 * KIB);
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (tag * MIB + 512L) >> 9, (BUF - tag * 4 * KIB) >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(BUF - tag * 4 * KIB, q.result(tag));
            }
            for (int tag = 0; tag < DEPTH; tag++) {
                q.data(tag).fill((byte) 0x77);
                int length = written[tag].length;
                assertEquals(length, q.read(tag, tag * MIB + 512L, length));
                assertArrayEquals(written[tag], bytes(q.data(tag), length), "tag " + tag);
            }
            q.data(0).fill((byte) 0x77);
            assertEquals(BUF, q.read(0, 3 * MIB + 512 * KIB, BUF));
            assertArrayEquals(new byte[BUF], bytes(q.data(0), BUF), "never written: zeros");
            assertEquals(0, q.log().size(), "served in memory: no I/O started");
        }
    }

    @Test
    void discardAndWriteZeroesZeroExactlyTheirRange() {
        try (RamDisk disk = new RamDisk(MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF, false)) {
            byte[] data = fill(q.data(0), BUF);
            assertEquals(BUF, q.write(0, 0, BUF, 0));
            assertEquals(0, q.run(1, Ublk.UBLK_IO_OP_DISCARD, 0, 8, 8));
            assertEquals(0, q.run(2, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 64, 16));
            assertEquals(BUF, q.read(3, 0, BUF));
            byte[] expected = data.clone();
            Arrays.fill(expected, 8 * 512, 16 * 512, (byte) 0);
            Arrays.fill(expected, 64 * 512, 80 * 512, (byte) 0);
            assertArrayEquals(expected, bytes(q.data(3), BUF));
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
        }
    }

    @Test
    void theDeviceIsWhatItSaysAndRequestsPastItsEndNeverReachTheMemory() {
        try (RamDisk disk = new RamDisk(MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF, false)) {
            DeviceParams p = disk.params(BUF);
            assertEquals(MIB, p.sizeBytes());
            assertEquals(512, p.logicalBlockSize());
            assertFalse(p.has(Ublk.UBLK_ATTR_VOLATILE_CACHE), "nothing to flush");
            assertTrue(p.discard() && p.writeZeroes());
            assertEquals(-Errno.EIO, q.read(0, MIB - 4 * KIB, 8 * KIB));
            assertEquals(-Errno.EIO, q.run(1, Ublk.UBLK_IO_OP_DISCARD, 0, MIB >> 9, 8));
        }
    }

    @Test
    void closeIsIdempotentAndASizeThatIsNotWholePagesIsRefused() {
        RamDisk disk = new RamDisk(64 * KIB);
        disk.close();
        disk.close();
        assertThrows(IllegalArgumentException.class, () -> new RamDisk(1000));
    }
}
