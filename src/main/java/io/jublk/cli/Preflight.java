package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.sys.LibC;

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
}
