/* fleet_expect.c - the machines the fleet expects (--expect FILE) and the
 * war-room numbers: totals, BitLocker-locked, not reported, per-site
 * progress, causes (see lb_fleet.h, docs/fleet.md "Expected machines"). */
#include "fleet_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_file.h"

#define EXPECT_MAX_FILE (64u << 20)
#define EXPECT_MAX_FIELDS 64
#define SUMMARY_MAX_CAUSES 50

/* ---- the expected-machines file ---- */

/* Splits one CSV line in place (RFC 4180 quotes); returns the field count. */
static size_t csv_split(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	while (n < max) {
		char *o = p;

		f[n++] = p;
		if (*p == '"') {
			for (p++; *p; p++) {
				if (*p == '"' && p[1] == '"')
					*o++ = *p++;
				else if (*p == '"')
					break;
				else
					*o++ = *p;
			}
			if (*p == '"')
				p++;
			while (*p && *p != ',')
				p++;
		} else {
			while (*p && *p != ',')
				p++;
			o = p;
		}
		if (!*p) {
			*o = '\0';
			break;
		}
		*o = '\0';
		p++;
	}
	for (size_t i = 0; i < n; i++) { /* trim blanks */
		char *e;

		while (isspace((unsigned char)*f[i]))
			f[i]++;
		for (e = f[i] + strlen(f[i]); e > f[i] && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
	}
	return n;
}

static int header_col(char **f, size_t n, const char *const *names)
{
	for (size_t i = 0; i < n; i++)
		for (const char *const *k = names; *k; k++)
			if (!strcasecmp(f[i], *k))
				return (int)i;
	return -1;
}

struct expect_cols {
	int host, site; /* -1: none */
	bool header_seen;
};

/* The first line: a header naming the columns, or already a machine. */
static bool expect_header(char **f, size_t n, struct expect_cols *c)
{
	static const char *const hosts[] = { "hostname", "host", "name", "computername",
		                             "computer name", "device name", "devicename",
		                             "dnshostname", "machine", NULL };
	static const char *const sites[] = { "site", "location", NULL };

	c->header_seen = true;
	c->host = header_col(f, n, hosts);
	if (c->host < 0) {
		c->host = 0;
		c->site = 1; /* "hostname,site" */
		return false;
	}
	c->site = header_col(f, n, sites);
	return true;
}

static int expect_line(char *line, struct expect_cols *c,
                       int (*add)(void *, const char *, const char *), void *ctx)
{
	char *f[EXPECT_MAX_FIELDS];
	size_t n;

	line[strcspn(line, "\r")] = '\0';
	while (isspace((unsigned char)*line))
		line++;
	if (!*line || *line == '#')
		return 0;
	n = csv_split(line, f, EXPECT_MAX_FIELDS);
	if (!c->header_seen && expect_header(f, n, c))
		return 0;
	if ((size_t)c->host >= n || !*f[c->host])
		return 0;
	f[c->host][strcspn(f[c->host], ".")] = '\0'; /* a DNS name: its host part */
	if (!*f[c->host])
		return 0;
	return add(ctx, f[c->host], c->site >= 0 && (size_t)c->site < n ? f[c->site] : "");
}

int lb_fleet_expect_read(const char *path, int (*add)(void *, const char *, const char *),
                         void *ctx, struct lb_err *err)
{
	struct expect_cols c = { .host = 0, .site = -1, .header_seen = false };
	uint8_t *text;
	size_t len;
	char *s, *line, *save = NULL;
	int rc = 0;

	if (lb_read_file(path, EXPECT_MAX_FILE, &text, &len, err))
		return -1;
	s = realloc(text, len + 1);
	if (!s) {
		free(text);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
	}
	s[len] = '\0';
	line = !strncmp(s, "\xef\xbb\xbf", 3) ? s + 3 : s; /* UTF-8 BOM (Excel, PowerShell) */
	for (line = strtok_r(line, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save))
		if (expect_line(line, &c, add, ctx))
			rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: expected machines", path);
	free(s);
	return rc;
}

/* ---- the war-room numbers ---- */

static json_t *status_counts(void)
{
	json_t *t = json_object();

	for (int s = 0; s < LB_FS_COUNT; s++)
		json_object_set_new(t, lb_fleet_status_name((enum lb_fleet_status)s),
		                    json_integer(0));
	json_object_set_new(t, "machines", json_integer(0));
	json_object_set_new(t, "bitlocker_locked", json_integer(0));
	return t;
}

static void bump(json_t *o, const char *k)
{
	json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + 1));
}

static json_int_t count_of(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* share of machines fixed or clean, in per mille, for sorting */
static json_int_t done_permille(json_t *s)
{
	json_int_t m = count_of(s, "machines");

	return m ? (count_of(s, "fixed") + count_of(s, "clean")) * 1000 / m : 1000;
}

static int cmp_sites(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t dx = done_permille(x), dy = done_permille(y);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "site")),
	              json_string_value(json_object_get(y, "site")));
}

/* The values of map (an object of objects) sorted with cmp, appended to
 * arr (at most max of them, each with the "done_percent" of its counts if
 * percent), then map is released.  arr, or NULL on allocation failure. */
static json_t *sorted_values(json_t *map, json_t *arr, int (*cmp)(const void *, const void *),
                             size_t max, bool percent)
{
	size_t nv = json_object_size(map), i = 0;
	json_t **list = malloc((nv ? nv : 1) * sizeof(*list)), *v;
	const char *k;

	if (!list || !arr) {
		free(list);
		json_decref(map);
		json_decref(arr);
		return NULL;
	}
	json_object_foreach(map, k, v)
		list[i++] = v;
	qsort(list, nv, sizeof(*list), cmp);
	for (i = 0; i < nv && i < max; i++) {
		if (percent)
			json_object_set_new(list[i], "done_percent",
			                    json_real((double)done_permille(list[i]) / 10.0));
		json_array_append(arr, list[i]);
	}
	free(list);
	json_decref(map);
	return arr;
}

/* per site: counts by status, sorted with the site furthest behind first */
static json_t *sites_json(struct lb_fleet_row *const *rows, size_t n)
{
	json_t *map = json_object(), *arr = json_array();

	for (size_t r = 0; r < n; r++) {
		const char *site = lb_fleet_row_site(rows[r]);
		json_t *s;

		site = *site ? site : "(no site)";
		if (!(s = json_object_get(map, site))) {
			s = status_counts();
			json_object_set_new(s, "site", json_string(site));
			json_object_set_new(map, site, s);
		}
		bump(s, "machines");
		bump(s, lb_fleet_status_name(rows[r]->status));
		if (rows[r]->status == LB_FS_ATTENTION && rows[r]->shown->locked)
			bump(s, "bitlocker_locked");
	}
	return sorted_values(map, arr, cmp_sites, (size_t)-1, true);
}

static int cmp_causes(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t cx = count_of(x, "machines"), cy = count_of(y, "machines");

	if (cx != cy)
		return cx > cy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "cause")),
	              json_string_value(json_object_get(y, "cause")));
}

/* the causes of needs_attention and error, most frequent first */
static json_t *causes_json(struct lb_fleet_row *const *rows, size_t n)
{
	json_t *map = json_object(), *arr = json_array();

	for (size_t r = 0; r < n; r++) {
		const char *c;
		json_t *e;

		if (rows[r]->status != LB_FS_ATTENTION && rows[r]->status != LB_FS_ERROR)
			continue;
		c = *rows[r]->shown->cause ? rows[r]->shown->cause : "(no reason given)";
		if (!(e = json_object_get(map, c))) {
			e = json_pack("{s:s, s:i}", "cause", c, "machines", 0);
			json_object_set_new(map, c, e);
		}
		bump(e, "machines");
	}
	return sorted_values(map, arr, cmp_causes, SUMMARY_MAX_CAUSES, false);
}

json_t *lb_fleet_summary_json(struct lb_fleet_row *const *rows, size_t n,
                              const struct lb_fleet_stats *st)
{
	json_t *t = json_object();

	for (int s = 0; s < LB_FS_COUNT; s++)
		json_object_set_new(t, lb_fleet_status_name((enum lb_fleet_status)s),
		                    json_integer((json_int_t)st->status[s]));
	return json_pack("{s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o*, s:o*}",
	                 "schema", "loopbreaker-fleet-summary/1",
	                 "machines", (json_int_t)st->machines,
	                 "reports", (json_int_t)st->reports,
	                 "superseded", (json_int_t)st->superseded, "totals", t,
	                 "confirmed", (json_int_t)st->confirmed,
	                 "bitlocker_locked", (json_int_t)st->locked,
	                 "not_reported", (json_int_t)st->status[LB_FS_NOT_REPORTED],
	                 "expected", (json_int_t)st->expected,
	                 "unexpected", (json_int_t)st->unexpected,
	                 "clock_off", (json_int_t)st->clock_off, "keys", (json_int_t)st->keys,
	                 "sites", sites_json(rows, n), "causes", causes_json(rows, n));
}
