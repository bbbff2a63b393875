package io.jublk.targets;

import static io.jublk.uapi.LinuxUapi.FALLOC_FL_KEEP_SIZE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_PUNCH_HOLE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_ZERO_RANGE;
import static io.jublk.uapi.LinuxUapi.RWF_DSYNC;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.HostQueue;
import io.jublk.queue.HostQueue.Fault;
import io.jublk.queue.HostQueue.Kind;
import io.jublk.queue.HostQueue.Op;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.uapi.FileStat;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The loop target's I/O path through {@link HostQueue}: real files (on the host's ext4, or on a tmpfs or ramfs
 * the test mounts), real io_uring, no ublk. What the block layer would get back is {@link HostQueue#result}.
 */
class LoopTargetTest {
    private static final int KIB = 1 << 10;
    private static final int MIB = 1 << 20;
    private static final int DEPTH = 8;
    private static final int BUF = 256 * KIB;

    @TempDir
    Path dir;

    private final Random random = new Random(7);

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static LoopTarget open(Path f, BackingFile.Mode mode, Long size) {
        return LoopTarget.open(new LoopTarget.Config(f, size, mode, false, null, false));
    }

    private Path randomFile(Path f, int bytes) throws IOException {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(b));
        }
        return f;
    }

    private static byte[] fileBytes(Path f, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        try (FileChannel ch = FileChannel.open(f)) {
            while (b.hasRemaining() && ch.read(b, offset + b.position()) > 0) {
                // Until the end of the range or of the file.
            }
        }
        return b.array();
    }

    private static byte[] bytes(MemorySegment s, int length) {
        return s.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private byte[] fill(MemorySegment s, int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, s, 0, length);
        return b;
    }

    /** A READ on {@code tag} brought the file's bytes at {@code offset}; a WRITE put {@code written} there. */
    private static void assertMoved(String op, HostQueue q, int tag, Path f, long offset, byte[] written)
            throws IOException {
        int length = written.length;
        if (op.equals("READ")) {
            assertArrayEquals(fileBytes(f, offset, length), bytes(q.data(tag), length));
        } else {
            assertArrayEquals(written, fileBytes(f, offset, length));
        }
    }

    private static long blocks(Path f) {
        return FileStat.of(f).blocks();
    }

    private static int errnoNamed(String name) throws ReflectiveOperationException {
        return Errno.class.getField(name).getInt(null);
    }

    private static int ublkOp(String name) throws ReflectiveOperationException {
        return Ublk.class.getField("UBLK_IO_OP_" + name).getInt(null);
    }

    private static List<Op> ops(HostQueue q, Kind kind) {
        return q.log().stream().filter(o -> o.kind() == kind).toList();
    }

    // ---- reads, writes, flush, FUA ----------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, zero copy {1}")
    @CsvSource({"DIRECT, false", "BUFFERED, false", "DIRECT, true", "BUFFERED, true"})
    void readsAndWritesRoundTripAgainstTheFilesBytes(BackingFile.Mode mode, boolean zeroCopy) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), 4 * MIB);
        try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, zeroCopy)) {
            // Reads of every tag in flight together, each into its own buffer.
            for (int tag = 0; tag < DEPTH; tag++) {
                q.start(tag, Ublk.UBLK_IO_OP_READ, 0, offset(tag) >> 9, (BUF - tag * 4096) >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                int len = BUF - tag * 4096;
                assertEquals(len, q.result(tag));
                assertArrayEquals(fileBytes(f, offset(tag), len), bytes(q.data(tag), len), "tag " + tag);
            }
            byte[][] written = new byte[DEPTH][];
            for (int tag = 0; tag < DEPTH; tag++) {
                written[tag] = fill(q.data(tag), BUF);
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (tag * (long) BUF + 512) >> 9, BUF >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(BUF, q.result(tag));
                assertArrayEquals(written[tag], fileBytes(f, tag * (long) BUF + 512, BUF), "tag " + tag);
            }
            assertTrue(q.log().stream().allMatch(o -> o.fd() == t.backingFile().ioFd().get()),
                    "everything went to the " + mode + " descriptor");
        }
    }

    /** Overlapping, unaligned to the buffer size, each tag elsewhere. */
    private static long offset(int tag) {
        return tag * (BUF / 2L + 4096);
    }

    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void flushIsOneFdatasyncOfTheBackingFile(BackingFile.Mode mode) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            Op op = q.log().getFirst();
            assertEquals(1, q.log().size());
            assertEquals(Kind.FSYNC, op.kind());
            assertEquals(1, op.flags(), "fdatasync");
            assertEquals(t.backingFile().ioFd().get(), op.fd());
        }
    }

    /**
     * A writeback error is reported by fdatasync once per open file: when a FLUSH saw it, the stop's final
     * fdatasync sees nothing, and must not then report that everything is durable.
     */
    @Test
    void theStopsFlushReportsAFailedLastFlush() throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.BUFFERED, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            assertEquals(0, t.flush());
            q.interpose(o -> o.seq() == 0 ? new Fault.Fail(Errno.EIO) : null);
            assertEquals(-Errno.EIO, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            assertEquals(-Errno.EIO, t.flush(), "the last FLUSH failed");
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            assertEquals(0, t.flush(), "a FLUSH after it made everything durable");
        }
    }

    /** FUA is RWF_DSYNC on the write, and on every continuation of a short one: each part must be durable. */
    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void aFuaWriteGoesWithRwfDsyncAndSoDoesItsContinuation(BackingFile.Mode mode) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            fill(q.data(0), 64 * KIB);
            assertEquals(64 * KIB, q.write(0, 0, 64 * KIB, 0));
            assertEquals(0, q.log().getFirst().flags() & RWF_DSYNC, "no RWF_DSYNC without FUA");
            q.clearLog();
            q.interpose(o -> o.seq() == 0 ? new Fault.ReportAtMost(16 * KIB) : null);
            byte[] data = fill(q.data(0), 64 * KIB);
            assertEquals(64 * KIB, q.write(0, 128 * KIB, 64 * KIB, Ublk.UBLK_IO_F_FUA));
            assertEquals(2, q.log().size(), "the short write was continued: " + q.log());
            assertTrue(q.log().stream().allMatch(o -> (o.flags() & RWF_DSYNC) != 0), q.log().toString());
            assertArrayEquals(data, fileBytes(f, 128 * KIB, 64 * KIB));
        }
    }

    // ---- discard and write-zeroes -----------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void discardPunchesAHoleExactlyOverItsRange(BackingFile.Mode mode) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        byte[] before = fileBytes(f, 0, MIB);
        try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            assertEquals(0, t.flush());
            long full = blocks(f);
            assertEquals(0, q.run(1, Ublk.UBLK_IO_OP_DISCARD, 0, (64 * KIB) >> 9, (128 * KIB) >> 9));
            Op op = q.log().getFirst();
            assertEquals(1, q.log().size());
            assertEquals(List.of(Kind.FALLOCATE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64L * KIB, 128L * KIB),
                    List.of(op.kind(), op.flags(), op.fileOffset(), op.length()));
            assertEquals(t.backingFile().ioFd().get(), op.fd());
            assertTrue(full - blocks(f) >= (128 * KIB) / 512, "the range was deallocated: " + full + " -> " + blocks(f));
        }
        byte[] after = fileBytes(f, 0, MIB);
        assertArrayEquals(Arrays.copyOfRange(before, 0, 64 * KIB), Arrays.copyOfRange(after, 0, 64 * KIB));
        assertArrayEquals(new byte[128 * KIB], Arrays.copyOfRange(after, 64 * KIB, 192 * KIB));
        assertArrayEquals(Arrays.copyOfRange(before, 192 * KIB, MIB), Arrays.copyOfRange(after, 192 * KIB, MIB));
    }

    /** On a file system with both: WRITE_ZEROES punches, and with REQ_NOUNMAP zeroes in place (ZERO_RANGE). */
    @Test
    void writeZeroesPunchesUnlessToldNotToUnmap() throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            assertEquals(0, t.flush());
            long full = blocks(f);
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 0, (256 * KIB) >> 9));
            assertEquals(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, q.log().getLast().flags());
            assertEquals(full, blocks(f), "NOUNMAP: still allocated");
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, 0, (512 * KIB) >> 9, (256 * KIB) >> 9));
            assertEquals(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, q.log().getLast().flags());
            assertTrue(blocks(f) <= full - (256 * KIB) / 512, "a hole: " + full + " -> " + blocks(f));
        }
        assertArrayEquals(new byte[256 * KIB], fileBytes(f, 0, 256 * KIB));
        assertArrayEquals(new byte[256 * KIB], fileBytes(f, 512 * KIB, 256 * KIB));
    }

    /**
     * tmpfs punches holes but has no FALLOC_FL_ZERO_RANGE: a WRITE_ZEROES with REQ_NOUNMAP gets EOPNOTSUPP (the
     * block layer then writes zeros itself) and the file keeps its blocks. It used to punch them out.
     */
    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void writeZeroesWithNoUnmapNeverPunches(BackingFile.Mode mode) throws Exception {
        try (Mounts m = new Mounts()) {
            Path fs = m.tmpfs(dir.resolve("tmpfs"), 8L * MIB);
            Path f = randomFile(fs.resolve("d.img"), MIB);
            byte[] before = fileBytes(f, 0, MIB);
            try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
                assertTrue(t.discardSupported());
                long full = blocks(f);
                for (int i = 0; i < 2; i++) {
                    assertEquals(-Errno.EOPNOTSUPP, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP,
                            0, (256 * KIB) >> 9));
                }
                assertTrue(ops(q, Kind.FALLOCATE).stream().noneMatch(o -> (o.flags() & FALLOC_FL_PUNCH_HOLE) != 0),
                        q.log().toString());
                assertEquals(full, blocks(f));
                assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_DISCARD, 0, (512 * KIB) >> 9, (64 * KIB) >> 9),
                        "discard still punches");
            }
            byte[] after = fileBytes(f, 0, MIB);
            assertArrayEquals(Arrays.copyOf(before, 512 * KIB), Arrays.copyOf(after, 512 * KIB));
        }
    }

    /**
     * A file whose directory is on another file system than the file (no scratch file to probe with): discard is
     * advertised and learned from the first answer. On ramfs, which punches nothing, the first EOPNOTSUPP is
     * remembered for every queue of the device: later discards fail at once, with no system call.
     */
    @Test
    void anUnprobedFileThatCannotPunchLearnsItOnceForEveryQueue() throws Exception {
        try (Mounts m = new Mounts()) {
            Path ram = m.ramfs(dir.resolve("ram"));
            Path f = m.bind(randomFile(ram.resolve("d.img"), MIB), dir.resolve("d.img"));
            byte[] before = fileBytes(f, 0, MIB);
            try (LoopTarget t = open(f, BackingFile.Mode.BUFFERED, null);
                    HostQueue q0 = HostQueue.open(t, DEPTH, BUF, false);
                    HostQueue q1 = HostQueue.open(t, DEPTH, BUF, false)) {
                assertEquals(BackingFile.Discard.UNKNOWN, t.backingFile().discard());
                assertTrue(t.discardSupported(), "advertised until the file system says otherwise");
                assertTrue(t.params(BUF).discard() && t.params(BUF).writeZeroes());

                assertEquals(-Errno.EOPNOTSUPP, q0.run(0, Ublk.UBLK_IO_OP_DISCARD, 0, 0, 128));
                assertEquals(1, q0.log().size());
                q0.clearLog();
                assertEquals(-Errno.EOPNOTSUPP, q0.run(1, Ublk.UBLK_IO_OP_DISCARD, 0, 256, 128));
                assertEquals(-Errno.EOPNOTSUPP, q1.run(0, Ublk.UBLK_IO_OP_DISCARD, 0, 512, 128));
                assertEquals(List.of(), q0.log(), "known: no second try on this queue");
                assertEquals(List.of(), q1.log(), "nor on another");

                // WRITE_ZEROES that may unmap cannot punch here: it tries ZERO_RANGE (not probed either), which
                // ramfs refuses too, so the block layer gets EOPNOTSUPP and writes zeros itself.
                assertEquals(-Errno.EOPNOTSUPP, q1.run(1, Ublk.UBLK_IO_OP_WRITE_ZEROES, 0, 0, 128));
                assertEquals(List.of(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE),
                        q1.log().stream().map(Op::flags).toList());
                q1.clearLog();
                assertEquals(-Errno.EOPNOTSUPP, q0.run(2, Ublk.UBLK_IO_OP_WRITE_ZEROES, 0, 0, 128));
                assertEquals(-Errno.EOPNOTSUPP,
                        q1.run(2, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 0, 128));
                assertEquals(List.of(), q0.log());
                assertEquals(List.of(), q1.log());
            }
            assertArrayEquals(before, fileBytes(f, 0, MIB), "nothing written anywhere");
        }
    }

    /** Unprobed again, on tmpfs: discard punches; ZERO_RANGE is learned missing and never replaced by a punch. */
    @Test
    void anUnprobedFileThatPunchesKeepsDiscardAndLearnsWhatZeroRangeDoes() throws Exception {
        try (Mounts m = new Mounts()) {
            Path tmp = m.tmpfs(dir.resolve("tmp"), 8L * MIB);
            Path f = m.bind(randomFile(tmp.resolve("d.img"), MIB), dir.resolve("d.img"));
            try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
                assertEquals(BackingFile.Discard.UNKNOWN, t.backingFile().discard());
                long full = blocks(f);
                assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_DISCARD, 0, 0, 128));
                assertEquals(full - 128, blocks(f));
                assertEquals(-Errno.EOPNOTSUPP, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 512, 128));
                assertEquals(full - 128, blocks(f), "NOUNMAP: not punched");
                assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, 0, 768, 128), "may unmap: punched");
                assertEquals(full - 256, blocks(f));
                q.clearLog();
                assertEquals(-Errno.EOPNOTSUPP, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 512, 128));
                assertEquals(List.of(), q.log(), "ZERO_RANGE is known missing now");
            }
        }
    }

    // ---- errnos from the backing file -------------------------------------------------------------------------

    /**
     * A real EAGAIN: the read goes with RWF_NOWAIT (interposed) on data that is on the disk but not in the page
     * cache, so the kernel would have to wait for it. The target sends it again, and the block layer gets the
     * data, not BLK_STS_AGAIN.
     */
    @Test
    void eagainFromTheBackingFileIsRetried() throws Exception {
        Path f = dir.resolve("d.img");
        byte[] data = new byte[MIB];
        random.nextBytes(data);
        // Written with O_DIRECT: on the disk, and nothing of it in the page cache.
        try (Fd fd = Fd.open(f, LinuxUapi.O_RDWR | LinuxUapi.O_CREAT | LinuxUapi.O_DIRECT | LinuxUapi.O_CLOEXEC, 0600);
                Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(MIB, 4096);
            MemorySegment.copy(MemorySegment.ofArray(data), 0, buf, 0, MIB);
            assertEquals(MIB, LibC.rawPwrite(fd.get(), buf, MIB, 0));
        }
        try (LoopTarget t = open(f, BackingFile.Mode.BUFFERED, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> o.seq() == 0 ? new Fault.NoWait() : null);
            assertEquals(BUF, q.read(0, 512 * KIB, BUF));
            assertEquals(List.of(-Errno.EAGAIN, BUF), q.log().stream().map(q::resultOf).toList(),
                    "sent again after EAGAIN");
            assertArrayEquals(Arrays.copyOfRange(data, 512 * KIB, 512 * KIB + BUF), bytes(q.data(0), BUF));
        }
    }

    @ParameterizedTest
    @CsvSource({"EINTR, READ", "EINTR, WRITE", "EINTR, FLUSH", "EINTR, DISCARD", "EAGAIN, WRITE_ZEROES",
        "EAGAIN, FLUSH"})
    void eintrAndEagainAreRetriedForEveryOperation(String errno, String op) throws Exception {
        int e = errnoNamed(errno);
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> o.seq() < 2 ? new Fault.Fail(e) : null);
            int expected = op.equals("READ") || op.equals("WRITE") ? 64 * KIB : 0;
            assertEquals(expected, q.run(3, ublkOp(op), 0, 128, (64 * KIB) >> 9));
            assertEquals(3, q.log().size(), q.log().toString());
            assertEquals(1, q.log().stream().map(o -> o.kind() + "@" + o.fileOffset() + "+" + o.length()).distinct()
                    .count(), "the same operation each time: " + q.log());
        }
    }

    @Test
    void retriesAreBoundedThenEio() throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.BUFFERED, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> new Fault.Fail(o.seq() % 2 == 0 ? Errno.EAGAIN : Errno.EINTR));
            assertEquals(-Errno.EIO, q.read(0, 0, 4096));
            int tries = q.log().size();
            assertTrue(tries > 2 && tries <= 64, "retried, but not forever: " + tries);
        }
    }

    @ParameterizedTest
    @CsvSource({"READ", "WRITE", "FLUSH", "DISCARD"})
    void ecanceledIsEio(String op) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> new Fault.Cancel());
            assertEquals(-Errno.EIO, q.run(0, ublkOp(op), 0, 0, 8));
            assertEquals(1, q.log().size());
        }
    }

    /** What the block layer understands passes; what it would misread (a retry hint, a resource status) is EIO. */
    @ParameterizedTest(name = "{0} from a {1} -> {2}")
    @CsvSource({
        "EIO, READ, EIO", "ENOSPC, WRITE, ENOSPC", "EDQUOT, WRITE, ENOSPC", "ENOSPC, WRITE_ZEROES, ENOSPC",
        "ENODATA, READ, ENODATA", "EILSEQ, READ, EILSEQ", "EREMOTEIO, WRITE, EREMOTEIO",
        "EBUSY, WRITE, EIO", "ENOMEM, READ, EIO", "EOPNOTSUPP, READ, EIO", "EOPNOTSUPP, FLUSH, EIO",
        "ENOLINK, READ, EIO", "ETIME, WRITE, EIO", "EOVERFLOW, READ, EIO", "EBADE, WRITE, EIO", "ENODEV, READ, EIO",
        "EINVAL, WRITE, EIO", "EROFS, WRITE, EIO", "EFBIG, WRITE, EIO", "ETIMEDOUT, FLUSH, EIO"})
    void theBlockLayerGetsOnlyErrnosItReadsRight(String from, String op, String to) throws Exception {
        int e = errnoNamed(from);
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> new Fault.Fail(e));
            assertEquals(-errnoNamed(to), q.run(0, ublkOp(op), 0, 0, 8));
        }
    }

    // ---- short transfers --------------------------------------------------------------------------------------

    /**
     * An O_DIRECT read or write that the file answers short at an unaligned count is continued from the count
     * rounded down to the file's alignment, on the same descriptor: a continuation at the unaligned count would
     * fail with EINVAL.
     */
    @ParameterizedTest(name = "{0}, zero copy {1}")
    @CsvSource({"READ, false", "WRITE, false", "READ, true", "WRITE, true"})
    void aShortDirectTransferContinuesAtAnAlignedOffset(String op, boolean zeroCopy) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, zeroCopy)) {
            int align = t.backingFile().alignment();
            int shortBy = 5000;
            q.interpose(o -> o.seq() == 0 ? new Fault.ReportAtMost(shortBy) : null);
            byte[] data = fill(q.data(4), 64 * KIB);
            assertEquals(64 * KIB, q.run(4, ublkOp(op), 0, (128 * KIB) >> 9, (64 * KIB) >> 9));
            List<Op> log = q.log();
            assertEquals(2, log.size(), log.toString());
            int resumeAt = shortBy / align * align;
            assertEquals(128 * KIB + resumeAt, log.get(1).fileOffset());
            assertEquals(resumeAt, log.get(1).bufferOffset());
            assertEquals(64 * KIB - resumeAt, log.get(1).length());
            assertEquals(t.backingFile().directFd().get(), log.get(1).fd(), "still O_DIRECT");
            assertMoved(op, q, 4, f, 128 * KIB, data);
        }
    }

    /** When the aligned continuation gets no further, the rest goes through the buffered descriptor. */
    @ParameterizedTest(name = "{0}, zero copy {1}")
    @CsvSource({"READ, false", "WRITE, false", "READ, true", "WRITE, true"})
    void aShortDirectTransferThatMakesNoAlignedProgressEndsBuffered(String op, boolean zeroCopy) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.DIRECT, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, zeroCopy)) {
            int align = t.backingFile().alignment();
            int first = 3 * align + 100;
            // The first part stops 100 bytes into a block; the aligned retry of that block again stops there.
            q.interpose(o -> o.seq() == 0 ? new Fault.ReportAtMost(first) : o.seq() == 1 ? new Fault.ReportAtMost(100) : null);
            byte[] data = fill(q.data(1), 32 * KIB);
            assertEquals(32 * KIB, q.run(1, ublkOp(op), 0, (256 * KIB) >> 9, (32 * KIB) >> 9));
            List<Op> log = q.log();
            assertEquals(3, log.size(), log.toString());
            assertEquals(3 * align, log.get(1).bufferOffset());
            assertEquals(t.backingFile().directFd().get(), log.get(1).fd());
            assertEquals(first, log.get(2).bufferOffset(), "exactly where the data ends");
            assertEquals(256 * KIB + first, log.get(2).fileOffset());
            assertEquals(32 * KIB - first, log.get(2).length());
            assertEquals(t.backingFile().fd().get(), log.get(2).fd(), "through the page cache");
            assertMoved(op, q, 1, f, 256 * KIB, data);
        }
    }

    /**
     * A real short read: the file is truncated under the device to an unaligned length. The read gets what is
     * left and then end of file: EIO, never the EINVAL of an unaligned O_DIRECT continuation.
     */
    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void aReadPastAFileTruncatedUnderTheDeviceIsEio(BackingFile.Mode mode) throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, mode, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.truncate(64 * KIB + 5000);
            }
            assertEquals(-Errno.EIO, q.read(0, 64 * KIB, 64 * KIB));
            List<Op> log = q.log();
            assertEquals(5000, q.resultOf(log.getFirst()), "what is left of the file: " + log);
            Op last = log.getLast();
            assertEquals(64 * KIB + 5000, last.fileOffset(), "continued up to the end of the file: " + log);
            assertEquals(0, q.resultOf(last), "and there, end of file");
            assertEquals(t.backingFile().fd().get(), last.fd(), "the unaligned rest through the page cache");
            assertEquals(4096, q.read(1, 64 * KIB, 4096), "what is left of the file still reads");
            assertArrayEquals(fileBytes(f, 64 * KIB, 4096), bytes(q.data(1), 4096));
        }
    }

    /**
     * A real short write: the file system fills up in the middle of it. What fits is written, the rest is tried
     * and fails with ENOSPC, which the block layer gets.
     */
    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void aWriteThatFillsTheFileSystemWritesWhatFitsThenFailsWithEnospc(BackingFile.Mode mode) throws Exception {
        try (Mounts m = new Mounts()) {
            Path fs = m.tmpfs(dir.resolve("tiny"), 5L * BUF / 2);
            Path f = fs.resolve("d.img");
            try (LoopTarget t = open(f, mode, 4L * MIB); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
                byte[] a = fill(q.data(0), BUF);
                assertEquals(BUF, q.write(0, 0, BUF, 0));
                byte[] a2 = fill(q.data(0), BUF);
                assertEquals(BUF, q.write(0, BUF, BUF, 0));
                q.clearLog();
                byte[] b = fill(q.data(1), BUF);
                assertEquals(-Errno.ENOSPC, q.write(1, 2 * BUF, BUF, 0), "2.5 blocks of room: the third is short");
                List<Op> log = q.log();
                int fit = q.resultOf(log.getFirst());
                assertTrue(fit > 0 && fit < BUF, "a real short write: " + fit);
                assertEquals(2 * BUF + fit, log.get(1).fileOffset(), "continued where it stopped");
                assertEquals(-Errno.ENOSPC, q.resultOf(log.get(1)));
                assertEquals(2, log.size());
                assertArrayEquals(a, fileBytes(f, 0, BUF));
                assertArrayEquals(a2, fileBytes(f, BUF, BUF));
                assertArrayEquals(Arrays.copyOf(b, fit), fileBytes(f, 2 * BUF, fit));
            }
        }
    }

    @Test
    void aWriteThatWritesNothingIsEio() throws Exception {
        Path f = randomFile(dir.resolve("d.img"), MIB);
        try (LoopTarget t = open(f, BackingFile.Mode.BUFFERED, null); HostQueue q = HostQueue.open(t, DEPTH, BUF, false)) {
            q.interpose(o -> new Fault.ReportAtMost(0));
            assertEquals(-Errno.EIO, q.write(0, 0, 4096, 0));
            assertEquals(1, q.log().size());
        }
    }
}
