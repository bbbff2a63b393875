package io.jublk.targets;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jublk.queue.HostQueue;
import io.jublk.sys.LibC;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's commands for storage behind qemu-nbd, run for real on this machine over loopback: an iSCSI LUN
 * served by tgt's userspace target (tgtd) and a file on an NFS export of NFS-Ganesha's userspace server (FSAL VFS,
 * NFSv3, with its own rpcbind), each put on a Unix socket by the README's {@code qemu-nbd --fork --persistent}
 * command (plus {@code --pid-file}, to stop it), then written and read through the nbd target on
 * {@link HostQueue} (the host's io_uring, no ublk), and the bytes found in the file behind the LUN or the export.
 * bin/test installs tgt, nfs-ganesha, nfs-ganesha-vfs and qemu-block-extra; the servers need root (CI runs as root).
 */
class RemoteStorageThroughQemuNbdTest {
    private static final int DEPTH = 8;
    private static final int IO = 1 << 20;
    private static final long SIZE = 64L << 20;
    private static final Path QEMU_NBD = Path.of("/usr/bin/qemu-nbd");
    private static final Path QEMU_MODULES = Path.of("/usr/lib/x86_64-linux-gnu/qemu");
    private static final Path TGTD = Path.of("/usr/sbin/tgtd");
    private static final Path TGTADM = Path.of("/usr/sbin/tgtadm");
    private static final Path GANESHA = Path.of("/usr/bin/ganesha.nfsd");
    private static final Path FSAL_VFS = Path.of("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so");
    private static final Path RPCBIND = Path.of("/usr/sbin/rpcbind");
    private static final String IQN = "iqn.2026-12.io.jublk.test:disk1";
    private static final Duration START = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    /** What to stop after the test, last started first. */
    private final List<AutoCloseable> stops = new ArrayList<>();

    @AfterEach
    void stopAll() throws Exception {
        Exception first = null;
        for (int i = stops.size() - 1; i >= 0; i--) {
            try {
                stops.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Test
    void anIscsiLunOfTgtServedByQemuNbdKeepsEveryByte() throws Exception {
        assumeTrue(LibC.geteuid() == 0, "tgtd needs root (CI runs as root)");
        assumeTrue(Files.isExecutable(TGTD) && Files.isExecutable(TGTADM), "tgt is not installed (bin/test installs it)");
        assumeQemuNbdWith("block-iscsi.so");
        Path lun = dir.resolve("lun.img");
        sparse(lun);
        int port = freePort();
        // The management socket /var/run/tgtd/socket.N, N <= 32767: one no other tgtd has.
        int n = 1000 + port % 30000;
        while (Files.exists(Path.of("/var/run/tgtd/socket." + n))) {
            n++;
        }
        String control = Integer.toString(n);
        Process tgtd = start("tgtd", TGTD.toString(), "-f", "-C", control, "--iscsi", "portal=127.0.0.1:" + port);
        stops.add(() -> {
            // tgtd leaves on a 'delete system' once it has no targets (it ignores SIGTERM).
            run(false, TGTADM.toString(), "-C", control, "--lld", "iscsi", "--mode", "target", "--op", "delete",
                    "--force", "--tid", "1");
            run(false, TGTADM.toString(), "-C", control, "--op", "delete", "--mode", "system");
            if (!tgtd.waitFor(10, TimeUnit.SECONDS)) {
                tgtd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(Path.of("/var/run/tgtd/socket." + control));
            Files.deleteIfExists(Path.of("/var/run/tgtd/socket." + control + ".lock"));
        });
        long deadline = System.nanoTime() + START.toNanos();
        while (!run(false, TGTADM.toString(), "-C", control, "--op", "show", "--mode", "target")) {
            assertTrue(tgtd.isAlive(), () -> "tgtd exited: " + log("tgtd"));
            assertTrue(System.nanoTime() < deadline, () -> "tgtd does not answer tgtadm: " + log("tgtd"));
            Thread.sleep(50);
        }
        // tgt keeps LUN 0 for its controller: the disk is LUN 1.
        run(true, TGTADM.toString(), "-C", control, "--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1",
                "-T", IQN);
        run(true, TGTADM.toString(), "-C", control, "--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid",
                "1", "--lun", "1", "-b", lun.toString());
        run(true, TGTADM.toString(), "-C", control, "--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1",
                "-I", "ALL");

        Path socket = qemuNbd("-f", "raw", "--cache=none", "iscsi://127.0.0.1:" + port + "/" + IQN + "/1");
        roundTrip(socket, lun);
    }

    @Test
    void aFileOnAnNfsExportOfGaneshaServedByQemuNbdKeepsEveryByte() throws Exception {
        assumeTrue(LibC.geteuid() == 0, "NFS-Ganesha's FSAL VFS and rpcbind need root (CI runs as root)");
        assumeTrue(Files.isExecutable(GANESHA) && Files.exists(FSAL_VFS) && Files.isExecutable(RPCBIND),
                "nfs-ganesha, nfs-ganesha-vfs or rpcbind is not installed (bin/test installs them)");
        assumeQemuNbdWith("block-nfs.so");
        // QEMU's nfs:// URL takes no ports: libnfs asks the portmapper on port 111 where MOUNT and NFS listen.
        // This test runs its own rpcbind; it does not register a second NFS server with one this machine runs.
        assumeFalse(listening(111), "an rpcbind (or something else) listens on port 111 here");
        // It leaves its socket, lock and state files behind: those that were not there before go again.
        List<Path> leftovers = new ArrayList<>();
        for (String f : List.of("/run/rpcbind.sock", "/run/rpcbind.lock", "/run/rpcbind/rpcbind.xdr",
                "/run/rpcbind/portmap.xdr")) {
            if (!Files.exists(Path.of(f))) {
                leftovers.add(Path.of(f));
            }
        }
        Process rpcbind = start("rpcbind", RPCBIND.toString(), "-f");
        stops.add(() -> {
            stop(rpcbind);
            for (Path f : leftovers) {
                Files.deleteIfExists(f);
            }
        });
        waitListening(111, rpcbind, "rpcbind");

        Path export = Files.createDirectories(dir.resolve("export"));
        Path image = Files.createDirectories(export.resolve("images")).resolve("disk.img");
        sparse(image);
        int nfsPort = freePort();
        int mountPort = freePort();
        Path conf = dir.resolve("ganesha.conf");
        Files.writeString(conf, """
                NFS_CORE_PARAM {
                  Protocols = 3;
                  Bind_Addr = 127.0.0.1;
                  NFS_Port = %d;
                  MNT_Port = %d;
                  Enable_NLM = false;
                  Enable_RQUOTA = false;
                }
                NFSV4 { Graceless = true; }
                EXPORT {
                  Export_Id = 1;
                  Path = %s;
                  Pseudo = /export;
                  Access_Type = RW;
                  Squash = No_Root_Squash;
                  Protocols = 3;
                  Transports = TCP;
                  SecType = sys;
                  FSAL { Name = VFS; }
                }
                """.formatted(nfsPort, mountPort, export));
        Path ganeshaLog = dir.resolve("ganesha.nfsd.log");
        Process ganesha = start("ganesha", GANESHA.toString(), "-F", "-L", ganeshaLog.toString(), "-f",
                conf.toString(), "-p", dir.resolve("ganesha.pid").toString(), "-N", "NIV_EVENT");
        stops.add(() -> stop(ganesha)); // on SIGTERM it takes its programs off rpcbind and leaves
        long deadline = System.nanoTime() + START.toNanos();
        while (!Files.exists(ganeshaLog) || !Files.readString(ganeshaLog).contains("NFS SERVER INITIALIZED")) {
            assertTrue(ganesha.isAlive(), () -> "ganesha.nfsd exited: " + log("ganesha") + read(ganeshaLog));
            assertTrue(System.nanoTime() < deadline, () -> "ganesha.nfsd did not start: " + read(ganeshaLog));
            Thread.sleep(50);
        }

        // The export's path, then the file's path under it (libnfs mounts the file's directory).
        Path socket = qemuNbd("-f", "raw", "nfs://127.0.0.1" + image);
        roundTrip(socket, image);
    }

    /**
     * Writes of several sizes through the nbd target, FUA on some, a FLUSH, reads back through it, and the same
     * bytes in the file at the far end of iSCSI or NFS.
     */
    private void roundTrip(Path socket, Path backing) throws Exception {
        int[] sizes = {4096, 512, 36 << 10, 68 << 10, 256 << 10, IO, 128 << 10, 8192};
        try (NbdTarget t = NbdTarget.open(new NbdTarget.Config(new NbdAddress(socket.toString(), null,
                Nbd.DEFAULT_PORT), "", null, Duration.ofSeconds(30)), null)) {
            assertEquals(SIZE, t.sizeBytes(), "the export is the whole LUN or file");
            assertTrue(t.export().has(Nbd.NBD_FLAG_SEND_FLUSH), Nbd.describeFlags(t.export().flags()));
            try (HostQueue q = HostQueue.open(t, DEPTH, IO, false)) {
                for (int tag = 0; tag < DEPTH; tag++) {
                    byte[] b = random(tag, sizes[tag]);
                    MemorySegment.copy(b, 0, q.data(tag), JAVA_BYTE, 0, b.length);
                    q.start(tag, Ublk.UBLK_IO_OP_WRITE, tag % 3 == 0 ? Ublk.UBLK_IO_F_FUA : 0, offset(tag) >> 9,
                            sizes[tag] >> 9);
                }
                q.awaitAll();
                for (int tag = 0; tag < DEPTH; tag++) {
                    assertEquals(sizes[tag], q.result(tag), "write on tag " + tag);
                }
                assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
                for (int tag = 0; tag < DEPTH; tag++) {
                    q.data(tag).fill((byte) 0);
                    q.start(tag, Ublk.UBLK_IO_OP_READ, 0, offset(tag) >> 9, sizes[tag] >> 9);
                }
                q.awaitAll();
                for (int tag = 0; tag < DEPTH; tag++) {
                    int n = sizes[tag];
                    assertEquals(n, q.result(tag), "read on tag " + tag);
                    assertArrayEquals(random(tag, n), q.data(tag).asSlice(0, n).toArray(JAVA_BYTE),
                            "read on tag " + tag);
                }
                // The last bytes of the device, so an export cut short would show.
                byte[] tail = random(99, 4096);
                MemorySegment.copy(tail, 0, q.data(0), JAVA_BYTE, 0, tail.length);
                assertEquals(4096, q.write(0, SIZE - 4096, 4096, Ublk.UBLK_IO_F_FUA));
                assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
                try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "r")) {
                    for (int tag = 0; tag < DEPTH; tag++) {
                        byte[] b = new byte[sizes[tag]];
                        f.seek(offset(tag));
                        f.readFully(b);
                        assertArrayEquals(random(tag, b.length), b, "the backing file at tag " + tag + "'s offset");
                    }
                    byte[] b = new byte[4096];
                    f.seek(SIZE - 4096);
                    f.readFully(b);
                    assertArrayEquals(tail, b, "the backing file's last block");
                }
            }
            assertEquals(0, t.protocolErrors.get());
            assertEquals(0, t.connectionLosses.get());
        }
    }

    /** Each tag's request at its own place, 3 MiB apart plus an odd sector, spread over the device. */
    private static long offset(int tag) {
        return tag * (3L << 20) + 512L * tag;
    }

    private static byte[] random(long seed, int n) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void sparse(Path file) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(SIZE);
        }
    }

    private static void assumeQemuNbdWith(String module) {
        assumeTrue(Files.isExecutable(QEMU_NBD), "qemu-nbd is not installed (qemu-utils; bin/test installs it)");
        assumeTrue(Files.exists(QEMU_MODULES.resolve(module)),
                "QEMU's " + module + " is not installed (qemu-block-extra; bin/test installs it)");
    }

    /**
     * The README's {@code qemu-nbd --fork --persistent -k SOCKET ARGS}: the parent exits once the socket listens.
     * {@code --pid-file} names the daemon, so the test stops it.
     */
    private Path qemuNbd(String... args) throws Exception {
        Path socket = dir.resolve("disk.sock");
        Path pidFile = dir.resolve("qemu-nbd.pid");
        List<String> cmd = new ArrayList<>(List.of(QEMU_NBD.toString(), "--fork", "--persistent", "-k",
                socket.toString(), "--pid-file", pidFile.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
        stops.add(() -> {
            if (Files.exists(pidFile)) {
                long pid = Long.parseLong(Files.readString(pidFile).trim());
                ProcessHandle.of(pid).ifPresent(h -> {
                    h.destroy();
                    h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> {
                        h.destroyForcibly();
                        return h;
                    }).join();
                });
            }
        });
        assertTrue(p.waitFor(START.toSeconds(), TimeUnit.SECONDS), "qemu-nbd did not come up: " + log("qemu-nbd"));
        assertEquals(0, p.exitValue(), () -> "qemu-nbd " + String.join(" ", args) + ": " + log("qemu-nbd"));
        assertTrue(Files.exists(socket) && Files.exists(pidFile), "qemu-nbd listens on " + socket);
        return socket;
    }

    private Process start(String name, String... cmd) throws IOException {
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile())
                .start();
    }

    /** Runs a command to its end; {@code must}: it has to succeed. */
    private boolean run(boolean must, String... cmd) throws Exception {
        Path out = dir.resolve("cmd.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        boolean ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        if (!ok) {
            p.destroyForcibly();
        }
        if (must) {
            assertTrue(ok, () -> String.join(" ", cmd) + ": " + read(out));
        }
        return ok;
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private String log(String name) {
        return read(dir.resolve(name + ".log"));
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void waitListening(int port, Process p, String name) throws InterruptedException {
        long deadline = System.nanoTime() + START.toNanos();
        while (!listening(port)) {
            assertTrue(p.isAlive(), () -> name + " exited: " + log(name));
            assertTrue(System.nanoTime() < deadline, () -> name + " does not listen on " + port + ": " + log(name));
            Thread.sleep(50);
        }
    }
}
