/* fuzz_hivedit.c - the registry write path (fix and undo) on a hostile
 * hive: lb_hivedit_open (regf checks, then hivex writable), control-set
 * resolution, a registry rule's edits (disable a service, set a string
 * creating keys, delete a value), the undo of the first edit, and
 * lb_hivedit_commit to a new file, which re-checks what it wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "lb_hivedit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[128];
	char path[64], resolved[512];
	struct lb_hivedit he;
	struct lb_regval old, old2;
	struct lb_controlsets cs;
	struct lb_err err;

	if (!out[0])
		snprintf(out, sizeof(out), "/dev/shm/lb-fuzz-hivedit-%d.hive", (int)getpid());
	if (size < 4096 || memcmp(data, "regf", 4) != 0)
		return 0; /* lb_hivedit_open refuses those before hivex: nothing to learn */
	if (lbf_image(data, size, path) < 0)
		return 0;
	lb_err_clear(&err);
	if (lb_hivedit_open(path, &he, &err))
		return 0;
	memset(&old, 0, sizeof(old));
	memset(&old2, 0, sizeof(old2));
	lb_hivedit_control_sets(he.h, &cs, &err);
	lb_hivedit_resolve(he.h, "CurrentControlSet\\Services\\CSAgent", resolved, sizeof(resolved),
	                   &err);
	if (lb_hivedit_set_dword(&he, "CurrentControlSet\\Services\\CSAgent", "Start", 4, 0, &old,
	                         &err) == 0) {
		lb_hivedit_restore(&he, "CurrentControlSet\\Services\\CSAgent", "Start", &old, &err);
	}
	lb_hivedit_set_sz(&he, "CurrentControlSet\\Control\\LoopBreaker\\Fuzz", "Note",
	                  "fuzz \xc3\xa9t\xc3\xa9", LB_HIVEDIT_CREATE_KEYS, NULL, &err);
	lb_hivedit_delete_value(&he, "CurrentControlSet\\Control\\ComputerName\\ComputerName",
	                        "ComputerName", &old2, &err);
	lb_regval_free(&old2);
	lb_hivedit_get(&he, "Select", "Current", &old2, &err);
	unlink(out);
	lb_hivedit_commit(&he, out, &err);
	unlink(out);
	lb_hivedit_close(&he);
	lb_regval_free(&old);
	lb_regval_free(&old2);
	return 0;
}
