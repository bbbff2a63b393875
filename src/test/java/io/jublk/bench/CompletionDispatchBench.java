package io.jublk.bench;

import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Routing a completion: decode its {@code user_data} ({@link UserData}) and call the long-lived handler, the
 * way {@code UblkQueue.onCompletion} switches on the kind and updates per-tag state.
 *
 * <p>{@link #dispatch} feeds a fixed stream of mixed user_data values straight to the handler (pure Java);
 * {@link #nopRoundTrip} takes 32 SQEs from a real ring, submits them as NOPs with one io_uring_enter and
 * reaps the 32 CQEs through {@link IoUring#forEachCompletion}: the whole engine path per operation, system
 * call included, which must allocate nothing either.
 */
public class CompletionDispatchBench extends HotPathBench {
    private static final int DEPTH = 128;
    private static final int STREAM = 1024;
    private static final int BATCH = 32;
    static final int KIND_UBLK = 1;
    static final int KIND_TARGET = 2;
    static final int KIND_WAKE = 3;

    /** Per-tag state in arrays, as a queue keeps it. */
    static final class Dispatcher implements CompletionHandler {
        final byte[] state = new byte[DEPTH];
        final int[] result = new int[DEPTH];
        final int[] backendOps = new int[DEPTH];
        long wakes;

        @Override
        public void onCompletion(long userData, int res, int flags) {
            int tag = UserData.tag(userData);
            switch (UserData.kind(userData)) {
                case KIND_UBLK -> {
                    state[tag] = 2;
                    result[tag] = res;
                }
                case KIND_TARGET -> {
                    backendOps[tag]--;
                    result[tag] += res + UserData.sub(userData);
                }
                default -> wakes++;
            }
        }
    }

    private final long[] userData = new long[STREAM];
    private CompletionHandler handler;
    private IoUring ring;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < STREAM; i++) {
            int r = random.nextInt(100);
            int kind = r < 50 ? KIND_UBLK : r < 99 ? KIND_TARGET : KIND_WAKE;
            userData[i] = UserData.encode(random.nextInt(DEPTH), kind, random.nextInt(4), 0);
        }
        handler = new Dispatcher();
        linkRingTeardown();
        ring = IoUring.open(BATCH, 0, 0, UringRandReadBench.QUEUE_RING_FLAGS, true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        ring.close();
    }

    @Benchmark
    public void dispatch() {
        handler.onCompletion(userData[next(STREAM)], 4096, 0);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int nopRoundTrip() {
        for (int i = 0; i < BATCH; i++) {
            ring.next().nop().userData(userData[i]);
        }
        int r = ring.submitAndWait(BATCH);
        if (r < 0) {
            throw new IllegalStateException("io_uring_enter: " + r);
        }
        return ring.forEachCompletion(handler);
    }
}
