package io.jublk.examples;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A RAM disk: the device's bytes are one block of off-heap memory, and every request is a copy between that
 * memory and the request's buffer: the smallest target that keeps data (until it stops). Started with
 * {@code UblkServer.start(new RamDisk(256 << 20), UblkServer.Options.builder().build())}, it is the server's
 * {@code blockDevice()}, /dev/ublkbN, until the server is closed.
 */
public final class RamDisk implements Target {
    private static final int MAX_ZEROING_SECTORS = 1 << 17; // 64 MiB: a discard is one fill of the memory

    private final long sizeBytes;
    // Shared, not confined: each queue has its own thread, and all of them use the memory.
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;

    /** {@code sizeBytes}: a multiple of 4096. The memory is allocated, and zeroed, at once. */
    public RamDisk(long sizeBytes) {
        if (sizeBytes <= 0 || sizeBytes % 4096 != 0) {
            throw new IllegalArgumentException("size must be a positive multiple of 4096, not " + sizeBytes);
        }
        this.sizeBytes = sizeBytes;
        this.memory = arena.allocate(sizeBytes, 4096);
    }

    @Override
    public String name() {
        return "ram";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        // No volatile cache attribute: a write is as durable as RAM gets when it completes, so no FLUSH comes.
        // Discard and write-zeroes are cheap here, and mkfs discards the whole device before it writes.
        return DeviceParams.basic(sizeBytes, 512, 4096, maxIoBytes, 0)
                .withDiscard(4096, MAX_ZEROING_SECTORS, MAX_ZEROING_SECTORS);
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        // Each request is answered at once, the same way on every queue: the handler is one method.
        return this::serve;
    }

    /**
     * Checked by the server already: the range is on the device, a READ or WRITE fits the buffer, and any other
     * operation was answered with EOPNOTSUPP before it got here.
     */
    private int serve(Request r) {
        switch (r.op()) {
            case Ublk.UBLK_IO_OP_READ -> MemorySegment.copy(memory, r.offset(), r.buffer(), 0, r.length());
            case Ublk.UBLK_IO_OP_WRITE -> MemorySegment.copy(r.buffer(), 0, memory, r.offset(), r.length());
            case Ublk.UBLK_IO_OP_DISCARD, Ublk.UBLK_IO_OP_WRITE_ZEROES ->
                    memory.asSlice(r.offset(), r.length()).fill((byte) 0);
            default -> { } // FLUSH: nothing is cached, every write is in the memory already
        }
        // READ and WRITE answer with the bytes moved, the others with 0.
        return r.op() == Ublk.UBLK_IO_OP_READ || r.op() == Ublk.UBLK_IO_OP_WRITE ? (int) r.length() : 0;
    }

    /** Frees the memory; the server calls it once every queue has stopped. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
