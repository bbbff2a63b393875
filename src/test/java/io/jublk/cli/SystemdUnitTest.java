package io.jublk.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped unit template as bin/install-system installs it: {@code systemd-analyze verify} of an instance is
 * clean (and is not when the unit is broken, so the check can fail); the rule and the declarations directory are
 * where the unit and udev look.
 */
class SystemdUnitTest {
    private static final Path REPO = Path.of("").toAbsolutePath();
    private static final Path ANALYZE = Path.of("/usr/bin/systemd-analyze");

    @TempDir
    Path dest;

    private record Run(int exit, String output) {}

    private static Run run(Map<String, String> env, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return new Run(p.waitFor(), out);
    }

    private Path install() throws IOException, InterruptedException {
        Run r = run(Map.of("DESTDIR", dest.toString()), REPO.resolve("bin/install-system").toString());
        assertEquals(0, r.exit(), r.output());
        return dest.resolve("etc/systemd/system");
    }

    private static Run verify(Path unit) throws IOException, InterruptedException {
        return run(Map.of("SYSTEMD_LOG_COLOR", "0"), ANALYZE.toString(), "verify", unit.toString());
    }

    @Test
    void theInstalledUnitVerifiesClean() throws Exception {
        assumeTrue(Files.isExecutable(ANALYZE), "systemd-analyze is not installed (Debian package systemd)");
        Path units = install();
        String unit = Files.readString(units.resolve("jublk@.service"));
        assertTrue(unit.contains("ExecStart=" + REPO.resolve("bin/ublk") + " up %i\n"), unit);
        assertTrue(unit.contains("Type=notify\n"), unit);
        assertTrue(!unit.contains("@UBLK@") && !unit.contains("@REPO@"), "every placeholder filled in: " + unit);
        assertTrue(Files.isDirectory(dest.resolve("etc/jublk")), "the declarations' directory");
        assertTrue(Files.isRegularFile(dest.resolve("etc/udev/rules.d/60-jublk-by-id.rules")), "the udev rule");
        Run clean = verify(units.resolve("jublk@db.service"));
        assertEquals(new Run(0, ""), clean, "systemd-analyze verify jublk@db.service");
    }

    /** The same verify finds what is wrong in a unit: a misspelt setting, a command that is not there. */
    @Test
    void verifyFindsABrokenUnit() throws Exception {
        assumeTrue(Files.isExecutable(ANALYZE), "systemd-analyze is not installed (Debian package systemd)");
        Path units = install();
        String unit = Files.readString(units.resolve("jublk@.service"));
        List<String> broken = new ArrayList<>();
        broken.add(unit.replace("Type=notify", "Type=notfy"));
        broken.add(unit.replace(REPO.resolve("bin/ublk").toString(), dest.resolve("no/ublk").toString()));
        for (int i = 0; i < broken.size(); i++) {
            Files.writeString(units.resolve("broken" + i + "@.service"), broken.get(i));
            Run r = verify(units.resolve("broken" + i + "@db.service"));
            assertTrue(!r.output().isEmpty(), "systemd-analyze verify says nothing about " + broken.get(i));
        }
    }
}
