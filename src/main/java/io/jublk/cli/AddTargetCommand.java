package io.jublk.cli;

import io.jublk.daemon.Handshake;
import io.jublk.record.DeviceSpec;
import io.jublk.targets.TargetOptions;
import io.jublk.targets.TargetType;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;

/**
 * `ublk add NAME` for one target of the registry: the target's own options (its type's, mixed in, with its
 * description) and the ones every target shares, turned into the typed spec a device record keeps.
 */
final class AddTargetCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common = new CommonOptions();

    final TargetOptions<?> target;

    private AddTargetCommand(TargetOptions<?> target) {
        this.target = target;
    }

    /** The subcommand of {@code type}, ready to parse once. */
    static CommandLine of(TargetType<?> type) {
        TargetOptions<?> options = type.options().get();
        CommandSpec spec = CommandSpec.forAnnotatedObject(new AddTargetCommand(options));
        spec.addMixin(type.name(), CommandSpec.forAnnotatedObject(options));
        return new CommandLine(spec);
    }

    /** What the parsed options ask for; not checked yet. */
    DeviceSpec deviceSpec() {
        return common.spec(target.spec());
    }

    @Override
    public Integer call() throws Exception {
        DeviceSpec spec = deviceSpec();
        spec.check();
        String serial = common.serial();
        Preflight.requireUblk();
        Preflight.requireUnprivilegedAllows(spec.deviceFlags());
        Preflight.requireFeatures(spec.deviceFlags());
        return Serving.serve(new Handshake.Add(spec, common.id, null, serial), common.foreground);
    }
}
