/* lb_playbook_json.c - the parse context: line:column of the value an
 * error is about (found by walking the text along the field's path),
 * memory owned by the playbook, and string fields with ${param}. */
#include "lb_playbook_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- locating a JSON value in the text, for line:column in errors ---- */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < n ? i + 1 : n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	int depth = 0;

	i = skip_ws(s, n, i);
	if (i >= n)
		return n;
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] != '{' && s[i] != '[') {
		while (i < n && !strchr(",]} \t\r\n", s[i]))
			i++;
		return i;
	}
	for (; i < n; i++) {
		if (s[i] == '"') {
			i = skip_string(s, n, i) - 1;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return n;
}

/* Offset of the value at path, or of the deepest part found. */
static size_t locate(const char *s, size_t n, const struct lb_pb_pel *path, int depth)
{
	size_t i = skip_ws(s, n, 0);

	for (int d = 0; d < depth; d++) {
		size_t k = 0;
		bool found = false;

		if (i >= n || s[i] != (path[d].key ? '{' : '['))
			return i;
		i = skip_ws(s, n, i + 1);
		while (i < n && s[i] != '}' && s[i] != ']') {
			if (path[d].key) {
				size_t ks = i + 1, ke = skip_string(s, n, i) - 1;

				i = skip_ws(s, n, ke + 1);
				if (i < n && s[i] == ':')
					i = skip_ws(s, n, i + 1);
				if (ke - ks == strlen(path[d].key) && !memcmp(s + ks, path[d].key, ke - ks)) {
					found = true;
					break;
				}
			} else if (k++ == path[d].index) {
				found = true;
				break;
			}
			i = skip_ws(s, n, skip_value(s, n, i));
			if (i < n && s[i] == ',')
				i = skip_ws(s, n, i + 1);
		}
		if (!found)
			return i;
	}
	return i;
}

/* ---- errors and the path stack ---- */

int lb_pb_err(struct lb_pb_ctx *c, const char *fmt, ...)
{
	char msg[600], where[200] = "";
	size_t off = locate(c->text, c->len, c->path, c->depth), line = 1, col = 1;
	va_list ap;

	for (size_t i = 0; i < off && i < c->len; i++) {
		if (c->text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	for (int d = 0; d < c->depth; d++) {
		size_t l = strlen(where);

		if (c->path[d].key)
			snprintf(where + l, sizeof(where) - l, "%s%s", d ? "." : "", c->path[d].key);
		else
			snprintf(where + l, sizeof(where) - l, "[%zu]", c->path[d].index);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lb_err_set(c->err, LB_EK_INPUT, 0, "%s:%zu:%zu: %s%s%s", c->origin, line, col, where,
	                  where[0] ? ": " : "", msg);
}

int lb_pb_oom(struct lb_pb_ctx *c)
{
	return lb_err_set(c->err, LB_EK_INTERNAL, ENOMEM, "playbook");
}

void lb_pb_push_key(struct lb_pb_ctx *c, const char *k)
{
	if (c->depth < LB_PB_DEPTH) {
		c->path[c->depth].key = k;
		c->path[c->depth].index = 0;
	}
	c->depth++;
}

void lb_pb_push_index(struct lb_pb_ctx *c, size_t i)
{
	if (c->depth < LB_PB_DEPTH) {
		c->path[c->depth].key = NULL;
		c->path[c->depth].index = i;
	}
	c->depth++;
}

void lb_pb_pop(struct lb_pb_ctx *c)
{
	c->depth--;
}

/* ---- memory owned by the playbook ---- */

void *lb_pb_alloc(struct lb_playbook *pb, size_t n)
{
	void **na = realloc(pb->allocs, (pb->nallocs + 1) * sizeof(*na));
	void *p;

	if (!na)
		return NULL;
	pb->allocs = na;
	p = calloc(1, n ? n : 1);
	if (p)
		pb->allocs[pb->nallocs++] = p;
	return p;
}

int lb_pb_strdup(struct lb_pb_ctx *c, const char *s, const char **out)
{
	char *d;

	*out = NULL;
	if (!s)
		return 0;
	d = lb_pb_alloc(c->pb, strlen(s) + 1);
	if (!d)
		return lb_pb_oom(c);
	strcpy(d, s);
	*out = d;
	return 0;
}

int lb_pb_check_keys(struct lb_pb_ctx *c, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		bool ok = !strcmp(k, "note");

		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(k, allowed[i]);
		if (!ok) {
			lb_pb_push_key(c, k);
			lb_pb_err(c, "unknown field \"%s\"", k);
			lb_pb_pop(c);
			return -1;
		}
	}
	(void)v;
	return 0;
}

/* ---- string fields and ${param} ---- */

static const char *param_value(struct lb_pb_ctx *c, const char *name, size_t n)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strlen(c->params[i].name) == n && !strncmp(c->params[i].name, name, n))
			return c->params[i].value;
	return NULL;
}

static bool declared(struct lb_pb_ctx *c, const char *name, size_t n)
{
	for (size_t i = 0; i < c->pb->nparams; i++)
		if (strlen(c->pb->params[i].name) == n && !strncmp(c->pb->params[i].name, name, n))
			return true;
	return false;
}

/* s with ${name} replaced by the values, into a buffer owned by the
 * playbook; NULL after an error (at the current path). */
static char *substitute(struct lb_pb_ctx *c, const char *s)
{
	size_t cap = 0, n = 0;
	const char *p;
	char *out;

	for (size_t i = 0; i < c->nparams; i++)
		if (strlen(c->params[i].value) > cap)
			cap = strlen(c->params[i].value);
	cap = strlen(s) + 1 + (strlen(s) / 3 + 1) * cap;
	out = lb_pb_alloc(c->pb, cap);
	if (!out) {
		lb_pb_oom(c);
		return NULL;
	}
	for (p = s; *p;) {
		if (p[0] == '$' && p[1] == '{') {
			const char *e = strchr(p + 2, '}');
			const char *val;

			if (!e || e == p + 2 || !declared(c, p + 2, (size_t)(e - p - 2))) {
				lb_pb_err(c, "\"${\" without a declared parameter name and \"}\" (declare "
				          "it under \"params\")");
				return NULL;
			}
			val = c->params ? param_value(c, p + 2, (size_t)(e - p - 2)) : NULL;
			if (c->params && !val) {
				lb_pb_err(c, "parameter \"%.*s\" has no value (--param %.*s=VALUE)",
				          (int)(e - p - 2), p + 2, (int)(e - p - 2), p + 2);
				return NULL;
			}
			if (val) {
				memcpy(out + n, val, strlen(val));
				n += strlen(val);
				p = e + 1;
				continue;
			}
		}
		out[n++] = *p++;
	}
	out[n] = 0;
	return out;
}

const char *lb_pb_get_str(struct lb_pb_ctx *c, json_t *obj, const char *key, bool required,
                          int *bad)
{
	json_t *v = json_object_get(obj, key);
	const char *out = NULL;

	if (!v) {
		if (required) {
			lb_pb_err(c, "missing required field \"%s\"", key);
			*bad = 1;
		}
		return NULL;
	}
	lb_pb_push_key(c, key);
	if (!json_is_string(v))
		lb_pb_err(c, "must be a string");
	else
		out = substitute(c, json_string_value(v));
	if (!out)
		*bad = 1;
	lb_pb_pop(c);
	return out;
}
