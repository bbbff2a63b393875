package io.jublk.targets;

import io.jublk.spi.Target;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A target type in no registry, for tests: all a new target brings — a spec record, its options, its type — and what
 * jublk does with a spec {@link Targets#ALL} does not list.
 */
public record UnlistedSpec(long size, boolean zeroed) implements TargetSpec {
    public static final TargetType<UnlistedSpec> TYPE = TargetType.of("unlisted", UnlistedSpec.class, Options::new)
            .withColumns("zeroed");

    @Command(description = "Memory that is in no registry.")
    static final class Options implements TargetOptions<UnlistedSpec> {
        @Option(names = "--size", required = true, paramLabel = "SIZE", converter = Sizes.class)
        long size;

        @Option(names = "--zeroed")
        boolean zeroed;

        @Override
        public UnlistedSpec spec() {
            return new UnlistedSpec(size, zeroed);
        }
    }

    @Override
    public long deviceFlags() {
        return 0;
    }

    @Override
    public void check(Integer logicalBlockSize) {}

    @Override
    public Opened open(Integer logicalBlockSize) {
        throw new UnsupportedOperationException("a test's target");
    }

    @Override
    public Target reopen(long deviceSize, int logicalBlockSize) {
        throw new UnsupportedOperationException("a test's target");
    }

    @Override
    public Map<String, String> describe() {
        return Map.of("zeroed", Boolean.toString(zeroed));
    }
}
