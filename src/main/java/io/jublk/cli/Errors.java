package io.jublk.cli;

import io.jublk.sys.Errno;
import io.jublk.sys.NativeException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/** Turns any failure into the one line a user reads: what went wrong and, where we know it, what to do. */
final class Errors {
    private Errors() {}

    static final String NO_UBLK = "kernel has no ublk support: load ublk_drv (modprobe ublk_drv) or use a kernel "
            + "built with CONFIG_BLK_DEV_UBLK";
    static final String NOT_ROOT = "ublk needs root: creating and controlling ublk devices takes CAP_SYS_ADMIN "
            + "(run it with sudo)";

    static String describe(Throwable t) {
        if (t instanceof UserError u) {
            return u.getMessage();
        }
        if (t instanceof NativeException n) {
            return describe(n);
        }
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            return u.getMessage() + ": " + describe(u.getCause());
        }
        if (t instanceof NoSuchFileException e) {
            return e.getFile() + ": no such file";
        }
        if (t instanceof AccessDeniedException e) {
            return e.getFile() + ": permission denied";
        }
        String m = t.getMessage();
        return m != null && !m.isBlank() ? m : t.getClass().getSimpleName();
    }

    private static String describe(NativeException n) {
        String op = n.operation();
        int e = n.errno();
        if (op.startsWith("open /dev/ublk-control")) {
            if (e == Errno.ENOENT || e == Errno.ENODEV || e == Errno.ENXIO) {
                return NO_UBLK;
            }
            if (e == Errno.EACCES || e == Errno.EPERM) {
                return NOT_ROOT;
            }
        }
        if (op.startsWith("ADD_DEV") && e == Errno.EEXIST) {
            return op.replace("ADD_DEV for device", "device") .replace("ADD_DEV for a new device", "device")
                    + " already exists: choose another -n, or omit -n to let the kernel pick one";
        }
        if (e == Errno.ENODEV && (op.contains("GET_DEV_INFO") || op.contains("DEL_DEV") || op.contains("STOP_DEV"))) {
            return op.replaceAll("^[A-Z_]+ for ", "") + " does not exist (see ublk list)";
        }
        if (e == Errno.EPERM || e == Errno.EACCES) {
            return n.getMessage() + " — " + NOT_ROOT;
        }
        return n.getMessage();
    }

    /** A problem with what the user asked for: reported as one line, exit status 2. */
    static final class UserError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UserError(String message) {
            super(message);
        }
    }
}
