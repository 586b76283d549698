/* lb_regf_read.c - the lazy regf reader (lb_regf_read.h).  Written from
 * msuhanov's "Windows registry file format specification" (key node, subkey
 * lists, value list, key value, big data); every offset and length taken
 * from the file is checked before use. */
#include "lb_regf_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"
#include "lb_text.h"

#define PAGE 4096u
#define NK_MIN 76u           /* key node up to its name */
#define VK_MIN 20u           /* key value up to its name */
#define DB_SEGMENT 16344u    /* data bytes in one big-data segment */
#define MAX_VALUES 110000u   /* values of one key (hivex 1.3's limit too) */
#define MAX_SUBKEYS 70000u   /* subkeys of one key (hivex 1.3's limit too) */
#define NAME_MAX_UTF8 1024u  /* longer key/value names never match */

struct page {
	uint64_t off;        /* file offset, PAGE-aligned */
	uint64_t used;       /* last use (clock) */
	bool valid;
	uint8_t data[PAGE];
};

struct lb_regf_reader {
	lb_regf_read_fn rd;
	void *ctx;
	const uint8_t *mem;  /* lb_regf_reader_open_buffer: the hive */
	size_t memlen;
	uint32_t hbins;      /* hive bins data size */
	uint32_t root;       /* relative offset of the root key node */
	uint8_t *starts;     /* cell-start map of the full check, or NULL */
	uint64_t clock;
	struct page pages[LB_REGF_READ_PAGES];
};

/* ---- UTF-16LE -> UTF-8 ---- */

/* A REG_SZ string: up to the first NUL unit; strict, as hivex's iconv
 * conversion (a lone surrogate is an error). */
static char *utf16_string(const uint8_t *s, size_t len, struct lb_err *err)
{
	long n = lb_utf16le_decode(s, len, LB_U16_STOP_NUL, NULL, 0);
	char *out;

	if (n < 0) {
		lb_err_set(err, LB_EK_INPUT, EILSEQ, "UTF-16 string with a lone surrogate");
		return NULL;
	}
	if (!(out = malloc((size_t)n + 1))) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory decoding a string");
		return NULL;
	}
	lb_utf16le_decode(s, len, LB_U16_STOP_NUL, out, (size_t)n + 1);
	return out;
}

/* Windows-1252/Latin-1 name bytes (a "compressed" name) to UTF-8. */
static long latin1_decode(const uint8_t *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (cap - o <= 2)
			return -2;
		if (s[i] < 0x80) {
			out[o++] = (char)s[i];
		} else {
			out[o++] = (char)(0xC0 | s[i] >> 6);
			out[o++] = (char)(0x80 | (s[i] & 0x3F));
		}
	}
	out[o] = '\0';
	return (long)o;
}

static int fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* A key or value name (compressed: Latin-1, else UTF-16LE) equal to want,
 * ASCII letters folded (hivex compares with strcasecmp in the C locale). */
static bool name_eq(const uint8_t *name, size_t len, bool compressed, const char *want,
                    size_t wlen)
{
	char buf[NAME_MAX_UTF8];
	long n = compressed ? latin1_decode(name, len, buf, sizeof(buf))
	                    : lb_utf16le_decode(name, len, 0, buf, sizeof(buf));

	if (n < 0 || (size_t)n != wlen)
		return false;
	for (size_t i = 0; i < wlen; i++)
		if (fold((unsigned char)buf[i]) != fold((unsigned char)want[i]))
			return false;
	return true;
}

/* ---- bytes and cells ---- */

static int mem_read(void *ctx, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	struct lb_regf_reader *r = ctx;

	if (off > r->memlen || r->memlen - off < n)
		return lb_err_set(err, LB_EK_INPUT, 0, "hive read of %zu bytes at 0x%llx past its end",
		                  n, (unsigned long long)off);
	memcpy(buf, r->mem + off, n);
	return 0;
}

static struct page *page_get(struct lb_regf_reader *r, uint64_t off, struct lb_err *err)
{
	struct page *victim = &r->pages[0];

	for (unsigned i = 0; i < LB_REGF_READ_PAGES; i++) {
		struct page *p = &r->pages[i];

		if (p->valid && p->off == off) {
			p->used = ++r->clock;
			return p;
		}
		if (!p->valid || (victim->valid && p->used < victim->used))
			victim = p;
	}
	victim->valid = false;
	if (r->rd(r->ctx, victim->data, PAGE, off, err))
		return NULL;
	victim->off = off;
	victim->valid = true;
	victim->used = ++r->clock;
	return victim;
}

/* n bytes at file offset off, which the caller checked lie inside the
 * hive bins (whole pages: the hive bins end on a page boundary). */
static int read_bytes(struct lb_regf_reader *r, uint64_t off, void *buf, size_t n,
                      struct lb_err *err)
{
	uint8_t *o = buf;

	while (n) {
		uint64_t po = off - off % PAGE;
		size_t in = (size_t)(off - po), k = PAGE - in < n ? PAGE - in : n;
		struct page *p = page_get(r, po, err);

		if (!p)
			return -1;
		memcpy(o, p->data + in, k);
		o += k;
		off += k;
		n -= k;
	}
	return 0;
}

/* The cell at hive-bins offset rel: its data (after the size field),
 * malloc'd, and its length.  what names the cell in errors. */
static int cell_get(struct lb_regf_reader *r, uint32_t rel, const char *what, uint8_t **data,
                    uint32_t *len, struct lb_err *err)
{
	uint8_t h[4];
	int32_t raw;
	uint32_t size;

	*data = NULL;
	*len = 0;
	if (rel % 8 || rel >= r->hbins || r->hbins - rel < 8)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s at offset 0x%x outside the hive bins "
		                  "(hive damaged)", what, rel);
	if (r->starts && !(r->starts[rel / 64] & (1u << (rel / 8 % 8))))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s at offset 0x%x is not an allocated cell "
		                  "(hive damaged)", what, rel);
	if (read_bytes(r, (uint64_t)LB_REGF_BASE_SIZE + rel, h, 4, err))
		return -1;
	raw = (int32_t)lb_le32(h);
	size = raw < 0 ? (uint32_t)(-(int64_t)raw) : 0;
	if (raw >= 0 || size < 8 || size % 8 || size > r->hbins - rel)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s at offset 0x%x: cell size %d "
		                  "(hive damaged)", what, rel, raw);
	if (size - 4 > LB_REGF_READ_MAX_CELL)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s at offset 0x%x: cell of %u bytes, over "
		                  "the %u-byte limit", what, rel, size, LB_REGF_READ_MAX_CELL);
	if (!(*data = malloc(size - 4)))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory reading a hive cell");
	if (read_bytes(r, (uint64_t)LB_REGF_BASE_SIZE + rel + 4, *data, size - 4, err)) {
		free(*data);
		*data = NULL;
		return -1;
	}
	*len = size - 4;
	return 0;
}

/* The key node at file offset key. */
static int nk_get(struct lb_regf_reader *r, uint64_t key, uint8_t **nk, uint32_t *len,
                  struct lb_err *err)
{
	if (key < LB_REGF_BASE_SIZE || key - LB_REGF_BASE_SIZE > UINT32_MAX)
		return lb_err_set(err, LB_EK_INPUT, 0, "key node at file offset 0x%llx outside the hive",
		                  (unsigned long long)key);
	if (cell_get(r, (uint32_t)(key - LB_REGF_BASE_SIZE), "key node", nk, len, err))
		return -1;
	if (*len < NK_MIN || memcmp(*nk, "nk", 2) != 0 || NK_MIN + lb_le16(*nk + 72) > *len) {
		free(*nk);
		*nk = NULL;
		return lb_err_set(err, LB_EK_INPUT, 0, "cell at file offset 0x%llx is not a key node "
		                  "(hive damaged)", (unsigned long long)key);
	}
	return 0;
}

/* ---- open ---- */

static int reader_init(struct lb_regf_reader *r, unsigned flags, uint64_t file_len,
                       struct lb_regf_info *info, struct lb_err *err)
{
	struct lb_regf_info tmp;
	uint8_t base[LB_REGF_BASE_SIZE];

	if (!info)
		info = &tmp;
	if (flags & LB_REGF_READ_CHECK) {
		if (lb_regf_check_stream(r->rd, r->ctx, file_len, info, &r->starts, err))
			return -1;
	} else {
		if (file_len >= LB_REGF_BASE_SIZE && r->rd(r->ctx, base, sizeof(base), 0, err))
			return -1;
		if (lb_regf_parse_head(file_len >= LB_REGF_BASE_SIZE ? base : NULL, file_len, info, err))
			return -1;
	}
	r->hbins = info->hbins_size;
	r->root = info->root_offset;
	return 0;
}

static int open_common(struct lb_regf_reader *r, unsigned flags, uint64_t file_len,
                       struct lb_regf_reader **out, struct lb_regf_info *info,
                       struct lb_err *err)
{
	if (reader_init(r, flags, file_len, info, err)) {
		lb_regf_reader_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

static struct lb_regf_reader *reader_new(lb_regf_read_fn rd, void *ctx,
                                         struct lb_regf_reader **out,
                                         struct lb_regf_info *info, struct lb_err *err)
{
	struct lb_regf_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (info)
		memset(info, 0, sizeof(*info));
	if (!r) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory for a hive reader");
		return NULL;
	}
	r->rd = rd;
	r->ctx = ctx ? ctx : r;
	return r;
}

int lb_regf_reader_open(lb_regf_read_fn rd, void *ctx, uint64_t file_len, unsigned flags,
                        struct lb_regf_reader **out, struct lb_regf_info *info,
                        struct lb_err *err)
{
	struct lb_regf_reader *r = reader_new(rd, ctx, out, info, err);

	return r ? open_common(r, flags, file_len, out, info, err) : -1;
}

int lb_regf_reader_open_buffer(const uint8_t *buf, size_t len, unsigned flags,
                               struct lb_regf_reader **out, struct lb_regf_info *info,
                               struct lb_err *err)
{
	struct lb_regf_reader *r = reader_new(mem_read, NULL, out, info, err);

	if (!r)
		return -1;
	r->mem = buf;
	r->memlen = buf ? len : 0;
	return open_common(r, flags, r->memlen, out, info, err);
}

void lb_regf_reader_close(struct lb_regf_reader *r)
{
	if (!r)
		return;
	free(r->starts);
	free(r);
}

uint64_t lb_regf_root(const struct lb_regf_reader *r)
{
	return (uint64_t)LB_REGF_BASE_SIZE + r->root;
}

/* ---- subkeys ---- */

/* The subkey list at rel (ri: one level of lists below it): cb on each
 * entry's key node (file offset) until it returns non-zero.  *count
 * counts the entries seen, at most limit (the key's own count: an ri
 * naming one big list many times would otherwise mean billions of
 * entries).  0 done, 1 stopped, -1 error. */
static int walk_list(struct lb_regf_reader *r, uint32_t rel, bool in_ri, uint32_t *count,
                     uint32_t limit, lb_regf_subkey_cb cb, void *arg, struct lb_err *err)
{
	uint8_t *c;
	uint32_t len, n, esz;
	bool ri;
	int rc = 0;

	if (cell_get(r, rel, "subkey list", &c, &len, err))
		return -1;
	ri = len >= 4 && !memcmp(c, "ri", 2);
	if (len < 4 || (memcmp(c, "lf", 2) && memcmp(c, "lh", 2) && memcmp(c, "li", 2) && !ri)) {
		free(c);
		return lb_err_set(err, LB_EK_INPUT, 0, "subkey list at offset 0x%x: no lf/lh/li/ri "
		                  "signature (hive damaged)", rel);
	}
	if (ri && in_ri) {
		free(c);
		return lb_err_set(err, LB_EK_INPUT, 0, "subkey list at offset 0x%x: ri inside ri "
		                  "(hive damaged)", rel);
	}
	esz = (!memcmp(c, "lf", 2) || !memcmp(c, "lh", 2)) ? 8 : 4;
	n = lb_le16(c + 2);
	if (4 + (uint64_t)n * esz > len) {
		free(c);
		return lb_err_set(err, LB_EK_INPUT, 0, "subkey list at offset 0x%x: %u entries do not "
		                  "fit its cell (hive damaged)", rel, n);
	}
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		uint32_t e = lb_le32(c + 4 + (size_t)i * esz);

		if (ri) {
			rc = walk_list(r, e, true, count, limit, cb, arg, err);
		} else {
			if (++*count > limit)
				rc = lb_err_set(err, LB_EK_INPUT, 0, "subkey list at offset 0x%x: more "
				                "entries than the %u subkeys of its key (hive damaged)",
				                rel, limit);
			else
				rc = cb(arg, (uint64_t)LB_REGF_BASE_SIZE + e) ? 1 : 0;
		}
	}
	free(c);
	return rc;
}

/* The subkey count and list of a key node. */
static int nk_subkeys(struct lb_regf_reader *r, uint64_t key, uint32_t *n, uint32_t *list,
                      struct lb_err *err)
{
	uint8_t *nk;
	uint32_t len;

	if (nk_get(r, key, &nk, &len, err))
		return -1;
	*n = lb_le32(nk + 20);
	*list = lb_le32(nk + 28);
	free(nk);
	if (*n > MAX_SUBKEYS)
		return lb_err_set(err, LB_EK_INPUT, 0, "key node at file offset 0x%llx claims %u "
		                  "subkeys (hive damaged)", (unsigned long long)key, *n);
	return 0;
}

int lb_regf_subkeys(struct lb_regf_reader *r, uint64_t key, lb_regf_subkey_cb cb, void *arg,
                    struct lb_err *err)
{
	uint32_t n, list, seen = 0;
	int rc;

	if (nk_subkeys(r, key, &n, &list, err))
		return -1;
	if (n == 0)
		return 0;
	rc = walk_list(r, list, false, &seen, n, cb, arg, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && seen != n)
		return lb_err_set(err, LB_EK_INPUT, 0, "key node at file offset 0x%llx counts %u "
		                  "subkeys, its lists hold %u (hive damaged)",
		                  (unsigned long long)key, n, seen);
	return 0;
}

struct find_child {
	struct lb_regf_reader *r;
	const char *name;
	size_t nlen;
	uint64_t found;
	struct lb_err *err;
	int failed;
};

static int find_child_cb(void *arg, uint64_t sub)
{
	struct find_child *f = arg;
	uint8_t *nk;
	uint32_t len;
	bool eq;

	if (nk_get(f->r, sub, &nk, &len, f->err)) {
		f->failed = 1;
		return 1;
	}
	eq = name_eq(nk + NK_MIN, lb_le16(nk + 72), (lb_le16(nk + 2) & 0x20) != 0, f->name,
	             f->nlen);
	free(nk);
	if (eq)
		f->found = sub;
	return eq;
}

/* 0 found, 1 absent, -1 error. */
static int find_child(struct lb_regf_reader *r, uint64_t key, const char *name, size_t nlen,
                      uint64_t *child, struct lb_err *err)
{
	struct find_child f = { r, name, nlen, 0, err, 0 };
	uint32_t n, list, seen = 0;

	if (nk_subkeys(r, key, &n, &list, err))
		return -1;
	if (n == 0)
		return 1;
	if (walk_list(r, list, false, &seen, n, find_child_cb, &f, err) < 0 || f.failed)
		return -1;
	if (!f.found)
		return 1;
	*child = f.found;
	return 0;
}

int lb_regf_key(struct lb_regf_reader *r, uint64_t from, const char *path, uint64_t *key,
                struct lb_err *err)
{
	uint64_t cur = from ? from : lb_regf_root(r);
	const char *p = path ? path : "";
	unsigned depth = 0;

	while (*p) {
		const char *e = strchr(p, '\\');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n) {
			int rc;

			if (++depth > LB_REGF_READ_MAX_DEPTH)
				return lb_err_set(err, LB_EK_INPUT, 0, "key path deeper than %u components",
				                  LB_REGF_READ_MAX_DEPTH);
			rc = find_child(r, cur, p, n, &cur, err);
			if (rc)
				return rc;
		}
		p += n;
		if (*p == '\\')
			p++;
	}
	/* the key itself must be a readable key node */
	{
		uint8_t *nk;
		uint32_t len;

		if (nk_get(r, cur, &nk, &len, err))
			return -1;
		free(nk);
	}
	*key = cur;
	return 0;
}

/* ---- values ---- */

/* The vk cell of value name under key (malloc'd).  0, 1 absent, -1. */
static int find_value(struct lb_regf_reader *r, uint64_t key, const char *name, uint8_t **vk,
                      uint32_t *vklen, struct lb_err *err)
{
	uint8_t *nk, *list;
	uint32_t len, llen, n, lrel;
	size_t wlen = strlen(name);
	int rc = 1;

	*vk = NULL;
	if (nk_get(r, key, &nk, &len, err))
		return -1;
	n = lb_le32(nk + 36);
	lrel = lb_le32(nk + 40);
	free(nk);
	if (n == 0)
		return 1;
	if (n > MAX_VALUES)
		return lb_err_set(err, LB_EK_INPUT, 0, "key node at file offset 0x%llx claims %u values "
		                  "(hive damaged)", (unsigned long long)key, n);
	if (cell_get(r, lrel, "value list", &list, &llen, err))
		return -1;
	if ((uint64_t)n * 4 > llen) {
		free(list);
		return lb_err_set(err, LB_EK_INPUT, 0, "value list at offset 0x%x: %u values do not "
		                  "fit its cell (hive damaged)", lrel, n);
	}
	for (uint32_t i = 0; i < n && rc == 1; i++) {
		uint32_t vrel = lb_le32(list + 4 * (size_t)i);
		uint8_t *v;
		uint32_t vlen;

		if (cell_get(r, vrel, "value", &v, &vlen, err)) {
			rc = -1;
			break;
		}
		if (vlen < VK_MIN || memcmp(v, "vk", 2) || VK_MIN + lb_le16(v + 2) > vlen) {
			free(v);
			rc = lb_err_set(err, LB_EK_INPUT, 0, "cell at offset 0x%x is not a key value "
			                "(hive damaged)", vrel);
			break;
		}
		if (name_eq(v + VK_MIN, lb_le16(v + 2), (lb_le16(v + 16) & 1) != 0, name, wlen)) {
			*vk = v;
			*vklen = vlen;
			rc = 0;
		} else {
			free(v);
		}
	}
	free(list);
	return rc;
}

/* Big data: nseg segments listed at lrel, len bytes in all, into out. */
static int big_data(struct lb_regf_reader *r, const uint8_t *db, uint32_t dblen, uint8_t *out,
                    uint32_t len, struct lb_err *err)
{
	uint32_t nseg, lrel, llen, got = 0;
	uint8_t *list;

	if (dblen < 8)
		return lb_err_set(err, LB_EK_INPUT, 0, "big data record too short (hive damaged)");
	nseg = lb_le16(db + 2);
	lrel = lb_le32(db + 4);
	if (cell_get(r, lrel, "big data segment list", &list, &llen, err))
		return -1;
	if ((uint64_t)nseg * 4 > llen) {
		free(list);
		return lb_err_set(err, LB_EK_INPUT, 0, "big data segment list at offset 0x%x: %u "
		                  "segments do not fit its cell (hive damaged)", lrel, nseg);
	}
	for (uint32_t i = 0; i < nseg && got < len; i++) {
		uint32_t srel = lb_le32(list + 4 * (size_t)i), slen, take;
		uint8_t *seg;

		if (cell_get(r, srel, "big data segment", &seg, &slen, err)) {
			free(list);
			return -1;
		}
		take = slen < DB_SEGMENT ? slen : DB_SEGMENT;
		if (take > len - got)
			take = len - got;
		memcpy(out + got, seg, take);
		got += take;
		free(seg);
	}
	free(list);
	if (got < len)
		return lb_err_set(err, LB_EK_INPUT, 0, "big data holds %u of its %u bytes "
		                  "(hive damaged)", got, len);
	return 0;
}

/* A value's data (malloc'd, at least 1 byte allocated). */
static int value_data(struct lb_regf_reader *r, const uint8_t *vk, uint8_t **data,
                      size_t *dlen, struct lb_err *err)
{
	uint32_t raw = lb_le32(vk + 4), len = raw & 0x7FFFFFFFu, drel = lb_le32(vk + 8);
	uint8_t *out, *cell;
	uint32_t clen;

	*data = NULL;
	*dlen = 0;
	if ((raw & 0x80000000u) && len > 4)
		return lb_err_set(err, LB_EK_INPUT, 0, "value with %u bytes of inline data "
		                  "(hive damaged)", len);
	if (len > LB_REGF_READ_MAX_VALUE)
		return lb_err_set(err, LB_EK_INPUT, 0, "value of %u bytes, over the %u-byte limit",
		                  len, LB_REGF_READ_MAX_VALUE);
	if (!(out = malloc(len ? len : 1)))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "out of memory reading a value");
	if ((raw & 0x80000000u) || len == 0) {
		memcpy(out, vk + 8, len);
	} else {
		if (cell_get(r, drel, "value data", &cell, &clen, err)) {
			free(out);
			return -1;
		}
		if (len <= clen) {
			memcpy(out, cell, len);
		} else if (clen < 2 || memcmp(cell, "db", 2) ||
		           big_data(r, cell, clen, out, len, err)) {
			if (clen < 2 || memcmp(cell, "db", 2))
				lb_err_set(err, LB_EK_INPUT, 0, "value data at offset 0x%x: %u bytes declared, "
				           "cell holds %u and is no big data record (hive damaged)", drel,
				           len, clen);
			free(cell);
			free(out);
			return -1;
		}
		free(cell);
	}
	*data = out;
	*dlen = len;
	return 0;
}

/* The value's type and data. */
static int get_value(struct lb_regf_reader *r, uint64_t from, const char *path,
                     const char *value, uint32_t *type, uint8_t **data, size_t *len,
                     struct lb_err *err)
{
	uint64_t key;
	uint8_t *vk;
	uint32_t vklen;
	int rc = lb_regf_key(r, from, path, &key, err);

	*data = NULL;
	*len = 0;
	if (rc)
		return rc;
	if ((rc = find_value(r, key, value, &vk, &vklen, err)) != 0)
		return rc;
	*type = lb_le32(vk + 12);
	rc = value_data(r, vk, data, len, err);
	free(vk);
	return rc;
}

int lb_regf_get_raw(struct lb_regf_reader *r, uint64_t from, const char *path,
                    const char *value, uint32_t *type, uint8_t **data, size_t *len,
                    struct lb_err *err)
{
	return get_value(r, from, path, value, type, data, len, err);
}

int lb_regf_get_string(struct lb_regf_reader *r, uint64_t from, const char *path,
                       const char *value, char *out, size_t n, struct lb_err *err)
{
	uint32_t type = 0;
	uint8_t *d;
	size_t len;
	char *s;
	int rc = get_value(r, from, path, value, &type, &d, &len, err);

	if (n)
		out[0] = '\0';
	if (rc)
		return rc;
	if (type != LB_REG_SZ && type != LB_REG_EXPAND_SZ) {
		free(d);
		return 1;
	}
	s = utf16_string(d, len, err);
	free(d);
	if (!s)
		return -1;
	if (n)
		snprintf(out, n, "%s", s);
	free(s);
	return 0;
}

int lb_regf_get_dword(struct lb_regf_reader *r, uint64_t from, const char *path,
                      const char *value, uint32_t *out, struct lb_err *err)
{
	uint32_t type = 0;
	uint8_t *d;
	size_t len;
	int rc = get_value(r, from, path, value, &type, &d, &len, err);

	if (rc)
		return rc;
	if (type != LB_REG_DWORD && type != LB_REG_DWORD_BE) {
		free(d);
		return 1;
	}
	if (len < 4) {
		free(d);
		return lb_err_set(err, LB_EK_INPUT, 0, "DWORD value \"%s\" holds %zu bytes", value, len);
	}
	*out = type == LB_REG_DWORD ? lb_le32(d) : lb_be32(d);
	free(d);
	return 0;
}
