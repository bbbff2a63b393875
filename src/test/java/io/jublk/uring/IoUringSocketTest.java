package io.jublk.uring;

import static io.jublk.uapi.IoUringUapi.IORING_CQE_F_MORE;
import static io.jublk.uapi.IoUringUapi.IORING_CQE_F_NOTIF;
import static io.jublk.uapi.IoUringUapi.IORING_OP_RECV;
import static io.jublk.uapi.IoUringUapi.IORING_OP_SEND;
import static io.jublk.uapi.IoUringUapi.IORING_OP_SEND_ZC;
import static io.jublk.uapi.LinuxUapi.AF_INET;
import static io.jublk.uapi.LinuxUapi.AF_UNIX;
import static io.jublk.uapi.LinuxUapi.INADDR_LOOPBACK;
import static io.jublk.uapi.LinuxUapi.MSG_WAITALL;
import static io.jublk.uapi.LinuxUapi.POLLIN;
import static io.jublk.uapi.LinuxUapi.SOCK_CLOEXEC;
import static io.jublk.uapi.LinuxUapi.SOCK_STREAM;
import static io.jublk.uapi.LinuxUapi.SOL_SOCKET;
import static io.jublk.uapi.LinuxUapi.SO_SNDBUF;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
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
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine's socket operations against real sockets on loopback: connect, send, recv, zero copy, poll. */
class IoUringSocketTest {
    @TempDir
    Path dir;

    /** A connected TCP pair: {@code fd} is ours (connected through the ring), {@code peer} the accepted side. */
    record Tcp(Fd fd, SocketChannel peer) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            fd.close();
            peer.close();
        }
    }

    static Fd socket(int domain) {
        return Fd.adopt(NativeException.check(LibC.rawSocket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"),
                "socket");
    }

    /** Connects a new socket of ours to {@code server} with IORING_OP_CONNECT. */
    static Tcp connect(IoUring ring, Arena arena, ServerSocketChannel server) throws IOException {
        Fd fd = socket(AF_INET);
        MemorySegment addr = arena.allocate(SockaddrIn.LAYOUT);
        SockaddrIn.write(addr, INADDR_LOOPBACK, ((InetSocketAddress) server.getLocalAddress()).getPort());
        ring.next().connect(fd.get(), addr.address(), (int) SockaddrIn.SIZE).userData(1);
        assertEquals(0, IoUringTest.await(ring, 1).only()[1], "connect");
        return new Tcp(fd, server.accept());
    }

    static ServerSocketChannel listen() throws IOException {
        return ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] readFully(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                throw new IOException("peer closed after " + b.position() + " of " + n);
            }
        }
        return b.array();
    }

    /**
     * A send larger than the socket takes at once comes back short without MSG_WAITALL, and the sender continues
     * it from where it stopped; the peer gets every byte, in order.
     */
    @Test
    void aShortSendIsContinuedByTheSender() throws Exception {
        int size = 8 << 20;
        byte[] data = random(size, 1);
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8); ServerSocketChannel server = listen();
                Tcp tcp = connect(ring, arena, server)) {
            LibC.rawSetsockopt(tcp.fd().get(), SOL_SOCKET, SO_SNDBUF, 64 << 10);
            MemorySegment out = arena.allocate(size);
            MemorySegment.copy(data, 0, out, JAVA_BYTE, 0, size);
            Thread reader = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(100); // let the first send find the socket buffer small
                    assertArrayEquals(data, readFully(tcp.peer(), size));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            int done = 0;
            int sends = 0;
            while (done < size) {
                ring.next().send(tcp.fd().get(), out.address() + done, size - done).userData(2);
                int res = (int) IoUringTest.await(ring, 1).only()[1];
                assertTrue(res > 0, "send: " + Errno.name(res));
                done += res;
                sends++;
            }
            reader.join();
            assertTrue(sends > 1, "8 MiB into a 64 KiB send buffer came back short at least once");
        }
    }

    /** A receive returns what has arrived; MSG_WAITALL makes the kernel wait for all of it. */
    @Test
    void aRecvReturnsWhatArrivedUnlessItWaitsForAll() throws Exception {
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8); ServerSocketChannel server = listen();
                Tcp tcp = connect(ring, arena, server)) {
            MemorySegment in = arena.allocate(100);
            tcp.peer().write(ByteBuffer.wrap(random(30, 2)));
            ring.next().recv(tcp.fd().get(), in.address(), 100).userData(3);
            assertEquals(30, IoUringTest.await(ring, 1).only()[1], "short: what had arrived");

            ring.next().recv(tcp.fd().get(), in.address(), 100).msgFlags(MSG_WAITALL).userData(4);
            ring.submit();
            for (int i = 0; i < 4; i++) {
                tcp.peer().write(ByteBuffer.wrap(random(25, 3 + i)));
                Thread.sleep(20);
            }
            assertEquals(100, IoUringTest.await(ring, 1).only()[1], "MSG_WAITALL: all four pieces");
            assertArrayEquals(random(25, 6), in.asSlice(75, 25).toArray(JAVA_BYTE));
        }
    }

    /** A peer that closes: a receive completes with 0 (end of stream), and sending then fails. */
    @Test
    void aPeerThatClosesEndsTheStream() throws Exception {
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8); ServerSocketChannel server = listen();
                Tcp tcp = connect(ring, arena, server)) {
            MemorySegment buf = arena.allocate(4096);
            ring.next().recv(tcp.fd().get(), buf.address(), 4096).userData(5);
            ring.submit();
            tcp.peer().close();
            assertEquals(0, IoUringTest.await(ring, 1).only()[1], "end of stream");
            int res = 1;
            for (int i = 0; i < 10 && res > 0; i++) {
                ring.next().send(tcp.fd().get(), buf.address(), 4096).userData(6);
                res = (int) IoUringTest.await(ring, 1).only()[1];
            }
            assertTrue(res == -Errno.EPIPE || res == -Errno.ECONNRESET, "send to a closed peer: " + Errno.name(res));
        }
    }

    @Test
    void connectingToAPortNobodyListensOnIsRefused() throws Exception {
        int port;
        try (ServerSocketChannel s = listen()) {
            port = ((InetSocketAddress) s.getLocalAddress()).getPort();
        }
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8); Fd fd = socket(AF_INET)) {
            MemorySegment addr = arena.allocate(SockaddrIn.LAYOUT);
            SockaddrIn.write(addr, INADDR_LOOPBACK, port);
            ring.next().connect(fd.get(), addr.address(), (int) SockaddrIn.SIZE).userData(7);
            assertEquals(-Errno.ECONNREFUSED, IoUringTest.await(ring, 1).only()[1]);
        }
    }

    /**
     * SEND and RECV from and into a registered buffer (IORING_RECVSEND_FIXED_BUF) where the kernel takes it, and
     * SEND_ZC from one: its result first, flagged MORE, then the notification that the buffer is free.
     */
    @Test
    void fixedBuffersAndZeroCopySend() throws Exception {
        int size = 1 << 20;
        byte[] data = random(size, 8);
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8); ServerSocketChannel server = listen();
                Tcp tcp = connect(ring, arena, server)) {
            MemorySegment buffers = arena.allocate(2L * size, 4096);
            ring.registerBuffers(buffers);
            MemorySegment out = buffers.asSlice(0, size);
            MemorySegment in = buffers.asSlice(size, size);
            MemorySegment.copy(data, 0, out, JAVA_BYTE, 0, size);
            assertTrue(ring.recvSendFixedBufferSupported(IORING_OP_SEND_ZC), "since SEND_ZC came (6.0)");
            // 7.3 takes fixed buffers on SEND and RECV too, 6.18 does not: the host may be either.
            boolean sendRecvFixed = ring.recvSendFixedBufferSupported(IORING_OP_SEND);
            assertEquals(sendRecvFixed, ring.recvSendFixedBufferSupported(IORING_OP_RECV));
            Thread echo = Thread.ofPlatform().start(() -> {
                try {
                    for (int round = 0; round < 2; round++) {
                        tcp.peer().write(ByteBuffer.wrap(readFully(tcp.peer(), size)));
                    }
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });

            IoUring.Sqe sqe = ring.next();
            sqe.send(tcp.fd().get(), out.address(), size).msgFlags(MSG_WAITALL).userData(10);
            if (sendRecvFixed) {
                sqe.fixedBuffer(0);
            }
            sqe = ring.next();
            sqe.recv(tcp.fd().get(), in.address(), size).msgFlags(MSG_WAITALL).userData(11);
            if (sendRecvFixed) {
                sqe.fixedBuffer(0);
            }
            List<long[]> cqes = IoUringTest.await(ring, 2).cqes;
            assertEquals(List.of(size, size), cqes.stream().map(c -> (int) c[1]).toList());
            assertArrayEquals(data, in.toArray(JAVA_BYTE));

            in.fill((byte) 0);
            sqe = ring.next();
            sqe.sendZc(tcp.fd().get(), out.address(), size).msgFlags(MSG_WAITALL).userData(12);
            sqe.fixedBuffer(0);
            List<long[]> zc = IoUringTest.await(ring, 2).cqes;
            assertEquals(size, zc.get(0)[1]);
            assertTrue((zc.get(0)[2] & IORING_CQE_F_MORE) != 0, "a notification follows");
            assertEquals(12, zc.get(1)[0]);
            assertTrue((zc.get(1)[2] & IORING_CQE_F_NOTIF) != 0, "the notification");
            ring.next().recv(tcp.fd().get(), in.address(), size).msgFlags(MSG_WAITALL).userData(13);
            assertEquals(size, IoUringTest.await(ring, 1).only()[1]);
            assertArrayEquals(data, in.toArray(JAVA_BYTE));
            echo.join();
        }
    }

    /** Unix sockets: CONNECT by path, SEND; SEND_ZC is not for them (EOPNOTSUPP); POLL_ADD sees data arrive. */
    @Test
    void unixSocketsConnectSendAndPollButDoNotZeroCopy() throws Exception {
        Path path = dir.resolve("s");
        try (Arena arena = Arena.ofShared(); IoUring ring = IoUring.open(8);
                ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                        .bind(UnixDomainSocketAddress.of(path));
                Fd fd = socket(AF_UNIX)) {
            MemorySegment addr = arena.allocate(SockaddrUn.LAYOUT);
            int len = SockaddrUn.write(addr, path.toString());
            ring.next().connect(fd.get(), addr.address(), len).userData(20);
            assertEquals(0, IoUringTest.await(ring, 1).only()[1], "connect");
            try (SocketChannel peer = server.accept()) {
                MemorySegment buf = arena.allocate(64);
                buf.fill((byte) 7);
                ring.next().send(fd.get(), buf.address(), 64).userData(21);
                assertEquals(64, IoUringTest.await(ring, 1).only()[1]);
                assertArrayEquals(buf.toArray(JAVA_BYTE), readFully(peer, 64));

                ring.next().sendZc(fd.get(), buf.address(), 64).userData(22);
                List<long[]> zc = IoUringTest.await(ring, 1).cqes;
                assertEquals(-Errno.EOPNOTSUPP, zc.get(0)[1]);
                // Even the failed one says MORE, and its notification follows (io_sendrecv_fail): wait for it.
                assertTrue((zc.get(0)[2] & IORING_CQE_F_MORE) != 0);
                if (zc.size() == 1) {
                    zc = IoUringTest.await(ring, 1).cqes;
                }
                assertTrue((zc.getLast()[2] & IORING_CQE_F_NOTIF) != 0);

                ring.next().pollAdd(fd.get(), POLLIN).userData(23);
                ring.submit();
                Thread.sleep(50);
                assertEquals(0, ring.ready(), "nothing to read yet");
                peer.write(ByteBuffer.wrap(new byte[] {1}));
                long[] poll = IoUringTest.await(ring, 1).only();
                assertEquals(23, poll[0]);
                assertTrue((poll[1] & POLLIN) != 0, "POLLIN: " + poll[1]);
            }
        }
    }
}
