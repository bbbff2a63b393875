package io.jublk.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * A real Prometheus (container {@code jublk-prometheus:local}, host networking) scrapes a real jublk device
 * (a loop device in the QEMU guest of vm-tests/, reached through {@code --hostfwd}) every second. The guest
 * half is {@code vm-tests/metrics-scrape.sh}; the two talk through files in the VM's out share:
 *
 * <ol>
 *   <li>guest: adds the device with {@code --metrics-port}, waits for the counters to settle (the kernel
 *       reads the partition table at START_DEV), records that baseline in {@code expected}, writes
 *       {@code added};</li>
 *   <li>host: waits for a scrape taken after that, notes the baseline Prometheus saw, writes {@code go};</li>
 *   <li>guest: fio with exactly known counts (4k random direct I/O one at a time: no merging, no splitting),
 *       adds them to {@code expected}, writes {@code ready};</li>
 *   <li>host: waits for a scrape taken after that; the request and byte counters must be the baseline plus
 *       exactly what fio did; every PromQL expression of grafana/jublk-dashboard.json must answer; writes
 *       {@code done};</li>
 *   <li>guest: deletes the device and exits; the VM must exit 0.</li>
 * </ol>
 *
 * Skipped (loudly) only where QEMU or Docker cannot run. No image is ever pulled: the image is built from the
 * host's Debian prometheus binary by {@code src/test/prometheus/build-image}. Only 127.0.0.1 is contacted.
 */
class PrometheusScrapeIT {
    private static final String IMAGE = "jublk-prometheus:local";
    private static final int GUEST_PORT = 9464;
    private static final Duration GUEST_STEP = Duration.ofMinutes(10);
    private static final Duration PROMETHEUS_STEP = Duration.ofMinutes(3);
    private static final String JOB = "jublk";

    private final long t0 = System.nanoTime();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private int webPort;

    static Path repo() {
        return Path.of(System.getProperty("jublk.repo", ".")).toAbsolutePath();
    }

    @BeforeAll
    static void qemuAndDockerPresent() throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64"))) {
            skip("qemu-system-x86_64 is not installed, so no guest kernel with ublk can run. bin/test "
                    + "installs it (as root).");
        }
        // Starts dockerd when it is installed but not running (needs root); fails when it cannot.
        int rc = run(List.of(repo().resolve("bin/lib/ensure-docker").toString()), Duration.ofMinutes(5), "docker");
        if (rc != 0) {
            skip("no Docker engine: bin/lib/ensure-docker failed (exit " + rc + "), see above.");
        }
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            skip("Testcontainers cannot reach the Docker engine that bin/lib/ensure-docker started.");
        }
    }

    private static void skip(String why) {
        String line = "*".repeat(100);
        System.err.println("\n" + line + "\n*  PROMETHEUS SCRAPE TEST SKIPPED: " + why + "\n" + line + "\n");
        assumeTrue(false, why);
    }

    @Test
    void prometheusScrapesTheDeviceAndAnswersEveryDashboardQuery() throws Exception {
        int rc = run(List.of(repo().resolve("src/test/prometheus/build-image").toString()), Duration.ofMinutes(10),
                "build-image");
        assertEquals(0, rc, "src/test/prometheus/build-image failed");
        // The guest starts its JVMs much faster with the AOT cache bin/ublk makes next to the jar; after a
        // fresh `package` it is stale. JUBLK_IN_VM: only refresh the cache, never start a build from here.
        rc = run(List.of("env", "JUBLK_IN_VM=1", repo().resolve("bin/ublk").toString(), "--version"),
                Duration.ofMinutes(5), "ublk");
        assertEquals(0, rc, "bin/ublk --version failed");

        Path dir = repo().resolve("target/prometheus-it/"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);
        int[] ports = freePorts(2);
        int hostPort = ports[0];
        webPort = ports[1];
        String instance = "127.0.0.1:" + hostPort;
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: %s
                    static_configs:
                      - targets: ['%s']
                """.formatted(JOB, instance));
        log("out share " + dir + "; guest port " + GUEST_PORT + " forwarded from " + instance
                + "; Prometheus on 127.0.0.1:" + webPort);

        Process vm = null;
        GenericContainer<?> prometheus = null;
        boolean doneWritten = false;
        try {
            vm = start(List.of(repo().resolve("vm-tests/run").toString(), "--hostfwd", hostPort + ":" + GUEST_PORT,
                    "--out", dir.toString(), "--timeout", "1500", "metrics-scrape.sh", Integer.toString(GUEST_PORT),
                    "go"), "metrics-scrape", dir.resolve("vm.log"));

            // Prometheus starts while the VM boots: until the guest serves, its scrapes just fail (up == 0).
            prometheus = new GenericContainer<>(DockerImageName.parse(IMAGE))
                    .withImagePullPolicy(image -> false)
                    .withNetworkMode("host")
                    .withCopyFileToContainer(MountableFile.forHostPath(config, 0644), "/etc/prometheus/prometheus.yml")
                    .withCommand("--config.file=/etc/prometheus/prometheus.yml",
                            "--storage.tsdb.path=/var/lib/prometheus/metrics2",
                            "--web.listen-address=127.0.0.1:" + webPort)
                    .withLogConsumer(frame -> {
                        String text = frame.getUtf8String();
                        if (text != null && !text.isBlank()) {
                            System.out.println("[prometheus] " + text.stripTrailing());
                        }
                    })
                    .waitingFor(Wait.forLogMessage("(?s).*Server is ready to receive web requests.*", 1)
                            .withStartupTimeout(Duration.ofMinutes(2)));
            prometheus.start();
            await("Prometheus /-/ready", Duration.ofMinutes(1), vm, () -> get("/-/ready").startsWith("200"));
            log("Prometheus is ready");

            // 1. The device is up and its counters settled.
            awaitFile(dir.resolve("added"), vm);
            String id = Files.readString(dir.resolve("device")).strip();
            Map<String, Long> expected = readExpected(dir);
            log("device " + id + " added; guest baseline " + expected);
            String dev = "job=\"" + JOB + "\", device=\"" + id + "\"";

            // 2. Prometheus scrapes it: the baseline as Prometheus saw it, from a scrape after `added`.
            double added = now();
            await("up == 1 for " + instance, PROMETHEUS_STEP, vm,
                    () -> values("up{job=\"" + JOB + "\", instance=\"" + instance + "\"}").contains(1.0));
            double baseAt = awaitScrapeAfter(dev, added + 1, vm);
            log("Prometheus scrapes the device (baseline sample at " + baseAt + ")");
            Map<String, String> counters = counterQueries(dev);
            List<String> wrong = new ArrayList<>();
            for (var c : counters.entrySet()) {
                long want = expected.get("baseline_" + c.getKey());
                long got = single(c.getValue(), baseAt);
                if (got != want) {
                    wrong.add(c.getKey() + ": the guest saw " + want + ", Prometheus " + got);
                }
            }
            assertEquals(List.of(), wrong, "baseline after add");
            Files.writeString(dir.resolve("go"), "");

            // 3. fio ran; 4. what Prometheus scraped after that is exactly baseline + fio.
            awaitFile(dir.resolve("ready"), vm);
            expected = readExpected(dir);
            log("fio done; guest expects " + expected);
            double finalAt = awaitScrapeAfter(dev, now() + 1, vm);
            for (var c : counters.entrySet()) {
                long want = expected.get("want_" + c.getKey());
                long got = single(c.getValue(), finalAt);
                log(String.format("%-12s baseline %6d + fio %8d = %8d; Prometheus: %8d %s", c.getKey(),
                        expected.get("baseline_" + c.getKey()), expected.get("fio_" + c.getKey()), want, got,
                        got == want ? "ok" : "WRONG"));
                if (got != want) {
                    wrong.add(c.getKey() + ": want " + want + ", Prometheus has " + got);
                }
            }
            assertEquals(List.of(), wrong, "counters after fio");
            assertEquals(0, single("sum(ublk_request_failures_total{" + dev + "})", finalAt), "failed requests");
            Map<String, String> info = metric("ublk_device_info{" + dev + "}");
            assertEquals("loop", info.get("target"), "ublk_device_info " + info);
            assertEquals("2", info.get("queues"), "ublk_device_info " + info);
            assertEquals(268435456L, single("sum(ublk_device_size_bytes{" + dev + "})", finalAt), "device size");

            // Every query of the dashboard, and its variables, answers for this device.
            Dashboard dashboard = Dashboard.load();
            List<String> broken = new ArrayList<>();
            int n = 0;
            for (Dashboard.Query q : dashboard.queries()) {
                String expr = Dashboard.substitute(q.expr(), id, instance, "1m");
                List<Double> got = values(expr);
                n++;
                if (got.isEmpty()) {
                    broken.add(q + "\n    -> no series for: " + expr);
                } else if (got.stream().noneMatch(Double::isFinite)) {
                    broken.add(q + "\n    -> only " + got + " for: " + expr);
                } else {
                    log("dashboard ok: " + q.panel() + " " + q.refId() + " -> " + got);
                }
            }
            for (String[] v : new String[][] {{"instance", instance}, {"device", id}}) {
                String query = dashboard.variableQuery(v[0]);
                Matcher m = Pattern.compile("label_values\\((.+), (\\w+)\\)").matcher(query);
                assertTrue(m.matches(), query);
                String selector = Dashboard.substitute(m.group(1), id, instance, "1m");
                List<Object> labels = data(get("/api/v1/label/" + m.group(2) + "/values?match[]=" + enc(selector)));
                if (!labels.contains(v[1])) {
                    broken.add("variable " + v[0] + ": " + query + " -> " + labels + ", without " + v[1]);
                }
                n++;
            }
            assertEquals(List.of(), broken, broken.size() + " of " + n + " dashboard queries do not answer:\n"
                    + String.join("\n", broken));
            log("all " + n + " dashboard queries answer");
            assertTrue(values("up{job=\"" + JOB + "\"}").contains(1.0), "up");

            // 5. The guest deletes the device and powers off.
            Files.writeString(dir.resolve("done"), "");
            doneWritten = true;
            assertTrue(vm.waitFor(5, TimeUnit.MINUTES), "the VM did not exit within 5 min after done");
            assertEquals(0, vm.exitValue(), "vm-tests/run metrics-scrape.sh failed; see " + dir.resolve("vm.log"));
            log("passed");
        } finally {
            if (vm != null && vm.isAlive()) {
                if (!doneWritten) {
                    Files.writeString(dir.resolve("done"), ""); // let the guest delete its device and stop
                }
                if (!vm.waitFor(90, TimeUnit.SECONDS)) {
                    vm.destroy(); // vm-tests/run stops QEMU on SIGTERM
                    if (!vm.waitFor(60, TimeUnit.SECONDS)) {
                        vm.destroyForcibly();
                    }
                }
            }
            if (prometheus != null) {
                prometheus.stop();
            }
        }
    }

    /** The five checked counters: name -> PromQL for this device, summed over queues. */
    private static Map<String, String> counterQueries(String dev) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("read", "sum(ublk_requests_total{" + dev + ", op=\"read\"})");
        m.put("write", "sum(ublk_requests_total{" + dev + ", op=\"write\"})");
        m.put("flush", "sum(ublk_requests_total{" + dev + ", op=\"flush\"})");
        m.put("read_bytes", "sum(ublk_io_bytes_total{" + dev + ", op=\"read\"})");
        m.put("write_bytes", "sum(ublk_io_bytes_total{" + dev + ", op=\"write\"})");
        return m;
    }

    /** Waits for a sample of the device scraped at or after {@code after}; returns its timestamp. */
    private double awaitScrapeAfter(String dev, double after, Process vm) throws Exception {
        double[] at = {0};
        await("a scrape of the device after " + after, PROMETHEUS_STEP, vm, () -> {
            List<Double> t = values("timestamp(ublk_device_info{" + dev + "})");
            at[0] = t.isEmpty() ? 0 : t.get(0);
            return at[0] >= after;
        });
        return at[0];
    }

    // ---- Prometheus' HTTP API -------------------------------------------------------------------------------

    private String get(String pathAndQuery) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + webPort
                    + pathAndQuery)).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() + " " + r.body();
        } catch (IOException e) {
            return "000 " + e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** The {@code data} of an API answer that must be a success. */
    private static List<Object> data(String answer) {
        if (!answer.startsWith("200 ")) {
            throw new AssertionError("Prometheus API: " + answer);
        }
        Map<String, Object> a = MiniJson.obj(MiniJson.parse(answer.substring(4)));
        assertEquals("success", a.get("status"), answer);
        return MiniJson.arr(a.get("data"));
    }

    /** The result vector of an instant query (now, or at {@code time}). */
    private List<Map<String, Object>> query(String promql, Double time) {
        String answer = get("/api/v1/query?query=" + enc(promql) + (time == null ? "" : "&time=" + time));
        if (!answer.startsWith("200 ")) {
            throw new AssertionError("query " + promql + ": " + answer);
        }
        Map<String, Object> a = MiniJson.obj(MiniJson.parse(answer.substring(4)));
        Map<String, Object> d = MiniJson.obj(a.get("data"));
        assertEquals("vector", d.get("resultType"), promql);
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object o : MiniJson.arr(d.get("result"))) {
            out.add(MiniJson.obj(o));
        }
        return out;
    }

    private static double value(Map<String, Object> sample) {
        String v = (String) MiniJson.arr(sample.get("value")).get(1);
        return switch (v) {
            case "NaN" -> Double.NaN;
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            default -> Double.parseDouble(v);
        };
    }

    private List<Double> values(String promql) {
        return query(promql, null).stream().map(PrometheusScrapeIT::value).toList();
    }

    /** The one value of {@code promql} at {@code time}, as an exact integer. */
    private long single(String promql, double time) {
        List<Map<String, Object>> r = query(promql, time);
        assertEquals(1, r.size(), promql + " at " + time + ": " + r);
        double v = value(r.get(0));
        assertTrue(v == Math.rint(v) && Math.abs(v) < 1L << 53, promql + " = " + v);
        return (long) v;
    }

    /** The labels of the one series {@code selector} selects now. */
    @SuppressWarnings("unchecked")
    private Map<String, String> metric(String selector) {
        List<Map<String, Object>> r = query(selector, null);
        assertEquals(1, r.size(), selector + ": " + r);
        return (Map<String, String>) (Map<?, ?>) MiniJson.obj(r.get(0).get("metric"));
    }

    // ---- processes, files, waiting --------------------------------------------------------------------------

    private static Map<String, Long> readExpected(Path dir) throws IOException {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(dir.resolve("expected"))) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1).strip()));
            }
        }
        return m;
    }

    private void awaitFile(Path f, Process vm) throws Exception {
        await(f.getFileName() + " from the guest", GUEST_STEP, vm, () -> Files.exists(f));
    }

    /** Polls {@code done} every 0.5 s; fails at the timeout, or at once when the VM has exited. */
    private void await(String what, Duration timeout, Process vm, BooleanSupplier done) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        AssertionError last = null;
        while (System.nanoTime() < end) {
            try {
                if (done.getAsBoolean()) {
                    return;
                }
                last = null;
            } catch (AssertionError e) {
                last = e; // e.g. the API is not up yet: try again
            }
            if (!vm.isAlive()) {
                fail("the VM exited (status " + vm.exitValue() + ") while waiting for " + what);
            }
            Thread.sleep(500);
        }
        fail("timed out after " + timeout.toSeconds() + " s waiting for " + what + (last != null ? ": " + last : ""));
    }

    private double now() {
        return System.currentTimeMillis() / 1000.0;
    }

    private void log(String msg) {
        System.out.printf("[PrometheusScrapeIT %6.1fs] %s%n", (System.nanoTime() - t0) / 1e9, msg);
    }

    private static int[] freePorts(int n) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            int[] ports = new int[n];
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(s);
                ports[i] = s.getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket s : sockets) {
                s.close();
            }
        }
    }

    /** Starts {@code cmd} in the repo, its output (stdout and stderr) streamed with a prefix and to {@code log}. */
    private static Process start(List<String> cmd, String prefix, Path log) throws IOException {
        Process p = new ProcessBuilder(cmd).directory(repo().toFile()).redirectErrorStream(true).start();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                    PrintWriter w = log == null ? null : new PrintWriter(Files.newBufferedWriter(log))) {
                String line;
                while ((line = r.readLine()) != null) {
                    System.out.println("[" + prefix + "] " + line);
                    if (w != null) {
                        w.println(line);
                        w.flush();
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "output of " + prefix);
        t.setDaemon(true);
        t.start();
        return p;
    }

    /** Runs {@code cmd} to its end (killed at the timeout), output streamed; returns its exit status. */
    private static int run(List<String> cmd, Duration timeout, String prefix) throws IOException, InterruptedException {
        Process p = start(cmd, prefix, null);
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return 124;
        }
        return p.exitValue();
    }
}
