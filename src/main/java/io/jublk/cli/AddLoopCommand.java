package io.jublk.cli;

import io.jublk.queue.Target;
import io.jublk.queue.ConfigException;
import io.jublk.target.BackingFile;
import io.jublk.target.LoopTarget;
import io.jublk.uapi.Ublk;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "loop", description = "Serve a file or block device as a block device, like the kernel's loop "
        + "driver, with asynchronous I/O on each queue's io_uring.")
final class AddLoopCommand extends AddTargetCommand {
    @Option(names = "--file", required = true, paramLabel = "PATH",
            description = "Backing file or block device. With --size a missing file is created (sparse).")
    Path file;

    @Option(names = "--size", paramLabel = "SIZE", converter = Sizes.class,
            description = "Device size (K, M, G, T are powers of 1024); default: the file's size.")
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

    @Option(names = "--zero-copy", description = "The backing file's reads and writes use the request's own pages "
            + "(UBLK_F_AUTO_BUF_REG, Linux 6.16+): no copy through the server's memory.")
    boolean zeroCopy;

    private final List<String> warnings = new ArrayList<>();

    BackingFile.Mode mode() {
        return ioMode != null && ioMode.buffered ? BackingFile.Mode.BUFFERED : BackingFile.Mode.DIRECT;
    }

    LoopTarget.Config config() {
        Integer lbs = common.logicalBlockSizeGiven() ? common.logicalBlockSize : null;
        return new LoopTarget.Config(file, size, mode(), readOnly, lbs, false);
    }

    @Override
    void validate() {
        try {
            LoopTarget.check(config());
        } catch (ConfigException e) {
            throw new Errors.UserError(e.getMessage());
        }
    }

    @Override
    Target createTarget() {
        try {
            LoopTarget t = LoopTarget.open(config());
            warnings.addAll(t.warnings());
            return t;
        } catch (ConfigException e) {
            throw new Errors.UserError(e.getMessage());
        }
    }

    @Override
    List<String> warnings() {
        return warnings;
    }

    @Override
    long deviceFlags() {
        return zeroCopy ? Ublk.UBLK_F_AUTO_BUF_REG : 0;
    }

    @Override
    Map<String, String> describe() {
        return Map.of("zero_copy", Boolean.toString(zeroCopy));
    }

    @Override
    String targetName() {
        return "loop";
    }
}
