package io.jublk.examples;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * A compressed RAM disk, like the kernel's zram: each 4 KiB block is kept deflated, and a block of zeros takes no
 * memory at all. Compressing costs CPU time, and that belongs on worker threads: a queue's own thread should do
 * nothing but fetch and commit requests, or one slow block holds up every request behind it on the queue.
 *
 * <p>So a queue's handler only hands each request to a worker and returns {@code QUEUED}; the worker serves it and
 * answers with {@code QueueContext.complete(id, result)}, from its own thread (the queue thread then commits the
 * answer). The request object stays the request's until it is answered, so the worker may read it and its buffer
 * until then; it keeps the id, which {@code complete} needs. The pool belongs to the target and goes with it.
 */
public final class CompressedRamDisk implements Target {
    static final int BLOCK = 4096;
    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[BLOCK]);
    private static final int MAX_DISCARD_SECTORS = 1 << 17; // 64 MiB

    private final long sizeBytes;
    private final ExecutorService workers;
    /**
     * What each block holds: null for zeros, {@link #BLOCK} bytes as they are when deflating them saved nothing,
     * else their deflated form (always shorter). Atomic: one block's requests may be served on different threads.
     */
    private final AtomicReferenceArray<byte[]> blocks;
    private final LongAdder storedBytes = new LongAdder();
    /** A Deflater and an Inflater per thread that serves requests: they are not thread-safe, and slow to make. */
    private final ThreadLocal<Codec> codecs = ThreadLocal.withInitial(Codec::new);

    /** {@code sizeBytes}: a multiple of 4096, at most 8 TiB; one worker per CPU. */
    public CompressedRamDisk(long sizeBytes) {
        this(sizeBytes, Runtime.getRuntime().availableProcessors());
    }

    /**
     * {@code sizeBytes}: a multiple of 4096, at most 8 TiB. Memory is taken as blocks are written. {@code workers}
     * threads compress and decompress.
     */
    public CompressedRamDisk(long sizeBytes, int workers) {
        if (sizeBytes <= 0 || sizeBytes % BLOCK != 0 || sizeBytes / BLOCK > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("size must be a positive multiple of 4096 up to 8 TiB, not " + sizeBytes);
        }
        this.sizeBytes = sizeBytes;
        this.blocks = new AtomicReferenceArray<>((int) (sizeBytes / BLOCK));
        this.workers = Executors.newFixedThreadPool(workers, Thread.ofPlatform().name("compressed-ram-", 0).daemon()
                .factory());
    }

    @Override
    public String name() {
        return "compressed-ram";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        // 4 KiB logical blocks: every request covers whole blocks. No volatile cache: no FLUSH comes.
        return DeviceParams.basic(sizeBytes, BLOCK, BLOCK, maxIoBytes, 0)
                .withDiscard(BLOCK, MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return r -> {
            long id = r.id();
            workers.execute(() -> queue.complete(id, serve(r)));
            return QueueHandler.QUEUED;
        };
    }

    /** Stops the workers; the server calls it once every queue has stopped (so nothing waits for them). */
    @Override
    public void close() {
        workers.shutdownNow();
    }

    /** Bytes the blocks' contents take now (without the JVM's per-array overhead). */
    public long storedBytes() {
        return storedBytes.sum();
    }

    /**
     * Serves one request start to end, on whichever thread calls it. The server checked the request already:
     * the range is on the device and in whole blocks, a READ or WRITE fits the buffer, and any other operation than
     * these, FLUSH, DISCARD and WRITE_ZEROES was answered with EOPNOTSUPP.
     */
    int serve(Request r) {
        int op = r.op();
        if (op == Ublk.UBLK_IO_OP_FLUSH) {
            return 0; // nothing is cached: every write is in the blocks already
        }
        Codec codec = codecs.get();
        for (long at = 0; at < r.length(); at += BLOCK) {
            int block = (int) ((r.offset() + at) / BLOCK);
            if (op == Ublk.UBLK_IO_OP_READ) {
                if (!codec.inflate(blocks.get(block), r.buffer().asSlice(at, BLOCK))) {
                    return -Errno.EIO;
                }
            } else {
                // WRITE keeps the new data; DISCARD and WRITE_ZEROES leave zeros, which take nothing.
                byte[] kept = op == Ublk.UBLK_IO_OP_WRITE ? codec.deflate(r.buffer().asSlice(at, BLOCK)) : null;
                byte[] old = blocks.getAndSet(block, kept);
                storedBytes.add(length(kept) - length(old));
            }
        }
        return op == Ublk.UBLK_IO_OP_READ || op == Ublk.UBLK_IO_OP_WRITE ? (int) r.length() : 0;
    }

    private static int length(byte[] kept) {
        return kept == null ? 0 : kept.length;
    }

    /** One thread's compressor and decompressor, with the scratch space for one block. */
    private static final class Codec {
        private final Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        private final Inflater inflater = new Inflater();
        private final byte[] deflated = new byte[BLOCK];

        /** The block as it is to be kept: null for zeros, deflated when that is shorter, else a copy. */
        byte[] deflate(MemorySegment block) {
            if (block.mismatch(ZEROS) == -1) {
                return null;
            }
            deflater.reset();
            deflater.setInput(block.asByteBuffer());
            deflater.finish();
            int n = deflater.deflate(deflated);
            // Not finished: the deflated form would not even fit in a block.
            return deflater.finished() && n < BLOCK ? Arrays.copyOf(deflated, n) : block.toArray(JAVA_BYTE);
        }

        /** Fills {@code block} from what {@link #deflate} kept; false if that does not inflate to one block. */
        boolean inflate(byte[] kept, MemorySegment block) {
            if (kept == null) {
                block.fill((byte) 0);
                return true;
            }
            if (kept.length == BLOCK) {
                MemorySegment.copy(MemorySegment.ofArray(kept), 0, block, 0, BLOCK);
                return true;
            }
            inflater.reset();
            inflater.setInput(kept);
            try {
                return inflater.inflate(block.asByteBuffer()) == BLOCK && inflater.finished();
            } catch (DataFormatException e) {
                return false;
            }
        }
    }
}
