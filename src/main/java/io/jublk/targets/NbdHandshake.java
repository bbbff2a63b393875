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
import java.time.Duration;

/**
 * The NBD handshake, blocking, on a socket of its own: connect, the fixed newstyle negotiation, NBD_OPT_GO with an
 * NBD_INFO_BLOCK_SIZE request (NBD_OPT_EXPORT_NAME where the server has no GO), and the export it ends in. Done at
 * `ublk add` (once per connection) and on a reconnect, on a thread that may wait; the transmission phase then runs
 * on a queue's ring. Every wait is bounded by one deadline, so a server that says nothing, or something else,
 * costs at most that long.
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
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(MAX_REPLY_DATA, 8);
    private final MemorySegment pollFd = arena.allocate(8, 4);
    private Fd fd;

    private NbdHandshake(NbdAddress address, String exportName, Duration timeout) {
        this.address = address;
        this.exportName = exportName;
        this.timeout = timeout;
        this.deadline = System.nanoTime() + timeout.toNanos();
    }

    /**
     * Connects to {@code address} and negotiates {@code exportName} ("" for the server's default export), all within
     * {@code timeout}.
     */
    public static Connected connect(NbdAddress address, String exportName, Duration timeout) {
        NbdHandshake h = new NbdHandshake(address, exportName, timeout);
        try {
            Export e = h.run();
            Fd socket = h.fd;
            h.fd = null;
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
            readFully(20, "its reply to NBD_OPT_GO");
            long magic = buf.get(BE_LONG, 0);
            int option = buf.get(BE_INT, 8);
            int type = buf.get(BE_INT, 12);
            long length = Integer.toUnsignedLong(buf.get(BE_INT, 16));
            if (magic != OPTION_REPLY_MAGIC || option != NBD_OPT_GO) {
                throw new ConfigException(server() + " broke the protocol: its reply to NBD_OPT_GO has magic 0x"
                        + Long.toHexString(magic) + " for option " + option);
            }
            int got = readData(length);
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
                case NBD_REP_ERR_TLS_REQD -> server() + " requires TLS for " + export() + ", which jublk's nbd "
                        + "target does not speak yet (serve it without TLS, e.g. on a Unix socket or 127.0.0.1)"
                        + message;
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
        int sent = 0;
        while (sent < n) {
            long r = LibC.rawSend(fd.get(), buf.asSlice(sent, n - sent), n - sent, LinuxUapi.MSG_NOSIGNAL);
            if (r >= 0) {
                sent += (int) r;
            } else if (r == -Errno.EAGAIN || r == -Errno.EINTR) {
                await(LinuxUapi.POLLOUT, "sending");
            } else {
                throw new ConfigException("sending to " + server() + ": " + errno((int) r));
            }
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
