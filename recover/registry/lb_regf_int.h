/* lb_regf_int.h - what lb_regf.c (base block, bins) and lb_regf_replay.c
 * (transaction logs) share; not part of the registry layer's interface. */
#ifndef LB_REGF_INT_H
#define LB_REGF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"
#include "lb_regf.h"

/* Largest hive bins data we accept (the kernel's own limit is 2 GiB; real
 * SYSTEM/SOFTWARE hives are well below 1 GiB).  Bounds allocations made on
 * behalf of hostile input. */
#define LB_REGF_MAX_HBINS (1024u * 1024u * 1024u)

/* The base block fields at b (4096 bytes) into info, checksum and dirty
 * state computed; nothing is checked. */
void lb_regf_fill_info(const uint8_t *b, struct lb_regf_info *info);
/* Fields common to primary files and logs (checksum, version, format, hive
 * bins data size); the file type is checked by callers.  LB_EK_INPUT. */
int lb_regf_check_header(const uint8_t *b, size_t len, const struct lb_regf_info *in,
                         struct lb_err *err);

#endif
