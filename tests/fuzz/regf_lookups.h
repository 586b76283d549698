/* regf_lookups.h - every lookup the identity makes (recover/windows/
 * lb_windows.c) through the lazy hive reader, results ignored: for
 * fuzz_regf_read and test_regf_read, which run it on hostile hives (no
 * crash, no loop, under ASan).  Header-only. */
#ifndef LB_REGF_LOOKUPS_H
#define LB_REGF_LOOKUPS_H

#include <stdlib.h>

#include "lb_regf_read.h"

struct regf_uninstall {
	struct lb_regf_reader *r;
	int seen;
};

static int regf_uninstall_cb(void *arg, uint64_t key)
{
	struct regf_uninstall *u = arg;
	char s[64];
	struct lb_err e;

	if (lb_regf_get_string(u->r, key, "", "DisplayName", s, sizeof(s), &e) == 0)
		lb_regf_get_string(u->r, key, "", "DisplayVersion", s, sizeof(s), &e);
	return ++u->seen >= 256;
}

static inline void regf_identity_lookups(struct lb_regf_reader *r)
{
	const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
	const char *sim = "ControlSet001\\Services\\CSAgent\\Sim";
	char s[64];
	uint32_t v, t;
	uint8_t *d;
	size_t l;
	uint64_t k;
	struct lb_err e;
	struct regf_uninstall u = { r, 0 };

	lb_regf_get_dword(r, 0, "Select", "Current", &v, &e);
	lb_regf_get_string(r, 0, "ControlSet001\\Control\\ComputerName\\ComputerName",
	                   "ComputerName", s, sizeof(s), &e);
	lb_regf_get_string(r, 0, "ControlSet001\\Services\\Tcpip\\Parameters", "Domain", s, 3, &e);
	lb_regf_key(r, 0, "ControlSet001\\Services\\CSAgent", &k, &e);
	if (lb_regf_get_raw(r, 0, sim, "AG", &t, &d, &l, &e) == 0)
		free(d);
	if (lb_regf_get_raw(r, 0, sim, "CU", &t, &d, &l, &e) == 0)
		free(d);
	lb_regf_get_string(r, 0, cv, "ProductName", s, sizeof(s), &e);
	lb_regf_get_string(r, 0, cv, "CurrentBuild", s, sizeof(s), &e);
	lb_regf_get_dword(r, 0, cv, "UBR", &v, &e);
	lb_regf_get_dword(r, 0, cv, "InstallDate", &v, &e);
	lb_regf_get_string(r, 0, "Microsoft\\Cryptography", "MachineGuid", s, sizeof(s), &e);
	if (lb_regf_key(r, 0, "Microsoft\\Windows\\CurrentVersion\\Uninstall", &k, &e) == 0)
		lb_regf_subkeys(r, k, regf_uninstall_cb, &u, &e);
	/* the root's own subkeys (all of them, if the list is sound) and
	 * default value (BCD-shaped inputs) */
	u.seen = 0;
	lb_regf_subkeys(r, lb_regf_root(r), regf_uninstall_cb, &u, &e);
	lb_regf_get_string(r, 0, "", "", s, sizeof(s), &e);
}

#endif
