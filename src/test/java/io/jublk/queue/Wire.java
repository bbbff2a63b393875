package io.jublk.queue;

import static io.jublk.uapi.LinuxUapi.AF_INET;
import static io.jublk.uapi.LinuxUapi.AF_UNIX;
import static io.jublk.uapi.LinuxUapi.INADDR_LOOPBACK;
import static io.jublk.uapi.LinuxUapi.IPPROTO_TCP;
import static io.jublk.uapi.LinuxUapi.SOCK_CLOEXEC;
import static io.jublk.uapi.LinuxUapi.SOCK_STREAM;
import static io.jublk.uapi.LinuxUapi.SOL_SOCKET;
import static io.jublk.uapi.LinuxUapi.SO_SNDBUF;
import static io.jublk.uapi.LinuxUapi.TCP_NODELAY;

import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.SockaddrIn;
import io.jublk.uapi.SockaddrUn;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;

/**
 * What a {@link WireTarget} connects with: its own stream socket, not connected yet (the target connects it through
 * the ring), the sockaddr of a listening peer, and that peer's listening socket, for a {@link WirePeer}.
 */
public record Wire(Fd fd, MemorySegment address, int addressLength, ServerSocketChannel server) {
    /** TCP on the loopback address, on a port the kernel picks. */
    public static Wire tcp(Arena arena) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        MemorySegment addr = arena.allocate(SockaddrIn.LAYOUT);
        SockaddrIn.write(addr, INADDR_LOOPBACK, ((InetSocketAddress) server.getLocalAddress()).getPort());
        Fd fd = socket(AF_INET);
        // As a block device's client must: Nagle would hold a payload back until the header before it is
        // acknowledged, 40 ms of delayed ACK per WRITE.
        LibC.rawSetsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, 1);
        return new Wire(fd, addr, (int) SockaddrIn.SIZE, server);
    }

    /** A Unix socket at {@code path}. */
    public static Wire unix(Arena arena, Path path) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                .bind(UnixDomainSocketAddress.of(path));
        MemorySegment addr = arena.allocate(SockaddrUn.LAYOUT);
        int len = SockaddrUn.write(addr, path.toString());
        return new Wire(socket(AF_UNIX), addr, len, server);
    }

    private static Fd socket(int domain) {
        Fd fd = Fd.adopt(NativeException.check(LibC.rawSocket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"),
                "socket");
        // Smaller than a 128 KiB payload, so sends come back short. TCP gets more: with less, each window waits
        // for the peer's delayed acknowledgement, and a test for seconds.
        LibC.rawSetsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, domain == AF_INET ? 64 * 1024 : 16 * 1024);
        return fd;
    }
}
