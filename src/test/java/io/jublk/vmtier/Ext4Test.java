package io.jublk.vmtier;

import static io.jublk.vmtier.Data.MIB;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A file system on the device: mkfs.ext4, mount, a directory tree copied in, umount, e2fsck -fn is clean, mounted
 * again the tree is identical. For loop in both modes and for the examples.
 */
@ExtendWith(UblkKernel.class)
class Ext4Test {
    private static final Path TREE = Path.of("/usr/share/doc");

    @TempDir(factory = Scratch.class)
    Path dir;

    @ParameterizedTest(name = "{0}")
    @EnumSource(Served.class)
    @DisplayName("mkfs.ext4, a tree copied in, e2fsck -fn clean, the tree identical after a remount")
    void ext4(Served served) throws Exception {
        Path mnt = Files.createDirectories(Path.of("/mnt/vmtier-ext4"));
        try (Device d = Device.start(served.open(dir, 512L * MIB))) {
            String dev = d.path().toString();
            Cmd.run("mkfs.ext4", "-q", "-F", dev);
            Cmd.run("mount", dev, mnt.toString());
            try {
                Cmd.run("cp", "-a", TREE.toString(), mnt.resolve("tree").toString());
            } finally {
                Cmd.run("umount", mnt.toString());
            }
            Cmd.run("e2fsck", "-fn", dev);
            Cmd.dropCaches();
            Cmd.run("mount", dev, mnt.toString());
            try {
                Cmd.run("diff", "-r", "--no-dereference", TREE.toString(), mnt.resolve("tree").toString());
            } finally {
                Cmd.run("umount", mnt.toString());
            }
            d.stop();
        }
    }
}
