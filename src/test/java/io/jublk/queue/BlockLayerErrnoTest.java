package io.jublk.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.sys.Errno;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What the block layer is given for a failed request: errnos it reads as what they are pass, the ones its
 * table (block/blk-core.c, blk_errors[]) gives another meaning become EIO, and so does everything else.
 */
class BlockLayerErrnoTest {
    /** The errnos errno_to_blk_status() knows that keep their meaning as a request's completion status. */
    static final Set<String> PASSED = Set.of("EIO", "EOPNOTSUPP", "ETIMEDOUT", "ENOSPC", "ENOLINK", "EREMOTEIO",
            "EBADE", "ENODATA", "EILSEQ", "ENODEV", "EINVAL");

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        // Retry or requeue signals in the block layer's table: never a request's answer.
        "EAGAIN, EIO", "ENOMEM, EIO", "EBUSY, EIO", "EREMCHG, EIO",
        // Zoned-device limits and the CDL timeout: jublk serves neither.
        "ETOOMANYREFS, EIO", "EOVERFLOW, EIO", "ETIME, EIO",
        // Not in the table: the kernel would say BLK_STS_IOERR; the queue says it first.
        "EINTR, EIO", "ECANCELED, EIO", "EROFS, EIO", "EFBIG, EIO", "EPERM, EIO", "EBADF, EIO", "EFAULT, EIO",
        "ENOSYS, EIO", "ESTALE, EIO",
        "EDQUOT, ENOSPC",
        "EIO, EIO", "ENOSPC, ENOSPC", "EOPNOTSUPP, EOPNOTSUPP", "ENODATA, ENODATA", "ETIMEDOUT, ETIMEDOUT",
        "EILSEQ, EILSEQ", "ENOLINK, ENOLINK", "EREMOTEIO, EREMOTEIO", "EBADE, EBADE", "ENODEV, ENODEV",
        "EINVAL, EINVAL"
    })
    void aFailureIsGivenAsAnErrnoTheBlockLayerReadsRight(String from, String to) {
        assertEquals(-errno(to), BlockLayerErrno.of(-errno(from)));
    }

    @Test
    void everyErrnoEndsAsOneThatPassesAndOnlyThoseArePassedUnchanged() {
        for (int e = 1; e <= QueueStats.MAX_ERRNO; e++) {
            int given = -BlockLayerErrno.of(-e);
            assertTrue(PASSED.contains(Errno.name(given)), Errno.name(e) + " -> " + Errno.name(given));
            assertEquals(PASSED.contains(Errno.name(e)), given == e, Errno.name(e));
        }
    }

    @Test
    void successesPassAndNonsenseBecomesEio() {
        for (int r : new int[] {0, 1, 4096, 512 * 1024, Integer.MAX_VALUE}) {
            assertEquals(r, BlockLayerErrno.of(r));
        }
        for (int r : new int[] {-(QueueStats.MAX_ERRNO + 1), -4095, -100_000, Integer.MIN_VALUE + 1}) {
            assertEquals(-Errno.EIO, BlockLayerErrno.of(r), "result " + r);
        }
    }

    static int errno(String name) {
        for (int e = 1; e <= QueueStats.MAX_ERRNO; e++) {
            if (Errno.name(e).equals(name)) {
                return e;
            }
        }
        throw new IllegalArgumentException("no errno " + name);
    }
}
