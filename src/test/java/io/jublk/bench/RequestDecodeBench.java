package io.jublk.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.jublk.queue.BenchRequests;
import io.jublk.spi.Request;
import io.jublk.spi.RequestDecoder;
import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblksrvIoDesc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The first step of serving a request: read a tag's {@code ublksrv_io_desc} from the descriptor array
 * (off-heap, as the queue's mmap of {@code /dev/ublkcN} is) and check it into the tag's {@link Request},
 * as {@code UblkQueue.serve} does. Tags are visited round-robin over a 128-deep queue of mixed READ and WRITE
 * descriptors of 4 KiB to 128 KiB.
 */
public class RequestDecodeBench extends HotPathBench {
    private static final int DEPTH = 128;
    private static final int MAX_IO = 128 * 1024;
    private static final long DEVICE_SECTORS = (16L << 30) >> 9;

    private Arena arena;
    private MemorySegment descriptors;
    private Request[] requests;
    private RequestDecoder decoder;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofConfined();
        descriptors = arena.allocate(DEPTH * UblksrvIoDesc.SIZE, 4096);
        MemorySegment buffers = arena.allocate((long) DEPTH * MAX_IO, 4096);
        requests = new Request[DEPTH];
        SplittableRandom random = new SplittableRandom(42);
        for (int t = 0; t < DEPTH; t++) {
            requests[t] = BenchRequests.newRequest(t, buffers.asSlice((long) t * MAX_IO, MAX_IO));
            long d = t * UblksrvIoDesc.SIZE;
            int op = random.nextBoolean() ? Ublk.UBLK_IO_OP_READ : Ublk.UBLK_IO_OP_WRITE;
            int sectors = 8 << random.nextInt(6); // 4 KiB .. 128 KiB
            descriptors.set(JAVA_INT, d + UblksrvIoDesc.OP_FLAGS, op);
            descriptors.set(JAVA_INT, d + UblksrvIoDesc.NR_SECTORS, sectors);
            descriptors.set(JAVA_LONG, d + UblksrvIoDesc.START_SECTOR,
                    random.nextLong((DEVICE_SECTORS - sectors) / 8) * 8);
        }
        decoder = new RequestDecoder(DEVICE_SECTORS, MAX_IO, 4096, false);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** One descriptor read and checked; returns the decoder's verdict (0 = serve) so nothing is elided. */
    @Benchmark
    public int decode() {
        int t = next(DEPTH);
        long d = t * UblksrvIoDesc.SIZE;
        int opFlags = descriptors.get(JAVA_INT, d + UblksrvIoDesc.OP_FLAGS);
        int nrSectors = descriptors.get(JAVA_INT, d + UblksrvIoDesc.NR_SECTORS);
        long startSector = descriptors.get(JAVA_LONG, d + UblksrvIoDesc.START_SECTOR);
        return decoder.decode(requests[t], opFlags, nrSectors, startSector);
    }
}
