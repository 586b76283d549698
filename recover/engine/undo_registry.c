/* undo_registry.c - undo of registry changes: a hive replaced by fix (whole
 * file, or value by value), and the safe-boot setting of a BCD entry. */
#include "undo_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb_bcd.h"
#include "lb_bytes.h"
#include "lb_evidence.h"
#include "lb_hivedit.h"
#include "lb_playbook.h"
#include "lb_regf.h"

/* ---- registry: a hive replaced by fix ---- */

/* The manifest's hex (as the engine wrote it) into a malloc'd buffer. */
static int unhex_alloc(const char *hex, uint8_t **out, size_t *n)
{
	size_t hl = strlen(hex);

	*out = NULL;
	*n = hl / 2;
	if (hl % 2 || !(*out = malloc(*n + 1)))
		return -1;
	if (lb_unhex(hex, *out, *n)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static bool same_raw(const struct lb_regval *v, json_t *want)
{
	const char *hex = json_string_value(json_object_get(want, "hex"));
	uint8_t *b = NULL;
	size_t n = 0;
	bool eq;

	if (!json_is_true(json_object_get(want, "present")))
		return !v->present;
	if (!v->present || !hex || v->type != (uint32_t)json_integer_value(json_object_get(want, "type")) ||
	    unhex_alloc(hex, &b, &n))
		return false;
	eq = n == v->len && (n == 0 || memcmp(b, v->data, n) == 0);
	free(b);
	return eq;
}

/* Whole file when the hive is still exactly what fix wrote (and fix did
 * not replay logs); else value by value, each value checked to be the one
 * fix wrote.  Either way through the same safe swap as fix. */
int undo_hive(struct vol *v, const struct bundle *b, json_t *ent, json_t *out,
                     const char *stamp, struct lb_err *err)
{
	const char *path = json_string_value(json_object_get(ent, "path"));
	const char *sha = json_string_value(json_object_get(ent, "sha256"));
	const char *new_sha = json_string_value(json_object_get(ent, "new_sha256"));
	const struct blob *blob = undo_find_blob(b, json_string_value(json_object_get(ent, "archive_path")));
	json_t *edits = json_object_get(ent, "edits"), *e;
	bool replayed = json_is_true(json_object_get(ent, "replayed"));
	char cur_sha[65], suffix[64], bak[1100];
	uint8_t *cur = NULL, *newb = NULL;
	uint64_t clen = 0;
	size_t newlen = 0, i, nold = 0;
	struct lb_ntfs_stat st;
	struct lb_reg_edit *re = NULL;
	struct lb_hive_copy hc;
	int rc = -1;

	if (!path || !sha || !new_sha || !json_is_array(edits))
		return lb_err_set(err, LB_EK_INPUT, 0, "registry entry incomplete in the manifest");
	snprintf(suffix, sizeof(suffix), "loopbreaker-undo-%s", stamp);
	memset(&hc, 0, sizeof(hc));
	if (lb_ntfs_stat(v->lv.ntfs, path, &st, err) != 0) {
		if (err->kind == LB_EK_NONE)
			lb_err_set(err, LB_EK_REFUSED, 0, "%s is missing (an interrupted replacement? run "
			           "fix to complete it first); not restored", path);
		return -1;
	}
	if (lb_ntfs_read_all(v->lv.ntfs, path, BLOB_MAX, &cur, &clen, err))
		return -1;
	lb_sha256_hex(cur, (size_t)clen, cur_sha);
	if (!strcmp(cur_sha, sha)) {
		free(cur);
		return undo_already(out);
	}
	if (!replayed && !strcmp(cur_sha, new_sha)) {
		char bsha[65];

		if (!blob)
			return free(cur), lb_err_set(err, LB_EK_INPUT, 0, "%s: original hive missing from "
			                             "the bundle", path);
		lb_sha256_hex(blob->data, blob->len, bsha);
		if (strcmp(bsha, sha)) {
			free(cur);
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: bundle copy does not match its sha256",
			                  path);
		}
		if (lb_hive_swap(v->lv.ntfs, path, blob->data, blob->len, sha, suffix, &st, bak,
		                 sizeof(bak), err) == 0) {
			json_object_set_new(out, "mode", json_string("whole_file"));
			json_object_set_new(out, "hive_backup", json_string(bak));
			json_object_set_new(out, "status", json_string("restored"));
			rc = 0;
		}
		free(cur);
		return rc;
	}
	{
		struct lb_regf_info info;

		memset(&info, 0, sizeof(info));
		if (lb_regf_check(cur, (size_t)clen, &info, err) || info.dirty) {
			if (err->kind == LB_EK_NONE)
				lb_err_set(err, LB_EK_REFUSED, 0, "%s is dirty (Windows has changes in its "
				           ".LOG1/.LOG2): not restored; run fix with any registry playbook "
				           "to replay it, or boot Windows once", path);
			goto out;
		}
	}
	re = calloc(json_array_size(edits) + 1, sizeof(*re));
	if (!re || lb_hive_copy_open(cur, (size_t)clen, &hc, err)) {
		if (!re)
			lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "undo");
		goto out;
	}
	json_array_foreach(edits, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *val = json_string_value(json_object_get(e, "value"));
		json_t *old = json_object_get(e, "old");
		struct lb_regval now;
		uint8_t *ob = NULL;
		size_t on = 0;

		if (!key || !val || !old) {
			lb_err_set(err, LB_EK_INPUT, 0, "registry edit incomplete in the manifest");
			goto out;
		}
		if (lb_hivedit_get(hc.he, key, val, &now, err) < 0)
			goto out;
		if (same_raw(&now, old) && !same_raw(&now, json_object_get(e, "new"))) {
			nold++;
		} else if (!same_raw(&now, json_object_get(e, "new"))) {
			lb_regval_free(&now);
			lb_err_set(err, LB_EK_REFUSED, 0, "%s\\%s\\%s is no longer the value fix wrote: "
			           "changed since the fix; nothing restored", path, key, val);
			goto out;
		}
		lb_regval_free(&now);
		snprintf(re[i].key, sizeof(re[i].key), "%s", key);
		snprintf(re[i].value, sizeof(re[i].value), "%s", val);
		re[i].new_present = json_is_true(json_object_get(old, "present"));
		if (re[i].new_present) {
			if (unhex_alloc(json_string_value(json_object_get(old, "hex")) ?
			                  json_string_value(json_object_get(old, "hex")) : "", &ob, &on)) {
				lb_err_set(err, LB_EK_INPUT, 0, "registry edit: bad hex in the manifest");
				goto out;
			}
			re[i].new_type = (uint32_t)json_integer_value(json_object_get(old, "type"));
			re[i].new_data = ob; /* freed below */
			re[i].new_len = on;
		}
	}
	lb_hive_copy_close(&hc);
	if (nold == json_array_size(edits)) {
		rc = undo_already(out);
		goto out;
	}
	if (lb_hive_apply_edits(cur, (size_t)clen, re, json_array_size(edits), &newb, &newlen, err))
		goto out;
	{
		char nsha[65];

		lb_sha256_hex(newb, newlen, nsha);
		if (lb_hive_swap(v->lv.ntfs, path, newb, newlen, nsha, suffix, &st, bak, sizeof(bak), err))
			goto out;
	}
	json_object_set_new(out, "mode", json_string("values"));
	json_object_set_new(out, "values", json_integer((json_int_t)json_array_size(edits)));
	json_object_set_new(out, "hive_backup", json_string(bak));
	json_object_set_new(out, "status", json_string("restored"));
	rc = 0;
out:
	lb_hive_copy_close(&hc);
	for (i = 0; re && i < json_array_size(edits); i++)
		free((void *)re[i].new_data);
	free(re);
	free(newb);
	free(cur);
	return rc;
}

/* ---- BCD: safeboot back to what it was ---- */

int undo_bcd(const char *target, json_t *ent, json_t *out, struct lb_err *err)
{
	const char *guid = json_string_value(json_object_get(ent, "entry"));
	json_t *off = json_object_get(ent, "offset");
	int old_mode = (int)json_integer_value(json_object_get(ent, "old_mode"));
	int new_mode = (int)json_integer_value(json_object_get(ent, "new_mode"));
	const char *tmp = getenv("TMPDIR");
	char dir[4096], cur[4200], next[4200], name[16];
	int now = LB_SAFEBOOT_NONE, rc = -1;

	if (!guid || !json_is_integer(off) || !json_is_integer(json_object_get(ent, "old_mode")))
		return lb_err_set(err, LB_EK_INPUT, 0, "BCD entry incomplete in the manifest");
	snprintf(dir, sizeof(dir), "%s/loopbreaker-undo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return lb_err_set(err, LB_EK_IO, errno, "temporary directory");
	snprintf(cur, sizeof(cur), "%s/BCD", dir);
	snprintf(next, sizeof(next), "%s/BCD.new", dir);
	if (lb_bcd_fetch(target, (uint64_t)json_integer_value(off), cur, err) ||
	    lb_bcd_set_safeboot(cur, next, guid, old_mode, &now, err))
		goto out;
	if (now == old_mode) {
		rc = undo_already(out); /* an earlier undo put it back */
		goto out;
	}
	if (now != new_mode) {
		lb_err_set(err, LB_EK_REFUSED, 0, "safeboot of %s changed since the fix; not restored",
		           guid);
		goto out;
	}
	for (int n = 1; n <= 9; n++) {
		snprintf(name, sizeof(name), "BCD.LU%d", n);
		lb_err_clear(err);
		rc = lb_bcd_put(target, (uint64_t)json_integer_value(off), next, name, err);
		if (rc == 0 || err->kind != LB_EK_REFUSED)
			break;
	}
	if (rc == 0) {
		char p[64];

		snprintf(p, sizeof(p), "\\EFI\\Microsoft\\Boot\\%s", name);
		json_object_set_new(out, "esp_backup", json_string(p));
		json_object_set_new(out, "target", json_string(target));
		json_object_set_new(out, "status", json_string("restored"));
	}
out:
	unlink(next);
	unlink(cur);
	rmdir(dir);
	return rc;
}

