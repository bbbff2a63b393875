package io.jublk.uring;

import static io.jublk.uapi.IoUringUapi.IORING_FSYNC_DATASYNC;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;
import static io.jublk.uapi.IoUringUapi.IOSQE_FIXED_FILE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_KEEP_SIZE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_PUNCH_HOLE;
import static io.jublk.uapi.LinuxUapi.FALLOC_FL_ZERO_RANGE;
import static io.jublk.uapi.LinuxUapi.O_CLOEXEC;
import static io.jublk.uapi.LinuxUapi.O_CREAT;
import static io.jublk.uapi.LinuxUapi.O_DIRECT;
import static io.jublk.uapi.LinuxUapi.O_RDWR;
import static io.jublk.uapi.LinuxUapi.RWF_DSYNC;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.FileStat;
import io.jublk.uapi.IoUringUapi;
import io.jublk.uapi.LinuxUapi;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The io_uring engine against the host's real io_uring and real files. No kernel is mocked. */
class IoUringTest {
    @TempDir
    Path dir;

    /** Collects completions in order. */
    static final class Collected implements CompletionHandler {
        final List<long[]> cqes = new ArrayList<>();

        @Override
        public void onCompletion(long userData, int res, int flags) {
            cqes.add(new long[] {userData, res, flags});
        }

        long[] only() {
            assertEquals(1, cqes.size(), "completions");
            return cqes.get(0);
        }
    }

    /** Submits what is queued, waits for {@code n} completions and returns them. */
    static Collected await(IoUring ring, int n) {
        Collected c = new Collected();
        while (c.cqes.size() < n) {
            int r = ring.submitAndWait(1);
            assertTrue(r >= 0, "io_uring_enter: " + Errno.name(r));
            ring.forEachCompletion(c);
        }
        return c;
    }

    @Test
    void nopRoundTripsUserData() {
        try (IoUring ring = IoUring.open(8)) {
            long ud = UserData.encode(4095, 7, 200, 0xdeadbeef);
            ring.next().nop().userData(ud);
            long[] cqe = await(ring, 1).only();
            assertEquals(ud, cqe[0]);
            assertEquals(0, cqe[1]);
        }
    }

    /** The kernel completes the NOP with the injected result, and cancels what is linked behind a failed one. */
    @Test
    void aNopCompletesWithTheResultItCarriesAndFailsItsLink() {
        try (IoUring ring = IoUring.open(8)) {
            ring.next().nopResult(4096).userData(1);
            ring.next().nopResult(-Errno.EIO).flags(IoUringUapi.IOSQE_IO_LINK).userData(2);
            ring.next().nop().userData(3);
            List<long[]> cqes = await(ring, 3).cqes;
            assertEquals(List.of("1:4096", "2:" + -Errno.EIO, "3:" + -Errno.ECANCELED),
                    cqes.stream().map(c -> c[0] + ":" + c[1]).toList());
        }
    }

    /**
     * One cursor a ring, however many SQEs: and a slot claimed again starts from zero, so nothing of what it held
     * before (an injected result, a link flag) reaches the next operation written there.
     */
    @Test
    void theCursorIsOneObjectAndAClaimedSlotStartsZeroed() {
        try (IoUring ring = IoUring.open(2)) {
            assertEquals(2, ring.sqEntries());
            IoUring.Sqe first = ring.next().nopResult(-Errno.EIO).flags(IoUringUapi.IOSQE_IO_LINK).userData(1);
            IoUring.Sqe second = ring.next().nopResult(-Errno.EINVAL).userData(2);
            assertSame(first, second);
            assertEquals(List.of("1:" + -Errno.EIO, "2:" + -Errno.ECANCELED),
                    await(ring, 2).cqes.stream().map(c -> c[0] + ":" + c[1]).toList());
            // The same two slots again.
            assertSame(first, ring.next().nop().userData(3));
            ring.next().nop().userData(4);
            assertEquals(List.of("3:0", "4:0"), await(ring, 2).cqes.stream().map(c -> c[0] + ":" + c[1]).toList());
        }
    }

    @Test
    void preferredFlagsAreGrantedOnThisKernelAndSqe128Works() {
        int preferred = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;
        try (IoUring ring = IoUring.open(16, 0, IORING_SETUP_SQE128, preferred, true)) {
            assertEquals(128, ring.sqeSize());
            assertEquals(80, ring.cmdAreaBytes());
            assertTrue((ring.setupFlags() & IORING_SETUP_SQE128) != 0);
            assertEquals(preferred, ring.setupFlags() & preferred, "the host kernel (6.x) has all of them");
            ring.next().nop().userData(1);
            ring.next().nop().userData(2);
            assertEquals(2, await(ring, 2).cqes.size());
        }
    }

    @Test
    void aRequiredFlagTheKernelLacksIsNamed() {
        int bogus = 1 << 30;
        NativeException e = assertThrows(NativeException.class, () -> IoUring.open(8, 0, bogus, 0, true));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("lacks IORING_SETUP flag 0x40000000"), e.getMessage());
    }

    @Test
    void anUnknownPreferredFlagIsDroppedNotFatal() {
        int bogus = 1 << 30;
        try (IoUring ring = IoUring.open(8, 0, 0, bogus | IORING_SETUP_SINGLE_ISSUER, true)) {
            assertEquals(0, ring.setupFlags() & bogus);
            assertEquals(IORING_SETUP_SINGLE_ISSUER, ring.setupFlags() & IORING_SETUP_SINGLE_ISSUER);
        }
    }

    @ParameterizedTest(name = "{0} bytes at offset {1}, direct={2}")
    @CsvSource({
        "4096, 0, false", "4096, 0, true",
        "512, 12800, false", "512, 12800, true",
        "65536, 1048576, false", "65536, 1048576, true",
        "1048576, 4096, false", "1048576, 4096, true",
        "3000, 7, false"
    })
    void writeThenReadRoundTripsWithChecksum(int size, long offset, boolean direct) throws Exception {
        Path file = dir.resolve("data");
        int flags = O_RDWR | O_CREAT | O_CLOEXEC | (direct ? O_DIRECT : 0);
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(file, flags, 0600);
                IoUring ring = IoUring.open(32)) {
            MemorySegment out = arena.allocate(size, 4096);
            MemorySegment in = arena.allocate(size, 4096);
            byte[] data = random(size, size ^ offset);
            MemorySegment.copy(data, 0, out, JAVA_BYTE, 0, size);

            ring.next().write(fd.get(), out.address(), size, offset).userData(11);
            assertEquals(size, await(ring, 1).only()[1], "write result");
            ring.next().read(fd.get(), in.address(), size, offset).userData(12);
            assertEquals(size, await(ring, 1).only()[1], "read result");

            assertArrayEquals(sha256(data), sha256(in.toArray(JAVA_BYTE)));
            byte[] onDisk = Files.readAllBytes(file);
            byte[] region = java.util.Arrays.copyOfRange(onDisk, (int) offset, (int) offset + size);
            assertArrayEquals(sha256(data), sha256(region), "the file holds what was written");
        }
    }

    @Test
    void fixedFilesAndFixedBuffersRoundTrip() throws Exception {
        Path file = dir.resolve("fixed");
        int size = 256 * 1024;
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(file, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(16)) {
            MemorySegment buffers = arena.allocate(2L * size, 4096);
            MemorySegment out = buffers.asSlice(0, size);
            MemorySegment in = buffers.asSlice(size, size);
            ring.registerBuffers(buffers);
            ring.registerFiles(fd.get());
            byte[] data = random(size, 99);
            MemorySegment.copy(data, 0, out, JAVA_BYTE, 0, size);

            IoUring.Sqe sqe = ring.next();
            sqe.writeFixed(0, out.address(), size, 8192, 0).rwFlags(RWF_DSYNC).userData(1);
            sqe.flags(IOSQE_FIXED_FILE);
            assertEquals(size, await(ring, 1).only()[1]);
            sqe = ring.next();
            sqe.readFixed(0, in.address(), size, 8192, 0).userData(2);
            sqe.flags(IOSQE_FIXED_FILE);
            assertEquals(size, await(ring, 1).only()[1]);
            assertArrayEquals(data, in.toArray(JAVA_BYTE));
            ring.unregisterFiles();
            ring.unregisterBuffers();
        }
    }

    @Test
    void sparseBufferTableHasEmptySlots() throws Exception {
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(dir.resolve("sparse"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(8)) {
            ring.registerSparseBuffers(4);
            // The slots exist but hold nothing until someone (ublk's auto registration) fills them: a fixed read
            // into one is refused by the kernel, not a crash or a silent success.
            IoUring.Sqe sqe = ring.next();
            sqe.readFixed(fd.get(), 0, 4096, 0, 2).userData(1);
            assertEquals(-Errno.EFAULT, await(ring, 1).only()[1]);
            // A second table on the same ring is refused: the first one is in place.
            NativeException e = assertThrows(NativeException.class, () -> ring.registerSparseBuffers(4));
            assertEquals(Errno.EBUSY, e.errno());
            ring.unregisterBuffers();
        }
    }

    @Test
    void fsyncAndFdatasyncComplete() {
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(dir.resolve("sync"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(8)) {
            MemorySegment buf = arena.allocate(4096, 4096);
            buf.fill((byte) 7);
            ring.next().write(fd.get(), buf.address(), 4096, 0).userData(1);
            ring.next().fsync(fd.get(), IORING_FSYNC_DATASYNC).userData(2);
            ring.next().fsync(fd.get(), 0).userData(3);
            Collected c = await(ring, 3);
            for (long[] cqe : c.cqes) {
                long expect = cqe[0] == 1 ? 4096 : 0;
                assertEquals(expect, cqe[1], "completion " + cqe[0]);
            }
        }
    }

    @Test
    void fallocatePunchHoleAndZeroRangeGiveZerosAndFreeBlocks() throws Exception {
        Path file = dir.resolve("holes");
        int mib = 1 << 20;
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(8)) {
            MemorySegment buf = arena.allocate(4L * mib, 4096);
            buf.fill((byte) 0x5a);
            ring.next().write(fd.get(), buf.address(), 4 * mib, 0).userData(1);
            ring.next().fsync(fd.get(), 0).userData(2);
            await(ring, 2);
            long before = FileStat.of(fd).blocks();

            ring.next().fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2L * mib).userData(3);
            assertEquals(0, await(ring, 1).only()[1], "punch hole");
            ring.next().fallocate(fd.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 2L * mib, mib).userData(4);
            assertEquals(0, await(ring, 1).only()[1], "zero range");

            long after = FileStat.of(fd).blocks();
            assertEquals(4L * mib, Files.size(file), "KEEP_SIZE keeps the size");
            assertTrue(after <= before - (2L * mib / 512), "punched blocks are freed: " + before + " -> " + after);
            byte[] content = Files.readAllBytes(file);
            for (int i = 0; i < 3 * mib; i++) {
                if (content[i] != 0) {
                    throw new AssertionError("byte " + i + " is not zero after discard");
                }
            }
            for (int i = 3 * mib; i < 4 * mib; i++) {
                assertEquals(0x5a, content[i], "untouched data stays");
            }
        }
    }

    @Test
    void errorsComeBackAsNegativeErrno() throws Exception {
        try (Arena arena = Arena.ofConfined(); IoUring ring = IoUring.open(8)) {
            MemorySegment buf = arena.allocate(8192, 4096);
            Fd closed = Fd.open(dir.resolve("gone"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            int stale = closed.get();
            closed.close();
            ring.next().read(stale, buf.address(), 4096, 0).userData(1);
            assertEquals(-Errno.EBADF, await(ring, 1).only()[1], "read from a closed descriptor");

            try (Fd direct = Fd.open(dir.resolve("direct"), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600)) {
                ring.next().write(direct.get(), buf.address(), 4096, 0).userData(2);
                assertEquals(4096, await(ring, 1).only()[1]);
                ring.next().read(direct.get(), buf.address() + 1, 4096, 0).userData(3);
                int res = (int) await(ring, 1).only()[1];
                assertEquals(-Errno.EINVAL, res, "misaligned O_DIRECT read: " + Errno.name(res));
                NativeException e = new NativeException(res, "READ at sector 0");
                assertEquals("EINVAL", e.errnoName());
                assertEquals("READ at sector 0: EINVAL (Invalid argument)", e.getMessage());
            }
        }
    }

    @Test
    void enospcOnAFullSmallTmpfs() throws Exception {
        assumeTrue(LibC.geteuid() == 0, "mounting a tmpfs needs root (CI runs as root)");
        Path mnt = Files.createDirectory(dir.resolve("tiny"));
        run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString());
        try (Arena arena = Arena.ofConfined();
                Fd fd = Fd.open(mnt.resolve("fill"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(8)) {
            int chunk = 256 * 1024;
            MemorySegment buf = arena.allocate(chunk, 4096);
            int res = 0;
            long off = 0;
            for (int i = 0; i < 16 && res >= 0; i++) {
                ring.next().write(fd.get(), buf.address(), chunk, off).userData(i);
                res = (int) await(ring, 1).only()[1];
                if (res > 0) {
                    off += res;
                }
            }
            assertEquals(-Errno.ENOSPC, res, "a write past 1 MiB of tmpfs: " + Errno.name(res));
        } finally {
            run("umount", mnt.toString());
        }
    }

    @Test
    void aFullSubmissionQueueIsSubmittedNotLost() {
        try (IoUring ring = IoUring.open(8, 64, 0, 0, true)) {
            int n = 50;
            for (int i = 0; i < n; i++) {
                ring.next().nop().userData(1000 + i);
            }
            Collected c = await(ring, n);
            Set<Long> seen = new HashSet<>();
            for (long[] cqe : c.cqes) {
                seen.add(cqe[0]);
            }
            assertEquals(n, seen.size(), "every NOP completes exactly once");
        }
    }

    @Test
    void completionQueueOverflowLosesNothing() {
        try (IoUring ring = IoUring.open(8, 8, 0, 0, true)) {
            assertEquals(8, ring.cqEntries());
            int n = 40;
            for (int batch = 0; batch < n / 8; batch++) {
                for (int i = 0; i < 8; i++) {
                    ring.next().nop().userData(batch * 8 + i);
                }
                int r = ring.submit();
                assertTrue(r == 8 || r == -Errno.EBUSY || r == -Errno.EAGAIN, "submit: " + r);
                if (r < 0) {
                    break;
                }
            }
            Collected c = new Collected();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int submitted = n - ring.pending();
            while (c.cqes.size() < submitted && System.nanoTime() < deadline) {
                ring.forEachCompletion(c);
                ring.getEvents();
            }
            assertEquals(submitted, c.cqes.size(), "completions beyond the CQ size are kept, not dropped");
            assertEquals(0, ring.droppedCompletions());
            assertTrue(submitted > 8, "the test overflowed the CQ");
            Set<Long> seen = new HashSet<>();
            c.cqes.forEach(cqe -> seen.add(cqe[0]));
            assertEquals(submitted, seen.size());
        }
    }

    /**
     * A read of an eventfd that has nothing waits (an armed poll, or with IOSQE_ASYNC an io-wq worker blocked in
     * the read); IORING_ASYNC_CANCEL_ANY ends it, both completions are reaped, and a value written afterwards
     * reaches nobody's memory. On a ring with the flags a queue asks for (DEFER_TASKRUN) and on a plain one.
     */
    @ParameterizedTest(name = "queue ring flags: {0}, forced into io-wq: {1}")
    @CsvSource({"false, false", "false, true", "true, false", "true, true"})
    void cancelAnyCancelsAPendingReadWhichThenNeverWrites(boolean queueFlags, boolean async) throws Exception {
        int setupFlags = queueFlags
                ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN : 0;
        try (Arena arena = Arena.ofConfined();
                Fd efd = Fd.adopt(LibC.rawEventfd(0, LinuxUapi.EFD_CLOEXEC), "eventfd");
                IoUring ring = IoUring.open(8, 0, setupFlags, 0, true)) {
            MemorySegment buf = arena.allocate(8, 8);
            buf.fill((byte) 0x5a);
            IoUring.Sqe read = ring.next();
            read.read(efd.get(), buf.address(), 8, 0).userData(1);
            if (async) {
                // An io-wq worker takes it and blocks in eventfd_read: cancelling means interrupting it.
                read.flags(IoUringUapi.IOSQE_ASYNC);
            }
            assertEquals(1, ring.submit());
            assertEquals(-Errno.ETIME, ring.submitAndWait(1, TimeUnit.MILLISECONDS.toNanos(50)), "the read waits");

            ring.next().cancel(0, IoUringUapi.IORING_ASYNC_CANCEL_ANY).userData(2);
            Collected c = await(ring, 2);
            long[] readCqe = c.cqes.stream().filter(cqe -> cqe[0] == 1).findFirst().orElseThrow();
            long[] cancelCqe = c.cqes.stream().filter(cqe -> cqe[0] == 2).findFirst().orElseThrow();
            assertTrue(readCqe[1] == -Errno.ECANCELED || async && readCqe[1] == -Errno.EINTR,
                    "the read ends cancelled: " + Errno.name((int) readCqe[1]));
            assertTrue(cancelCqe[1] >= 0, "the cancel: " + cancelCqe[1]);

            // What the read would have written arrives now: it must go nowhere.
            MemorySegment value = arena.allocate(8, 8);
            value.set(JAVA_LONG, 0, 7L);
            assertEquals(8, LibC.rawWrite(efd.get(), value, 8));
            Collected late = new Collected();
            assertEquals(-Errno.ETIME, ring.submitAndWait(1, TimeUnit.MILLISECONDS.toNanos(50)));
            ring.forEachCompletion(late);
            assertEquals(0, late.cqes.size(), "nothing else completes");
            for (int i = 0; i < 8; i++) {
                assertEquals((byte) 0x5a, buf.get(JAVA_BYTE, i), "byte " + i + " of the buffer is untouched");
            }
        }
    }

    @Test
    void aBoundedWaitEndsWithEtimeAndOtherwiseReturnsWhatCompleted() {
        try (IoUring ring = IoUring.open(8, 0, 0, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, true)) {
            long t0 = System.nanoTime();
            assertEquals(-Errno.ETIME, ring.submitAndWait(1, TimeUnit.MILLISECONDS.toNanos(30)));
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(25), "it waited");
            ring.next().nop().userData(9);
            assertEquals(1, ring.submitAndWait(1, TimeUnit.SECONDS.toNanos(10)));
            Collected c = new Collected();
            ring.forEachCompletion(c);
            assertEquals(9, c.only()[0]);
        }
    }

    @Test
    void closeIsIdempotent() {
        IoUring ring = IoUring.open(4);
        ring.close();
        ring.close();
    }

    @Test
    void uringCmdOnARegularFileIsRejectedWithAnErrno() throws IOException {
        try (Fd fd = Fd.open(dir.resolve("plain"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                IoUring ring = IoUring.open(4, 0, IORING_SETUP_SQE128, 0, true)) {
            ring.next().uringCmd(fd.get(), 0x1234).userData(77);
            long[] cqe = await(ring, 1).only();
            assertEquals(77, cqe[0]);
            assertNotEquals(0, cqe[1]);
            assertTrue(cqe[1] < 0, "an errno");
        }
        assertEquals(IoUringUapi.IORING_OP_URING_CMD, 46);
        assertEquals(LinuxUapi.O_DIRECT, 040000);
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }

    static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }
}
