package io.jublk.cli;

import io.jublk.ctrl.UblkCommandException;
import io.jublk.spi.ConfigException;
import io.jublk.sys.Capabilities;
import io.jublk.sys.Errno;
import io.jublk.sys.NativeException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * Turns any failure into the one line a user reads: what went wrong and, where we know it, what to do. It decides
 * on the exceptions' types and fields (command, device, errno), never on their messages.
 */
final class Errors {
    private Errors() {}

    static final String NO_UBLK = "kernel has no ublk support: load ublk_drv (modprobe ublk_drv) or use a kernel "
            + "built with CONFIG_BLK_DEV_UBLK";
    static final String NOT_ROOT = "ublk needs root: creating and controlling ublk devices takes CAP_SYS_ADMIN "
            + "(run it with sudo)";
    static final String NOT_YOURS = "it is not yours: a user acts only on the unprivileged devices it added";

    /** Why the kernel refused: not root, or (a user in jublk's group) a device that belongs to someone else. */
    private static String refused() {
        return Capabilities.sysAdmin() || !Preflight.controlAccessible() ? NOT_ROOT : NOT_YOURS;
    }

    static String describe(Throwable t) {
        if (t instanceof ConfigException c) {
            return c.getMessage();
        }
        if (t instanceof UblkCommandException u) {
            return describe(u);
        }
        if (t instanceof NativeException n) {
            if (n.errno() == Errno.EPERM || n.errno() == Errno.EACCES) {
                return n.getMessage() + " — " + refused();
            }
            return n.getMessage();
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

    private static String describe(UblkCommandException u) {
        String dev = u.deviceId() < 0 ? "a new device" : "device " + u.deviceId();
        int e = u.errno();
        if (u.command().equals("ADD_DEV") && e == Errno.EEXIST) {
            return dev + " already exists: choose another -n, or omit -n to let jublk pick one";
        }
        if (e == Errno.ENODEV) {
            return dev + " does not exist (see ublk list)";
        }
        if (u.command().equals("ADD_DEV") && e == Errno.EACCES && !Capabilities.sysAdmin()) {
            return dev + ": the kernel allows no more unprivileged devices (ublk_drv's ublks_max, 64 by default)";
        }
        if (e == Errno.EPERM || e == Errno.EACCES) {
            return u.getMessage() + " — " + refused();
        }
        return u.getMessage();
    }

    /** A problem with what the user asked for: reported as one line, exit status 2. */
    static final class UserError extends ConfigException {
        private static final long serialVersionUID = 1L;

        UserError(String message) {
            super(message);
        }
    }
}
