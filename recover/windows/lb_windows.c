/* lb_windows.c - finding Windows installations and reading who they are. */
#include "lb_windows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "lb_bytes.h"
#include "lb_hive.h"
#include "lb_regf_read.h"

#define HIVE_MAX (1024ULL * 1024 * 1024) /* 1 GiB: larger is not a real hive */

struct find_ctx {
	struct lb_ntfs *v;
	struct lb_install *list;
	int n, cap;
	int failed;
	struct lb_err *err;
};

static int root_cb(void *arg, const char *name, bool is_dir)
{
	struct find_ctx *c = arg;
	char path[1024];
	struct lb_ntfs_stat st;
	struct lb_err e;
	int rc;

	/* skip NTFS metadata and our own quarantine */
	if (!is_dir || name[0] == '$' || !strncasecmp(name, "loopbreaker.quarantine", 22))
		return 0;
	snprintf(path, sizeof(path), "\\%s\\System32\\config\\SYSTEM", name);
	rc = lb_ntfs_stat(c->v, path, &st, &e);
	/* A directory we cannot read (a damaged entry, e.g. left by a power
	 * cut) is not an installation; it must not hide the others. */
	if (rc != 0 || st.is_dir)
		return 0;
	if (c->n == c->cap) {
		int ncap = c->cap ? c->cap * 2 : 4;
		struct lb_install *nl = realloc(c->list, (size_t)ncap * sizeof(*nl));

		if (!nl) {
			lb_err_set(c->err, LB_EK_INTERNAL, ENOMEM, "listing installations");
			c->failed = 1;
			return 1;
		}
		c->list = nl;
		c->cap = ncap;
	}
	memset(&c->list[c->n], 0, sizeof(c->list[c->n]));
	snprintf(c->list[c->n].system_root, sizeof(c->list[c->n].system_root), "\\%s", name);
	c->n++;
	return 0;
}

int lb_windows_find(struct lb_ntfs *v, struct lb_install **out, int *n, struct lb_err *err)
{
	struct find_ctx c = { v, NULL, 0, 0, 0, err };
	int rc = lb_ntfs_readdir(v, "\\", root_cb, &c, err);

	*out = NULL;
	*n = 0;
	if (rc < 0 || c.failed) {
		free(c.list);
		return -1;
	}
	*out = c.list;
	*n = c.n;
	return 0;
}

/* A transaction log next to a hive, if there is one (NULL otherwise). */
static uint8_t *read_log(struct lb_ntfs *v, const char *hive, int n, uint64_t *len)
{
	char path[1100];
	struct lb_err err;
	uint8_t *data = NULL;

	*len = 0;
	snprintf(path, sizeof(path), "%s.LOG%d", hive, n);
	if (lb_ntfs_read_all(v, path, HIVE_MAX, &data, len, &err))
		return NULL;
	return data;
}

/* A hive being read for the identity: the file on the volume, read a few
 * cells at a time by the lazy reader (lb_regf_read.h), or, on the rare
 * dirty path, the hive with its logs replayed in memory. */
struct hive_read {
	struct lb_ntfs_file *f;
	uint8_t *replayed;
	struct lb_regf_reader *r;
};

static int ntfs_read(void *ctx, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	int64_t got = lb_ntfs_file_pread(ctx, buf, n, off, err);

	if (got < 0)
		return -1;
	if ((uint64_t)got != n)
		return lb_err_set(err, LB_EK_IO, 0, "hive: short read at offset %llu (%lld of %zu bytes)",
		                  (unsigned long long)off, (long long)got, n);
	return 0;
}

static void hive_done(struct hive_read *hr)
{
	lb_regf_reader_close(hr->r);
	free(hr->replayed);
	lb_ntfs_file_close(hr->f);
	memset(hr, 0, sizeof(*hr));
}

/* A dirty hive that fails the checks on its own: read whole, with its
 * .LOG1/.LOG2 replayed in memory when they repair it (the one path that
 * holds a whole hive in memory, twice during the replay). */
static int load_replayed(struct lb_ntfs *v, const char *path, const char *label,
                         struct hive_read *hr, struct lb_err *err)
{
	uint8_t *data = NULL, *log[2] = { NULL, NULL }, *out = NULL;
	uint64_t len = 0, loglen[2] = { 0, 0 };
	size_t outlen = 0;
	struct lb_hive hv;
	int rc;

	if (lb_ntfs_read_all(v, path, HIVE_MAX, &data, &len, err))
		return -1;
	for (int k = 0; k < 2; k++)
		log[k] = read_log(v, path, k + 1, &loglen[k]);
	rc = lb_hive_replay(data, (size_t)len, log[0], loglen[0], log[1], loglen[1], label, &hv,
	                    &out, &outlen, err);
	free(log[0]);
	free(log[1]);
	if (rc == 0 && !out) { /* clean after all: read it as it is */
		out = data;
		outlen = (size_t)len;
		data = NULL;
	}
	free(data);
	if (rc)
		return -1;
	hr->replayed = out;
	if (lb_regf_reader_open_buffer(out, outlen, LB_REGF_READ_CHECK, &hr->r, NULL, err))
		return lb_err_wrap(err, "%s", label);
	return 0;
}

/* Opens a hive of the volume for reading after the checks the edit path
 * runs (lb_regf_check, streamed: lb_regf_check_stream): a hive cut short or
 * with a broken bin or cell is damaged, never "ok".  A dirty hive that
 * fails them on its own is read with its .LOG1/.LOG2 replayed in memory
 * when they repair it. */
static int load_hive(struct lb_ntfs *v, const char *path, const char *label,
                     struct hive_read *hr, struct lb_hive_status *hs)
{
	struct lb_regf_info info;
	struct lb_err err;
	uint64_t size = 0;
	int rc;

	memset(hr, 0, sizeof(*hr));
	lb_err_clear(&err);
	hs->present = false;
	hs->ok = false;
	if (lb_ntfs_file_open(v, path, HIVE_MAX, &hr->f, &size, &err)) {
		if (err.sys_errno != ENOENT)
			snprintf(hs->error, sizeof(hs->error), "%s", err.msg);
		return -1;
	}
	rc = lb_regf_reader_open(ntfs_read, hr->f, size, LB_REGF_READ_CHECK, &hr->r, &info, &err);
	if (rc && err.kind == LB_EK_IO) {
		/* the file could not be read: as when it was read whole */
		snprintf(hs->error, sizeof(hs->error), "%s", err.msg);
		hive_done(hr);
		return -1;
	}
	hs->present = true;
	if (rc && info.dirty) {
		lb_err_clear(&err);
		rc = load_replayed(v, path, label, hr, &err);
	} else if (rc) {
		lb_err_wrap(&err, "%s", label);
	}
	hs->dirty = info.dirty;
	if (rc) {
		snprintf(hs->error, sizeof(hs->error), "%s", err.msg);
		hive_done(hr);
		return -1;
	}
	hs->ok = true;
	return 0;
}

static void hex_value(struct lb_regf_reader *r, const char *key, const char *value, char *out,
                      size_t n)
{
	struct lb_err e;
	uint32_t t;
	uint8_t *d = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (lb_regf_get_raw(r, 0, key, value, &t, &d, &len, &e) != 0)
		return;
	/* as many whole bytes as fit in out with its NUL */
	lb_hex(d, len < (n - 1) / 2 ? len : (n - 1) / 2, out);
	free(d);
}

struct sensor_find {
	struct lb_regf_reader *r;
	char *out;
	size_t n;
};

static int sensor_cb(void *arg, uint64_t key)
{
	struct sensor_find *s = arg;
	char name[1024];
	struct lb_err e;

	if (lb_regf_get_string(s->r, key, "", "DisplayName", name, sizeof(name), &e) == 0 &&
	    strstr(name, "CrowdStrike") && strstr(name, "Sensor"))
		lb_regf_get_string(s->r, key, "", "DisplayVersion", s->out, s->n, &e);
	return s->out[0] != '\0';
}

/* The Falcon sensor's version, from its entry under Uninstall. */
static void sensor_version(struct lb_regf_reader *r, char *out, size_t n)
{
	struct sensor_find s = { r, out, n };
	struct lb_err e;
	uint64_t un;

	out[0] = '\0';
	if (lb_regf_key(r, 0, "Microsoft\\Windows\\CurrentVersion\\Uninstall", &un, &e) == 0)
		lb_regf_subkeys(r, un, sensor_cb, &s, &e);
}

void lb_windows_identify(struct lb_ntfs *v, struct lb_install *inst)
{
	char path[1024], key[256];
	struct hive_read hr;
	struct lb_err e;
	uint64_t k;

	snprintf(path, sizeof(path), "%s\\System32\\config\\SYSTEM", inst->system_root);
	if (load_hive(v, path, path, &hr, &inst->system) == 0) {
		struct lb_regf_reader *r = hr.r;
		uint32_t cur = 0;

		inst->current_controlset = lb_regf_get_dword(r, 0, "Select", "Current", &cur, &e) == 0 &&
		                           cur >= 1 && cur <= 999 ? (int)cur : 1;
		snprintf(key, sizeof(key), "ControlSet%03d\\Control\\ComputerName\\ComputerName",
		         inst->current_controlset);
		if (lb_regf_get_string(r, 0, key, "ComputerName", inst->hostname,
		                       sizeof(inst->hostname), &e) < 0)
			snprintf(inst->system.error, sizeof(inst->system.error),
			         "ComputerName could not be read: %.400s", e.msg);
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\Tcpip\\Parameters",
		         inst->current_controlset);
		lb_regf_get_string(r, 0, key, "Domain", inst->domain, sizeof(inst->domain), &e);
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent", inst->current_controlset);
		inst->sensor_present = lb_regf_key(r, 0, key, &k, &e) == 0;
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent\\Sim",
		         inst->current_controlset);
		hex_value(r, key, "AG", inst->agent_id, sizeof(inst->agent_id));
		hex_value(r, key, "CU", inst->customer_id, sizeof(inst->customer_id));
		hive_done(&hr);
	}
	snprintf(path, sizeof(path), "%s\\System32\\config\\SOFTWARE", inst->system_root);
	if (load_hive(v, path, path, &hr, &inst->software) == 0) {
		const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
		struct lb_regf_reader *r = hr.r;
		uint32_t t;

		lb_regf_get_string(r, 0, cv, "ProductName", inst->product_name,
		                   sizeof(inst->product_name), &e);
		lb_regf_get_string(r, 0, cv, "EditionID", inst->edition, sizeof(inst->edition), &e);
		if (lb_regf_get_string(r, 0, cv, "CurrentBuild", inst->build, sizeof(inst->build), &e))
			lb_regf_get_string(r, 0, cv, "CurrentBuildNumber", inst->build,
			                   sizeof(inst->build), &e);
		if (lb_regf_get_string(r, 0, cv, "DisplayVersion", inst->display_version,
		                       sizeof(inst->display_version), &e))
			lb_regf_get_string(r, 0, cv, "ReleaseId", inst->display_version,
			                   sizeof(inst->display_version), &e);
		inst->has_ubr = lb_regf_get_dword(r, 0, cv, "UBR", &inst->ubr, &e) == 0;
		if (lb_regf_get_dword(r, 0, cv, "InstallDate", &t, &e) == 0 && t) {
			time_t tt = (time_t)t;
			struct tm tm;

			gmtime_r(&tt, &tm);
			strftime(inst->install_date, sizeof(inst->install_date), "%Y-%m-%dT%H:%M:%SZ",
			         &tm);
		}
		lb_regf_get_string(r, 0, "Microsoft\\Cryptography", "MachineGuid", inst->machine_guid,
		                   sizeof(inst->machine_guid), &e);
		sensor_version(r, inst->sensor_version, sizeof(inst->sensor_version));
		hive_done(&hr);
	}
}
