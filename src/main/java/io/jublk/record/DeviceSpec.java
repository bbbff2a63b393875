package io.jublk.record;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.jublk.spi.ConfigException;
import io.jublk.targets.TargetSpec;
import io.jublk.uapi.Ublk;

/**
 * What a device serves and how: the part of a {@link DeviceRecord} that `ublk add` decides. The record, not the
 * command line, is the format: a renamed option does not change how a running device is recovered.
 *
 * @param target           the target and its options
 * @param queues           hardware queues asked for (the kernel may give fewer), or null for the server's default
 *                         (one per CPU, at most two; an nbd device as many as its server allows)
 * @param depth            tags per queue
 * @param logicalBlockSize asked for, or null for the target's choice
 * @param recovery         what happens to I/O while no server runs
 * @param metricsPort      a Prometheus endpoint's port, or null
 * @param metricsAddress   its address
 * @param noPartitionScan  the kernel does not look for partitions when the device starts (UBLK_F_NO_AUTO_PART_SCAN)
 * @param batch            requests come and answers go many per command (UBLK_F_BATCH_IO) instead of one per tag
 */
public record DeviceSpec(TargetSpec target,
        // Written only when asked for: a record then says the device took the default.
        @JsonInclude(JsonInclude.Include.NON_NULL) Integer queues, int depth, Integer logicalBlockSize,
        Recovery recovery, Integer metricsPort, String metricsAddress,
        // Written only when set: records from before the option read and write back unchanged.
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean noPartitionScan,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean batch) {

    /** What `ublk add` and a declaration take when they are not told. */
    public static final int DEFAULT_DEPTH = 128;
    public static final String DEFAULT_METRICS_ADDRESS = "127.0.0.1";

    /** A spec with the kernel's partition scan (the default). */
    public DeviceSpec(TargetSpec target, Integer queues, int depth, Integer logicalBlockSize, Recovery recovery,
            Integer metricsPort, String metricsAddress) {
        this(target, queues, depth, logicalBlockSize, recovery, metricsPort, metricsAddress, false);
    }

    /** A spec with the per-tag protocol (the default). */
    public DeviceSpec(TargetSpec target, Integer queues, int depth, Integer logicalBlockSize, Recovery recovery,
            Integer metricsPort, String metricsAddress, boolean noPartitionScan) {
        this(target, queues, depth, logicalBlockSize, recovery, metricsPort, metricsAddress, noPartitionScan, false);
    }

    public enum Recovery {
        @JsonProperty("none") NONE(0),
        @JsonProperty("default") DEFAULT(Ublk.UBLK_F_USER_RECOVERY),
        @JsonProperty("reissue") REISSUE(Ublk.UBLK_F_USER_RECOVERY | Ublk.UBLK_F_USER_RECOVERY_REISSUE),
        @JsonProperty("fail-io") FAIL_IO(Ublk.UBLK_F_USER_RECOVERY | Ublk.UBLK_F_USER_RECOVERY_FAIL_IO);

        private final long flags;

        Recovery(long flags) {
            this.flags = flags;
        }

        public long flags() {
            return flags;
        }

        public String label() {
            return this == FAIL_IO ? "fail-io" : name().toLowerCase(java.util.Locale.ROOT);
        }

        public static Recovery parse(String s) {
            if (s == null) {
                return NONE;
            }
            return switch (s) {
                case "default" -> DEFAULT;
                case "reissue" -> REISSUE;
                case "fail-io" -> FAIL_IO;
                default -> throw new ConfigException("--recovery must be default, reissue or fail-io, not '" + s + "'");
            };
        }
    }

    /** UBLK_F_* to ask ADD_DEV for. */
    public long deviceFlags() {
        return recovery.flags() | target.deviceFlags() | (noPartitionScan ? Ublk.UBLK_F_NO_AUTO_PART_SCAN : 0)
                | (batch ? Ublk.UBLK_F_BATCH_IO : 0);
    }

    /** Checks what can be checked without opening anything; throws ConfigException. */
    public void check() {
        if (queues != null && (queues < 1 || queues > Ublk.UBLK_MAX_NR_QUEUES)) {
            throw new ConfigException("--queues must be between 1 and " + Ublk.UBLK_MAX_NR_QUEUES + ", not " + queues);
        }
        if (depth < 1 || depth > Ublk.UBLK_MAX_QUEUE_DEPTH) {
            throw new ConfigException("--depth must be between 1 and " + Ublk.UBLK_MAX_QUEUE_DEPTH + ", not " + depth);
        }
        if (logicalBlockSize != null && logicalBlockSize != 512 && logicalBlockSize != 4096) {
            throw new ConfigException("--logical-block-size must be 512 or 4096, not " + logicalBlockSize);
        }
        if (metricsPort != null && (metricsPort < 1 || metricsPort > 65535)) {
            throw new ConfigException("--metrics-port must be between 1 and 65535, not " + metricsPort);
        }
        target.check(logicalBlockSize);
    }

    public DeviceSpec with(TargetSpec t) {
        return new DeviceSpec(t, queues, depth, logicalBlockSize, recovery, metricsPort, metricsAddress, noPartitionScan,
                batch);
    }
}
