package io.jublk.targets;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import io.jublk.uapi.Ublk;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The loop target ({@link LoopTarget}): the backing file and how it is served. Once opened, {@code identity} says
 * which file it is (real path, device, inode, birth time, size) and {@code created} whether `ublk add` created it.
 *
 * @param file        the path as given, made absolute (the daemon's working directory plays no part later)
 * @param size        the device size asked for, or null for the file's
 * @param mode        "direct" or "buffered" as asked; the identity's open may have fallen back
 * @param readOnly    served read-only
 * @param allowShared another jublk device may serve the same file
 * @param zeroCopy    UBLK_F_AUTO_BUF_REG as asked: true, false, or null for "where the kernel offers it" (the
 *                    default: a root's device on a kernel with UBLK_F_AUTO_BUF_REG)
 * @param servedMode  the mode actually used, once opened
 * @param servedZeroCopy whether the device has zero copy, once the add settled it ({@link #settle}); absent from
 *                    the JSON until then (and in records written before it existed)
 * @param identity    the file the device was created with, once opened
 * @param created     whether `ublk add` created the file
 */
public record LoopSpec(String file, Long size, String mode, boolean readOnly, boolean allowShared, Boolean zeroCopy,
        String servedMode, @JsonInclude(JsonInclude.Include.NON_NULL) Boolean servedZeroCopy,
        BackingFile.Identity identity, boolean created) implements TargetSpec {

    /** A spec without a mode (a declaration may leave it out) serves the file with O_DIRECT, as `ublk add` does. */
    public LoopSpec {
        mode = mode != null ? mode : BackingFile.Mode.DIRECT.label();
    }

    public static final TargetType<LoopSpec> TYPE = TargetType.of("loop", LoopSpec.class, Options::new)
            .withColumns("mode", "file")
            .withLabels("mode");

    @Command(description = "Serve a file or block device as a block device, like the kernel's loop driver, with "
            + "asynchronous I/O on each queue's io_uring.")
    static final class Options implements TargetOptions<LoopSpec> {
        @Option(names = "--file", required = true, paramLabel = "PATH",
                description = "Backing file or block device. With --size a missing file is created (sparse).")
        Path file;

        @Option(names = "--size", paramLabel = "SIZE", converter = Sizes.class,
                description = "Device size (K, M, G, T are powers of 1024); default: the file's size. A larger size "
                        + "extends the file (sparse); a smaller one serves the start of it.")
        Long size;

        static final class IoMode {
            @Option(names = "--direct", description = "O_DIRECT on the backing file: no double caching (default).")
            boolean direct;

            @Option(names = "--buffered", description = "Use the backing file's page cache.")
            boolean buffered;
        }

        @ArgGroup(exclusive = true)
        IoMode ioMode;

        @Option(names = "--read-only", description = "Serve the file read-only (the device is read-only).")
        boolean readOnly;

        @Option(names = "--zero-copy", negatable = true, description = "The backing file's reads and writes use the "
                + "request's own pages (UBLK_F_AUTO_BUF_REG, Linux 6.16+): no copy through the server's memory. Default: "
                + "on where the kernel offers it to the device (a root's device), else off (with a notice on a kernel "
                + "without it); --zero-copy insists (refused without it), --no-zero-copy copies.")
        Boolean zeroCopy;

        @Option(names = "--allow-shared", description = "Serve a file that another jublk device serves too (each "
                + "device caches it unaware of the other: only for files nothing writes through both).")
        boolean allowShared;

        @Override
        public LoopSpec spec() {
            BackingFile.Mode mode = ioMode != null && ioMode.buffered ? BackingFile.Mode.BUFFERED
                    : BackingFile.Mode.DIRECT;
            return LoopSpec.of(file, size, mode, readOnly, allowShared, zeroCopy);
        }
    }

    public static LoopSpec of(Path file, Long size, BackingFile.Mode mode, boolean readOnly, boolean allowShared,
            Boolean zeroCopy) {
        return new LoopSpec(file.toAbsolutePath().toString(), size, mode.label(), readOnly, allowShared, zeroCopy, null,
                null, null, false);
    }

    /** Whether the device has (or is to have) zero copy: as settled at add, else as asked. */
    private boolean zeroCopyOn() {
        return servedZeroCopy != null ? servedZeroCopy : Boolean.TRUE.equals(zeroCopy);
    }

    private BackingFile.Mode modeValue() {
        for (BackingFile.Mode m : BackingFile.Mode.values()) {
            if (m.label().equals(mode)) {
                return m;
            }
        }
        throw new ConfigException("mode must be direct or buffered, not '" + mode + "'");
    }

    private LoopTarget.Config config(Long deviceSize, Integer lbs) {
        return new LoopTarget.Config(Path.of(file), deviceSize, modeValue(), readOnly, lbs, allowShared);
    }

    @Override
    public long deviceFlags() {
        return zeroCopyOn() ? Ublk.UBLK_F_AUTO_BUF_REG : 0;
    }

    /**
     * Zero copy left to the kernel (no --zero-copy or --no-zero-copy): on if this kernel offers UBLK_F_AUTO_BUF_REG
     * and the device is a root's, otherwise off. Off for want of the kernel feature comes with a notice (a newer
     * kernel has it); a user's device copies without one, since the kernel never allows it zero copy (README).
     */
    @Override
    public TargetSpec settle(long features, boolean privileged, Consumer<String> notices) {
        if (zeroCopy != null || servedZeroCopy != null) {
            return this;
        }
        boolean on = privileged && (features & Ublk.UBLK_F_AUTO_BUF_REG) != 0;
        if (!on && privileged) {
            notices.accept("zero copy is off: this kernel's ublk driver lacks UBLK_F_AUTO_BUF_REG (Linux 6.16+); "
                    + "requests are copied through the server");
        }
        return new LoopSpec(file, size, mode, readOnly, allowShared, zeroCopy, servedMode, on, identity, created);
    }

    @Override
    public void check(Integer logicalBlockSize) {
        LoopTarget.check(config(size, logicalBlockSize));
    }

    @Override
    public Opened open(Integer logicalBlockSize) {
        LoopTarget t = LoopTarget.open(config(size, logicalBlockSize));
        BackingFile f = t.backingFile();
        LoopSpec resolved = new LoopSpec(file, size, mode, readOnly, allowShared, zeroCopy, f.mode().label(),
                servedZeroCopy, f.identity(), f.created());
        return new Opened(t, resolved, t.warnings());
    }

    @Override
    public Target reopen(long deviceSize, int logicalBlockSize) {
        if (identity == null) {
            throw new ConfigException("the record of this device does not say which file it was created with: "
                    + "not guessing");
        }
        LoopSpec served = new LoopSpec(file, size, servedMode != null ? servedMode : mode, readOnly, allowShared,
                zeroCopy, servedMode, servedZeroCopy, identity, created);
        return LoopTarget.reopen(served.config(deviceSize, logicalBlockSize), identity, deviceSize,
                logicalBlockSize);
    }

    /** The new size, and the file's identity as it is now (a device that grew extended its file). */
    @Override
    public TargetSpec resized(Target target, long newSize) {
        BackingFile.Identity now = target instanceof LoopTarget t ? t.backingFile().identity() : identity;
        return new LoopSpec(file, newSize, mode, readOnly, allowShared, zeroCopy, servedMode, servedZeroCopy, now,
                created);
    }

    /** What a declaration gives: without what opening the file learns (served mode, identity, created). */
    @Override
    public TargetSpec declared() {
        return new LoopSpec(file, size, mode, readOnly, allowShared, zeroCopy, null, null, null, false);
    }

    @Override
    public void undoCreate(Target target) {
        if (target instanceof LoopTarget t) {
            t.removeIfCreated();
        }
    }

    @Override
    public void forgetCreated() {
        if (created && identity != null) {
            BackingFile.removeIfIdentical(identity);
        }
    }

    @Override
    public String backingStore() {
        return identity != null ? identity.path() : null;
    }

    @Override
    public Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("file", identity != null ? identity.path() : file);
        m.put("mode", servedMode != null ? servedMode : mode);
        return m;
    }
}
