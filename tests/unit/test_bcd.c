/* lb_bcd: the real BCD store (default entry, description, safeboot set /
 * changed / cleared on new files), then end to end on a generated disk
 * image with a FAT32 ESP at 1 MiB: fetch with mtools, set safeboot minimal,
 * put back (evidence kept), read back with hivex, clear, check the element
 * key is gone, fsck the FAT, check nothing outside the ESP moved. */
#include <hivex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lbtest.h"
#include "lb_bcd.h"

#define W "tests-work/bcd/"
#define DEFAULT_GUID "{733b62e5-f608-11eb-825c-c112f60133ab}"
#define ESP_OFF 1048576ull

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		exit(1);
	}
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	REQUIRE(f);
	REQUIRE(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	rewind(f);
	b = malloc(n > 0 ? (size_t)n : 1);
	REQUIRE(b && fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static bool same(const char *a, const char *b)
{
	size_t na, nb;
	uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
	bool s = na == nb && memcmp(x, y, na) == 0;

	free(x);
	free(y);
	return s;
}

/* Raw Element value of a BCD element key: 0 found, 1 key absent. */
static int element_raw(const char *bcd, const char *guid, const char *el, hive_type *t, uint8_t *out,
                       size_t *len)
{
	hive_h *h = hivex_open(bcd, 0);
	hive_node_h n;
	hive_value_h v;
	char *d;
	int rc = 1;

	REQUIRE(h);
	n = hivex_node_get_child(h, hivex_root(h), "Objects");
	n = n ? hivex_node_get_child(h, n, guid) : 0;
	n = n ? hivex_node_get_child(h, n, "Elements") : 0;
	REQUIRE(n);
	n = hivex_node_get_child(h, n, el);
	if (n && (v = hivex_node_get_value(h, n, "Element")) && (d = hivex_value_value(h, v, t, len))) {
		if (*len <= 64)
			memcpy(out, d, *len);
		free(d);
		rc = 0;
	}
	hivex_close(h);
	return rc;
}

static void test_store(void)
{
	struct lb_bcd_entry e;
	struct lb_err err;
	hive_type t;
	uint8_t d[64];
	size_t len;
	int old = 99;
	char src[1024];

	REQUIRE(lb_bcd_default(W "BCD", &e, &err) == 0);
	CHECK_EQ_STR(e.guid, DEFAULT_GUID);
	CHECK_EQ_STR(e.description, "Windows 10");
	CHECK_EQ_INT(e.type, 0x10200003);
	CHECK_EQ_INT(e.safeboot, LB_SAFEBOOT_NONE);

	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD", W "BCD.min", NULL, LB_SAFEBOOT_MINIMAL, &old, &err), 0);
	CHECK_EQ_INT(old, LB_SAFEBOOT_NONE);
	REQUIRE(element_raw(W "BCD.min", DEFAULT_GUID, "25000080", &t, d, &len) == 0);
	CHECK_EQ_INT(t, hive_t_REG_BINARY);
	CHECK(len == 8 && memcmp(d, "\0\0\0\0\0\0\0\0", 8) == 0);
	REQUIRE(lb_bcd_default(W "BCD.min", &e, &err) == 0);
	CHECK_EQ_INT(e.safeboot, LB_SAFEBOOT_MINIMAL);
	CHECK_EQ_STR(e.description, "Windows 10");

	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD.min", W "BCD.net", DEFAULT_GUID, LB_SAFEBOOT_NETWORK, &old,
	                                 &err), 0);
	CHECK_EQ_INT(old, LB_SAFEBOOT_MINIMAL);
	REQUIRE(element_raw(W "BCD.net", DEFAULT_GUID, "25000080", &t, d, &len) == 0);
	CHECK(len == 8 && d[0] == 1 && memcmp(d + 1, "\0\0\0\0\0\0\0", 7) == 0);

	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD.net", W "BCD.clear", NULL, LB_SAFEBOOT_NONE, &old, &err), 0);
	CHECK_EQ_INT(old, LB_SAFEBOOT_NETWORK);
	CHECK_EQ_INT(element_raw(W "BCD.clear", DEFAULT_GUID, "25000080", &t, d, &len), 1);
	/* the other elements are untouched */
	REQUIRE(element_raw(W "BCD.clear", DEFAULT_GUID, "25000020", &t, d, &len) == 0);
	CHECK(t == hive_t_REG_BINARY && len == 8);
	/* clearing what is not set is fine */
	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD", W "BCD.clear2", NULL, LB_SAFEBOOT_NONE, &old, &err), 0);
	CHECK_EQ_INT(old, LB_SAFEBOOT_NONE);

	/* refusals */
	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD", W "BCD.x", NULL, 3, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD", W "BCD.x", "{00000000-0000-0000-0000-000000000000}",
	                                 LB_SAFEBOOT_MINIMAL, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK_EQ_INT(lb_bcd_set_safeboot(W "BCD", W "BCD.min", NULL, LB_SAFEBOOT_MINIMAL, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK(access(W "BCD.x", F_OK) != 0);
	lbt_shared("hives/SYSTEM.xz", src, sizeof(src));
	{
		char cmd[2048];

		snprintf(cmd, sizeof(cmd), "xz -dc '%s' > " W "SYSTEM", src);
		sh(cmd);
	}
	CHECK_EQ_INT(lb_bcd_default(W "SYSTEM", &e, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, "not a BCD store") != NULL);
	lbt_shared("hives/corrupted_system_hive.xz", src, sizeof(src));
	{
		char cmd[2048];

		snprintf(cmd, sizeof(cmd), "xz -dc '%s' > " W "corrupted", src);
		sh(cmd);
	}
	CHECK_EQ_INT(lb_bcd_set_safeboot(W "corrupted", W "corrupted.out", NULL, 0, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(access(W "corrupted.out", F_OK) != 0);
}

static void test_esp(void)
{
	struct lb_bcd_entry e;
	struct lb_err err;
	hive_type t;
	uint8_t d[64];
	size_t len;
	int old;

	/* disk: 1 MiB of "MBR area" marker, a 40 MiB FAT32 ESP, 1 MiB marker */
	sh("cd " W " && mkfs.vfat -F 32 -n ESP -C esp.img 40960 >/dev/null"
	   " && (yes LBMARK | head -c 1048576; cat esp.img; yes LBTAIL | head -c 1048576) > disk.img"
	   " && rm esp.img"
	   " && export MTOOLS_SKIP_CHECK=1"
	   " && mmd -i disk.img@@1048576 ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot"
	   " && mcopy -i disk.img@@1048576 BCD ::/EFI/Microsoft/Boot/BCD");

	CHECK_EQ_INT(lb_bcd_fetch(W "disk.img", ESP_OFF, W "esp.1", &err), 0);
	CHECK(same(W "esp.1", W "BCD"));
	CHECK_EQ_INT(lb_bcd_fetch(W "disk.img", ESP_OFF, W "esp.1", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK_EQ_INT(lb_bcd_fetch(W "disk.img", 0, W "esp.bad", &err), -1); /* no FAT at 0 */
	CHECK_EQ_INT(err.kind, LB_EK_IO);
	CHECK(access(W "esp.bad", F_OK) != 0);

	/* safeboot minimal, put back */
	REQUIRE(lb_bcd_set_safeboot(W "esp.1", W "esp.1.min", NULL, LB_SAFEBOOT_MINIMAL, &old, &err) == 0);
	CHECK_EQ_INT(lb_bcd_put(W "disk.img", ESP_OFF, W "esp.1.min", "BCD.LB1", &err), 0);
	CHECK_EQ_INT(lb_bcd_fetch(W "disk.img", ESP_OFF, W "esp.2", &err), 0);
	CHECK(same(W "esp.2", W "esp.1.min"));
	REQUIRE(element_raw(W "esp.2", DEFAULT_GUID, "25000080", &t, d, &len) == 0);
	CHECK(t == hive_t_REG_BINARY && len == 8 && memcmp(d, "\0\0\0\0\0\0\0\0", 8) == 0);
	REQUIRE(lb_bcd_default(W "esp.2", &e, &err) == 0);
	CHECK_EQ_INT(e.safeboot, LB_SAFEBOOT_MINIMAL);
	/* evidence: the original file, renamed */
	sh("cd " W " && MTOOLS_SKIP_CHECK=1 mcopy -n -i disk.img@@1048576 ::/EFI/Microsoft/Boot/BCD.LB1 evid.1");
	CHECK(same(W "evid.1", W "BCD"));
	/* the evidence name is never reused; a non-BCD file is never put */
	CHECK_EQ_INT(lb_bcd_put(W "disk.img", ESP_OFF, W "esp.1.min", "BCD.LB1", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK_EQ_INT(lb_bcd_put(W "disk.img", ESP_OFF, W "esp.1.min", "bad/name", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	CHECK_EQ_INT(lb_bcd_put(W "disk.img", ESP_OFF, W "SYSTEM", "BCD.LB9", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);

	/* clear it again */
	REQUIRE(lb_bcd_set_safeboot(W "esp.2", W "esp.2.clear", NULL, LB_SAFEBOOT_NONE, &old, &err) == 0);
	CHECK_EQ_INT(old, LB_SAFEBOOT_MINIMAL);
	CHECK_EQ_INT(lb_bcd_put(W "disk.img", ESP_OFF, W "esp.2.clear", "BCD.LB2", &err), 0);
	CHECK_EQ_INT(lb_bcd_fetch(W "disk.img", ESP_OFF, W "esp.3", &err), 0);
	CHECK_EQ_INT(element_raw(W "esp.3", DEFAULT_GUID, "25000080", &t, d, &len), 1);
	REQUIRE(lb_bcd_default(W "esp.3", &e, &err) == 0);
	CHECK_EQ_INT(e.safeboot, LB_SAFEBOOT_NONE);
	CHECK_EQ_STR(e.description, "Windows 10");

	/* directory: BCD, both evidence files, no BCD.NEW left; FAT clean;
	 * bytes outside the ESP unchanged */
	sh("cd " W " && MTOOLS_SKIP_CHECK=1 mdir -b -i disk.img@@1048576 ::/EFI/Microsoft/Boot | sort > dir.txt"
	   " && printf '::/EFI/Microsoft/Boot/BCD\\n::/EFI/Microsoft/Boot/BCD.LB1\\n::/EFI/Microsoft/Boot/BCD.LB2\\n' > dir.want"
	   " && cmp dir.txt dir.want");
	sh("cd " W " && dd if=disk.img of=esp.part bs=1M skip=1 count=40 status=none"
	   " && fsck.vfat -n esp.part >/dev/null && rm esp.part");
	sh("cd " W " && [ \"$(head -c 1048576 disk.img | md5sum)\" = \"$(yes LBMARK | head -c 1048576 | md5sum)\" ]");
	sh("cd " W " && [ \"$(tail -c 1048576 disk.img | md5sum)\" = \"$(yes LBTAIL | head -c 1048576 | md5sum)\" ]");
}

int main(void)
{
	char src[1024], cmd[2048];

	lbt_shared("hives/BCD.xz", src, sizeof(src));
	snprintf(cmd, sizeof(cmd), "rm -rf " W " && mkdir -p " W " && xz -dc '%s' > " W "BCD", src);
	sh(cmd);
	test_store();
	test_esp();
	LBT_DONE_CLEAN(W);
}
