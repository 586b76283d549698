/* lb_upload.h - sending reports and evidence bundles to a collector.
 *
 * HTTP PUT (default) or POST with libcurl to an S3 or Azure Blob pre-signed
 * URL, a WebDAV server or any HTTP endpoint.  TLS is verified (system store
 * or a CA file); a bearer token comes from a file.  Connection errors, 5xx,
 * 408 and 429 are retried with exponential backoff, bounded in attempts and
 * time.  When a file still cannot be sent it is copied into a spool
 * directory; lb_upload_flush_spool() sends the spool later (next boot).
 *
 * URL templates: {hostname}, {time} (UTC, 20240719T043000Z, the report's
 * finished_at) and {file} (the file's base name) are replaced, percent-
 * encoded.  A URL that ends in '/' gets "{hostname}-{time}-{file}" appended.
 *
 * An upload never decides a repair's outcome: callers report a failure as a
 * warning (see lb_upload_after_fix). */
#ifndef LB_UPLOAD_H
#define LB_UPLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lb_err.h"

struct lb_upload_opts {
	const char *method;          /* "PUT" (default) or "POST" */
	const char *evidence_url;    /* template for the evidence (and later files); NULL: url */
	const char *token_file;      /* bearer token, first line of this file */
	const char *ca_file;         /* CA bundle (PEM) instead of the system store */
	const char *hostname;        /* {hostname} when no report names one */
	const char *spool_dir;       /* unsent files are copied here; NULL: no spool */
	const char *const *headers;  /* extra "Name: value" request headers */
	size_t nheaders;
	bool azure_blob;             /* x-ms-blob-type: BlockBlob (Azure Put Blob) */
	int max_attempts;            /* per file; 0: 5 */
	double max_seconds;          /* per file, all attempts and waits; 0: 120 */
	long connect_timeout;        /* seconds per attempt; 0: 10 */
	long backoff_ms;             /* first wait, doubled each time, at most 30 s; 0: 500 */
	FILE *log;                   /* one line per retry and failure; NULL: silent */
	json_t *trace;               /* if a JSON array: one object per file appended */
};

/* Sends files (the first that is a loopbreaker report names {hostname} and
 * {time}) to url; files after the first use opts->evidence_url if set.
 * Returns 0 when all were sent, 1 when some were not but were spooled (the
 * spool entry's path in spooled, if not NULL), -1 otherwise (err set; also
 * for a usage error before anything was sent). */
int lb_upload_files(const char *url, const char *const *files, size_t nfiles,
                    const struct lb_upload_opts *o, char *spooled, size_t spooled_len,
                    struct lb_err *err);

/* The report and its evidence bundle (evidence_path may be NULL): the
 * evidence is sent first, so a report at the collector implies its bundle.
 * Same return values as lb_upload_files. */
int lb_upload_report(const char *url, const char *report_path, const char *evidence_path,
                     const struct lb_upload_opts *o, struct lb_err *err);

/* One in-memory buffer (e.g. a report not written to disk) named name for
 * {file}; spooled as a file of that name when it cannot be sent. */
int lb_upload_buffer(const char *url, const char *name, const void *data, size_t len,
                     const struct lb_upload_opts *o, struct lb_err *err);

/* For `fix --upload URL`: lb_upload_report, but never fails: prints one
 * warning line to warn (if not NULL) and returns 0 sent, 1 spooled, 2 lost. */
int lb_upload_after_fix(const char *url, const char *report_path, const char *evidence_path,
                        const struct lb_upload_opts *o, FILE *warn);

/* Sends every entry of a spool directory to url (templates as above, with
 * each entry's original hostname and time); entries sent are removed.  Stops
 * at the first entry that cannot be sent.  Returns 0 when the spool is empty
 * afterwards, 1 when entries are left, -1 on error (e.g. dir unreadable). */
int lb_upload_flush_spool(const char *dir, const char *url, const struct lb_upload_opts *o,
                          size_t *sent, size_t *left, struct lb_err *err);

/* Template expansion (values percent-encoded); malloc'd result or NULL. */
char *lb_upload_expand(const char *tmpl, const char *hostname, const char *time,
                       const char *file, struct lb_err *err);
/* scheme://host/path of a URL without query and fragment (no secrets of a
 * pre-signed URL in logs); malloc'd. */
char *lb_upload_redact(const char *url);

#endif
