/* cmd_scanfix.c - `loopbreaker scan` and `loopbreaker fix`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include <signal.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "lb_batch.h"
#include "lb_engine.h"
#include "lb_evidence.h"
#include "lb_keys.h"
#include "lb_report.h"
#include "lb_upload.h"
#ifdef LB_TEST_HOOKS
#include "lb_io_fault.h"
#endif

static const char scan_help[] =
"usage: loopbreaker scan [--playbook NAME|FILE] [--param NAME=VALUE] [--report FILE] [--json]\n"
"                        [--domain NAME [--libvirt URI]] [TARGET...]\n"
"\n"
"Finds every Windows installation on the targets and reports what the\n"
"playbook would change.  Opens everything read-only: never writes.\n";

static const char fix_help[] =
"usage: loopbreaker fix [--playbook NAME|FILE] [--param NAME=VALUE] [--report FILE]\n"
"                       [--evidence FILE] [--json]\n"
"                       [--force] [--delete] [--discard-hibernation]\n"
"                       [--replay-journal | --discard-journal] [--exclude DEV]\n"
"                       [--domain NAME [--libvirt URI]] [TARGET...]\n"
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
"  --report FILE         write the JSON report to FILE (several machines: the run\n"
"                        summary, and each machine's report as FILE.N-HOST.json)\n"
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
"  --evidence FILE       evidence bundle; its suffix picks the format: .tar.zst, .tar.xz,\n"
"                        .tar.gz, .tgz, .tar or .zip (any other name: exit 2); default\n"
"                        ./loopbreaker-evidence-<UTC time>.tar.zst; must not exist\n"
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
"unreadable input (also a --report FILE that cannot be written: checked\n"
"first), 3 internal or I/O error, or fix interrupted by SIGINT/SIGTERM (the\n"
"change in progress is finished, no other started).  The report\n"
"(docs/report-format.md) has the overall status (fixed, clean,\n"
"needs_attention, error, interrupted) and, per volume, the Windows installs\n"
"(hostname, product, build) and each finding.\n";

static void help(bool fix)
{
	fputs(fix ? fix_help : scan_help, stdout);
	fputs(common_help, stdout);
	fputs(cmd_domain_help, stdout);
	fputs(cmd_keyopts_help, stdout);
	if (fix)
		fputs(fix_only_help, stdout);
	fputs(exit_help, stdout);
}

enum { O_PLAYBOOK = 256, O_REPORT, O_JSON, O_EVIDENCE, O_FORCE, O_DELETE, O_DHIBER, O_DJOURNAL,
       O_RJOURNAL, O_EXCLUDE, O_FAULT,
       O_JOBS, O_REPORTDIR, O_PARAM, O_UPLOAD, O_UPTOKEN, O_UPCA, O_UPSPOOL };

/* Everything the command line says, before anything is opened. */
struct scanfix {
	bool fix, json;
	const char *pbnames[16];
	size_t npbs;
	struct lb_pb_param_value pvals[32];
	char pbuf[32][256];
	size_t npvals;
	const char *excl[64];
	size_t nexcl;
	struct lb_options o;
#ifdef LB_TEST_HOOKS
	struct lb_fault fault;
#endif
	struct cmd_keyopts keys;
	struct cmd_domains doms;
	int jobs;
	const char *report_dir, *report_path, *upload_url;
	struct lb_upload_opts upopts;
	const struct lb_playbook *pbs[16];
	struct lb_playbook *loaded[16];
};

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
	CMD_DOMAIN_LONGOPTS,
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

/* One option into sf: 0, or -1 after saying why (a usage error). */
static int take_option(struct scanfix *sf, int c, const char *opt, const char *arg)
{
	const char *eq;

	if (!sf->fix && (c == O_EVIDENCE || c == O_FORCE || c == O_DELETE || c == O_DHIBER ||
	                 c == O_DJOURNAL || c == O_RJOURNAL)) {
		fprintf(stderr, "loopbreaker scan: %s is a fix option (scan never writes)\n", opt);
		return -1;
	}
	switch (c) {
	case O_PLAYBOOK:
		if (sf->npbs == sizeof(sf->pbnames) / sizeof(sf->pbnames[0])) {
			fprintf(stderr, "loopbreaker: too many --playbook options\n");
			return -1;
		}
		sf->pbnames[sf->npbs++] = arg; /* loaded once all --param are known */
		return 0;
	case O_PARAM:
		eq = strchr(arg, '=');
		if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(sf->pbuf[0]) ||
		    sf->npvals == sizeof(sf->pvals) / sizeof(sf->pvals[0])) {
			fprintf(stderr, "loopbreaker: --param takes NAME=VALUE\n");
			return -1;
		}
		snprintf(sf->pbuf[sf->npvals], sizeof(sf->pbuf[0]), "%.*s", (int)(eq - arg), arg);
		sf->pvals[sf->npvals].name = sf->pbuf[sf->npvals];
		sf->pvals[sf->npvals].value = eq + 1;
		sf->npvals++;
		return 0;
	case O_REPORT: sf->report_path = arg; return 0;
	case O_JSON: sf->json = true; return 0;
	case O_EVIDENCE:
		/* the suffix chooses the format: any other is refused before
		 * anything is read or written (never a tar.zst under a .rar name) */
		if (!lb_evidence_suffix_ok(arg)) {
			fprintf(stderr, "loopbreaker fix: --evidence %s: unknown bundle type; the name "
			        "must end in %s\n", arg, lb_evidence_suffixes);
			return -1;
		}
		sf->o.evidence_path = arg;
		return 0;
	case O_FORCE: sf->o.force = true; return 0;
	case O_DELETE: sf->o.delete_files = true; return 0;
	case O_DHIBER: sf->o.discard_hibernation = true; return 0;
	case O_DJOURNAL: sf->o.discard_journal = true; return 0;
	case O_RJOURNAL: sf->o.replay_journal = true; return 0;
	case O_EXCLUDE:
		if (sf->nexcl < sizeof(sf->excl) / sizeof(sf->excl[0]))
			sf->excl[sf->nexcl++] = arg;
		return 0;
#ifdef LB_TEST_HOOKS
	case O_FAULT:
		if (lb_fault_parse(arg, &sf->fault)) {
			fprintf(stderr, "loopbreaker: --fault-inject takes cut:N or eio:N\n");
			return -1;
		}
		sf->o.wrap_io = lb_io_fault_wrap;
		sf->o.wrap_ctx = &sf->fault;
		return 0;
#endif
	case O_JOBS:
		sf->jobs = atoi(arg);
		if (sf->jobs < 1 || sf->jobs > 256) {
			fprintf(stderr, "loopbreaker: --jobs takes a number from 1 to 256\n");
			return -1;
		}
		return 0;
	case O_REPORTDIR: sf->report_dir = arg; return 0;
	case O_UPLOAD: sf->upload_url = arg; return 0;
	case O_UPTOKEN: sf->upopts.token_file = arg; return 0;
	case O_UPCA: sf->upopts.ca_file = arg; return 0;
	case O_UPSPOOL: sf->upopts.spool_dir = arg; return 0;
	default:
		if (cmd_keyopts_option(&sf->keys, c, arg) || cmd_domains_option(&sf->doms, c, arg))
			return 0;
		fprintf(stderr, "try 'loopbreaker %s --help'\n", sf->fix ? "fix" : "scan");
		return -1;
	}
}

/* Playbooks: built-in names or files, parameters substituted.  A bad
 * playbook or parameter stops everything before any target is opened.
 * 0, or the exit status after saying why (nothing left loaded). */
static int load_playbooks(struct scanfix *sf)
{
	struct lb_err err;

	if (sf->npbs == 0)
		sf->pbnames[sf->npbs++] = "crowdstrike-2024-07-19";
	for (size_t i = 0; i < sf->npbs; i++) {
		lb_err_clear(&err);
		if (lb_playbook_load(sf->pbnames[i], sf->pvals, sf->npvals, &sf->loaded[i], &err)) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			for (size_t k = 0; k < i; k++)
				lb_playbook_free(sf->loaded[k]);
			sf->npbs = 0;
			return lb_exit_for(err.kind);
		}
		sf->pbs[i] = sf->loaded[i];
	}
	for (size_t k = 0; k < sf->npvals; k++) {
		bool used = false;

		for (size_t i = 0; i < sf->npbs && !used; i++)
			used = lb_playbook_has_param(sf->loaded[i], sf->pvals[k].name);
		if (!used) {
			fprintf(stderr, "loopbreaker: --param %s: no selected playbook has this "
			        "parameter\n", sf->pvals[k].name);
			for (size_t i = 0; i < sf->npbs; i++)
				lb_playbook_free(sf->loaded[i]);
			sf->npbs = 0;
			return LB_EXIT_INPUT;
		}
	}
	return 0;
}

/* fix: SIGINT and SIGTERM ask the engine to stop after the change in
 * progress (lb_options.stop); the report says "interrupted". */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void catch_stop(bool on, struct sigaction old[2])
{
	struct sigaction sa;

	if (!on) {
		sigaction(SIGINT, &old[0], NULL);
		sigaction(SIGTERM, &old[1], NULL);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, &old[0]);
	sigaction(SIGTERM, &sa, &old[1]);
	if (old[0].sa_handler == SIG_IGN) /* started in the background: keep ignoring */
		sigaction(SIGINT, &old[0], NULL);
}

#ifdef LB_TEST_HOOKS
/* loopbreaker-test only: LB_TEST_PAUSE_AT=POINT (lb_options.at_point)
 * makes fix stop there, say so on stderr, create the file
 * LB_TEST_PAUSE_FILE if set, and wait (up to 60 s) for SIGINT/SIGTERM, so
 * that a test can interrupt it at a known place. */
static void pause_at(const char *point, void *ctx)
{
	const char *want = getenv("LB_TEST_PAUSE_AT"), *file = getenv("LB_TEST_PAUSE_FILE");
	const struct timespec tick = { 0, 50 * 1000 * 1000 };
	FILE *f;

	(void)ctx;
	if (!want || strcmp(want, point))
		return;
	fprintf(stderr, "loopbreaker-test: paused at %s\n", point);
	if (file && (f = fopen(file, "w")))
		fclose(f);
	for (int i = 0; i < 1200 && !stop_signal; i++)
		nanosleep(&tick, NULL);
}
#endif

/* Upload one report (written at rp, or to a temporary file when rp is
 * NULL) with the evidence bundle ev (NULL: none). */
static void upload_one(const struct scanfix *sf, json_t *report, const char *rp, const char *ev)
{
	char tmp_report[256] = "";
	struct lb_err err;

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
		} else {
			tmp_report[0] = '\0';
		}
	}
	if (rp)
		lb_upload_after_fix(sf->upload_url, rp, ev, &sf->upopts, stderr);
	else
		fprintf(stderr, "loopbreaker: warning: report not uploaded (no temporary file)\n");
	if (tmp_report[0])
		unlink(tmp_report);
}

/* Upload the run's reports (batch mode uploads per disk): one per machine,
 * the evidence bundle once, with the first. */
static void upload_report(const struct scanfix *sf, json_t *report, json_t *machines)
{
	const char *ev = json_string_value(json_object_get(json_object_get(report, "evidence"),
	                                                   "path"));
	const char *rp = sf->report_path, *slash = rp ? strrchr(rp, '/') : NULL;
	json_t *m;
	size_t i;

	if (json_array_size(machines) <= 1) {
		upload_one(sf, report, rp, ev);
		return;
	}
	json_array_foreach(machines, i, m) {
		const char *base = json_string_value(json_object_get(json_object_get(m, "machine"),
		                                                     "report"));
		char p[4096];

		if (rp && base)
			snprintf(p, sizeof(p), "%.*s%s", slash ? (int)(slash - rp + 1) : 0, rp, base);
		upload_one(sf, m, rp && base ? p : NULL, i == 0 ? ev : NULL);
	}
}

static void print_batch_summary(json_t *report, const char *report_dir)
{
	json_t *d;
	size_t i;

	json_array_foreach(json_object_get(report, "disks"), i, d) {
		printf("%-16s %s %s\n", json_string_value(json_object_get(d, "status")),
		       json_string_value(json_object_get(d, "path")),
		       json_string_value(json_object_get(d, "hostname")) ?
		       json_string_value(json_object_get(d, "hostname")) : "");
		if (json_string_value(json_object_get(d, "reason")))
			printf("    ! %s\n", json_string_value(json_object_get(d, "reason")));
	}
	d = json_object_get(report, "totals");
	printf("RESULT: %s (%lld fixed, %lld clean, %lld need attention, %lld errors; reports "
	       "in %s)\n", json_string_value(json_object_get(report, "status")),
	       (long long)json_integer_value(json_object_get(d, "fixed")),
	       (long long)json_integer_value(json_object_get(d, "clean")),
	       (long long)json_integer_value(json_object_get(d, "needs_attention")),
	       (long long)json_integer_value(json_object_get(d, "error")), report_dir);
}

/* Targets from the command line and the --domain disks, else every local
 * disk (*discovered is then the malloc'd list to free).  NULL after
 * saying why (*ex: the exit status) when a domain cannot be used. */
static const char *const *targets_of(struct scanfix *sf, int argc, char **argv, size_t *n,
                                     char ***discovered, int *ex)
{
	*discovered = NULL;
	if (optind < argc || sf->doms.nnames || sf->doms.uri) {
		*ex = cmd_domains_resolve(&sf->doms, (const char *const *)argv + optind,
		                          (size_t)(argc - optind));
		if (*ex)
			return NULL;
		sf->o.origins = sf->doms.origins;
		sf->o.norigins = sf->doms.norigins;
		*n = sf->doms.ntargets;
		return sf->doms.targets;
	}
	*discovered = lb_engine_discover(sf->excl, sf->nexcl);
	for (*n = 0; *discovered && (*discovered)[*n]; (*n)++)
		;
	if (*n == 0)
		fprintf(stderr, "loopbreaker: no local disks found\n");
	return (const char *const *)*discovered;
}

/* docs/usage.md: a report that cannot be written is at least 3 */
static int report_failed(int ex, const struct lb_err *err)
{
	fprintf(stderr, "loopbreaker: %s\n", err->msg);
	return lb_exit_worse(ex, LB_EXIT_INTERNAL);
}

static int run_parsed(struct scanfix *sf, int argc, char **argv)
{
	char **discovered = NULL;
	const char *const *targets;
	size_t ntargets;
	json_t *report = NULL, *machines = NULL;
	struct lb_err err;
	struct sigaction old[2];
	int ex;

	lb_err_clear(&err);
	if (sf->report_path && lb_report_check_writable(sf->report_path, &err)) {
		fprintf(stderr, "loopbreaker: %s; nothing was done\n", err.msg);
		return LB_EXIT_INPUT;
	}
	if ((ex = load_playbooks(sf)) != 0)
		return ex;
	sf->o.playbooks = sf->pbs;
	sf->o.nplaybooks = sf->npbs;
	sf->o.exclude = sf->excl;
	sf->o.nexclude = sf->nexcl;
	targets = targets_of(sf, argc, argv, &ntargets, &discovered, &ex);
	if (!targets || (ex = cmd_keyopts_load(&sf->keys)) != 0)
		goto out;
	sf->o.unlock = &sf->keys.unlock;
	if (sf->jobs && sf->o.evidence_path) {
		fprintf(stderr, "loopbreaker: with --jobs each disk's bundle goes to --report-dir; "
		        "--evidence is not used\n");
		sf->o.evidence_path = NULL;
	}
	if (sf->fix) {
		sf->o.stop = &stop_signal;
#ifdef LB_TEST_HOOKS
		sf->o.at_point = pause_at;
#endif
		catch_stop(true, old);
	}
	if (sf->jobs)
		ex = lb_batch_run(&sf->o, targets, ntargets, sf->jobs, sf->report_dir, &report);
	else
		ex = lb_engine_run(&sf->o, targets, ntargets, &report);
	cmd_keyopts_free(&sf->keys);
	/* no key digits in anything printed, written or sent from here on */
	lb_report_redact(report);
	cmd_domains_report(&sf->doms, report);
	lb_err_clear(&err);
	if (sf->jobs) {
		if (sf->report_path && lb_report_write(report, sf->report_path, &err))
			ex = report_failed(ex, &err);
	} else if (lb_report_write_run(report, sf->report_path, &machines, &err)) {
		ex = report_failed(ex, &err);
	}
	if (sf->upload_url && !sf->jobs)
		upload_report(sf, report, machines);
	json_decref(machines);
	if (sf->json) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else if (sf->jobs) {
		print_batch_summary(report, sf->report_dir);
	} else {
		lb_report_summary(report, stdout);
	}
	json_decref(report);
	if (sf->fix)
		catch_stop(false, old);
out:
	cmd_domains_free(&sf->doms);
	for (size_t i = 0; i < sf->npbs; i++)
		lb_playbook_free(sf->loaded[i]);
	if (discovered) {
		for (size_t i = 0; discovered[i]; i++)
			free(discovered[i]);
		free(discovered);
	}
	return ex;
}

static int run(int argc, char **argv, bool fix)
{
	struct scanfix *sf = calloc(1, sizeof(*sf));
	int c, ex;

	if (!sf) {
		fprintf(stderr, "loopbreaker: out of memory\n");
		return LB_EXIT_INTERNAL;
	}
	cmd_keyopts_init(&sf->keys);
	sf->fix = sf->o.fix = fix;
	sf->report_dir = "loopbreaker-reports";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (c == 'h') {
			help(fix);
			free(sf);
			return 0;
		}
		if (take_option(sf, c, argv[optind - 1], optarg)) {
			cmd_keyopts_free(&sf->keys);
			free(sf);
			return LB_EXIT_INPUT;
		}
	}
	if (sf->o.replay_journal && sf->o.discard_journal) {
		fprintf(stderr, "loopbreaker fix: --replay-journal and --discard-journal exclude each "
		        "other\n");
		ex = LB_EXIT_INPUT;
	} else {
		ex = run_parsed(sf, argc, argv);
	}
	free(sf);
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
