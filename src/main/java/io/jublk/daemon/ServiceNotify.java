package io.jublk.daemon;

import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.SockaddrUn;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Telling systemd how a service is doing, as sd_notify(3) does it and without libsystemd: one datagram of
 * newline-separated assignments ({@code READY=1}, {@code STATUS=...}, {@code MAINPID=...}) on the AF_UNIX datagram
 * socket named by {@code $NOTIFY_SOCKET} — a path, or an abstract name when it starts with '@'. A service of
 * {@code Type=notify} is started only once READY=1 arrives.
 */
public final class ServiceNotify {
    /** The variable systemd sets for a service that may notify it. */
    public static final String SOCKET_ENV = "NOTIFY_SOCKET";

    private final String socket;

    private ServiceNotify(String socket) {
        this.socket = socket;
    }

    /** The service manager's socket from {@code $NOTIFY_SOCKET}; empty when not run by one (or a socket we can't use). */
    public static Optional<ServiceNotify> fromEnvironment() {
        String s = System.getenv(SOCKET_ENV);
        return s != null && (s.startsWith("/") || s.startsWith("@")) && s.length() > 1
                ? Optional.of(new ServiceNotify(s)) : Optional.empty();
    }

    /** A notifier for {@code socket} (a path, or '@' and an abstract name). */
    public static ServiceNotify to(String socket) {
        if (!(socket.startsWith("/") || socket.startsWith("@")) || socket.length() < 2) {
            throw new IllegalArgumentException("a notify socket is a path or '@' and a name, not '" + socket + "'");
        }
        return new ServiceNotify(socket);
    }

    public String socket() {
        return socket;
    }

    /**
     * Sends {@code assignments} (e.g. "READY=1", "STATUS=serving /dev/ublkb0") as one datagram. Throws
     * {@link NativeException} with the errno if the socket cannot be reached.
     */
    public void send(String... assignments) {
        byte[] msg = (String.join("\n", assignments) + "\n").getBytes(StandardCharsets.UTF_8);
        int s = LibC.rawSocket(LinuxUapi.AF_UNIX, LinuxUapi.SOCK_DGRAM | LinuxUapi.SOCK_CLOEXEC, 0);
        try (Fd fd = Fd.adopt(NativeException.check(s, "socket for " + SOCKET_ENV + "=" + socket), socket);
                Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(SockaddrUn.LAYOUT);
            int len = socket.startsWith("@") ? SockaddrUn.writeAbstract(addr, socket.substring(1))
                    : SockaddrUn.write(addr, socket);
            NativeException.check(LibC.rawConnect(fd.get(), addr, len), "connect to " + SOCKET_ENV + "=" + socket);
            NativeException.check(LibC.rawWrite(fd.get(), a.allocateFrom(ValueLayout.JAVA_BYTE, msg), msg.length),
                    "send to " + SOCKET_ENV + "=" + socket);
        }
    }
}
