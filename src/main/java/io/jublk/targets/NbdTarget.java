package io.jublk.targets;

import io.jublk.spi.ConfigException;
import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Target;
import io.jublk.uapi.Ublk;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * A block device served by an NBD server (nbdkit, qemu-nbd, nbd-server…): the handshake is done once per connection
 * with {@link NbdHandshake}, blocking; the transmission phase runs on each queue's own io_uring ({@link NbdQueue}),
 * one connection per queue. Several queues only where the server allows several connections (CAN_MULTI_CONN:
 * a FLUSH on one then covers writes answered on all), one otherwise.
 *
 * <p>The export's flags become the device's: read-only, a volatile cache with FLUSH (SEND_FLUSH) and FUA
 * (SEND_FUA), discard (SEND_TRIM), write-zeroes (SEND_WRITE_ZEROES), rotational. Its block-size constraints
 * (NBD_INFO_BLOCK_SIZE) bound the logical block size and the largest request.
 *
 * <p>A lost connection does not fail requests: they are held and sent again once a new connection is made (tried
 * with backoff), and fail with EIO only when none could be made within {@link Config#timeout()}.
 */
public final class NbdTarget implements Target {
    private static final System.Logger LOG = System.getLogger(NbdTarget.class.getName());

    /** Largest DISCARD and WRITE_ZEROES: an NBD request's length is 32 bits. */
    static final int MAX_DISCARD_SECTORS = (1 << 30) >>> 9;
    /**
     * How long one connection attempt (connect and handshake) may take at most (less if --timeout is less). Generous:
     * a fresh daemon's first TLS handshake runs its key exchange in cold code, and under emulation beside a second
     * guest that took over 10 s.
     */
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);

    /**
     * What to connect to and how.
     *
     * @param address     the server
     * @param export      the export's name ("" for the server's default)
     * @param connections connections (= queues) asked for, or null for as many as the device's queues
     * @param timeout     how long requests are held while the server cannot be reached, and how long a request may
     *                    wait for its reply, before they fail
     * @param tls         TLS to the server, or null for none
     */
    public record Config(NbdAddress address, String export, Integer connections, Duration timeout, NbdTls tls) {
        public Config(NbdAddress address, String export, Integer connections, Duration timeout) {
            this(address, export, connections, timeout, null);
        }
    }

    private final Config config;
    private final NbdHandshake.Export export;
    private final int logicalBlockSize;
    private final long sizeBytes;
    /** The first connection, made at open; queue 0 takes it. */
    private final AtomicReference<NbdHandshake.Connected> first;
    final AtomicLong reconnects = new AtomicLong();
    final AtomicLong connectionLosses = new AtomicLong();
    final AtomicLong protocolErrors = new AtomicLong();

    private NbdTarget(Config config, NbdHandshake.Connected first, int logicalBlockSize) {
        this.config = config;
        this.export = first.export();
        this.first = new AtomicReference<>(first);
        this.logicalBlockSize = logicalBlockSize;
        this.sizeBytes = export.size() / logicalBlockSize * logicalBlockSize;
    }

    /**
     * Connects to the server and negotiates the export (ConfigException: one line, naming the server).
     *
     * @param logicalBlockSize asked for, or null: the export's minimum block size, at least 512
     */
    public static NbdTarget open(Config config, Integer logicalBlockSize) {
        NbdHandshake.Connected c = NbdHandshake.connect(config.address(), config.export(), handshakeTimeout(config),
                config.tls());
        try {
            int lbs = blockSize(c.export(), logicalBlockSize, config);
            if (c.export().size() < lbs) {
                throw new ConfigException(where(config) + " has " + c.export().size() + " bytes: not even one "
                        + lbs + "-byte block");
            }
            return new NbdTarget(config, c, lbs);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** For `ublk recover`: the same export, of the size the device has. */
    public static NbdTarget reopen(Config config, long deviceSize, int logicalBlockSize) {
        NbdTarget t = open(config, logicalBlockSize);
        if (t.sizeBytes != deviceSize) {
            t.close();
            throw new ConfigException(where(config) + " now has " + t.export.size() + " bytes, the device "
                    + deviceSize + ": not serving it");
        }
        return t;
    }

    private static Duration handshakeTimeout(Config c) {
        return c.timeout().compareTo(HANDSHAKE_TIMEOUT) < 0 ? c.timeout() : HANDSHAKE_TIMEOUT;
    }

    private static String where(Config c) {
        return (c.export().isEmpty() ? "the default export" : "export '" + c.export() + "'") + " of the NBD server at "
                + c.address();
    }

    private static int blockSize(NbdHandshake.Export e, Integer asked, Config c) {
        int min = e.minBlock();
        if (min > 4096 || Integer.bitCount(Math.max(min, 1)) != 1) {
            throw new ConfigException(where(c) + " has a minimum block size of " + min + " bytes; a ublk device has "
                    + "512 or 4096-byte blocks");
        }
        if (asked == null) {
            return Math.max(512, min);
        }
        if (asked < min) {
            throw new ConfigException(where(c) + " has a minimum block size of " + min + " bytes: "
                    + "--logical-block-size " + asked + " is smaller (leave it out to get " + min + ")");
        }
        return asked;
    }

    public NbdHandshake.Export export() {
        return export;
    }

    public Config config() {
        return config;
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public int logicalBlockSize() {
        return logicalBlockSize;
    }

    @Override
    public String name() {
        return "nbd";
    }

    /** Payloads go between the socket and the requests' buffers: fixed buffers where the kernel takes them. */
    @Override
    public boolean wantsFixedBuffers() {
        return true;
    }

    /**
     * Large payloads go between the socket and the request's own pages (SEND and RECV on its fixed buffer, 7.3), small
     * ones through the queue's copies: a zero-copy device must have UBLK_F_USER_COPY as well as UBLK_F_AUTO_BUF_REG
     * ({@link NbdSpec#deviceFlags()} asks for both).
     */
    @Override
    public boolean supportsZeroCopy() {
        return true;
    }

    @Override
    public int queues(int asked) {
        int want = config.connections() != null ? config.connections() : asked;
        if (want > 1 && !export.has(Nbd.NBD_FLAG_CAN_MULTI_CONN)) {
            LOG.log(Level.WARNING, where(config) + " does not allow several connections (no CAN_MULTI_CONN): one "
                    + "queue, not " + want);
            return 1;
        }
        return Math.max(1, want);
    }

    /**
     * As {@link #queues} would give for the device's default if the server allows several connections or
     * {@code --connections} was asked for; else one, without a word.
     */
    @Override
    public int defaultQueues(int suggested) {
        return config.connections() != null || export.has(Nbd.NBD_FLAG_CAN_MULTI_CONN) ? queues(suggested) : 1;
    }

    /** The largest READ or WRITE: the server's maximum payload, in whole blocks. */
    int maxPayload(int maxIoBytes) {
        long max = Integer.toUnsignedLong(export.maxPayload());
        return (int) Math.max(logicalBlockSize, Math.min(maxIoBytes, max) / logicalBlockSize * logicalBlockSize);
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        int attrs = (export.has(Nbd.NBD_FLAG_READ_ONLY) ? Ublk.UBLK_ATTR_READ_ONLY : 0)
                | (export.has(Nbd.NBD_FLAG_ROTATIONAL) ? Ublk.UBLK_ATTR_ROTATIONAL : 0);
        if (export.has(Nbd.NBD_FLAG_SEND_FLUSH)) {
            attrs |= Ublk.UBLK_ATTR_VOLATILE_CACHE | (export.has(Nbd.NBD_FLAG_SEND_FUA) ? Ublk.UBLK_ATTR_FUA : 0);
        }
        int preferred = export.preferredBlock();
        int pbs = Integer.bitCount(preferred) == 1 ? Math.min(Math.max(preferred, logicalBlockSize), 4096)
                : logicalBlockSize;
        DeviceParams p = DeviceParams.basic(sizeBytes, logicalBlockSize, pbs, maxPayload(maxIoBytes), attrs);
        int discard = export.has(Nbd.NBD_FLAG_SEND_TRIM) ? MAX_DISCARD_SECTORS : 0;
        int zeroes = export.has(Nbd.NBD_FLAG_SEND_WRITE_ZEROES) ? MAX_DISCARD_SECTORS : 0;
        if (!export.has(Nbd.NBD_FLAG_READ_ONLY) && (discard > 0 || zeroes > 0)) {
            p = p.withDiscard(pbs, discard, zeroes);
        }
        return p;
    }

    @Override
    public Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("server", config.address().toString());
        m.put("export", config.export());
        if (config.tls() != null) {
            m.put("tls", config.tls().hostname() != null ? "verifying " + config.tls().hostname() : "verifying the chain");
        }
        m.put("flags", Nbd.describeFlags(export.flags()));
        m.put("block_sizes", export.minBlock() + "/" + export.preferredBlock() + "/"
                + Integer.toUnsignedString(export.maxPayload()));
        return m;
    }

    @Override
    public Map<String, LongSupplier> counters() {
        Map<String, LongSupplier> m = new LinkedHashMap<>();
        m.put("connection_losses", connectionLosses::get);
        m.put("reconnects", reconnects::get);
        m.put("protocol_errors", protocolErrors::get);
        return m;
    }

    /**
     * Queue 0 takes the connection made at open; each other queue makes its own, here, on its thread (the device is
     * not started yet: waiting is fine).
     */
    @Override
    public QueueHandler openQueue(QueueContext queue) {
        NbdHandshake.Connected c = first.getAndSet(null);
        if (c == null) {
            c = connect();
        }
        try {
            return new NbdQueue(this, queue, c);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** A new connection to the same export, or ConfigException (also when the export is not the same any more). */
    NbdHandshake.Connected connect() {
        NbdHandshake.Connected c = NbdHandshake.connect(config.address(), config.export(), handshakeTimeout(config),
                config.tls());
        NbdHandshake.Export e = c.export();
        if (e.size() != export.size() || (e.has(Nbd.NBD_FLAG_READ_ONLY) && !export.has(Nbd.NBD_FLAG_READ_ONLY))) {
            c.close();
            throw new ConfigException(where(config) + " changed: it has " + e.size() + " bytes and flags "
                    + Nbd.describeFlags(e.flags()) + ", the device was made with " + export.size() + " and "
                    + Nbd.describeFlags(export.flags()));
        }
        return c;
    }

    Duration timeout() {
        return config.timeout();
    }

    String where() {
        return where(config);
    }

    @Override
    public void close() {
        NbdHandshake.Connected c = first.getAndSet(null);
        if (c != null) {
            c.close();
        }
    }
}
