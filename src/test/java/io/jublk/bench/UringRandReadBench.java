package io.jublk.bench;

import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.LinuxUapi.O_CLOEXEC;
import static io.jublk.uapi.LinuxUapi.O_DIRECT;
import static io.jublk.uapi.LinuxUapi.O_RDONLY;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.IoUringFlags;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * 4 KiB random O_DIRECT reads at a fixed queue depth through jublk's io_uring engine, alternated round by
 * round with fio's io_uring engine doing the same to the same file, so the two share whatever the (noisy)
 * machine is doing at the time. Prints each round's IOPS, the medians and the ratio jublk/fio.
 *
 * <p>The jublk side is a ring with the queue's setup flags, {@code qd} reads kept in flight, every completion
 * replaced from inside the completion handler, buffers allocated once. Per round it also reports how many
 * I/Os each {@code io_uring_enter} carried, the thread's CPU time per I/O and the bytes it allocated per I/O
 * (expected: 0), so a gap to fio can be traced to a cause.
 *
 * <p>By default the replacements go to the kernel four at a time ({@code --submit 4}). Submitting all the
 * completions at hand with the one enter that also waits ({@code batch}, the fewest system calls) was measured
 * 15-20% below fio on a Firecracker virtio disk: the batches settle at about 11 of the 32, the block layer
 * holds a batch back until the enter has queued all of it, and the device, which works through what it was
 * handed and then reports it together, idles meanwhile. fio submits each I/O with its own enter; four per
 * enter matched it with a quarter of its system calls and less CPU per I/O.
 *
 * <p>Not a unit test: run it with {@code bin/bench-uring}.
 */
public final class UringRandReadBench {
    static final int BLOCK = 4096;
    private static final long FILL_CHUNK = 1 << 20;

    /** The flags a ublk queue ring asks for (UblkQueue); fio 3.33+ sets the same three. */
    static final int QUEUE_RING_FLAGS =
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;

    record Options(Path file, long size, int seconds, int rounds, int qd, int warmupSeconds, String fio,
            List<Submit> submit, int cpu) {}

    /**
     * How the engine side turns completions into submissions: one io_uring_enter for every {@code perEnter}
     * replacements prepared. {@code batch} replaces every completion the ring holds, then submits them all
     * with the same enter that waits for the next completion: the fewest system calls. {@code each}
     * submits every replacement at once, with an enter that also flushes completions that arrived
     * meanwhile, as fio's io_uring engine does. A number N is in between.
     */
    record Submit(int perEnter) {
        static final Submit BATCH = new Submit(Integer.MAX_VALUE);

        static Submit of(String s) {
            return switch (s) {
                case "batch" -> BATCH;
                case "each" -> new Submit(1);
                default -> {
                    int n;
                    try {
                        n = Integer.parseInt(s);
                    } catch (NumberFormatException e) {
                        n = 0;
                    }
                    if (n < 1) {
                        throw new IllegalArgumentException("--submit takes batch, each or a number, not " + s);
                    }
                    yield new Submit(n);
                }
            };
        }

        String label() {
            return "jublk-" + (perEnter == Integer.MAX_VALUE ? "batch" : perEnter == 1 ? "each" : perEnter);
        }
    }

    /** One round of the engine: completions inside the timed window, its length, and what it cost. */
    record EngineRound(long ios, long nanos, long enters, long cpuNanos, long userNanos, long allocatedBytes) {
        double iops() {
            return ios * 1e9 / nanos;
        }
    }

    /** fio reports its CPU use as percentages of the run time. */
    record FioRound(double iops, double usrCpu, double sysCpu) {
        double cpuMicrosPerIo() {
            return (usrCpu + sysCpu) / 100 * 1e6 / iops;
        }
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench-uring: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        prepareFile(o.file(), o.size());
        if (o.cpu() >= 0) {
            pin(o.cpu());
        }
        System.out.printf(Locale.ROOT, "file %s (%s on %s), %d KiB random reads, O_DIRECT, queue depth %d, %d s a round%n",
                o.file(), human(o.size()), Files.getFileStore(o.file()).type(), BLOCK / 1024, o.qd(), o.seconds());

        List<String> contenders = new ArrayList<>();
        Map<String, Submit> modes = new LinkedHashMap<>();
        for (Submit m : o.submit()) {
            modes.put(m.label(), m);
            contenders.add(m.label());
        }
        contenders.add("fio");
        Map<String, List<Double>> iops = new LinkedHashMap<>();
        contenders.forEach(c -> iops.put(c, new ArrayList<>()));
        try (RandReader reader = new RandReader(o.file(), o.size(), o.qd())) {
            System.out.printf("ring: %d SQ / %d CQ entries, flags %s%n", reader.ring.sqEntries(),
                    reader.ring.cqEntries(), IoUringFlags.describeSetup(reader.ring.setupFlags()));
            if (o.warmupSeconds() > 0) {
                for (Submit m : o.submit()) {
                    print("warm-up", m, reader.run(m, TimeUnit.SECONDS.toNanos(o.warmupSeconds())));
                }
            }
            for (int round = 1; round <= o.rounds(); round++) {
                // Forward order in odd rounds, backward in even ones (ABBA): a drift in the machine's speed over
                // the run, e.g. the disk's cache warming up, then favours no one.
                List<String> order = new ArrayList<>(contenders);
                if (round % 2 == 0) {
                    Collections.reverse(order);
                }
                for (String c : order) {
                    double r = c.equals("fio") ? fioRound(o, round) : engineRound(reader, modes.get(c), o, round);
                    iops.get(c).add(r);
                }
            }
        }
        List<Double> fio = iops.get("fio");
        double mf = median(fio);
        for (Submit m : o.submit()) {
            List<Double> jublk = iops.get(m.label());
            List<Double> ratios = new ArrayList<>();
            for (int i = 0; i < jublk.size(); i++) {
                ratios.add(jublk.get(i) / fio.get(i));
            }
            double mj = median(jublk);
            System.out.printf(Locale.ROOT, "median   %s %.0f IOPS, fio %.0f IOPS, ratio %.3f"
                    + " (median of the rounds' own ratios %.3f)%n", m.label(), mj, mf, mj / mf, median(ratios));
        }
    }

    private static double engineRound(RandReader reader, Submit mode, Options o, int round) {
        EngineRound e = reader.run(mode, TimeUnit.SECONDS.toNanos(o.seconds()));
        print("round " + round, mode, e);
        return e.iops();
    }

    private static double fioRound(Options o, int round) throws IOException, InterruptedException {
        FioRound f = runFio(o);
        System.out.printf(Locale.ROOT, "%-8s %-11s %9.0f IOPS   CPU %.2f us per I/O (%.0f%% in the kernel)%n",
                "round " + round, "fio", f.iops(), f.cpuMicrosPerIo(), 100 * f.sysCpu() / (f.usrCpu() + f.sysCpu()));
        return f.iops();
    }

    private static void print(String label, Submit mode, EngineRound e) {
        System.out.printf(Locale.ROOT,
                "%-8s %-11s %9.0f IOPS   CPU %.2f us per I/O (%.0f%% in the kernel), %.2f I/O per io_uring_enter,"
                        + " %.3f B allocated per I/O%n",
                label, mode.label(), e.iops(), e.cpuNanos() / 1e3 / e.ios(), 100.0 * (e.cpuNanos() - e.userNanos()) / e.cpuNanos(),
                (double) e.ios() / e.enters(), (double) e.allocatedBytes() / e.ios());
    }

    // ---- the engine side --------------------------------------------------------------------------------

    /**
     * Keeps {@code qd} random reads in flight on one ring. Each slot owns one page-aligned block of a buffer
     * allocated once; a slot's number is its SQE's user_data, so a completion resubmits into the same buffer.
     */
    static final class RandReader implements CompletionHandler, AutoCloseable {
        final IoUring ring;
        private final Arena arena;
        private final Fd file;
        private final int fd;
        private final long buffers;
        private final long blocks;
        private final int qd;
        private final com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

        private long rng = 0x9E3779B97F4A7C15L;
        private boolean resubmit;
        private int inflight;
        private long completed;
        private long enters;
        private int perEnter;
        private int unsubmitted;
        private long deadline;
        private int firstError;

        RandReader(Path path, long size, int qd) {
            this.qd = qd;
            this.blocks = size / BLOCK;
            this.arena = Arena.ofConfined();
            try {
                this.file = Fd.open(path, O_RDONLY | O_DIRECT | O_CLOEXEC, 0);
                this.fd = file.get();
                MemorySegment buf = arena.allocate((long) qd * BLOCK, BLOCK);
                buf.fill((byte) 0); // touch every page now, not during the first round
                this.buffers = buf.address();
                this.ring = IoUring.open(qd, 0, 0, QUEUE_RING_FLAGS, true);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        }

        /** Runs for {@code nanos}, then lets what is in flight finish (uncounted) so the next round starts clean. */
        EngineRound run(Submit mode, long nanos) {
            completed = 0;
            enters = 0;
            firstError = 0;
            resubmit = true;
            perEnter = mode.perEnter();
            long cpu0 = threads.getCurrentThreadCpuTime();
            long user0 = threads.getCurrentThreadUserTime();
            long alloc0 = threads.getCurrentThreadAllocatedBytes();
            long start = System.nanoTime();
            deadline = start + nanos;
            for (int slot = 0; slot < qd; slot++) {
                read(slot);
            }
            long now;
            do {
                // Completions go to onCompletion, which prepares their replacements (and submits them if
                // perEnter says so). Then one enter submits what is left and waits for the next completion.
                if (ring.forEachCompletion(this) == 0 || unsubmitted > 0) {
                    enter(1);
                }
                now = System.nanoTime();
            } while (now < deadline && firstError == 0);
            long ios = completed;
            long cpu = threads.getCurrentThreadCpuTime() - cpu0;
            long user = threads.getCurrentThreadUserTime() - user0;
            long alloc = threads.getCurrentThreadAllocatedBytes() - alloc0;
            resubmit = false;
            while (inflight > 0) {
                enter(1);
                ring.forEachCompletion(this);
            }
            if (firstError != 0) {
                throw new IllegalStateException("a 4 KiB O_DIRECT read returned "
                        + (firstError < 0 ? Errno.name(firstError) : firstError + " bytes"));
            }
            return new EngineRound(ios, now - start, enters, cpu, user, alloc);
        }

        /**
         * Submits what is prepared and lets the kernel post what has completed (with DEFER_TASKRUN that happens
         * only in an enter that asks for completions); waits for {@code waitNr} of them (0: does not wait).
         */
        private void enter(int waitNr) {
            int r = waitNr > 0 ? ring.submitAndWait(waitNr) : ring.getEvents();
            enters++;
            unsubmitted = 0;
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new NativeException(r, "io_uring_enter");
            }
        }

        private void read(int slot) {
            // xorshift64: cheap, allocation-free, and uniform enough to spread reads over the file.
            long x = rng;
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            rng = x;
            unsubmitted++;
            long block = Math.unsignedMultiplyHigh(x, blocks);
            ring.next().read(fd, buffers + (long) slot * BLOCK, BLOCK, block * BLOCK).userData(slot);
            inflight++;
        }

        @Override
        public void onCompletion(long userData, int res, int flags) {
            inflight--;
            if (res != BLOCK && firstError == 0) {
                firstError = res == 0 ? -Errno.EIO : res;
            }
            completed++;
            if (resubmit) {
                read((int) userData);
                // Past the deadline no more flushing enters, or this completion loop would never run dry.
                if (unsubmitted >= perEnter && System.nanoTime() < deadline) {
                    enter(0);
                }
            }
        }

        @Override
        public void close() {
            try (arena; file) {
                ring.close();
            }
        }
    }

    /** Pins the calling thread to one CPU (fio gets the same one with --cpus_allowed). */
    private static void pin(int cpu) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment mask = a.allocate(128);
            mask.set(ValueLayout.JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
            NativeException.check(LibC.rawSchedSetaffinity(0, mask.byteSize(), mask), "pin to CPU " + cpu);
        }
    }

    // ---- the fio side -----------------------------------------------------------------------------------

    /** read.iops is the first "iops" of the job's "read" object in fio's JSON. */
    private static final Pattern READ_IOPS = Pattern.compile("\"read\"\\s*:\\s*\\{[^{]*?\"iops\"\\s*:\\s*([0-9.eE+-]+)");
    private static final Pattern USR_CPU = Pattern.compile("\"usr_cpu\"\\s*:\\s*([0-9.eE+-]+)");
    private static final Pattern SYS_CPU = Pattern.compile("\"sys_cpu\"\\s*:\\s*([0-9.eE+-]+)");

    static FioRound runFio(Options o) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(o.fio(), "--name=randread", "--ioengine=io_uring", "--rw=randread",
                "--bs=" + BLOCK / 1024 + "k", "--iodepth=" + o.qd(), "--direct=1", "--time_based",
                "--runtime=" + o.seconds(), "--filename=" + o.file(), "--numjobs=1", "--readonly",
                "--output-format=json"));
        if (o.cpu() >= 0) {
            cmd.add("--cpus_allowed=" + o.cpu());
        }
        Path err = Files.createTempFile("bench-uring-fio", ".err");
        try {
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            if (rc != 0) {
                throw new IOException("fio exited with " + rc + ": " + Files.readString(err).strip());
            }
            return parseFio(out);
        } finally {
            Files.deleteIfExists(err);
        }
    }

    static FioRound parseFio(String json) throws IOException {
        Matcher m = READ_IOPS.matcher(json);
        if (!m.find()) {
            throw new IOException("no read.iops in fio's output:\n" + json);
        }
        return new FioRound(Double.parseDouble(m.group(1)), first(USR_CPU, json), first(SYS_CPU, json));
    }

    private static double first(Pattern p, String json) {
        Matcher m = p.matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    // ---- the test file ----------------------------------------------------------------------------------

    /**
     * Makes sure {@code file} is {@code size} bytes of allocated, non-zero data. An existing file of that size
     * is reused if a sample of its blocks holds data (a hole reads as zeros); otherwise it is rewritten under
     * a temporary name and renamed, so an interrupted fill is never taken for a finished one.
     */
    static void prepareFile(Path file, long size) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        String fsType = Files.getFileStore(dir).type();
        if (fsType.equals("tmpfs") || fsType.equals("ramfs")) {
            throw new IOException(dir + " is on " + fsType + ": O_DIRECT reads need a disk file system "
                    + "(use --file under /var/tmp or target/)");
        }
        if (Files.isRegularFile(file) && Files.size(file) == size && looksFilled(file, size)) {
            return;
        }
        System.out.printf("writing %s of data to %s...%n", human(size), file);
        Path tmp = dir.resolve(file.getFileName() + ".part");
        ByteBuffer chunk = ByteBuffer.allocateDirect((int) FILL_CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        long x = size ^ 0x2545F4914F6CDD1DL;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long pos = 0; pos < size; pos += FILL_CHUNK) {
                chunk.clear();
                while (chunk.hasRemaining()) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    chunk.putLong(x | 1); // never an all-zero word
                }
                chunk.flip().limit((int) Math.min(FILL_CHUNK, size - pos));
                while (chunk.hasRemaining()) {
                    ch.write(chunk, pos + chunk.position());
                }
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static boolean looksFilled(Path file, long size) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BLOCK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long blocks = size / BLOCK;
            for (int i = 0; i < 64; i++) {
                long block = blocks * i / 64;
                b.clear();
                while (b.hasRemaining() && ch.read(b, block * BLOCK + b.position()) > 0) {
                    // read the whole block
                }
                boolean zero = true;
                for (int j = 0; j < BLOCK && zero; j++) {
                    zero = b.get(j) == 0;
                }
                if (zero) {
                    return false;
                }
            }
        }
        return true;
    }

    // ---- options ----------------------------------------------------------------------------------------

    static Options parse(String[] args) {
        Path file = Path.of("/var/tmp/jublk-bench-uring.dat");
        long size = 1L << 30;
        int seconds = 6;
        int rounds = 5;
        int qd = 32;
        int warmup = 3;
        String fio = "fio";
        List<Submit> submit = List.of(new Submit(4));
        int cpu = -1;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.out.println(usage());
                System.exit(0);
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("unknown option or missing value: " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--file" -> file = Path.of(v);
                case "--size" -> size = parseSize(v);
                case "--seconds" -> seconds = positive(a, v);
                case "--rounds" -> rounds = positive(a, v);
                case "--qd" -> qd = positive(a, v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--fio" -> fio = v;
                case "--cpu" -> cpu = Integer.parseInt(v);
                case "--submit" -> submit = Arrays.stream(v.split(",")).map(Submit::of).distinct().toList();
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (size < BLOCK || size % BLOCK != 0) {
            throw new IllegalArgumentException("--size must be a positive multiple of " + BLOCK);
        }
        if (Integer.bitCount(qd) != 1 || qd > 4096) {
            throw new IllegalArgumentException("--qd must be a power of two up to 4096");
        }
        if (cpu >= 1024) {
            throw new IllegalArgumentException("--cpu must be below 1024");
        }
        return new Options(file, size, seconds, rounds, qd, warmup, fio, submit, cpu);
    }

    static String usage() {
        return """
                usage: bench-uring [--file PATH] [--size 1G] [--seconds 6] [--rounds 5] [--qd 32] [--warmup 3]
                                   [--submit batch|each|N[,...]] [--cpu N] [--fio fio]
                  4 KiB random O_DIRECT reads through jublk's io_uring engine, alternated with fio doing the same
                  to the same file (default /var/tmp/jublk-bench-uring.dat; created and filled if needed).
                  --submit  how completions become submissions: batch (default; one io_uring_enter for all
                            the completions at hand), each (one enter an I/O, as fio does), or N (one enter
                            every N I/Os); a list, e.g. batch,each,4, compares them round by round
                  --cpu     run the engine and fio on this one CPU""";
    }

    /** "1G", "512M", "64K" or a byte count: powers of 1024. */
    static long parseSize(String v) {
        String s = v.trim().toUpperCase(Locale.ROOT).replaceFirst("I?B$", "");
        int shift = switch (s.isEmpty() ? ' ' : s.charAt(s.length() - 1)) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        return Long.parseLong(shift == 0 ? s : s.substring(0, s.length() - 1)) << shift;
    }

    private static int positive(String option, String v) {
        int n = Integer.parseInt(v);
        if (n <= 0) {
            throw new IllegalArgumentException(option + " must be positive");
        }
        return n;
    }

    static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        double b = bytes;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.4g %s", b, units[u]).replaceFirst("\\.?0+ ", " ");
    }
}
