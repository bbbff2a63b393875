package io.jublk.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;

/**
 * FFM downcalls into the C library: the few system calls jublk needs, nothing more.
 *
 * <p>Every {@code raw…} method returns what the kernel would: a non-negative result, or a <em>negative
 * errno</em> — the same convention as an io_uring completion, so callers handle one kind of failure.
 * Nothing here throws on a failed call and nothing allocates, so the queue threads can use these on the
 * I/O path. {@link NativeException#check(int, String)} turns a negative result into the exception.
 *
 * <p>errno is read through {@code Linker.Option.captureCallState("errno")} into a segment that belongs to
 * the calling thread: a shared one would let threads overwrite each other's errno.
 *
 * <p>None of these handles uses {@code Linker.Option.critical}: most of these calls can block.
 *
 * <p>Each handle is a {@code static final} in its own holder class, so it is linked on first use: linking a
 * downcall generates code, which costs a short-lived `ublk` command real time under emulation, and most
 * commands need only a few of these calls.
 */
public final class LibC {
    private LibC() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** Each thread's errno capture segment; allocated once per thread, then reused. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static MethodHandle errnoCall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(find(name), fd, options);
    }

    private static MemorySegment find(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("C library lacks " + name));
    }

    private static Optional<MethodHandle> optional(String name, FunctionDescriptor fd) {
        return LIBC.find(name).map(addr -> LINKER.downcallHandle(addr, fd));
    }

    // int open(const char *path, int flags, ...): variadic after the second argument.
    private static final class OpenH {
        static final MethodHandle H = errnoCall("open",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    }
    private static final class CloseH {
        static final MethodHandle H = errnoCall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    // int ioctl(int fd, unsigned long request, ...): the argument is a pointer or an integer, passed as long.
    private static final class IoctlH {
        static final MethodHandle H = errnoCall("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    }
    private static final class MmapH {
        static final MethodHandle H = errnoCall("mmap",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class MunmapH {
        static final MethodHandle H = errnoCall("munmap",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }
    // long syscall(long number, ...): every argument after the number goes as a long.
    private static final class SyscallH {
        static final MethodHandle H = errnoCall("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                        JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    private static final class StatxH {
        static final MethodHandle H = errnoCall("statx",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class FallocateH {
        static final MethodHandle H = errnoCall("fallocate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }
    private static final class FdatasyncH {
        static final MethodHandle H = errnoCall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final class FtruncateH {
        static final MethodHandle H = errnoCall("ftruncate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class PreadH {
        static final MethodHandle H = errnoCall("pread",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class PwriteH {
        static final MethodHandle H = errnoCall("pwrite",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }
    private static final class EventfdH {
        static final MethodHandle H = errnoCall("eventfd",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    // int eventfd_write(int fd, eventfd_t value): no errno capture, see eventfdWrite.
    private static final class EventfdWriteH {
        static final MethodHandle H = LINKER.downcallHandle(find("eventfd_write"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }
    private static final class ReadH {
        static final MethodHandle H = errnoCall("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class SocketH {
        static final MethodHandle H = errnoCall("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class SocketpairH {
        static final MethodHandle H = errnoCall("socketpair",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    }
    private static final class ConnectH {
        static final MethodHandle H = errnoCall("connect",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class BindH {
        static final MethodHandle H = errnoCall("bind",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class SetsockoptH {
        static final MethodHandle H = errnoCall("setsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }
    private static final class SendH {
        static final MethodHandle H = errnoCall("send",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
    private static final class ShutdownH {
        static final MethodHandle H = errnoCall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }
    private static final class WriteH {
        static final MethodHandle H = errnoCall("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }
    private static final class SchedSetaffinityH {
        static final MethodHandle H = errnoCall("sched_setaffinity",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    }
    private static final class SchedGetaffinityH {
        static final MethodHandle H = errnoCall("sched_getaffinity",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    }
    // int prctl(int option, ...): arguments after the option are unsigned longs.
    private static final class PrctlH {
        static final MethodHandle H = errnoCall("prctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(1));
    }
    private static final class SetsidH {
        static final MethodHandle H = errnoCall("setsid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class GetpidH {
        static final MethodHandle H = LINKER.downcallHandle(find("getpid"), FunctionDescriptor.of(JAVA_INT));
    }
    private static final class GettidH {
        static final MethodHandle H = LINKER.downcallHandle(find("gettid"), FunctionDescriptor.of(JAVA_INT));
    }
    private static final class GeteuidH {
        static final MethodHandle H = LINKER.downcallHandle(find("geteuid"), FunctionDescriptor.of(JAVA_INT));
    }
    private static final class GetpagesizeH {
        static final MethodHandle H = LINKER.downcallHandle(find("getpagesize"), FunctionDescriptor.of(JAVA_INT));
    }

    // glibc 2.32+: static strings, safe from any thread (strerror is not).
    private static final class StrerrorH {
        static final Optional<MethodHandle> NAME = optional("strerrorname_np", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        static final Optional<MethodHandle> DESC = optional("strerrordesc_np", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    /** {@code mmap}'s failure value. */
    public static final long MAP_FAILED = -1L;

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static MemorySegment capture() {
        return CAPTURE.get();
    }

    private static AssertionError unexpected(Throwable t) {
        return new AssertionError("native call failed to link or run", t);
    }

    public static int rawOpen(MemorySegment path, int flags, int mode) {
        MemorySegment cs = capture();
        try {
            int r = (int) OpenH.H.invokeExact(cs, path, flags, mode);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawClose(int fd) {
        MemorySegment cs = capture();
        try {
            int r = (int) CloseH.H.invokeExact(cs, fd);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl with a pointer (or integer) argument, given as its address. */
    public static int rawIoctl(int fd, long request, long arg) {
        MemorySegment cs = capture();
        try {
            int r = (int) IoctlH.H.invokeExact(cs, fd, request, arg);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** mmap; returns the address, or a negative errno. Addresses of user mappings are never negative. */
    public static long rawMmap(long addr, long length, int prot, int flags, int fd, long offset) {
        MemorySegment cs = capture();
        try {
            MemorySegment r = (MemorySegment) MmapH.H.invokeExact(cs, MemorySegment.ofAddress(addr), length, prot,
                    flags, fd, offset);
            return r.address() == MAP_FAILED ? -errno(cs) : r.address();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawMunmap(long addr, long length) {
        MemorySegment cs = capture();
        try {
            int r = (int) MunmapH.H.invokeExact(cs, MemorySegment.ofAddress(addr), length);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * A raw system call with up to six arguments, errno captured into {@code capture} (a segment of
     * {@link #newCaptureState(Arena)}), for a thread that keeps its own to stay off the ThreadLocal.
     */
    public static long rawSyscall(MemorySegment capture, long nr, long a1, long a2, long a3, long a4, long a5,
            long a6) {
        try {
            long r = (long) SyscallH.H.invokeExact(capture, nr, a1, a2, a3, a4, a5, a6);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long rawSyscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        return rawSyscall(capture(), nr, a1, a2, a3, a4, a5, a6);
    }

    /** A capture-state segment for {@link #rawSyscall(MemorySegment, long, long, long, long, long, long, long)}. */
    public static MemorySegment newCaptureState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    public static int rawStatx(int dirfd, MemorySegment path, int flags, int mask, MemorySegment statxBuf) {
        MemorySegment cs = capture();
        try {
            int r = (int) StatxH.H.invokeExact(cs, dirfd, path, flags, mask, statxBuf);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawFallocate(int fd, int mode, long offset, long length) {
        MemorySegment cs = capture();
        try {
            int r = (int) FallocateH.H.invokeExact(cs, fd, mode, offset, length);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawFdatasync(int fd) {
        MemorySegment cs = capture();
        try {
            int r = (int) FdatasyncH.H.invokeExact(cs, fd);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawFtruncate(int fd, long length) {
        MemorySegment cs = capture();
        try {
            int r = (int) FtruncateH.H.invokeExact(cs, fd, length);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long rawPread(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment cs = capture();
        try {
            long r = (long) PreadH.H.invokeExact(cs, fd, buf, count, offset);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long rawPwrite(int fd, MemorySegment buf, long count, long offset) {
        MemorySegment cs = capture();
        try {
            long r = (long) PwriteH.H.invokeExact(cs, fd, buf, count, offset);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawEventfd(int initval, int flags) {
        MemorySegment cs = capture();
        try {
            int r = (int) EventfdH.H.invokeExact(cs, initval, flags);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static long rawWrite(int fd, MemorySegment buf, long count) {
        MemorySegment cs = capture();
        try {
            long r = (long) WriteH.H.invokeExact(cs, fd, buf, count);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Adds {@code value} to an eventfd's counter: 0, or -1 without saying why. It captures no errno, so it
     * allocates nothing on any thread, virtual ones included, whose first capture segment would otherwise be
     * made for them; for a wake-up that may be sent from any thread, where the only failures (EBADF, a counter
     * at its maximum) are ones the caller cannot act on.
     */
    public static int eventfdWrite(int fd, long value) {
        try {
            return (int) EventfdWriteH.H.invokeExact(fd, value);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- sockets ------------------------------------------------------------------------------------------

    /** socket(2); {@code type} may include SOCK_NONBLOCK and SOCK_CLOEXEC. */
    public static int rawSocket(int domain, int type, int protocol) {
        MemorySegment cs = capture();
        try {
            int r = (int) SocketH.H.invokeExact(cs, domain, type, protocol);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** socketpair(2): the two descriptors go into {@code pair} (two ints). */
    public static int rawSocketpair(int domain, int type, int protocol, MemorySegment pair) {
        MemorySegment cs = capture();
        try {
            int r = (int) SocketpairH.H.invokeExact(cs, domain, type, protocol, pair);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** connect(2), blocking unless the socket is non-blocking (then EINPROGRESS). */
    public static int rawConnect(int fd, MemorySegment addr, int addrLen) {
        MemorySegment cs = capture();
        try {
            int r = (int) ConnectH.H.invokeExact(cs, fd, addr, addrLen);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** bind(2): gives a socket its address (a Unix socket's path or abstract name). */
    public static int rawBind(int fd, MemorySegment addr, int addrLen) {
        MemorySegment cs = capture();
        try {
            int r = (int) BindH.H.invokeExact(cs, fd, addr, addrLen);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** setsockopt(2) of an int option. */
    public static int rawSetsockopt(int fd, int level, int name, int value) {
        MemorySegment cs = capture();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocateFrom(JAVA_INT, value);
            int r = (int) SetsockoptH.H.invokeExact(cs, fd, level, name, v, Integer.BYTES);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** send(2) of at most {@code count} bytes of {@code buf}; {@code flags}: MSG_* (MSG_NOSIGNAL, MSG_DONTWAIT…). */
    public static long rawSend(int fd, MemorySegment buf, long count, int flags) {
        MemorySegment cs = capture();
        try {
            long r = (long) SendH.H.invokeExact(cs, fd, buf, Math.min(count, buf.byteSize()), flags);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR. */
    public static int rawShutdown(int fd, int how) {
        MemorySegment cs = capture();
        try {
            int r = (int) ShutdownH.H.invokeExact(cs, fd, how);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** read(2) of at most {@code count} bytes into {@code buf}. */
    public static long rawRead(int fd, MemorySegment buf, long count) {
        MemorySegment cs = capture();
        try {
            long r = (long) ReadH.H.invokeExact(cs, fd, buf, Math.min(count, buf.byteSize()));
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** sched_setaffinity for a thread id (0: the calling thread). */
    public static int rawSchedSetaffinity(int tid, long maskBytes, MemorySegment mask) {
        MemorySegment cs = capture();
        try {
            int r = (int) SchedSetaffinityH.H.invokeExact(cs, tid, maskBytes, mask);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawSchedGetaffinity(int tid, long maskBytes, MemorySegment mask) {
        MemorySegment cs = capture();
        try {
            int r = (int) SchedGetaffinityH.H.invokeExact(cs, tid, maskBytes, mask);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawPrctl(int option, long a2, long a3, long a4, long a5) {
        MemorySegment cs = capture();
        try {
            int r = (int) PrctlH.H.invokeExact(cs, option, a2, a3, a4, a5);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int rawSetsid() {
        MemorySegment cs = capture();
        try {
            int r = (int) SetsidH.H.invokeExact(cs);
            return r < 0 ? -errno(cs) : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int getpid() {
        try {
            return (int) GetpidH.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The kernel thread id of the calling thread (not Java's thread id). */
    public static int gettid() {
        try {
            return (int) GettidH.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int geteuid() {
        try {
            return (int) GeteuidH.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int pageSize() {
        try {
            return (int) GetpagesizeH.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static MemorySegment strerrorname(int errno) {
        return callString(StrerrorH.NAME, errno);
    }

    static MemorySegment strerrordesc(int errno) {
        return callString(StrerrorH.DESC, errno);
    }

    private static MemorySegment callString(Optional<MethodHandle> handle, int errno) {
        if (handle.isEmpty()) {
            return MemorySegment.NULL;
        }
        try {
            return (MemorySegment) handle.get().invokeExact(errno);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Reads a NUL-terminated C string; null for a NULL pointer. */
    static String cString(MemorySegment p) {
        if (Errno.isNull(p)) {
            return null;
        }
        return p.reinterpret(4096).getString(0);
    }
}
