package io.jublk.targets;

import io.jublk.sys.Errno;
import io.jublk.sys.LibC;
import io.jublk.uapi.LinuxUapi;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * One TLS connection's transmission phase: the queue's ring speaks plain NBD on one end of a Unix socket pair, and
 * two threads carry the bytes between the other end and the TLS socket to the server, through the connection's
 * {@link SSLEngine}: "up" reads what the queue sends and wraps it, "down" unwraps what the server sends and hands it
 * to the queue. (The kernel's NBD client does TLS the same way: nbd-client relays it in user space.)
 *
 * <p>It owns its end of the pair and the TLS socket, and ends on its own when either side ends: the queue closes or
 * shuts down its end (a lost connection, the device stopping) → a TLS close_notify to the server, then both
 * sockets shut; the server closes, resets or sends close_notify → the queue's end reads end-of-file, its usual sign of
 * a lost connection. The second thread to stop closes both descriptors.
 *
 * <p>Records are wrapped and sent under one lock (the up thread's data, the down thread's post-handshake replies
 * such as a TLS 1.3 KeyUpdate), so they leave in the order of their sequence numbers.
 */
final class NbdTlsRelay {
    private static final System.Logger LOG = System.getLogger(NbdTlsRelay.class.getName());
    /** Plain bytes read from the queue at a time (wrapped into records of at most 16 KiB each). */
    private static final int PLAIN = 256 * 1024;
    private static final int NET = 64 * 1024;

    private final SSLEngine engine;
    private final int net;
    private final int local;
    private final String name;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final AtomicInteger running = new AtomicInteger(2);
    private final byte[] leftover;

    /**
     * @param leftover bytes already received from the server and not yet unwrapped (records after the handshake)
     */
    private NbdTlsRelay(SSLEngine engine, int net, int local, byte[] leftover, String name) {
        this.engine = engine;
        this.net = net;
        this.local = local;
        this.leftover = leftover;
        this.name = name;
    }

    /**
     * Starts the relay for a TLS socket in the transmission phase (blocking); returns the queue's end of the pair,
     * the caller's to close. On failure (no socket pair) the TLS socket is closed and a negative errno returned.
     */
    static int start(SSLEngine engine, int netFd, byte[] leftover, String name) {
        int[] pair = new int[2];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sv = a.allocate(8, 4);
            int r = LibC.rawSocketpair(LinuxUapi.AF_UNIX, LinuxUapi.SOCK_STREAM | LinuxUapi.SOCK_CLOEXEC, 0, sv);
            if (r < 0) {
                LibC.rawClose(netFd);
                return r;
            }
            pair[0] = sv.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            pair[1] = sv.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 1);
        }
        NbdTlsRelay relay = new NbdTlsRelay(engine, netFd, pair[1], leftover, name);
        Thread.ofPlatform().daemon().name("nbd-tls-up " + name).start(relay::up);
        Thread.ofPlatform().daemon().name("nbd-tls-down " + name).start(relay::down);
        return pair[0];
    }

    /** The queue's bytes, wrapped, to the server. */
    private void up() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment plainSeg = a.allocate(PLAIN, 4096);
            MemorySegment netSeg = a.allocate(NET, 4096);
            ByteBuffer plain = plainSeg.asByteBuffer();
            ByteBuffer out = netSeg.asByteBuffer();
            while (!ended.get()) {
                long n = LibC.rawRead(local, plainSeg, PLAIN);
                if (n == -Errno.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    break; // the queue closed or shut down its end
                }
                plain.clear().limit((int) n);
                while (plain.hasRemaining()) {
                    if (!wrapAndSend(plain, out, netSeg)) {
                        return;
                    }
                }
            }
            // A polite end: close_notify, so the server sees the end of a session, not a truncation.
            engine.closeOutbound();
            plain.clear().limit(0);
            wrapAndSend(plain, out, netSeg);
        } catch (SSLException e) {
            LOG.log(Level.WARNING, "TLS to " + name + " failed while sending: " + e.getMessage());
        } finally {
            end();
        }
    }

    /** The server's records, unwrapped, to the queue. */
    private void down() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment netSeg = a.allocate(NET, 4096);
            MemorySegment plainSeg = a.allocate(NET, 4096);
            MemorySegment wrapSeg = a.allocate(NET, 4096);
            ByteBuffer in = netSeg.asByteBuffer();
            ByteBuffer plain = plainSeg.asByteBuffer();
            ByteBuffer wrapOut = wrapSeg.asByteBuffer();
            ByteBuffer empty = ByteBuffer.allocate(0);
            in.put(leftover);
            while (!ended.get()) {
                in.flip();
                plain.clear();
                SSLEngineResult r = engine.unwrap(in, plain);
                in.compact();
                if (r.bytesProduced() > 0 && !sendAll(local, plainSeg, r.bytesProduced())) {
                    return;
                }
                switch (r.getStatus()) {
                    case CLOSED -> {
                        return; // the server's close_notify
                    }
                    case BUFFER_OVERFLOW -> {
                        LOG.log(Level.WARNING, "TLS to " + name + ": a record larger than " + NET + " bytes");
                        return;
                    }
                    case BUFFER_UNDERFLOW -> {
                        if (!in.hasRemaining()) {
                            LOG.log(Level.WARNING, "TLS to " + name + ": a record larger than " + NET + " bytes");
                            return;
                        }
                        if (!receive(in, netSeg)) {
                            return;
                        }
                        continue;
                    }
                    case OK -> { }
                }
                SSLEngineResult.HandshakeStatus hs = r.getHandshakeStatus();
                while (hs == SSLEngineResult.HandshakeStatus.NEED_TASK
                        || hs == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                    if (hs == SSLEngineResult.HandshakeStatus.NEED_TASK) {
                        for (Runnable t; (t = engine.getDelegatedTask()) != null; ) {
                            t.run();
                        }
                    } else if (!wrapAndSend(empty, wrapOut, wrapSeg)) {
                        return;
                    }
                    hs = engine.getHandshakeStatus();
                }
                if (r.bytesConsumed() == 0 && r.bytesProduced() == 0 && !receive(in, netSeg)) {
                    return;
                }
            }
        } catch (SSLException e) {
            LOG.log(Level.WARNING, "TLS from " + name + " failed: " + e.getMessage());
        } finally {
            end();
        }
    }

    /** Reads what the server sent into {@code in} (in fill mode); false at its end. */
    private boolean receive(ByteBuffer in, MemorySegment seg) {
        while (true) {
            int pos = in.position();
            long n = LibC.rawRead(net, seg.asSlice(pos, in.limit() - pos), in.limit() - pos);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                if (n < 0 && !ended.get()) {
                    LOG.log(Level.INFO, "TLS from " + name + ": " + Errno.name((int) n));
                }
                return false;
            }
            in.position(pos + (int) n);
            return true;
        }
    }

    /** Wraps one record of {@code src} (or a handshake message) and sends it; false when the session is over. */
    private boolean wrapAndSend(ByteBuffer src, ByteBuffer out, MemorySegment outSeg) throws SSLException {
        sendLock.lock();
        try {
            out.clear();
            SSLEngineResult r = engine.wrap(src, out);
            if (r.bytesProduced() > 0 && !sendAll(net, outSeg, r.bytesProduced())) {
                return false;
            }
            return r.getStatus() == SSLEngineResult.Status.OK;
        } finally {
            sendLock.unlock();
        }
    }

    private boolean sendAll(int fd, MemorySegment seg, int len) {
        for (int off = 0; off < len; ) {
            long n = LibC.rawSend(fd, seg.asSlice(off, len - off), len - off, LinuxUapi.MSG_NOSIGNAL);
            if (n == -Errno.EINTR) {
                continue;
            }
            if (n < 0) {
                return false;
            }
            off += (int) n;
        }
        return true;
    }

    /** Either side ended: both sockets are shut (the other thread wakes); the last thread closes them. */
    private void end() {
        if (ended.compareAndSet(false, true)) {
            LibC.rawShutdown(net, LinuxUapi.SHUT_RDWR);
            LibC.rawShutdown(local, LinuxUapi.SHUT_RDWR);
        }
        if (running.decrementAndGet() == 0) {
            LibC.rawClose(net);
            LibC.rawClose(local);
        }
    }
}
