package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.server.UblkServer;
import io.jublk.targets.NbdAddress;
import io.jublk.targets.NbdTarget;
import io.jublk.uapi.Ublk;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code ublk add nbd --zero-copy}: a device with UBLK_F_AUTO_BUF_REG and UBLK_F_USER_COPY in front of nbdkit's file
 * plugin. Payloads above 32 KiB (WRITE) and 64 KiB (READ) go between the socket and the request's own pages (SEND and
 * RECV on its fixed buffer, 7.3); smaller ones are copied through the char device (pread/pwrite at the tag's
 * offset), also the start of a large READ that arrived with its reply header. fio verifies a mix of all of them, and
 * what the device served is what the export's file holds. Also with batch I/O, whose commits carry no buffer.
 */
@ExtendWith(UblkKernel.class)
class NbdZeroCopyTest {
    @TempDir(factory = Scratch.class)
    Path dir;

    @ParameterizedTest(name = "batch I/O {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("zero-copy nbd: fio verify of 4k/48k/1M writes and reads, the device's data = the export's file")
    void zeroCopyNbdServesTheExport(boolean batch) throws Exception {
        Path export = dir.resolve("export.img");
        Path sock = dir.resolve("nbdkit.sock");
        try (var raf = new RandomAccessFile(export.toFile(), "rw")) {
            raf.setLength(96 * MIB);
        }
        try (Cmd.Background nbdkit = Cmd.start(dir, "nbdkit", "-f", "-U", sock.toString(), "file",
                export.toString())) {
            for (int i = 0; i < 100 && !Files.exists(sock); i++) {
                Thread.sleep(100);
            }
            assertTrue(Files.exists(sock), "nbdkit made its socket");
            NbdTarget target = NbdTarget.open(new NbdTarget.Config(new NbdAddress(sock.toString(), null, 10809), "",
                    null, Duration.ofSeconds(30)), 4096);
            long flags = Ublk.UBLK_F_AUTO_BUF_REG | Ublk.UBLK_F_USER_COPY | (batch ? Ublk.UBLK_F_BATCH_IO : 0);
            try (Device d = Device.start(target, UblkServer.Options.builder().queues(2).flags(flags))) {
                long granted = d.server().info().flags();
                assertEquals(flags, granted & flags, "the kernel gave the device " + d.server().info().flagNames());
                String dev = "--filename=" + d.path();
                // 4k and 16k: copied both ways; 48k: a WRITE from its pages, a READ copied; 1M: pages both ways.
                Cmd.run("fio", "--name=v", dev, "--ioengine=io_uring", "--direct=1", "--rw=randwrite",
                        "--bssplit=4k/40:16k/20:48k/20:1m/20", "--iodepth=16", "--numjobs=2", "--size=24M",
                        "--offset_increment=32M", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                        "--randrepeat=0", "--group_reporting");
                Cmd.run("fio", "--name=seq", dev, "--ioengine=io_uring", "--direct=1", "--rw=write", "--bs=256k",
                        "--iodepth=8", "--offset=64M", "--size=32M", "--verify=md5", "--verify_fatal=1",
                        "--do_verify=1");
                Cmd.dropCaches();
                Data.assertSameBytes("the device serves the export's file", export, 0, d.path(), 0, 96 * MIB);
                d.stop();
            }
        }
    }
}
