package io.jublk.targets;

import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import io.jublk.uapi.Ublk;
import io.jublk.uring.IoUring;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The nbd target ({@link NbdTarget}): which NBD server and export, and how it is used. Everything a recovery needs to
 * connect again is here; once opened, {@code size} is the export's size as the device serves it.
 *
 * @param socket         a Unix socket's path (absolute), or null
 * @param host           a host, or null
 * @param port           its TCP port
 * @param export         the export's name ("" for the server's default)
 * @param connections    connections (one per queue) asked for, or null for as many as --queues
 * @param timeoutSeconds how long requests are held while the server is away, or wait for a reply, before EIO
 * @param size           the device's size, once opened
 * @param tls            TLS to the server (its files as absolute paths), or null for none
 * @param zeroCopy       payloads go between the socket and the requests' own pages (UBLK_F_AUTO_BUF_REG, with
 *                       UBLK_F_USER_COPY for the small ones)
 */
public record NbdSpec(String socket, String host, int port, String export, Integer connections, long timeoutSeconds,
        Long size, NbdTls.Spec tls, boolean zeroCopy) implements TargetSpec {

    public NbdSpec(String socket, String host, int port, String export, Integer connections, long timeoutSeconds,
            Long size) {
        this(socket, host, port, export, connections, timeoutSeconds, size, null, false);
    }

    public static final TargetType<NbdSpec> TYPE = TargetType.of("nbd", NbdSpec.class, Options::new)
            .withColumns("remote", "export");

    public static final long DEFAULT_TIMEOUT_SECONDS = 30;

    @Command(description = "Serve an export of an NBD server (nbdkit, qemu-nbd, nbd-server and others) as a block device: the "
            + "handshake once per connection, the requests on each queue's io_uring, one connection per queue where "
            + "the server allows several. A lost server is reconnected to and the requests sent again.")
    static final class Options implements TargetOptions<NbdSpec> {
        static final class Server {
            @Option(names = "--socket", paramLabel = "PATH", description = "The server's Unix socket.")
            Path socket;

            @Option(names = "--host", paramLabel = "HOST", description = "The server's host (IPv4).")
            String host;
        }

        @ArgGroup(exclusive = true, multiplicity = "1")
        Server server;

        @Option(names = "--port", paramLabel = "PORT", defaultValue = "10809",
                description = "The server's TCP port with --host (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--export", paramLabel = "NAME", defaultValue = "",
                description = "The export's name (default: the server's default export).")
        String export;

        @Option(names = "--connections", paramLabel = "N", description = "Connections to the server, one per queue "
                + "(default: --queues); more than one only if the server allows it (CAN_MULTI_CONN).")
        Integer connections;

        @Option(names = "--timeout", paramLabel = "SECS", defaultValue = "30",
                description = "Requests wait this long for a server that went away (it is reconnected to meanwhile), "
                        + "or for a reply, before they fail with EIO (default: ${DEFAULT-VALUE}).")
        long timeout;

        @Option(names = "--tls", description = "TLS to the server (NBD_OPT_STARTTLS), with Java's TLS; the device is "
                + "not made if the server does not offer it. Implied by the --tls-* options.")
        boolean tls;

        @Option(names = "--tls-ca", paramLabel = "FILE", description = "PEM certificate(s) of the authorities that "
                + "sign the server's certificate (default: the JDK's trusted authorities).")
        Path tlsCa;

        @Option(names = "--tls-cert", paramLabel = "FILE", description = "A client certificate (PEM chain) for "
                + "servers that verify their clients; with --tls-key.")
        Path tlsCert;

        @Option(names = "--tls-key", paramLabel = "FILE", description = "The client certificate's private key: PEM, "
                + "unencrypted PKCS#8 ('BEGIN PRIVATE KEY').")
        Path tlsKey;

        @Option(names = "--tls-hostname", paramLabel = "NAME", description = "The name the server's certificate "
                + "must carry (default: --host; with --socket and no name, only the certificate chain is checked).")
        String tlsHostname;

        @Option(names = "--zero-copy", description = "READ and WRITE payloads larger than 32 KiB go between the "
                + "socket and the request's own pages, copied once by the kernel instead of twice; small ones are "
                + "copied through the ublk char device (UBLK_F_AUTO_BUF_REG and UBLK_F_USER_COPY, Linux 7.3 or "
                + "newer: SEND and RECV on fixed buffers).")
        boolean zeroCopy;

        @Override
        public NbdSpec spec() {
            String path = server.socket != null ? server.socket.toAbsolutePath().toString() : null;
            NbdTls.Spec t = tls || tlsCa != null || tlsCert != null || tlsKey != null || tlsHostname != null
                    ? new NbdTls.Spec(abs(tlsCa), abs(tlsCert), abs(tlsKey), tlsHostname) : null;
            return new NbdSpec(path, server.host, port, export, connections, timeout, null, t, zeroCopy);
        }

        private static String abs(Path p) {
            return p == null ? null : p.toAbsolutePath().toString();
        }
    }

    /** The target's configuration; the TLS files are read here. */
    NbdTarget.Config config() {
        NbdAddress address = new NbdAddress(socket, host, port);
        return new NbdTarget.Config(address, export == null ? "" : export, connections,
                Duration.ofSeconds(timeoutSeconds), tls == null ? null : NbdTls.load(tls, address));
    }

    @Override
    public long deviceFlags() {
        return zeroCopy ? Ublk.UBLK_F_AUTO_BUF_REG | Ublk.UBLK_F_USER_COPY : 0;
    }

    @Override
    public void check(Integer logicalBlockSize) {
        if (connections != null && (connections < 1 || connections > Ublk.UBLK_MAX_NR_QUEUES)) {
            throw new ConfigException("--connections must be between 1 and " + Ublk.UBLK_MAX_NR_QUEUES
                    + ", not " + connections);
        }
        if (timeoutSeconds < 1) {
            throw new ConfigException("--timeout must be at least 1 second, not " + timeoutSeconds);
        }
        if (export != null && export.length() > 4096) {
            throw new ConfigException("--export: an NBD export name has at most 4096 bytes");
        }
        config(); // the address's own checks
        if (zeroCopy && !socketsTakeFixedBuffers()) {
            throw new ConfigException("--zero-copy for nbd needs a kernel whose io_uring sends and receives from fixed "
                    + "buffers (IORING_RECVSEND_FIXED_BUF on SEND and RECV: Linux 7.3 or newer); leave it out");
        }
    }

    /** Asked of a small ring of its own: the queues' rings are made only once the device is. */
    private static boolean socketsTakeFixedBuffers() {
        try (IoUring ring = IoUring.open(4)) {
            return ring.socketsTakeFixedBuffers();
        }
    }

    @Override
    public Opened open(Integer logicalBlockSize) {
        check(logicalBlockSize);
        NbdTarget t = NbdTarget.open(config(), logicalBlockSize);
        List<String> warnings = new ArrayList<>();
        if (connections != null && connections > 1 && !t.export().has(Nbd.NBD_FLAG_CAN_MULTI_CONN)) {
            warnings.add(t.where() + " does not allow several connections (no CAN_MULTI_CONN): one connection and one "
                    + "queue, not " + connections);
        }
        if (t.sizeBytes() != t.export().size()) {
            warnings.add(t.where() + " has " + t.export().size() + " bytes, not a whole number of "
                    + t.logicalBlockSize() + "-byte blocks: the device serves the first " + t.sizeBytes());
        }
        return new Opened(t, new NbdSpec(socket, host, port, export, connections, timeoutSeconds, t.sizeBytes(),
                tls, zeroCopy), warnings);
    }

    @Override
    public Target reopen(long deviceSize, int logicalBlockSize) {
        return NbdTarget.reopen(config(), deviceSize, logicalBlockSize);
    }

    @Override
    public Map<String, String> describe() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("remote", new NbdAddress(socket, host, port).toString());
        m.put("export", export == null || export.isEmpty() ? "(default)" : export);
        if (tls != null) {
            m.put("tls", tls.hostname() != null ? "yes (" + tls.hostname() + ")" : "yes");
        }
        if (zeroCopy) {
            m.put("zero_copy", "yes");
        }
        return m;
    }
}
