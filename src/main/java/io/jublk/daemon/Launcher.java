package io.jublk.daemon;

import io.jublk.ctrl.UblkControl;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.Capabilities;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * How `ublk add` and `ublk recover` become a running server: a second JVM — the daemon — started in its own
 * session and mount namespace ({@code unshare --mount --propagation slave}: a file system mounted on its own device
 * then cannot pin it at exit), with its stderr on a log file in the run directory. The request goes to the daemon's
 * stdin and the typed answers come back on its stdout ({@link Handshake}).
 *
 * <p>If the daemon does not answer in time it is asked to stop (SIGTERM), which undoes its start; if it dies without
 * answering, what it may have left (a device, a record, a file its add created) is removed here. If this command is
 * interrupted before the device is ready, the daemon is asked to stop too: an add that did not finish leaves
 * nothing.
 */
public final class Launcher {
    /** Tells the daemon where its stderr goes, so it can give the log its device's name. */
    public static final String LOG_ENV = "JUBLK_DAEMON_LOG";

    private Launcher() {}

    /**
     * Starts a daemon for {@code request}; returns once the device is live. Warnings go to {@code warnings}; a
     * failure is thrown as the daemon's typed exception.
     *
     * @param mainClass the class whose {@code main} serves {@code argv} (used when not running from a jar)
     */
    public static Handshake.Ready start(Handshake.Request request, List<String> argv, String mainClass,
            Duration timeout, Consumer<String> warnings, Consumer<Handshake.Ready> tellUser)
            throws InterruptedException {
        return start(request, null, argv, mainClass, timeout, warnings, tellUser);
    }

    /**
     * The same, with the daemon started from {@code jar} (another build of jublk, e.g. for `ublk upgrade`), or from
     * this one when null.
     */
    public static Handshake.Ready start(Handshake.Request request, Path jar, List<String> argv, String mainClass,
            Duration timeout, Consumer<String> warnings, Consumer<Handshake.Ready> tellUser)
            throws InterruptedException {
        RunDirectory run = RunDirectory.get().ensure();
        Path log = run.newDaemonLog();
        List<String> cmd = new ArrayList<>();
        // Only root has mount namespaces to spare (and only root mounts ublk devices); a user's daemon stays in its own.
        if (Capabilities.sysAdmin() && Files.isExecutable(Path.of("/usr/bin/unshare"))) {
            cmd.addAll(List.of("/usr/bin/unshare", "--mount", "--propagation", "slave", "--"));
        }
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.addAll(daemonJvmOptions(jar == null));
        String cp = System.getProperty("java.class.path");
        if (jar != null) {
            cmd.add("-jar");
            cmd.add(jar.toAbsolutePath().toString());
        } else if (cp.endsWith(".jar") && !cp.contains(File.pathSeparator)) {
            // -jar: the manifest grants native access, so the class-data archive stays valid (a command-line
            // --enable-native-access would not match the archive's).
            cmd.add("-jar");
            cmd.add(cp);
        } else {
            cmd.add("-cp");
            cmd.add(cp);
            cmd.add(mainClass);
        }
        cmd.addAll(argv);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put(LOG_ENV, log.toString());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the server", e);
        }
        OutputStream toDaemon = p.getOutputStream();
        // Once the user has been told (or the add is given up), the daemon hears which; only one of the two.
        AtomicBoolean settled = new AtomicBoolean();
        // Interrupted before the user was told (Ctrl-C, SIGTERM): the daemon undoes the add, whatever step it is at.
        Thread hook = new Thread(() -> {
            if (settled.compareAndSet(false, true)) {
                abandon(p, toDaemon);
            }
        }, "ublk-add-interrupted");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            try {
                toDaemon.write((Records.JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
                toDaemon.flush();
            } catch (IOException e) {
                // The daemon died before reading: seen below as no answer.
            }
            BufferedReader answers = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                Optional<Handshake.Answer> a;
                try {
                    a = next(answers, deadline, warnings);
                } catch (TimeoutException e) {
                    settled.set(true);
                    return noAnswer(request, run, p, toDaemon, log, timeout, true);
                } catch (Failure.DaemonException e) {
                    // Not a daemon this launcher understands: it is asked to undo its start, as when interrupted.
                    settled.set(true);
                    giveUp(p, toDaemon);
                    throw e;
                }
                if (a.isEmpty()) {
                    settled.set(true);
                    return noAnswer(request, run, p, toDaemon, log, timeout, false);
                }
                switch (a.get()) {
                    case Handshake.Warning w -> warnings.accept(w.message());
                    case Handshake.Ready r -> {
                        tellUser.accept(r);
                        if (settled.compareAndSet(false, true)) {
                            say(toDaemon, new Handshake.Accepted());
                        }
                        return r;
                    }
                    case Handshake.Failed f -> {
                        settled.set(true);
                        giveUp(p, toDaemon);
                        // The failure is reported here; its log holds nothing more worth keeping.
                        deleteQuietly(log);
                        throw f.failure().toException();
                    }
                }
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs.
            }
        }
    }

    /**
     * The next answer; empty at the end of the daemon's stdout (it exited, or closed it without answering). A line
     * that is not JSON is the daemon's JVM speaking (an option given in JUBLK_DAEMON_JAVA_OPTS, such as a flight
     * recording, may print to stdout): it goes to {@code warnings} and the answer is still awaited.
     */
    private static Optional<Handshake.Answer> next(BufferedReader r, long deadline, Consumer<String> warnings)
            throws InterruptedException, TimeoutException {
        while (true) {
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                try {
                    return r.readLine();
                } catch (IOException e) {
                    return null;
                }
            });
            String s;
            try {
                s = line.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                return Optional.empty();
            }
            if (s == null) {
                return Optional.empty();
            }
            if (!s.startsWith("{")) {
                if (!s.isBlank()) {
                    warnings.accept("the server's JVM printed: " + s.strip());
                }
                continue;
            }
            try {
                return Optional.of(Records.JSON.readValue(s, Handshake.Answer.class));
            } catch (RuntimeException e) {
                throw new Failure.DaemonException("the server answered something that is not a handshake: "
                        + e.getMessage());
            }
        }
    }

    /** Tells the daemon the add is abandoned (it undoes its start) and gives it a minute to exit. */
    private static void giveUp(Process p, OutputStream toDaemon) throws InterruptedException {
        say(toDaemon, new Handshake.Abandoned());
        p.waitFor(60, TimeUnit.SECONDS);
    }

    /** The launcher's last word to the daemon; then its stdin closes. */
    private static void say(OutputStream toDaemon, Handshake.Outcome o) {
        try (toDaemon) {
            toDaemon.write((Records.JSON.writeValueAsString(o) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // The daemon is gone.
        }
    }

    /**
     * Tells a daemon whose answer the user never saw to undo its add, and waits for it; a daemon that does not
     * listen within 30 s gets SIGTERM (it then stops, though a device it had made live keeps its new file), and
     * another minute.
     */
    private static void abandon(Process p, OutputStream toDaemon) {
        if (!p.isAlive()) {
            return;
        }
        say(toDaemon, new Handshake.Abandoned());
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroy();
                p.waitFor(60, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The daemon died or hung before answering: stop it, and remove whatever an add left. */
    private static Handshake.Ready noAnswer(Handshake.Request request, RunDirectory run, Process p,
            OutputStream toDaemon, Path log, Duration timeout, boolean hung) throws InterruptedException {
        if (!hung) {
            // Its stdout ended without an answer: it is exiting (or closed stdout and hangs: then it is stopped).
            hung = !p.waitFor(30, TimeUnit.SECONDS);
        }
        if (hung) {
            abandon(p, toDaemon);
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } else {
            p.waitFor();
        }
        if (request instanceof Handshake.Add) {
            removeLeftovers(run, (int) p.pid());
        }
        // A takeover (recover, upgrade) that died leaves the device waiting for the next server, as a crash does.
        throw new Failure.DaemonException(hung
                ? "the server did not start within " + timeout.toSeconds() + " s and was stopped; see " + log
                : "the server exited with status " + p.exitValue() + " before the device was ready; see " + log);
    }

    /** Devices and records of a daemon that is gone (by its pid), removed as `ublk del` would. */
    static void removeLeftovers(RunDirectory run, int pid) throws InterruptedException {
        if (!run.exists()) {
            return;
        }
        List<Integer> ids = new ArrayList<>();
        for (int id : run.recordIds()) {
            try {
                Records.read(run, id).filter(r -> r.server().pid() == pid && !r.server().running())
                        .map(DeviceRecord::id).ifPresent(ids::add);
            } catch (RuntimeException e) {
                // Not readable: `ublk del --all` reports it.
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        try (UblkControl ctrl = UblkControl.open()) {
            for (int id : ids) {
                try {
                    Cleanup.delete(run, ctrl, id, Duration.ofSeconds(30), m -> { });
                } catch (RuntimeException e) {
                    System.getLogger(Launcher.class.getName()).log(System.Logger.Level.WARNING,
                            "could not remove what the server left of device " + id + ": " + e.getMessage());
                }
            }
        }
    }

    private static void deleteQuietly(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException ignored) {
            // A stray log is harmless.
        }
    }

    /**
     * The daemon's JVM options: this JVM's, minus what only suits a short-lived command, plus a small heap and the
     * serial collector (the I/O path allocates nothing; on a small machine every collector thread competes with the
     * queue threads), plus {@code $JUBLK_DAEMON_JAVA_OPTS}.
     */
    static List<String> daemonJvmOptions() {
        return daemonJvmOptions(true);
    }

    /** @param sameJar the daemon runs this JVM's jar: its class-data archive (or AOT cache) fits it too */
    static List<String> daemonJvmOptions(boolean sameJar) {
        List<String> opts = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!sameJar && (a.startsWith("-XX:AOTCache") || a.startsWith("-XX:SharedArchiveFile"))) {
                continue;
            }
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
}
