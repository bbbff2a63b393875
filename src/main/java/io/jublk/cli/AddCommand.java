package io.jublk.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "add", description = "Create a ublk device and start the server that serves it.",
        subcommands = {AddNullCommand.class, AddLoopCommand.class})
final class AddCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing target: ublk add null --size SIZE, or ublk add loop --file PATH");
    }
}
