package io.jublk.examples;

import static io.jublk.examples.CompressedRamDisk.BLOCK;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.HostQueue;
import io.jublk.spi.Request;
import io.jublk.spi.RequestDecoder;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The compressed RAM disk example: data of every kind reads back as written (random data that does not deflate,
 * text that does, zeros), its memory follows what it holds, and {@code serve} is safe on many threads at once,
 * as the worker pool it is waiting for will call it.
 */
class CompressedRamDiskTest {
    private static final int MIB = 1 << 20;
    private static final int DEPTH = 4;
    private static final int BUF = 64 * BLOCK;

    private final Random random = new Random(5);

    private byte[] randomBytes(int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        return b;
    }

    /** Text that deflates well but is not one repeated byte. */
    private static byte[] text(int length, int seed) {
        StringBuilder s = new StringBuilder();
        for (int line = seed; s.length() < length; line++) {
            s.append("line ").append(line).append(": the quick brown fox jumps over the lazy dog\n");
        }
        return Arrays.copyOf(s.toString().getBytes(StandardCharsets.US_ASCII), length);
    }

    private static void put(MemorySegment s, byte[] b) {
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, b.length);
    }

    private static byte[] bytes(MemorySegment s, int length) {
        return s.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void randomDataTextAndZerosReadBackAsWritten() {
        try (CompressedRamDisk disk = new CompressedRamDisk(8 * MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF,
                false)) {
            byte[] noise = randomBytes(BUF);
            byte[] words = text(BUF, 0);
            byte[] mixed = new byte[BUF];
            // Block by block: noise, zeros, text, zeros...: every kind of block next to every other.
            for (int b = 0; b < BUF / BLOCK; b++) {
                byte[] src = switch (b % 4) {
                    case 0 -> noise;
                    case 2 -> words;
                    default -> new byte[BUF];
                };
                System.arraycopy(src, b * BLOCK, mixed, b * BLOCK, BLOCK);
            }
            byte[][] written = {noise, words, mixed, new byte[BUF]};
            for (int tag = 0; tag < DEPTH; tag++) {
                put(q.data(tag), written[tag]);
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (long) tag * 2 * BUF >> 9, BUF >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(BUF, q.result(tag));
                q.data(tag).fill((byte) 0x33);
                assertEquals(BUF, q.read(tag, (long) tag * 2 * BUF, BUF));
                assertArrayEquals(written[tag], bytes(q.data(tag), BUF), "tag " + tag);
            }
            q.data(0).fill((byte) 0x33);
            assertEquals(BLOCK, q.read(0, 7 * MIB, BLOCK));
            assertArrayEquals(new byte[BLOCK], bytes(q.data(0), BLOCK), "never written: zeros");
        }
    }

    @Test
    void memoryFollowsWhatTheBlocksHold() {
        try (CompressedRamDisk disk = new CompressedRamDisk(8 * MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF,
                false)) {
            put(q.data(0), new byte[BUF]);
            assertEquals(BUF, q.write(0, 0, BUF, 0));
            assertEquals(0, disk.storedBytes(), "zeros take nothing");

            put(q.data(0), randomBytes(BUF));
            assertEquals(BUF, q.write(0, 0, BUF, 0));
            assertEquals(BUF, disk.storedBytes(), "random data is kept as it is, no larger");

            put(q.data(1), text(BUF, 1));
            assertEquals(BUF, q.write(1, MIB, BUF, 0));
            long text = disk.storedBytes() - BUF;
            assertTrue(text > 0 && text < BUF / 4, "text deflates to under a quarter: " + text);

            assertEquals(0, q.run(2, Ublk.UBLK_IO_OP_DISCARD, 0, 0, BUF >> 9));
            assertEquals(text, disk.storedBytes(), "a discard frees its blocks");
            put(q.data(3), new byte[BUF]);
            assertEquals(BLOCK, q.write(3, MIB, BLOCK, 0));
            assertEquals(0, q.run(2, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, (MIB + BLOCK) >> 9,
                    (BUF - BLOCK) >> 9));
            assertEquals(0, disk.storedBytes(), "zeros written and write-zeroes free the rest");
        }
    }

    @Test
    void requestsThatAreNotWholeBlocksNeverReachTheTarget() {
        try (CompressedRamDisk disk = new CompressedRamDisk(MIB); HostQueue q = HostQueue.open(disk, DEPTH, BUF,
                false)) {
            assertEquals(BLOCK, disk.params(BUF).logicalBlockSize());
            assertEquals(-Errno.EINVAL, q.read(0, 512, BLOCK));
            assertEquals(-Errno.EINVAL, q.write(0, 0, 512, 0));
            assertEquals(-Errno.EIO, q.read(0, MIB, BLOCK));
            assertEquals(0, q.run(1, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
        }
    }

    /**
     * What the worker pool will do: many threads serving requests at once, each with its own request and buffer,
     * on blocks next to each other. Every block then reads back as the last request on it wrote it.
     */
    @Test
    void serveIsSafeOnManyThreadsAtOnce() throws Exception {
        int threads = 4;
        int blocksPerThread = 256;
        CompressedRamDisk disk = new CompressedRamDisk((long) threads * blocksPerThread * BLOCK);
        RequestDecoder decoder = new RequestDecoder(disk.params(BLOCK).devSectors(), BLOCK, BLOCK, false);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (Arena arena = Arena.ofShared()) {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                MemorySegment buffer = arena.allocate(BLOCK, BLOCK);
                Request r = RequestDecoder.newRequest(t, buffer);
                results.add(pool.submit(() -> {
                    // Thread t owns blocks t, t + threads, t + 2 * threads...: interleaved with the others'.
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < blocksPerThread; i++) {
                        order.add(i * threads + thread);
                    }
                    Collections.shuffle(order, new Random(thread));
                    for (int block : order) {
                        put(buffer, (block % 3 == 0) ? new byte[BLOCK] : text(BLOCK, block));
                        check(decoder.decode(r, Ublk.UBLK_IO_OP_WRITE, BLOCK >> 9, (long) block * BLOCK >> 9));
                        check(disk.serve(r) - BLOCK);
                    }
                    for (int block : order) {
                        check(decoder.decode(r, Ublk.UBLK_IO_OP_READ, BLOCK >> 9, (long) block * BLOCK >> 9));
                        check(disk.serve(r) - BLOCK);
                        byte[] want = (block % 3 == 0) ? new byte[BLOCK] : text(BLOCK, block);
                        if (!Arrays.equals(want, bytes(buffer, BLOCK))) {
                            return "block " + block + " reads back wrong";
                        }
                    }
                    return null;
                }));
            }
            for (Future<String> f : results) {
                assertEquals(null, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void check(int result) {
        if (result != 0) {
            throw new AssertionError("result " + result);
        }
    }
}
