/* test_fleet.c - fleet report reduction, machine history and outcome,
 * causes, expected machines, CSV and HTML escaping, upload URL templates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbtest.h"
#include "lb_fleet.h"
#include "fleet_int.h"
#include "lb_upload.h"

static char *csv(const char *s)
{
	static char buf[256];
	char *q = lb_fleet_csv_field(s);

	snprintf(buf, sizeof(buf), "%s", q ? q : "(null)");
	free(q);
	return buf;
}

static char *script_json(const char *s)
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	lb_fleet_write_script_json(f, s);
	fclose(f);
	return buf;
}

static const char report_json[] =
"{\"schema\": \"loopbreaker-report/1\", \"mode\": \"fix\", \"status\": \"fixed\","
" \"started_at\": \"2024-07-19T06:00:00Z\", \"finished_at\": \"2024-07-19T06:01:00Z\","
" \"hostname\": null, \"reasons\": [],"
" \"bitlocker_protectors_used\": [{\"protector\": \"{AAAA}\"}, {\"protector\": \"{BBBB}\"},"
"   {\"protector\": \"{AAAA}\"}],"
" \"targets\": [{\"error\": null, \"volumes\": ["
"  {\"reasons\": [], \"error\": null, \"installs\": [{\"hostname\": \"wks-1\","
"    \"sensor\": {\"agent_id\": \"00112233\"},"
"    \"findings\": [{\"verdict\": \"bad\", \"action\": \"quarantined\"},"
"                   {\"verdict\": \"bad\", \"action\": \"quarantined\"},"
"                   {\"kind\": \"registry\", \"action\": \"set\"},"
"                   {\"verdict\": \"good\", \"action\": \"none\"}]}]},"
"  {\"reasons\": [], \"bcd\": [{\"kind\": \"bcd\", \"action\": \"set\"}]}]}]}";

static void test_causes(void)
{
	static const char *const same[][2] = {
		{ "BitLocker volume is locked and no key was found for recovery protector "
		  "{64311DEA-4587-4029-924A-BA299647998E} (give --keys with the escrow export, "
		  "or run attended)",
		  "BitLocker volume is locked and no key was found for recovery protector "
		  "{0B0B0B0B-4587-4029-924A-BA299647998F} (give --keys with the escrow export, "
		  "or run attended)" },
		{ "write error on /dev/nvme0n1 at offset 290455552: Input/output error",
		  "write error on /dev/sda at offset 1048576: Input/output error" },
		{ "volume 3 is BitLocker-encrypted and locked: no recovery key matched",
		  "volume 2 is BitLocker-encrypted and locked: no recovery key matched" },
		{ "/stick/loopbreaker/reports/WKS-1-20240719T060000Z/evidence.tar.zst: ENOSPC",
		  "/stick/loopbreaker/reports/WKS-2-20240719T070000Z/evidence.tar.zst: ENOSPC" },
		{ "serial 6E77928E176A31AE differs", "serial 0011223344556677 differs" },
	};
	char *a, *b;

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		a = lb_fleet_cause(same[i][0]);
		b = lb_fleet_cause(same[i][1]);
		CHECK_EQ_STR(a, b);
		CHECK(strcmp(a, same[i][0]) != 0);
		free(a);
		free(b);
	}
	a = lb_fleet_cause("protector {64311DEA-4587-4029-924A-BA299647998E} missing");
	CHECK_EQ_STR(a, "protector {\xe2\x80\xa6} missing");
	free(a);
	/* what is the same on every machine stays */
	a = lb_fleet_cause("bad file \\Windows\\C-00000291-00000000-00000032.sys present (run fix)");
	CHECK_EQ_STR(a, "bad file \\Windows\\C-00000291-00000000-00000032.sys present (run fix)");
	free(a);
	a = lb_fleet_bl_name("DESKTOP-NPM7RCA H: 7/4/2019");
	CHECK_EQ_STR(a, "DESKTOP-NPM7RCA");
	free(a);
	a = lb_fleet_bl_name("my own words");
	CHECK_EQ_STR(a, "");
	free(a);
}

/* a report record as lb_fleet_reduce makes it */
static struct lb_fleet_rep *rep(const char *host, const char *status, const char *at,
                                bool confirmed)
{
	char *text;
	json_t *j;
	struct lb_fleet_rep *r;
	struct lb_err err;

	REQUIRE(asprintf(&text, "{\"schema\": \"loopbreaker-report/1\", \"status\": \"%s\","
	                 " \"finished_at\": \"%s\", \"hostname\": \"%s\", \"site\": \"s-%s\","
	                 " \"confirmed\": %s}", status, at, host, at, confirmed ? "true" : "false") > 0);
	j = json_loads(text, 0, NULL);
	REQUIRE(j);
	r = lb_fleet_reduce(j, at, &err);
	REQUIRE(r);
	json_decref(j);
	free(text);
	return r;
}

/* machine outcome from reports given in any order */
static const char *outcome(const char *const *reps, size_t n, char *buf, size_t bl)
{
	struct lb_fleet_row *row = lb_fleet_row_new("H:M");
	struct lb_fleet_stats st = { 0 };

	for (size_t i = 0; i < n; i++) {
		char status[32], at[32];
		int conf = 0;

		REQUIRE(sscanf(reps[i], "%31s %31s %d", status, at, &conf) >= 2);
		REQUIRE(lb_fleet_machine_add(row, rep("m", status, at, conf)) == 0);
	}
	lb_fleet_finalize(&row, 1, 0, &st);
	snprintf(buf, bl, "%s %s%s%s h=%zu", lb_fleet_status_name(row->status),
	         row->shown ? row->shown->finished_at : "-",
	         row->confirmed_at ? " confirmed " : "",
	         row->confirmed_at ? row->confirmed_at : "", row->nhist);
	lb_fleet_row_free(row);
	return buf;
}

static void test_history(void)
{
	char b[256];
	const char *fixed_then_clean[] = { "clean 2024-07-19T09:00:00Z", "fixed 2024-07-19T06:00:00Z" };
	const char *attn_then_fixed[] = { "fixed 2024-07-19T08:00:00Z",
		                          "needs_attention 2024-07-19T06:00:00Z" };
	const char *fixed_attn_clean[] = { "fixed 2024-07-19T06:00:00Z", "clean 2024-07-19T09:00:00Z",
		                           "needs_attention 2024-07-19T07:00:00Z" };
	const char *confirmed_alone[] = { "clean 2024-07-19T09:00:00Z 1" };
	const char *fixed_then_error[] = { "fixed 2024-07-19T06:00:00Z", "error 2024-07-19T07:00:00Z",
		                           "clean 2024-07-19T05:00:00Z" };
	const char *plain_clean[] = { "clean 2024-07-19T05:00:00Z" };

	/* fixed stays fixed when a later run finds it clean: confirmed */
	CHECK_EQ_STR(outcome(fixed_then_clean, 2, b, sizeof(b)),
	             "fixed 2024-07-19T06:00:00Z confirmed 2024-07-19T09:00:00Z h=2");
	CHECK_EQ_STR(outcome(attn_then_fixed, 2, b, sizeof(b)), "fixed 2024-07-19T08:00:00Z h=2");
	/* clean after a needs_attention that came after the fix: not a confirmation */
	CHECK_EQ_STR(outcome(fixed_attn_clean, 3, b, sizeof(b)), "clean 2024-07-19T09:00:00Z h=3");
	/* a clean run that says it confirms an earlier fix (the boot image knows) */
	CHECK_EQ_STR(outcome(confirmed_alone, 1, b, sizeof(b)),
	             "fixed 2024-07-19T09:00:00Z confirmed 2024-07-19T09:00:00Z h=1");
	CHECK_EQ_STR(outcome(fixed_then_error, 3, b, sizeof(b)), "error 2024-07-19T07:00:00Z h=3");
	CHECK_EQ_STR(outcome(plain_clean, 1, b, sizeof(b)), "clean 2024-07-19T05:00:00Z h=1");
}

/* a wrong clock: flagged, counted, the others not */
static void test_clock(void)
{
	const char *at[] = { "2024-07-19T06:00:00Z", "2024-07-19T07:00:00Z", "2024-07-20T06:00:00Z",
		             "2031-01-01T00:00:00Z", "2009-01-01T00:00:00Z", "2024-07-19T08:00:00Z" };
	struct lb_fleet_row *rows[6];
	struct lb_fleet_stats st = { 0 };

	for (size_t i = 0; i < 6; i++) {
		rows[i] = lb_fleet_row_new(at[i]);
		REQUIRE(lb_fleet_machine_add(rows[i], rep(at[i], "fixed", at[i], false)) == 0);
	}
	lb_fleet_finalize(rows, 6, 0, &st);
	CHECK_EQ_INT(st.clock_off, 2);
	CHECK(rows[3]->clock_off && rows[4]->clock_off);
	CHECK(!rows[0]->clock_off && !rows[2]->clock_off && !rows[5]->clock_off);
	for (size_t i = 0; i < 6; i++)
		lb_fleet_row_free(rows[i]);
}

static int expect_cb(void *ctx, const char *name, const char *site)
{
	char *out = ctx;

	snprintf(out + strlen(out), 512 - strlen(out), "%s/%s;", name, site);
	return 0;
}

static void test_expect(void)
{
	char got[512];
	struct lb_err err;
	FILE *f;

	f = fopen("expect-plain.txt", "w");
	fputs("# machines\nWKS-1\nwks-2.corp.example,site-b\n\n  WKS-3  \r\n", f);
	fclose(f);
	got[0] = '\0';
	CHECK(lb_fleet_expect_read("expect-plain.txt", expect_cb, got, &err) == 0);
	CHECK_EQ_STR(got, "WKS-1/;wks-2/site-b;WKS-3/;");
	f = fopen("expect-ad.csv", "w");
	fputs("\xef\xbb\xbf\"DistinguishedName\",\"DNSHostName\",\"Site\"\r\n"
	      "\"CN=WKS-7,OU=PCs,DC=corp\",\"wks-7.corp.example\",\"Berlin\"\r\n"
	      "\"CN=A,B\",\"\",\"x\"\r\n", f);
	fclose(f);
	got[0] = '\0';
	CHECK(lb_fleet_expect_read("expect-ad.csv", expect_cb, got, &err) == 0);
	CHECK_EQ_STR(got, "wks-7/Berlin;");
	CHECK(lb_fleet_expect_read("does-not-exist.txt", expect_cb, got, &err) != 0);
	CHECK(strstr(err.msg, "does-not-exist.txt") != NULL);
	remove("expect-plain.txt");
	remove("expect-ad.csv");
}

int main(void)
{
	json_error_t jerr;
	json_t *rep = json_loads(report_json, 0, &jerr);
	struct lb_fleet_rep *row;
	struct lb_err err;
	char *s;

	/* CSV quoting and formula neutralising */
	CHECK_EQ_STR(csv("WKS-1"), "WKS-1");
	CHECK_EQ_STR(csv(""), "");
	CHECK_EQ_STR(csv("a,b"), "\"a,b\"");
	CHECK_EQ_STR(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
	CHECK_EQ_STR(csv("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
	CHECK_EQ_STR(csv("-1+2"), "\"'-1+2\"");
	CHECK_EQ_STR(csv("line\nbreak"), "\"line\nbreak\"");

	/* JSON inside <script>: no '<', '>' or '&' survives */
	CHECK_EQ_STR(script_json("[\"</script><b>&amp;\"]"),
	             "[\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026amp;\"]");

	/* one row per machine: the protector IDs of all its reports, each once */
	s = lb_fleet_keys_union("{A};{B}", "{B};;{C};{A};{D}");
	CHECK_EQ_STR(s, "{A};{B};{C};{D}");
	free(s);
	s = lb_fleet_keys_union("", "{A};{A}");
	CHECK_EQ_STR(s, "{A}");
	free(s);

	/* reduction */
	REQUIRE(rep);
	row = lb_fleet_reduce(rep, "r/report.json", &err);
	REQUIRE(row);
	CHECK_EQ_STR(row->hostname, "wks-1");
	CHECK_EQ_STR(row->agent_id, "00112233");
	CHECK_EQ_STR(row->actions, "quarantined 2; registry_set 1; bcd_set 1");
	CHECK_EQ_STR(row->keys, "{AAAA};{BBBB}");
	CHECK_EQ_STR(row->finished_at, "2024-07-19T06:01:00Z");
	CHECK_EQ_INT(row->when, 1721368860);
	CHECK_EQ_INT(row->status, LB_FS_FIXED);
	CHECK_EQ_STR(row->reason, "");
	lb_fleet_rep_free(row);

	/* incomplete report: status null is an error with a reason */
	json_object_set_new(rep, "status", json_null());
	row = lb_fleet_reduce(rep, "r/report.json", &err);
	REQUIRE(row);
	CHECK_EQ_INT(row->status, LB_FS_ERROR);
	CHECK(strstr(row->reason, "incomplete") != NULL);
	lb_fleet_rep_free(row);

	/* not a report */
	json_object_set_new(rep, "schema", json_string("loopbreaker-batch/1"));
	CHECK(lb_fleet_reduce(rep, "s.json", &err) == NULL);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	json_decref(rep);

	test_causes();
	test_history();
	test_clock();
	test_expect();

	/* upload URL templates */
	s = lb_upload_expand("https://c/r/{hostname}-{time}-{file}", "WKS 1/x", "20240719T060100Z",
	                     "report.json", &err);
	CHECK_EQ_STR(s, "https://c/r/WKS%201%2Fx-20240719T060100Z-report.json");
	free(s);
	s = lb_upload_expand("https://c/in/", "H", "T", "e.tar.zst", &err);
	CHECK_EQ_STR(s, "https://c/in/H-T-e.tar.zst");
	free(s);
	s = lb_upload_expand("https://acct.blob.core.windows.net/c/{file}?sv=1&sig=x%2B", "H", "T",
	                     "r.json", &err);
	CHECK_EQ_STR(s, "https://acct.blob.core.windows.net/c/r.json?sv=1&sig=x%2B");
	free(s);
	/* values are percent-encoded (curl_easy_escape): all but A-Z a-z 0-9 - . _ ~ */
	s = lb_upload_expand("https://c/{hostname}/{file}", "a-b.c_d~e", "T", "r\xc3\xa9 #?&%.json",
	                     &err);
	CHECK_EQ_STR(s, "https://c/a-b.c_d~e/r%C3%A9%20%23%3F%26%25.json");
	free(s);
	s = lb_upload_expand("https://c/{file}", NULL, NULL, "", &err);
	CHECK_EQ_STR(s, "https://c/");
	free(s);
	CHECK(lb_upload_expand("https://c/{host}", "H", "T", "f", &err) == NULL);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	s = lb_upload_redact("https://b.s3.amazonaws.com/k?X-Amz-Signature=secret#f");
	CHECK_EQ_STR(s, "https://b.s3.amazonaws.com/k?...");
	free(s);
	s = lb_upload_redact("http://c/k");
	CHECK_EQ_STR(s, "http://c/k");
	free(s);
	LBT_DONE();
}
