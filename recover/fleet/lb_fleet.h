/* lb_fleet.h - merging many machines' reports into one fleet view.
 *
 * lb_fleet_run() walks report directories (recursively), reads one report at
 * a time, reduces it to a small record and keeps one row per machine, with
 * the machine's history (every report's time, status, site and path).  The
 * row shows the machine's most significant outcome: its latest report,
 * except that a `clean` run after a `fixed` one confirms the fix instead of
 * replacing it.  It writes OUTDIR/fleet.csv, OUTDIR/fleet-summary.json and
 * OUTDIR/fleet.html (a self-contained dashboard).  Memory is bounded by the
 * number of machines and reports times a small record, never by the size
 * of the reports. */
#ifndef LB_FLEET_H
#define LB_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "lb_err.h"

enum lb_fleet_status {
	LB_FS_FIXED,
	LB_FS_CLEAN,
	LB_FS_ATTENTION,
	LB_FS_ERROR,
	LB_FS_NOT_REPORTED, /* in the --expect list, no report */
	LB_FS_COUNT,
};

/* One report, reduced. */
struct lb_fleet_rep {
	char *hostname;     /* from the report, "" when it has none */
	char *bl_name;      /* PC name from a BitLocker volume's description, "" */
	char *machine_id;   /* machine GUID or serial when the report has one, "" */
	char *agent_id;     /* Falcon sensor agent ID, "" when absent */
	char *actions;      /* e.g. "quarantined 1; registry_set 2", "" for none */
	char *keys;         /* BitLocker protector IDs used, ';'-joined */
	char *finished_at;  /* as in the report ("" when absent) */
	char *report;       /* path of the report */
	char *reason;       /* first reason given, "" when none */
	char *cause;        /* reason with per-machine IDs and paths replaced */
	char *mode;         /* "fix" or "scan" */
	char *site;         /* the report's "site", "" when absent */
	enum lb_fleet_status status;
	bool confirmed;     /* "confirmed": true: clean run of a machine fixed before */
	bool locked;        /* a BitLocker volume was left locked */
	time_t when;        /* finished_at (or started_at) as a time, 0 unknown */
};

/* One report of a machine, for its history. */
struct lb_fleet_hist {
	time_t when;
	char *finished_at, *report, *site;
	enum lb_fleet_status status;
	bool confirmed;
};

/* One machine. */
struct lb_fleet_row {
	char *key;          /* identity: upper-cased name, else agent ID, else path */
	char *machine_id;   /* first machine GUID/serial seen, "" none */
	char *name;         /* expected name (--expect), "" */
	char *keys;         /* protector IDs used by any report, ';'-joined */
	char *site;         /* --expect site, else the shown report's, else latest */
	struct lb_fleet_rep *latest;  /* newest report (NULL: never reported) */
	struct lb_fleet_rep *attn;    /* newest report that is not clean, NULL none */
	const struct lb_fleet_rep *shown; /* set by lb_fleet_finalize */
	enum lb_fleet_status status;      /* set by lb_fleet_finalize */
	const char *confirmed_at;         /* a later clean run confirmed the fix */
	bool clock_off;     /* shown time far outside the fleet's (see clock_days) */
	bool expected;      /* in the --expect list */
	struct lb_fleet_hist *hist;
	size_t nhist, hcap;
	unsigned reports;   /* reports seen for this machine */
	struct lb_fleet_row *next; /* hash chain */
};

struct lb_fleet_stats {
	size_t files;       /* *.json files looked at */
	size_t reports;     /* loopbreaker reports read */
	size_t not_reports; /* valid JSON but not a loopbreaker report (e.g. batch summaries) */
	size_t unreadable;  /* not JSON, too big, or unreadable */
	size_t superseded;  /* reports of a machine other than the one its row shows */
	size_t machines;    /* rows, not_reported ones included */
	size_t status[LB_FS_COUNT];
	size_t keys;        /* BitLocker protector IDs to rotate */
	size_t confirmed;   /* fixed machines a later clean run confirmed */
	size_t locked;      /* needs attention with a BitLocker volume left locked */
	size_t expected;    /* machines in the --expect list */
	size_t unexpected;  /* machines with reports that are not in the list (with --expect) */
	size_t clock_off;   /* rows whose time is far outside the fleet's */
};

struct lb_fleet_opts {
	const char *outdir;  /* created if missing */
	const char *title;   /* dashboard title; NULL: "loopbreaker fleet" */
	const char *expect;  /* expected machines (one hostname per line, or CSV), NULL */
	int clock_days;      /* times more than this many days from the median are off; 0: 30 */
	FILE *progress;      /* a line every 5000 files, NULL: quiet */
};

const char *lb_fleet_status_name(enum lb_fleet_status s);

/* Reduces one parsed report (schema loopbreaker-report/1).  Returns NULL with
 * err set (LB_EK_INPUT) when it is not a loopbreaker report. */
struct lb_fleet_rep *lb_fleet_reduce(json_t *report, const char *path, struct lb_err *err);
void lb_fleet_rep_free(struct lb_fleet_rep *rep);
void lb_fleet_row_free(struct lb_fleet_row *row);

/* The reason with what differs between machines replaced: GUIDs by {…},
 * absolute paths by …, long numbers by N, long hex strings by …, volume and
 * partition numbers by N.  malloc'd, NULL when out of memory. */
char *lb_fleet_cause(const char *reason);

/* The PC name at the start of a BitLocker description ("WKS-1 C: 7/19/2024"
 * -> "WKS-1"); malloc'd, "" when the description does not look like one. */
char *lb_fleet_bl_name(const char *description);

/* Walks dirs (directories or single report files) and writes the outputs. */
int lb_fleet_run(const char *const *dirs, size_t ndirs, const struct lb_fleet_opts *o,
                 struct lb_fleet_stats *st, struct lb_err *err);

/* The war-room numbers (schema loopbreaker-fleet-summary/1): totals,
 * confirmed, BitLocker-locked, not reported, per-site progress, causes. */
json_t *lb_fleet_summary_json(struct lb_fleet_row *const *rows, size_t n,
                              const struct lb_fleet_stats *st);

/* Quotes one CSV field (RFC 4180; a leading = + - @ is neutralised with a
 * quote so spreadsheets do not evaluate it).  Returns a malloc'd string. */
char *lb_fleet_csv_field(const char *s);
/* Writes JSON text made safe inside an HTML <script> element: '<', '>' and
 * '&' (which JSON only has inside strings) become \u003c, \u003e, \u0026. */
int lb_fleet_write_script_json(FILE *f, const char *json);

#endif
