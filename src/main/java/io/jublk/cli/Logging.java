package io.jublk.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/** One-line log records on stderr (a daemon's stderr is its log file). */
final class Logging {
    private Logging() {}

    /**
     * The JDK's LogManager closes every handler from a shutdown hook of its own, which may run before the server's
     * hook has logged how its stop went (a failed final flush above all). This one keeps its handlers at exit; they
     * flush every record as it is written, so nothing is lost by not closing them.
     */
    public static final class KeepHandlersAtExit extends LogManager {
        @Override
        public void reset() {
            if (Thread.currentThread().getClass().getName().startsWith(LogManager.class.getName())) {
                return; // LogManager$Cleaner, at JVM exit
            }
            super.reset();
        }
    }

    static void configure() {
        if (System.getProperty("java.util.logging.manager") == null) {
            System.setProperty("java.util.logging.manager", KeepHandlersAtExit.class.getName());
        }
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format",
                    "%1$tF %1$tT.%1$tL %4$-7s [%3$s] %5$s%6$s%n");
        }
        Logger root = Logger.getLogger("");
        for (var h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler h = new ConsoleHandler();
        h.setFormatter(new SimpleFormatter());
        h.setLevel(Level.ALL);
        root.addHandler(h);
        // Commands that do not serve a device stay quiet; `add` raises this when it becomes a server.
        root.setLevel(Level.WARNING);
    }

    static void serverLevel() {
        Logger.getLogger("").setLevel(Level.INFO);
    }
}
