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
"usage: loopbreaker fleet [-o OUTDIR] [--title TEXT] [--expect FILE] [--clock-days N]\n"
"                         [--json] [--quiet] REPORT_DIR...\n"
"\n"
"Reads every loopbreaker report (*.json with schema loopbreaker-report/1) under\n"
"the REPORT_DIRs, recursively, one at a time, and keeps one row per machine\n"
"(hostname compared without case, plus the machine GUID when reports carry\n"
"one; else the BitLocker description's PC name, else the sensor agent ID).\n"
"The row shows the latest report, except that a clean run after a fixed one\n"
"confirms the fix (\"fixed (confirmed)\"); every report is in its history.\n"
"Other JSON files (batch summaries, evidence manifests) and hidden files are\n"
"skipped and counted.\n"
"\n"
"Writes OUTDIR/fleet.csv (one row per machine), OUTDIR/fleet-summary.json\n"
"(totals, BitLocker-locked, not reported, per-site progress, causes) and\n"
"OUTDIR/fleet.html, a self-contained dashboard.\n"
"\n"
"options:\n"
"  -o, --output OUTDIR   where to write (default: .); created if missing\n"
"  --title TEXT          dashboard title (default: loopbreaker fleet)\n"
"  --expect FILE         machines that should report: one hostname per line\n"
"                        (\"hostname,site\" gives its site), or a CSV export with\n"
"                        a hostname/name/device name column (and site); those\n"
"                        without a report are rows with status not_reported\n"
"  --inventory FILE      the same as --expect\n"
"  --clock-days N        report times more than N days from the median (or\n"
"                        before 2024-07-19) are left out of the timeline (30)\n"
"  --json                print the totals as JSON (schema loopbreaker-fleet/1)\n"
"  -q, --quiet           no progress or summary line on stderr\n"
"\n"
"exit status: 0 written, 2 usage error or unreadable REPORT_DIR/--expect, 3 I/O error.\n";

static void print_json(const struct lb_fleet_stats *st, const char *outdir)
{
	json_t *t = json_object(), *j;

	for (int s = 0; s < LB_FS_COUNT; s++)
		json_object_set_new(t, lb_fleet_status_name((enum lb_fleet_status)s),
		                    json_integer((json_int_t)st->status[s]));
	j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s}",
	              "schema", "loopbreaker-fleet/1", "files", (json_int_t)st->files,
	              "reports", (json_int_t)st->reports,
	              "not_reports", (json_int_t)st->not_reports,
	              "unreadable", (json_int_t)st->unreadable,
	              "superseded", (json_int_t)st->superseded,
	              "machines", (json_int_t)st->machines, "keys", (json_int_t)st->keys,
	              "totals", t, "output", outdir);
	if (j) {
		json_object_set_new(j, "confirmed", json_integer((json_int_t)st->confirmed));
		json_object_set_new(j, "bitlocker_locked", json_integer((json_int_t)st->locked));
		json_object_set_new(j, "not_reported",
		                    json_integer((json_int_t)st->status[LB_FS_NOT_REPORTED]));
		json_object_set_new(j, "expected", json_integer((json_int_t)st->expected));
		json_object_set_new(j, "unexpected", json_integer((json_int_t)st->unexpected));
		json_object_set_new(j, "clock_off", json_integer((json_int_t)st->clock_off));
		json_dumpf(j, stdout, JSON_INDENT(2));
	}
	putchar('\n');
	json_decref(j);
}

int cmd_fleet(int argc, char **argv)
{
	enum { O_TITLE = 256, O_JSON, O_EXPECT, O_CLOCK };
	static const struct option lopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "title", required_argument, NULL, O_TITLE },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "inventory", required_argument, NULL, O_EXPECT },
		{ "clock-days", required_argument, NULL, O_CLOCK },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lb_fleet_opts o = { .outdir = ".", .progress = stderr };
	struct lb_fleet_stats st;
	struct lb_err err;
	bool json = false;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.outdir = optarg; break;
		case O_TITLE: o.title = optarg; break;
		case O_EXPECT: o.expect = optarg; break;
		case O_CLOCK:
			o.clock_days = (int)strtol(optarg, &end, 10);
			if (*end || o.clock_days < 1 || o.clock_days > 3650) {
				fprintf(stderr, "loopbreaker fleet: --clock-days %s: want 1 to 3650\n",
				        optarg);
				return lb_exit_for(LB_EK_USAGE);
			}
			break;
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
		        "files skipped): %zu fixed (%zu confirmed), %zu needs attention (%zu "
		        "BitLocker-locked), %zu error, %zu clean, %zu not reported; %zu "
		        "protectors to rotate; wrote %s/fleet.csv, fleet-summary.json and "
		        "fleet.html\n",
		        st.machines, st.reports, st.superseded, st.not_reports + st.unreadable,
		        st.status[LB_FS_FIXED], st.confirmed, st.status[LB_FS_ATTENTION], st.locked,
		        st.status[LB_FS_ERROR], st.status[LB_FS_CLEAN],
		        st.status[LB_FS_NOT_REPORTED], st.keys, o.outdir);
	if (json)
		print_json(&st, o.outdir);
	return 0;
}
