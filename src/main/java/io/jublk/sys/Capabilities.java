package io.jublk.sys;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's capabilities, as the kernel's permission checks see them. */
public final class Capabilities {
    /** linux/capability.h. */
    private static final int CAP_SYS_ADMIN = 21;

    private Capabilities() {}

    /**
     * Whether this process has CAP_SYS_ADMIN in its effective set: ublk's test for a privileged caller. Without it,
     * ADD_DEV must ask for UBLK_F_UNPRIVILEGED_DEV and every later command names the device's char device. Read from
     * {@code /proc/self/status} (CapEff), since a root uid without the capability (a container) is not privileged.
     */
    public static boolean sysAdmin() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    long eff = Long.parseUnsignedLong(line.substring(7).trim(), 16);
                    return (eff & (1L << CAP_SYS_ADMIN)) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // No /proc: judged by the uid below.
        }
        return LibC.geteuid() == 0;
    }
}
