package io.jublk.cli;

import io.jublk.queue.Target;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** A target of `ublk add`: its own options, a quick check of them, and how to build the target. */
abstract class AddTargetCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common = new CommonOptions();

    /** Checks the target's options; runs in `ublk add` before a daemon is started, so bad input costs little. */
    abstract void validate();

    /** Builds the target in the serving process (opens files and so on). */
    abstract Target createTarget();

    /** Facts for the state file and `ublk list` (besides what the kernel reports). */
    abstract Map<String, String> describe();

    abstract String targetName();

    /** UBLK_F_* the target's options ask for (besides --recovery's). */
    long deviceFlags() {
        return 0;
    }

    /** Things the user should hear about, known once the target is created. */
    List<String> warnings() {
        return List.of();
    }

    @Override
    public Integer call() throws Exception {
        common.validate();
        validate();
        Preflight.requireUblk();
        Preflight.requireFeatures(deviceFlags());
        return common.foreground || common.daemonNotify ? Daemon.serve(this) : Daemon.spawn(this);
    }
}
