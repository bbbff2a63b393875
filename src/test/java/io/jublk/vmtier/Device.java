package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.server.UblkServer;
import io.jublk.spi.Target;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A ublk device this JVM serves for one test, started through {@link UblkServer} as the daemon starts its own.
 * {@link #stop()} stops and deletes it and checks that this went cleanly; {@link #close()} stops it whatever
 * happened, without checks, for a test that failed before.
 */
final class Device implements AutoCloseable {
    private final UblkServer server;
    private boolean stopped;

    private Device(UblkServer server) {
        this.server = server;
    }

    /** Serves {@code target} with the defaults of {@code ublk add}: one queue of depth 128. */
    static Device start(Target target) {
        return start(target, UblkServer.Options.builder());
    }

    static Device start(Target target, UblkServer.Builder options) {
        return new Device(UblkServer.start(target, options.build()));
    }

    int id() {
        return server.info().devId();
    }

    /** {@code /dev/ublkbN}. */
    Path path() {
        return Path.of(server.blockDevice());
    }

    UblkServer server() {
        return server;
    }

    /** {@code /sys/block/ublkbN/ATTRIBUTE}, e.g. {@code queue/write_cache}: the block layer's view. */
    String sysfs(String attribute) {
        try {
            return Files.readString(Path.of("/sys/block/ublkb" + id(), attribute)).trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The size the block layer gives the device, in bytes. */
    long sizeBytes() {
        return Long.parseLong(sysfs("size")) * 512;
    }

    /** Requests of a QueueStats.OP_* kind this device's queues completed so far, all queues together. */
    long completed(int statOp) {
        return server.stats().stream().mapToLong(s -> s.completed(statOp)).sum();
    }

    /**
     * Stops and deletes the device, as {@code ublk del} has its daemon do, and checks it: every part of the stop
     * returned 0 (STOP_DEV, the target's final flush, DEL_DEV), no queue thread failed or outlived it, and both
     * device nodes are gone.
     */
    void stop() {
        stopped = true;
        int id = id();
        UblkServer.StopResult result = server.stop();
        server.close();
        assertTrue(result.ok(), "device " + id + " stopped with " + result);
        assertEquals(List.of(), server.queueFailures(), "queue failures of device " + id);
        assertFalse(server.anyQueueAlive(), "a queue thread of device " + id + " outlived the stop");
        assertFalse(Files.exists(Path.of("/dev/ublkb" + id)), "/dev/ublkb" + id + " is gone after the stop");
        assertFalse(Files.exists(Path.of("/dev/ublkc" + id)), "/dev/ublkc" + id + " is gone after the stop");
    }

    @Override
    public void close() {
        if (!stopped) {
            stopped = true;
            server.close();
        }
    }
}
