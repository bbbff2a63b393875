package io.jublk.bench;

import static io.jublk.uapi.IoUringUapi.IOSQE_FIXED_FILE;
import static io.jublk.uapi.LinuxUapi.RWF_DSYNC;

import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblksrvIoCmd;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Writing one SQE of each kind a queue issues into a real ring's SQE array: a target's READ and FUA WRITE,
 * and the ublk COMMIT_AND_FETCH_REQ (URING_CMD with its {@code ublksrv_io_cmd} payload and a fixed file).
 *
 * <p>The SQE slot is walked round-robin and never submitted: claiming one with {@code IoUring.sqe()} would
 * fill the SQ within a few calls and make the kernel part of the measurement. What {@code sqe()} adds on top
 * (an acquire load of the SQ head, zeroing 64 bytes) is in {@link CompletionDispatchBench#nopRoundTrip}.
 */
public class SqePrepBench extends HotPathBench {
    private static final int BLOCK = 4096;
    private static final int DEPTH = 64;

    private Arena arena;
    private IoUring ring;
    private long buffers;
    private int entries;
    private int sqeSize;

    @Setup(Level.Trial)
    public void setUp() {
        linkRingTeardown();
        ring = IoUring.open(DEPTH, 0, 0, UringRandReadBench.QUEUE_RING_FLAGS, true);
        arena = Arena.ofConfined();
        MemorySegment b = arena.allocate((long) DEPTH * BLOCK, BLOCK);
        buffers = b.address();
        entries = ring.sqEntries();
        sqeSize = ring.sqeSize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        ring.close();
        arena.close();
    }

    @Benchmark
    public void prepRead() {
        int t = next(entries);
        ring.prepRead((long) t * sqeSize, 5, buffers + (long) t * BLOCK, BLOCK, (long) t << 20, 0,
                UserData.encode(t, 2, 0, 0));
    }

    @Benchmark
    public void prepWriteFua() {
        int t = next(entries);
        ring.prepWrite((long) t * sqeSize, 5, buffers + (long) t * BLOCK, BLOCK, (long) t << 20, RWF_DSYNC,
                UserData.encode(t, 2, 0, 0));
    }

    /** What UblkQueue writes to answer a request and fetch the next one on its tag. */
    @Benchmark
    public void prepCommitAndFetch() {
        int t = next(entries);
        long sqe = (long) t * sqeSize;
        long cmd = ring.prepUringCmd(sqe, 0, Ublk.UBLK_U_IO_COMMIT_AND_FETCH_REQ, UserData.encode(t, 1, 0, 0));
        ring.sqeFlags(sqe, IOSQE_FIXED_FILE);
        UblksrvIoCmd.write(ring.sqes(), cmd, 0, t, BLOCK, buffers + (long) t * BLOCK);
    }
}
