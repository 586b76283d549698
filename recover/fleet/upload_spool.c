/* upload_spool.c - the offline spool: what could not be sent is copied into
 * DIR/<time>-<host>-XXXXXX/ (files/ and meta.json, written in a hidden
 * temporary directory, fsync'd, then renamed into place); flushing sends
 * every entry and removes what was sent (see lb_upload.h, docs/fleet.md
 * "The offline spool"). */
#include "upload_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_file.h"

/* out = a/b (b may hold a further '/'); -1 when it does not fit */
static int pjoin(char *out, size_t n, const char *a, const char *b)
{
	int k = snprintf(out, n, "%s/%s", a, b);

	return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* ---- writing an entry ---- */

/* A file is streamed (an evidence bundle can be large), a buffer written
 * with lb_replace_file; both end fsync'd, and so does their directory. */
static int copy_out(const struct lb_upload_item *it, const char *dst, struct lb_err *err)
{
	char buf[65536];
	FILE *in;
	size_t n;
	int out, rc = 0;

	if (!it->path)
		return lb_replace_file(dst, it->data, it->len, 0600, err);
	in = fopen(it->path, "rb");
	if (!in)
		return lb_err_set(err, LB_EK_IO, errno, "%s", it->path);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (lb_write_all(out, buf, n))
			rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	if (rc == 0 && ferror(in))
		rc = lb_err_set(err, LB_EK_IO, EIO, "%s", it->path);
	if (rc == 0 && fsync(out))
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", dst);
	if (out >= 0)
		close(out);
	fclose(in);
	return rc ? rc : lb_fsync_parent(dst, err);
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

/* tmp/files/<name> for every unsent item; their names into names. */
static int spool_files(const char *tmp, const struct lb_upload_item *items, size_t n,
                       json_t *names, struct lb_err *err)
{
	char fdir[PATH_MAX], p[PATH_MAX];

	if (pjoin(fdir, sizeof(fdir), tmp, "files"))
		return lb_err_set(err, LB_EK_IO, ENAMETOOLONG, "%s", tmp);
	if (mkdir(fdir, 0700))
		return lb_err_set(err, LB_EK_IO, errno, "%s", fdir);
	for (size_t i = 0; i < n; i++) {
		if (items[i].sent)
			continue;
		if (pjoin(p, sizeof(p), fdir, items[i].name))
			return lb_err_set(err, LB_EK_IO, ENAMETOOLONG, "%s", fdir);
		if (copy_out(&items[i], p, err))
			return -1;
		json_array_append_new(names, json_pack("{s:s, s:b}", "name", items[i].name,
		                      "evidence", items[i].evidence));
	}
	return 0;
}

/* tmp/meta.json: loopbreaker-spool/1 */
static int spool_meta(const char *tmp, json_t *names, const char *host, const char *stamp,
                      const char *why, struct lb_err *err)
{
	char p[PATH_MAX], iso[32], *text = NULL;
	time_t now = time(NULL);
	struct tm tm;
	json_t *meta;
	int rc;

	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	meta = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "schema", "loopbreaker-spool/1",
	                 "hostname", host, "time", stamp, "spooled_at", iso, "files", names,
	                 "error", why);
	text = meta ? json_dumps(meta, JSON_INDENT(1)) : NULL;
	json_decref(meta);
	if (pjoin(p, sizeof(p), tmp, "meta.json"))
		rc = lb_err_set(err, LB_EK_IO, ENAMETOOLONG, "%s", tmp);
	else if (!text)
		rc = lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", p);
	else
		rc = lb_replace_file(p, text, strlen(text), 0600, err);
	free(text);
	return rc;
}

int lb_upload_spool(const char *dir, const struct lb_upload_item *items, size_t n,
                    const char *host, const char *stamp, const char *why, char *out,
                    size_t outlen, struct lb_err *err)
{
	char tmp[PATH_MAX], safe[64], fin[PATH_MAX];
	json_t *names = json_array();
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < sizeof(safe) - 1 && host[i]; i++, k++) {
		char c = host[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || strchr("-._~", c);

		safe[k] = ok ? c : '_';
	}
	safe[k] = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST) {
		json_decref(names);
		return lb_err_set(err, LB_EK_IO, errno, "spool directory %s", dir);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir) >= sizeof(tmp) ||
	    !mkdtemp(tmp)) {
		json_decref(names);
		return lb_err_set(err, LB_EK_IO, errno, "spool directory %s", dir);
	}
	rc = spool_files(tmp, items, n, names, err);
	if (rc == 0)
		rc = spool_meta(tmp, names, host, stamp, why, err);
	json_decref(names);
	snprintf(fin, sizeof(fin), "%s/%s-%s-%s", dir, stamp, safe, tmp + strlen(tmp) - 6);
	if (rc == 0 && rename(tmp, fin))
		rc = lb_err_set(err, LB_EK_IO, errno, "%s", fin);
	if (rc == 0)
		rc = lb_fsync_parent(fin, err);
	if (rc) {
		remove_entry(tmp);
		return -1;
	}
	if (out)
		snprintf(out, outlen, "%s", fin);
	return 0;
}

/* ---- flushing the spool ---- */

static int entry_filter(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* The items of an entry from its meta.json (paths malloc'd). */
static struct lb_upload_item *entry_items(const char *entry, json_t *files, const char *url,
                                          const struct lb_upload_opts *o, struct lb_err *err)
{
	size_t n = json_array_size(files), i;
	struct lb_upload_item *items = calloc(n, sizeof(*items));
	json_t *f;

	if (!items) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "spool");
		return NULL;
	}
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		char *path;

		if (!name || !*name || strchr(name, '/') || name[0] == '.') {
			lb_err_set(err, LB_EK_INPUT, 0, "%s: bad file name in meta.json", entry);
			break;
		}
		if (asprintf(&path, "%s/files/%s", entry, name) < 0) {
			lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "spool");
			break;
		}
		items[i].path = path;
		items[i].name = name;
		items[i].evidence = json_is_true(json_object_get(f, "evidence"));
		items[i].tmpl = items[i].evidence && o->evidence_url ? o->evidence_url : url;
	}
	if (i < n) {
		for (size_t j = 0; j < i; j++)
			free((char *)items[j].path);
		free(items);
		return NULL;
	}
	return items;
}

static int flush_entry(const char *entry, const char *url, const struct lb_upload_opts *o,
                       struct lb_err *err)
{
	char p[PATH_MAX];
	json_t *meta, *files;
	struct lb_upload_item *items;
	struct lb_upload_opts no_spool = *o;
	const char *host, *stamp;
	size_t n;
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
	items = entry_items(entry, files, url, o, err);
	if (!items) {
		json_decref(meta);
		return -1;
	}
	no_spool.spool_dir = NULL;
	rc = lb_upload_items(items, n, &no_spool, host, stamp, NULL, 0, err);
	if (rc == 0)
		remove_entry(entry);
	for (size_t i = 0; i < n; i++)
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
		if (stat(entry, &sb) || !S_ISDIR(sb.st_mode))
			continue;
		if (rc) {
			(*left)++; /* not tried: an earlier entry could not be sent */
			continue;
		}
		if (flush_entry(entry, url, o, err) == 0) {
			(*sent)++;
			if (o->log)
				fprintf(o->log, "upload: sent spooled %s\n", list[i]->d_name);
			continue;
		}
		(*left)++;
		if (o->log)
			fprintf(o->log, "upload: spooled %s not sent: %s\n", list[i]->d_name, err->msg);
		if (err->kind == LB_EK_USAGE || err->kind == LB_EK_INTERNAL)
			rc = -1;
		else if (err->kind != LB_EK_INPUT)
			rc = 1; /* the collector is not reachable: try again later */
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (rc < 0)
		return -1;
	return *left ? 1 : 0;
}
