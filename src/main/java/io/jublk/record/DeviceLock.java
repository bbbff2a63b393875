package io.jublk.record;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Syscalls;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The claim on a device id: an exclusive {@code flock} on {@code ublkN.lock} in the run directory. A server holds it
 * from before ADD_DEV until after DEL_DEV, or until it dies — the kernel drops the lock with the process, so a held
 * lock means "a live server owns this id" without trusting any pid. `del` and `recover` take it too before acting
 * on a device whose server is gone, so two commands never act on one device at once.
 *
 * <p>Lock files are never removed: removing one while another process waits on it would let two claim the same id.
 */
public final class DeviceLock implements AutoCloseable {
    private final int id;
    private final Fd fd;

    private DeviceLock(int id, Fd fd) {
        this.id = id;
        this.fd = fd;
    }

    /** Takes the lock of device {@code id} if nobody holds it. */
    public static Optional<DeviceLock> tryAcquire(RunDirectory run, int id) {
        return tryAcquire(run, id, true);
    }

    /**
     * Takes the lock `ublk up NAME` holds for as long as it serves the declared device {@code name} (its id is -1):
     * one server per declaration, even before it has an id.
     */
    public static Optional<DeviceLock> tryAcquireDeclaration(RunDirectory run, String name) {
        return tryAcquire(run.declarationLockFile(name), -1, true);
    }

    private static Optional<DeviceLock> tryAcquire(RunDirectory run, int id, boolean create) {
        return tryAcquire(run.lockFile(id), id, create);
    }

    private static Optional<DeviceLock> tryAcquire(Path f, int id, boolean create) {
        int r = Fd.tryOpen(f, LinuxUapi.O_RDWR | (create ? LinuxUapi.O_CREAT : 0) | LinuxUapi.O_NOFOLLOW
                | LinuxUapi.O_CLOEXEC, 0600);
        if (r == -Errno.ENOENT && !create) {
            return Optional.of(new DeviceLock(id, null));
        }
        NativeException.check(r, "open " + f);
        Fd fd = Fd.adopt(r, f.toString());
        int l = Syscalls.rawFlock(fd.get(), LinuxUapi.LOCK_EX | LinuxUapi.LOCK_NB);
        if (l == -Errno.EWOULDBLOCK) {
            fd.close();
            return Optional.empty();
        }
        if (l < 0) {
            fd.close();
            throw new NativeException(l, "flock " + f);
        }
        return Optional.of(new DeviceLock(id, fd));
    }

    /** Whether a live process holds the lock of device {@code id} (its server, or a command acting on it). */
    public static boolean isHeld(RunDirectory run, int id) {
        if (!run.exists()) {
            return false;
        }
        // No lock file: nobody ever claimed the id, and looking must not create one.
        Optional<DeviceLock> l = tryAcquire(run, id, false);
        l.ifPresent(DeviceLock::close);
        return l.isEmpty();
    }

    public int id() {
        return id;
    }

    @Override
    public void close() {
        if (fd != null) {
            fd.close();
        }
    }
}
