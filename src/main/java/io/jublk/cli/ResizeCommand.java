package io.jublk.cli;

import io.jublk.daemon.Control;
import io.jublk.daemon.ControlClient;
import io.jublk.record.DeviceLock;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.targets.Sizes;
import io.jublk.uapi.Ublk;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk resize -n ID --size SIZE`: the live device gets a new size (UBLK_F_UPDATE_SIZE). Its server resizes the
 * target first (a loop target extends a regular file that is too short), then the kernel's capacity, and its record;
 * a file system on the device can then grow (resize2fs works online for ext4). Shrinking cuts off what lies past the
 * new end and needs {@code --force}; the backing file itself is never shortened.
 */
@Command(name = "resize", description = "Change a live device's size (a loop device's backing file is extended "
        + "when it grows; shrinking needs --force).")
final class ResizeCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
    int id;

    @Option(names = "--size", paramLabel = "SIZE", required = true, converter = Sizes.class,
            description = "The new size (K, M, G, T are powers of 1024).")
    long size;

    @Option(names = "--force", description = "Allow shrinking: what lies past the new end is no longer reachable "
            + "through the device (the backing file keeps it).")
    boolean force;

    @Override
    public Integer call() {
        if (size <= 0) {
            throw new Errors.UserError("--size must be greater than 0");
        }
        Preflight.requireUblk();
        Preflight.requireFeatures(Ublk.UBLK_F_UPDATE_SIZE);
        RunDirectory run = RunDirectory.get();
        if (!run.exists() || Records.read(run.check(), id).isEmpty() || !DeviceLock.isHeld(run, id)) {
            throw new Errors.UserError("device " + id + " is not served by jublk (see ublk list)");
        }
        Control.Event answer = ControlClient.ask(run.socketFile(id), new Control.Resize(size, force), 60_000)
                .orElseThrow(() -> new IllegalStateException("device " + id + "'s server did not answer"));
        if (answer instanceof Control.Refused r) {
            throw r.failure().toException();
        }
        return 0;
    }
}
