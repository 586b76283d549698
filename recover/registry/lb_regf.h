/* lb_regf.h - registry hive (regf) base block checks, dirty detection and
 * transaction-log replay, on memory buffers only (no hivex, no files).
 *
 * Format reference: Maxim Suhanov, "Windows registry file format
 * specification" (base block, hive bins, old-format DIRT logs, new-format
 * HvLE logs).  Every offset read from the input is bounds-checked: the
 * functions here are meant to be fed hostile data. */
#ifndef LB_REGF_H
#define LB_REGF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define LB_REGF_BASE_SIZE 4096u  /* base block of a primary file */
#define LB_REGF_BIN_ALIGN 4096u  /* hive bins are multiples of this */

/* Base block "file type" field. */
enum {
	LB_REGF_TYPE_PRIMARY = 0,
	LB_REGF_TYPE_LOG_OLD = 1,     /* DIRT + bitmap (Vista/7) */
	LB_REGF_TYPE_LOG_VERYOLD = 2, /* same layout, older writers */
	LB_REGF_TYPE_LOG_NEW = 6,     /* HvLE entries (8.1 and later) */
};

struct lb_regf_info {
	uint32_t seq1, seq2;      /* primary / secondary sequence numbers */
	uint64_t timestamp;       /* last written, FILETIME */
	uint32_t major, minor;
	uint32_t file_type;       /* LB_REGF_TYPE_* */
	uint32_t file_format;     /* 1 = direct memory load */
	uint32_t root_offset;     /* relative to the hive bins data */
	uint32_t hbins_size;      /* hive bins data size */
	uint32_t clustering;
	uint32_t flags;           /* base block flags (offset 144, KTM state) */
	uint32_t checksum;        /* stored at 0x1FC */
	bool checksum_ok;
	bool dirty;               /* seq1 != seq2 or bad checksum */
	char name[33];            /* embedded file name, ASCII subset of the UTF-16LE field */
};

/* XOR-32 checksum of the first 508 bytes of a base block (0 -> 1,
 * 0xFFFFFFFF -> 0xFFFFFFFE).  base must hold at least 512 bytes. */
uint32_t lb_regf_checksum(const uint8_t *base);

/* Marvin32 (as used by HvLE log entries; seed 0x82EF4D887A4E55C5 there, the spec's bytes read as a big-endian number). */
uint64_t lb_marvin32(const uint8_t *data, size_t len, uint64_t seed);
#define LB_REGF_MARVIN_SEED 0x82EF4D887A4E55C5ull

/* Parses and validates the base block of a primary file (signature, checksum,
 * version, file type 0, format, sizes against len).  Fills info as far as it
 * could parse it, even on failure (a dirty hive with a wrong checksum still
 * reports its sequence numbers).  LB_EK_INPUT with a one-line reason on
 * damage.  A dirty hive (seq1 != seq2) with a good checksum is NOT an error:
 * check info->dirty. */
int lb_regf_parse_base(const uint8_t *buf, size_t len, struct lb_regf_info *info,
                       struct lb_err *err);

/* The same checks when only the first 4096 bytes of a file of len bytes
 * are at hand (base; NULL when the file is shorter): a hive read through a
 * callback (lb_regf_check_stream, lb_regf_read.h). */
int lb_regf_parse_head(const uint8_t *base, uint64_t len, struct lb_regf_info *info,
                       struct lb_err *err);

/* Walks the hive bin chain over hbins_size bytes after the base block:
 * "hbin" signature, offset field equal to the position, size a non-zero
 * multiple of 4096 not running past the end; and the cells of each bin:
 * size fields (allocated or free) of at least 8 bytes, multiples of 8,
 * filling the bin exactly.  LB_EK_INPUT naming the first bad bin or cell. */
int lb_regf_check_bins(const uint8_t *buf, size_t len, uint32_t hbins_size,
                       struct lb_err *err);

/* Both of the above, and the root cell: the start of a cell, allocated,
 * an "nk" key node.  These are the checks every hive we read passes before
 * hivex sees it (hivex_open alone accepts a file cut short). */
int lb_regf_check(const uint8_t *buf, size_t len, struct lb_regf_info *info,
                  struct lb_err *err);

/* Reads n bytes at file offset off into buf: 0 when all n were read, else
 * -1 with err (a read error; a read past the end of the file is one too). */
typedef int (*lb_regf_read_fn)(void *ctx, void *buf, size_t n, uint64_t off,
                               struct lb_err *err);

/* lb_regf_check on a file read through rd (file_len bytes) instead of a
 * buffer: the same checks, in the same order, with the same messages, but
 * the hive bins are read front to back in windows of at most
 * LB_REGF_STREAM_WINDOW bytes into one reused buffer, whatever the size of
 * the hive or of one bin (the walk needs only the 32-byte bin headers and
 * each cell's size field, so a bin larger than the window is simply read in
 * several windows; the inside of a cell larger than the window is not read
 * at all).  Memory: the window, plus, when starts is not NULL, a bitmap of
 * hbins_size / 64 bytes (1 bit per 8 bytes of hive bins) with a bit set at
 * each allocated cell's start, handed back in *starts (free it) on
 * success: lb_regf_read uses it to accept only real cell starts.  Read
 * errors come back as rd reported them (LB_EK_IO from the NTFS layer);
 * damage as LB_EK_INPUT.  info is filled as far as the base block parsed. */
#define LB_REGF_STREAM_WINDOW (1024u * 1024u)
int lb_regf_check_stream(lb_regf_read_fn rd, void *ctx, uint64_t file_len,
                         struct lb_regf_info *info, uint8_t **starts, struct lb_err *err);

/* What a replay did. */
struct lb_regf_replay_info {
	bool was_dirty;             /* primary needed recovery */
	bool base_from_log;         /* primary base block was bad; taken from a log */
	int format;                 /* 0 nothing applied, 1 old (DIRT), 2 new (HvLE) */
	uint32_t seq_before;        /* secondary sequence number of the primary */
	uint32_t seq_after;         /* sequence number written to both fields */
	uint32_t first_seq;         /* first applied log entry (new format) */
	bool seq_gap;               /* first entry > seq_before (partial reconcile) */
	uint32_t hbins_size_before, hbins_size_after;
	unsigned entries[2];        /* log entries applied from log1 / log2 */
	unsigned pages;             /* dirty pages written */
	int order[2];               /* logs in the order applied: 1, 2, or 0 = unused */
	char stop[160];             /* why replay stopped (end of log, bad hash, gap ...) */
};

/* Replays transaction logs into a copy of the primary file.
 *
 * hive/len: the primary file.  log1/len1, log2/len2: the .LOG1 and .LOG2
 * files (or .LOG as log1); either may be NULL/0.  On success *out is a
 * malloc'd clean hive (sequence numbers equal, hive bins data size and
 * checksum updated, file cut to 4096 + hive bins data size) and *out_len its
 * size; info says what happened.  A clean primary is returned unchanged
 * (logs ignored, info->format 0).  New-format logs: entries are checked
 * (signature, size, Marvin32 hashes, hive bins data size, page references)
 * and applied in sequence-number order across both logs, starting at the
 * primary's secondary sequence number (or later, after a partial reconcile)
 * and stopping at the first invalid or non-consecutive entry.  Old-format
 * logs: the applicable log (same last-written timestamp, valid base block)
 * with the highest sequence number is applied.
 *
 * Fails with LB_EK_INPUT when the primary is unusable, when it is dirty and
 * no log applies (info->stop says why), or when the result's hive bins are
 * inconsistent.  *out is NULL on failure. */
int lb_regf_replay(const uint8_t *hive, size_t len, const uint8_t *log1, size_t len1,
                   const uint8_t *log2, size_t len2, uint8_t **out, size_t *out_len,
                   struct lb_regf_replay_info *info, struct lb_err *err);

#endif
