package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.sys.LibC;
import io.jublk.uapi.Ublk;

/** The checks every command that talks to the driver makes first, so the user hears the real reason. */
final class Preflight {
    private Preflight() {}

    static void requireUblk() {
        if (!UblkControl.available()) {
            throw new Errors.UserError(Errors.NO_UBLK);
        }
        if (LibC.geteuid() != 0) {
            throw new Errors.UserError(Errors.NOT_ROOT);
        }
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
        if ((missing & Ublk.UBLK_F_NO_AUTO_PART_SCAN) != 0) {
            throw new Errors.UserError("--no-partition-scan needs UBLK_F_NO_AUTO_PART_SCAN, which this kernel's ublk "
                    + "driver lacks");
        }
        if ((missing & Ublk.UBLK_F_UPDATE_SIZE) != 0) {
            throw new Errors.UserError("resizing needs UBLK_F_UPDATE_SIZE, which this kernel's ublk driver lacks");
        }
        if ((missing & Ublk.UBLK_F_SAFE_STOP_DEV) != 0) {
            throw new Errors.UserError("--safe needs UBLK_F_SAFE_STOP_DEV, which this kernel's ublk driver lacks");
        }
        if (missing != 0) {
            throw new Errors.UserError("this kernel's ublk driver lacks features 0x" + Long.toHexString(missing));
        }
    }
}
