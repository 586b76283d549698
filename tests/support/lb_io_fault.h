/* lb_io_fault.h - fault injection at the device seam (tests only).
 *
 * Compiled into loopbreaker-test and the unit tests, never into the binary
 * that ships: the engine only offers a generic hook (lb_options.wrap_io)
 * through which the test CLI inserts this layer. */
#ifndef LB_IO_FAULT_H
#define LB_IO_FAULT_H

#include <stdint.h>

#include "lb_io.h"

/* Fault injection (tests only): a layer over parent that either silently
 * drops every write after the first `n` (LB_FAULT_CUT: a power cut after
 * write n) or fails write number `n` with EIO (LB_FAULT_EIO).  Syncs after
 * a cut also succeed without effect. */
enum lb_fault_mode { LB_FAULT_NONE, LB_FAULT_CUT, LB_FAULT_EIO };

struct lb_fault {
	enum lb_fault_mode mode;
	uint64_t n;
	uint64_t seen;     /* writes attempted through this layer (shared counter) */
};

struct lb_io *lb_io_faulty(struct lb_io *parent, struct lb_fault *fault, struct lb_err *err);
/* Parses "cut:N" or "eio:N". */
int lb_fault_parse(const char *spec, struct lb_fault *out);

/* lb_options.wrap_io adapter: ctx is a struct lb_fault. */
struct lb_io *lb_io_fault_wrap(struct lb_io *parent, void *ctx, struct lb_err *err);

#endif
