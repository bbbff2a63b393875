package io.jublk.cli;

import io.jublk.ctrl.DeviceInfo;
import io.jublk.ctrl.UblkControl;
import io.jublk.uapi.Ublk;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk recover -n ID`: a new server takes over a device whose server died, from the configuration its
 * daemon saved when it was added (the device must have been added with --recovery). The kernel kept the
 * device and its queued I/O; the new server fetches every tag and ends the recovery.
 */
@Command(name = "recover", description = "Start a new server for a device whose server died "
        + "(the device must have been added with --recovery).")
final class RecoverCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", required = true, description = "The device id.")
    int id;

    @Option(names = "--foreground", description = "Serve in this process instead of a daemon.")
    boolean foreground;

    @Override
    public Integer call() {
        Preflight.requireUblk();
        Properties state;
        try (UblkControl ctrl = UblkControl.open()) {
            Devices dev = Devices.find(ctrl, id)
                    .orElseThrow(() -> new Errors.UserError("device " + id + " does not exist (see ublk list)"));
            DeviceInfo info = dev.info();
            if (!info.has(Ublk.UBLK_F_USER_RECOVERY)) {
                throw new Errors.UserError("device " + id + " was not added with --recovery and cannot be recovered "
                        + "(ublk del -n " + id + " removes it)");
            }
            if (dev.daemon().isPresent()) {
                throw new Errors.UserError("device " + id + " is served: its server (pid " + dev.daemon().get().pid()
                        + ") is running");
            }
            if (info.state() != Ublk.UBLK_S_DEV_QUIESCED && info.state() != Ublk.UBLK_S_DEV_FAIL_IO) {
                throw new Errors.UserError("device " + id + " is " + info.stateName()
                        + ", not waiting for a new server (only a device whose server died can be recovered)");
            }
            state = dev.state();
            if (state == null) {
                throw new Errors.UserError("no saved configuration for device " + id + " in " + RunDir.dir()
                        + ": it was not added by this tool");
            }
        }
        List<String> args = new ArrayList<>();
        for (int i = 0; state.getProperty("arg." + i) != null; i++) {
            args.add(state.getProperty("arg." + i));
        }
        if (args.size() < 2 || !args.get(0).equals("add")) {
            throw new Errors.UserError("the saved configuration of device " + id + " is not an `ublk add` command");
        }
        args.add("--recover-id");
        args.add(Integer.toString(id));
        if (foreground) {
            args.add("--foreground");
        }
        return Main.run(args.toArray(String[]::new));
    }
}
