/* lb_ntfs_priv.h - what the lb_ntfs*.c files share, private to the ntfs
 * layer (lb_ntfs.h is the interface).
 *
 *   lb_ntfs.c         mount and unmount, paths, lookup, readdir, reads, times
 *   lb_ntfs_device.c  the ntfs_device_operations that forward to an lb_io
 *   lb_ntfs_write.c   mkdir, create, overwrite, move (link + unlink), unlink
 *   lb_ntfs_state.c   hibernation, $LogFile restart pages, dirty flag, label
 *   lb_ntfs_names.c   hard links, streams, sparse layout; 8.3 short names
 *
 * The ntfs-3g headers rely on the system headers, so they come first. */
#ifndef LB_NTFS_PRIV_H
#define LB_NTFS_PRIV_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/index.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#include "lb_ntfs.h"

struct lb_ntfs {
	ntfs_volume *vol;
	struct lb_io *io;
	bool writable;
};

/* The device's private data: the lb_io and libntfs-3g's file position. */
struct lbn_devpriv {
	struct lb_io *io;
	s64 pos;
};

/* lb_ntfs_device.c: libntfs-3g's device operations on a struct lbn_devpriv. */
extern struct ntfs_device_operations lbn_dev_ops;

/* lb_ntfs.c: "\Windows\System32" -> "/Windows/System32" in buf (n bytes),
 * without a trailing separator except for the root; returns buf. */
const char *lbn_norm_path(const char *in, char *buf, size_t n);
/* The inode at path (any separators, case-insensitive), or NULL with errno. */
ntfs_inode *lbn_open_path(struct lb_ntfs *v, const char *path);
/* Splits path (normalised first) into its parent and last component;
 * -1 for the root or an empty path. */
int lbn_split_path(const char *path, char *parent, size_t pn, char *leaf, size_t ln);

#endif
