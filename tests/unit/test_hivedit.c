/* lb_hivedit on a copy of a real Windows 7 SYSTEM hive: CurrentControlSet,
 * the control sets that boot, each value type set and committed to a new
 * file, re-read with hivex; undo restores the exact original bytes; damaged
 * and dirty hives are refused before anything is written; the read-only
 * identity path (lb_hive) refuses what the edit path refuses, for the same
 * reason, and reads a dirty hive whose logs repair it. */
#include <hivex.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lbtest.h"
#include "lb_bytes.h"
#include "lb_file.h"
#include "lb_hive.h"
#include "lb_hivedit.h"
#include "lb_regf.h"

#define W "tests-work/hivedit/"

static void unpack(const char *xz, const char *name)
{
	char src[1024], cmd[4096];

	lbt_shared(xz, src, sizeof(src));
	snprintf(cmd, sizeof(cmd), "mkdir -p " W " && rm -f " W "%s* && xz -dc '%s' > " W "%s",
	         name, src, name);
	REQUIRE(system(cmd) == 0);
}

static void file_hash(const char *path, uint8_t md[32])
{
	FILE *f = fopen(path, "rb");
	crypto_hash_sha256_state st;
	uint8_t buf[65536];
	size_t n;

	REQUIRE(f);
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&st, buf, n);
	fclose(f);
	crypto_hash_sha256_final(&st, md);
}

/* Raw value as hivex reads it from a file. */
static int raw_of(hive_h *h, const char *path, const char *name, hive_type *t, char **data,
                  size_t *len)
{
	char tmp[512], *save = NULL, *part;
	hive_node_h n = hivex_root(h);
	hive_value_h v;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (part = strtok_r(tmp, "\\", &save); part && n; part = strtok_r(NULL, "\\", &save))
		n = hivex_node_get_child(h, n, part);
	if (!n)
		return -1;
	v = hivex_node_get_value(h, n, name);
	if (!v)
		return 1;
	*data = hivex_value_value(h, v, t, len);
	return *data ? 0 : -1;
}

static bool raw_is(hive_h *h, const char *path, const char *name, hive_type t, const void *data,
                   size_t len)
{
	hive_type rt;
	char *rd = NULL;
	size_t rl = 0;
	bool ok;

	if (raw_of(h, path, name, &rt, &rd, &rl) != 0)
		return false;
	ok = rt == t && rl == len && memcmp(rd, data, len) == 0;
	free(rd);
	return ok;
}

static const uint8_t expand_w[] = "%\0S\0y\0s\0t\0e\0m\0R\0o\0o\0t\0%\0\\\0x\0.\0s\0y\0s\0\0";
/* "LB-TÉST-€𝄞" in UTF-16LE: É U+00C9, € U+20AC, 𝄞 U+1D11E (D834 DD1E) */
static const uint8_t name_w[] = { 'L', 0, 'B', 0, '-', 0, 'T', 0, 0xC9, 0, 'S', 0, 'T', 0, '-', 0,
                                  0xAC, 0x20, 0x34, 0xD8, 0x1E, 0xDD, 0, 0 };
static const uint8_t multi_w[] = { 'a', 0, 0, 0, 'b', 0, 0xE9, 0, 0, 0, 'c', 0, ' ', 0, 'd', 0, 0, 0,
                                   0, 0 };

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *d = NULL;
	struct lb_err err;

	REQUIRE(lb_read_file(path, (size_t)1 << 30, &d, len, &err) == 0);
	return d;
}

static void spit(const char *path, const uint8_t *d, size_t len)
{
	FILE *f = fopen(path, "wb");

	REQUIRE(f && fwrite(d, 1, len, f) == len);
	fclose(f);
}

/* One damaged hive through both paths: the same lb_regf reason (want). */
static void both_refuse(const char *path, const uint8_t *d, size_t len, const char *want)
{
	struct lb_hivedit he;
	struct lb_hive hv;
	struct lb_err err, e2;

	spit(path, d, len);
	CHECK_EQ_INT(lb_hivedit_open(path, &he, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK_EQ_INT(lb_hive_open_buffer(d, len, "\\Windows\\System32\\config\\SYSTEM", &hv, &e2), -1);
	CHECK_EQ_INT(e2.kind, LB_EK_INPUT);
	CHECK(hv.h == NULL && !hv.dirty);
	CHECK(strstr(e2.msg, want) != NULL);
	CHECK(strstr(e2.msg, "\\Windows\\System32\\config\\SYSTEM: ") == e2.msg);
	if (strstr(e2.msg, want) == NULL)
		fprintf(stderr, "  identity path said: %s\n", e2.msg);
	/* not dirty: there is nothing a log could complete */
	CHECK_EQ_INT(lb_hive_open_replayed(d, len, NULL, 0, NULL, 0, "SYSTEM", &hv, &e2), -1);
	CHECK(strstr(e2.msg, want) != NULL);
}

static void test_identity_checks(void)
{
	struct lb_regf_info in;
	struct lb_hive hv;
	struct lb_err err;
	size_t n, n1, n2;
	uint8_t *b, *l1, *l2;
	uint32_t last = 4096, c;

	/* the real SYSTEM cut where its last hive bin starts: hivex_open takes
	 * it (the bug this guards against), both paths refuse it */
	b = slurp(W "SYSTEM", &n);
	REQUIRE(lb_regf_check(b, n, &in, &err) == 0);
	while (last + lb_le32(b + last + 8) < 4096 + in.hbins_size)
		last += lb_le32(b + last + 8);
	both_refuse(W "SYSTEM.cut", b, last, "hive truncated");
	/* full length, a broken cell in the second bin */
	c = 4096 + lb_le32(b + 4096 + 8) + 32;
	lb_put_le32(b + c, (uint32_t)((int32_t)lb_le32(b + c) - 4));
	{
		char want[64];

		snprintf(want, sizeof(want), "cell at file offset 0x%x", c);
		both_refuse(W "SYSTEM.cell", b, n, want);
	}
	free(b);

	/* dirty and sound (SYSTEM_2): opened as it is, as before */
	unpack("hives/SYSTEM_2.xz", "SYSTEM_2");
	b = slurp(W "SYSTEM_2", &n);
	CHECK_EQ_INT(lb_hive_open_buffer(b, n, "SYSTEM_2", &hv, &err), 0);
	CHECK(hv.h && hv.dirty && !hv.replayed);
	lb_hive_close(&hv);
	free(b);

	/* dirty with a broken base block checksum (SYSTEM_B): not openable on
	 * its own, its real logs repair it */
	unpack("hives/SYSTEM_B.xz", "SYSTEM_B");
	unpack("hives/SYSTEM_B.LOG1.xz", "SYSTEM_B.LOG1");
	unpack("hives/SYSTEM_B.LOG2.xz", "SYSTEM_B.LOG2");
	b = slurp(W "SYSTEM_B", &n);
	l1 = slurp(W "SYSTEM_B.LOG1", &n1);
	l2 = slurp(W "SYSTEM_B.LOG2", &n2);
	b[0x1FC] ^= 0x55;
	CHECK_EQ_INT(lb_hive_open_buffer(b, n, "SYSTEM_B", &hv, &err), -1);
	CHECK(strstr(err.msg, "checksum") != NULL);
	CHECK(hv.dirty && hv.h == NULL);
	CHECK_EQ_INT(lb_hive_open_replayed(b, n, l1, n1, l2, n2, "SYSTEM_B", &hv, &err), 0);
	CHECK(hv.h && hv.dirty && hv.replayed);
	if (hv.h) {
		char s[128];

		CHECK_EQ_INT(lb_hive_get_string(hv.h, "ControlSet001\\Control\\Class\\"
		             "{4d36e96c-e325-11ce-bfc1-08002be10318}\\0013", "DriverDesc", s,
		             sizeof(s)), 0);
		CHECK_EQ_STR(s, "NVIDIA High Definition Audio");
	}
	lb_hive_close(&hv);
	/* ... and without them it is damaged, and says why */
	CHECK_EQ_INT(lb_hive_open_replayed(b, n, NULL, 0, NULL, 0, "SYSTEM_B", &hv, &err), -1);
	CHECK(strstr(err.msg, "checksum") != NULL && strstr(err.msg, ".LOG1/.LOG2") != NULL);
	CHECK(hv.h == NULL);
	/* logs that do not apply (LOG1 handed over twice, damaged) */
	l1[600] ^= 1;
	CHECK_EQ_INT(lb_hive_open_replayed(b, n, l1, n1, NULL, 0, "SYSTEM_B", &hv, &err), -1);
	CHECK(strstr(err.msg, "logs do not repair it") != NULL);
	free(b);
	free(l1);
	free(l2);
}

int main(void)
{
	struct lb_hivedit he;
	struct lb_err err;
	struct lb_controlsets cs;
	struct lb_regval orig_name, old_name, old_failed, old_new[6], v;
	uint8_t md0[32], md1[32], bin[1000];
	char res[256];
	const char *multi[] = { "a", "b\xc3\xa9", "c d" };
	const char *cn = "CurrentControlSet\\Control\\ComputerName\\ComputerName";
	const char *lt = "CurrentControlSet\\Services\\LbTest\\Params";
	const char *names[6] = { "Expand", "Dword", "Qword", "Multi", "Binary", "Sz" };
	hive_h *h;

	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7 + 3);
	unpack("hives/SYSTEM.xz", "SYSTEM");
	file_hash(W "SYSTEM", md0);

	REQUIRE(lb_hivedit_open(W "SYSTEM", &he, &err) == 0);
	/* control sets */
	CHECK_EQ_INT(lb_hivedit_control_sets(he.h, &cs, &err), 0);
	CHECK_EQ_INT(cs.current, 1);
	CHECK_EQ_INT(cs.deflt, 1);
	CHECK_EQ_INT(cs.last_known_good, 2);
	CHECK_EQ_INT(cs.failed, 0);
	CHECK_EQ_INT(cs.nboot, 2);
	CHECK_EQ_INT(cs.boot[0], 1);
	CHECK_EQ_INT(cs.boot[1], 2);
	CHECK_EQ_INT(lb_hivedit_resolve(he.h, "\\currentcontrolset\\Services", res, sizeof(res), &err), 0);
	CHECK_EQ_STR(res, "ControlSet001\\Services");
	CHECK_EQ_INT(lb_hivedit_resolve(he.h, "CurrentControlSet", res, sizeof(res), &err), 0);
	CHECK_EQ_STR(res, "ControlSet001");
	CHECK_EQ_INT(lb_hivedit_resolve(he.h, "CurrentControlSetX\\a", res, sizeof(res), &err), 0);
	CHECK_EQ_STR(res, "CurrentControlSetX\\a");

	/* reads, case-insensitive */
	CHECK_EQ_INT(lb_hivedit_get(&he, "currentcontrolset\\control\\computername\\COMPUTERNAME",
	                            "computername", &orig_name, &err), 0);
	CHECK_EQ_INT(orig_name.type, LB_REG_SZ);
	CHECK_EQ_INT(orig_name.len, 30);
	CHECK(orig_name.len == 30 && memcmp(orig_name.data, "W\0K\0S\0-\0W\0I\0N\0", 14) == 0);
	CHECK_EQ_INT(lb_hivedit_get(&he, cn, "NoSuchValue", &v, &err), 1);
	CHECK(!v.present);
	CHECK_EQ_INT(lb_hivedit_get(&he, "ControlSet001\\NoSuchKey", "x", &v, &err), 1);

	/* each type */
	CHECK_EQ_INT(lb_hivedit_set_sz(&he, cn, "ComputerName", "LB-T\xc3\x89ST-\xe2\x82\xac\xf0\x9d\x84\x9e",
	                               0, &old_name, &err), 0);
	CHECK(old_name.present && old_name.type == LB_REG_SZ && old_name.len == orig_name.len &&
	      memcmp(old_name.data, orig_name.data, orig_name.len) == 0);
	CHECK_EQ_INT(lb_hivedit_set_dword(&he, lt, "Dword", 1, 0, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, "no key") != NULL);
	CHECK_EQ_INT(lb_hivedit_set_expand_sz(&he, lt, "Expand", "%SystemRoot%\\x.sys",
	                                      LB_HIVEDIT_CREATE_KEYS, &old_new[0], &err), 0);
	CHECK(!old_new[0].present);
	CHECK_EQ_INT(lb_hivedit_set_dword(&he, lt, "Dword", 0xDEADBEEF, 0, &old_new[1], &err), 0);
	CHECK_EQ_INT(lb_hivedit_set_qword(&he, lt, "Qword", 0x0123456789ABCDEFull, 0, &old_new[2], &err), 0);
	CHECK_EQ_INT(lb_hivedit_set_multi_sz(&he, lt, "Multi", multi, 3, 0, &old_new[3], &err), 0);
	CHECK_EQ_INT(lb_hivedit_set_binary(&he, lt, "Binary", bin, sizeof(bin), 0, &old_new[4], &err), 0);
	CHECK_EQ_INT(lb_hivedit_set_sz(&he, lt, "Sz", "", 0, &old_new[5], &err), 0);
	/* overwrite keeps the first captured old value meaningful */
	CHECK_EQ_INT(lb_hivedit_set_dword(&he, lt, "dword", 0xDEADBEEF, 0, &v, &err), 0);
	CHECK(v.present && v.type == LB_REG_DWORD && v.len == 4);
	lb_regval_free(&v);
	/* bad input */
	CHECK_EQ_INT(lb_hivedit_set_sz(&he, lt, "Bad", "\xc3\x28", 0, NULL, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	CHECK_EQ_INT(lb_hivedit_set_sz(&he, lt, "Bad", "\xed\xa0\x80", 0, NULL, &err), -1); /* surrogate */
	CHECK_EQ_INT(lb_hivedit_set_sz(&he, lt, "Bad", "\xc0\xaf", 0, NULL, &err), -1);     /* overlong */
	{
		const char *holes[] = { "a", "", "b" };

		CHECK_EQ_INT(lb_hivedit_set_multi_sz(&he, lt, "Bad", holes, 3, 0, NULL, &err), -1);
		CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	}
	/* delete */
	CHECK_EQ_INT(lb_hivedit_delete_value(&he, "Select", "FAILED", &old_failed, &err), 0);
	CHECK(old_failed.present && old_failed.type == LB_REG_DWORD && old_failed.len == 4);
	CHECK_EQ_INT(lb_hivedit_delete_value(&he, "Select", "Failed", NULL, &err), 1);
	CHECK_EQ_INT(lb_hivedit_get(&he, "Select", "Failed", &v, &err), 1);

	/* commit: new name only; the original is untouched */
	CHECK_EQ_INT(lb_hivedit_commit(&he, W "SYSTEM", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK_EQ_INT(lb_hivedit_commit(&he, W "SYSTEM.edited", &err), 0);
	CHECK_EQ_INT(lb_hivedit_commit(&he, W "SYSTEM.edited", &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	lb_hivedit_close(&he);
	file_hash(W "SYSTEM", md1);
	CHECK(memcmp(md0, md1, 32) == 0);

	/* re-read with plain hivex */
	h = hivex_open(W "SYSTEM.edited", 0);
	REQUIRE(h);
	CHECK(raw_is(h, "ControlSet001\\Control\\ComputerName\\ComputerName", "ComputerName", hive_t_REG_SZ,
	             name_w, sizeof(name_w)));
	{
		const char *p = "ControlSet001\\Services\\LbTest\\Params";
		static const uint8_t dw[] = { 0xEF, 0xBE, 0xAD, 0xDE };
		static const uint8_t qw[] = { 0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01 };

		CHECK(raw_is(h, p, "Expand", hive_t_REG_EXPAND_SZ, expand_w, sizeof(expand_w)) /* literal NUL + implicit NUL */);
		CHECK(raw_is(h, p, "Dword", hive_t_REG_DWORD, dw, 4));
		CHECK(raw_is(h, p, "Qword", hive_t_REG_QWORD, qw, 8));
		CHECK(raw_is(h, p, "Multi", hive_t_REG_MULTI_SZ, multi_w, sizeof(multi_w)));
		CHECK(raw_is(h, p, "Binary", hive_t_REG_BINARY, bin, sizeof(bin)));
		CHECK(raw_is(h, p, "Sz", hive_t_REG_SZ, "\0", 2));
		{
			char *s = NULL;
			hive_type t;
			size_t l;

			REQUIRE(raw_of(h, p, "Multi", &t, &s, &l) == 0);
			free(s);
		}
	}
	{
		hive_type t;
		char *d = NULL;
		size_t l;

		CHECK_EQ_INT(raw_of(h, "Select", "Failed", &t, &d, &l), 1);
		CHECK(raw_is(h, "Select", "Current", hive_t_REG_DWORD, "\1\0\0\0", 4));
		CHECK(raw_is(h, "Select", "LastKnownGood", hive_t_REG_DWORD, "\2\0\0\0", 4));
	}
	hivex_close(h);

	/* undo on the edited file */
	REQUIRE(lb_hivedit_open(W "SYSTEM.edited", &he, &err) == 0);
	CHECK_EQ_INT(lb_hivedit_restore(&he, cn, "ComputerName", &old_name, &err), 0);
	CHECK_EQ_INT(lb_hivedit_restore(&he, "Select", "Failed", &old_failed, &err), 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(lb_hivedit_restore(&he, lt, names[i], &old_new[i], &err), 0);
	CHECK_EQ_INT(lb_hivedit_commit(&he, W "SYSTEM.undone", &err), 0);
	lb_hivedit_close(&he);
	h = hivex_open(W "SYSTEM.undone", 0);
	REQUIRE(h);
	CHECK(raw_is(h, "ControlSet001\\Control\\ComputerName\\ComputerName", "ComputerName", hive_t_REG_SZ,
	             orig_name.data, orig_name.len));
	CHECK(raw_is(h, "Select", "Failed", (hive_type)old_failed.type, old_failed.data, old_failed.len));
	{
		hive_node_h n = hivex_root(h);
		hive_value_h *vals;

		n = hivex_node_get_child(h, n, "ControlSet001");
		n = n ? hivex_node_get_child(h, n, "Services") : 0;
		n = n ? hivex_node_get_child(h, n, "LbTest") : 0;
		n = n ? hivex_node_get_child(h, n, "Params") : 0;
		REQUIRE(n);
		vals = hivex_node_values(h, n);
		CHECK(vals && vals[0] == 0); /* the key stays, its values are gone */
		free(vals);
	}
	hivex_close(h);
	lb_regval_free(&orig_name);
	lb_regval_free(&old_name);
	lb_regval_free(&old_failed);
	for (int i = 0; i < 6; i++)
		lb_regval_free(&old_new[i]);

	/* damaged hive: refused, nothing written */
	unpack("hives/corrupted_system_hive.xz", "corrupted");
	file_hash(W "corrupted", md0);
	CHECK_EQ_INT(lb_hivedit_open(W "corrupted", &he, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, "corrupted") != NULL && strstr(err.msg, "hive bin") != NULL);
	CHECK(he.h == NULL);
	file_hash(W "corrupted", md1);
	CHECK(memcmp(md0, md1, 32) == 0);
	/* dirty hive: refused (logs first) */
	unpack("hives/SYSTEM_2.xz", "SYSTEM_2");
	CHECK_EQ_INT(lb_hivedit_open(W "SYSTEM_2", &he, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK(strstr(err.msg, "dirty") != NULL);
	/* truncated and missing files */
	REQUIRE(truncate(W "SYSTEM_2", 100000) == 0);
	CHECK_EQ_INT(lb_hivedit_open(W "SYSTEM_2", &he, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK_EQ_INT(lb_hivedit_open(W "nope", &he, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_IO);
	test_identity_checks();
	LBT_DONE_CLEAN(W);
}
