package io.jublk.cli;

import io.jublk.uapi.Ublk;
import picocli.CommandLine.Option;

/** Options of `ublk add` that every target shares. */
final class CommonOptions {
    @Option(names = {"-n", "--number"}, paramLabel = "ID",
            description = "Device id (/dev/ublkbID); default: the kernel picks a free one.")
    Integer id;

    @Option(names = {"-q", "--queues"}, paramLabel = "N", defaultValue = "1",
            description = "Hardware queues, each served by its own thread (default: ${DEFAULT-VALUE}).")
    int queues;

    @Option(names = {"-d", "--depth"}, paramLabel = "N", defaultValue = "128",
            description = "Requests in flight per queue, 1-4096 (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--logical-block-size", paramLabel = "BYTES",
            description = "512 or 4096 (default: 512, or what the backing file's direct I/O needs).")
    Integer logicalBlockSizeOption;

    /** The logical block size asked for, 512 when not given. */
    int logicalBlockSize = 512;

    boolean logicalBlockSizeGiven() {
        return logicalBlockSizeOption != null;
    }

    @Option(names = "--foreground", description = "Serve in this process instead of a daemon; "
            + "SIGINT/SIGTERM stop and delete the device.")
    boolean foreground;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics on http://ADDR:PORT/metrics.")
    Integer metricsPort;

    @Option(names = "--metrics-address", paramLabel = "ADDR", defaultValue = "127.0.0.1",
            description = "Address for --metrics-port (default: ${DEFAULT-VALUE}).")
    String metricsAddress;

    @Option(names = "--recovery", paramLabel = "MODE", arity = "0..1", fallbackValue = "default",
            description = "Let a new server take the device over if this one dies (ublk recover): "
                    + "'default' (in-flight I/O fails, new I/O waits), 'reissue' (in-flight I/O is served "
                    + "again) or 'fail-io' (I/O fails until recovered).")
    String recovery;

    /** Set by `ublk recover`: take over this existing device instead of adding one. */
    @Option(names = "--recover-id", hidden = true)
    Integer recoverId;

    /** Set by `add` on the daemon it starts: report readiness on stdout, then detach from it. */
    @Option(names = "--daemon-notify", hidden = true)
    boolean daemonNotify;

    void validate() {
        if (logicalBlockSizeOption != null) {
            logicalBlockSize = logicalBlockSizeOption;
        }
        if (id != null && (id < 0 || id >= (1 << 20))) {
            throw new Errors.UserError("device id must be between 0 and 1048575, not " + id);
        }
        if (queues < 1 || queues > Ublk.UBLK_MAX_NR_QUEUES) {
            throw new Errors.UserError("--queues must be between 1 and " + Ublk.UBLK_MAX_NR_QUEUES + ", not " + queues);
        }
        if (depth < 1 || depth > Ublk.UBLK_MAX_QUEUE_DEPTH) {
            throw new Errors.UserError("--depth must be between 1 and " + Ublk.UBLK_MAX_QUEUE_DEPTH + ", not " + depth);
        }
        if (logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new Errors.UserError("--logical-block-size must be 512 or 4096, not " + logicalBlockSize);
        }
        if (metricsPort != null && (metricsPort < 1 || metricsPort > 65535)) {
            throw new Errors.UserError("--metrics-port must be between 1 and 65535, not " + metricsPort);
        }
        recoveryFlags();
    }

    /** UBLK_F_* for --recovery. */
    long recoveryFlags() {
        if (recovery == null) {
            return 0;
        }
        return switch (recovery) {
            case "default" -> Ublk.UBLK_F_USER_RECOVERY;
            case "reissue" -> Ublk.UBLK_F_USER_RECOVERY | Ublk.UBLK_F_USER_RECOVERY_REISSUE;
            case "fail-io" -> Ublk.UBLK_F_USER_RECOVERY | Ublk.UBLK_F_USER_RECOVERY_FAIL_IO;
            default -> throw new Errors.UserError(
                    "--recovery must be default, reissue or fail-io, not '" + recovery + "'");
        };
    }
}
