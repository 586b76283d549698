/* fleet_csv.c - OUTDIR/fleet.csv: one row per machine, RFC 4180 (see
 * docs/fleet.md "fleet.csv"). */
#include "fleet_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lb_fleet_columns[LB_FLEET_NCOLS] = {
	"hostname", "agent_id", "status", "actions", "keys_used", "finished_at", "report",
	"mode", "reports", "reason", "site", "confirmed_at", "cause", "bitlocker_locked",
	"name_from", "machine_id", "clock", "history",
};

static const char *rep_field(const struct lb_fleet_rep *s, size_t i)
{
	if (!s)
		return "";
	switch (i) {
	case 1: return s->agent_id;
	case 3: return s->actions;
	case 5: return s->finished_at;
	case 6: return s->report;
	case 7: return s->mode;
	case 9: return s->reason;
	case 12: return s->cause;
	default: return "";
	}
}

const char *lb_fleet_row_field(const struct lb_fleet_row *r, size_t i, char num[16])
{
	const char *from;

	switch (i) {
	case 0: return lb_fleet_row_name(r, &from);
	case 2: return lb_fleet_status_name(r->status);
	case 4: return r->keys;
	case LB_FLEET_COL_REPORTS: snprintf(num, 16, "%u", r->reports); return num;
	case 10: return lb_fleet_row_site(r);
	case 11: return r->confirmed_at ? r->confirmed_at : "";
	case 13: return r->status == LB_FS_ATTENTION && r->shown->locked ? "yes" : "";
	case 14: lb_fleet_row_name(r, &from); return from;
	case 15: return r->machine_id;
	case 16: return r->clock_off ? "off" : "";
	case LB_FLEET_COL_HISTORY: return "";
	default: return rep_field(r->shown, i);
	}
}

char *lb_fleet_hist_text(const struct lb_fleet_row *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < r->nhist; i++) {
		const struct lb_fleet_hist *h = &r->hist[i];

		fprintf(f, "%s%s %s%s%s%s", i ? "; " : "", *h->finished_at ? h->finished_at : "?",
		        lb_fleet_status_name(h->status), h->confirmed ? " (confirmed)" : "",
		        *h->site ? " " : "", h->site);
	}
	if (ferror(f) | fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

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

int lb_fleet_write_csv(const char *outdir, struct lb_fleet_row *const *rows, size_t n,
                       struct lb_err *err)
{
	char *text = NULL, num[16];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool ok = f != NULL;
	int rc;

	for (size_t c = 0; c < LB_FLEET_NCOLS && ok; c++)
		fprintf(f, "%s%s", c ? "," : "", lb_fleet_columns[c]);
	if (ok)
		fputs("\r\n", f);
	for (size_t i = 0; i < n && ok; i++) {
		for (size_t c = 0; c < LB_FLEET_NCOLS && ok; c++) {
			char *h = c == LB_FLEET_COL_HISTORY ? lb_fleet_hist_text(rows[i]) : NULL;
			char *q = lb_fleet_csv_field(h ? h : lb_fleet_row_field(rows[i], c, num));

			if (q)
				fprintf(f, "%s%s", c ? "," : "", q);
			ok = q != NULL && (h || c != LB_FLEET_COL_HISTORY);
			free(q);
			free(h);
		}
		fputs("\r\n", f);
	}
	if (f && (ferror(f) | fclose(f)))
		ok = false;
	rc = ok ? lb_fleet_replace(outdir, "fleet.csv", text, len, err)
	        : lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "fleet.csv");
	free(text);
	return rc;
}
