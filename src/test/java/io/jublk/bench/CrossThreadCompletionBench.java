package io.jublk.bench;

import io.jublk.queue.BenchMailbox;
import io.jublk.sys.Errno;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import io.jublk.uring.UserData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A request answered from another thread ({@code QueueContext.complete}) on its way to the queue thread, which
 * alone may commit it: the queue's mailbox and eventfd wake-up, as UblkQueue and HostQueue use them.
 *
 * <p>{@link #sameThread} arms a request, answers it and takes the answer on one thread: the mailbox's own cost
 * (two compare-and-sets, a fetch-and-add, a volatile store and load). {@link #crossThread} is the whole path: the
 * benchmark thread, standing for the queue thread, arms {@value #BATCH} requests and hands their ids to a completer
 * thread ({@code completer}: a platform thread, or a virtual one); that one answers them; the queue thread takes the
 * answers as they come and, when there are none, waits in io_uring_enter on its eventfd read, which the first
 * completer to find it waiting wakes. Per answer; the hand-off to the completer (an unpark) is included, as a real
 * target pays it to its executor. Neither side may allocate; a virtual completer shows about 32 bytes per hand-off
 * (1 B per answer), which is the JDK parking and unparking the virtual thread, not the completion.
 */
public class CrossThreadCompletionBench extends HotPathBench {
    static final int BATCH = 32;
    private static final int KIND_WAKE = 3;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    @Param({"platform", "virtual"})
    public String completer;

    private BenchMailbox mailbox;
    private IoUring ring;
    private Arena arena;
    private MemorySegment wakeBuf;
    private final long[] generation = new long[BATCH];
    /** Ids handed to the completer; -1 where none waits. Written by the queue thread, taken by the completer. */
    private final long[] handed = new long[BATCH];
    private volatile long handedRounds;
    private volatile boolean stop;
    private Thread completerThread;
    private final CompletionHandler onWake = this::wakeDone;

    @Setup(Level.Trial)
    public void setUp() {
        linkRingTeardown();
        mailbox = new BenchMailbox(BATCH);
        ring = IoUring.open(8, 0, 0, UringRandReadBench.QUEUE_RING_FLAGS, true);
        arena = Arena.ofConfined();
        wakeBuf = arena.allocate(8, 8);
        Arrays.fill(handed, -1);
        armWake();
        Runnable loop = this::complete;
        completerThread = completer.equals("virtual") ? Thread.ofVirtual().start(loop)
                : Thread.ofPlatform().daemon().start(loop);
        // The first answers link their downcalls (eventfd_write); let them do so before measuring.
        for (int i = 0; i < 100; i++) {
            crossThread();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop = true;
        LockSupport.unpark(completerThread);
        completerThread.join();
        mailbox.close();
        ring.close();
        arena.close();
    }

    private void armWake() {
        ring.next().read(mailbox.wakeFd(), wakeBuf.address(), 8, 0).userData(UserData.encode(0, KIND_WAKE, 0, 0));
    }

    private void wakeDone(long userData, int res, int flags) {
        armWake();
    }

    /** The completer: answers what it is handed, parks when there is nothing. */
    private void complete() {
        long seen = 0;
        while (!stop) {
            if (handedRounds == seen) {
                LockSupport.park(this);
                continue;
            }
            seen = handedRounds;
            for (int tag = 0; tag < BATCH; tag++) {
                long id = (long) LONGS.getAndSet(handed, tag, -1L);
                if (id >= 0) {
                    mailbox.complete(id, 4096);
                }
            }
        }
    }

    private long nextId(int tag) {
        return ++generation[tag] << 16 | tag;
    }

    @Benchmark
    public int sameThread() {
        int tag = next(BATCH);
        long id = nextId(tag);
        mailbox.arm(id);
        mailbox.complete(id, 4096);
        return mailbox.result(mailbox.take());
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long crossThread() {
        for (int tag = 0; tag < BATCH; tag++) {
            long id = nextId(tag);
            mailbox.arm(id);
            LONGS.setRelease(handed, tag, id);
        }
        handedRounds = handedRounds + 1;
        LockSupport.unpark(completerThread);
        long sum = 0;
        for (int taken = 0; taken < BATCH;) {
            int tag = mailbox.take();
            if (tag >= 0) {
                sum += mailbox.result(tag);
                taken++;
                continue;
            }
            if (mailbox.mayBlock()) {
                int r = ring.submitAndWait(1);
                mailbox.awake();
                if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                    throw new IllegalStateException("io_uring_enter: " + r);
                }
                ring.forEachCompletion(onWake);
            }
        }
        return sum;
    }
}
