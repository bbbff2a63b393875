package io.jublk.sys;

/**
 * The one error type of jublk's native layers: a failed system call, a negative io_uring completion or a
 * negative ublk command result. It carries the errno, its symbolic name and what was being attempted, so
 * the CLI can print one human line ("ADD_DEV for device 3: EEXIST (File exists)").
 */
public class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String operation;

    /**
     * @param errno     the error number; the sign is ignored, so a CQE's {@code res} can be passed as is
     * @param operation what was being attempted, in words a user understands
     */
    public NativeException(int errno, String operation) {
        super(operation + ": " + Errno.name(errno) + " (" + Errno.describe(errno) + ")");
        this.errno = Math.abs(errno);
        this.operation = operation;
    }

    /** Throws if {@code result} is a negative errno, otherwise returns it. */
    public static int check(int result, String operation) {
        if (result < 0) {
            throw new NativeException(result, operation);
        }
        return result;
    }

    /** Same as {@link #check(int, String)} for a 64-bit result. */
    public static long check(long result, String operation) {
        if (result < 0) {
            throw new NativeException((int) result, operation);
        }
        return result;
    }

    public int errno() {
        return errno;
    }

    public String errnoName() {
        return Errno.name(errno);
    }

    public String operation() {
        return operation;
    }
}
