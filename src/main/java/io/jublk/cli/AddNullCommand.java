package io.jublk.cli;

import io.jublk.record.NullSpec;
import io.jublk.record.TargetSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "null", description = "A device that completes every request at once: reads return zeros, "
        + "writes are dropped. Measures the server itself.")
final class AddNullCommand extends AddTargetCommand {
    @Option(names = "--size", required = true, paramLabel = "SIZE", converter = Sizes.class,
            description = "Device size, e.g. 1G (K, M, G, T are powers of 1024).")
    long size;

    @Override
    TargetSpec targetSpec() {
        return new NullSpec(size);
    }
}
