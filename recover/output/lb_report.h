/* lb_report.h - writing the JSON report and the human summary. */
#ifndef LB_REPORT_H
#define LB_REPORT_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "lb_err.h"

/* Writes the report to path atomically (temporary file, fsync, rename; then
 * the directory is fsync'd too: lb_replace_file). */
int lb_report_write(json_t *report, const char *path, struct lb_err *err);
/* One line per volume, then the overall verdict. */
void lb_report_summary(json_t *report, FILE *out);
/* A report time "YYYY-MM-DDTHH:MM:SS…" into tm (UTC fields, in range);
 * returns what follows the seconds ("Z", ".5Z"…), or NULL if s is not one. */
const char *lb_report_time(const char *s, struct tm *tm);

#endif
