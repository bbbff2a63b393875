package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jublk.server.UblkServer;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopTarget;
import io.jublk.uapi.LinuxUapi;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop target's data, in each mode: the device reads exactly what the file holds (and what the kernel's own
 * loop driver reads from it), data written through the device is in the file after the stop, and the mode is real
 * (O_DIRECT on the server's descriptor, or not).
 */
@ExtendWith(UblkKernel.class)
class LoopContentTest {
    private static final long SIZE = 256L * MIB;

    @TempDir(factory = Scratch.class)
    Path dir;

    @EachMode
    @DisplayName("reads what the file holds; writes are in the file after the stop; the mode is real")
    void content(BackingFile.Mode mode) throws Exception {
        Path f = Data.randomFile(dir.resolve("backing.img"), SIZE, 1);
        LoopTarget target = Served.loop(f, null, mode);
        try (Arena arena = Arena.ofConfined();
                Device d = Device.start(target, UblkServer.Options.builder().queues(2))) {
            assertEquals(SIZE, d.sizeBytes(), "device size = file size");
            Cmd.dropCaches();
            Data.assertSameBytes("the device reads what the file holds", f, 0, d.path(), 0, SIZE);
            String loop = Cmd.run("losetup", "-f", "--show", "-r", f.toString()).output().trim();
            try {
                Data.assertSameBytes("the device reads what the kernel loop driver reads from the same file",
                        Path.of(loop), 0, d.path(), 0, SIZE);
            } finally {
                Cmd.run("losetup", "-d", loop);
            }

            // Direct mode keeps a buffered descriptor too, for what O_DIRECT cannot do (the unaligned rest of a
            // short transfer); buffered mode has no O_DIRECT one.
            List<Integer> flags = openFlags(f);
            long direct = flags.stream().filter(fl -> (fl & LinuxUapi.O_DIRECT) != 0).count();
            assertEquals(mode == BackingFile.Mode.DIRECT ? 1 : 0, direct,
                    "descriptors of this process on the file with O_DIRECT, of " + flags.size() + " (flags "
                            + flags.stream().map(Integer::toOctalString).toList() + ")");
            assertEquals(mode.label(), target.describe().get("mode"), "the mode the target reports");
            assertEquals(f.toString(), target.describe().get("file"), "the file the target reports");

            // 32 MiB of new data through the device at 100 MiB in 1 MiB O_DIRECT writes, and 1000 4 KiB writes
            // at 200 MiB through the page cache with an fsync at the end.
            MemorySegment fresh = Data.randomBuffer(arena, 32L * MIB, 2);
            try (DirectIo io = DirectIo.open(d.path())) {
                io.write(fresh, 100L * MIB, MIB);
            }
            try (FileChannel ch = FileChannel.open(d.path(), StandardOpenOption.WRITE)) {
                for (int i = 0; i < 1000; i++) {
                    Data.writeFully(ch, fresh.asSlice(i * 4096L, 4096).asByteBuffer(), 200L * MIB + i * 4096L);
                }
                ch.force(true);
            }
            d.stop();
            Data.assertSameBytes("the file holds the O_DIRECT writes after the stop", fresh, f, 100L * MIB);
            Data.assertSameBytes("the file holds the buffered writes after the stop", fresh.asSlice(0, 1000 * 4096L),
                    f, 200L * MIB);
            assertEquals(SIZE, Files.size(f), "file size unchanged");
        }
    }

    /** The open flags of each of this process's descriptors on {@code file} (from /proc/self/fdinfo). */
    private static List<Integer> openFlags(Path file) throws IOException {
        List<Integer> flags = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                Path target;
                try {
                    target = Files.readSymbolicLink(fd);
                } catch (IOException closed) {
                    continue;
                }
                if (target.equals(file)) {
                    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo", fd.getFileName().toString()))) {
                        if (line.startsWith("flags:")) {
                            flags.add(Integer.parseInt(line.substring(6).trim(), 8));
                        }
                    }
                }
            }
        }
        return flags;
    }
}
