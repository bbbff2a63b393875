package io.jublk.daemon;

import io.jublk.ctrl.UblkControl;
import io.jublk.spi.ConfigException;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.NativeException;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * A device id claimed for a new device before ADD_DEV: its lock is held, and its record exists in state STARTING.
 * Choosing the id here (rather than letting ADD_DEV pick one) is what lets the record exist before the device does:
 * whatever moment the server dies at, the record names the id and token of anything it may have created.
 */
final class Claim {
    /** High 16 bits of every token: "jb". A kernel device with them was made by jublk. */
    static final long TOKEN_MAGIC = 0x6a62L << 48;
    private static final long TOKEN_MASK = (1L << 48) - 1;
    /** How far an automatic id is looked for. */
    private static final int MAX_AUTO_ID = 1 << 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Claim() {}

    /** A fresh token: the magic and 48 random bits. */
    static long newToken() {
        return TOKEN_MAGIC | (RANDOM.nextLong() & TOKEN_MASK);
    }

    static boolean isJublkToken(long ublksrvFlags) {
        return (ublksrvFlags & ~TOKEN_MASK) == TOKEN_MAGIC;
    }

    /**
     * Claims {@code requested}, or the lowest id that has no device, no live claim and no record of a device that
     * still exists. Returns the held lock; {@code record} is written for the id before this returns.
     *
     * @param template the record to write, with any id (replaced by the claimed one)
     */
    static DeviceLock claim(RunDirectory run, UblkControl ctrl, Integer requested, DeviceRecord template) {
        Set<Integer> used = new HashSet<>(UblkControl.listDeviceIds());
        int first = requested != null ? requested : 0;
        int last = requested != null ? requested : MAX_AUTO_ID - 1;
        for (int id = first; id <= last; id++) {
            if (used.contains(id)) {
                if (requested != null) {
                    throw new ConfigException("device " + id + " already exists: choose another -n, or omit -n to let "
                            + "jublk pick one");
                }
                continue;
            }
            Optional<DeviceLock> lock = DeviceLock.tryAcquire(run, id);
            if (lock.isEmpty()) {
                if (requested != null) {
                    throw new ConfigException("device " + id + " is being created or removed by another process: "
                            + "choose another -n");
                }
                continue;
            }
            // Ours now: no live server or command acts on this id. Look again under the lock.
            if (exists(ctrl, id) || !clearStaleRecord(run, ctrl, id)) {
                lock.get().close();
                if (requested != null) {
                    throw new ConfigException("device " + id + " already exists: choose another -n, or omit -n to let "
                            + "jublk pick one");
                }
                continue;
            }
            try {
                Records.write(run, template.withId(id));
            } catch (RuntimeException | Error e) {
                lock.get().close();
                throw e;
            }
            return lock.get();
        }
        throw new ConfigException("no free device id below " + MAX_AUTO_ID);
    }

    private static boolean exists(UblkControl ctrl, int id) {
        try {
            ctrl.getDevInfo(id);
            return true;
        } catch (NativeException e) {
            return false;
        }
    }

    /**
     * With the id's lock held and no kernel device: a record left there describes a device that never came to be
     * (its server died before ADD_DEV) or is gone; it is cleaned up (with the file its add created). Returns false
     * when the record cannot be read: the id is then left alone.
     */
    private static boolean clearStaleRecord(RunDirectory run, UblkControl ctrl, int id) {
        Optional<DeviceRecord> r;
        try {
            r = Records.read(run, id);
        } catch (ConfigException e) {
            return false;
        }
        r.ifPresent(rec -> Cleanup.forgetRecord(run, rec));
        return true;
    }
}
