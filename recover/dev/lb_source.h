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

#endif
