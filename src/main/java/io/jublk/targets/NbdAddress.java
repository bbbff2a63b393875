package io.jublk.targets;

import io.jublk.spi.ConfigException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.SockaddrIn;
import io.jublk.uapi.SockaddrUn;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Where an NBD server listens: a Unix socket's path, or a host and TCP port. A host name is resolved on every
 * connect (a server that moved is found again after a reconnect).
 *
 * @param socket the Unix socket's path, or null
 * @param host   the host (name or IPv4 address), or null
 * @param port   the TCP port
 */
public record NbdAddress(String socket, String host, int port) {
    public NbdAddress {
        if ((socket == null) == (host == null)) {
            throw new ConfigException("give the NBD server as --socket PATH or as --host HOST, one of them");
        }
        if (socket != null && socket.getBytes(StandardCharsets.UTF_8).length
                >= SockaddrUn.MAX_PATH) {
            throw new ConfigException("--socket " + socket + ": a Unix socket's path has at most "
                    + (SockaddrUn.MAX_PATH - 1) + " bytes");
        }
        if (port < 1 || port > 65535) {
            throw new ConfigException("--port must be between 1 and 65535, not " + port);
        }
    }

    public boolean unix() {
        return socket != null;
    }

    /** AF_UNIX or AF_INET. */
    int family() {
        return unix() ? LinuxUapi.AF_UNIX : LinuxUapi.AF_INET;
    }

    /** Writes the sockaddr to connect to into memory of {@code arena}; returns it, sized to its length. */
    MemorySegment sockaddr(Arena arena) {
        if (unix()) {
            MemorySegment s = arena.allocate(SockaddrUn.LAYOUT);
            return s.asSlice(0, SockaddrUn.write(s, socket));
        }
        MemorySegment s = arena.allocate(SockaddrIn.LAYOUT);
        SockaddrIn.write(s, ipv4(), port);
        return s;
    }

    private int ipv4() {
        InetAddress[] all;
        try {
            all = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new ConfigException("--host " + host + ": no such host");
        }
        for (InetAddress a : all) {
            if (a instanceof Inet4Address v4) {
                return ByteBuffer.wrap(v4.getAddress()).getInt();
            }
        }
        throw new ConfigException("--host " + host + " has no IPv4 address (jublk's nbd target connects over IPv4 "
                + "or a Unix socket)");
    }

    @Override
    public String toString() {
        return unix() ? "unix:" + socket : host + ":" + port;
    }
}
