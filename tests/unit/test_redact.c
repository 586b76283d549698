/* test_redact.c - key material never leaves in a message: lb_redact_digits
 * and the error helpers that apply it (issue 11). */
#include <errno.h>

#include <jansson.h>

#include "lb_err.h"
#include "lb_report.h"
#include "lb_text.h"
#include "lbtest.h"

/* The recovery password of one of ../shared/data/bitlocker's volumes
 * would do; any 48 digits in 8 groups of 6 is the same shape. */
#define RP "236808-445786-162206-558657-003641-262152-540639-130713"

static void redacted(const char *in, const char *want, size_t runs)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", in);
	CHECK_EQ_INT(lb_redact_digits(buf), runs);
	CHECK_EQ_STR(buf, want);
}

int main(void)
{
	struct lb_err err;

	/* a recovery password, with and without dashes */
	redacted("key " RP " rejected",
	         "key ######-######-######-######-######-######-######-###### rejected", 1);
	redacted("columns: 64311dea, 236808445786162206558657003641262152540639130713",
	         "columns: 64311dea, ################################################", 1);
	/* 47 of the 48 digits (the bug report's case) */
	redacted("x 23581835795125397901336524112024557534291459191 y",
	         "x ############################################### y", 1);
	/* exactly 20 digits is a run; 19 is not; dashes alone do not join */
	redacted("a 12345678901234567890 b", "a #################### b", 1);
	redacted("a 1234567890123456789 b", "a 1234567890123456789 b", 0);
	redacted("1234567890-1234567890", "##########-##########", 1);
	redacted("1234567890-123456789", "1234567890-123456789", 0);
	redacted("1234567890--1234567890", "1234567890--1234567890", 0);
	redacted("1234567890- 1234567890", "1234567890- 1234567890", 0);
	/* ordinary messages keep their numbers: offsets, sizes, GUIDs with hex */
	redacted("disk.img#p3: offset 1048576, 536870912 bytes",
	         "disk.img#p3: offset 1048576, 536870912 bytes", 0);
	redacted("protector {9D3A4B2C-1A2B-4C3D-8E9F-0A1B2C3D4E5F}",
	         "protector {9D3A4B2C-1A2B-4C3D-8E9F-0A1B2C3D4E5F}", 0);
	redacted("two 11111111112222222222 and 333333333344444444445",
	         "two #################### and #####################", 2);
	redacted("", "", 0);
	/* part of a larger token: hex hashes and GUIDs are left alone */
	redacted("sha256 e3b0c44298fc1c14" "12345678901234567890123" "ab",
	         "sha256 e3b0c44298fc1c14" "12345678901234567890123" "ab", 0);
	redacted("{9D3A4B2C-1111-2222-3333-444455556666}", "{9D3A4B2C-1111-2222-3333-444455556666}", 0);
	redacted("{11112222-3333-4444-5555-66667777888A}", "{11112222-3333-4444-5555-66667777888A}", 0);
	/* but a key set off by punctuation, quotes or '=' is masked */
	redacted("\"" RP "\"", "\"######-######-######-######-######-######-######-######\"", 1);
	redacted("password=" RP ";", "password=######-######-######-######-######-######-######-######;", 1);
	redacted("trailing dash 12345678901234567890-", "trailing dash ####################-", 1);

	/* every message through lb_err is redacted, however it was built */
	lb_err_set(&err, LB_EK_INPUT, 0, "%s: not a key file (columns: %s)", "keys.csv", RP);
	CHECK(strstr(err.msg, "445786") == NULL);
	CHECK(strstr(err.msg, "keys.csv: not a key file") != NULL);
	lb_err_set(&err, LB_EK_INPUT, 0, "inner");
	lb_err_wrap(&err, "reading %s", "236808445786162206558657003641262152540639130713");
	CHECK(strstr(err.msg, "2368084457") == NULL);
	CHECK(strstr(err.msg, "inner") != NULL);
	lb_err_set(&err, LB_EK_IO, EIO, "disk.img: offset %d", 4096);
	CHECK_EQ_STR(err.msg, "disk.img: offset 4096: Input/output error");

	/* every string of a report, at any depth, keys too */
	{
		json_t *r = json_pack("{s:s, s:[{s:s, s:s}], s:{s:i}, s:s}",
		                      "status", "needs_attention",
		                      "reasons", "why", "wrong key " RP, "sha256",
		                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		                      "236808445786162206558657003641262152540639130713", "n", 1,
		                      "hostname", "WKS-0001");
		char *text;

		REQUIRE(r);
		CHECK_EQ_INT(lb_report_redact(r), 2);
		text = json_dumps(r, JSON_COMPACT);
		REQUIRE(text);
		CHECK(strstr(text, "445786") == NULL);
		CHECK(strstr(text, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
		CHECK(strstr(text, "\"n\":1"));
		CHECK(strstr(text, "WKS-0001"));
		CHECK_EQ_INT(lb_report_redact(r), 0); /* idempotent */
		free(text);
		json_decref(r);
	}
	LBT_DONE();
}
