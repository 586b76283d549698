/* lb_regf_read.h - a read-only, lazy registry hive (regf) reader: a few
 * values out of a hive of any size without a copy of the hive.
 *
 * Why next to hivex: hivex_open maps the whole file and walks every page
 * before the first lookup, so reading ten identity values from a 150 MB
 * SOFTWARE hive costs the whole hive in memory (docs/design.md).  This
 * reader reads through a callback (lb_regf_read_fn: offset, length, as
 * pread) and parses only the cells on the path it follows: the root key
 * node, the subkey lists (lf, lh, li, and ri one level deep) down to the
 * key node whose name matches (case-insensitive, ASCII folding as hivex's
 * lookups), its value list, the value (vk) and its data: inline (at most 4
 * bytes), one data cell, or big data (db) segments.  Hive bytes go through
 * a cache of LB_REGF_READ_PAGES 4 KiB pages; a cell is copied out of it
 * (at most LB_REGF_READ_MAX_CELL bytes, value data at most
 * LB_REGF_READ_MAX_VALUE) and freed after use.  Edits stay with hivex
 * (lb_hivedit.h): this reader never writes.
 *
 * Contract on hostile input: every offset and length taken from the file is
 * checked against the hive bins data size before use, a cell must be
 * allocated, a multiple of 8 long and inside the hive bins (and, when the
 * open ran the full check, a real cell start recorded by the bin walk);
 * lists are bounded by their cells, ri lists may not nest, a subkey walk
 * visits at most the key's own subkey count (70000 at most) and a key has
 * at most 110000 values (hivex's limits), a path has at most
 * LB_REGF_READ_MAX_DEPTH components: a damaged hive gives an error
 * (LB_EK_INPUT naming the cell), never a crash or a loop.  Read errors of
 * the callback come back as it reported them.
 *
 * Results agree with hivex's for every value the identity reads (checked on
 * real hives by tests/unit/test_regf_read.c): strings are REG_SZ /
 * REG_EXPAND_SZ up to their first UTF-16 NUL, converted to UTF-8 by
 * lb_utf16le_decode (surrogate pairs; a lone surrogate is an error, as for
 * hivex's iconv), no iconv needed. */
#ifndef LB_REGF_READ_H
#define LB_REGF_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"
#include "lb_regf.h"

#define LB_REGF_READ_PAGES 32u                      /* cache: 32 x 4 KiB */
#define LB_REGF_READ_MAX_CELL (4u * 1024u * 1024u)  /* one cell copied out */
#define LB_REGF_READ_MAX_VALUE (1024u * 1024u)      /* one value's data */
#define LB_REGF_READ_MAX_DEPTH 64u                  /* path components */

struct lb_regf_reader;

/* Value types this reader interprets (the rest come back raw). */
enum {
	LB_REG_SZ = 1,
	LB_REG_EXPAND_SZ = 2,
	LB_REG_BINARY = 3,
	LB_REG_DWORD = 4,
	LB_REG_DWORD_BE = 5,
};

enum lb_regf_open_flags {
	/* Run lb_regf_check_stream first (base block, every hive bin and
	 * cell, root key) and keep its cell-start map (hbins_size / 64
	 * bytes); without it only the base block is checked. */
	LB_REGF_READ_CHECK = 1 << 0,
};

/* Opens the hive read through rd (file_len bytes).  0, or -1 with err:
 * LB_EK_INPUT "what is wrong" for damage (the messages of lb_regf_check),
 * rd's error for a failed read.  info (may be NULL) is filled as far as the
 * base block parsed, on failure too (info->dirty: the failure may be a write
 * in progress that the transaction logs complete).  A dirty hive that passes
 * the checks opens (info->dirty says so).  The reader does not own ctx. */
int lb_regf_reader_open(lb_regf_read_fn rd, void *ctx, uint64_t file_len, unsigned flags,
                        struct lb_regf_reader **out, struct lb_regf_info *info,
                        struct lb_err *err);
/* The same on a hive in memory (not copied: buf must outlive the reader). */
int lb_regf_reader_open_buffer(const uint8_t *buf, size_t len, unsigned flags,
                               struct lb_regf_reader **out, struct lb_regf_info *info,
                               struct lb_err *err);
void lb_regf_reader_close(struct lb_regf_reader *r);

/* A key is named by the file offset of its key node (its cell), 0 = none.
 * Root of the hive: */
uint64_t lb_regf_root(const struct lb_regf_reader *r);

/* The key at path (backslash-separated, below from; "" = from itself;
 * from 0 = the root).  0 found (*key set), 1 absent, -1 error. */
int lb_regf_key(struct lb_regf_reader *r, uint64_t from, const char *path, uint64_t *key,
                struct lb_err *err);

/* Calls cb for each subkey of key, in list order; cb returns non-zero to
 * stop.  0, or -1 with err (a damaged list: cb may have run for the
 * subkeys before the damage). */
typedef int (*lb_regf_subkey_cb)(void *arg, uint64_t subkey);
int lb_regf_subkeys(struct lb_regf_reader *r, uint64_t key, lb_regf_subkey_cb cb, void *arg,
                    struct lb_err *err);

/* Value getters: the value named value ("" = the default value) of the key
 * at path below from (from 0 = the root).  0 found, 1 absent (key or value
 * missing, or another type), -1 error (err set). */
/* REG_SZ / REG_EXPAND_SZ as UTF-8, cut to n - 1 bytes as snprintf cuts. */
int lb_regf_get_string(struct lb_regf_reader *r, uint64_t from, const char *path,
                       const char *value, char *out, size_t n, struct lb_err *err);
/* REG_DWORD (little-endian) or REG_DWORD_BIG_ENDIAN; shorter than 4 bytes
 * is an error. */
int lb_regf_get_dword(struct lb_regf_reader *r, uint64_t from, const char *path,
                      const char *value, uint32_t *out, struct lb_err *err);
/* Any type: the raw data, malloc'd (free it; *data NULL when *len is 0 is
 * never the case: at least 1 byte is allocated). */
int lb_regf_get_raw(struct lb_regf_reader *r, uint64_t from, const char *path,
                    const char *value, uint32_t *type, uint8_t **data, size_t *len,
                    struct lb_err *err);

#endif
