package io.jublk.cli;

import io.jublk.queue.Target;
import io.jublk.target.NullTarget;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "null", description = "A device that completes every request at once: reads return zeros, "
        + "writes are dropped. Measures the server itself.")
final class AddNullCommand extends AddTargetCommand {
    @Option(names = "--size", required = true, paramLabel = "SIZE", converter = Sizes.class,
            description = "Device size, e.g. 1G (K, M, G, T are powers of 1024).")
    long size;

    @Override
    void validate() {
        if (size <= 0) {
            throw new Errors.UserError("--size must be greater than 0");
        }
        if (size % common.logicalBlockSize != 0) {
            throw new Errors.UserError("--size " + size + " is not a multiple of the logical block size "
                    + common.logicalBlockSize);
        }
    }

    @Override
    Target createTarget() {
        return new NullTarget(size, common.logicalBlockSize);
    }

    @Override
    Map<String, String> describe() {
        return Map.of("size", Long.toString(size));
    }

    @Override
    String targetName() {
        return "null";
    }
}
