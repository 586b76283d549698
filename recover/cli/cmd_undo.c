/* cmd_undo.c - `loopbreaker undo BUNDLE [TARGET...]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_report.h"
#include "lb_undo.h"

static const char undo_help[] =
"usage: loopbreaker undo [--report FILE] [--json] [BitLocker key options] BUNDLE [TARGET...]\n"
"\n"
"Puts back everything a fix recorded in its evidence bundle: quarantined\n"
"files are moved back, deleted files recreated with their original times, a\n"
"cleared hibernation signature restored.  Volumes are found by NTFS serial\n"
"number on the TARGETs (default: the targets recorded in the bundle).  An\n"
"entry whose target changed since the fix is refused and reported.\n"
"Volumes inside BitLocker are unlocked with the same key options as fix.\n"
"\n"
"exit status: 0 all restored, 1 something refused, 2 bad bundle or usage,\n"
"3 I/O error.\n";

int cmd_undo(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		CMD_KEYOPTS_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *report_path = NULL;
	bool json = false;
	json_t *report = NULL, *e;
	struct lb_err err;
	struct cmd_keyopts keys;
	size_t i;
	int c, ex;

	cmd_keyopts_init(&keys);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': report_path = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(undo_help, stdout); fputs(cmd_keyopts_help, stdout); return 0;
		default:
			if (cmd_keyopts_option(&keys, c, optarg))
				break;
			fputs(undo_help, stderr);
			return LB_EXIT_INPUT;
		}
	}
	if (optind >= argc) {
		fputs(undo_help, stderr);
		return LB_EXIT_INPUT;
	}
	if ((ex = cmd_keyopts_load(&keys)) != 0)
		return ex;
	ex = lb_undo_run(argv[optind], (const char *const *)argv + optind + 1,
	                 (size_t)(argc - optind - 1), &keys.unlock, &report);
	cmd_keyopts_free(&keys);
	if (report_path) {
		lb_err_clear(&err);
		if (lb_report_write(report, report_path, &err)) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			if (ex < LB_EXIT_INTERNAL)
				ex = LB_EXIT_INTERNAL;
		}
	}
	if (json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		json_array_foreach(json_object_get(report, "undo"), i, e)
			printf("%-9s %s%s%s\n", json_string_value(json_object_get(e, "status")),
			       json_string_value(json_object_get(e, "path")),
			       json_object_get(e, "reason") ? ": " : "",
			       json_object_get(e, "reason") ?
			       json_string_value(json_object_get(e, "reason")) : "");
		{
			json_t *reasons = json_object_get(report, "reasons");

			json_array_foreach(reasons, i, e)
				printf("! %s\n", json_string_value(e));
		}
		printf("RESULT: %s (%lld restored, exit %d)\n",
		       json_string_value(json_object_get(report, "status")),
		       (long long)json_integer_value(json_object_get(report, "restored")), ex);
	}
	json_decref(report);
	return ex;
}
