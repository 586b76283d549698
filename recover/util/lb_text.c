/* lb_text.c - UTF-16LE <-> UTF-8 through iconv(3); glob through fnmatch(3). */
#include "lb_text.h"

#include <errno.h>
#include <fnmatch.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "lb_bytes.h"

char *lb_utf16le_to_utf8(const void *utf16, size_t nbytes)
{
	const uint8_t *s = utf16;
	size_t units = nbytes / 2, len = 0;
	char *out, *op;
	char *ip;
	size_t il, ol;
	iconv_t cd;

	while (len < units && lb_le16(s + 2 * len))
		len++;
	/* at most 3 UTF-8 bytes per UTF-16 unit (U+FFFD included) */
	out = malloc(3 * len + 1);
	if (!out)
		return NULL;
	cd = iconv_open("UTF-8", "UTF-16LE");
	if (cd == (iconv_t)-1) {
		free(out);
		return NULL;
	}
	ip = (char *)s;
	il = 2 * len;
	op = out;
	ol = 3 * len;
	while (il > 0) {
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		if (errno != EILSEQ && errno != EINVAL)
			break;
		/* an unpaired surrogate: U+FFFD and go on after it */
		if (ol < 3)
			break;
		memcpy(op, "\xef\xbf\xbd", 3);
		op += 3;
		ol -= 3;
		ip += 2;
		il -= il >= 2 ? 2 : il;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	iconv_close(cd);
	*op = '\0';
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
