/* lb_err.h - error context carried up through every layer.
 *
 * Every function that can fail takes a `struct lb_err *` and returns -1 (or
 * NULL) after filling it with a one-line message and a kind.  The kind maps
 * to the exit status in exactly one place, lb_exit_for() (docs/usage.md,
 * "Exit status"): LB_EK_REFUSED -> 1 (needs attention), LB_EK_INPUT and
 * LB_EK_USAGE -> 2, LB_EK_IO and LB_EK_INTERNAL -> 3.  A run over several
 * targets exits with the worst status (lb_exit_worse: 3 > 2 > 1 > 0). */
#ifndef LB_ERR_H
#define LB_ERR_H

#include <stddef.h>

enum lb_errkind {
	LB_EK_NONE = 0,
	LB_EK_INPUT,    /* unreadable, corrupt or unsupported input */
	LB_EK_REFUSED,  /* safety refusal: needs an operator decision */
	LB_EK_IO,       /* read/write failure on a device or file */
	LB_EK_INTERNAL, /* out of memory, library misuse, bug */
	LB_EK_USAGE,    /* bad command line or option value */
};

struct lb_err {
	enum lb_errkind kind;
	int sys_errno;
	char msg[512];
};

/* Exit statuses (docs/usage.md). */
enum {
	LB_EXIT_OK = 0,
	LB_EXIT_ATTENTION = 1,
	LB_EXIT_INPUT = 2,
	LB_EXIT_INTERNAL = 3,
};

/* The one map from error kind to exit status. */
int lb_exit_for(enum lb_errkind kind);
/* The worse of two exit statuses. */
int lb_exit_worse(int a, int b);

void lb_err_clear(struct lb_err *err);
/* Sets err (if not NULL) and returns -1.  Format like printf. */
int lb_err_set(struct lb_err *err, enum lb_errkind kind, int sys_errno,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prefixes an existing message with more context ("what: old message"). */
int lb_err_wrap(struct lb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *lb_errkind_name(enum lb_errkind kind);

#endif
