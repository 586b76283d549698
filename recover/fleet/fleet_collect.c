/* fleet_collect.c - walking directory trees of reports and keeping one row
 * per machine (see lb_fleet.h, docs/fleet.md). */
#include "fleet_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lb_file.h"
#include "lb_report.h"

#define FLEET_MAX_REPORT (64u << 20) /* bigger files are not reports */
#define FLEET_MAX_DEPTH 32

/* ---- the machine table: hostname (or agent ID) -> row ---- */

struct fleet {
	struct lb_fleet_row **b;
	size_t nb, n;
	struct lb_fleet_stats *st;
};

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int fleet_grow(struct fleet *fl)
{
	size_t nb = fl->nb ? fl->nb * 2 : 1024;
	struct lb_fleet_row **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < fl->nb; i++) {
		struct lb_fleet_row *r = fl->b[i], *next;

		for (; r; r = next) {
			size_t h = hash_key(r->key) & (nb - 1);

			next = r->next;
			r->next = b[h];
			b[h] = r;
		}
	}
	free(fl->b);
	fl->b = b;
	fl->nb = nb;
	return 0;
}

/* The row of a machine: same key, and machine IDs that do not differ (a
 * report without one joins the first row of its name). */
static struct lb_fleet_row *fleet_find(struct fleet *fl, const char *key, const char *mid)
{
	struct lb_fleet_row *r = fl->b[hash_key(key) & (fl->nb - 1)];

	for (; r; r = r->next)
		if (!strcmp(r->key, key) && (!*mid || !*r->machine_id || !strcmp(mid, r->machine_id)))
			return r;
	return NULL;
}

static struct lb_fleet_row *fleet_insert(struct fleet *fl, const char *key)
{
	struct lb_fleet_row *r;
	size_t h;

	if (fl->n >= fl->nb && fleet_grow(fl))
		return NULL;
	r = lb_fleet_row_new(key);
	if (!r)
		return NULL;
	h = hash_key(key) & (fl->nb - 1);
	r->next = fl->b[h];
	fl->b[h] = r;
	fl->n++;
	return r;
}

/* Takes ownership of rep. */
static int fleet_add(struct fleet *fl, struct lb_fleet_rep *rep)
{
	const char *name = *rep->hostname ? rep->hostname : rep->bl_name;
	char *key = lb_fleet_key(name, rep->agent_id, rep->report);
	struct lb_fleet_row *row = NULL;

	if (key)
		row = fleet_find(fl, key, rep->machine_id);
	if (key && !row)
		row = fleet_insert(fl, key);
	free(key);
	if (!row) {
		lb_fleet_rep_free(rep);
		return -1;
	}
	return lb_fleet_machine_add(row, rep);
}

/* an expected machine: a row with no report yet */
static int expect_add(void *ctx, const char *name, const char *site)
{
	struct fleet *fl = ctx;
	char *key = lb_fleet_key(name, NULL, name);
	struct lb_fleet_row *row = NULL;

	if (key)
		row = fleet_find(fl, key, "");
	if (key && !row)
		row = fleet_insert(fl, key);
	free(key);
	if (!row)
		return -1;
	if (!row->expected)
		fl->st->expected++;
	row->expected = true;
	free(row->name);
	free(row->site);
	row->name = strdup(name);
	row->site = strdup(site ? site : "");
	return row->name && row->site ? 0 : -1;
}

static void fleet_free(struct fleet *fl)
{
	for (size_t i = 0; i < fl->nb; i++) {
		struct lb_fleet_row *r = fl->b[i], *next;

		for (; r; r = next) {
			next = r->next;
			lb_fleet_row_free(r);
		}
	}
	free(fl->b);
}

/* ---- walking the report directories ---- */

static bool is_json_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcasecmp(name + n - 5, ".json");
}

static int add_report(struct fleet *fl, json_t *rep, const char *path, struct lb_err *err);

/* One file: a report becomes a row; anything else is counted and skipped. */
static int add_file(struct fleet *fl, const char *path, const struct lb_fleet_opts *o,
                    struct lb_err *err)
{
	struct lb_fleet_stats *st = fl->st;
	struct lb_err rerr;
	json_error_t jerr;
	struct stat sb;
	uint8_t *text;
	size_t len;
	json_t *rep;

	st->files++;
	if (o->progress && st->files % 5000 == 0)
		fprintf(o->progress, "fleet: %zu files, %zu reports, %zu machines\n", st->files,
		        st->reports, fl->n);
	lb_err_clear(&rerr);
	if (stat(path, &sb) || !S_ISREG(sb.st_mode) ||
	    lb_read_file(path, FLEET_MAX_REPORT, &text, &len, &rerr)) {
		if (rerr.kind == LB_EK_INTERNAL) {
			*err = rerr;
			return -1;
		}
		st->unreadable++;
		return 0;
	}
	rep = json_loadb((const char *)text, len, 0, &jerr);
	free(text);
	if (!rep) {
		st->unreadable++;
		return 0;
	}
	return add_report(fl, rep, path, err);
}

/* One machine's report (rep consumed); *is_report says it was one. */
static int add_one(struct fleet *fl, json_t *rep, const char *path, bool *is_report,
                   struct lb_err *err)
{
	struct lb_fleet_rep *row;
	struct lb_err rerr;

	lb_err_clear(&rerr);
	row = lb_fleet_reduce(rep, path, &rerr);
	json_decref(rep);
	if (!row) {
		if (rerr.kind == LB_EK_INPUT)
			return 0;
		*err = rerr;
		return -1;
	}
	*is_report = true;
	if (fleet_add(fl, row))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet table");
	return 0;
}

/* A report file (rep consumed): a run summary over several machines
 * ("kind": "run") is skipped, since each machine has its own report beside
 * it; a report of several machines from before there were machine reports
 * (no "kind") is split like loopbreaker splits one now (lb_report_machines),
 * each part named PATH#N. */
static int add_report(struct fleet *fl, json_t *rep, const char *path, struct lb_err *err)
{
	const char *kind = json_string_value(json_object_get(rep, "kind"));
	json_t *ms, *m;
	size_t i;
	bool is_report = false;
	int rc = 0;

	if (kind && !strcmp(kind, "run")) {
		json_decref(rep);
		fl->st->not_reports++;
		return 0;
	}
	ms = kind ? NULL : lb_report_machines(rep);
	if (json_array_size(ms) > 1) {
		json_array_foreach(ms, i, m) {
			char *p = NULL;

			if (rc || asprintf(&p, "%s#%zu", path, i + 1) < 0)
				break;
			rc = add_one(fl, json_incref(m), p, &is_report, err);
			free(p);
		}
		json_decref(rep);
	} else {
		rc = add_one(fl, rep, path, &is_report, err);
	}
	json_decref(ms);
	if (!rc)
		is_report ? fl->st->reports++ : fl->st->not_reports++;
	return rc;
	return 0;
}

static int walk(struct fleet *fl, const char *dir, int depth, const struct lb_fleet_opts *o,
                struct lb_err *err)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > FLEET_MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d && depth > 0) {
		fl->st->unreadable++; /* one unreadable subdirectory does not stop the merge */
		if (o->progress)
			fprintf(o->progress, "fleet: skipped %s: %s\n", dir, strerror(errno));
		return 0;
	}
	if (!d)
		return lb_err_set(err, LB_EK_INPUT, errno, "%s", dir);
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		char *p;
		struct stat sb;
		bool isdir, isreg;

		if (de->d_name[0] == '.')
			continue; /* ., .., hidden and temporary files */
		if (asprintf(&p, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
		             de->d_name) < 0) {
			rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "path");
			break;
		}
		isdir = de->d_type == DT_DIR;
		isreg = de->d_type == DT_REG || de->d_type == DT_LNK;
		if (de->d_type == DT_UNKNOWN && lstat(p, &sb) == 0) {
			isdir = S_ISDIR(sb.st_mode);
			isreg = S_ISREG(sb.st_mode) || S_ISLNK(sb.st_mode);
		}
		if (isdir)
			rc = walk(fl, p, depth + 1, o, err);
		else if (isreg && is_json_name(de->d_name))
			rc = add_file(fl, p, o, err);
		free(p);
	}
	closedir(d);
	return rc;
}

/* ---- the run ---- */

int lb_fleet_replace(const char *outdir, const char *name, const void *data, size_t len,
                     struct lb_err *err)
{
	char *path;
	int rc;

	if (asprintf(&path, "%s/%s", outdir, name) < 0)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "path");
	rc = lb_replace_file(path, data, len, 0644, err);
	free(path);
	return rc;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct lb_fleet_row *x = *(const struct lb_fleet_row *const *)a;
	const struct lb_fleet_row *y = *(const struct lb_fleet_row *const *)b;
	const char *fx, *fy;
	int c = strcasecmp(lb_fleet_row_name(x, &fx), lb_fleet_row_name(y, &fy));

	if (!c)
		c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->machine_id, y->machine_id);
}

/* The table as an array sorted by name, outcomes set and totals counted. */
static struct lb_fleet_row **sorted_rows(const struct fleet *fl, const struct lb_fleet_opts *o,
                                         struct lb_fleet_stats *st, struct lb_err *err)
{
	struct lb_fleet_row **rows = malloc((fl->n ? fl->n : 1) * sizeof(*rows));
	size_t n = 0;

	if (!rows) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet rows");
		return NULL;
	}
	for (size_t i = 0; i < fl->nb; i++)
		for (struct lb_fleet_row *r = fl->b[i]; r; r = r->next)
			rows[n++] = r;
	if (lb_fleet_finalize(rows, n, o->clock_days, st)) {
		free(rows);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet rows");
		return NULL;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_rows);
	return rows;
}

static int write_summary(const char *outdir, struct lb_fleet_row *const *rows, size_t n,
                         const struct lb_fleet_stats *st, struct lb_err *err)
{
	json_t *j = lb_fleet_summary_json(rows, n, st);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	int rc = text ? lb_fleet_replace(outdir, "fleet-summary.json", text, strlen(text), err)
	              : lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet-summary.json");

	free(text);
	json_decref(j);
	return rc;
}

int lb_fleet_run(const char *const *dirs, size_t ndirs, const struct lb_fleet_opts *o,
                 struct lb_fleet_stats *st, struct lb_err *err)
{
	struct fleet fl = { .b = NULL, .nb = 0, .n = 0, .st = st };
	struct lb_fleet_row **rows = NULL;
	struct stat sb;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (mkdir(o->outdir, 0755) && errno != EEXIST)
		return lb_err_set(err, LB_EK_IO, errno, "%s", o->outdir);
	if (fleet_grow(&fl))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet table");
	if (o->expect && lb_fleet_expect_read(o->expect, expect_add, &fl, err)) {
		fleet_free(&fl);
		return -1;
	}
	for (size_t i = 0; i < ndirs && rc == 0; i++) {
		if (stat(dirs[i], &sb))
			rc = lb_err_set(err, LB_EK_INPUT, errno, "%s", dirs[i]);
		else if (S_ISDIR(sb.st_mode))
			rc = walk(&fl, dirs[i], 0, o, err);
		else
			rc = add_file(&fl, dirs[i], o, err);
	}
	if (rc == 0 && !(rows = sorted_rows(&fl, o, st, err)))
		rc = -1;
	if (rc == 0)
		rc = lb_fleet_write_csv(o->outdir, rows, st->machines, err);
	if (rc == 0)
		rc = write_summary(o->outdir, rows, st->machines, st, err);
	if (rc == 0)
		rc = lb_fleet_write_html(o->outdir, o->title ? o->title : "loopbreaker fleet", dirs,
		                         ndirs, st, rows, st->machines, err);
	free(rows);
	fleet_free(&fl);
	return rc;
}
