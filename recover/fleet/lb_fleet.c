/* lb_fleet.c - one row per machine from a directory tree of reports; CSV and
 * a self-contained HTML dashboard (see lb_fleet.h, docs/fleet.md). */
#include "lb_fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_report.h"

#define FLEET_MAX_REPORT (64u << 20) /* bigger files are not reports */
#define FLEET_MAX_DEPTH 32
#define FLEET_MAX_ACTIONS 16

static const char *const status_names[LB_FS_COUNT] = {
	[LB_FS_FIXED] = "fixed",
	[LB_FS_CLEAN] = "clean",
	[LB_FS_ATTENTION] = "needs_attention",
	[LB_FS_ERROR] = "error",
};

static const char *const csv_columns[] = {
	"hostname", "agent_id", "status", "actions", "keys_used", "finished_at", "report",
	"mode", "reports", "reason",
};

const char *lb_fleet_status_name(enum lb_fleet_status s)
{
	return s < LB_FS_COUNT ? status_names[s] : "error";
}

/* ---- reducing one report to a row ---- */

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static time_t parse_iso(const char *s)
{
	struct tm tm;
	const char *rest = lb_report_time(s, &tm);

	return rest && *rest == 'Z' ? timegm(&tm) : 0;
}

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

static const char *first_string(json_t *arr)
{
	return json_string_value(json_array_get(arr, 0));
}

/* Appends the ';'-separated IDs of add that list does not have yet. */
static char *keys_union(const char *list, const char *add)
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
		const char *q = out;
		bool have = false;

		while (n && *q) {
			const char *qe = strchr(q, ';');
			size_t qn = qe ? (size_t)(qe - q) : strlen(q);

			if (qn == n && !strncmp(q, a, n)) {
				have = true;
				break;
			}
			q += qn + (qe ? 1 : 0);
		}
		if (n && !have) {
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
	struct lb_fleet_row *r;
	struct actions acts = { .n = 0 };
	const char *schema = jstr(rep, "schema"), *st = jstr(rep, "status");
	const char *host = jstr(rep, "hostname"), *agent = NULL, *reason = NULL;
	json_t *t, *v, *in, *f, *e;
	size_t i, j, k, m;
	char *keys = NULL, buf[160];

	if (!json_is_object(rep) || !schema || strncmp(schema, "loopbreaker-report/", 19)) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: not a loopbreaker report", path);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet row");
		return NULL;
	}
	agent = json_string_value(json_object_get(json_object_get(rep, "sensor"), "agent_id"));
	reason = first_string(json_object_get(rep, "reasons"));
	json_array_foreach(json_object_get(rep, "targets"), i, t) {
		if (!reason)
			reason = jstr(t, "error");
		json_array_foreach(json_object_get(t, "volumes"), j, v) {
			if (!reason)
				reason = first_string(json_object_get(v, "reasons"));
			if (!reason)
				reason = jstr(v, "error");
			json_array_foreach(json_object_get(v, "installs"), k, in) {
				if (!host)
					host = jstr(in, "hostname");
				if (!agent)
					agent = json_string_value(json_object_get(json_object_get(in,
					                          "sensor"), "agent_id"));
				json_array_foreach(json_object_get(in, "findings"), m, f) {
					const char *kind = jstr(f, "kind");

					count_action(&acts, kind && !strcmp(kind, "registry") ?
					             "registry_" : "", jstr(f, "action"));
				}
			}
			json_array_foreach(json_object_get(v, "bcd"), k, f)
				count_action(&acts, "bcd_", jstr(f, "action"));
		}
	}
	keys = strdup("");
	json_array_foreach(json_object_get(rep, "bitlocker_protectors_used"), i, e) {
		const char *id = jstr(e, "protector");
		char *nk;

		if (!id || !keys || strchr(id, ';'))
			continue;
		nk = keys_union(keys, id);
		free(keys);
		keys = nk;
	}
	r->keys = keys;

	r->status = LB_FS_ERROR;
	for (int s = 0; s < LB_FS_COUNT; s++)
		if (st && !strcmp(st, status_names[s]))
			r->status = (enum lb_fleet_status)s;
	if (!st && !reason)
		reason = "report incomplete: no status (the run did not finish)";
	else if (st && r->status == LB_FS_ERROR && strcmp(st, "error") && !reason) {
		snprintf(buf, sizeof(buf), "unknown status '%.100s'", st);
		reason = buf;
	}
	r->hostname = dup0(host);
	r->agent_id = dup0(agent);
	r->finished_at = dup0(jstr(rep, "finished_at"));
	r->when = parse_iso(jstr(rep, "finished_at"));
	if (!r->when)
		r->when = parse_iso(jstr(rep, "started_at"));
	r->report = dup0(path);
	r->reason = dup0(reason);
	r->mode = dup0(jstr(rep, "mode"));
	r->actions = actions_string(&acts);
	r->reports = 1;
	if (host && *host) {
		size_t n = strlen(host);

		r->key = malloc(n + 3);
		if (r->key) {
			r->key[0] = 'H';
			r->key[1] = ':';
			for (size_t c = 0; c <= n; c++)
				r->key[c + 2] = (char)((host[c] >= 'a' && host[c] <= 'z') ?
				                       host[c] - 'a' + 'A' : host[c]);
		}
	} else if (agent && *agent) {
		r->key = malloc(strlen(agent) + 3);
		if (r->key)
			sprintf(r->key, "A:%s", agent);
	} else {
		r->key = malloc(strlen(path) + 3);
		if (r->key)
			sprintf(r->key, "P:%s", path);
	}
	if (!r->key || !r->hostname || !r->agent_id || !r->finished_at || !r->report ||
	    !r->reason || !r->mode || !r->actions || !r->keys) {
		lb_fleet_row_free(r);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet row");
		return NULL;
	}
	return r;
}

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

#define SWAP_FIELD(f) do { tmp = old->f; old->f = nw->f; nw->f = tmp; } while (0)

/* Takes ownership of nw. */
static int fleet_add(struct fleet *fl, struct lb_fleet_row *nw)
{
	size_t h;
	struct lb_fleet_row *old;

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
	if (newer(nw, old)) {
		char *tmp;
		enum lb_fleet_status s = old->status;
		time_t w = old->when;

		SWAP_FIELD(hostname);
		SWAP_FIELD(agent_id);
		SWAP_FIELD(actions);
		SWAP_FIELD(keys);
		SWAP_FIELD(finished_at);
		SWAP_FIELD(report);
		SWAP_FIELD(reason);
		SWAP_FIELD(mode);
		old->status = nw->status;
		old->when = nw->when;
		nw->status = s;
		nw->when = w;
	}
	/* a key used by any report of the machine has been exposed */
	if (*nw->keys) {
		char *u = keys_union(old->keys, nw->keys);

		if (!u) {
			lb_fleet_row_free(nw);
			return -1;
		}
		free(old->keys);
		old->keys = u;
	}
	if (!*old->agent_id && *nw->agent_id) {
		char *tmp = old->agent_id;

		old->agent_id = nw->agent_id;
		nw->agent_id = tmp;
	}
	old->reports += nw->reports;
	lb_fleet_row_free(nw);
	return 0;
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

static int add_file(struct fleet *fl, const char *path, const struct lb_fleet_opts *o,
                    struct lb_err *err)
{
	struct lb_fleet_stats *st = fl->st;
	struct lb_fleet_row *row;
	struct lb_err rerr;
	json_error_t jerr;
	struct stat sb;
	json_t *rep;
	FILE *f;

	st->files++;
	if (o->progress && st->files % 5000 == 0)
		fprintf(o->progress, "fleet: %zu files, %zu reports, %zu machines\n", st->files,
		        st->reports, fl->n);
	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > FLEET_MAX_REPORT) {
		if (f)
			fclose(f);
		st->unreadable++;
		return 0;
	}
	rep = json_loadf(f, 0, &jerr);
	fclose(f);
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

/* ---- output ---- */

char *lb_fleet_csv_field(const char *s)
{
	size_t n = strlen(s), q = 0;
	bool quote = false, lead = strchr("=+-@\t\r", s[0]) && s[0];
	char *out, *p;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			q++;
		if (s[i] == '"' || s[i] == ',' || s[i] == '\n' || s[i] == '\r')
			quote = true;
	}
	quote = quote || lead;
	out = malloc(n + q + 4);
	if (!out)
		return NULL;
	p = out;
	if (quote)
		*p++ = '"';
	if (lead)
		*p++ = '\'';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	if (quote)
		*p++ = '"';
	*p = '\0';
	return out;
}

int lb_fleet_write_script_json(FILE *f, const char *json)
{
	for (const char *p = json; *p; p++) {
		int rc;

		switch (*p) {
		case '<': rc = fputs("\\u003c", f); break;
		case '>': rc = fputs("\\u003e", f); break;
		case '&': rc = fputs("\\u0026", f); break;
		default: rc = putc(*p, f); break;
		}
		if (rc == EOF)
			return -1;
	}
	return 0;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct lb_fleet_row *x = *(const struct lb_fleet_row *const *)a;
	const struct lb_fleet_row *y = *(const struct lb_fleet_row *const *)b;
	int c = strcasecmp(x->hostname, y->hostname);

	return c ? c : strcmp(x->key, y->key);
}

static const char *row_field(const struct lb_fleet_row *r, size_t i, char *num)
{
	switch (i) {
	case 0: return r->hostname;
	case 1: return r->agent_id;
	case 2: return lb_fleet_status_name(r->status);
	case 3: return r->actions;
	case 4: return r->keys;
	case 5: return r->finished_at;
	case 6: return r->report;
	case 7: return r->mode;
	case 8: sprintf(num, "%u", r->reports); return num;
	default: return r->reason;
	}
}

#define NCOLS (sizeof(csv_columns) / sizeof(csv_columns[0]))

/* Opens OUTDIR/name.tmp; fleet_close renames it over OUTDIR/name. */
static FILE *out_open(const char *outdir, const char *name, char **tmp, struct lb_err *err)
{
	FILE *f;

	if (asprintf(tmp, "%s/.%s.tmp", outdir, name) < 0) {
		*tmp = NULL;
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "path");
		return NULL;
	}
	f = fopen(*tmp, "w");
	if (!f)
		lb_err_set(err, LB_EK_IO, errno, "%s", *tmp);
	return f;
}

static int out_close(FILE *f, const char *outdir, const char *name, char *tmp, bool ok,
                     struct lb_err *err)
{
	char *final = NULL;
	int rc = 0;

	if (fflush(f) || ferror(f) || fsync(fileno(f)))
		ok = ok && lb_err_set(err, LB_EK_IO, errno, "%s", tmp) == 0;
	if (fclose(f))
		ok = ok && lb_err_set(err, LB_EK_IO, errno, "%s", tmp) == 0;
	if (ok && asprintf(&final, "%s/%s", outdir, name) < 0) {
		final = NULL;
		ok = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "path") == 0;
	}
	if (ok && rename(tmp, final))
		ok = lb_err_set(err, LB_EK_IO, errno, "%s", final) == 0;
	if (!ok) {
		unlink(tmp);
		rc = -1;
	}
	free(final);
	free(tmp);
	return rc;
}

static int write_csv(const char *outdir, struct lb_fleet_row **rows, size_t n, struct lb_err *err)
{
	char *tmp, num[16];
	FILE *f = out_open(outdir, "fleet.csv", &tmp, err);
	bool ok = true;

	if (!f) {
		free(tmp);
		return -1;
	}
	for (size_t c = 0; c < NCOLS; c++)
		fprintf(f, "%s%s", c ? "," : "", csv_columns[c]);
	fputs("\r\n", f);
	for (size_t i = 0; i < n && ok; i++) {
		for (size_t c = 0; c < NCOLS && ok; c++) {
			char *q = lb_fleet_csv_field(row_field(rows[i], c, num));

			if (!q)
				ok = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "csv") == 0;
			else
				fprintf(f, "%s%s", c ? "," : "", q);
			free(q);
		}
		fputs("\r\n", f);
	}
	return out_close(f, outdir, "fleet.csv", tmp, ok, err);
}

/* ---- the dashboard page (data goes between the two halves) ---- */

static const char html_head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
	"<title>loopbreaker fleet</title>\n"
	"<style>\n"
	":root { --fixed: #1a7f37; --clean: #57606a; --needs_attention: #bf8700; --error: #cf222e; --line: #d0d7de; }\n"
	"* { box-sizing: border-box; }\n"
	"body { font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }\n"
	"header { background: #24292f; color: #fff; padding: 14px 24px; }\n"
	"header h1 { margin: 0; font-size: 20px; font-weight: 600; }\n"
	"header p { margin: 4px 0 0; color: #c9d1d9; font-size: 13px; }\n"
	"main { padding: 16px 24px 40px; }\n"
	"section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 16px; margin-bottom: 16px; }\n"
	"h2 { font-size: 15px; margin: 0 0 10px; }\n"
	".cards { display: grid; grid-template-columns: repeat(5, minmax(140px, 1fr)); gap: 12px; margin-bottom: 16px; }\n"
	".card { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--clean); border-radius: 6px; padding: 10px 14px; cursor: pointer; user-select: none; }\n"
	".card.total { border-left-color: #24292f; }\n"
	".card.fixed { border-left-color: var(--fixed); } .card.clean { border-left-color: var(--clean); }\n"
	".card.needs_attention { border-left-color: var(--needs_attention); } .card.error { border-left-color: var(--error); }\n"
	".card.active { outline: 3px solid #0969da; }\n"
	".card .num { font-size: 38px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }\n"
	".card .lbl { font-size: 13px; color: #57606a; text-transform: uppercase; letter-spacing: .04em; }\n"
	".card .pct { font-size: 12px; color: #57606a; }\n"
	".fixed .num { color: var(--fixed); } .needs_attention .num { color: var(--needs_attention); } .error .num { color: var(--error); } .clean .num { color: var(--clean); }\n"
	".row2 { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; }\n"
	"svg { width: 100%; height: auto; display: block; }\n"
	".legend span { display: inline-block; margin-right: 14px; font-size: 12px; }\n"
	".legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }\n"
	".tools { display: flex; gap: 10px; align-items: center; margin-bottom: 8px; flex-wrap: wrap; }\n"
	".tools input { flex: 1; min-width: 240px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font-size: 14px; }\n"
	".tools select, button { padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; font-size: 13px; cursor: pointer; }\n"
	"table { border-collapse: collapse; width: 100%; font-size: 13px; }\n"
	"th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }\n"
	"th { position: sticky; top: 0; background: #f6f8fa; cursor: pointer; white-space: nowrap; }\n"
	"th.sorted::after { content: ' \\25B2'; font-size: 10px; } th.sorted.desc::after { content: ' \\25BC'; }\n"
	"td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }\n"
	"td.nowrap { white-space: nowrap; }\n"
	"td.path { color: #57606a; max-width: 320px; overflow-wrap: anywhere; }\n"
	".badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; white-space: nowrap; }\n"
	".badge.fixed { background: var(--fixed); } .badge.clean { background: var(--clean); }\n"
	".badge.needs_attention { background: var(--needs_attention); } .badge.error { background: var(--error); }\n"
	".muted { color: #57606a; font-size: 12px; }\n"
	"textarea { width: 100%; min-height: 80px; font-family: ui-monospace, monospace; font-size: 12px; }\n"
	"ol.reasons { margin: 0; padding-left: 20px; } ol.reasons li { margin-bottom: 4px; }\n"
	"@media (max-width: 900px) { .cards { grid-template-columns: repeat(2, 1fr); } .row2 { grid-template-columns: 1fr; } }\n"
	"</style>\n"
	"</head>\n"
	"<body>\n"
	"<header><h1 id=\"title\">loopbreaker fleet</h1><p id=\"generated\">This dashboard needs JavaScript; fleet.csv has the same data.</p></header>\n"
	"<main>\n"
	"<div class=\"cards\">\n"
	"<div class=\"card total\" data-status=\"\"><div class=\"lbl\">Machines</div><div class=\"num\" id=\"n-total\">-</div><div class=\"pct\" id=\"p-total\">&nbsp;</div></div>\n"
	"<div class=\"card fixed\" data-status=\"fixed\"><div class=\"lbl\">Fixed</div><div class=\"num\" id=\"n-fixed\">-</div><div class=\"pct\" id=\"p-fixed\">&nbsp;</div></div>\n"
	"<div class=\"card needs_attention\" data-status=\"needs_attention\"><div class=\"lbl\">Needs attention</div><div class=\"num\" id=\"n-needs_attention\">-</div><div class=\"pct\" id=\"p-needs_attention\">&nbsp;</div></div>\n"
	"<div class=\"card error\" data-status=\"error\"><div class=\"lbl\">Error</div><div class=\"num\" id=\"n-error\">-</div><div class=\"pct\" id=\"p-error\">&nbsp;</div></div>\n"
	"<div class=\"card clean\" data-status=\"clean\"><div class=\"lbl\">Clean</div><div class=\"num\" id=\"n-clean\">-</div><div class=\"pct\" id=\"p-clean\">&nbsp;</div></div>\n"
	"</div>\n"
	"<div class=\"row2\">\n"
	"<section><h2>Timeline <span class=\"muted\" id=\"tl-note\"></span></h2><div id=\"timeline\"></div>\n"
	"<div class=\"legend\"><span><i style=\"background:var(--fixed)\"></i>fixed</span><span><i style=\"background:var(--needs_attention)\"></i>needs attention</span><span><i style=\"background:var(--error)\"></i>error</span><span><i style=\"background:var(--clean)\"></i>clean</span><span><i style=\"background:#0969da;height:2px;vertical-align:3px\"></i>fixed, cumulative</span></div></section>\n"
	"<section><h2>Why machines need attention</h2><ol class=\"reasons\" id=\"reasons\"></ol><p class=\"muted\" id=\"reasons-note\"></p></section>\n"
	"</div>\n"
	"<section><h2>Machines <span class=\"muted\" id=\"count\"></span></h2>\n"
	"<div class=\"tools\"><input id=\"filter\" type=\"search\" placeholder=\"Filter: hostname, agent ID, protector ID, reason, path ...\" autocomplete=\"off\">\n"
	"<select id=\"status-filter\"><option value=\"\">all statuses</option><option value=\"fixed\">fixed</option><option value=\"needs_attention\">needs attention</option><option value=\"error\">error</option><option value=\"clean\">clean</option></select>\n"
	"<a href=\"fleet.csv\" download>fleet.csv</a></div>\n"
	"<div style=\"overflow:auto; max-height: 70vh\"><table id=\"machines\"><thead><tr id=\"machines-head\"></tr></thead><tbody id=\"machines-body\"></tbody></table></div>\n"
	"<p><button id=\"more\" type=\"button\">Show more</button></p>\n"
	"</section>\n"
	"<section><h2>BitLocker recovery keys to rotate <span class=\"muted\" id=\"keys-count\"></span></h2>\n"
	"<p class=\"muted\">Recovery passwords used to unlock a volume during repair were exposed to the repair medium: rotate each protector (e.g. manage-bde -protectors -delete / -add, or your escrow's rotation) once the machine is back.</p>\n"
	"<table><thead><tr><th>Protector ID</th><th>Machine</th><th>Agent ID</th><th>Status</th></tr></thead><tbody id=\"keys-body\"></tbody></table>\n"
	"<p class=\"muted\">All protector IDs, one per line:</p><textarea id=\"keys-text\" readonly></textarea>\n"
	"</section>\n"
	"</main>\n";

static const char html_tail[] =
	"<script>\n"
	"(function () {\n"
	"'use strict';\n"
	"var meta = JSON.parse(document.getElementById('fleet-meta').textContent);\n"
	"var rows = JSON.parse(document.getElementById('fleet-rows').textContent);\n"
	"var C = { host: 0, agent: 1, status: 2, actions: 3, keys: 4, finished: 5, report: 6, mode: 7, reports: 8, reason: 9 };\n"
	"var STATUSES = ['fixed', 'needs_attention', 'error', 'clean'];\n"
	"var LABEL = { fixed: 'fixed', clean: 'clean', needs_attention: 'needs attention', error: 'error' };\n"
	"var COLOR = { fixed: '#1a7f37', clean: '#57606a', needs_attention: '#bf8700', error: '#cf222e' };\n"
	"var ORDER = { error: 0, needs_attention: 1, fixed: 2, clean: 3 };\n"
	"var COLS = [['Hostname', C.host], ['Status', C.status], ['Actions', C.actions], ['Finished (UTC)', C.finished],\n"
	"            ['Agent ID', C.agent], ['Keys used', C.keys], ['Reason', C.reason], ['Reports', C.reports], ['Report', C.report]];\n"
	"var PAGE = 500;\n"
	"function $(id) { return document.getElementById(id); }\n"
	"function el(tag, cls, text) {\n"
	"  var e = document.createElement(tag);\n"
	"  if (cls) e.className = cls;\n"
	"  if (text !== undefined && text !== null) e.textContent = String(text);\n"
	"  return e;\n"
	"}\n"
	"function pct(n, d) { return d ? (100 * n / d).toFixed(1) + '%' : ''; }\n"
	"\n"
	"/* header and totals */\n"
	"document.title = meta.title;\n"
	"$('title').textContent = meta.title;\n"
	"var tot = { fixed: 0, clean: 0, needs_attention: 0, error: 0 };\n"
	"rows.forEach(function (r) { if (tot.hasOwnProperty(r[C.status])) tot[r[C.status]]++; });\n"
	"$('n-total').textContent = rows.length;\n"
	"$('p-total').textContent = meta.stats.reports + ' reports read';\n"
	"STATUSES.forEach(function (s) { $('n-' + s).textContent = tot[s]; $('p-' + s).textContent = pct(tot[s], rows.length); });\n"
	"var skipped = meta.stats.not_reports + meta.stats.unreadable;\n"
	"$('generated').textContent = 'Generated ' + meta.generated_at + ' from ' + meta.sources.join(', ') + ': ' +\n"
	"  meta.stats.reports + ' reports, ' + meta.stats.superseded + ' superseded by a newer report of the same machine, ' +\n"
	"  skipped + ' other files skipped.';\n"
	"\n"
	"/* timeline: stacked bars per time bin, cumulative fixed line */\n"
	"(function timeline() {\n"
	"  var pts = [];\n"
	"  rows.forEach(function (r) {\n"
	"    var t = Date.parse(r[C.finished]);\n"
	"    if (!isNaN(t)) pts.push([t, r[C.status]]);\n"
	"  });\n"
	"  if (!pts.length) { $('timeline').textContent = 'No finish times in the reports.'; return; }\n"
	"  var H = 3600000, lo = Infinity, hi = -Infinity;\n"
	"  pts.forEach(function (p) { if (p[0] < lo) lo = p[0]; if (p[0] > hi) hi = p[0]; });\n"
	"  lo = Math.floor(lo / H) * H;\n"
	"  var bins = [1, 2, 3, 6, 12, 24, 48, 168, 720], bin = bins[bins.length - 1];\n"
	"  for (var i = 0; i < bins.length; i++) if ((hi - lo) / (bins[i] * H) < 96) { bin = bins[i]; break; }\n"
	"  var n = Math.floor((hi - lo) / (bin * H)) + 1, b = [], k;\n"
	"  for (k = 0; k < n; k++) b.push({ fixed: 0, needs_attention: 0, error: 0, clean: 0, all: 0 });\n"
	"  pts.forEach(function (p) { var x = b[Math.floor((p[0] - lo) / (bin * H))]; if (x[p[1]] !== undefined) x[p[1]]++; x.all++; });\n"
	"  var max = 1, cum = 0, totalFixed = 0;\n"
	"  b.forEach(function (x) { if (x.all > max) max = x.all; totalFixed += x.fixed; });\n"
	"  var W = 800, HT = 220, L = 44, R = 44, T = 10, B = 34, bw = (W - L - R) / n;\n"
	"  var NS = 'http://www.w3.org/2000/svg';\n"
	"  function s(tag, attrs, text) {\n"
	"    var e = document.createElementNS(NS, tag);\n"
	"    for (var a in attrs) e.setAttribute(a, attrs[a]);\n"
	"    if (text !== undefined) e.textContent = text;\n"
	"    return e;\n"
	"  }\n"
	"  var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + HT, role: 'img', 'aria-label': 'reports finished per ' + bin + ' h' });\n"
	"  svg.appendChild(s('line', { x1: L, y1: HT - B, x2: W - R, y2: HT - B, stroke: '#8c959f' }));\n"
	"  svg.appendChild(s('text', { x: L - 6, y: T + 10, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, String(max)));\n"
	"  svg.appendChild(s('text', { x: L - 6, y: HT - B, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, '0'));\n"
	"  svg.appendChild(s('text', { x: W - R + 6, y: T + 10, 'font-size': 11, fill: '#0969da' }, String(totalFixed)));\n"
	"  var line = [], every = Math.max(1, Math.ceil(n / 8));\n"
	"  b.forEach(function (x, i) {\n"
	"    var y = HT - B, start = new Date(lo + i * bin * H).toISOString();\n"
	"    STATUSES.forEach(function (st) {\n"
	"      if (!x[st]) return;\n"
	"      var h = (HT - B - T) * x[st] / max;\n"
	"      y -= h;\n"
	"      var r = s('rect', { x: (L + i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: h.toFixed(1), fill: COLOR[st], 'class': 'bar-' + st });\n"
	"      r.appendChild(s('title', {}, start.slice(0, 13).replace('T', ' ') + ':00 UTC, ' + bin + ' h: ' + x[st] + ' ' + LABEL[st]));\n"
	"      svg.appendChild(r);\n"
	"    });\n"
	"    cum += x.fixed;\n"
	"    line.push((L + (i + 0.5) * bw).toFixed(1) + ',' + (HT - B - (HT - B - T) * (totalFixed ? cum / totalFixed : 0)).toFixed(1));\n"
	"    if (i % every === 0)\n"
	"      svg.appendChild(s('text', { x: (L + (i + 0.5) * bw).toFixed(1), y: HT - B + 16, 'text-anchor': 'middle', 'font-size': 10, fill: '#57606a' },\n"
	"        start.slice(5, 13).replace('T', ' ') + 'h'));\n"
	"  });\n"
	"  svg.appendChild(s('polyline', { points: line.join(' '), fill: 'none', stroke: '#0969da', 'stroke-width': 2 }));\n"
	"  $('timeline').appendChild(svg);\n"
	"  $('tl-note').textContent = '(reports finished per ' + (bin < 24 ? bin + ' h' : bin / 24 + ' d') + ', UTC)';\n"
	"})();\n"
	"\n"
	"/* the most frequent reasons among machines that are not fixed or clean */\n"
	"(function reasons() {\n"
	"  var m = {}, list = [];\n"
	"  rows.forEach(function (r) {\n"
	"    if (r[C.status] !== 'needs_attention' && r[C.status] !== 'error') return;\n"
	"    var k = r[C.reason] || '(no reason given)';\n"
	"    m[k] = (m[k] || 0) + 1;\n"
	"  });\n"
	"  for (var k in m) list.push([k, m[k]]);\n"
	"  list.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });\n"
	"  list.slice(0, 10).forEach(function (x) {\n"
	"    var li = el('li');\n"
	"    li.appendChild(el('b', null, x[1] + ' '));\n"
	"    li.appendChild(el('span', null, x[0]));\n"
	"    li.title = 'show these machines';\n"
	"    li.style.cursor = 'pointer';\n"
	"    li.addEventListener('click', function () { $('filter').value = x[0]; refresh(); });\n"
	"    $('reasons').appendChild(li);\n"
	"  });\n"
	"  $('reasons-note').textContent = list.length ? (list.length > 10 ? list.length + ' distinct reasons, top 10 shown; click one to filter.' : 'Click one to filter.')\n"
	"    : 'None: every machine is fixed or clean.';\n"
	"})();\n"
	"\n"
	"/* BitLocker protectors to rotate */\n"
	"(function keys() {\n"
	"  var seen = {}, ids = [];\n"
	"  rows.forEach(function (r) {\n"
	"    if (!r[C.keys]) return;\n"
	"    r[C.keys].split(';').forEach(function (id) {\n"
	"      if (!id) return;\n"
	"      var tr = el('tr');\n"
	"      tr.appendChild(el('td', 'mono', id));\n"
	"      tr.appendChild(el('td', null, r[C.host]));\n"
	"      tr.appendChild(el('td', 'mono', r[C.agent]));\n"
	"      var td = el('td'); td.appendChild(el('span', 'badge ' + r[C.status], LABEL[r[C.status]] || r[C.status])); tr.appendChild(td);\n"
	"      $('keys-body').appendChild(tr);\n"
	"      if (!seen[id]) { seen[id] = 1; ids.push(id); }\n"
	"    });\n"
	"  });\n"
	"  $('keys-count').textContent = '(' + ids.length + ')';\n"
	"  $('keys-text').value = ids.join('\\n');\n"
	"})();\n"
	"\n"
	"/* the machine table: sort by clicking a header, filter by text and status */\n"
	"var sortCol = C.status, sortDir = 1, statusFilter = '', view = [], shown = PAGE;\n"
	"function key(r, c) {\n"
	"  if (c === C.status) return ORDER.hasOwnProperty(r[c]) ? ORDER[r[c]] : 9;\n"
	"  if (c === C.reports) return r[c];\n"
	"  return String(r[c]).toLowerCase();\n"
	"}\n"
	"function cmp(a, b) {\n"
	"  var x = key(a, sortCol), y = key(b, sortCol);\n"
	"  if (x < y) return -sortDir;\n"
	"  if (x > y) return sortDir;\n"
	"  x = a[C.host].toLowerCase(); y = b[C.host].toLowerCase();\n"
	"  return x < y ? -1 : x > y ? 1 : 0;\n"
	"}\n"
	"function head() {\n"
	"  var tr = $('machines-head');\n"
	"  tr.textContent = '';\n"
	"  COLS.forEach(function (c) {\n"
	"    var th = el('th', c[1] === sortCol ? (sortDir < 0 ? 'sorted desc' : 'sorted') : '', c[0]);\n"
	"    th.addEventListener('click', function () {\n"
	"      if (sortCol === c[1]) sortDir = -sortDir; else { sortCol = c[1]; sortDir = 1; }\n"
	"      head(); refresh();\n"
	"    });\n"
	"    tr.appendChild(th);\n"
	"  });\n"
	"}\n"
	"function render() {\n"
	"  var body = $('machines-body'), frag = document.createDocumentFragment();\n"
	"  body.textContent = '';\n"
	"  for (var i = 0; i < view.length && i < shown; i++) {\n"
	"    var r = view[i], tr = el('tr');\n"
	"    COLS.forEach(function (c) {\n"
	"      var td;\n"
	"      if (c[1] === C.status) {\n"
	"        td = el('td');\n"
	"        td.appendChild(el('span', 'badge ' + r[C.status], LABEL[r[C.status]] || r[C.status]));\n"
	"      } else if (c[1] === C.report) {\n"
	"        td = el('td', 'path mono', r[C.report]);\n"
	"      } else {\n"
	"        td = el('td', c[1] === C.finished ? 'mono nowrap' : c[1] === C.agent || c[1] === C.keys ? 'mono' : '', r[c[1]]);\n"
	"        if (c[1] === C.host && !r[C.host]) { td.textContent = '(no hostname)'; td.className = 'muted'; }\n"
	"      }\n"
	"      tr.appendChild(td);\n"
	"    });\n"
	"    frag.appendChild(tr);\n"
	"  }\n"
	"  body.appendChild(frag);\n"
	"  $('count').textContent = '(' + Math.min(shown, view.length) + ' shown of ' + view.length + ' matching, ' + rows.length + ' in all)';\n"
	"  $('more').style.display = view.length > shown ? '' : 'none';\n"
	"}\n"
	"function refresh() {\n"
	"  var q = $('filter').value.trim().toLowerCase();\n"
	"  statusFilter = $('status-filter').value;\n"
	"  view = rows.filter(function (r) {\n"
	"    if (statusFilter && r[C.status] !== statusFilter) return false;\n"
	"    return !q || r.join('\\u0001').toLowerCase().indexOf(q) >= 0;\n"
	"  });\n"
	"  view.sort(cmp);\n"
	"  shown = PAGE;\n"
	"  Array.prototype.forEach.call(document.querySelectorAll('.card'), function (c) {\n"
	"    c.classList.toggle('active', c.getAttribute('data-status') === statusFilter && statusFilter !== '');\n"
	"  });\n"
	"  render();\n"
	"}\n"
	"var timer = null;\n"
	"$('filter').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });\n"
	"$('status-filter').addEventListener('change', refresh);\n"
	"$('more').addEventListener('click', function () { shown += PAGE; render(); });\n"
	"Array.prototype.forEach.call(document.querySelectorAll('.card'), function (c) {\n"
	"  c.addEventListener('click', function () {\n"
	"    var s = c.getAttribute('data-status');\n"
	"    $('status-filter').value = statusFilter === s ? '' : s;\n"
	"    refresh();\n"
	"  });\n"
	"});\n"
	"head();\n"
	"refresh();\n"
	"document.body.setAttribute('data-rendered', 'yes');\n"
	"})();\n"
	"</script>\n"
	"</body>\n"
	"</html>\n";

static json_t *stats_json(const struct lb_fleet_stats *st)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                      "files", (json_int_t)st->files, "reports", (json_int_t)st->reports,
	                      "not_reports", (json_int_t)st->not_reports,
	                      "unreadable", (json_int_t)st->unreadable,
	                      "superseded", (json_int_t)st->superseded,
	                      "machines", (json_int_t)st->machines, "keys", (json_int_t)st->keys);
	json_t *t = json_object();

	for (int s = 0; s < LB_FS_COUNT; s++)
		json_object_set_new(t, status_names[s], json_integer((json_int_t)st->status[s]));
	json_object_set_new(j, "totals", t);
	return j;
}

static int write_html(const char *outdir, const char *title, const char *const *dirs,
                      size_t ndirs, const struct lb_fleet_stats *st,
                      struct lb_fleet_row **rows, size_t n, struct lb_err *err)
{
	char *tmp, *s, num[16], iso[32];
	FILE *f = out_open(outdir, "fleet.html", &tmp, err);
	json_t *meta, *srcs, *cols;
	time_t now = time(NULL);
	struct tm tm;
	bool ok = true;

	if (!f) {
		free(tmp);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	srcs = json_array();
	for (size_t i = 0; i < ndirs; i++)
		json_array_append_new(srcs, json_string(dirs[i]));
	cols = json_array();
	for (size_t c = 0; c < NCOLS; c++)
		json_array_append_new(cols, json_string(csv_columns[c]));
	meta = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "schema", "loopbreaker-fleet/1",
	                 "title", title, "generated_at", iso, "sources", srcs, "columns", cols,
	                 "stats", stats_json(st));
	fputs(html_head, f);
	fputs("<script id=\"fleet-meta\" type=\"application/json\">", f);
	s = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	json_decref(meta);
	if (!s || lb_fleet_write_script_json(f, s))
		ok = false;
	free(s);
	fputs("</script>\n<script id=\"fleet-rows\" type=\"application/json\">[", f);
	for (size_t i = 0; i < n && ok; i++) {
		json_t *row = json_array();

		for (size_t c = 0; c < NCOLS; c++)
			json_array_append_new(row, c == 8 ? json_integer(rows[i]->reports) :
			                      json_string(row_field(rows[i], c, num)));
		s = json_dumps(row, JSON_COMPACT);
		json_decref(row);
		if (!s || (i && putc(',', f) == EOF) || lb_fleet_write_script_json(f, s))
			ok = false;
		if (i % 64 == 63)
			putc('\n', f);
		free(s);
	}
	fputs("]</script>\n", f);
	fputs(html_tail, f);
	if (!ok)
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "dashboard data");
	return out_close(f, outdir, "fleet.html", tmp, ok, err);
}

int lb_fleet_run(const char *const *dirs, size_t ndirs, const struct lb_fleet_opts *o,
                 struct lb_fleet_stats *st, struct lb_err *err)
{
	struct fleet fl = { .b = NULL, .nb = 0, .n = 0, .st = st };
	struct lb_fleet_row **rows = NULL;
	struct stat sb;
	size_t n = 0;
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
	if (rc == 0 && fl.n) {
		rows = malloc(fl.n * sizeof(*rows));
		if (!rows)
			rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet rows");
	}
	if (rc == 0) {
		for (size_t i = 0; i < fl.nb; i++)
			for (struct lb_fleet_row *r = fl.b[i]; r; r = r->next) {
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
	}
	if (rc == 0)
		rc = write_csv(o->outdir, rows, n, err);
	if (rc == 0)
		rc = write_html(o->outdir, o->title ? o->title : "loopbreaker fleet", dirs, ndirs,
		                st, rows, n, err);
	free(rows);
	fleet_free(&fl);
	return rc;
}
