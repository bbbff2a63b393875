package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.DeviceDaemon;
import io.jublk.daemon.Handshake;
import io.jublk.record.DeviceLock;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.spi.DeviceInfo;
import io.jublk.sys.NativeException;
import io.jublk.uapi.Ublk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk upgrade -n ID [--jar PATH]`: a new server (this build, or the jar given) takes a live device over from the
 * jublk server serving it, and the old one exits; the device, a file system mounted on it and the I/O in flight
 * carry on, with no request failed (QUIESCE_DEV, then user recovery). The device must have been added with
 * --recovery (default or reissue) on a kernel with UBLK_F_QUIESCE; otherwise the command refuses and the device
 * serves on.
 */
@Command(name = "upgrade", description = "Hand a live device to a new server (this build of jublk, or --jar) "
        + "without failing its I/O; the old server exits (the device must have been added with --recovery).")
final class UpgradeCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
    int id;

    @Option(names = "--jar", paramLabel = "PATH", description = "Start the new server from this jublk jar (another "
            + "build); default: the one running this command.")
    Path jar;

    @Override
    public Integer call() throws InterruptedException {
        if (jar != null && (!Files.isRegularFile(jar) || !Files.isReadable(jar))) {
            throw new Errors.UserError("--jar " + jar + " is not a readable file");
        }
        Preflight.requireUblk();
        // The quick refusals, before a server is started; the new server checks everything again.
        RunDirectory run = RunDirectory.get();
        DeviceInfo info;
        long features;
        try (UblkControl ctrl = UblkControl.open()) {
            features = ctrl.getFeatures();
            try {
                info = ctrl.getDevInfo(id);
            } catch (NativeException e) {
                throw new Errors.UserError("device " + id + " does not exist (see ublk list)");
            }
        }
        if ((features & Ublk.UBLK_F_QUIESCE) == 0) {
            throw new Errors.UserError("upgrading needs UBLK_F_QUIESCE, which this kernel's ublk driver lacks");
        }
        String why = DeviceDaemon.whyNotUpgradable(info);
        if (why != null) {
            throw new Errors.UserError(why);
        }
        if (!run.exists() || Records.read(run.check(), id).isEmpty()) {
            throw new Errors.UserError("device " + id + " is not served by jublk (see ublk list)");
        }
        if (!DeviceLock.isHeld(run, id)) {
            throw new Errors.UserError("device " + id + " has no live server to hand it over" + (info.state()
                    == Ublk.UBLK_S_DEV_QUIESCED ? " (ublk recover -n " + id + " serves it again)" : ""));
        }
        if (info.state() != Ublk.UBLK_S_DEV_LIVE) {
            throw new Errors.UserError("device " + id + " is " + info.stateName() + ", not live");
        }
        return Serving.serve(new Handshake.Upgrade(id), false, jar);
    }
}
