package io.jublk.spi;

import java.lang.foreign.MemorySegment;

/**
 * What a {@link QueueHandler} may do on its queue: start asynchronous operations on the queue's own io_uring,
 * and answer requests later, from any thread.
 *
 * <p><b>Operations.</b> Each call prepares one submission entry; entries go to the kernel together, once per
 * loop turn. All of them are called on the queue thread only. Two kinds:
 * <ul>
 *   <li><em>bound to a request</em> ({@link #read}, {@link #write}, {@link #fsync}, {@link #fallocate},
 *       {@link #send(Request, int, int, long, int, int)}, {@link #sendZeroCopy}, {@link #recv(Request, int, int,
 *       long, int, int)}): started for a request being served; each completion goes to
 *       {@link QueueHandler#ioDone(Request, int, int)} with the same {@code sub}, and the request is committed
 *       only once none of them is in flight. {@code bufferOffset} is an offset into the request's data (its
 *       buffer, or on a zero-copy device its own pages).</li>
 *   <li><em>not bound to any request</em> ({@link #connect}, {@link #send(long, int, MemorySegment, int)},
 *       {@link #recv(long, int, MemorySegment, int)}, {@link #poll}): for a connection the handler keeps, such as a
 *       network target's socket and the reply headers it receives into memory of its own. Each completion goes to
 *       {@link QueueHandler#ioDone(long, int)} with the {@code token} the handler chose (0 to
 *       {@link #MAX_TOKEN}). They do not keep the queue alive: when it ends, those still in flight are cancelled
 *       and reaped before {@link QueueHandler#close()}, without being delivered. The memory they were given must
 *       stay valid until then.</li>
 * </ul>
 * {@code file} and {@code socket} are indexes returned by {@link #registerFile(int)}. A negative errno from the
 * kernel comes back as the result, never as an exception; an exception means the call itself was wrong (a range
 * outside the request's data, a request not being served).
 *
 * <p><b>Sockets.</b> A SEND or RECV may complete with fewer bytes than asked: that is a stream socket's normal
 * answer, and the handler, which knows what it needs, continues it by starting the rest; the queue passes counts
 * through as the kernel gives them. With {@code MSG_WAITALL} the kernel itself goes on with a short one on a
 * stream socket until all is done, so a short count then means the peer closed, an error after part of it, or a
 * signal. A RECV that completes with 0 means the peer closed. Operations on one socket run concurrently and the
 * kernel may retry one after another has gone ahead, so keep at most one SEND and one RECV in flight per stream
 * socket (start the next one from the completion of the previous), or their bytes may interleave.
 *
 * <p><b>Answering later.</b> A handler that returns {@link QueueHandler#QUEUED} with nothing in flight answers
 * the request later with {@link #complete(long, int)}, from any thread. See there for the rules.
 */
public interface QueueContext {
    /** The largest token an operation not bound to a request may carry (56 bits). */
    long MAX_TOKEN = (1L << 56) - 1;

    int deviceId();

    int queueId();

    int depth();

    /**
     * Registers a descriptor (a file, a socket) with the queue's ring (a fixed file, so the kernel skips the
     * file-table lookup per operation). Only during {@link Target#openQueue(QueueContext)}. The descriptor stays
     * owned by the caller and must outlive the queue.
     */
    int registerFile(int fd);

    /**
     * Puts {@code fd} at fixed-file index {@code file} (one {@link #registerFile(int)} returned) in place of what was
     * there, at any time on the queue thread (IORING_REGISTER_FILES_UPDATE once the queue runs): e.g. a network
     * target's new socket after a reconnect, so that the index its operations name stays the same. Operations in
     * flight on the old descriptor keep using it until they end. Both descriptors stay owned by the caller; the new
     * one must outlive the queue.
     */
    default void replaceFile(int file, int fd) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot replace a registered file");
    }

    /**
     * Request {@code r} now waits for its backend outside the queue's ring (a network server's reply, read by an
     * operation bound to no request): from now until it is answered its time counts as backend time (the backend
     * latency histogram), as it does while operations of the request are in flight. Once per request; on the queue
     * thread, while the request is being served.
     */
    default void waitingOnBackend(Request r) {}

    void read(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags);

    void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags);

    /** fsync, or fdatasync when {@code datasync}. */
    void fsync(Request r, int sub, int file, boolean datasync);

    void fallocate(Request r, int sub, int file, int mode, long offset, long length);

    // ---- answering from any thread --------------------------------------------------------------------------

    /**
     * Answers request {@code requestId} ({@link Request#id()}) with {@code result}: what {@link QueueHandler#handle}
     * would have returned (bytes for READ/WRITE, the whole length, or 0, or a negative errno), checked, counted and
     * committed the same way. Callable from any thread, platform or virtual, and from the queue thread itself, as
     * soon as {@code handle} was called for the request; it allocates nothing and takes no lock, and the queue
     * thread commits the answer in its next loop turn (woken if it waits).
     *
     * <p>The rules. A request is answered exactly once: either by a result {@code handle} or {@code ioDone} returns,
     * or by this, never both. Answer only when no operation started for the request is in flight (the answer
     * otherwise waits for them, and the queue logs an error). Keep the id, not the {@code Request}: the object is
     * reused for the tag's next request. Touch {@link Request#buffer()} only before calling this.
     *
     * <p>When the device stops, a request that still waits gets 10 s ({@code UblkQueue.STOP_GRACE}, from the stop,
     * or from its arrival if later) before the queue answers it itself with ECANCELED (EIO to the block layer) and
     * cancels the target's operations the kernel can cancel: STOP_DEV waits for every request the server holds.
     * When the queue ends (stopped, or abandoned), requests still waiting are dropped with it. An answer that comes
     * after either is dropped: this then returns false, and nothing is written anywhere, also once the queue and
     * its memory are gone (its buffers then refuse access with an IllegalStateException).
     *
     * @return true if the answer was taken (it is committed unless the queue ends first), false if it was dropped
     * @throws IllegalStateException    the request is not waiting for an answer: it was answered already, or
     *                                  {@code requestId} belongs to an earlier request of its tag (a bug in the
     *                                  target, reported to the thread that made it)
     * @throws IllegalArgumentException {@code requestId} is no request id of this queue, or {@code result} is
     *                                  {@link QueueHandler#QUEUED}
     */
    default boolean complete(long requestId, int result) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot answer requests later");
    }

    // ---- sockets, bound to a request -----------------------------------------------------------------------

    /**
     * IORING_OP_SEND of {@code length} bytes of the request's data from {@code bufferOffset} (a WRITE's payload):
     * from its fixed buffer where the queue has one and the kernel takes it (on a zero-copy device the request's own
     * pages: 7.3 does), the data still copied into the socket's buffers. {@code msgFlags}: MSG_* (MSG_WAITALL,
     * MSG_MORE…).
     */
    default void send(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    /**
     * Like {@link #send(Request, int, int, long, int, int)}, but with IORING_OP_SEND_ZC: the kernel sends from the
     * pages themselves (on a zero-copy device the request's own, so the data is never copied at all). Its
     * completion comes to {@code ioDone} as soon as the send is done; the queue then keeps the request uncommitted
     * until the kernel also let go of the pages (a TCP peer's acknowledgement), which it says separately. Only for
     * sockets that support it, TCP and UDP: on others the result is EOPNOTSUPP. Worth it for large payloads.
     */
    default void sendZeroCopy(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    /**
     * IORING_OP_RECV of at most {@code length} bytes into the request's data at {@code bufferOffset} (a READ's
     * payload), into its fixed buffer where the queue has one and the kernel takes it. On a zero-copy device the
     * bytes go straight into the request's own pages; that needs a kernel that takes fixed buffers on RECV (7.3),
     * and only a READ's pages can be received into (EFAULT otherwise).
     */
    default void recv(Request r, int sub, int socket, long bufferOffset, int length, int msgFlags) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    // ---- copies of a request's data, at once -----------------------------------------------------------------

    /**
     * Copies {@code length} bytes of the request's data from {@code bufferOffset} into {@code to} (e.g. a small WRITE
     * payload into a network target's send buffer), now, on the queue thread, while the request is being served. On a
     * device with its own buffers a memory copy; on a zero-copy device (the request's own pages) a pread on the ublk
     * char device, which needs a device made with UBLK_F_USER_COPY as well (the server's options' flags): one system
     * call, so zero-copy targets keep it for payloads too small to be worth their own operation.
     *
     * @return {@code length}, or a negative errno (the request then fails with it, say)
     * @throws UnsupportedOperationException a zero-copy device without UBLK_F_USER_COPY
     */
    default int copyFromRequest(Request r, long bufferOffset, MemorySegment to, int length) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot copy request data");
    }

    /** Copies {@code length} bytes of {@code from} into the request's data at {@code bufferOffset} (a READ's payload). */
    default int copyToRequest(Request r, long bufferOffset, MemorySegment from, int length) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot copy request data");
    }

    // ---- not bound to any request: completions go to QueueHandler.ioDone(token, res) -----------------------

    /**
     * IORING_OP_CONNECT of {@code socket} to the sockaddr in {@code address} (e.g. from
     * {@code io.jublk.uapi.SockaddrIn}), {@code addressLength} bytes of it. Completes with 0 or -errno
     * (ECONNREFUSED, ETIMEDOUT…).
     */
    default void connect(long token, int socket, MemorySegment address, int addressLength) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    /** IORING_OP_SEND of the bytes of {@code data}, memory the handler owns (e.g. a protocol's request header). */
    default void send(long token, int socket, MemorySegment data, int msgFlags) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    /** IORING_OP_RECV of at most {@code into.byteSize()} bytes into memory the handler owns (e.g. a reply header). */
    default void recv(long token, int socket, MemorySegment into, int msgFlags) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }

    /**
     * IORING_OP_POLL_ADD, one shot: completes with the POLL* events of {@code file} among {@code events} that are
     * ready (POLLERR and POLLHUP always count), as soon as one is; e.g. POLLIN to learn that a reply is there
     * without giving a buffer for it yet.
     */
    default void poll(long token, int file, int events) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no socket operations");
    }
}
