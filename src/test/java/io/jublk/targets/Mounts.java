package io.jublk.targets;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jublk.sys.LibC;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * File systems a test mounts for itself (the host's tests run as root): a small tmpfs that fills up, a ramfs
 * that cannot punch holes, a file bind-mounted into another file system. Unmounted, last first, on close. A
 * test that cannot mount (not root, no mount(8)) is skipped, not failed.
 */
final class Mounts implements AutoCloseable {
    private final List<Path> mounted = new ArrayList<>();

    Mounts() {
        assumeTrue(LibC.geteuid() == 0, "mounting file systems needs root");
    }

    /** A tmpfs of {@code bytes} at {@code dir}: it punches holes, has no FALLOC_FL_ZERO_RANGE, and fills up. */
    Path tmpfs(Path dir, long bytes) throws IOException {
        return mount(dir, "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs");
    }

    /** A ramfs at {@code dir}: no fallocate mode but the default, no O_DIRECT. */
    Path ramfs(Path dir) throws IOException {
        return mount(dir, "-t", "ramfs", "ramfs");
    }

    /**
     * {@code file} bind-mounted over {@code onto} (created empty): the same inode, seen from a directory of another
     * file system, where a scratch file made next to it lands elsewhere.
     */
    Path bind(Path file, Path onto) throws IOException {
        if (!Files.exists(onto)) {
            Files.createFile(onto);
        }
        return mount(onto, "--bind", file.toString());
    }

    private Path mount(Path at, String... how) throws IOException {
        if (!Files.exists(at)) {
            Files.createDirectories(at);
        }
        List<String> cmd = new ArrayList<>(List.of("mount"));
        cmd.addAll(List.of(how));
        cmd.add(at.toString());
        String out = run(cmd);
        assumeTrue(out == null, () -> "cannot mount (" + String.join(" ", cmd) + "): " + out);
        mounted.add(at);
        return at;
    }

    /** Runs {@code cmd}; null when it succeeded, else what it printed. */
    private static String run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            return p.waitFor() == 0 ? null : out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + cmd, e);
        }
    }

    @Override
    public void close() throws IOException {
        IOException failed = null;
        for (int i = mounted.size() - 1; i >= 0; i--) {
            String out = run(List.of("umount", mounted.get(i).toString()));
            if (out != null) {
                // Something still holds it (a test failed with a file open): detach it rather than leave it.
                out = run(List.of("umount", "-l", mounted.get(i).toString()));
            }
            if (out != null && failed == null) {
                failed = new IOException("umount " + mounted.get(i) + ": " + out);
            }
        }
        mounted.clear();
        if (failed != null) {
            throw failed;
        }
    }
}
