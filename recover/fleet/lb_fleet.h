/* lb_fleet.h - merging many machines' reports into one fleet view.
 *
 * lb_fleet_run() walks report directories (recursively), reads one report at
 * a time, reduces it to a small row and keeps one row per machine (the
 * report with the latest finished_at wins).  It writes OUTDIR/fleet.csv and
 * OUTDIR/fleet.html (a self-contained dashboard).  Memory is bounded by the
 * number of machines times a row (a few hundred bytes), never by the size or
 * number of reports. */
#ifndef LB_FLEET_H
#define LB_FLEET_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "lb_err.h"

enum lb_fleet_status {
	LB_FS_FIXED,
	LB_FS_CLEAN,
	LB_FS_ATTENTION,
	LB_FS_ERROR,
	LB_FS_COUNT,
};

/* One machine. */
struct lb_fleet_row {
	char *key;          /* identity: upper-cased hostname, else agent ID, else path */
	char *hostname;     /* "" when the report has none */
	char *agent_id;     /* Falcon sensor agent ID, "" when absent */
	char *actions;      /* e.g. "quarantined 1; registry_set 2", "" for none */
	char *keys;         /* BitLocker protector IDs used, ';'-joined (all reports) */
	char *finished_at;  /* as in the report ("" when absent) */
	char *report;       /* path of the report the row comes from */
	char *reason;       /* first reason given, "" when none */
	char *mode;         /* "fix" or "scan" */
	enum lb_fleet_status status;
	time_t when;        /* finished_at (or started_at) as a time, 0 unknown */
	unsigned reports;   /* reports seen for this machine */
	struct lb_fleet_row *next; /* hash chain */
};

struct lb_fleet_stats {
	size_t files;       /* *.json files looked at */
	size_t reports;     /* loopbreaker reports read */
	size_t not_reports; /* valid JSON but not a loopbreaker report (e.g. batch summaries) */
	size_t unreadable;  /* not JSON, too big, or unreadable */
	size_t superseded;  /* older reports of a machine that has a newer one */
	size_t machines;
	size_t status[LB_FS_COUNT];
	size_t keys;        /* distinct BitLocker protector IDs to rotate */
};

struct lb_fleet_opts {
	const char *outdir;  /* created if missing */
	const char *title;   /* dashboard title; NULL: "loopbreaker fleet" */
	FILE *progress;      /* a line every 5000 files, NULL: quiet */
};

const char *lb_fleet_status_name(enum lb_fleet_status s);

/* Reduces one parsed report (schema loopbreaker-report/1) to a row.  Returns
 * NULL with err set (LB_EK_INPUT) when it is not a loopbreaker report. */
struct lb_fleet_row *lb_fleet_reduce(json_t *report, const char *path, struct lb_err *err);
void lb_fleet_row_free(struct lb_fleet_row *row);

/* Walks dirs (directories or single report files) and writes the outputs. */
int lb_fleet_run(const char *const *dirs, size_t ndirs, const struct lb_fleet_opts *o,
                 struct lb_fleet_stats *st, struct lb_err *err);

/* Quotes one CSV field (RFC 4180; a leading = + - @ is neutralised with a
 * quote so spreadsheets do not evaluate it).  Returns a malloc'd string. */
char *lb_fleet_csv_field(const char *s);
/* Writes JSON text made safe inside an HTML <script> element: '<', '>' and
 * '&' (which JSON only has inside strings) become \u003c, \u003e, \u0026. */
int lb_fleet_write_script_json(FILE *f, const char *json);

#endif
