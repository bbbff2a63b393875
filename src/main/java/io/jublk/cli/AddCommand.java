package io.jublk.cli;

import io.jublk.targets.TargetType;
import io.jublk.targets.Targets;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Spec;

/** `ublk add NAME`: one subcommand for each target in the registry ({@link Targets#ALL}). */
@Command(name = "add", description = "Create a ublk device and start the server that serves it.",
        modelTransformer = AddCommand.OneForEachTarget.class)
final class AddCommand implements Runnable {
    @Spec
    CommandSpec spec;

    /** The word typed after `ublk add`, if known: a target's name builds that target's subcommand only. */
    private final String typed;

    AddCommand() {
        this(null);
    }

    AddCommand(String typed) {
        this.typed = typed;
    }

    /**
     * Makes `ublk add NAME` of every registered target when picocli builds this command, or of the one target typed
     * (each target's options are reflected over when it is made: see {@link Main.Commands}). Picocli applies it
     * again when `add` is made by {@link Main.Commands} (it transforms every subcommand of a new command line): a
     * target made already is kept.
     */
    static final class OneForEachTarget implements IModelTransformer {
        @Override
        public CommandSpec transform(CommandSpec add) {
            if (!(add.userObject() instanceof AddCommand command)) {
                return add; // a target's command, which inherits this transformer
            }
            String typed = command.typed;
            boolean named = typed != null && Targets.find(typed).isPresent();
            for (TargetType<?> t : Targets.ALL) {
                if ((!named || t.name().equals(typed)) && !add.subcommands().containsKey(t.name())) {
                    add.addSubcommand(t.name(), AddTargetCommand.of(t));
                }
            }
            return add;
        }
    }

    private static String usage(OptionSpec o) {
        return o.arity().max() > 0 ? o.longestName() + " " + o.paramLabel() : o.longestName();
    }

    @Override
    public void run() {
        // "ublk add null --size SIZE, or ublk add loop --file PATH": each target with its required options.
        List<String> forms = new ArrayList<>();
        for (CommandLine target : spec.subcommands().values()) {
            StringBuilder form = new StringBuilder(target.getCommandSpec().qualifiedName());
            for (OptionSpec o : target.getCommandSpec().options()) {
                if (o.required() && o.group() == null) { // an option of a group is "required" within it only
                    form.append(' ').append(usage(o));
                }
            }
            for (ArgGroupSpec g : target.getCommandSpec().argGroups()) {
                if (g.exclusive() && g.multiplicity().min() > 0) { // one of them is required: "(--a X | --b Y)"
                    form.append(" (").append(String.join(" | ", g.options().stream().map(AddCommand::usage)
                            .toList())).append(')');
                }
            }
            forms.add(form.toString());
        }
        throw new CommandLine.ParameterException(spec.commandLine(), "missing target: " + String.join(", or ", forms));
    }
}
