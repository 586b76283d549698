/* lb_io.c - generic io wrappers and the partition window layer. */
#include "lb_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lb_io *lb_io_new(const struct lb_io_ops *ops, void *ctx, uint64_t size,
                        unsigned sector_size, bool writable, const char *name)
{
	struct lb_io *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	io->ops = ops;
	io->ctx = ctx;
	io->size = size;
	io->sector_size = sector_size ? sector_size : 512;
	io->writable = writable;
	snprintf(io->name, sizeof(io->name), "%s", name ? name : "?");
	return io;
}

static int check_range(struct lb_io *io, size_t n, uint64_t off,
                       const char *what, struct lb_err *err)
{
	if (off > io->size || n > io->size - off)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: %s of %zu bytes at offset %" PRIu64
		                  " is past the end (%" PRIu64 " bytes)",
		                  io->name, what, n, off, io->size);
	return 0;
}

int lb_io_pread(struct lb_io *io, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	int rc;

	if (check_range(io, n, off, "read", err))
		return -1;
	rc = io->ops->pread(io, buf, n, off);
	if (rc < 0)
		return lb_err_set(err, LB_EK_IO, -rc, "%s: read of %zu bytes at offset %" PRIu64,
		                  io->name, n, off);
	return 0;
}

int lb_io_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	int rc;

	if (!io->writable || !io->ops->pwrite)
		return lb_err_set(err, LB_EK_INTERNAL, EROFS, "%s: write refused (opened read-only)",
		                  io->name);
	if (check_range(io, n, off, "write", err))
		return -1;
	rc = io->ops->pwrite(io, buf, n, off);
	if (rc < 0)
		return lb_err_set(err, LB_EK_IO, -rc, "%s: write of %zu bytes at offset %" PRIu64,
		                  io->name, n, off);
	io->writes++;
	return 0;
}

int lb_io_sync(struct lb_io *io, struct lb_err *err)
{
	int rc;

	if (!io->ops->sync)
		return 0;
	rc = io->ops->sync(io);
	if (rc < 0)
		return lb_err_set(err, LB_EK_IO, -rc, "%s: sync", io->name);
	return 0;
}

void lb_io_close(struct lb_io *io)
{
	if (!io)
		return;
	if (io->ops && io->ops->destroy)
		io->ops->destroy(io);
	free(io);
}

/* ---- window layer ---- */

struct window {
	struct lb_io *parent;
	uint64_t off;
};

static int win_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	struct window *w = io->ctx;
	struct lb_err err;

	if (lb_io_pread(w->parent, buf, n, w->off + off, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static int win_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off)
{
	struct window *w = io->ctx;
	struct lb_err err;

	if (lb_io_pwrite(w->parent, buf, n, w->off + off, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static int win_sync(struct lb_io *io)
{
	struct window *w = io->ctx;
	struct lb_err err;

	if (lb_io_sync(w->parent, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static void win_destroy(struct lb_io *io)
{
	free(io->ctx);
}

static const struct lb_io_ops window_ops = {
	.pread = win_pread,
	.pwrite = win_pwrite,
	.sync = win_sync,
	.destroy = win_destroy,
};

struct lb_io *lb_io_window(struct lb_io *parent, uint64_t off, uint64_t len,
                           const char *name, struct lb_err *err)
{
	struct window *w;
	struct lb_io *io;

	if (off > parent->size || len > parent->size - off) {
		lb_err_set(err, LB_EK_INPUT, 0,
		           "%s: region [%" PRIu64 ", +%" PRIu64 ") lies past the end of %s (%" PRIu64
		           " bytes): truncated image?", name, off, len, parent->name, parent->size);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", name);
		return NULL;
	}
	w->parent = parent;
	w->off = off;
	io = lb_io_new(&window_ops, w, len, parent->sector_size, parent->writable, name);
	if (!io) {
		free(w);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", name);
		return NULL;
	}
	return io;
}

/* ---- read-only patch layer ---- */

struct patch {
	struct lb_io *parent;
	uint64_t off;
	const uint8_t *data;
	size_t len;
};

static int patch_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	struct patch *p = io->ctx;
	struct lb_err err;
	uint64_t lo, hi;

	if (lb_io_pread(p->parent, buf, n, off, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	lo = off > p->off ? off : p->off;
	hi = off + n < p->off + p->len ? off + n : p->off + p->len;
	if (lo < hi)
		memcpy((uint8_t *)buf + (lo - off), p->data + (lo - p->off), (size_t)(hi - lo));
	return 0;
}

static void patch_destroy(struct lb_io *io)
{
	free(io->ctx);
}

static const struct lb_io_ops patch_ops = {
	.pread = patch_pread,
	.destroy = patch_destroy,
};

struct lb_io *lb_io_patched(struct lb_io *parent, uint64_t off, const void *data, size_t len,
                            struct lb_err *err)
{
	struct patch *p;
	struct lb_io *io;

	if (off > parent->size || len > parent->size - off) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "%s: patch past the end", parent->name);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	io = p ? lb_io_new(&patch_ops, p, parent->size, parent->sector_size, false, parent->name)
	       : NULL;
	if (!io) {
		free(p);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", parent->name);
		return NULL;
	}
	p->parent = parent;
	p->off = off;
	p->data = data;
	p->len = len;
	return io;
}
