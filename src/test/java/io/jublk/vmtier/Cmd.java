package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The programs a test runs (fio, mkfs.ext4, blkdiscard...), as child processes of the test's JVM. Their output
 * goes to a file, not a pipe (the JVM holds no descriptor for it, which the stress test counts), and is shown
 * only when something fails.
 */
final class Cmd {
    /** Longer than any program a test runs takes under emulation; a hung one fails its test instead of the VM. */
    private static final long TIMEOUT_MINUTES = 15;

    private Cmd() {}

    /** How a program ended: its exit status and its output (stdout and stderr together). */
    record Result(List<String> command, int status, String output) {
        /** The last {@code n} lines of the output, each indented, for a failure message. */
        String tail(int n) {
            List<String> lines = output.lines().toList();
            StringBuilder b = new StringBuilder();
            for (String l : lines.subList(Math.max(0, lines.size() - n), lines.size())) {
                b.append("\n  ").append(l);
            }
            return b.toString();
        }

        /** Fails the test unless the program exited 0. */
        Result assertOk() {
            if (status != 0) {
                fail(String.join(" ", command) + " exited " + status + ":" + tail(15));
            }
            return this;
        }
    }

    /** A program started in the background; {@link #close()} kills it if it still runs. */
    static final class Background implements AutoCloseable {
        private final List<String> command;
        private final Process process;
        private final Path output;

        private Background(List<String> command, Process process, Path output) {
            this.command = command;
            this.process = process;
            this.output = output;
        }

        boolean isAlive() {
            return process.isAlive();
        }

        /** Waits for the program to end. */
        Result await() throws InterruptedException {
            if (!process.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                fail(String.join(" ", command) + " still runs after " + TIMEOUT_MINUTES + " minutes:" + result(-1)
                        .tail(15));
            }
            return result(process.exitValue());
        }

        private Result result(int status) {
            try {
                return new Result(command, status, Files.readString(output));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() throws IOException, InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(1, TimeUnit.MINUTES);
            }
            Files.deleteIfExists(output);
        }
    }

    /** Starts {@code command} in {@code dir}, with nothing on its stdin. */
    static Background start(Path dir, String... command) throws IOException {
        Path output = Files.createTempFile("cmd", ".out");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(new File("/dev/null")).redirectOutput(output.toFile()).start();
        return new Background(List.of(command), p, output);
    }

    /** Runs {@code command} to its end and returns how it ended. */
    static Result exec(String... command) throws IOException, InterruptedException {
        return exec(Path.of("/"), command);
    }

    /** Runs {@code command} in {@code dir} to its end and returns how it ended. */
    static Result exec(Path dir, String... command) throws IOException, InterruptedException {
        try (Background b = start(dir, command)) {
            return b.await();
        }
    }

    /** Runs {@code command}; the test fails unless it exits 0. */
    static Result run(String... command) throws IOException, InterruptedException {
        return exec(command).assertOk();
    }

    /** Writes back and drops the page cache: what is read next comes from the device, or the backing file. */
    static void dropCaches() throws IOException, InterruptedException {
        run("sync");
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    }
}
