/* lb_hivedit.h - typed, undoable value edits on a hive file (libhivex).
 *
 * The hive file is checked (regf base block and hive bins, lb_regf) before
 * hivex opens it writable; a damaged hive is refused with LB_EK_INPUT and a
 * dirty one (sequence numbers differ: changes still in .LOG1/.LOG2, which
 * hivex would silently drop) with LB_EK_REFUSED.  Edits happen in memory;
 * lb_hivedit_commit writes the whole hive to a NEW file name, then re-reads
 * that file (lb_regf_check + hivex) before reporting success.  Swapping the
 * new file in place of the original is the caller's job.
 *
 * Paths are backslash-separated from the hive root, case-insensitive
 * ("ControlSet001\\Services\\CSAgent").  A leading "CurrentControlSet"
 * component is resolved through Select\Current (SYSTEM hives).  Value names
 * are case-insensitive; "" is the key's default value. */
#ifndef LB_HIVEDIT_H
#define LB_HIVEDIT_H

#include <hivex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

/* Registry value types (as stored). */
enum {
	LB_REG_NONE = 0,
	LB_REG_SZ = 1,
	LB_REG_EXPAND_SZ = 2,
	LB_REG_BINARY = 3,
	LB_REG_DWORD = 4,
	LB_REG_MULTI_SZ = 7,
	LB_REG_QWORD = 11,
};

struct lb_hivedit {
	hive_h *h;
	char path[4096];   /* file opened */
	bool changed;      /* an edit was made since open/commit */
};

/* A raw value as stored: what an undo needs. */
struct lb_regval {
	bool present;      /* false: the value did not exist */
	uint32_t type;
	uint8_t *data;     /* malloc'd raw bytes (REG_SZ: UTF-16LE with NUL) */
	size_t len;
};
void lb_regval_free(struct lb_regval *v);

/* Flags for the set functions. */
#define LB_HIVEDIT_CREATE_KEYS 0x1u  /* create missing keys along the path */

int lb_hivedit_open(const char *path, struct lb_hivedit *he, struct lb_err *err);
void lb_hivedit_close(struct lb_hivedit *he);

/* Rewrites "CurrentControlSet\..." to "ControlSetNNN\..." (Select\Current);
 * other paths are copied.  LB_EK_INPUT if Select\Current is needed but
 * missing or points at a control set that does not exist. */
int lb_hivedit_resolve(hive_h *h, const char *path, char *out, size_t n, struct lb_err *err);

/* Node at path (CurrentControlSet resolved); 0 and LB_EK_INPUT "no key"
 * when absent and create is false. */
hive_node_h lb_hivedit_key(struct lb_hivedit *he, const char *path, bool create,
                           struct lb_err *err);

/* Reads a value's raw bytes.  0 found (v->present), 1 absent (key or value;
 * v->present false), -1 error. */
int lb_hivedit_get(struct lb_hivedit *he, const char *key, const char *name,
                   struct lb_regval *v, struct lb_err *err);

/* Setters.  old (may be NULL) receives the previous raw value first; free
 * it with lb_regval_free.  Strings are UTF-8 in, stored UTF-16LE with the
 * terminating NUL; invalid UTF-8 -> LB_EK_USAGE. */
int lb_hivedit_set_sz(struct lb_hivedit *he, const char *key, const char *name,
                      const char *utf8, unsigned flags, struct lb_regval *old, struct lb_err *err);
int lb_hivedit_set_expand_sz(struct lb_hivedit *he, const char *key, const char *name,
                             const char *utf8, unsigned flags, struct lb_regval *old,
                             struct lb_err *err);
int lb_hivedit_set_dword(struct lb_hivedit *he, const char *key, const char *name, uint32_t v,
                         unsigned flags, struct lb_regval *old, struct lb_err *err);
int lb_hivedit_set_qword(struct lb_hivedit *he, const char *key, const char *name, uint64_t v,
                         unsigned flags, struct lb_regval *old, struct lb_err *err);
/* n strings, none empty (an empty string would end the list). */
int lb_hivedit_set_multi_sz(struct lb_hivedit *he, const char *key, const char *name,
                            const char *const *strs, size_t n, unsigned flags,
                            struct lb_regval *old, struct lb_err *err);
int lb_hivedit_set_binary(struct lb_hivedit *he, const char *key, const char *name,
                          const void *data, size_t len, unsigned flags, struct lb_regval *old,
                          struct lb_err *err);
/* Any type, raw bytes as stored. */
int lb_hivedit_set_raw(struct lb_hivedit *he, const char *key, const char *name, uint32_t type,
                       const void *data, size_t len, unsigned flags, struct lb_regval *old,
                       struct lb_err *err);

/* Deletes one value (others keep their bytes).  0 deleted, 1 absent. */
int lb_hivedit_delete_value(struct lb_hivedit *he, const char *key, const char *name,
                            struct lb_regval *old, struct lb_err *err);

/* Deletes a key and everything below it (not the root).  0 deleted, 1 absent. */
int lb_hivedit_delete_key(struct lb_hivedit *he, const char *key, struct lb_err *err);

/* Undo: puts back what an lb_regval captured (deletes the value if it was
 * absent).  Keys created by LB_HIVEDIT_CREATE_KEYS are not removed. */
int lb_hivedit_restore(struct lb_hivedit *he, const char *key, const char *name,
                       const struct lb_regval *old, struct lb_err *err);

/* Writes the hive to newpath, which must not exist yet, then re-opens it
 * to check.  On a failed check newpath is removed.  Nothing is written to
 * the file that was opened. */
int lb_hivedit_commit(struct lb_hivedit *he, const char *newpath, struct lb_err *err);

/* Control sets of a SYSTEM hive (Select key). */
struct lb_controlsets {
	uint32_t current, deflt, last_known_good, failed; /* 0 = value absent */
	uint32_t boot[3];  /* distinct existing sets among current, default, LKG */
	size_t nboot;
};
int lb_hivedit_control_sets(hive_h *h, struct lb_controlsets *cs, struct lb_err *err);

/* A REG_SZ as stored: UTF-8 -> UTF-16LE (lb_utf8_to_utf16le, iconv) plus
 * the NUL terminator, malloc'd.  -1 on invalid UTF-8 (overlong forms,
 * surrogates and code points beyond U+10FFFF included) or no memory. */
int lb_hivedit_utf16z(const char *utf8, uint8_t **out, size_t *len);

/* Reads a hive file (at most max bytes, lb_read_file) and runs
 * lb_regf_check on it; info gets the base block (dirty state).  A file
 * that cannot be opened or read is LB_EK_IO, a damaged or oversized hive
 * LB_EK_INPUT; messages name the path. */
struct lb_regf_info;
int lb_hivedit_check_file(const char *path, size_t max, struct lb_regf_info *info,
                          struct lb_err *err);

#endif
