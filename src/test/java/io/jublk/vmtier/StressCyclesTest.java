package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.nio.file.ExtendedOpenOption;
import io.jublk.server.UblkServer;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopTarget;
import io.jublk.targets.NullTarget;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * 50 add → I/O → del cycles with two devices at once, in this one process. Each cycle starts a null and a loop
 * device concurrently, writes a pattern that depends on the cycle and the offset through {@code /dev/ublkbN} with
 * O_DIRECT and reads it back, then stops and deletes both concurrently. The cycles run once, before the tests;
 * each test is one verdict on them: the kernel gave the same ids every cycle, every read-back matched, every stop
 * was clean, nothing was left after any del, and the process holds as many descriptors and threads after the last
 * cycle as after the first. {@code -Djublk.stress.cycles=N} runs another number of cycles.
 */
@ExtendWith(UblkKernel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StressCyclesTest {
    private static final int CYCLES = Integer.getInteger("jublk.stress.cycles", 50);
    private static final long NULL_SIZE = 64L << 20;
    private static final long LOOP_SIZE = 64L << 20;
    /** Bytes written and read back per cycle: on the loop device, and on the null device. */
    private static final int LOOP_IO = 4 << 20;
    private static final int NULL_IO = 1 << 20;
    private static final int CHUNK = 256 << 10;
    /** The JDK aligns O_DIRECT to the file system's block size; devtmpfs says 4096. */
    private static final int ALIGN = 4096;
    /** A thread or descriptor can outlive its Thread.join / close by a moment; a leak does not go away. */
    private static final Duration SETTLE = Duration.ofSeconds(5);
    /**
     * The JDK's threads that wait for child processes (the tests before this one run fio and mkfs) end when they
     * have been idle a while, whenever that is: not this test's business, and not counted.
     */
    private static final Predicate<String> COUNTED_THREAD = name -> !name.equals("process reaper");

    private final ByteBuffer written = aligned(LOOP_IO);
    private final ByteBuffer read = aligned(LOOP_IO);
    private final ByteBuffer nullWritten = aligned(NULL_IO);
    private final ByteBuffer nullRead = aligned(NULL_IO);
    private final ByteBuffer zeros = ByteBuffer.allocate(NULL_IO);
    private final List<Failure> failures = Collections.synchronizedList(new ArrayList<>());

    // What the cycles found, for the tests.
    private int cyclesDone;
    private List<Integer> firstIds;
    private final List<Integer> idsSeen = new ArrayList<>();
    private Map<String, String> fdsAfterFirst;
    private Map<String, String> fdsAfterLast;
    private List<String> threadsAfterFirst;
    private List<String> threadsAfterLast;

    private record Outcome<T>(T value, Throwable error) {}

    /** What a failure in a cycle counts against. */
    private enum Check { START, IDS, DATA, STOP, LEFTOVERS }

    private record Failure(Check check, int cycle, String text) {}

    private record Started(UblkServer nullServer, UblkServer loopServer) {}

    // ---- the verdicts -----------------------------------------------------------------------------------------

    @Test
    @Order(1)
    @DisplayName("every add -> I/O -> del cycle with two devices at once ran")
    void everyCycleRan() {
        assertEquals(CYCLES, cyclesDone, "cycles done" + failuresOf(Check.START));
        assertNone(Check.START);
    }

    @Test
    @Order(2)
    @DisplayName("the kernel gave the same two ids in every cycle")
    void idsAreReused() {
        assertNone(Check.IDS);
    }

    @Test
    @Order(3)
    @DisplayName("data read back equals data written in every cycle (loop: through the device and in the file"
            + " after del; null: reads zeros)")
    void dataReadBackMatches() {
        assertNone(Check.DATA);
    }

    @Test
    @Order(4)
    @DisplayName("every stop returned 0 and left no queue thread or queue failure")
    void everyStopWasClean() {
        assertNone(Check.STOP);
    }

    @Test
    @Order(5)
    @DisplayName("device nodes and char-device mappings gone right after every del")
    void nothingLeftAfterADel() {
        assertNone(Check.LEFTOVERS);
    }

    @Test
    @Order(6)
    @DisplayName("as many open descriptors after the last cycle as after the first")
    void noDescriptorLeaks() {
        assertTrue(fdsAfterFirst != null, "no cycle completed");
        assertEquals(fdsAfterFirst.size(), fdsAfterLast.size(), "open descriptors after the last cycle (after the"
                + " first: " + fdsAfterFirst.size() + ")" + diff(fdsAfterFirst, fdsAfterLast));
    }

    @Test
    @Order(7)
    @DisplayName("as many threads after the last cycle as after the first")
    void noThreadLeaks() {
        assertTrue(threadsAfterFirst != null, "no cycle completed");
        assertEquals(threadsAfterFirst.size(), threadsAfterLast.size(), "threads after the last cycle (after the"
                + " first: " + threadsAfterFirst.size() + ")" + diff(threadsAfterFirst, threadsAfterLast));
    }

    @Test
    @Order(8)
    @DisplayName("no mapping of /dev/ublkc* and no device node of any id used is left at the end")
    void nothingLeftAtTheEnd() throws IOException {
        assertEquals(List.of(), ublkcMappings(), "mappings of /dev/ublkc*");
        List<String> nodes = new ArrayList<>();
        for (int id : idsSeen) {
            for (String n : List.of("/dev/ublkb" + id, "/dev/ublkc" + id)) {
                if (Files.exists(Path.of(n))) {
                    nodes.add(n);
                }
            }
        }
        assertEquals(List.of(), nodes, "device nodes of ids " + sorted(idsSeen));
    }

    /** No cycle failed this check (and some cycles ran). */
    private void assertNone(Check check) {
        assertTrue(cyclesDone > 0, "no cycle ran");
        assertEquals("", failuresOf(check), check + " failures");
    }

    private String failuresOf(Check check) {
        StringBuilder b = new StringBuilder();
        synchronized (failures) {
            failures.stream().filter(f -> f.check() == check).limit(20)
                    .forEach(f -> b.append("\ncycle ").append(f.cycle()).append(": ").append(f.text()));
        }
        return b.toString();
    }

    // ---- the cycles -------------------------------------------------------------------------------------------

    @BeforeAll
    void runCycles(@TempDir(factory = Scratch.class) Path dir) throws Exception {
        Path file = dir.resolve("stress-loop.img");
        long runStart = System.nanoTime();
        for (int c = 1; c <= CYCLES; c++) {
            int failuresBefore = failures.size();
            long t0 = System.nanoTime();
            LoopTarget loopTarget = LoopTarget.open(new LoopTarget.Config(file, LOOP_SIZE, BackingFile.Mode.DIRECT,
                    false, null, false));
            Started s = startBoth(loopTarget, c);
            if (s == null) {
                loopTarget.close(); // whether or not the failed start closed it (close is idempotent)
                break;
            }
            List<Integer> ids = List.of(s.nullServer().info().devId(), s.loopServer().info().devId());
            for (int id : ids) {
                if (!idsSeen.contains(id)) {
                    idsSeen.add(id);
                }
            }
            if (firstIds == null) {
                firstIds = ids;
            } else if (!sorted(ids).equals(sorted(firstIds))) {
                fail(Check.IDS, c, "ids " + ids + ", not " + firstIds + " again");
            }
            long t1 = System.nanoTime();
            int cycle = c;
            for (Outcome<Void> o : concurrently(List.<Callable<Void>>of(
                    () -> nullIo(s.nullServer(), cycle),
                    () -> loopIo(s.loopServer(), cycle)))) {
                if (o.error() != null) {
                    fail(Check.DATA, c, "I/O failed: " + o.error());
                }
            }
            long t2 = System.nanoTime();
            boolean stoppedCleanly = stopBoth(s, c);
            afterStop(ids, file, c);
            long t3 = System.nanoTime();
            cyclesDone = c;
            if (c == 1 || c == CYCLES || failures.size() > failuresBefore) {
                System.out.printf("     # cycle %d/%d: ids %s; start %.2f s, I/O %.2f s, stop and checks %.2f s%s%n",
                        c, CYCLES, ids, secs(t1 - t0), secs(t2 - t1), secs(t3 - t2),
                        failures.size() > failuresBefore ? " (failures)" : "");
            }
            if (!stoppedCleanly) {
                // A server that did not stop may still hold its device: later cycles would only repeat that.
                break;
            }
            if (c == 1) {
                fdsAfterFirst = settled(StressCyclesTest::openFds, null);
                threadsAfterFirst = settled(StressCyclesTest::threadNames, null);
            }
        }
        System.out.printf("     # %d cycles in %.1f s%n", cyclesDone, secs(System.nanoTime() - runStart));
        if (fdsAfterFirst != null) {
            Map<String, String> first = fdsAfterFirst;
            fdsAfterLast = settled(StressCyclesTest::openFds, m -> m.size() == first.size());
            List<String> firstThreads = threadsAfterFirst;
            threadsAfterLast = settled(StressCyclesTest::threadNames, t -> t.size() == firstThreads.size());
        }
        Files.deleteIfExists(file);
    }

    private static UblkServer.Options options(int queues) {
        return UblkServer.Options.builder().queues(queues).depth(64).readyTimeout(Duration.ofSeconds(60)).build();
    }

    /** Starts both servers at once; on a failure stops whichever started and returns null. */
    private Started startBoth(LoopTarget loopTarget, int cycle) throws InterruptedException {
        List<Outcome<UblkServer>> started = concurrently(List.<Callable<UblkServer>>of(
                () -> UblkServer.start(new NullTarget(NULL_SIZE, 512), options(2)),
                () -> UblkServer.start(loopTarget, options(1))));
        if (started.stream().allMatch(o -> o.error() == null)) {
            return new Started(started.get(0).value(), started.get(1).value());
        }
        for (Outcome<UblkServer> o : started) {
            if (o.error() != null) {
                fail(Check.START, cycle, "start failed: " + o.error());
            } else {
                o.value().close();
            }
        }
        return null;
    }

    /** Writes a pattern and reads it back: the null device must read zeros whatever was written. */
    private Void nullIo(UblkServer server, int cycle) throws IOException {
        pattern(nullWritten, cycle, 0);
        try (FileChannel ch = openDirect(server)) {
            transfer(ch, nullWritten, 0, true);
            ch.force(false);
            transfer(ch, nullRead, 0, false);
        }
        if (nullRead.clear().mismatch(zeros.clear()) >= 0) {
            fail(Check.DATA, cycle, "the null device read non-zero bytes at "
                    + nullRead.clear().mismatch(zeros.clear()));
        }
        return null;
    }

    /** Writes the cycle's pattern (with a FLUSH after it) and reads it back with O_DIRECT. */
    private Void loopIo(UblkServer server, int cycle) throws IOException {
        long offset = loopOffset(cycle);
        pattern(written, cycle, offset);
        try (FileChannel ch = openDirect(server)) {
            transfer(ch, written, offset, true);
            ch.force(false); // FLUSH: the loop target's fdatasync path
            read.clear().put(0, new byte[LOOP_IO]);
            transfer(ch, read, offset, false);
        }
        compare(cycle, "the loop device", read);
        return null;
    }

    private void compare(int cycle, String where, ByteBuffer actual) {
        long want = crc(written);
        long got = crc(actual);
        if (want != got) {
            fail(Check.DATA, cycle, String.format("%s holds crc32c %08x, written %08x; first difference"
                    + " at byte %d", where, got, want, written.clear().mismatch(actual.clear())));
        }
    }

    private static long loopOffset(int cycle) {
        // A different place each cycle (within the first 36 MiB), so a misplaced write shows.
        return (1L << 20) + (long) ((cycle - 1) % 8) * LOOP_IO;
    }

    /** Stops and deletes both servers at once; false if either could not be stopped. */
    private boolean stopBoth(Started s, int cycle) throws InterruptedException {
        boolean clean = true;
        for (Outcome<UblkServer.StopResult> o : concurrently(List.<Callable<UblkServer.StopResult>>of(
                () -> stop(s.nullServer()),
                () -> stop(s.loopServer())))) {
            if (o.error() != null) {
                fail(Check.STOP, cycle, "stop threw " + o.error());
                clean = false;
            } else if (!o.value().ok()) {
                fail(Check.STOP, cycle, "stop returned " + o.value());
            }
        }
        for (UblkServer server : List.of(s.nullServer(), s.loopServer())) {
            if (server.anyQueueAlive()) {
                fail(Check.STOP, cycle, "a queue thread of device " + server.info().devId()
                        + " is still alive after stop");
                clean = false;
            }
            if (!server.queueFailures().isEmpty()) {
                fail(Check.STOP, cycle, "queue failures on device " + server.info().devId() + ": "
                        + server.queueFailures());
            }
        }
        return clean;
    }

    private static UblkServer.StopResult stop(UblkServer server) {
        try {
            return server.stop();
        } finally {
            server.close();
        }
    }

    /** Right after del: no node, no mapping is left, and the backing file holds what was written. */
    private void afterStop(List<Integer> ids, Path file, int cycle) throws IOException {
        for (int id : ids) {
            for (String n : List.of("/dev/ublkb" + id, "/dev/ublkc" + id)) {
                if (Files.exists(Path.of(n))) {
                    fail(Check.LEFTOVERS, cycle, n + " still exists after del");
                }
            }
        }
        List<String> maps = ublkcMappings();
        if (!maps.isEmpty()) {
            fail(Check.LEFTOVERS, cycle, "mappings of the char device after del: " + maps);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            read.clear().put(0, new byte[LOOP_IO]);
            transfer(ch, read, loopOffset(cycle), false);
        }
        compare(cycle, "the backing file after del", read);
    }

    // ---- I/O helpers ------------------------------------------------------------------------------------------

    private static FileChannel openDirect(UblkServer server) throws IOException {
        return FileChannel.open(Path.of(server.blockDevice()), StandardOpenOption.READ, StandardOpenOption.WRITE,
                ExtendedOpenOption.DIRECT);
    }

    /** Reads or writes all of {@code buf} at {@code offset}, in CHUNK-sized requests. */
    private static void transfer(FileChannel ch, ByteBuffer buf, long offset, boolean write) throws IOException {
        for (int at = 0; at < buf.capacity(); at += CHUNK) {
            ByteBuffer slice = buf.slice(at, Math.min(CHUNK, buf.capacity() - at));
            while (slice.hasRemaining()) {
                long pos = offset + at + slice.position();
                int n = write ? ch.write(slice, pos) : ch.read(slice, pos);
                if (n <= 0) {
                    throw new IOException((write ? "write" : "read") + " at " + pos + " returned " + n);
                }
            }
        }
    }

    /** Words that depend on the cycle and the device offset: stale or misplaced data cannot match. */
    private static void pattern(ByteBuffer buf, int cycle, long offset) {
        for (int i = 0; i < buf.capacity(); i += 8) {
            long x = ((long) cycle << 48) ^ (offset + i);
            x *= 0x9E3779B97F4A7C15L;
            buf.putLong(i, x ^ (x >>> 29));
        }
    }

    private static long crc(ByteBuffer buf) {
        CRC32C c = new CRC32C();
        c.update(buf.duplicate().clear());
        return c.getValue();
    }

    private static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + ALIGN).alignedSlice(ALIGN).limit(size).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    // ---- process state ----------------------------------------------------------------------------------------

    /** Open descriptors of this process: number → what it points at. */
    private static Map<String, String> openFds() {
        Map<String, String> fds = new TreeMap<>();
        String self = "/proc/" + ProcessHandle.current().pid() + "/fd";
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException gone) {
                    continue;
                }
                // Not the listing's own directory descriptor: its number moves with the others.
                if (!target.equals(self)) {
                    fds.put(p.getFileName().toString(), target);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("listing /proc/self/fd", e);
        }
        return fds;
    }

    /** The names of this process's threads (from the kernel's view, /proc/self/task) that count, sorted. */
    private static List<String> threadNames() {
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/task"))) {
            for (Path p : s.toList()) {
                try {
                    names.add(Files.readString(p.resolve("comm")).trim());
                } catch (IOException exited) {
                    // The thread ended while we looked.
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("listing /proc/self/task", e);
        }
        return names.stream().filter(COUNTED_THREAD).sorted().toList();
    }

    private static List<String> ublkcMappings() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("ublkc")).toList();
    }

    /**
     * Samples until {@code done} holds, or two samples 200 ms apart agree (done == null), within SETTLE: a
     * thread's task can outlive its join for a moment.
     */
    private static <T> T settled(Callable<T> sample, Predicate<T> done) throws Exception {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        T last = sample.call();
        while (System.nanoTime() < deadline) {
            if (done != null && done.test(last)) {
                return last;
            }
            Thread.sleep(200);
            T next = sample.call();
            if (done == null && next.equals(last)) {
                return next;
            }
            last = next;
        }
        return last;
    }

    private static String diff(Map<String, String> before, Map<String, String> after) {
        List<String> extra = new ArrayList<>();
        after.forEach((fd, target) -> {
            if (!target.equals(before.get(fd))) {
                extra.add(fd + "->" + target);
            }
        });
        List<String> missing = new ArrayList<>();
        before.forEach((fd, target) -> {
            if (!target.equals(after.get(fd))) {
                missing.add(fd + "->" + target);
            }
        });
        return (extra.isEmpty() ? "" : "; new: " + extra) + (missing.isEmpty() ? "" : "; gone: " + missing);
    }

    private static String diff(List<String> before, List<String> after) {
        List<String> extra = new ArrayList<>(after);
        before.forEach(extra::remove);
        List<String> missing = new ArrayList<>(before);
        after.forEach(missing::remove);
        return (extra.isEmpty() ? "" : "; new: " + extra) + (missing.isEmpty() ? "" : "; gone: " + missing);
    }

    // ---- small things -----------------------------------------------------------------------------------------

    /** Runs each task on its own platform thread and waits for all of them. */
    private static <T> List<Outcome<T>> concurrently(List<Callable<T>> tasks) throws InterruptedException {
        List<Outcome<T>> out = new ArrayList<>(Collections.nCopies(tasks.size(), null));
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            int k = i;
            threads.add(Thread.ofPlatform().name("stress-" + k).start(() -> {
                Outcome<T> o;
                try {
                    o = new Outcome<>(tasks.get(k).call(), null);
                } catch (Throwable t) {
                    o = new Outcome<>(null, t);
                }
                synchronized (out) {
                    out.set(k, o);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        synchronized (out) {
            return List.copyOf(out);
        }
    }

    private void fail(Check check, int cycle, String text) {
        failures.add(new Failure(check, cycle, text));
    }

    private static List<Integer> sorted(List<Integer> ids) {
        return ids.stream().sorted().toList();
    }

    private static double secs(long nanos) {
        return nanos / 1e9;
    }
}
