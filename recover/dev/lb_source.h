/* lb_source.h - the bottom layer: a disk image file or a block device.
 *
 * Recognises a fixed VHD (a 512-byte "conectix" footer at the end, hidden
 * from the layers above) and refuses, with a clear message, container
 * formats it cannot read in place (dynamic VHD, VHDX, qcow2, VMDK). */
#ifndef LB_SOURCE_H
#define LB_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_io.h"

struct lb_source {
	struct lb_io *io;       /* whole disk (footer excluded) */
	int fd;                 /* for libblkid; owned */
	char path[4096];
	bool is_block;          /* block device (vs regular file) */
	const char *format;     /* "raw" or "vhd" */
	uint64_t file_size;     /* on-disk size including any footer */
};

int lb_source_open(const char *path, bool writable, struct lb_source *src, struct lb_err *err);
void lb_source_close(struct lb_source *src);

/* One owner per target for a whole run (lb_claim.c; docs/usage.md,
 * "Locking").  exclusive (fix): flock LOCK_EX on an image file, which must
 * not be the backing file of a mounted or held loop device (idle ones are
 * opened O_EXCL for the run); O_EXCL on a block device (refused by the
 * kernel while it, a partition of it or its whole disk is mounted or held)
 * and, for a loop device, LOCK_EX on its backing file.  Shared (scan):
 * LOCK_SH on an image file (or a loop device's backing file); a block
 * device is read as it is.  Refusal: -1, LB_EK_REFUSED, the message naming
 * the holder (pid and command, mount point, holder device).  A path that
 * cannot be opened is not claimed and not an error (lb_source_open says
 * why).  A zeroed struct holds nothing; lb_source_release is idempotent. */
#define LB_CLAIM_MAXFD 8
struct lb_claim {
	int nfd;
	int fd[LB_CLAIM_MAXFD];
};

int lb_source_claim(const char *path, bool exclusive, struct lb_claim *c, struct lb_err *err);
void lb_source_release(struct lb_claim *c);

#endif
