/* cmd_undo.c - `loopbreaker undo BUNDLE [TARGET...]`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_report.h"
#include "lb_undo.h"

static const char undo_help[] =
"usage: loopbreaker undo [--report FILE] [--json] [--any-target] [BitLocker key options]\n"
"                        BUNDLE [TARGET...]\n"
"\n"
"Puts back everything a fix recorded in its evidence bundle: quarantined\n"
"files are moved back, deleted files recreated with their original times\n"
"(both with their 8.3 names), a cleared hibernation signature restored.\n"
"The targets are locked like fix locks them; one another program holds is\n"
"refused, naming it.  Each entry goes back only onto the\n"
"disk it was taken from: the TARGETs (default: the targets recorded in the\n"
"bundle) must match the identity fix recorded (the file or device, partition\n"
"offset, NTFS serial, volume and disk GUID or MBR signature); a TARGET that\n"
"does not is named and left alone.  An entry whose target changed since the\n"
"fix is refused; one already undone is reported and left as it is.\n"
"Volumes inside BitLocker are unlocked with the same key options as fix.\n"
"\n"
"options:\n"
"  --report FILE         write the JSON report to FILE (checked before anything runs)\n"
"  --json                print the JSON report on stdout instead of the summary\n"
"  --any-target          restore onto a copy of the disk: only the NTFS serial\n"
"                        of the volume has to match\n"
"\n"
"exit status: 0 all restored (or already restored), 1 something refused or a\n"
"TARGET that is not the bundle's disk, 2 bad bundle or usage, 3 I/O error.\n";

/* One line per entry, the run's reasons, the result. */
static void print_summary(json_t *report, int ex)
{
	long long done = json_integer_value(json_object_get(report, "already_restored"));
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(report, "undo"), i, e)
		printf("%-9s %s%s%s\n", json_string_value(json_object_get(e, "status")),
		       json_string_value(json_object_get(e, "path")),
		       json_object_get(e, "reason") ? ": " : "",
		       json_object_get(e, "reason") ?
		       json_string_value(json_object_get(e, "reason")) : "");
	json_array_foreach(json_object_get(report, "reasons"), i, e)
		printf("! %s\n", json_string_value(e));
	printf("RESULT: %s (%lld restored", json_string_value(json_object_get(report, "status")),
	       (long long)json_integer_value(json_object_get(report, "restored")));
	if (done)
		printf(", %lld already restored: nothing to do", done);
	printf(", exit %d)\n", ex);
}

int cmd_undo(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "any-target", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		CMD_KEYOPTS_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *report_path = NULL;
	bool json = false, any = false;
	json_t *report = NULL;
	struct lb_err err;
	struct cmd_keyopts keys;
	int c, ex;

	cmd_keyopts_init(&keys);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': report_path = optarg; break;
		case 'j': json = true; break;
		case 'a': any = true; break;
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
	lb_err_clear(&err);
	if (report_path && lb_report_check_writable(report_path, &err)) {
		fprintf(stderr, "loopbreaker: %s; nothing was done\n", err.msg);
		return LB_EXIT_INPUT;
	}
	if ((ex = cmd_keyopts_load(&keys)) != 0)
		return ex;
	ex = lb_undo_run(argv[optind], (const char *const *)argv + optind + 1,
	                 (size_t)(argc - optind - 1), &keys.unlock, any, &report);
	cmd_keyopts_free(&keys);
	/* no key digits in anything printed or written from here on */
	lb_report_redact(report);
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
		print_summary(report, ex);
	}
	json_decref(report);
	return ex;
}
