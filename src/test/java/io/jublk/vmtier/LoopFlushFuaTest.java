package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.QueueStats;
import io.jublk.targets.BackingFile;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loop device has a volatile write cache with FUA, and fio jobs that flush after every write (fsync=1) and
 * write O_DIRECT|O_SYNC (FUA) run clean and verify, in each mode.
 */
@ExtendWith(UblkKernel.class)
class LoopFlushFuaTest {
    @TempDir(factory = Scratch.class)
    Path dir;

    @EachMode
    @DisplayName("write back cache with FUA; fio with a FLUSH after every write, and FUA writes, verify")
    void flushAndFua(BackingFile.Mode mode) throws Exception {
        try (Device d = Device.start(Served.loop(dir.resolve("f.img"), 256L * MIB, mode))) {
            assertEquals("write back", d.sysfs("queue/write_cache"), "queue/write_cache");
            assertEquals("1", d.sysfs("queue/fua"), "queue/fua");
            String dev = "--filename=" + d.path();
            Cmd.run("fio", "--name=fs", dev, "--ioengine=psync", "--rw=randwrite", "--bs=4k", "--size=16M",
                    "--fsync=1", "--verify=crc32c", "--verify_fatal=1");
            // The block layer may merge flushes, but they must reach the target: fsync=1 is 4096 of them.
            long flushes = d.completed(QueueStats.OP_FLUSH);
            assertTrue(flushes > 0, "FLUSH requests reached the server: " + flushes);
            Cmd.run("fio", "--name=fua", dev, "--ioengine=io_uring", "--direct=1", "--sync=1", "--rw=randwrite",
                    "--bs=16k", "--iodepth=8", "--size=32M", "--verify=crc32c", "--verify_fatal=1");
            d.stop();
        }
    }
}
