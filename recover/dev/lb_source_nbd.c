/* lb_source_nbd.c - VM disk images in QEMU's formats, and NBD exports, as
 * lb_io (lb_source_nbd.h).
 *
 * An image is served by qemu-nbd, a private one per open: libnbd makes a
 * unix socket in a directory of its own, starts qemu-nbd with the socket
 * passed by systemd socket activation (no TCP port, no kernel nbd module),
 * and kills and reaps it at nbd_close.  qemu-nbd gets the format with -f,
 * so QEMU never probes (a guessed "raw" would write the container's
 * metadata); the image path is absolute, so QEMU never reads a "proto:"
 * prefix into it; -r when the open is read-only.  Backing files are opened
 * read-only by QEMU: a fix writes only the top overlay.  qemu-nbd's stderr
 * goes to a temporary file, quoted when it fails to start.
 *
 * libblkid reads only through a file descriptor, so src->fd of an NBD
 * source is a sparse memfd of the disk's size, filled by
 * lb_source_prefetch with the regions a probe reads (lb_partition.c).
 *
 * libnbd (and GnuTLS, libxml2 and ICU behind it, most of what the binary
 * used to load at start-up) is only needed for these targets, so it is not
 * linked: it is dlopen()ed (lb_dlopen, plain RTLD_LOCAL) the first time an
 * NBD source opens, and every nbd_X function is called as N.X from the
 * table below.  <libnbd.h> (libnbd-dev) is only used for types. */
#include "lb_source_nbd.h"

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_dlopen.h"

#define NBD_CHUNK (4u << 20) /* below every server's maximum request size */

#ifndef LB_NBD_SONAME
#define LB_NBD_SONAME "libnbd.so.0"
#endif
#ifndef LB_NBD_PACKAGE
#define LB_NBD_PACKAGE "libnbd0"
#endif

LB_ELF_NOTE_DLOPEN(lb_note_nbd, "vm-images", "VM disk images and NBD exports",
                   LB_DLOPEN_RECOMMENDED, LB_NBD_SONAME);

/* The nbd_* functions, resolved once (nbd_load); nbd_X is N.X. */
static struct {
	struct nbd_handle *(*create)(void);
	void (*close)(struct nbd_handle *h);
	const char *(*get_error)(void);
	int (*get_errno)(void);
	int (*set_handle_name)(struct nbd_handle *h, const char *name);
	int (*set_uri_allow_local_file)(struct nbd_handle *h, bool allow);
	int (*connect_uri)(struct nbd_handle *h, const char *uri);
	int (*connect_systemd_socket_activation)(struct nbd_handle *h, char **argv);
	int64_t (*get_size)(struct nbd_handle *h);
	int64_t (*get_block_size)(struct nbd_handle *h, int size_type);
	int (*is_read_only)(struct nbd_handle *h);
	int (*can_flush)(struct nbd_handle *h);
	int (*pread)(struct nbd_handle *h, void *buf, size_t n, uint64_t off, uint32_t flags);
	int (*pwrite)(struct nbd_handle *h, const void *buf, size_t n, uint64_t off,
	              uint32_t flags);
	int (*flush)(struct nbd_handle *h, uint32_t flags);
	int (*aio_is_ready)(struct nbd_handle *h);
	int (*shutdown)(struct nbd_handle *h, uint32_t flags);
} N;

#define NBD_SYM(f) { "nbd_" #f, (void **)&N.f }

static int nbd_load(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		NBD_SYM(create), NBD_SYM(close), NBD_SYM(get_error), NBD_SYM(get_errno),
		NBD_SYM(set_handle_name), NBD_SYM(set_uri_allow_local_file), NBD_SYM(connect_uri),
		NBD_SYM(connect_systemd_socket_activation), NBD_SYM(get_size),
		NBD_SYM(get_block_size), NBD_SYM(is_read_only), NBD_SYM(can_flush), NBD_SYM(pread),
		NBD_SYM(pwrite), NBD_SYM(flush), NBD_SYM(aio_is_ready), NBD_SYM(shutdown),
	};
	static void *handle;

	if (!handle)
		handle = lb_dlopen(LB_NBD_SONAME, LB_NBD_PACKAGE, "opening VM disk images and NBD "
		                   "exports", LB_DLOPEN_PLAIN, syms, sizeof(syms) / sizeof(syms[0]),
		                   err);
	return handle ? 0 : -1;
}

struct lb_nbd {
	struct nbd_handle *h;
	int file_fd;            /* the image file (identity), -1 for a URI */
	uint32_t align;         /* the server's minimum block size (1: any) */
	char log[PATH_MAX];     /* qemu-nbd's stderr, "" for a URI */
};

bool lb_nbd_is_uri(const char *path)
{
	return strncmp(path, "nbd://", 6) == 0 || strncmp(path, "nbds://", 7) == 0 ||
	       strncmp(path, "nbd+", 4) == 0 || strncmp(path, "nbds+", 5) == 0;
}

static int nbd_errno(void)
{
	int e = N.get_errno();

	return e > 0 ? -e : -EIO;
}

/* Aligned transfers, in chunks the server accepts. */
static int xfer(struct lb_nbd *s, bool wr, char *p, size_t n, uint64_t off)
{
	while (n) {
		size_t k = n < NBD_CHUNK ? n : NBD_CHUNK;
		int r = wr ? N.pwrite(s->h, p, k, off, 0) : N.pread(s->h, p, k, off, 0);

		if (r < 0)
			return nbd_errno();
		p += k;
		n -= k;
		off += k;
	}
	return 0;
}

/* A transfer the server's minimum block size does not divide (libnbd
 * refuses those: qemu-nbd advertises 512 for vhdx, qed, parallels...):
 * read the aligned blocks around it, and for a write patch and write them
 * back.  The export is ours alone for the run (lb_source_claim). */
static int unaligned(struct lb_nbd *s, bool wr, char *p, size_t n, uint64_t off, uint64_t size)
{
	uint64_t a = off - off % s->align, end = off + n;
	char *buf;
	int rc;

	end += (s->align - end % s->align) % s->align;
	if (end > size)
		return -EINVAL; /* the last block is short: the server's own problem */
	buf = malloc(end - a);
	if (!buf)
		return -ENOMEM;
	rc = xfer(s, false, buf, end - a, a);
	if (rc == 0 && !wr)
		memcpy(p, buf + (off - a), n);
	if (rc == 0 && wr) {
		memcpy(buf + (off - a), p, n);
		rc = xfer(s, true, buf, end - a, a);
	}
	free(buf);
	return rc;
}

static int nbd_io_rw(struct lb_io *io, bool wr, char *p, size_t n, uint64_t off)
{
	struct lb_nbd *s = io->ctx;

	if (s->align > 1 && ((off | n) % s->align))
		return unaligned(s, wr, p, n, off, io->size);
	return xfer(s, wr, p, n, off);
}

static int nbd_io_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	return nbd_io_rw(io, false, buf, n, off);
}

static int nbd_io_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off)
{
	return nbd_io_rw(io, true, (char *)buf, n, off); /* written from, never to */
}

/* NBD_CMD_FLUSH: qemu-nbd writes its cache and the image's metadata
 * through to the file and fsyncs it. */
static int nbd_io_sync(struct lb_io *io)
{
	struct lb_nbd *s = io->ctx;

	if (!io->writable || N.can_flush(s->h) != 1)
		return 0;
	return N.flush(s->h, 0) < 0 ? nbd_errno() : 0;
}

static const struct lb_io_ops nbd_ops = {
	.pread = nbd_io_pread,
	.pwrite = nbd_io_pwrite,
	.sync = nbd_io_sync,
	.destroy = NULL, /* ctx is owned by the source (lb_nbd_close) */
};

/* The last lines of qemu-nbd's stderr, one line, into out. */
static void read_log(const char *log, char *out, size_t n)
{
	FILE *f = log[0] ? fopen(log, "re") : NULL;
	size_t len;

	out[0] = '\0';
	if (!f)
		return;
	len = fread(out, 1, n - 1, f);
	fclose(f);
	out[len] = '\0';
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ' ';
}

static void free_nbd(struct lb_nbd *s)
{
	if (!s)
		return;
	N.close(s->h);
	if (s->log[0])
		unlink(s->log);
	if (s->file_fd >= 0)
		close(s->file_fd);
	free(s);
}

/* The program serving images: $LB_QEMU_NBD if set (tests; "" disables
 * container images), else qemu-nbd from PATH. */
static const char *qemu_nbd_prog(void)
{
	const char *p = getenv("LB_QEMU_NBD");

	return p ? p : "qemu-nbd";
}

/* Start qemu-nbd on the image (absolute path abs) and connect to it. */
static int start_qemu(struct lb_nbd *s, const char *abs, const char *fmt, bool writable,
                      const char *path, struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char msg[512];
	int fd;
	/* sh puts qemu-nbd's stderr in the log and execs it (same pid, as
	 * socket activation's LISTEN_PID requires) */
	char *argv[] = { "sh", "-c", "log=$1; shift; exec \"$@\" 2>\"$log\"", "lb-qemu-nbd",
	                 s->log, (char *)qemu_nbd_prog(), "-f", (char *)fmt, "--cache=writeback",
	                 writable ? "--discard=ignore" : "-r", (char *)abs, NULL };

	if (!qemu_nbd_prog()[0])
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: %s image: serving it needs qemu-nbd "
		                  "(disabled here); convert it to raw (qemu-img convert -O raw)",
		                  path, fmt);
	snprintf(s->log, sizeof(s->log), "%s/lb-qemu-nbd.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	fd = mkstemp(s->log);
	if (fd < 0) {
		s->log[0] = '\0';
		return lb_err_set(err, LB_EK_IO, errno, "%s: temporary file for qemu-nbd", path);
	}
	close(fd);
	argv[4] = s->log;
	if (N.connect_systemd_socket_activation(s->h, argv) == 0)
		return 0;
	read_log(s->log, msg, sizeof(msg));
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s (is qemu-nbd installed? Debian: qemu-utils)",
		         N.get_error() ? N.get_error() : "?");
	return lb_err_set(err, LB_EK_INPUT, 0, "%s: QEMU cannot open this %s image%s: %s", path,
	                  fmt, writable ? " for writing" : "", msg);
}

/* Size, the read-only check, the io and the shadow memfd for libblkid. */
static int finish(struct lb_source *src, struct lb_nbd *s, bool writable, struct lb_err *err)
{
	int64_t size = N.get_size(s->h);

	if (size < 0)
		return lb_err_set(err, LB_EK_IO, -nbd_errno(), "%s: NBD size: %s", src->path,
		                  N.get_error());
	if (writable && N.is_read_only(s->h) != 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s: the NBD export is read-only "
		                  "(format %s): cannot write it", src->path, src->format);
	s->align = 1;
	{
		int64_t min = N.get_block_size(s->h, LIBNBD_SIZE_MINIMUM);

		if (min > 1 && min <= 65536 && !(min & (min - 1)))
			s->align = (uint32_t)min;
	}
	if (size < 4096)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: too small to hold a disk (%lld bytes)",
		                  src->path, (long long)size);
	src->fd = memfd_create("lb-blkid-shadow", MFD_CLOEXEC);
	if (src->fd < 0 || ftruncate(src->fd, (off_t)size) < 0)
		return lb_err_set(err, LB_EK_INTERNAL, errno, "%s: memfd for libblkid", src->path);
	src->io = lb_io_new(&nbd_ops, s, (uint64_t)size, 512, writable, src->path);
	if (!src->io)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", src->path);
	src->nbd = s;
	return 0;
}

/* A failed open: no flush, no NBD_CMD_DISC; the rest as lb_source_close. */
static void fail_close(struct lb_source *src, struct lb_nbd *s)
{
	src->nbd = NULL;
	lb_source_close(src);
	free_nbd(s);
}

static struct lb_nbd *new_nbd(struct lb_source *src, struct lb_err *err)
{
	struct lb_nbd *s;

	if (nbd_load(err)) {
		lb_err_wrap(err, "%s", src->path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));

	if (s)
		s->h = N.create();
	if (!s || !s->h) {
		free(s);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: libnbd: %s", src->path,
		           N.get_error() ? N.get_error() : "out of memory");
		return NULL;
	}
	s->file_fd = -1;
	N.set_handle_name(s->h, "loopbreaker");
	return s;
}

int lb_nbd_open_file(struct lb_source *src, const char *fmt, bool writable, struct lb_err *err)
{
	char abs[PATH_MAX];
	struct lb_nbd *s = new_nbd(src, err);

	if (!s) {
		close(src->fd);
		src->fd = -1;
		return -1;
	}
	s->file_fd = src->fd;
	src->fd = -1;
	src->format = fmt;
	if (!realpath(src->path, abs)) {
		lb_err_set(err, LB_EK_INPUT, errno, "%s: realpath", src->path);
		goto fail;
	}
	if (start_qemu(s, abs, fmt, writable, src->path, err) || finish(src, s, writable, err))
		goto fail;
	return 0;
fail:
	fail_close(src, s);
	return -1;
}

int lb_nbd_open_uri(struct lb_source *src, bool writable, struct lb_err *err)
{
	struct lb_nbd *s = new_nbd(src, err);

	if (!s)
		return -1;
	src->is_uri = true;
	src->format = "nbd";
	N.set_uri_allow_local_file(s->h, true); /* ?socket= and TLS files */
	if (N.connect_uri(s->h, src->path) < 0) {
		lb_err_set(err, N.get_errno() == EINVAL ? LB_EK_INPUT : LB_EK_IO, 0,
		           "%s: cannot connect: %s", src->path, N.get_error());
		goto fail;
	}
	if (finish(src, s, writable, err))
		goto fail;
	return 0;
fail:
	fail_close(src, s);
	return -1;
}

void lb_nbd_close(struct lb_source *src)
{
	struct lb_nbd *s = src->nbd;

	if (!s)
		return;
	if (src->io && src->io->writable && N.can_flush(s->h) == 1)
		N.flush(s->h, 0);
	if (N.aio_is_ready(s->h) == 1)
		N.shutdown(s->h, 0); /* NBD_CMD_DISC: qemu-nbd closes the image and exits */
	free_nbd(s);
	src->nbd = NULL;
}

int lb_source_prefetch(struct lb_source *src, uint64_t off, uint64_t len, struct lb_err *err)
{
	const size_t bufsz = 1u << 16;
	char *buf;
	int rc = 0;

	if (!src->nbd || off >= src->io->size)
		return 0;
	if (len > src->io->size - off)
		len = src->io->size - off;
	buf = malloc(bufsz);
	if (!buf)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: libblkid", src->path);
	while (len && rc == 0) {
		size_t k = len < bufsz ? (size_t)len : bufsz;

		if (lb_io_pread(src->io, buf, k, off, err))
			rc = lb_err_wrap(err, "reading for libblkid");
		else if (pwrite(src->fd, buf, k, (off_t)off) != (ssize_t)k)
			rc = lb_err_set(err, LB_EK_INTERNAL, errno, "%s: memfd for libblkid",
			                src->path);
		off += k;
		len -= k;
	}
	free(buf);
	return rc;
}

int lb_source_stat(const struct lb_source *src, struct stat *st)
{
	if (src->nbd)
		return src->nbd->file_fd >= 0 ? fstat(src->nbd->file_fd, st) : -1;
	return fstat(src->fd, st);
}
