/* fleet_int.h - what the fleet_*.c files share; not an interface of the
 * fleet layer (lb_fleet.h is).
 *
 *   fleet_reduce.c   one report -> one record (lb_fleet_reduce)
 *   fleet_cause.c    reasons grouped by cause, PC names from BitLocker descriptions
 *   fleet_machine.c  a machine's reports -> its row and history; totals
 *   fleet_collect.c  walking the report trees, one row per machine (lb_fleet_run)
 *   fleet_expect.c   the expected machines (--expect) and per-site numbers
 *   fleet_csv.c      fleet.csv
 *   fleet_html.c     fleet.html: page/ (embedded at build time) around the data */
#ifndef LB_FLEET_INT_H
#define LB_FLEET_INT_H

#include <stddef.h>

#include "lb_err.h"
#include "lb_fleet.h"

/* The columns of fleet.csv, also the order of a row in fleet.html's data. */
#define LB_FLEET_NCOLS 18
#define LB_FLEET_COL_REPORTS 8  /* the one numeric column */
#define LB_FLEET_COL_HISTORY 17 /* text in the CSV, an array in the page */
extern const char *const lb_fleet_columns[LB_FLEET_NCOLS];

/* Column i of row r as text (num: scratch for the numeric column); "" for
 * the history (lb_fleet_hist_text). */
const char *lb_fleet_row_field(const struct lb_fleet_row *r, size_t i, char num[16]);
/* "TIME STATUS[ SITE]; ..." oldest first; malloc'd, NULL when out of memory. */
char *lb_fleet_hist_text(const struct lb_fleet_row *r);

/* ---- fleet_machine.c ---- */
struct lb_fleet_row *lb_fleet_row_new(const char *key);
/* The machine key of a name, agent ID or path; malloc'd. */
char *lb_fleet_key(const char *name, const char *agent, const char *path);
/* Adds one report to its machine (takes ownership of rep); -1: no memory. */
int lb_fleet_machine_add(struct lb_fleet_row *row, struct lb_fleet_rep *rep);
/* Sets every row's outcome, flags times more than days off the median and
 * counts the totals into st. */
int lb_fleet_finalize(struct lb_fleet_row *const *rows, size_t n, int days,
                      struct lb_fleet_stats *st);
/* The name a row shows, and where it comes from ("report", "inventory",
 * "bitlocker", ""). */
const char *lb_fleet_row_name(const struct lb_fleet_row *r, const char **from);
const char *lb_fleet_row_site(const struct lb_fleet_row *r);

/* ---- fleet_expect.c ---- */
/* Calls add(ctx, name, site) for each machine of an expected-machines file:
 * one hostname per line (optionally ",site"), or a CSV whose header has a
 * hostname column (hostname, name, computername, device name, dnshostname)
 * and optionally a site column. */
int lb_fleet_expect_read(const char *path, int (*add)(void *, const char *, const char *),
                         void *ctx, struct lb_err *err);

/* Appends the ';'-separated IDs of add that list does not have yet;
 * malloc'd, NULL when out of memory. */
char *lb_fleet_keys_union(const char *list, const char *add);

/* OUTDIR/name gets exactly data (lb_replace_file: temporary file, fsync,
 * rename, fsync of OUTDIR). */
int lb_fleet_replace(const char *outdir, const char *name, const void *data, size_t len,
                     struct lb_err *err);

int lb_fleet_write_csv(const char *outdir, struct lb_fleet_row *const *rows, size_t n,
                       struct lb_err *err);
int lb_fleet_write_html(const char *outdir, const char *title, const char *const *dirs,
                        size_t ndirs, const struct lb_fleet_stats *st,
                        struct lb_fleet_row *const *rows, size_t n, struct lb_err *err);

/* The page around the data, from page/ by page/embed.cmake (generated). */
extern const unsigned char lb_fleet_page_head[];
extern const size_t lb_fleet_page_head_len;
extern const unsigned char lb_fleet_page_tail[];
extern const size_t lb_fleet_page_tail_len;

#endif
