package io.jublk.cli;

import io.jublk.daemon.DeviceDaemon;
import io.jublk.daemon.Failure;
import io.jublk.daemon.Handshake;
import io.jublk.daemon.Launcher;
import io.jublk.daemon.MountNamespace;
import io.jublk.record.Records;
import io.jublk.sys.LibC;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Hidden: the daemon's entry point, started by `ublk add` and `ublk recover` ({@link Launcher}). Reads one
 * {@link Handshake.Request} from stdin, answers on stdout as JSON lines, closes stdout once the device is ready (or
 * the start failed), and serves until stopped. Its stderr is its log.
 */
@Command(name = ServeCommand.NAME, hidden = true)
final class ServeCommand implements Callable<Integer> {
    static final String NAME = "__serve";

    @Override
    public Integer call() throws IOException {
        Logging.serverLevel();
        // Leave the session of the `ublk add` that started us: its terminal's hangup must not reach us.
        LibC.rawSetsid();
        MountNamespace.leaveUblkMounts();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line = in.readLine();
        PrintStream out = System.out;
        if (line == null) {
            return 2;
        }
        Handshake.Request request = Records.JSON.readValue(line, Handshake.Request.class);
        String log = System.getenv(Launcher.LOG_ENV);
        DeviceDaemon.Reporter reporter = new DeviceDaemon.Reporter() {
            @Override
            public void warning(String message) {
                answer(new Handshake.Warning(message), false);
            }

            @Override
            public void ready(int id, String blockDevice) {
                answer(new Handshake.Ready(id, blockDevice), true);
            }

            @Override
            public void failed(Failure failure) {
                answer(new Handshake.Failed(failure), true);
            }

            private void answer(Handshake.Answer a, boolean last) {
                out.println(Records.JSON.writeValueAsString(a));
                out.flush();
                if (last) {
                    out.close();
                }
            }
        };
        DeviceDaemon daemon = new DeviceDaemon(reporter, Serving.startTimeout(), log != null ? Path.of(log) : null);
        // The launcher's last word: the user was told, or the add is abandoned (undone whole). No word (the
        // launcher was killed): the device stays, as any device does.
        Thread.ofVirtual().name("ublk-launcher").start(() -> {
            try (in) {
                String last = in.readLine();
                if (last != null && Records.JSON.readValue(last, Handshake.Outcome.class) instanceof Handshake.Abandoned) {
                    daemon.abandon();
                }
            } catch (IOException | RuntimeException e) {
                // Nothing more from the launcher.
            }
        });
        return daemon.run(request);
    }
}
