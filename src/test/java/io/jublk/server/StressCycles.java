package io.jublk.server;

import com.sun.nio.file.ExtendedOpenOption;
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
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Reliability scenario "50 add → I/O → del cycles with two devices at once", in one process through the Java
 * API (the CLI would spawn a daemon per device). Each cycle starts a null and a loop device concurrently,
 * writes a pattern that depends on the cycle and the offset through {@code /dev/ublkbN} with O_DIRECT and
 * reads it back, then stops and deletes both concurrently. Afterwards it checks that the kernel gave the same
 * ids every cycle, that the process holds as many descriptors and threads as after the first cycle, that no
 * {@code /dev/ublkcN} mapping and no device node is left, and that every read-back matched.
 *
 * <p>Prints {@code PASS ...} / {@code FAIL ...} lines and {@code # ...} progress; exits 1 on any failure. Needs
 * ublk (run by {@code vm-tests/rel-stress.sh}): {@code StressCycles DIR [CYCLES]}, DIR on a real file system
 * for the loop target's backing file.
 */
public final class StressCycles {
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

    // Held so the level sticks (java.util.logging keeps loggers weakly): one line per device start and stop
    // would be 200 lines of noise; warnings and errors still show.
    private static final Logger JUBLK_LOG = Logger.getLogger("io.jublk");

    private final Path dir;
    private final int cycles;
    private final ByteBuffer written = aligned(LOOP_IO);
    private final ByteBuffer read = aligned(LOOP_IO);
    private final ByteBuffer nullWritten = aligned(NULL_IO);
    private final ByteBuffer nullRead = aligned(NULL_IO);
    private final ByteBuffer zeros = ByteBuffer.allocate(NULL_IO);
    private final List<Failure> cycleFailures = Collections.synchronizedList(new ArrayList<>());
    private int failed;

    private StressCycles(Path dir, int cycles) {
        this.dir = dir;
        this.cycles = cycles;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: StressCycles DIR [CYCLES]");
            System.exit(2);
        }
        JUBLK_LOG.setLevel(Level.WARNING);
        StressCycles s = new StressCycles(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 50);
        System.exit(s.run() ? 0 : 1);
    }

    private record Outcome<T>(T value, Throwable error) {}

    /** What a failure in a cycle counts against. */
    private enum Check { START, IDS, DATA, STOP, LEFTOVERS }

    private record Failure(Check check, int cycle, String text) {}

    private record Started(UblkServer nullServer, UblkServer loopServer) {}

    private boolean run() throws Exception {
        Path file = dir.resolve("stress-loop.img");
        Files.deleteIfExists(file);
        List<Integer> firstIds = null;
        List<Integer> idsSeen = new ArrayList<>();
        Map<String, String> fdsAfterFirst = null;
        List<String> threadsAfterFirst = null;
        int cyclesDone = 0;
        long runStart = System.nanoTime();
        long slowest = 0;

        for (int c = 1; c <= cycles; c++) {
            int failuresBefore = cycleFailures.size();
            long t0 = System.nanoTime();
            LoopTarget loopTarget = LoopTarget.open(new LoopTarget.Config(file, LOOP_SIZE, BackingFile.Mode.DIRECT,
                    false, null, false));
            Started s = startBoth(loopTarget, c);
            if (s == null) {
                // Whether or not the failed start closed it (close is idempotent).
                loopTarget.close();
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
            slowest = Math.max(slowest, t3 - t0);
            System.out.printf("# cycle %d/%d: ids %s; start %.2f s, I/O %.2f s, stop and checks %.2f s%s%n", c,
                    cycles, ids, secs(t1 - t0), secs(t2 - t1), secs(t3 - t2),
                    cycleFailures.size() > failuresBefore ? " (failures)" : "");
            if (!stoppedCleanly) {
                // A server that did not stop may still hold its device: later cycles would only repeat that.
                break;
            }
            if (c == 1) {
                fdsAfterFirst = settled(StressCycles::openFds, null);
                threadsAfterFirst = settled(StressCycles::threadNames, null);
                System.out.println("# after cycle 1: " + fdsAfterFirst.size() + " descriptors, "
                        + threadsAfterFirst.size() + " threads");
            }
        }
        double total = secs(System.nanoTime() - runStart);

        synchronized (cycleFailures) {
            for (Failure f : cycleFailures) {
                System.out.println("     | cycle " + f.cycle() + ": " + f.text());
            }
        }
        verdict(cyclesDone == cycles && none(Check.START), cyclesDone + " of " + cycles
                + " add -> I/O -> del cycles with two devices at once" + String.format(
                " (%.1f s, %.2f s a cycle, slowest %.2f s)", total, total / Math.max(1, cyclesDone), secs(slowest)));
        verdict(cyclesDone == cycles && none(Check.IDS), "ids reused: "
                + (firstIds == null ? "none" : sorted(firstIds)) + " in every cycle");
        verdict(cyclesDone > 0 && none(Check.DATA), "data read back equals data written in every cycle (loop: "
                + (LOOP_IO >> 20) + " MiB through the device, and in the backing file after del; null: reads zeros)");
        verdict(cyclesDone > 0 && none(Check.STOP), "every stop returned 0 and left no queue thread or queue failure");
        verdict(cyclesDone > 0 && none(Check.LEFTOVERS), "device nodes and char-device mappings gone right after"
                + " every del");

        if (fdsAfterFirst != null) {
            Map<String, String> fdsAfterFirstCopy = fdsAfterFirst;
            Map<String, String> fds = settled(StressCycles::openFds, m -> m.size() == fdsAfterFirstCopy.size());
            verdict(fds.size() == fdsAfterFirst.size(), "open descriptors after the last cycle: " + fds.size()
                    + " (after cycle 1: " + fdsAfterFirst.size() + ")" + fdDiff(fdsAfterFirst, fds));
            List<String> firstThreads = threadsAfterFirst;
            List<String> threads = settled(StressCycles::threadNames, t -> t.size() == firstThreads.size());
            verdict(threads.size() == threadsAfterFirst.size(), "threads after the last cycle: " + threads.size()
                    + " (after cycle 1: " + threadsAfterFirst.size() + ")" + threadDiff(threadsAfterFirst, threads));
        } else {
            verdict(false, "descriptor and thread counts: no cycle completed");
        }
        List<String> maps = ublkcMappings();
        verdict(maps.isEmpty(), "mappings of /dev/ublkc* at the end: " + maps.size()
                + (maps.isEmpty() ? "" : ": " + maps));
        List<String> nodes = new ArrayList<>();
        for (int id : idsSeen) {
            for (String n : List.of("/dev/ublkb" + id, "/dev/ublkc" + id)) {
                if (Files.exists(Path.of(n))) {
                    nodes.add(n);
                }
            }
        }
        verdict(nodes.isEmpty(), "device nodes of ids " + sorted(idsSeen) + " gone at the end"
                + (nodes.isEmpty() ? "" : ": still there: " + nodes));
        Files.deleteIfExists(file);
        return failed == 0;
    }

    // ---- one cycle --------------------------------------------------------------------------------------

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
            // FLUSH: the loop target's fdatasync path.
            ch.force(false);
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

    // ---- I/O helpers ------------------------------------------------------------------------------------

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

    // ---- process state ----------------------------------------------------------------------------------

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

    /** The names of this process's threads (from the kernel's view, /proc/self/task), sorted. */
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
        Collections.sort(names);
        return names;
    }

    private static List<String> ublkcMappings() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("ublkc")).toList();
    }

    /**
     * Samples until {@code done} holds, or two samples 200 ms apart agree (done == null), within SETTLE: a
     * thread's task can outlive its join for a moment.
     */
    private static <T> T settled(Callable<T> sample, java.util.function.Predicate<T> done) throws Exception {
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

    private static String fdDiff(Map<String, String> before, Map<String, String> after) {
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

    private static String threadDiff(List<String> before, List<String> after) {
        List<String> extra = new ArrayList<>(after);
        before.forEach(extra::remove);
        List<String> missing = new ArrayList<>(before);
        after.forEach(missing::remove);
        return (extra.isEmpty() ? "" : "; new: " + extra) + (missing.isEmpty() ? "" : "; gone: " + missing);
    }

    // ---- small things -----------------------------------------------------------------------------------

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
        cycleFailures.add(new Failure(check, cycle, text));
    }

    private boolean none(Check check) {
        synchronized (cycleFailures) {
            return cycleFailures.stream().noneMatch(f -> f.check() == check);
        }
    }

    private void verdict(boolean pass, String what) {
        if (!pass) {
            failed++;
        }
        System.out.println((pass ? "PASS " : "FAIL ") + what);
    }

    private static List<Integer> sorted(List<Integer> ids) {
        return ids.stream().sorted().toList();
    }

    private static double secs(long nanos) {
        return nanos / 1e9;
    }
}
