package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.Cleanup;
import io.jublk.record.RunDirectory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk del`: asks a device's server to stop (it finishes the requests in flight, makes its data durable and deletes
 * the device), or removes a jublk device whose server is gone. Exits non-zero, naming the errno, when the final
 * flush failed: writes the device acknowledged may then not be on the backing store.
 */
@Command(name = "del", description = "Stop a device's server and delete the device.")
final class DelCommand implements Callable<Integer> {
    static final class Which {
        @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
        Integer id;

        @Option(names = "--all", required = true, description = "Every jublk device, served or orphaned.")
        boolean all;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long a server may take to stop before it is killed (default: ${DEFAULT-VALUE}); "
                    + "a server flushing its backing store is never killed.")
    int timeout;

    @Option(names = "--safe", description = "Only if nobody has the device open: a device that is mounted or open is "
            + "refused and keeps serving (UBLK_F_SAFE_STOP_DEV).")
    boolean safe;

    @Override
    public Integer call() throws InterruptedException {
        Preflight.requireUblk();
        if (safe) {
            Preflight.requireFeatures(io.jublk.uapi.Ublk.UBLK_F_SAFE_STOP_DEV);
        }
        RunDirectory run = RunDirectory.get();
        if (run.exists()) {
            run.check();
        }
        List<String> problems = new ArrayList<>();
        try (UblkControl ctrl = UblkControl.open()) {
            List<Integer> ids = which.all ? List.copyOf(Cleanup.jublkIds(run, ctrl)) : List.of(which.id);
            for (int id : ids) {
                try {
                    Cleanup.Outcome o = Cleanup.delete(run, ctrl, id, safe, Duration.ofSeconds(timeout),
                            m -> System.err.println("ublk: " + m));
                    if (o.failed()) {
                        problems.add(o.problem());
                    }
                } catch (RuntimeException e) {
                    if (!which.all) {
                        throw e;
                    }
                    problems.add("device " + id + ": " + Errors.describe(e));
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(String.join("; ", problems));
        }
        return 0;
    }
}
