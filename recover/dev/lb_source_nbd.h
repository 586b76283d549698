/* lb_source_nbd.h - inside the dev layer only: the NBD-backed source
 * (lb_source_nbd.c) that lb_source_open and lb_partition use.
 *
 * Disk images in a container format (qcow2, VHDX, VMDK, dynamic VHD, VDI,
 * QED, Parallels) are served by a private qemu-nbd, started per open over
 * a socket-activated unix socket (libnbd), with the format named
 * explicitly; NBD URIs (nbd://, nbd+unix://...) are connected to as they
 * are.  The source then reads and writes like any other lb_io. */
#ifndef LB_SOURCE_NBD_H
#define LB_SOURCE_NBD_H

#include <stdbool.h>

#include "lb_source.h"

/* Is path an NBD URI ("nbd://", "nbds://", "nbd+unix://", ...)? */
bool lb_nbd_is_uri(const char *path);

/* Open the image file at src->path (already opened as src->fd, which this
 * takes over and keeps for identity) through qemu-nbd -f fmt; read-only
 * unless writable.  src->path, src->file_size are set by the caller.  On
 * failure err names the format and QEMU's own message; src->fd is closed. */
int lb_nbd_open_file(struct lb_source *src, const char *fmt, bool writable, struct lb_err *err);

/* Connect to the export at uri (src->path). */
int lb_nbd_open_uri(struct lb_source *src, bool writable, struct lb_err *err);

/* Disconnect (after a flush when writable), wait for a private qemu-nbd
 * to exit (its image locks go with it), free.  NULL-safe on src->nbd. */
void lb_nbd_close(struct lb_source *src);

#endif
