package io.jublk.targets;

import static io.jublk.targets.Nbd.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.jublk.spi.ConfigException;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Syscalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.time.Duration;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * The NBD handshake, blocking, on a socket of its own: connect, the fixed newstyle negotiation, NBD_OPT_GO with an
 * NBD_INFO_BLOCK_SIZE request (NBD_OPT_EXPORT_NAME where the server has no GO), and the export it ends in. Done at
 * `ublk add` (once per connection) and on a reconnect, on a thread that may wait; the transmission phase then runs
 * on a queue's ring. Every wait is bounded by one deadline, so a server that says nothing, or something else,
 * costs at most that long.
 *
 * <p>With {@link NbdTls}, NBD_OPT_STARTTLS follows the greeting, then the TLS handshake, and the options are
 * negotiated again inside TLS (the protocol forgets everything said before it); the socket then goes to an
 * {@link NbdTlsRelay}, and the connection's socket is the queue's end of the relay.
 *
 * <p>Whatever goes wrong becomes a {@link ConfigException} of one line that names the server: no server, an export
 * it refuses, TLS it requires, another protocol on the port.
 */
public final class NbdHandshake {
    private static final ValueLayout.OfLong BE_LONG = JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE_SHORT = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    /** The most of an option reply's data read into memory; the rest is skipped. */
    private static final int MAX_REPLY_DATA = 64 * 1024;
    /** A TLS record and its plain text fit (16 KiB and its overhead); twice that, and records can queue. */
    private static final int TLS_BUFFER = 64 * 1024;

    /**
     * The export a handshake ended in.
     *
     * @param size           bytes
     * @param flags          NBD_FLAG_* transmission flags
     * @param minBlock       the server's minimum block size (1 if it gave none)
     * @param preferredBlock its preferred block size (4096 if it gave none)
     * @param maxPayload     the largest READ or WRITE payload it takes
     */
    public record Export(long size, int flags, int minBlock, int preferredBlock, int maxPayload) {
        public boolean has(int flag) {
            return (flags & flag) != 0;
        }
    }

    /** A socket in the transmission phase (blocking, TCP_NODELAY for TCP) and its export. The socket is the caller's. */
    public record Connected(Fd socket, Export export) implements AutoCloseable {
        @Override
        public void close() {
            socket.close();
        }
    }

    private final NbdAddress address;
    private final String exportName;
    private final long deadline;
    private final Duration timeout;
    private final NbdTls tls;
    /** TLS, once STARTTLS was accepted: the engine, what came from the socket not yet unwrapped (fill mode), and
     *  what was unwrapped not yet read (read mode). */
    private SSLEngine engine;
    private ByteBuffer netIn;
    private MemorySegment netInMem;
    private MemorySegment tlsOutMem;
    private boolean tlsEstablished;
    /** The bytes of the last option reply's data kept in {@link #buf}. */
    private int replyData;
    private ByteBuffer plainIn;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(MAX_REPLY_DATA, 8);
    private final MemorySegment pollFd = arena.allocate(8, 4);
    private Fd fd;

    private NbdHandshake(NbdAddress address, String exportName, Duration timeout, NbdTls tls) {
        this.address = address;
        this.tls = tls;
        this.exportName = exportName;
        this.timeout = timeout;
        this.deadline = System.nanoTime() + timeout.toNanos();
    }

    /**
     * Connects to {@code address} and negotiates {@code exportName} ("" for the server's default export), all within
     * {@code timeout}.
     */
    public static Connected connect(NbdAddress address, String exportName, Duration timeout) {
        return connect(address, exportName, timeout, null);
    }

    /** As {@link #connect(NbdAddress, String, Duration)}, over TLS when {@code tls} is not null. */
    public static Connected connect(NbdAddress address, String exportName, Duration timeout, NbdTls tls) {
        NbdHandshake h = new NbdHandshake(address, exportName, timeout, tls);
        try {
            Export e = h.run();
            Fd socket = h.fd;
            h.fd = null;
            if (h.engine != null) {
                if (h.plainIn.hasRemaining()) {
                    throw new ConfigException(h.server() + " broke the protocol: it sent data after its reply to "
                            + "NBD_OPT_GO");
                }
                byte[] leftover = new byte[h.netIn.position()];
                h.netIn.flip().get(leftover);
                int s = NbdTlsRelay.start(h.engine, socket.release(), leftover, address.toString());
                if (s < 0) {
                    throw new ConfigException("cannot make a socket pair for TLS to " + h.server() + ": " + errno(s));
                }
                socket = Fd.adopt(s, "NBD over TLS to " + address);
            }
            return new Connected(socket, e);
        } finally {
            if (h.fd != null) {
                h.fd.close();
            }
            h.arena.close();
        }
    }

    private String server() {
        return "the NBD server at " + address;
    }

    private String export() {
        return exportName.isEmpty() ? "the default export" : "export '" + exportName + "'";
    }

    private Export run() {
        open();
        readFully(16, "its greeting");
        long magic = buf.get(BE_LONG, 0);
        long second = buf.get(BE_LONG, 8);
        if (magic != NBDMAGIC) {
            throw new ConfigException(address + " is not an NBD server: it began with " + printable(16)
                    + " (an NBD server begins with NBDMAGIC)");
        }
        if (second == CLISERV_MAGIC) {
            throw new ConfigException(server() + " speaks the oldstyle handshake, which jublk does not (NBD servers "
                    + "use the newstyle one since 2.9.17; on nbd-server, drop 'oldstyle')");
        }
        if (second != IHAVEOPT) {
            throw new ConfigException(address + " is not an NBD server: after NBDMAGIC it sent 0x"
                    + Long.toHexString(second) + ", not IHAVEOPT");
        }
        readFully(2, "its handshake flags");
        int serverFlags = Short.toUnsignedInt(buf.get(BE_SHORT, 0));
        boolean fixed = (serverFlags & NBD_FLAG_FIXED_NEWSTYLE) != 0;
        boolean noZeroes = (serverFlags & NBD_FLAG_NO_ZEROES) != 0;
        buf.set(BE_INT, 0, (fixed ? NBD_FLAG_C_FIXED_NEWSTYLE : 0) | (noZeroes ? NBD_FLAG_C_NO_ZEROES : 0));
        writeFully(4);
        if (tls != null) {
            if (!fixed) {
                throw new ConfigException(server() + " does not speak the fixed newstyle handshake, so it cannot "
                        + "start TLS (leave out --tls)");
            }
            startTls();
        }
        Export e = fixed ? go() : null;
        if (e == null) {
            e = exportName(noZeroes);
        }
        finish();
        return e;
    }

    /** NBD_OPT_GO; null if the server does not know it (then NBD_OPT_EXPORT_NAME). */
    private Export go() {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        int len = 4 + name.length + 2 + 2;
        buf.set(BE_LONG, 0, IHAVEOPT);
        buf.set(BE_INT, 8, NBD_OPT_GO);
        buf.set(BE_INT, 12, len);
        buf.set(BE_INT, 16, name.length);
        MemorySegment.copy(name, 0, buf, JAVA_BYTE, 20, name.length);
        buf.set(BE_SHORT, 20 + name.length, (short) 1);
        buf.set(BE_SHORT, 22 + name.length, (short) NBD_INFO_BLOCK_SIZE);
        writeFully(16 + len);
        long size = -1;
        int flags = 0;
        int minBlock = 1;
        int preferred = 4096;
        int maxPayload = DEFAULT_MAX_PAYLOAD;
        while (true) {
            int type = optionReply(NBD_OPT_GO, "NBD_OPT_GO");
            int got = replyData;
            if (type == NBD_REP_ACK) {
                if (size < 0) {
                    throw new ConfigException(server() + " broke the protocol: it accepted " + export()
                            + " without saying its size (NBD_INFO_EXPORT)");
                }
                return new Export(size, flags, minBlock, preferred, maxPayload);
            }
            if (type == NBD_REP_INFO && got >= 2) {
                int info = Short.toUnsignedInt(buf.get(BE_SHORT, 0));
                if (info == NBD_INFO_EXPORT && got >= 12) {
                    size = buf.get(BE_LONG, 2);
                    flags = Short.toUnsignedInt(buf.get(BE_SHORT, 10));
                } else if (info == NBD_INFO_BLOCK_SIZE && got >= 14) {
                    minBlock = buf.get(BE_INT, 2);
                    preferred = buf.get(BE_INT, 6);
                    maxPayload = buf.get(BE_INT, 10);
                }
                continue;
            }
            if (type == NBD_REP_ERR_UNSUP) {
                return null;
            }
            if ((type & NBD_REP_FLAG_ERROR) == 0) {
                continue; // a reply this client did not ask for: ignored, as the protocol says
            }
            String message = got > 0 ? ": " + buf.asSlice(0, got).getString(0, StandardCharsets.UTF_8).strip() : "";
            throw new ConfigException(switch (type) {
                case NBD_REP_ERR_UNKNOWN -> server() + " has no " + export() + message;
                case NBD_REP_ERR_TLS_REQD -> server() + " requires TLS for " + export() + ": add --tls (and "
                        + "--tls-ca FILE with the authority that signed its certificate)" + message;
                case NBD_REP_ERR_SHUTDOWN -> server() + " is shutting down" + message;
                default -> server() + " refused " + export() + " (" + replyName(type) + ")" + message;
            });
        }
    }

    /** NBD_OPT_EXPORT_NAME: the old way in, where a refusal is only the connection closing. */
    private Export exportName(boolean noZeroes) {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        buf.set(BE_LONG, 0, IHAVEOPT);
        buf.set(BE_INT, 8, NBD_OPT_EXPORT_NAME);
        buf.set(BE_INT, 12, name.length);
        MemorySegment.copy(name, 0, buf, JAVA_BYTE, 16, name.length);
        writeFully(16 + name.length);
        readFully(noZeroes ? 10 : 10 + 124, "its reply to NBD_OPT_EXPORT_NAME (it closes the connection if it has "
                + "no " + export() + ")");
        return new Export(buf.get(BE_LONG, 0), Short.toUnsignedInt(buf.get(BE_SHORT, 8)), 1, 4096,
                DEFAULT_MAX_PAYLOAD);
    }

    /**
     * Reads one reply to {@code option} (named {@code name}): its header, checked, and its data ({@link #readData},
     * whose length kept in memory goes to {@link #replyData}); returns the reply's type.
     */
    private int optionReply(int option, String name) {
        readFully(20, "its reply to " + name);
        long magic = buf.get(BE_LONG, 0);
        int replyTo = buf.get(BE_INT, 8);
        int type = buf.get(BE_INT, 12);
        long length = Integer.toUnsignedLong(buf.get(BE_INT, 16));
        if (magic != OPTION_REPLY_MAGIC || replyTo != option) {
            throw new ConfigException(server() + " broke the protocol: its reply to " + name + " has magic 0x"
                    + Long.toHexString(magic) + " for option " + replyTo);
        }
        replyData = readData(length);
        return type;
    }

    /** Reads an option reply's data: up to {@link #MAX_REPLY_DATA} bytes into the buffer, the rest skipped. */
    private int readData(long length) {
        int keep = (int) Math.min(length, MAX_REPLY_DATA);
        readFully(keep, "an option reply's data");
        for (long skip = length - keep; skip > 0; ) {
            int n = (int) Math.min(skip, MAX_REPLY_DATA);
            readFully(n, "an option reply's data");
            skip -= n;
        }
        // What is kept is at the start of the buffer only if nothing was skipped after it.
        return length > MAX_REPLY_DATA ? 0 : keep;
    }

    // ---- the socket ------------------------------------------------------------------------------------------

    private void open() {
        int s = LibC.rawSocket(address.family(), LinuxUapi.SOCK_STREAM | LinuxUapi.SOCK_CLOEXEC
                | LinuxUapi.SOCK_NONBLOCK, 0);
        if (s < 0) {
            throw new ConfigException("cannot make a socket for " + server() + ": " + errno(s));
        }
        fd = Fd.adopt(s, "NBD socket to " + address);
        if (!address.unix()) {
            // A request header and its payload go out in separate sends: Nagle would hold the payload back until
            // the header is acknowledged.
            LibC.rawSetsockopt(s, LinuxUapi.IPPROTO_TCP, LinuxUapi.TCP_NODELAY, 1);
        }
        MemorySegment sa = address.sockaddr(arena);
        int r = LibC.rawConnect(s, sa, (int) sa.byteSize());
        while (r == -Errno.EINPROGRESS || r == -Errno.EALREADY || r == -Errno.EAGAIN || r == -Errno.EINTR) {
            await(LinuxUapi.POLLOUT, "connecting");
            // A second connect tells how the first ended: EISCONN when it succeeded, its error when not.
            r = LibC.rawConnect(s, sa, (int) sa.byteSize());
        }
        if (r < 0 && r != -Errno.EISCONN) {
            throw new ConfigException("cannot connect to " + server() + ": " + errno(r));
        }
    }

    /** The transmission phase runs on a ring: the socket becomes blocking again (the ring never waits in it). */
    private void finish() {
        int s = fd.get();
        int fl = Syscalls.rawFcntl(s, LinuxUapi.F_GETFL, 0);
        if (fl >= 0) {
            Syscalls.rawFcntl(s, LinuxUapi.F_SETFL, fl & ~LinuxUapi.O_NONBLOCK);
        }
    }

    private void readFully(int n, String what) {
        if (engine != null) {
            tlsReadFully(n, what);
            return;
        }
        int got = 0;
        while (got < n) {
            long r = LibC.rawRead(fd.get(), buf.asSlice(got, n - got), n - got);
            if (r > 0) {
                got += (int) r;
            } else if (r == 0) {
                throw new ConfigException(server() + " closed the connection instead of sending " + what);
            } else if (r == -Errno.EAGAIN || r == -Errno.EINTR) {
                await(LinuxUapi.POLLIN, "waiting for " + what);
            } else {
                throw new ConfigException("reading " + what + " from " + server() + ": " + errno((int) r));
            }
        }
    }

    private void writeFully(int n) {
        if (engine != null) {
            ByteBuffer src = buf.asSlice(0, n).asByteBuffer();
            while (src.hasRemaining()) {
                wrapAndSend(src);
            }
            return;
        }
        sendRaw(buf, n);
    }

    private void sendRaw(MemorySegment from, int n) {
        int sent = 0;
        while (sent < n) {
            long r = LibC.rawSend(fd.get(), from.asSlice(sent, n - sent), n - sent, LinuxUapi.MSG_NOSIGNAL);
            if (r >= 0) {
                sent += (int) r;
            } else if (r == -Errno.EAGAIN || r == -Errno.EINTR) {
                await(LinuxUapi.POLLOUT, "sending");
            } else {
                throw new ConfigException("sending to " + server() + ": " + errno((int) r) + afterTls());
            }
        }
    }

    // ---- TLS ---------------------------------------------------------------------------------------------------

    /** NBD_OPT_STARTTLS, then the TLS handshake; the options that follow go inside TLS. */
    private void startTls() {
        buf.set(BE_LONG, 0, IHAVEOPT);
        buf.set(BE_INT, 8, NBD_OPT_STARTTLS);
        buf.set(BE_INT, 12, 0);
        writeFully(16);
        while (true) {
            int type = optionReply(NBD_OPT_STARTTLS, "NBD_OPT_STARTTLS");
            int got = replyData;
            if (type == NBD_REP_ACK) {
                break;
            }
            if ((type & NBD_REP_FLAG_ERROR) == 0) {
                continue;
            }
            String message = got > 0 ? ": " + buf.asSlice(0, got).getString(0, StandardCharsets.UTF_8).strip() : "";
            throw new ConfigException(server() + " does not offer TLS (" + replyName(type) + "; leave out --tls)"
                    + message);
        }
        engine = tls.engine(address);
        netInMem = arena.allocate(TLS_BUFFER, 8);
        tlsOutMem = arena.allocate(TLS_BUFFER, 8);
        netIn = netInMem.asByteBuffer();
        plainIn = ByteBuffer.allocate(TLS_BUFFER).flip();
        try {
            engine.beginHandshake();
            ByteBuffer none = ByteBuffer.allocate(0);
            while (true) {
                switch (engine.getHandshakeStatus()) {
                    case NEED_WRAP -> wrapAndSend(none);
                    case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                        if (!unwrap()) {
                            receive("its TLS handshake");
                        }
                    }
                    case NEED_TASK -> runTasks();
                    case FINISHED, NOT_HANDSHAKING -> {
                        tlsEstablished = true;
                        return;
                    }
                }
            }
        } catch (SSLException e) {
            throw new ConfigException(tlsFailure(e));
        }
    }

    private String tlsFailure(SSLException e) {
        String m = String.valueOf(e.getMessage());
        String where = "TLS with " + server() + " failed: ";
        if (m.contains("PKIX") || m.contains("certification path")) {
            return where + "its certificate is not signed by an authority jublk trusts (give it with --tls-ca FILE)";
        }
        if (m.contains("No subject alternative") || m.contains("No name matching")) {
            return where + "its certificate is not for " + tls.hostname() + " (" + m
                    + "; --tls-hostname NAME checks another name)";
        }
        return where + m;
    }

    /** Unwraps one record from {@link #netIn} into {@link #plainIn}; false when more must be received first. */
    private boolean unwrap() throws SSLException {
        netIn.flip();
        plainIn.compact();
        SSLEngineResult r;
        try {
            r = engine.unwrap(netIn, plainIn);
        } finally {
            netIn.compact();
            plainIn.flip();
        }
        switch (r.getStatus()) {
            case BUFFER_UNDERFLOW -> {
                if (netIn.position() == netIn.capacity()) {
                    throw new ConfigException(server() + " sent a TLS record larger than " + TLS_BUFFER + " bytes");
                }
                return false;
            }
            case CLOSED -> throw new ConfigException(server() + " ended the TLS session during the handshake");
            case BUFFER_OVERFLOW -> throw new ConfigException(server() + " sent more than the handshake expected");
            case OK -> { }
        }
        if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
        }
        return true;
    }

    private void runTasks() {
        for (Runnable t; (t = engine.getDelegatedTask()) != null; ) {
            t.run();
        }
    }

    /** Wraps (part of) {@code src}, or a handshake message, and sends it. */
    private void wrapAndSend(ByteBuffer src) {
        ByteBuffer o = tlsOutMem.asByteBuffer();
        try {
            SSLEngineResult r = engine.wrap(src, o);
            if (r.getStatus() != SSLEngineResult.Status.OK) {
                throw new ConfigException("TLS with " + server() + ": the session ended (" + r.getStatus() + ")");
            }
            sendRaw(tlsOutMem, r.bytesProduced());
        } catch (SSLException e) {
            throw new ConfigException(tlsFailure(e));
        }
    }

    /** Receives from the socket into {@link #netIn} (a view of {@link #netInMem}). */
    private void receive(String what) {
        while (true) {
            int pos = netIn.position();
            long r = LibC.rawRead(fd.get(), netInMem.asSlice(pos, netIn.limit() - pos), netIn.limit() - pos);
            if (r > 0) {
                netIn.position(pos + (int) r);
                return;
            } else if (r == 0) {
                throw new ConfigException(server() + " closed the connection instead of sending " + what
                        + afterTls());
            } else if (r == -Errno.EAGAIN || r == -Errno.EINTR) {
                await(LinuxUapi.POLLIN, "waiting for " + what);
            } else {
                throw new ConfigException("reading " + what + " from " + server() + ": " + errno((int) r)
                        + afterTls());
            }
        }
    }

    /** A server that verifies its clients says no only after the handshake (TLS 1.3): by closing. */
    private String afterTls() {
        return tlsEstablished ? " (after the TLS handshake: a server that verifies its clients does this when it "
                + "refuses the client certificate, or gets none: see --tls-cert and --tls-key)" : "";
    }

    private void tlsReadFully(int n, String what) {
        int got = 0;
        try {
            while (got < n) {
                if (plainIn.hasRemaining()) {
                    int k = Math.min(n - got, plainIn.remaining());
                    MemorySegment.copy(plainIn.array(), plainIn.arrayOffset() + plainIn.position(), buf, JAVA_BYTE, got, k);
                    plainIn.position(plainIn.position() + k);
                    got += k;
                } else if (!unwrap()) {
                    receive(what);
                }
            }
        } catch (SSLException e) {
            throw new ConfigException(tlsFailure(e));
        }
    }

    /** Waits for {@code events} on the socket until the deadline. */
    private void await(int events, String doing) {
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new ConfigException(server() + ": nothing within " + timeout.toSeconds() + " s " + doing
                        + (doing.startsWith("waiting for its greeting") ? " (is it an NBD server?)" : ""));
            }
            pollFd.set(JAVA_INT, 0, fd.get());
            pollFd.set(JAVA_SHORT, 4, (short) events);
            pollFd.set(JAVA_SHORT, 6, (short) 0);
            int r = Syscalls.rawPoll(pollFd, 1, (int) Math.max(1, Math.min(left / 1_000_000, Integer.MAX_VALUE)));
            if (r > 0) {
                return;
            }
            if (r < 0 && r != -Errno.EINTR) {
                throw new ConfigException("poll on the socket to " + server() + ": " + errno(r));
            }
        }
    }

    private String printable(int n) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < n; i++) {
            int c = Byte.toUnsignedInt(buf.get(JAVA_BYTE, i));
            b.append(c >= 0x20 && c < 0x7f ? Character.toString(c) : String.format("\\x%02x", c));
        }
        return b.append('"').toString();
    }

    private static String errno(int negative) {
        return Errno.name(negative) + " (" + Errno.describe(negative) + ")";
    }
}
