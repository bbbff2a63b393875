package io.jublk.vmtier;

import io.jublk.examples.CompressedRamDisk;
import io.jublk.examples.RamDisk;
import io.jublk.spi.Target;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopTarget;
import java.nio.file.Path;

/** What the data tests serve a device from: the loop target in both of its modes, and the examples. */
enum Served {
    LOOP_DIRECT("loop, direct"),
    LOOP_BUFFERED("loop, buffered"),
    RAM_DISK("RamDisk example"),
    COMPRESSED_RAM_DISK("CompressedRamDisk example");

    private final String label;

    Served(String label) {
        this.label = label;
    }

    /** A target of {@code size} bytes; a loop target's backing file is created, sparse, in {@code dir}. */
    Target open(Path dir, long size) {
        return switch (this) {
            case LOOP_DIRECT -> loop(dir.resolve("backing.img"), size, BackingFile.Mode.DIRECT);
            case LOOP_BUFFERED -> loop(dir.resolve("backing.img"), size, BackingFile.Mode.BUFFERED);
            case RAM_DISK -> new RamDisk(size);
            case COMPRESSED_RAM_DISK -> new CompressedRamDisk(size);
        };
    }

    /** A loop target as {@code ublk add loop --file FILE [--size SIZE] --direct|--buffered} opens it. */
    static LoopTarget loop(Path file, Long size, BackingFile.Mode mode) {
        return LoopTarget.open(new LoopTarget.Config(file, size, mode, false, null, false));
    }

    @Override
    public String toString() {
        return label;
    }
}
