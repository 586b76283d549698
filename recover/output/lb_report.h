/* lb_report.h - writing the JSON report and the human summary. */
#ifndef LB_REPORT_H
#define LB_REPORT_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "lb_err.h"

/* The last line of defence for key material: every string in the report
 * (values and keys, at any depth) has its free-standing runs of 20+ digits
 * masked (lb_redact_digits, util/lb_text.h).  lb_report_write and
 * lb_report_summary apply it; callers that print or send a report some
 * other way call it first.  Returns the number of runs masked. */
size_t lb_report_redact(json_t *report);
/* Writes the report to path atomically (temporary file, fsync, rename; then
 * the directory is fsync'd too: lb_replace_file). */
int lb_report_write(json_t *report, const char *path, struct lb_err *err);
/* Can the report be written to path (its directory exists and is
 * writable, a file can be created there, path is not a directory)?  Tried
 * before any target is touched.  0, or -1 with err (LB_EK_USAGE). */
int lb_report_check_writable(const char *path, struct lb_err *err);
/* What a report's targets add up to: the worst status (0 clean, 1 fixed,
 * 2 needs_attention, 3 error) and the "summary" numbers. */
struct lb_report_counts {
	int worst;
	int installs, bad_files, files_fixed, registry_values_changed, bcd_changes;
};
void lb_report_count(json_t *targets, struct lb_report_counts *c);
json_t *lb_report_counts_json(const struct lb_report_counts *c);

/* One report per machine (docs/report-format.md "One report per machine").
 * A machine is a Windows installation, or a target with none whose trouble
 * (BitLocker left locked, a refusal, an error) stands for its machine.
 * Gives run a "run_id" if it has none and returns a new array of reports:
 *  - zero or one machine: [run] itself, marked "kind": "machine" (with a
 *    "machine" object when there is one), every disk of the run in it;
 *  - several: one full report each ("kind": "machine"): the run's keys,
 *    "targets" cut down to that machine's target and volumes (the
 *    install's volume, plus the target's volumes without an installation
 *    for the first install of a target), status, exit_code, summary,
 *    hostname and bitlocker_protectors_used recomputed for it, and
 *    "machine": {index, of, run_id, hostname, machine_guid, system_root,
 *    target, bitlocker_description}.  An interrupted run stays
 *    "interrupted" in each.  NULL when out of memory. */
json_t *lb_report_machines(json_t *run);
/* lb_report_machines, then (path not NULL) with several machines each one's
 * report is written beside path as BASE.N-HOST.json (machine.report names
 * it) and run becomes the run summary: "kind": "run" and "machines": [{
 * hostname, status, machine_guid, report}]; then run is written to path.
 * *machines (if not NULL) gets the array on success (json_decref it). */
int lb_report_write_run(json_t *run, const char *path, json_t **machines, struct lb_err *err);

/* One line per volume, then the overall verdict. */
void lb_report_summary(json_t *report, FILE *out);
/* A report time "YYYY-MM-DDTHH:MM:SS…" into tm (UTC fields, in range);
 * returns what follows the seconds ("Z", ".5Z"…), or NULL if s is not one. */
const char *lb_report_time(const char *s, struct tm *tm);

#endif
