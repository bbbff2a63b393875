package io.jublk.cli;

import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;

import io.jublk.spi.DeviceParams;
import io.jublk.daemon.Handshake;
import io.jublk.record.DeviceRecord;
import io.jublk.record.DeviceSpec;
import io.jublk.record.Records;
import io.jublk.record.ServerProcess;
import java.time.Instant;
import io.jublk.sys.Errno;
import io.jublk.sys.LibC;
import io.jublk.uapi.UblkFeature;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.metrics.MetricsServer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Hidden: the training run for the class-data archive bin/ublk builds (AOT cache or CDS). It goes through
 * what every `ublk` command loads — picocli, the target registry and the `ublk add` commands made from it, the FFM
 * bindings, an io_uring, the uapi layouts — without needing a ublk kernel, so the archive can be made on the build
 * machine and used in the test VM.
 */
@Command(name = "__train", hidden = true)
final class TrainCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        CommandLine cl = Main.commandLine();
        for (String sub : List.of("add", "del", "list", "features")) {
            cl.getSubcommands().get(sub).getUsageMessage();
        }
        cl.getSubcommands().get("add").getSubcommands().values().forEach(CommandLine::getUsageMessage);
        // The commands as they are typed most, each with the model of its own command line (as `ublk` runs them):
        // the registry's add subcommands with their converters and groups.
        Main.commandLine("del", "-n", "0").parseArgs("del", "-n", "0");
        Main.commandLine("list", "--json").parseArgs("list", "--json");
        Main.commandLine("--version").parseArgs("--version");
        DeviceSpec spec = null;
        for (String[] add : List.of(new String[] {"add", "null", "--size", "1G"},
                new String[] {"add", "loop", "--file", "/x.img", "--size", "1G", "--buffered"})) {
            CommandLine.ParseResult p = Main.commandLine(add).parseArgs(add);
            spec = ((AddTargetCommand) p.subcommand().subcommand().commandSpec().userObject()).deviceSpec();
            // The JSON of records, the daemon's handshake and `list --json` (Jackson loads many classes).
            DeviceRecord rec = new DeviceRecord(DeviceRecord.FORMAT, 0, null, null, DeviceRecord.token(1),
                    DeviceRecord.State.LIVE,
                    new ServerProcess(1, 1), spec, new DeviceRecord.KernelDevice(1 << 30, 512, 1, 128, 1 << 19, "0x0"),
                    null, Instant.now(), Instant.now());
            Records.parse(Records.bytes(rec));
        }
        LibC.getpid();
        Errno.name(Errno.EINVAL);
        UblkFeature.decode(0x1fffffL);
        Records.JSON.readValue(Records.JSON.writeValueAsString(new Handshake.Add(spec, null, null, null)), Handshake.Request.class);
        Records.JSON.readValue(Records.JSON.writeValueAsString(new Handshake.Ready(0, "/dev/ublkb0")),
                Handshake.Answer.class);
        Records.JSON.writeValueAsString(List.of(java.util.Map.of("id", 0)));
        try (Arena a = Arena.ofConfined()) {
            DeviceParams.basic(1 << 30, 512, 4096, 512 * 1024, 0).withDiscard(4096, 8, 8);
            a.allocate(4096);
        }
        CompletionHandler none = (ud, res, flags) -> { };
        for (int flags : new int[] {0, IORING_SETUP_SQE128}) {
            try (IoUring ring = IoUring.open(8, 0, flags, 0, false)) {
                ring.next().nop().userData(1);
                ring.submitAndWait(1);
                ring.forEachCompletion(none);
            } catch (RuntimeException e) {
                // A machine without io_uring still trains the rest.
            }
        }
        daemonClasses();
        return 0;
    }

    /**
     * What a daemon loads besides: every class of jublk's own (loaded, not initialized: no static initializer runs),
     * and the metrics server's (Micrometer, the Prometheus client, the JDK's HTTP server and management beans).
     * Otherwise each daemon loads and verifies them from the jar, seconds before its device is made under emulation.
     */
    private static void daemonClasses() {
        ClassLoader loader = TrainCommand.class.getClassLoader();
        try (JarFile jar = new JarFile(Path.of(TrainCommand.class.getProtectionDomain().getCodeSource().getLocation()
                .toURI()).toFile())) {
            for (JarEntry e : java.util.Collections.list(jar.entries())) {
                String n = e.getName();
                if (n.startsWith("io/jublk/") && n.endsWith(".class") && !n.contains("-")) {
                    try {
                        Class.forName(n.substring(0, n.length() - 6).replace('/', '.'), false, loader);
                    } catch (ClassNotFoundException | LinkageError x) {
                        // Not loadable on its own here: the daemon loads it, if it needs it.
                    }
                }
            }
        } catch (IOException | java.net.URISyntaxException | RuntimeException e) {
            // Not run from a jar (tests): nothing to train.
        }
        try {
            MetricsServer.warmUp();
        } catch (IOException | RuntimeException e) {
            // No loopback to listen on: the rest is trained.
        }
    }
}
