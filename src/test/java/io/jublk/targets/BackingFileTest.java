package io.jublk.targets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.spi.ConfigException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The loop target's backing file on this machine's real file system (no ublk needed): what opening it does and
 * does not do to the file, and how a recorded file is reopened for recovery.
 */
class BackingFileTest {
    @TempDir
    Path dir;

    private static final long MIB = 1 << 20;

    private static LoopTarget.Config config(Path file, Long size, BackingFile.Mode mode) {
        return new LoopTarget.Config(file, size, mode, false, null, false);
    }

    private Path randomFile(String name, long bytes) throws IOException {
        Path f = dir.resolve(name);
        byte[] block = new byte[(int) MIB];
        Random random = new Random(42);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += block.length) {
                random.nextBytes(block);
                ch.write(ByteBuffer.wrap(block));
            }
        }
        return f;
    }

    private static byte[] sha256(Path f, long from) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (FileChannel ch = FileChannel.open(f)) {
            ch.position(from);
            ByteBuffer b = ByteBuffer.allocate((int) MIB);
            while (ch.read(b) > 0) {
                b.flip();
                md.update(b);
                b.clear();
            }
        }
        return md.digest();
    }

    /**
     * Finding 1 of the data-safety review: a device that is a prefix of a larger file must leave the rest of the
     * file alone. The old discard probe punched a hole 1 MiB past the device's end, inside the file.
     */
    @ParameterizedTest
    @EnumSource(BackingFile.Mode.class)
    void aDeviceOnAPrefixOfTheFileNeverTouchesTheRest(BackingFile.Mode mode) throws Exception {
        Path f = randomFile("big.img", 64 * MIB);
        byte[] tail = sha256(f, 16 * MIB);
        long blocks = (long) Files.getAttribute(f, "unix:size");
        try (LoopTarget t = LoopTarget.open(config(f, 16 * MIB, mode))) {
            assertEquals(16 * MIB, t.sizeBytes());
            assertTrue(t.discardSupported(), "ext4 punches holes: learned on a scratch file");
            assertEquals(0, t.flush());
        }
        assertArrayEquals(tail, sha256(f, 16 * MIB), "the bytes past the device are unchanged");
        assertEquals(blocks, (long) Files.getAttribute(f, "unix:size"));
        assertEquals(64 * MIB, Files.size(f), "the file keeps its size");
    }

    @Test
    void aFileIsExtendedOnlyWhenTheDeviceIsLarger() throws Exception {
        Path f = randomFile("small.img", 4 * MIB);
        try (LoopTarget t = LoopTarget.open(config(f, 8 * MIB, BackingFile.Mode.BUFFERED))) {
            assertEquals(8 * MIB, Files.size(f));
            assertEquals(8 * MIB, t.backingFile().identity().size());
            assertTrue(t.warnings().stream().anyMatch(w -> w.contains("extended")), t.warnings().toString());
        }
    }

    @Test
    void aCreatedFileIsSparseAndRemovedWhenAsked() throws Exception {
        Path f = dir.resolve("new.img");
        LoopTarget t = LoopTarget.open(config(f, 32 * MIB, BackingFile.Mode.DIRECT));
        assertTrue(t.backingFile().created());
        assertEquals(32 * MIB, Files.size(f));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(f)));
        t.removeIfCreated();
        t.close();
        assertFalse(Files.exists(f));
    }

    @Test
    void removeIfCreatedSparesAFileThatTookItsPlace() throws Exception {
        Path f = dir.resolve("new.img");
        LoopTarget t = LoopTarget.open(config(f, MIB, BackingFile.Mode.BUFFERED));
        Files.delete(f);
        Files.writeString(f, "someone else's");
        t.removeIfCreated();
        t.close();
        assertEquals("someone else's", Files.readString(f));
    }

    @Test
    void anExistingFileIsNeverRemoved() throws Exception {
        Path f = randomFile("keep.img", MIB);
        LoopTarget t = LoopTarget.open(config(f, null, BackingFile.Mode.BUFFERED));
        t.removeIfCreated();
        t.close();
        assertTrue(Files.exists(f));
    }

    @Test
    void twoDevicesOnOneFileAreRefusedUnlessAskedFor() throws Exception {
        Path f = randomFile("shared.img", MIB);
        try (LoopTarget first = LoopTarget.open(config(f, null, BackingFile.Mode.BUFFERED))) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> LoopTarget.open(config(f, null, BackingFile.Mode.DIRECT)));
            assertTrue(e.getMessage().contains("in use by another jublk device"), e.getMessage());
        }
        try (LoopTarget a = LoopTarget.open(new LoopTarget.Config(f, null, BackingFile.Mode.BUFFERED, false, null, true));
                LoopTarget b = LoopTarget.open(new LoopTarget.Config(f, null, BackingFile.Mode.BUFFERED, false, null, true))) {
            assertEquals(a.backingFile().identity(), b.backingFile().identity());
        }
    }

    @Test
    void theIdentityNamesTheFileWithoutSymlinks() throws Exception {
        Path f = randomFile("real.img", MIB);
        Path link = dir.resolve("link.img");
        Files.createSymbolicLink(link, f);
        try (LoopTarget t = LoopTarget.open(config(link, null, BackingFile.Mode.BUFFERED))) {
            BackingFile.Identity id = t.backingFile().identity();
            assertEquals(f.toRealPath().toString(), id.path());
            assertEquals((long) Files.getAttribute(f, "unix:ino"), id.ino());
            assertEquals((long) Files.getAttribute(f, "unix:dev"), id.dev());
            assertEquals(MIB, id.size());
        }
    }

    // ---- recovery -----------------------------------------------------------------------------------------

    private BackingFile.Identity identityOf(Path f, Long size) {
        try (LoopTarget t = LoopTarget.open(config(f, size, BackingFile.Mode.BUFFERED))) {
            return t.backingFile().identity();
        }
    }

    @Test
    void reopenServesTheSameFile() throws Exception {
        Path f = randomFile("disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        try (LoopTarget t = LoopTarget.reopen(config(f, null, BackingFile.Mode.DIRECT), id, 8 * MIB, 512)) {
            assertEquals(8 * MIB, t.sizeBytes());
            assertEquals(id, t.backingFile().identity());
        }
    }

    @Test
    void reopenNeverCreatesAFile() throws Exception {
        Path f = randomFile("disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        Files.delete(f);
        ConfigException e = assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.BUFFERED), id, 8 * MIB, 512));
        assertTrue(e.getMessage().contains("no longer exists"), e.getMessage());
        assertFalse(Files.exists(f));
    }

    @Test
    void reopenRefusesAnotherFileAtThePath() throws Exception {
        Path f = randomFile("disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        Files.delete(f);
        randomFile("disk.img", 8 * MIB);
        ConfigException e = assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.BUFFERED), id, 8 * MIB, 512));
        assertTrue(e.getMessage().contains("another file"), e.getMessage());
    }

    @Test
    void reopenDoesNotFollowAPathReplacedByASymlink() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("vm1"));
        Path f = randomFile("vm1/disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        // The directory is moved away and a link to it takes its place: the same file, through a link.
        Path moved = dir.resolve("vm1-moved");
        Files.move(sub, moved);
        Files.createSymbolicLink(sub, moved);
        ConfigException e = assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.BUFFERED), id, 8 * MIB, 512));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        // And a link in place of the file itself.
        Files.delete(sub);
        Files.move(moved, sub);
        Path other = randomFile("other.img", 8 * MIB);
        Files.move(f, dir.resolve("disk-moved.img"));
        Files.createSymbolicLink(f, other);
        assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.BUFFERED), id, 8 * MIB, 512));
    }

    @Test
    void reopenRefusesAFileWhoseSizeChanged() throws Exception {
        Path f = randomFile("disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(4 * MIB);
        }
        ConfigException e = assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.BUFFERED), id, 8 * MIB, 512));
        assertTrue(e.getMessage().contains("bytes now"), e.getMessage());
        assertEquals(4 * MIB, Files.size(f), "not extended back");
    }

    @Test
    void reopenRefusesAnotherBlockSize() throws Exception {
        Path f = randomFile("disk.img", 8 * MIB);
        BackingFile.Identity id = identityOf(f, null);
        ConfigException e = assertThrows(ConfigException.class,
                () -> LoopTarget.reopen(config(f, null, BackingFile.Mode.DIRECT), id, 8 * MIB, 256));
        assertNotEquals("", e.getMessage());
    }
}
