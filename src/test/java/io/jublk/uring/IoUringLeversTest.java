package io.jublk.uring;

import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_TASKRUN_FLAG;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.uapi.LinuxUapi;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The queue ring's io_uring levers (UblkQueue's {@code jublk.ring.levers}) against the host's real io_uring: a ring
 * entered by its registered slot, the fallback to its descriptor, TASKRUN_FLAG sparing needless enters without
 * missing deferred completions, and the CQ head published once per batch.
 */
class IoUringLeversTest {
    /** x86_64 dup3(2); the test swaps a descriptor number under a ring. */
    private static final long NR_DUP3 = 292;
    private static final int F_DUPFD_CLOEXEC = 1030;

    private static final int QUEUE_FLAGS =
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;

    private static void nopRoundTrip(IoUring ring, long userData) {
        ring.next().nop().userData(userData);
        IoUringTest.Collected c = IoUringTest.await(ring, 1);
        assertEquals(userData, c.only()[0]);
        assertEquals(0, c.only()[1]);
    }

    @Test
    void aRegisteredRingIsEnteredByItsSlotNotItsDescriptor() {
        try (IoUring ring = IoUring.open(8, 0, 0, QUEUE_FLAGS, true);
                Fd devNull = Fd.open(Path.of("/dev/null"), LinuxUapi.O_RDWR | LinuxUapi.O_CLOEXEC, 0)) {
            assertEquals(-1, ring.registeredRingIndex());
            assertTrue(ring.registerRingFd(), "this kernel (5.18+) registers ring fds");
            int slot = ring.registeredRingIndex();
            assertTrue(slot >= 0 && slot < 16, "slot " + slot);
            assertTrue(ring.registerRingFd(), "a second call keeps the slot");
            assertEquals(slot, ring.registeredRingIndex());
            nopRoundTrip(ring, 1);

            // Put /dev/null under the ring's descriptor number: entering by the descriptor now fails, by the slot not.
            int ringFd = ring.fd();
            int saved = (int) LibC.rawSyscall(LinuxUapi.__NR_fcntl, ringFd, F_DUPFD_CLOEXEC, 0, 0, 0, 0);
            assertTrue(saved >= 0, "dup: " + Errno.name(saved));
            try {
                assertEquals(ringFd, (int) LibC.rawSyscall(NR_DUP3, devNull.get(), ringFd, LinuxUapi.O_CLOEXEC, 0, 0, 0));
                long plain = LibC.rawSyscall(LinuxUapi.__NR_io_uring_enter, ringFd, 0, 0, 0, 0, 0);
                assertEquals(-Errno.EOPNOTSUPP, (int) plain, "the descriptor no longer names a ring");
                long before = ring.enters();
                nopRoundTrip(ring, 2);
                assertTrue(ring.enters() > before, "the round trip entered the kernel");
            } finally {
                LibC.rawSyscall(NR_DUP3, saved, ringFd, LinuxUapi.O_CLOEXEC, 0, 0, 0);
                LibC.rawClose(saved);
            }
        }
    }

    @Test
    void whenTheKernelRefusesTheRingIsEnteredByItsDescriptorAndCloseGivesSlotsBack() {
        List<IoUring> rings = new ArrayList<>();
        try {
            IoUring refused = null;
            // A task has 16 slots; whatever this thread holds already, the 17th ring at the latest is refused.
            for (int i = 0; i < 17 && refused == null; i++) {
                IoUring r = IoUring.open(8, 0, 0, QUEUE_FLAGS, true);
                rings.add(r);
                if (!r.registerRingFd()) {
                    refused = r;
                }
            }
            assertTrue(refused != null, "the kernel refuses a 17th registered ring");
            assertEquals(-1, refused.registeredRingIndex());
            nopRoundTrip(refused, 3);
            for (IoUring r : rings) {
                if (r != refused) {
                    nopRoundTrip(r, 4);
                }
            }
        } finally {
            rings.forEach(IoUring::close);
        }
        // close() unregistered: the slots are free again.
        try (IoUring ring = IoUring.open(8, 0, 0, QUEUE_FLAGS, true)) {
            assertTrue(ring.registerRingFd(), "a slot is free after the others closed");
            nopRoundTrip(ring, 5);
        }
    }

    @Test
    void aSharedRingIsNotRegistered() {
        try (IoUring ring = IoUring.open(8, 0, 0, 0, false)) {
            assertFalse(ring.registerRingFd(), "a ring used from several threads has no one task to register with");
            assertEquals(-1, ring.registeredRingIndex());
            nopRoundTrip(ring, 6);
        }
    }

    /**
     * DEFER_TASKRUN alone: a non-blocking reap must enter, the kernel says nowhere whether work waits. With
     * TASKRUN_FLAG it does say (IORING_SQ_TASKRUN): an idle reap stays in user space, and a completion that comes as
     * deferred task work (an eventfd read woken by a write from here) is still reaped without ever blocking.
     */
    @Test
    void taskrunFlagSparesIdleEntersAndMissesNoDeferredCompletion() throws Exception {
        try (IoUring blind = IoUring.open(8, 0, 0, QUEUE_FLAGS, true)) {
            long before = blind.enters();
            assertEquals(0, blind.submitAndWait(0));
            assertEquals(before + 1, blind.enters(), "without TASKRUN_FLAG an idle reap enters");
        }
        try (Arena arena = Arena.ofConfined();
                Fd efd = Fd.adopt(LibC.rawEventfd(0, LinuxUapi.EFD_CLOEXEC), "eventfd");
                IoUring ring = IoUring.open(8, 0, 0, QUEUE_FLAGS | IORING_SETUP_TASKRUN_FLAG, true)) {
            assertEquals(IORING_SETUP_TASKRUN_FLAG, ring.setupFlags() & IORING_SETUP_TASKRUN_FLAG, "granted");
            assertEquals(IORING_SETUP_DEFER_TASKRUN, ring.setupFlags() & IORING_SETUP_DEFER_TASKRUN, "granted");
            long before = ring.enters();
            for (int i = 0; i < 3; i++) {
                assertEquals(0, ring.submitAndWait(0));
                assertEquals(0, ring.getEvents());
            }
            assertEquals(before, ring.enters(), "idle reaps stay in user space");

            MemorySegment buf = arena.allocate(8, 8);
            ring.next().read(efd.get(), buf.address(), 8, 0).userData(7);
            assertEquals(1, ring.submitAndWait(0), "the read goes in (and waits: nothing to read)");
            IoUringTest.Collected c = new IoUringTest.Collected();
            ring.forEachCompletion(c);
            assertEquals(0, c.cqes.size());
            long idle = ring.enters();
            assertEquals(0, ring.submitAndWait(0));
            assertEquals(idle, ring.enters(), "nothing flagged, no enter");

            assertEquals(0, LibC.eventfdWrite(efd.get(), 42));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (c.cqes.isEmpty() && System.nanoTime() < deadline) {
                assertTrue(ring.submitAndWait(0) >= 0);
                ring.forEachCompletion(c);
            }
            assertEquals(1, c.cqes.size(), "the woken read completes through the flagged task work");
            assertEquals(7, c.only()[0]);
            assertEquals(8, c.only()[1]);
            assertEquals(42, buf.get(JAVA_LONG, 0));
        }
    }

    /** Head published per batch: every completion once, in order, also past a full CQ (the kernel's overflow list). */
    @Test
    void aCqHeadPublishedPerBatchLosesNothing() {
        try (IoUring ring = IoUring.open(8, 8, 0, QUEUE_FLAGS, true)) {
            ring.batchCqHead(true);
            int n = 200;
            int queued = 0;
            IoUringTest.Collected c = new IoUringTest.Collected();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (c.cqes.size() < n && System.nanoTime() < deadline) {
                // More NOPs than the CQ holds between reaps: some go to the overflow list.
                for (int i = 0; i < 12 && queued < n; i++) {
                    IoUring.Sqe sqe = ring.tryNext();
                    if (sqe == null) {
                        break;
                    }
                    sqe.nop().userData(queued++);
                }
                int r = ring.submitAndWait(0);
                assertTrue(r >= 0 || r == -Errno.EBUSY || r == -Errno.EAGAIN, "enter: " + Errno.name(r));
                ring.forEachCompletion(c);
            }
            assertEquals(n, c.cqes.size());
            for (int i = 0; i < n; i++) {
                assertEquals(i, c.cqes.get(i)[0], "completion " + i + " in order");
            }
            assertEquals(0, ring.droppedCompletions());
        }
    }
}
