/* fleet_reduce.c - one loopbreaker report reduced to one fleet row (see
 * lb_fleet.h, docs/fleet.md "The fleet view"). */
#include "fleet_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_report.h"

#define FLEET_MAX_ACTIONS 16

static const char *const status_names[LB_FS_COUNT] = {
	[LB_FS_FIXED] = "fixed",
	[LB_FS_CLEAN] = "clean",
	[LB_FS_ATTENTION] = "needs_attention",
	[LB_FS_ERROR] = "error",
	[LB_FS_NOT_REPORTED] = "not_reported",
};

const char *lb_fleet_status_name(enum lb_fleet_status s)
{
	return s < LB_FS_COUNT ? status_names[s] : "error";
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *first_string(json_t *arr)
{
	return json_string_value(json_array_get(arr, 0));
}

static time_t parse_iso(const char *s)
{
	struct tm tm;
	const char *rest = lb_report_time(s, &tm);

	return rest && *rest == 'Z' ? timegm(&tm) : 0;
}

/* ---- actions: "quarantined 2; registry_set 1" ---- */

struct actions {
	struct {
		char name[48];
		unsigned n;
	} a[FLEET_MAX_ACTIONS];
	size_t n;
};

static void count_action(struct actions *acts, const char *prefix, const char *action)
{
	char name[48];

	if (!action || !*action || !strcmp(action, "none"))
		return;
	snprintf(name, sizeof(name), "%s%s", prefix, action);
	for (size_t i = 0; i < acts->n; i++)
		if (!strcmp(acts->a[i].name, name)) {
			acts->a[i].n++;
			return;
		}
	if (acts->n == FLEET_MAX_ACTIONS)
		return;
	memcpy(acts->a[acts->n].name, name, sizeof(name));
	acts->a[acts->n++].n = 1;
}

static char *actions_string(const struct actions *acts)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < acts->n; i++)
		len += strlen(acts->a[i].name) + 16;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	*p = '\0';
	for (size_t i = 0; i < acts->n; i++)
		p += sprintf(p, "%s%s %u", i ? "; " : "", acts->a[i].name, acts->a[i].n);
	return s;
}

/* ---- protector IDs: a ';'-separated set ---- */

static bool list_has(const char *list, const char *id, size_t n)
{
	const char *q = list;

	while (n && *q) {
		const char *qe = strchr(q, ';');
		size_t qn = qe ? (size_t)(qe - q) : strlen(q);

		if (qn == n && !strncmp(q, id, n))
			return true;
		q += qn + (qe ? 1 : 0);
	}
	return false;
}

char *lb_fleet_keys_union(const char *list, const char *add)
{
	size_t ll = strlen(list), al = strlen(add);
	char *out = malloc(ll + al + 2), *p;
	const char *a = add;

	if (!out)
		return NULL;
	memcpy(out, list, ll + 1);
	p = out + ll;
	while (*a) {
		const char *e = strchr(a, ';');
		size_t n = e ? (size_t)(e - a) : strlen(a);

		if (n && !list_has(out, a, n)) {
			if (p != out)
				*p++ = ';';
			memcpy(p, a, n);
			p += n;
			*p = '\0';
		}
		a += n + (e ? 1 : 0);
	}
	return out;
}

/* bitlocker_protectors_used -> "{ID1};{ID2}" (each once); NULL: no memory */
static char *reduce_keys(json_t *rep)
{
	char *keys = strdup("");
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(rep, "bitlocker_protectors_used"), i, e) {
		const char *id = jstr(e, "protector");
		char *nk;

		if (!id || !keys || strchr(id, ';'))
			continue;
		nk = lb_fleet_keys_union(keys, id);
		free(keys);
		keys = nk;
	}
	return keys;
}

/* ---- what the targets say: actions, and hostname, agent ID and reason
 * when the top level has none ---- */

struct found {
	const char *host, *agent, *reason, *bl_desc, *mid;
	bool locked;
	struct actions acts;
};

static void reduce_install(json_t *in, struct found *fd)
{
	json_t *f;
	size_t m;

	if (!fd->host)
		fd->host = jstr(in, "hostname");
	if (!fd->agent)
		fd->agent = jstr(json_object_get(in, "sensor"), "agent_id");
	if (!fd->mid)
		fd->mid = jstr(in, "machine_guid");
	json_array_foreach(json_object_get(in, "findings"), m, f) {
		const char *kind = jstr(f, "kind");

		count_action(&fd->acts, kind && !strcmp(kind, "registry") ? "registry_" : "",
		             jstr(f, "action"));
	}
}

/* a BitLocker volume left locked; its description names the PC */
static void reduce_bitlocker(json_t *bl, struct found *fd)
{
	if (!json_is_object(bl))
		return;
	if (!fd->bl_desc)
		fd->bl_desc = jstr(bl, "description");
	if (!json_is_true(json_object_get(bl, "unlocked")))
		fd->locked = true;
}

static void reduce_targets(json_t *rep, struct found *fd)
{
	json_t *t, *v, *in, *f;
	size_t i, j, k;

	json_array_foreach(json_object_get(rep, "targets"), i, t) {
		if (!fd->reason)
			fd->reason = jstr(t, "error");
		json_array_foreach(json_object_get(t, "volumes"), j, v) {
			if (!fd->reason)
				fd->reason = first_string(json_object_get(v, "reasons"));
			if (!fd->reason)
				fd->reason = jstr(v, "error");
			json_array_foreach(json_object_get(v, "installs"), k, in)
				reduce_install(in, fd);
			json_array_foreach(json_object_get(v, "bcd"), k, f)
				count_action(&fd->acts, "bcd_", jstr(f, "action"));
			reduce_bitlocker(json_object_get(v, "bitlocker"), fd);
		}
	}
}


/* ---- the record ---- */

/* status, and the reason to show when the report gives none */
static const char *rep_status(struct lb_fleet_rep *r, const char *st, const char *reason,
                              char *buf, size_t bl)
{
	r->status = LB_FS_ERROR;
	for (int s = 0; s < LB_FS_NOT_REPORTED; s++)
		if (st && !strcmp(st, status_names[s]))
			r->status = (enum lb_fleet_status)s;
	if (!st && !reason)
		return "report incomplete: no status (the run did not finish)";
	if (st && r->status == LB_FS_ERROR && strcmp(st, "error") && !reason) {
		snprintf(buf, bl, "unknown status '%.100s'", st);
		return buf;
	}
	return reason;
}

void lb_fleet_rep_free(struct lb_fleet_rep *r)
{
	if (!r)
		return;
	free(r->hostname);
	free(r->bl_name);
	free(r->machine_id);
	free(r->agent_id);
	free(r->actions);
	free(r->keys);
	free(r->finished_at);
	free(r->report);
	free(r->reason);
	free(r->cause);
	free(r->mode);
	free(r->site);
	free(r);
}

static char *dup0(const char *s)
{
	return strdup(s ? s : "");
}

/* machine GUID or serial: a "machine" object, top-level keys, else an install's */
static const char *machine_id(json_t *rep, const char *from_install)
{
	json_t *m = json_object_get(rep, "machine");
	const char *id = jstr(m, "machine_guid");

	if (!id)
		id = jstr(m, "serial");
	if (!id)
		id = jstr(rep, "machine_guid");
	return id ? id : from_install;
}

static bool rep_complete(const struct lb_fleet_rep *r)
{
	return r->hostname && r->bl_name && r->machine_id && r->agent_id && r->actions &&
	       r->keys && r->finished_at && r->report && r->reason && r->cause && r->mode &&
	       r->site;
}

struct lb_fleet_rep *lb_fleet_reduce(json_t *rep, const char *path, struct lb_err *err)
{
	const char *schema = jstr(rep, "schema");
	struct found fd = { .host = jstr(rep, "hostname") };
	struct lb_fleet_rep *r;
	char buf[160];

	if (!json_is_object(rep) || !schema || strncmp(schema, "loopbreaker-report/", 19)) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: not a loopbreaker report", path);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet report record");
		return NULL;
	}
	fd.agent = jstr(json_object_get(rep, "sensor"), "agent_id");
	fd.reason = first_string(json_object_get(rep, "reasons"));
	reduce_targets(rep, &fd);
	r->keys = reduce_keys(rep);
	r->reason = dup0(rep_status(r, jstr(rep, "status"), fd.reason, buf, sizeof(buf)));
	r->cause = r->reason ? lb_fleet_cause(r->reason) : NULL;
	r->hostname = dup0(fd.host);
	r->bl_name = fd.host ? dup0("") : lb_fleet_bl_name(fd.bl_desc ? fd.bl_desc : "");
	r->machine_id = dup0(machine_id(rep, fd.mid));
	r->agent_id = dup0(fd.agent);
	r->finished_at = dup0(jstr(rep, "finished_at"));
	r->when = parse_iso(jstr(rep, "finished_at"));
	if (!r->when)
		r->when = parse_iso(jstr(rep, "started_at"));
	r->report = dup0(path);
	r->mode = dup0(jstr(rep, "mode"));
	r->site = dup0(jstr(rep, "site"));
	r->actions = actions_string(&fd.acts);
	r->confirmed = r->status == LB_FS_CLEAN && json_is_true(json_object_get(rep, "confirmed"));
	r->locked = fd.locked && r->status == LB_FS_ATTENTION;
	if (!rep_complete(r)) {
		lb_fleet_rep_free(r);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet report record");
		return NULL;
	}
	return r;
}
