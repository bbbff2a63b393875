package io.jublk.cli;

import io.jublk.spi.DeviceInfo;
import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.Handshake;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.NativeException;
import io.jublk.uapi.Ublk;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk recover -n ID`: a new server takes over a device whose server died, as the device's record describes it
 * (the device must have been added with --recovery). The new server reopens the very file the device was created
 * with — by its recorded path, following no symbolic link, never creating a file — and refuses if the file, its
 * size or the block size differ from the record and the kernel's parameters.
 */
@Command(name = "recover", description = "Start a new server for a device whose server died "
        + "(the device must have been added with --recovery).")
final class RecoverCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
    int id;

    @Option(names = "--foreground", description = "Serve in this process instead of a daemon.")
    boolean foreground;

    @Override
    public Integer call() throws InterruptedException {
        Preflight.requireUblk();
        // The quick refusals, before a daemon is started; the daemon checks everything again under the lock.
        RunDirectory run = RunDirectory.get();
        DeviceInfo info;
        try (UblkControl ctrl = UblkControl.open()) {
            info = ctrl.getDevInfo(id);
        } catch (NativeException e) {
            throw new Errors.UserError("device " + id + " does not exist (see ublk list)");
        }
        if (!info.has(Ublk.UBLK_F_USER_RECOVERY)) {
            throw new Errors.UserError("device " + id + " was not added with --recovery and cannot be recovered "
                    + "(ublk del -n " + id + " removes it)");
        }
        Optional<DeviceRecord> rec = run.exists() ? Records.read(run.check(), id) : Optional.empty();
        if (rec.isPresent() && DeviceLock.isHeld(run, id)) {
            throw new Errors.UserError("device " + id + " is served: its server (" + rec.get().server() + ") is running");
        }
        if (info.state() != Ublk.UBLK_S_DEV_QUIESCED && info.state() != Ublk.UBLK_S_DEV_FAIL_IO) {
            throw new Errors.UserError("device " + id + " is " + info.stateName()
                    + ", not waiting for a new server (only a device whose server died can be recovered)");
        }
        return Serving.serve(new Handshake.Recover(id), foreground);
    }
}
