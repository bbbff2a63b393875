package io.jublk.uapi;

import io.jublk.sys.LibC;
import java.lang.foreign.MemorySegment;

/**
 * System calls without a glibc wrapper worth binding, made through syscall(2) with the numbers of
 * {@link LinuxUapi} (checked against the kernel header): one linked handle serves them all. Like
 * {@link LibC}, each returns a non-negative result or a negative errno.
 */
public final class Syscalls {
    private Syscalls() {}

    /** fcntl with an integer argument (F_GETFL, F_SETFL, ...). */
    public static int rawFcntl(int fd, int cmd, long arg) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_fcntl, fd, cmd, arg, 0, 0, 0);
    }

    /** flock(2): LOCK_SH or LOCK_EX, with LOCK_NB not to wait. The lock belongs to the open file description. */
    public static int rawFlock(int fd, int operation) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_flock, fd, operation, 0, 0, 0, 0);
    }

    /** openat2(2) with a {@code struct open_how} (see {@link OpenHow}). */
    public static int rawOpenat2(int dirfd, MemorySegment path, MemorySegment how) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_openat2, dirfd, path.address(), how.address(), how.byteSize(), 0, 0);
    }

    public static int rawUnlinkat(int dirfd, MemorySegment path, int flags) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_unlinkat, dirfd, path.address(), flags, 0, 0, 0);
    }

    /** pidfd_open(2): a descriptor that names one process, whatever later reuses its pid. */
    public static int rawPidfdOpen(int pid, int flags) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_pidfd_open, pid, flags, 0, 0, 0, 0);
    }

    public static int rawPidfdSendSignal(int pidfd, int signal) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_pidfd_send_signal, pidfd, signal, 0, 0, 0, 0);
    }

    /** poll(2) on {@code nfds} {@code struct pollfd}s; a pidfd becomes readable when its process exits. */
    public static int rawPoll(MemorySegment fds, int nfds, int timeoutMillis) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_poll, fds.address(), nfds, timeoutMillis, 0, 0, 0);
    }

    /** umount2(2). */
    public static int rawUmount2(MemorySegment target, int flags) {
        return (int) LibC.rawSyscall(LinuxUapi.__NR_umount2, target.address(), flags, 0, 0, 0, 0);
    }
}
