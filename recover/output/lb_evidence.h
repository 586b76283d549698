/* lb_evidence.h - the evidence bundle: everything a fix removes or changes.
 *
 * A tar.zst (or .zip, by file name) holding manifest.json first, then each
 * file's bytes under files/<NNN>/<name>.  The bundle is written completely,
 * fsync'd and closed before the first write to any target, so it is a real
 * copy.  Format: docs/evidence-format.md. */
#ifndef LB_EVIDENCE_H
#define LB_EVIDENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

struct lb_evidence_item {
	json_t *meta;          /* manifest entry (borrowed; "archive_path" is added) */
	const uint8_t *data;
	size_t len;
	const char *name;      /* file name inside files/<NNN>/ */
	int64_t mtime_unix;
};

/* Writes the bundle for path (which must not exist: else LB_EK_USAGE,
 * EEXIST) completely under a temporary name next to it, "<path>.partial-
 * XXXXXX" (into tmp), and fsyncs it; sha256_hex gets its SHA-256.  Nothing
 * is left behind on failure.  The bundle gets its name only with
 * lb_evidence_commit, so a bundle under its final name is always whole. */
int lb_evidence_write(const char *path, json_t *manifest_header,
                      struct lb_evidence_item *items, size_t n, char *tmp, size_t tmplen,
                      char sha256_hex[65], struct lb_err *err);
/* Renames the complete bundle tmp to path, never replacing a file (a
 * path that appeared meanwhile: LB_EK_USAGE with EEXIST, tmp kept), and
 * fsyncs the directory.  0, or -1 with err. */
int lb_evidence_commit(const char *tmp, const char *path, struct lb_err *err);
/* Removes an uncommitted bundle (an interrupted run). */
void lb_evidence_discard(const char *tmp);

/* The bundle formats, by file-name suffix (case-insensitive), for
 * messages: ".tar.zst, .tar.xz, .tar.gz, .tgz, .tar or .zip". */
extern const char lb_evidence_suffixes[];
/* true if path ends with one of them; any other name is refused (by the
 * CLI before anything runs, and by lb_evidence_write: LB_EK_USAGE). */
bool lb_evidence_suffix_ok(const char *path);

/* SHA-256 of a buffer, lower-case hex. */
void lb_sha256_hex(const uint8_t *data, size_t len, char out[65]);

#endif
