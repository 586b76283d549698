/* engine_bcd.c - the BCD rule, on the EFI System Partition of the same
 * disk: plan (read-only, on a local copy) and apply (lb_bcd_put). */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb_bcd.h"
#include "lb_evidence.h"
#include "lb_hivedit.h"

/* ---- plan phase: the BCD rule (on the ESP of the same disk) ---- */

static const char *safeboot_name(int m)
{
	switch (m) {
	case LB_SAFEBOOT_MINIMAL: return "minimal";
	case LB_SAFEBOOT_NETWORK: return "network";
	case LB_SAFEBOOT_DSREPAIR: return "dsrepair";
	default: return "none";
	}
}

static int run_tmpdir(struct run *run, struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");

	if (run->tmpdir[0])
		return 0;
	snprintf(run->tmpdir, sizeof(run->tmpdir), "%s/loopbreaker-run-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(run->tmpdir)) {
		run->tmpdir[0] = 0;
		return lb_err_set(err, LB_EK_IO, errno, "creating a temporary directory");
	}
	return 0;
}

/* \EFI\Microsoft\Boot\BCD missing, BCD.NEW a complete store: an earlier
 * fix was cut off between lb_bcd_put's two renames (nothing boots like
 * this).  cur: a local copy of BCD.NEW.  pending: the playbook whose change
 * BCD.NEW does not carry yet (NULL: it does). */
static void plan_bcd_complete(struct run *run, struct target *t, struct volume *esp, json_t *f,
                              const char *cur, const char *pending)
{
	struct plan *p;
	uint8_t *data = NULL;
	size_t len = 0;
	struct lb_err err;

	json_object_set_new(f, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD.NEW"));
	json_object_set_new(f, "interrupted", json_true());
	json_object_set_new(f, "verdict", json_string("interrupted"));
	if (!run->o->fix) {
		json_object_set_new(f, "action", json_string("would_complete"));
		json_object_set_new(f, "reason", json_string("run fix to rename BCD.NEW to BCD"));
		esp->would++;
		eng_attention(esp, "interrupted BCD replacement: \\EFI\\Microsoft\\Boot\\BCD is "
		              "missing and BCD.NEW holds a complete store (an earlier fix was cut off "
		              "between its two renames); Windows cannot boot like this: run fix");
		return;
	}
	lb_err_clear(&err);
	if (lb_hive_read_local(cur, &data, &len, &err)) {
		eng_error(esp, &err);
		return;
	}
	p = eng_plan_bytes(esp, PL_BCD_COMPLETE, LB_BCD_ESP_NEW_PATH, "BCD.NEW", data, len, f);
	if (!p)
		return;
	p->meta = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:I, s:s}", "target", t->path,
	                    "partition", esp->part.number, "offset", (json_int_t)esp->part.offset, "action",
	                    "complete_bcd_swap", "path", "\\EFI\\Microsoft\\Boot\\BCD.NEW",
	                    "sha256", p->sha256, "size", (json_int_t)len, "note",
	                    "BCD.NEW as found, renamed to BCD (undo keeps it)");
	json_object_set_new(f, "action", json_string("planned"));
	if (pending)
		eng_attention(esp, "%s: the completed BCD does not carry this playbook's change yet: "
		              "run fix again", pending);
}

/* The first FAT partition of the disk with \EFI\Microsoft\Boot\BCD (copied
 * to cur), or with only a complete BCD.NEW (*interrupted); NULL if none. */
static struct volume *find_esp(struct run *run, struct target *t, struct lb_disk *disk,
                               size_t tindex, char *cur, size_t curlen, bool *interrupted)
{
	struct lb_bcd_entry entry;
	struct lb_err err;

	for (int i = 0; i < disk->nparts && i < t->nvols; i++) {
		if (strcmp(disk->parts[i].fstype, "vfat") || disk->parts[i].truncated)
			continue;
		snprintf(cur, curlen, "%s/bcd-%zu-%d", run->tmpdir, tindex, disk->parts[i].number);
		unlink(cur);
		lb_err_clear(&err);
		if (lb_bcd_fetch(t->path, disk->parts[i].offset, cur, &err) == 0)
			return &t->vols[i];
		/* no BCD: a replacement cut off between its two renames? */
		unlink(cur);
		lb_err_clear(&err);
		if (lb_bcd_fetch_path(t->path, disk->parts[i].offset, LB_BCD_ESP_NEW_PATH, cur,
		                      &err) == 0 && lb_bcd_default(cur, &entry, &err) == 0) {
			*interrupted = true;
			return &t->vols[i];
		}
		unlink(cur);
	}
	return NULL;
}

static json_t *bcd_finding(const struct lb_playbook *pb, const struct lb_bcd_rule *rule,
                           const struct lb_bcd_entry *entry)
{
	json_t *f = json_object();
	int old = entry->safeboot;

	json_object_set_new(f, "kind", json_string("bcd"));
	json_object_set_new(f, "playbook", json_string(pb->name));
	json_object_set_new(f, "rule", json_string(rule->id));
	json_object_set_new(f, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD"));
	json_object_set_new(f, "entry", json_string(entry->guid));
	json_object_set_new(f, "description", json_string(entry->description));
	json_object_set_new(f, "element", json_string("25000080"));
	json_object_set_new(f, "old", json_string(safeboot_name(old)));
	json_object_set_new(f, "new", json_string(safeboot_name(rule->mode)));
	json_object_set_new(f, "verdict", json_string(old == rule->mode ? "ok" : "change"));
	json_object_set_new(f, "action", json_string("none"));
	json_object_set_new(f, "reason", json_null());
	json_object_set_new(f, "esp_backup", json_null());
	return f;
}

/* fix: the changed store, made locally from cur (removed), planned. */
static void plan_bcd_set(struct target *t, struct volume *esp, const struct lb_playbook *pb,
                         const struct lb_bcd_rule *rule, const struct lb_bcd_entry *entry,
                         json_t *f, const char *cur)
{
	char next[4200];
	struct lb_err err;
	uint8_t *data = NULL;
	size_t len = 0;
	int old = entry->safeboot;
	struct plan *p;

	lb_err_clear(&err);
	snprintf(next, sizeof(next), "%s.new", cur);
	unlink(next);
	if (lb_bcd_set_safeboot(cur, next, entry->guid, rule->mode, &old, &err) ||
	    lb_hive_read_local(cur, &data, &len, &err)) {
		json_object_set_new(f, "action", json_string("failed"));
		json_object_set_new(f, "reason", json_string(err.msg));
		eng_error(esp, &err);
		unlink(cur);
		unlink(next);
		free(data);
		return;
	}
	unlink(cur);
	p = eng_plan_bytes(esp, PL_BCD, next, "BCD", data, len, f);
	if (!p)
		return;
	p->bcd_mode = rule->mode;
	p->meta = json_object();
	json_object_set_new(p->meta, "target", json_string(t->path));
	json_object_set_new(p->meta, "partition", json_integer(esp->part.number));
	json_object_set_new(p->meta, "offset", json_integer((json_int_t)esp->part.offset));
	json_object_set_new(p->meta, "action", json_string("bcd_safeboot"));
	json_object_set_new(p->meta, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD"));
	json_object_set_new(p->meta, "playbook", json_string(pb->name));
	json_object_set_new(p->meta, "rule", json_string(rule->id));
	json_object_set_new(p->meta, "entry", json_string(entry->guid));
	json_object_set_new(p->meta, "old_mode", json_integer(old));
	json_object_set_new(p->meta, "new_mode", json_integer(rule->mode));
	json_object_set_new(p->meta, "old", json_string(safeboot_name(old)));
	json_object_set_new(p->meta, "new", json_string(safeboot_name(rule->mode)));
	json_object_set_new(p->meta, "sha256", json_string(p->sha256));
	json_object_set_new(p->meta, "size", json_integer((json_int_t)len));
	json_object_set_new(f, "action", json_string("planned"));
}

void eng_scan_bcd(struct run *run, struct target *t, struct lb_disk *disk, size_t tindex)
{
	const struct lb_options *o = run->o;
	const struct lb_playbook *pb = NULL;
	const struct lb_bcd_rule *rule = NULL;
	struct volume *esp = NULL, *attn = NULL;
	char cur[4200] = "";
	struct lb_bcd_entry entry;
	struct lb_err err;
	bool hib = false, interrupted = false;
	json_t *f, *list;
	int nrules = 0;

	lb_err_clear(&err);
	for (size_t i = 0; i < o->nplaybooks; i++)
		if (o->playbooks[i]->bcd) {
			if (!rule) {
				pb = o->playbooks[i];
				rule = pb->bcd;
			}
			nrules++;
		}
	if (!rule)
		return;
	for (int i = 0; i < t->nvols; i++) {
		if (t->vols[i].ninstalls && !attn)
			attn = &t->vols[i];
		hib |= t->vols[i].hibernated && t->vols[i].ninstalls;
	}
	if (run_tmpdir(run, &err)) {
		if (attn)
			eng_error(attn, &err);
		else
			t->exit_code = lb_exit_worse(t->exit_code, LB_EXIT_INTERNAL);
		return;
	}
	esp = find_esp(run, t, disk, tindex, cur, sizeof(cur), &interrupted);
	if (!esp) {
		if (attn)
			eng_attention(attn, "%s: no EFI System Partition with \\EFI\\Microsoft\\Boot\\BCD "
			              "on %s: BCD rule not applied", pb->name, t->path);
		else {
			eng_reason(t->j, "%s: no EFI System Partition with \\EFI\\Microsoft\\Boot\\BCD: "
			           "BCD rule not applied", pb->name);
			t->exit_code = lb_exit_worse(t->exit_code, LB_EXIT_ATTENTION);
		}
		return;
	}
	list = json_array();
	json_object_set_new(esp->j, "bcd", list);
	esp->esp = true;
	if (nrules > 1)
		eng_attention(esp, "%d playbooks have a BCD rule: only %s's is used", nrules, pb->name);
	lb_err_clear(&err);
	if (lb_bcd_default(cur, &entry, &err)) {
		eng_error(esp, &err);
		unlink(cur);
		return;
	}
	f = bcd_finding(pb, rule, &entry);
	json_array_append_new(list, f);
	if (interrupted) {
		plan_bcd_complete(run, t, esp, f, cur, entry.safeboot != rule->mode ? pb->name : NULL);
	} else if (entry.safeboot == rule->mode) {
		json_object_set_new(f, "reason", json_string("already set"));
	} else if (hib && !o->discard_hibernation) {
		json_object_set_new(f, "action", json_string("refused"));
		json_object_set_new(f, "reason", json_string("Windows is hibernated "
		                    "(--discard-hibernation)"));
		eng_attention(esp, "%sWindows on this disk is hibernated (Fast Startup): a resumed "
		              "session ignores the boot configuration; nothing was written. Shut Windows "
		              "down fully, or rerun with --discard-hibernation", o->fix ? "" :
		              "fix will refuse: ");
	} else if (!o->fix) {
		json_object_set_new(f, "action", json_string(rule->mode == LB_SAFEBOOT_NONE ?
		                                             "would_clear" : "would_set"));
		json_object_set_new(f, "reason", json_string("run fix to change it"));
		esp->would++;
		eng_attention(esp, "%s: safeboot of %s (%s) would be %s (run fix)", pb->name,
		              entry.guid, entry.description, safeboot_name(rule->mode));
	} else {
		plan_bcd_set(t, esp, pb, rule, &entry, f, cur);
		return; /* cur already removed */
	}
	unlink(cur);
}

/* Is the ESP file esp_path still what p was planned from (size, SHA-256)?
 * check: a free local path for the copy.  0, or -1 with err. */
static int esp_unchanged(struct target *t, struct volume *v, const struct plan *p,
                         const char *esp_path, const char *check, struct lb_err *err)
{
	uint8_t *d = NULL;
	size_t l = 0;
	char sha[65];
	int rc = -1;

	unlink(check);
	if (lb_bcd_fetch_path(t->path, v->part.offset, esp_path, check, err) == 0 &&
	    lb_hive_read_local(check, &d, &l, err) == 0) {
		lb_sha256_hex(d, l, sha);
		if (l != p->len || strcmp(sha, p->sha256))
			lb_err_set(err, LB_EK_REFUSED, 0, "%s changed since it was scanned; not touched",
			           esp_path + 2);
		else
			rc = 0;
	}
	free(d);
	unlink(check);
	return rc;
}

/* BCD on the ESP: re-check the file, then put the new one with lb_bcd_put
 * (the original stays on the ESP as BCD.LBn). */
void eng_apply_esp(struct run *run, struct target *t, struct volume *v)
{
	double t0 = eng_now_ms();

	for (size_t i = 0; i < v->nplans; i++) {
		struct plan *p = &v->plans[i];
		char check[4500], name[16];
		struct lb_err err;
		int rc = -1, dropped = 0;

		if (p->kind == PL_BCD_COMPLETE) {
			lb_err_clear(&err);
			snprintf(check, sizeof(check), "%s/bcd-complete-check", run->tmpdir);
			if (esp_unchanged(t, v, p, LB_BCD_ESP_NEW_PATH, check, &err) == 0)
				rc = lb_bcd_complete(t->path, v->part.offset, &err);
			if (rc) {
				eng_plan_mark(p, "failed", err.msg);
				eng_error(v, &err);
				continue;
			}
			json_object_set_new(p->finding, "action", json_string("completed"));
			json_object_set_new(p->finding, "reason", json_null());
			eng_reason(v->j, "interrupted BCD replacement completed: BCD.NEW -> BCD");
			p->done = true;
			continue;
		}
		if (p->kind != PL_BCD)
			continue;
		lb_err_clear(&err);
		snprintf(check, sizeof(check), "%s.check", p->path);
		if (esp_unchanged(t, v, p, LB_BCD_ESP_PATH, check, &err) == 0 &&
		    lb_bcd_drop_broken_new(t->path, v->part.offset, &dropped, &err) == 0) {
			if (dropped)
				eng_reason(v->j, "dropped the directory entry of a broken leftover BCD.NEW (an "
				           "earlier fix was cut off while writing it); no FAT entry touched");
			for (int n = 1; n <= 9; n++) {
				snprintf(name, sizeof(name), "BCD.LB%d", n);
				lb_err_clear(&err);
				rc = lb_bcd_put(t->path, v->part.offset, p->path, name, &err);
				if (rc == 0 || err.kind != LB_EK_REFUSED)
					break;
			}
		}
		if (rc) {
			eng_plan_mark(p, "failed", err.msg);
			eng_error(v, &err);
			continue;
		}
		json_object_set_new(p->finding, "action", json_string(p->bcd_mode == LB_SAFEBOOT_NONE ?
		                                                      "cleared" : "set"));
		json_object_set_new(p->finding, "reason", json_null());
		snprintf(check, sizeof(check), "\\EFI\\Microsoft\\Boot\\%s", name);
		json_object_set_new(p->finding, "esp_backup", json_string(check));
		p->done = true;
	}
	v->fix_ms = eng_now_ms() - t0;
	if (v->status == VS_CLEAN)
		v->status = VS_FIXED;
}
