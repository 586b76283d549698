/* upload_http.c - one file to one URL over HTTP(S) with libcurl (called
 * through lb_curl, upload_curl.c): TLS verified, a bearer token from a
 * file, retries with exponential backoff bounded in attempts and time (see
 * lb_upload.h, docs/fleet.md). */
#include "upload_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_file.h"

#ifndef LB_VERSION
#define LB_VERSION "unknown"
#endif

#define UP_MAX_TOKEN 8192          /* bytes of a token, its NUL included */
#define UP_MAX_TOKEN_FILE (64u << 10)
#define UP_MAX_BACKOFF_MS 30000

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static const char *content_type(const char *name)
{
	size_t n = strlen(name);

	if (n > 5 && !strcasecmp(name + n - 5, ".json"))
		return "application/json";
	if (n > 4 && !strcasecmp(name + n - 4, ".zst"))
		return "application/zstd";
	return "application/octet-stream";
}

/* ---- the token ---- */

void lb_upload_token_free(char *token)
{
	if (token)
		sodium_free(token);
}

/* The token, the first n bytes of text: printable ASCII, no spaces. */
static int token_ok(const char *path, const uint8_t *text, size_t n, struct lb_err *err)
{
	if (!n)
		return lb_err_set(err, LB_EK_INPUT, 0, "token file %s is empty", path);
	if (n >= UP_MAX_TOKEN)
		return lb_err_set(err, LB_EK_INPUT, 0, "token file %s: the token is longer than "
		                  "%d bytes", path, UP_MAX_TOKEN - 1);
	for (size_t i = 0; i < n; i++)
		if (text[i] < 0x21 || text[i] > 0x7e)
			return lb_err_set(err, LB_EK_INPUT, 0, "token file %s: the token has a space "
			                  "or control character", path);
	return 0;
}

char *lb_upload_read_token(const char *path, struct lb_err *err)
{
	uint8_t *text;
	size_t len, n;
	char *tok = NULL;

	if (lb_read_file(path, UP_MAX_TOKEN_FILE, &text, &len, err)) {
		lb_err_wrap(err, "token file");
		return NULL;
	}
	n = strcspn((char *)text, "\r\n");
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	if (token_ok(path, text, n, err) == 0) {
		tok = sodium_malloc(n + 1);
		if (tok) {
			memcpy(tok, text, n);
			tok[n] = '\0';
		} else {
			lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "token");
		}
	}
	sodium_memzero(text, len);
	free(text);
	return tok;
}

/* ---- the request ---- */

struct body {
	const char *path;          /* the file, or NULL: data */
	FILE *f;
	const unsigned char *data;
	size_t len, off;
	curl_off_t size;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t want = size * nmemb;

	if (b->f) {
		size_t got = fread(buf, 1, want, b->f);

		return ferror(b->f) ? CURL_READFUNC_ABORT : got;
	}
	if (want > b->len - b->off)
		want = b->len - b->off;
	memcpy(buf, b->data + b->off, want);
	b->off += want;
	return want;
}

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb;
}

static int open_body(const struct lb_upload_item *it, struct body *b, struct lb_err *err)
{
	struct stat sb;

	*b = (struct body){ .path = it->path, .f = NULL, .data = it->data, .len = it->len,
	                    .off = 0, .size = (curl_off_t)it->len };
	if (!it->path)
		return 0;
	b->f = fopen(it->path, "rb");
	if (!b->f)
		return lb_err_set(err, LB_EK_INPUT, errno, "%s", it->path);
	if (fstat(fileno(b->f), &sb) || !S_ISREG(sb.st_mode)) {
		lb_err_set(err, LB_EK_INPUT, S_ISREG(sb.st_mode) ? errno : EINVAL, "%s", it->path);
		fclose(b->f);
		b->f = NULL;
		return -1;
	}
	b->size = (curl_off_t)sb.st_size;
	return 0;
}

static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		sodium_memzero(p->data, strlen(p->data));
	lb_curl.slist_free_all(h);
}

/* Appends to *h; on failure frees (and wipes) the whole list. */
static bool add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = lb_curl.slist_append(*h, line);

	if (!n) {
		free_headers(*h);
		*h = NULL;
		return false;
	}
	*h = n;
	return true;
}

static struct curl_slist *request_headers(const struct lb_upload_item *it,
                                          const struct lb_upload_opts *o, const char *token)
{
	struct curl_slist *h = NULL;
	char line[UP_MAX_TOKEN + 64];
	bool ok;

	snprintf(line, sizeof(line), "Content-Type: %s", content_type(it->name));
	ok = add_header(&h, line) && add_header(&h, "Expect:");
	if (ok && o->azure_blob)
		ok = add_header(&h, "x-ms-blob-type: BlockBlob");
	for (size_t i = 0; ok && i < o->nheaders; i++)
		ok = add_header(&h, o->headers[i]);
	if (ok && token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		ok = add_header(&h, line);
		sodium_memzero(line, sizeof(line));
	}
	return ok ? h : NULL;
}

/* The handle for one attempt with at most left_ms to go. */
static void setup(CURL *h, const char *url, const struct lb_upload_opts *o,
                  struct curl_slist *hdr, char *ebuf, struct body *b, double left_ms)
{
	const bool post = o->method && !strcasecmp(o->method, "POST");

	lb_curl.easy_reset(h);
	lb_curl.easy_setopt(h, CURLOPT_URL, url);
	lb_curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	lb_curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	lb_curl.easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	lb_curl.easy_setopt(h, CURLOPT_USERAGENT, "loopbreaker/" LB_VERSION);
	lb_curl.easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	lb_curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	lb_curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_file)
		lb_curl.easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	lb_curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout > 0 ?
	                    o->connect_timeout : 10L);
	lb_curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms > 1000 ? (long)left_ms : 1000L);
	lb_curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	lb_curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	lb_curl.easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	lb_curl.easy_setopt(h, CURLOPT_READDATA, b);
	lb_curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
	if (post) {
		lb_curl.easy_setopt(h, CURLOPT_POST, 1L);
		lb_curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, b->size);
	} else {
		lb_curl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
		lb_curl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, b->size);
	}
}

/* ---- retries ---- */

static bool transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* One attempt's outcome: 0 sent; else err set, *retry whether another
 * attempt may help, *retry_after the server's Retry-After (s) or 0. */
static int outcome(CURL *h, CURLcode cc, const char *method, const char *red,
                   const char *ebuf, long *code, bool *retry, curl_off_t *retry_after,
                   struct lb_err *err)
{
	*code = 0;
	*retry_after = 0;
	lb_curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	if (cc == CURLE_OK && *code >= 200 && *code < 300)
		return 0;
	if (cc == CURLE_OK) {
		*retry = *code >= 500 || *code == 429 || *code == 408;
		lb_err_set(err, *retry ? LB_EK_IO : LB_EK_REFUSED, 0, "%s %s: HTTP %ld", method, red,
		           *code);
		lb_curl.easy_getinfo(h, CURLINFO_RETRY_AFTER, retry_after);
	} else {
		*retry = transient(cc);
		lb_err_set(err, LB_EK_IO, 0, "%s %s: %s", method, red,
		           ebuf[0] ? ebuf : lb_curl.easy_strerror(cc));
	}
	return -1;
}

/* The wait before the next attempt: delay +-25 %, or Retry-After if longer
 * (at most UP_MAX_BACKOFF_MS). */
static long backoff(long delay, curl_off_t retry_after, unsigned *seed)
{
	long wait = delay * 3 / 4 + (long)(rand_r(seed) % (unsigned)(delay / 2 + 1));

	if (retry_after > 0 && retry_after * 1000 > wait)
		wait = retry_after > UP_MAX_BACKOFF_MS / 1000 ? UP_MAX_BACKOFF_MS
		                                              : (long)retry_after * 1000;
	return wait;
}

struct attempts {
	int max, n;
	double t0, max_ms;
	long delay;
	unsigned seed;
};

/* After a failed attempt: waits and returns true when another one is worth
 * making within the bounds. */
static bool wait_again(struct attempts *a, bool retry, curl_off_t retry_after,
                       const struct lb_upload_opts *o, struct lb_err *err)
{
	long wait;

	if (!retry || a->n == a->max)
		return false;
	wait = backoff(a->delay, retry_after, &a->seed);
	if (mono_ms() - a->t0 + (double)wait >= a->max_ms) {
		lb_err_wrap(err, "giving up after %d attempts in %.0f s", a->n,
		            (mono_ms() - a->t0) / 1000.0);
		return false;
	}
	if (o->log)
		fprintf(o->log, "upload: %s (attempt %d of %d); retrying in %.1f s\n", err->msg, a->n,
		        a->max, (double)wait / 1000.0);
	sleep_ms(wait);
	a->delay = a->delay * 2 > UP_MAX_BACKOFF_MS ? UP_MAX_BACKOFF_MS : a->delay * 2;
	return true;
}

void lb_upload_trace(const struct lb_upload_opts *o, const struct lb_upload_item *it,
                     const char *url, const char *status, long code, int attempts,
                     const char *error)
{
	char *red;

	if (!json_is_array(o->trace))
		return;
	red = url ? lb_upload_redact(url) : NULL;
	json_array_append_new(o->trace, json_pack("{s:s, s:s?, s:s, s:I, s:i, s:s?}", "file",
	                      it->path ? it->path : it->name, "url", red, "status", status,
	                      "http_status", (json_int_t)code, "attempts", attempts, "error", error));
	free(red);
}

/* The attempts themselves; 0 sent, -1 not (err set). */
static int try_send(CURL *h, const char *url, struct body *b, struct curl_slist *hdr,
                    const struct lb_upload_opts *o, struct attempts *a, long *code,
                    struct lb_err *err)
{
	const char *method = o->method && !strcasecmp(o->method, "POST") ? "POST" : "PUT";
	char *red = lb_upload_redact(url), ebuf[CURL_ERROR_SIZE];
	curl_off_t retry_after;
	bool retry = false;
	int rc = -1;

	if (!red)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "upload");
	for (a->n = 1; a->n <= a->max; a->n++) {
		if (b->f && fseek(b->f, 0, SEEK_SET)) {
			lb_err_set(err, LB_EK_IO, errno, "%s", b->path);
			break;
		}
		b->off = 0;
		ebuf[0] = '\0';
		setup(h, url, o, hdr, ebuf, b, a->max_ms - (mono_ms() - a->t0));
		rc = outcome(h, lb_curl.easy_perform(h), method, red, ebuf, code, &retry, &retry_after,
		             err);
		if (rc == 0 || !wait_again(a, retry, retry_after, o, err))
			break;
	}
	if (a->n > a->max)
		a->n = a->max;
	free(red);
	return rc;
}

int lb_upload_send_item(const char *url, const struct lb_upload_item *it,
                        const struct lb_upload_opts *o, const char *token, struct lb_err *err)
{
	struct attempts a = {
		.max = o->max_attempts > 0 ? o->max_attempts : 5,
		.max_ms = (o->max_seconds > 0 ? o->max_seconds : 120) * 1000.0,
		.delay = o->backoff_ms > 0 ? o->backoff_ms : 500,
		.t0 = mono_ms(), .n = 0,
	};
	struct curl_slist *hdr;
	struct body b;
	long code = 0;
	CURL *h;
	int rc;

	a.seed = (unsigned)getpid() ^ (unsigned)a.t0;
	if (open_body(it, &b, err)) {
		lb_upload_trace(o, it, url, "failed", 0, 0, err->msg);
		return -1;
	}
	h = lb_curl.easy_init();
	hdr = request_headers(it, o, token);
	if (!h || !hdr)
		rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "upload");
	else
		rc = try_send(h, url, &b, hdr, o, &a, &code, err);
	lb_upload_trace(o, it, url, rc == 0 ? "sent" : "failed", code, a.n,
	                rc == 0 ? NULL : err->msg);
	if (rc == 0)
		lb_err_clear(err);
	if (b.f)
		fclose(b.f);
	free_headers(hdr);
	lb_curl.easy_cleanup(h);
	return rc;
}
