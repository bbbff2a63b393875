package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jublk.ctrl.UblkControl;
import io.jublk.queue.QueueStats;
import io.jublk.sys.NativeException;
import io.jublk.targets.BackingFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every write acknowledged is in the backing file, even when the server goes away in the middle of a run: fio
 * writes with O_DIRECT|O_SYNC and saves its verify state; the server leaves as a killed one does (its queues and
 * ring gone, nothing stopped or flushed); after the device is deleted, fio verifies the backing file itself
 * against the saved state.
 */
@ExtendWith(UblkKernel.class)
class DurabilityTest {
    /** Writes the server completes before it goes: a quarter of fio's 16384, so fio has many acknowledged. */
    private static final long WRITES_BEFORE_DEATH = 4096;

    @TempDir(factory = Scratch.class)
    Path dir;

    @EachMode
    @DisplayName("the server dies mid-run: every write fio saw acknowledged is in the backing file")
    void acknowledgedWritesSurviveTheServer(BackingFile.Mode mode) throws Exception {
        Path f = dir.resolve("dur.img");
        Path work = Files.createDirectories(dir.resolve("fio"));
        String[] job = {"fio", "--name=dur", "--ioengine=psync", "--rw=randwrite", "--bs=4k", "--size=64M",
                "--verify=crc32c", "--randseed=1234", "--numjobs=1"};
        Device d = Device.start(Served.loop(f, 256L * MIB, mode));
        int id = d.id();
        try (Cmd.Background fio = Cmd.start(work, concat(job, "--filename=" + d.path(), "--direct=1", "--sync=1",
                "--do_verify=0", "--verify_state_save=1"))) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (d.completed(QueueStats.OP_WRITE) < WRITES_BEFORE_DEATH && fio.isAlive()
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(fio.isAlive(), "fio is writing when the server dies (after "
                    + d.completed(QueueStats.OP_WRITE) + " writes):" + (fio.isAlive() ? "" : fio.await().tail(10)));
            // As if the process died: queues abandoned, ring and char device closed, nothing stopped or flushed.
            d.server().detach();
            Cmd.Result r = fio.await();
            assertNotEquals(0, r.status(), "fio saw its device fail (so the server died before fio ended)");
        } finally {
            d.close();
            removeDevice(id);
        }
        try (Stream<Path> files = Files.list(work)) {
            assertTrue(files.anyMatch(p -> p.getFileName().toString().endsWith("verify.state")),
                    "fio saved its verify state in " + work);
        }
        assertFalse(Files.exists(Path.of("/dev/ublkb" + id)), "the device is gone");
        // In the work directory, where fio left its state.
        Cmd.Result verify = Cmd.exec(work, concat(job, "--filename=" + f, "--verify_only", "--verify_state_load=1",
                "--verify_fatal=1"));
        if (verify.status() != 0) {
            fail("fio finds acknowledged writes missing from the backing file:" + verify.tail(12));
        }
    }

    /** What {@code ublk del} does for a device whose server is gone: STOP_DEV, then DEL_DEV. */
    private static void removeDevice(int id) {
        try (UblkControl ctrl = UblkControl.open()) {
            try {
                ctrl.stopDev(id);
            } catch (NativeException e) {
                // Stopped already when its server went: DEL_DEV still applies.
            }
            ctrl.delete(id);
        }
    }

    private static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }
}
