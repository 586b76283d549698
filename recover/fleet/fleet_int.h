/* fleet_int.h - what the fleet_*.c files share; not an interface of the
 * fleet layer (lb_fleet.h is).
 *
 *   fleet_reduce.c   one report -> one row (lb_fleet_reduce)
 *   fleet_collect.c  walking the report trees, one row per machine (lb_fleet_run)
 *   fleet_csv.c      fleet.csv
 *   fleet_html.c     fleet.html: page/ (embedded at build time) around the data */
#ifndef LB_FLEET_INT_H
#define LB_FLEET_INT_H

#include <stddef.h>

#include "lb_err.h"
#include "lb_fleet.h"

/* The columns of fleet.csv, also the order of a row in fleet.html's data. */
#define LB_FLEET_NCOLS 10
#define LB_FLEET_COL_REPORTS 8 /* the one numeric column */
extern const char *const lb_fleet_columns[LB_FLEET_NCOLS];

/* Column i of row r as text (num: scratch for the numeric column). */
const char *lb_fleet_row_field(const struct lb_fleet_row *r, size_t i, char num[16]);

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
