/* fleet_collect.c - walking directory trees of reports and keeping one row
 * per machine, the latest report winning (see lb_fleet.h, docs/fleet.md). */
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

/* a newer than b: later finish time, then later finished_at text, then path */
static bool newer(const struct lb_fleet_row *a, const struct lb_fleet_row *b)
{
	int c;

	if (a->when != b->when)
		return a->when > b->when;
	c = strcmp(a->finished_at, b->finished_at);
	if (c)
		return c > 0;
	return strcmp(a->report, b->report) > 0;
}

#define SWAP(a, b) do { __typeof__(a) tmp_ = (a); (a) = (b); (b) = tmp_; } while (0)

/* old takes the report fields of nw (and nw those of old) */
static void take_report(struct lb_fleet_row *old, struct lb_fleet_row *nw)
{
	SWAP(old->hostname, nw->hostname);
	SWAP(old->agent_id, nw->agent_id);
	SWAP(old->actions, nw->actions);
	SWAP(old->keys, nw->keys);
	SWAP(old->finished_at, nw->finished_at);
	SWAP(old->report, nw->report);
	SWAP(old->reason, nw->reason);
	SWAP(old->mode, nw->mode);
	SWAP(old->status, nw->status);
	SWAP(old->when, nw->when);
}

/* Takes ownership of nw. */
static int fleet_add(struct fleet *fl, struct lb_fleet_row *nw)
{
	size_t h;
	struct lb_fleet_row *old;
	int rc = 0;

	if (fl->n >= fl->nb && fleet_grow(fl)) {
		lb_fleet_row_free(nw);
		return -1;
	}
	h = hash_key(nw->key) & (fl->nb - 1);
	for (old = fl->b[h]; old; old = old->next)
		if (!strcmp(old->key, nw->key))
			break;
	if (!old) {
		nw->next = fl->b[h];
		fl->b[h] = nw;
		fl->n++;
		return 0;
	}
	fl->st->superseded++;
	if (newer(nw, old))
		take_report(old, nw);
	/* a key used by any report of the machine has been exposed */
	if (*nw->keys) {
		char *u = lb_fleet_keys_union(old->keys, nw->keys);

		if (u) {
			free(old->keys);
			old->keys = u;
		} else {
			rc = -1;
		}
	}
	if (!*old->agent_id && *nw->agent_id)
		SWAP(old->agent_id, nw->agent_id);
	old->reports += nw->reports;
	lb_fleet_row_free(nw);
	return rc;
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

/* One file: a report becomes a row; anything else is counted and skipped. */
static int add_file(struct fleet *fl, const char *path, const struct lb_fleet_opts *o,
                    struct lb_err *err)
{
	struct lb_fleet_stats *st = fl->st;
	struct lb_fleet_row *row;
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
	row = lb_fleet_reduce(rep, path, &rerr);
	json_decref(rep);
	if (!row) {
		if (rerr.kind == LB_EK_INPUT) {
			st->not_reports++;
			return 0;
		}
		*err = rerr;
		return -1;
	}
	st->reports++;
	if (fleet_add(fl, row))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet table");
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
	int c = strcasecmp(x->hostname, y->hostname);

	return c ? c : strcmp(x->key, y->key);
}

/* The table as an array sorted by hostname, with the totals counted. */
static struct lb_fleet_row **sorted_rows(const struct fleet *fl, struct lb_fleet_stats *st,
                                         struct lb_err *err)
{
	struct lb_fleet_row **rows = malloc((fl->n ? fl->n : 1) * sizeof(*rows));
	size_t n = 0;

	if (!rows) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet rows");
		return NULL;
	}
	for (size_t i = 0; i < fl->nb; i++)
		for (struct lb_fleet_row *r = fl->b[i]; r; r = r->next) {
			rows[n++] = r;
			st->status[r->status]++;
		}
	if (n)
		qsort(rows, n, sizeof(*rows), cmp_rows);
	st->machines = n;
	/* protector IDs are GUIDs, unique per volume: no cross-machine dedup */
	for (size_t i = 0; i < n; i++)
		for (const char *p = rows[i]->keys; *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : "")
			st->keys++;
	return rows;
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
	for (size_t i = 0; i < ndirs && rc == 0; i++) {
		if (stat(dirs[i], &sb))
			rc = lb_err_set(err, LB_EK_INPUT, errno, "%s", dirs[i]);
		else if (S_ISDIR(sb.st_mode))
			rc = walk(&fl, dirs[i], 0, o, err);
		else
			rc = add_file(&fl, dirs[i], o, err);
	}
	if (rc == 0 && !(rows = sorted_rows(&fl, st, err)))
		rc = -1;
	if (rc == 0)
		rc = lb_fleet_write_csv(o->outdir, rows, st->machines, err);
	if (rc == 0)
		rc = lb_fleet_write_html(o->outdir, o->title ? o->title : "loopbreaker fleet", dirs,
		                         ndirs, st, rows, st->machines, err);
	free(rows);
	fleet_free(&fl);
	return rc;
}
