/* lb_playbook_registry.c - registry rules ("registry": set, delete_value,
 * disable_service, conditions), typed registry data as stored, and the BCD
 * rule. */
#include "lb_playbook_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_bcd.h"
#include "lb_bytes.h"
#include "lb_hivedit.h"

/* ---- hex and registry types ---- */

/* Pairs of hex digits; ' ', ',' and ':' may separate bytes. */
int lb_hex_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0, sl = strlen(s);
	uint8_t *b = malloc(sl / 2 + 1);

	if (!b)
		return -1;
	for (size_t i = 0; i < sl;) {
		unsigned v;

		if (s[i] == ' ' || s[i] == ',' || s[i] == ':') {
			i++;
			continue;
		}
		if (i + 1 >= sl || !isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]) ||
		    sscanf(s + i, "%2x", &v) != 1) {
			free(b);
			return -1;
		}
		b[n++] = (uint8_t)v;
		i += 2;
	}
	*out = b;
	*len = n;
	return 0;
}

char *lb_hex_encode(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);

	return s ? lb_hex(b, n, s) : NULL;
}

static const struct {
	const char *name;
	uint32_t type;
} reg_types[] = {
	{ "REG_NONE", LB_REG_NONE }, { "REG_SZ", LB_REG_SZ }, { "REG_EXPAND_SZ", LB_REG_EXPAND_SZ },
	{ "REG_BINARY", LB_REG_BINARY }, { "REG_DWORD", LB_REG_DWORD },
	{ "REG_MULTI_SZ", LB_REG_MULTI_SZ }, { "REG_QWORD", LB_REG_QWORD },
};

const char *lb_reg_type_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(reg_types) / sizeof(reg_types[0]); i++)
		if (reg_types[i].type == type)
			return reg_types[i].name;
	return NULL;
}

int lb_reg_type_parse(const char *name, uint32_t *type)
{
	for (size_t i = 0; i < sizeof(reg_types) / sizeof(reg_types[0]); i++)
		if (!strcasecmp(reg_types[i].name, name)) {
			*type = reg_types[i].type;
			return 0;
		}
	return -1;
}

/* ---- typed data ---- */

/* REG_MULTI_SZ: an array of non-empty strings -> each UTF-16LE with its
 * NUL, then the list's final NUL.  The path is at "data". */
static int multi_sz(struct lb_pb_ctx *c, json_t *v, uint8_t **bp, size_t *np)
{
	uint8_t *b = NULL, *nb;
	size_t n = 0, i;
	json_t *e;

	if (!json_is_array(v))
		return lb_pb_err(c, "REG_MULTI_SZ data must be an array of strings");
	json_array_foreach(v, i, e) {
		uint8_t *u;
		size_t ul;

		lb_pb_push_index(c, i);
		if (!json_is_string(e) || !json_string_value(e)[0]) {
			free(b);
			return lb_pb_err(c, "must be a non-empty string");
		}
		if (lb_hivedit_utf16z(json_string_value(e), &u, &ul)) {
			free(b);
			return lb_pb_err(c, "not valid UTF-8");
		}
		lb_pb_pop(c);
		nb = realloc(b, n + ul + 2);
		if (!nb) {
			free(u);
			free(b);
			return lb_pb_oom(c);
		}
		b = nb;
		memcpy(b + n, u, ul);
		n += ul;
		free(u);
	}
	nb = realloc(b, n + 2);
	if (!nb) {
		free(b);
		return lb_pb_oom(c);
	}
	b = nb;
	b[n++] = 0;
	b[n++] = 0;
	*bp = b;
	*np = n;
	return 0;
}

/* Member "data" of obj, of type, as raw malloc'd bytes; the path is at
 * "data". */
static int data_bytes(struct lb_pb_ctx *c, json_t *obj, json_t *v, uint32_t type, uint8_t **bp,
                      size_t *np)
{
	*bp = NULL;
	*np = 0;
	switch (type) {
	case LB_REG_SZ:
	case LB_REG_EXPAND_SZ: {
		const char *s;
		int bad = 0;

		lb_pb_pop(c);
		s = lb_pb_get_str(c, obj, "data", true, &bad);
		lb_pb_push_key(c, "data");
		if (!s)
			return -1;
		if (lb_hivedit_utf16z(s, bp, np))
			return lb_pb_err(c, "not valid UTF-8");
		return 0;
	}
	case LB_REG_DWORD:
	case LB_REG_QWORD: {
		json_int_t x;

		if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 ||
		    (type == LB_REG_DWORD && x > 0xFFFFFFFFLL))
			return lb_pb_err(c, "%s data must be an integer from 0 to %s",
			                 lb_reg_type_name(type),
			                 type == LB_REG_DWORD ? "4294967295" : "2^63-1");
		*np = type == LB_REG_DWORD ? 4 : 8;
		*bp = malloc(*np);
		if (!*bp)
			return lb_pb_oom(c);
		if (type == LB_REG_DWORD)
			lb_put_le32(*bp, (uint32_t)x);
		else
			lb_put_le64(*bp, (uint64_t)x);
		return 0;
	}
	case LB_REG_MULTI_SZ:
		return multi_sz(c, v, bp, np);
	default:
		if (!json_is_string(v) || lb_hex_decode(json_string_value(v), bp, np))
			return lb_pb_err(c, "%s data must be a hex string (\"0a0b0c\")",
			                 lb_reg_type_name(type) ? lb_reg_type_name(type) : "raw");
		return 0;
	}
}

/* Typed data (member "data" of obj, of type) to raw bytes as stored,
 * owned by the playbook. */
static int parse_data(struct lb_pb_ctx *c, json_t *obj, uint32_t type, const uint8_t **data,
                      size_t *len)
{
	json_t *v = json_object_get(obj, "data");
	uint8_t *b, *out;
	size_t n;

	if (!v)
		return lb_pb_err(c, "missing required field \"data\"");
	lb_pb_push_key(c, "data");
	if (data_bytes(c, obj, v, type, &b, &n))
		return -1;
	lb_pb_pop(c);
	out = lb_pb_alloc(c->pb, n);
	if (!out) {
		free(b);
		return lb_pb_oom(c);
	}
	if (n)
		memcpy(out, b, n);
	free(b);
	*data = out;
	*len = n;
	return 0;
}

static int parse_type(struct lb_pb_ctx *c, json_t *obj, uint32_t *type)
{
	int bad = 0;
	const char *t = lb_pb_get_str(c, obj, "type", true, &bad);

	if (!t)
		return -1;
	if (lb_reg_type_parse(t, type)) {
		lb_pb_push_key(c, "type");
		lb_pb_err(c, "unknown type \"%s\" (REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_QWORD, "
		          "REG_MULTI_SZ, REG_BINARY)", t);
		lb_pb_pop(c);
		return -1;
	}
	return 0;
}

/* ---- registry rules ---- */

static int check_name(struct lb_pb_ctx *c, const char *field, const char *s, bool allow_bs)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '/' || (!allow_bs && *p == '\\')) {
			lb_pb_push_key(c, field);
			lb_pb_err(c, "must not contain control characters, '/'%s",
			          allow_bs ? "" : " or '\\'");
			lb_pb_pop(c);
			return -1;
		}
	if (allow_bs && (strstr(s, "\\\\") || s[0] == '\\' || (s[0] && s[strlen(s) - 1] == '\\'))) {
		lb_pb_push_key(c, field);
		lb_pb_err(c, "a key path is NAME\\NAME\\..., relative to the hive root");
		lb_pb_pop(c);
		return -1;
	}
	return 0;
}

/* "action": "disable_service": CurrentControlSet\Services\NAME, Start = 4. */
static int parse_disable_service(struct lb_pb_ctx *c, json_t *r, const char *hive,
                                 struct lb_reg_rule *rr)
{
	static const uint8_t four[4] = { 4, 0, 0, 0 };
	const char *svc;
	char *key;
	int bad = 0;

	svc = lb_pb_get_str(c, r, "service", true, &bad);
	if (bad)
		return -1;
	if (json_object_get(r, "key") || json_object_get(r, "value") ||
	    json_object_get(r, "type") || json_object_get(r, "data") ||
	    json_object_get(r, "create_key"))
		return lb_pb_err(c, "disable_service takes \"service\" only (key, value and data "
		                 "are implied: CurrentControlSet\\Services\\NAME, Start, 4)");
	if (hive && strcasecmp(hive, "SYSTEM")) {
		lb_pb_push_key(c, "hive");
		return lb_pb_err(c, "disable_service works on the SYSTEM hive");
	}
	if (check_name(c, "service", svc, false))
		return -1;
	if (!svc[0]) {
		lb_pb_push_key(c, "service");
		return lb_pb_err(c, "must not be empty");
	}
	key = lb_pb_alloc(c->pb, strlen(svc) + 40);
	if (!key)
		return lb_pb_oom(c);
	sprintf(key, "CurrentControlSet\\Services\\%s", svc);
	rr->hive = "SYSTEM";
	rr->key = key;
	rr->value = "Start";
	rr->op = LB_REGOP_DISABLE_SERVICE;
	rr->type = LB_REG_DWORD;
	rr->data = four;
	rr->len = 4;
	return 0;
}

/* "action": "set" or "delete_value" on hive, key, value. */
static int parse_value_rule(struct lb_pb_ctx *c, json_t *r, const char *action, const char *hive,
                            struct lb_reg_rule *rr)
{
	json_t *v;
	int bad = 0;

	if (!strcmp(action, "set")) {
		rr->op = LB_REGOP_SET;
	} else if (!strcmp(action, "delete_value")) {
		rr->op = LB_REGOP_DELETE_VALUE;
	} else {
		lb_pb_push_key(c, "action");
		return lb_pb_err(c, "must be \"set\", \"delete_value\" or \"disable_service\"");
	}
	if (!hive)
		return lb_pb_err(c, "missing required field \"hive\"");
	rr->key = lb_pb_get_str(c, r, "key", true, &bad);
	rr->value = lb_pb_get_str(c, r, "value", true, &bad);
	if (bad)
		return -1;
	if (check_name(c, "key", rr->key, true) || check_name(c, "value", rr->value, true))
		return -1;
	if (json_object_get(r, "service"))
		return lb_pb_err(c, "\"service\" belongs to disable_service");
	if (rr->op == LB_REGOP_SET) {
		if (parse_type(c, r, &rr->type) || parse_data(c, r, rr->type, &rr->data, &rr->len))
			return -1;
		v = json_object_get(r, "create_key");
		if (v && !json_is_boolean(v)) {
			lb_pb_push_key(c, "create_key");
			return lb_pb_err(c, "must be true or false");
		}
		rr->create_key = json_is_true(v);
		if (rr->create_key)
			rr->when_key_exists = false;
	} else if (json_object_get(r, "type") || json_object_get(r, "data") ||
	           json_object_get(r, "create_key")) {
		return lb_pb_err(c, "delete_value takes no type, data or create_key");
	}
	if (!strcasecmp(hive, "SYSTEM")) {
		rr->hive = "SYSTEM";
	} else if (!strcasecmp(hive, "SOFTWARE")) {
		rr->hive = "SOFTWARE";
	} else {
		lb_pb_push_key(c, "hive");
		return lb_pb_err(c, "must be \"SYSTEM\" or \"SOFTWARE\"");
	}
	return 0;
}

/* "when": {"key_exists": BOOL, "value_equals": {"type", "data"}}. */
static int parse_when(struct lb_pb_ctx *c, json_t *v, struct lb_reg_rule *rr)
{
	static const char *const wkeys[] = { "key_exists", "value_equals", NULL };
	json_t *ke, *ve;

	lb_pb_push_key(c, "when");
	if (!json_is_object(v) || lb_pb_check_keys(c, v, wkeys)) {
		if (c->err->kind == LB_EK_NONE)
			lb_pb_err(c, "must be {\"key_exists\": BOOL, \"value_equals\": {\"type\", "
			          "\"data\"}}");
		return -1;
	}
	ke = json_object_get(v, "key_exists");
	if (ke) {
		if (!json_is_boolean(ke)) {
			lb_pb_push_key(c, "key_exists");
			return lb_pb_err(c, "must be true or false");
		}
		rr->when_key_exists = json_is_true(ke);
		if (!rr->when_key_exists && !rr->create_key) {
			lb_pb_push_key(c, "key_exists");
			return lb_pb_err(c, "false needs a set with \"create_key\": true");
		}
	}
	ve = json_object_get(v, "value_equals");
	if (ve) {
		static const char *const vkeys[] = { "type", "data", NULL };

		lb_pb_push_key(c, "value_equals");
		if (!json_is_object(ve) || lb_pb_check_keys(c, ve, vkeys) ||
		    parse_type(c, ve, &rr->eq_type) ||
		    parse_data(c, ve, rr->eq_type, &rr->eq_data, &rr->eq_len)) {
			if (c->err->kind == LB_EK_NONE)
				lb_pb_err(c, "must be {\"type\": TYPE, \"data\": DATA}");
			return -1;
		}
		rr->has_equals = true;
		lb_pb_pop(c);
	}
	lb_pb_pop(c);
	return 0;
}

int lb_pb_parse_reg_rule(struct lb_pb_ctx *c, json_t *r, struct lb_reg_rule *rr, size_t idx)
{
	static const char *const keys[] = { "id", "hive", "key", "value", "action", "type", "data",
	                                    "service", "create_key", "when", NULL };
	const char *action, *hive;
	json_t *v;
	int bad = 0;

	if (!json_is_object(r))
		return lb_pb_err(c, "a registry rule must be an object");
	if (lb_pb_check_keys(c, r, keys))
		return -1;
	rr->id = lb_pb_get_str(c, r, "id", false, &bad);
	hive = lb_pb_get_str(c, r, "hive", false, &bad);
	action = lb_pb_get_str(c, r, "action", true, &bad);
	if (bad)
		return -1;
	if (!rr->id) {
		char *b = lb_pb_alloc(c->pb, 32);

		if (!b)
			return lb_pb_oom(c);
		snprintf(b, 32, "registry-%zu", idx + 1);
		rr->id = b;
	}
	rr->when_key_exists = true;
	if (!strcmp(action, "disable_service") ? parse_disable_service(c, r, hive, rr)
	                                       : parse_value_rule(c, r, action, hive, rr))
		return -1;
	if ((v = json_object_get(r, "when")) && parse_when(c, v, rr))
		return -1;
	return 0;
}

/* ---- the BCD rule ---- */

int lb_pb_parse_bcd(struct lb_pb_ctx *c, json_t *b, struct lb_bcd_rule *br)
{
	static const char *const keys[] = { "id", "safeboot", NULL };
	const char *mode;
	int bad = 0;

	if (!json_is_object(b))
		return lb_pb_err(c, "must be an object {\"safeboot\": MODE}");
	if (lb_pb_check_keys(c, b, keys))
		return -1;
	br->id = lb_pb_get_str(c, b, "id", false, &bad);
	mode = lb_pb_get_str(c, b, "safeboot", true, &bad);
	if (bad)
		return -1;
	if (!br->id)
		br->id = "bcd";
	if (!strcmp(mode, "minimal"))
		br->mode = LB_SAFEBOOT_MINIMAL;
	else if (!strcmp(mode, "network"))
		br->mode = LB_SAFEBOOT_NETWORK;
	else if (!strcmp(mode, "dsrepair"))
		br->mode = LB_SAFEBOOT_DSREPAIR;
	else if (!strcmp(mode, "clear"))
		br->mode = LB_SAFEBOOT_NONE;
	else if (c->params || !strstr(mode, "${")) {
		lb_pb_push_key(c, "safeboot");
		return lb_pb_err(c, "must be \"minimal\", \"network\", \"dsrepair\" or \"clear\" "
		                 "(got \"%s\")", mode);
	}
	return 0;
}
