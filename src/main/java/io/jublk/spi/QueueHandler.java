package io.jublk.spi;

/**
 * Serves the requests of one hardware queue; created by {@link Target#openQueue(QueueContext)} on the queue's
 * thread and only ever called from it. Requests arrive already checked (sector range, length, operation).
 *
 * <p>A handler either answers a request at once — {@link #handle(Request)} returns the result — or returns
 * {@link #QUEUED} and answers later: it starts asynchronous operations on the queue's io_uring through its
 * {@link QueueContext}, each of which comes back through {@link #ioDone(Request, int, int)}, whose result answers
 * the request; or it hands the request to another thread (an executor, a virtual thread, a network library's
 * callback), which answers with {@link QueueContext#complete(long, int)}; or both, one after the other (e.g. an
 * {@code ioDone} that returns QUEUED with nothing in flight, to be answered when a reply arrives). Each request
 * is answered exactly once.
 * Results are what the block layer expects: bytes transferred for READ/WRITE, 0 for the others, or a negative
 * errno. A READ or WRITE is answered with its whole length or an errno, never fewer bytes: ublk_drv completes a
 * request as a whole whatever positive count it gets, but for a READ copied from the server's buffer (7.3,
 * __ublk_complete_rq), so a short count would acknowledge a write that did not happen, or, on a zero-copy device,
 * pages that were never read into. Nothing here should allocate or block.
 */
public interface QueueHandler extends AutoCloseable {
    /** "The answer comes later, through {@link #ioDone}". */
    int QUEUED = Integer.MIN_VALUE;

    int handle(Request request);

    /**
     * An operation started for {@code request} completed with {@code res} (bytes or negative errno); {@code sub}
     * is what the handler passed when starting it. Returns the request's result, or {@link #QUEUED} if it
     * started more operations (e.g. to continue a short read).
     */
    default int ioDone(Request request, int sub, int res) {
        throw new IllegalStateException(getClass().getSimpleName() + " started I/O but does not handle ioDone");
    }

    /**
     * An operation not bound to a request ({@link QueueContext#connect}, {@link QueueContext#send(long, int,
     * java.lang.foreign.MemorySegment, int)}, {@link QueueContext#recv(long, int, java.lang.foreign.MemorySegment,
     * int)}, {@link QueueContext#poll}) completed with {@code res} (bytes, poll events, 0, or a negative errno);
     * {@code token} is what the handler passed when starting it. The handler may start more operations here and
     * answer requests (e.g. the one a received reply names) with {@link QueueContext#complete(long, int)}. An
     * exception thrown here is logged; no request fails for it.
     */
    default void ioDone(long token, int res) {
        throw new IllegalStateException(getClass().getSimpleName() + " started I/O with a token but has no ioDone"
                + " for it");
    }

    /**
     * Called on the queue thread after the queue stopped, once every operation the handler started has completed
     * or was cancelled. Not called if the kernel did not give some operation back in time: the queue then keeps
     * its memory, and the handler too, as something may still write into them.
     */
    @Override
    default void close() {}
}
