/* lb_playbook.h - what to look for and what to do about it.
 *
 * A playbook is a JSON file (docs/playbook-format.md) parsed with jansson:
 * file rules, registry rules and at most one BCD rule, with parameters
 * substituted as ${name}.  The built-in playbooks are the files under
 * playbooks/, embedded into the binary at build time and parsed from that
 * text (one source of truth).
 *
 * A file rule names a directory (relative to each SystemRoot, or to the
 * volume root), a file-name glob matched case-insensitively, a last-write
 * time window and what identifies a genuinely bad file (header patterns,
 * SHA-256 list, size range).  Classification of a matching file:
 *   in the window, identified as bad          -> "bad"        (acted on)
 *   in the window, not identified             -> "unexpected" (only with --force)
 *   before the window                         -> "older"      (left alone)
 *   at or after the window's end              -> "good"       (left alone) */
#ifndef LB_PLAYBOOK_H
#define LB_PLAYBOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define LB_HEADER_MAX 16
#define LB_PLAYBOOK_SCHEMA "loopbreaker-playbook/1"

struct lb_header_pattern {
	const char *kind;                 /* reported as header_kind */
	uint8_t bytes[LB_HEADER_MAX];
	size_t len;
};

enum lb_action { LB_ACT_QUARANTINE, LB_ACT_DELETE };

struct lb_file_rule {
	const char *id;
	bool under_system_root;           /* else relative to the volume root */
	const char *dir;                  /* "System32\\drivers\\CrowdStrike" */
	const char *glob;                 /* "C-00000291*.sys" */
	int64_t window_from;              /* Unix seconds, inclusive (INT64_MIN: open) */
	int64_t window_to;                /* Unix seconds, exclusive (INT64_MAX: open) */
	const struct lb_header_pattern *headers;
	size_t nheaders;
	size_t header_len;                /* bytes recorded and compared */
	enum lb_action action;
	uint64_t size_min, size_max;      /* bad only inside [min, max] */
	const char (*sha256)[65];         /* lower-case hex; a match is bad */
	size_t nsha256;
};

enum lb_reg_op { LB_REGOP_SET, LB_REGOP_DELETE_VALUE, LB_REGOP_DISABLE_SERVICE };

struct lb_reg_rule {
	const char *id;
	const char *hive;                 /* "SYSTEM" or "SOFTWARE" */
	const char *key;                  /* may start with CurrentControlSet */
	const char *value;                /* value name ("" = default value) */
	enum lb_reg_op op;
	uint32_t type;                    /* set: LB_REG_* */
	const uint8_t *data;              /* set: raw bytes as stored */
	size_t len;
	bool create_key;                  /* set: create missing keys */
	bool when_key_exists;             /* act only if the key exists (default) */
	bool has_equals;                  /* act only if the value is exactly: */
	uint32_t eq_type;
	const uint8_t *eq_data;
	size_t eq_len;
};

struct lb_bcd_rule {
	const char *id;
	int mode;                         /* enum lb_safeboot: -1 clear, 0..2 */
};

struct lb_param {
	const char *name;
	const char *description;
	bool required;
	const char *def;                  /* default, or NULL */
};

struct lb_playbook {
	const char *name;
	const char *description;
	const char *origin;               /* "built-in" or the file path */
	const struct lb_file_rule *rules;
	size_t nrules;
	const struct lb_reg_rule *reg;
	size_t nreg;
	const struct lb_bcd_rule *bcd;    /* NULL: no BCD rule */
	const struct lb_param *params;
	size_t nparams;
	void **allocs;                    /* everything above lives here */
	size_t nallocs;
};

/* --param NAME=VALUE pairs. */
struct lb_pb_param_value {
	const char *name;
	const char *value;
};

/* Parses playbook text.  origin names it in errors ("file.json:3:7: ...").
 * params: values to substitute for ${name}; NULL leaves ${name} in place
 * (listing only: such a playbook must not be run).  Errors are LB_EK_INPUT,
 * one line, with line and column. */
int lb_playbook_parse(const char *text, size_t len, const char *origin,
                      const struct lb_pb_param_value *params, size_t nparams,
                      struct lb_playbook **out, struct lb_err *err);
/* A built-in name, else a file path. */
int lb_playbook_load(const char *name_or_file, const struct lb_pb_param_value *params,
                     size_t nparams, struct lb_playbook **out, struct lb_err *err);
void lb_playbook_free(struct lb_playbook *pb);
/* Does this playbook declare a parameter of that name? */
bool lb_playbook_has_param(const struct lb_playbook *pb, const char *name);

/* Built-ins, parsed once from their embedded text without parameters
 * (cached for the life of the process). */
const struct lb_playbook *lb_playbook_builtin(const char *name);
/* NULL-terminated list of built-in playbooks. */
const struct lb_playbook *const *lb_playbook_builtins(void);
/* Embedded source text of a built-in (NULL if none). */
const char *lb_playbook_builtin_text(const char *name, size_t *len);

/* A rule's glob against a file name: '*' and '?' are the wildcards, every
 * other character is literal, case-insensitive (fnmatch(3) through
 * lb_glob_match, with '[' made literal). */
bool lb_glob_match_ci(const char *glob, const char *name);

/* Classifies a file that matched the rule's directory and glob.  Returns
 * the verdict; *header_kind is the pattern kind, or "other". */
const char *lb_rule_classify(const struct lb_file_rule *r, int64_t mtime_unix,
                             const uint8_t *header, size_t hlen, const char **header_kind);
/* The same with the file's size and SHA-256 (for rules with a size range
 * or a SHA-256 list). */
const char *lb_rule_classify_file(const struct lb_file_rule *r, int64_t mtime_unix, uint64_t size,
                                  const char *sha256, const uint8_t *header, size_t hlen,
                                  const char **header_kind);

/* ---- registry helpers shared by the engine and undo (lb_playbook_hive.c) ---- */

struct lb_regval;
struct lb_ntfs;
struct lb_ntfs_stat;

/* One value edit on a hive: new.present false deletes the value. */
struct lb_reg_edit {
	char key[1024];                   /* resolved (ControlSetNNN) */
	char value[256];
	bool create_key;
	uint32_t new_type;
	bool new_present;
	const uint8_t *new_data;
	size_t new_len;
};

/* A hive held in memory, opened for editing through a private temporary
 * copy under $TMPDIR (never on the target). */
struct lb_hive_copy {
	struct lb_hivedit *he;
	char dir[4096];
	char path[4200];
};
int lb_hive_copy_open(const uint8_t *hive, size_t len, struct lb_hive_copy *hc,
                      struct lb_err *err);
void lb_hive_copy_close(struct lb_hive_copy *hc);

/* Applies edits to a copy of a hive held in memory: a private temporary
 * file under $TMPDIR, lb_hivedit, committed to a second temporary name and
 * re-checked; *out gets the new hive bytes (malloc'd).  Nothing else is
 * written. */
int lb_hive_apply_edits(const uint8_t *hive, size_t len, const struct lb_reg_edit *e, size_t n,
                        uint8_t **out, size_t *out_len, struct lb_err *err);

/* Replaces the file hive_path on the volume by new bytes, safely:
 * <hive>.loopbreaker-new is created (a stale one is removed first), read
 * back and checked against new_sha; then <hive> becomes <hive>.<suffix>
 * (kept as an on-volume backup; .1, .2 ... if taken) and
 * <hive>.loopbreaker-new becomes <hive>.  backup (may be NULL) receives the
 * backup path. */
int lb_hive_swap(struct lb_ntfs *ntfs, const char *hive_path, const uint8_t *data, size_t len,
                 const char *new_sha, const char *suffix, const struct lb_ntfs_stat *times,
                 char *backup, size_t nbackup, struct lb_err *err);

/* Reads a local file (at most 1 GiB) into a malloc'd buffer (lb_read_file;
 * failures are LB_EK_IO). */
int lb_hive_read_local(const char *path, uint8_t **out, size_t *len, struct lb_err *err);

/* Renames <hive>.LOG1/.LOG2 (those present) to <log>.<suffix>. */
int lb_hive_logs_aside(struct lb_ntfs *ntfs, const char *hive_path, const char *suffix,
                       json_t *moved, struct lb_err *err);

/* Report form of a raw value: {"type": "REG_DWORD", "data": 4, "hex": "04000000"}
 * (null when absent). */
json_t *lb_regval_to_json(bool present, uint32_t type, const uint8_t *data, size_t len);
const char *lb_reg_type_name(uint32_t type);
int lb_reg_type_parse(const char *name, uint32_t *type);
/* Bytes -> lower-case hex (lb_hex), malloc'd. */
char *lb_hex_encode(const uint8_t *b, size_t n);
/* Hex -> bytes, malloc'd: pairs of digits, ' ', ',' or ':' allowed between
 * bytes (playbook "hex" fields, undo's recorded values). */
int lb_hex_decode(const char *s, uint8_t **out, size_t *len);

#endif
