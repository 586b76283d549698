/* lb_playbook_int.h - private to recover/playbook: the parse context shared
 * by the playbook parser's files.
 *
 *   lb_playbook_json.c      the context: error positions (line:column of the
 *                           value at the current path), the path stack,
 *                           allocations owned by the playbook, string fields
 *                           with ${param} substitution
 *   lb_playbook_parse.c     the top level and the parameters
 *   lb_playbook_files.c     file rules: parsing, glob, classification
 *   lb_playbook_registry.c  registry and BCD rules, typed registry data
 *   lb_playbook_builtin.c   the embedded built-ins, loading by name or file
 *   lb_playbook_hive.c      hive edits on private copies, the on-volume swap
 *
 * Every parse function returns 0, or -1 with c->err set (one line with the
 * position, LB_EK_INPUT). */
#ifndef LB_PLAYBOOK_INT_H
#define LB_PLAYBOOK_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_err.h"
#include "lb_playbook.h"

/* One step of the path to the value being parsed: an object member, or
 * (key NULL) an array index. */
struct lb_pb_pel {
	const char *key;
	size_t index;
};

#define LB_PB_DEPTH 16

struct lb_pb_ctx {
	const char *text;
	size_t len;
	const char *origin;
	const struct lb_pb_param_value *params;   /* NULL: keep ${...} */
	size_t nparams;
	struct lb_playbook *pb;
	struct lb_pb_pel path[LB_PB_DEPTH];
	int depth;
	struct lb_err *err;
};

/* "origin:line:col: path: message" (LB_EK_INPUT) for the value at the
 * current path; returns -1. */
int lb_pb_err(struct lb_pb_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Out of memory (LB_EK_INTERNAL); returns -1. */
int lb_pb_oom(struct lb_pb_ctx *c);
void lb_pb_push_key(struct lb_pb_ctx *c, const char *k);
void lb_pb_push_index(struct lb_pb_ctx *c, size_t i);
void lb_pb_pop(struct lb_pb_ctx *c);

/* Zeroed memory owned by the playbook (freed by lb_playbook_free). */
void *lb_pb_alloc(struct lb_playbook *pb, size_t n);
/* A copy of s owned by the playbook (NULL stays NULL). */
int lb_pb_strdup(struct lb_pb_ctx *c, const char *s, const char **out);
/* Every member of obj must be in allowed ("note" always is). */
int lb_pb_check_keys(struct lb_pb_ctx *c, json_t *obj, const char *const *allowed);
/* String member key of obj with ${param} substituted, owned by the
 * playbook; NULL when absent (an error if required) or on an error, which
 * sets *bad. */
const char *lb_pb_get_str(struct lb_pb_ctx *c, json_t *obj, const char *key, bool required,
                          int *bad);

/* Parameter declarations ("params"). */
int lb_pb_parse_params(struct lb_pb_ctx *c, json_t *root);
/* Values for the declared parameters (given, else default), checked; sets
 * c->params / c->nparams.  *pv is the array to free. */
int lb_pb_param_values(struct lb_pb_ctx *c, const struct lb_pb_param_value *given, size_t ngiven,
                       struct lb_pb_param_value **pv);

int lb_pb_parse_file_rule(struct lb_pb_ctx *c, json_t *r, struct lb_file_rule *fr, size_t idx);
int lb_pb_parse_reg_rule(struct lb_pb_ctx *c, json_t *r, struct lb_reg_rule *rr, size_t idx);
int lb_pb_parse_bcd(struct lb_pb_ctx *c, json_t *b, struct lb_bcd_rule *br);

#endif
