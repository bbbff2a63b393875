package io.jublk.server;

import io.jublk.queue.QueueStats;
import io.jublk.queue.UblkQueue;
import io.jublk.queue.Wire;
import io.jublk.queue.WirePeer;
import io.jublk.queue.WireTarget;
import io.jublk.sys.Fd;
import io.jublk.targets.PoolRamTarget;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Asynchronous completion against the real ublk_drv: devices whose handler answers every request from another
 * thread ({@link PoolRamTarget}: a RAM disk served by a pool of platform threads, then by virtual threads), checked
 * with fio's crc32c verification; and a device whose target never answers some requests, which must still stop,
 * within {@link UblkQueue#STOP_GRACE} and a margin, with an error for the request that waited. Then the socket
 * operations: {@link WireTarget} serves a device from a {@link WirePeer} over TCP on the loopback address, through
 * the queues' rings (7.3 takes fixed buffers on SEND and RECV); on a zero-copy device (UBLK_F_AUTO_BUF_REG) a
 * WRITE's payload goes out with SEND_ZC from the request's own pages and a READ's comes into them with RECV.
 *
 * <p>Prints {@code PASS ...} / {@code FAIL ...} lines and {@code # ...} progress; exits 1 on any failure. Needs
 * ublk and fio (run by {@code vm-tests/async-complete.sh}).
 */
public final class AsyncCompletionDevices {
    private static final long SIZE = 128L << 20;
    /** The sectors the hanging device never answers: the 4 KiB at 1 MiB. */
    private static final long HOLE = (1L << 20) >> 9;

    private static final Logger JUBLK_LOG = Logger.getLogger("io.jublk");
    private int failed;

    public static void main(String[] args) throws Exception {
        JUBLK_LOG.setLevel(Level.WARNING);
        AsyncCompletionDevices a = new AsyncCompletionDevices();
        a.verified("a platform pool of 4", Executors.newFixedThreadPool(4));
        a.verified("virtual threads", Executors.newVirtualThreadPerTaskExecutor());
        a.unansweredRequestDoesNotHoldTheStop();
        a.overTheWire(false);
        a.overTheWire(true);
        System.exit(a.failed == 0 ? 0 : 1);
    }

    private void verdict(boolean ok, String what) {
        System.out.println((ok ? "PASS " : "FAIL ") + what);
        if (!ok) {
            failed++;
        }
    }

    private static UblkServer.Options options() {
        return UblkServer.Options.builder().queues(2).depth(64).readyTimeout(Duration.ofSeconds(60)).build();
    }

    private void verified(String threads, ExecutorService executor) throws Exception {
        try (executor) {
            UblkServer server = UblkServer.start(new PoolRamTarget(SIZE, executor), options());
            String dev = server.blockDevice();
            System.out.println("# " + dev + ": every request answered by " + threads);
            try {
                for (String bs : List.of("4k", "64k")) {
                    Run fio = run(180, "fio", "--name=v", "--filename=" + dev, "--ioengine=io_uring", "--direct=1",
                            "--rw=randwrite", "--bs=" + bs, "--iodepth=32", "--numjobs=2", "--size=24M",
                            "--offset_increment=64M", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                            "--randrepeat=0", "--group_reporting", "--output-format=terse");
                    verdict(fio.ok(), "fio randwrite + verify crc32c, bs " + bs + ", iodepth 32, 2 jobs, answered by "
                            + threads + fio.failure());
                }
                Run seq = run(180, "fio", "--name=s", "--filename=" + dev, "--ioengine=io_uring", "--direct=1",
                        "--rw=write", "--bs=512k", "--iodepth=16", "--size=64M", "--verify=crc32c",
                        "--verify_fatal=1", "--output-format=terse");
                verdict(seq.ok(), "fio sequential write + verify, bs 512k, answered by " + threads + seq.failure());
            } finally {
                UblkServer.StopResult r = server.stop();
                server.close();
                long completed = 0;
                long failures = 0;
                for (QueueStats s : server.stats()) {
                    for (int op = 0; op < QueueStats.OPS; op++) {
                        completed += s.completed(op);
                        failures += s.failed(op);
                    }
                }
                verdict(r.ok() && server.queueFailures().isEmpty() && !server.anyQueueAlive(),
                        "the device answered by " + threads + " stopped cleanly: " + r);
                verdict(completed > 10_000 && failures == 0, "its queues counted " + completed + " requests answered,"
                        + " " + failures + " failed");
            }
        }
    }

    /**
     * A READ of the 4 KiB at 1 MiB is never answered by the target. Stopping the device (STOP_DEV waits for it) must
     * still finish: the queue answers it with an error after STOP_GRACE, and the reader sees the error.
     */
    private void unansweredRequestDoesNotHoldTheStop() throws Exception {
        try (ExecutorService executor = Executors.newFixedThreadPool(2)) {
            UblkServer server = UblkServer.start(new PoolRamTarget(SIZE, executor, HOLE, HOLE + 8), options());
            String dev = server.blockDevice();
            System.out.println("# " + dev + ": the target never answers a read at 1 MiB");
            Process dd = new ProcessBuilder("dd", "if=" + dev, "of=/dev/null", "bs=4096", "count=1", "skip=256",
                    "iflag=direct").redirectErrorStream(true).start();
            boolean hung = !dd.waitFor(3, TimeUnit.SECONDS);
            verdict(hung, "dd of the 4 KiB the target never answers waits for them");
            long t0 = System.nanoTime();
            UblkServer.StopResult r = server.stop();
            server.close();
            double secs = (System.nanoTime() - t0) / 1e9;
            long grace = UblkQueue.STOP_GRACE.toSeconds();
            verdict(r.ok() && secs >= grace - 1 && secs < grace + 20, String.format("the device stopped %.1f s after"
                    + " the stop began (the queue's grace: %d s): %s", secs, grace, r));
            boolean ended = dd.waitFor(30, TimeUnit.SECONDS);
            String out = new String(dd.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            verdict(ended && dd.exitValue() != 0, "dd ended with an error: exit " + (ended ? dd.exitValue() : "none")
                    + ", " + out.replace('\n', ' '));
            verdict(!Files.exists(Path.of(dev)), dev + " is gone");
        }
    }

    /** A device served over TCP by a peer in this process, checked with fio's verification. */
    private void overTheWire(boolean zeroCopy) throws Exception {
        long size = 64L << 20;
        String kind = zeroCopy ? "a zero-copy device over TCP" : "a device over TCP";
        try (Arena arena = Arena.ofShared()) {
            Wire w = Wire.tcp(arena);
            try (Fd fd = w.fd(); WirePeer peer = new WirePeer(w.server(), size, true, Integer.MAX_VALUE)) {
                UblkServer.Options o = UblkServer.Options.builder().queues(1).depth(32).maxIoBytes(128 << 10)
                        .flags(zeroCopy ? Ublk.UBLK_F_AUTO_BUF_REG : 0).readyTimeout(Duration.ofSeconds(60)).build();
                UblkServer server = UblkServer.start(new WireTarget(fd.get(), w.address(), w.addressLength(), size,
                        zeroCopy, false), o);
                String dev = server.blockDevice();
                System.out.println("# " + dev + ": " + kind);
                try {
                    for (String bs : List.of("4k", "128k")) {
                        Run fio = run(180, "fio", "--name=w", "--filename=" + dev, "--ioengine=io_uring",
                                "--direct=1", "--rw=randwrite", "--bs=" + bs, "--iodepth=16", "--size=16M",
                                "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--randrepeat=0",
                                "--output-format=terse");
                        verdict(fio.ok(), "fio randwrite + verify crc32c, bs " + bs + ", iodepth 16, " + kind
                                + fio.failure());
                    }
                } finally {
                    UblkServer.StopResult r = server.stop();
                    server.close();
                    verdict(r.ok() && server.queueFailures().isEmpty(), kind + " stopped cleanly: " + r
                            + ", after " + peer.served() + " requests over the wire");
                }
            }
        }
    }

    private record Run(int exit, String output) {
        boolean ok() {
            return exit == 0;
        }

        String failure() {
            return ok() ? "" : ": exit " + exit + "\n     | " + output.replace("\n", "\n     | ");
        }
    }

    private static Run run(int timeoutSeconds, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(cmd))).redirectErrorStream(true).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Run(-1, "timed out after " + timeoutSeconds + " s");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
}
