/* lb-cutshim.c - power cuts for programs we do not link: an LD_PRELOAD
 * library that counts the writes a process tree makes to one file and,
 * like loopbreaker's own --fault-inject layer, either drops every write
 * after the N-th (cut:N, a power cut after write N) or fails the N-th with
 * EIO (eio:N).  Used by the BCD crash-cut sweep, where mtools (run by
 * loopbreaker) writes the EFI System Partition.  Test helper only.
 *
 *   LB_CUT=cut:N|eio:N   the fault
 *   LB_CUT_TARGET=FILE   the file whose writes count (matched by device
 *                        and inode, whatever name a process opens it by)
 *   LB_CUT_STATE=FILE    the write counter, shared by every process
 *                        (created as needed; one process at a time writes)
 *
 * Intercepts open/openat (and their 64 variants), write, pwrite(64) and
 * close.  Built without sanitizers: it is preloaded into uninstrumented
 * tools. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAXFD 1024

static char tracked[MAXFD];   /* per-process: fds open on the target */

static int config(unsigned long long *n, int *eio, struct stat *tgt)
{
	const char *c = getenv("LB_CUT"), *t = getenv("LB_CUT_TARGET");
	char *end;

	if (!c || !t || !getenv("LB_CUT_STATE"))
		return -1;
	if (!strncmp(c, "cut:", 4))
		*eio = 0;
	else if (!strncmp(c, "eio:", 4))
		*eio = 1;
	else
		return -1;
	*n = strtoull(c + 4, &end, 10);
	if (*end || stat(t, tgt))
		return -1;
	return 0;
}

static void track(int fd)
{
	unsigned long long n;
	int eio;
	struct stat tgt, st;

	if (fd < 0 || fd >= MAXFD)
		return;
	tracked[fd] = 0;
	if (config(&n, &eio, &tgt) == 0 && fstat(fd, &st) == 0 && st.st_dev == tgt.st_dev &&
	    st.st_ino == tgt.st_ino)
		tracked[fd] = 1;
}

/* 0: let the write through; 1: drop it (report success); -1: fail, EIO */
static int verdict(int fd)
{
	unsigned long long n, seen = 0;
	int eio, sfd;
	struct stat tgt;
	char buf[32];
	ssize_t r;
	ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

	if (fd < 0 || fd >= MAXFD || !tracked[fd] || config(&n, &eio, &tgt))
		return 0;
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	sfd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(getenv("LB_CUT_STATE"),
	                                                                  O_RDWR | O_CREAT, 0600);
	if (sfd < 0)
		return 0;
	r = pread(sfd, buf, sizeof(buf) - 1, 0);
	buf[r > 0 ? r : 0] = 0;
	seen = strtoull(buf, NULL, 10) + 1;
	r = snprintf(buf, sizeof(buf), "%llu\n", seen);
	if (real_pwrite(sfd, buf, (size_t)r, 0) != r || ftruncate(sfd, r))
		seen = 0;
	close(sfd);
	if (eio)
		return seen == n ? -1 : 0;
	return seen > n ? 1 : 0;
}

/* the real function of this name, from the next library in line */
#define REAL(type, name) ((type)dlsym(RTLD_NEXT, name))

#define OPEN_MODE(flags, mode) do { if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; \
	va_start(ap, flags); mode = va_arg(ap, int); va_end(ap); } } while (0)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static int opened(int fd)
{
	track(fd);
	return fd;
}

int open(const char *path, int flags, ...)
{
	int mode = 0;

	OPEN_MODE(flags, mode);
	return opened(REAL(open_fn, "open")(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
	int mode = 0;

	OPEN_MODE(flags, mode);
	return opened(REAL(open_fn, "open64")(path, flags, mode));
}

int openat(int dir, const char *path, int flags, ...)
{
	int mode = 0;

	OPEN_MODE(flags, mode);
	return opened(REAL(openat_fn, "openat")(dir, path, flags, mode));
}

int openat64(int dir, const char *path, int flags, ...)
{
	int mode = 0;

	OPEN_MODE(flags, mode);
	return opened(REAL(openat_fn, "openat64")(dir, path, flags, mode));
}

int close(int fd)
{
	if (fd >= 0 && fd < MAXFD)
		tracked[fd] = 0;
	return REAL(int (*)(int), "close")(fd);
}

/* the gate every write passes: -1 with EIO, 0 dropped (n reported), 1 go on */
static int gate(int fd, size_t n, ssize_t *ret)
{
	int v = verdict(fd);

	if (v < 0) {
		errno = EIO;
		*ret = -1;
		return 0;
	}
	*ret = (ssize_t)n;
	return v == 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r;

	return gate(fd, n, &r) ? REAL(write_fn, "write")(fd, buf, n) : r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r;

	return gate(fd, n, &r) ? REAL(pwrite_fn, "pwrite")(fd, buf, n, off) : r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r;

	return gate(fd, n, &r) ? REAL(pwrite_fn, "pwrite64")(fd, buf, n, off) : r;
}
