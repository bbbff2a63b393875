package io.jublk.daemon;

import io.jublk.record.Records;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A server's control socket: accepts `ublk del`'s {@link Control.Stop}, asks the {@link Lifecycle} to stop, and
 * tells every such caller how the stop goes ({@link #broadcast}). The socket file lives in the run directory (which
 * only root can enter) with mode 0600; it is made while the server holds its device lock, so an old file there is
 * stale and replaced.
 */
final class ControlServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());

    private final Path path;
    private final ServerSocketChannel server;
    private final Lifecycle lifecycle;
    private final Supplier<Control.Counters> counters;
    private final Function<Control.Request, Control.Event> requests;
    private final List<SocketChannel> listeners = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private ControlServer(Path path, ServerSocketChannel server, Lifecycle lifecycle, Supplier<Control.Counters> counters,
            Function<Control.Request, Control.Event> requests) {
        this.path = path;
        this.server = server;
        this.lifecycle = lifecycle;
        this.counters = counters;
        this.requests = requests;
        this.acceptor = Thread.ofPlatform().daemon().name("ublk-control").unstarted(this::acceptLoop);
    }

    /**
     * @param requests answers what changes the device in place (a safe stop's check, a resize): with the event to
     *                 send back, or null when the request goes on as a stop
     */
    static ControlServer start(Path path, Lifecycle lifecycle, Supplier<Control.Counters> counters,
            Function<Control.Request, Control.Event> requests) {
        try {
            Files.deleteIfExists(path);
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            s.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            ControlServer c = new ControlServer(path, s, lifecycle, counters, requests);
            c.acceptor.start();
            return c;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the control socket " + path, e);
        }
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            Thread.ofVirtual().name("ublk-control-client").start(() -> serve(c));
        }
    }

    private void serve(SocketChannel c) {
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(c), StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null) {
                c.close();
                return;
            }
            switch (Records.JSON.readValue(line, Control.Request.class)) {
                case Control.Stop stop -> {
                    Control.Event refused = stop.safe() ? requests.apply(stop) : null;
                    if (refused != null) {
                        try (c) {
                            write(c, refused);
                        }
                    } else {
                        listeners.add(c);
                        lifecycle.requestStop(stop.safe() ? "ublk del --safe" : "ublk del");
                    }
                }
                case Control.Status status -> {
                    try (c) {
                        write(c, counters.get());
                    }
                }
                case Control.Resize resize -> {
                    try (c) {
                        write(c, requests.apply(resize));
                    }
                }
                case Control.HandOver handOver -> {
                    Control.Event answer = requests.apply(handOver);
                    try (c) {
                        write(c, answer);
                    } finally {
                        // Only once the new server has its answer (or could have had it): the stop ends this process.
                        if (answer instanceof Control.HandedOver) {
                            lifecycle.requestStop("handed over to a new server");
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "control socket: " + e);
            try {
                c.close();
            } catch (IOException ignored) {
                // Gone.
            }
        }
    }

    /** Tells every caller waiting for a stop how it goes; a caller that went away is dropped. */
    void broadcast(Control.Event e) {
        for (SocketChannel c : listeners) {
            try {
                write(c, e);
            } catch (IOException gone) {
                listeners.remove(c);
            }
        }
    }

    private static void write(SocketChannel c, Control.Event e) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((Records.JSON.writeValueAsString(e) + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
        for (SocketChannel c : listeners) {
            try {
                c.close();
            } catch (IOException ignored) {
                // Closing anyway.
            }
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // A stale socket file is replaced by the next server of this id.
        }
    }
}
