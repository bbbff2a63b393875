package io.jublk.targets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jublk.queue.HostQueue;
import io.jublk.spi.ConfigException;
import io.jublk.spi.DeviceParams;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The nbd target against real NBD servers on this machine (nbdkit's memory and file plugins, its error filter) and
 * against {@link FakeNbdServer} where a server has to misbehave, through {@link HostQueue}: the host's io_uring,
 * no ublk. bin/test installs nbdkit.
 */
class NbdTargetTest {
    private static final int DEPTH = 16;
    private static final int IO = 1 << 20;
    private static final Path NBDKIT = Path.of("/usr/bin/nbdkit");

    @TempDir
    Path dir;

    private final List<Process> servers = new ArrayList<>();

    @AfterEach
    void stopServers() throws InterruptedException {
        for (Process p : servers) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Path socket() {
        return dir.resolve("nbd.sock");
    }

    /** nbdkit in the foreground on {@link #socket()}, ready when this returns. */
    private Process nbdkit(String... args) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(NBDKIT), "nbdkit is not installed (bin/test installs it)");
        Files.deleteIfExists(socket()); // a killed nbdkit leaves its socket behind
        List<String> cmd = new ArrayList<>(List.of(NBDKIT.toString(), "-f", "--exit-with-parent", "-U",
                socket().toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        servers.add(p);
        for (int i = 0; i < 200 && !Files.exists(socket()); i++) {
            if (!p.isAlive()) {
                throw new IllegalStateException("nbdkit exited: " + Files.readString(dir.resolve("nbdkit.log")));
            }
            Thread.sleep(25);
        }
        // The socket exists from bind(), a moment before nbdkit listens: ready once a connection is taken.
        for (int i = 0; ; i++) {
            try (var c = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket()))) {
                return p;
            } catch (IOException e) {
                if (i == 200) {
                    throw new AssertionError("nbdkit does not take connections on " + socket() + ": " + e);
                }
                Thread.sleep(25);
            }
        }
    }

    private NbdTarget open(int timeoutSeconds) {
        return NbdTarget.open(new NbdTarget.Config(new NbdAddress(socket().toString(), null, Nbd.DEFAULT_PORT), "",
                null, Duration.ofSeconds(timeoutSeconds)), null);
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void fill(HostQueue q, int tag, byte[] b) {
        MemorySegment.copy(b, 0, q.data(tag), JAVA_BYTE, 0, b.length);
    }

    private static byte[] data(HostQueue q, int tag, int n) {
        return q.data(tag).asSlice(0, n).toArray(JAVA_BYTE);
    }

    /** Sizes around the handler's thresholds: batched and copied, received into its buffer or straight in. */
    private static final int[] SIZES = {4096, 512, 32 << 10, 36 << 10, 64 << 10, 68 << 10, 256 << 10, IO};

    @Test
    void theMemoryPluginsExportBecomesTheDeviceAndKeepsEveryByte() throws Exception {
        nbdkit("memory", "64M");
        try (NbdTarget t = open(30)) {
            assertEquals(64L << 20, t.sizeBytes());
            DeviceParams p = t.params(IO);
            assertEquals(512, p.logicalBlockSize());
            assertTrue(t.export().has(Nbd.NBD_FLAG_SEND_FLUSH) && t.export().has(Nbd.NBD_FLAG_SEND_TRIM)
                    && t.export().has(Nbd.NBD_FLAG_CAN_MULTI_CONN), Nbd.describeFlags(t.export().flags()));
            assertTrue(p.has(Ublk.UBLK_ATTR_VOLATILE_CACHE));
            try (HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
                for (int round = 0; round < 3; round++) {
                    for (int tag = 0; tag < DEPTH; tag++) {
                        int n = SIZES[(tag + round) % SIZES.length];
                        fill(q, tag, random(round * 100 + tag, n));
                        q.start(tag, Ublk.UBLK_IO_OP_WRITE, round == 1 ? Ublk.UBLK_IO_F_FUA : 0,
                                (long) tag * IO >> 9, n >> 9);
                    }
                    q.awaitAll();
                    for (int tag = 0; tag < DEPTH; tag++) {
                        assertEquals(SIZES[(tag + round) % SIZES.length], q.result(tag), "write on tag " + tag);
                    }
                    assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
                    for (int tag = 0; tag < DEPTH; tag++) {
                        q.data(tag).fill((byte) 0);
                        q.start(tag, Ublk.UBLK_IO_OP_READ, 0, (long) tag * IO >> 9,
                                SIZES[(tag + round) % SIZES.length] >> 9);
                    }
                    q.awaitAll();
                    for (int tag = 0; tag < DEPTH; tag++) {
                        int n = SIZES[(tag + round) % SIZES.length];
                        assertEquals(n, q.result(tag), "read on tag " + tag);
                        assertArrayEquals(random(round * 100 + tag, n), data(q, tag, n), "read on tag " + tag);
                    }
                }
                assertTrue(q.backendWaits() > 0, "the round trips count as backend time");
            }
            assertEquals(0, t.protocolErrors.get());
            assertEquals(0, t.connectionLosses.get());
        }
    }

    /** Over TCP to 127.0.0.1 (TCP_NODELAY; the same batching), and several queues on one multi-conn export. */
    @Test
    void aServerOnTcpServesEachQueueOnItsOwnConnection() throws Exception {
        int port;
        try (var probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        assumeTrue(Files.isExecutable(NBDKIT), "nbdkit is not installed (bin/test installs it)");
        Process p = new ProcessBuilder(NBDKIT.toString(), "-f", "--exit-with-parent", "-i", "127.0.0.1", "-p",
                Integer.toString(port), "memory", "32M").redirectErrorStream(true)
                .redirectOutput(dir.resolve("nbdkit.log").toFile()).start();
        servers.add(p);
        NbdTarget.Config config = new NbdTarget.Config(new NbdAddress(null, "127.0.0.1", port), "", 2,
                Duration.ofSeconds(10));
        NbdTarget target = null;
        for (int i = 0; i < 100 && target == null; i++) {
            try {
                target = NbdTarget.open(config, null);
            } catch (ConfigException e) {
                Thread.sleep(50); // not listening yet
            }
        }
        assertTrue(target != null, "nbdkit listens on 127.0.0.1:" + port);
        try (NbdTarget t = target) {
            assertEquals(2, t.queues(1), "the memory plugin allows several connections: one per queue");
            try (HostQueue q0 = HostQueue.open(t, DEPTH, IO, false); HostQueue q1 = HostQueue.open(t, DEPTH, IO,
                    false)) {
                fill(q0, 0, random(5, IO));
                assertEquals(IO, q0.write(0, 0, IO, Ublk.UBLK_IO_F_FUA));
                assertEquals(0, q0.run(1, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
                assertEquals(IO, q1.read(0, 0, IO), "the other queue's connection sees it");
                assertArrayEquals(random(5, IO), data(q1, 0, IO));
            }
        }
    }

    /**
     * Queues nobody asked for: as many as the server's default where the export allows several connections, one
     * where it does not (quietly: nothing was asked that it refuses); asked for, more than one is refused with a
     * warning and one given.
     */
    @Test
    void theDefaultQueuesFollowTheServersMultiConn() throws Exception {
        nbdkit("memory", "8M");
        try (NbdTarget t = open(30)) {
            assertEquals(2, t.defaultQueues(2), "the memory plugin allows several connections");
            assertEquals(1, t.defaultQueues(1));
        }
        nbdkit("--filter=multi-conn", "memory", "8M", "multi-conn-mode=disable");
        try (NbdTarget t = open(30)) {
            assertFalse(t.export().has(Nbd.NBD_FLAG_CAN_MULTI_CONN), Nbd.describeFlags(t.export().flags()));
            assertEquals(1, t.defaultQueues(2), "one connection, so one queue");
            assertEquals(1, t.queues(2), "asked for two: one, with a warning");
        }
    }

    @Test
    void aReadOnlyExportMakesAReadOnlyDeviceWithoutDiscard() throws Exception {
        nbdkit("-r", "memory", "8M");
        try (NbdTarget t = open(30)) {
            DeviceParams p = t.params(IO);
            assertTrue(p.has(Ublk.UBLK_ATTR_READ_ONLY), Nbd.describeFlags(t.export().flags()));
            assertFalse(p.discard() || p.writeZeroes(), "nothing to discard on a read-only device");
            try (HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
                assertEquals(IO, q.read(0, 0, IO));
                assertEquals(-Errno.EROFS, q.write(1, 0, 4096, 0), "refused before it reaches the server");
            }
        }
    }

    @Test
    void discardPunchesHolesInAFilePluginExportAndWriteZeroesReadsBackZeros() throws Exception {
        Path file = dir.resolve("export.img");
        try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16 << 20); // sparse
        }
        nbdkit("file", "file=" + file);
        try (NbdTarget t = open(30); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            assertTrue(t.params(IO).discard() && t.params(IO).writeZeroes(), "the export takes TRIM: the device discards");
            for (int i = 0; i < 4; i++) {
                fill(q, 0, random(i, IO));
                assertEquals(IO, q.write(0, (long) i * IO, IO, 0));
            }
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            long before = allocated(file);
            assertTrue(before >= 4L * IO, "written: " + before);
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_DISCARD, 0, 0, 2 * IO >> 9));
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_WRITE_ZEROES, 0, 2L * IO >> 9, IO >> 9));
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            assertTrue(allocated(file) <= before - 2L * IO, "discard left holes: " + before + " -> " + allocated(file));
            for (int i = 0; i < 3; i++) {
                q.data(0).fill((byte) 1);
                assertEquals(IO, q.read(0, (long) i * IO, IO));
                assertArrayEquals(new byte[IO], data(q, 0, IO), "MiB " + i + " reads as zeros");
            }
            assertEquals(IO, q.read(0, 3L * IO, IO));
            assertArrayEquals(random(3, IO), data(q, 0, IO), "the MiB after is untouched");
        }
    }

    private static long allocated(Path file) throws IOException {
        return ((Number) Files.getAttribute(file, "unix:size")).longValue() == 0 ? 0
                : Long.parseLong(new String(new ProcessBuilder("stat", "-c", "%b", file.toString()).start()
                        .getInputStream().readAllBytes()).strip()) * 512;
    }

    /**
     * The server is killed with requests in flight and more arrive while it is away: all of them wait, go out again
     * on the new connection once it is back, and succeed; the data is the server's.
     */
    @Test
    void requestsWaitForARestartedServerAndSucceed() throws Exception {
        Path file = dir.resolve("export.img");
        Files.write(file, random(42, 16 * IO));
        Process server = nbdkit("file", "file=" + file);
        try (NbdTarget t = open(30); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            q.answerTimeout(Duration.ofSeconds(20));
            assertEquals(IO, q.read(0, 0, IO));
            server.destroyForcibly().waitFor();
            for (int tag = 0; tag < 8; tag++) {
                fill(q, tag, random(100 + tag, IO));
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (long) tag * IO >> 9, IO >> 9);
            }
            for (int tag = 8; tag < DEPTH; tag++) {
                q.start(tag, Ublk.UBLK_IO_OP_READ, 0, (long) tag * IO >> 9, IO >> 9);
            }
            Thread.sleep(1500); // the queue runs only in awaitAll: the requests wait until then, as they would
            nbdkit("file", "file=" + file);
            q.awaitAll();
            byte[] all = Files.readAllBytes(file);
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(IO, q.result(tag), "tag " + tag);
                byte[] want = tag < 8 ? random(100 + tag, IO) : Arrays.copyOfRange(random(42, 16 * IO), tag * IO,
                        (tag + 1) * IO);
                assertArrayEquals(want, tag < 8 ? Arrays.copyOfRange(all, tag * IO, (tag + 1) * IO)
                        : data(q, tag, IO), "tag " + tag);
            }
            assertEquals(1, t.reconnects.get());
            assertEquals(0, t.protocolErrors.get());
        }
    }

    @Test
    void withoutTheServerRequestsFailWithEioAfterTheTimeoutAndWorkAgainOnceItIsBack() throws Exception {
        Process server = nbdkit("memory", "16M");
        try (NbdTarget t = open(2); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            fill(q, 0, random(7, 4096));
            assertEquals(4096, q.write(0, 0, 4096, 0));
            server.destroyForcibly().waitFor();
            long start = System.nanoTime();
            assertEquals(-Errno.EIO, q.read(1, 0, 4096));
            long waited = System.nanoTime() - start;
            assertTrue(waited > 1_500_000_000L, "held for about the timeout: " + waited / 1_000_000 + " ms");
            assertEquals(-Errno.EIO, q.read(1, 0, 4096), "and the next fails at once while it is away");
            nbdkit("memory", "16M");
            Thread.sleep(1000); // the supervisor finds it (backoff at most 5 s)
            int r = -1;
            for (int i = 0; i < 20 && r != 4096; i++) {
                r = q.read(1, 0, 4096);
                if (r != 4096) {
                    Thread.sleep(500);
                }
            }
            assertEquals(4096, r, "served again once the server is back");
            assertArrayEquals(new byte[4096], data(q, 1, 4096), "a new memory server: zeros");
        }
    }

    @Test
    void theErrorFiltersFailuresReachOnlyTheRequestsTheyHit() throws Exception {
        nbdkit("--filter=error", "memory", "16M", "error-pread=EIO", "error-pread-rate=100%");
        try (NbdTarget t = open(30); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            fill(q, 0, random(1, 65536));
            assertEquals(65536, q.write(0, 0, 65536, 0));
            assertEquals(-Errno.EIO, q.read(1, 0, 65536));
            assertEquals(-Errno.EIO, q.read(1, 1 << 20, IO));
            assertEquals(65536, q.write(0, 65536, 65536, 0), "the connection still serves");
            assertEquals(0, t.protocolErrors.get(), "an error reply is no protocol error");
            assertEquals(0, t.connectionLosses.get());
        }
    }

    @Test
    void badServersAreRefusedWithOneLine() throws Exception {
        ConfigException none = assertThrows(ConfigException.class, () -> open(2));
        assertTrue(none.getMessage().startsWith("cannot connect to the NBD server at unix:" + socket()),
                none.getMessage());

        for (FakeNbdServer.Mode mode : List.of(FakeNbdServer.Mode.SSH, FakeNbdServer.Mode.SILENT)) {
            try (FakeNbdServer s = new FakeNbdServer(socket(), mode, 1 << 20)) {
                ConfigException e = assertThrows(ConfigException.class, () -> open(1));
                assertTrue(e.getMessage().contains(mode == FakeNbdServer.Mode.SSH
                        ? "is not an NBD server: it began with \"SSH-2.0-"
                        : "nothing within 1 s waiting for its greeting"), e.getMessage());
            }
        }
        nbdkit("--filter=exportname", "memory", "1M", "exportname-strict=true", "exportname=disk");
        ConfigException refused = assertThrows(ConfigException.class, () -> NbdTarget.open(new NbdTarget.Config(
                new NbdAddress(socket().toString(), null, Nbd.DEFAULT_PORT), "other", null, Duration.ofSeconds(5)),
                null));
        assertTrue(refused.getMessage().startsWith("the NBD server at unix:" + socket() + " has no export 'other'")
                || refused.getMessage().contains("refused export 'other'"), refused.getMessage());
        try (NbdTarget t = NbdTarget.open(new NbdTarget.Config(new NbdAddress(socket().toString(), null,
                Nbd.DEFAULT_PORT), "disk", null, Duration.ofSeconds(5)), null)) {
            assertEquals(1 << 20, t.sizeBytes(), "the export it has is served");
        }
        stopServers();
        servers.clear();
        Path psk = dir.resolve("keys.psk");
        Files.writeString(psk, "alice:000102030405060708090a0b0c0d0e0f\n");
        Files.setPosixFilePermissions(psk, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        nbdkit("--tls=require", "--tls-psk=" + psk, "memory", "1M");
        ConfigException tls = assertThrows(ConfigException.class, () -> open(5));
        assertTrue(tls.getMessage().startsWith("the NBD server at unix:" + socket() + " requires TLS for the default "
                + "export: add --tls"), tls.getMessage());
        for (ConfigException e : List.of(none, refused, tls)) {
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        }
    }

    @Test
    void aReplyWithAnUnknownHandleFailsTheRequestsInFlightOnceAndTheNextConnectionServes() throws Exception {
        try (FakeNbdServer s = new FakeNbdServer(socket(), FakeNbdServer.Mode.UNKNOWN_HANDLE, 4 << 20);
                NbdTarget t = open(10); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            assertEquals(-Errno.EIO, q.read(0, 0, 65536), "never another request's data");
            assertEquals(1, t.protocolErrors.get());
            q.answerTimeout(Duration.ofSeconds(15));
            assertEquals(65536, q.read(0, 4096, 65536));
            assertArrayEquals(Arrays.copyOfRange(s.disk(), 4096, 4096 + 65536), data(q, 0, 65536));
            assertEquals(2, s.connections.get());
        }
    }

    @Test
    void aReadCutShortByTheServerIsSentAgainAndGetsTheWholeData() throws Exception {
        try (FakeNbdServer s = new FakeNbdServer(socket(), FakeNbdServer.Mode.SHORT_READ, 4 << 20);
                NbdTarget t = open(10); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            q.answerTimeout(Duration.ofSeconds(15));
            for (int n : new int[] {IO, 8192, 8192}) { // cut on the first two connections: received straight in, buffered
                q.data(0).fill((byte) 0);
                assertEquals(n, q.read(0, 512, n));
                assertArrayEquals(Arrays.copyOfRange(s.disk(), 512, 512 + n), data(q, 0, n));
            }
            assertEquals(3, s.connections.get());
            assertEquals(2, t.reconnects.get());
            assertEquals(0, t.protocolErrors.get());
        }
    }

    // ---- TLS ---------------------------------------------------------------------------------------------------

    /** A CA, a server certificate it signed (for localhost and 127.0.0.1) as nbdkit wants them, and a client's. */
    private Path certificates(String caName) throws Exception {
        Path d = Files.createDirectories(dir.resolve("pki-" + caName));
        openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
                "2", "-subj", "/CN=" + caName, "-keyout", "ca-key.pem", "-out", "ca-cert.pem");
        for (String who : List.of("server", "client")) {
            openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
                    "/CN=" + (who.equals("server") ? "localhost" : "jublk"), "-keyout", who + "-key.pem", "-out",
                    who + ".csr");
            Files.writeString(d.resolve(who + ".ext"), who.equals("server")
                    ? "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                    : "extendedKeyUsage=clientAuth\n");
            openssl(d, "x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                    "-CAcreateserial", "-days", "2", "-extfile", who + ".ext", "-out", who + "-cert.pem");
        }
        return d;
    }

    private static void openssl(Path cwd, String... args) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed (bin/test installs it)");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "openssl " + String.join(" ", args) + ": " + out);
    }

    private NbdTarget openTls(NbdTls.Spec spec, int timeoutSeconds) {
        NbdAddress a = new NbdAddress(socket().toString(), null, Nbd.DEFAULT_PORT);
        return NbdTarget.open(new NbdTarget.Config(a, "", null, Duration.ofSeconds(timeoutSeconds),
                NbdTls.load(spec, a)), null);
    }

    /**
     * A server that requires TLS: refused with one line without --tls; with it, every byte of every size arrives,
     * and a server killed and restarted with requests in flight gets them again over a new TLS session.
     */
    @Test
    void overTlsEveryByteArrivesAndARestartedServerGetsTheRequestsAgain() throws Exception {
        Path pki = certificates("ca");
        Path file = dir.resolve("export.img");
        Files.write(file, random(42, 16 * IO));
        String[] server = {"--tls=require", "--tls-certificates=" + pki, "file", "file=" + file};
        Process p = nbdkit(server);
        ConfigException plain = assertThrows(ConfigException.class, () -> open(5));
        assertTrue(plain.getMessage().contains("requires TLS") && plain.getMessage().contains("--tls"),
                plain.getMessage());
        NbdTls.Spec spec = new NbdTls.Spec(pki.resolve("ca-cert.pem").toString(), null, null, "localhost");
        try (NbdTarget t = openTls(spec, 30); HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            assertEquals(16L * IO, t.sizeBytes());
            assertEquals("verifying localhost", t.describe().get("tls"));
            for (int tag = 0; tag < DEPTH; tag++) {
                int n = SIZES[tag % SIZES.length];
                fill(q, tag, random(tag, n));
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (long) tag * IO >> 9, n >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(SIZES[tag % SIZES.length], q.result(tag), "write on tag " + tag);
            }
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            byte[] all = Files.readAllBytes(file);
            for (int tag = 0; tag < DEPTH; tag++) {
                int n = SIZES[tag % SIZES.length];
                assertArrayEquals(random(tag, n), Arrays.copyOfRange(all, tag * IO, tag * IO + n), "on the file, tag "
                        + tag);
                q.data(tag).fill((byte) 0);
                q.start(tag, Ublk.UBLK_IO_OP_READ, 0, (long) tag * IO >> 9, n >> 9);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                int n = SIZES[tag % SIZES.length];
                assertEquals(n, q.result(tag), "read on tag " + tag);
                assertArrayEquals(random(tag, n), data(q, tag, n), "read back, tag " + tag);
            }

            q.answerTimeout(Duration.ofSeconds(20));
            p.destroyForcibly().waitFor();
            for (int tag = 0; tag < DEPTH; tag++) {
                fill(q, tag, random(500 + tag, IO));
                q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, (long) tag * IO >> 9, IO >> 9);
            }
            Thread.sleep(1500);
            nbdkit(server);
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(IO, q.result(tag), "tag " + tag + " after the restart");
            }
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            all = Files.readAllBytes(file);
            for (int tag = 0; tag < DEPTH; tag++) {
                assertArrayEquals(random(500 + tag, IO), Arrays.copyOfRange(all, tag * IO, (tag + 1) * IO),
                        "tag " + tag + " after the restart");
            }
            assertEquals(1, t.reconnects.get());
            assertEquals(0, t.protocolErrors.get());
        }
    }

    /** What cannot be trusted is refused at open, with one line that says what to change. */
    @Test
    void tlsRefusesWhatItCannotTrustWithOneLine() throws Exception {
        Path pki = certificates("ca");
        Path other = certificates("other");
        nbdkit("--tls=require", "--tls-certificates=" + pki, "--tls-verify-peer", "memory", "8M");
        String ca = pki.resolve("ca-cert.pem").toString();
        String client = pki.resolve("client-cert.pem").toString();
        String key = pki.resolve("client-key.pem").toString();

        ConfigException e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(
                other.resolve("ca-cert.pem").toString(), client, key, "localhost"), 5));
        assertTrue(e.getMessage().contains("--tls-ca"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(ca, client, key, "nbd.example"), 5));
        assertTrue(e.getMessage().contains("not for nbd.example"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(ca, null, null, "localhost"), 5));
        assertTrue(e.getMessage().contains("refuses the client certificate, or gets none"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(ca, client, null, null), 5));
        assertTrue(e.getMessage().contains("--tls-cert and --tls-key go together"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(ca, client, ca, null), 5));
        assertTrue(e.getMessage().contains("--tls-key " + ca + ": a 'CERTIFICATE'"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");

        try (NbdTarget t = openTls(new NbdTls.Spec(ca, client, key, null), 10);
                HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
            assertEquals("verifying the chain", t.describe().get("tls"), "a Unix socket and no name: the chain");
            fill(q, 0, random(9, IO));
            assertEquals(IO, q.write(0, 0, IO, Ublk.UBLK_IO_F_FUA));
            q.data(0).fill((byte) 0);
            assertEquals(IO, q.read(0, 0, IO));
            assertArrayEquals(random(9, IO), data(q, 0, IO), "with the client certificate the server verifies");
        }
    }

    @Test
    void tlsToAServerWithoutTlsIsRefusedWithOneLine() throws Exception {
        Path pki = certificates("ca");
        nbdkit("--tls=off", "memory", "8M");
        ConfigException e = assertThrows(ConfigException.class, () -> openTls(new NbdTls.Spec(
                pki.resolve("ca-cert.pem").toString(), null, null, null), 5));
        assertTrue(e.getMessage().contains("does not offer TLS"), e.getMessage());
    }
}
