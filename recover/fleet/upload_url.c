/* upload_url.c - URL templates ({hostname}, {time}, {file}, percent-encoded
 * as curl_easy_escape does, without libcurl), redaction for logs, and the
 * URLs allowed (libcurl's URL parser, see lb_upload.h). */
#include "upload_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The placeholder at t ("{hostname}"...): its value (NULL: "") and length;
 * 0 when t starts no known placeholder. */
static size_t placeholder(const char *t, const char *hostname, const char *time,
                          const char *file, const char **val)
{
	static const char *const names[] = { "{hostname}", "{time}", "{file}" };
	const char *vals[] = { hostname, time, file };

	for (int i = 0; i < 3; i++)
		if (!strncmp(t, names[i], strlen(names[i]))) {
			*val = vals[i] ? vals[i] : "";
			return strlen(names[i]);
		}
	return 0;
}

/* s percent-encoded like curl_easy_escape: every byte but A-Z a-z 0-9
 * - . _ ~ as %XX (upper-case hex); malloc'd, NULL out of memory. */
static char *escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Appends n bytes of s to the malloc'd *out (length *len); -1 out of memory. */
static int append(char **out, size_t *len, const char *s, size_t n)
{
	char *no = realloc(*out, *len + n + 1);

	if (!no)
		return -1;
	memcpy(no + *len, s, n);
	*len += n;
	no[*len] = '\0';
	*out = no;
	return 0;
}

char *lb_upload_expand(const char *tmpl, const char *hostname, const char *time,
                       const char *file, struct lb_err *err)
{
	static const char implied[] = "{hostname}-{time}-{file}";
	size_t tl = strlen(tmpl), n = 0;
	char *out = calloc(1, 1), *full = NULL;
	const char *t = tmpl;
	int rc = out ? 0 : -1;

	if (tl && tmpl[tl - 1] == '/') {
		if (asprintf(&full, "%s%s", tmpl, implied) < 0) {
			full = NULL;
			rc = -1;
		}
		t = full;
	}
	while (rc == 0 && *t) {
		size_t lit = strcspn(t, "{"), skip;
		const char *val = NULL;
		char *esc;

		rc = append(&out, &n, t, lit);
		t += lit;
		if (rc || !*t)
			break;
		skip = placeholder(t, hostname, time, file, &val);
		if (!skip) {
			lb_err_set(err, LB_EK_USAGE, 0, "unknown placeholder in URL at '%.20s' "
			           "(known: {hostname}, {time}, {file})", t);
			free(out);
			free(full);
			return NULL;
		}
		esc = escape(val);
		rc = esc ? append(&out, &n, esc, strlen(esc)) : -1;
		free(esc);
		t += skip;
	}
	free(full);
	if (rc) {
		free(out);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "URL");
		return NULL;
	}
	return out;
}

static bool loopback_host(const char *h)
{
	return !strcasecmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "[::1]") ||
	       !strcmp(h, "::1");
}

int lb_upload_check_url(const char *url, bool token, struct lb_err *err)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	char *red;
	int rc = 0;

	if (lb_upload_curl_ready(err))
		return -1;
	u = lb_curl.url();
	red = lb_upload_redact(url);
	if (!u || !red) {
		lb_curl.url_cleanup(u);
		free(red);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "URL");
	}
	if (lb_curl.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    lb_curl.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    lb_curl.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		rc = lb_err_set(err, LB_EK_USAGE, 0, "not a valid URL: %s", red);
	else if (strcasecmp(scheme, "https") && strcasecmp(scheme, "http"))
		rc = lb_err_set(err, LB_EK_USAGE, 0, "only http and https URLs: %s", red);
	else if (token && strcasecmp(scheme, "https") && !loopback_host(host))
		rc = lb_err_set(err, LB_EK_USAGE, 0, "refusing to send a bearer token over plain "
		                "http to %s (use https)", host);
	lb_curl.free(scheme);
	lb_curl.free(host);
	lb_curl.url_cleanup(u);
	free(red);
	return rc;
}
