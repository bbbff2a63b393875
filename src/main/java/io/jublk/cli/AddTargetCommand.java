package io.jublk.cli;

import io.jublk.daemon.Handshake;
import io.jublk.record.DeviceSpec;
import io.jublk.record.TargetSpec;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** A target of `ublk add`: its own options, turned into the typed spec a device record keeps. */
abstract class AddTargetCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common = new CommonOptions();

    /** The target's part of the spec, from its options. */
    abstract TargetSpec targetSpec();

    @Override
    public Integer call() throws Exception {
        DeviceSpec spec = common.spec(targetSpec());
        spec.check();
        Preflight.requireUblk();
        Preflight.requireFeatures(spec.deviceFlags());
        return Serving.serve(new Handshake.Add(spec, common.id), common.foreground);
    }
}
