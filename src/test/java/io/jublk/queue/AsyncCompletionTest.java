package io.jublk.queue;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.sys.Errno;
import io.jublk.targets.PoolRamTarget;
import io.jublk.uapi.Ublk;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Answers from other threads ({@link QueueContext#complete}) through the queue's mailbox and eventfd wake-up, on the
 * host's real io_uring: many threads, platform and virtual, each request answered exactly once and none lost; the
 * races with the queue's end; the answers the queue refuses.
 */
class AsyncCompletionTest {
    private static final int DEPTH = 64;
    private static final int IO = 4096;

    /** Each tag's request writes its own block, then reads it back, through {@link PoolRamTarget}. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"platform pool", "virtual threads"})
    void manyThreadsAnswerEveryRequestExactlyOnce(String threads) {
        ExecutorService executor = threads.startsWith("virtual") ? Executors.newVirtualThreadPerTaskExecutor()
                : Executors.newFixedThreadPool(8);
        int rounds = 2400; // 2 × 64 × 2400 = 307,200 requests
        long blocks = 4096;
        try (executor; PoolRamTarget target = new PoolRamTarget(blocks * IO, executor);
                HostQueue q = HostQueue.open(target, DEPTH, IO, false)) {
            long requests = 0;
            for (int round = 0; round < rounds; round++) {
                for (int tag = 0; tag < DEPTH; tag++) {
                    long block = (round * 7L + tag * 61L) % blocks;
                    q.data(tag).set(JAVA_LONG, 0, stamp(round, tag));
                    q.start(tag, Ublk.UBLK_IO_OP_WRITE, 0, block * (IO >> 9), IO >> 9);
                }
                q.awaitAll();
                for (int tag = 0; tag < DEPTH; tag++) {
                    assertEquals(IO, q.result(tag));
                    q.data(tag).set(JAVA_LONG, 0, 0);
                    long block = (round * 7L + tag * 61L) % blocks;
                    q.start(tag, Ublk.UBLK_IO_OP_READ, 0, block * (IO >> 9), IO >> 9);
                }
                q.awaitAll();
                for (int tag = 0; tag < DEPTH; tag++) {
                    assertEquals(IO, q.result(tag), "read of round " + round + " tag " + tag);
                    assertEquals(stamp(round, tag), q.data(tag).get(JAVA_LONG, 0), "round " + round + " tag " + tag);
                }
                requests += 2 * DEPTH;
            }
            assertEquals(2L * DEPTH * rounds, requests);
        }
    }

    private static long stamp(int round, int tag) {
        return (long) round << 32 | tag | 0x5a5a_0000L;
    }

    /**
     * A handler whose answers come from {@code answerer}, given (id, request) on the queue thread during handle, and
     * that may answer later from anywhere.
     */
    private static Target target(Answerer answerer) {
        return new TestTarget("async", 1 << 20, queue -> r -> answerer.handle(queue, r));
    }

    @FunctionalInterface
    interface Answerer {
        int handle(QueueContext queue, Request r);
    }

    /** Results travel as given, errnos included, and each thread's answer lands on its own request. */
    @Test
    void resultsAndErrnosArriveAsGiven() throws Exception {
        int[] answers = new int[DEPTH];
        for (int tag = 0; tag < DEPTH; tag++) {
            answers[tag] = tag % 3 == 0 ? -Errno.ENOSPC : tag % 3 == 1 ? 0 : -Errno.EIO;
        }
        try (HostQueue q = HostQueue.open(target((queue, r) -> {
            long id = r.id();
            int answer = answers[r.tag()];
            Thread.ofVirtual().start(() -> {
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(2_000_000));
                queue.complete(id, answer);
            });
            return QueueHandler.QUEUED;
        }), DEPTH, IO, false)) {
            for (int tag = 0; tag < DEPTH; tag++) {
                q.start(tag, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0);
            }
            q.awaitAll();
            for (int tag = 0; tag < DEPTH; tag++) {
                assertEquals(answers[tag], q.result(tag), "tag " + tag);
            }
        }
    }

    /** The queue thread itself may answer through complete() too, also from inside handle. */
    @Test
    void theQueueThreadMayAnswerThroughCompleteToo() {
        try (HostQueue q = HostQueue.open(target((queue, r) -> {
            assertTrue(queue.complete(r.id(), 0));
            return QueueHandler.QUEUED;
        }), 4, IO, false)) {
            assertEquals(0, q.run(2, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
        }
    }

    /** Every answer the queue must refuse is refused, loudly, to the thread that gave it. */
    @Test
    void answersTheQueueMustRefuseAreRefused() throws Exception {
        AtomicLong firstId = new AtomicLong();
        AtomicReference<QueueContext> ctx = new AtomicReference<>();
        try (HostQueue q = HostQueue.open(target((queue, r) -> {
            ctx.set(queue);
            if (r.op() == Ublk.UBLK_IO_OP_FLUSH) {
                return 0; // answered at once: not for complete()
            }
            firstId.compareAndSet(0, r.id());
            return QueueHandler.QUEUED;
        }), 4, IO, false)) {
            assertEquals(0, q.run(1, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            QueueContext queue = ctx.get();
            long flushId = q.lastId(1);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> queue.complete(flushId, 0));
            assertTrue(e.getMessage().contains("not waiting for an answer"), e.getMessage());

            q.start(1, Ublk.UBLK_IO_OP_READ, 0, 0, 8);
            long readId = firstId.get();
            assertThrows(IllegalArgumentException.class, () -> queue.complete(readId, QueueHandler.QUEUED));
            assertThrows(IllegalArgumentException.class, () -> queue.complete(-1, 0));
            assertThrows(IllegalArgumentException.class, () -> queue.complete(readId | 0x3f, 0), "tag 63 of 4");
            Thread other = Thread.ofPlatform().start(() -> assertTrue(queue.complete(readId, IO)));
            other.join();
            e = assertThrows(IllegalStateException.class, () -> queue.complete(readId, IO), "twice");
            assertTrue(e.getMessage().contains("answered already"), e.getMessage());
            q.awaitAll();
            assertEquals(IO, q.result(1));

            q.start(1, Ublk.UBLK_IO_OP_READ, 0, 0, 8);
            e = assertThrows(IllegalStateException.class, () -> queue.complete(readId, IO), "an earlier request's id");
            assertTrue(e.getMessage().contains("now serves request"), e.getMessage());
            assertTrue(queue.complete(q.lastId(1), IO));
            q.awaitAll();
        }
    }

    /** The handler both returned a result and had complete() answer: the harness fails the test, naming it. */
    @Test
    void answeringTwiceBreaksTheRules() {
        try (HostQueue q = HostQueue.open(target((queue, r) -> {
            queue.complete(r.id(), 0);
            return 0;
        }), 4, IO, false)) {
            q.start(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0);
            AssertionError e = assertThrows(AssertionError.class, q::awaitAll);
            assertTrue(e.getMessage().contains("answered twice"), e.getMessage());
        }
    }

    /**
     * Answers racing the queue's end: each is taken (true) or dropped (false), never an exception; a request buffer
     * touched after the end refuses access instead of being written; answers after the end are dropped.
     */
    @Test
    void answersRacingTheQueuesEndAreTakenOrDroppedSafely() throws Exception {
        int taken = 0;
        int dropped = 0;
        for (int attempt = 0; attempt < 50; attempt++) {
            List<Request> seen = new ArrayList<>();
            ConcurrentHashMap<Long, Boolean> outcomes = new ConcurrentHashMap<>();
            AtomicInteger failures = new AtomicInteger();
            CountDownLatch go = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(DEPTH);
            HostQueue q = HostQueue.open(target((queue, r) -> {
                seen.add(r);
                long id = r.id();
                MemorySegment buffer = r.buffer();
                Thread.ofVirtual().start(() -> {
                    try {
                        go.await();
                        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(200_000));
                        buffer.set(JAVA_LONG, 0, id);
                        outcomes.put(id, queue.complete(id, IO));
                    } catch (IllegalStateException e) {
                        // The buffer's arena closed under us: refused access, nothing written.
                        if (!e.getMessage().contains("closed")) {
                            failures.incrementAndGet();
                        }
                        outcomes.put(id, false);
                    } catch (Throwable t) {
                        failures.incrementAndGet();
                    } finally {
                        done.countDown();
                    }
                });
                return QueueHandler.QUEUED;
            }), DEPTH, IO, false);
            for (int tag = 0; tag < DEPTH; tag++) {
                q.start(tag, Ublk.UBLK_IO_OP_READ, 0, tag * 8L, 8);
            }
            go.countDown();
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000));
            q.close();
            assertTrue(done.await(10, TimeUnit.SECONDS));
            assertEquals(0, failures.get(), "only taken or dropped");
            assertEquals(DEPTH, outcomes.size());
            for (Request r : seen) {
                assertFalse(r.buffer().scope().isAlive(), "the buffers went with the queue");
                assertFalse(q.complete(r.id(), IO), "after the end: dropped");
            }
            for (boolean b : outcomes.values()) {
                if (b) {
                    taken++;
                } else {
                    dropped++;
                }
            }
        }
        assertTrue(taken > 0 && dropped > 0, "the race went both ways: " + taken + " taken, " + dropped + " dropped");
    }

    /** A wake-up is one eventfd write per sleep, and none after the waker closed; closing twice is harmless. */
    @Test
    void aClosedWakerWritesNothing() {
        Waker w = new Waker("test");
        assertTrue(w.wake());
        w.close();
        assertFalse(w.wake());
        w.close();
    }
}
