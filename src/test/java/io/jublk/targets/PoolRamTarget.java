package io.jublk.targets;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.Executor;

/**
 * A RAM disk whose handlers answer every request from another thread: {@code handle} hands the request to an
 * {@link Executor} (a pool, virtual threads) and returns QUEUED; the task moves the data between the RAM and the
 * request's buffer and answers with {@link QueueContext#complete}. The test target of asynchronous completion,
 * on the host ({@code HostQueue}) and against the real kernel in the VM.
 *
 * <p>Requests that start in the sectors {@code [holeStart, holeEnd)} are never answered: a target that hangs, for
 * the queue's bound on how long a stopping device waits.
 */
public final class PoolRamTarget implements Target {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ram;
    private final Executor executor;
    private final long holeStart;
    private final long holeEnd;

    public PoolRamTarget(long sizeBytes, Executor executor, long holeStart, long holeEnd) {
        this.ram = arena.allocate(sizeBytes, 4096);
        this.executor = executor;
        this.holeStart = holeStart;
        this.holeEnd = holeEnd;
    }

    public PoolRamTarget(long sizeBytes, Executor executor) {
        this(sizeBytes, executor, 0, 0);
    }

    @Override
    public String name() {
        return "pool-ram";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        return DeviceParams.basic(ram.byteSize(), 512, 4096, maxIoBytes, 0);
    }

    public MemorySegment ram() {
        return ram;
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return new Handler(queue);
    }

    @Override
    public void close() {
        arena.close();
    }

    private final class Handler implements QueueHandler {
        private final QueueContext queue;
        /** One task per tag, made once: serving a request allocates nothing here (the executor may). */
        private final Runnable[] tasks;
        private final Request[] requests;
        private final long[] ids;

        Handler(QueueContext queue) {
            this.queue = queue;
            int depth = queue.depth();
            tasks = new Runnable[depth];
            requests = new Request[depth];
            ids = new long[depth];
            for (int tag = 0; tag < depth; tag++) {
                int t = tag;
                tasks[tag] = () -> serve(t);
            }
        }

        @Override
        public int handle(Request r) {
            if (r.startSector() >= holeStart && r.startSector() < holeEnd) {
                return QUEUED;
            }
            requests[r.tag()] = r;
            ids[r.tag()] = r.id();
            executor.execute(tasks[r.tag()]);
            return QUEUED;
        }

        /** On the executor's thread: the request's fields were written before handle(), and stay until answered. */
        private void serve(int tag) {
            Request r = requests[tag];
            long id = ids[tag];
            int result;
            try {
                result = switch (r.op()) {
                    case Ublk.UBLK_IO_OP_READ -> {
                        MemorySegment.copy(ram, r.offset(), r.buffer(), 0, r.length());
                        yield (int) r.length();
                    }
                    case Ublk.UBLK_IO_OP_WRITE -> {
                        MemorySegment.copy(r.buffer(), 0, ram, r.offset(), r.length());
                        yield (int) r.length();
                    }
                    case Ublk.UBLK_IO_OP_DISCARD, Ublk.UBLK_IO_OP_WRITE_ZEROES -> {
                        ram.asSlice(r.offset(), r.length()).fill((byte) 0);
                        yield 0;
                    }
                    case Ublk.UBLK_IO_OP_FLUSH -> 0;
                    default -> -Errno.EOPNOTSUPP;
                };
            } catch (IllegalStateException e) {
                // The queue ended and its buffers with it (or the RAM is gone): nothing to answer any more.
                return;
            }
            queue.complete(id, result);
        }
    }
}
