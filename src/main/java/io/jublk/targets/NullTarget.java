package io.jublk.targets;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.uapi.Ublk;
import java.util.Map;

/**
 * The null target: every request succeeds at once with its full length; reads return zeros, writes go
 * nowhere. It measures the server itself, and it is the smallest example of the {@link Target} SPI.
 */
public final class NullTarget implements Target {
    private volatile long sizeBytes;
    private final int logicalBlockSize;

    public NullTarget(long sizeBytes, int logicalBlockSize) {
        this.sizeBytes = sizeBytes;
        this.logicalBlockSize = logicalBlockSize;
    }

    @Override
    public String name() {
        return "null";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        return DeviceParams.basic(sizeBytes, logicalBlockSize, logicalBlockSize, maxIoBytes, 0);
    }

    @Override
    public Map<String, String> describe() {
        return Map.of();
    }

    @Override
    public void resize(long newSizeBytes) {
        sizeBytes = newSizeBytes;
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return new Handler(queue.depth());
    }

    private static final class Handler implements QueueHandler {
        /** Bytes of each tag's buffer that a WRITE may have left non-zero. */
        private final long[] dirty;

        Handler(int depth) {
            dirty = new long[depth];
        }

        @Override
        public int handle(Request r) {
            int tag = r.tag();
            switch (r.op()) {
                case Ublk.UBLK_IO_OP_READ -> {
                    // The kernel copies the buffer into the reader's pages: it must hold zeros, not the data a
                    // previous WRITE on this tag left behind.
                    if (dirty[tag] > 0) {
                        r.buffer().asSlice(0, dirty[tag]).fill((byte) 0);
                        dirty[tag] = 0;
                    }
                    return (int) r.length();
                }
                case Ublk.UBLK_IO_OP_WRITE -> {
                    dirty[tag] = Math.max(dirty[tag], r.length());
                    return (int) r.length();
                }
                default -> {
                    return 0;
                }
            }
        }
    }
}
