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
"in the spool, 2 usage error, 3 not sent and not spooled.\n";

int cmd_upload(int argc, char **argv)
{
	enum { O_URL = 256, O_EURL, O_POST, O_AZURE, O_HEADER, O_TOKEN, O_CA, O_SPOOL, O_FLUSH,
	       O_HOST, O_RETRIES, O_MAXTIME, O_DELAY, O_CTIMEOUT, O_JSON };
	static const struct option lopts[] = {
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
	struct lb_upload_opts o;
	const char *url = NULL, **headers = NULL;
	bool flush = false, json = false;
	size_t sent = 0, left = 0;
	char spooled[4096] = "";
	struct lb_err err;
	json_t *trace = json_array(), *out;
	int c, ex = 0, rc;
	char *end;

	memset(&o, 0, sizeof(o));
	o.log = stderr;
	headers = calloc((size_t)argc + 1, sizeof(*headers));
	if (!headers || !trace) {
		free(headers);
		json_decref(trace);
		return LB_EXIT_INTERNAL;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", lopts, NULL)) != -1) {
		switch (c) {
		case O_URL: url = optarg; break;
		case O_EURL: o.evidence_url = optarg; break;
		case O_POST: o.method = "POST"; break;
		case O_AZURE: o.azure_blob = true; break;
		case O_HEADER:
			if (!strchr(optarg, ':') || strpbrk(optarg, "\r\n")) {
				fprintf(stderr, "loopbreaker upload: --header wants 'Name: value'\n");
				ex = LB_EXIT_INPUT;
			}
			headers[o.nheaders++] = optarg;
			break;
		case O_TOKEN: o.token_file = optarg; break;
		case O_CA: o.ca_file = optarg; break;
		case O_SPOOL: o.spool_dir = optarg; break;
		case O_FLUSH: flush = true; break;
		case O_HOST: o.hostname = optarg; break;
		case O_RETRIES:
			o.max_attempts = (int)strtol(optarg, &end, 10);
			if (*end || o.max_attempts < 1 || o.max_attempts > 100)
				ex = LB_EXIT_INPUT;
			break;
		case O_MAXTIME:
			o.max_seconds = strtod(optarg, &end);
			if (*end || o.max_seconds <= 0 || o.max_seconds > 86400)
				ex = LB_EXIT_INPUT;
			break;
		case O_DELAY:
			o.backoff_ms = strtol(optarg, &end, 10);
			if (*end || o.backoff_ms < 1 || o.backoff_ms > 30000)
				ex = LB_EXIT_INPUT;
			break;
		case O_CTIMEOUT:
			o.connect_timeout = strtol(optarg, &end, 10);
			if (*end || o.connect_timeout < 1 || o.connect_timeout > 3600)
				ex = LB_EXIT_INPUT;
			break;
		case O_JSON: json = true; break;
		case 'q': o.log = NULL; break;
		case 'h':
			fputs(upload_help, stdout);
			free(headers);
			json_decref(trace);
			return 0;
		default: ex = LB_EXIT_INPUT; break;
		}
	}
	if (!ex && !url) {
		fprintf(stderr, "loopbreaker upload: --url is required\n");
		ex = LB_EXIT_INPUT;
	}
	if (!ex && flush && !o.spool_dir) {
		fprintf(stderr, "loopbreaker upload: --flush-spool needs --spool DIR\n");
		ex = LB_EXIT_INPUT;
	}
	if (!ex && !flush && optind >= argc) {
		fprintf(stderr, "loopbreaker upload: no FILE\n");
		ex = LB_EXIT_INPUT;
	}
	if (ex) {
		fputs(upload_help, stderr);
		free(headers);
		json_decref(trace);
		return ex;
	}
	o.headers = headers;
	o.trace = trace;
	lb_err_clear(&err);
	if (flush) {
		rc = lb_upload_flush_spool(o.spool_dir, url, &o, &sent, &left, &err);
		if (rc < 0) {
			fprintf(stderr, "loopbreaker upload: %s\n", err.msg);
			ex = err.kind == LB_EK_USAGE || err.kind == LB_EK_INPUT ? LB_EXIT_INPUT
			                                                         : LB_EXIT_INTERNAL;
		} else if (rc > 0) {
			ex = LB_EXIT_ATTENTION;
		}
		if (o.log)
			fprintf(stderr, "upload: spool %s: %zu sent, %zu left\n", o.spool_dir, sent, left);
	}
	if (ex != LB_EXIT_INPUT && optind < argc) {
		lb_err_clear(&err);
		rc = lb_upload_files(url, (const char *const *)argv + optind, (size_t)(argc - optind),
		                     &o, spooled, sizeof(spooled), &err);
		if (rc < 0) {
			fprintf(stderr, "loopbreaker upload: %s\n", err.msg);
			ex = err.kind == LB_EK_USAGE ? LB_EXIT_INPUT : LB_EXIT_INTERNAL;
		} else if (rc > 0) {
			if (o.log)
				fprintf(stderr, "upload: not sent (%s); spooled in %s\n", err.msg, spooled);
			if (ex < LB_EXIT_ATTENTION)
				ex = LB_EXIT_ATTENTION;
		}
	}
	if (json) {
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
	free(headers);
	return ex;
}
