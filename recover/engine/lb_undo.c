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

#include "lb_bytes.h"
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

int undo_already(json_t *out)
{
	json_object_set_new(out, "status", json_string("already_restored"));
	json_object_set_new(out, "reason", json_string("already as before the fix (an earlier "
	                                               "undo?): nothing to do"));
	return 1;
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

/* ---- files: moved back or recreated, with their 8.3 name ---- */

/* The 8.3 name fix recorded (NULL: none, or a bundle made before short
 * names were kept). */
static const char *rec_short(json_t *ent)
{
	const char *s = json_string_value(json_object_get(ent, "short_name"));

	return s && *s ? s : NULL;
}

/* The 8.3 name of the file at path against the recorded one. */
enum short_state { SHORT_OK, SHORT_MISSING, SHORT_TAKEN };

static enum short_state short_state(struct lb_ntfs *ntfs, const char *path, json_t *ent)
{
	const char *want = rec_short(ent);
	const char *sep = strrchr(path, '\\');
	struct lb_ntfs_stat mine, other;
	struct lb_ntfs_shape sh;
	char alias[1100];
	struct lb_err e;

	if (!want || (lb_ntfs_shape(ntfs, path, &sh, &e) == 0 && !strcasecmp(sh.short_name, want)))
		return SHORT_OK;
	/* another file may have taken the name since the fix */
	snprintf(alias, sizeof(alias), "%.*s\\%s", sep ? (int)(sep - path) : 0, path, want);
	if (lb_ntfs_stat(ntfs, path, &mine, &e) == 0 && lb_ntfs_stat(ntfs, alias, &other, &e) == 0 &&
	    other.mft_ref != mine.mft_ref)
		return SHORT_TAKEN;
	return SHORT_MISSING;
}

/* Gives the file at path (back in place) its recorded 8.3 name, unless
 * another file took that name meanwhile: then reason says so, and the
 * file stays without it (not an error: the file itself is back).  1 the
 * name was given, 0 nothing to do, -1 with err. */
static int short_back(struct lb_ntfs *ntfs, const char *path, json_t *ent, json_t *out,
                      struct lb_err *err)
{
	const char *want = rec_short(ent);
	enum short_state ss = short_state(ntfs, path, ent);
	char reason[1400];

	if (ss == SHORT_TAKEN) {
		snprintf(reason, sizeof(reason), "restored without its 8.3 name %s: another file "
		         "has that name now", want);
		json_object_set_new(out, "reason", json_string(reason));
	}
	if (ss != SHORT_MISSING)
		return 0;
	if (lb_ntfs_set_short_name(ntfs, path, want, err))
		return -1;
	json_object_set_new(out, "short_name", json_string(want));
	return 1;
}

/* The quarantined copy (found by name and SHA-256 under
 * \loopbreaker.quarantine*) renamed back to path. */
static int move_back(struct lb_ntfs *ntfs, const char *path, const char *sha, json_t *ent,
                     json_t *out, struct lb_err *err)
{
	struct qsearch q;
	const char *leaf = strrchr(path, '\\');
	char parent[1024];
	char *s;

	memset(&q, 0, sizeof(q));
	q.ntfs = ntfs;
	q.name = leaf ? leaf + 1 : path;
	q.sha = sha;
	q.size = (uint64_t)json_integer_value(json_object_get(ent, "size"));
	lb_ntfs_readdir(ntfs, "\\", root_q_cb, &q, err);
	if (!q.found[0])
		return lb_err_set(err, LB_EK_REFUSED, 0, "quarantined copy of %s not found (or "
		                  "changed) under \\loopbreaker.quarantine*; not restored", path);
	snprintf(parent, sizeof(parent), "%s", path);
	s = strrchr(parent, '\\');
	if (s && s != parent) {
		*s = 0;
		if (lb_ntfs_mkdir_p(ntfs, parent, err))
			return -1;
	}
	if (lb_ntfs_move(ntfs, q.found, path, err))
		return -1;
	json_object_set_new(out, "from", json_string(q.found));
	return 0;
}

/* A deleted file recreated from the bundle with its times and attributes. */
static int recreate(struct lb_ntfs *ntfs, const char *path, const char *sha,
                    const struct blob *blob, json_t *ent, struct lb_err *err)
{
	json_t *t = json_object_get(ent, "ntfs_times");
	struct lb_ntfs_stat times;
	char cur[65];

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
	return lb_ntfs_create_file(ntfs, path, blob->data, blob->len, &times, err);
}

/* A quarantine or delete entry: the file back at its path with its bytes
 * (verified) and its 8.3 name. */
static int undo_file(struct vol *v, const struct blob *blob, json_t *ent, json_t *out,
                     struct lb_err *err)
{
	const char *action = json_string_value(json_object_get(ent, "action"));
	const char *path = json_string_value(json_object_get(ent, "path"));
	const char *sha = json_string_value(json_object_get(ent, "sha256"));
	struct lb_ntfs *ntfs = v->lv.ntfs;
	struct lb_ntfs_stat st;
	int rc = lb_ntfs_stat(ntfs, path, &st, err);

	if (rc < 0)
		return -1;
	if (rc == 0 && holds(ntfs, path, sha)) {
		/* back already; the 8.3 name may be missing (an undo cut short) */
		rc = short_back(ntfs, path, ent, out, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && json_object_get(out, "reason"))
			json_object_set_new(out, "status", json_string("already_restored"));
		else if (rc == 0)
			undo_already(out);
		else
			json_object_set_new(out, "status", json_string("restored"));
		return rc ? 0 : 1;
	}
	if (rc == 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s exists again with other contents: the "
		                  "target changed since the fix; not restored", path);
	if (!strcmp(action, "quarantine") ? move_back(ntfs, path, sha, ent, out, err)
	                                  : recreate(ntfs, path, sha, blob, ent, err))
		return -1;
	if (!holds(ntfs, path, sha))
		return lb_err_set(err, LB_EK_IO, 0, "%s: restored bytes do not verify", path);
	if (short_back(ntfs, path, ent, out, err) < 0)
		return -1;
	json_object_set_new(out, "status", json_string("restored"));
	return 0;
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
	return lb_ntfs_stat(v->lv.ntfs, path, &st, &e) == 0 && holds(v->lv.ntfs, path, sha) &&
	       short_state(v->lv.ntfs, path, ent) != SHORT_MISSING;
}

static int undo_entry(struct vol *v, const struct bundle *b, json_t *ent, json_t *out,
                      struct lb_err *err)
{
	const char *action = json_string_value(json_object_get(ent, "action"));
	const char *path = json_string_value(json_object_get(ent, "path"));
	const char *sha = json_string_value(json_object_get(ent, "sha256"));
	const char *ap = json_string_value(json_object_get(ent, "archive_path"));
	const struct blob *blob = undo_find_blob(b, ap);

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
			return undo_already(out);
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
	if (strcmp(action, "quarantine") && strcmp(action, "delete"))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: unknown action \"%s\"", path, action);
	return undo_file(v, blob, ent, out, err);
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
		return undo_already(out);
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
		/* 2 for a bundle that is not one; 3 when libarchive is missing */
		ex = lb_exit_for(err.kind);
		json_object_set_new(r, "status", json_string("error"));
		json_array_append_new(reasons, json_string(err.msg));
		json_object_set_new(r, "exit_code", json_integer(ex));
		return ex;
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
