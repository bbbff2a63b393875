package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.sys.Capabilities;
import io.jublk.sys.LibC;
import java.nio.file.Files;
import io.jublk.uapi.Ublk;

/** The checks every command that talks to the driver makes first, so the user hears the real reason. */
final class Preflight {
    private Preflight() {}

    /**
     * The driver is there, and this user may use it: root (CAP_SYS_ADMIN), or a user whom jublk's udev rule lets open
     * {@code /dev/ublk-control} (the group it names) for unprivileged devices.
     */
    static void requireUblk() {
        if (!UblkControl.available()) {
            throw new Errors.UserError(Errors.NO_UBLK);
        }
        if (!Capabilities.sysAdmin() && !controlAccessible()) {
            throw new Errors.UserError("ublk needs root, or membership of the group that may open "
                    + UblkControl.CONTROL_DEVICE + " (jublk's udev rules; README: unprivileged devices): uid "
                    + LibC.geteuid() + " has neither");
        }
    }

    static boolean controlAccessible() {
        return Files.isReadable(UblkControl.CONTROL_DEVICE) && Files.isWritable(UblkControl.CONTROL_DEVICE);
    }

    /**
     * What a user's (unprivileged) device cannot have, refused before anything is made: the kernel drops the recovery
     * flags of such a device without a word, and refuses zero copy (a server could leak kernel memory through it).
     */
    static void requireUnprivilegedAllows(long flags) {
        if (Capabilities.sysAdmin()) {
            return;
        }
        if ((flags & Ublk.UBLK_F_USER_RECOVERY) != 0) {
            throw new Errors.UserError("--recovery is for root's devices: the kernel does not recover a device a user "
                    + "adds (UBLK_F_UNPRIVILEGED_DEV)");
        }
        if ((flags & (Ublk.UBLK_F_AUTO_BUF_REG | Ublk.UBLK_F_SUPPORT_ZERO_COPY | Ublk.UBLK_F_USER_COPY)) != 0) {
            throw new Errors.UserError("--zero-copy is for root's devices: the kernel refuses it for a device a user adds "
                    + "(UBLK_F_UNPRIVILEGED_DEV)");
        }
        requireFeatures(Ublk.UBLK_F_UNPRIVILEGED_DEV);
    }

    /** The kernel must offer every UBLK_F_* in {@code flags}; says which option needs what otherwise. */
    static void requireFeatures(long flags) {
        if (flags == 0) {
            return;
        }
        long missing;
        try (UblkControl ctrl = UblkControl.open()) {
            missing = flags & ~ctrl.getFeatures();
        }
        if ((missing & Ublk.UBLK_F_AUTO_BUF_REG) != 0) {
            throw new Errors.UserError("--zero-copy needs UBLK_F_AUTO_BUF_REG, which this kernel's ublk driver lacks "
                    + "(Linux 6.16 or newer has it)");
        }
        if ((missing & Ublk.UBLK_F_USER_COPY) != 0) {
            throw new Errors.UserError("--zero-copy needs UBLK_F_USER_COPY, which this kernel's ublk driver lacks "
                    + "(Linux 6.5 or newer has it)");
        }
        if ((missing & Ublk.UBLK_F_NO_AUTO_PART_SCAN) != 0) {
            throw new Errors.UserError("--no-partition-scan needs UBLK_F_NO_AUTO_PART_SCAN, which this kernel's ublk "
                    + "driver lacks");
        }
        if ((missing & Ublk.UBLK_F_UPDATE_SIZE) != 0) {
            throw new Errors.UserError("resizing needs UBLK_F_UPDATE_SIZE, which this kernel's ublk driver lacks");
        }
        if ((missing & Ublk.UBLK_F_UNPRIVILEGED_DEV) != 0) {
            throw new Errors.UserError("this kernel's ublk driver has no unprivileged devices (UBLK_F_UNPRIVILEGED_DEV): "
                    + "only root can add one");
        }
        if ((missing & Ublk.UBLK_F_BATCH_IO) != 0) {
            throw new Errors.UserError("--batch needs UBLK_F_BATCH_IO, which this kernel's ublk driver lacks (Linux 7.0 "
                    + "or newer has it)");
        }
        if ((missing & Ublk.UBLK_F_SAFE_STOP_DEV) != 0) {
            throw new Errors.UserError("--safe needs UBLK_F_SAFE_STOP_DEV, which this kernel's ublk driver lacks");
        }
        if (missing != 0) {
            throw new Errors.UserError("this kernel's ublk driver lacks features 0x" + Long.toHexString(missing));
        }
    }
}
