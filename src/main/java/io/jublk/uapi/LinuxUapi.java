package io.jublk.uapi;

/**
 * Other Linux UAPI constants jublk needs (x86-64): open flags, RWF_*, fallocate modes, statx, prctl,
 * mmap, eventfd, block-device ioctls and the io_uring system call numbers. Kernel names throughout.
 */
@SuppressWarnings("OctalInteger")
public final class LinuxUapi {
    private LinuxUapi() {}

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECT = 040000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_PATH = 010000000;
    /** An unnamed file in the given directory (includes O_DIRECTORY, as the kernel defines it). */
    public static final int O_TMPFILE = 020000000 | O_DIRECTORY;

    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int LOCK_SH = 1;
    public static final int LOCK_EX = 2;
    public static final int LOCK_NB = 4;
    public static final int LOCK_UN = 8;

    /** openat2 {@code struct open_how.resolve}: no symbolic link anywhere in the path. */
    public static final long RESOLVE_NO_SYMLINKS = 0x04;
    public static final long RESOLVE_NO_MAGICLINKS = 0x02;

    public static final int SIGINT = 2;
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
    public static final int POLLIN = 0x1;
    public static final int POLLOUT = 0x4;
    public static final int POLLERR = 0x8;
    public static final int POLLHUP = 0x10;
    public static final int POLLRDHUP = 0x2000;

    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_NONBLOCK = O_NONBLOCK;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;
    public static final int MSG_DONTWAIT = 0x40;
    /** For a stream socket, io_uring goes on with a short SEND/RECV itself until all of it is done (net.c). */
    public static final int MSG_WAITALL = 0x100;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_MORE = 0x8000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int IPPROTO_TCP = 6;
    public static final int TCP_NODELAY = 1;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    /** 127.0.0.1 in host byte order. */
    public static final int INADDR_LOOPBACK = 0x7f000001;

    public static final int RWF_HIPRI = 0x1;
    public static final int RWF_DSYNC = 0x2;
    public static final int RWF_SYNC = 0x4;
    public static final int RWF_NOWAIT = 0x8;

    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;

    public static final int AT_FDCWD = -100;
    public static final int AT_EMPTY_PATH = 0x1000;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;

    public static final int STATX_TYPE = 0x1;
    public static final int STATX_MODE = 0x2;
    public static final int STATX_INO = 0x100;
    public static final int STATX_SIZE = 0x200;
    public static final int STATX_BTIME = 0x800;
    public static final int STATX_BLOCKS = 0x400;
    public static final int STATX_BASIC_STATS = 0x7ff;
    public static final int STATX_DIOALIGN = 0x2000;

    public static final int S_IFMT = 0170000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFDIR = 0040000;

    public static final int PR_SET_NAME = 15;
    public static final int PR_SET_IO_FLUSHER = 57;

    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_POPULATE = 0x8000;

    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final int EFD_NONBLOCK = O_NONBLOCK;

    public static final long BLKGETSIZE64 = Integer.toUnsignedLong(Ioctl.ior((char) 0x12, 114, 8));
    public static final long BLKSSZGET = Ioctl.io((char) 0x12, 104);
    public static final long BLKPBSZGET = Ioctl.io((char) 0x12, 123);

    public static final long __NR_io_uring_setup = 425;
    public static final long __NR_io_uring_enter = 426;
    public static final long __NR_io_uring_register = 427;
    public static final long __NR_gettid = 186;
    public static final long __NR_fstat = 5;
    public static final long __NR_poll = 7;
    public static final long __NR_fcntl = 72;
    public static final long __NR_flock = 73;
    public static final long __NR_unlinkat = 263;
    public static final long __NR_pidfd_send_signal = 424;
    public static final long __NR_pidfd_open = 434;
    public static final long __NR_openat2 = 437;
    public static final long __NR_umount2 = 166;
}
