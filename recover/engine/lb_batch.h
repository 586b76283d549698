/* lb_batch.h - many disks at once: one process per disk (libntfs-3g and
 * libdislocker are not thread-safe), at most `jobs` at a time, one report
 * and one evidence bundle per disk in `dir`, and a summary. */
#ifndef LB_BATCH_H
#define LB_BATCH_H

#include <jansson.h>
#include <stddef.h>

#include "lb_engine.h"

/* Returns the worst exit status; *summary gets the batch summary. */
int lb_batch_run(const struct lb_options *o, const char *const *targets, size_t n, int jobs,
                 const char *dir, json_t **summary);

#endif
