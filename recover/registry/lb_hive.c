/* lb_hive.c - hive reading helpers. */
#include "lb_hive.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_file.h"
#include "lb_regf.h"

/* hivex on a copy of data in a memfd (nothing written anywhere). */
static int open_memfd(const uint8_t *data, size_t len, const char *name, struct lb_hive *hv,
                      struct lb_err *err)
{
	char path[64];

	hv->fd = memfd_create("lb-hive", MFD_CLOEXEC);
	if (hv->fd < 0)
		return lb_err_set(err, LB_EK_INTERNAL, errno, "%s: memfd_create", name);
	if (lb_write_all(hv->fd, data, len) < 0) {
		lb_err_set(err, LB_EK_INTERNAL, errno, "%s: memfd write", name);
		goto fail;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", hv->fd);
	hv->h = hivex_open(path, 0);
	if (!hv->h) {
		lb_err_set(err, LB_EK_INPUT, errno, "%s: damaged registry hive (hivex cannot open it)",
		           name);
		goto fail;
	}
	return 0;
fail:
	close(hv->fd);
	hv->fd = -1;
	return -1;
}

int lb_hive_open_buffer(const uint8_t *data, size_t len, const char *name, struct lb_hive *hv,
                        struct lb_err *err)
{
	struct lb_regf_info info;
	struct lb_err e;

	memset(hv, 0, sizeof(*hv));
	hv->fd = -1;
	lb_err_clear(&e);
	if (lb_regf_check(data, len, &info, &e)) {
		hv->dirty = info.dirty;
		hv->seq1 = info.seq1;
		hv->seq2 = info.seq2;
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: %s", name, e.msg);
	}
	hv->seq1 = info.seq1;
	hv->seq2 = info.seq2;
	hv->dirty = info.dirty;
	return open_memfd(data, len, name, hv, err);
}

int lb_hive_replay(const uint8_t *data, size_t len, const uint8_t *log1, size_t len1,
                   const uint8_t *log2, size_t len2, const char *name, struct lb_hive *hv,
                   uint8_t **out, size_t *out_len, struct lb_err *err)
{
	struct lb_regf_replay_info ri;
	struct lb_regf_info info;
	struct lb_err e, e2;
	int rc;

	memset(hv, 0, sizeof(*hv));
	hv->fd = -1;
	*out = NULL;
	*out_len = 0;
	lb_err_clear(&e);
	lb_err_clear(&e2);
	rc = lb_regf_check(data, len, &info, &e);
	hv->seq1 = info.seq1;
	hv->seq2 = info.seq2;
	hv->dirty = info.dirty;
	if (rc == 0 && !info.dirty)
		return 0; /* clean: nothing to replay */
	if (rc == 0)
		snprintf(e.msg, sizeof(e.msg), "dirty (sequence numbers %u/%u)", info.seq1, info.seq2);
	else if (!info.dirty)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: %s", name, e.msg);
	if (!log1 && !log2)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: %s; the hive is dirty (sequence numbers %u/%u) and has no "
		                  ".LOG1/.LOG2 to complete it", name, e.msg, info.seq1, info.seq2);
	if (lb_regf_replay(data, len, log1, len1, log2, len2, out, out_len, &ri, &e2))
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: %s; the hive is dirty and its logs do not repair it: %s", name,
		                  e.msg, e2.msg);
	hv->replayed = true;
	return 0;
}

int lb_hive_open_replayed(const uint8_t *data, size_t len, const uint8_t *log1, size_t len1,
                          const uint8_t *log2, size_t len2, const char *name,
                          struct lb_hive *hv, struct lb_err *err)
{
	uint8_t *out;
	size_t outlen;
	bool replayed;
	int rc;

	if (lb_hive_replay(data, len, log1, len1, log2, len2, name, hv, &out, &outlen, err))
		return -1;
	replayed = hv->replayed;
	hv->replayed = false;
	rc = out ? open_memfd(out, outlen, name, hv, err) : open_memfd(data, len, name, hv, err);
	free(out);
	if (rc == 0)
		hv->replayed = replayed;
	return rc;
}

void lb_hive_close(struct lb_hive *hv)
{
	if (hv->h)
		hivex_close(hv->h);
	hv->h = NULL;
	if (hv->fd >= 0)
		close(hv->fd);
	hv->fd = -1;
}

hive_node_h lb_hive_node(hive_h *h, const char *path)
{
	hive_node_h node = hivex_root(h);
	char buf[1024], *save = NULL, *tok;

	if (!node)
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "\\", &save); tok; tok = strtok_r(NULL, "\\", &save)) {
		node = hivex_node_get_child(h, node, tok); /* case-insensitive */
		if (!node)
			return 0;
	}
	return node;
}

static hive_value_h find_value(hive_h *h, const char *path, const char *value)
{
	hive_node_h node = lb_hive_node(h, path);

	if (!node)
		return 0;
	return hivex_node_get_value(h, node, value);
}

int lb_hive_get_string(hive_h *h, const char *path, const char *value, char *out, size_t n)
{
	hive_value_h v = find_value(h, path, value);
	hive_type t;
	size_t len;
	char *s;

	if (n)
		out[0] = '\0';
	if (!v)
		return 1;
	if (hivex_value_type(h, v, &t, &len) < 0)
		return -1;
	if (t != hive_t_REG_SZ && t != hive_t_REG_EXPAND_SZ)
		return 1;
	s = hivex_value_string(h, v);
	if (!s)
		return -1;
	snprintf(out, n, "%s", s);
	free(s);
	return 0;
}

int lb_hive_get_dword(hive_h *h, const char *path, const char *value, uint32_t *out)
{
	hive_value_h v = find_value(h, path, value);
	hive_type t;
	size_t len;

	if (!v)
		return 1;
	if (hivex_value_type(h, v, &t, &len) < 0)
		return -1;
	if (t != hive_t_REG_DWORD && t != hive_t_REG_DWORD_BIG_ENDIAN)
		return 1;
	*out = (uint32_t)hivex_value_dword(h, v);
	return 0;
}

int lb_hive_get_raw(hive_h *h, const char *path, const char *value, hive_type *type,
                    uint8_t **data, size_t *len)
{
	hive_value_h v = find_value(h, path, value);
	char *d;

	*data = NULL;
	*len = 0;
	if (!v)
		return 1;
	d = hivex_value_value(h, v, type, len);
	if (!d)
		return -1;
	*data = (uint8_t *)d;
	return 0;
}

int lb_hive_current_controlset(hive_h *system)
{
	uint32_t cur = 0;

	if (lb_hive_get_dword(system, "Select", "Current", &cur) == 0 && cur >= 1 && cur <= 999)
		return (int)cur;
	return 1;
}
