/* lb_regf.c - regf base block checks, dirty detection, transaction-log
 * replay (old DIRT format and new HvLE format).  Written from the format
 * description in msuhanov's "Windows registry file format specification";
 * every length and offset taken from the input is checked before use. */
#include "lb_regf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

/* Largest hive bins data we accept (the kernel's own limit is 2 GiB; real
 * SYSTEM/SOFTWARE hives are well below 1 GiB).  Bounds allocations made on
 * behalf of hostile input. */
#define LB_REGF_MAX_HBINS (1024u * 1024u * 1024u)
#define LOG_SECTOR 512u
#define HVLE_HEADER 40u

/* Serial-number order on 32-bit sequence numbers (wrap-around safe). */
static bool seq_before(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(b - a) < 0x80000000u;
}

uint32_t lb_regf_checksum(const uint8_t *base)
{
	uint32_t c = 0;

	for (size_t i = 0; i < 508; i += 4)
		c ^= lb_le32(base + i);
	if (c == 0xFFFFFFFFu)
		c = 0xFFFFFFFEu;
	else if (c == 0)
		c = 1;
	return c;
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

static void fill_info(const uint8_t *b, struct lb_regf_info *info)
{
	memset(info, 0, sizeof(*info));
	info->seq1 = lb_le32(b + 4);
	info->seq2 = lb_le32(b + 8);
	info->timestamp = lb_le64(b + 12);
	info->major = lb_le32(b + 20);
	info->minor = lb_le32(b + 24);
	info->file_type = lb_le32(b + 28);
	info->file_format = lb_le32(b + 32);
	info->root_offset = lb_le32(b + 36);
	info->hbins_size = lb_le32(b + 40);
	info->clustering = lb_le32(b + 44);
	info->flags = lb_le32(b + 144);
	info->checksum = lb_le32(b + 508);
	info->checksum_ok = lb_regf_checksum(b) == info->checksum;
	info->dirty = !info->checksum_ok || info->seq1 != info->seq2;
	for (size_t i = 0; i < 32; i++) {
		uint16_t c = lb_le16(b + 48 + 2 * i);

		if (!c)
			break;
		info->name[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
	}
}

/* Fields common to primary files and logs; file type checked by callers. */
static int check_header(const uint8_t *b, size_t len, const struct lb_regf_info *in,
                        struct lb_err *err)
{
	if (!in->checksum_ok)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "base block checksum 0x%08x does not match computed 0x%08x",
		                  in->checksum, lb_regf_checksum(b));
	if (in->major != 1 || in->minor < 1 || in->minor > 6)
		return lb_err_set(err, LB_EK_INPUT, 0, "unsupported regf version %u.%u",
		                  in->major, in->minor);
	if (in->file_format != 1)
		return lb_err_set(err, LB_EK_INPUT, 0, "unsupported regf file format %u",
		                  in->file_format);
	if (in->hbins_size == 0 || in->hbins_size % LB_REGF_BIN_ALIGN ||
	    in->hbins_size > LB_REGF_MAX_HBINS)
		return lb_err_set(err, LB_EK_INPUT, 0, "bad hive bins data size 0x%x",
		                  in->hbins_size);
	(void)len;
	return 0;
}

int lb_regf_parse_head(const uint8_t *buf, uint64_t len, struct lb_regf_info *info,
                       struct lb_err *err)
{
	struct lb_regf_info tmp;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	if (!buf || len < LB_REGF_BASE_SIZE)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "hive is %llu bytes, shorter than its 4096-byte base block",
		                  (unsigned long long)len);
	if (memcmp(buf, "regf", 4) != 0)
		return lb_err_set(err, LB_EK_INPUT, 0, "no regf signature: not a registry hive");
	fill_info(buf, info);
	if (check_header(buf, (size_t)len, info, err))
		return -1;
	if (info->file_type != LB_REGF_TYPE_PRIMARY)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "file type %u: a transaction log, not a primary hive file",
		                  info->file_type);
	if ((uint64_t)LB_REGF_BASE_SIZE + info->hbins_size > len)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "hive truncated: hive bins data size 0x%x needs %llu bytes, file has %llu",
		                  info->hbins_size,
		                  (unsigned long long)LB_REGF_BASE_SIZE + info->hbins_size,
		                  (unsigned long long)len);
	if (info->root_offset < 32 || info->root_offset >= info->hbins_size)
		return lb_err_set(err, LB_EK_INPUT, 0, "root cell offset 0x%x outside the hive bins",
		                  info->root_offset);
	return 0;
}

int lb_regf_parse_base(const uint8_t *buf, size_t len, struct lb_regf_info *info,
                       struct lb_err *err)
{
	return lb_regf_parse_head(len >= LB_REGF_BASE_SIZE ? buf : NULL, len, info, err);
}

/* Where the bin walk gets its bytes: a hive in memory, or a file read
 * through a callback in bounded windows (lb_regf_check_stream).  get
 * returns n (at most 32) bytes at file offset off, which the walk has
 * already checked to lie below the end of the hive bins; NULL on a read
 * error (err set). */
struct bin_src {
	const uint8_t *(*get)(struct bin_src *s, uint64_t off, size_t n, struct lb_err *err);
	const uint8_t *mem;      /* in memory: the whole file */
	lb_regf_read_fn rd;      /* streamed: the file, and a window of it */
	void *ctx;
	uint8_t *win;
	size_t wcap, wlen;
	uint64_t woff, end;
	uint8_t *starts;         /* optional: bit (off - 4096) / 8 set for each allocated cell */
};

static const uint8_t *mem_get(struct bin_src *s, uint64_t off, size_t n, struct lb_err *err)
{
	(void)n;
	(void)err;
	return s->mem + off;
}

/* Sequential reads: the walk only moves forward, so a window refilled at
 * the first byte it lacks reads every byte it needs at most once (and
 * skips the inside of large cells). */
static const uint8_t *win_get(struct bin_src *s, uint64_t off, size_t n, struct lb_err *err)
{
	if (off >= s->woff && off + n <= s->woff + s->wlen)
		return s->win + (off - s->woff);
	if (off > s->end || s->end - off < n) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "hive bin walk read past the hive bins");
		return NULL;
	}
	s->woff = off;
	s->wlen = s->end - off < s->wcap ? (size_t)(s->end - off) : s->wcap;
	if (s->rd(s->ctx, s->win, s->wlen, off, err)) {
		s->wlen = 0;
		return NULL;
	}
	return s->win;
}

/* Walks the cells of the bin at off (size bytes): each cell's size field
 * (negative = allocated) has an absolute value of at least 8, a multiple of
 * 8 (the spec's cell alignment; every Windows-made hive we have obeys it),
 * and the cells exactly fill the bin.  *root_ok is set when the cell at
 * file offset root starts here and is an allocated key node. */
static int check_cells(struct bin_src *s, uint64_t off, uint32_t size, uint64_t root,
                       bool *root_ok, struct lb_err *err)
{
	uint64_t c = off + 32, end = off + size;

	while (c < end) {
		const uint8_t *p = s->get(s, c, end - c < 8 ? (size_t)(end - c) : 8, err);
		int32_t raw;
		uint64_t abs_size;

		if (!p)
			return -1;
		raw = (int32_t)lb_le32(p);
		abs_size = raw < 0 ? (uint64_t)-(int64_t)raw : (uint64_t)raw;
		if (end - c < 8 || abs_size < 8 || abs_size % 8 || abs_size > end - c)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "cell at file offset 0x%llx (hive bin at 0x%llx) has bad size "
			                  "%d (hive damaged)",
			                  (unsigned long long)c, (unsigned long long)off, raw);
		if (c == root)
			*root_ok = raw < 0 && memcmp(p + 4, "nk", 2) == 0;
		if (s->starts && raw < 0) {
			uint64_t bit = (c - LB_REGF_BASE_SIZE) / 8;

			s->starts[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
		c += abs_size;
	}
	return 0;
}

/* The bin chain up to end (= 4096 + hive bins data size, within the
 * file), and the cells of every bin; root is the file offset of the root
 * cell (0: not checked). */
static int check_bins(struct bin_src *s, uint64_t end, uint64_t root, struct lb_err *err)
{
	uint64_t off = LB_REGF_BASE_SIZE;
	bool root_ok = false;

	while (off < end) {
		const uint8_t *p;
		uint32_t rel, size;

		if (end - off < 32)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "no hive bin at file offset 0x%llx (hive damaged)",
			                  (unsigned long long)off);
		if (!(p = s->get(s, off, 32, err)))
			return -1;
		if (memcmp(p, "hbin", 4) != 0)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "no hive bin at file offset 0x%llx (hive damaged)",
			                  (unsigned long long)off);
		rel = lb_le32(p + 4);
		size = lb_le32(p + 8);
		if (rel != off - LB_REGF_BASE_SIZE)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "hive bin at file offset 0x%llx claims offset 0x%x",
			                  (unsigned long long)off, rel);
		if (size == 0 || size % LB_REGF_BIN_ALIGN || size > end - off)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "hive bin at file offset 0x%llx has bad size 0x%x",
			                  (unsigned long long)off, size);
		if (check_cells(s, off, size, root, &root_ok, err))
			return -1;
		off += size;
	}
	if (root && !root_ok)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "root cell at file offset 0x%llx is not an allocated key node "
		                  "(hive damaged)", (unsigned long long)root);
	return 0;
}

static int check_mem(const uint8_t *buf, size_t len, uint32_t hbins_size, uint64_t root,
                     struct lb_err *err)
{
	struct bin_src s = { .get = mem_get, .mem = buf };
	uint64_t end = (uint64_t)LB_REGF_BASE_SIZE + hbins_size;

	if (!buf || end > len)
		return lb_err_set(err, LB_EK_INPUT, 0, "hive bins run past the end of the file");
	return check_bins(&s, end, root, err);
}

int lb_regf_check_bins(const uint8_t *buf, size_t len, uint32_t hbins_size, struct lb_err *err)
{
	return check_mem(buf, len, hbins_size, 0, err);
}

int lb_regf_check(const uint8_t *buf, size_t len, struct lb_regf_info *info,
                  struct lb_err *err)
{
	struct lb_regf_info tmp;

	if (!info)
		info = &tmp;
	if (lb_regf_parse_base(buf, len, info, err))
		return -1;
	return check_mem(buf, len, info->hbins_size,
	                 (uint64_t)LB_REGF_BASE_SIZE + info->root_offset, err);
}

int lb_regf_check_stream(lb_regf_read_fn rd, void *ctx, uint64_t file_len,
                         struct lb_regf_info *info, uint8_t **starts, struct lb_err *err)
{
	struct lb_regf_info tmp;
	uint8_t base[LB_REGF_BASE_SIZE];
	struct bin_src s = { .get = win_get, .rd = rd, .ctx = ctx };
	int rc;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	if (starts)
		*starts = NULL;
	if (file_len >= LB_REGF_BASE_SIZE && rd(ctx, base, sizeof(base), 0, err))
		return -1;
	if (lb_regf_parse_head(file_len >= LB_REGF_BASE_SIZE ? base : NULL, file_len, info, err))
		return -1;
	s.end = (uint64_t)LB_REGF_BASE_SIZE + info->hbins_size;
	s.wcap = LB_REGF_STREAM_WINDOW;
	if (!(s.win = malloc(s.wcap)))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory for the hive bin walk");
	if (starts && !(s.starts = calloc(1, info->hbins_size / 64 + 1))) {
		free(s.win);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory for the hive cell map");
	}
	rc = check_bins(&s, s.end, (uint64_t)LB_REGF_BASE_SIZE + info->root_offset, err);
	free(s.win);
	if (rc || !starts)
		free(s.starts);
	else
		*starts = s.starts;
	return rc;
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
	fill_info(d, &l->bb);
	{
		struct lb_err e;

		if (check_header(d, len, &l->bb, &e)) {
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
	fill_info(hive, &pi);
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
		if (check_header(hive, len, &pi, &e2) || pi.file_type != LB_REGF_TYPE_PRIMARY) {
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
		fill_info(w.buf, &pi);
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
