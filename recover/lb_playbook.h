/* lb_playbook.h - what to look for and what to do about it.
 *
 * A playbook is a list of file rules.  A rule names a directory (relative
 * to each SystemRoot, or to the volume root), a file-name glob matched
 * case-insensitively, a last-write time window and the header patterns a
 * genuinely bad file starts with.  Classification of a matching file:
 *   in the window, header matches a pattern   -> "bad"        (acted on)
 *   in the window, any other header           -> "unexpected" (only with --force)
 *   before the window                         -> "older"      (left alone)
 *   at or after the window's end              -> "good"       (left alone)
 * The built-in playbook crowdstrike-2024-07-19 is defined here. */
#ifndef LB_PLAYBOOK_H
#define LB_PLAYBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_HEADER_MAX 16

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
	int64_t window_from;              /* Unix seconds, inclusive */
	int64_t window_to;                /* Unix seconds, exclusive */
	const struct lb_header_pattern *headers;
	size_t nheaders;
	size_t header_len;                /* bytes recorded and compared */
	enum lb_action action;
};

struct lb_playbook {
	const char *name;
	const char *description;
	const struct lb_file_rule *rules;
	size_t nrules;
};

const struct lb_playbook *lb_playbook_builtin(const char *name);
/* NULL-terminated list of built-in playbooks. */
const struct lb_playbook *const *lb_playbook_builtins(void);

bool lb_glob_match_ci(const char *glob, const char *name);

/* Classifies a file that matched the rule's directory and glob.  Returns
 * the verdict; *header_kind is the pattern kind, or "other". */
const char *lb_rule_classify(const struct lb_file_rule *r, int64_t mtime_unix,
                             const uint8_t *header, size_t hlen, const char **header_kind);

#endif
