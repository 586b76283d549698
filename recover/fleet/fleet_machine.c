/* fleet_machine.c - one machine from all its reports: its history, the
 * outcome its row shows (latest report; a clean run after a fixed one
 * confirms the fix), and the fleet-wide pass that flags times far off and
 * counts the totals (see lb_fleet.h, docs/fleet.md "The fleet view"). */
#include "fleet_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLEET_INCIDENT_START 1721347200 /* 2024-07-19T00:00:00Z */
#define FLEET_CLOCK_DAYS 30

struct lb_fleet_row *lb_fleet_row_new(const char *key)
{
	struct lb_fleet_row *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->key = strdup(key);
	r->machine_id = strdup("");
	r->name = strdup("");
	r->keys = strdup("");
	r->site = strdup("");
	if (!r->key || !r->machine_id || !r->name || !r->keys || !r->site) {
		lb_fleet_row_free(r);
		return NULL;
	}
	return r;
}

void lb_fleet_row_free(struct lb_fleet_row *r)
{
	if (!r)
		return;
	if (r->attn != r->latest)
		lb_fleet_rep_free(r->attn);
	lb_fleet_rep_free(r->latest);
	for (size_t i = 0; i < r->nhist; i++) {
		free(r->hist[i].finished_at);
		free(r->hist[i].report);
		free(r->hist[i].site);
	}
	free(r->hist);
	free(r->key);
	free(r->machine_id);
	free(r->name);
	free(r->keys);
	free(r->site);
	free(r);
}

/* A report time a machine's clock can have told: not before the incident,
 * not more than a day past now (a dead RTC battery says 2000-01-01 or
 * some far date; such a report must not hide a later real one). */
static bool plausible_time(time_t t)
{
	static time_t now;

	if (!now)
		now = time(NULL);
	return t >= FLEET_INCIDENT_START && t <= now + 86400;
}

/* a newer than b: a plausible time before an impossible one, then later
 * finish time, then later finished_at text, then path */
static bool newer(const struct lb_fleet_rep *a, const struct lb_fleet_rep *b)
{
	int c;

	if (plausible_time(a->when) != plausible_time(b->when))
		return plausible_time(a->when);
	if (a->when != b->when)
		return a->when > b->when;
	c = strcmp(a->finished_at, b->finished_at);
	if (c)
		return c > 0;
	return strcmp(a->report, b->report) > 0;
}

static int hist_add(struct lb_fleet_row *row, const struct lb_fleet_rep *rep)
{
	struct lb_fleet_hist *h;

	if (row->nhist == row->hcap) {
		size_t cap = row->hcap ? row->hcap * 2 : 2;

		h = realloc(row->hist, cap * sizeof(*h));
		if (!h)
			return -1;
		row->hist = h;
		row->hcap = cap;
	}
	h = &row->hist[row->nhist];
	h->when = rep->when;
	h->status = rep->status;
	h->confirmed = rep->confirmed;
	h->finished_at = strdup(rep->finished_at);
	h->report = strdup(rep->report);
	h->site = strdup(rep->site);
	row->nhist++;
	return h->finished_at && h->report && h->site ? 0 : -1;
}

static int take_ids(struct lb_fleet_row *row, const struct lb_fleet_rep *rep)
{
	if (*rep->keys) {
		char *u = lb_fleet_keys_union(row->keys, rep->keys);

		if (!u)
			return -1;
		free(row->keys);
		row->keys = u;
	}
	if (!*row->machine_id && *rep->machine_id) {
		char *m = strdup(rep->machine_id);

		if (!m)
			return -1;
		free(row->machine_id);
		row->machine_id = m;
	}
	return 0;
}

int lb_fleet_machine_add(struct lb_fleet_row *row, struct lb_fleet_rep *rep)
{
	struct lb_fleet_rep *old_l = row->latest, *old_a = row->attn;
	bool to_latest = !old_l || newer(rep, old_l);
	bool to_attn = rep->status != LB_FS_CLEAN && (!old_a || newer(rep, old_a));
	int rc = hist_add(row, rep) | take_ids(row, rep);

	row->reports++;
	if (!to_latest && !to_attn) {
		lb_fleet_rep_free(rep);
		return rc;
	}
	if (to_latest)
		row->latest = rep;
	if (to_attn)
		row->attn = rep;
	if (to_latest && old_l && old_l != row->attn)
		lb_fleet_rep_free(old_l);
	if (to_attn && old_a && old_a != row->latest && old_a != old_l)
		lb_fleet_rep_free(old_a);
	return rc;
}

/* The outcome the row shows: a clean run after a fixed one (or a clean run
 * that says it confirms an earlier fix) keeps the fix, confirmed. */
static void machine_outcome(struct lb_fleet_row *r)
{
	const struct lb_fleet_rep *l = r->latest, *a = r->attn;

	r->confirmed_at = NULL;
	r->shown = l;
	if (!l) {
		r->status = LB_FS_NOT_REPORTED;
	} else if (l->status == LB_FS_CLEAN && a && a->status == LB_FS_FIXED) {
		r->shown = a;
		r->status = LB_FS_FIXED;
		r->confirmed_at = l->finished_at;
	} else if (l->confirmed) {
		r->status = LB_FS_FIXED;
		r->confirmed_at = l->finished_at;
	} else {
		r->status = l->status;
	}
}

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_hist(const void *a, const void *b)
{
	const struct lb_fleet_hist *x = a, *y = b;
	int c = cmp_time(&x->when, &y->when);

	return c ? c : strcmp(x->report, y->report);
}

/* Rows whose time is before the incident or more than days from the
 * fleet's median are flagged (a wrong RTC must not stretch the timeline). */
static int flag_clock(struct lb_fleet_row *const *rows, size_t n, int days,
                      struct lb_fleet_stats *st)
{
	time_t *t = malloc((n ? n : 1) * sizeof(*t)), med;
	size_t k = 0;

	if (!t)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (rows[i]->shown && rows[i]->shown->when >= FLEET_INCIDENT_START)
			t[k++] = rows[i]->shown->when;
	qsort(t, k, sizeof(*t), cmp_time);
	med = k ? t[k / 2] : 0;
	free(t);
	for (size_t i = 0; i < n; i++) {
		const struct lb_fleet_rep *s = rows[i]->shown;
		time_t d;

		if (!s || !s->when)
			continue;
		d = s->when > med ? s->when - med : med - s->when;
		rows[i]->clock_off = s->when < FLEET_INCIDENT_START || d > (time_t)days * 86400;
		st->clock_off += rows[i]->clock_off;
	}
	return 0;
}

int lb_fleet_finalize(struct lb_fleet_row *const *rows, size_t n, int days,
                      struct lb_fleet_stats *st)
{
	st->machines = n;
	for (size_t i = 0; i < n; i++) {
		struct lb_fleet_row *r = rows[i];

		machine_outcome(r);
		if (r->nhist > 1)
			qsort(r->hist, r->nhist, sizeof(*r->hist), cmp_hist);
		st->status[r->status]++;
		st->superseded += r->reports ? r->reports - 1 : 0;
		st->confirmed += r->confirmed_at != NULL;
		st->locked += r->status == LB_FS_ATTENTION && r->shown->locked;
		st->unexpected += st->expected && !r->expected;
		/* protector IDs are GUIDs, unique per volume: no cross-machine dedup */
		for (const char *p = r->keys; *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : "")
			st->keys++;
	}
	return flag_clock(rows, n, days > 0 ? days : FLEET_CLOCK_DAYS, st);
}

/* ---- what the row shows ---- */

const char *lb_fleet_row_name(const struct lb_fleet_row *r, const char **from)
{
	const struct lb_fleet_rep *s = r->shown ? r->shown : r->latest;

	*from = "";
	if (r->latest && *r->latest->hostname) /* the newest name */
		return *from = "report", r->latest->hostname;
	if (s && *s->hostname)
		return *from = "report", s->hostname;
	if (*r->name)
		return *from = "inventory", r->name;
	if (s && *s->bl_name)
		return *from = "bitlocker", s->bl_name;
	return "";
}

const char *lb_fleet_row_site(const struct lb_fleet_row *r)
{
	if (*r->site)
		return r->site;
	if (r->shown && *r->shown->site)
		return r->shown->site;
	return r->latest ? r->latest->site : "";
}

/* The machine's key: its upper-cased name (a hostname up to its first dot),
 * else the agent ID, else the path (a machine of its own). */
char *lb_fleet_key(const char *name, const char *agent, const char *path)
{
	char *key = NULL;

	if (name && *name) {
		if (asprintf(&key, "H:%.*s", (int)strcspn(name, "."), name) < 0)
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
