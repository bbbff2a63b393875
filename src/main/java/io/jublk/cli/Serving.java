package io.jublk.cli;

import io.jublk.daemon.DeviceDaemon;
import io.jublk.daemon.Failure;
import io.jublk.daemon.Handshake;
import io.jublk.daemon.Launcher;
import java.time.Duration;
import java.util.List;

/** `ublk add` and `ublk recover`: serve here (--foreground), or start a daemon and relay its answer. */
final class Serving {
    private Serving() {}

    static Duration startTimeout() {
        String s = System.getenv("JUBLK_START_TIMEOUT");
        return Duration.ofSeconds(s != null && s.matches("\\d+") ? Long.parseLong(s) : 180);
    }

    static int serve(Handshake.Request request, boolean foreground) throws InterruptedException {
        if (foreground) {
            Logging.serverLevel();
            return new DeviceDaemon(new Console(), startTimeout(), null).run(request);
        }
        Launcher.start(request, List.of(ServeCommand.NAME), Main.class.getName(), startTimeout(),
                w -> System.err.println("ublk: warning: " + w), r -> {
                    System.out.println(r.blockDevice());
                    System.out.flush();
                });
        return 0;
    }

    /** --foreground: the device path on stdout, warnings and the failure on stderr, as one line each. */
    static class Console implements DeviceDaemon.Reporter {
        @Override
        public void warning(String message) {
            System.err.println("ublk: warning: " + message);
        }

        @Override
        public void ready(int id, String blockDevice) {
            System.out.println(blockDevice);
            System.out.flush();
        }

        @Override
        public void failed(Failure failure) {
            System.err.println("ublk: " + Errors.describe(failure.toException()));
        }
    }
}
