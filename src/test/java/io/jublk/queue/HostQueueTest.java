package io.jublk.queue;

import io.jublk.spi.Target;
import io.jublk.spi.Request;
import io.jublk.spi.QueueHandler;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The harness itself: it holds a handler to the queue's rules, so that target tests can trust it. */
class HostQueueTest {
    @TempDir
    Path dir;

    /** A target whose handler does what {@code misbehave} says on each READ: a few ways to break the rules. */
    private static Target target(Fd file, String misbehave) {
        return new TestTarget("test", 1 << 20, q -> {
            int f = q.registerFile(file.get());
            return new QueueHandler() {
                @Override
                public int handle(Request r) {
                    switch (misbehave) {
                        case "answer with I/O in flight" -> {
                            q.fsync(r, 0, f, true);
                            return 0;
                        }
                        case "QUEUED with nothing started" -> {
                            return QUEUED;
                        }
                        case "register late" -> q.registerFile(file.get());
                        default -> q.read(r, 0, f, r.offset(), 0, (int) r.length(), 0);
                    }
                    return QUEUED;
                }

                @Override
                public int ioDone(Request r, int sub, int res) {
                    return res;
                }
            };
        });
    }

    private Fd file() throws Exception {
        Path p = Files.write(dir.resolve("f"), new byte[1 << 20]);
        return Fd.open(p, LinuxUapi.O_RDWR | LinuxUapi.O_CLOEXEC, 0);
    }

    @Test
    void aWellBehavedHandlerGetsItsResultAndTheDecoderStandsBeforeIt() throws Exception {
        try (Fd f = file(); HostQueue q = HostQueue.open(target(f, ""), 2, 8192, false)) {
            assertEquals(4096, q.read(1, 8192, 4096));
            assertEquals(1, q.log().size());
            assertEquals(-Errno.EIO, q.read(1, 1 << 20, 4096), "past the end: refused before the handler");
            assertEquals(1, q.log().size());
            assertEquals(-Errno.EOPNOTSUPP, q.run(0, Ublk.UBLK_IO_OP_WRITE_SAME, 0, 0, 8));
        }
    }

    /**
     * A handler that answers too early, or never (QUEUED, nothing started, and no answer from another thread),
     * fails the test with a reason: it neither passes nor hangs.
     */
    @ParameterizedTest
    @CsvSource({"answer with I/O in flight, in flight", "QUEUED with nothing started, started nothing"})
    void aHandlerThatBreaksTheCycleFailsTheTest(String misbehave, String reason) throws Exception {
        try (Fd f = file(); HostQueue q = HostQueue.open(target(f, misbehave), 2, 8192, false)) {
            q.answerTimeout(Duration.ofMillis(200));
            q.start(1, Ublk.UBLK_IO_OP_READ, 0, 0, 8);
            Throwable e = assertThrows(Throwable.class, q::awaitAll);
            assertTrue(e.getMessage().contains(reason), e.getMessage());
        }
    }

    @Test
    void filesAreRegisteredOnlyWhileTheQueueOpens() throws Exception {
        try (Fd f = file(); HostQueue q = HostQueue.open(target(f, "register late"), 2, 8192, false)) {
            assertThrows(IllegalStateException.class, () -> q.start(0, Ublk.UBLK_IO_OP_READ, 0, 0, 8));
        }
    }
}
