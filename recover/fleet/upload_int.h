/* upload_int.h - what the upload_*.c files share; not an interface of the
 * fleet layer (lb_upload.h is).
 *
 *   upload_url.c    URL templates, redaction, which URLs are allowed
 *   upload_curl.c   libcurl, dlopen()ed when an upload starts (lb_curl)
 *   upload_http.c   the bearer token; one file to one URL with retries (libcurl)
 *   upload_send.c   a set of files: checks, {hostname}/{time}, send, else spool
 *   upload_spool.c  the offline spool: writing an entry, flushing the spool */
#ifndef LB_UPLOAD_INT_H
#define LB_UPLOAD_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_err.h"
#include "lb_upload.h"

/* One thing to send: a file or a buffer, under a base name. */
struct lb_upload_item {
	const char *name;      /* {file} and the spool name */
	const char *path;      /* file, or NULL for data */
	const unsigned char *data;
	size_t len;
	const char *tmpl;      /* URL template */
	bool evidence;         /* sent to opts->evidence_url when set */
	bool sent;
};

/* upload_url.c: only http(s); a bearer token only over https (or to this
 * machine).  LB_EK_USAGE otherwise. */
int lb_upload_check_url(const char *url, bool token, struct lb_err *err);

/* upload_curl.c: the libcurl functions the fleet layer calls, curl_X as
 * lb_curl.X (members are not named curl_X: curl.h makes curl_easy_setopt
 * a type-checking macro).  Through the pointer that check is gone: pass
 * each option's value exactly as curl_easy_setopt(3) types it (long,
 * curl_off_t, a pointer).  Every member is NULL until lb_upload_curl_ready
 * succeeds. */
struct lb_curl_fns {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *u);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *s, unsigned int flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart part, char **s, unsigned int flags);
	void (*free)(void *p);
};
extern struct lb_curl_fns lb_curl;
/* Loads libcurl (once) and runs curl_global_init: 0, or -1 with err
 * ("uploading needs libcurl.so.4 (Debian package libcurl4): …").  Call it
 * before any lb_curl function; lb_upload_items and lb_upload_check_url do. */
int lb_upload_curl_ready(struct lb_err *err);

/* upload_http.c */
/* The first line of path, in sodium_malloc'd memory (lb_upload_token_free). */
char *lb_upload_read_token(const char *path, struct lb_err *err);
void lb_upload_token_free(char *token);
/* Sends one item to url with retries (lb_upload_opts); 0 or -1 (err set). */
int lb_upload_send_item(const char *url, const struct lb_upload_item *it,
                        const struct lb_upload_opts *o, const char *token, struct lb_err *err);
/* Appends one object to o->trace (if it is an array). */
void lb_upload_trace(const struct lb_upload_opts *o, const struct lb_upload_item *it,
                     const char *url, const char *status, long code, int attempts,
                     const char *error);

/* upload_send.c: sends items (usage checks first); what fails goes to
 * o->spool_dir.  0 all sent, 1 spooled (entry path in spooled), -1 error. */
int lb_upload_items(struct lb_upload_item *items, size_t n, const struct lb_upload_opts *o,
                    const char *host, const char *stamp, char *spooled, size_t spooled_len,
                    struct lb_err *err);

/* upload_spool.c: copies the unsent items into a new entry of dir. */
int lb_upload_spool(const char *dir, const struct lb_upload_item *items, size_t n,
                    const char *host, const char *stamp, const char *why, char *out,
                    size_t outlen, struct lb_err *err);

#endif
