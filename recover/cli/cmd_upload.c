/* cmd_upload.c - `loopbreaker upload`: reports and evidence to a collector;
 * the offline spool. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_upload.h"

static const char upload_help[] =
"usage: loopbreaker upload --url URL [options] FILE...\n"
"       loopbreaker upload --url URL --spool DIR --flush-spool [FILE...]\n"
"\n"
"Sends FILEs (a report, then its evidence bundle and any other file) with HTTP\n"
"PUT (or POST) to a collector: an S3 or Azure Blob pre-signed URL, a WebDAV\n"
"server, any HTTP endpoint.  In URL, {hostname}, {time} (the report's\n"
"finished_at, UTC, 20240719T043000Z) and {file} (base name) are replaced; a URL\n"
"ending in '/' gets {hostname}-{time}-{file} appended.  Connection errors, HTTP\n"
"5xx, 408 and 429 are retried with exponential backoff; what still fails is\n"
"copied into the --spool directory, and --flush-spool sends the spool (e.g. at\n"
"the next boot) before the FILEs.\n"
"\n"
"options:\n"
"  --url URL             where to send (template); required\n"
"  --evidence-url URL    template for the files after the first (pre-signed URLs:\n"
"                        one per object); default: --url\n"
"  --post                POST instead of PUT\n"
"  --azure               add x-ms-blob-type: BlockBlob (Azure Put Blob with SAS URL)\n"
"  --header 'NAME: VAL'  extra request header (repeatable)\n"
"  --token-file FILE     bearer token (first line of FILE; https or loopback only)\n"
"  --ca-file FILE        trust this CA bundle (PEM) instead of the system store\n"
"  --spool DIR           copy what could not be sent into DIR\n"
"  --flush-spool         send everything in --spool DIR first; remove what was sent\n"
"  --hostname NAME       {hostname} when the report has none (default: unknown)\n"
"  --retries N           attempts per file (default 5)\n"
"  --max-time SECONDS    per file, all attempts and waits (default 120)\n"
"  --retry-delay MS      first wait between attempts, doubled each time (default 500)\n"
"  --connect-timeout S   per attempt (default 10)\n"
"  --json                print what happened as JSON (schema loopbreaker-upload/1)\n"
"  -q, --quiet           no progress lines on stderr\n"
"\n"
"exit status: 0 everything sent (spool empty), 1 something was spooled or left\n"
"in the spool, 2 usage error or unreadable input (a FILE, the token file),\n"
"3 not sent and not spooled.\n";

/* A file neither sent nor spooled: lb_exit_for(kind), except that a refusal
 * by the collector (HTTP 4xx: LB_EK_REFUSED, which lb_exit_for maps to 1) is
 * 3 here, since 1 means "spooled, will be sent later" (docs/fleet.md). */
static int not_sent_exit(enum lb_errkind kind)
{
	return kind == LB_EK_REFUSED ? LB_EXIT_INTERNAL : lb_exit_for(kind);
}

enum { O_URL = 256, O_EURL, O_POST, O_AZURE, O_HEADER, O_TOKEN, O_CA, O_SPOOL, O_FLUSH,
       O_HOST, O_RETRIES, O_MAXTIME, O_DELAY, O_CTIMEOUT, O_JSON };
static const struct option upload_lopts[] = {
	{ "url", required_argument, NULL, O_URL },
	{ "evidence-url", required_argument, NULL, O_EURL },
	{ "post", no_argument, NULL, O_POST },
	{ "azure", no_argument, NULL, O_AZURE },
	{ "header", required_argument, NULL, O_HEADER },
	{ "token-file", required_argument, NULL, O_TOKEN },
	{ "ca-file", required_argument, NULL, O_CA },
	{ "spool", required_argument, NULL, O_SPOOL },
	{ "flush-spool", no_argument, NULL, O_FLUSH },
	{ "hostname", required_argument, NULL, O_HOST },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "max-time", required_argument, NULL, O_MAXTIME },
	{ "retry-delay", required_argument, NULL, O_DELAY },
	{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
	{ "json", no_argument, NULL, O_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct upload_cmd {
	struct lb_upload_opts o;
	const char **headers;   /* argc + 1 slots, for o.headers */
	const char *url;
	bool flush, json;
};

/* An integer option in [lo, hi]; false when it is not one. */
static bool long_in(const char *arg, long lo, long hi, long *v)
{
	char *end;

	*v = strtol(arg, &end, 10);
	return *arg && !*end && *v >= lo && *v <= hi;
}

/* One option; false for a usage error. */
static bool parse_opt(int c, const char *arg, struct upload_cmd *u)
{
	struct lb_upload_opts *o = &u->o;
	char *end;
	long v;

	switch (c) {
	case O_URL: u->url = arg; return true;
	case O_EURL: o->evidence_url = arg; return true;
	case O_POST: o->method = "POST"; return true;
	case O_AZURE: o->azure_blob = true; return true;
	case O_HEADER:
		u->headers[o->nheaders++] = arg;
		if (strchr(arg, ':') && !strpbrk(arg, "\r\n"))
			return true;
		fprintf(stderr, "loopbreaker upload: --header wants 'Name: value'\n");
		return false;
	case O_TOKEN: o->token_file = arg; return true;
	case O_CA: o->ca_file = arg; return true;
	case O_SPOOL: o->spool_dir = arg; return true;
	case O_FLUSH: u->flush = true; return true;
	case O_HOST: o->hostname = arg; return true;
	case O_RETRIES:
		if (!long_in(arg, 1, 100, &v))
			return false;
		o->max_attempts = (int)v;
		return true;
	case O_MAXTIME:
		o->max_seconds = strtod(arg, &end);
		return !*end && o->max_seconds > 0 && o->max_seconds <= 86400;
	case O_DELAY: return long_in(arg, 1, 30000, &o->backoff_ms);
	case O_CTIMEOUT: return long_in(arg, 1, 3600, &o->connect_timeout);
	case O_JSON: u->json = true; return true;
	case 'q': o->log = NULL; return true;
	default: return false;
	}
}

/* The command line into u: 0, -1 for --help (printed), or an exit status
 * (a usage error; the help went to stderr). */
static int parse_args(int argc, char **argv, struct upload_cmd *u)
{
	const char *why = NULL;
	bool ok = true;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", upload_lopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(upload_help, stdout);
			return -1;
		}
		ok = parse_opt(c, optarg, u) && ok;
	}
	if (ok && !u->url)
		why = "--url is required";
	else if (ok && u->flush && !u->o.spool_dir)
		why = "--flush-spool needs --spool DIR";
	else if (ok && !u->flush && optind >= argc)
		why = "no FILE";
	if (why)
		fprintf(stderr, "loopbreaker upload: %s\n", why);
	if (!ok || why) {
		fputs(upload_help, stderr);
		return lb_exit_for(LB_EK_USAGE);
	}
	return 0;
}

int cmd_upload(int argc, char **argv)
{
	struct upload_cmd u;
	struct lb_upload_opts *o = &u.o;
	size_t sent = 0, left = 0;
	char spooled[4096] = "";
	struct lb_err err;
	json_t *trace = json_array(), *out;
	int ex, rc;

	memset(&u, 0, sizeof(u));
	o->log = stderr;
	u.headers = calloc((size_t)argc + 1, sizeof(*u.headers));
	ex = !u.headers || !trace ? lb_exit_for(LB_EK_INTERNAL) : parse_args(argc, argv, &u);
	if (ex) {
		free(u.headers);
		json_decref(trace);
		return ex < 0 ? 0 : ex; /* -1: --help */
	}
	o->headers = u.headers;
	o->trace = trace;
	lb_err_clear(&err);
	if (u.flush) {
		rc = lb_upload_flush_spool(o->spool_dir, u.url, o, &sent, &left, &err);
		if (rc < 0) {
			fprintf(stderr, "loopbreaker upload: %s\n", err.msg);
			ex = lb_exit_for(err.kind);
		} else if (rc > 0) {
			ex = LB_EXIT_ATTENTION;
		}
		if (o->log)
			fprintf(stderr, "upload: spool %s: %zu sent, %zu left\n", o->spool_dir, sent, left);
	}
	if (ex != LB_EXIT_INPUT && optind < argc) {
		lb_err_clear(&err);
		rc = lb_upload_files(u.url, (const char *const *)argv + optind, (size_t)(argc - optind),
		                     o, spooled, sizeof(spooled), &err);
		if (rc < 0) {
			fprintf(stderr, "loopbreaker upload: %s\n", err.msg);
			ex = lb_exit_worse(ex, not_sent_exit(err.kind));
		} else if (rc > 0) {
			if (o->log)
				fprintf(stderr, "upload: not sent (%s); spooled in %s\n", err.msg, spooled);
			ex = lb_exit_worse(ex, LB_EXIT_ATTENTION);
		}
	}
	if (u.json) {
		out = json_pack("{s:s, s:s, s:O, s:s?, s:I, s:I}", "schema", "loopbreaker-upload/1",
		                "status", ex == 0 ? "sent" : ex == LB_EXIT_ATTENTION ? "spooled" :
		                "failed", "files", trace, "spooled", spooled[0] ? spooled : NULL,
		                "spool_sent", (json_int_t)sent, "spool_left", (json_int_t)left);
		if (out)
			json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	}
	json_decref(trace);
	free(u.headers);
	return ex;
}
