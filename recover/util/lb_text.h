/* lb_text.h - text conversions (UTF-16LE to UTF-8 by hand, the other
 * way through iconv(3)), and the shared string helpers.
 *
 * Windows stores names and REG_SZ values as UTF-16LE; BitLocker stores the
 * volume description that way too.  lb_utf16le_to_utf8 converts n bytes
 * (an odd trailing byte is ignored, the string ends at the first NUL unit)
 * into a malloc'd NUL-terminated UTF-8 string; invalid sequences (lone
 * surrogates) become U+FFFD rather than failing, since these strings are
 * shown, never written back; no iconv is needed (a bare initramfs has no
 * gconv modules).  lb_utf16le_decode is the decoder under it: UTF-16LE
 * (len bytes, an odd last byte ignored) to UTF-8 in out (cap bytes,
 * NUL-terminated; out NULL only counts), up to the first NUL unit with
 * LB_U16_STOP_NUL, an unpaired surrogate as U+FFFD with LB_U16_REPLACE or
 * else a failure; returns the UTF-8 length, -1 for an unpaired surrogate,
 * -2 when out is too small.  lb_utf8_to_utf16le is strict: it returns -1
 * with errno EILSEQ on invalid UTF-8, so nothing malformed reaches a hive;
 * *out gets *outlen bytes without a terminator (malloc'd).
 *
 * lb_glob_match: fnmatch(3) with FNM_CASEFOLD | FNM_NOESCAPE (Windows
 * names compare without case, and a backslash is a character): '*', '?'
 * and '[...]'; '*' also matches a '/' or '\'. */
#ifndef LB_TEXT_H
#define LB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LB_U16_STOP_NUL = 1, LB_U16_REPLACE = 2 };
long lb_utf16le_decode(const void *utf16, size_t len, unsigned flags, char *out, size_t cap);
char *lb_utf16le_to_utf8(const void *utf16, size_t nbytes);
int lb_utf8_to_utf16le(const char *utf8, uint8_t **out, size_t *outlen);
bool lb_glob_match(const char *pattern, const char *name);

/* The last line of defence for key material (docs/bitlocker.md): every
 * run of LB_REDACT_DIGITS or more decimal digits, dashes allowed between
 * them (a 48-digit recovery password is 8 groups of 6), has its digits
 * replaced by '#' in place.  A run that is part of a larger token (a
 * letter, digit or '_' next to it, directly or across one dash: a SHA-256
 * in hex, a GUID) is left alone, so hashes and IDs in reports survive.  Applied to every error message (lb_err_set,
 * lb_err_wrap) and every string the report writer emits.  Returns the
 * number of runs masked. */
#define LB_REDACT_DIGITS 20
size_t lb_redact_digits(char *s);

#endif
