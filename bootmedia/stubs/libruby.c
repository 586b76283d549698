/* libruby: libdislocker links Ruby for its Ruby binding (Init_libdislocker
 * and the methods it registers), which only a Ruby interpreter calls; the
 * C API loopbreaker uses (dis_new, dis_initialize, dis_open, dis_read…)
 * never reaches rb_*.  But dislocker's sources include ruby.h, which
 * redirects snprintf and vsnprintf to ruby_snprintf / ruby_vsnprintf, and
 * the C paths call them (dis_open, intermediate_key, hexdump, prompt_rp,
 * print_*): those forward to libc and behave exactly as before for C
 * format strings (Ruby's own %-extensions are only used by the binding).
 * rb_* return 0 (Qfalse); rb_cObject and the exception classes are
 * zero-filled.  Without libruby, libgmp and libcrypt are no longer needed. */
//@ for libdislocker.so.0.7
//@ fn rb_*  return 0;
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

int ruby_vsnprintf(char *str, size_t n, const char *fmt, va_list ap)
{
	return vsnprintf(str, n, fmt, ap);
}

int ruby_snprintf(char *str, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(str, n, fmt, ap);
	va_end(ap);
	return r;
}
