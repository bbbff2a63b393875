package io.jublk.cli;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import java.util.Properties;

/**
 * The run directory ({@code /run/jublk}, or {@code $JUBLK_RUN_DIR}): one state file per device this tool
 * serves ({@code ublkN.properties}: the daemon's pid, log and everything needed to recover the device) and
 * the daemons' logs. Files are written whole and renamed into place, and are not world-writable.
 */
final class RunDir {
    private RunDir() {}

    static Path dir() {
        String env = System.getenv("JUBLK_RUN_DIR");
        return Path.of(env != null && !env.isBlank() ? env : "/run/jublk");
    }

    static Path ensure() {
        Path d = dir();
        try {
            if (!Files.isDirectory(d)) {
                Files.createDirectories(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            }
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create run directory " + d, e);
        }
    }

    static Path stateFile(int id) {
        return dir().resolve("ublk" + id + ".properties");
    }

    static Path logFile(int id) {
        return dir().resolve("ublk" + id + ".log");
    }

    /** A log for a daemon whose device id is not known yet. */
    static Path newLogFile() {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS"));
        return ensure().resolve("daemon-" + stamp + "-" + ProcessHandle.current().pid() + ".log");
    }

    static void writeState(int id, Properties p) {
        Path d = ensure();
        Path tmp = d.resolve(".ublk" + id + ".properties.tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp)) {
                p.store(w, "jublk device " + id + " (written by its daemon; read by ublk list/del/recover)");
            }
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.move(tmp, stateFile(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, stateFile(id), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write state file of device " + id, e);
        }
    }

    static Optional<Properties> readState(int id) {
        Path f = stateFile(id);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(f)) {
            p.load(r);
            return Optional.of(p);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static void removeState(int id) {
        try {
            Files.deleteIfExists(stateFile(id));
        } catch (IOException e) {
            // Best effort: a stale state file is recognised by its dead pid.
        }
    }
}
