package io.jublk.daemon;

import io.jublk.uapi.Syscalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A daemon runs in a mount namespace of its own (the launcher starts it with {@code unshare --mount}), which begins
 * as a copy of the caller's. A file system that was mounted on a ublk device at that moment — the device this very
 * server takes over in a recovery, say — would stay mounted in the copy for the daemon's whole life: the user's
 * umount could not release the device, and `del --safe` or an offline resize2fs would find it busy. The daemon
 * therefore detaches, in its own namespace only, every mount that lives on a ublk block device.
 */
public final class MountNamespace {
    private static final System.Logger LOG = System.getLogger(MountNamespace.class.getName());
    /** umount2's lazy detach (sys/mount.h; not in the kernel's UAPI headers). */
    private static final int MNT_DETACH = 2;

    private MountNamespace() {}

    /**
     * In a namespace of its own (never the caller's): detaches the mounts on ublk block devices, logging which.
     */
    public static void leaveUblkMounts() {
        if (ownNamespace()) {
            List<String> left = detachUblkMounts();
            if (!left.isEmpty()) {
                LOG.log(System.Logger.Level.INFO, "detached from the server's own mount namespace (they stay mounted "
                        + "for everyone else): " + left);
            }
        }
    }

    /** Whether this process's mount namespace is not its parent's (so changing it touches no one else). */
    static boolean ownNamespace() {
        try {
            long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
            Path mine = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt"));
            return parent > 0 && !mine.equals(Files.readSymbolicLink(Path.of("/proc/" + parent + "/ns/mnt")));
        } catch (IOException e) {
            return false;
        }
    }

    /** Detaches every mount on a ublk block device from this namespace; returns where they were mounted. */
    static List<String> detachUblkMounts() {
        List<String> points = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // id parent major:minor root mount-point options ... - type source super-options
                String[] f = line.split(" ");
                if (f.length > 4 && isUblkBlockDevice(f[2])) {
                    points.add(unescape(f[4]));
                }
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot read /proc/self/mountinfo: " + e);
            return List.of();
        }
        points.sort(Comparator.comparingInt(String::length).reversed()); // nested mounts first
        try (Arena a = Arena.ofConfined()) {
            for (String p : points) {
                int r = Syscalls.rawUmount2(a.allocateFrom(p), MNT_DETACH);
                if (r < 0) {
                    LOG.log(System.Logger.Level.WARNING, "cannot detach " + p + " from the server's mount namespace: "
                            + io.jublk.sys.Errno.name(r));
                }
            }
        }
        return points;
    }

    private static boolean isUblkBlockDevice(String majorMinor) {
        try {
            Path dev = Path.of("/sys/dev/block/" + majorMinor);
            return Files.exists(dev) && dev.toRealPath().getFileName().toString().matches("ublkb\\d+(p\\d+)?");
        } catch (IOException e) {
            return false;
        }
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
