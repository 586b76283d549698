/* undo_int.h - what the files of undo share (private to engine/). */
#ifndef UNDO_INT_H
#define UNDO_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define BLOB_MAX (512ULL * 1024 * 1024)

/* An evidence bundle read whole into memory (undo_bundle.c). */
struct blob {
	char *name;
	uint8_t *data;
	size_t len;
};

struct bundle {
	json_t *manifest;
	struct blob *blobs;
	size_t n;
};

/* Reads the bundle at path; its manifest must be loopbreaker-evidence/1.
 * 0, or -1 with err (nothing to free). */
int undo_bundle_read(const char *path, struct bundle *b, struct lb_err *err);
void undo_bundle_free(struct bundle *b);
/* The member called name, or NULL. */
const struct blob *undo_find_blob(const struct bundle *b, const char *name);

#endif
