/* lb_engine.c - lb_engine_run: plan (scan every target and volume), back
 * up and apply, report.  The pieces are in engine_*.c (engine_int.h). */
#include "lb_engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "lb_source.h"
#include "lb_volume.h"
#include "lb_windows.h"
#include "target_id.h"

/* A partition blkid could not name may still be a damaged NTFS: NTFS keeps
 * a backup boot sector in the last sector of the volume. */
static bool looks_like_damaged_ntfs(struct lb_source *src, const struct lb_part *p)
{
	char oem[8];
	struct lb_err e;
	const unsigned sizes[] = { 512, 4096 };

	if (p->size < 8192 || p->truncated)
		return false;
	if (lb_io_pread(src->io, oem, 8, p->offset + 3, &e) == 0 && memcmp(oem, "NTFS    ", 8) == 0)
		return true;
	for (size_t i = 0; i < 2; i++)
		if (lb_io_pread(src->io, oem, 8, p->offset + p->size - sizes[i] + 3, &e) == 0 &&
		    memcmp(oem, "NTFS    ", 8) == 0)
			return true;
	return false;
}

static void plan_mirror(struct run *run, struct target *t, struct volume *v)
{
	size_t span = (size_t)v->mirr.nrecords * v->mirr.record_size;
	json_t *recs = json_array();
	struct plan *p;
	uint8_t *data;

	for (unsigned i = 0; i < v->mirr.nrecords; i++)
		if (v->mirr.stale & 1u << i)
			json_array_append_new(recs, json_integer(i));
	v->mirr_j = json_pack("{s:s, s:o, s:s, s:o}", "state", "stale", "records", recs,
	                      "action", run->o->fix ? "planned" : "would_repair", "reason",
	                      json_string(v->mirr.why));
	json_object_set_new(v->j, "mft_mirror", v->mirr_j);
	if (!run->o->fix) {
		v->would++;
		eng_attention(v, "%s (an MFT extension was cut off, e.g. by a power cut during an "
		              "earlier fix): libntfs-3g refuses such a volume; fix rewrites the "
		              "mirror from $MFT, as chkdsk would", v->mirr.why);
		return;
	}
	data = malloc(span);
	if (!data)
		return;
	memcpy(data, v->mirr.mirror, span);
	p = eng_plan_bytes(v, PL_MFTMIRR, "\\$MFTMirr", "MFTMirr.records", data, span, v->mirr_j);
	if (!p)
		return;
	p->meta = json_pack("{s:s, s:i, s:I, s:O?, s:s, s:s, s:I, s:I, s:s, s:s}", "target",
	                    t->path, "partition", v->part.number, "offset", (json_int_t)v->part.offset,
	                    "volume_serial", json_object_get(v->j, "serial"), "path", "\\$MFTMirr",
	                    "action", "repair_mftmirr", "volume_offset",
	                    (json_int_t)v->mirr.mirror_off, "size", (json_int_t)span, "sha256",
	                    p->sha256, "note", "the $MFTMirr records before they were rewritten "
	                    "from $MFT; not restored by undo (a stale mirror makes the volume "
	                    "unreadable to libntfs-3g)");
}

/* Opens partition p read-only into vol (BitLocker unlocked, through a
 * $MFTMirr view if the mirror is stale).  0 open; 1 not NTFS (nothing to
 * scan); -1 failed (reported on v). */
static int open_for_scan(struct run *run, struct target *t, struct lb_source *src,
                         const struct lb_part *p, struct volume *v, struct lb_volume *vol)
{
	struct lb_volume_opts vo = { .unlock = run->o->unlock, .mirr = &v->mirr };
	struct lb_err err;
	int rc;

	lb_err_clear(&err);
	if (p->truncated) {
		lb_err_set(&err, LB_EK_INPUT, 0,
		           "partition %d at offset %" PRIu64 " (%" PRIu64 " bytes) extends past the end "
		           "of %s (%" PRIu64 " bytes): truncated image?", p->number, p->offset, p->size,
		           t->path, src->io->size);
		eng_error(v, &err);
		return -1;
	}
	if (strcmp(p->fstype, "BitLocker") == 0) {
		v->bitlocker = true;
		v->bl = calloc(1, sizeof(*v->bl));
		if (!v->bl) {
			eng_error(v, &err);
			return -1;
		}
		vo.bl = v->bl;
	} else if (strcmp(p->fstype, "ntfs") != 0) {
		if (!p->fstype[0] && looks_like_damaged_ntfs(src, p)) {
			lb_err_set(&err, LB_EK_INPUT, 0, "partition %d: NTFS boot sector is damaged or "
			           "unreadable (a backup boot sector exists; repair with chkdsk /f or "
			           "ntfsfix -b on a copy)", p->number);
			json_object_set_new(v->j, "filesystem", json_string("ntfs"));
			eng_error(v, &err);
		}
		return 1;
	}
	rc = lb_volume_open(src, p, &vo, vol, &err);
	if (vol->probed)
		json_object_set_new(v->j, "bitlocker", eng_bitlocker_json(v->bl));
	if (vol->unlocked) {
		json_object_set_new(json_object_get(v->j, "bitlocker"), "unlocked", json_true());
		json_object_set_new(json_object_get(v->j, "bitlocker"), "unlocked_with",
		                    json_pack("{s:s, s:s}", "protector", vol->protector, "source",
		                              vol->key_source));
		eng_used_protector(run, v, vol->protector, vol->key_source);
	}
	if (rc) {
		if (v->mirr.state == LB_MIRR_DAMAGED)
			lb_err_set(&err, LB_EK_INPUT, 0, "%s: cannot open NTFS: %s; repair it with "
			           "chkdsk /f (or ntfsfix on a copy)", vol->name, v->mirr.why);
		eng_error(v, &err);
		return -1;
	}
	return 0;
}

/* The volume's identity and state, into the report. */
static void state_json(struct run *run, struct target *t, struct volume *v,
                       const struct lb_ntfs_state *st)
{
	char serial[32];

	snprintf(serial, sizeof(serial), "%016" PRIX64, st->serial);
	json_object_set_new(v->j, "label", eng_str_or_null(st->label));
	json_object_set_new(v->j, "serial", json_string(serial));
	json_object_set_new(v->j, "ntfs_version", json_string(st->ntfs_version));
	json_object_set_new(v->j, "cluster_size", json_integer(st->cluster_size));
	json_object_set_new(v->j, "state", json_pack("{s:b, s:o, s:s, s:o, s:b}",
	                    "hibernated", st->hibernated,
	                    "hiberfil_magic", eng_str_or_null(st->hiber_magic),
	                    "journal", !st->journal_known ? "unknown" :
	                               st->journal_clean ? "clean" : "unclean",
	                    "journal_version", eng_str_or_null(st->journal_version),
	                    "dirty", st->dirty));
	v->hibernated = st->hibernated;
	v->journal_unclean = !st->journal_known || !st->journal_clean;
	json_object_set_new(json_object_get(v->j, "state"), "mft_mirror",
	                    json_string(v->mirr.state == LB_MIRR_STALE ? "stale" : "ok"));
	if (v->mirr.state == LB_MIRR_STALE)
		plan_mirror(run, t, v);
}

/* Every installation on the volume: identity, file rules, registry rules. */
static int scan_installs(struct run *run, struct target *t, struct volume *v,
                         struct lb_ntfs *ntfs, json_t *jinst, struct lb_err *err)
{
	struct lb_install *inst = NULL;
	int ninst = 0, rc = 0;

	if (lb_windows_find(ntfs, &inst, &ninst, err))
		return -1;
	v->ninstalls = ninst;
	for (int i = 0; i < ninst; i++) {
		json_t *ji;

		lb_windows_identify(ntfs, &inst[i]);
		ji = eng_install_json(&inst[i]);
		json_array_append_new(jinst, ji);
		if (inst[i].system.present && !inst[i].system.ok)
			eng_attention(v, "%s: SYSTEM hive is damaged (%s): Windows may not boot even "
			              "when the playbook's fix is applied", inst[i].system_root,
			              inst[i].system.error);
		else if (!inst[i].system.present)
			eng_attention(v, "%s: SYSTEM hive cannot be read: %s", inst[i].system_root,
			              inst[i].system.error[0] ? inst[i].system.error : "missing");
		if (eng_scan_rules(run, t, v, ntfs, inst[i].system_root,
		                   json_object_get(ji, "findings"), err)) {
			rc = -1;
			goto out;
		}
		eng_scan_hive(run, t, v, ntfs, inst[i].system_root, "SYSTEM",
		              json_object_get(ji, "findings"));
		eng_scan_hive(run, t, v, ntfs, inst[i].system_root, "SOFTWARE",
		              json_object_get(ji, "findings"));
	}
	/* volume-root rules are reported with the first installation */
	if (ninst > 0 && eng_scan_rules(run, t, v, ntfs, NULL,
	                                json_object_get(json_array_get(jinst, 0), "findings"), err))
		rc = -1;
out:
	free(inst);
	return rc;
}

/* Would a fix be allowed to write here?  If not, drops the plans and says
 * why on each finding; if the operator discards hibernation, plans that. */
static void check_writable(struct run *run, struct target *t, struct volume *v,
                           struct lb_ntfs *ntfs, const struct lb_ntfs_state *st)
{
	const struct lb_options *o = run->o;
	bool pending = v->nplans > 0 || v->would > 0;

	if (pending && st->hibernated && !o->discard_hibernation) {
		eng_attention(v, "%sWindows is hibernated (Fast Startup, hiberfil.sys \"%s\"): writing "
		              "now could corrupt the volume when Windows resumes; nothing was written. "
		              "Shut Windows down fully, or rerun with --discard-hibernation to discard "
		              "the hibernated session", o->fix ? "" : "fix will refuse: ", st->hiber_magic);
	} else if (pending && v->journal_unclean && !o->discard_journal && !o->replay_journal) {
		eng_attention(v, "%sthe NTFS journal ($LogFile%s%s) holds changes Windows has not "
		              "applied: nothing was written. Rerun with --replay-journal to apply "
		              "them first (ntfsrecover, as Windows would at boot), or with "
		              "--discard-journal to reset the journal (its unapplied changes are lost)",
		              o->fix ? "" : "fix will refuse: ",
		              st->journal_version[0] ? " v" : "", st->journal_version);
	} else {
		pending = false;
	}
	if (pending) {
		/* refused: drop the plans, say why on each finding */
		for (size_t i = 0; i < v->nplans; i++) {
			eng_plan_mark(&v->plans[i], "refused", st->hibernated && !o->discard_hibernation
			              ? "volume is hibernated (--discard-hibernation)"
			              : "NTFS journal not replayed (--replay-journal or --discard-journal)");
			free(v->plans[i].data);
			free(v->plans[i].newdata);
			json_decref(v->plans[i].findings);
			json_decref(v->plans[i].meta);
		}
		free(v->plans);
		v->plans = NULL;
		v->nplans = 0;
	} else if (v->nplans > 0 && st->hibernated && o->discard_hibernation) {
		eng_plan_hiber(v, ntfs, t->path);
	}
}

static void scan_volume(struct run *run, struct target *t, struct lb_source *src,
                        const struct lb_part *p, struct volume *v)
{
	struct lb_volume vol;
	struct lb_ntfs_state st;
	struct lb_err err;
	json_t *jinst = json_array();
	double t0 = eng_now_ms(), t1;

	lb_err_clear(&err);
	json_object_set_new(v->j, "installs", jinst);
	if (open_for_scan(run, t, src, p, v, &vol))
		return;
	t1 = eng_now_ms();
	v->open_ms = t1 - t0;
	lb_ntfs_state(vol.ntfs, &st, &err);
	state_json(run, t, v, &st);
	eng_check_interrupted_swaps(run, t, v, vol.ntfs);
	if (scan_installs(run, t, v, vol.ntfs, jinst, &err))
		eng_error(v, &err);
	else
		check_writable(run, t, v, vol.ntfs, &st);
	v->scan_ms = eng_now_ms() - t1;
	if (lb_volume_close(&vol, &err))
		eng_error(v, &err);
}

static void scan_target(struct run *run, struct target *t)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_err err;
	json_t *vols = json_array();

	lb_err_clear(&err);
	json_object_set_new(t->j, "path", json_string(t->path));
	json_object_set_new(t->j, "volumes", vols);
	json_object_set_new(t->j, "error", json_null());
	eng_origin_name(run->o, t);
	/* one owner per target, held until the end of the run (lb_claim.c) */
	if (lb_source_claim(t->path, run->o->fix, &t->claim, &err) ||
	    lb_source_open(t->path, false, &src, &err)) {
		json_object_set_new(t->j, "error", json_string(err.msg));
		t->exit_code = lb_exit_for(err.kind);
		return;
	}
	t->opened = true;
	json_object_set_new(t->j, "type", json_string(lb_source_type(&src)));
	json_object_set_new(t->j, "format", json_string(src.format));
	if (!strcmp(src.format, "qcow2"))
		json_object_set_new(t->j, "snapshots", eng_qcow2_snapshots(t->path));
	json_object_set_new(t->j, "size", json_integer((json_int_t)src.io->size));
	if (eng_origin_check(run->o, t, &src, &err) || lb_partition_scan(&src, &disk, &err)) {
		json_object_set_new(t->j, "error", json_string(err.msg));
		t->exit_code = lb_exit_for(err.kind);
		lb_source_close(&src);
		return;
	}
	t->id = tid_disk(t->path, &src, &disk);
	json_object_set_new(t->j, "sector_size", json_integer(disk.sector_size));
	json_object_set_new(t->j, "partition_table", eng_str_or_null(disk.pttype));
	t->vols = calloc((size_t)disk.nparts, sizeof(*t->vols));
	if (!t->vols) {
		json_object_set_new(t->j, "error", json_string("out of memory"));
		t->exit_code = LB_EXIT_INTERNAL;
		lb_partition_free(&disk);
		lb_source_close(&src);
		return;
	}
	t->nvols = disk.nparts;
	for (int i = 0; i < disk.nparts; i++) {
		struct volume *v = &t->vols[i];

		v->j = eng_volume_json(t->path, &disk.parts[i]);
		json_array_append_new(vols, v->j);
		v->part = disk.parts[i];
		scan_volume(run, t, &src, &disk.parts[i], v);
		v->id = tid_volume(t->id, &src, &disk, &disk.parts[i],
		                   json_string_value(json_object_get(v->j, "serial")));
	}
	eng_scan_bcd(run, t, &disk, (size_t)(t - run->targets));
	lb_partition_free(&disk);
	lb_source_close(&src);
}

/* A fix interrupted before this target was scanned: nothing done on it. */
static void not_scanned(struct target *t)
{
	json_object_set_new(t->j, "path", json_string(t->path));
	json_object_set_new(t->j, "volumes", json_array());
	json_object_set_new(t->j, "error", json_string("not scanned: the run was interrupted"));
	t->exit_code = LB_EXIT_INTERNAL;
}

int lb_engine_run(const struct lb_options *o, const char *const *targets, size_t ntargets,
                  json_t **report)
{
	struct run run;
	json_t *r, *pbs, *jt;
	char iso[32];
	time_t now = time(NULL);
	struct tm tm;
	double t0 = eng_now_ms();
	const char **list;
	int ex;

	memset(&run, 0, sizeof(run));
	run.o = o;
	gmtime_r(&now, &tm);
	strftime(run.stamp, sizeof(run.stamp), "%Y%m%dT%H%M%SZ", &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = json_object();
	run.report = r;
	pbs = json_array();
	for (size_t i = 0; i < o->nplaybooks; i++)
		json_array_append_new(pbs, json_string(o->playbooks[i]->name));
	json_object_set_new(r, "schema", json_string("loopbreaker-report/1"));
	json_object_set_new(r, "tool", json_pack("{s:s, s:s}", "name", "loopbreaker", "version",
	                                         LB_VERSION));
	json_object_set_new(r, "mode", json_string(o->fix ? "fix" : "scan"));
	json_object_set_new(r, "playbooks", pbs);
	json_object_set_new(r, "options", json_pack("{s:b, s:b, s:b, s:b, s:b}", "force", o->force,
	                    "delete", o->delete_files, "discard_hibernation", o->discard_hibernation,
	                    "discard_journal", o->discard_journal, "replay_journal",
	                    o->replay_journal));
	json_object_set_new(r, "started_at", json_string(iso));
	json_object_set_new(r, "finished_at", json_null());
	json_object_set_new(r, "duration_ms", json_null());
	json_object_set_new(r, "status", json_null());
	json_object_set_new(r, "exit_code", json_null());
	json_object_set_new(r, "reasons", json_array());
	json_object_set_new(r, "hostname", json_null());
	json_object_set_new(r, "evidence", json_null());
	json_object_set_new(r, "bitlocker_protectors_used", json_array());
	jt = json_array();
	json_object_set_new(r, "targets", jt);

	run.targets = calloc(ntargets ? ntargets : 1, sizeof(*run.targets));
	list = calloc(ntargets ? ntargets : 1, sizeof(*list));
	if (!run.targets || !list) {
		free(run.targets);
		free(list);
		*report = r;
		return LB_EXIT_INTERNAL;
	}
	/* one disk, one target: the same image twice would be two writers */
	memcpy(list, targets, ntargets * sizeof(*list));
	tid_dedupe(list, &ntargets, json_object_get(r, "reasons"), stderr);
	run.ntargets = ntargets;
	for (size_t i = 0; i < ntargets; i++) {
		run.targets[i].path = list[i];
		run.targets[i].j = json_object();
		json_array_append_new(jt, run.targets[i].j);
		if (o->fix && eng_stopping(&run))
			not_scanned(&run.targets[i]);
		else
			scan_target(&run, &run.targets[i]);
	}
	if (o->fix)
		eng_apply_all(&run);
	for (size_t i = 0; i < run.ntargets; i++)
		lb_source_release(&run.targets[i].claim);
	eng_finish(&run, &ex);
	json_object_set_new(r, "duration_ms", json_integer((json_int_t)(eng_now_ms() - t0)));
	free(run.targets);
	free(list);
	*report = r;
	return ex;
}
