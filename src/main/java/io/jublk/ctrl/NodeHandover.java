package io.jublk.ctrl;

import io.jublk.spi.ConfigException;
import io.jublk.spi.DeviceInfo;
import io.jublk.sys.Fd;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Gives the nodes of an unprivileged device ({@code /dev/ublkcN}, {@code /dev/ublkbN} and its partitions) to the
 * user that owns the device, as root, for udev (jublk's rules run it for every add and change of such a node).
 *
 * <p>The owner is the kernel's word, never the caller's: GET_DEV_INFO2 for device N (which also checks that
 * {@code /dev/ublkcN} is that device's char device) gives {@code owner_uid}/{@code owner_gid}; a device root added
 * (no UBLK_F_UNPRIVILEGED_DEV) is left as udev made it. Ids are reused, so the node is pinned first (an
 * {@code O_PATH} descriptor: an inode, not a name) and looked up again after the kernel answered: devtmpfs makes a new
 * inode for every device, so if the name still leads to the pinned inode, that inode belongs to the device the kernel
 * described. The change is then made on the pinned inode itself ({@code /proc/self/fd/N}): if the device went away
 * meanwhile, only its dead inode changes, never the node of a device that took its id.
 */
public final class NodeHandover {
    private static final Pattern NAME = Pattern.compile("ublk([bc])(\\d{1,7})(p\\d{1,5})?");

    private NodeHandover() {}

    /**
     * Hands {@code /dev/<kernelName>} over to its device's owner. Returns what was done ("ublkc3 -> 1001:1001"), or
     * empty when there was nothing to do: a device of root's, or a node that vanished or changed while it was looked at
     * (its own event follows).
     */
    public static Optional<String> handOver(String kernelName) {
        Matcher m = NAME.matcher(kernelName);
        if (!m.matches() || (m.group(1).equals("c") && m.group(3) != null)) {
            throw new ConfigException("'" + kernelName + "' is not the kernel name of a ublk node (ublkcN, ublkbN, "
                    + "ublkbNpM)");
        }
        int id = Integer.parseInt(m.group(2));
        boolean block = m.group(1).equals("b");
        Path node = Path.of("/dev", kernelName);
        int fd = Fd.tryOpen(node, LinuxUapi.O_PATH | LinuxUapi.O_NOFOLLOW | LinuxUapi.O_CLOEXEC, 0);
        if (fd < 0) {
            return Optional.empty(); // gone already
        }
        try (Fd pinned = Fd.adopt(fd, node.toString())) {
            Path inode = Path.of("/proc/self/fd/" + pinned.get());
            Map<String, Object> before = attributes(inode, true);
            boolean isBlock = (((Integer) before.get("mode")) & 0170000) == 0060000;
            boolean isChar = (((Integer) before.get("mode")) & 0170000) == 0020000;
            if (block ? !isBlock : !isChar) {
                return Optional.empty(); // not a device node of the kind its name says: not ours to change
            }
            DeviceInfo info;
            try (UblkControl ctrl = UblkControl.open()) {
                info = ctrl.getDevInfo(id);
            } catch (io.jublk.sys.NativeException e) {
                return Optional.empty(); // no such device (any more)
            }
            if (!info.has(Ublk.UBLK_F_UNPRIVILEGED_DEV)) {
                return Optional.empty();
            }
            Map<String, Object> now;
            try {
                now = attributes(node, false);
            } catch (UncheckedIOException gone) {
                return Optional.empty();
            }
            if (!now.get("ino").equals(before.get("ino")) || !now.get("dev").equals(before.get("dev"))) {
                return Optional.empty();
            }
            try {
                Files.setAttribute(inode, "unix:gid", info.ownerGid());
                Files.setAttribute(inode, "unix:uid", info.ownerUid());
                // Its owner alone: the kernel lets nobody else open an unprivileged device's disk anyway (uid and gid
                // must both match), and its char device is its server's.
                Files.setPosixFilePermissions(inode, PosixFilePermissions.fromString("rw-------"));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot hand " + node + " over to uid " + info.ownerUid(), e);
            }
            return Optional.of(kernelName + " -> " + Integer.toUnsignedString(info.ownerUid()) + ":"
                    + Integer.toUnsignedString(info.ownerGid()));
        }
    }

    private static Map<String, Object> attributes(Path p, boolean follow) {
        try {
            return follow ? Files.readAttributes(p, "unix:ino,dev,mode")
                    : Files.readAttributes(p, "unix:ino,dev,mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
    }
}
