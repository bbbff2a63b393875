package io.jublk.targets;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server written for the tests that need one to misbehave on purpose (real servers do not): on a Unix socket,
 * the fixed newstyle handshake with NBD_OPT_GO, then simple replies from memory, one connection at a time. Its
 * {@link Mode} says what it gets wrong, and only on the first connection; the ones after behave.
 */
final class FakeNbdServer implements AutoCloseable {
    enum Mode {
        /** Another protocol on the socket: an SSH server's greeting. */
        SSH,
        /** Replies to the first READ with a handle nobody sent. */
        UNKNOWN_HANDLE,
        /** Sends the first READ's reply header and half its data, then closes the connection (twice). */
        SHORT_READ,
        /** Says nothing at all. */
        SILENT
    }

    private final ServerSocketChannel listener;
    private final Mode mode;
    private final byte[] disk;
    private final Thread thread;
    final AtomicInteger connections = new AtomicInteger();
    private volatile boolean closed;

    FakeNbdServer(Path socket, Mode mode, int size) throws IOException {
        Files.deleteIfExists(socket);
        this.listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(socket));
        this.mode = mode;
        this.disk = new byte[size];
        for (int i = 0; i < size; i++) {
            disk[i] = (byte) (i * 7 + (i >> 9));
        }
        thread = Thread.ofPlatform().daemon().name("fake-nbd").start(this::serve);
    }

    byte[] disk() {
        return disk;
    }

    private void serve() {
        while (!closed) {
            try (SocketChannel c = listener.accept()) {
                int n = connections.incrementAndGet();
                session(c, n == 1 || (n == 2 && mode == Mode.SHORT_READ) ? mode : null);
            } catch (IOException | RuntimeException e) {
                // the client went away, or close(): next connection
            }
        }
    }

    private void session(SocketChannel c, Mode bad) throws IOException {
        if (bad == Mode.SSH) {
            c.write(ByteBuffer.wrap("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".getBytes(StandardCharsets.US_ASCII)));
            read(c, 1);
            return;
        }
        if (bad == Mode.SILENT) {
            read(c, 1);
            return;
        }
        ByteBuffer hello = ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.NBD_FLAG_FIXED_NEWSTYLE | Nbd.NBD_FLAG_NO_ZEROES)).flip();
        c.write(hello);
        read(c, 4);
        while (true) {
            ByteBuffer opt = read(c, 16);
            opt.getLong();
            int option = opt.getInt();
            int len = opt.getInt();
            read(c, len);
            if (option != Nbd.NBD_OPT_GO) {
                optReply(c, option, Nbd.NBD_REP_ERR_UNSUP, ByteBuffer.allocate(0));
                continue;
            }
            short flags = (short) (Nbd.NBD_FLAG_HAS_FLAGS | Nbd.NBD_FLAG_SEND_FLUSH);
            optReply(c, option, Nbd.NBD_REP_INFO, ByteBuffer.allocate(12).putShort((short) Nbd.NBD_INFO_EXPORT)
                    .putLong(disk.length).putShort(flags).flip());
            optReply(c, option, Nbd.NBD_REP_ACK, ByteBuffer.allocate(0));
            break;
        }
        while (true) {
            ByteBuffer req = read(c, Nbd.REQUEST_BYTES);
            req.getInt();
            req.getShort();
            int type = req.getShort();
            long handle = req.getLong();
            int offset = (int) req.getLong();
            int length = req.getInt();
            if (type == Nbd.NBD_CMD_DISC) {
                return;
            }
            if (type == Nbd.NBD_CMD_WRITE) {
                read(c, length).get(disk, offset, length);
            }
            if (type == Nbd.NBD_CMD_READ && bad == Mode.UNKNOWN_HANDLE) {
                handle ^= 0x5a5a_0000_0000L;
                bad = null;
            }
            ByteBuffer reply = ByteBuffer.allocate(Nbd.SIMPLE_REPLY_BYTES + (type == Nbd.NBD_CMD_READ ? length : 0))
                    .putInt(Nbd.NBD_SIMPLE_REPLY_MAGIC).putInt(0).putLong(handle);
            if (type == Nbd.NBD_CMD_READ) {
                reply.put(disk, offset, length);
            }
            reply.flip();
            if (type == Nbd.NBD_CMD_READ && bad == Mode.SHORT_READ) {
                reply.limit(Nbd.SIMPLE_REPLY_BYTES + length / 2);
                write(c, reply);
                return;
            }
            write(c, reply);
        }
    }

    private static void optReply(SocketChannel c, int option, int type, ByteBuffer data) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type)
                .putInt(data.remaining()).flip();
        write(c, h);
        write(c, data);
    }

    private static void write(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private static ByteBuffer read(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                throw new IOException("closed");
            }
        }
        return b.flip();
    }

    @Override
    public void close() throws Exception {
        closed = true;
        listener.close();
        thread.join(5000);
    }
}
