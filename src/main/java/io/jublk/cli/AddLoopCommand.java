package io.jublk.cli;

import io.jublk.record.LoopSpec;
import io.jublk.record.TargetSpec;
import io.jublk.targets.BackingFile;
import java.nio.file.Path;
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

    @Option(names = "--zero-copy", description = "The backing file's reads and writes use the request's own pages "
            + "(UBLK_F_AUTO_BUF_REG, Linux 6.16+): no copy through the server's memory.")
    boolean zeroCopy;

    @Option(names = "--allow-shared", description = "Serve a file that another jublk device serves too (each "
            + "device caches it unaware of the other: only for files nothing writes through both).")
    boolean allowShared;

    @Override
    TargetSpec targetSpec() {
        BackingFile.Mode mode = ioMode != null && ioMode.buffered ? BackingFile.Mode.BUFFERED : BackingFile.Mode.DIRECT;
        return LoopSpec.of(file, size, mode, readOnly, allowShared, zeroCopy);
    }
}
