package io.jublk.queue;

import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * Answers to requests given from any thread ({@code QueueContext.complete}), on their way to the queue thread,
 * which alone may commit them (the kernel's per-I/O daemon rule). No lock and no allocation on either side.
 *
 * <p>Per tag, {@code armed} holds the id of the request that may be answered this way: the queue thread arms a
 * request before its handler sees it and disarms it when the handler answers by returning a result. A completer
 * takes the request with one compare-and-set of that id, so of all the ways to answer a request exactly one
 * wins, and an id of a request answered already, or of an earlier request of the tag, is refused. The queue
 * thread can also take a request back ({@link #cancel}), after which its completer's answer is dropped.
 *
 * <p>A taken request's tag goes into a ring of tags. It cannot overflow: a tag is in it at most once (its
 * request is taken once, and re-armed only after the queue thread took the tag out), so a capacity of at
 * least the queue depth is enough. Producers claim a slot with a fetch-and-add of the tail and publish the tag
 * in it; the queue thread reads slots in order from its head and stops at one not yet published.
 *
 * <p>Waking: the queue thread says it is about to sleep in io_uring_enter ({@link #mayBlock()}: a volatile
 * store, then a look at the next slot); a completer publishes its tag, then looks whether the queue sleeps
 * (a volatile load). Of two threads that each store, then load what the other stored, at least one sees the
 * other's store: either the queue sees the tag and does not sleep, or the completer sees it sleeping. The first
 * completer that sees it sleeping clears the flag and writes the eventfd, once for all that follow until the
 * queue thread sleeps again; while it is busy, completers write nothing.
 */
final class CompletionMailbox {
    /** {@code armed} value of a tag whose request nobody may answer through {@link #complete}. */
    private static final long NONE = -1;
    /** Set in {@code armed} on the id of a request the queue answered itself. Ids never have it. */
    private static final long CANCELLED = Long.MIN_VALUE;
    private static final int EMPTY = -1;

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle TAIL;
    private static final VarHandle SLEEPING;
    private static final VarHandle LENIENT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            TAIL = l.findVarHandle(CompletionMailbox.class, "tail", long.class);
            SLEEPING = l.findVarHandle(CompletionMailbox.class, "sleeping", boolean.class);
            LENIENT = l.findVarHandle(CompletionMailbox.class, "lenient", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long[] armed;
    private final int[] results;
    private final int[] ring;
    private final int mask;
    private final Waker waker;
    /** Owned by the queue thread. */
    private long head;
    @SuppressWarnings("unused") // through the VarHandles
    private volatile long tail;
    @SuppressWarnings("unused")
    private volatile boolean sleeping;
    /** The queue answers requests itself now: a late answer is dropped, not refused. */
    @SuppressWarnings("unused")
    private volatile boolean lenient;

    /** @param waker wakes the queue thread; owned by the caller, which closes it after {@link #close()} */
    CompletionMailbox(int depth, Waker waker) {
        this.armed = new long[depth];
        Arrays.fill(armed, NONE);
        this.results = new int[depth];
        int capacity = Integer.highestOneBit(Math.max(2, depth) - 1) << 1;
        this.ring = new int[capacity];
        Arrays.fill(ring, EMPTY);
        this.mask = capacity - 1;
        this.waker = waker;
    }

    // ---- the queue thread ---------------------------------------------------------------------------------

    /** Request {@code id} may now be answered through {@link #complete}: its handler is about to see it. */
    void arm(long id) {
        LONGS.setRelease(armed, Request.tagOf(id), id);
    }

    /**
     * The handler answered request {@code id} by returning a result: {@link #complete} may no longer. False if a
     * completer took it first (its answer is on its way and counts).
     */
    boolean disarm(long id) {
        return LONGS.compareAndSet(armed, Request.tagOf(id), id, NONE);
    }

    /**
     * The queue answers request {@code id} itself; its completer's answer, when it comes, is dropped
     * ({@link #complete} returns false). False if a completer took it first.
     */
    boolean cancel(long id) {
        return LONGS.compareAndSet(armed, Request.tagOf(id), id, id | CANCELLED);
    }

    /** Whether request {@code id} waits for {@link #complete} (armed, not taken, not cancelled). */
    boolean waiting(long id) {
        return (long) LONGS.getAcquire(armed, Request.tagOf(id)) == id;
    }

    /** The tag of the next request a completer answered, or -1; then {@link #result(int)} is its answer. */
    int take() {
        int i = (int) (head & mask);
        int tag = (int) INTS.getAcquire(ring, i);
        if (tag == EMPTY) {
            return -1;
        }
        // Plain: ordered before the tag's next arm (a release store), which any producer that reuses this slot
        // has seen, as it took the re-armed request first.
        ring[i] = EMPTY;
        head++;
        return tag;
    }

    int result(int tag) {
        return results[tag];
    }

    /**
     * Says the queue thread is about to wait in io_uring_enter, unless an answer is there already: returns
     * false then (take it, and do not wait). After a true, the first completer wakes it; call {@link #awake()}
     * when the wait returns.
     */
    boolean mayBlock() {
        SLEEPING.setVolatile(this, true);
        if ((int) INTS.getVolatile(ring, (int) (head & mask)) != EMPTY) {
            SLEEPING.setOpaque(this, false);
            return false;
        }
        return true;
    }

    void awake() {
        SLEEPING.setOpaque(this, false);
    }

    /**
     * The queue begins answering requests itself (its device is stopping): from now on an answer for a request
     * that is not waiting is dropped ({@link #complete} returns false) rather than refused, as the queue may have
     * answered it, and its tag may serve another request already.
     */
    void beLenient() {
        LENIENT.setVolatile(this, true);
    }

    /**
     * The queue has ended: every request still waiting is cancelled, and {@link #complete} answers false from
     * now on. Call before closing the waker.
     */
    void close() {
        beLenient();
        for (int tag = 0; tag < armed.length; tag++) {
            long id = (long) LONGS.getVolatile(armed, tag);
            if (id >= 0) {
                cancel(id);
            }
        }
    }

    // ---- any thread ---------------------------------------------------------------------------------------

    /**
     * Answers request {@code id} with {@code result}, for the queue thread to commit. True when taken; false when
     * the queue answered the request itself (the device was stopping and the request waited too long, or the
     * queue ended) and {@code result} is dropped; from the moment the queue began answering requests itself, also
     * for an id that is not waiting for another reason.
     *
     * @throws IllegalStateException    the request is not waiting for an answer: answered already, by this or by
     *                                  its handler's return value, or {@code id} belongs to an earlier request
     *                                  of its tag
     * @throws IllegalArgumentException {@code id} is no request id of this queue, or {@code result} is QUEUED
     */
    boolean complete(long id, int result) {
        int tag = Request.tagOf(id);
        if (id < 0 || id >= Request.ID_LIMIT || tag >= armed.length) {
            throw new IllegalArgumentException("not a request id of this queue: " + id);
        }
        if (result == QueueHandler.QUEUED) {
            throw new IllegalArgumentException("QUEUED is not an answer (request " + describe(id) + ")");
        }
        if (!LONGS.compareAndSet(armed, tag, id, NONE)) {
            long now = (long) LONGS.getVolatile(armed, tag);
            if (now == (id | CANCELLED) || (boolean) LENIENT.getVolatile(this)) {
                return false;
            }
            throw new IllegalStateException("request " + describe(id) + " is not waiting for an answer: "
                    + (now == NONE ? "answered already, or never handed to its handler"
                            : now < 0 ? "its tag's request " + describe(now & ~CANCELLED) + " was cancelled"
                                    : "its tag now serves request " + describe(now)));
        }
        results[tag] = result;
        long t = (long) TAIL.getAndAdd(this, 1L);
        INTS.setVolatile(ring, (int) (t & mask), tag);
        if ((boolean) SLEEPING.getVolatile(this) && SLEEPING.compareAndSet(this, true, false)) {
            waker.wake();
        }
        return true;
    }

    private static String describe(long id) {
        return "#" + (id >>> 16) + " of tag " + Request.tagOf(id);
    }
}
