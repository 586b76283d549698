/* lb_ntfs_state.c - the volume state Windows left, read without writing:
 * hibernation (hiberfil.sys), the $LogFile restart pages (parsed here
 * because libntfs-3g only checks them on read-write mounts), the dirty
 * flag, label, serial and geometry. */
#include <stdio.h>
#include <string.h>

#include "lb_bytes.h"
#include "lb_ntfs_priv.h"

/* Reads both restart pages of $LogFile and uses the newer one. */
static void journal_state(struct lb_ntfs *v, struct lb_ntfs_state *st)
{
	ntfs_inode *ni = ntfs_inode_open(v->vol, FILE_LogFile);
	ntfs_attr *na;
	uint8_t pg[2][4096];
	int best = -1;
	uint64_t best_lsn = 0;
	uint32_t psz = 4096;

	st->journal_known = false;
	if (!ni)
		return;
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		ntfs_inode_close(ni);
		return;
	}
	if (ntfs_attr_pread(na, 0, 4096, pg[0]) != 4096) {
		ntfs_attr_close(na);
		ntfs_inode_close(ni);
		return;
	}
	if (memcmp(pg[0], "RSTR", 4) == 0 || memcmp(pg[0], "CHKD", 4) == 0) {
		psz = lb_le32(pg[0] + 16);
		if (psz < 512 || psz > 4096 || (psz & (psz - 1)))
			psz = 4096;
	}
	if (ntfs_attr_pread(na, psz, 4096, pg[1]) != 4096)
		memset(pg[1], 0xff, sizeof(pg[1]));
	ntfs_attr_close(na);
	ntfs_inode_close(ni);

	st->journal_known = true;
	for (int i = 0; i < 2; i++) {
		uint16_t ra_off;

		if (memcmp(pg[i], "RSTR", 4) != 0)
			continue;
		ra_off = lb_le16(pg[i] + 0x18);
		if (ra_off < 0x1e || ra_off > 4096 - 0x30)
			continue;
		if (best < 0 || lb_le64(pg[i] + ra_off) > best_lsn) {
			best = i;
			best_lsn = lb_le64(pg[i] + ra_off);
		}
	}
	if (best < 0) {
		bool empty = true;

		for (size_t i = 0; i < sizeof(pg[0]); i++)
			if (pg[0][i] != 0xff) {
				empty = false;
				break;
			}
		/* All 0xFF: reset/empty log, clean.  Anything else without a
		 * valid restart page: unknown, treat as not clean. */
		st->journal_clean = empty;
		st->journal_known = empty;
		st->journal_version[0] = '\0';
		return;
	} else {
		const uint8_t *p = pg[best];
		uint16_t ra_off = lb_le16(p + 0x18);
		const uint8_t *ra = p + ra_off;
		uint16_t in_use = lb_le16(ra + 0x0c), rflags = lb_le16(ra + 0x0e);

		snprintf(st->journal_version, sizeof(st->journal_version), "%u.%u",
		         (unsigned)(lb_le16(p + 0x1c) & 0xff), (unsigned)(lb_le16(p + 0x1a) & 0xff));
		st->journal_clean = in_use == 0xffff || (rflags & 0x0002);
	}
}

static void hiber_state(struct lb_ntfs *v, struct lb_ntfs_state *st)
{
	char magic[4];
	struct lb_err e;

	st->hibernated = false;
	st->hiber_magic[0] = '\0';
	if (lb_ntfs_pread(v, "\\hiberfil.sys", magic, 4, 0, &e) == 4) {
		memcpy(st->hiber_magic, magic, 4);
		for (int i = 0; i < 4; i++)
			if (st->hiber_magic[i] < 0x20 || st->hiber_magic[i] > 0x7e)
				st->hiber_magic[i] = '.';
		st->hiber_magic[4] = '\0';
		st->hibernated = memcmp(magic, "hibr", 4) == 0 || memcmp(magic, "HIBR", 4) == 0;
	}
}

int lb_ntfs_state(struct lb_ntfs *v, struct lb_ntfs_state *st, struct lb_err *err)
{
	ntfs_volume *vol = v->vol;
	char *label = NULL;

	(void)err;
	memset(st, 0, sizeof(*st));
	st->dirty = (le16_to_cpu(vol->flags) & le16_to_cpu(VOLUME_IS_DIRTY)) != 0;
	st->cluster_size = vol->cluster_size;
	st->sector_size = vol->sector_size;
	snprintf(st->ntfs_version, sizeof(st->ntfs_version), "%u.%u", vol->major_ver, vol->minor_ver);
	if (vol->vol_name) {
		label = vol->vol_name;
		snprintf(st->label, sizeof(st->label), "%s", label);
	}
	st->serial = 0;
	{
		uint8_t bs[512];
		struct lb_err e;

		if (lb_io_pread(v->io, bs, sizeof(bs), 0, &e) == 0)
			st->serial = lb_le64(bs + 0x48);
	}
	journal_state(v, st);
	hiber_state(v, st);
	return 0;
}
