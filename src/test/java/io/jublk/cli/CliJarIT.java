package io.jublk.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's jar as bin/ublk runs it, for a command's start-up (issue 11): every class in it is in a class-file format
 * the JDK's AOT cache keeps (picocli's are rewritten by the build: pom.xml, src/build/UpgradeClassFiles.java), and
 * with the cache bin/ublk trains (`ublk __train`), the commands typed most load no class from the jar — each one
 * loaded from the jar costs its loading and linking in every command, most of a second under emulation for a few
 * dozen. An IT: the jar and the cache exist only after {@code package}.
 */
class CliJarIT {
    private static final Path REPO = Path.of(System.getProperty("jublk.repo", ".")).toAbsolutePath();
    private static final Path JAR = REPO.resolve("target/jublk.jar");

    @TempDir
    Path tmp;

    @Test
    void everyClassIsInAFormatTheAotCacheKeeps() throws IOException {
        assumeTrue(Runtime.version().feature() >= 24, "the build rewrites old class files with JDK 24+'s ClassFile API");
        List<String> old = new ArrayList<>();
        try (ZipFile jar = new ZipFile(JAR.toFile())) {
            for (ZipEntry e : Collections.list(jar.entries())) {
                if (e.getName().endsWith(".class")) {
                    try (DataInputStream in = new DataInputStream(jar.getInputStream(e))) {
                        in.readInt(); // magic
                        in.readUnsignedShort(); // minor
                        int major = in.readUnsignedShort();
                        if (major < 50) {
                            old.add(e.getName() + " (" + major + ")");
                        }
                    }
                }
            }
        }
        assertTrue(old.isEmpty(), old.size() + " classes the AOT cache cannot keep once linked, e.g. "
                + old.subList(0, Math.min(10, old.size())));
    }

    @Test
    void theCommandsTypedMostLoadNoClassFromTheJar() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "the build rewrites old class files with JDK 24+'s ClassFile API");
        for (String command : List.of("--version", "list --json", "del -n 0", "features", "add loop --help",
                "add null --size 1G --foreground --bogus")) {
            Path log = tmp.resolve("class-load.log");
            Files.deleteIfExists(log);
            List<String> cmd = new ArrayList<>(List.of(REPO.resolve("bin/ublk").toString()));
            cmd.addAll(List.of(command.split(" ")));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().put("JUBLK_JAVA_OPTS", "-Xlog:class+load:file=" + log);
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            assertTrue(Files.exists(log), "ublk " + command + " logged no class loading:\n" + out);
            List<String> fromJar = Files.readAllLines(log).stream().filter(l -> l.contains("source: file:"))
                    .map(l -> l.replaceAll(".*\\] ", "")).toList();
            assertTrue(fromJar.isEmpty(), "`ublk " + command + "` loaded " + fromJar.size() + " classes from the jar, "
                    + "not the cache, e.g. " + fromJar.subList(0, Math.min(10, fromJar.size())) + "\n" + out);
        }
    }
}
