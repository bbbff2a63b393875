package io.jublk.queue;

import io.jublk.sys.Errno;

/**
 * The errno a failed request is committed with: one the block layer understands as what it is.
 *
 * <p>ublk turns a negative result into a {@code blk_status_t} with {@code errno_to_blk_status()}
 * (__ublk_complete_rq in ublk_drv.c), which looks the errno up in block/blk-core.c's {@code blk_errors[]}
 * table and gives BLK_STS_IOERR for any errno not in it. Some errnos in that table mean something other than
 * what a backing file meant by them, so passing them on would mislead whoever waits for the I/O:
 * <ul>
 *   <li>EAGAIN is BLK_STS_AGAIN, "would block": meant for REQ_NOWAIT bios, whose submitter (io_uring, aio
 *       with RWF_NOWAIT) then retries from a blocking context instead of failing;</li>
 *   <li>ENOMEM and EBUSY are BLK_STS_RESOURCE and BLK_STS_DEV_RESOURCE, what a driver's queue_rq returns to
 *       have a request requeued later, not a completion status (dm-multipath counts them as path errors);</li>
 *   <li>EREMCHG is BLK_STS_DM_REQUEUE, device-mapper internal ("should not leak out"); ETOOMANYREFS and
 *       EOVERFLOW are the zone resource limits of zoned devices, ETIME the command duration limit (CDL) timeout:
 *       jublk serves neither.</li>
 * </ul>
 * Those become EIO, as does every errno the table lacks (EINTR, ECANCELED, EROFS, EFBIG, EPERM, …: the kernel
 * would make them BLK_STS_IOERR anyway; mapping them here keeps what the queue logs and reports true). EDQUOT
 * is a quota running out under the backing file: ENOSPC (BLK_STS_NOSPC), which file systems on the device
 * handle as such. Kept as they are, since each is a device completion status of the same meaning: EIO,
 * EOPNOTSUPP (NOTSUPP), ETIMEDOUT (TIMEOUT), ENOSPC (NOSPC), ENOLINK (TRANSPORT, a path error worth a retry
 * elsewhere), EREMOTEIO (TARGET), EBADE (RESV_CONFLICT), ENODATA (MEDIUM), EILSEQ (PROTECTION), ENODEV
 * (OFFLINE) and EINVAL (INVAL, a request the device cannot take, as RequestDecoder answers a misaligned one).
 *
 * <p>A table lookup: the commit path stays free of allocation and branches on rare cases only.
 */
final class BlockLayerErrno {
    private BlockLayerErrno() {}

    /** errno → the errno the block layer is given; 0 where that is EIO. */
    private static final int[] GIVEN = new int[QueueStats.MAX_ERRNO + 1];

    static {
        for (int e : new int[] {Errno.EIO, Errno.EOPNOTSUPP, Errno.ETIMEDOUT, Errno.ENOSPC, Errno.ENOLINK,
                Errno.EREMOTEIO, Errno.EBADE, Errno.ENODATA, Errno.EILSEQ, Errno.ENODEV, Errno.EINVAL}) {
            GIVEN[e] = e;
        }
        GIVEN[Errno.EDQUOT] = Errno.ENOSPC;
    }

    /** The result to commit for {@code result}: a negative errno mapped as above; anything else unchanged. */
    static int of(int result) {
        if (result >= 0) {
            return result;
        }
        int e = -result;
        int given = e > 0 && e < GIVEN.length ? GIVEN[e] : 0;
        return given != 0 ? -given : -Errno.EIO;
    }
}
