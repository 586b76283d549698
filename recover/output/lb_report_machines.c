/* lb_report_machines.c - one report per machine out of a run's report
 * (contracts in lb_report.h; docs/report-format.md "One report per
 * machine"). */
#include "lb_report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lb_bytes.h"
#include "lb_file.h"

/* One machine: a target, and within it the volumes (by index) and the one
 * installation (volume index, install index; -1 for a target whose
 * machine is known only by what stopped the run: locked BitLocker, an
 * error). */
struct unit {
	size_t target;
	long vol, inst;
	bool with_rest;     /* also the target's volumes that hold no install */
};

#define MAX_UNITS 256

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static size_t target_installs(json_t *t)
{
	json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(t, "volumes"), i, v)
		n += json_array_size(json_object_get(v, "installs"));
	return n;
}

/* A target with no installation still stands for a machine when something
 * is wrong with it: a BitLocker volume left locked, a refusal, an error. */
static bool target_has_trouble(json_t *t)
{
	const char *st = str(t, "status");

	return (st && strcmp(st, "clean") && strcmp(st, "fixed")) ||
	       json_is_string(json_object_get(t, "error"));
}

static size_t find_units(json_t *run, struct unit *u)
{
	json_t *t, *v, *in;
	size_t i, j, k, n = 0;

	json_array_foreach(json_object_get(run, "targets"), i, t) {
		bool first = true;

		if (!target_installs(t)) {
			if (target_has_trouble(t) && n < MAX_UNITS)
				u[n++] = (struct unit){ i, -1, -1, true };
			continue;
		}
		json_array_foreach(json_object_get(t, "volumes"), j, v)
			json_array_foreach(json_object_get(v, "installs"), k, in) {
				if (n == MAX_UNITS)
					return n;
				u[n++] = (struct unit){ i, (long)j, (long)k, first };
				first = false;
			}
	}
	return n;
}

/* ---- counting: the run's status and summary, from its targets ---- */

static int status_rank(const char *s)
{
	if (!s || !strcmp(s, "clean"))
		return 0;
	if (!strcmp(s, "fixed"))
		return 1;
	if (!strcmp(s, "needs_attention"))
		return 2;
	return 3;
}

static const char *const rank_name[] = { "clean", "fixed", "needs_attention", "error" };

static void count_findings(json_t *in, struct lb_report_counts *c)
{
	json_t *f;
	size_t m;

	c->installs++;
	json_array_foreach(json_object_get(in, "findings"), m, f) {
		const char *a = str(f, "action"), *vd = str(f, "verdict"), *kind = str(f, "kind");

		if (kind && !strcmp(kind, "registry")) {
			if (a && (!strcmp(a, "set") || !strcmp(a, "deleted")))
				c->registry_values_changed++;
			continue;
		}
		if (vd && !strcmp(vd, "bad"))
			c->bad_files++;
		if (a && (!strcmp(a, "quarantined") || !strcmp(a, "deleted")))
			c->files_fixed++;
	}
}

void lb_report_count(json_t *targets, struct lb_report_counts *c)
{
	json_t *t, *v, *in, *b;
	size_t i, j, k;

	memset(c, 0, sizeof(*c));
	json_array_foreach(targets, i, t) {
		int r = status_rank(str(t, "status"));

		if (r > c->worst)
			c->worst = r;
		json_array_foreach(json_object_get(t, "volumes"), j, v) {
			json_array_foreach(json_object_get(v, "installs"), k, in)
				count_findings(in, c);
			json_array_foreach(json_object_get(v, "bcd"), k, b) {
				const char *a = str(b, "action");

				if (a && (!strcmp(a, "set") || !strcmp(a, "cleared")))
					c->bcd_changes++;
			}
		}
	}
}

json_t *lb_report_counts_json(const struct lb_report_counts *c)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i}", "installs", c->installs, "bad_files",
	                 c->bad_files, "files_fixed", c->files_fixed, "registry_values_changed",
	                 c->registry_values_changed, "bcd_changes", c->bcd_changes);
}

/* ---- one machine's report ---- */

/* Does reason r speak of another installation's files ("...\WINNT\...")
 * and not of mine? */
static bool other_install_reason(const char *r, json_t *insts, long mine)
{
	json_t *in;
	size_t k;
	char pat[520];
	const char *my = str(json_array_get(insts, (size_t)mine), "system_root");

	if (my && snprintf(pat, sizeof(pat), "%s\\", my) > 0 && strstr(r, pat))
		return false;
	json_array_foreach(insts, k, in) {
		const char *root = str(in, "system_root");

		if ((long)k != mine && root && snprintf(pat, sizeof(pat), "%s\\", root) > 0 &&
		    strstr(r, pat))
			return true;
	}
	return false;
}

/* The volume with only this install (inst; -1: none) in it, and only the
 * reasons that are not about another installation on the same volume. */
static json_t *unit_volume(json_t *v, long inst)
{
	json_t *c = json_deep_copy(v), *insts = json_array(), *rs = json_array(), *r;
	json_t *all = json_object_get(v, "installs");
	size_t k;

	if (inst >= 0)
		json_array_append(insts, json_array_get(all, (size_t)inst));
	json_object_set_new(c, "installs", insts);
	json_array_foreach(json_object_get(v, "reasons"), k, r)
		if (inst < 0 || json_array_size(all) < 2 ||
		    !other_install_reason(json_string_value(r) ? json_string_value(r) : "", all, inst))
			json_array_append(rs, r);
	json_object_set_new(c, "reasons", rs);
	return c;
}

static json_t *unit_target(json_t *t, const struct unit *u)
{
	json_t *c = json_deep_copy(t), *vols = json_array(), *v;
	size_t j;
	int worst = 0;

	json_array_foreach(json_object_get(t, "volumes"), j, v) {
		bool mine = (long)j == u->vol;
		bool rest = u->with_rest && !json_array_size(json_object_get(v, "installs"));

		if (!mine && !rest && u->vol >= 0)
			continue;
		json_array_append_new(vols, unit_volume(v, mine ? u->inst : -1));
		if (status_rank(str(v, "status")) > worst)
			worst = status_rank(str(v, "status"));
	}
	json_object_set_new(c, "volumes", vols);
	if (json_is_string(json_object_get(t, "error")) && status_rank(str(t, "status")) > worst)
		worst = status_rank(str(t, "status"));
	json_object_set_new(c, "status", json_string(rank_name[worst]));
	return c;
}

/* The protectors used on this machine's volumes only. */
static json_t *unit_protectors(json_t *run, json_t *target)
{
	json_t *out = json_array(), *p, *v;
	size_t i, j;

	json_array_foreach(json_object_get(run, "bitlocker_protectors_used"), i, p)
		json_array_foreach(json_object_get(target, "volumes"), j, v) {
			const char *g = str(json_object_get(v, "bitlocker"), "volume_guid");

			if (g && str(p, "volume_guid") && !strcmp(g, str(p, "volume_guid"))) {
				json_array_append(out, p);
				break;
			}
		}
	return out;
}

static json_t *unit_machine(json_t *target, size_t idx, size_t n,
                            const char *run_id)
{
	json_t *in = NULL, *bl = NULL, *x;
	size_t j;

	/* the unit's target holds its one installation, if it has one */
	json_array_foreach(json_object_get(target, "volumes"), j, x) {
		if (!in)
			in = json_array_get(json_object_get(x, "installs"), 0);
		if (!bl && json_is_object(json_object_get(x, "bitlocker")))
			bl = json_object_get(x, "bitlocker");
	}
	return json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "index", (json_int_t)idx + 1,
	                 "of", (json_int_t)n, "run_id", run_id,
	                 "hostname", in && str(in, "hostname") ? json_string(str(in, "hostname"))
	                                                      : json_null(),
	                 "machine_guid", in && str(in, "machine_guid")
	                                 ? json_string(str(in, "machine_guid")) : json_null(),
	                 "system_root", in ? json_string(str(in, "system_root")) : json_null(),
	                 "target", json_string(str(target, "path") ? str(target, "path") : ""),
	                 "bitlocker_description", bl && str(bl, "description")
	                                          ? json_string(str(bl, "description")) : json_null());
}

static json_t *unit_report(json_t *run, const struct unit *u, size_t idx, size_t n,
                           const char *run_id)
{
	json_t *r = json_deep_copy(run), *t, *ts = json_array();
	struct lb_report_counts c;
	const char *rs = str(run, "status");
	int ex;

	t = unit_target(json_array_get(json_object_get(run, "targets"), u->target), u);
	json_array_append_new(ts, t);
	json_object_set_new(r, "targets", ts);
	lb_report_count(ts, &c);
	json_object_set_new(r, "summary", lb_report_counts_json(&c));
	json_object_set_new(r, "bitlocker_protectors_used", unit_protectors(run, t));
	json_object_set_new(r, "machine", unit_machine(t, idx, n, run_id));
	json_object_set(r, "hostname", json_object_get(json_object_get(r, "machine"), "hostname"));
	json_object_set_new(r, "kind", json_string("machine"));
	json_object_del(r, "machines");
	ex = (int)json_integer_value(json_object_get(run, "exit_code"));
	if (rs && !strcmp(rs, "interrupted"))
		return r; /* the whole run stopped: every machine says so */
	json_object_set_new(r, "status", json_string(rank_name[c.worst]));
	json_object_set_new(r, "exit_code", json_integer(c.worst == 3 ? (ex > 1 ? ex : 3) :
	                                                 c.worst == 2 ? 1 : 0));
	/* the run's own reasons (e.g. a sealed key bundle) stay; "no Windows
	 * installation found on any target" cannot be said of one machine */
	return r;
}

static void new_run_id(char out[33])
{
	uint8_t b[16];

	randombytes_buf(b, sizeof(b));
	lb_hex(b, sizeof(b), out);
}

json_t *lb_report_machines(json_t *run)
{
	struct unit *u = calloc(MAX_UNITS, sizeof(*u));
	json_t *out = json_array();
	size_t n;
	char id[33];
	const char *rid = str(run, "run_id");

	if (!u || !out) {
		free(u);
		json_decref(out);
		return NULL;
	}
	if (!rid) {
		new_run_id(id);
		json_object_set_new(run, "run_id", json_string(id));
		rid = str(run, "run_id");
	}
	n = find_units(run, u);
	if (n <= 1) {
		/* one machine (or none found): its report is the run's, whole,
		 * other disks too */
		if (n) {
			json_t *one = unit_report(run, u, 0, 1, rid);

			json_object_set(run, "machine", json_object_get(one, "machine"));
			json_decref(one);
		}
		json_object_set_new(run, "kind", json_string("machine"));
		json_array_append(out, run);
	} else {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(out, unit_report(run, &u[i], i, n, rid));
	}
	free(u);
	return out;
}

/* DIR/BASE.json -> DIR/BASE.N-HOST.json (HOST: letters, digits, '.', '_',
 * '-'; others become '_'; "unknown" when the machine has no name). */
static int machine_path(const char *path, size_t idx, const char *host, char *out, size_t cap)
{
	size_t bl = strlen(path), o;
	int w;

	if (bl > 5 && !strcmp(path + bl - 5, ".json"))
		bl -= 5;
	w = snprintf(out, cap, "%.*s.%zu-", (int)bl, path, idx + 1);
	if (w < 0 || (size_t)w >= cap)
		return -1;
	o = (size_t)w;
	if (!host || !*host)
		host = "unknown";
	for (const char *h = host; *h && o + 6 < cap; h++) {
		char ch = *h;

		out[o++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ? ch : '_';
	}
	memcpy(out + o, ".json", 6);
	return 0;
}

/* Writes machine report m beside path (mach.report gets its base name). */
static int write_machine(json_t *m, const char *path, size_t i, struct lb_err *err)
{
	json_t *mach = json_object_get(m, "machine");
	char mp[4096];
	const char *base;

	if (machine_path(path, i, str(mach, "hostname"), mp, sizeof(mp)))
		return lb_err_set(err, LB_EK_USAGE, ENAMETOOLONG, "%s: name too long", path);
	base = strrchr(mp, '/') ? strrchr(mp, '/') + 1 : mp;
	json_object_set_new(mach, "report", json_string(base));
	return lb_report_write(m, mp, err);
}

int lb_report_write_run(json_t *run, const char *path, json_t **machines, struct lb_err *err)
{
	json_t *ms = lb_report_machines(run), *list, *m;
	size_t i;
	int rc = 0;

	if (machines)
		*machines = NULL;
	if (!ms)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "report: machines");
	if (json_array_size(ms) > 1) {
		list = json_array();
		json_array_foreach(ms, i, m) {
			json_t *mach = json_object_get(m, "machine");

			if (path && !rc)
				rc = write_machine(m, path, i, err);
			json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:O}", "hostname",
			                      json_object_get(mach, "hostname"), "status",
			                      json_object_get(m, "status"), "machine_guid",
			                      json_object_get(mach, "machine_guid"), "report",
			                      json_object_get(mach, "report") ? json_object_get(mach, "report")
			                                                      : json_null()));
		}
		json_object_set_new(run, "kind", json_string("run"));
		json_object_set_new(run, "machines", list);
	}
	if (!rc && path)
		rc = lb_report_write(run, path, err);
	if (machines && !rc)
		*machines = ms;
	else
		json_decref(ms);
	return rc;
}
