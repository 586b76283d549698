/* cmd_fleet.c - `loopbreaker fleet`: one CSV row and one dashboard line per
 * machine from a tree of reports. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_fleet.h"

static const char fleet_help[] =
"usage: loopbreaker fleet [-o OUTDIR] [--title TEXT] [--json] [--quiet] REPORT_DIR...\n"
"\n"
"Reads every loopbreaker report (*.json with schema loopbreaker-report/1) under\n"
"the REPORT_DIRs, recursively, one at a time, and keeps one row per machine:\n"
"the report with the latest finished_at wins (hostname compared without case;\n"
"the sensor agent ID when a report has no hostname).  Other JSON files (batch\n"
"summaries, evidence manifests) and hidden files are skipped and counted.\n"
"\n"
"Writes OUTDIR/fleet.csv (hostname, agent_id, status, actions, keys_used,\n"
"finished_at, report, mode, reports, reason) and OUTDIR/fleet.html, a\n"
"self-contained dashboard: totals by status, timeline, sortable and filterable\n"
"table, BitLocker protectors to rotate (every protector any report used).\n"
"\n"
"options:\n"
"  -o, --output OUTDIR   where to write (default: .); created if missing\n"
"  --title TEXT          dashboard title (default: loopbreaker fleet)\n"
"  --json                print the totals as JSON (schema loopbreaker-fleet/1)\n"
"  -q, --quiet           no progress or summary line on stderr\n"
"\n"
"exit status: 0 written, 2 usage error or unreadable REPORT_DIR, 3 I/O error.\n";

int cmd_fleet(int argc, char **argv)
{
	enum { O_TITLE = 256, O_JSON };
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, O_TITLE },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lb_fleet_opts o = { .outdir = ".", .title = NULL, .progress = stderr };
	struct lb_fleet_stats st;
	struct lb_err err;
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.outdir = optarg; break;
		case O_TITLE: o.title = optarg; break;
		case O_JSON: json = true; break;
		case 'q': o.progress = NULL; break;
		case 'h': fputs(fleet_help, stdout); return 0;
		default: fputs(fleet_help, stderr); return lb_exit_for(LB_EK_USAGE);
		}
	}
	if (optind >= argc) {
		fputs(fleet_help, stderr);
		return lb_exit_for(LB_EK_USAGE);
	}
	lb_err_clear(&err);
	if (lb_fleet_run((const char *const *)argv + optind, (size_t)(argc - optind), &o, &st,
	                 &err)) {
		fprintf(stderr, "loopbreaker fleet: %s\n", err.msg);
		return lb_exit_for(err.kind);
	}
	if (o.progress)
		fprintf(stderr, "fleet: %zu machines from %zu reports (%zu superseded, %zu other "
		        "files skipped): %zu fixed, %zu needs attention, %zu error, %zu clean; "
		        "%zu protectors to rotate; wrote %s/fleet.csv and %s/fleet.html\n",
		        st.machines, st.reports, st.superseded, st.not_reports + st.unreadable,
		        st.status[LB_FS_FIXED], st.status[LB_FS_ATTENTION], st.status[LB_FS_ERROR],
		        st.status[LB_FS_CLEAN], st.keys, o.outdir, o.outdir);
	if (json) {
		json_t *t = json_object(), *j;

		for (int s = 0; s < LB_FS_COUNT; s++)
			json_object_set_new(t, lb_fleet_status_name((enum lb_fleet_status)s),
			                    json_integer((json_int_t)st.status[s]));
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}",
		              "schema", "loopbreaker-fleet/1", "files", (json_int_t)st.files,
		              "reports", (json_int_t)st.reports,
		              "not_reports", (json_int_t)st.not_reports,
		              "unreadable", (json_int_t)st.unreadable,
		              "superseded", (json_int_t)st.superseded,
		              "machines", (json_int_t)st.machines, "keys", (json_int_t)st.keys,
		              "totals", t, "output", o.outdir);
		if (j)
			json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	}
	return 0;
}
