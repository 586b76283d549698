/* test_keys.c - recovery password checks, escrow CSV/JSON import, lookup. */
#include "lbtest.h"
#include "lb_keys.h"

#include <stdint.h>

/* Real pairs from bitlk-images/images.conf. */
#define G1 "64311dea-4587-4029-924a-ba299647998e"
#define K1 "235818-357951-253979-013365-241120-245575-342914-591910"
#define G2 "3fd763f9-74c7-4e90-8fa2-1f6a2e2b4e0c"
#define K2 "042647-302313-590458-071500-554323-116567-412181-516978"
#define G3 "b9859a34-8139-4d5e-a628-412bef9ba206"
#define K3 "616319-601744-502117-534017-367994-176748-607299-663201"

static struct lb_keystore *load(const char *data, size_t len, struct lb_keys_stats *st,
                                struct lb_err *err, int *rc)
{
	struct lb_keystore *ks = lb_keys_new();

	REQUIRE(ks);
	memset(st, 0, sizeof(*st));
	lb_err_clear(err);
	*rc = lb_keys_load_buffer(ks, data, len, "test.csv", st, err);
	return ks;
}

static void expect_key(const struct lb_keystore *ks, const char *guid, const char *key,
                       const char *host, const char *source)
{
	const struct lb_key_entry *e = lb_keys_lookup(ks, guid);

	CHECK(e != NULL);
	if (!e) {
		fprintf(stderr, "  missing %s\n", guid);
		return;
	}
	CHECK(strcmp(e->recovery_password, key) == 0);
	if (host)
		CHECK_EQ_STR(e->host, host);
	if (source)
		CHECK_EQ_STR(e->source, source);
}

static void no_key_in(const char *msg)
{
	CHECK(strstr(msg, "235818") == NULL);
	CHECK(strstr(msg, "042647") == NULL);
	CHECK(strstr(msg, "616319") == NULL);
}

int main(void)
{
	struct lb_keys_stats st;
	struct lb_err err;
	struct lb_keystore *ks;
	char out[LB_RP_LEN + 1];
	int rc;

	/* ---- recovery password format ---- */
	CHECK(lb_rp_normalize(K1, out, &err) == 0);
	CHECK_EQ_STR(out, K1);
	CHECK(lb_rp_normalize("235818357951253979013365241120245575342914591910", out, &err) == 0);
	CHECK_EQ_STR(out, K1);
	CHECK(lb_rp_normalize("  235818 357951 253979 013365\t241120-245575-342914-591910\r\n", out, &err) == 0);
	CHECK_EQ_STR(out, K1);
	CHECK(lb_rp_is_valid(K2) && lb_rp_is_valid(K3));
	CHECK(lb_rp_normalize("235818-357951-253979-013365-241120-245575-342914-591911", out, &err) == -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, "block 8") != NULL);
	CHECK(strstr(err.msg, "591911") == NULL);
	CHECK(out[0] == '\0');
	CHECK(lb_rp_normalize("235818-357951-253979-013365-241120-245575-342914", out, &err) == -1);
	CHECK(strstr(err.msg, "42 digits") != NULL);
	CHECK(lb_rp_normalize(K1 "-000000", out, &err) == -1);
	CHECK(lb_rp_normalize("235818-357951-253979-013365-241120-245575-342914-59191O", out, &err) == -1);
	CHECK(strstr(err.msg, "not a digit") != NULL);
	CHECK(lb_rp_normalize("", out, &err) == -1);
	CHECK(lb_rp_normalize(NULL, out, &err) == -1);
	/* 720896 = 65536 * 11: the first multiple of 11 that is too large */
	CHECK(lb_rp_normalize("720896-357951-253979-013365-241120-245575-342914-591910", out, &err) == -1);
	CHECK(strstr(err.msg, "block 1") != NULL);
	CHECK(lb_rp_is_valid("720885-000000-000000-000000-000000-000000-000000-000011"));

	CHECK_EQ_INT(lb_rp_check_block("235818", 6), LB_RP_BLOCK_OK);
	CHECK_EQ_INT(lb_rp_check_block("000000", 6), LB_RP_BLOCK_OK);
	CHECK_EQ_INT(lb_rp_check_block("235819", 6), LB_RP_BLOCK_NOT_MULTIPLE_OF_11);
	CHECK_EQ_INT(lb_rp_check_block("720896", 6), LB_RP_BLOCK_TOO_LARGE);
	CHECK_EQ_INT(lb_rp_check_block("720885", 6), LB_RP_BLOCK_OK);
	CHECK_EQ_INT(lb_rp_check_block("", 0), LB_RP_BLOCK_INCOMPLETE);
	CHECK_EQ_INT(lb_rp_check_block("72", 2), LB_RP_BLOCK_INCOMPLETE);
	CHECK_EQ_INT(lb_rp_check_block("721", 3), LB_RP_BLOCK_TOO_LARGE);  /* caught while typing */
	CHECK_EQ_INT(lb_rp_check_block("8", 1), LB_RP_BLOCK_TOO_LARGE);
	CHECK_EQ_INT(lb_rp_check_block("12a", 3), LB_RP_BLOCK_NOT_DIGITS);
	CHECK_EQ_INT(lb_rp_check_block("1234567", 7), LB_RP_BLOCK_TOO_LONG);
	CHECK(strlen(lb_rp_block_status_text(LB_RP_BLOCK_NOT_MULTIPLE_OF_11)) > 0);
	{   /* exhaustive: exactly 65536 valid blocks */
		int valid = 0;
		char b[16];
		for (int v = 0; v < 1000000; v++) {
			snprintf(b, sizeof(b), "%06d", v);
			valid += lb_rp_check_block(b, 6) == LB_RP_BLOCK_OK;
		}
		CHECK_EQ_INT(valid, 65536);
	}

	/* ---- Active Directory: Windows PowerShell Export-Csv, #TYPE, CRLF, GUID from the DN ---- */
	{
		const char csv[] =
			"#TYPE Selected.Microsoft.ActiveDirectory.Management.ADObject\r\n"
			"\"DistinguishedName\",\"msFVE-RecoveryPassword\",\"Name\"\r\n"
			"\"CN=2019-07-04T10:00:00-00:00{64311DEA-4587-4029-924A-BA299647998E},CN=DESKTOP-NPM7RCA,OU=Laptops,DC=corp,DC=example\",\"" K1 "\",\"2019-07-04T10:00:00-00:00{64311DEA-4587-4029-924A-BA299647998E}\"\r\n"
			"\"CN=2019-07-03T10:00:00-00:00{3FD763F9-74C7-4E90-8FA2-1F6A2E2B4E0C},CN=WKS042,OU=Laptops,DC=corp,DC=example\",\"" K2 "\",\"x\"\r\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 2);
		expect_key(ks, G1, K1, "DESKTOP-NPM7RCA", "ad");
		expect_key(ks, "{3FD763F9-74C7-4E90-8FA2-1F6A2E2B4E0C}", K2, "WKS042", "ad");
		CHECK(lb_keys_lookup(ks, "64311DEA-4587-4029-924A-BA299647998E") != NULL);
		CHECK(lb_keys_lookup(ks, "{64311dea-4587-4029-924a-ba299647998e}") != NULL);
		CHECK(lb_keys_lookup(ks, "64311dea-4587-4029-924a-ba299647998f") == NULL);
		CHECK(lb_keys_lookup(ks, "garbage") == NULL);
		lb_keys_free(ks);
	}
	/* AD, msFVE-RecoveryGuid column, UTF-8 BOM, ';' (European Excel), other order, case */
	{
		const char csv[] = "\xEF\xBB\xBF" "computer;MSFVE-RECOVERYPASSWORD;msfve-recoveryguid\n"
			"WKS1;" K1 ";" G1 "\n"
			"WKS2;" K2 ";{" G2 "}\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G1, K1, "WKS1", "ad");
		expect_key(ks, G2, K2, "WKS2", "ad");
		lb_keys_free(ks);
	}
	/* AD, the GUID exported as System.Byte[] (Export-Csv of the raw attribute):
	 * fall back to the object name; and csvde's X'...' hex of the raw bytes */
	{
		const char csv[] = "msFVE-RecoveryGuid,msFVE-RecoveryPassword,Name\n"
			"System.Byte[]," K1 ",2019-07-04T10:00:00-00:00{64311dea-4587-4029-924a-ba299647998e}\n"
			"X'f963d73fc774904e8fa21f6a2e2b4e0c'," K2 ",whatever\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G1, K1, NULL, "ad");
		expect_key(ks, G2, K2, NULL, "ad");
		lb_keys_free(ks);
	}
	/* Entra ID / Intune (Graph recoveryKeys as CSV) */
	{
		const char csv[] = "id,createdDateTime,volumeType,deviceId,key\n"
			G1 ",2024-07-19T04:09:00Z,1,1b3fe0a8-3e2f-4e1c-9a3e-1d2f3e4a5b6c," K1 "\n"
			G3 ",2024-07-19T04:10:00Z,2,1b3fe0a8-3e2f-4e1c-9a3e-1d2f3e4a5b6c," K3 "\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G1, K1, "1b3fe0a8-3e2f-4e1c-9a3e-1d2f3e4a5b6c", "entra");
		expect_key(ks, G3, K3, NULL, "entra");
		lb_keys_free(ks);
	}
	/* MBAM / ConfigMgr */
	{
		const char csv[] = "RecoveryKeyId,RecoveryKey,VolumeId,DeviceName\n"
			"{" G2 "}," K2 ",C:,POS-17\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G2, K2, "POS-17", "mbam");
		lb_keys_free(ks);
		const char csv2[] = "KeyId\tRecoveryKeyPassword\tComputerName\r\n" G2 "\t" K2 "\tKIOSK-3\r\n";
		ks = load(csv2, sizeof(csv2) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G2, K2, "KIOSK-3", "mbam");
		lb_keys_free(ks);
	}
	/* CrowdStrike BitLockerKeys.csv: hostname, "Key ID" with a space, extra columns */
	{
		const char csv[] = "Hostname,AID,Key ID,Recovery Key,Drive\n"
			"FIN-LT-0042,0123456789abcdef0123456789abcdef," G1 "," K1 ",C:\n"
			"\"FIN, \"\"LT\"\"\n-0043\",0123,{" G3 "},\"" K3 "\",C:\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G1, K1, "FIN-LT-0042", "crowdstrike");
		expect_key(ks, G3, K3, "FIN, \"LT\" -0043", "crowdstrike");   /* newline cleaned */
		CHECK_EQ_INT(st.rows, 2);
		lb_keys_free(ks);
	}
	/* UTF-16LE with BOM: Windows PowerShell "... | ConvertTo-Csv > keys.csv" */
	{
		const char src[] = "\"KeyID\",\"RecoveryKey\",\"hostname\"\r\n\"" G1 "\",\"" K1 "\",\"H\xC3\xB6st\"\r\n";
		size_t n = sizeof(src) - 1;
		char *u16 = malloc(2 + 2 * n);
		size_t o = 0;
		REQUIRE(u16);
		u16[o++] = (char)0xFF;
		u16[o++] = (char)0xFE;
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)src[i] == 0xC3) {   /* U+00F6 */
				u16[o++] = (char)0xF6;
				u16[o++] = 0;
				i++;
				continue;
			}
			u16[o++] = src[i];
			u16[o++] = 0;
		}
		ks = load(u16, o, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G1, K1, "H\xC3\xB6st", NULL);
		lb_keys_free(ks);
		free(u16);
	}
	/* bad rows are counted and skipped; a key without GUID is kept (no lookup) */
	{
		const char csv[] = "KeyID,RecoveryKey\n"
			G1 "," K1 "\n"
			G2 ",235818-357951-253979-013365-241120-245575-342914-591911\n"
			"not-a-guid," K3 "\n"
			",\n"
			"\n"
			G1 "," K1 "\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(st.rows, 4);
		CHECK_EQ_INT(st.loaded, 2);
		CHECK_EQ_INT(st.bad_key, 1);   /* ",\n" is a blank record, skipped */
		CHECK_EQ_INT(st.bad_guid, 1);
		CHECK_EQ_INT(st.duplicates, 1);
		CHECK(lb_keys_lookup(ks, G2) == NULL);
		CHECK_EQ_STR(lb_keys_entry(ks, 1)->guid, "");
		lb_keys_free(ks);
	}
	/* errors: no password column, unterminated quote, nothing usable */
	{
		const char c1[] = "KeyID,Foo\n" G1 "," K1 "\n";
		ks = load(c1, sizeof(c1) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "no recovery-password column") != NULL);
		CHECK(strstr(err.msg, "keyid, foo") != NULL);
		no_key_in(err.msg);
		lb_keys_free(ks);
		const char c2[] = "KeyID,RecoveryKey\n" G1 ",\"" K1 "\n";
		ks = load(c2, sizeof(c2) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		no_key_in(err.msg);
		lb_keys_free(ks);
		const char c3[] = "KeyID,RecoveryKey\n" G1 ",123\n";
		ks = load(c3, sizeof(c3) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err.msg, "no usable recovery password") != NULL);
		lb_keys_free(ks);
		ks = load("", 0, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		lb_keys_free(ks);
	}

	/* ---- Graph JSON ---- */
	{
		const char js[] = "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#informationProtection/bitlocker/recoveryKeys\","
			"\"value\":[{\"id\":\"" G1 "\",\"createdDateTime\":\"2024-07-19T04:09:00Z\",\"volumeType\":\"operatingSystemVolume\","
			"\"deviceId\":\"1b3fe0a8-3e2f-4e1c-9a3e-1d2f3e4a5b6c\",\"key\":\"" K1 "\"},"
			"{\"id\":\"" G3 "\",\"volumeType\":2,\"key\":\"" K3 "\"}, 17]}";
		ks = load(js, sizeof(js) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 2);
		expect_key(ks, G1, K1, "1b3fe0a8-3e2f-4e1c-9a3e-1d2f3e4a5b6c", "entra");
		expect_key(ks, G3, K3, NULL, "entra");
		CHECK_EQ_INT(st.bad_key, 1);
		lb_keys_free(ks);
	}
	{
		const char js[] = "  [ {\"KeyId\":\"{" G2 "}\",\"RecoveryKey\":\"" K2 "\",\"hostname\":\"WKS9\"} ]";
		ks = load(js, sizeof(js) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G2, K2, "WKS9", NULL);
		lb_keys_free(ks);
		const char one[] = "{\"id\":\"" G2 "\",\"key\":\"" K2 "\"}";
		ks = load(one, sizeof(one) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G2, K2, NULL, NULL);
		lb_keys_free(ks);
		const char bad[] = "{\"value\":[{\"id\":\"" G1 "\",\"key\":" K1 "}]}";
		ks = load(bad, sizeof(bad) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "not valid JSON") != NULL);
		no_key_in(err.msg);
		lb_keys_free(ks);
	}
	/* two keys for one ID (stale export): find() walks both */
	{
		const char csv[] = "KeyID,RecoveryKey\n" G1 "," K1 "\n" G1 "," K2 "\n";
		size_t pos = 0;
		const struct lb_key_entry *a, *b;
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		a = lb_keys_find(ks, G1, &pos);
		b = lb_keys_find(ks, G1, &pos);
		CHECK(a && b && a != b);
		CHECK(lb_keys_find(ks, G1, &pos) == NULL);
		lb_keys_free(ks);
	}
	/* growth past the initial capacity keeps pointers valid */
	{
		char *csv = malloc(300 * 100 + 64), *p;
		REQUIRE(csv);
		p = csv + sprintf(csv, "KeyID,RecoveryKey\n");
		for (int i = 0; i < 300; i++)
			p += sprintf(p, "%08x-0000-4000-8000-000000000000,%06d-%s\n", i, (i % 1000) * 11,
			             "357951-253979-013365-241120-245575-342914-591910");
		ks = load(csv, (size_t)(p - csv), &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 300);
		{
			const struct lb_key_entry *e = lb_keys_lookup(ks, "00000007-0000-4000-8000-000000000000");
			CHECK(e && strncmp(e->recovery_password, "000077-", 7) == 0);
			e = lb_keys_lookup(ks, "0000012b-0000-4000-8000-000000000000");
			CHECK(e && strncmp(e->recovery_password, "003289-", 7) == 0);
		}
		lb_keys_free(ks);
		free(csv);
	}
	/* ---- issue 11: what real admins have ---- */
	{   /* why a password is not one, never quoting it */
		char why[96];
		CHECK(lb_rp_problem(K1, why, sizeof(why)) == NULL);
		CHECK_EQ_STR(lb_rp_problem("235818-357951-253978-013365-241120-245575-342914-591910", why, sizeof(why)),
		             "block 3 fails its checksum");
		CHECK_EQ_STR(lb_rp_problem("720896-357951-253979-013365-241120-245575-342914-591910", why, sizeof(why)),
		             "block 1 fails its checksum");
		CHECK_EQ_STR(lb_rp_problem("235818-357951", why, sizeof(why)), "has 12 digits, expected 48");
		CHECK(strstr(lb_rp_problem("23581x", why, sizeof(why)), "not a digit") != NULL);
		CHECK(lb_rp_lookalike(K1) && lb_rp_lookalike("235818357951253979013365241120245575342914591910"));
		CHECK(!lb_rp_lookalike(G1) && !lb_rp_lookalike("RecoveryKey") && !lb_rp_lookalike("123"));
	}
	/* a headerless two-column file, braces or not, dashes or not */
	{
		const char csv[] = "{" G1 "}," K1 "\n" G2 ",042647302313590458071500554323116567412181516978\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK(st.headerless);
		CHECK_EQ_INT(lb_keys_count(ks), 2);
		expect_key(ks, G1, K1, "", "csv");
		expect_key(ks, G2, K2, NULL, NULL);
		lb_keys_free(ks);
		/* the password first, the ID second, ';' */
		const char c2[] = K3 ";" G3 "\r\n";
		ks = load(c2, sizeof(c2) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		expect_key(ks, G3, K3, NULL, NULL);
		lb_keys_free(ks);
	}
	/* a bare list of passwords: entries without ID, tried everywhere */
	{
		const char csv[] = K1 "\n" K2 "\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 2);
		CHECK_EQ_INT(lb_keys_count_unidentified(ks), 2);
		CHECK_EQ_STR(lb_keys_entry(ks, 0)->guid, "");
		lb_keys_free(ks);
	}
	/* a row whose password fails its checksum: a note against its key ID,
	 * without the digits; rows without ID: one note for the file */
	{
		const char csv[] = "KeyID,RecoveryKey\n"
			"{83ABDB8F-3218-4BFD-ACED-215E1E189BDF},404558-436711-420861-678557-638220-018909-039941-695321\n"
			G1 "," K1 "\n"
			"," "235818-357951-253979-013365-241120-245575-342914\n"
			"," "235818-357951-253979-013365-241120-245575-342914-591911\n"
			G2 ",\n";
		const char *g, *t;
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 1);
		CHECK_EQ_INT(lb_keys_nnotes(ks), 3);
		t = lb_keys_note_text(ks, 0, &g);
		CHECK_EQ_STR(g, "{83ABDB8F-3218-4BFD-ACED-215E1E189BDF}");
		CHECK_EQ_STR(t, "escrow entry for {83ABDB8F-3218-4BFD-ACED-215E1E189BDF} in test.csv: "
		             "recovery password block 3 fails its checksum");
		t = lb_keys_note_text(ks, 1, &g);
		CHECK_EQ_STR(g, "{3FD763F9-74C7-4E90-8FA2-1F6A2E2B4E0C}");
		CHECK(strstr(t, "recovery password is empty") != NULL);
		t = lb_keys_note_text(ks, 2, &g);
		CHECK_EQ_STR(g, "");
		CHECK_EQ_STR(t, "test.csv: 2 entries without a key ID skipped (data row 3: recovery "
		             "password has 42 digits, expected 48)");
		for (size_t i = 0; i < lb_keys_nnotes(ks); i++) {
			no_key_in(lb_keys_note_text(ks, i, NULL));
			CHECK(strstr(lb_keys_note_text(ks, i, NULL), "420861") == NULL);
			CHECK(strstr(lb_keys_note_text(ks, i, NULL), "404558") == NULL);
		}
		lb_keys_free(ks);
	}
	/* a first row that is neither a header nor a key row: the message
	 * quotes no cell (issue 11: "columns: 64311dea..., 2358...") */
	{
		const char csv[] = G1 ",2358183579512539790133652411202455753429145919\n";
		ks = load(csv, sizeof(csv) - 1, &st, &err, &rc);
		/* 46 digits: still a (mistyped) password column; nothing usable */
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err.msg, "no usable recovery password") != NULL);
		CHECK_EQ_INT(lb_keys_count(ks), 0);
		CHECK_EQ_INT(lb_keys_nnotes(ks), 1);
		CHECK(strstr(lb_keys_note_text(ks, 0, NULL), "46 digits") != NULL);
		lb_keys_free(ks);
		const char c2[] = G1 ",2358-1835\n";
		ks = load(c2, sizeof(c2) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err.msg, "none of them a header name") != NULL);
		CHECK(strstr(err.msg, "64311") == NULL && strstr(err.msg, "2358") == NULL);
		lb_keys_free(ks);
		const char c3[] = "Foo,Bar 2,x12345\n" G1 "," K1 "\n";
		ks = load(c3, sizeof(c3) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err.msg, "columns: foo, bar2, ?") != NULL);
		lb_keys_free(ks);
	}
	/* concatenated Graph JSON documents (az rest pagination), and one per line */
	{
		const char js[] = "{\"value\":[{\"id\":\"" G1 "\",\"key\":\"" K1 "\"}],\"@odata.nextLink\":\"x\"}"
			"{\"value\":[{\"id\":\"" G2 "\",\"key\":\"" K2 "\"}]}\n"
			"{\"id\":\"" G3 "\",\"key\":\"" K3 "\"}\n";
		ks = load(js, sizeof(js) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(lb_keys_count(ks), 3);
		expect_key(ks, G1, K1, NULL, "json");
		expect_key(ks, G2, K2, NULL, NULL);
		expect_key(ks, G3, K3, NULL, NULL);
		lb_keys_free(ks);
		const char bad[] = "{\"value\":[{\"id\":\"" G1 "\",\"key\":\"" K1 "\"}]}{\"value\":[{\"id\":";
		ks = load(bad, sizeof(bad) - 1, &st, &err, &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err.msg, "after the first document") != NULL);
		no_key_in(err.msg);
		lb_keys_free(ks);
	}
	/* notes: kept once, capped, NULL-safe */
	{
		ks = lb_keys_new();
		CHECK(lb_keys_note(ks, NULL, "keys from %s could not be opened: %s", "f.sealed", "x") == 0);
		CHECK(lb_keys_note(ks, NULL, "keys from %s could not be opened: %s", "f.sealed", "x") == 0);
		CHECK_EQ_INT(lb_keys_nnotes(ks), 1);
		CHECK(lb_keys_note(ks, NULL, "digits %s", K1) == 0);   /* last line of defence */
		CHECK(strstr(lb_keys_note_text(ks, 1, NULL), "235818") == NULL);
		for (int i = 0; i < LB_KEYS_MAX_NOTES + 5; i++)
			lb_keys_note(ks, NULL, "n%d", i);
		CHECK_EQ_INT(lb_keys_nnotes(ks), LB_KEYS_MAX_NOTES);
		CHECK(lb_keys_notes_dropped(ks) > 0);
		CHECK(lb_keys_note_text(ks, LB_KEYS_MAX_NOTES, NULL) == NULL);
		lb_keys_free(ks);
		CHECK_EQ_INT(lb_keys_nnotes(NULL), 0);
	}
	lb_keys_free(NULL);
	LBT_DONE();
}
