/* lb_hivedit.c - typed, undoable value edits on a hive file via libhivex. */
#include "lb_hivedit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_file.h"
#include "lb_regf.h"
#include "lb_text.h"

#define MAX_HIVE_FILE (2048ull * 1024 * 1024)

void lb_regval_free(struct lb_regval *v)
{
	if (!v)
		return;
	free(v->data);
	memset(v, 0, sizeof(*v));
}

int lb_hivedit_check_file(const char *path, size_t max, struct lb_regf_info *info,
                          struct lb_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (lb_read_file(path, max, &buf, &len, err)) {
		/* a hive the caller named that cannot be opened is an I/O error */
		if (err && err->kind == LB_EK_INPUT &&
		    (err->sys_errno == ENOENT || err->sys_errno == EACCES))
			err->kind = LB_EK_IO;
		return -1;
	}
	rc = lb_regf_check(buf, len, info, err);
	free(buf);
	if (rc)
		return lb_err_wrap(err, "%s", path);
	return 0;
}

/* Checks path before hivex opens it (used by open and commit). */
static int check_file(const char *path, bool allow_dirty, struct lb_err *err)
{
	struct lb_regf_info in;

	if (lb_hivedit_check_file(path, MAX_HIVE_FILE, &in, err))
		return -1;
	if (in.dirty && !allow_dirty)
		return lb_err_set(err, LB_EK_REFUSED, 0,
		                  "%s is dirty (sequence numbers %u/%u): replay its transaction logs "
		                  "first, editing it would drop the logged changes",
		                  path, in.seq1, in.seq2);
	return 0;
}

int lb_hivedit_open(const char *path, struct lb_hivedit *he, struct lb_err *err)
{
	memset(he, 0, sizeof(*he));
	if (!path || strlen(path) >= sizeof(he->path))
		return lb_err_set(err, LB_EK_USAGE, 0, "hive path missing or too long");
	if (check_file(path, false, err))
		return -1;
	he->h = hivex_open(path, HIVEX_OPEN_WRITE);
	if (!he->h)
		return lb_err_set(err, LB_EK_INPUT, errno, "hivex cannot open %s", path);
	snprintf(he->path, sizeof(he->path), "%s", path);
	return 0;
}

void lb_hivedit_close(struct lb_hivedit *he)
{
	if (he && he->h) {
		hivex_close(he->h);
		he->h = NULL;
	}
}

/* ---- paths and control sets ------------------------------------------ */

static hive_node_h child_ci(hive_h *h, hive_node_h n, const char *name)
{
	/* hivex_node_get_child compares case-insensitively */
	errno = 0;
	return hivex_node_get_child(h, n, name);
}

static hive_node_h walk(hive_h *h, const char *path)
{
	char tmp[1024], *save = NULL, *part;
	hive_node_h n = hivex_root(h);

	if (strlen(path) >= sizeof(tmp))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (part = strtok_r(tmp, "\\", &save); part && n; part = strtok_r(NULL, "\\", &save))
		n = child_ci(h, n, part);
	return n;
}

static int read_dword(hive_h *h, hive_node_h n, const char *name, uint32_t *out)
{
	hive_value_h v;
	hive_type t;
	size_t len;

	errno = 0;
	v = hivex_node_get_value(h, n, name);
	if (!v || hivex_value_type(h, v, &t, &len) != 0 || t != hive_t_REG_DWORD || len != 4)
		return 1;
	*out = (uint32_t)hivex_value_dword(h, v);
	return 0;
}

int lb_hivedit_control_sets(hive_h *h, struct lb_controlsets *cs, struct lb_err *err)
{
	hive_node_h sel = walk(h, "Select");
	uint32_t cand[3];

	memset(cs, 0, sizeof(*cs));
	if (!sel)
		return lb_err_set(err, LB_EK_INPUT, 0, "no Select key: not a SYSTEM hive");
	read_dword(h, sel, "Current", &cs->current);
	read_dword(h, sel, "Default", &cs->deflt);
	read_dword(h, sel, "LastKnownGood", &cs->last_known_good);
	read_dword(h, sel, "Failed", &cs->failed);
	cand[0] = cs->current;
	cand[1] = cs->deflt;
	cand[2] = cs->last_known_good;
	for (int i = 0; i < 3; i++) {
		char name[32];
		bool dup = false;

		if (cand[i] == 0 || cand[i] > 999)
			continue;
		for (size_t j = 0; j < cs->nboot; j++)
			dup |= cs->boot[j] == cand[i];
		snprintf(name, sizeof(name), "ControlSet%03u", cand[i]);
		if (!dup && walk(h, name))
			cs->boot[cs->nboot++] = cand[i];
	}
	if (cs->current == 0)
		return lb_err_set(err, LB_EK_INPUT, 0, "Select\\Current missing or not a REG_DWORD");
	return 0;
}

int lb_hivedit_resolve(hive_h *h, const char *path, char *out, size_t n, struct lb_err *err)
{
	static const char ccs[] = "CurrentControlSet";
	size_t cl = sizeof(ccs) - 1;

	while (*path == '\\')
		path++;
	if (strncasecmp(path, ccs, cl) == 0 && (path[cl] == '\\' || path[cl] == '\0')) {
		struct lb_controlsets cs;
		char set[32];

		if (lb_hivedit_control_sets(h, &cs, err))
			return -1;
		snprintf(set, sizeof(set), "ControlSet%03u", cs.current);
		if (cs.current > 999 || !walk(h, set))
			return lb_err_set(err, LB_EK_INPUT, 0, "Select\\Current = %u but %s does not exist",
			                  cs.current, set);
		if ((size_t)snprintf(out, n, "%s%s", set, path + cl) >= n)
			return lb_err_set(err, LB_EK_USAGE, 0, "key path too long");
		return 0;
	}
	if ((size_t)snprintf(out, n, "%s", path) >= n)
		return lb_err_set(err, LB_EK_USAGE, 0, "key path too long");
	return 0;
}

hive_node_h lb_hivedit_key(struct lb_hivedit *he, const char *path, bool create, struct lb_err *err)
{
	char res[1024], *save = NULL, *part;
	hive_node_h n;

	if (!he || !he->h || !path) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "lb_hivedit_key: hive not open");
		return 0;
	}
	if (lb_hivedit_resolve(he->h, path, res, sizeof(res), err))
		return 0;
	n = hivex_root(he->h);
	for (part = strtok_r(res, "\\", &save); part; part = strtok_r(NULL, "\\", &save)) {
		hive_node_h c = child_ci(he->h, n, part);

		if (!c) {
			if (!create) {
				lb_err_set(err, LB_EK_INPUT, 0, "no key %s (at %s)", path, part);
				return 0;
			}
			c = hivex_node_add_child(he->h, n, part);
			if (!c) {
				lb_err_set(err, LB_EK_INTERNAL, errno, "cannot create key %s", part);
				return 0;
			}
			he->changed = true;
		}
		n = c;
	}
	return n;
}

/* ---- values ----------------------------------------------------------- */

/* 0 found, 1 absent (value), -1 error. */
static int get_at(hive_h *h, hive_node_h n, const char *name, struct lb_regval *v,
                  struct lb_err *err)
{
	hive_value_h vh;
	hive_type t;
	size_t len;
	char *data;

	memset(v, 0, sizeof(*v));
	errno = 0;
	vh = hivex_node_get_value(h, n, name);
	if (!vh) /* hivex does not tell "absent" from "unreadable" here; the
	          * hive passed lb_regf_check when it was opened */
		return 1;
	data = hivex_value_value(h, vh, &t, &len);
	if (!data)
		return lb_err_set(err, LB_EK_INPUT, errno, "reading value %s", name);
	v->present = true;
	v->type = (uint32_t)t;
	v->data = (uint8_t *)data;
	v->len = len;
	return 0;
}

/* An existing key: 0 found (*n set), 1 absent, -1 error. */
static int existing_key(struct lb_hivedit *he, const char *key, hive_node_h *n,
                        struct lb_err *err)
{
	struct lb_err e2;

	lb_err_clear(&e2);
	*n = lb_hivedit_key(he, key, false, &e2);
	if (*n)
		return 0;
	if (e2.kind == LB_EK_INPUT && strncmp(e2.msg, "no key", 6) == 0)
		return 1;
	if (err)
		*err = e2;
	return -1;
}

int lb_hivedit_get(struct lb_hivedit *he, const char *key, const char *name,
                   struct lb_regval *v, struct lb_err *err)
{
	hive_node_h n;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = existing_key(he, key, &n, err);
	if (rc)
		return rc;
	return get_at(he->h, n, name, v, err);
}

int lb_hivedit_set_raw(struct lb_hivedit *he, const char *key, const char *name, uint32_t type,
                       const void *data, size_t len, unsigned flags, struct lb_regval *old,
                       struct lb_err *err)
{
	hive_node_h n;
	hive_set_value sv;
	struct lb_regval prev;

	if (old)
		memset(old, 0, sizeof(*old));
	if (!name)
		return lb_err_set(err, LB_EK_USAGE, 0, "value name missing");
	if (len > 0x7FFFFFFF || (len && !data))
		return lb_err_set(err, LB_EK_USAGE, 0, "value %s: bad data", name);
	n = lb_hivedit_key(he, key, flags & LB_HIVEDIT_CREATE_KEYS, err);
	if (!n)
		return -1;
	if (get_at(he->h, n, name, &prev, err) < 0)
		return -1;
	sv.key = (char *)name;
	sv.t = (hive_type)type;
	sv.len = len;
	sv.value = (char *)(len ? data : "");
	if (hivex_node_set_value(he->h, n, &sv, 0) != 0) {
		lb_regval_free(&prev);
		return lb_err_set(err, LB_EK_INTERNAL, errno, "hivex cannot set %s\\%s", key, name);
	}
	he->changed = true;
	if (old)
		*old = prev;
	else
		lb_regval_free(&prev);
	return 0;
}

int lb_hivedit_utf16z(const char *utf8, uint8_t **out, size_t *len)
{
	uint8_t *w, *z;
	size_t wl;

	*out = NULL;
	*len = 0;
	if (lb_utf8_to_utf16le(utf8, &w, &wl))
		return -1;
	z = realloc(w, wl + 2);
	if (!z) {
		free(w);
		return -1;
	}
	z[wl] = 0;
	z[wl + 1] = 0;
	*out = z;
	*len = wl + 2;
	return 0;
}

static int set_string(struct lb_hivedit *he, const char *key, const char *name, uint32_t type,
                      const char *utf8, unsigned flags, struct lb_regval *old, struct lb_err *err)
{
	uint8_t *w;
	size_t wl;
	int rc;

	if (old)
		memset(old, 0, sizeof(*old));
	if (!utf8 || lb_hivedit_utf16z(utf8, &w, &wl))
		return lb_err_set(err, LB_EK_USAGE, 0, "value %s: not valid UTF-8", name ? name : "?");
	rc = lb_hivedit_set_raw(he, key, name, type, w, wl, flags, old, err);
	free(w);
	return rc;
}

int lb_hivedit_set_sz(struct lb_hivedit *he, const char *key, const char *name,
                      const char *utf8, unsigned flags, struct lb_regval *old, struct lb_err *err)
{
	return set_string(he, key, name, LB_REG_SZ, utf8, flags, old, err);
}

int lb_hivedit_set_expand_sz(struct lb_hivedit *he, const char *key, const char *name,
                             const char *utf8, unsigned flags, struct lb_regval *old,
                             struct lb_err *err)
{
	return set_string(he, key, name, LB_REG_EXPAND_SZ, utf8, flags, old, err);
}

int lb_hivedit_set_dword(struct lb_hivedit *he, const char *key, const char *name, uint32_t v,
                         unsigned flags, struct lb_regval *old, struct lb_err *err)
{
	uint8_t b[4];

	lb_put_le32(b, v);
	return lb_hivedit_set_raw(he, key, name, LB_REG_DWORD, b, 4, flags, old, err);
}

int lb_hivedit_set_qword(struct lb_hivedit *he, const char *key, const char *name, uint64_t v,
                         unsigned flags, struct lb_regval *old, struct lb_err *err)
{
	uint8_t b[8];

	lb_put_le64(b, v);
	return lb_hivedit_set_raw(he, key, name, LB_REG_QWORD, b, 8, flags, old, err);
}

int lb_hivedit_set_multi_sz(struct lb_hivedit *he, const char *key, const char *name,
                            const char *const *strs, size_t n, unsigned flags,
                            struct lb_regval *old, struct lb_err *err)
{
	uint8_t *all = NULL;
	size_t total = 0;
	int rc;

	if (old)
		memset(old, 0, sizeof(*old));
	for (size_t i = 0; i < n; i++) {
		uint8_t *w, *grown;
		size_t wl;

		if (!strs[i] || !strs[i][0]) {
			free(all);
			return lb_err_set(err, LB_EK_USAGE, 0,
			                  "value %s: empty string in a REG_MULTI_SZ list", name ? name : "?");
		}
		if (lb_hivedit_utf16z(strs[i], &w, &wl)) {
			free(all);
			return lb_err_set(err, LB_EK_USAGE, 0, "value %s: string %zu is not valid UTF-8",
			                  name ? name : "?", i);
		}
		grown = realloc(all, total + wl + 2);
		if (!grown) {
			free(w);
			free(all);
			return lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
		}
		all = grown;
		memcpy(all + total, w, wl);
		total += wl;
		free(w);
	}
	{
		uint8_t *grown = realloc(all, total + 2);

		if (!grown) {
			free(all);
			return lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
		}
		all = grown;
	}
	all[total++] = 0; /* the list's final empty string */
	all[total++] = 0;
	rc = lb_hivedit_set_raw(he, key, name, LB_REG_MULTI_SZ, all, total, flags, old, err);
	free(all);
	return rc;
}

int lb_hivedit_set_binary(struct lb_hivedit *he, const char *key, const char *name,
                          const void *data, size_t len, unsigned flags, struct lb_regval *old,
                          struct lb_err *err)
{
	return lb_hivedit_set_raw(he, key, name, LB_REG_BINARY, data, len, flags, old, err);
}

int lb_hivedit_delete_value(struct lb_hivedit *he, const char *key, const char *name,
                            struct lb_regval *old, struct lb_err *err)
{
	hive_node_h n;
	hive_value_h *vals;
	hive_set_value *keep = NULL;
	struct lb_regval prev;
	size_t nv = 0, nk = 0;
	int rc = -1;

	if (old)
		memset(old, 0, sizeof(*old));
	if (!name)
		return lb_err_set(err, LB_EK_USAGE, 0, "value name missing");
	n = lb_hivedit_key(he, key, false, err);
	if (!n)
		return -1;
	rc = get_at(he->h, n, name, &prev, err);
	if (rc != 0)
		return rc; /* 1: absent, nothing to do */
	rc = -1;
	/* hivex has no single-value delete: rewrite the value list without it */
	vals = hivex_node_values(he->h, n);
	if (!vals) {
		lb_regval_free(&prev);
		return lb_err_set(err, LB_EK_INPUT, errno, "reading values of %s", key);
	}
	while (vals[nv])
		nv++;
	keep = calloc(nv ? nv : 1, sizeof(*keep));
	if (!keep) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nv; i++) {
		hive_type t;
		size_t len;
		char *vname = hivex_value_key(he->h, vals[i]);
		char *data;

		if (!vname) {
			lb_err_set(err, LB_EK_INPUT, errno, "reading a value name of %s", key);
			goto out;
		}
		if (strcasecmp(vname, name) == 0) {
			free(vname);
			continue;
		}
		data = hivex_value_value(he->h, vals[i], &t, &len);
		if (!data) {
			lb_err_set(err, LB_EK_INPUT, errno, "reading value %s of %s", vname, key);
			free(vname);
			goto out;
		}
		keep[nk].key = vname;
		keep[nk].t = t;
		keep[nk].len = len;
		keep[nk].value = data;
		nk++;
	}
	if (hivex_node_set_values(he->h, n, nk, keep, 0) != 0) {
		lb_err_set(err, LB_EK_INTERNAL, errno, "hivex cannot rewrite the values of %s", key);
		goto out;
	}
	he->changed = true;
	rc = 0;
out:
	for (size_t i = 0; keep && i < nk; i++) {
		free(keep[i].key);
		free(keep[i].value);
	}
	free(keep);
	free(vals);
	if (rc == 0 && old)
		*old = prev;
	else
		lb_regval_free(&prev);
	return rc;
}

int lb_hivedit_delete_key(struct lb_hivedit *he, const char *key, struct lb_err *err)
{
	hive_node_h n;
	int rc;

	rc = existing_key(he, key, &n, err);
	if (rc)
		return rc;
	if (n == hivex_root(he->h))
		return lb_err_set(err, LB_EK_USAGE, 0, "refusing to delete the root key");
	if (hivex_node_delete_child(he->h, n) != 0)
		return lb_err_set(err, LB_EK_INTERNAL, errno, "hivex cannot delete key %s", key);
	he->changed = true;
	return 0;
}

int lb_hivedit_restore(struct lb_hivedit *he, const char *key, const char *name,
                       const struct lb_regval *old, struct lb_err *err)
{
	if (!old)
		return lb_err_set(err, LB_EK_USAGE, 0, "nothing to restore");
	if (!old->present)
		return lb_hivedit_delete_value(he, key, name, NULL, err) < 0 ? -1 : 0;
	return lb_hivedit_set_raw(he, key, name, old->type, old->data, old->len, 0, NULL, err);
}

int lb_hivedit_commit(struct lb_hivedit *he, const char *newpath, struct lb_err *err)
{
	struct stat st;
	hive_h *chk;

	if (!he || !he->h)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "lb_hivedit_commit: hive not open");
	if (!newpath || !*newpath)
		return lb_err_set(err, LB_EK_USAGE, 0, "commit needs a new file name");
	if (lstat(newpath, &st) == 0)
		return lb_err_set(err, LB_EK_REFUSED, 0,
		                  "%s already exists: commit writes a new file only", newpath);
	if (hivex_commit(he->h, newpath, 0) != 0) {
		int e = errno;

		unlink(newpath);
		return lb_err_set(err, LB_EK_IO, e, "hivex_commit %s", newpath);
	}
	/* re-read what was written */
	if (check_file(newpath, false, err)) {
		unlink(newpath);
		return lb_err_wrap(err, "committed hive does not check");
	}
	chk = hivex_open(newpath, 0);
	if (!chk) {
		int e = errno;

		unlink(newpath);
		return lb_err_set(err, LB_EK_INTERNAL, e, "hivex cannot re-open committed %s", newpath);
	}
	hivex_close(chk);
	he->changed = false;
	return 0;
}
