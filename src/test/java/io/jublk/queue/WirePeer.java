package io.jublk.queue;

import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * The other end of {@link WireTarget}: a disk in a byte array behind one accepted connection, on its own thread.
 * It can make the target's life hard the way a network does: replies written in small pieces with pauses between
 * them (the target's receives come back short), a slow start (the target's large sends fill the socket and come
 * back short), and an end after a number of requests (it closes the connection).
 */
public final class WirePeer implements AutoCloseable {
    private final ServerSocketChannel server;
    private final byte[] disk;
    private final boolean chop;
    private final int closeAfter;
    private final Thread thread;
    private volatile Throwable failure;
    private volatile int served;
    private volatile SocketChannel client;

    /**
     * @param chop       write each reply in pieces of 1 byte to 16 KiB, with short pauses now and then
     * @param closeAfter close the connection after this many requests (Integer.MAX_VALUE: never)
     */
    public WirePeer(ServerSocketChannel server, long size, boolean chop, int closeAfter) {
        this.server = server;
        this.disk = new byte[Math.toIntExact(size)];
        this.chop = chop;
        this.closeAfter = closeAfter;
        this.thread = Thread.ofPlatform().name("wire-peer").start(this::serve);
    }

    public byte[] disk() {
        return disk;
    }

    public int served() {
        return served;
    }

    private void serve() {
        try (SocketChannel c = server.accept()) {
            client = c;
            ByteBuffer header = ByteBuffer.allocate(WireTarget.HEADER).order(ByteOrder.nativeOrder());
            // A slow start: the target's first sends meet a full socket.
            LockSupport.parkNanos(50_000_000);
            while (served < closeAfter) {
                header.clear();
                if (!readFully(c, header)) {
                    return;
                }
                long handle = header.getLong(0);
                int op = header.getInt(8);
                int length = header.getInt(12);
                int offset = Math.toIntExact(header.getLong(16));
                ByteBuffer reply = ByteBuffer.allocate(WireTarget.REPLY + (op == Ublk.UBLK_IO_OP_READ ? length : 0))
                        .order(ByteOrder.nativeOrder());
                reply.putLong(handle).putInt(0).putInt(length);
                switch (op) {
                    case Ublk.UBLK_IO_OP_WRITE -> {
                        ByteBuffer data = ByteBuffer.wrap(disk, offset, length);
                        if (!readFully(c, data)) {
                            return;
                        }
                    }
                    case Ublk.UBLK_IO_OP_READ -> reply.put(disk, offset, length);
                    default -> { }
                }
                reply.flip();
                write(c, reply);
                served++;
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    private void write(SocketChannel c, ByteBuffer b) throws IOException {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        while (b.hasRemaining()) {
            if (chop) {
                ByteBuffer piece = b.slice().limit(Math.min(b.remaining(), 1 + rnd.nextInt(16 * 1024)));
                c.write(piece);
                b.position(b.position() + piece.position());
                if (rnd.nextInt(4) == 0) {
                    LockSupport.parkNanos(rnd.nextInt(100_000));
                }
            } else {
                c.write(b);
            }
        }
    }

    private static boolean readFully(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                return false;
            }
        }
        return true;
    }

    /** Waits for the peer's thread and rethrows what went wrong on it. */
    @Override
    public void close() throws Exception {
        server.close();
        SocketChannel c = client;
        if (c != null) {
            c.close();
        }
        thread.join(10_000);
        if (failure != null && !(failure instanceof java.nio.channels.AsynchronousCloseException)) {
            throw new AssertionError("the peer failed", failure);
        }
    }
}
