/* lb_hive.h - reading registry hives (libhivex) held in memory.
 *
 * Hives are read off the NTFS volume into memory and handed to hivex
 * through a memfd, so nothing is written anywhere. */
#ifndef LB_HIVE_H
#define LB_HIVE_H

#include <hivex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

struct lb_hive {
	hive_h *h;
	int fd;             /* memfd backing the hive */
	bool dirty;         /* sequence numbers differ or bad checksum (see lb_regf) */
	bool replayed;      /* opened from the hive with its logs replayed */
	uint32_t seq1, seq2;
};

/* Runs the checks the edit path runs (lb_regf_check: base block, checksum,
 * truncation, hive bins, cells, root key), then opens read-only.  A dirty
 * hive that passes them opens as it is (hv->dirty).  LB_EK_INPUT "NAME:
 * what is wrong" otherwise; hv->dirty then says whether the failure may
 * only be a write in progress that its transaction logs complete (try
 * lb_hive_open_replayed). */
int lb_hive_open_buffer(const uint8_t *data, size_t len, const char *name, struct lb_hive *hv,
                        struct lb_err *err);
/* A dirty hive that fails the checks on its own: replays log1/log2 (the
 * .LOG1/.LOG2 files, either may be NULL) in memory (lb_regf_replay) and
 * opens the result (hv->replayed, hv->dirty).  LB_EK_INPUT naming both the
 * damage and why the logs do not repair it. */
int lb_hive_open_replayed(const uint8_t *data, size_t len, const uint8_t *log1, size_t len1,
                          const uint8_t *log2, size_t len2, const char *name,
                          struct lb_hive *hv, struct lb_err *err);
/* lb_hive_open_replayed without hivex: the same checks, replay and
 * messages, and hv's dirty/seq/replayed fields (hv->h stays NULL); *out is
 * the replayed hive (malloc'd, *out_len bytes), or NULL when the hive was
 * clean and is to be read as it is.  The lazy reader (lb_regf_read.h) reads
 * the result for the identity. */
int lb_hive_replay(const uint8_t *data, size_t len, const uint8_t *log1, size_t len1,
                   const uint8_t *log2, size_t len2, const char *name, struct lb_hive *hv,
                   uint8_t **out, size_t *out_len, struct lb_err *err);
void lb_hive_close(struct lb_hive *hv);

/* Node by backslash-separated path from the root, case-insensitive; 0 if absent. */
hive_node_h lb_hive_node(hive_h *h, const char *path);

/* 0 found, 1 absent (or wrong type), -1 error.  REG_SZ/REG_EXPAND_SZ to UTF-8. */
int lb_hive_get_string(hive_h *h, const char *path, const char *value, char *out, size_t n);
int lb_hive_get_dword(hive_h *h, const char *path, const char *value, uint32_t *out);
/* Raw value bytes (malloc'd); 0 found, 1 absent. */
int lb_hive_get_raw(hive_h *h, const char *path, const char *value, hive_type *type,
                    uint8_t **data, size_t *len);

/* Select\Current of a SYSTEM hive (1 if unknown). */
int lb_hive_current_controlset(hive_h *system);

#endif
