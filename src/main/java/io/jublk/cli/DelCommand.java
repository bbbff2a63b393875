package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.sys.Errno;
import io.jublk.sys.NativeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "del", description = "Stop a device's server and delete the device.")
final class DelCommand implements Callable<Integer> {
    static final class Which {
        @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
        Integer id;

        @Option(names = "--all", required = true, description = "Every device this tool serves.")
        boolean all;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long the server may take to stop cleanly before it is killed (default: ${DEFAULT-VALUE}).")
    int timeout;

    @Override
    public Integer call() throws InterruptedException {
        Preflight.requireUblk();
        try (UblkControl ctrl = UblkControl.open()) {
            if (!which.all) {
                delete(ctrl, which.id);
                return 0;
            }
            List<String> failures = new ArrayList<>();
            for (int id : servedIds()) {
                try {
                    delete(ctrl, id);
                } catch (RuntimeException e) {
                    failures.add(Errors.describe(e));
                }
            }
            if (!failures.isEmpty()) {
                throw new IllegalStateException(String.join("; ", failures));
            }
            return 0;
        }
    }

    /** Devices with a state file: the ones jublk serves (or served, if the daemon died). */
    private static TreeSet<Integer> servedIds() {
        TreeSet<Integer> ids = new TreeSet<>();
        try (var files = Files.list(RunDir.dir())) {
            files.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("ublk\\d+\\.properties"))
                    .forEach(n -> ids.add(Integer.parseInt(n.substring(4, n.length() - ".properties".length()))));
        } catch (java.io.IOException e) {
            // No run directory: nothing served.
        }
        return ids;
    }

    private void delete(UblkControl ctrl, int id) throws InterruptedException {
        Optional<Devices> dev = Devices.find(ctrl, id);
        if (dev.isEmpty()) {
            boolean stale = RunDir.readState(id).isPresent();
            RunDir.removeState(id);
            if (stale) {
                return; // Its daemon cleaned up without removing the state file, or the kernel removed it.
            }
            throw new Errors.UserError("device " + id + " does not exist (see ublk list)");
        }
        Optional<ProcessHandle> daemon = dev.get().daemon();
        if (daemon.isPresent()) {
            ProcessHandle p = daemon.get();
            // SIGTERM: the daemon stops the device, flushes the target and deletes the device itself.
            p.destroy();
            if (!waitGone(p, timeout)) {
                p.destroyForcibly();
                waitGone(p, 10);
            }
        }
        // Whatever is left (a dead or killed server, a device of another tool): remove it here.
        if (Files.exists(Path.of("/dev/ublkc" + id)) || Devices.find(ctrl, id).isPresent()) {
            try {
                ctrl.stopDev(id);
            } catch (NativeException e) {
                // Already stopped (dead), or never started: DEL_DEV still applies.
            }
            try {
                ctrl.delete(id);
            } catch (NativeException e) {
                if (e.errno() != Errno.ENODEV) {
                    throw e;
                }
            }
        }
        RunDir.removeState(id);
    }

    private static boolean waitGone(ProcessHandle p, int seconds) throws InterruptedException {
        try {
            p.onExit().get(seconds, TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            return !p.isAlive();
        }
    }
}
