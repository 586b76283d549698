/* lb_ntfs_mirror.c - $MFTMirr check and repair, below libntfs-3g.
 *
 * NTFS keeps a copy of the first MFT records ($MFT, $MFTMirr, $LogFile,
 * $Volume; more if a cluster holds more) in $MFTMirr.  When an MFT grows,
 * record 0 is rewritten and then copied to the mirror; a power cut between
 * the two writes leaves a mirror older than $MFT, and libntfs-3g refuses the
 * volume ("$MFTMirr does not match $MFT") even read-only.  Windows' chkdsk
 * and ntfsfix then copy $MFT over the mirror.
 *
 * Here, straight on the lb_io (no libntfs-3g): compare the records the way
 * libntfs-3g does (after the update-sequence fixups, over the bytes in use
 * of the $MFT record), and when they differ and every differing $MFT record
 * is itself sound, the mirror is "stale" and can be rewritten from $MFT.
 * Anything else is "damaged" and left alone. */
#include "lb_ntfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

/* Applies the update-sequence fixups of one record in place.  Returns 0 if
 * the header is sane and every sector ends with the sequence number. */
static int fixup(uint8_t *rec, uint32_t size)
{
	uint16_t usa_ofs = lb_le16(rec + 4), usa_cnt = lb_le16(rec + 6);

	if (usa_cnt != size / 512 + 1 || usa_ofs & 1 || (uint32_t)usa_ofs + 2u * usa_cnt > size)
		return -1;
	for (uint16_t i = 1; i < usa_cnt; i++) {
		uint8_t *end = rec + i * 512 - 2;

		if (memcmp(end, rec + usa_ofs, 2))
			return -1;
		memcpy(end, rec + usa_ofs + 2 * i, 2);
	}
	return 0;
}

/* Is this fixed-up $MFT record i something to trust over its mirror? */
static const char *record_unsound(const uint8_t *rec, uint32_t size, unsigned i)
{
	uint32_t used = lb_le32(rec + 0x18), alloc = lb_le32(rec + 0x1C), a = lb_le16(rec + 0x14);

	if (memcmp(rec, "FILE", 4))
		return "no FILE signature";
	if (!(lb_le16(rec + 0x16) & 1))
		return "not in use";
	if (alloc != size || used > size || a < 0x30 || a >= used)
		return "header sizes out of range";
	if (lb_le16(rec + 4) >= 0x30 && lb_le32(rec + 0x2C) != i)
		return "record number does not match its place";
	while (a + 8 <= used) {
		uint32_t type = lb_le32(rec + a), len = lb_le32(rec + a + 4);

		if (type == 0xFFFFFFFFu)
			return NULL;
		if (len < 16 || len & 7 || len > used - a) /* no wrap-around */
			return "attribute list runs past the record";
		a += len;
	}
	return "no end-of-attributes marker";
}

void lb_mftmirr_free(struct lb_mftmirr *m)
{
	free(m->mft);
	free(m->mirror);
	memset(m, 0, sizeof(*m));
}

int lb_mftmirr_check(struct lb_io *io, struct lb_mftmirr *m, struct lb_err *err)
{
	uint8_t bs[512], *a = NULL, *b = NULL;
	uint32_t bps, spc, cluster, rs;
	int8_t cpr;
	uint64_t mft_off, mirr_off, span;

	memset(m, 0, sizeof(*m));
	if (lb_io_pread(io, bs, sizeof(bs), 0, err))
		return -1;
	if (memcmp(bs + 3, "NTFS    ", 8))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: not an NTFS boot sector", io->name);
	bps = lb_le16(bs + 0x0B);
	/* > 0x80: a power of two, 2^(256 - value); beyond 2^12 is no volume */
	spc = bs[0x0D] <= 0x80 ? bs[0x0D] : bs[0x0D] >= 256 - 12 ? 1u << (256 - bs[0x0D]) : 0;
	cpr = (int8_t)bs[0x40];
	if (bps < 256 || bps > 4096 || bps & (bps - 1) || !spc || spc & (spc - 1) ||
	    (uint64_t)bps * spc > (1u << 21))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: NTFS boot sector geometry out of range",
		                  io->name);
	cluster = bps * spc;
	if (cpr > 0 && cpr <= 64)
		rs = (uint32_t)cpr * cluster;
	else if (cpr < 0 && cpr >= -31)
		rs = 1u << -cpr;
	else
		rs = 0;
	if (rs < 512 || rs > 65536 || rs & (rs - 1))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: MFT record size out of range", io->name);
	m->record_size = rs;
	m->nrecords = cluster <= 4 * rs ? 4 : cluster / rs;
	if (m->nrecords > 32)
		m->nrecords = 32;
	span = (uint64_t)m->nrecords * rs;
	if (lb_le64(bs + 0x30) > io->size / cluster || lb_le64(bs + 0x38) > io->size / cluster)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: $MFT or $MFTMirr lies past the volume",
		                  io->name);
	mft_off = lb_le64(bs + 0x30) * cluster;
	mirr_off = lb_le64(bs + 0x38) * cluster;
	if (mft_off + span > io->size || mirr_off + span > io->size)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: $MFT or $MFTMirr lies past the volume",
		                  io->name);
	m->mft_off = mft_off;
	m->mirror_off = mirr_off;
	m->mft = malloc(span);
	m->mirror = malloc(span);
	a = malloc(span);
	b = malloc(span);
	if (!m->mft || !m->mirror || !a || !b) {
		free(a);
		free(b);
		lb_mftmirr_free(m);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: $MFTMirr check", io->name);
	}
	if (lb_io_pread(io, m->mft, span, mft_off, err) ||
	    lb_io_pread(io, m->mirror, span, mirr_off, err)) {
		free(a);
		free(b);
		lb_mftmirr_free(m);
		return -1;
	}
	memcpy(a, m->mft, span);
	memcpy(b, m->mirror, span);
	m->state = LB_MIRR_OK;
	for (unsigned i = 0; i < m->nrecords; i++) {
		uint8_t *ra = a + (size_t)i * rs, *rb = b + (size_t)i * rs;
		const char *why;
		uint32_t used;

		/* libntfs-3g compares only records $MFT holds a FILE record in,
		 * over that record's bytes in use */
		if (memcmp(m->mft + (size_t)i * rs, "FILE", 4))
			continue;
		if (fixup(ra, rs)) {
			m->state = LB_MIRR_DAMAGED;
			snprintf(m->why, sizeof(m->why), "$MFT record %u fails its update-sequence check", i);
			break;
		}
		used = lb_le32(ra + 0x18);
		if (used > rs)
			used = rs;
		(void)fixup(rb, rs); /* a torn mirror record simply differs */
		if (!memcmp(ra, rb, used))
			continue;
		why = record_unsound(ra, rs, i);
		if (why) {
			m->state = LB_MIRR_DAMAGED;
			snprintf(m->why, sizeof(m->why), "$MFT record %u differs from $MFTMirr and is "
			         "itself unsound (%s)", i, why);
			break;
		}
		m->stale |= 1u << i;
		m->state = LB_MIRR_STALE;
	}
	free(a);
	free(b);
	if (m->state == LB_MIRR_STALE) {
		int k = 0;

		k += snprintf(m->why, sizeof(m->why), "$MFTMirr record");
		for (unsigned i = 0; i < m->nrecords && k < (int)sizeof(m->why) - 8; i++)
			if (m->stale & 1u << i)
				k += snprintf(m->why + k, sizeof(m->why) - (size_t)k, " %u", i);
		snprintf(m->why + k, sizeof(m->why) - (size_t)k, " older than $MFT");
	}
	return 0;
}

int lb_mftmirr_repair(struct lb_io *io, const struct lb_mftmirr *m, struct lb_err *err)
{
	struct lb_mftmirr now;
	size_t span = (size_t)m->nrecords * m->record_size;

	if (m->state != LB_MIRR_STALE)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "%s: $MFTMirr repair without a stale mirror",
		                  io->name);
	/* only what was planned from: both copies unchanged since */
	if (lb_mftmirr_check(io, &now, err))
		return -1;
	if (now.state != LB_MIRR_STALE || now.mirror_off != m->mirror_off ||
	    now.nrecords != m->nrecords || memcmp(now.mft, m->mft, span) ||
	    memcmp(now.mirror, m->mirror, span)) {
		lb_mftmirr_free(&now);
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s: $MFT or $MFTMirr changed since the scan; "
		                  "not touched", io->name);
	}
	lb_mftmirr_free(&now);
	for (unsigned i = 0; i < m->nrecords; i++) {
		size_t o = (size_t)i * m->record_size;

		if (!(m->stale & 1u << i))
			continue;
		if (lb_io_pwrite(io, m->mft + o, m->record_size, m->mirror_off + o, err))
			return -1;
	}
	return lb_io_sync(io, err);
}

struct lb_io *lb_mftmirr_view(struct lb_io *win, struct lb_mftmirr *m)
{
	struct lb_err err;
	struct lb_io *view;

	lb_err_clear(&err);
	if (lb_mftmirr_check(win, m, &err) || m->state != LB_MIRR_STALE)
		return NULL; /* unreadable or damaged: the mount says why */
	view = lb_io_patched(win, m->mirror_off, m->mft, (size_t)m->nrecords * m->record_size, &err);
	if (!view)
		lb_mftmirr_free(m);
	return view;
}
