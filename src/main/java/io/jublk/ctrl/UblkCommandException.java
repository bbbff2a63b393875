package io.jublk.ctrl;

import io.jublk.sys.NativeException;

/**
 * A ublk control command the kernel refused: which command ({@code ADD_DEV}, ...), for which device (-1 for a new
 * device whose id the kernel was to choose), and the errno. Callers decide on these fields, never on the message.
 */
public final class UblkCommandException extends NativeException {
    private static final long serialVersionUID = 1L;

    private final String command;
    private final int deviceId;

    public UblkCommandException(String command, int deviceId, int errno, String operation) {
        super(errno, operation);
        this.command = command;
        this.deviceId = deviceId;
    }

    /** The command's kernel name without its prefix, e.g. {@code ADD_DEV}. */
    public String command() {
        return command;
    }

    /** The device the command was for, or -1 (a new device, or none). */
    public int deviceId() {
        return deviceId;
    }
}
