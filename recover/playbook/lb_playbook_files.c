/* lb_playbook_files.c - file rules: parsing ("files": path, time window,
 * size, SHA-256 list, header patterns, action), matching a name against
 * the rule's glob, and the verdict for a file that matched. */
#include "lb_playbook_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lb_text.h"

/* ---- parsing ---- */

static int parse_time(const char *s, int64_t *t)
{
	struct tm tm;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!e || *e)
		return -1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

/* "%SystemRoot%\dir\...\glob" or "\dir\...\glob" -> dir and glob. */
static int parse_path(struct lb_pb_ctx *c, const char *path, struct lb_file_rule *fr)
{
	const char *sep;
	char *dir;

	lb_pb_push_key(c, "path");
	if (!strncasecmp(path, "%SystemRoot%\\", 13)) {
		fr->under_system_root = true;
		path += 13;
	} else if (path[0] == '\\') {
		path++;
	} else {
		return lb_pb_err(c, "must start with %%SystemRoot%%\\ or \\ (the volume root)");
	}
	sep = strrchr(path, '\\');
	dir = lb_pb_alloc(c->pb, strlen(path) + 1);
	if (!dir)
		return lb_pb_oom(c);
	if (sep) {
		memcpy(dir, path, (size_t)(sep - path));
		fr->glob = sep + 1;
	} else {
		fr->glob = path;
	}
	fr->dir = dir;
	if (!fr->glob[0] || strpbrk(dir, "*?") || strstr(path, ".."))
		return lb_pb_err(c, "wildcards (* ?) only in the last component, no \"..\", and a "
		                 "file name");
	lb_pb_pop(c);
	return 0;
}

/* "modified": {"from": TIME, "to": TIME}, either end optional. */
static int parse_modified(struct lb_pb_ctx *c, json_t *v, struct lb_file_rule *fr)
{
	static const char *const mkeys[] = { "from", "to", NULL };
	const char *f, *t;
	int bad = 0;

	lb_pb_push_key(c, "modified");
	if (!json_is_object(v) || lb_pb_check_keys(c, v, mkeys)) {
		if (c->err->kind == LB_EK_NONE)
			lb_pb_err(c, "must be {\"from\": TIME, \"to\": TIME}");
		return -1;
	}
	f = lb_pb_get_str(c, v, "from", false, &bad);
	t = lb_pb_get_str(c, v, "to", false, &bad);
	if (bad)
		return -1;
	if (f && parse_time(f, &fr->window_from)) {
		lb_pb_push_key(c, "from");
		return lb_pb_err(c, "time must be UTC YYYY-MM-DDTHH:MM:SSZ");
	}
	if (t && parse_time(t, &fr->window_to)) {
		lb_pb_push_key(c, "to");
		return lb_pb_err(c, "time must be UTC YYYY-MM-DDTHH:MM:SSZ");
	}
	if (fr->window_from >= fr->window_to)
		return lb_pb_err(c, "\"from\" must be before \"to\"");
	lb_pb_pop(c);
	return 0;
}

/* "size": {"min": BYTES, "max": BYTES}. */
static int parse_size(struct lb_pb_ctx *c, json_t *v, struct lb_file_rule *fr)
{
	static const char *const skeys[] = { "min", "max", NULL };
	json_t *mn, *mx;

	lb_pb_push_key(c, "size");
	if (!json_is_object(v) || lb_pb_check_keys(c, v, skeys)) {
		if (c->err->kind == LB_EK_NONE)
			lb_pb_err(c, "must be {\"min\": BYTES, \"max\": BYTES}");
		return -1;
	}
	mn = json_object_get(v, "min");
	mx = json_object_get(v, "max");
	if ((mn && (!json_is_integer(mn) || json_integer_value(mn) < 0)) ||
	    (mx && (!json_is_integer(mx) || json_integer_value(mx) < 0)))
		return lb_pb_err(c, "min and max must be non-negative integers");
	if (mn)
		fr->size_min = (uint64_t)json_integer_value(mn);
	if (mx)
		fr->size_max = (uint64_t)json_integer_value(mx);
	if (fr->size_min > fr->size_max)
		return lb_pb_err(c, "min must not exceed max");
	lb_pb_pop(c);
	return 0;
}

/* "sha256": ["64 hex digits", ...], kept in lower case. */
static int parse_sha256(struct lb_pb_ctx *c, json_t *v, struct lb_file_rule *fr)
{
	char (*list)[65];
	size_t i;
	json_t *e;

	lb_pb_push_key(c, "sha256");
	if (!json_is_array(v))
		return lb_pb_err(c, "must be an array of SHA-256 hex strings");
	list = lb_pb_alloc(c->pb, json_array_size(v) * 65);
	if (!list)
		return lb_pb_oom(c);
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		bool ok = s && strlen(s) == 64;

		for (size_t k = 0; ok && k < 64; k++)
			ok = isxdigit((unsigned char)s[k]);
		if (!ok) {
			lb_pb_push_index(c, i);
			return lb_pb_err(c, "must be 64 hex digits");
		}
		for (size_t k = 0; k < 64; k++)
			list[i][k] = (char)tolower((unsigned char)s[k]);
		list[i][64] = 0;
	}
	fr->sha256 = (const char (*)[65])list;
	fr->nsha256 = json_array_size(v);
	lb_pb_pop(c);
	return 0;
}

/* One of "headers": {"kind": NAME, "hex": 1 to LB_HEADER_MAX bytes}. */
static int parse_header(struct lb_pb_ctx *c, json_t *e, struct lb_header_pattern *hp)
{
	static const char *const hkeys[] = { "kind", "hex", NULL };
	const char *kind, *hex;
	uint8_t *b = NULL;
	size_t n = 0;
	int bad = 0;

	if (!json_is_object(e) || lb_pb_check_keys(c, e, hkeys)) {
		if (c->err->kind == LB_EK_NONE)
			lb_pb_err(c, "must be {\"kind\": NAME, \"hex\": BYTES}");
		return -1;
	}
	kind = lb_pb_get_str(c, e, "kind", true, &bad);
	hex = lb_pb_get_str(c, e, "hex", true, &bad);
	if (bad)
		return -1;
	lb_pb_push_key(c, "hex");
	if (lb_hex_decode(hex, &b, &n) || n == 0 || n > LB_HEADER_MAX) {
		free(b);
		return lb_pb_err(c, "must be 1 to %d bytes of hex", LB_HEADER_MAX);
	}
	lb_pb_pop(c);
	hp->kind = kind;
	memcpy(hp->bytes, b, n);
	hp->len = n;
	free(b);
	return 0;
}

static int parse_headers(struct lb_pb_ctx *c, json_t *v, struct lb_file_rule *fr)
{
	struct lb_header_pattern *hp;
	size_t i, maxlen = 0;
	json_t *e;

	lb_pb_push_key(c, "headers");
	if (!json_is_array(v))
		return lb_pb_err(c, "must be an array of {\"kind\", \"hex\"}");
	hp = lb_pb_alloc(c->pb, json_array_size(v) * sizeof(*hp));
	if (!hp)
		return lb_pb_oom(c);
	json_array_foreach(v, i, e) {
		lb_pb_push_index(c, i);
		if (parse_header(c, e, &hp[i]))
			return -1;
		if (hp[i].len > maxlen)
			maxlen = hp[i].len;
		lb_pb_pop(c);
	}
	fr->headers = hp;
	fr->nheaders = json_array_size(v);
	fr->header_len = maxlen;
	lb_pb_pop(c);
	return 0;
}

/* "header_length" (default: the longest pattern, else 8) and "action". */
static int parse_tail(struct lb_pb_ctx *c, json_t *r, const char *action,
                      struct lb_file_rule *fr)
{
	json_t *v;

	if (!fr->header_len)
		fr->header_len = 8;
	if ((v = json_object_get(r, "header_length"))) {
		lb_pb_push_key(c, "header_length");
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > LB_HEADER_MAX ||
		    (size_t)json_integer_value(v) < fr->header_len)
			return lb_pb_err(c, "must be an integer from the longest header pattern to %d",
			                 LB_HEADER_MAX);
		fr->header_len = (size_t)json_integer_value(v);
		lb_pb_pop(c);
	}
	fr->action = LB_ACT_QUARANTINE;
	if (action && !strcmp(action, "delete")) {
		fr->action = LB_ACT_DELETE;
	} else if (action && strcmp(action, "quarantine")) {
		lb_pb_push_key(c, "action");
		return lb_pb_err(c, "must be \"quarantine\" or \"delete\"");
	}
	return 0;
}

int lb_pb_parse_file_rule(struct lb_pb_ctx *c, json_t *r, struct lb_file_rule *fr, size_t idx)
{
	static const char *const keys[] = { "id", "path", "modified", "size", "sha256", "headers",
	                                    "header_length", "action", NULL };
	const char *path, *id, *action;
	json_t *v;
	int bad = 0;

	if (!json_is_object(r))
		return lb_pb_err(c, "a file rule must be an object");
	if (lb_pb_check_keys(c, r, keys))
		return -1;
	id = lb_pb_get_str(c, r, "id", false, &bad);
	path = lb_pb_get_str(c, r, "path", true, &bad);
	action = lb_pb_get_str(c, r, "action", false, &bad);
	if (bad)
		return -1;
	if (!id) {
		char *idbuf = lb_pb_alloc(c->pb, 32);

		if (!idbuf)
			return lb_pb_oom(c);
		snprintf(idbuf, 32, "file-%zu", idx + 1);
		id = idbuf;
	}
	fr->id = id;
	if (parse_path(c, path, fr))
		return -1;
	fr->window_from = INT64_MIN;
	fr->window_to = INT64_MAX;
	if ((v = json_object_get(r, "modified")) && parse_modified(c, v, fr))
		return -1;
	fr->size_min = 0;
	fr->size_max = UINT64_MAX;
	if ((v = json_object_get(r, "size")) && parse_size(c, v, fr))
		return -1;
	if ((v = json_object_get(r, "sha256")) && parse_sha256(c, v, fr))
		return -1;
	if ((v = json_object_get(r, "headers")) && parse_headers(c, v, fr))
		return -1;
	return parse_tail(c, r, action, fr);
}

/* ---- matching and verdicts ---- */

/* The documented wildcards are '*' and '?' (docs/playbook-format.md); every
 * other character of a rule's glob is literal.  fnmatch(3) (lb_glob_match:
 * FNM_CASEFOLD | FNM_NOESCAPE) matches those the same way, and a backslash
 * is already literal under FNM_NOESCAPE; only '[' would open a bracket
 * expression, so it is passed as "[[]", the set holding just '['. */
bool lb_glob_match_ci(const char *glob, const char *name)
{
	char buf[1024], *pat = buf;
	size_t n = 0, need = 1;
	bool m;

	if (!strchr(glob, '['))
		return lb_glob_match(glob, name);
	for (const char *g = glob; *g; g++)
		need += *g == '[' ? 3 : 1;
	if (need > sizeof(buf) && !(pat = malloc(need)))
		return false;
	for (const char *g = glob; *g; g++) {
		if (*g == '[') {
			memcpy(pat + n, "[[]", 3);
			n += 3;
		} else {
			pat[n++] = *g;
		}
	}
	pat[n] = '\0';
	m = lb_glob_match(pat, name);
	if (pat != buf)
		free(pat);
	return m;
}

const char *lb_rule_classify_file(const struct lb_file_rule *r, int64_t mtime_unix, uint64_t size,
                                  const char *sha256, const uint8_t *header, size_t hlen,
                                  const char **header_kind)
{
	bool identified = r->nheaders == 0 && r->nsha256 == 0;

	*header_kind = "other";
	for (size_t i = 0; i < r->nheaders; i++) {
		const struct lb_header_pattern *p = &r->headers[i];

		if (hlen >= p->len && memcmp(header, p->bytes, p->len) == 0) {
			*header_kind = p->kind;
			identified = true;
			break;
		}
	}
	for (size_t i = 0; sha256 && i < r->nsha256 && !identified; i++)
		if (!strcasecmp(sha256, r->sha256[i])) {
			*header_kind = "sha256";
			identified = true;
		}
	if (size != UINT64_MAX && (size < r->size_min || size > r->size_max))
		identified = false;
	if (mtime_unix < r->window_from)
		return "older";
	if (mtime_unix >= r->window_to)
		return "good";
	return identified ? "bad" : "unexpected";
}

const char *lb_rule_classify(const struct lb_file_rule *r, int64_t mtime_unix,
                             const uint8_t *header, size_t hlen, const char **header_kind)
{
	return lb_rule_classify_file(r, mtime_unix, UINT64_MAX, NULL, header, hlen, header_kind);
}
