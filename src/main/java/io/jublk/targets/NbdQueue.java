package io.jublk.targets;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * One queue's NBD connection in the transmission phase, on the queue's ring. Everything here runs on the queue
 * thread except {@link Supervisor}, which makes new connections and watches for a server that stopped answering.
 *
 * <p><b>Sending.</b> One SEND at a time on the socket. Requests wait in a FIFO; what is waiting goes out as one batch
 * from the handler's send buffer: each request's 28-byte header, and a WRITE's payload copied behind it when it is
 * small ({@link #COPY_MAX}), so many small requests cost one SEND. A large WRITE ends its batch; its payload then
 * goes out from the request's own buffer, bound to the request.
 *
 * <p><b>Receiving.</b> One RECV at a time. Replies are received into the handler's receive buffer and parsed there:
 * a READ's payload that is there already (or fits, {@link #BUFFERED_READ_MAX}) is copied into the request; a larger
 * one is received straight into the request's buffer, bound to it. Every request is answered with
 * {@link QueueContext#complete} on the queue thread, or by the return value of its own operation's completion.
 *
 * <p><b>Zero copy.</b> On a zero-copy device (UBLK_F_AUTO_BUF_REG with UBLK_F_USER_COPY) the code is the same: "a
 * request's buffer" is then its own pages, reached by SEND and RECV on its fixed buffer, and the copies of small
 * payloads into the batch and out of the receive buffer are {@link QueueContext#copyFromRequest} and
 * {@link QueueContext#copyToRequest} (pread and pwrite on the char device instead of a memory copy).
 *
 * <p><b>Connection loss</b> (the server closed, a reset, an ESHUTDOWN reply, no reply within the timeout): the
 * socket is shut down, every request sent and not answered is queued again, and the supervisor connects anew with
 * backoff. Once the operations on the old socket have ended, the new one takes its place in the ring's file table
 * and the requests go out again. If no connection can be made within the timeout the requests fail with EIO, as do
 * new ones until the server is back. <b>A protocol error</b> (a reply no request waits for, a wrong magic) fails the
 * requests in flight with EIO — the stream can no longer be read — and is logged once; then the same reconnect.
 */
final class NbdQueue implements QueueHandler {
    private static final System.Logger LOG = System.getLogger(NbdQueue.class.getName());
    private static final ValueLayout.OfInt BE_INT = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE_LONG = JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort BE_SHORT = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    static final int SEND_BUFFER = 256 * 1024;
    static final int RECV_BUFFER = 256 * 1024;
    /** WRITE payloads up to this are copied into the batch; larger ones are sent from the request's buffer. */
    static final int COPY_MAX = 32 * 1024;
    /** READ payloads up to this are received into the receive buffer and copied; larger ones straight in. */
    static final int BUFFERED_READ_MAX = 64 * 1024;

    private static final long T_SEND = 1;
    private static final long T_RECV = 2;
    private static final long T_WAKE = 3;
    private static final int SUB_PAYLOAD_OUT = 1;
    private static final int SUB_PAYLOAD_IN = 2;

    /** Where a request is. */
    private static final byte IDLE = 0;
    /** Waiting in the FIFO to be sent. */
    private static final byte WAITING = 1;
    /** Its header (and payload) went into a batch: waiting for the reply. */
    private static final byte SENT = 2;
    /** A large WRITE: its header is in the batch, its payload goes (or is going) out from its buffer. */
    private static final byte PAYLOAD_OUT = 3;
    /** A large READ's payload is being received into its buffer. */
    private static final byte PAYLOAD_IN = 4;

    private final NbdTarget target;
    private final QueueContext q;
    private final int depth;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment sendBuf;
    private final MemorySegment recvBuf;
    private final MemorySegment wakeBuf;
    private final Request[] requests;
    private final byte[] state;
    /** A reply came for a WRITE whose payload send had not completed yet: its result, given when it does. */
    private final boolean[] early;
    private final int[] earlyResult;
    /** A protocol error: the request's operation in flight ends it with EIO. */
    private final boolean[] failOnDone;
    private final int[] fifo;
    private int fifoHead;
    private int fifoTail;

    /** The socket: its fixed-file index, and its descriptor (replaced on a reconnect). */
    private final int sock;
    private Fd socket;
    private final Fd wake;
    private final int wakeIndex;
    private final Supervisor supervisor;

    private boolean connected;
    /** After the timeout with no connection: requests fail at once until the server is back. */
    private boolean failFast;

    private boolean sending;
    private int sendLen;
    private int sendOff;
    /** The large WRITE whose payload follows the batch, -1 if none. */
    private int payloadTag = -1;
    private boolean payloadInFlight;
    private long payloadDone;

    private boolean recvInFlight;
    private int rStart;
    private int rEnd;
    /** A large READ's payload being received into its buffer: its tag, and the bytes of it received. */
    private int directTag = -1;
    private long directDone;

    /** Requests sent whose reply has not come: what the supervisor's watchdog looks at. */
    private volatile int awaiting;
    /** System.nanoTime() of the last sign of life: bytes received, or a first request sent while none waited. */
    private volatile long progress;
    /** System.nanoTime() when the server was lost (0 while a connection works): the timeout counts from here. */
    private volatile long lostAt;

    NbdQueue(NbdTarget target, QueueContext q, NbdHandshake.Connected connection) {
        this.target = target;
        this.q = q;
        this.depth = q.depth();
        sendBuf = arena.allocate(SEND_BUFFER, 4096);
        recvBuf = arena.allocate(RECV_BUFFER, 4096);
        wakeBuf = arena.allocate(8, 8);
        requests = new Request[depth];
        state = new byte[depth];
        early = new boolean[depth];
        earlyResult = new int[depth];
        failOnDone = new boolean[depth];
        fifo = new int[depth];
        socket = connection.socket();
        sock = q.registerFile(socket.get());
        wake = Fd.adopt(NativeException.check(LibC.rawEventfd(0, LinuxUapi.EFD_CLOEXEC | LinuxUapi.EFD_NONBLOCK),
                "eventfd for the NBD connection of queue " + q.queueId()), "nbd wake-up");
        wakeIndex = q.registerFile(wake.get());
        supervisor = new Supervisor();
        connected = true;
        progress = System.nanoTime();
        q.poll(T_WAKE, wakeIndex, LinuxUapi.POLLIN);
        startRecv();
        supervisor.start();
    }

    // ---- requests ------------------------------------------------------------------------------------------

    @Override
    public int handle(Request r) {
        NbdHandshake.Export e = target.export();
        switch (r.op()) {
            case Ublk.UBLK_IO_OP_READ, Ublk.UBLK_IO_OP_WRITE -> { }
            case Ublk.UBLK_IO_OP_FLUSH -> {
                if (!e.has(Nbd.NBD_FLAG_SEND_FLUSH)) {
                    return 0; // no cache to flush: the device says so, and nothing reaches here normally
                }
            }
            case Ublk.UBLK_IO_OP_DISCARD -> {
                if (!e.has(Nbd.NBD_FLAG_SEND_TRIM)) {
                    return -Errno.EOPNOTSUPP;
                }
            }
            case Ublk.UBLK_IO_OP_WRITE_ZEROES -> {
                if (!e.has(Nbd.NBD_FLAG_SEND_WRITE_ZEROES)) {
                    return -Errno.EOPNOTSUPP;
                }
            }
            default -> {
                return -Errno.EOPNOTSUPP;
            }
        }
        if (!connected) {
            afterLoss(); // a connection the supervisor made may be waiting for the queue to take it
        }
        if (!connected && failFast) {
            return -Errno.EIO;
        }
        int tag = r.tag();
        requests[tag] = r;
        enqueue(tag);
        sendNext();
        return QUEUED;
    }

    private void enqueue(int tag) {
        early[tag] = false;
        failOnDone[tag] = false;
        state[tag] = WAITING;
        fifo[fifoTail++ % depth] = tag;
    }

    private void answer(int tag, int result) {
        state[tag] = IDLE;
        q.complete(requests[tag].id(), result);
    }

    // ---- sending ---------------------------------------------------------------------------------------------

    /** Starts the next batch, if the socket is free and something waits. */
    private void sendNext() {
        if (!connected || sending || payloadTag >= 0 || fifoHead == fifoTail) {
            return;
        }
        int len = 0;
        boolean wasIdle = awaiting == 0;
        int sent = 0;
        while (fifoHead != fifoTail) {
            int tag = fifo[fifoHead % depth];
            Request r = requests[tag];
            boolean write = r.op() == Ublk.UBLK_IO_OP_WRITE;
            int copy = write && r.length() <= COPY_MAX ? (int) r.length() : 0;
            if (len + Nbd.REQUEST_BYTES + copy > SEND_BUFFER) {
                break;
            }
            fifoHead++;
            if (copy > 0) {
                // the payload behind the header: a memory copy, or on a zero-copy device a pread of its pages
                int c = q.copyFromRequest(r, 0, sendBuf.asSlice(len + Nbd.REQUEST_BYTES, copy), copy);
                if (c < 0) {
                    answer(tag, c);
                    continue;
                }
            }
            header(len, r);
            len += Nbd.REQUEST_BYTES;
            q.waitingOnBackend(r);
            sent++;
            if (write && copy == 0) {
                state[tag] = PAYLOAD_OUT;
                payloadTag = tag;
                payloadDone = 0;
                break;
            }
            len += copy;
            state[tag] = SENT;
        }
        awaiting += sent;
        if (wasIdle) {
            progress = System.nanoTime();
        }
        sendLen = len;
        sendOff = 0;
        sendBatch();
    }

    private void sendBatch() {
        sending = true;
        int flags = LinuxUapi.MSG_WAITALL | LinuxUapi.MSG_NOSIGNAL | (payloadTag >= 0 ? LinuxUapi.MSG_MORE : 0);
        q.send(T_SEND, sock, sendBuf.asSlice(sendOff, sendLen - sendOff), flags);
    }

    /** Writes request {@code r}'s header at {@code at} in the send buffer. */
    private void header(int at, Request r) {
        NbdHandshake.Export e = target.export();
        int type;
        int flags = 0;
        switch (r.op()) {
            case Ublk.UBLK_IO_OP_READ -> type = Nbd.NBD_CMD_READ;
            case Ublk.UBLK_IO_OP_WRITE -> type = Nbd.NBD_CMD_WRITE;
            case Ublk.UBLK_IO_OP_FLUSH -> type = Nbd.NBD_CMD_FLUSH;
            case Ublk.UBLK_IO_OP_DISCARD -> type = Nbd.NBD_CMD_TRIM;
            default -> {
                type = Nbd.NBD_CMD_WRITE_ZEROES;
                flags = r.noUnmap() ? Nbd.NBD_CMD_FLAG_NO_HOLE : 0;
            }
        }
        if (r.fua() && e.has(Nbd.NBD_FLAG_SEND_FUA) && r.op() != Ublk.UBLK_IO_OP_READ) {
            flags |= Nbd.NBD_CMD_FLAG_FUA;
        }
        sendBuf.set(BE_INT, at, Nbd.NBD_REQUEST_MAGIC);
        sendBuf.set(BE_SHORT, at + 4, (short) flags);
        sendBuf.set(BE_SHORT, at + 6, (short) type);
        sendBuf.set(BE_LONG, at + 8, r.id());
        sendBuf.set(BE_LONG, at + 16, r.op() == Ublk.UBLK_IO_OP_FLUSH ? 0 : r.offset());
        sendBuf.set(BE_INT, at + 24, r.op() == Ublk.UBLK_IO_OP_FLUSH ? 0 : (int) r.length());
    }

    private void batchSent(int res) {
        sending = false;
        if (!connected) {
            afterLoss();
            return;
        }
        if (res <= 0) {
            lost(res == 0 ? "a send to it sent nothing" : "a send to it failed with " + Errno.name(res));
            return;
        }
        sendOff += res;
        if (sendOff < sendLen) {
            sendBatch(); // short (a signal, or the socket shut down under it): the rest
        } else if (payloadTag >= 0) {
            sendPayload();
        } else {
            sendNext();
        }
    }

    private void sendPayload() {
        Request r = requests[payloadTag];
        payloadInFlight = true;
        q.send(r, SUB_PAYLOAD_OUT, sock, payloadDone, (int) (r.length() - payloadDone),
                LinuxUapi.MSG_WAITALL | LinuxUapi.MSG_NOSIGNAL);
    }

    private int payloadSent(Request r, int res) {
        int tag = r.tag();
        payloadInFlight = false;
        if (connected && res > 0) {
            payloadDone += res;
            if (payloadDone < r.length()) {
                sendPayload();
                return QUEUED;
            }
        }
        payloadTag = -1;
        if (early[tag] || failOnDone[tag]) {
            int result = early[tag] ? earlyResult[tag] : -Errno.EIO;
            early[tag] = false;
            failOnDone[tag] = false;
            state[tag] = IDLE;
            resume();
            return result;
        }
        if (connected && res > 0) {
            state[tag] = SENT;
            sendNext();
            return QUEUED;
        }
        enqueue(tag); // all of it goes again
        if (connected) {
            lost(res == 0 ? "a send to it sent nothing" : "a send to it failed with " + Errno.name(res));
        } else {
            afterLoss();
        }
        return QUEUED;
    }

    /** Goes on after an operation ended: the next batch, or, while disconnected, the new connection. */
    private void resume() {
        if (connected) {
            sendNext();
        } else {
            afterLoss();
        }
    }

    // ---- receiving -------------------------------------------------------------------------------------------

    private void startRecv() {
        if (rStart > 0) {
            // What is left is the start of a reply: to the front, so that the rest fits behind it.
            MemorySegment.copy(recvBuf, rStart, recvBuf, 0, rEnd - rStart);
            rEnd -= rStart;
            rStart = 0;
        }
        recvInFlight = true;
        q.recv(T_RECV, sock, recvBuf.asSlice(rEnd, RECV_BUFFER - rEnd), 0);
    }

    private void received(int res) {
        recvInFlight = false;
        if (!connected) {
            afterLoss();
            return;
        }
        if (res <= 0) {
            lost(res == 0 ? "it closed the connection" : "a receive from it failed with " + Errno.name(res));
            return;
        }
        progress = System.nanoTime();
        rEnd += res;
        parse();
    }

    /** Answers every whole reply in the receive buffer; then receives more, unless a payload is received directly. */
    private void parse() {
        while (rEnd - rStart >= Nbd.SIMPLE_REPLY_BYTES) {
            int magic = recvBuf.get(BE_INT, rStart);
            int error = recvBuf.get(BE_INT, rStart + 4);
            long handle = recvBuf.get(BE_LONG, rStart + 8);
            if (magic != Nbd.NBD_SIMPLE_REPLY_MAGIC) {
                protocolError(magic == Nbd.NBD_STRUCTURED_REPLY_MAGIC
                        ? "a structured reply, which was not negotiated"
                        : "a reply with magic 0x" + Integer.toHexString(magic));
                return;
            }
            int tag = Request.tagOf(handle);
            Request r = tag < depth ? requests[tag] : null;
            if (r == null || r.id() != handle || (state[tag] != SENT && state[tag] != PAYLOAD_OUT)) {
                protocolError("a reply for handle 0x" + Long.toHexString(handle) + ", which no request waits for");
                return;
            }
            if (error == Nbd.NBD_ESHUTDOWN) {
                // The server is going away: this request goes again, to the next one.
                rStart += Nbd.SIMPLE_REPLY_BYTES;
                lost("it is shutting down (ESHUTDOWN)");
                return;
            }
            long len = r.length();
            if (r.op() == Ublk.UBLK_IO_OP_READ && error == 0) {
                long have = rEnd - rStart - Nbd.SIMPLE_REPLY_BYTES;
                if (have >= len) {
                    // a memory copy, or on a zero-copy device a pwrite into its pages
                    int c = q.copyToRequest(r, 0, recvBuf.asSlice(rStart + Nbd.SIMPLE_REPLY_BYTES, len), (int) len);
                    rStart += Nbd.SIMPLE_REPLY_BYTES + (int) len;
                    replied(tag, c);
                    continue;
                }
                if (len <= BUFFERED_READ_MAX) {
                    break; // the rest of it fits behind it in the buffer
                }
                if (have > 0) {
                    int c = q.copyToRequest(r, 0, recvBuf.asSlice(rStart + Nbd.SIMPLE_REPLY_BYTES, have), (int) have);
                    if (c < 0) {
                        early[tag] = true; // its data is received all the same (the stream goes on), then it fails
                        earlyResult[tag] = c;
                    }
                }
                rStart = 0;
                rEnd = 0;
                state[tag] = PAYLOAD_IN;
                directTag = tag;
                directDone = have;
                receivePayload(r);
                return;
            }
            rStart += Nbd.SIMPLE_REPLY_BYTES;
            int result = error != 0 ? Nbd.errno(error) : r.op() == Ublk.UBLK_IO_OP_WRITE ? (int) len : 0;
            if (state[tag] == PAYLOAD_OUT) {
                // Its payload's send has not completed here yet (the server may answer as soon as it has the
                // bytes): the answer waits for that completion.
                early[tag] = true;
                earlyResult[tag] = result;
                awaiting--;
                lostAt = 0;
                continue;
            }
            replied(tag, result);
        }
        if (rStart == rEnd) {
            rStart = 0;
            rEnd = 0;
        }
        startRecv();
    }

    private void replied(int tag, int result) {
        awaiting--;
        lostAt = 0;
        answer(tag, result);
    }

    private void receivePayload(Request r) {
        q.recv(r, SUB_PAYLOAD_IN, sock, directDone, (int) (r.length() - directDone), LinuxUapi.MSG_WAITALL);
    }

    private int payloadReceived(Request r, int res) {
        int tag = r.tag();
        if (connected && res > 0) {
            directDone += res;
            if (directDone < r.length()) {
                receivePayload(r);
                return QUEUED;
            }
            directTag = -1;
            state[tag] = IDLE;
            awaiting--;
            lostAt = 0;
            progress = System.nanoTime();
            startRecv();
            int result = early[tag] ? earlyResult[tag] : (int) r.length();
            early[tag] = false;
            return result;
        }
        directTag = -1;
        if (failOnDone[tag]) {
            failOnDone[tag] = false;
            state[tag] = IDLE;
            afterLoss();
            return -Errno.EIO;
        }
        enqueue(tag); // whatever of its data came is received again
        if (connected) {
            lost(res == 0 ? "it closed the connection in the middle of a READ's data"
                    : "a receive from it failed with " + Errno.name(res));
        } else {
            afterLoss();
        }
        return QUEUED;
    }

    // ---- completions -----------------------------------------------------------------------------------------

    @Override
    public void ioDone(long token, int res) {
        if (token == T_SEND) {
            batchSent(res);
        } else if (token == T_RECV) {
            received(res);
        } else if (token == T_WAKE) {
            woken(res);
        }
    }

    @Override
    public int ioDone(Request r, int sub, int res) {
        return sub == SUB_PAYLOAD_OUT ? payloadSent(r, res) : payloadReceived(r, res);
    }

    // ---- losing and finding the server -------------------------------------------------------------------------

    /**
     * The connection is gone: shut it down (operations on it end), queue again what was sent and not answered, and
     * have the supervisor connect anew.
     */
    private void lost(String why) {
        if (!connected) {
            return;
        }
        connected = false;
        target.connectionLosses.incrementAndGet();
        int resend = requeueSent();
        if (lostAt == 0) {
            lostAt = System.nanoTime();
        }
        LOG.log(Level.WARNING, "queue " + q.queueId() + ": lost " + target.where() + ": " + why + "; " + resend
                + " request(s) go again once it is back (EIO after " + target.timeout().toSeconds() + " s without it)");
        disconnect();
    }

    /** The requests the server has and has not answered go into the FIFO again; returns how many. */
    private int requeueSent() {
        int n = 0;
        for (int tag = 0; tag < depth; tag++) {
            if (state[tag] == SENT || (state[tag] == PAYLOAD_OUT && !payloadInFlight)) {
                enqueue(tag);
                n++;
            }
        }
        if (!payloadInFlight) {
            payloadTag = -1;
        }
        return n + (payloadInFlight ? 1 : 0) + (directTag >= 0 ? 1 : 0);
    }

    private void disconnect() {
        awaiting = 0;
        rStart = 0;
        rEnd = 0;
        sendLen = 0;
        sendOff = 0;
        LibC.rawShutdown(socket.get(), LinuxUapi.SHUT_RDWR);
        supervisor.reconnect();
    }

    /**
     * A reply nobody can make sense of: the stream is lost. The requests sent on it fail (their data cannot be
     * trusted, and a server that misbehaves would get them again and again), and a new connection serves the rest.
     */
    private void protocolError(String what) {
        target.protocolErrors.incrementAndGet();
        int failed = 0;
        for (int tag = 0; tag < depth; tag++) {
            byte s = state[tag];
            if (s == SENT || (s == PAYLOAD_OUT && !payloadInFlight)) {
                early[tag] = false;
                answer(tag, -Errno.EIO);
                failed++;
            } else if ((s == PAYLOAD_OUT && !early[tag]) || s == PAYLOAD_IN) {
                failOnDone[tag] = true; // its operation in flight ends it
                failed++;
            }
        }
        if (!payloadInFlight) {
            payloadTag = -1;
        }
        LOG.log(Level.ERROR, "queue " + q.queueId() + ": protocol error from " + target.where() + ": " + what
                + "; failing the " + failed + " request(s) it had with EIO and connecting anew");
        connected = false;
        target.connectionLosses.incrementAndGet();
        if (lostAt == 0) {
            lostAt = System.nanoTime();
        }
        disconnect();
    }

    /** While disconnected: once nothing is in flight on the old socket, a new connection can take its place. */
    private void afterLoss() {
        if (connected || sending || recvInFlight || payloadInFlight || directTag >= 0) {
            return;
        }
        NbdHandshake.Connected next = supervisor.fresh.getAndSet(null);
        if (next == null) {
            return;
        }
        q.replaceFile(sock, next.socket().get());
        socket.close();
        socket = next.socket();
        connected = true;
        failFast = false;
        target.reconnects.incrementAndGet();
        int waiting = fifoTail - fifoHead;
        LOG.log(Level.INFO, "queue " + q.queueId() + ": connected to " + target.where() + " again; sending "
                + waiting + " request(s)");
        progress = System.nanoTime();
        startRecv();
        sendNext();
    }

    /** The supervisor has news: a new connection, the timeout passed, or the server stopped answering. */
    private void woken(int res) {
        LibC.rawRead(wake.get(), wakeBuf, 8);
        q.poll(T_WAKE, wakeIndex, LinuxUapi.POLLIN);
        if (supervisor.stuck) {
            supervisor.stuck = false;
            if (connected && awaiting > 0) {
                lost("no reply within " + target.timeout().toSeconds() + " s");
            }
        }
        if (supervisor.expired) {
            supervisor.expired = false;
            if (!connected) {
                failWaiting();
            }
        }
        afterLoss();
    }

    /** No connection within the timeout: what waits fails, and so does what comes until the server is back. */
    private void failWaiting() {
        failFast = true;
        int n = 0;
        while (fifoHead != fifoTail) {
            int tag = fifo[fifoHead++ % depth];
            if (state[tag] == WAITING) {
                answer(tag, -Errno.EIO);
                n++;
            }
        }
        LOG.log(Level.ERROR, "queue " + q.queueId() + ": no connection to " + target.where() + " for "
                + target.timeout().toSeconds() + " s: " + n + " request(s) failed with EIO, and new ones fail until "
                + "it is back");
    }

    @Override
    public void close() {
        supervisor.stop();
        if (connected) {
            // A soft disconnect (NBD_CMD_DISC), as the protocol asks; best effort, never waiting.
            sendBuf.asSlice(0, Nbd.REQUEST_BYTES).fill((byte) 0);
            sendBuf.set(BE_INT, 0, Nbd.NBD_REQUEST_MAGIC);
            sendBuf.set(BE_SHORT, 6, (short) Nbd.NBD_CMD_DISC);
            LibC.rawSend(socket.get(), sendBuf, Nbd.REQUEST_BYTES, LinuxUapi.MSG_DONTWAIT | LinuxUapi.MSG_NOSIGNAL);
        }
        socket.close();
        NbdHandshake.Connected c = supervisor.fresh.getAndSet(null);
        if (c != null) {
            c.close();
        }
        wake.close();
        arena.close();
    }

    /**
     * The queue's helper thread: connects anew when asked (with backoff: 0.1 s doubling to 5 s, or to a quarter of
     * the timeout if that is less), says when the timeout passed without a connection, and watches for a server that
     * takes longer than the timeout to answer.
     * It talks to the queue thread through {@link #fresh} and two flags, and wakes it with the eventfd.
     */
    private final class Supervisor implements Runnable {
        final AtomicReference<NbdHandshake.Connected> fresh = new AtomicReference<>();
        volatile boolean stuck;
        volatile boolean expired;
        private volatile boolean wanted;
        private volatile boolean stopped;
        private final Thread thread = Thread.ofPlatform().daemon().name("nbd-q" + q.queueId() + "-supervisor")
                .unstarted(this);

        void start() {
            thread.start();
        }

        void reconnect() {
            wanted = true;
            LockSupport.unpark(thread);
        }

        void stop() {
            stopped = true;
            LockSupport.unpark(thread);
            try {
                thread.join(Duration.ofSeconds(15));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void wake() {
            LibC.eventfdWrite(wake.get(), 1);
        }

        @Override
        public void run() {
            long timeout = target.timeout().toNanos();
            while (!stopped) {
                if (wanted) {
                    wanted = false;
                    reconnectLoop(timeout);
                    continue;
                }
                long since = System.nanoTime() - progress;
                if (awaiting > 0 && since > timeout && !stuck) {
                    stuck = true;
                    wake();
                }
                LockSupport.parkNanos(1_000_000_000L);
            }
        }

        private void reconnectLoop(long timeout) {
            long backoff = 100_000_000L;
            String last = null;
            boolean told = false;
            while (!stopped) {
                try {
                    NbdHandshake.Connected c = target.connect();
                    if (!fresh.compareAndSet(null, c)) {
                        c.close();
                    }
                    wake();
                    return;
                } catch (RuntimeException e) {
                    String why = e.getMessage();
                    if (!why.equals(last)) {
                        LOG.log(Level.WARNING, "queue " + q.queueId() + ": reconnecting: " + why);
                        last = why;
                    }
                }
                long lost = lostAt;
                if (!told && lost != 0 && System.nanoTime() - lost > timeout) {
                    told = true;
                    expired = true;
                    wake();
                }
                LockSupport.parkNanos(backoff);
                // At most 5 s between attempts, and several attempts within the timeout.
                backoff = Math.min(backoff * 2, Math.max(100_000_000L, Math.min(5_000_000_000L, timeout / 4)));
            }
        }
    }
}
