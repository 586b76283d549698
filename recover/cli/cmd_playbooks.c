/* cmd_playbooks.c - `loopbreaker playbooks [--playbook NAME|FILE]... [--json]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_playbook.h"

static const char help_text[] =
"usage: loopbreaker playbooks [--playbook NAME|FILE]... [--json]\n"
"       loopbreaker playbooks --show NAME\n"
"\n"
"Lists the built-in playbooks and any playbook file given with --playbook\n"
"(which is checked: a bad file is reported with file:line:column, exit 2).\n"
"Format: docs/playbook-format.md.\n"
"\n"
"options:\n"
"  --playbook NAME|FILE  also list (and check) this playbook (repeatable)\n"
"  --json                the list as JSON\n"
"  --show NAME           print a built-in playbook's source\n"
"  -h, --help            this text\n";

static json_t *pb_json(const struct lb_playbook *pb)
{
	json_t *j = json_object(), *ps = json_array();

	json_object_set_new(j, "name", json_string(pb->name));
	json_object_set_new(j, "origin", json_string(pb->origin));
	json_object_set_new(j, "description", json_string(pb->description));
	for (size_t i = 0; i < pb->nparams; i++)
		json_array_append_new(ps, json_pack("{s:s, s:b, s:o}", "name", pb->params[i].name,
		                      "required", pb->params[i].required, "default",
		                      pb->params[i].def ? json_string(pb->params[i].def) : json_null()));
	json_object_set_new(j, "params", ps);
	json_object_set_new(j, "file_rules", json_integer((json_int_t)pb->nrules));
	json_object_set_new(j, "registry_rules", json_integer((json_int_t)pb->nreg));
	json_object_set_new(j, "bcd_rule", json_boolean(pb->bcd != NULL));
	return j;
}

static void print_pb(const struct lb_playbook *pb)
{
	printf("%-24s %-9s %s\n", pb->name, !strcmp(pb->origin, "built-in") ? "built-in" : "file",
	       pb->description);
	if (strcmp(pb->origin, "built-in"))
		printf("%-24s           file: %s\n", "", pb->origin);
	for (size_t i = 0; i < pb->nparams; i++)
		printf("%-24s           --param %s=VALUE%s%s%s  %s\n", "", pb->params[i].name,
		       pb->params[i].required ? " (required)" : "",
		       pb->params[i].def ? " default " : "", pb->params[i].def ? pb->params[i].def : "",
		       pb->params[i].description);
}

int cmd_playbooks(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "playbook", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "show", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct lb_playbook *const *b = lb_playbook_builtins();
	struct lb_playbook *given[32];
	size_t ngiven = 0;
	bool json = false;
	int c, ex = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'p': {
			struct lb_err err;

			if (ngiven == sizeof(given) / sizeof(given[0]))
				break;
			lb_err_clear(&err);
			/* listing: parameters stay as ${name} */
			if (lb_playbook_builtin_text(optarg, NULL))
				break;
			if (lb_playbook_load(optarg, NULL, 0, &given[ngiven], &err)) {
				fprintf(stderr, "loopbreaker: %s\n", err.msg);
				ex = LB_EXIT_INPUT;
				break;
			}
			ngiven++;
			break;
		}
		case 'j': json = true; break;
		case 's': {
			size_t len;
			const char *t = lb_playbook_builtin_text(optarg, &len);

			if (!t) {
				fprintf(stderr, "loopbreaker: no built-in playbook '%s'\n", optarg);
				return LB_EXIT_INPUT;
			}
			fwrite(t, 1, len, stdout);
			return 0;
		}
		case 'h': fputs(help_text, stdout); return 0;
		default: fputs(help_text, stderr); return LB_EXIT_INPUT;
		}
	}
	if (ex == 0) {
		if (json) {
			json_t *a = json_array();

			for (size_t i = 0; b && b[i]; i++)
				json_array_append_new(a, pb_json(b[i]));
			for (size_t i = 0; i < ngiven; i++)
				json_array_append_new(a, pb_json(given[i]));
			json_dumpf(a, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(a);
		} else {
			for (size_t i = 0; b && b[i]; i++)
				print_pb(b[i]);
			for (size_t i = 0; i < ngiven; i++)
				print_pb(given[i]);
		}
	}
	for (size_t i = 0; i < ngiven; i++)
		lb_playbook_free(given[i]);
	return ex;
}
