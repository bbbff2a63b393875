package io.jublk.queue;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Request;
import io.jublk.spi.Target;
import io.jublk.sys.Errno;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A network block device in miniature, for the socket operations of the SPI: one socket per queue, connected
 * through the ring, on which every request goes out as a 24-byte header (its id as handle, the operation, length,
 * offset) plus a WRITE's payload, and comes back as a 16-byte reply (handle, errno, length) plus a READ's payload.
 * {@link WirePeer} is the other end.
 *
 * <p>What a real one (NBD, issue 13) does the same way: sends go out one at a time (a header from the handler's
 * memory, bound to no request; a payload from the request's buffer, bound to it), each short one continued from
 * where it stopped; one reply header at a time is received into the handler's memory, continued when short; a
 * READ's payload is then received into the request's buffer and the request answered by the completion's return
 * value, anything else answered with {@link QueueContext#complete} on the queue thread. A peer that closes or a
 * connection that fails answers every waiting request with the error.
 */
public final class WireTarget implements Target {
    static final int HEADER = 24;
    static final int REPLY = 16;

    private static final long T_CONNECT = 1;
    private static final long T_SEND = 2;
    private static final long T_RECV = 3;
    private static final long T_POLL = 4;
    private static final int SUB_PAYLOAD_OUT = 1;
    private static final int SUB_PAYLOAD_IN = 2;

    /** Where a waiting request is. */
    private static final byte IDLE = 0;
    private static final byte TO_SEND = 1;
    private static final byte SENDING_HEADER = 2;
    private static final byte SENDING_PAYLOAD = 3;
    private static final byte AWAITING_REPLY = 4;
    private static final byte RECEIVING = 5;

    private final int socketFd;
    private final MemorySegment address;
    private final int addressLength;
    private final long sizeBytes;
    private final boolean zeroCopySend;
    private final boolean pollFirst;

    /**
     * @param socketFd     an unconnected stream socket (closed by the caller after the queue)
     * @param address      the peer's sockaddr, valid until the queue ends
     * @param zeroCopySend WRITE payloads with SEND_ZC
     * @param pollFirst    wait for POLLIN before each reply header's RECV
     */
    public WireTarget(int socketFd, MemorySegment address, int addressLength, long sizeBytes, boolean zeroCopySend,
            boolean pollFirst) {
        this.socketFd = socketFd;
        this.address = address;
        this.addressLength = addressLength;
        this.sizeBytes = sizeBytes;
        this.zeroCopySend = zeroCopySend;
        this.pollFirst = pollFirst;
    }

    @Override
    public String name() {
        return "wire";
    }

    @Override
    public DeviceParams params(int maxIoBytes) {
        return DeviceParams.basic(sizeBytes, 512, 512, maxIoBytes, 0);
    }

    @Override
    public boolean wantsFixedBuffers() {
        return true;
    }

    @Override
    public boolean supportsZeroCopy() {
        return true;
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return new Handler(queue);
    }

    private final class Handler implements QueueHandler {
        private final QueueContext q;
        private final int sock;
        private final Arena arena = Arena.ofConfined();
        /** Per tag: its request header, sent from here. */
        private final MemorySegment headers;
        private final MemorySegment reply;
        private final Request[] requests;
        private final byte[] where;
        /** Tags waiting to send, in order. */
        private final int[] fifo;
        private int fifoHead;
        private int fifoTail;
        private int sending = -1;
        /** Bytes of the current send's header, or of its payload, already sent. */
        private int sent;
        private int replyGot;
        /** Bytes of the current READ payload received. */
        private int received;
        private boolean connected;
        /** The errno every request is answered with once the connection failed or the peer closed; 0 before. */
        private int failed;

        Handler(QueueContext q) {
            this.q = q;
            this.sock = q.registerFile(socketFd);
            int depth = q.depth();
            headers = arena.allocate((long) HEADER * depth, 8);
            reply = arena.allocate(REPLY, 8);
            requests = new Request[depth];
            where = new byte[depth];
            fifo = new int[depth];
            q.connect(T_CONNECT, sock, address, addressLength);
        }

        @Override
        public int handle(Request r) {
            if (failed != 0) {
                return failed;
            }
            int tag = r.tag();
            requests[tag] = r;
            MemorySegment h = header(tag);
            h.set(JAVA_LONG_UNALIGNED, 0, r.id());
            h.set(JAVA_INT_UNALIGNED, 8, r.op());
            h.set(JAVA_INT_UNALIGNED, 12, (int) r.length());
            h.set(JAVA_LONG_UNALIGNED, 16, r.offset());
            where[tag] = TO_SEND;
            fifo[fifoTail++ % fifo.length] = tag;
            sendNext();
            return QUEUED;
        }

        private MemorySegment header(int tag) {
            return headers.asSlice((long) tag * HEADER, HEADER);
        }

        private void sendNext() {
            if (!connected || sending >= 0 || fifoHead == fifoTail) {
                return;
            }
            sending = fifo[fifoHead++ % fifo.length];
            where[sending] = SENDING_HEADER;
            sent = 0;
            sendHeader();
        }

        /** MSG_MORE before a payload: header and payload may go out in one segment. */
        private void sendHeader() {
            int more = requests[sending].op() == Ublk.UBLK_IO_OP_WRITE ? LinuxUapi.MSG_MORE : 0;
            q.send(T_SEND, sock, header(sending).asSlice(sent), more);
        }

        private void receiveReply() {
            if (pollFirst && replyGot == 0) {
                q.poll(T_POLL, sock, LinuxUapi.POLLIN);
            } else {
                q.recv(T_RECV, sock, reply.asSlice(replyGot), 0);
            }
        }

        @Override
        public void ioDone(long token, int res) {
            if (failed != 0) {
                return;
            }
            if (token == T_CONNECT) {
                if (res < 0) {
                    fail(res);
                    return;
                }
                connected = true;
                receiveReply();
                sendNext();
            } else if (token == T_POLL) {
                if (res < 0) {
                    fail(res);
                } else {
                    q.recv(T_RECV, sock, reply.asSlice(replyGot), 0);
                }
            } else if (token == T_SEND) {
                headerSent(res);
            } else if (token == T_RECV) {
                replyReceived(res);
            }
        }

        private void headerSent(int res) {
            if (res <= 0) {
                fail(res < 0 ? res : -Errno.EIO);
                return;
            }
            sent += res;
            Request r = requests[sending];
            if (sent < HEADER) {
                sendHeader(); // short: the rest
            } else if (r.op() == Ublk.UBLK_IO_OP_WRITE) {
                sent = 0;
                where[sending] = SENDING_PAYLOAD;
                sendPayload(r);
            } else {
                sendDone();
            }
        }

        private void sendPayload(Request r) {
            if (zeroCopySend) {
                q.sendZeroCopy(r, SUB_PAYLOAD_OUT, sock, sent, (int) r.length() - sent, 0);
            } else {
                q.send(r, SUB_PAYLOAD_OUT, sock, sent, (int) r.length() - sent, 0);
            }
        }

        private void sendDone() {
            where[sending] = AWAITING_REPLY;
            sending = -1;
            sendNext();
        }

        private void replyReceived(int res) {
            if (res <= 0) {
                fail(res < 0 ? res : -Errno.ECONNRESET); // 0: the peer closed
                return;
            }
            replyGot += res;
            if (replyGot < REPLY) {
                receiveReply(); // short: the rest of the header
                return;
            }
            replyGot = 0;
            long id = reply.get(JAVA_LONG_UNALIGNED, 0);
            int error = reply.get(JAVA_INT_UNALIGNED, 8);
            int tag = Request.tagOf(id);
            Request r = requests[tag];
            if (tag >= requests.length || r == null || r.id() != id || where[tag] != AWAITING_REPLY) {
                fail(-Errno.EPROTO);
                return;
            }
            if (error == 0 && r.op() == Ublk.UBLK_IO_OP_READ) {
                where[tag] = RECEIVING;
                received = 0;
                q.recv(r, SUB_PAYLOAD_IN, sock, 0, (int) r.length(), 0);
                return; // the next reply header after this payload
            }
            where[tag] = IDLE;
            q.complete(id, error != 0 ? -error : r.op() == Ublk.UBLK_IO_OP_WRITE ? (int) r.length() : 0);
            receiveReply();
        }

        @Override
        public int ioDone(Request r, int sub, int res) {
            int tag = r.tag();
            if (failed != 0) {
                where[tag] = IDLE;
                return failed;
            }
            if (res <= 0) {
                where[tag] = IDLE;
                fail(res < 0 ? res : -Errno.ECONNRESET);
                return res < 0 ? res : -Errno.ECONNRESET;
            }
            if (sub == SUB_PAYLOAD_OUT) {
                sent += res;
                if (sent < r.length()) {
                    sendPayload(r); // short: the rest
                } else {
                    sendDone();
                }
                return QUEUED; // the reply answers it
            }
            received += res;
            if (received < r.length()) {
                q.recv(r, SUB_PAYLOAD_IN, sock, received, (int) r.length() - received, 0);
                return QUEUED;
            }
            where[tag] = IDLE;
            receiveReply();
            return (int) r.length();
        }

        /** The connection is gone: every request that waits with nothing in flight is answered now. */
        private void fail(int errno) {
            failed = errno;
            for (int tag = 0; tag < where.length; tag++) {
                byte w = where[tag];
                if (w == TO_SEND || w == AWAITING_REPLY || w == SENDING_HEADER) {
                    where[tag] = IDLE;
                    q.complete(requests[tag].id(), errno);
                }
                // SENDING a payload, RECEIVING: an operation of the request is in flight; its completion answers.
            }
        }

        @Override
        public void close() {
            arena.close();
        }
    }
}
