/* fleet_html.c - OUTDIR/fleet.html: the dashboard page around the fleet's
 * data (see docs/fleet.md "fleet.html").
 *
 * The page itself is page/fleet.html, page/fleet.css and page/fleet.js, put
 * together and embedded at build time by page/embed.cmake as two byte
 * arrays: the page up to its data (lb_fleet_page_head) and after it
 * (lb_fleet_page_tail).  This file writes the data in between: two
 * <script type="application/json"> elements, fleet-meta (title, time,
 * sources, columns, totals) and fleet-rows (one array per machine, in the
 * order of lb_fleet_columns), which the page's script reads as text. */
#include "fleet_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

static json_t *stats_json(const struct lb_fleet_stats *st)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                      "files", (json_int_t)st->files, "reports", (json_int_t)st->reports,
	                      "not_reports", (json_int_t)st->not_reports,
	                      "unreadable", (json_int_t)st->unreadable,
	                      "superseded", (json_int_t)st->superseded,
	                      "machines", (json_int_t)st->machines, "keys", (json_int_t)st->keys,
	                      "confirmed", (json_int_t)st->confirmed,
	                      "bitlocker_locked", (json_int_t)st->locked,
	                      "expected", (json_int_t)st->expected,
	                      "unexpected", (json_int_t)st->unexpected,
	                      "clock_off", (json_int_t)st->clock_off);
	json_t *t = json_object();

	for (int s = 0; s < LB_FS_COUNT; s++)
		json_object_set_new(t, lb_fleet_status_name((enum lb_fleet_status)s),
		                    json_integer((json_int_t)st->status[s]));
	json_object_set_new(j, "totals", t);
	return j;
}

/* fleet-meta: schema loopbreaker-fleet/1 */
static json_t *page_meta(const char *title, const char *const *dirs, size_t ndirs,
                         const struct lb_fleet_stats *st, struct lb_fleet_row *const *rows,
                         size_t n)
{
	json_t *srcs = json_array(), *cols = json_array();
	time_t now = time(NULL);
	char iso[32];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < ndirs; i++)
		json_array_append_new(srcs, json_string(dirs[i]));
	for (size_t c = 0; c < LB_FLEET_NCOLS; c++)
		json_array_append_new(cols, json_string(lb_fleet_columns[c]));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o*}", "schema", "loopbreaker-fleet/1",
	                 "title", title, "generated_at", iso, "sources", srcs, "columns", cols,
	                 "stats", stats_json(st), "summary", lb_fleet_summary_json(rows, n, st));
}

/* [[finished_at, status, confirmed, site, report], ...] oldest first */
static json_t *hist_json(const struct lb_fleet_row *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->nhist; i++) {
		const struct lb_fleet_hist *h = &r->hist[i];

		json_array_append_new(a, json_pack("[s, s, b, s, s]", h->finished_at,
		                                   lb_fleet_status_name(h->status), h->confirmed,
		                                   h->site, h->report));
	}
	return a;
}

static json_t *row_json(const struct lb_fleet_row *r)
{
	json_t *row = json_array();
	char num[16];

	for (size_t c = 0; c < LB_FLEET_NCOLS; c++)
		json_array_append_new(row, c == LB_FLEET_COL_REPORTS ? json_integer(r->reports) :
		                      c == LB_FLEET_COL_HISTORY ? hist_json(r) :
		                      json_string(lb_fleet_row_field(r, c, num)));
	return row;
}

/* One JSON value, compact and safe inside <script>; false on failure. */
static bool put_json(FILE *f, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	bool ok = s && lb_fleet_write_script_json(f, s) == 0;

	free(s);
	return ok;
}

static bool put_data(FILE *f, json_t *meta, struct lb_fleet_row *const *rows, size_t n)
{
	bool ok;

	fputs("<script id=\"fleet-meta\" type=\"application/json\">", f);
	ok = put_json(f, meta);
	fputs("</script>\n<script id=\"fleet-rows\" type=\"application/json\">[", f);
	for (size_t i = 0; i < n && ok; i++) {
		json_t *row = row_json(rows[i]);

		if (i)
			putc(',', f);
		ok = put_json(f, row);
		json_decref(row);
		if (i % 64 == 63)
			putc('\n', f);
	}
	fputs("]</script>\n", f);
	return ok;
}

int lb_fleet_write_html(const char *outdir, const char *title, const char *const *dirs,
                        size_t ndirs, const struct lb_fleet_stats *st,
                        struct lb_fleet_row *const *rows, size_t n, struct lb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *meta = page_meta(title, dirs, ndirs, st, rows, n);
	bool ok = f && meta;
	int rc;

	if (ok) {
		fwrite(lb_fleet_page_head, 1, lb_fleet_page_head_len, f);
		ok = put_data(f, meta, rows, n);
		fwrite(lb_fleet_page_tail, 1, lb_fleet_page_tail_len, f);
	}
	if (f && (ferror(f) | fclose(f)))
		ok = false;
	json_decref(meta);
	rc = ok ? lb_fleet_replace(outdir, "fleet.html", text, len, err)
	        : lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "dashboard data");
	free(text);
	return rc;
}
