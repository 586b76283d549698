/* lb_playbook_parse.c - a playbook's top level (jansson) and its
 * parameters; the rules are parsed in lb_playbook_files.c and
 * lb_playbook_registry.c. */
#include "lb_playbook_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ---- */

/* One declaration: NAME (letters, digits, _ -): {"description", "required",
 * "default"}; the strings are copied (the JSON tree is dropped after
 * parsing). */
static int parse_param(struct lb_pb_ctx *c, const char *k, json_t *v, struct lb_param *out)
{
	static const char *const pkeys[] = { "description", "required", "default", NULL };
	json_t *d;
	bool ok = k[0] != 0;

	for (const char *q = k; *q && ok; q++)
		ok = isalnum((unsigned char)*q) || *q == '_' || *q == '-';
	if (!ok || !json_is_object(v) || lb_pb_check_keys(c, v, pkeys)) {
		if (c->err->kind == LB_EK_NONE)
			lb_pb_err(c, "a parameter is NAME (letters, digits, _ -): {\"description\", "
			          "\"required\", \"default\"}");
		return -1;
	}
	d = json_object_get(v, "required");
	if (d && !json_is_boolean(d)) {
		lb_pb_push_key(c, "required");
		lb_pb_err(c, "must be true or false");
		lb_pb_pop(c);
		return -1;
	}
	out->required = json_is_true(d);
	d = json_object_get(v, "default");
	if (d && !json_is_string(d)) {
		lb_pb_push_key(c, "default");
		lb_pb_err(c, "must be a string");
		lb_pb_pop(c);
		return -1;
	}
	if (lb_pb_strdup(c, k, &out->name) ||
	    lb_pb_strdup(c, d ? json_string_value(d) : NULL, &out->def))
		return -1;
	d = json_object_get(v, "description");
	return lb_pb_strdup(c, json_is_string(d) ? json_string_value(d) : "", &out->description);
}

int lb_pb_parse_params(struct lb_pb_ctx *c, json_t *root)
{
	json_t *ps = json_object_get(root, "params"), *v;
	struct lb_param *out;
	const char *k;
	size_t i = 0;

	if (!ps)
		return 0;
	lb_pb_push_key(c, "params");
	if (!json_is_object(ps)) {
		lb_pb_err(c, "must be an object of parameter declarations");
		lb_pb_pop(c);
		return -1;
	}
	out = lb_pb_alloc(c->pb, json_object_size(ps) * sizeof(*out));
	if (!out)
		return lb_pb_oom(c);
	json_object_foreach(ps, k, v) {
		lb_pb_push_key(c, k);
		if (parse_param(c, k, v, &out[i]))
			return -1;
		lb_pb_pop(c);
		i++;
	}
	lb_pb_pop(c);
	c->pb->params = out;
	c->pb->nparams = i;
	return 0;
}

int lb_pb_param_values(struct lb_pb_ctx *c, const struct lb_pb_param_value *given, size_t ngiven,
                       struct lb_pb_param_value **pvp)
{
	struct lb_pb_param_value *pv;

	/* values: given ones, then defaults; unknown names are the caller's business */
	*pvp = pv = calloc(c->pb->nparams + 1, sizeof(*pv));
	if (!pv)
		return lb_pb_oom(c);
	c->nparams = 0;
	for (size_t i = 0; i < c->pb->nparams; i++) {
		const struct lb_param *p = &c->pb->params[i];
		const char *val = p->def;

		for (size_t k = 0; k < ngiven; k++)
			if (!strcmp(given[k].name, p->name))
				val = given[k].value;
		if (!val) {
			if (p->required) {
				lb_pb_push_key(c, "params");
				lb_pb_push_key(c, p->name);
				return lb_pb_err(c, "required parameter has no value (--param %s=VALUE)",
				                 p->name);
			}
			continue;
		}
		for (const char *q = val; *q; q++)
			if ((unsigned char)*q < 0x20 || strchr("\\/*?", *q) || !strncmp(q, "${", 2))
				return lb_err_set(c->err, LB_EK_USAGE, 0, "--param %s: the value must not "
				                  "contain \\ / * ? ${ or control characters", p->name);
		if (!val[0] || strlen(val) > 255)
			return lb_err_set(c->err, LB_EK_USAGE, 0, "--param %s: 1 to 255 characters",
			                  p->name);
		pv[c->nparams].name = p->name;
		pv[c->nparams].value = val;
		c->nparams++;
	}
	c->params = pv;
	return 0;
}

/* ---- the rule lists ---- */

static int parse_files(struct lb_pb_ctx *c, json_t *v)
{
	struct lb_file_rule *fr;
	size_t i;
	json_t *r;

	lb_pb_push_key(c, "files");
	if (!json_is_array(v))
		return lb_pb_err(c, "must be an array of file rules");
	fr = lb_pb_alloc(c->pb, json_array_size(v) * sizeof(*fr));
	if (!fr)
		return lb_pb_oom(c);
	json_array_foreach(v, i, r) {
		lb_pb_push_index(c, i);
		if (lb_pb_parse_file_rule(c, r, &fr[i], i))
			return -1;
		lb_pb_pop(c);
	}
	c->pb->rules = fr;
	c->pb->nrules = json_array_size(v);
	lb_pb_pop(c);
	return 0;
}

static int parse_registry(struct lb_pb_ctx *c, json_t *v)
{
	struct lb_reg_rule *rr;
	size_t i;
	json_t *r;

	lb_pb_push_key(c, "registry");
	if (!json_is_array(v))
		return lb_pb_err(c, "must be an array of registry rules");
	rr = lb_pb_alloc(c->pb, json_array_size(v) * sizeof(*rr));
	if (!rr)
		return lb_pb_oom(c);
	json_array_foreach(v, i, r) {
		lb_pb_push_index(c, i);
		if (lb_pb_parse_reg_rule(c, r, &rr[i], i))
			return -1;
		lb_pb_pop(c);
	}
	c->pb->reg = rr;
	c->pb->nreg = json_array_size(v);
	lb_pb_pop(c);
	return 0;
}

static int parse_bcd(struct lb_pb_ctx *c, json_t *v)
{
	struct lb_bcd_rule *br = lb_pb_alloc(c->pb, sizeof(*br));

	if (!br)
		return lb_pb_oom(c);
	lb_pb_push_key(c, "bcd");
	if (lb_pb_parse_bcd(c, v, br))
		return -1;
	lb_pb_pop(c);
	c->pb->bcd = br;
	return 0;
}

/* ---- the top level ---- */

static int parse_schema(struct lb_pb_ctx *c, json_t *root)
{
	const char *schema;
	int bad = 0;

	schema = lb_pb_get_str(c, root, "schema", true, &bad);
	if (bad)
		return -1;
	if (strcmp(schema, LB_PLAYBOOK_SCHEMA)) {
		lb_pb_push_key(c, "schema");
		lb_pb_err(c, "must be \"%s\" (got \"%s\")", LB_PLAYBOOK_SCHEMA, schema);
		lb_pb_pop(c);
		return -1;
	}
	return 0;
}

/* name and description. */
static int parse_name(struct lb_pb_ctx *c, json_t *root)
{
	const char *s;
	int bad = 0;

	s = lb_pb_get_str(c, root, "name", true, &bad);
	c->pb->description = lb_pb_get_str(c, root, "description", false, &bad);
	if (bad)
		return -1;
	c->pb->name = s;
	if (!c->pb->description)
		c->pb->description = "";
	if (!s[0] || strpbrk(s, "/\\ \t") || strstr(s, "${")) {
		lb_pb_push_key(c, "name");
		lb_pb_err(c, "must be a non-empty name without spaces, slashes or parameters");
		lb_pb_pop(c);
		return -1;
	}
	return 0;
}

/* Everything after the JSON is loaded: c->pb is filled in. */
static int parse_root(struct lb_pb_ctx *c, json_t *root, const struct lb_pb_param_value *params,
                      size_t nparams, struct lb_pb_param_value **pv)
{
	static const char *const keys[] = { "schema", "name", "description", "params", "files",
	                                    "registry", "bcd", NULL };
	json_t *v;

	if (!json_is_object(root))
		return lb_pb_err(c, "a playbook is a JSON object");
	if (lb_pb_check_keys(c, root, keys) || parse_schema(c, root) || lb_pb_parse_params(c, root))
		return -1;
	if (params && lb_pb_param_values(c, params, nparams, pv))
		return -1;
	if (parse_name(c, root))
		return -1;
	if ((v = json_object_get(root, "files")) && parse_files(c, v))
		return -1;
	if ((v = json_object_get(root, "registry")) && parse_registry(c, v))
		return -1;
	if ((v = json_object_get(root, "bcd")) && parse_bcd(c, v))
		return -1;
	if (!c->pb->nrules && !c->pb->nreg && !c->pb->bcd)
		return lb_pb_err(c, "no rules: give \"files\", \"registry\" or \"bcd\"");
	return lb_pb_strdup(c, c->origin, &c->pb->origin);
}

int lb_playbook_parse(const char *text, size_t len, const char *origin,
                      const struct lb_pb_param_value *params, size_t nparams,
                      struct lb_playbook **out, struct lb_err *err)
{
	struct lb_pb_param_value *pv = NULL;
	struct lb_pb_ctx c;
	json_error_t je;
	json_t *root;
	int rc;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.text = text;
	c.len = len;
	c.origin = origin;
	c.err = err;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s:%d:%d: %s", origin, je.line, je.column,
		                  je.text);
	c.pb = calloc(1, sizeof(*c.pb));
	if (!c.pb) {
		json_decref(root);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "playbook");
	}
	/* The strings point into the JSON tree: keep a private copy of every
	 * one we use (lb_pb_alloc), and the tree itself is dropped at the end. */
	rc = parse_root(&c, root, params, nparams, &pv);
	free(pv);
	json_decref(root);
	if (rc) {
		lb_playbook_free(c.pb);
		return -1;
	}
	*out = c.pb;
	return 0;
}

void lb_playbook_free(struct lb_playbook *pb)
{
	if (!pb)
		return;
	for (size_t i = 0; i < pb->nallocs; i++)
		free(pb->allocs[i]);
	free(pb->allocs);
	free(pb);
}

bool lb_playbook_has_param(const struct lb_playbook *pb, const char *name)
{
	for (size_t i = 0; i < pb->nparams; i++)
		if (!strcmp(pb->params[i].name, name))
			return true;
	return false;
}
