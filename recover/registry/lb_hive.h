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
	bool dirty;         /* base block sequence numbers differ */
	uint32_t seq1, seq2;
};

/* Checks the base block, then opens read-only.  LB_EK_INPUT on a damaged hive. */
int lb_hive_open_buffer(const uint8_t *data, size_t len, const char *name, struct lb_hive *hv,
                        struct lb_err *err);
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
