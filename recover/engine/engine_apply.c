/* engine_apply.c - apply phase: the evidence bundle first, then each
 * affected volume re-opened read-write (lb_volume), the planned changes
 * carried out after re-checking each file. */
#include "engine_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lb_evidence.h"
#include "lb_hivedit.h"
#include "lb_ntfs_replay.h"
#include "lb_source.h"
#include "lb_volume.h"

/* ---- apply phase ---- */

static int verify_unchanged(struct lb_ntfs *ntfs, const struct plan *p, struct lb_err *err)
{
	uint8_t *data = NULL;
	uint64_t len = 0;
	char sha[65];

	if (lb_ntfs_read_all(ntfs, p->path, FILE_MAX, &data, &len, err))
		return -1;
	lb_sha256_hex(data, (size_t)len, sha);
	free(data);
	if (len != p->len || strcmp(sha, p->sha256) != 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s changed since it was scanned; not touched",
		                  p->path);
	return 0;
}

/* Replaces a hive file by the planned new bytes (lb_hive_swap), after
 * checking that it and its logs are still what was planned from. */
static int apply_hive(struct run *run, struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                      struct lb_err *err)
{
	char suffix[64], bak[1100];
	size_t pl = strlen(p->path), i;
	json_t *moved, *f;

	if (verify_unchanged(ntfs, p, err))
		return -1;
	for (i = 0; p->replayed && i < v->nplans; i++) {
		struct plan *lp = &v->plans[i];

		if (lp->kind == PL_EVIDENCE_ONLY && !strncmp(lp->path, p->path, pl) &&
		    lp->path[pl] == '.' && verify_unchanged(ntfs, lp, err))
			return -1;
	}
	snprintf(suffix, sizeof(suffix), "loopbreaker-%s", run->stamp);
	if (lb_hive_swap(ntfs, p->path, p->newdata, p->newlen, p->new_sha, suffix, &p->st, bak,
	                 sizeof(bak), err))
		return -1;
	moved = json_array();
	/* The new hive is clean (equal sequence numbers) and already holds the
	 * logged changes: set the old logs aside so nothing replays them. */
	if (p->replayed && lb_hive_logs_aside(ntfs, p->path, suffix, moved, err)) {
		json_decref(moved);
		return -1;
	}
	json_array_foreach(p->findings, i, f) {
		json_object_set_new(f, "action", json_string(json_is_null(json_object_get(f, "new")) ?
		                                             "deleted" : "set"));
		json_object_set_new(f, "reason", json_null());
		json_object_set_new(f, "hive_backup", json_string(bak));
		if (p->replayed)
			json_object_set(f, "logs_moved", moved);
	}
	json_decref(moved);
	p->done = true;
	return 0;
}

static int apply_hive_complete(struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                               struct lb_err *err)
{
	char newp[1100];
	struct lb_ntfs_stat st;
	struct plan chk = *p;

	if ((size_t)snprintf(newp, sizeof(newp), "%s.loopbreaker-new", p->path) >= sizeof(newp))
		return lb_err_set(err, LB_EK_INTERNAL, 0, "path too long");
	if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s reappeared since the scan; not touched",
		                  p->path);
	snprintf(chk.path, sizeof(chk.path), "%s", newp);
	if (lb_ntfs_stat(ntfs, newp, &st, err) != 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s vanished since the scan", newp);
	chk.len = st.size;
	if (verify_unchanged(ntfs, &chk, err) || lb_ntfs_move(ntfs, newp, p->path, err))
		return -1;
	eng_reason(v->j, "interrupted hive replacement completed: %s -> %s", newp, p->path);
	p->done = true;
	return 0;
}

static int apply_plan(struct run *run, struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                      struct lb_err *err)
{
	char qdir[256], qpath[1024];
	struct lb_ntfs_stat st;
	int rc;

	if (p->kind == PL_HIBER_INVALIDATE) {
		static const uint8_t zero[4] = { 0 };

		/* Clearing the signature makes Windows cold-boot instead of
		 * resuming a session that no longer matches the disk. */
		if (lb_ntfs_pwrite(ntfs, p->path, zero, sizeof(zero), 0, err))
			return -1;
		eng_reason(v->j, "hibernated session discarded (hiberfil.sys signature cleared) at "
		           "the operator's request");
		p->done = true;
		return 0;
	}
	if (p->kind == PL_EVIDENCE_ONLY || p->kind == PL_MFTMIRR)
		return 0; /* a log: checked with its hive; the mirror: before the mount */
	if (p->kind == PL_HIVE_COMPLETE)
		return apply_hive_complete(v, ntfs, p, err);
	if (p->kind == PL_HIVE)
		return apply_hive(run, v, ntfs, p, err);
	if (verify_unchanged(ntfs, p, err))
		return -1;
	if (p->kind == PL_DELETE) {
		struct lb_ntfs_shape sh;
		char why[1024];

		/* as planned: nothing undo could not put back (a stream or a
		 * link added since would be lost) */
		if (lb_ntfs_shape(ntfs, p->path, &sh, err))
			return -1;
		if (eng_delete_refusal(&sh, why, sizeof(why)))
			return lb_err_set(err, LB_EK_REFUSED, 0, "%s %s", p->path, why);
		if (lb_ntfs_unlink(ntfs, p->path, err))
			return -1;
		if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1)
			return lb_err_set(err, LB_EK_IO, 0, "%s still present after delete", p->path);
		json_object_set_new(p->finding, "action", json_string("deleted"));
		p->done = true;
		return 0;
	}
	snprintf(qdir, sizeof(qdir), "\\loopbreaker.quarantine\\%s", run->stamp);
	if (lb_ntfs_mkdir_p(ntfs, qdir, err)) {
		/* \loopbreaker.quarantine itself may be damaged (an earlier run
		 * cut off mid-way): use a fresh top-level directory instead. */
		struct lb_err e2;

		snprintf(qdir, sizeof(qdir), "\\loopbreaker.quarantine-%s", run->stamp);
		lb_err_clear(&e2);
		if (lb_ntfs_mkdir_p(ntfs, qdir, &e2))
			return -1;
		eng_reason(v->j, "quarantine directory unusable (%s); used %s", err->msg, qdir);
		lb_err_clear(err);
	}
	/* A free name: name, name.1, name.2…  The file itself may already
	 * carry a name here without a directory entry (a run cut off
	 * mid-link in the same second), which makes the link fail with
	 * EEXIST: take the next name then too. */
	for (int n = 0;; n++) {
		if (n == 0)
			snprintf(qpath, sizeof(qpath), "%s\\%s", qdir, p->name);
		else
			snprintf(qpath, sizeof(qpath), "%s\\%s.%d", qdir, p->name, n);
		rc = lb_ntfs_stat(ntfs, qpath, &st, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && n < 100)
			continue;
		if (lb_ntfs_move(ntfs, p->path, qpath, err) == 0)
			break;
		if (err->sys_errno != EEXIST || n >= 100)
			return -1;
		lb_err_clear(err);
	}
	if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1 || lb_ntfs_stat(ntfs, qpath, &st, err) != 0 ||
	    st.size != p->len)
		return lb_err_set(err, LB_EK_IO, 0, "%s: move to %s did not verify", p->path, qpath);
	json_object_set_new(p->finding, "action", json_string("quarantined"));
	json_object_set_new(p->finding, "quarantine_path", json_string(qpath));
	p->done = true;
	return 0;
}

/* --replay-journal: ntfsrecover on the raw partition, which must leave a
 * clean journal.  0, or -1 with err. */
static int replay_journal(struct lb_source *src, struct volume *v, struct lb_err *err)
{
	const struct lb_volume_opts ro = { .writable = false };
	struct lb_volume vol;
	struct lb_ntfs_state st;
	char out[2048];

	if (v->bitlocker)
		return lb_err_set(err, LB_EK_REFUSED, 0, "the NTFS journal inside a BitLocker volume "
		                  "cannot be replayed by ntfsrecover here; nothing was written "
		                  "(--discard-journal resets it)");
	if (lb_ntfs_replay_journal(src, v->part.number, v->part.offset, v->part.size, out,
	                           sizeof(out), err))
		return -1;
	/* ntfsrecover must have left a clean journal */
	if (lb_volume_open(src, &v->part, &ro, &vol, err))
		return -1;
	lb_ntfs_state(vol.ntfs, &st, err);
	lb_volume_close(&vol, err);
	if (!st.journal_known || !st.journal_clean)
		return lb_err_set(err, LB_EK_REFUSED, 0, "the NTFS journal is still not clean after "
		                  "ntfsrecover: nothing was written");
	eng_reason(v->j, "NTFS journal replayed with ntfsrecover before the fix");
	json_object_set_new(json_object_get(v->j, "state"), "journal_replayed", json_true());
	return 0;
}

bool eng_stopping(struct run *run)
{
	if (!run->stopped && run->o->stop && *run->o->stop)
		run->stopped = *run->o->stop;
	return run->stopped != 0;
}

void eng_point(struct run *run, const char *point)
{
	if (run->o->at_point)
		run->o->at_point(point, run->o->point_ctx);
}

static const char *signame(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/* The run stopped before plans from.. of v were carried out. */
static void skip_volume(struct run *run, struct volume *v, size_t from)
{
	char why[96];

	if (from >= v->nplans)
		return;
	snprintf(why, sizeof(why), "interrupted (%s) before this change", signame(run->stopped));
	for (size_t i = from; i < v->nplans; i++)
		if (!v->plans[i].done)
			eng_plan_mark(&v->plans[i], "skipped", why);
	eng_attention(v, "interrupted (%s): %zu planned change%s not made; run fix again",
	              signame(run->stopped), v->nplans - from, v->nplans - from == 1 ? "" : "s");
}

static void apply_volume(struct run *run, struct lb_source *src, struct volume *v)
{
	const struct lb_options *o = run->o;
	struct lb_volume_opts vo = { .writable = true, .unlock = o->unlock, .bl = v->bl,
	                             .bl_probed = true, .wrap_io = o->wrap_io,
	                             .wrap_ctx = o->wrap_ctx };
	struct lb_volume vol;
	struct plan *mirr = NULL;
	struct lb_err err;
	double t0 = eng_now_ms();
	int rc;

	lb_err_clear(&err);
	if (o->discard_hibernation && v->hibernated)
		vo.ntfs_flags |= LB_NTFS_DISCARD_HIBERNATION;
	if (o->replay_journal && v->journal_unclean && !o->discard_journal) {
		if (replay_journal(src, v, &err)) {
			eng_error(v, &err);
			goto skipped;
		}
	} else if (o->discard_journal && v->journal_unclean) {
		vo.ntfs_flags |= LB_NTFS_DISCARD_JOURNAL;
	}
	/* libntfs-3g mounts nothing with a stale mirror: lb_volume repairs it
	 * first when it was planned */
	for (size_t i = 0; i < v->nplans && !mirr; i++)
		if (v->plans[i].kind == PL_MFTMIRR)
			mirr = &v->plans[i];
	vo.mirr = mirr ? &v->mirr : NULL;
	rc = lb_volume_open(src, &v->part, &vo, &vol, &err);
	if (vol.mirr_repaired) {
		json_object_set_new(mirr->finding, "action", json_string("repaired"));
		json_object_set_new(mirr->finding, "state", json_string("ok"));
		json_object_set_new(json_object_get(v->j, "state"), "mft_mirror",
		                    json_string("repaired"));
		eng_reason(v->j, "%s: rewritten from $MFT before any other change", v->mirr.why);
		mirr->done = true;
	}
	if (rc) {
		eng_error(v, &err);
		goto skipped;
	}
	if (vo.ntfs_flags & LB_NTFS_DISCARD_JOURNAL)
		eng_reason(v->j, "NTFS journal reset at the operator's request (--discard-journal)");
	for (size_t i = 0; i < v->nplans; i++) {
		struct plan *p = &v->plans[i];

		if (eng_stopping(run)) {
			skip_volume(run, v, i);
			break;
		}
		if (apply_plan(run, v, vol.ntfs, p, &err)) {
			eng_plan_mark(p, "failed", err.msg);
			eng_error(v, &err);
			lb_err_clear(&err);
		} else if (p->done) {
			char point[32];

			snprintf(point, sizeof(point), "applied:%u", ++run->napplied);
			eng_point(run, point);
		}
	}
	if (lb_volume_unmount(&vol, &err))
		eng_error(v, &err);
	if (lb_io_sync(vol.io, &err))
		eng_error(v, &err);
	v->writes = vol.io->writes;
	lb_volume_close(&vol, NULL);
	v->fix_ms = eng_now_ms() - t0;
	if (v->status == VS_CLEAN)
		v->status = VS_FIXED;
	return;
skipped:
	for (size_t i = 0; i < v->nplans; i++)
		eng_plan_mark(&v->plans[i], "failed", err.msg);
}

/* Every plan of every volume, as bundle items (meta carries the volume's
 * identity).  NULL when there is nothing to keep (or no memory). */
static struct lb_evidence_item *collect_items(struct run *run, size_t *n)
{
	struct lb_evidence_item *items = NULL, *ni;
	size_t cap = 0;

	*n = 0;
	for (size_t ti = 0; ti < run->ntargets; ti++)
		for (int vi = 0; vi < run->targets[ti].nvols; vi++) {
			struct volume *v = &run->targets[ti].vols[vi];

			for (size_t i = 0; i < v->nplans; i++) {
				if (*n == cap) {
					cap = cap ? cap * 2 : 8;
					ni = realloc(items, cap * sizeof(*ni));
					if (!ni) {
						free(items);
						*n = 0;
						return NULL;
					}
					items = ni;
				}
				if (v->id)
					json_object_set(v->plans[i].meta, "identity", v->id);
				items[*n].meta = v->plans[i].meta;
				items[*n].data = v->plans[i].data;
				items[*n].len = (size_t)v->plans[i].len;
				items[*n].name = v->plans[i].name;
				items[*n].mtime_unix = v->plans[i].mtime_unix;
				(*n)++;
			}
		}
	return items;
}

/* The default bundle name: loopbreaker-evidence-<stamp>.tar.zst, then
 * -2, -3... for later runs in the same second. */
static void default_name(struct run *run, int k, char *path, size_t n)
{
	if (k == 1)
		snprintf(path, n, "loopbreaker-evidence-%s.tar.zst", run->stamp);
	else
		snprintf(path, n, "loopbreaker-evidence-%s-%d.tar.zst", run->stamp, k);
}

/* Writes the bundle under a temporary name, then names it.  0 done; 1
 * interrupted before it was named (removed again); -1 with err. */
static int write_evidence(struct run *run, struct lb_evidence_item *items, size_t n,
                          char path[4096], char sha[65], struct lb_err *err)
{
	const bool chosen = run->o->evidence_path != NULL;
	struct stat st;
	char tmp[4200];
	json_t *hdr;
	int k = 1, rc;

	if (chosen)
		snprintf(path, 4096, "%s", run->o->evidence_path);
	else
		for (default_name(run, k, path, 4096); lstat(path, &st) == 0 && k < 1000;)
			default_name(run, ++k, path, 4096);
	hdr = json_pack("{s:s, s:s, s:s, s:s}", "schema", "loopbreaker-evidence/1", "tool_version",
	                LB_VERSION, "created_at",
	                json_string_value(json_object_get(run->report, "started_at")),
	                "quarantine_dir", run->stamp);
	rc = lb_evidence_write(path, hdr, items, n, tmp, sizeof(tmp), sha, err);
	json_decref(hdr);
	if (rc)
		return -1;
	eng_point(run, "evidence-written");
	if (eng_stopping(run)) {
		lb_evidence_discard(tmp);
		return 1;
	}
	/* another run took the default name meanwhile: the next one */
	while ((rc = lb_evidence_commit(tmp, path, err)) && !chosen && err->sys_errno == EEXIST &&
	       k < 1000) {
		default_name(run, ++k, path, 4096);
		lb_err_clear(err);
	}
	if (rc) {
		lb_evidence_discard(tmp);
		return -1;
	}
	eng_point(run, "evidence-committed");
	return 0;
}

/* No bundle, no change: every plan skipped, with why. */
static void skip_all(struct run *run, size_t from, const struct lb_err *err, const char *why)
{
	for (size_t ti = from; ti < run->ntargets; ti++)
		for (int vi = 0; vi < run->targets[ti].nvols; vi++) {
			struct volume *v = &run->targets[ti].vols[vi];

			if (run->stopped) {
				skip_volume(run, v, 0);
				continue;
			}
			for (size_t i = 0; i < v->nplans; i++)
				eng_plan_mark(&v->plans[i], "skipped", why);
			if (v->nplans)
				eng_error(v, err);
		}
}

/* The changes planned on one target: its volumes, then its ESP. */
static void apply_target(struct run *run, struct target *t)
{
	struct lb_source src;
	struct lb_err err;
	uint64_t w = 0;

	lb_err_clear(&err);
	if (lb_source_open(t->path, true, &src, &err)) {
		/* a read-only image or device: every change failed */
		for (int vi = 0; vi < t->nvols; vi++)
			for (size_t i = 0; i < t->vols[vi].nplans; i++) {
				eng_plan_mark(&t->vols[vi].plans[i], "failed", err.msg);
				if (i == 0)
					eng_error(&t->vols[vi], &err);
			}
		return;
	}
	for (int vi = 0; vi < t->nvols; vi++)
		if (t->vols[vi].nplans && !t->vols[vi].esp) {
			if (eng_stopping(run))
				skip_volume(run, &t->vols[vi], 0);
			else
				apply_volume(run, &src, &t->vols[vi]);
		}
	/* the boot configuration last: the repaired Windows is in place */
	for (int vi = 0; vi < t->nvols; vi++)
		if (t->vols[vi].nplans && t->vols[vi].esp) {
			if (eng_stopping(run))
				skip_volume(run, &t->vols[vi], 0);
			else
				eng_apply_esp(run, t, &t->vols[vi]);
		}
	if (lb_io_sync(src.io, &err))
		for (int vi = 0; vi < t->nvols; vi++)
			if (t->vols[vi].nplans)
				eng_error(&t->vols[vi], &err);
	for (int vi = 0; vi < t->nvols; vi++)
		w += t->vols[vi].writes;
	json_object_set_new(t->j, "writes", json_integer((json_int_t)w));
	lb_source_close(&src);
}

void eng_apply_all(struct run *run)
{
	struct lb_evidence_item *items;
	size_t n;
	char path[4096], sha[65];
	struct lb_err err;
	int rc;

	items = collect_items(run, &n);
	if (n == 0)
		return;
	lb_err_clear(&err);
	rc = eng_stopping(run) ? 1 : write_evidence(run, items, n, path, sha, &err);
	free(items);
	if (rc > 0) {
		eng_reason(run->report, "interrupted (%s) before the evidence bundle was complete "
		           "and named: nothing was changed, no bundle was left", signame(run->stopped));
		skip_all(run, 0, &err, NULL);
		return;
	}
	if (rc < 0) {
		eng_reason(run->report, "evidence bundle could not be written, nothing was changed: %s",
		           err.msg);
		skip_all(run, 0, &err, "evidence bundle not written");
		return;
	}
	json_object_set_new(run->report, "evidence", json_pack("{s:s, s:s, s:I}", "path", path,
	                    "sha256", sha, "files", (json_int_t)n));
	for (size_t ti = 0; ti < run->ntargets; ti++) {
		struct target *t = &run->targets[ti];
		bool need = false;

		for (int vi = 0; vi < t->nvols; vi++)
			need |= t->vols[vi].nplans > 0;
		if (need)
			apply_target(run, t);
	}
}
