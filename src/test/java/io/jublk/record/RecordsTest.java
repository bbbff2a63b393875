package io.jublk.record;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.spi.ConfigException;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopSpec;
import io.jublk.targets.NullSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Device records, the run directory's rules, the device lock and process identity, on this machine. */
class RecordsTest {
    @TempDir
    Path tmp;

    static DeviceRecord sample(int id) {
        BackingFile.Identity identity = new BackingFile.Identity("/srv/vm1/disk.img", 2049, 1234, 1_700_000_000_123L,
                32L << 20, false);
        LoopSpec loop = new LoopSpec("/srv/vm1/disk.img", 32L << 20, "direct", false, false, true, "direct", null,
                identity, true);
        DeviceSpec spec = new DeviceSpec(loop, 2, 64, 4096, DeviceSpec.Recovery.REISSUE, 9464, "127.0.0.1");
        Instant t = Instant.now().truncatedTo(ChronoUnit.MICROS);
        return new DeviceRecord(DeviceRecord.FORMAT, id, "vm1", "0b9c4f2e-6d1a-4c3b-9a8e-2f7d5e1c0a34",
                DeviceRecord.token(0x6a62000000000001L),
                DeviceRecord.State.LIVE, new ServerProcess(4242, 777), spec,
                new DeviceRecord.KernelDevice(32L << 20, 4096, 2, 64, 512 << 10, "0x4a"), "/run/jublk/ublk3.log", t, t);
    }

    @Test
    void aRecordReadsBackAsWritten() {
        DeviceRecord r = sample(3);
        String json = new String(Records.bytes(r));
        assertEquals(r, Records.parse(Records.bytes(r)), json);
        assertTrue(json.contains("\"type\" : \"loop\""), json);
        assertTrue(json.contains("\"state\" : \"live\""), json);
        assertTrue(json.contains("\"recovery\" : \"reissue\""), json);
        assertTrue(json.contains("\"start_ticks\" : 777"), json);
        assertFalse(json.contains("running"), "no derived properties: " + json);
        assertEquals(0x6a62000000000001L, r.tokenValue());
    }

    /**
     * Records as jublk wrote them at 1cbd1dc (before the target registry): a running device is recovered, deleted
     * and listed from such a record, so every one must read, and write back byte for byte — same type names, same
     * field names, same order.
     */
    @ParameterizedTest
    @ValueSource(strings = {"loop-live.json", "loop-starting.json", "loop-flushing-buffered.json",
            "null-recovering.json"})
    void aRecordWrittenBeforeTheRegistryReadsAndWritesBackUnchanged(String name) throws IOException {
        String before = written(name);
        DeviceRecord r = Records.parse(before.getBytes(StandardCharsets.UTF_8));
        assertEquals(before, new String(Records.bytes(r), StandardCharsets.UTF_8));
    }

    @Test
    void aRecordWrittenBeforeTheRegistrySaysWhatItSaid() throws IOException {
        RunDirectory run = runDir();
        Files.writeString(run.recordFile(3), written("loop-live.json"));
        DeviceRecord live = Records.read(run, 3).orElseThrow();
        assertEquals(DeviceRecord.State.LIVE, live.state());
        assertEquals(new ServerProcess(4242, 987654), live.server());
        assertEquals(DeviceSpec.Recovery.REISSUE, live.spec().recovery());
        LoopSpec loop = (LoopSpec) live.spec().target();
        assertEquals(new LoopSpec("/srv/vm1/disk.img", 8L << 30, "direct", false, false, true, "direct", null,
                new BackingFile.Identity("/srv/vm1/disk.img", 2049, 1234567, 1_764_580_502_123_456_789L, 8L << 30,
                        false), true), loop);

        Files.writeString(run.recordFile(0), written("loop-starting.json"));
        LoopSpec starting = (LoopSpec) Records.read(run, 0).orElseThrow().spec().target();
        assertEquals("/var/tmp/new disk.img", starting.file());
        assertNull(starting.size());
        assertNull(starting.identity(), "not opened yet");
        assertEquals("buffered", starting.mode());

        Files.writeString(run.recordFile(7), written("null-recovering.json"));
        DeviceRecord nul = Records.read(run, 7).orElseThrow();
        assertEquals(new NullSpec(1L << 30), nul.spec().target());
        assertEquals(DeviceRecord.State.RECOVERING, nul.state());
    }

    private static String written(String name) throws IOException {
        try (InputStream in = RecordsTest.class.getResourceAsStream("written-by-1cbd1dc/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aRecordWithUnknownFieldsOrANewerFormatIsRefused() throws Exception {
        RunDirectory run = runDir();
        Files.writeString(run.recordFile(1), new String(Records.bytes(sample(1))).replace("\"format\" : 1",
                "\"format\" : 1, \"surprise\" : true"));
        assertThrows(ConfigException.class, () -> Records.read(run, 1));
        Files.writeString(run.recordFile(2), new String(Records.bytes(sample(2))).replace("\"format\" : 1",
                "\"format\" : 99"));
        ConfigException e = assertThrows(ConfigException.class, () -> Records.read(run, 2));
        assertTrue(e.getMessage().contains("newer"), e.getMessage());
        Files.writeString(run.recordFile(4), new String(Records.bytes(sample(5))));
        assertThrows(ConfigException.class, () -> Records.read(run, 4), "a record under another id's name");
    }

    @Test
    void recordsAreWrittenWholeAndPrivate() throws Exception {
        RunDirectory run = runDir();
        DeviceRecord r = sample(7);
        Records.write(run, r);
        assertEquals(Optional.of(r), Records.read(run, 7));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run.recordFile(7))));
        assertEquals(java.util.Set.of(7), run.recordIds());
        try (var files = Files.list(run.path())) {
            assertEquals(java.util.Set.of(run.recordFile(7), run.udevFile(7)), files.collect(
                    java.util.stream.Collectors.toSet()), "no temporary file left");
        }
    }

    /** What the udev rule imports: the serial and the declaration's name, KEY=value, private, gone with the record. */
    @Test
    void theUdevPropertiesFollowTheRecord() throws Exception {
        RunDirectory run = runDir();
        DeviceRecord r = sample(4);
        Records.write(run, r);
        assertEquals("JUBLK_SERIAL=0b9c4f2e-6d1a-4c3b-9a8e-2f7d5e1c0a34\nJUBLK_NAME=vm1\n",
                Files.readString(run.udevFile(4)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run.udevFile(4))));
        assertTrue(Records.removeIfSame(run, r));
        assertFalse(Files.exists(run.udevFile(4)));
        DeviceRecord old = new DeviceRecord(r.format(), 5, null, null, r.token(), r.state(), r.server(), r.spec(),
                r.device(), r.log(), r.created(), r.updated());
        Records.write(run, old);
        assertFalse(Files.exists(run.udevFile(5)), "a record without a serial (written before serials) has none");
    }

    @Test
    void aRecordIsRemovedOnlyWhileItIsStillTheSameDevice() {
        RunDirectory run = runDir();
        DeviceRecord old = sample(7);
        Records.write(run, old);
        DeviceRecord newer = new DeviceRecord(old.format(), 7, old.name(), old.serial(),
                DeviceRecord.token(0x6a62000000000002L), old.state(),
                old.server(), old.spec(), old.device(), old.log(), old.created(), old.updated());
        Records.write(run, newer);
        assertFalse(Records.removeIfSame(run, old), "an old server must not remove a new device's record");
        assertTrue(Records.read(run, 7).isPresent());
        assertTrue(Records.removeIfSame(run, newer));
        assertTrue(Records.read(run, 7).isEmpty());
    }

    @Test
    void aRunDirectoryOthersCanWriteIsRefused() throws Exception {
        Path d = Files.createDirectory(tmp.resolve("run"));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
        RunDirectory run = RunDirectory.at(d);
        ConfigException e = assertThrows(ConfigException.class, run::check);
        assertTrue(e.getMessage().contains("writable by others"), e.getMessage());
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        run.check();
        Path link = tmp.resolve("link");
        Files.createSymbolicLink(link, d);
        assertThrows(ConfigException.class, () -> RunDirectory.at(link).check());
    }

    @Test
    void aNewRunDirectoryIsPrivate() throws Exception {
        RunDirectory run = RunDirectory.at(tmp.resolve("a/b/run")).ensure();
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run.path())));
    }

    @Test
    void theDeviceLockIsExclusive() {
        RunDirectory run = runDir();
        assertFalse(DeviceLock.isHeld(run, 5), "never claimed");
        assertFalse(Files.exists(run.lockFile(5)), "looking does not create a lock file");
        try (DeviceLock l = DeviceLock.tryAcquire(run, 5).orElseThrow()) {
            assertTrue(DeviceLock.tryAcquire(run, 5).isEmpty());
            assertTrue(DeviceLock.isHeld(run, 5));
            assertFalse(DeviceLock.isHeld(run, 6));
        }
        assertFalse(DeviceLock.isHeld(run, 5), "released with its descriptor");
    }

    @Test
    void aProcessIsKnownByPidAndStartTime() {
        ServerProcess me = ServerProcess.self();
        assertTrue(me.running());
        assertFalse(new ServerProcess(me.pid(), me.startTicks() + 1).running(), "same pid, another start: not us");
        assertFalse(new ServerProcess(me.pid(), me.startTicks() + 1).signal(0), "and it is not signalled");
        assertTrue(me.signal(0));
    }

    @Test
    void aProcessThatExitedIsSeenToExit() throws Exception {
        Process p = new ProcessBuilder("sleep", "30").start();
        ServerProcess sp = new ServerProcess((int) p.pid(), ServerProcess.startTicks((int) p.pid()).orElseThrow());
        assertTrue(sp.running());
        assertFalse(sp.awaitExit(100));
        assertTrue(sp.signal(io.jublk.uapi.LinuxUapi.SIGTERM));
        p.waitFor();
        assertTrue(sp.awaitExit(1000));
        assertFalse(sp.running());
        assertFalse(sp.signal(io.jublk.uapi.LinuxUapi.SIGTERM));
    }

    private RunDirectory runDir() {
        return RunDirectory.at(tmp.resolve("run")).ensure();
    }
}
