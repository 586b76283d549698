/* lb_text.c - UTF-16LE -> UTF-8 by hand, UTF-8 -> UTF-16LE through iconv(3); glob through fnmatch(3). */
#include "lb_text.h"

#include <errno.h>
#include <fnmatch.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

long lb_utf16le_decode(const void *utf16, size_t len, unsigned flags, char *out, size_t cap)
{
	const uint8_t *s = utf16;
	size_t o = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t c = lb_le16(s + i);
		uint8_t b[4];
		size_t k;

		if (c == 0 && (flags & LB_U16_STOP_NUL))
			break;
		if (c >= 0xD800 && c <= 0xDFFF) {
			uint32_t lo = i + 3 < len ? lb_le16(s + i + 2) : 0;

			if (c <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF) {
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
				i += 2;
			} else if (flags & LB_U16_REPLACE) {
				c = 0xFFFD; /* an unpaired surrogate */
			} else {
				return -1;
			}
		}
		if (c < 0x80) {
			b[0] = (uint8_t)c;
			k = 1;
		} else if (c < 0x800) {
			b[0] = (uint8_t)(0xC0 | c >> 6);
			b[1] = (uint8_t)(0x80 | (c & 0x3F));
			k = 2;
		} else if (c < 0x10000) {
			b[0] = (uint8_t)(0xE0 | c >> 12);
			b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
			b[2] = (uint8_t)(0x80 | (c & 0x3F));
			k = 3;
		} else {
			b[0] = (uint8_t)(0xF0 | c >> 18);
			b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
			b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
			b[3] = (uint8_t)(0x80 | (c & 0x3F));
			k = 4;
		}
		if (out) {
			if (cap - o <= k)
				return -2;
			memcpy(out + o, b, k);
		}
		o += k;
	}
	if (out)
		out[o] = '\0';
	return (long)o;
}

char *lb_utf16le_to_utf8(const void *utf16, size_t nbytes)
{
	long n = lb_utf16le_decode(utf16, nbytes, LB_U16_STOP_NUL | LB_U16_REPLACE, NULL, 0);
	char *out;

	if (n < 0 || !(out = malloc((size_t)n + 1)))
		return NULL;
	lb_utf16le_decode(utf16, nbytes, LB_U16_STOP_NUL | LB_U16_REPLACE, out, (size_t)n + 1);
	return out;
}

int lb_utf8_to_utf16le(const char *utf8, uint8_t **out, size_t *outlen)
{
	size_t il = strlen(utf8), cap = 2 * il + 2, ol = cap;
	char *ip = (char *)utf8, *buf, *op;
	iconv_t cd;
	int rc = 0;

	*out = NULL;
	*outlen = 0;
	buf = malloc(cap);
	if (!buf)
		return -1;
	cd = iconv_open("UTF-16LE", "UTF-8");
	if (cd == (iconv_t)-1) {
		free(buf);
		return -1;
	}
	op = buf;
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
		int e = errno == EINVAL ? EILSEQ : errno;

		iconv_close(cd);
		free(buf);
		errno = e;
		return -1;
	}
	iconv_close(cd);
	*out = (uint8_t *)buf;
	*outlen = cap - ol;
	return rc;
}

bool lb_glob_match(const char *pattern, const char *name)
{
	return fnmatch(pattern, name, FNM_CASEFOLD | FNM_NOESCAPE) == 0;
}

/* Is c part of a word (so a digit run next to it is part of a larger
 * token, such as a hex hash or a GUID, not a key on its own)? */
static bool wordch(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_';
}

size_t lb_redact_digits(char *s)
{
	size_t runs = 0;

	for (char *p = s; *p;) {
		char *start, *end, *last_digit = NULL;
		size_t digits = 0;
		bool joined;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		/* a run: digits, with single dashes between digits */
		start = p;
		for (end = p; *end; end++) {
			if (*end >= '0' && *end <= '9') {
				digits++;
				last_digit = end;
			} else if (*end != '-' || !(end[1] >= '0' && end[1] <= '9')) {
				break;
			}
		}
		/* inside a larger token: "…a1b2-0123…" (hex, GUID) on either side */
		joined = (start > s && wordch(start[-1])) ||
		         (start > s + 1 && start[-1] == '-' && wordch(start[-2])) ||
		         wordch(last_digit[1]) ||
		         (last_digit[1] == '-' && wordch(last_digit[2]));
		if (digits >= LB_REDACT_DIGITS && !joined) {
			for (char *q = start; q <= last_digit; q++)
				if (*q != '-')
					*q = '#';
			runs++;
		}
		p = last_digit + 1;
	}
	return runs;
}
