/* fuzz_playbook.c - playbook files (JSON, docs/playbook-format.md) through
 * lb_playbook_parse, once as listed (no parameters: ${name} left in place)
 * and once with --param values; then what the engine does with a parsed
 * playbook: glob matching and classification of a file for every file
 * rule, and the report form of every registry rule's data. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lb_playbook.h"

static const struct lb_pb_param_value params[] = {
	{ "service", "CSAgent" },
	{ "mode", "minimal" },
	{ "dir", "System32\\drivers\\CrowdStrike" },
	{ "glob", "C-00000291*.sys" },
	{ "name", "${name}" }, /* a value that looks like a reference */
};

static void use(const struct lb_playbook *pb)
{
	static const uint8_t header[16] = { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x23, 0x01 };
	static const char sha[] = "0000000000000000000000000000000000000000000000000000000000000000";
	const char *kind;

	for (size_t i = 0; i < pb->nrules; i++) {
		const struct lb_file_rule *r = &pb->rules[i];

		if (r->glob)
			(void)lb_glob_match_ci(r->glob, "C-00000291-00000000-00000032.sys");
		kind = NULL;
		(void)lb_rule_classify_file(r, 1721364000, 4096, sha, header, sizeof(header), &kind);
		(void)lb_rule_classify(r, 1721364000, header, r->header_len < sizeof(header) ?
		                       r->header_len : sizeof(header), &kind);
	}
	for (size_t i = 0; i < pb->nreg; i++) {
		const struct lb_reg_rule *r = &pb->reg[i];
		json_t *j = lb_regval_to_json(true, r->type, r->data, r->len);
		char *s = j ? json_dumps(j, 0) : NULL;

		free(s);
		json_decref(j);
		if (r->has_equals) {
			j = lb_regval_to_json(true, r->eq_type, r->eq_data, r->eq_len);
			json_decref(j);
		}
		(void)lb_reg_type_name(r->type);
	}
	(void)lb_playbook_has_param(pb, "service");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_playbook *pb = NULL;
	struct lb_err err;
	char *text = malloc(size ? size : 1); /* exact size, not NUL-terminated */

	if (!text)
		return 0;
	memcpy(text, data, size);
	lb_err_clear(&err);
	if (lb_playbook_parse(text, size, "fuzz.json", NULL, 0, &pb, &err) == 0) {
		use(pb);
		lb_playbook_free(pb);
	}
	pb = NULL;
	if (lb_playbook_parse(text, size, "fuzz.json", params, sizeof(params) / sizeof(params[0]),
	                      &pb, &err) == 0) {
		use(pb);
		lb_playbook_free(pb);
	}
	free(text);
	return 0;
}
