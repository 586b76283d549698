/* lb_text.h - text conversions through iconv(3), and the shared string
 * helpers.
 *
 * Windows stores names and REG_SZ values as UTF-16LE; BitLocker stores the
 * volume description that way too.  lb_utf16le_to_utf8 converts n bytes
 * (an odd trailing byte is ignored, the string ends at the first NUL unit)
 * into a malloc'd NUL-terminated UTF-8 string; invalid sequences (lone
 * surrogates) become U+FFFD rather than failing, since these strings are
 * shown, never written back.  lb_utf8_to_utf16le is strict: it returns -1
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
