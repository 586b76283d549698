/* lb_playbook_hive.c - registry edits on private copies and the safe
 * on-volume hive swap, shared by the engine (fix) and undo. */
#include "lb_playbook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_evidence.h"
#include "lb_file.h"
#include "lb_hivedit.h"
#include "lb_ntfs.h"
#include "lb_text.h"

#define HIVE_MAX (1024ULL * 1024 * 1024)

/* A fresh private temporary file (never an existing one) with data.  No
 * fsync: it lives under $TMPDIR for the length of one edit and is removed
 * afterwards; nothing durable depends on it. */
static int write_file(const char *path, const uint8_t *data, size_t len, struct lb_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", path);
	if (lb_write_all(fd, data, len) < 0) {
		int e = errno;

		close(fd);
		return lb_err_set(err, LB_EK_IO, e, "writing %s", path);
	}
	if (close(fd))
		return lb_err_set(err, LB_EK_IO, errno, "%s", path);
	return 0;
}

int lb_hive_read_local(const char *path, uint8_t **out, size_t *len, struct lb_err *err)
{
	if (lb_read_file(path, HIVE_MAX, out, len, err) == 0)
		return 0;
	/* a file this program just wrote that cannot be read back: I/O */
	if (err && err->kind != LB_EK_INTERNAL)
		err->kind = LB_EK_IO;
	return -1;
}

int lb_hive_copy_open(const uint8_t *hive, size_t len, struct lb_hive_copy *hc,
                      struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");

	memset(hc, 0, sizeof(*hc));
	hc->he = calloc(1, sizeof(*hc->he));
	if (!hc->he)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "hive copy");
	snprintf(hc->dir, sizeof(hc->dir), "%s/loopbreaker-hive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(hc->dir)) {
		free(hc->he);
		hc->he = NULL;
		hc->dir[0] = 0;
		return lb_err_set(err, LB_EK_IO, errno, "creating a temporary directory in %s",
		                  tmp && *tmp ? tmp : "/tmp");
	}
	snprintf(hc->path, sizeof(hc->path), "%s/hive", hc->dir);
	if (write_file(hc->path, hive, len, err) || lb_hivedit_open(hc->path, hc->he, err)) {
		free(hc->he);
		hc->he = NULL;
		lb_hive_copy_close(hc);
		return -1;
	}
	return 0;
}

void lb_hive_copy_close(struct lb_hive_copy *hc)
{
	if (hc->he) {
		lb_hivedit_close(hc->he);
		free(hc->he);
		hc->he = NULL;
	}
	if (hc->path[0])
		unlink(hc->path);
	if (hc->dir[0])
		rmdir(hc->dir);
	hc->path[0] = hc->dir[0] = 0;
}

int lb_hive_apply_edits(const uint8_t *hive, size_t len, const struct lb_reg_edit *e, size_t n,
                        uint8_t **out, size_t *out_len, struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], in[4200], res[4200];
	struct lb_hivedit he;
	int rc = -1;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/loopbreaker-hive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return lb_err_set(err, LB_EK_IO, errno, "creating a temporary directory in %s",
		                  tmp && *tmp ? tmp : "/tmp");
	snprintf(in, sizeof(in), "%s/hive", dir);
	snprintf(res, sizeof(res), "%s/hive.new", dir);
	memset(&he, 0, sizeof(he));
	if (write_file(in, hive, len, err) || lb_hivedit_open(in, &he, err))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int r;

		if (e[i].new_present)
			r = lb_hivedit_set_raw(&he, e[i].key, e[i].value, e[i].new_type, e[i].new_data,
			                       e[i].new_len, e[i].create_key ? LB_HIVEDIT_CREATE_KEYS : 0,
			                       NULL, err);
		else
			r = lb_hivedit_delete_value(&he, e[i].key, e[i].value, NULL, err);
		if (r < 0)
			goto out_close;
	}
	if (lb_hivedit_commit(&he, res, err) || lb_hive_read_local(res, out, out_len, err))
		goto out_close;
	rc = 0;
out_close:
	lb_hivedit_close(&he);
out:
	unlink(res);
	unlink(in);
	rmdir(dir);
	return rc;
}

static int verify_sha(struct lb_ntfs *ntfs, const char *path, const char *sha, struct lb_err *err)
{
	uint8_t *d;
	uint64_t l;
	char now[65];

	if (lb_ntfs_read_all(ntfs, path, HIVE_MAX, &d, &l, err))
		return -1;
	lb_sha256_hex(d, (size_t)l, now);
	free(d);
	if (strcmp(now, sha))
		return lb_err_set(err, LB_EK_IO, 0, "%s: bytes read back do not match what was written",
		                  path);
	return 0;
}

/* A free name base.suffix, base.suffix.1 ... */
static int free_name(struct lb_ntfs *ntfs, const char *base, const char *suffix, char *out,
                     size_t n, struct lb_err *err)
{
	struct lb_ntfs_stat st;

	for (int i = 0; i < 100; i++) {
		int rc;

		if (i == 0)
			snprintf(out, n, "%s.%s", base, suffix);
		else
			snprintf(out, n, "%s.%s.%d", base, suffix, i);
		rc = lb_ntfs_stat(ntfs, out, &st, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return 0;
	}
	return lb_err_set(err, LB_EK_REFUSED, 0, "%s: no free backup name", base);
}

int lb_hive_swap(struct lb_ntfs *ntfs, const char *hive_path, const uint8_t *data, size_t len,
                 const char *new_sha, const char *suffix, const struct lb_ntfs_stat *times,
                 char *backup, size_t nbackup, struct lb_err *err)
{
	char newp[1100], bak[1100];
	struct lb_ntfs_stat st;
	int rc;

	snprintf(newp, sizeof(newp), "%s.loopbreaker-new", hive_path);
	rc = lb_ntfs_stat(ntfs, newp, &st, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && lb_ntfs_unlink(ntfs, newp, err)) /* left by an earlier, cut-off run */
		return -1;
	if (lb_ntfs_create_file(ntfs, newp, data, len, times, err) ||
	    verify_sha(ntfs, newp, new_sha, err))
		return -1;
	if (free_name(ntfs, hive_path, suffix, bak, sizeof(bak), err) ||
	    lb_ntfs_move(ntfs, hive_path, bak, err))
		return -1;
	/* From here until the next move, <hive> is missing and
	 * <hive>.loopbreaker-new is complete: the engine finishes such a swap. */
	if (lb_ntfs_move(ntfs, newp, hive_path, err))
		return -1;
	if (verify_sha(ntfs, hive_path, new_sha, err))
		return -1;
	if (backup)
		snprintf(backup, nbackup, "%s", bak);
	return 0;
}

int lb_hive_logs_aside(struct lb_ntfs *ntfs, const char *hive_path, const char *suffix,
                       json_t *moved, struct lb_err *err)
{
	static const char *const ext[] = { ".LOG1", ".LOG2", ".LOG" };

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		char log[1100], bak[1200];
		struct lb_ntfs_stat st;
		int rc;

		snprintf(log, sizeof(log), "%s%s", hive_path, ext[i]);
		rc = lb_ntfs_stat(ntfs, log, &st, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		if (free_name(ntfs, log, suffix, bak, sizeof(bak), err) || lb_ntfs_move(ntfs, log, bak, err))
			return -1;
		if (moved)
			json_array_append_new(moved, json_pack("{s:s, s:s}", "from", log, "to", bak));
	}
	return 0;
}

json_t *lb_regval_to_json(bool present, uint32_t type, const uint8_t *data, size_t len)
{
	json_t *j, *d = NULL;
	char *hex;

	if (!present)
		return json_null();
	j = json_object();
	json_object_set_new(j, "type", lb_reg_type_name(type) ? json_string(lb_reg_type_name(type))
	                                                      : json_integer(type));
	if (type == LB_REG_DWORD && len == 4) {
		d = json_integer((json_int_t)lb_le32(data));
	} else if (type == LB_REG_QWORD && len == 8) {
		d = json_integer((json_int_t)lb_le64(data));
	} else if (type == LB_REG_SZ || type == LB_REG_EXPAND_SZ) {
		char *s = lb_utf16le_to_utf8(data, len);

		d = s ? json_string(s) : NULL;
		free(s);
	} else if (type == LB_REG_MULTI_SZ) {
		d = json_array();
		for (size_t i = 0; i + 1 < len;) {
			char *s;
			size_t k = i;

			while (k + 1 < len && (data[k] || data[k + 1]))
				k += 2;
			if (k == i)
				break;
			s = lb_utf16le_to_utf8(data + i, k - i);
			if (s)
				json_array_append_new(d, json_string(s));
			free(s);
			i = k + 2;
		}
	}
	if (d)
		json_object_set_new(j, "data", d);
	hex = lb_hex_encode(data, len);
	json_object_set_new(j, "hex", hex ? json_string(hex) : json_null());
	free(hex);
	return j;
}
