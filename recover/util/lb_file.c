/* lb_file.c - write-all, read-file, atomic replace (see lb_file.h). */
#include "lb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int lb_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct lb_err *err)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int fd;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, errno == ENOENT || errno == EACCES ? LB_EK_INPUT : LB_EK_IO,
		                  errno, "%s", path);
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap ? 2 * cap : 4096;
			uint8_t *nb;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= n + 1) {
				close(fd);
				free(buf);
				return lb_err_set(err, LB_EK_INPUT, 0, "%s: over the %zu-byte limit", path,
				                  max);
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				close(fd);
				free(buf);
				return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
			}
			buf = nb;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lb_err_set(err, errno == EISDIR ? LB_EK_INPUT : LB_EK_IO, errno, "%s", path);
			close(fd);
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			close(fd);
			free(buf);
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: over the %zu-byte limit", path, max);
		}
	}
	close(fd);
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
	}
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
