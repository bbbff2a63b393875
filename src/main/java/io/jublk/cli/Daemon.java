package io.jublk.cli;

import io.jublk.metrics.MetricsServer;
import io.jublk.queue.Target;
import io.jublk.server.UblkServer;
import io.jublk.sys.LibC;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How `ublk add` becomes a running server.
 *
 * <p>Without {@code --foreground}, `ublk add` starts a second JVM — the daemon — with the same arguments plus
 * {@code --daemon-notify}, in its own session and mount namespace ({@code unshare --mount --propagation
 * slave}: a file system mounted on its own device then cannot pin it at exit). The daemon's stderr is its log
 * file. It answers on stdout with one line, the block device path or {@code !} and an error, then closes
 * stdout; `ublk add` prints that and returns. The daemon keeps serving until SIGTERM (`ublk del`).
 */
final class Daemon {
    private Daemon() {}

    private static final String ERROR_MARK = "!";
    private static final String WARNING_MARK = "~";
    /** Tells the daemon where its stderr goes, so it can give the log its device's name. */
    private static final String LOG_ENV = "JUBLK_DAEMON_LOG";

    static Duration startTimeout() {
        String s = System.getenv("JUBLK_START_TIMEOUT");
        return Duration.ofSeconds(s != null && s.matches("\\d+") ? Long.parseLong(s) : 180);
    }

    /** `ublk add` without --foreground: start the daemon, relay its answer. */
    static int spawn(AddTargetCommand add) throws IOException, InterruptedException {
        if (add.common.recoverId == null && add.common.id != null
                && Files.exists(Path.of("/dev/ublkc" + add.common.id))) {
            throw new Errors.UserError("device " + add.common.id
                    + " already exists: choose another -n, or omit -n to let the kernel pick one");
        }
        Path log = RunDir.newLogFile();
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/unshare"))) {
            cmd.addAll(List.of("/usr/bin/unshare", "--mount", "--propagation", "slave", "--"));
        }
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.addAll(daemonJvmOptions());
        String cp = System.getProperty("java.class.path");
        if (cp.endsWith(".jar") && !cp.contains(File.pathSeparator)) {
            // -jar: the manifest grants native access, so the class-data archive stays valid (a command-line
            // --enable-native-access would not match the archive's).
            cmd.add("-jar");
            cmd.add(cp);
        } else {
            cmd.add("-cp");
            cmd.add(cp);
            cmd.add(Main.class.getName());
        }
        cmd.addAll(List.of(Main.argv));
        cmd.add("--daemon-notify");
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(new File("/dev/null"))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put(LOG_ENV, log.toString());
        Process p = pb.start();
        BufferedReader answer = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = readLine(answer, startTimeout());
        while (line != null && line.startsWith(WARNING_MARK)) {
            System.err.println("ublk: warning: " + line.substring(WARNING_MARK.length()));
            line = readLine(answer, startTimeout());
        }
        if (line == null) {
            if (p.isAlive()) {
                p.destroy();
                p.waitFor(60, TimeUnit.SECONDS);
                throw new IllegalStateException("the server did not start within " + startTimeout().toSeconds()
                        + " s and was stopped; see " + log);
            }
            p.waitFor();
            throw new IllegalStateException("the server exited with status " + p.exitValue()
                    + " before the device was ready; see " + log);
        }
        if (line.startsWith(ERROR_MARK)) {
            p.waitFor(60, TimeUnit.SECONDS);
            // The error is reported here; its log holds nothing more worth keeping.
            Files.deleteIfExists(log);
            String msg = line.substring(ERROR_MARK.length());
            throw msg.startsWith("user:") ? new Errors.UserError(msg.substring(5)) : new IllegalStateException(msg);
        }
        System.out.println(line);
        return 0;
    }

    private static String readLine(BufferedReader r, Duration timeout) throws InterruptedException {
        CompletableFuture<String> next = CompletableFuture.supplyAsync(() -> {
            try {
                return r.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        try {
            return next.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return null;
        }
    }

    /**
     * The daemon's JVM options: this JVM's, minus what only suits a short-lived command, plus a small heap and
     * the serial collector (the I/O path allocates nothing; on a small machine every collector thread competes
     * with the queue threads), plus {@code $JUBLK_DAEMON_JAVA_OPTS}.
     */
    static List<String> daemonJvmOptions() {
        List<String> opts = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.equals("-Xint") || a.startsWith("-XX:TieredStopAtLevel") || a.startsWith("-XX:+AutoCreateSharedArchive")
                    || a.startsWith("-XX:ArchiveClassesAtExit") || a.startsWith("-XX:AOTCacheOutput")
                    || a.startsWith("-agentlib")
                    || a.startsWith("-Xms") || a.startsWith("-Xmx") || a.startsWith("-XX:+Use")) {
                continue;
            }
            opts.add(a);
        }
        opts.add("-XX:+UseSerialGC");
        opts.add("-Xms64m");
        opts.add("-Xmx512m");
        String extra = System.getenv("JUBLK_DAEMON_JAVA_OPTS");
        if (extra != null && !extra.isBlank()) {
            opts.addAll(List.of(extra.trim().split("\\s+")));
        }
        return opts;
    }

    /** `ublk add --foreground`, or the daemon itself (--daemon-notify). */
    static int serve(AddTargetCommand add) throws InterruptedException {
        Logging.serverLevel();
        boolean notify = add.common.daemonNotify;
        PrintStream out = System.out;
        if (notify) {
            // Leave the session of the `ublk add` that started us: its terminal's hangup must not reach us.
            LibC.rawSetsid();
        }
        UblkServer server;
        MetricsServer metrics = null;
        try {
            Target target = add.createTarget();
            UblkServer.Options options = new UblkServer.Options(add.common.id != null ? add.common.id : -1,
                    add.common.queues, add.common.depth, UblkServer.Options.DEFAULT_MAX_IO_BYTES,
                    add.common.recoveryFlags() | add.deviceFlags(), true, startTimeout());
            // The server owns the target: it closes it whether it stops later or fails to start.
            server = add.common.recoverId != null
                    ? UblkServer.recover(target, add.common.recoverId, options.readyTimeout(), options.ioFlusher())
                    : UblkServer.start(target, options);
            if (add.common.metricsPort != null) {
                try {
                    metrics = MetricsServer.start(server, add.common.metricsAddress, add.common.metricsPort);
                } catch (RuntimeException e) {
                    server.close();
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            if (!notify) {
                throw e;
            }
            String prefix = e instanceof Errors.UserError ? "user:" : "";
            System.err.println("ublk: " + Errors.describe(e));
            out.println(ERROR_MARK + prefix + Errors.describe(e));
            out.flush();
            return e instanceof Errors.UserError ? 2 : 1;
        }
        int id = server.info().devId();
        Path log = notify ? moveLog(id) : null;
        RunDir.writeState(id, state(add, server, log));
        MetricsServer metricsServer = metrics;
        Thread hook = new Thread(() -> shutdown(server, metricsServer, id), "ublk-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        for (String w : add.warnings()) {
            System.getLogger(Daemon.class.getName()).log(System.Logger.Level.WARNING, w);
            if (notify) {
                out.println(WARNING_MARK + w);
            } else {
                System.err.println("ublk: warning: " + w);
            }
        }
        out.println(server.blockDevice());
        out.flush();
        if (notify) {
            out.close();
        }
        server.awaitQueueExit();
        // A queue ended. During shutdown that is the hook's doing; otherwise the device lost its server.
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            hook.join();
            return 0;
        }
        System.getLogger(Daemon.class.getName()).log(System.Logger.Level.ERROR,
                "a queue of device " + id + " ended unexpectedly: " + server.queueFailures() + "; shutting down");
        shutdown(server, metricsServer, id);
        return 1;
    }


    private static void shutdown(UblkServer server, MetricsServer metrics, int id) {
        try {
            server.close();
        } finally {
            if (metrics != null) {
                metrics.close();
            }
            RunDir.removeState(id);
        }
    }

    private static Path moveLog(int id) {
        // Our stderr was opened by `ublk add` on a file named before the id was known: rename it (same inode).
        String current = System.getenv(LOG_ENV);
        if (current == null) {
            return null;
        }
        Path target = RunDir.logFile(id);
        try {
            Files.move(Path.of(current), target, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            return Path.of(current);
        }
    }

    private static Properties state(AddTargetCommand add, UblkServer server, Path log) {
        Properties p = new Properties();
        p.setProperty("id", Integer.toString(server.info().devId()));
        p.setProperty("pid", Long.toString(ProcessHandle.current().pid()));
        p.setProperty("target", add.targetName());
        p.setProperty("queues", Integer.toString(server.info().nrHwQueues()));
        p.setProperty("depth", Integer.toString(server.info().queueDepth()));
        p.setProperty("size", Long.toString(server.params().sizeBytes()));
        p.setProperty("logical_block_size", Integer.toString(server.params().logicalBlockSize()));
        p.setProperty("flags", "0x" + Long.toHexString(server.info().flags()));
        p.setProperty("recovery", add.common.recovery != null ? add.common.recovery : "none");
        p.setProperty("started", Instant.now().toString());
        if (add.common.recoverId != null) {
            p.setProperty("recovered", "true");
        }
        if (log != null) {
            p.setProperty("log", log.toString());
        }
        for (Map.Entry<String, String> e : add.describe().entrySet()) {
            p.setProperty("target." + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, String> e : server.target().describe().entrySet()) {
            p.setProperty("target." + e.getKey(), e.getValue());
        }
        List<String> args = new ArrayList<>(List.of(Main.argv));
        args.remove("--daemon-notify");
        args.remove("--foreground");
        int r = args.indexOf("--recover-id");
        if (r >= 0) {
            args.subList(r, Math.min(r + 2, args.size())).clear();
        }
        for (int i = 0; i < args.size(); i++) {
            p.setProperty("arg." + i, args.get(i));
        }
        return p;
    }
}
