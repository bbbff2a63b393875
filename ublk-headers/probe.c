/*
 * Prints the kernel UAPI facts jublk's Java (FFM) code hard-codes, as
 * java.util.Properties "key=value" lines with decimal values.
 *
 * ./generate compiles this against ./include (Debian linux-libc-dev 7.3)
 * rather than the host's headers. It also compiles it with -DPROBE_SCAN to
 * discover what to print: every struct, struct member, enumerator and
 * integer macro of linux/ublk_cmd.h and linux/io_uring.h, written to
 * build/probe-list.h. The hand-picked facts below come from other headers,
 * where "everything" would be noise.
 *
 * Only kernel UAPI headers are used (not glibc's fcntl.h, sys/mman.h, ...):
 * the values are the kernel ABI the Java side passes to raw syscalls.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/errno.h>	/* UBLK_IO_RES_ABORT is -ENODEV */
#include <linux/ublk_cmd.h>
#include <linux/io_uring.h>
#include <linux/eventfd.h>
#include <linux/falloc.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/stat.h>
#include <linux/openat2.h>
#include <linux/poll.h>
#include <linux/in.h>
#include <linux/un.h>
#include <linux/tcp.h>
/* glibc's signal.h, not asm/signal.h: the latter's sigset_t clashes with sys/socket.h's (same SIG* numbers). */
#include <signal.h>
#include <asm/unistd_64.h>
/* S_IF* are hidden from glibc programs in linux/stat.h; glibc's own sys/stat.h has them. */
#include <sys/stat.h>
/* AF_*, SOCK_*, MSG_* and SHUT_* are not in the UAPI headers (the kernel keeps them in include/linux/socket.h
   and include/linux/net.h); glibc's copies are the same ABI numbers. */
#include <sys/socket.h>

#ifndef PROBE_SCAN

/* Negative values stay signed (UBLK_IO_RES_ABORT); all else prints unsigned. */
static void put(const char *key, int negative, unsigned long long v)
{
	if (negative)
		printf("%s=%lld\n", key, (long long)v);
	else
		printf("%s=%llu\n", key, v);
}

#define NUM(key, x)	put(key, (x) < 0, (unsigned long long)(x))
#define CONST(c)	NUM("const." #c, c);
#define STRUCT(s)	NUM("struct." #s ".size", sizeof(struct s));
#define FIELD(s, m)	NUM("struct." #s "." #m ".offset", offsetof(struct s, m)); \
			NUM("struct." #s "." #m ".size", sizeof(((struct s *)0)->m));
/* Flexible array member: sizeof is not allowed, its size is 0 by definition. */
#define FLEXFIELD(s, m)	NUM("struct." #s "." #m ".offset", offsetof(struct s, m)); \
			NUM("struct." #s "." #m ".size", 0);

int main(void)
{
#include "probe-list.h"

	/* A SQE128 ring has double-size SQEs; uring_cmd payload runs from cmd to the end. */
	NUM("const.IO_URING_SQE128_SIZE", 2 * sizeof(struct io_uring_sqe));
	NUM("const.IO_URING_SQE_CMD_BYTES_64",
	    sizeof(struct io_uring_sqe) - offsetof(struct io_uring_sqe, cmd));
	NUM("const.IO_URING_SQE_CMD_BYTES_128",
	    2 * sizeof(struct io_uring_sqe) - offsetof(struct io_uring_sqe, cmd));
	NUM("const.IO_URING_CQE32_SIZE", 2 * sizeof(struct io_uring_cqe));

	CONST(RWF_HIPRI) CONST(RWF_DSYNC) CONST(RWF_SYNC) CONST(RWF_NOWAIT) CONST(RWF_APPEND)
	CONST(FALLOC_FL_KEEP_SIZE) CONST(FALLOC_FL_PUNCH_HOLE) CONST(FALLOC_FL_ZERO_RANGE)
	CONST(O_RDONLY) CONST(O_WRONLY) CONST(O_RDWR) CONST(O_CREAT) CONST(O_EXCL)
	CONST(O_NONBLOCK) CONST(O_DIRECT) CONST(O_CLOEXEC) CONST(O_NOCTTY) CONST(O_TRUNC)
	CONST(AT_FDCWD) CONST(AT_EMPTY_PATH) CONST(AT_STATX_SYNC_AS_STAT) CONST(AT_SYMLINK_NOFOLLOW)
	CONST(STATX_BASIC_STATS) CONST(STATX_SIZE) CONST(STATX_DIOALIGN) CONST(STATX_TYPE)
	CONST(STATX_MODE) CONST(STATX_BLOCKS)
	CONST(S_IFMT) CONST(S_IFREG) CONST(S_IFBLK) CONST(S_IFCHR) CONST(S_IFDIR)
	CONST(PR_SET_NAME) CONST(PR_SET_IO_FLUSHER)
	CONST(__NR_io_uring_setup) CONST(__NR_io_uring_enter) CONST(__NR_io_uring_register)
	CONST(__NR_gettid) CONST(__NR_statx)
	CONST(BLKGETSIZE64) CONST(BLKSSZGET) CONST(BLKPBSZGET) CONST(BLKDISCARD)
	CONST(BLKZEROOUT) CONST(BLKFLSBUF)
	CONST(PROT_READ) CONST(PROT_WRITE) CONST(MAP_SHARED) CONST(MAP_POPULATE)
	CONST(MAP_PRIVATE) CONST(MAP_ANONYMOUS)
	CONST(EFD_CLOEXEC) CONST(EFD_NONBLOCK)
	CONST(O_NOFOLLOW) CONST(O_DIRECTORY) CONST(O_PATH) CONST(O_TMPFILE)
	CONST(F_GETFL) CONST(F_SETFL) CONST(LOCK_SH) CONST(LOCK_EX) CONST(LOCK_NB) CONST(LOCK_UN)
	CONST(RESOLVE_NO_SYMLINKS) CONST(RESOLVE_NO_MAGICLINKS) CONST(STATX_INO) CONST(STATX_BTIME)
	CONST(__NR_fcntl) CONST(__NR_flock) CONST(__NR_openat2) CONST(__NR_pidfd_open)
	CONST(__NR_pidfd_send_signal) CONST(__NR_unlinkat) CONST(__NR_poll) CONST(__NR_fstat) CONST(__NR_umount2)
	CONST(SIGTERM) CONST(SIGKILL) CONST(SIGINT) CONST(POLLIN)
	STRUCT(open_how) FIELD(open_how, flags) FIELD(open_how, mode) FIELD(open_how, resolve)
	/* Sockets: what a network target and its tests use (IORING_OP_CONNECT/SEND/RECV/POLL_ADD). */
	CONST(AF_UNIX) CONST(AF_INET) CONST(SOCK_STREAM) CONST(SOCK_DGRAM) CONST(SOCK_NONBLOCK) CONST(SOCK_CLOEXEC)
	CONST(MSG_DONTWAIT) CONST(MSG_WAITALL) CONST(MSG_NOSIGNAL) CONST(MSG_MORE)
	CONST(SOL_SOCKET) CONST(SO_SNDBUF) CONST(SO_RCVBUF) CONST(IPPROTO_TCP) CONST(TCP_NODELAY)
	CONST(SHUT_RD) CONST(SHUT_WR) CONST(SHUT_RDWR) CONST(INADDR_LOOPBACK)
	CONST(POLLOUT) CONST(POLLERR) CONST(POLLHUP) CONST(POLLRDHUP)
	STRUCT(sockaddr_in) FIELD(sockaddr_in, sin_family) FIELD(sockaddr_in, sin_port)
	FIELD(sockaddr_in, sin_addr) FIELD(sockaddr_in, __pad)
	STRUCT(sockaddr_un) FIELD(sockaddr_un, sun_family) FIELD(sockaddr_un, sun_path)
	/* The timeout io_uring_getevents_arg.ts points to (IORING_ENTER_EXT_ARG); from linux/time_types.h. */
	STRUCT(__kernel_timespec) FIELD(__kernel_timespec, tv_sec) FIELD(__kernel_timespec, tv_nsec)
	return 0;
}

#endif /* PROBE_SCAN */
