/* fuzz_partition.c - disk source and partition probing on hostile images:
 * lb_source_open (raw / fixed VHD / container refusal), lb_partition_scan
 * (libblkid: GPT, MBR with logical partitions, superblocks), then what the
 * engine does first with each partition: a window on it, its first sector,
 * and the BitLocker metadata probe for BitLocker volumes.  Input: a raw
 * image or the sparse encoding of fuzz_common.h. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "lb_bitlocker.h"
#include "lb_partition.h"
#include "lb_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct lb_source src;
	struct lb_disk disk;
	struct lb_err err;

	if (lbf_image(data, size, path) < 0)
		return 0;
	lb_err_clear(&err);
	if (lb_source_open(path, false, &src, &err))
		return 0;
	if (lb_partition_scan(&src, &disk, &err) == 0) {
		for (int i = 0; i < disk.nparts; i++) {
			const struct lb_part *p = &disk.parts[i];
			struct lb_io *win;
			uint8_t sector[512];

			if (p->truncated)
				continue;
			win = lb_io_window(src.io, p->offset, p->size, "part", &err);
			if (!win)
				continue;
			if (win->size >= sizeof(sector) &&
			    lb_io_pread(win, sector, sizeof(sector), 0, &err) == 0 &&
			    (lb_bitlocker_is_bitlocker(sector) ||
			     strcmp(p->fstype, "BitLocker") == 0)) {
				struct lb_bitlocker_info *bi = malloc(sizeof(*bi));

				if (bi) {
					lb_bitlocker_probe(win, bi, &err);
					free(bi);
				}
			}
			lb_io_close(win);
		}
		lb_partition_free(&disk);
	}
	lb_source_close(&src);
	return 0;
}
