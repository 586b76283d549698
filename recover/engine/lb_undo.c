/* lb_undo.c - undo a fix from its evidence bundle. */
#include "lb_undo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lb_bcd.h"
#include "lb_bytes.h"
#include "lb_hivedit.h"
#include "lb_playbook.h"
#include "lb_regf.h"
#include "lb_evidence.h"
#include "lb_ntfs.h"
#include "lb_partition.h"
#include "lb_source.h"
#include "lb_unlock.h"
#include "lb_volume.h"
#include "undo_int.h"

static int64_t iso_to_nt(const char *iso)
{
	struct tm tm;
	char frac[16] = "";
	int64_t t, f = 0;
	const char *p;

	if (!iso)
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.') {
		size_t n = strspn(p + 1, "0123456789");

		snprintf(frac, sizeof(frac), "%.*s0000000", (int)(n > 7 ? 7 : n), p + 1);
		frac[7] = 0;
		f = strtoll(frac, NULL, 10);
	}
	t = (int64_t)timegm(&tm);
	return (t + 11644473600LL) * 10000000LL + f;
}

/* ---- finding the quarantined copy ---- */

struct qsearch {
	struct lb_ntfs *ntfs;
	const char *name;
	const char *sha;
	uint64_t size;
	char dir[2048];
	char found[2048];
	int depth;
};

static int q_cb(void *arg, const char *name, bool is_dir)
{
	struct qsearch *q = arg;
	char path[2048];
	struct lb_err e;

	if ((size_t)snprintf(path, sizeof(path), "%s\\%s", q->dir, name) >= sizeof(path))
		return 0;
	if (is_dir && q->depth < 2) {
		struct qsearch sub = *q;

		memcpy(sub.dir, path, sizeof(sub.dir));
		sub.depth++;
		sub.found[0] = 0;
		lb_ntfs_readdir(q->ntfs, path, q_cb, &sub, &e);
		if (sub.found[0]) {
			snprintf(q->found, sizeof(q->found), "%s", sub.found);
			return 1;
		}
		return 0;
	}
	if (!is_dir && !strncasecmp(name, q->name, strlen(q->name))) {
		uint8_t *d;
		uint64_t len;
		char sha[65];

		if (lb_ntfs_read_all(q->ntfs, path, q->size + 1, &d, &len, &e) == 0) {
			lb_sha256_hex(d, (size_t)len, sha);
			free(d);
			if (len == q->size && !strcmp(sha, q->sha)) {
				snprintf(q->found, sizeof(q->found), "%s", path);
				return 1;
			}
		}
	}
	return 0;
}

static int root_q_cb(void *arg, const char *name, bool is_dir)
{
	struct qsearch *q = arg;

	if (!is_dir || strncasecmp(name, "loopbreaker.quarantine", 22))
		return 0;
	snprintf(q->dir, sizeof(q->dir), "\\%s", name);
	q->depth = 0;
	return q_cb(q, name, false) || (lb_ntfs_readdir(q->ntfs, q->dir, q_cb, q, NULL) >= 0 &&
	                                q->found[0]);
}

/* An entry whose change is undone already (an earlier undo): 1. */
static int already(json_t *out)
{
	json_object_set_new(out, "status", json_string("already_restored"));
	json_object_set_new(out, "reason", json_string("already as before the fix (an earlier "
	                                               "undo?): nothing to do"));
	return 1;
}

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
static int undo_hive(struct vol *v, const struct bundle *b, json_t *ent, json_t *out,
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
		return already(out);
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
		rc = already(out);
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

static int undo_bcd(const char *target, json_t *ent, json_t *out, struct lb_err *err)
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

/* ---- one entry ---- */

/* Does the file at path hold exactly the bytes with this SHA-256? */
static bool holds(struct lb_ntfs *ntfs, const char *path, const char *sha)
{
	uint8_t *d;
	uint64_t len;
	char cur[65];
	struct lb_err e;

	if (lb_ntfs_read_all(ntfs, path, BLOB_MAX, &d, &len, &e))
		return false;
	lb_sha256_hex(d, (size_t)len, cur);
	free(d);
	return !strcmp(cur, sha);
}

/* Is entry ent undone already on v (the file back with its bytes, the
 * hibernation header back, the original hive in place)? */
static bool undone_already(struct vol *v, const struct bundle *b, json_t *ent)
{
	const char *action = json_string_value(json_object_get(ent, "action"));
	const char *path = json_string_value(json_object_get(ent, "path"));
	const char *sha = json_string_value(json_object_get(ent, "sha256"));
	const struct blob *blob = undo_find_blob(b, json_string_value(json_object_get(ent,
	                                                                "archive_path")));
	struct lb_ntfs_stat st;
	struct lb_err e;

	if (!action || !path || !sha)
		return false;
	if (!strcmp(action, "invalidate_hibernation")) {
		uint8_t now[4096];

		return blob && blob->len <= sizeof(now) &&
		       lb_ntfs_pread(v->lv.ntfs, path, now, blob->len, 0, &e) == (int64_t)blob->len &&
		       !memcmp(now, blob->data, blob->len);
	}
	if (strcmp(action, "quarantine") && strcmp(action, "delete") &&
	    strcmp(action, "registry_hive"))
		return false;
	return lb_ntfs_stat(v->lv.ntfs, path, &st, &e) == 0 && holds(v->lv.ntfs, path, sha);
}

static int undo_entry(struct vol *v, const struct bundle *b, json_t *ent, json_t *out,
                      struct lb_err *err)
{
	const char *action = json_string_value(json_object_get(ent, "action"));
	const char *path = json_string_value(json_object_get(ent, "path"));
	const char *sha = json_string_value(json_object_get(ent, "sha256"));
	const char *ap = json_string_value(json_object_get(ent, "archive_path"));
	const struct blob *blob = undo_find_blob(b, ap);
	struct lb_ntfs_stat st;
	char cur[65];
	int rc;

	if (!action || !path)
		return lb_err_set(err, LB_EK_INPUT, 0, "manifest entry without action or path");
	if (!strcmp(action, "registry_hive")) {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		return undo_hive(v, b, ent, out, stamp, err);
	}
	if (!strcmp(action, "invalidate_hibernation")) {
		uint8_t now[4096];
		int64_t r;

		if (!blob || blob->len < 4)
			return lb_err_set(err, LB_EK_INPUT, 0, "hiberfil.sys header missing from bundle");
		r = lb_ntfs_pread(v->lv.ntfs, path, now, blob->len, 0, err);
		if (r == (int64_t)blob->len && !memcmp(now, blob->data, blob->len))
			return already(out);
		if (r != (int64_t)blob->len || memcmp(now, "\0\0\0\0", 4) ||
		    memcmp(now + 4, blob->data + 4, blob->len - 4))
			return lb_err_set(err, LB_EK_REFUSED, 0, "%s changed since the fix; not restored",
			                  path);
		if (lb_ntfs_pwrite(v->lv.ntfs, path, blob->data, 4, 0, err))
			return -1;
		json_object_set_new(out, "status", json_string("restored"));
		return 0;
	}
	if (!sha)
		return lb_err_set(err, LB_EK_INPUT, 0, "manifest entry %s without sha256", path);
	rc = lb_ntfs_stat(v->lv.ntfs, path, &st, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && holds(v->lv.ntfs, path, sha))
		return already(out);
	if (rc == 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s exists again with other contents: the "
		                  "target changed since the fix; not restored", path);
	if (!strcmp(action, "quarantine")) {
		struct qsearch q;
		const char *leaf = strrchr(path, '\\');

		memset(&q, 0, sizeof(q));
		q.ntfs = v->lv.ntfs;
		q.name = leaf ? leaf + 1 : path;
		q.sha = sha;
		q.size = (uint64_t)json_integer_value(json_object_get(ent, "size"));
		lb_ntfs_readdir(v->lv.ntfs, "\\", root_q_cb, &q, err);
		if (!q.found[0])
			return lb_err_set(err, LB_EK_REFUSED, 0, "quarantined copy of %s not found (or "
			                  "changed) under \\loopbreaker.quarantine*; not restored", path);
		{
			char parent[1024];
			char *s;

			snprintf(parent, sizeof(parent), "%s", path);
			s = strrchr(parent, '\\');
			if (s && s != parent) {
				*s = 0;
				if (lb_ntfs_mkdir_p(v->lv.ntfs, parent, err))
					return -1;
			}
		}
		if (lb_ntfs_move(v->lv.ntfs, q.found, path, err))
			return -1;
		json_object_set_new(out, "from", json_string(q.found));
	} else if (!strcmp(action, "delete")) {
		json_t *t = json_object_get(ent, "ntfs_times");
		struct lb_ntfs_stat times;

		if (!blob)
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: bytes missing from the bundle", path);
		lb_sha256_hex(blob->data, blob->len, cur);
		if (strcmp(cur, sha))
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: bundle copy does not match its sha256",
			                  path);
		memset(&times, 0, sizeof(times));
		times.created = json_integer_value(json_object_get(t, "created"));
		times.modified = json_integer_value(json_object_get(t, "modified"));
		times.mft_changed = json_integer_value(json_object_get(t, "mft_changed"));
		times.accessed = json_integer_value(json_object_get(t, "accessed"));
		if (!t)
			times.modified = times.created = times.accessed = times.mft_changed =
				iso_to_nt(json_string_value(json_object_get(ent, "modified")));
		times.attributes = (uint32_t)json_integer_value(json_object_get(ent, "attributes"));
		if (lb_ntfs_create_file(v->lv.ntfs, path, blob->data, blob->len, &times, err))
			return -1;
	} else {
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: unknown action \"%s\"", path, action);
	}
	/* verify */
	{
		uint8_t *d;
		uint64_t len;

		if (lb_ntfs_read_all(v->lv.ntfs, path, BLOB_MAX, &d, &len, err))
			return -1;
		lb_sha256_hex(d, (size_t)len, cur);
		free(d);
		if (strcmp(cur, sha))
			return lb_err_set(err, LB_EK_IO, 0, "%s: restored bytes do not verify", path);
	}
	json_object_set_new(out, "status", json_string("restored"));
	return 0;
}

/* One manifest entry: 0 restored; 1 nothing to do (kept, already
 * restored); -1 with err.  err may also be set after a restore (the volume
 * did not close cleanly). */
static int undo_one(const struct bundle *b, json_t *ent, struct utargets *ut, json_t *out,
                    struct lb_err *err)
{
	const char *act = json_string_value(json_object_get(ent, "action"));
	struct lb_err cerr;
	struct vol v;
	int rc;

	if (act && (!strcmp(act, "registry_log") || !strcmp(act, "complete_hive_swap") ||
	            !strcmp(act, "complete_bcd_swap"))) {
		/* evidence only: the hive entry undoes the change */
		json_object_set_new(out, "status", json_string("kept"));
		return 1;
	}
	if (act && !strcmp(act, "repair_mftmirr")) {
		/* putting the stale mirror back would make the volume
		 * unreadable to libntfs-3g again */
		json_object_set_new(out, "status", json_string("kept"));
		json_object_set_new(out, "reason", json_string("a repaired $MFTMirr is not put back; "
		                    "its old records stay in the bundle"));
		return 1;
	}
	if (act && !strcmp(act, "bcd_safeboot")) {
		const char *tg = undo_bcd_target(ut, ent, err);

		return tg ? undo_bcd(tg, ent, out, err) : -1;
	}
	/* already undone (an earlier undo)?  Looked at read-only: a volume
	 * whose hibernation signature is back does not mount read-write */
	if (undo_open_volume(ut, ent, out, false, &v, err))
		return -1;
	json_object_set_new(out, "target", json_string(v.target));
	json_object_set_new(out, "partition", json_integer(v.partno));
	rc = undone_already(&v, b, ent);
	undo_close_volume(&v, NULL);
	if (rc)
		return already(out);
	if (undo_open_volume(ut, ent, out, true, &v, err))
		return -1;
	json_object_set_new(out, "target", json_string(v.target));
	json_object_set_new(out, "partition", json_integer(v.partno));
	rc = undo_entry(&v, b, ent, out, err);
	lb_err_clear(&cerr);
	undo_close_volume(&v, &cerr);
	if (cerr.kind != LB_EK_NONE && err->kind == LB_EK_NONE)
		*err = cerr; /* reported, though the entry itself was restored */
	return rc;
}

static void iso_now(char iso[32])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(iso, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Every entry of the bundle, onto the targets ut allows. */
static int undo_entries(const struct bundle *b, struct utargets *ut, json_t *r, int ex)
{
	json_t *results = json_object_get(r, "undo"), *ent;
	int restored = 0, done = 0;
	struct lb_err err;
	size_t i;

	json_array_foreach(json_object_get(b->manifest, "entries"), i, ent) {
		json_t *out = json_object();
		int rc;

		json_object_set_new(out, "path", json_copy(json_object_get(ent, "path")));
		json_object_set_new(out, "action", json_copy(json_object_get(ent, "action")));
		json_array_append_new(results, out);
		lb_err_clear(&err);
		rc = undo_one(b, ent, ut, out, &err);
		restored += rc == 0;
		done += rc == 1 && !strcmp(json_string_value(json_object_get(out, "status")),
		                           "already_restored");
		if (err.kind != LB_EK_NONE) {
			json_object_set_new(out, "status", json_string(err.kind == LB_EK_REFUSED ?
			                                               "refused" : "failed"));
			json_object_set_new(out, "reason", json_string(err.msg));
			ex = lb_exit_worse(ex, lb_exit_for(err.kind));
		}
	}
	json_object_set_new(r, "restored", json_integer(restored));
	json_object_set_new(r, "already_restored", json_integer(done));
	json_object_set_new(r, "status", json_string(ex >= LB_EXIT_INPUT ? "error" :
	                                             ex == LB_EXIT_ATTENTION ? "needs_attention" :
	                                             restored == 0 && done > 0 ?
	                                             "already_restored" : "restored"));
	return ex;
}

int lb_undo_run(const char *bundle, const char *const *targets, size_t ntargets,
                struct lb_unlock *unlock, bool any_target, json_t **report)
{
	json_t *r = json_object(), *reasons = json_array();
	struct utargets ut;
	struct bundle b;
	struct lb_err err;
	char iso[32];
	int ex;

	iso_now(iso);
	json_object_set_new(r, "schema", json_string("loopbreaker-report/1"));
	json_object_set_new(r, "tool", json_pack("{s:s, s:s}", "name", "loopbreaker", "version",
	                                         LB_VERSION));
	json_object_set_new(r, "mode", json_string("undo"));
	json_object_set_new(r, "bundle", json_string(bundle));
	json_object_set_new(r, "any_target", json_boolean(any_target));
	json_object_set_new(r, "started_at", json_string(iso));
	json_object_set_new(r, "reasons", reasons);
	json_object_set_new(r, "undo", json_array());
	*report = r;
	lb_err_clear(&err);
	if (undo_bundle_read(bundle, &b, &err)) {
		json_object_set_new(r, "status", json_string("error"));
		json_array_append_new(reasons, json_string(err.msg));
		json_object_set_new(r, "exit_code", json_integer(LB_EXIT_INPUT));
		return LB_EXIT_INPUT;
	}
	ex = undo_targets_init(&ut, targets, ntargets, b.manifest, any_target, unlock, reasons);
	if (ex < 0) {
		ex = LB_EXIT_INTERNAL;
		json_object_set_new(r, "status", json_string("error"));
	} else {
		if (ut.unrecorded && !any_target)
			json_array_append_new(reasons, json_string(
			        "the bundle records no target identity (made by an older loopbreaker): "
			        "volumes were matched by NTFS serial and offset only"));
		ex = undo_entries(&b, &ut, r, ex);
	}
	undo_targets_free(&ut);
	undo_bundle_free(&b);
	iso_now(iso);
	json_object_set_new(r, "finished_at", json_string(iso));
	json_object_set_new(r, "exit_code", json_integer(ex));
	return ex;
}
