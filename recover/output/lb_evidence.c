/* lb_evidence.c - evidence bundles with libarchive (dlopen()ed on the first
 * bundle: lb_archive.h). */
#include "lb_evidence.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_archive.h"
#include "lb_bytes.h"
#include "lb_file.h"

void lb_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	lb_hex(h, sizeof(h), out);
}

static int file_sha256(int fd, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	unsigned char buf[65536];
	ssize_t r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	crypto_hash_sha256_init(&st);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
	if (r < 0)
		return -1;
	crypto_hash_sha256_final(&st, h);
	lb_hex(h, sizeof(h), out);
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

const char lb_evidence_suffixes[] = ".tar.zst, .tar.xz, .tar.gz, .tgz, .tar or .zip";

bool lb_evidence_suffix_ok(const char *path)
{
	static const char *const ok[] = { ".tar.zst", ".tar.xz", ".tar.gz", ".tgz", ".tar", ".zip" };

	for (size_t i = 0; path && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ends_with(path, ok[i]) && strlen(path) > strlen(ok[i]))
			return true;
	return false;
}

static int add_entry(struct archive *a, const char *name, const void *data, size_t len,
                     int64_t mtime, struct lb_err *err)
{
	struct archive_entry *e = lb_arc.entry_new();
	int rc = 0;

	if (!e)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "evidence entry");
	lb_arc.entry_set_pathname(e, name);
	lb_arc.entry_set_size(e, (la_int64_t)len);
	lb_arc.entry_set_filetype(e, AE_IFREG);
	lb_arc.entry_set_perm(e, 0600);
	lb_arc.entry_set_mtime(e, (time_t)mtime, 0);
	if (lb_arc.write_header(a, e) != ARCHIVE_OK)
		rc = lb_err_set(err, LB_EK_IO, 0, "evidence: %s: %s", name, lb_arc.error_string(a));
	else if (len && lb_arc.write_data(a, data, len) != (la_ssize_t)len)
		rc = lb_err_set(err, LB_EK_IO, 0, "evidence: %s: %s", name, lb_arc.error_string(a));
	lb_arc.entry_free(e);
	return rc;
}

/* The archive writer for path's suffix, on fd: NULL with err. */
static struct archive *open_archive(const char *path, int fd, struct lb_err *err)
{
	struct archive *a = lb_arc.write_new();

	if (!a) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "evidence");
		return NULL;
	}
	if (ends_with(path, ".zip")) {
		lb_arc.write_set_format_zip(a);
	} else {
		lb_arc.write_set_format_pax_restricted(a);
		if (ends_with(path, ".tar.xz"))
			lb_arc.write_add_filter_xz(a);
		else if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz"))
			lb_arc.write_add_filter_gzip(a);
		else if (ends_with(path, ".tar.zst") && lb_arc.write_add_filter_zstd(a) != ARCHIVE_OK) {
			lb_err_set(err, LB_EK_INTERNAL, 0, "evidence: zstd: %s", lb_arc.error_string(a));
			lb_arc.write_free(a);
			return NULL;
		}
	}
	if (lb_arc.write_open_fd(a, fd) != ARCHIVE_OK) {
		lb_err_set(err, LB_EK_IO, 0, "evidence %s: %s", path, lb_arc.error_string(a));
		lb_arc.write_free(a);
		return NULL;
	}
	return a;
}

/* manifest.json (header plus the entries), then every member. */
static int write_members(struct archive *a, json_t *header, struct lb_evidence_item *items,
                         size_t n, struct lb_err *err)
{
	json_t *manifest = json_deep_copy(header), *entries = json_array();
	char *mtext = NULL;
	int rc = -1;

	if (!manifest || !entries) {
		json_decref(entries);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "evidence manifest");
		goto out;
	}
	json_object_set_new(manifest, "entries", entries);
	for (size_t i = 0; i < n; i++) {
		char ap[1024];

		snprintf(ap, sizeof(ap), "files/%03zu/%s", i + 1, items[i].name);
		json_object_set_new(items[i].meta, "archive_path", json_string(ap));
		json_array_append(entries, items[i].meta);
	}
	mtext = json_dumps(manifest, JSON_INDENT(2));
	if (!mtext) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "evidence manifest");
		goto out;
	}
	if (add_entry(a, "manifest.json", mtext, strlen(mtext), (int64_t)time(NULL), err))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *ap = json_string_value(json_object_get(items[i].meta, "archive_path"));

		if (add_entry(a, ap, items[i].data, items[i].len, items[i].mtime_unix, err))
			goto out;
	}
	rc = 0;
out:
	free(mtext);
	json_decref(manifest);
	return rc;
}

int lb_evidence_write(const char *path, json_t *header, struct lb_evidence_item *items,
                      size_t n, char *tmp, size_t tmplen, char sha256_hex[65],
                      struct lb_err *err)
{
	struct archive *a = NULL;
	struct stat st;
	int fd, rc = -1;

	if (!lb_evidence_suffix_ok(path))
		return lb_err_set(err, LB_EK_USAGE, 0, "evidence bundle %s: unknown type (its name must "
		                  "end in %s)", path, lb_evidence_suffixes);
	if (lstat(path, &st) == 0)
		return lb_err_set(err, LB_EK_USAGE, EEXIST, "evidence bundle %s", path);
	if (lb_archive_ready(err))
		return -1; /* "an evidence bundle needs libarchive.so.13 (…)" */
	if ((size_t)snprintf(tmp, tmplen, "%s.partial-XXXXXX", path) >= tmplen)
		return lb_err_set(err, LB_EK_USAGE, ENAMETOOLONG, "evidence bundle %s", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "evidence bundle %s", path);
	a = open_archive(path, fd, err);
	if (!a || write_members(a, header, items, n, err))
		goto out;
	if (lb_arc.write_close(a) != ARCHIVE_OK) {
		lb_err_set(err, LB_EK_IO, 0, "evidence %s: %s", path, lb_arc.error_string(a));
		goto out;
	}
	/* Durable before any target is touched: the file, then (after the
	 * rename, lb_evidence_commit) its directory entry. */
	if (fsync(fd) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "evidence %s: fsync", path);
		goto out;
	}
	if (file_sha256(fd, sha256_hex) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "evidence %s: re-reading", path);
		goto out;
	}
	rc = 0;
out:
	if (a)
		lb_arc.write_free(a);
	close(fd);
	if (rc)
		unlink(tmp); /* an incomplete bundle is not evidence */
	return rc;
}

int lb_evidence_commit(const char *tmp, const char *path, struct lb_err *err)
{
	/* never replace: a file that appeared under the final name since the
	 * check is someone else's bundle */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
			return lb_err_set(err, errno == EEXIST ? LB_EK_USAGE : LB_EK_IO, errno,
			                  "evidence bundle %s", path);
		/* a file system without RENAME_NOREPLACE: link, then unlink */
		if (link(tmp, path) < 0)
			return lb_err_set(err, errno == EEXIST ? LB_EK_USAGE : LB_EK_IO, errno,
			                  "evidence bundle %s", path);
		unlink(tmp);
	}
	if (lb_fsync_parent(path, err)) {
		lb_err_wrap(err, "evidence %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

void lb_evidence_discard(const char *tmp)
{
	if (tmp && tmp[0])
		unlink(tmp);
}
