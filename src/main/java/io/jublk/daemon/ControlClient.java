package io.jublk.daemon;

import io.jublk.record.Records;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The callers' side of a server's control socket: `ublk del` and `ublk list`. */
public final class ControlClient implements AutoCloseable {
    private static final Control.Event CLOSED = new Control.Stopping();

    private final SocketChannel channel;
    private final BlockingQueue<Control.Event> events = new LinkedBlockingQueue<>();
    private volatile boolean eof;

    private ControlClient(SocketChannel channel) {
        this.channel = channel;
        Thread.ofVirtual().name("ublk-control-reader").start(this::readLoop);
    }

    /** Connects, or empty when nobody listens there (no server yet, or it is gone). */
    static Optional<ControlClient> connect(Path socket) {
        try {
            SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                c.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                c.close();
                return Optional.empty();
            }
            return Optional.of(new ControlClient(c));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void send(Control.Request r) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((Records.JSON.writeValueAsString(r) + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    private void readLoop() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                events.add(Records.JSON.readValue(line, Control.Event.class));
            }
        } catch (IOException | RuntimeException e) {
            // The server went away; the caller sees the end.
        } finally {
            eof = true;
            events.add(CLOSED);
        }
    }

    /** The next event within {@code millis}; empty on timeout; {@link #ended()} tells a closed connection. */
    Optional<Control.Event> next(long millis) throws InterruptedException {
        Control.Event e = events.poll(millis, TimeUnit.MILLISECONDS);
        if (e == CLOSED) {
            events.add(CLOSED);
            return Optional.empty();
        }
        return Optional.ofNullable(e);
    }

    /**
     * The counters of the server listening on {@code socket}, or empty when none answers within {@code millis}
     * (no server, or one that is starting or stopping).
     */
    public static Optional<Control.Counters> counters(Path socket, long millis) {
        return ask(socket, new Control.Status(), millis).filter(Control.Counters.class::isInstance)
                .map(Control.Counters.class::cast);
    }

    /** Sends one request and returns the one answer, or empty when no server answers within {@code millis}. */
    public static Optional<Control.Event> ask(Path socket, Control.Request r, long millis) {
        Optional<ControlClient> c = connect(socket);
        if (c.isEmpty()) {
            return Optional.empty();
        }
        try (ControlClient client = c.get()) {
            client.send(r);
            return client.next(millis);
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    boolean ended() {
        return eof && events.peek() == CLOSED;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
    }
}
