package io.jublk.daemon;

import io.jublk.ctrl.UblkCommandException;
import io.jublk.spi.ConfigException;
import io.jublk.sys.Errno;
import io.jublk.sys.NativeException;
import java.io.UncheckedIOException;

/**
 * A failure as it travels between processes (a daemon's start handshake, its answer to `del`): typed fields, so the
 * receiving side rebuilds the same kind of exception and never parses a message.
 *
 * @param kind      what sort of failure
 * @param message   the one line for the user (for CONFIG and INTERNAL), or the operation's description
 * @param command   for COMMAND: the ublk control command (ADD_DEV, ...)
 * @param device    for COMMAND: the device id it was for (-1: a new device)
 * @param errno     for COMMAND and SYSCALL: the error number
 * @param operation for COMMAND and SYSCALL: what was being attempted
 */
public record Failure(Kind kind, String message, String command, Integer device, Integer errno, String operation) {

    public enum Kind {
        /** Bad input or a refusal: exit status 2. */
        CONFIG,
        /** A ublk control command the kernel refused. */
        COMMAND,
        /** Another system call that failed. */
        SYSCALL,
        /** Anything else. */
        INTERNAL
    }

    public static Failure of(Throwable t) {
        if (t instanceof ConfigException c) {
            return new Failure(Kind.CONFIG, c.getMessage(), null, null, null, null);
        }
        if (t instanceof UblkCommandException u) {
            return new Failure(Kind.COMMAND, u.getMessage(), u.command(), u.deviceId(), u.errno(), u.operation());
        }
        if (t instanceof NativeException n) {
            return new Failure(Kind.SYSCALL, n.getMessage(), null, null, n.errno(), n.operation());
        }
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            return new Failure(Kind.INTERNAL, u.getMessage() + ": " + u.getCause().getMessage(), null, null, null, null);
        }
        String m = t.getMessage();
        return new Failure(Kind.INTERNAL, m != null && !m.isBlank() ? m : t.getClass().getSimpleName(), null, null, null,
                null);
    }

    /** The same kind of exception as the one this was made of. */
    public RuntimeException toException() {
        return switch (kind) {
            case CONFIG -> new ConfigException(message);
            case COMMAND -> new UblkCommandException(command, device, errno, operation);
            case SYSCALL -> new NativeException(errno, operation);
            case INTERNAL -> new DaemonException(message);
        };
    }

    /** A failure of the server process that has no other type (its message is for the user). */
    public static final class DaemonException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public DaemonException(String message) {
            super(message);
        }
    }

    static String errnoText(int errno) {
        return Errno.name(errno) + " (" + Errno.describe(errno) + ")";
    }
}
