/* lb_io_fault.c - fault injection at the device seam, for crash tests. */
#include "lb_io_fault.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct faulty {
	struct lb_io *parent;
	struct lb_fault *f;
};

static int f_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	struct faulty *x = io->ctx;
	struct lb_err err;

	if (lb_io_pread(x->parent, buf, n, off, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static int f_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off)
{
	struct faulty *x = io->ctx;
	struct lb_err err;
	uint64_t k = ++x->f->seen;

	if (x->f->mode == LB_FAULT_CUT && k > x->f->n)
		return 0; /* the power is off: the write never reaches the disk */
	if (x->f->mode == LB_FAULT_EIO && k == x->f->n)
		return -EIO;
	if (lb_io_pwrite(x->parent, buf, n, off, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static int f_sync(struct lb_io *io)
{
	struct faulty *x = io->ctx;
	struct lb_err err;

	if (x->f->mode == LB_FAULT_CUT && x->f->seen > x->f->n)
		return 0;
	if (lb_io_sync(x->parent, &err))
		return -(err.sys_errno ? err.sys_errno : EIO);
	return 0;
}

static void f_destroy(struct lb_io *io)
{
	free(io->ctx);
}

static const struct lb_io_ops faulty_ops = {
	.pread = f_pread,
	.pwrite = f_pwrite,
	.sync = f_sync,
	.destroy = f_destroy,
};

struct lb_io *lb_io_faulty(struct lb_io *parent, struct lb_fault *fault, struct lb_err *err)
{
	struct faulty *x = calloc(1, sizeof(*x));
	struct lb_io *io;

	if (!x) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fault layer");
		return NULL;
	}
	x->parent = parent;
	x->f = fault;
	io = lb_io_new(&faulty_ops, x, parent->size, parent->sector_size, parent->writable,
	               parent->name);
	if (!io) {
		free(x);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fault layer");
	}
	return io;
}

int lb_fault_parse(const char *spec, struct lb_fault *out)
{
	char *end;
	unsigned long long n;

	memset(out, 0, sizeof(*out));
	if (!strncmp(spec, "cut:", 4))
		out->mode = LB_FAULT_CUT;
	else if (!strncmp(spec, "eio:", 4))
		out->mode = LB_FAULT_EIO;
	else
		return -1;
	errno = 0;
	n = strtoull(spec + 4, &end, 10);
	if (errno || *end || end == spec + 4)
		return -1;
	out->n = n;
	return 0;
}

/* LB_TEST_HOLD=FILE (tests/shell/ownership.sh): when the first volume is
 * opened for writing (the targets are claimed, the plan and the bundle are
 * done), write this process's pid to FILE and wait until FILE is removed
 * (at most 120 s), so that a test can run a second loopbreaker against a
 * fix that really is in progress.  Only through --fault-inject, i.e. only
 * in loopbreaker-test. */
static void hold_if_asked(void)
{
	static bool held;
	const char *f = getenv("LB_TEST_HOLD");
	char tmp[4200];
	FILE *fp;

	if (held || !f || !f[0])
		return;
	held = true;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f);
	fp = fopen(tmp, "w");
	if (!fp)
		return;
	fprintf(fp, "%ld\n", (long)getpid());
	fclose(fp);
	rename(tmp, f);
	for (int i = 0; i < 2400 && access(f, F_OK) == 0; i++)
		usleep(50000);
}

struct lb_io *lb_io_fault_wrap(struct lb_io *parent, void *ctx, struct lb_err *err)
{
	hold_if_asked();
	return lb_io_faulty(parent, ctx, err);
}
