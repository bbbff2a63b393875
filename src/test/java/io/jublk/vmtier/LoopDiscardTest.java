package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.targets.BackingFile;
import io.jublk.uapi.FileStat;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Discard and write-zeroes on the loop target over ext4, in each mode: advertised, reading back as zeros,
 * discard freeing the backing file's blocks; and a device on the start of a larger file never changes a byte
 * past its end.
 */
@ExtendWith(UblkKernel.class)
class LoopDiscardTest {
    @TempDir(factory = Scratch.class)
    Path dir;

    @EachMode
    @DisplayName("blkdiscard and blkdiscard -z read back as zeros, and a discard leaves holes in the file")
    void discardAndWriteZeroes(BackingFile.Mode mode) throws Exception {
        Path f = dir.resolve("d.img");
        try (Arena arena = Arena.ofConfined(); Device d = Device.start(Served.loop(f, 256L * MIB, mode))) {
            assertTrue(Long.parseLong(d.sysfs("queue/discard_max_bytes")) > 0, "discard advertised");
            assertTrue(Long.parseLong(d.sysfs("queue/write_zeroes_max_bytes")) > 0, "write zeroes advertised");
            try (DirectIo io = DirectIo.open(d.path())) {
                io.write(Data.randomBuffer(arena, 256L * MIB, 3), 0, MIB);
            }
            Cmd.run("sync");
            long full = FileStat.of(f).blocks();
            String dev = d.path().toString();
            Cmd.run("blkdiscard", "-o", "0", "-l", Long.toString(128L * MIB), dev);
            Cmd.dropCaches();
            assertTrue(Data.allZeros(d.path(), 0, 128L * MIB), "the discarded range reads as zeros");
            Cmd.run("sync");
            long after = FileStat.of(f).blocks();
            assertTrue(full - after >= 120L * MIB / 512, "the file shrank by about 128 MiB (holes): " + full
                    + " blocks of 512 bytes before the discard, " + after + " after");
            Cmd.run("blkdiscard", "-z", "-o", Long.toString(128L * MIB), "-l", Long.toString(64L * MIB), dev);
            Cmd.dropCaches();
            assertTrue(Data.allZeros(d.path(), 128L * MIB, 64L * MIB), "the zeroed range reads as zeros");
            assertFalse(Data.allZeros(d.path(), 192L * MIB, MIB), "the rest is untouched (not zeros)");
            d.stop();
        }
    }

    @EachMode
    @DisplayName("a device on the first 16 MiB of a 64 MiB file never touches the rest")
    void aDeviceOnThePrefixOfAFileLeavesTheRestAlone(BackingFile.Mode mode) throws Exception {
        Path big = Data.randomFile(dir.resolve("big.img"), 64L * MIB, 4);
        Path copy = Files.copy(big, dir.resolve("copy.img"));
        long before = FileStat.of(big).blocks();
        // Not at the start (no probing in the file), not by discard or write-zeroes, not at the stop.
        try (Device d = Device.start(Served.loop(big, 16L * MIB, mode))) {
            Cmd.run("blkdiscard", d.path().toString());
            Cmd.run("blkdiscard", "-z", d.path().toString());
            d.stop();
        }
        Data.assertSameBytes("the 48 MiB past the device are unchanged", copy, 16L * MIB, big, 16L * MIB,
                48L * MIB);
        assertEquals(64L * MIB, Files.size(big), "the file keeps its size");
        long lost = before - FileStat.of(big).blocks();
        assertTrue(lost <= 16L * MIB / 512, "the file lost only the device's blocks: " + lost + " of 512 bytes");
    }
}
