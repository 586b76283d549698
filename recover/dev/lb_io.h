/* lb_io.h - the device seam: a byte-addressed, bounded block of storage.
 *
 * Every layer reads and writes through a `struct lb_io`: a file or block
 * device (lb_source.c), a window onto a partition (lb_io_window), a
 * BitLocker decrypting layer, (tests add a fault-injecting layer of their own, tests/support/).  NTFS
 * (lb_ntfs.c) sits on top of any of them through its own
 * ntfs_device_operations.  Like libarchive's stacked readers, a layer only
 * knows the one below it. */
#ifndef LB_IO_H
#define LB_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

struct lb_io;

struct lb_io_ops {
	/* Transfer exactly n bytes at off (off + n <= size is checked by the
	 * caller wrappers).  Return 0, or -errno. */
	int (*pread)(struct lb_io *io, void *buf, size_t n, uint64_t off);
	int (*pwrite)(struct lb_io *io, const void *buf, size_t n, uint64_t off);
	int (*sync)(struct lb_io *io);        /* -errno on failure */
	void (*destroy)(struct lb_io *io);    /* free ctx (not the lower layer unless owned) */
};

struct lb_io {
	const struct lb_io_ops *ops;
	void *ctx;
	uint64_t size;          /* bytes addressable */
	unsigned sector_size;   /* logical sector size, 512 or 4096 */
	bool writable;          /* opened for writing */
	char name[256];         /* for messages: "disk.img", "disk.img#p3" */
	uint64_t writes;        /* count of successful pwrite calls (stats) */
};

/* Full-length transfers with bounds checks.  On failure fill err with the
 * layer name, offset and reason and return -1. */
int lb_io_pread(struct lb_io *io, void *buf, size_t n, uint64_t off, struct lb_err *err);
int lb_io_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off, struct lb_err *err);
int lb_io_sync(struct lb_io *io, struct lb_err *err);
void lb_io_close(struct lb_io *io);   /* destroys io (NULL-safe) */

/* Allocate a bare io; used by layer implementations. */
struct lb_io *lb_io_new(const struct lb_io_ops *ops, void *ctx, uint64_t size,
                        unsigned sector_size, bool writable, const char *name);

/* A window [off, off+len) of parent.  The parent must outlive the window. */
struct lb_io *lb_io_window(struct lb_io *parent, uint64_t off, uint64_t len,
                           const char *name, struct lb_err *err);

/* A read-only view of parent in which [off, off+len) reads as data (not
 * copied: data and parent must outlive the view).  Lets a scan see a volume
 * as a planned repair would leave it, without writing. */
struct lb_io *lb_io_patched(struct lb_io *parent, uint64_t off, const void *data, size_t len,
                            struct lb_err *err);

#endif
