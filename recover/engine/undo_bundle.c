/* undo_bundle.c - reading an evidence bundle back for undo (libarchive,
 * dlopen()ed here: lb_archive.h). */
#include "undo_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb_archive.h"

void undo_bundle_free(struct bundle *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->blobs[i].name);
		free(b->blobs[i].data);
	}
	free(b->blobs);
	json_decref(b->manifest);
}

int undo_bundle_read(const char *path, struct bundle *b, struct lb_err *err)
{
	struct archive *a;
	struct archive_entry *e;
	int rc = 0, r;

	memset(b, 0, sizeof(*b));
	if (lb_archive_ready(err)) {
		lb_err_wrap(err, "%s", path);
		return -1;
	}
	a = lb_arc.read_new();
	if (!a)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "bundle");
	lb_arc.read_support_filter_all(a);
	lb_arc.read_support_format_all(a);
	if (lb_arc.read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: %s", path, lb_arc.error_string(a));
		goto out;
	}
	while ((r = lb_arc.read_next_header(a, &e)) == ARCHIVE_OK) {
		la_int64_t size = lb_arc.entry_size(e);
		struct blob *nb;
		uint8_t *data;

		if (size < 0 || (uint64_t)size > BLOB_MAX) {
			rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: entry %s too large", path,
			                lb_arc.entry_pathname(e));
			goto out;
		}
		data = malloc((size_t)size + 1);
		nb = realloc(b->blobs, (b->n + 1) * sizeof(*nb));
		if (!data || !nb) {
			free(data);
			rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "bundle");
			goto out;
		}
		b->blobs = nb;
		if (lb_arc.read_data(a, data, (size_t)size) != size) {
			free(data);
			rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: %s: %s", path, lb_arc.entry_pathname(e),
			                lb_arc.error_string(a));
			goto out;
		}
		data[size] = 0;
		b->blobs[b->n].name = strdup(lb_arc.entry_pathname(e));
		b->blobs[b->n].data = data;
		b->blobs[b->n].len = (size_t)size;
		b->n++;
	}
	if (r != ARCHIVE_EOF) {
		rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: %s", path, lb_arc.error_string(a));
		goto out;
	}
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->blobs[i].name, "manifest.json")) {
			json_error_t je;

			b->manifest = json_loadb((const char *)b->blobs[i].data, b->blobs[i].len, 0, &je);
			if (!b->manifest)
				rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: manifest.json: %s (line %d)", path,
				                je.text, je.line);
		}
	if (!rc && (!b->manifest || strcmp(json_string_value(json_object_get(b->manifest, "schema"))
	                                   ? json_string_value(json_object_get(b->manifest, "schema"))
	                                   : "", "loopbreaker-evidence/1")))
		rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: not a loopbreaker evidence bundle", path);
out:
	lb_arc.read_free(a);
	if (rc)
		undo_bundle_free(b);
	return rc;
}

const struct blob *undo_find_blob(const struct bundle *b, const char *name)
{
	for (size_t i = 0; name && i < b->n; i++)
		if (!strcmp(b->blobs[i].name, name))
			return &b->blobs[i];
	return NULL;
}
