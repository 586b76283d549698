/* lb_evidence.h - the evidence bundle: everything a fix removes or changes.
 *
 * A tar.zst (or .zip, by file name) holding manifest.json first, then each
 * file's bytes under files/<NNN>/<name>.  The bundle is written completely,
 * fsync'd and closed before the first write to any target, so it is a real
 * copy.  Format: docs/evidence-format.md. */
#ifndef LB_EVIDENCE_H
#define LB_EVIDENCE_H

#include <jansson.h>
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

/* Writes the bundle at path (must not exist).  On success *sha256_hex holds
 * the bundle's SHA-256. */
int lb_evidence_write(const char *path, json_t *manifest_header,
                      struct lb_evidence_item *items, size_t n, char sha256_hex[65],
                      struct lb_err *err);

/* SHA-256 of a buffer, lower-case hex. */
void lb_sha256_hex(const uint8_t *data, size_t len, char out[65]);

#endif
