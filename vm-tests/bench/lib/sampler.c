/*
 * The benchmark's sampler (built on the host by vm-tests/bench/run, run in the guest): prints one line per
 * interval until SIGTERM, cheap enough not to disturb an emulated guest (a shell loop parsing /proc costs
 * half a second of CPU per sample under QEMU TCG).
 *
 *   sampler STATFILE PID|- INTERVAL_MS
 *
 * Each line: uptime dev_reads dev_writes cpu(user nice system idle iowait irq softirq steal) ctxt
 *            Cached_kB Dirty_kB pid_utime pid_stime pid_voluntary_cs pid_nonvoluntary_cs
 *            queue_ticks iouring_worker_ticks jit_ticks
 * (device counts from /sys/block/X/stat; the pid's CPU from /proc/PID/stat; its context switches summed over
 * every /proc/PID/task/TID/status; utime+stime of its threads by name from /proc/PID/task/TID/stat: jublk's
 * queue threads "ublkN-qM", io_uring's "iou-wrk-*"/"iou-sqp-*" workers, HotSpot's "C1/C2 CompilerThre";
 * '-' where there is no pid).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

/* Reads a whole (small) file into buf; returns its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n >= size - 1)
			break;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* utime+stime of a /proc/.../stat text (each also into *utime and *stime when given), and its command name
   (without parentheses) into comm when given. */
static unsigned long long stat_times(char *text, char *comm, size_t commsize, unsigned long long *utime,
				     unsigned long long *stime) {
	char *open = strchr(text, '(');
	char *p = strrchr(text, ')');
	unsigned long long ut = 0, st = 0;
	if (comm && commsize) {
		comm[0] = '\0';
		if (open && p && p > open) {
			size_t n = (size_t)(p - open - 1);
			if (n >= commsize)
				n = commsize - 1;
			memcpy(comm, open + 1, n);
			comm[n] = '\0';
		}
	}
	if (!p)
		return 0;
	/* after the name: state is field 3, utime 14, stime 15 */
	int f = 2;
	for (char *q = p + 1; *q && f < 15; q++) {
		if (*q == ' ') {
			f++;
			if (f == 14)
				ut = strtoull(q + 1, NULL, 10);
			else if (f == 15)
				st = strtoull(q + 1, NULL, 10);
		}
	}
	if (utime)
		*utime = ut;
	if (stime)
		*stime = st;
	return ut + st;
}

static unsigned long long stat_ticks(char *text, char *comm, size_t commsize) {
	return stat_times(text, comm, commsize, NULL, NULL);
}

/* The number after "key" at the start of a line, or -1. */
static long long field(const char *text, const char *key) {
	size_t k = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, k) == 0)
			return strtoll(p + k, NULL, 10);
	}
	return -1;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: sampler STATFILE PID|- INTERVAL_MS\n");
		return 2;
	}
	const char *statf = argv[1];
	const char *pid = argv[2];
	long interval = atol(argv[3]);
	if (interval <= 0)
		interval = 1000;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	static char buf[1 << 16];
	char path[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!stop) {
		double up = 0;
		if (slurp("/proc/uptime", buf, sizeof buf) > 0)
			up = strtod(buf, NULL);
		unsigned long long rd = 0, wr = 0, x;
		if (slurp(statf, buf, sizeof buf) > 0)
			sscanf(buf, "%llu %llu %llu %llu %llu", &rd, &x, &x, &x, &wr);
		unsigned long long cpu[8] = {0};
		long long ctxt = 0;
		if (slurp("/proc/stat", buf, sizeof buf) > 0) {
			sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &cpu[0], &cpu[1], &cpu[2], &cpu[3],
			       &cpu[4], &cpu[5], &cpu[6], &cpu[7]);
			ctxt = field(buf, "ctxt ");
		}
		long long cached = -1, dirty = -1;
		if (slurp("/proc/meminfo", buf, sizeof buf) > 0) {
			cached = field(buf, "Cached:");
			dirty = field(buf, "Dirty:");
		}
		char pidpart[256] = "- - - - - - -";
		if (strcmp(pid, "-") != 0) {
			snprintf(path, sizeof path, "/proc/%s/stat", pid);
			if (slurp(path, buf, sizeof buf) > 0) {
				unsigned long long ut = 0, st = 0;
				stat_times(buf, NULL, 0, &ut, &st);
				long long vcs = 0, nvcs = 0;
				unsigned long long qt = 0, iou = 0, jit = 0;
				snprintf(path, sizeof path, "/proc/%s/task", pid);
				DIR *d = opendir(path);
				if (d) {
					struct dirent *e;
					while ((e = readdir(d)) != NULL) {
						if (e->d_name[0] == '.')
							continue;
						char sp[300], comm[64];
						snprintf(sp, sizeof sp, "/proc/%s/task/%s/status", pid, e->d_name);
						if (slurp(sp, buf, sizeof buf) > 0) {
							long long v = field(buf, "voluntary_ctxt_switches:");
							long long n = field(buf, "nonvoluntary_ctxt_switches:");
							if (v > 0)
								vcs += v;
							if (n > 0)
								nvcs += n;
						}
						snprintf(sp, sizeof sp, "/proc/%s/task/%s/stat", pid, e->d_name);
						if (slurp(sp, buf, sizeof buf) > 0) {
							unsigned long long t = stat_ticks(buf, comm, sizeof comm);
							if (strncmp(comm, "ublk", 4) == 0 && strstr(comm, "-q"))
								qt += t;
							else if (strncmp(comm, "iou-", 4) == 0)
								iou += t;
							else if (strstr(comm, "CompilerThre"))
								jit += t;
						}
					}
					closedir(d);
				}
				snprintf(pidpart, sizeof pidpart, "%llu %llu %lld %lld %llu %llu %llu", ut, st, vcs, nvcs, qt,
					 iou, jit);
			}
		}
		printf("%.2f %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %lld %lld %lld %s\n", up, rd, wr, cpu[0],
		       cpu[1], cpu[2], cpu[3], cpu[4], cpu[5], cpu[6], cpu[7], ctxt, cached, dirty, pidpart);
		struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
		while (!stop && nanosleep(&ts, &ts) != 0)
			;
	}
	return 0;
}
