package io.jublk.targets;

import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The null target ({@link NullTarget}): its size. */
public record NullSpec(long size) implements TargetSpec {
    public static final TargetType<NullSpec> TYPE = TargetType.of("null", NullSpec.class, Options::new);

    @Command(description = "A device that completes every request at once: reads return zeros, writes are dropped. "
            + "Measures the server itself.")
    static final class Options implements TargetOptions<NullSpec> {
        @Option(names = "--size", required = true, paramLabel = "SIZE", converter = Sizes.class,
                description = "Device size, e.g. 1G (K, M, G, T are powers of 1024).")
        long size;

        @Override
        public NullSpec spec() {
            return new NullSpec(size);
        }
    }

    @Override
    public long deviceFlags() {
        return 0;
    }

    @Override
    public void check(Integer logicalBlockSize) {
        if (size <= 0) {
            throw new ConfigException("--size must be greater than 0");
        }
        int lbs = blockSize(logicalBlockSize);
        if (size % lbs != 0) {
            throw new ConfigException("--size " + size + " is not a multiple of the logical block size " + lbs);
        }
    }

    @Override
    public Opened open(Integer logicalBlockSize) {
        check(logicalBlockSize);
        return new Opened(new NullTarget(size, blockSize(logicalBlockSize)), this, List.of());
    }

    /** The null target has no backing file to ask: 512 unless told otherwise. */
    private static int blockSize(Integer asked) {
        return asked != null ? asked : 512;
    }

    @Override
    public TargetSpec resized(Target target, long newSize) {
        return new NullSpec(newSize);
    }

    @Override
    public Target reopen(long deviceSize, int logicalBlockSize) {
        if (deviceSize != size) {
            throw new ConfigException("the device has " + deviceSize + " bytes, its record says " + size);
        }
        return new NullTarget(size, logicalBlockSize);
    }

    @Override
    public Map<String, String> describe() {
        return Map.of();
    }
}
