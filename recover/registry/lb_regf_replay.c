/* lb_regf_replay.c - transaction-log replay of a regf hive, in memory:
 * old-format (DIRT + bitmap) and new-format (HvLE) logs, and the Marvin32
 * hash the new format's entries carry.  Written from msuhanov's "Windows
 * registry file format specification"; every length and offset taken from
 * the input is checked before use. */
#include "lb_regf.h"
#include "lb_regf_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

#define LOG_SECTOR 512u
#define HVLE_HEADER 40u

/* Serial-number order on 32-bit sequence numbers (wrap-around safe). */
static bool seq_before(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

static uint32_t rotl32(uint32_t v, unsigned n)
{
	return (v << n) | (v >> (32 - n));
}

static void marvin_block(uint32_t *lo, uint32_t *hi)
{
	*hi ^= *lo;
	*lo = rotl32(*lo, 20);
	*lo += *hi;
	*hi = rotl32(*hi, 9);
	*hi ^= *lo;
	*lo = rotl32(*lo, 27);
	*lo += *hi;
	*hi = rotl32(*hi, 19);
}

uint64_t lb_marvin32(const uint8_t *data, size_t len, uint64_t seed)
{
	uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32), fin;
	size_t i = 0;

	for (; len - i >= 4; i += 4) {
		lo += lb_le32(data + i);
		marvin_block(&lo, &hi);
	}
	switch (len - i) {
	case 3: fin = 0x80000000u | (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 1] << 8 | data[i]; break;
	case 2: fin = 0x800000u | (uint32_t)data[i + 1] << 8 | data[i]; break;
	case 1: fin = 0x8000u | data[i]; break;
	default: fin = 0x80u; break;
	}
	lo += fin;
	marvin_block(&lo, &hi);
	marvin_block(&lo, &hi);
	return (uint64_t)hi << 32 | lo;
}

/* ---- replay ---------------------------------------------------------- */

struct work {
	uint8_t *buf;    /* 4096-byte base block + hive bins data */
	size_t cap;      /* allocated bytes */
	uint32_t hbins;  /* current hive bins data size */
};

/* Makes room for 4096 + hbins bytes (new space zeroed). */
static int work_grow(struct work *w, uint32_t hbins, struct lb_err *err)
{
	size_t need = (size_t)LB_REGF_BASE_SIZE + hbins;

	if (need > w->cap) {
		uint8_t *n = realloc(w->buf, need);

		if (!n)
			return lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory growing hive to %zu bytes",
			                  need);
		memset(n + w->cap, 0, need - w->cap);
		w->buf = n;
		w->cap = need;
	}
	w->hbins = hbins;
	return 0;
}

struct log {
	int index;            /* 1 or 2 */
	const uint8_t *d;
	size_t len;
	struct lb_regf_info bb;
	bool valid;
	char why[96];         /* why invalid */
	uint32_t first_seq;   /* new format: sequence number of the entry at 512 */
	bool has_entries;
};

/* Checks one HvLE entry at off; returns its size, or 0 if invalid (why set). */
static size_t hvle_check(const uint8_t *d, size_t len, size_t off, char *why, size_t whyn)
{
	const uint8_t *e;
	uint32_t size, hb, count;
	uint64_t refs_end, pages = 0;

	if (off > len || len - off < HVLE_HEADER) {
		snprintf(why, whyn, "end of log at 0x%zx", off);
		return 0;
	}
	e = d + off;
	if (memcmp(e, "HvLE", 4) != 0) {
		snprintf(why, whyn, "no HvLE entry at 0x%zx", off);
		return 0;
	}
	size = lb_le32(e + 4);
	hb = lb_le32(e + 16);
	count = lb_le32(e + 20);
	if (size < HVLE_HEADER || size % LOG_SECTOR || size > len - off) {
		snprintf(why, whyn, "log entry at 0x%zx: bad size 0x%x", off, size);
		return 0;
	}
	if (lb_marvin32(e + HVLE_HEADER, size - HVLE_HEADER, LB_REGF_MARVIN_SEED) != lb_le64(e + 24)) {
		snprintf(why, whyn, "log entry at 0x%zx: hash-1 mismatch", off);
		return 0;
	}
	if (lb_marvin32(e, 32, LB_REGF_MARVIN_SEED) != lb_le64(e + 32)) {
		snprintf(why, whyn, "log entry at 0x%zx: hash-2 mismatch", off);
		return 0;
	}
	if (hb == 0 || hb % LB_REGF_BIN_ALIGN || hb > LB_REGF_MAX_HBINS) {
		snprintf(why, whyn, "log entry at 0x%zx: bad hive bins data size 0x%x", off, hb);
		return 0;
	}
	refs_end = HVLE_HEADER + (uint64_t)count * 8;
	if (refs_end > size) {
		snprintf(why, whyn, "log entry at 0x%zx: %u page references overflow the entry", off,
		         count);
		return 0;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t po = lb_le32(e + HVLE_HEADER + 8 * i), ps = lb_le32(e + HVLE_HEADER + 8 * i + 4);

		if ((uint64_t)po + ps > hb) {
			snprintf(why, whyn, "log entry at 0x%zx: page 0x%x+0x%x beyond hive bins 0x%x",
			         off, po, ps, hb);
			return 0;
		}
		pages += ps;
	}
	if (refs_end + pages > size) {
		snprintf(why, whyn, "log entry at 0x%zx: pages overflow the entry", off);
		return 0;
	}
	return size;
}

/* Applies a checked HvLE entry to w. */
static int hvle_apply(struct work *w, const uint8_t *e, struct lb_regf_replay_info *info,
                      struct lb_err *err)
{
	uint32_t count = lb_le32(e + 20), hb = lb_le32(e + 16);
	const uint8_t *page = e + HVLE_HEADER + (size_t)count * 8;

	if (work_grow(w, hb, err))
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t po = lb_le32(e + HVLE_HEADER + 8 * i), ps = lb_le32(e + HVLE_HEADER + 8 * i + 4);

		memcpy(w->buf + LB_REGF_BASE_SIZE + po, page, ps);
		page += ps;
		info->pages++;
	}
	lb_put_le32(w->buf + 144, lb_le32(e + 8)); /* flags follow the entry */
	return 0;
}

static void log_inspect(struct log *l, int index, const uint8_t *d, size_t len)
{
	memset(l, 0, sizeof(*l));
	l->index = index;
	l->d = d;
	l->len = len;
	if (!d || !len) {
		snprintf(l->why, sizeof(l->why), "absent");
		return;
	}
	if (len < LOG_SECTOR || memcmp(d, "regf", 4) != 0) {
		snprintf(l->why, sizeof(l->why), "no regf base block");
		return;
	}
	lb_regf_fill_info(d, &l->bb);
	{
		struct lb_err e;

		if (lb_regf_check_header(d, len, &l->bb, &e)) {
			snprintf(l->why, sizeof(l->why), "%.90s", e.msg);
			return;
		}
	}
	if (l->bb.seq1 != l->bb.seq2) {
		snprintf(l->why, sizeof(l->why), "log base block sequence numbers differ (%u/%u)",
		         l->bb.seq1, l->bb.seq2);
		return;
	}
	if (l->bb.file_type != LB_REGF_TYPE_LOG_OLD && l->bb.file_type != LB_REGF_TYPE_LOG_VERYOLD &&
	    l->bb.file_type != LB_REGF_TYPE_LOG_NEW) {
		snprintf(l->why, sizeof(l->why), "file type %u is not a transaction log",
		         l->bb.file_type);
		return;
	}
	l->valid = true;
	if (l->bb.file_type == LB_REGF_TYPE_LOG_NEW) {
		char why[96];

		if (hvle_check(d, len, LOG_SECTOR, why, sizeof(why))) {
			l->has_entries = true;
			l->first_seq = lb_le32(d + LOG_SECTOR + 12);
		} else {
			snprintf(l->why, sizeof(l->why), "%s", why);
		}
	}
}

static int replay_new(struct work *w, struct log *logs, int nlogs, uint32_t expected,
                      struct lb_regf_replay_info *info, struct lb_err *err)
{
	struct log *order[2];
	int n = 0;
	bool started = false;
	uint32_t last = 0;

	for (int i = 0; i < nlogs; i++)
		if (logs[i].valid && logs[i].has_entries)
			order[n++] = &logs[i];
	if (n == 2 && seq_before(order[1]->first_seq, order[0]->first_seq)) {
		struct log *t = order[0];

		order[0] = order[1];
		order[1] = t;
	}
	snprintf(info->stop, sizeof(info->stop), "no log entries");
	for (int k = 0; k < n; k++) {
		struct log *l = order[k];
		size_t off = LOG_SECTOR, size;
		char why[96];

		while ((size = hvle_check(l->d, l->len, off, why, sizeof(why))) != 0) {
			const uint8_t *e = l->d + off;
			uint32_t seq = lb_le32(e + 12);

			if (!started) {
				if (seq_before(seq, expected)) { /* already in the primary */
					off += size;
					continue;
				}
				started = true;
				info->first_seq = seq;
				info->seq_gap = seq != expected;
			} else if (seq != last + 1) {
				snprintf(why, sizeof(why), "LOG%d entry at 0x%zx has sequence %u, expected %u",
				         l->index, off, seq, last + 1);
				break;
			}
			if (hvle_apply(w, e, info, err))
				return -1;
			if (info->order[0] != l->index && info->order[1] != l->index)
				info->order[info->order[0] ? 1 : 0] = l->index;
			info->entries[l->index - 1]++;
			last = seq;
			off += size;
		}
		snprintf(info->stop, sizeof(info->stop), "LOG%d: %s", l->index, why);
		/* the next log (if any) must continue at last + 1: checked above */
	}
	if (!started)
		return 1;
	info->seq_after = last;
	info->format = 2;
	return 0;
}

static int replay_old(struct work *w, struct log *logs, int nlogs, uint64_t stamp,
                      struct lb_regf_replay_info *info, struct lb_err *err)
{
	struct log *best = NULL;
	uint32_t hb, bits, bytes;
	size_t pages_off, k = 0;

	for (int i = 0; i < nlogs; i++) {
		struct log *l = &logs[i];

		if (!l->valid || l->bb.file_type == LB_REGF_TYPE_LOG_NEW)
			continue;
		if (l->bb.timestamp != stamp) {
			snprintf(l->why, sizeof(l->why), "timestamp differs from the primary's");
			continue;
		}
		if (!best || seq_before(best->bb.seq1, l->bb.seq1))
			best = l;
	}
	if (!best) {
		snprintf(info->stop, sizeof(info->stop), "no applicable old-format log");
		return 1;
	}
	hb = best->bb.hbins_size;
	bits = hb / LOG_SECTOR;
	bytes = (bits + 7) / 8;
	if (best->len < LOG_SECTOR + 4 || memcmp(best->d + LOG_SECTOR, "DIRT", 4) != 0 ||
	    best->len - LOG_SECTOR - 4 < bytes) {
		snprintf(info->stop, sizeof(info->stop), "LOG%d: no complete DIRT vector", best->index);
		return 1;
	}
	pages_off = LOG_SECTOR + ((4 + (size_t)bytes + LOG_SECTOR - 1) / LOG_SECTOR) * LOG_SECTOR;
	{
		/* a log whose header validated but lacks pages is damaged, not
		 * half-written (the header's sequence numbers are only made equal
		 * once all pages are out): apply nothing */
		const uint8_t *bm = best->d + LOG_SECTOR + 4;
		size_t dirty = 0;

		for (uint32_t bit = 0; bit < bits; bit++)
			dirty += (bm[bit / 8] >> (bit % 8)) & 1;
		if (pages_off > best->len || (best->len - pages_off) / LOG_SECTOR < dirty) {
			snprintf(info->stop, sizeof(info->stop),
			         "LOG%d truncated: %zu dirty pages announced, fewer present",
			         best->index, dirty);
			return 1;
		}
	}
	if (work_grow(w, hb > w->hbins ? hb : w->hbins, err))
		return -1;
	w->hbins = hb;
	snprintf(info->stop, sizeof(info->stop), "LOG%d: all dirty pages applied", best->index);
	for (uint32_t bit = 0; bit < bits; bit++) {
		const uint8_t *bm = best->d + LOG_SECTOR + 4;

		if (!(bm[bit / 8] & (1u << (bit % 8))))
			continue;
		memcpy(w->buf + LB_REGF_BASE_SIZE + (size_t)bit * LOG_SECTOR,
		       best->d + pages_off + k * LOG_SECTOR, LOG_SECTOR);
		k++;
		info->pages++;
	}
	info->entries[best->index - 1] = 1;
	info->order[0] = best->index;
	info->seq_after = best->bb.seq1;
	info->format = 1;
	return 0;
}

int lb_regf_replay(const uint8_t *hive, size_t len, const uint8_t *log1, size_t len1,
                   const uint8_t *log2, size_t len2, uint8_t **out, size_t *out_len,
                   struct lb_regf_replay_info *info, struct lb_err *err)
{
	struct lb_regf_replay_info tmpi;
	struct lb_regf_info pi;
	struct log logs[2];
	struct work w = { 0 };
	bool base_ok;
	uint64_t stamp;
	size_t copy;
	int rc;

	if (!info)
		info = &tmpi;
	memset(info, 0, sizeof(*info));
	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!out || !out_len)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "lb_regf_replay: no output pointer");
	if (!hive || len < LB_REGF_BASE_SIZE || memcmp(hive, "regf", 4) != 0)
		return lb_err_set(err, LB_EK_INPUT, 0, "primary hive has no regf base block");
	lb_regf_fill_info(hive, &pi);
	info->seq_before = pi.seq2;
	info->hbins_size_before = pi.hbins_size;
	if (!pi.dirty) {
		/* clean: the logs hold nothing to apply; return it as is */
		if (lb_regf_check(hive, len, NULL, err))
			return -1;
		if (!(*out = malloc(len)))
			return lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
		memcpy(*out, hive, len);
		*out_len = len;
		info->seq_after = pi.seq1;
		info->hbins_size_after = pi.hbins_size;
		snprintf(info->stop, sizeof(info->stop), "hive is clean");
		return 0;
	}
	info->was_dirty = true;
	log_inspect(&logs[0], 1, log1, len1);
	log_inspect(&logs[1], 2, log2, len2);

	base_ok = pi.checksum_ok;
	if (base_ok) {
		struct lb_err e2;

		/* everything but the sequence numbers must hold */
		if (lb_regf_check_header(hive, len, &pi, &e2) || pi.file_type != LB_REGF_TYPE_PRIMARY) {
			lb_err_set(err, LB_EK_INPUT, 0, "dirty hive with an unusable base block: %s",
			           pi.file_type != LB_REGF_TYPE_PRIMARY ? "not a primary file" : e2.msg);
			return -1;
		}
	}

	/* working copy: the whole primary (data past its hive bins size may
	 * already hold reconciled bins) */
	copy = len - LB_REGF_BASE_SIZE;
	if (copy > LB_REGF_MAX_HBINS)
		copy = LB_REGF_MAX_HBINS;
	copy -= copy % LB_REGF_BIN_ALIGN;
	w.cap = LB_REGF_BASE_SIZE + copy;
	if (!(w.buf = malloc(w.cap)))
		return lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
	memcpy(w.buf, hive, w.cap);

	if (!base_ok) {
		/* recover the base block from the log applied first */
		struct log *src = NULL;

		for (int i = 0; i < 2; i++) {
			struct log *l = &logs[i];

			if (!l->valid)
				continue;
			if (l->bb.file_type == LB_REGF_TYPE_LOG_NEW && !l->has_entries)
				continue;
			if (!src || (l->bb.file_type == LB_REGF_TYPE_LOG_NEW
			             ? seq_before(l->first_seq, src->first_seq)
			             : seq_before(src->bb.seq1, l->bb.seq1)))
				src = l;
		}
		if (!src) {
			free(w.buf);
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "base block checksum is wrong and no valid log to recover it from");
		}
		memset(w.buf, 0, LB_REGF_BASE_SIZE);
		memcpy(w.buf, src->d, LOG_SECTOR);
		lb_put_le32(w.buf + 28, LB_REGF_TYPE_PRIMARY);
		lb_regf_fill_info(w.buf, &pi);
		/* old format applies by timestamp: the primary's is unreliable,
		 * the first hive bin keeps a copy */
		if (len >= LB_REGF_BASE_SIZE + 32 && memcmp(hive + LB_REGF_BASE_SIZE, "hbin", 4) == 0)
			pi.timestamp = lb_le64(hive + LB_REGF_BASE_SIZE + 20);
		info->base_from_log = true;
		info->seq_before = pi.seq2;
		info->hbins_size_before = pi.hbins_size;
	}
	stamp = pi.timestamp;
	w.hbins = pi.hbins_size;
	if ((size_t)LB_REGF_BASE_SIZE + w.hbins > w.cap) {
		/* primary shorter than its own hive bins size: pad, the bin
		 * check below decides whether the logs filled the hole */
		uint32_t hb = w.hbins;

		w.hbins = 0;
		if (work_grow(&w, hb, err)) {
			free(w.buf);
			return -1;
		}
	}

	if ((logs[0].valid && logs[0].bb.file_type == LB_REGF_TYPE_LOG_NEW) ||
	    (logs[1].valid && logs[1].bb.file_type == LB_REGF_TYPE_LOG_NEW))
		rc = replay_new(&w, logs, 2, pi.seq2, info, err);
	else
		rc = replay_old(&w, logs, 2, stamp, info, err);
	if (rc < 0) {
		free(w.buf);
		return -1;
	}
	if (rc > 0) {
		free(w.buf);
		if (!logs[0].valid && !logs[1].valid)
			snprintf(info->stop, sizeof(info->stop), "LOG1 %.70s; LOG2 %.70s", logs[0].why,
			         logs[1].why);
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "hive is dirty (sequence %u/%u) and no transaction log applies: %s",
		                  pi.seq1, pi.seq2, info->stop);
	}

	/* finish the base block */
	lb_put_le32(w.buf + 4, info->seq_after);
	lb_put_le32(w.buf + 8, info->seq_after);
	lb_put_le32(w.buf + 28, LB_REGF_TYPE_PRIMARY);
	lb_put_le32(w.buf + 40, w.hbins);
	lb_put_le32(w.buf + 508, lb_regf_checksum(w.buf));
	info->hbins_size_after = w.hbins;
	*out_len = (size_t)LB_REGF_BASE_SIZE + w.hbins;
	if (lb_regf_check(w.buf, *out_len, NULL, err)) {
		free(w.buf);
		*out_len = 0;
		return lb_err_wrap(err, "replayed hive is inconsistent");
	}
	if (*out_len < w.cap) {
		uint8_t *s = realloc(w.buf, *out_len);

		if (s)
			w.buf = s;
	}
	*out = w.buf;
	return 0;
}
