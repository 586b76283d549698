/* lb_windows.h - Windows installations on an NTFS volume.
 *
 * An installation is a top-level directory holding
 * System32\config\SYSTEM (usually \Windows; older or custom set-ups use
 * \WINNT or another name).  Identity comes from the SYSTEM and SOFTWARE
 * hives, read-only: each is checked as the edit path checks it
 * (lb_regf_check_stream: base block, every bin and cell, streamed) and its
 * values are read by the lazy reader (lb_regf_read.h) straight from the
 * NTFS file, so memory does not grow with the hives; only a dirty hive
 * that needs its transaction logs is read whole (and replayed in memory). */
#ifndef LB_WINDOWS_H
#define LB_WINDOWS_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_ntfs.h"

struct lb_hive_status {
	bool present;
	bool ok;
	bool dirty;
	char error[512];
};

struct lb_install {
	char system_root[512];      /* "\Windows", real case */
	char hostname[256];
	char domain[256];
	char product_name[256];
	char edition[128];
	char build[32];
	char display_version[64];
	uint32_t ubr;
	bool has_ubr;
	int current_controlset;
	char install_date[32];      /* UTC ISO 8601 from SOFTWARE InstallDate */
	char machine_guid[64];      /* SOFTWARE Microsoft\Cryptography MachineGuid */
	bool sensor_present;        /* CrowdStrike Falcon sensor (Services\CSAgent) */
	char sensor_version[64];    /* from its Uninstall entry */
	char agent_id[64];          /* Services\CSAgent\Sim AG, hex */
	char customer_id[64];       /* Services\CSAgent\Sim CU, hex */
	struct lb_hive_status system, software;
};

/* Finds every installation; *out is malloc'd (free it). */
int lb_windows_find(struct lb_ntfs *v, struct lb_install **out, int *n, struct lb_err *err);
/* Fills identity fields; hive problems are recorded in inst, not returned. */
void lb_windows_identify(struct lb_ntfs *v, struct lb_install *inst);

#endif
