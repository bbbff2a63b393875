package io.jublk.cli;

import io.jublk.spi.ConfigException;
import io.jublk.targets.Targets;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/**
 * {@code ublk}: the command line. Every failure ends as one line on stderr and a non-zero exit status
 * (2 for bad input, 1 for everything else); nothing below this package prints or exits.
 */
@Command(name = "ublk", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Serve Linux ublk block devices (/dev/ublkbN) from userspace, in Java.",
        subcommands = {AddCommand.class, DelCommand.class, ListCommand.class, FeaturesCommand.class,
                RecoverCommand.class, ResizeCommand.class, UpgradeCommand.class, UpCommand.class,
                TrainCommand.class, ServeCommand.class, UdevOwnerCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        if (args.length == 1 && args[0].equals(ServeCommand.NAME)) {
            System.exit(serve());
        }
        System.exit(run(args));
    }

    /**
     * The daemon `ublk add` starts: no command line to parse, so no picocli. Its ~180 classes are in a class-file
     * format too old for the AOT cache, so every daemon would load and verify them from the jar, seconds under
     * emulation before the device is made.
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
        CommandLine cl = commandLine();
        return cl.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
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
        throw new CommandLine.ParameterException(new CommandLine(this),
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
