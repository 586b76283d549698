/* cmd_scanfix.c - `loopbreaker scan` and `loopbreaker fix`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include <sodium.h>
#include <unistd.h>

#include "lb_batch.h"
#include "lb_engine.h"
#include "lb_keys.h"
#include "lb_report.h"
#include "lb_upload.h"
#ifdef LB_TEST_HOOKS
#include "lb_io_fault.h"
#endif

static const char scan_help[] =
"usage: loopbreaker scan [--playbook NAME|FILE] [--param NAME=VALUE] [--report FILE] [--json]\n"
"                        [TARGET...]\n"
"\n"
"Finds every Windows installation on the targets and reports what the\n"
"playbook would change.  Opens everything read-only: never writes.\n";

static const char fix_help[] =
"usage: loopbreaker fix [--playbook NAME|FILE] [--param NAME=VALUE] [--report FILE]\n"
"                       [--evidence FILE] [--json]\n"
"                       [--force] [--delete] [--discard-hibernation]\n"
"                       [--replay-journal | --discard-journal] [--exclude DEV] [TARGET...]\n"
"\n"
"Applies the playbook.  First every target is scanned read-only; then the\n"
"evidence bundle (every file to be removed, with its times and SHA-256) is\n"
"written and synced; only then are the volumes changed.  Bad files are moved\n"
"to \\loopbreaker.quarantine\\<time>\\ on their own volume (no data copied).\n"
"Running fix again changes nothing.\n";

static const char common_help[] =
"\n"
"options:\n"
"  --playbook NAME|FILE  built-in playbook or playbook file to run (repeatable;\n"
"                        default crowdstrike-2024-07-19; docs/playbook-format.md)\n"
"  --param NAME=VALUE    value of a playbook parameter, used as ${NAME} (repeatable)\n"
"  --report FILE         write the JSON report to FILE\n"
"  --json                print the JSON report on stdout instead of the summary\n"
"  --exclude DEV         never touch this device (repeatable; with no TARGET)\n"
"  --jobs N              batch: repair the TARGETs N at a time, one process, report and\n"
"                        evidence bundle per disk in --report-dir; --report gets the summary\n"
"  --report-dir DIR      where batch reports go (default ./loopbreaker-reports)\n"
"  --upload URL          send the report (and the evidence bundle) to a collector by\n"
"                        HTTP PUT; {hostname} {time} {file} are filled in; a failed\n"
"                        upload never fails the run (see docs/fleet.md)\n"
"  --upload-token-file F bearer token for the upload (https only)\n"
"  --upload-ca-file F    CA bundle for the collector's certificate\n"
"  --upload-spool DIR    keep what could not be sent here (flush: loopbreaker upload)\n"
"  -h, --help            this text\n";

static const char fix_only_help[] =
"  --evidence FILE       evidence bundle (.tar.zst, .tar.xz, .tar.gz, .tar or .zip);\n"
"                        default ./loopbreaker-evidence-<UTC time>.tar.zst; must not exist\n"
"  --force               also act on files in the bad time window whose header is unknown\n"
"  --delete              delete bad files instead of moving them to quarantine\n"
"  --discard-hibernation write although Windows is hibernated (Fast Startup): the\n"
"                        hibernated session is discarded (hiberfil.sys signature cleared)\n"
"  --replay-journal      when the NTFS journal holds unapplied changes, apply them first\n"
"                        with ntfsrecover (as Windows would at boot), then fix\n"
"  --discard-journal     write although the NTFS journal holds unapplied changes: the\n"
"                        journal is reset and those changes are lost\n"
#ifdef LB_TEST_HOOKS
"  --fault-inject cut:N|eio:N\n"
"                        (loopbreaker-test only) drop every write after the N-th\n"
"                        (power cut), or fail the N-th write with EIO\n"
#endif
;

static const char exit_help[] =
"\n"
"exit status: 0 healthy or fully fixed, 1 needs attention, 2 usage error or\n"
"unreadable input, 3 internal or I/O error.  The report (docs/report-format.md)\n"
"has the overall status (fixed, clean, needs_attention, error) and, per volume,\n"
"the Windows installs (hostname, product, build) and each finding.\n";

static void help(bool fix)
{
	fputs(fix ? fix_help : scan_help, stdout);
	fputs(common_help, stdout);
	fputs(cmd_keyopts_help, stdout);
	if (fix)
		fputs(fix_only_help, stdout);
	fputs(exit_help, stdout);
}

enum { O_PLAYBOOK = 256, O_REPORT, O_JSON, O_EVIDENCE, O_FORCE, O_DELETE, O_DHIBER, O_DJOURNAL,
       O_RJOURNAL, O_EXCLUDE, O_FAULT,
       O_JOBS, O_REPORTDIR, O_PARAM, O_UPLOAD, O_UPTOKEN, O_UPCA, O_UPSPOOL };

static int run(int argc, char **argv, bool fix)
{
	static const struct option lopts[] = {
		{ "playbook", required_argument, NULL, O_PLAYBOOK },
		{ "report", required_argument, NULL, O_REPORT },
		{ "json", no_argument, NULL, O_JSON },
		{ "evidence", required_argument, NULL, O_EVIDENCE },
		{ "force", no_argument, NULL, O_FORCE },
		{ "delete", no_argument, NULL, O_DELETE },
		{ "discard-hibernation", no_argument, NULL, O_DHIBER },
		{ "discard-journal", no_argument, NULL, O_DJOURNAL },
		{ "replay-journal", no_argument, NULL, O_RJOURNAL },
		{ "exclude", required_argument, NULL, O_EXCLUDE },
#ifdef LB_TEST_HOOKS
		{ "fault-inject", required_argument, NULL, O_FAULT },
#endif
		CMD_KEYOPTS_LONGOPTS,
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "report-dir", required_argument, NULL, O_REPORTDIR },
		{ "upload", required_argument, NULL, O_UPLOAD },
		{ "upload-token-file", required_argument, NULL, O_UPTOKEN },
		{ "upload-ca-file", required_argument, NULL, O_UPCA },
		{ "upload-spool", required_argument, NULL, O_UPSPOOL },
		{ "param", required_argument, NULL, O_PARAM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct lb_playbook *pbs[16];
	struct lb_playbook *loaded[16];
	const char *pbnames[16];
	struct lb_pb_param_value pvals[32];
	char pbuf[32][256];
	size_t npvals = 0;
	const char *excl[64];
	size_t npbs = 0, nexcl = 0;
	struct lb_options o;
#ifdef LB_TEST_HOOKS
	struct lb_fault fault;
#endif
	struct cmd_keyopts keys;
	int jobs = 0;
	const char *report_dir = "loopbreaker-reports";
	const char *upload_url = NULL;
	struct lb_upload_opts upopts;
	char tmp_report[256] = "";
	const char *report_path = NULL;
	bool json = false;
	char **discovered = NULL;
	const char *const *targets;
	size_t ntargets;
	json_t *report = NULL;
	struct lb_err err;
	int c, ex;

	memset(&o, 0, sizeof(o));
	cmd_keyopts_init(&keys);
	memset(&upopts, 0, sizeof(upopts));
	o.fix = fix;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (!fix && (c == O_EVIDENCE || c == O_FORCE || c == O_DELETE || c == O_DHIBER ||
		             c == O_DJOURNAL || c == O_RJOURNAL)) {
			fprintf(stderr, "loopbreaker scan: %s is a fix option (scan never writes)\n",
			        argv[optind - 1]);
			return LB_EXIT_INPUT;
		}
		switch (c) {
		case O_PLAYBOOK:
			if (npbs == sizeof(pbs) / sizeof(pbs[0])) {
				fprintf(stderr, "loopbreaker: too many --playbook options\n");
				return LB_EXIT_INPUT;
			}
			pbnames[npbs++] = optarg; /* loaded once all --param are known */
			break;
		case O_PARAM: {
			const char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(pbuf[0]) ||
			    npvals == sizeof(pvals) / sizeof(pvals[0])) {
				fprintf(stderr, "loopbreaker: --param takes NAME=VALUE\n");
				return LB_EXIT_INPUT;
			}
			snprintf(pbuf[npvals], sizeof(pbuf[0]), "%.*s", (int)(eq - optarg), optarg);
			pvals[npvals].name = pbuf[npvals];
			pvals[npvals].value = eq + 1;
			npvals++;
			break;
		}
		case O_REPORT: report_path = optarg; break;
		case O_JSON: json = true; break;
		case O_EVIDENCE: o.evidence_path = optarg; break;
		case O_FORCE: o.force = true; break;
		case O_DELETE: o.delete_files = true; break;
		case O_DHIBER: o.discard_hibernation = true; break;
		case O_DJOURNAL: o.discard_journal = true; break;
		case O_RJOURNAL: o.replay_journal = true; break;
		case O_EXCLUDE:
			if (nexcl < sizeof(excl) / sizeof(excl[0]))
				excl[nexcl++] = optarg;
			break;
#ifdef LB_TEST_HOOKS
		case O_FAULT:
			if (lb_fault_parse(optarg, &fault)) {
				fprintf(stderr, "loopbreaker: --fault-inject takes cut:N or eio:N\n");
				return LB_EXIT_INPUT;
			}
			o.wrap_io = lb_io_fault_wrap;
			o.wrap_ctx = &fault;
			break;
#endif
		case O_JOBS:
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > 256) {
				fprintf(stderr, "loopbreaker: --jobs takes a number from 1 to 256\n");
				return LB_EXIT_INPUT;
			}
			break;
		case O_REPORTDIR: report_dir = optarg; break;
		case O_UPLOAD: upload_url = optarg; break;
		case O_UPTOKEN: upopts.token_file = optarg; break;
		case O_UPCA: upopts.ca_file = optarg; break;
		case O_UPSPOOL: upopts.spool_dir = optarg; break;
		case 'h': help(fix); return 0;
		default:
			if (cmd_keyopts_option(&keys, c, optarg))
				break;
			fprintf(stderr, "try 'loopbreaker %s --help'\n", fix ? "fix" : "scan");
			return LB_EXIT_INPUT;
		}
	}
	if (o.replay_journal && o.discard_journal) {
		fprintf(stderr, "loopbreaker fix: --replay-journal and --discard-journal exclude each "
		        "other\n");
		return LB_EXIT_INPUT;
	}
	if (npbs == 0)
		pbnames[npbs++] = "crowdstrike-2024-07-19";
	/* Playbooks: built-in names or files, parameters substituted.  A bad
	 * playbook or parameter stops everything before any target is opened. */
	for (size_t i = 0; i < npbs; i++) {
		lb_err_clear(&err);
		if (lb_playbook_load(pbnames[i], pvals, npvals, &loaded[i], &err)) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			for (size_t k = 0; k < i; k++)
				lb_playbook_free(loaded[k]);
			return LB_EXIT_INPUT;
		}
		pbs[i] = loaded[i];
	}
	for (size_t k = 0; k < npvals; k++) {
		bool used = false;

		for (size_t i = 0; i < npbs && !used; i++)
			used = lb_playbook_has_param(loaded[i], pvals[k].name);
		if (!used) {
			fprintf(stderr, "loopbreaker: --param %s: no selected playbook has this "
			        "parameter\n", pvals[k].name);
			for (size_t i = 0; i < npbs; i++)
				lb_playbook_free(loaded[i]);
			return LB_EXIT_INPUT;
		}
	}
	o.playbooks = pbs;
	o.nplaybooks = npbs;
	o.exclude = excl;
	o.nexclude = nexcl;
	if (optind < argc) {
		targets = (const char *const *)argv + optind;
		ntargets = (size_t)(argc - optind);
	} else {
		discovered = lb_engine_discover(excl, nexcl);
		targets = (const char *const *)discovered;
		for (ntargets = 0; discovered && discovered[ntargets]; ntargets++)
			;
		if (ntargets == 0)
			fprintf(stderr, "loopbreaker: no local disks found\n");
	}
	if ((ex = cmd_keyopts_load(&keys)) != 0) {
		for (size_t k = 0; k < npbs; k++)
			lb_playbook_free(loaded[k]);
		return ex;
	}
	o.unlock = &keys.unlock;
	if (jobs && o.evidence_path) {
		fprintf(stderr, "loopbreaker: with --jobs each disk's bundle goes to --report-dir; "
		        "--evidence is not used\n");
		o.evidence_path = NULL;
	}
	if (jobs)
		ex = lb_batch_run(&o, targets, ntargets, jobs, report_dir, &report);
	else
		ex = lb_engine_run(&o, targets, ntargets, &report);
	cmd_keyopts_free(&keys);
	if (report_path) {
		lb_err_clear(&err);
		if (lb_report_write(report, report_path, &err)) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			if (ex < LB_EXIT_INTERNAL)
				ex = LB_EXIT_INTERNAL;
		}
	}
	if (upload_url && !jobs) {
		const char *rp = report_path;
		json_t *ev = json_object_get(report, "evidence");

		if (!rp) {
			const char *td = getenv("TMPDIR");
			int fd;

			snprintf(tmp_report, sizeof(tmp_report), "%s/loopbreaker-report-XXXXXX.json",
			         td && *td ? td : "/tmp");
			fd = mkstemps(tmp_report, 5);
			if (fd >= 0) {
				close(fd);
				lb_err_clear(&err);
				if (lb_report_write(report, tmp_report, &err) == 0)
					rp = tmp_report;
			}
		}
		if (rp)
			lb_upload_after_fix(upload_url, rp, json_string_value(json_object_get(ev, "path")),
			                    &upopts, stderr);
		else
			fprintf(stderr, "loopbreaker: warning: report not uploaded (no temporary file)\n");
		if (tmp_report[0])
			unlink(tmp_report);
	}
	if (json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else if (jobs) {
		json_t *d;
		size_t i;

		json_array_foreach(json_object_get(report, "disks"), i, d)
			printf("%-16s %s %s\n", json_string_value(json_object_get(d, "status")),
			       json_string_value(json_object_get(d, "path")),
			       json_string_value(json_object_get(d, "hostname")) ?
			       json_string_value(json_object_get(d, "hostname")) : "");
		d = json_object_get(report, "totals");
		printf("RESULT: %s (%lld fixed, %lld clean, %lld need attention, %lld errors; reports "
		       "in %s)\n", json_string_value(json_object_get(report, "status")),
		       (long long)json_integer_value(json_object_get(d, "fixed")),
		       (long long)json_integer_value(json_object_get(d, "clean")),
		       (long long)json_integer_value(json_object_get(d, "needs_attention")),
		       (long long)json_integer_value(json_object_get(d, "error")), report_dir);
	} else {
		lb_report_summary(report, stdout);
	}
	json_decref(report);
	for (size_t i = 0; i < npbs; i++)
		lb_playbook_free(loaded[i]);
	if (discovered) {
		for (size_t i = 0; discovered[i]; i++)
			free(discovered[i]);
		free(discovered);
	}
	return ex;
}

int cmd_scan(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_fix(int argc, char **argv)
{
	return run(argc, argv, true);
}
