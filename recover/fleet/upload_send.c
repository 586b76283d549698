/* upload_send.c - sending a report and its files: usage checks before
 * anything is sent, {hostname} and {time} from the report, one transfer per
 * file, the spool for what failed (see lb_upload.h, docs/fleet.md). */
#include "upload_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_report.h"

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* ---- identity of a report: {hostname} and {time} ---- */

static void identity(const struct lb_upload_item *items, size_t n,
                     const struct lb_upload_opts *o, char *host, size_t hl, char stamp[20])
{
	time_t now = time(NULL);
	struct tm tm;

	snprintf(host, hl, "%s", o->hostname ? o->hostname : "unknown");
	gmtime_r(&now, &tm);
	strftime(stamp, 20, "%Y%m%dT%H%M%SZ", &tm);
	for (size_t i = 0; i < n; i++) {
		json_t *r = items[i].path ? json_load_file(items[i].path, 0, NULL)
		                          : json_loadb((const char *)items[i].data, items[i].len, 0,
		                                       NULL);
		const char *schema = json_string_value(json_object_get(r, "schema"));
		const char *h, *t;

		if (!schema || strncmp(schema, "loopbreaker-report/", 19)) {
			json_decref(r);
			continue;
		}
		h = json_string_value(json_object_get(r, "hostname"));
		t = json_string_value(json_object_get(r, "finished_at"));
		if (!t)
			t = json_string_value(json_object_get(r, "started_at"));
		if (h && *h)
			snprintf(host, hl, "%s", h);
		if (lb_report_time(t, &tm))
			strftime(stamp, 20, "%Y%m%dT%H%M%SZ", &tm);
		json_decref(r);
		break;
	}
}

/* ---- sending a set of items ---- */

/* Usage errors, found before anything is sent. */
static int check_items(const struct lb_upload_item *items, size_t n, const char *host,
                       const char *stamp, const struct lb_upload_opts *o, struct lb_err *err)
{
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(items[i].tmpl);
		char *url;
		int rc;

		if (!strstr(items[i].tmpl, "{file}") && !(tl && items[i].tmpl[tl - 1] == '/'))
			for (size_t j = 0; j < i; j++)
				if (items[j].tmpl == items[i].tmpl || !strcmp(items[j].tmpl, items[i].tmpl))
					return lb_err_set(err, LB_EK_USAGE, 0, "%s and %s would go to the "
					                  "same URL: put {file} in it, end it with '/', or "
					                  "give the evidence its own URL", items[j].name,
					                  items[i].name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(items[j].name, items[i].name))
				return lb_err_set(err, LB_EK_USAGE, 0, "two files named %s", items[i].name);
		url = lb_upload_expand(items[i].tmpl, host, stamp, items[i].name, err);
		if (!url)
			return -1;
		rc = lb_upload_check_url(url, o->token_file != NULL, err);
		free(url);
		if (rc)
			return -1;
	}
	return 0;
}

/* Sends each item; returns how many failed, the first failure in first. */
static int send_each(struct lb_upload_item *items, size_t n, const struct lb_upload_opts *o,
                     const char *host, const char *stamp, const char *token,
                     struct lb_err *first)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		struct lb_err e, xe;
		char *url = lb_upload_expand(items[i].tmpl, host, stamp, items[i].name, &xe);

		lb_err_clear(&e);
		if (failed && first->kind == LB_EK_IO) {
			/* the collector is down or broken: do not wait for it once per file */
			lb_err_set(&e, LB_EK_IO, 0, "not tried: %s", first->msg);
			lb_upload_trace(o, &items[i], url, "failed", 0, 0, e.msg);
			failed++;
		} else if (url && lb_upload_send_item(url, &items[i], o, token, &e) == 0) {
			items[i].sent = true;
		} else {
			if (!url)
				e = xe;
			if (o->log)
				fprintf(o->log, "upload: %s not sent: %s\n", items[i].name, e.msg);
			if (!failed)
				*first = e;
			failed++;
		}
		free(url);
	}
	return failed;
}

/* What failed goes to the spool; the trace then says "spooled". */
static int spool_failed(const struct lb_upload_item *items, size_t n, int failed,
                        const struct lb_upload_opts *o, const char *host, const char *stamp,
                        char *spooled, size_t spooled_len, struct lb_err *err)
{
	struct lb_err serr;
	char why[sizeof(err->msg)];
	json_t *t;
	size_t k;

	snprintf(why, sizeof(why), "%s", err->msg);
	lb_err_clear(&serr);
	if (lb_upload_spool(o->spool_dir, items, n, host, stamp, why, spooled, spooled_len,
	                    &serr))
		return lb_err_set(err, serr.kind, 0, "%s; not spooled either: %s", why, serr.msg);
	if (o->log)
		fprintf(o->log, "upload: %d file%s spooled in %s\n", failed, failed == 1 ? "" : "s",
		        o->spool_dir);
	if (json_is_array(o->trace))
		json_array_foreach(o->trace, k, t)
			if (!strcmp(json_string_value(json_object_get(t, "status")), "failed"))
				json_object_set_new(t, "status", json_string("spooled"));
	return 1;
}

int lb_upload_items(struct lb_upload_item *items, size_t n, const struct lb_upload_opts *o,
                    const char *host, const char *stamp, char *spooled, size_t spooled_len,
                    struct lb_err *err)
{
	char *token = NULL;
	int failed;

	if (lb_upload_curl_ready(err) || check_items(items, n, host, stamp, o, err))
		return -1;
	if (o->token_file && !(token = lb_upload_read_token(o->token_file, err)))
		return -1;
	lb_err_clear(err);
	failed = send_each(items, n, o, host, stamp, token, err);
	lb_upload_token_free(token);
	if (!failed)
		return 0;
	if (!o->spool_dir)
		return -1;
	return spool_failed(items, n, failed, o, host, stamp, spooled, spooled_len, err);
}

int lb_upload_files(const char *url, const char *const *files, size_t nfiles,
                    const struct lb_upload_opts *o, char *spooled, size_t spooled_len,
                    struct lb_err *err)
{
	struct lb_upload_item *items = calloc(nfiles ? nfiles : 1, sizeof(*items));
	char host[256], stamp[20];
	int rc;

	if (!items)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "upload");
	for (size_t i = 0; i < nfiles; i++) {
		items[i].path = files[i];
		items[i].name = base_name(files[i]);
		items[i].evidence = i > 0;
		items[i].tmpl = i && o->evidence_url ? o->evidence_url : url;
	}
	identity(items, nfiles, o, host, sizeof(host), stamp);
	rc = lb_upload_items(items, nfiles, o, host, stamp, spooled, spooled_len, err);
	free(items);
	return rc;
}

int lb_upload_report(const char *url, const char *report_path, const char *evidence_path,
                     const struct lb_upload_opts *o, struct lb_err *err)
{
	struct lb_upload_item items[2];
	char host[256], stamp[20];
	size_t n = 0;

	memset(items, 0, sizeof(items));
	if (evidence_path) {
		items[n].path = evidence_path;
		items[n].name = base_name(evidence_path);
		items[n].evidence = true;
		items[n++].tmpl = o->evidence_url ? o->evidence_url : url;
	}
	items[n].path = report_path;
	items[n].name = base_name(report_path);
	items[n++].tmpl = url;
	identity(items, n, o, host, sizeof(host), stamp);
	return lb_upload_items(items, n, o, host, stamp, NULL, 0, err);
}

int lb_upload_buffer(const char *url, const char *name, const void *data, size_t len,
                     const struct lb_upload_opts *o, struct lb_err *err)
{
	struct lb_upload_item it = { .name = name, .path = NULL, .data = data, .len = len,
	                             .tmpl = url };
	char host[256], stamp[20];

	if (!*name || strchr(name, '/') || name[0] == '.')
		return lb_err_set(err, LB_EK_USAGE, 0, "bad upload name '%s'", name);
	identity(&it, 1, o, host, sizeof(host), stamp);
	return lb_upload_items(&it, 1, o, host, stamp, NULL, 0, err);
}

int lb_upload_after_fix(const char *url, const char *report_path, const char *evidence_path,
                        const struct lb_upload_opts *o, FILE *warn)
{
	struct lb_err err;
	int rc;

	lb_err_clear(&err);
	rc = lb_upload_report(url, report_path, evidence_path, o, &err);
	if (rc == 0)
		return 0;
	if (warn)
		fprintf(warn, "loopbreaker: warning: report upload failed (%s); %s\n", err.msg,
		        rc == 1 ? "kept in the spool for the next boot" : "the report is only local");
	return rc == 1 ? 1 : 2;
}
