/* upload_url.c - URL templates ({hostname}, {time}, {file}, percent-encoded
 * with curl_easy_escape), redaction for logs, and the URLs allowed (see
 * lb_upload.h). */
#include "upload_int.h"

#include <curl/curl.h>
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
		esc = curl_easy_escape(NULL, val, (int)strlen(val));
		rc = esc ? append(&out, &n, esc, strlen(esc)) : -1;
		curl_free(esc);
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
