/* fleet_cause.c - reasons grouped by cause (per-machine identifiers
 * replaced) and the PC name in a BitLocker description (see lb_fleet.h,
 * docs/fleet.md "fleet.html"). */
#include "fleet_int.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ELLIPSIS "\xe2\x80\xa6" /* … */

static bool hexrun(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* length of a GUID at s ({8-4-4-4-12} with or without braces), 0 if none */
static size_t guid_len(const char *s)
{
	static const size_t part[5] = { 8, 4, 4, 4, 12 };
	size_t i = *s == '{' ? 1 : 0;

	for (int p = 0; p < 5; p++) {
		if (strnlen(s + i, part[p]) < part[p] || !hexrun(s + i, part[p]))
			return 0;
		i += part[p];
		if (p < 4 && s[i++] != '-')
			return 0;
	}
	if (isalnum((unsigned char)s[i]))
		return 0;
	return *s == '{' ? (s[i] == '}' ? i + 1 : 0) : i;
}

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* an absolute path starts after a blank, a quote or an opening bracket */
static size_t path_len(const char *s, size_t at)
{
	size_t i = 0;

	if (s[at] != '/' || !(word_char(s[at + 1]) || s[at + 1] == '.'))
		return 0;
	if (at && !strchr(" \t(\"'=[", s[at - 1]))
		return 0;
	while (s[at + i] && !isspace((unsigned char)s[at + i]) && !strchr(",;:)\"'", s[at + i]))
		i++;
	return i;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool has_digit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isdigit((unsigned char)s[i]))
			return true;
	return false;
}

/* a volume, partition or disk number: "volume 3" -> "volume N" */
static bool counted_noun(const char *s, size_t at)
{
	static const char *const nouns[] = { "volume ", "partition ", "disk ", "target " };

	for (size_t k = 0; k < sizeof(nouns) / sizeof(nouns[0]); k++) {
		size_t n = strlen(nouns[k]);

		if (at >= n && !strncasecmp(s + at - n, nouns[k], n) &&
		    (at == n || !word_char(s[at - n - 1])))
			return true;
	}
	return false;
}

/* what one alphanumeric word becomes: NULL to keep it */
static const char *word_subst(const char *s, size_t at, size_t n)
{
	bool digits = all_digits(s + at, n);
	char before = at ? s[at - 1] : ' ';

	if (n >= 12 && hexrun(s + at, n) && has_digit(s + at, n))
		return ELLIPSIS; /* serial numbers, agent IDs, hashes */
	if (digits && n >= 4 && before != '-' && before != '\\')
		return "N";
	if (digits && counted_noun(s, at))
		return "N";
	return NULL;
}

char *lb_fleet_cause(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out = malloc(len * 3 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = (i == 0 || !word_char(s[i - 1])) ? guid_len(s + i) : 0;
		const char *sub = NULL;

		if (n) {
			sub = "{" ELLIPSIS "}";
		} else if ((n = path_len(s, i))) {
			sub = ELLIPSIS;
		} else if (word_char(s[i]) && (i == 0 || !word_char(s[i - 1]))) {
			while (word_char(s[i + n]))
				n++;
			sub = word_subst(s, i, n);
		} else {
			n = 1;
		}
		if (sub) {
			memcpy(out + o, sub, strlen(sub));
			o += strlen(sub);
		} else {
			memcpy(out + o, s + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

char *lb_fleet_bl_name(const char *d)
{
	size_t n = 0;

	while (d[n] && (isalnum((unsigned char)d[n]) || d[n] == '-' || d[n] == '_'))
		n++;
	/* Windows writes "<computer name> <drive letter>: <date>" */
	if (n == 0 || n > 63 || d[n] != ' ' || !isalpha((unsigned char)d[n + 1]) ||
	    d[n + 2] != ':')
		return strdup("");
	return strndup(d, n);
}
