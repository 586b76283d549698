/* lb_report.c - report output. */
#include "lb_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lb_report_write(json_t *report, const char *path, struct lb_err *err)
{
	char tmp[4096];
	char *text = json_dumps(report, JSON_INDENT(2));
	size_t len, off = 0;
	int fd;

	if (!text)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "report");
	len = strlen(text);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return lb_err_set(err, LB_EK_IO, errno, "report %s", tmp);
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;

			close(fd);
			unlink(tmp);
			free(text);
			return lb_err_set(err, LB_EK_IO, e, "report %s", tmp);
		}
		off += (size_t)w;
	}
	free(text);
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		int e = errno;

		close(fd);
		unlink(tmp);
		return lb_err_set(err, LB_EK_IO, e, "report %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return lb_err_set(err, LB_EK_IO, e, "report %s", path);
	}
	return 0;
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

void lb_report_summary(json_t *r, FILE *out)
{
	json_t *t, *v, *in, *f, *reason;
	size_t i, j, k, m;
	int nvol = 0;

	fprintf(out, "loopbreaker %s %s (%s)\n", s(json_object_get(r, "tool"), "version"),
	        s(r, "mode"), json_string_value(json_array_get(json_object_get(r, "playbooks"), 0))
	        ? json_string_value(json_array_get(json_object_get(r, "playbooks"), 0)) : "");
	json_array_foreach(json_object_get(r, "targets"), i, t) {
		if (json_is_string(json_object_get(t, "error"))) {
			const char *e = s(t, "error"), *p = s(t, "path");
			size_t pl = strlen(p);

			/* the message usually starts with the path already */
			if (!strncmp(e, p, pl) && e[pl] == ':')
				fprintf(out, "%s: ERROR:%s\n", p, e + pl + 1);
			else
				fprintf(out, "%s: ERROR: %s\n", p, e);
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
			json_array_foreach(json_object_get(v, "reasons"), k, reason)
				fprintf(out, "    ! %s\n", json_string_value(reason));
		}
	}
	json_array_foreach(json_object_get(r, "reasons"), k, reason)
		fprintf(out, "! %s\n", json_string_value(reason));
	if (json_is_object(json_object_get(r, "evidence")))
		fprintf(out, "evidence: %s\n", s(json_object_get(r, "evidence"), "path"));
	fprintf(out, "RESULT: %s%s%s (%d volume%s checked, exit %lld)\n", upper_status(s(r, "status")),
	        s(r, "hostname")[0] ? " - " : "", s(r, "hostname"), nvol, nvol == 1 ? "" : "s",
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
