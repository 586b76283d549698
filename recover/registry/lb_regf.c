/* lb_regf.c - regf base block checks, dirty detection and the hive bin /
 * cell walk (in memory or streamed); transaction-log replay is in
 * lb_regf_replay.c.  Written from the format description in msuhanov's
 * "Windows registry file format specification"; every length and offset
 * taken from the input is checked before use. */
#include "lb_regf.h"
#include "lb_regf_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"


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

void lb_regf_fill_info(const uint8_t *b, struct lb_regf_info *info)
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

int lb_regf_check_header(const uint8_t *b, size_t len, const struct lb_regf_info *in,
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
	lb_regf_fill_info(buf, info);
	if (lb_regf_check_header(buf, (size_t)len, info, err))
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
