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

/* Reads a hive off the volume and opens it after the checks the edit path
 * runs (lb_regf_check): a hive cut short or with a broken bin or cell is
 * damaged, never "ok".  A dirty hive that fails them on its own is read
 * with its .LOG1/.LOG2 replayed in memory when they repair it. */
static int load_hive(struct lb_ntfs *v, const char *path, const char *label,
                     struct lb_hive *hv, struct lb_hive_status *hs)
{
	struct lb_err err;
	uint8_t *data = NULL, *log[2] = { NULL, NULL };
	uint64_t len = 0, loglen[2] = { 0, 0 };
	int rc;

	lb_err_clear(&err);
	hs->present = false;
	hs->ok = false;
	if (lb_ntfs_read_all(v, path, HIVE_MAX, &data, &len, &err)) {
		if (err.sys_errno != ENOENT)
			snprintf(hs->error, sizeof(hs->error), "%s", err.msg);
		return -1;
	}
	hs->present = true;
	rc = lb_hive_open_buffer(data, len, label, hv, &err);
	if (rc && hv->dirty) {
		struct lb_err e2;

		lb_err_clear(&e2);
		for (int k = 0; k < 2; k++)
			log[k] = read_log(v, path, k + 1, &loglen[k]);
		rc = lb_hive_open_replayed(data, len, log[0], loglen[0], log[1], loglen[1], label,
		                           hv, &e2);
		if (rc)
			err = e2;
		free(log[0]);
		free(log[1]);
	}
	free(data);
	hs->dirty = hv->dirty;
	if (rc) {
		snprintf(hs->error, sizeof(hs->error), "%s", err.msg);
		return -1;
	}
	hs->ok = true;
	return 0;
}

static void hex_value(hive_h *h, const char *key, const char *value, char *out, size_t n)
{
	hive_type t;
	uint8_t *d = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (lb_hive_get_raw(h, key, value, &t, &d, &len) != 0)
		return;
	/* as many whole bytes as fit in out with its NUL */
	lb_hex(d, len < (n - 1) / 2 ? len : (n - 1) / 2, out);
	free(d);
}

/* The Falcon sensor's version, from its entry under Uninstall. */
static void sensor_version(hive_h *h, char *out, size_t n)
{
	hive_node_h un = lb_hive_node(h, "Microsoft\\Windows\\CurrentVersion\\Uninstall");
	hive_node_h *kids;

	out[0] = '\0';
	if (!un || !(kids = hivex_node_children(h, un)))
		return;
	for (size_t i = 0; kids[i] && !out[0]; i++) {
		hive_value_h dn = hivex_node_get_value(h, kids[i], "DisplayName");
		char *name = dn ? hivex_value_string(h, dn) : NULL;

		if (name && strstr(name, "CrowdStrike") && strstr(name, "Sensor")) {
			hive_value_h dv = hivex_node_get_value(h, kids[i], "DisplayVersion");
			char *ver = dv ? hivex_value_string(h, dv) : NULL;

			if (ver)
				snprintf(out, n, "%s", ver);
			free(ver);
		}
		free(name);
	}
	free(kids);
}

void lb_windows_identify(struct lb_ntfs *v, struct lb_install *inst)
{
	char path[1024], key[256];
	struct lb_hive hv;

	snprintf(path, sizeof(path), "%s\\System32\\config\\SYSTEM", inst->system_root);
	if (load_hive(v, path, path, &hv, &inst->system) == 0) {
		inst->current_controlset = lb_hive_current_controlset(hv.h);
		snprintf(key, sizeof(key), "ControlSet%03d\\Control\\ComputerName\\ComputerName",
		         inst->current_controlset);
		if (lb_hive_get_string(hv.h, key, "ComputerName", inst->hostname,
		                       sizeof(inst->hostname)) < 0)
			/* hivex decodes UTF-16 through iconv: a system without
			 * its gconv modules (a bare initramfs) cannot */
			snprintf(inst->system.error, sizeof(inst->system.error),
			         "ComputerName could not be decoded (UTF-16 conversion unavailable: %s)",
			         strerror(errno));
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\Tcpip\\Parameters",
		         inst->current_controlset);
		lb_hive_get_string(hv.h, key, "Domain", inst->domain, sizeof(inst->domain));
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent", inst->current_controlset);
		inst->sensor_present = lb_hive_node(hv.h, key) != 0;
		snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent\\Sim",
		         inst->current_controlset);
		hex_value(hv.h, key, "AG", inst->agent_id, sizeof(inst->agent_id));
		hex_value(hv.h, key, "CU", inst->customer_id, sizeof(inst->customer_id));
		lb_hive_close(&hv);
	}
	snprintf(path, sizeof(path), "%s\\System32\\config\\SOFTWARE", inst->system_root);
	if (load_hive(v, path, path, &hv, &inst->software) == 0) {
		const char *cv = "Microsoft\\Windows NT\\CurrentVersion";

		lb_hive_get_string(hv.h, cv, "ProductName", inst->product_name,
		                   sizeof(inst->product_name));
		lb_hive_get_string(hv.h, cv, "EditionID", inst->edition, sizeof(inst->edition));
		if (lb_hive_get_string(hv.h, cv, "CurrentBuild", inst->build, sizeof(inst->build)))
			lb_hive_get_string(hv.h, cv, "CurrentBuildNumber", inst->build,
			                   sizeof(inst->build));
		if (lb_hive_get_string(hv.h, cv, "DisplayVersion", inst->display_version,
		                       sizeof(inst->display_version)))
			lb_hive_get_string(hv.h, cv, "ReleaseId", inst->display_version,
			                   sizeof(inst->display_version));
		inst->has_ubr = lb_hive_get_dword(hv.h, cv, "UBR", &inst->ubr) == 0;
		{
			uint32_t t;

			if (lb_hive_get_dword(hv.h, cv, "InstallDate", &t) == 0 && t) {
				time_t tt = (time_t)t;
				struct tm tm;

				gmtime_r(&tt, &tm);
				strftime(inst->install_date, sizeof(inst->install_date),
				         "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
		}
		lb_hive_get_string(hv.h, "Microsoft\\Cryptography", "MachineGuid",
		                   inst->machine_guid, sizeof(inst->machine_guid));
		sensor_version(hv.h, inst->sensor_version, sizeof(inst->sensor_version));
		lb_hive_close(&hv);
	}
}
