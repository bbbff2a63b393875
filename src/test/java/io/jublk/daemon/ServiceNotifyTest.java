package io.jublk.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.SockaddrUn;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify's datagram, received by a real AF_UNIX datagram socket on this machine, as systemd receives it. */
class ServiceNotifyTest {
    @TempDir
    Path tmp;

    /** A bound datagram socket, as systemd's notify socket; reads without blocking (the sender has sent already). */
    private static final class Listener implements AutoCloseable {
        final Fd fd;

        Listener(String address) {
            int s = LibC.rawSocket(LinuxUapi.AF_UNIX, LinuxUapi.SOCK_DGRAM | LinuxUapi.SOCK_CLOEXEC
                    | LinuxUapi.SOCK_NONBLOCK, 0);
            fd = Fd.adopt(NativeException.check(s, "socket"), address);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment addr = a.allocate(SockaddrUn.LAYOUT);
                int len = address.startsWith("@") ? SockaddrUn.writeAbstract(addr, address.substring(1))
                        : SockaddrUn.write(addr, address);
                NativeException.check(LibC.rawBind(fd.get(), addr, len), "bind " + address);
            }
        }

        /** The next datagram, whole. */
        String receive() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(4096);
                long n = NativeException.check(LibC.rawRead(fd.get(), buf, buf.byteSize()), "read");
                return new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                        StandardCharsets.UTF_8);
            }
        }

        @Override
        public void close() {
            fd.close();
        }
    }

    @Test
    void readyStatusAndMainPidArriveAsOneDatagramOnAPath() {
        String path = tmp.resolve("notify").toString();
        try (Listener systemd = new Listener(path)) {
            ServiceNotify.to(path).send("READY=1", "STATUS=serving /dev/ublkb3 (db)", "MAINPID=" + LibC.getpid());
            ServiceNotify.to(path).send("STOPPING=1");
            assertEquals("READY=1\nSTATUS=serving /dev/ublkb3 (db)\nMAINPID=" + LibC.getpid() + "\n", systemd.receive());
            assertEquals("STOPPING=1\n", systemd.receive(), "each send is its own datagram");
        }
    }

    /** systemd's own socket is abstract ("@/org/freedesktop/systemd1/notify/..."): a NUL, the name, no terminator. */
    @Test
    void anAbstractNameStartsWithAt() {
        String name = "@jublk-test/notify/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        try (Listener systemd = new Listener(name)) {
            ServiceNotify.to(name).send("READY=1");
            assertEquals("READY=1\n", systemd.receive());
        }
        // An abstract name vanishes with its socket (no file is left behind): nobody listens there now.
        NativeException e = assertThrows(NativeException.class, () -> ServiceNotify.to(name).send("READY=1"));
        assertEquals(Errno.ECONNREFUSED, e.errno(), e.getMessage());
    }

    @Test
    void aSocketNobodyListensOnIsAnErrorThatNamesTheErrnoAndTheSocket() {
        String path = tmp.resolve("nobody").toString();
        NativeException e = assertThrows(NativeException.class, () -> ServiceNotify.to(path).send("READY=1"));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("NOTIFY_SOCKET=" + path) && e.getMessage().contains("ENOENT"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ServiceNotify.to("relative/path"));
        assertThrows(IllegalArgumentException.class, () -> ServiceNotify.to("@"));
    }
}
