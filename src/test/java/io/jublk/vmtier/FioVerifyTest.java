package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;

import io.jublk.server.UblkServer;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * fio writes with crc32c verification and reads everything back, checking every block: random writes at 4k, 64k
 * and 1M with two jobs at iodepth 32 on a device with two queues, then a sequential write at 512k. For loop in
 * both modes and for the examples.
 */
@ExtendWith(UblkKernel.class)
class FioVerifyTest {
    @TempDir(factory = Scratch.class)
    Path dir;

    @ParameterizedTest(name = "{0}")
    @EnumSource(Served.class)
    @DisplayName("fio randwrite + verify at 4k, 64k, 1M (2 jobs, iodepth 32, 2 queues), seq write + verify")
    void fioVerifies(Served served) throws Exception {
        // Two jobs of 64 MiB each, 192 MiB apart: 256 MiB hold both.
        try (Device d = Device.start(served.open(dir, 256L * MIB), UblkServer.Options.builder().queues(2))) {
            String dev = "--filename=" + d.path();
            for (String bs : new String[] {"4k", "64k", "1M"}) {
                Cmd.run("fio", "--name=v", dev, "--ioengine=io_uring", "--direct=1", "--rw=randwrite", "--bs=" + bs,
                        "--iodepth=32", "--numjobs=2", "--size=64M", "--offset_increment=192M", "--verify=crc32c",
                        "--verify_fatal=1", "--do_verify=1", "--randrepeat=0", "--group_reporting");
            }
            Cmd.run("fio", "--name=s", dev, "--ioengine=io_uring", "--direct=1", "--rw=write", "--bs=512k",
                    "--iodepth=16", "--size=128M", "--verify=crc32c", "--verify_fatal=1");
            d.stop();
        }
    }
}
