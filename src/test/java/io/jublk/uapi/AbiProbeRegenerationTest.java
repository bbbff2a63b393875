package io.jublk.uapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Rebuilds the C probe from the pinned 7.3 headers and fails if its output differs from the checked-in
 * {@code abi.properties}: the data the Java side is checked against must itself be what gcc says.
 * Runs wherever gcc is installed (as in CI); {@code ublk-headers/fetch} downloads the headers if needed.
 */
class AbiProbeRegenerationTest {
    @Test
    void checkedInProbeOutputIsCurrent() throws IOException, InterruptedException {
        assumeTrue(onPath("gcc") && onPath("readelf"), "gcc/readelf not installed: probe regeneration skipped");
        Path repo = AbiTest.repo();
        Process p = new ProcessBuilder(repo.resolve("ublk-headers/generate").toString(), "--check")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(true, p.waitFor(5, TimeUnit.MINUTES), "generate --check finished");
        assertEquals(0, p.exitValue(), "ublk-headers/generate --check:\n" + out);
    }

    static boolean onPath(String cmd) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, cmd))) {
                return true;
            }
        }
        return false;
    }
}
