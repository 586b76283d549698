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
	const char *host, *agent, *reason;
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
	json_array_foreach(json_object_get(in, "findings"), m, f) {
		const char *kind = jstr(f, "kind");

		count_action(&fd->acts, kind && !strcmp(kind, "registry") ? "registry_" : "",
		             jstr(f, "action"));
	}
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
		}
	}
}

/* ---- the row ---- */

/* The machine's identity: upper-cased hostname, else agent ID, else path. */
static char *row_key(const char *host, const char *agent, const char *path)
{
	char *key = NULL;

	if (host && *host) {
		if (asprintf(&key, "H:%s", host) < 0)
			return NULL;
		for (char *c = key + 2; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
	} else if (asprintf(&key, agent && *agent ? "A:%s" : "P:%s",
	                    agent && *agent ? agent : path) < 0) {
		return NULL;
	}
	return key;
}

/* status, and the reason to show when the report gives none */
static const char *row_status(struct lb_fleet_row *r, const char *st, const char *reason,
                              char *buf, size_t bl)
{
	r->status = LB_FS_ERROR;
	for (int s = 0; s < LB_FS_COUNT; s++)
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

void lb_fleet_row_free(struct lb_fleet_row *r)
{
	if (!r)
		return;
	free(r->key);
	free(r->hostname);
	free(r->agent_id);
	free(r->actions);
	free(r->keys);
	free(r->finished_at);
	free(r->report);
	free(r->reason);
	free(r->mode);
	free(r);
}

static char *dup0(const char *s)
{
	return strdup(s ? s : "");
}

struct lb_fleet_row *lb_fleet_reduce(json_t *rep, const char *path, struct lb_err *err)
{
	const char *schema = jstr(rep, "schema");
	struct found fd = { .host = jstr(rep, "hostname"), .agent = NULL, .reason = NULL };
	struct lb_fleet_row *r;
	char buf[160];

	if (!json_is_object(rep) || !schema || strncmp(schema, "loopbreaker-report/", 19)) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: not a loopbreaker report", path);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet row");
		return NULL;
	}
	fd.agent = jstr(json_object_get(rep, "sensor"), "agent_id");
	fd.reason = first_string(json_object_get(rep, "reasons"));
	reduce_targets(rep, &fd);
	r->keys = reduce_keys(rep);
	r->reason = dup0(row_status(r, jstr(rep, "status"), fd.reason, buf, sizeof(buf)));
	r->hostname = dup0(fd.host);
	r->agent_id = dup0(fd.agent);
	r->finished_at = dup0(jstr(rep, "finished_at"));
	r->when = parse_iso(jstr(rep, "finished_at"));
	if (!r->when)
		r->when = parse_iso(jstr(rep, "started_at"));
	r->report = dup0(path);
	r->mode = dup0(jstr(rep, "mode"));
	r->actions = actions_string(&fd.acts);
	r->reports = 1;
	r->key = row_key(fd.host, fd.agent, path);
	if (!r->key || !r->hostname || !r->agent_id || !r->finished_at || !r->report ||
	    !r->reason || !r->mode || !r->actions || !r->keys) {
		lb_fleet_row_free(r);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet row");
		return NULL;
	}
	return r;
}
