/* lb_partition.c - partition discovery and superblock classification. */
#include "lb_partition.h"

#include <blkid.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

static void copy_tag(blkid_probe pr, const char *name, char *out, size_t n)
{
	const char *v = NULL;

	out[0] = '\0';
	if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v)
		snprintf(out, n, "%s", v);
}

/* ---- what libblkid will read, for an NBD source ----------------------
 * libblkid reads through src->fd only, which for an NBD source is a sparse
 * copy holding what lb_source_prefetch put there (lb_source.h).  These put
 * there what its probes read: the first and last MiB of the disk (MBR, GPT
 * and its backup), GPT entries elsewhere, the EBR chain of an MBR's
 * extended partitions; a volume's first MiB, its NTFS $MFT records 0-15
 * (the ntfs prober reads $Volume) and its BitLocker FVE metadata headers.
 * Anything else reads as zeros: nothing found there. */
#define PF_MIB (1u << 20)

static uint64_t pf_le(struct lb_source *src, uint64_t off, unsigned width)
{
	uint8_t b[8] = { 0 };
	struct lb_err e;

	if (lb_io_pread(src->io, b, width, off, &e))
		return 0;
	return width == 8 ? lb_le64(b) : width == 4 ? lb_le32(b) : width == 2 ? lb_le16(b) : b[0];
}

/* Logical partitions: the chain of EBRs from an extended partition at
 * ext (bytes), sectors of ss bytes. */
static void prefetch_ebrs(struct lb_source *src, uint64_t ext, unsigned ss)
{
	uint64_t cur = ext;
	struct lb_err err;

	for (int i = 0; i < 256 && cur < src->io->size; i++) {
		uint8_t t;

		if (lb_source_prefetch(src, cur, ss, &err))
			return;
		t = (uint8_t)pf_le(src, cur + 446 + 16 + 4, 1);
		if (t != 0x05 && t != 0x0f && t != 0x85)
			return;
		cur = ext + pf_le(src, cur + 446 + 16 + 8, 4) * ss;
	}
}

static int prefetch_table(struct lb_source *src, struct lb_err *err)
{
	uint64_t size = src->io->size;
	const unsigned sizes[] = { 512, 4096 };

	if (!src->nbd)
		return 0;
	if (lb_source_prefetch(src, 0, PF_MIB, err) ||
	    lb_source_prefetch(src, size > PF_MIB ? size - PF_MIB : 0, PF_MIB, err))
		return -1;
	for (size_t i = 0; i < 2; i++) {
		unsigned ss = sizes[i];
		uint64_t lba = pf_le(src, ss + 72, 8), n = pf_le(src, ss + 80, 4),
		         esz = pf_le(src, ss + 84, 4);

		if (pf_le(src, ss, 8) == 0x5452415020494645ULL && lba < size / ss && n * esz <= PF_MIB &&
		    lb_source_prefetch(src, lba * ss, n * esz, err))
			return -1;
		for (int k = 0; k < 4; k++) {
			uint64_t e = 446 + 16 * (uint64_t)k;
			uint8_t t = (uint8_t)pf_le(src, e + 4, 1);

			if (t == 0x05 || t == 0x0f || t == 0x85)
				prefetch_ebrs(src, pf_le(src, e + 8, 4) * ss, ss);
		}
	}
	return 0;
}

static void prefetch_volume(struct lb_source *src, const struct lb_part *p)
{
	uint64_t o = p->offset;
	struct lb_err e;
	uint8_t b[512];

	if (!src->nbd || lb_source_prefetch(src, o, p->size < PF_MIB ? p->size : PF_MIB, &e) ||
	    lb_io_pread(src->io, b, sizeof(b), o, &e))
		return;
	if (!memcmp(b + 3, "NTFS    ", 8)) {
		unsigned sh = 256u - b[13];
		uint64_t cluster = (uint64_t)lb_le16(b + 11) *
		                   (b[13] <= 0x80 ? b[13] : sh < 32 ? 1u << sh : 0);

		if (cluster && lb_le64(b + 48) < src->io->size / cluster)
			lb_source_prefetch(src, o + lb_le64(b + 48) * cluster, 16u * 4096, &e);
	} else if (!memcmp(b + 3, "-FVE-FS-", 8) || !memcmp(b + 3, "MSWIN4.1", 8)) {
		unsigned at = !memcmp(b + 3, "MSWIN4.1", 8) ? 0x1B8 : 0xB0;

		for (unsigned k = 0; k < 3; k++)
			lb_source_prefetch(src, o + lb_le64(b + at + 8 * k), 64u * 1024, &e);
	}
}

/* Superblock probe of [off, off+size) of the source.
 *
 * libblkid 2.38's "ocfs" (Oracle Cluster FS v1) prober copies an on-disk
 * 16-bit label length's worth of bytes from a 64-byte stack buffer: a
 * partition with "OracleCFS" at 8 KiB and a large length crashes the probe
 * (found by tests/fuzz/fuzz_partition; `blkid -p` segfaults on it too).  No
 * Windows disk holds OCFS1, so that prober is never run. */
static void classify(struct lb_source *src, struct lb_part *p)
{
	static char ocfs[] = "ocfs";
	char *skip[] = { ocfs, NULL };
	blkid_probe pr = blkid_new_probe();
	uint64_t avail;

	if (!pr)
		return;
	prefetch_volume(src, p);
	avail = p->offset < src->io->size ? src->io->size - p->offset : 0;
	if (blkid_probe_set_device(pr, src->fd, (blkid_loff_t)p->offset,
	                           (blkid_loff_t)(p->size < avail ? p->size : avail)) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL |
		                                  BLKID_SUBLKS_UUID);
		blkid_probe_filter_superblocks_type(pr, BLKID_FLTR_NOTIN, skip);
		blkid_probe_enable_partitions(pr, 0);
		if (blkid_do_safeprobe(pr) == 0) {
			copy_tag(pr, "TYPE", p->fstype, sizeof(p->fstype));
			copy_tag(pr, "LABEL", p->label, sizeof(p->label));
			copy_tag(pr, "UUID", p->uuid, sizeof(p->uuid));
		}
	}
	blkid_free_probe(pr);
}

/* The sector size of the GPT whose header is at LBA 1, or 0 when there is
 * none (MBR or nothing).  A block device's own logical sector size is the
 * only one to look at; an image file may have been written with either.
 *
 * Only a GPT header counts: a block device used to be taken as having one
 * whatever LBA 1 held, so a bare partition device (/dev/sda3, a loop
 * device over one partition) was refused with "GPT header present but its
 * partition table cannot be read". */
static unsigned table_sector_size(struct lb_source *src)
{
	char sig[8];
	struct lb_err e;
	const unsigned sizes[] = { 512, 4096 };

	for (size_t i = 0; i < 2; i++) {
		if (src->is_block && sizes[i] != src->io->sector_size)
			continue;
		if (src->io->size > sizes[i] + 8 &&
		    lb_io_pread(src->io, sig, 8, sizes[i], &e) == 0 && memcmp(sig, "EFI PART", 8) == 0)
			return sizes[i];
	}
	return 0;
}

/* A volume boot sector at offset 0 (NTFS, or BitLocker's "-FVE-FS-"): the
 * source is one bare volume whatever else libblkid might find in it (a
 * stale table signature, boot code that parses as MBR entries).  *need is
 * the size the NTFS boot sector gives the volume (total sectors; the backup
 * boot sector after them may be missing), 0 if unknown. */
static bool bare_volume(struct lb_source *src, uint64_t *need)
{
	uint8_t b[512];
	struct lb_err e;
	unsigned bps;

	*need = 0;
	if (lb_io_pread(src->io, b, sizeof(b), 0, &e) || b[510] != 0x55 || b[511] != 0xaa)
		return false;
	if (memcmp(b + 3, "-FVE-FS-", 8) == 0)
		return true;
	if (memcmp(b + 3, "NTFS    ", 8) != 0)
		return false;
	bps = lb_le16(b + 11);
	if (bps >= 256 && bps <= 4096 && !(bps & (bps - 1)) && lb_le64(b + 40) < (1ULL << 48))
		*need = lb_le64(b + 40) * bps;
	return true; /* a damaged one: NTFS says so */
}

static int probe_table(struct lb_source *src, unsigned ssz, struct lb_disk *disk,
                       struct lb_err *err)
{
	blkid_probe pr = blkid_new_probe();
	blkid_partlist ls;
	const char *pt = NULL;
	int n;

	if (!pr)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: blkid", src->path);
	if (prefetch_table(src, err)) {
		blkid_free_probe(pr);
		return -1;
	}
	if (blkid_probe_set_device(pr, src->fd, 0, (blkid_loff_t)src->io->size) != 0) {
		blkid_free_probe(pr);
		return lb_err_set(err, LB_EK_IO, errno, "%s: blkid cannot probe", src->path);
	}
	blkid_probe_set_sectorsize(pr, ssz);
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	ls = blkid_probe_get_partitions(pr);
	disk->nparts = 0;
	disk->pttype[0] = '\0';
	if (!ls) {
		blkid_free_probe(pr);
		return 0;
	}
	if (blkid_partlist_get_table(ls))
		pt = blkid_parttable_get_type(blkid_partlist_get_table(ls));
	snprintf(disk->pttype, sizeof(disk->pttype), "%s", pt ? pt : "");
	n = blkid_partlist_numof_partitions(ls);
	if (n > 0) {
		disk->parts = calloc((size_t)n, sizeof(*disk->parts));
		if (!disk->parts) {
			blkid_free_probe(pr);
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", src->path);
		}
	}
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		struct lb_part *p;
		const char *t;

		/* Skip extended-partition containers; logical ones follow. */
		if (blkid_partition_is_extended(par))
			continue;
		p = &disk->parts[disk->nparts++];
		p->number = blkid_partition_get_partno(par);
		/* libblkid reports start/size in 512-byte units whatever the
		 * logical sector size. */
		p->offset = (uint64_t)blkid_partition_get_start(par) * 512;
		p->size = (uint64_t)blkid_partition_get_size(par) * 512;
		t = blkid_partition_get_type_string(par);
		if (t)
			snprintf(p->type, sizeof(p->type), "%s", t);
		else
			snprintf(p->type, sizeof(p->type), "0x%02x", blkid_partition_get_type(par));
	}
	blkid_free_probe(pr);
	disk->sector_size = ssz;
	return 0;
}

int lb_partition_scan(struct lb_source *src, struct lb_disk *disk, struct lb_err *err)
{
	unsigned ssz = table_sector_size(src);
	uint64_t need;
	bool bare = bare_volume(src, &need);

	memset(disk, 0, sizeof(*disk));
	if (bare) {
		ssz = 0; /* one volume, no table: below */
	} else if (probe_table(src, ssz ? ssz : 512, disk, err)) {
		return -1;
	}
	/* An MBR written for 4096-byte sectors looks like one for 512-byte
	 * sectors with every start 8 times too small: if no partition carries
	 * a superblock at 512-byte scaling, try 4096. */
	if (!ssz && strcmp(disk->pttype, "dos") == 0 && disk->nparts > 0) {
		bool any = false;

		for (int i = 0; i < disk->nparts; i++) {
			classify(src, &disk->parts[i]);
			any |= disk->parts[i].fstype[0] != '\0';
		}
		if (!any) {
			struct lb_disk d4;

			memset(&d4, 0, sizeof(d4));
			if (probe_table(src, 4096, &d4, err) == 0 && d4.nparts > 0) {
				bool any4 = false;

				for (int i = 0; i < d4.nparts; i++) {
					classify(src, &d4.parts[i]);
					any4 |= d4.parts[i].fstype[0] != '\0';
				}
				if (any4) {
					lb_partition_free(disk);
					*disk = d4;
				} else {
					lb_partition_free(&d4);
				}
			} else {
				/* no table, or only extended containers (parts
				 * allocated, none kept) */
				lb_partition_free(&d4);
			}
			lb_err_clear(err);
		}
	}
	if (disk->nparts == 0 && ssz) {
		/* A GPT header libblkid would not accept: say why rather than
		 * treating the disk as unpartitioned. */
		uint8_t h[92];
		uint64_t last = 0;

		if (lb_io_pread(src->io, h, sizeof(h), ssz, err) == 0)
			last = lb_le64(h + 48);   /* last usable LBA */
		if (last && (last + 1) * ssz > src->io->size)
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: GPT describes %llu bytes but the image "
			                  "has %llu: truncated image?", src->path,
			                  (unsigned long long)((last + 1) * ssz),
			                  (unsigned long long)src->io->size);
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: GPT header present but its partition "
		                  "table cannot be read (damaged?)", src->path);
	}
	if (disk->nparts == 0) {
		/* No table: a partition image or a superfloppy. */
		free(disk->parts);
		disk->parts = calloc(1, sizeof(*disk->parts));
		if (!disk->parts)
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", src->path);
		disk->nparts = 1;
		/* partition 1, as docs/report-format.md says.  It was 0: bundles
		 * made then still undo (undo finds a volume by its offset and
		 * NTFS serial, never by its number; tests/shell/identity.sh) */
		disk->parts[0].number = 1;
		disk->parts[0].offset = 0;
		disk->parts[0].size = src->io->size;
		/* an NTFS cut short: its boot sector says how big it is */
		if (need > src->io->size)
			disk->parts[0].size = need;
		disk->pttype[0] = '\0';
		disk->sector_size = src->io->sector_size;
	}
	for (int i = 0; i < disk->nparts; i++) {
		struct lb_part *p = &disk->parts[i];

		p->truncated = p->offset > src->io->size || p->size > src->io->size - p->offset;
		if (!p->fstype[0])
			classify(src, p);
	}
	return 0;
}

void lb_partition_free(struct lb_disk *disk)
{
	free(disk->parts);
	disk->parts = NULL;
	disk->nparts = 0;
}
