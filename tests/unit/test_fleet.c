/* test_fleet.c - fleet row reduction, CSV and HTML escaping, upload URL
 * templates. */
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

int main(void)
{
	json_error_t jerr;
	json_t *rep = json_loads(report_json, 0, &jerr);
	struct lb_fleet_row *row;
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
	CHECK_EQ_STR(row->key, "H:WKS-1");
	CHECK_EQ_STR(row->agent_id, "00112233");
	CHECK_EQ_STR(row->actions, "quarantined 2; registry_set 1; bcd_set 1");
	CHECK_EQ_STR(row->keys, "{AAAA};{BBBB}");
	CHECK_EQ_STR(row->finished_at, "2024-07-19T06:01:00Z");
	CHECK_EQ_INT(row->when, 1721368860);
	CHECK_EQ_INT(row->status, LB_FS_FIXED);
	CHECK_EQ_STR(row->reason, "");
	lb_fleet_row_free(row);

	/* incomplete report: status null is an error with a reason */
	json_object_set_new(rep, "status", json_null());
	row = lb_fleet_reduce(rep, "r/report.json", &err);
	REQUIRE(row);
	CHECK_EQ_INT(row->status, LB_FS_ERROR);
	CHECK(strstr(row->reason, "incomplete") != NULL);
	lb_fleet_row_free(row);

	/* not a report */
	json_object_set_new(rep, "schema", json_string("loopbreaker-batch/1"));
	CHECK(lb_fleet_reduce(rep, "s.json", &err) == NULL);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	json_decref(rep);

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
