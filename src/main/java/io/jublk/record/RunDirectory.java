package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.sys.LibC;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.TreeSet;

/**
 * The run directory ({@code /run/jublk}, or {@code $JUBLK_RUN_DIR}): per device id N, the device's record
 * ({@code ublkN.json}), the lock its server holds for as long as it lives ({@code ublkN.lock}), its control socket
 * ({@code ublkN.sock}), its log ({@code ublkN.log}) and the properties the udev rule imports ({@code ublkN.udev});
 * per declared name, the lock its `ublk up` holds ({@code up-NAME.lock}).
 *
 * <p>Whoever can write here can make jublk serve any file and signal any process, so the directory must belong to
 * the user running jublk and be writable by nobody else; every command refuses it otherwise. Root's is
 * {@code /run/jublk}; a user's (unprivileged devices) is {@code jublk} in the user's runtime directory
 * ({@code $XDG_RUNTIME_DIR}, else {@code /run/user/UID}, which the login session makes, private to the user): each user
 * sees, and deletes, only the devices of its own records. Files are
 * created without following symbolic links, records are written whole to a new file and renamed into place, and
 * nothing is readable by other users.
 */
public final class RunDirectory {
    private static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rw-------");

    private final Path dir;

    private RunDirectory(Path dir) {
        this.dir = dir;
    }

    /** The run directory this process uses (it may not exist yet). */
    public static RunDirectory get() {
        String env = System.getenv("JUBLK_RUN_DIR");
        if (env != null && !env.isBlank()) {
            return new RunDirectory(Path.of(env).toAbsolutePath());
        }
        int uid = LibC.geteuid();
        if (uid == 0) {
            return new RunDirectory(Path.of("/run/jublk"));
        }
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        Path base = xdg != null && xdg.startsWith("/") ? Path.of(xdg) : Path.of("/run/user/" + uid);
        return new RunDirectory(base.resolve("jublk"));
    }

    /** A run directory at {@code dir} (tests, and tools that keep records elsewhere). */
    public static RunDirectory at(Path dir) {
        return new RunDirectory(dir.toAbsolutePath());
    }

    public Path path() {
        return dir;
    }

    /** Whether the directory exists (commands that only read need not create it). */
    public boolean exists() {
        return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS);
    }

    /** Creates the directory if needed (mode 0700), then {@link #check()}s it. */
    public RunDirectory ensure() {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            if (LibC.geteuid() != 0 && !Files.isDirectory(dir.getParent())) {
                throw new ConfigException("no run directory for uid " + LibC.geteuid() + ": " + dir.getParent()
                        + " does not exist (no login session?); set XDG_RUNTIME_DIR, or JUBLK_RUN_DIR, to a directory of "
                        + "yours that only you can write");
            }
            try {
                Files.createDirectories(dir.getParent());
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException raced) {
                // Made by another command at the same time: checked below like any other.
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the run directory " + dir, e);
            }
        }
        return check();
    }

    /**
     * Refuses a run directory that is a symbolic link, not ours, or writable by group or others: its records say
     * which file to serve and which process to signal.
     */
    public RunDirectory check() {
        PosixFileAttributes a;
        try {
            a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the run directory " + dir, e);
        }
        if (a.isSymbolicLink() || !a.isDirectory()) {
            throw new ConfigException("the run directory " + dir + " is not a directory (a symbolic link?): refusing to use it");
        }
        int uid = (Integer) attribute("unix:uid");
        if (uid != LibC.geteuid()) {
            throw new ConfigException("the run directory " + dir + " belongs to uid " + uid + ", not to this user ("
                    + LibC.geteuid() + "): refusing to use it");
        }
        Set<PosixFilePermission> p = a.permissions();
        if (p.contains(PosixFilePermission.GROUP_WRITE) || p.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new ConfigException("the run directory " + dir + " is writable by others (" + PosixFilePermissions.toString(p)
                    + "): refusing to use it (chmod go-w " + dir + ")");
        }
        return this;
    }

    private Object attribute(String name) {
        try {
            return Files.getAttribute(dir, name, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the run directory " + dir, e);
        }
    }

    public Path recordFile(int id) {
        return dir.resolve("ublk" + id + ".json");
    }

    public Path lockFile(int id) {
        return dir.resolve("ublk" + id + ".lock");
    }

    public Path socketFile(int id) {
        return dir.resolve("ublk" + id + ".sock");
    }

    /** What the udev rule imports for {@code /dev/ublkbN} ({@code IMPORT{file}}): KEY=value lines. */
    public Path udevFile(int id) {
        return dir.resolve("ublk" + id + ".udev");
    }

    /** The lock `ublk up NAME` holds while it serves the declared device {@code name}. */
    public Path declarationLockFile(String name) {
        return dir.resolve("up-" + name + ".lock");
    }

    public Path logFile(int id) {
        return dir.resolve("ublk" + id + ".log");
    }

    /** A log for a daemon whose device id is not known yet; created empty, private, not through a link. */
    public Path newDaemonLog() {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS"));
        Path log = dir.resolve("daemon-" + stamp + "-" + ProcessHandle.current().pid() + ".log");
        try {
            createPrivate(log).close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + log, e);
        }
        return log;
    }

    /** The ids that have a record, in order. */
    public TreeSet<Integer> recordIds() {
        TreeSet<Integer> ids = new TreeSet<>();
        if (!exists()) {
            return ids;
        }
        try (var files = Files.list(dir)) {
            files.map(f -> f.getFileName().toString())
                    .filter(n -> n.matches("ublk\\d{1,7}\\.json"))
                    .forEach(n -> ids.add(Integer.parseInt(n.substring(4, n.length() - 5))));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the run directory " + dir, e);
        }
        return ids;
    }

    /**
     * Writes {@code bytes} to {@code target} whole: into a new private file (O_CREAT|O_EXCL, never through a link),
     * then renamed over {@code target}, so a reader sees the old content or the new, never a part.
     */
    public void writeAtomically(Path target, byte[] bytes) {
        Path tmp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "."
                + Thread.currentThread().threadId() + ".tmp");
        try {
            try (OutputStream out = createPrivate(tmp)) {
                out.write(bytes);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // Reported below with the first failure.
            }
            throw new UncheckedIOException("cannot write " + target, e);
        }
    }

    /** Creates a new file, mode 0600, failing if anything (a link included) is at that path. */
    OutputStream createPrivate(Path f) {
        try {
            OutputStream out = Files.newOutputStream(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
            Files.setPosixFilePermissions(f, PRIVATE);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + f, e);
        }
    }

    /** Renames a daemon's log to the device's log name (same inode; the daemon's stderr stays on it). */
    /**
     * Keeps the log of device {@code id}'s last server as {@code ublkN.previous.log} (replacing an older one), so that
     * a new server's log does not take its place: for a server that handed the device over and exited.
     */
    public void keepPreviousLog(int id) {
        try {
            Files.move(logFile(id), dir.resolve("ublk" + id + ".previous.log"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // No log (a foreground server), or none to keep.
        }
    }

    public Path adoptLog(Path current, int id) {
        Path target = logFile(id);
        try {
            Files.move(current, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            return current;
        }
    }
}
