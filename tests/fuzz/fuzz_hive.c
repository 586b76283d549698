/* fuzz_hive.c - hostile registry hives through our hive code: the regf
 * base block and bin checks, lb_hive_open_buffer (memfd + hivex) and every
 * getter the engine uses to identify an install (SYSTEM: Select, computer
 * name, domain, CrowdStrike sensor keys; SOFTWARE: CurrentVersion values,
 * Uninstall entries), the control-set reader and the BCD default-entry
 * reader (lb_bcd_default, on the same bytes as a file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lb_bcd.h"
#include "lb_hive.h"
#include "lb_hivedit.h"
#include "lb_regf.h"

static void system_getters(hive_h *h)
{
	char key[256], out[256];
	hive_type t;
	uint8_t *raw;
	size_t len;
	int cs = lb_hive_current_controlset(h);
	struct lb_controlsets sets;
	struct lb_err err;

	snprintf(key, sizeof(key), "ControlSet%03d\\Control\\ComputerName\\ComputerName", cs);
	lb_hive_get_string(h, key, "ComputerName", out, sizeof(out));
	snprintf(key, sizeof(key), "ControlSet%03d\\Services\\Tcpip\\Parameters", cs);
	lb_hive_get_string(h, key, "Domain", out, sizeof(out));
	snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent", cs);
	lb_hive_node(h, key);
	snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent\\Sim", cs);
	if (lb_hive_get_raw(h, key, "AG", &t, &raw, &len) == 0)
		free(raw);
	if (lb_hive_get_raw(h, key, "CU", &t, &raw, &len) == 0)
		free(raw);
	lb_hivedit_control_sets(h, &sets, &err);
	/* a small buffer: truncation must be safe */
	lb_hive_get_string(h, key, "", out, 3);
}

static void software_getters(hive_h *h)
{
	const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
	char out[64];
	uint32_t v;
	hive_node_h un, *kids;

	lb_hive_get_string(h, cv, "ProductName", out, sizeof(out));
	lb_hive_get_string(h, cv, "EditionID", out, sizeof(out));
	lb_hive_get_string(h, cv, "CurrentBuild", out, sizeof(out));
	lb_hive_get_string(h, cv, "DisplayVersion", out, sizeof(out));
	lb_hive_get_dword(h, cv, "UBR", &v);
	lb_hive_get_dword(h, cv, "InstallDate", &v);
	/* as lb_windows.c's sensor_version() */
	un = lb_hive_node(h, "Microsoft\\Windows\\CurrentVersion\\Uninstall");
	if (un && (kids = hivex_node_children(h, un))) {
		for (size_t i = 0; kids[i] && i < 64; i++) {
			hive_value_h dn = hivex_node_get_value(h, kids[i], "DisplayName");
			char *name = dn ? hivex_value_string(h, dn) : NULL;

			if (name && strstr(name, "CrowdStrike")) {
				hive_value_h dv = hivex_node_get_value(h, kids[i], "DisplayVersion");

				free(dv ? hivex_value_string(h, dv) : NULL);
			}
			free(name);
		}
		free(kids);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_regf_info info;
	struct lb_hive hv;
	struct lb_err err;
	struct lb_bcd_entry e;
	char path[64];

	lb_err_clear(&err);
	lb_regf_check(data, size, &info, &err);
	if (lb_hive_open_buffer(data, size, "fuzz", &hv, &err) == 0) {
		system_getters(hv.h);
		software_getters(hv.h);
		lb_hive_close(&hv);
	}
	/* BCD: same bytes as a file (lb_bcd_default checks, then hivex_open) */
	if (size >= 4096 && memcmp(data, "regf", 4) == 0 && lbf_image(data, size, path) >= 0)
		lb_bcd_default(path, &e, &err);
	return 0;
}
