package io.jublk.targets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.queue.HostQueue;
import io.jublk.sys.Errno;
import io.jublk.uapi.Ublk;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The null target through {@link HostQueue}: answers at once, reads zeros, starts no I/O. */
class NullTargetTest {
    private static final int DEPTH = 4;
    private static final int BUF = 64 << 10;

    private static boolean allZero(MemorySegment s, long bytes) {
        return s.asSlice(0, bytes).mismatch(MemorySegment.ofArray(new byte[(int) bytes])) == -1;
    }

    @Test
    void aReadOnATagThatWroteReturnsZerosNotTheWrittenData() {
        try (HostQueue q = HostQueue.open(new NullTarget(1 << 20, 512), DEPTH, BUF, false)) {
            q.data(2).fill((byte) 0x5a);
            assertEquals(BUF, q.write(2, 0, BUF, 0));
            assertEquals(4096, q.read(2, 8192, 4096));
            assertTrue(allZero(q.data(2), 4096), "the first 4 KiB read as zeros");
            assertEquals(BUF, q.read(2, 0, BUF));
            assertTrue(allZero(q.data(2), BUF), "all of what the write left is zeros after a full read");
            assertEquals(0, q.log().size(), "no I/O");
        }
    }

    @Test
    void everyOtherOperationSucceedsAtOnceAndBadRequestsAreRefusedBeforeTheTarget() {
        try (HostQueue q = HostQueue.open(new NullTarget(1 << 20, 4096), DEPTH, BUF, false)) {
            assertEquals(0, q.run(0, Ublk.UBLK_IO_OP_FLUSH, 0, 0, 0));
            assertEquals(0, q.run(1, Ublk.UBLK_IO_OP_DISCARD, 0, 8, 8));
            assertEquals(0, q.run(2, Ublk.UBLK_IO_OP_WRITE_ZEROES, Ublk.UBLK_IO_F_NOUNMAP, 0, 8));
            assertEquals(-Errno.EIO, q.read(3, 1 << 20, 4096), "past the end");
            assertEquals(-Errno.EINVAL, q.read(3, 512, 4096), "not aligned to the 4 KiB block");
            assertEquals(-Errno.EIO, q.read(1, 0, 2 * BUF), "larger than the buffer");
        }
    }
}
