package io.jublk.cli;

import io.jublk.spi.ConfigException;
import io.jublk.targets.Targets;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.List;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code ublk}: the command line. Every failure ends as one line on stderr and a non-zero exit status
 * (2 for bad input, 1 for everything else); nothing below this package prints or exits.
 */
@Command(name = "ublk", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Serve Linux ublk block devices (/dev/ublkbN) from userspace, in Java.",
        modelTransformer = Main.Commands.class)
public final class Main implements Runnable {
    /** Every command, in the order `ublk --help` lists them. */
    static final List<Class<?>> COMMANDS = List.of(AddCommand.class, DelCommand.class, ListCommand.class,
            FeaturesCommand.class, RecoverCommand.class, ResizeCommand.class, UpgradeCommand.class, UpCommand.class,
            TrainCommand.class, ServeCommand.class, UdevOwnerCommand.class);

    /** The command line this model is for, or null for the whole of it (help, man pages, completion, tests). */
    private final String[] typed;

    @Spec
    CommandSpec spec;

    /** The whole command line: what picocli's generators (pom.xml) and {@link #commandLine()} build. */
    Main() {
        this(null);
    }

    private Main(String[] typed) {
        this.typed = typed;
    }

    /**
     * Adds `ublk`'s commands when picocli builds it: all of them, or only the one a command line names (and, for
     * `ublk add NAME`, only that target), or none for a bare `ublk --version`. Picocli reflects over every option of
     * every command it is given before it parses anything, and for one command that was most of the JVM's time: a
     * second or more of every short command under emulation (the test VM). Anything else (no command, an unknown
     * one, `ublk --help`) gets every command, so its help, errors and suggestions are the same as ever.
     * Its commands inherit this transformer (scope INHERIT) and picocli applies it to them too: they are left as
     * they are.
     */
    static final class Commands implements IModelTransformer {
        @Override
        public CommandSpec transform(CommandSpec ublk) {
            if (!(ublk.userObject() instanceof Main main)) {
                return ublk;
            }
            String[] typed = main.typed;
            String first = typed != null && typed.length > 0 ? typed[0] : null;
            if (typed != null && typed.length == 1 && (first.equals("--version") || first.equals("-V"))) {
                return ublk;
            }
            boolean named = first != null && COMMANDS.stream().anyMatch(c -> name(c).equals(first));
            for (Class<?> c : COMMANDS) {
                if (!named || name(c).equals(first)) {
                    Object command = c == AddCommand.class ? new AddCommand(typed != null && typed.length > 1
                            ? typed[1] : null) : c;
                    ublk.addSubcommand(name(c), new CommandLine(command));
                }
            }
            return ublk;
        }

        private static String name(Class<?> command) {
            return command.getAnnotation(Command.class).name();
        }
    }
    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals(ServeCommand.NAME)) {
            System.exit(serve());
        }
        System.exit(run(args));
    }

    /**
     * The daemon `ublk add` starts: no command line to parse, so no picocli, whose model of the command line is built
     * by reflection, seconds under emulation before the device is made.
     */
    static int serve() {
        Logging.configure();
        try {
            return new ServeCommand().call();
        } catch (Exception e) {
            System.err.println("ublk: " + Errors.describe(e));
            if (Boolean.getBoolean("jublk.debug")) {
                e.printStackTrace();
            }
            return e instanceof ConfigException ? 2 : 1;
        }
    }

    static int run(String... args) {
        Logging.configure();
        return commandLine(args).execute(args);
    }

    /** The whole command line, every command in it. */
    static CommandLine commandLine() {
        return configured(new CommandLine(new Main()));
    }

    /** The command line as far as {@code args} need it (see {@link Commands}); parses and runs them as the whole. */
    static CommandLine commandLine(String... args) {
        return configured(new CommandLine(new Main(args.clone())));
    }

    private static CommandLine configured(CommandLine cl) {
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            String msg = ex.getMessage().replaceAll("\\s+", " ").trim();
            if (ex instanceof CommandLine.UnmatchedArgumentException u && "add".equals(ex.getCommandLine().getCommandName())
                    && !u.getUnmatched().isEmpty()) {
                msg = "unknown target '" + u.getUnmatched().get(0) + "': ublk add " + String.join("|", Targets.names())
                        + " (ublk add --help)";
            }
            err.println("ublk: " + msg);
            err.flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            err.println("ublk: " + Errors.describe(ex));
            err.flush();
            if (Boolean.getBoolean("jublk.debug")) {
                ex.printStackTrace();
            }
            return ex instanceof ConfigException ? 2 : 1;
        });
        return cl;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing command: add, del, list, features, recover, resize or up (ublk --help)");
    }

    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws Exception {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/jublk-version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"jublk " + p.getProperty("version", "unknown")
                    + " (Java " + Runtime.version() + ", " + System.getProperty("os.name") + " "
                    + System.getProperty("os.version") + ")"};
        }
    }
}
