/* lb_file.c - write-all, read-file, atomic replace (see lb_file.h). */
#include "lb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

int lb_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Frees a buffer lb_read_file drops: key files come through here, so their
 * bytes must not stay behind in freed memory. */
static void wipe_free(uint8_t *p, size_t n)
{
	if (p) {
		sodium_memzero(p, n);
		free(p);
	}
}

int lb_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct lb_err *err)
{
	/* the buffer never needs more than max + 1 bytes and a NUL */
	size_t limit = max < SIZE_MAX - 2 ? max + 2 : SIZE_MAX;
	size_t cap = 0, n = 0, first = 4096;
	uint8_t *buf = NULL;
	struct stat st;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, errno == ENOENT || errno == EACCES ? LB_EK_INPUT : LB_EK_IO,
		                  errno, "%s", path);
	/* a regular file: one buffer of the right size (EOF is seen with a
	 * byte to spare), so nothing is copied and left behind on the way */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			close(fd);
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: over the %zu-byte limit", path, max);
		}
		first = (size_t)st.st_size + 2;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap ? (cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap) : first;
			uint8_t *nb;

			if (ncap > limit)
				ncap = limit;
			if (ncap <= n + 1) {
				close(fd);
				wipe_free(buf, n);
				return lb_err_set(err, LB_EK_INPUT, 0, "%s: over the %zu-byte limit", path,
				                  max);
			}
			/* not realloc: the old buffer is wiped before it is freed */
			nb = malloc(ncap);
			if (!nb) {
				close(fd);
				wipe_free(buf, n);
				return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
			}
			if (n)
				memcpy(nb, buf, n);
			wipe_free(buf, n);
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lb_err_set(err, errno == EISDIR ? LB_EK_INPUT : LB_EK_IO, errno, "%s", path);
			close(fd);
			wipe_free(buf, n);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			close(fd);
			wipe_free(buf, n);
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: over the %zu-byte limit", path, max);
		}
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int lb_fsync_parent(const char *path, struct lb_err *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", dir);
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = lb_err_set(err, LB_EK_IO, errno, "fsync %s", dir);
	close(fd);
	return rc;
}

int lb_replace_file(const char *path, const void *data, size_t len, mode_t mode,
                    struct lb_err *err)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return lb_err_set(err, LB_EK_INPUT, ENAMETOOLONG, "%s", path);
	unlink(tmp); /* a leftover of an earlier run with the same pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", tmp);
	if (fchmod(fd, mode) < 0 || lb_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "%s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "%s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "%s", path);
		unlink(tmp);
		return -1;
	}
	return lb_fsync_parent(path, err);
}
