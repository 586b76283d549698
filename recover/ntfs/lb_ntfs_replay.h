/* lb_ntfs_replay.h - replaying an NTFS journal with ntfs-3g's ntfsrecover.
 *
 * libntfs-3g cannot replay $LogFile; ntfsrecover (same project) can, but
 * only on a device path.  This finds one for a partition: the partition
 * image itself, the kernel's partition node of a block device, or a loop
 * device over the image file (root only).  Volumes reached through another
 * layer (BitLocker) cannot be replayed this way. */
#ifndef LB_NTFS_REPLAY_H
#define LB_NTFS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"
#include "lb_source.h"

/* Runs `ntfsrecover` on the partition [offset, offset+size) of src (open
 * read-write).  out receives the tool's last lines of output.  Returns 0
 * when ntfsrecover succeeded. */
int lb_ntfs_replay_journal(struct lb_source *src, int partno, uint64_t offset, uint64_t size,
                           char *out, size_t outlen, struct lb_err *err);

#endif
