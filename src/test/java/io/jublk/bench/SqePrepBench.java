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
 * <p>The SQE slot is walked round-robin ({@code IoUring.sqeAt}) and never submitted: claiming one with
 * {@code IoUring.next()} would fill the SQ within a few calls and make the kernel part of the measurement. What
 * {@code next()} adds on top (an acquire load of the SQ head, zeroing 64 bytes) is in
 * {@link CompletionDispatchBench#nopRoundTrip}.
 */
public class SqePrepBench extends HotPathBench {
    private static final int BLOCK = 4096;
    private static final int DEPTH = 64;

    private Arena arena;
    private IoUring ring;
    private long buffers;
    private int entries;

    @Setup(Level.Trial)
    public void setUp() {
        linkRingTeardown();
        ring = IoUring.open(DEPTH, 0, 0, UringRandReadBench.QUEUE_RING_FLAGS, true);
        arena = Arena.ofConfined();
        MemorySegment b = arena.allocate((long) DEPTH * BLOCK, BLOCK);
        buffers = b.address();
        entries = ring.sqEntries();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        ring.close();
        arena.close();
    }

    @Benchmark
    public void prepRead() {
        int t = next(entries);
        ring.sqeAt(t).read(5, buffers + (long) t * BLOCK, BLOCK, (long) t << 20).userData(UserData.encode(t, 2, 0, 0));
    }

    @Benchmark
    public void prepWriteFua() {
        int t = next(entries);
        ring.sqeAt(t).write(5, buffers + (long) t * BLOCK, BLOCK, (long) t << 20).rwFlags(RWF_DSYNC)
                .userData(UserData.encode(t, 2, 0, 0));
    }

    /** What UblkQueue writes to answer a request and fetch the next one on its tag. */
    @Benchmark
    public void prepCommitAndFetch() {
        int t = next(entries);
        IoUring.Sqe sqe = ring.sqeAt(t).uringCmd(0, Ublk.UBLK_U_IO_COMMIT_AND_FETCH_REQ).flags(IOSQE_FIXED_FILE)
                .userData(UserData.encode(t, 1, 0, 0));
        UblksrvIoCmd.write(sqe.memory(), sqe.cmd(), 0, t, BLOCK, buffers + (long) t * BLOCK);
    }
}
