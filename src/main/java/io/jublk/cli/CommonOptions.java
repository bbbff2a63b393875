package io.jublk.cli;

import io.jublk.record.DeviceSpec;
import io.jublk.record.Serial;
import io.jublk.targets.TargetSpec;
import picocli.CommandLine.Option;

/** Options of `ublk add` that every target shares. */
final class CommonOptions {
    @Option(names = {"-n", "--number"}, paramLabel = "ID",
            description = "Device id (/dev/ublkbID); default: the lowest free one.")
    Integer id;

    @Option(names = {"-q", "--queues"}, paramLabel = "N",
            description = "Hardware queues, each served by its own thread pinned to a CPU (default: one per CPU, at "
                    + "most 2; nbd: one unless the server allows several connections).")
    Integer queues;

    @Option(names = {"-d", "--depth"}, paramLabel = "N", defaultValue = "" + DeviceSpec.DEFAULT_DEPTH,
            description = "Requests in flight per queue, 1-4096 (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--logical-block-size", paramLabel = "BYTES",
            description = "512 or 4096 (default: 512, or what the backing file's direct I/O needs).")
    Integer logicalBlockSize;

    @Option(names = "--foreground", description = "Serve in this process instead of a daemon; "
            + "SIGINT/SIGTERM stop and delete the device.")
    boolean foreground;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics on http://ADDR:PORT/metrics.")
    Integer metricsPort;

    @Option(names = "--metrics-address", paramLabel = "ADDR", defaultValue = DeviceSpec.DEFAULT_METRICS_ADDRESS,
            description = "Address for --metrics-port (default: ${DEFAULT-VALUE}).")
    String metricsAddress;

    @Option(names = "--recovery", paramLabel = "MODE", arity = "0..1", fallbackValue = "default",
            description = "Let a new server take the device over if this one dies (ublk recover): "
                    + "'default' (in-flight I/O fails, new I/O waits), 'reissue' (in-flight I/O is served "
                    + "again) or 'fail-io' (I/O fails until recovered).")
    String recovery;

    @Option(names = "--serial", paramLabel = "UUID", description = "The device's serial, kept in its record and "
            + "named by udev as /dev/disk/by-id/ublk-UUID (default: a new random UUID).")
    String serial;

    @Option(names = "--no-partition-scan", description = "The kernel does not look for partitions on the device when "
            + "it starts (UBLK_F_NO_AUTO_PART_SCAN).")
    boolean noPartitionScan;

    @Option(names = "--batch", description = "Requests come from the kernel and answers go back many per command "
            + "(UBLK_F_BATCH_IO, Linux 7.0+) instead of one command per request.")
    boolean batch;

    /** The serial asked for, in canonical form, or null for a new one. */
    String serial() {
        return serial != null ? Serial.parse(serial, "--serial") : null;
    }

    /** The device spec these options and {@code target} describe; checked by the caller. */
    DeviceSpec spec(TargetSpec target) {
        if (id != null && (id < 0 || id >= (1 << 20))) {
            throw new Errors.UserError("device id must be between 0 and 1048575, not " + id);
        }
        return new DeviceSpec(target, queues, depth, logicalBlockSize, DeviceSpec.Recovery.parse(recovery), metricsPort,
                metricsAddress, noPartitionScan, batch);
    }
}
