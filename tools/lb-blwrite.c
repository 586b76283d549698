/* lb-blwrite - test fixture helper: copy a plain volume image into a
 * BitLocker volume through the decrypting layer, or dump the decrypted
 * volume.  Test set-up only (never shipped).
 *
 *   lb-blwrite size IMAGE RECOVERY_PASSWORD        print the decrypted size
 *   lb-blwrite write IMAGE RECOVERY_PASSWORD SRC   SRC -> decrypted volume
 *   lb-blwrite dump IMAGE RECOVERY_PASSWORD OUT    decrypted volume -> OUT
 *
 * Blocks that fall on BitLocker's own metadata cannot be written; they are
 * skipped when SRC holds zeros there, otherwise it is an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_bitlocker.h"

#define CHUNK 4096

static int allzero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	struct lb_bitlocker_key key = { LB_BLK_RECOVERY_PASSWORD, NULL };
	struct lb_err err;
	struct lb_io *io;
	struct stat st;
	unsigned char buf[CHUNK];
	int fd, rc = 0;
	unsigned long skipped = 0;

	if (argc < 4 || (strcmp(argv[1], "size") && argc != 5)) {
		fprintf(stderr, "usage: lb-blwrite size|write|dump IMAGE RECOVERY_PASSWORD [FILE]\n");
		return 2;
	}
	if (stat(argv[2], &st) < 0) {
		perror(argv[2]);
		return 2;
	}
	key.secret = argv[3];
	lb_err_clear(&err);
	io = lb_bitlocker_open(argv[2], 0, (uint64_t)st.st_size, &key, !strcmp(argv[1], "write"),
	                       &err);
	if (!io) {
		fprintf(stderr, "lb-blwrite: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[1], "size")) {
		printf("%llu\n", (unsigned long long)io->size);
	} else if (!strcmp(argv[1], "write")) {
		fd = open(argv[4], O_RDONLY);
		if (fd < 0) {
			perror(argv[4]);
			rc = 2;
		}
		for (uint64_t off = 0; !rc && off < io->size; off += CHUNK) {
			ssize_t r = pread(fd, buf, CHUNK, (off_t)off);

			if (r <= 0)
				break;
			if (r < CHUNK)
				memset(buf + r, 0, (size_t)(CHUNK - r));
			if (lb_io_pwrite(io, buf, CHUNK, off, &err)) {
				if (err.sys_errno == EPERM && allzero(buf, CHUNK)) {
					skipped++;
					continue;
				}
				fprintf(stderr, "lb-blwrite: offset %llu: %s\n", (unsigned long long)off,
				        err.msg);
				rc = 1;
			}
		}
		if (fd >= 0)
			close(fd);
		if (!rc && lb_io_sync(io, &err)) {
			fprintf(stderr, "lb-blwrite: %s\n", err.msg);
			rc = 1;
		}
		if (skipped)
			fprintf(stderr, "lb-blwrite: %lu metadata blocks skipped\n", skipped);
	} else if (!strcmp(argv[1], "dump")) {
		fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror(argv[4]);
			rc = 2;
		}
		for (uint64_t off = 0; !rc && off < io->size; off += CHUNK) {
			size_t n = io->size - off < CHUNK ? (size_t)(io->size - off) : CHUNK;

			if (lb_io_pread(io, buf, n, off, &err)) {
				fprintf(stderr, "lb-blwrite: %s\n", err.msg);
				rc = 1;
			} else if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
				perror(argv[4]);
				rc = 1;
			}
		}
		if (fd >= 0)
			close(fd);
	} else {
		rc = 2;
	}
	lb_io_close(io);
	return rc;
}
