package io.jublk.record;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Syscalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A process named by its pid <em>and</em> its start time (clock ticks after boot, field 22 of
 * {@code /proc/PID/stat}): a pid alone may belong to another process by the time it is used. Signals go through a
 * pidfd opened before the start time is compared, so the process checked is the process signalled.
 *
 * @param pid        the process id
 * @param startTicks its start time in clock ticks since boot
 */
public record ServerProcess(int pid, long startTicks) {

    /** This process. */
    public static ServerProcess self() {
        int pid = (int) ProcessHandle.current().pid();
        return new ServerProcess(pid, startTicks(pid).orElseThrow());
    }

    /** The start time of process {@code pid}, or empty if there is no such process (or it is a zombie). */
    static Optional<Long> startTicks(int pid) {
        String stat;
        try {
            stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        } catch (IOException e) {
            return Optional.empty();
        }
        // The command name (field 2) is in parentheses and may hold spaces or ')': fields resume after the last ')'.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
        // f[0] is field 3 (state); field 22 (starttime) is f[19].
        if (f.length < 20 || f[0].equals("Z") || f[0].equals("X")) {
            return Optional.empty();
        }
        return Optional.of(Long.parseLong(f[19]));
    }

    /** Whether this very process is still running. */
    public boolean running() {
        return pid > 0 && startTicks(pid).map(t -> t == startTicks).orElse(false);
    }

    /**
     * Sends {@code signal} to this process if it is still the one recorded; returns false (and signals nobody) if
     * it has exited, even if its pid now belongs to another process.
     */
    public boolean signal(int signal) {
        try (Fd pidfd = open()) {
            if (pidfd == null) {
                return false;
            }
            int r = Syscalls.rawPidfdSendSignal(pidfd.get(), signal);
            if (r == -Errno.ESRCH) {
                return false;
            }
            NativeException.check(r, "signal " + signal + " to process " + pid);
            return true;
        }
    }

    /**
     * Waits up to {@code millis} for this process to exit; true once it has (or was already gone). Polls its pidfd,
     * which becomes readable when the process exits, whatever process later takes its pid.
     */
    public boolean awaitExit(long millis) {
        try (Fd pidfd = open()) {
            if (pidfd == null) {
                return true;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment pfd = a.allocate(8, 4);
                pfd.set(ValueLayout.JAVA_INT, 0, pidfd.get());
                pfd.set(ValueLayout.JAVA_SHORT, 4, (short) LinuxUapi.POLLIN);
                long deadline = System.nanoTime() + millis * 1_000_000L;
                while (true) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) {
                        return !running();
                    }
                    int r = Syscalls.rawPoll(pfd, 1, (int) Math.min(left, Integer.MAX_VALUE));
                    if (r > 0) {
                        return true;
                    }
                    if (r < 0 && r != -Errno.EINTR) {
                        throw new NativeException(r, "poll pidfd of process " + pid);
                    }
                }
            }
        }
    }

    /** A pidfd for this process, or null when it is gone; the start time is compared after the pidfd pins it. */
    private Fd open() {
        int r = Syscalls.rawPidfdOpen(pid, 0);
        if (r == -Errno.ESRCH) {
            return null;
        }
        NativeException.check(r, "pidfd_open " + pid);
        Fd pidfd = Fd.adopt(r, "pidfd " + pid);
        if (!running()) {
            pidfd.close();
            return null;
        }
        return pidfd;
    }

    @Override
    public String toString() {
        return "pid " + pid;
    }
}
