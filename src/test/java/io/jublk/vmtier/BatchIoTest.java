package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.QueueStats;
import io.jublk.server.UblkServer;
import io.jublk.uapi.Ublk;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * UBLK_F_BATCH_IO ({@code ublk add --batch}): the same fio verification as {@link FioVerifyTest} on a device whose
 * queues take tags and give answers many per command: loop direct with two queues and buffered with one (a queue
 * thread answers), and CompressedRamDisk, whose answers come from its worker threads through the mailbox and leave
 * in the queue's next COMMIT_IO_CMDS. Enough requests to use up a queue's two fetch buffers (2048 tags each at
 * depth 128), so fetch commands are re-armed on the way (surely so on the one-queue device).
 */
@ExtendWith(UblkKernel.class)
class BatchIoTest {
    @TempDir(factory = Scratch.class)
    Path dir;

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Served.class, names = {"LOOP_DIRECT", "LOOP_BUFFERED", "COMPRESSED_RAM_DISK"})
    @DisplayName("batch I/O: fio randwrite + verify at 4k (QD 32 and 1) and 128k (QD 32), 2 jobs, 2 queues (1 buffered)")
    void fioVerifiesWithBatchIo(Served served) throws Exception {
        // One queue for buffered loop, so that both counts are seen with copying.
        int queues = served == Served.LOOP_BUFFERED ? 1 : 2;
        UblkServer.Builder options = UblkServer.Options.builder().queues(queues).flags(Ublk.UBLK_F_BATCH_IO);
        try (Device d = Device.start(served.open(dir, 128L * MIB), options)) {
            assertTrue((d.server().info().flags() & Ublk.UBLK_F_BATCH_IO) != 0, "the kernel gave the device "
                    + "UBLK_F_BATCH_IO: flags " + d.server().info().flagNames());
            String dev = "--filename=" + d.path();
            String[][] runs = {{"4k", "32", "8M"}, {"4k", "1", "2M"}, {"128k", "32", "32M"}};
            for (String[] run : runs) {
                Cmd.run("fio", "--name=v", dev, "--ioengine=io_uring", "--direct=1", "--rw=randwrite",
                        "--bs=" + run[0], "--iodepth=" + run[1], "--numjobs=2", "--size=" + run[2],
                        "--offset_increment=64M", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                        "--randrepeat=0", "--group_reporting");
            }
            long writes = d.completed(QueueStats.OP_WRITE);
            // fio issues 5632 writes (the block layer may merge some): more than the 2 × 2048 tags a queue's two fetch
            // buffers hold, so with one queue both were used up and re-armed.
            assertTrue(writes > 2 * 2048, "the queues served " + writes + " writes");
            d.stop();
        }
    }
}
