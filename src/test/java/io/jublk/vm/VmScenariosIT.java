package io.jublk.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every guest scenario under {@code vm-tests/} (the {@code *.sh} files that carry a {@code # vm-test:}
 * line), run against the real {@code ublk_drv} in a QEMU guest by {@code vm-tests/run}. The scenario's exit
 * status is the verdict; the harness also fails a run whose kernel log shows a BUG, WARNING, Oops or hung
 * task. A scenario's {@code # vm-test:} line holds the harness options it needs (e.g. {@code --disk 2G}).
 *
 * <p>Two VMs run at a time: with {@code -accel tcg,thread=single} each uses one host core.
 */
@Execution(ExecutionMode.CONCURRENT)
class VmScenariosIT {
    static Path repo() {
        return Path.of(System.getProperty("jublk.repo", ".")).toAbsolutePath();
    }

    /**
     * A scenario script with the harness options and script arguments of one of its {@code # vm-test:} lines,
     * and the wall time one run takes (its {@code # vm-test-seconds:} line; 180 without one).
     */
    record Scenario(String name, List<String> options, List<String> args, int seconds) {
        @Override
        public String toString() {
            return args.isEmpty() ? name : name + " " + String.join(" ", args);
        }

        String logName() {
            return toString().replace(".sh", "").replace(' ', '-') + ".log";
        }
    }

    static Stream<Scenario> scenarios() throws IOException {
        List<Scenario> list = new ArrayList<>();
        String only = System.getProperty("jublk.vm.only", "");
        try (Stream<Path> files = Files.list(repo().resolve("vm-tests"))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".sh")).sorted().toList()) {
                String name = p.getFileName().toString();
                if (!only.isBlank() && !List.of(only.split(",")).contains(name)) {
                    continue;
                }
                // "# vm-test: [harness options] [-- scenario arguments]", one test per line.
                List<String> lines = Files.readAllLines(p);
                int seconds = lines.stream().filter(l -> l.startsWith("# vm-test-seconds:"))
                        .map(l -> Integer.parseInt(l.substring("# vm-test-seconds:".length()).trim()))
                        .findFirst().orElse(180);
                for (String line : lines) {
                    if (line.startsWith("# vm-test:")) {
                        String spec = line.substring("# vm-test:".length()).trim();
                        List<String> words = spec.isEmpty() ? List.of() : List.of(spec.split("\\s+"));
                        int dash = words.indexOf("--");
                        List<String> opts = dash < 0 ? words : words.subList(0, dash);
                        List<String> args = dash < 0 ? List.of() : words.subList(dash + 1, words.size());
                        list.add(new Scenario(name, opts, args, seconds));
                    }
                }
            }
        }
        // Longest first: two VMs run at a time, and a long scenario started last would run alone at the end.
        list.sort(java.util.Comparator.comparingInt(Scenario::seconds).reversed());
        return list.stream();
    }

    @BeforeAll
    static void qemuPresent() {
        boolean qemu = Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64"));
        if (!qemu) {
            System.err.println("""

                    ********************************************************************************
                    *  VM TESTS SKIPPED: qemu-system-x86_64 is not installed, so the ublk scenarios  *
                    *  cannot run against a real kernel. bin/test installs it (as root).           *
                    ********************************************************************************
                    """);
        }
        assumeTrue(qemu, "QEMU cannot run here");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void scenario(Scenario s) throws Exception {
        Path logs = repo().resolve("target/vm-tests");
        Files.createDirectories(logs);
        Path log = logs.resolve(s.logName());
        List<String> cmd = new ArrayList<>();
        cmd.add(repo().resolve("vm-tests/run").toString());
        cmd.addAll(s.options());
        cmd.add(s.name());
        cmd.addAll(s.args());
        Process p = new ProcessBuilder(cmd).directory(repo().toFile()).redirectErrorStream(true).start();
        List<String> failures = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                PrintWriter w = new PrintWriter(Files.newBufferedWriter(log))) {
            String line;
            while ((line = r.readLine()) != null) {
                w.println(line);
                w.flush();
                System.out.println("[" + s + "] " + line);
                if (line.startsWith("FAIL")) {
                    failures.add(line);
                }
            }
        }
        if (!p.waitFor(2, TimeUnit.HOURS)) {
            p.destroyForcibly();
            fail(s.name() + ": the harness did not end");
        }
        int rc = p.exitValue();
        String why = switch (rc) {
            case 0 -> "";
            case 124 -> "the guest hung and was killed at the timeout";
            case 125 -> "the guest kernel log shows BUG/WARNING/Oops/hung task";
            case 126 -> "JVM crash in the guest (QEMU TCG), not a test verdict";
            case 127 -> "harness failure (QEMU, kernel download, missing packages)";
            default -> "scenario failed: " + String.join("; ", failures);
        };
        assertEquals(0, rc, s.name() + ": " + why + " (log: " + log + ")");
    }
}
