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
/* One line per volume, then the overall verdict. */
void lb_report_summary(json_t *report, FILE *out);
/* A report time "YYYY-MM-DDTHH:MM:SS…" into tm (UTC fields, in range);
 * returns what follows the seconds ("Z", ".5Z"…), or NULL if s is not one. */
const char *lb_report_time(const char *s, struct tm *tm);

#endif
