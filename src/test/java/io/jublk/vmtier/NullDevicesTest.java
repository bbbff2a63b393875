package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.jublk.server.UblkServer;
import io.jublk.targets.NullTarget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Null devices: hardware queues, and several devices served by one process at once. */
@ExtendWith(UblkKernel.class)
class NullDevicesTest {
    @Test
    @DisplayName("two hardware queues of depth 64, each with its own thread; fio with two jobs runs clean")
    void twoQueuesEachWithItsOwnThread() throws Exception {
        try (Device d = Device.start(new NullTarget(512L << 20, 512),
                UblkServer.Options.builder().queues(2).depth(64))) {
            try (Stream<Path> mq = Files.list(Path.of("/sys/block/ublkb" + d.id() + "/mq"))) {
                assertEquals(2, mq.count(), "hardware queues in /sys/block/ublkb" + d.id() + "/mq");
            }
            assertEquals("64", d.sysfs("mq/0/nr_tags"), "queue depth");
            assertEquals(List.of("ublk" + d.id() + "-q0", "ublk" + d.id() + "-q1"), queueThreads(d.id()),
                    "queue threads in this process");
            Cmd.run("fio", "--name=q", "--filename=" + d.path(), "--ioengine=io_uring", "--direct=1", "--rw=randrw",
                    "--bs=4k", "--iodepth=32", "--numjobs=2", "--size=128M", "--runtime=5", "--time_based",
                    "--group_reporting");
            d.stop();
        }
    }

    @Test
    @DisplayName("two devices at once, of their own sizes, both usable together")
    void twoDevicesAtOnce() throws Exception {
        try (Device a = Device.start(new NullTarget(128L << 20, 512));
                Device b = Device.start(new NullTarget(256L << 20, 512), UblkServer.Options.builder().queues(2))) {
            assertNotEquals(a.path(), b.path(), "two different devices");
            assertEquals(List.of(134217728L, 268435456L), List.of(a.sizeBytes(), b.sizeBytes()), "sizes");
            Cmd.run("fio", "--ioengine=io_uring", "--direct=1", "--rw=randrw", "--bs=4k", "--iodepth=16",
                    "--size=64M", "--runtime=3", "--time_based", "--name=a", "--filename=" + a.path(), "--name=b",
                    "--filename=" + b.path());
            a.stop();
            b.stop();
        }
    }

    /** The names of this process's threads that serve device {@code id}'s queues, sorted. */
    private static List<String> queueThreads(int id) throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.map(t -> {
                try {
                    return Files.readString(t.resolve("comm")).trim();
                } catch (IOException exited) {
                    return "";
                }
            }).filter(n -> n.startsWith("ublk" + id + "-q")).sorted().toList();
        }
    }
}
