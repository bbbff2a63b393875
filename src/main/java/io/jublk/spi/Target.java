package io.jublk.spi;

import io.jublk.spi.DeviceParams;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A ublk target: what serves a block device's requests. This is jublk's public SPI; {@code null} and
 * {@code loop} are its first implementations, and a new one (a RAM disk, a remote store) is one class.
 *
 * <p>The server owns everything else: the control commands, one thread and one io_uring per hardware queue,
 * the fetch/commit cycle, per-tag buffers, request checking and metrics.
 */
public interface Target extends AutoCloseable {
    /** Short name shown by {@code ublk list}, e.g. "loop". */
    String name();

    /**
     * The device parameters: size, block sizes, attributes (volatile cache, FUA, read-only) and limits.
     *
     * @param maxIoBytes the per-request maximum the server's buffers allow
     */
    DeviceParams params(int maxIoBytes);

    /** Target facts for {@code ublk list} and the state file, e.g. {@code file} and {@code mode}. */
    default Map<String, String> describe() {
        return Map.of();
    }

    /**
     * Whether the queue should register its request buffers with io_uring as fixed buffers, so file reads
     * and writes use READ_FIXED/WRITE_FIXED (no page pinning per I/O). Worth it for targets doing file I/O.
     */
    default boolean wantsFixedBuffers() {
        return false;
    }

    /**
     * Whether this target moves data only through the queue's operations bound to the request ({@link
     * QueueContext#read}, {@link QueueContext#write}, SEND and RECV) and its copies ({@link
     * QueueContext#copyFromRequest}, which need UBLK_F_USER_COPY too), never touching {@link Request#buffer()}, so
     * it can serve a zero-copy device: with UBLK_F_AUTO_BUF_REG those operations go straight between the request's
     * own pages and the file or socket, and a request has no buffer of its own.
     */
    default boolean supportsZeroCopy() {
        return false;
    }

    /**
     * The device becomes {@code newSizeBytes} long (an online resize): called before the device grows (so the target
     * can serve the new range, e.g. extend a backing file) and after it shrank (nothing beyond the new end comes any
     * more). Throws {@link ConfigException} if the target cannot: then the device keeps its size.
     */
    default void resize(long newSizeBytes) {
        throw new ConfigException("a " + name() + " device cannot change its size");
    }

    /**
     * How many hardware queues the device gets, given {@code asked} (the server's option): a target whose queues
     * each need something it has only so much of (a network server's connections) says how many it serves.
     */
    default int queues(int asked) {
        return asked;
    }

    /**
     * How many hardware queues the device gets when nobody asked: {@code suggested} is the server's default for this
     * machine. A target with less to give (a network server that allows one connection) gives what it has, quietly:
     * nothing was asked that it refuses.
     */
    default int defaultQueues(int suggested) {
        return suggested;
    }

    /**
     * The target's own event counters by snake_case name (e.g. {@code reconnects}, {@code protocol_errors}), read
     * by the metrics from any thread: each supplier returns a count that only grows.
     */
    default Map<String, LongSupplier> counters() {
        return Map.of();
    }

    /** Creates the handler of one hardware queue, on that queue's thread. */
    QueueHandler openQueue(QueueContext queue);

    /**
     * Makes everything acknowledged durable; called once all queues have stopped, before {@link #close()}.
     * Returns 0 or a negative errno.
     */
    default int flush() {
        return 0;
    }

    @Override
    default void close() {}
}
