/* lb_partition.h - partitions of a disk source, with libblkid.
 *
 * GPT and MBR (including logical partitions), 512 and 4096-byte sectors.
 * Each partition is classified by its superblock (ntfs, BitLocker, vfat…),
 * never by its type GUID: BitLocker keeps the basic-data type. */
#ifndef LB_PARTITION_H
#define LB_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_source.h"

struct lb_part {
	int number;            /* 1-based table entry; 1 for a bare volume (no table) */
	uint64_t offset;       /* bytes from the start of the disk */
	uint64_t size;         /* bytes */
	char fstype[32];       /* blkid TYPE: "ntfs", "BitLocker", "vfat", "" if unknown */
	char label[128];
	char uuid[64];
	char type[64];         /* GPT type GUID or MBR type "0x07" */
	bool truncated;        /* extends past the end of the source */
};

struct lb_disk {
	char pttype[8];        /* "gpt", "dos" or "" */
	unsigned sector_size;  /* logical sector size used for the table */
	int nparts;
	struct lb_part *parts;
};

int lb_partition_scan(struct lb_source *src, struct lb_disk *disk, struct lb_err *err);
void lb_partition_free(struct lb_disk *disk);

#endif
