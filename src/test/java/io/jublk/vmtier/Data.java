package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Test data and its checks. The data is pseudo-random from a seed (a failing test sees the same bytes when run
 * again) and never repeats a 4 KiB block, so a block read from the wrong place cannot pass for the right one.
 */
final class Data {
    static final int MIB = 1 << 20;

    private Data() {}

    /** Fills {@code s} with bytes that depend on {@code seed}. */
    static void random(MemorySegment s, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long words = s.byteSize() / 8;
        for (long i = 0; i < words; i++) {
            s.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
        for (long i = words * 8; i < s.byteSize(); i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    /** A new file of {@code size} bytes of {@link #random} data. */
    static Path randomFile(Path file, long size, long seed) throws IOException {
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            MemorySegment chunk = arena.allocate(MIB);
            for (long at = 0; at < size; at += MIB) {
                MemorySegment part = chunk.asSlice(0, Math.min(MIB, size - at));
                random(part, seed + at);
                writeFully(ch, part.asByteBuffer(), at);
            }
        }
        return file;
    }

    /** A buffer for {@link DirectIo}, page-aligned, holding {@link #random} data. */
    static MemorySegment randomBuffer(Arena arena, long size, long seed) {
        MemorySegment s = arena.allocate(size, DirectIo.ALIGN);
        random(s, seed);
        return s;
    }

    static void writeFully(FileChannel ch, ByteBuffer b, long offset) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b, offset + b.position());
        }
    }

    /**
     * Asserts that {@code length} bytes of {@code actual} at {@code actualOffset} equal those of {@code expected}
     * at {@code expectedOffset} (both read through the page cache), and says where they first differ.
     */
    static void assertSameBytes(String what, Path expected, long expectedOffset, Path actual, long actualOffset,
            long length) throws IOException {
        try (FileChannel e = FileChannel.open(expected); FileChannel a = FileChannel.open(actual)) {
            ByteBuffer eb = ByteBuffer.allocateDirect(MIB);
            ByteBuffer ab = ByteBuffer.allocateDirect(MIB);
            for (long at = 0; at < length; at += MIB) {
                int n = (int) Math.min(MIB, length - at);
                read(e, eb.clear().limit(n), expectedOffset + at, expected);
                read(a, ab.clear().limit(n), actualOffset + at, actual);
                int d = eb.flip().mismatch(ab.flip());
                if (d >= 0) {
                    fail(what + ": " + actual + " differs from " + expected + " first at byte " + (at + d)
                            + " of the " + length + " compared (" + actual + " offset " + (actualOffset + at + d) + ")");
                }
            }
        }
    }

    /** Asserts that {@code length} bytes of {@code data} equal the file's at {@code offset}. */
    static void assertSameBytes(String what, MemorySegment data, Path actual, long offset) throws IOException {
        try (FileChannel a = FileChannel.open(actual)) {
            ByteBuffer ab = ByteBuffer.allocateDirect(MIB);
            for (long at = 0; at < data.byteSize(); at += MIB) {
                int n = (int) Math.min(MIB, data.byteSize() - at);
                read(a, ab.clear().limit(n), offset + at, actual);
                long d = data.asSlice(at, n).mismatch(MemorySegment.ofBuffer(ab.flip()));
                if (d >= 0) {
                    fail(what + ": " + actual + " differs from what was written first at byte " + (at + d) + " of "
                            + data.byteSize() + " (offset " + (offset + at + d) + ")");
                }
            }
        }
    }

    /** Whether {@code length} bytes of the file at {@code offset} are all zero. */
    static boolean allZeros(Path p, long offset, long length) throws IOException {
        try (FileChannel ch = FileChannel.open(p)) {
            ByteBuffer b = ByteBuffer.allocateDirect(MIB);
            ByteBuffer zeros = ByteBuffer.allocateDirect(MIB);
            for (long at = 0; at < length; at += MIB) {
                int n = (int) Math.min(MIB, length - at);
                read(ch, b.clear().limit(n), offset + at, p);
                if (b.flip().mismatch(zeros.clear().limit(n)) >= 0) {
                    return false;
                }
            }
        }
        return true;
    }

    private static void read(FileChannel ch, ByteBuffer b, long offset, Path p) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, offset + b.position()) < 0) {
                throw new IOException(p + " ends before byte " + (offset + b.position()));
            }
        }
    }
}
