/* engine_plan_hive.c - plan phase: the registry rules of the playbooks on
 * the SYSTEM and SOFTWARE hives of an installation, and hive replacements
 * an earlier fix left half done. */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_bytes.h"
#include "lb_evidence.h"
#include "lb_hivedit.h"
#include "lb_regf.h"

/* ---- plan phase: registry rules ---- */

static bool regval_equal(const struct lb_regval *v, uint32_t type, const uint8_t *d, size_t n)
{
	return v->present && v->type == type && v->len == n && (n == 0 || memcmp(v->data, d, n) == 0);
}

/* 0 read, 1 absent, -1 error */
static int read_optional(struct lb_ntfs *ntfs, const char *path, uint8_t **d, uint64_t *l,
                         struct lb_err *err)
{
	struct lb_ntfs_stat st;
	int rc = lb_ntfs_stat(ntfs, path, &st, err);

	*d = NULL;
	*l = 0;
	if (rc)
		return rc;
	return lb_ntfs_read_all(ntfs, path, FILE_MAX, d, l, err) ? -1 : 0;
}

static json_t *raw_json(bool present, uint32_t type, const uint8_t *d, size_t n)
{
	char *hex;
	json_t *j;

	if (!present)
		return json_pack("{s:b}", "present", 0);
	hex = malloc(2 * n + 1);
	if (hex)
		lb_hex(d, n, hex);
	j = json_pack("{s:b, s:i, s:s}", "present", 1, "type", (int)type, "hex", hex ? hex : "");
	free(hex);
	return j;
}

static void refuse_rules(json_t *findings, const char *pbname, const char *hive,
                         const char *reason)
{
	json_array_append_new(findings, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
	                      "registry", "playbook", pbname, "hive", hive, "path", hive, "verdict",
	                      "unknown", "action", "refused", "reason", reason));
}

static const char *cs_roles(const struct lb_controlsets *cs, uint32_t n, char *buf, size_t len)
{
	buf[0] = 0;
	if (cs->current == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "current");
	if (cs->deflt == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "%sdefault", buf[0] ? "," : "");
	if (cs->last_known_good == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "%slast_known_good", buf[0] ? "," : "");
	return buf;
}

/* One hive of one installation being evaluated (eng_scan_hive). */
struct hive_scan {
	struct run *run;
	struct target *t;
	struct volume *v;
	struct lb_ntfs *ntfs;
	const char *system_root;
	const char *hive;              /* "SYSTEM", "SOFTWARE" */
	json_t *findings;              /* the installation's findings */
	const char *firstpb;           /* first playbook with a rule on this hive */
	size_t nrules;
	char path[1024], logp[2][1100];
	uint8_t *data, *logs[2];       /* the hive and its logs as read */
	uint64_t len, loglen[2];
	uint8_t *work;                 /* the hive to edit: data, or data with the logs replayed */
	size_t worklen;
	bool replayed;
	struct lb_ntfs_stat st;
	struct lb_hive_copy hc;        /* work, opened with hivex */
	struct lb_controlsets cs;
	bool have_cs;
	struct lb_reg_edit *edits;     /* the changes, in rule order */
	size_t nedits;
	json_t *hfind, *medits;        /* findings carried out; their manifest entries */
};

/* Reads the hive and its logs, checks it, replays the logs of a dirty hive
 * and opens the result.  0, or -1 (reported: registry rules not applied). */
static int load_hive(struct hive_scan *hs)
{
	struct volume *v = hs->v;
	struct lb_regf_info info;
	struct lb_regf_replay_info ri;
	char reason[4096];
	struct lb_err err;

	lb_err_clear(&err);
	snprintf(hs->path, sizeof(hs->path), "%s\\System32\\config\\%s", hs->system_root, hs->hive);
	if (lb_ntfs_stat(hs->ntfs, hs->path, &hs->st, &err) != 0 ||
	    lb_ntfs_read_all(hs->ntfs, hs->path, FILE_MAX, &hs->data, &hs->len, &err)) {
		snprintf(reason, sizeof(reason), "%s cannot be read: %s", hs->path,
		         err.msg[0] ? err.msg : "missing");
		refuse_rules(hs->findings, hs->firstpb, hs->hive, reason);
		eng_attention(v, "%s: registry rules not applied", reason);
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		snprintf(hs->logp[k], sizeof(hs->logp[k]), "%s.LOG%d", hs->path, k + 1);
		if (read_optional(hs->ntfs, hs->logp[k], &hs->logs[k], &hs->loglen[k], &err) < 0) {
			eng_error(v, &err);
			return -1;
		}
	}
	memset(&info, 0, sizeof(info));
	if (lb_regf_check(hs->data, (size_t)hs->len, &info, &err) && !info.dirty) {
		/* no option overrides this: hivex would commit the damage back
		 * (docs/registry.md, "Damaged hives") */
		snprintf(reason, sizeof(reason), "%s is damaged (%s): registry rules not applied, "
		         "nothing written; no option overrides this (restore the hive from a "
		         "backup first)", hs->path, err.msg);
		refuse_rules(hs->findings, hs->firstpb, hs->hive, reason);
		lb_err_set(&err, LB_EK_INPUT, 0, "%s", reason);
		eng_error(v, &err);
		return -1;
	}
	hs->work = hs->data;
	hs->worklen = (size_t)hs->len;
	if (info.dirty) {
		if (!hs->logs[0] && !hs->logs[1]) {
			snprintf(reason, sizeof(reason), "%s is dirty (sequence numbers %u/%u) and its "
			         ".LOG1/.LOG2 are missing: its latest changes cannot be recovered; "
			         "registry rules not applied, nothing written", hs->path, info.seq1,
			         info.seq2);
			refuse_rules(hs->findings, hs->firstpb, hs->hive, reason);
			eng_attention(v, "%s", reason);
			return -1;
		}
		lb_err_clear(&err);
		if (lb_regf_replay(hs->data, (size_t)hs->len, hs->logs[0], (size_t)hs->loglen[0],
		                   hs->logs[1], (size_t)hs->loglen[1], &hs->work, &hs->worklen, &ri,
		                   &err)) {
			snprintf(reason, sizeof(reason), "%s is dirty and its logs do not replay (%s): "
			         "registry rules not applied, nothing written", hs->path, err.msg);
			refuse_rules(hs->findings, hs->firstpb, hs->hive, reason);
			eng_attention(v, "%s", reason);
			hs->work = NULL;
			return -1;
		}
		hs->replayed = true;
	}
	if (lb_hive_copy_open(hs->work, hs->worklen, &hs->hc, &err)) {
		snprintf(reason, sizeof(reason), "%s: %s", hs->path, err.msg);
		refuse_rules(hs->findings, hs->firstpb, hs->hive, reason);
		eng_error(v, &err);
		return -1;
	}
	if (!strcmp(hs->hive, "SYSTEM") && lb_hivedit_control_sets(hs->hc.he->h, &hs->cs, &err) == 0)
		hs->have_cs = true;
	return 0;
}

/* Carries out edit e on the open copy (later rules see its effect) and
 * records it; a failure is reported on finding f. */
static void record_edit(struct hive_scan *hs, const struct lb_playbook *pb,
                        const struct lb_reg_rule *rule, const char *key, int csno,
                        const struct lb_regval *old, json_t *f)
{
	struct lb_reg_edit *e = &hs->edits[hs->nedits];
	struct lb_err e2;
	json_t *m;

	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->value, sizeof(e->value), "%s", rule->value);
	e->create_key = rule->create_key;
	e->new_present = rule->op != LB_REGOP_DELETE_VALUE;
	e->new_type = rule->type;
	e->new_data = rule->data;
	e->new_len = rule->len;
	lb_err_clear(&e2);
	if ((e->new_present ?
	     lb_hivedit_set_raw(hs->hc.he, key, rule->value, rule->type, rule->data, rule->len,
	                        rule->create_key ? LB_HIVEDIT_CREATE_KEYS : 0, NULL, &e2) :
	     lb_hivedit_delete_value(hs->hc.he, key, rule->value, NULL, &e2)) < 0) {
		json_object_set_new(f, "action", json_string("failed"));
		json_object_set_new(f, "reason", json_string(e2.msg));
		eng_error(hs->v, &e2);
		return;
	}
	json_array_append(hs->hfind, f);
	m = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "playbook", pb->name, "rule", rule->id,
	              "key", key, "control_set", csno >= 0 ? json_integer(csno) : json_null(),
	              "old", raw_json(old->present, old->type, old->data, old->len),
	              "new", raw_json(e->new_present, e->new_type, e->new_data, e->new_len));
	json_array_append_new(hs->medits, m);
	json_object_set_new(m, "value", json_string(rule->value));
	hs->nedits++;
}

/* One registry rule on one key (a control set for CurrentControlSet;
 * csno -1 otherwise): a finding, and an edit when the value must change. */
static void eval_rule_key(struct hive_scan *hs, const struct lb_playbook *pb,
                          const struct lb_reg_rule *rule, const char *key, int csno)
{
	const struct lb_options *o = hs->run->o;
	struct volume *v = hs->v;
	char roles[64] = "", full[1400];
	struct lb_regval old;
	struct lb_err e2;
	const char *why = NULL, *action = "none";
	bool key_present, need;
	json_t *f;

	lb_err_clear(&e2);
	key_present = lb_hivedit_key(hs->hc.he, key, false, &e2) != 0;
	lb_err_clear(&e2);
	if (lb_hivedit_get(hs->hc.he, key, rule->value, &old, &e2) < 0) {
		eng_error(v, &e2);
		return;
	}
	if (rule->when_key_exists && !key_present) {
		need = false;
		why = "key not present";
	} else if (rule->has_equals &&
	           !regval_equal(&old, rule->eq_type, rule->eq_data, rule->eq_len)) {
		need = false;
		why = "condition value_equals not met";
	} else if (rule->op == LB_REGOP_DELETE_VALUE) {
		need = old.present;
		why = need ? NULL : "value not present";
	} else {
		need = !regval_equal(&old, rule->type, rule->data, rule->len);
		why = need ? NULL : "already set";
	}
	if (need)
		action = o->fix ? "planned" : rule->op == LB_REGOP_DELETE_VALUE ? "would_delete"
		                                                                 : "would_set";
	snprintf(full, sizeof(full), "%s\\%s\\%s", hs->hive, key, rule->value);
	f = json_object();
	json_object_set_new(f, "kind", json_string("registry"));
	json_object_set_new(f, "playbook", json_string(pb->name));
	json_object_set_new(f, "rule", json_string(rule->id));
	json_object_set_new(f, "hive", json_string(hs->hive));
	json_object_set_new(f, "hive_path", json_string(hs->path));
	json_object_set_new(f, "path", json_string(full));
	json_object_set_new(f, "key", json_string(key));
	json_object_set_new(f, "value", json_string(rule->value));
	json_object_set_new(f, "control_set", csno >= 0 ? json_integer(csno) : json_null());
	json_object_set_new(f, "control_set_roles", csno >= 0 ?
	                    json_string(cs_roles(&hs->cs, (uint32_t)csno, roles, sizeof(roles))) :
	                    json_null());
	json_object_set_new(f, "old", lb_regval_to_json(old.present, old.type, old.data, old.len));
	json_object_set_new(f, "new", rule->op == LB_REGOP_DELETE_VALUE ? json_null() :
	                    lb_regval_to_json(true, rule->type, rule->data, rule->len));
	json_object_set_new(f, "verdict", json_string(need ? "change" : "ok"));
	json_object_set_new(f, "action", json_string(action));
	json_object_set_new(f, "reason", why ? json_string(why) :
	                    !o->fix ? json_string("run fix to change it") : json_null());
	json_object_set_new(f, "replayed", json_boolean(hs->replayed));
	json_array_append_new(hs->findings, f);
	if (need && !o->fix) {
		v->would++;
		eng_attention(v, "%s: %s would be %s (run fix)", pb->name, full,
		              rule->op == LB_REGOP_DELETE_VALUE ? "deleted" : "changed");
	}
	if (need)
		record_edit(hs, pb, rule, key, csno, &old, f);
	lb_regval_free(&old);
}

/* Every registry rule of every playbook on this hive. */
static void eval_rules(struct hive_scan *hs)
{
	const struct lb_options *o = hs->run->o;

	for (size_t i = 0; i < o->nplaybooks; i++) {
		const struct lb_playbook *pb = o->playbooks[i];

		for (size_t r = 0; r < pb->nreg; r++) {
			const struct lb_reg_rule *rule = &pb->reg[r];
			bool ccs = !strncasecmp(rule->key, "CurrentControlSet", 17) &&
			           (rule->key[17] == 0 || rule->key[17] == '\\');
			size_t nkeys = ccs ? (hs->have_cs ? hs->cs.nboot : 0) : 1;

			if (strcmp(rule->hive, hs->hive))
				continue;
			if (ccs && nkeys == 0) {
				char reason[4096];

				snprintf(reason, sizeof(reason), "%s: %s has no usable Select key: "
				         "CurrentControlSet cannot be resolved", rule->id, hs->path);
				refuse_rules(hs->findings, pb->name, hs->hive, reason);
				eng_attention(hs->v, "%s", reason);
				continue;
			}
			for (size_t k = 0; k < nkeys; k++) {
				char key[1024];

				if (ccs)
					snprintf(key, sizeof(key), "ControlSet%03u%s", hs->cs.boot[k],
					         rule->key + 17);
				else
					snprintf(key, sizeof(key), "%s", rule->key);
				eval_rule_key(hs, pb, rule, key, ccs ? (int)hs->cs.boot[k] : -1);
				if (hs->nedits == hs->nrules * 3) /* at most 3 boot control sets per rule */
					break;
			}
		}
	}
}

/* fix: the new hive, planned as the replacement of the file, with its logs
 * (when they were replayed) kept as evidence. */
static void plan_hive(struct hive_scan *hs)
{
	struct volume *v = hs->v;
	uint8_t *newb = NULL;
	size_t newlen = 0;
	struct lb_err err;
	struct plan *p;
	json_t *mlogs, *f;
	char suffix[65];
	size_t i;

	lb_err_clear(&err);
	if (lb_hive_apply_edits(hs->work, hs->worklen, hs->edits, hs->nedits, &newb, &newlen,
	                        &err)) {
		json_array_foreach(hs->hfind, i, f) {
			json_object_set_new(f, "action", json_string("failed"));
			json_object_set_new(f, "reason", json_string(err.msg));
		}
		eng_error(v, &err);
		return;
	}
	mlogs = json_array();
	for (int k = 0; k < 2 && hs->replayed; k++) {
		struct plan *lp;

		if (!hs->logs[k] || eng_add_plan(v, &lp))
			continue;
		lp->kind = PL_EVIDENCE_ONLY;
		snprintf(lp->path, sizeof(lp->path), "%s", hs->logp[k]);
		snprintf(lp->name, sizeof(lp->name), "%s.LOG%d", hs->hive, k + 1);
		lp->data = hs->logs[k];
		lp->len = hs->loglen[k];
		lb_sha256_hex(hs->logs[k], (size_t)hs->loglen[k], lp->sha256);
		lp->meta = eng_base_meta(hs->t, v, hs->system_root, "registry_log", hs->logp[k]);
		json_object_set_new(lp->meta, "sha256", json_string(lp->sha256));
		json_object_set_new(lp->meta, "size", json_integer((json_int_t)hs->loglen[k]));
		json_array_append_new(mlogs, json_pack("{s:s, s:s}", "path", hs->logp[k], "sha256",
		                                       lp->sha256));
		hs->logs[k] = NULL;
	}
	if (hs->work == hs->data)
		hs->work = NULL;
	p = eng_plan_bytes(v, PL_HIVE, hs->path, hs->hive, hs->data, (size_t)hs->len, NULL);
	hs->data = NULL; /* the plan's now, or freed */
	if (!p) {
		json_decref(mlogs);
		free(newb);
		return;
	}
	p->newdata = newb;
	p->newlen = newlen;
	lb_sha256_hex(newb, newlen, p->new_sha);
	p->st = hs->st;
	p->replayed = hs->replayed;
	p->mtime_unix = lb_ntfs_time_to_unix(hs->st.modified);
	p->findings = json_incref(hs->hfind);
	p->meta = eng_base_meta(hs->t, v, hs->system_root, "registry_hive", hs->path);
	json_object_set_new(p->meta, "hive", json_string(hs->hive));
	json_object_set_new(p->meta, "playbook", json_string(hs->firstpb));
	json_object_set_new(p->meta, "size", json_integer((json_int_t)hs->len));
	json_object_set_new(p->meta, "sha256", json_string(p->sha256));
	json_object_set_new(p->meta, "new_sha256", json_string(p->new_sha));
	json_object_set_new(p->meta, "new_size", json_integer((json_int_t)newlen));
	json_object_set_new(p->meta, "replayed", json_boolean(hs->replayed));
	json_object_set_new(p->meta, "logs", mlogs);
	snprintf(suffix, sizeof(suffix), "loopbreaker-%s", hs->run->stamp);
	json_object_set_new(p->meta, "backup_suffix", json_string(suffix));
	json_object_set_new(p->meta, "edits", hs->medits);
	hs->medits = NULL;
}

/* Evaluates every registry rule on one hive of one installation; with fix,
 * plans the replacement of the hive file. */
void eng_scan_hive(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
                   const char *system_root, const char *hive, json_t *findings)
{
	const struct lb_options *o = run->o;
	struct hive_scan *hs = calloc(1, sizeof(*hs));
	struct lb_err err;

	if (!hs) {
		lb_err_set(&err, LB_EK_INTERNAL, ENOMEM, "planning");
		eng_error(v, &err);
		return;
	}
	hs->run = run;
	hs->t = t;
	hs->v = v;
	hs->ntfs = ntfs;
	hs->system_root = system_root;
	hs->hive = hive;
	hs->findings = findings;
	hs->hfind = json_array();
	hs->medits = json_array();
	for (size_t i = 0; i < o->nplaybooks; i++)
		for (size_t r = 0; r < o->playbooks[i]->nreg; r++)
			if (!strcmp(o->playbooks[i]->reg[r].hive, hive)) {
				hs->nrules++;
				if (!hs->firstpb)
					hs->firstpb = o->playbooks[i]->name;
			}
	if (!hs->nrules || load_hive(hs))
		goto out;
	hs->edits = calloc(hs->nrules * 3 + 1, sizeof(*hs->edits));
	if (!hs->edits) {
		lb_err_set(&err, LB_EK_INTERNAL, ENOMEM, "planning");
		eng_error(v, &err);
		goto out;
	}
	eval_rules(hs);
	if (o->fix && hs->nedits > 0)
		plan_hive(hs);
out:
	lb_hive_copy_close(&hs->hc);
	free(hs->edits);
	if (hs->work != hs->data)
		free(hs->work);
	free(hs->data);
	free(hs->logs[0]);
	free(hs->logs[1]);
	json_decref(hs->hfind);
	json_decref(hs->medits);
	free(hs);
}

/* An interrupted hive replacement: <hive> missing, <hive>.loopbreaker-new
 * present.  Scan reports it; fix completes the swap first. */
struct rootdirs {
	char names[64][256];
	int n;
};

static int rootdir_cb(void *arg, const char *name, bool is_dir)
{
	struct rootdirs *rd = arg;

	if (is_dir && rd->n < 64 && name[0] != '$')
		snprintf(rd->names[rd->n++], sizeof(rd->names[0]), "%s", name);
	return 0;
}

void eng_check_interrupted_swaps(struct run *run, struct target *t, struct volume *v,
                                 struct lb_ntfs *ntfs)
{
	static const char *const hives[] = { "SYSTEM", "SOFTWARE" };
	struct rootdirs *rd = calloc(1, sizeof(*rd));
	struct lb_err err;

	lb_err_clear(&err);
	if (!rd || lb_ntfs_readdir(ntfs, "\\", rootdir_cb, rd, &err) < 0) {
		free(rd);
		return;
	}
	for (int i = 0; i < rd->n; i++)
		for (size_t h = 0; h < 2; h++) {
			char path[1024], newp[1100];
			struct lb_ntfs_stat st;
			struct lb_regf_info info;
			uint8_t *d = NULL;
			uint64_t l = 0;
			struct plan *p;

			snprintf(path, sizeof(path), "\\%s\\System32\\config\\%s", rd->names[i], hives[h]);
			snprintf(newp, sizeof(newp), "%s.loopbreaker-new", path);
			if (lb_ntfs_stat(ntfs, path, &st, &err) != 1 ||
			    lb_ntfs_stat(ntfs, newp, &st, &err) != 0 ||
			    lb_ntfs_read_all(ntfs, newp, FILE_MAX, &d, &l, &err)) {
				lb_err_clear(&err);
				continue;
			}
			memset(&info, 0, sizeof(info));
			if (lb_regf_check(d, (size_t)l, &info, &err) || info.dirty) {
				eng_attention(v, "%s is missing and %s is not a usable hive (%s): interrupted "
				              "hive replacement that cannot be completed; restore %s from its "
				              "%s.loopbreaker-<time> backup or with undo", path, newp,
				              err.msg[0] ? err.msg : "dirty", path, path);
				free(d);
				lb_err_clear(&err);
				continue;
			}
			if (!run->o->fix) {
				eng_attention(v, "%s: interrupted hive replacement: %s is missing and %s holds "
				              "the new hive; fix completes it", path, path, newp);
				v->would++;
				free(d);
				continue;
			}
			if (eng_add_plan(v, &p)) {
				free(d);
				continue;
			}
			p->kind = PL_HIVE_COMPLETE;
			snprintf(p->path, sizeof(p->path), "%s", path);
			snprintf(p->name, sizeof(p->name), "%s.loopbreaker-new.sha256", hives[h]);
			lb_sha256_hex(d, (size_t)l, p->sha256);
			free(d);
			p->len = 0;
			p->meta = eng_base_meta(t, v, NULL, "complete_hive_swap", path);
			json_object_set_new(p->meta, "sha256", json_string(p->sha256));
			eng_attention(v, "%s: interrupted hive replacement: completing it (%s -> %s); run "
			              "fix again to evaluate the playbooks on this installation", path,
			              newp, path);
		}
	free(rd);
}
