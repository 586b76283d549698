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
	"mode", "reports", "reason",
};

const char *lb_fleet_row_field(const struct lb_fleet_row *r, size_t i, char num[16])
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
	case LB_FLEET_COL_REPORTS: snprintf(num, 16, "%u", r->reports); return num;
	default: return r->reason;
	}
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
			char *q = lb_fleet_csv_field(lb_fleet_row_field(rows[i], c, num));

			if (q)
				fprintf(f, "%s%s", c ? "," : "", q);
			ok = q != NULL;
			free(q);
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
