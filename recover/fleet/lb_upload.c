/* lb_upload.c - reports and evidence to a collector over HTTP(S), with
 * retries and an offline spool (see lb_upload.h, docs/fleet.md). */
#include "lb_upload.h"
#include "lb_file.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_io.h"
#include "lb_report.h"

#ifndef LB_VERSION
#define LB_VERSION "unknown"
#endif

#define UP_MAX_TOKEN 8192
#define UP_MAX_BACKOFF_MS 30000

/* One thing to send: a file or a buffer, under a base name. */
struct item {
	const char *name;      /* {file} and the spool name */
	const char *path;      /* file, or NULL for data */
	const unsigned char *data;
	size_t len;
	const char *tmpl;      /* URL template */
	bool evidence;         /* sent to opts->evidence_url when set */
	bool sent;
};

struct reader {
	FILE *f;
	const unsigned char *data;
	size_t len, off;
};

static int curl_ready(struct lb_err *err)
{
	static int done;

	if (!done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return lb_err_set(err, LB_EK_INTERNAL, 0, "libcurl failed to initialise");
		done = 1;
	}
	return 0;
}

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

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
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

/* ---- URLs ---- */

char *lb_upload_redact(const char *url)
{
	size_t n = strcspn(url, "?#");
	char *s = malloc(n + 5);

	if (!s)
		return NULL;
	memcpy(s, url, n);
	strcpy(s + n, url[n] ? "?..." : "");
	return s;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *lb_upload_expand(const char *tmpl, const char *hostname, const char *time,
                       const char *file, struct lb_err *err)
{
	static const char implied[] = "{hostname}-{time}-{file}";
	size_t cap = 64, n = 0, tl = strlen(tmpl);
	char *out = malloc(cap), *full = NULL;
	const char *t = tmpl;

	if (tl && tmpl[tl - 1] == '/') {
		full = malloc(tl + sizeof(implied));
		if (!full) {
			free(out);
			lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "URL");
			return NULL;
		}
		memcpy(full, tmpl, tl);
		memcpy(full + tl, implied, sizeof(implied));
		t = full;
	}
	while (out && *t) {
		const char *val = NULL;
		size_t skip = 1, need;

		if (*t == '{') {
			static const char *const names[] = { "{hostname}", "{time}", "{file}" };
			const char *vals[] = { hostname, time, file };

			for (int i = 0; i < 3; i++)
				if (!strncmp(t, names[i], strlen(names[i]))) {
					val = vals[i] ? vals[i] : "";
					skip = strlen(names[i]);
				}
			if (!val) {
				lb_err_set(err, LB_EK_USAGE, 0, "unknown placeholder in URL at '%.20s' "
				           "(known: {hostname}, {time}, {file})", t);
				free(out);
				free(full);
				return NULL;
			}
		}
		need = n + (val ? 3 * strlen(val) : 1) + 1;
		if (need > cap) {
			char *no;

			while (cap < need)
				cap *= 2;
			no = realloc(out, cap);
			if (!no) {
				free(out);
				out = NULL;
				break;
			}
			out = no;
		}
		if (val) {
			for (const unsigned char *v = (const unsigned char *)val; *v; v++) {
				if (unreserved(*v))
					out[n++] = (char)*v;
				else
					n += (size_t)sprintf(out + n, "%%%02X", *v);
			}
		} else {
			out[n++] = *t;
		}
		t += skip;
	}
	free(full);
	if (!out) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "URL");
		return NULL;
	}
	out[n] = '\0';
	return out;
}

static bool loopback_host(const char *h)
{
	return !strcasecmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "[::1]") ||
	       !strcmp(h, "::1");
}

/* Only http(s); a bearer token only over https (or to this machine). */
static int check_url(const char *url, bool token, struct lb_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	char *red = lb_upload_redact(url);
	int rc = 0;

	if (!u || !red) {
		curl_url_cleanup(u);
		free(red);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "URL");
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		rc = lb_err_set(err, LB_EK_USAGE, 0, "not a valid URL: %s", red);
	else if (strcasecmp(scheme, "https") && strcasecmp(scheme, "http"))
		rc = lb_err_set(err, LB_EK_USAGE, 0, "only http and https URLs: %s", red);
	else if (token && strcasecmp(scheme, "https") && !loopback_host(host))
		rc = lb_err_set(err, LB_EK_USAGE, 0, "refusing to send a bearer token over plain "
		                "http to %s (use https)", host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	free(red);
	return rc;
}

/* ---- the token ---- */

static char *read_token(const char *path, struct lb_err *err)
{
	char *tok = sodium_malloc(UP_MAX_TOKEN);
	size_t n;
	FILE *f;

	if (!tok) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "token");
		return NULL;
	}
	f = fopen(path, "r");
	if (!f) {
		lb_err_set(err, LB_EK_INPUT, errno, "token file %s", path);
		sodium_free(tok);
		return NULL;
	}
	n = fread(tok, 1, UP_MAX_TOKEN - 1, f);
	fclose(f);
	tok[n] = '\0';
	tok[strcspn(tok, "\r\n")] = '\0';
	n = strlen(tok);
	while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
		tok[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e) {
			lb_err_set(err, LB_EK_INPUT, 0, "token file %s: the token has a space or "
			           "control character", path);
			sodium_free(tok);
			return NULL;
		}
	if (!n) {
		lb_err_set(err, LB_EK_INPUT, 0, "token file %s is empty", path);
		sodium_free(tok);
		return NULL;
	}
	return tok;
}

static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		sodium_memzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* ---- one transfer with retries ---- */

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct reader *r = ud;
	size_t want = size * nmemb;

	if (r->f) {
		size_t got = fread(buf, 1, want, r->f);

		return ferror(r->f) ? CURL_READFUNC_ABORT : got;
	}
	if (want > r->len - r->off)
		want = r->len - r->off;
	memcpy(buf, r->data + r->off, want);
	r->off += want;
	return want;
}

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	(void)buf;
	(void)ud;
	return size * nmemb;
}

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

static void trace_add(const struct lb_upload_opts *o, const struct item *it, const char *url,
                      const char *status, long code, int attempts, const char *error)
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

static int send_item(const char *url, const struct item *it, const struct lb_upload_opts *o,
                     const char *token, struct lb_err *err)
{
	const int max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
	const double max_ms = (o->max_seconds > 0 ? o->max_seconds : 120) * 1000.0;
	const bool post = o->method && !strcasecmp(o->method, "POST");
	long delay = o->backoff_ms > 0 ? o->backoff_ms : 500;
	double t0 = mono_ms();
	struct curl_slist *hdr = NULL;
	char *red = lb_upload_redact(url), ebuf[CURL_ERROR_SIZE], line[UP_MAX_TOKEN + 64];
	struct reader rd = { .f = NULL, .data = it->data, .len = it->len, .off = 0 };
	curl_off_t size = (curl_off_t)it->len;
	CURL *h = curl_easy_init();
	long code = 0;
	int attempt, rc = -1;
	unsigned seed = (unsigned)getpid() ^ (unsigned)t0;

	if (!h || !red) {
		curl_easy_cleanup(h);
		free(red);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "upload");
	}
	if (it->path) {
		struct stat sb;

		rd.f = fopen(it->path, "rb");
		if (!rd.f || fstat(fileno(rd.f), &sb) || !S_ISREG(sb.st_mode)) {
			lb_err_set(err, LB_EK_INPUT, rd.f ? (S_ISREG(sb.st_mode) ? errno : EINVAL) : errno,
			           "%s", it->path);
			if (rd.f)
				fclose(rd.f);
			curl_easy_cleanup(h);
			free(red);
			trace_add(o, it, url, "failed", 0, 0, err->msg);
			return -1;
		}
		size = (curl_off_t)sb.st_size;
	}
	snprintf(line, sizeof(line), "Content-Type: %s", content_type(it->name));
	hdr = curl_slist_append(hdr, line);
	hdr = curl_slist_append(hdr, "Expect:");
	if (o->azure_blob)
		hdr = curl_slist_append(hdr, "x-ms-blob-type: BlockBlob");
	for (size_t i = 0; i < o->nheaders; i++)
		hdr = curl_slist_append(hdr, o->headers[i]);
	if (token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		hdr = curl_slist_append(hdr, line);
		sodium_memzero(line, sizeof(line));
	}
	for (attempt = 1; attempt <= max_attempts; attempt++) {
		double left = max_ms - (mono_ms() - t0);
		CURLcode cc;
		curl_off_t retry_after = 0;
		bool retry;

		if (rd.f && fseek(rd.f, 0, SEEK_SET)) {
			lb_err_set(err, LB_EK_IO, errno, "%s", it->path);
			break;
		}
		rd.off = 0;
		ebuf[0] = '\0';
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "loopbreaker/" LB_VERSION);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		if (o->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout > 0 ?
		                 o->connect_timeout : 10L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left > 1000 ? (long)left : 1000L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, &rd);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
		if (post) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
		} else {
			curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
		}
		cc = curl_easy_perform(h);
		code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (cc == CURLE_OK && code >= 200 && code < 300) {
			rc = 0;
			break;
		}
		if (cc == CURLE_OK) {
			retry = code >= 500 || code == 429 || code == 408;
			lb_err_set(err, retry ? LB_EK_IO : LB_EK_REFUSED, 0, "%s %s: HTTP %ld",
			           post ? "POST" : "PUT", red, code);
			curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
		} else {
			retry = transient(cc);
			lb_err_set(err, LB_EK_IO, 0, "%s %s: %s", post ? "POST" : "PUT", red,
			           ebuf[0] ? ebuf : curl_easy_strerror(cc));
		}
		if (!retry || attempt == max_attempts)
			break;
		{
			long wait = delay * 3 / 4 + (long)(rand_r(&seed) % (unsigned)(delay / 2 + 1));

			if (retry_after > 0 && retry_after * 1000 > wait)
				wait = retry_after > UP_MAX_BACKOFF_MS / 1000 ? UP_MAX_BACKOFF_MS
				                                              : (long)retry_after * 1000;
			if (mono_ms() - t0 + (double)wait >= max_ms) {
				lb_err_wrap(err, "giving up after %d attempts in %.0f s", attempt,
				            (mono_ms() - t0) / 1000.0);
				break;
			}
			if (o->log)
				fprintf(o->log, "upload: %s (attempt %d of %d); retrying in %.1f s\n",
				        err->msg, attempt, max_attempts, (double)wait / 1000.0);
			sleep_ms(wait);
			delay = delay * 2 > UP_MAX_BACKOFF_MS ? UP_MAX_BACKOFF_MS : delay * 2;
		}
	}
	if (attempt > max_attempts)
		attempt = max_attempts;
	trace_add(o, it, url, rc == 0 ? "sent" : "failed", code, attempt, rc == 0 ? NULL : err->msg);
	if (rc == 0)
		lb_err_clear(err);
	if (rd.f)
		fclose(rd.f);
	free_headers(hdr);
	curl_easy_cleanup(h);
	free(red);
	return rc;
}

/* ---- identity of a report: {hostname} and {time} ---- */

static void identity(const struct item *items, size_t n, const struct lb_upload_opts *o,
                     char *host, size_t hl, char stamp[20])
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

/* ---- the spool ---- */

/* out = a/b (b may hold a further '/'); -1 when it does not fit */
static int pjoin(char *out, size_t n, const char *a, const char *b)
{
	int k = snprintf(out, n, "%s/%s", a, b);

	return k < 0 || (size_t)k >= n ? -1 : 0;
}


static int copy_out(const struct item *it, const char *dst, struct lb_err *err)
{
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *in = NULL;
	char buf[65536];
	size_t n;
	int rc = 0;

	if (out < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	if (it->path) {
		in = fopen(it->path, "rb");
		if (!in)
			rc = lb_err_set(err, LB_EK_IO, errno, "%s", it->path);
		while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
			if (lb_write_all(out, buf, n))
				rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
		if (rc == 0 && ferror(in))
			rc = lb_err_set(err, LB_EK_IO, EIO, "%s", it->path);
		if (in)
			fclose(in);
	} else if (lb_write_all(out, it->data, it->len)) {
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	}
	if (rc == 0 && fsync(out))
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	close(out);
	return rc;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void remove_entry(const char *entry)
{
	char files[PATH_MAX], p[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (pjoin(files, sizeof(files), entry, "files"))
		return;
	d = opendir(files);
	if (d) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    pjoin(p, sizeof(p), files, de->d_name) == 0)
				unlink(p);
		closedir(d);
		rmdir(files);
	}
	if (pjoin(p, sizeof(p), entry, "meta.json") == 0)
		unlink(p);
	rmdir(entry);
}

/* Copies the unsent items into DIR/<time>-<host>-XXXXXX/ (files/ and meta.json). */
static int spool(const char *dir, const struct item *items, size_t n, const char *host,
                 const char *stamp, const char *why, char *out, size_t outlen,
                 struct lb_err *err)
{
	char tmp[PATH_MAX], p[PATH_MAX], safe[64], fin[PATH_MAX];
	json_t *meta, *files = json_array();
	time_t now = time(NULL);
	struct tm tm;
	char iso[32];
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof(safe) - 1 && host[i]; i++, k++)
		safe[k] = unreserved((unsigned char)host[i]) ? host[i] : '_';
	safe[k] = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST) {
		json_decref(files);
		return lb_err_set(err, LB_EK_IO, errno, "spool directory %s", dir);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir) >= sizeof(tmp) ||
	    !mkdtemp(tmp)) {
		json_decref(files);
		return lb_err_set(err, LB_EK_IO, errno, "spool directory %s", dir);
	}
	if (pjoin(p, sizeof(p), tmp, "files") || mkdir(p, 0700))
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", p);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (items[i].sent)
			continue;
		char fdir[PATH_MAX];

		if (pjoin(fdir, sizeof(fdir), tmp, "files") || pjoin(p, sizeof(p), fdir, items[i].name))
			rc = lb_err_set(err, LB_EK_IO, ENAMETOOLONG, "%s", tmp);
		else
			rc = copy_out(&items[i], p, err);
		json_array_append_new(files, json_pack("{s:s, s:b}", "name", items[i].name,
		                      "evidence", items[i].evidence));
	}
	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	meta = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "schema", "loopbreaker-spool/1",
	                 "hostname", host, "time", stamp, "spooled_at", iso, "files", files,
	                 "error", why);
	json_decref(files);
	if (rc == 0 && (pjoin(p, sizeof(p), tmp, "meta.json") || !meta ||
	                json_dump_file(meta, p, JSON_INDENT(1))))
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", p);
	json_decref(meta);
	snprintf(fin, sizeof(fin), "%s/%s-%s-%s", dir, stamp, safe, tmp + strlen(tmp) - 6);
	if (rc == 0) {
		if (pjoin(p, sizeof(p), tmp, "files") == 0)
			fsync_dir(p);
		fsync_dir(tmp);
		if (rename(tmp, fin))
			rc = lb_err_set(err, LB_EK_IO, errno, "%s", fin);
		fsync_dir(dir);
	}
	if (rc) {
		remove_entry(tmp);
		return -1;
	}
	if (out)
		snprintf(out, outlen, "%s", fin);
	return 0;
}

/* ---- sending a set of items ---- */

static int send_items(struct item *items, size_t n, const struct lb_upload_opts *o,
                      const char *host, const char *stamp, char *spooled, size_t spooled_len,
                      struct lb_err *err)
{
	char *token = NULL;
	int failed = 0;
	struct lb_err first;

	lb_err_clear(&first);
	if (curl_ready(err))
		return -1;
	/* usage errors before anything is sent */
	for (size_t i = 0; i < n; i++) {
		size_t tl = strlen(items[i].tmpl);

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
	}
	for (size_t i = 0; i < n; i++) {
		char *url = lb_upload_expand(items[i].tmpl, host, stamp, items[i].name, err);
		int rc;

		if (!url)
			return -1;
		rc = check_url(url, o->token_file != NULL, err);
		free(url);
		if (rc)
			return -1;
	}
	if (o->token_file && !(token = read_token(o->token_file, err)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *url = lb_upload_expand(items[i].tmpl, host, stamp, items[i].name, err);
		struct lb_err e;

		lb_err_clear(&e);
		if (failed && first.kind == LB_EK_IO) {
			/* the collector is down or broken: do not wait for it once per file */
			lb_err_set(&e, LB_EK_IO, 0, "not tried: %s", first.msg);
			trace_add(o, &items[i], url, "failed", 0, 0, e.msg);
			failed++;
			free(url);
			continue;
		}
		if (url && send_item(url, &items[i], o, token, &e) == 0) {
			items[i].sent = true;
		} else {
			if (!url)
				e = *err;
			if (o->log)
				fprintf(o->log, "upload: %s not sent: %s\n", items[i].name, e.msg);
			if (!failed)
				first = e;
			failed++;
		}
		free(url);
	}
	if (token)
		sodium_free(token);
	if (!failed)
		return 0;
	*err = first;
	if (!o->spool_dir)
		return -1;
	{
		struct lb_err serr;
		char why[sizeof(first.msg)];

		snprintf(why, sizeof(why), "%s", first.msg);
		lb_err_clear(&serr);
		if (spool(o->spool_dir, items, n, host, stamp, why, spooled, spooled_len, &serr)) {
			lb_err_set(err, serr.kind, 0, "%s; not spooled either: %s", why, serr.msg);
			return -1;
		}
		if (o->log)
			fprintf(o->log, "upload: %d file%s spooled in %s\n", failed, failed == 1 ? "" : "s",
			        o->spool_dir);
		if (json_is_array(o->trace)) {
			size_t k;
			json_t *t;

			json_array_foreach(o->trace, k, t)
				if (!strcmp(json_string_value(json_object_get(t, "status")), "failed"))
					json_object_set_new(t, "status", json_string("spooled"));
		}
	}
	return 1;
}

int lb_upload_files(const char *url, const char *const *files, size_t nfiles,
                    const struct lb_upload_opts *o, char *spooled, size_t spooled_len,
                    struct lb_err *err)
{
	struct item *items = calloc(nfiles ? nfiles : 1, sizeof(*items));
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
	rc = send_items(items, nfiles, o, host, stamp, spooled, spooled_len, err);
	free(items);
	return rc;
}

int lb_upload_report(const char *url, const char *report_path, const char *evidence_path,
                     const struct lb_upload_opts *o, struct lb_err *err)
{
	struct item items[2];
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
	return send_items(items, n, o, host, stamp, NULL, 0, err);
}

int lb_upload_buffer(const char *url, const char *name, const void *data, size_t len,
                     const struct lb_upload_opts *o, struct lb_err *err)
{
	struct item it = { .name = name, .path = NULL, .data = data, .len = len, .tmpl = url };
	char host[256], stamp[20];

	if (!*name || strchr(name, '/') || name[0] == '.')
		return lb_err_set(err, LB_EK_USAGE, 0, "bad upload name '%s'", name);
	identity(&it, 1, o, host, sizeof(host), stamp);
	return send_items(&it, 1, o, host, stamp, NULL, 0, err);
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

/* ---- flushing the spool ---- */

static int entry_filter(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static int flush_entry(const char *entry, const char *url, const struct lb_upload_opts *o,
                       struct lb_err *err)
{
	char p[PATH_MAX];
	json_t *meta, *files, *f;
	struct item *items;
	size_t n, i;
	const char *host, *stamp;
	int rc;

	meta = pjoin(p, sizeof(p), entry, "meta.json") ? NULL : json_load_file(p, 0, NULL);
	files = json_object_get(meta, "files");
	host = json_string_value(json_object_get(meta, "hostname"));
	stamp = json_string_value(json_object_get(meta, "time"));
	n = json_array_size(files);
	if (!meta || !n || !host || !stamp) {
		json_decref(meta);
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: not a spool entry (no meta.json)", entry);
	}
	items = calloc(n, sizeof(*items));
	if (!items) {
		json_decref(meta);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "spool");
	}
	rc = 0;
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));

		if (!name || !*name || strchr(name, '/') || name[0] == '.') {
			rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: bad file name in meta.json", entry);
			break;
		}
		if (asprintf((char **)&items[i].path, "%s/files/%s", entry, name) < 0) {
			items[i].path = NULL;
			rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "spool");
			break;
		}
		items[i].name = name;
		items[i].evidence = json_is_true(json_object_get(f, "evidence"));
		items[i].tmpl = json_is_true(json_object_get(f, "evidence")) && o->evidence_url ?
		                o->evidence_url : url;
	}
	if (rc == 0) {
		struct lb_upload_opts no_spool = *o;

		no_spool.spool_dir = NULL;
		rc = send_items(items, n, &no_spool, host, stamp, NULL, 0, err);
	}
	if (rc == 0)
		remove_entry(entry);
	for (i = 0; i < n; i++)
		free((char *)items[i].path);
	free(items);
	json_decref(meta);
	return rc;
}

int lb_upload_flush_spool(const char *dir, const char *url, const struct lb_upload_opts *o,
                          size_t *sent, size_t *left, struct lb_err *err)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, entry_filter, alphasort), i, rc = 0;

	*sent = *left = 0;
	if (n < 0) {
		if (errno == ENOENT)
			return 0; /* nothing was ever spooled */
		return lb_err_set(err, LB_EK_IO, errno, "spool directory %s", dir);
	}
	for (i = 0; i < n; i++) {
		char entry[PATH_MAX];
		struct stat sb;

		snprintf(entry, sizeof(entry), "%s/%s", dir, list[i]->d_name);
		if (rc || stat(entry, &sb) || !S_ISDIR(sb.st_mode)) {
			if (rc && !stat(entry, &sb) && S_ISDIR(sb.st_mode))
				(*left)++;
			continue;
		}
		if (flush_entry(entry, url, o, err) == 0) {
			(*sent)++;
			if (o->log)
				fprintf(o->log, "upload: sent spooled %s\n", list[i]->d_name);
		} else {
			(*left)++;
			if (o->log)
				fprintf(o->log, "upload: spooled %s not sent: %s\n", list[i]->d_name,
				        err->msg);
			if (err->kind == LB_EK_USAGE || err->kind == LB_EK_INTERNAL)
				rc = -1;
			else if (err->kind != LB_EK_INPUT)
				rc = 1; /* the collector is not reachable: try again later */
		}
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (rc < 0)
		return -1;
	return *left ? 1 : 0;
}
