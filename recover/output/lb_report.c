/* lb_report.c - report output. */
#include "lb_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_file.h"
#include "lb_text.h"

static size_t redact_string(json_t *str)
{
	const char *v = json_string_value(str);
	size_t n = 0;
	char *copy;

	if (!v || !(copy = strdup(v)))
		return 0;
	n = lb_redact_digits(copy);
	if (n)
		json_string_set(str, copy);
	free(copy);
	return n;
}

size_t lb_report_redact(json_t *report)
{
	size_t n = 0, i;
	const char *key;
	json_t *v, *e;
	void *tmp;

	if (json_is_string(report))
		return redact_string(report);
	if (json_is_array(report)) {
		json_array_foreach(report, i, e)
			n += lb_report_redact(e);
		return n;
	}
	if (!json_is_object(report))
		return 0;
	json_object_foreach_safe(report, tmp, key, v) {
		char *k = strdup(key);

		n += lb_report_redact(v);
		if (k && lb_redact_digits(k)) {
			/* a key that is itself a run of digits: keep the value */
			json_object_set(report, k, v);
			json_object_del(report, key);
			n++;
		}
		free(k);
	}
	return n;
}

int lb_report_check_writable(const char *path, struct lb_err *err)
{
	char tmp[4200];
	struct stat st;
	int fd;

	if (!path[0] || path[strlen(path) - 1] == '/' ||
	    (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return lb_err_set(err, LB_EK_USAGE, EISDIR, "report %s: a directory, not a file",
		                  path);
	/* the name lb_replace_file will write first, in the same directory */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return lb_err_set(err, LB_EK_USAGE, ENAMETOOLONG, "report %s", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return lb_err_set(err, LB_EK_USAGE, errno, "report %s cannot be written", path);
	close(fd);
	unlink(tmp);
	return 0;
}

int lb_report_write(json_t *report, const char *path, struct lb_err *err)
{
	char *text, *nl;
	size_t len;
	int rc;

	lb_report_redact(report);
	text = json_dumps(report, JSON_INDENT(2));
	if (!text)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "report");
	len = strlen(text);
	nl = realloc(text, len + 2);
	if (!nl) {
		free(text);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "report");
	}
	nl[len++] = '\n';
	nl[len] = '\0';
	rc = lb_replace_file(path, nl, len, 0644, err);
	free(nl);
	return rc ? lb_err_wrap(err, "report") : 0;
}

static const char *s(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

static const char *upper_status(const char *st)
{
	if (!strcmp(st, "fixed")) return "FIXED";
	if (!strcmp(st, "clean")) return "CLEAN";
	if (!strcmp(st, "needs_attention")) return "NEEDS ATTENTION";
	if (!strcmp(st, "error")) return "ERROR";
	return st;
}

/* Which protector opened a BitLocker volume: its key is to be rotated. */
static void bitlocker_line(json_t *bl, FILE *out)
{
	json_t *w = json_object_get(bl, "unlocked_with");

	if (json_is_true(json_object_get(bl, "unlocked")) && json_is_object(w))
		fprintf(out, "    BitLocker: unlocked with protector %s (key from %s): rotate it\n",
		        s(w, "protector"), s(w, "source"));
}

/* A run over several machines: one line each, "N machines" for RESULT. */
static void machines_summary(json_t *r, FILE *out)
{
	json_t *m;
	size_t i, n = json_array_size(json_object_get(r, "machines"));

	json_array_foreach(json_object_get(r, "machines"), i, m)
		fprintf(out, "machine %zu/%zu: %s %s%s%s\n", i + 1, n,
		        s(m, "hostname")[0] ? s(m, "hostname") : "(unknown host)",
		        upper_status(s(m, "status")), s(m, "report")[0] ? " - report " : "",
		        s(m, "report"));
}

void lb_report_summary(json_t *r, FILE *out)
{
	json_t *t, *v, *in, *f, *reason;
	size_t i, j, k, m;
	int nvol = 0;
	size_t nmach = json_array_size(json_object_get(r, "machines"));
	char who[300] = "";

	lb_report_redact(r);
	fprintf(out, "loopbreaker %s %s (%s)\n", s(json_object_get(r, "tool"), "version"),
	        s(r, "mode"), json_string_value(json_array_get(json_object_get(r, "playbooks"), 0))
	        ? json_string_value(json_array_get(json_object_get(r, "playbooks"), 0)) : "");
	json_array_foreach(json_object_get(r, "targets"), i, t) {
		if (json_is_string(json_object_get(t, "error"))) {
			const char *e = s(t, "error"), *p = s(t, "path");
			size_t pl = strlen(p);

			/* the message usually starts with the path already */
			const char *st = s(t, "status")[0] ? upper_status(s(t, "status")) : "ERROR";

			/* NEEDS ATTENTION: refused, e.g. in use by another program */
			if (!strncmp(e, p, pl) && e[pl] == ':')
				fprintf(out, "%s: %s:%s\n", p, st, e + pl + 1);
			else
				fprintf(out, "%s: %s: %s\n", p, st, e);
		}
		json_array_foreach(json_object_get(t, "volumes"), j, v) {
			const char *fs = s(v, "filesystem");
			json_t *insts = json_object_get(v, "installs");

			if (!fs[0] && !json_array_size(json_object_get(v, "reasons")))
				continue; /* MSR and other unformatted partitions */
			nvol++;
			fprintf(out, "%s p%lld %s%s%s%s: %s", s(v, "device"),
			        (long long)json_integer_value(json_object_get(v, "partition")),
			        fs[0] ? fs : "unknown", s(v, "label")[0] ? " \"" : "", s(v, "label"),
			        s(v, "label")[0] ? "\"" : "", upper_status(s(v, "status")));
			if (!json_array_size(insts) && !strcmp(fs, "ntfs"))
				fprintf(out, " - no Windows");
			fprintf(out, "\n");
			json_array_foreach(insts, k, in) {
				fprintf(out, "    %s %s", s(in, "system_root"),
				        s(in, "hostname")[0] ? s(in, "hostname") : "(unknown host)");
				if (s(in, "product_name")[0])
					fprintf(out, " %s", s(in, "product_name"));
				if (s(in, "build")[0])
					fprintf(out, " build %s", s(in, "build"));
				fprintf(out, "\n");
				json_array_foreach(json_object_get(in, "findings"), m, f) {
					fprintf(out, "      %-10s %s %s  %s", s(f, "verdict"), s(f, "mtime"),
					        s(f, "path"), s(f, "action"));
					if (s(f, "quarantine_path")[0])
						fprintf(out, " -> %s", s(f, "quarantine_path"));
					fprintf(out, "\n");
				}
			}
			bitlocker_line(json_object_get(v, "bitlocker"), out);
			json_array_foreach(json_object_get(v, "reasons"), k, reason)
				fprintf(out, "    ! %s\n", json_string_value(reason));
		}
	}
	json_array_foreach(json_object_get(r, "reasons"), k, reason)
		fprintf(out, "! %s\n", json_string_value(reason));
	if (json_is_object(json_object_get(r, "evidence")))
		fprintf(out, "evidence: %s\n", s(json_object_get(r, "evidence"), "path"));
	machines_summary(r, out);
	if (nmach > 1)
		snprintf(who, sizeof(who), " - %zu machines", nmach);
	else if (s(r, "hostname")[0])
		snprintf(who, sizeof(who), " - %s", s(r, "hostname"));
	fprintf(out, "RESULT: %s%s (%d volume%s checked, exit %lld)\n", upper_status(s(r, "status")),
	        who, nvol, nvol == 1 ? "" : "s",
	        (long long)json_integer_value(json_object_get(r, "exit_code")));
}

const char *lb_report_time(const char *s, struct tm *tm)
{
	int y, mo, d, h, mi, sec, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    !n || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return NULL;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_sec = sec;
	return s + n;
}
