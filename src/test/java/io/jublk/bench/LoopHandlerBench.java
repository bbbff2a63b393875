package io.jublk.bench;

import io.jublk.queue.BenchRequests;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.RequestDecoder;
import io.jublk.sys.Errno;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopTarget;
import io.jublk.uapi.Ublk;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The loop target's handler between the queue and the ring, without the ring: {@code handle} and the
 * {@code ioDone} calls one request sees, against a context that only remembers the last operation started (what
 * it costs to prepare an SQE is in {@link SqePrepBench}). A plain READ, a FUA WRITE continued after a short
 * unaligned O_DIRECT answer, and a read sent again after EAGAIN: none of them may allocate.
 */
public class LoopHandlerBench extends HotPathBench {
    private static final int DEPTH = 64;
    private static final int MAX_IO = 128 * 1024;

    /** Remembers the sub of the last operation started; prepares nothing. */
    static final class LastOp implements QueueContext {
        int sub;
        long fileOffset;

        @Override
        public int deviceId() {
            return 0;
        }

        @Override
        public int queueId() {
            return 0;
        }

        @Override
        public int depth() {
            return DEPTH;
        }

        @Override
        public int registerFile(int fd) {
            return fd;
        }

        @Override
        public void read(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags) {
            this.sub = sub;
            this.fileOffset = fileOffset;
        }

        @Override
        public void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags) {
            this.sub = sub;
            this.fileOffset = fileOffset;
        }

        @Override
        public void fsync(Request r, int sub, int file, boolean datasync) {
            this.sub = sub;
        }

        @Override
        public void fallocate(Request r, int sub, int file, int mode, long offset, long length) {
            this.sub = sub;
        }
    }

    private Path dir;
    private LoopTarget target;
    private Arena arena;
    private Request[] requests;
    private RequestDecoder decoder;
    private LastOp ctx;
    private QueueHandler handler;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("jublk-bench");
        target = LoopTarget.open(new LoopTarget.Config(dir.resolve("d.img"), 64L << 20, BackingFile.Mode.DIRECT, false,
                null, false));
        arena = Arena.ofConfined();
        MemorySegment buffers = arena.allocate((long) DEPTH * MAX_IO, 4096);
        requests = new Request[DEPTH];
        for (int t = 0; t < DEPTH; t++) {
            requests[t] = BenchRequests.newRequest(t, buffers.asSlice((long) t * MAX_IO, MAX_IO));
        }
        decoder = new RequestDecoder((64L << 20) >> 9, MAX_IO, 4096, false);
        ctx = new LastOp();
        handler = target.openQueue(ctx);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        arena.close();
        target.removeIfCreated();
        target.close();
        Files.deleteIfExists(dir);
    }

    private Request request(int op, int flags, int sectors) {
        int t = next(DEPTH);
        Request r = requests[t];
        decoder.decode(r, op | flags, sectors, (long) t * (MAX_IO >> 9));
        return r;
    }

    @Benchmark
    public int read() {
        Request r = request(Ublk.UBLK_IO_OP_READ, 0, 8);
        handler.handle(r);
        return handler.ioDone(r, ctx.sub, 4096);
    }

    /** 100 KiB asked, 5000 bytes answered: the rest goes on from the last whole block. */
    @Benchmark
    public int shortFuaWrite() {
        Request r = request(Ublk.UBLK_IO_OP_WRITE, Ublk.UBLK_IO_F_FUA, 200);
        handler.handle(r);
        handler.ioDone(r, ctx.sub, 5000);
        return handler.ioDone(r, ctx.sub, (int) (r.offset() + r.length() - ctx.fileOffset));
    }

    @Benchmark
    public int readAfterEagain() {
        Request r = request(Ublk.UBLK_IO_OP_READ, 0, 8);
        handler.handle(r);
        handler.ioDone(r, ctx.sub, -Errno.EAGAIN);
        return handler.ioDone(r, ctx.sub, 4096);
    }
}
