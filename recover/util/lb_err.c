/* lb_err.c - error context helpers. */
#include "lb_err.h"
#include "lb_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lb_err_clear(struct lb_err *err)
{
	if (!err)
		return;
	err->kind = LB_EK_NONE;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

int lb_err_set(struct lb_err *err, enum lb_errkind kind, int sys_errno,
               const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->kind = kind;
	err->sys_errno = sys_errno;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (sys_errno) {
		size_t len = strlen(err->msg);
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		         strerror(sys_errno));
	}
	lb_redact_digits(err->msg);
	return -1;
}

int lb_err_wrap(struct lb_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		size_t plen = strlen(prefix);

		if (plen + 2 >= sizeof(err->msg))
			plen = sizeof(err->msg) - 3;
		memcpy(err->msg, prefix, plen);
		memcpy(err->msg + plen, ": ", 2);
		plen += 2;
		memcpy(err->msg + plen, old, sizeof(err->msg) - plen - 1);
		err->msg[sizeof(err->msg) - 1] = '\0';
	}
	if (err->kind == LB_EK_NONE)
		err->kind = LB_EK_INTERNAL;
	lb_redact_digits(err->msg);
	return -1;
}

const char *lb_errkind_name(enum lb_errkind kind)
{
	switch (kind) {
	case LB_EK_NONE: return "none";
	case LB_EK_INPUT: return "input";
	case LB_EK_REFUSED: return "refused";
	case LB_EK_IO: return "io";
	case LB_EK_INTERNAL: return "internal";
	case LB_EK_USAGE: return "usage";
	}
	return "unknown";
}

int lb_exit_for(enum lb_errkind kind)
{
	switch (kind) {
	case LB_EK_NONE: return LB_EXIT_OK;
	case LB_EK_REFUSED: return LB_EXIT_ATTENTION;
	case LB_EK_INPUT:
	case LB_EK_USAGE: return LB_EXIT_INPUT;
	case LB_EK_IO:
	case LB_EK_INTERNAL: return LB_EXIT_INTERNAL;
	}
	return LB_EXIT_INTERNAL;
}

int lb_exit_worse(int a, int b)
{
	return a > b ? a : b;
}
