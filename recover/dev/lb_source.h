/* lb_source.h - the bottom layer: a disk image file, a block device or an
 * NBD export.
 *
 * Recognises a fixed VHD (a 512-byte "conectix" footer at the end, hidden
 * from the layers above).  Container formats, recognised by content
 * (dynamic VHD, VHDX, qcow2, VMDK, VDI, QED, Parallels), are read and
 * written in place through a private qemu-nbd and libnbd
 * (lb_source_nbd.c); so are NBD URIs (nbd://host:port/export,
 * nbd+unix:///export?socket=PATH). */
#ifndef LB_SOURCE_H
#define LB_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_io.h"

struct lb_nbd;

struct lb_source {
	struct lb_io *io;       /* whole disk (footer excluded) */
	int fd;                 /* for libblkid; owned.  For an NBD source a
	                         * sparse memfd holding only what
	                         * lb_source_prefetch copied: not the disk */
	char path[4096];        /* as given: a file, a device or a URI */
	bool is_block;          /* block device (vs regular file) */
	bool is_uri;            /* an NBD URI: no file, no flock, no identity */
	struct lb_nbd *nbd;     /* non-NULL: read and written over NBD; the
	                         * path's bytes are not the disk's (no
	                         * losetup, no dislocker on it) */
	const char *format;     /* "raw", "vhd" (fixed), a QEMU format name
	                         * ("qcow2", "vhdx", "vmdk", "vpc", "vdi",
	                         * "qed", "parallels", "qcow") or "nbd" */
	uint64_t file_size;     /* on-disk size including any footer or
	                         * container metadata (0 for a URI) */
};

/* Open path read-only or read-write: a URI over NBD, a container image
 * through qemu-nbd -f FORMAT (-r when read-only; a format QEMU cannot write
 * is refused with its name), anything else directly.  0, or -1 with err
 * set (LB_EK_INPUT: not a disk, unknown or unreadable format). */
int lb_source_open(const char *path, bool writable, struct lb_source *src, struct lb_err *err);
void lb_source_close(struct lb_source *src);

/* Make [off, off+len) of the disk readable through src->fd before libblkid
 * probes it there (clipped to the disk).  A no-op for a file or a device,
 * whose fd is the disk; for an NBD source it copies the bytes (again: they
 * may have been written since) into the memfd.  0, or -1 with err set. */
int lb_source_prefetch(struct lb_source *src, uint64_t off, uint64_t len, struct lb_err *err);

/* "block", "file" (an image, in any format) or "nbd" (a URI). */
const char *lb_source_type(const struct lb_source *src);

/* stat of the image file or device (for identity: device, inode); an NBD
 * source of an image gives the image file.  -1 for a URI. */
struct stat;
int lb_source_stat(const struct lb_source *src, struct stat *st);

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
