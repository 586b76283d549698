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

#define OPEN_MODE(flags, mode) do { if ((flags) & (O_CREAT | O_TMPFILE)) { va_list ap; \
	va_start(ap, flags); mode = va_arg(ap, int); va_end(ap); } } while (0)

int open(const char *path, int flags, ...)
{
	int mode = 0, fd;

	OPEN_MODE(flags, mode);
	fd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(path, flags, mode);
	track(fd);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	int mode = 0, fd;

	OPEN_MODE(flags, mode);
	fd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64"))(path, flags, mode);
	track(fd);
	return fd;
}

int openat(int dir, const char *path, int flags, ...)
{
	int mode = 0, fd;

	OPEN_MODE(flags, mode);
	fd = ((int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat"))(dir, path, flags,
	                                                                        mode);
	track(fd);
	return fd;
}

int openat64(int dir, const char *path, int flags, ...)
{
	int mode = 0, fd;

	OPEN_MODE(flags, mode);
	fd = ((int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat64"))(dir, path,
	                                                                          flags, mode);
	track(fd);
	return fd;
}

int close(int fd)
{
	if (fd >= 0 && fd < MAXFD)
		tracked[fd] = 0;
	return ((int (*)(int))dlsym(RTLD_NEXT, "close"))(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int v = verdict(fd);

	if (v < 0) {
		errno = EIO;
		return -1;
	}
	if (v > 0)
		return (ssize_t)n;
	return ((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int v = verdict(fd);

	if (v < 0) {
		errno = EIO;
		return -1;
	}
	if (v > 0)
		return (ssize_t)n;
	return ((ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite"))(fd, buf,
	                                                                                 n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	int v = verdict(fd);

	if (v < 0) {
		errno = EIO;
		return -1;
	}
	if (v > 0)
		return (ssize_t)n;
	return ((ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64"))(
		fd, buf, n, off);
}
