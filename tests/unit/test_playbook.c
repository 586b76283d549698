/* Built-in playbook: glob matching and the time-window / header verdicts. */
#include <stdint.h>

#include "lbtest.h"
#include "lb_ntfs.h"
#include "lb_playbook.h"

static const uint8_t chan291[8] = { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x23, 0x01 };
static const uint8_t chan290[8] = { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x22, 0x01 };
static const uint8_t zeros[8] = { 0 };
static const uint8_t text[8] = { 'M', 'Z', 0x90, 0, 3, 0, 0, 0 };

int main(void)
{
	const struct lb_playbook *pb = lb_playbook_builtin("crowdstrike-2024-07-19");
	const struct lb_file_rule *r;
	const char *kind;
	const int64_t from = 1721362140; /* 2024-07-19T04:09:00Z */
	const int64_t to = 1721366820;   /* 2024-07-19T05:27:00Z */

	REQUIRE(pb);
	CHECK(lb_playbook_builtin("nope") == NULL);
	r = &pb->rules[0];

	CHECK(lb_glob_match_ci("C-00000291*.sys", "C-00000291-00000000-00000032.sys"));
	CHECK(lb_glob_match_ci("C-00000291*.sys", "c-00000291-00000000-00000032.SYS"));
	CHECK(lb_glob_match_ci("C-00000291*.sys", "C-00000291.sys"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "C-00000290-00000000-00000032.sys"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "C-00000291-00000000-00000032.sys.bak"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "XC-00000291.sys"));
	CHECK(lb_glob_match_ci("a?c*", "abcdef"));

	CHECK_EQ_STR(lb_rule_classify(r, from, chan291, 8, &kind), "bad");
	CHECK_EQ_STR(kind, "channel");
	CHECK_EQ_STR(lb_rule_classify(r, to - 1, zeros, 8, &kind), "bad");
	CHECK_EQ_STR(kind, "zero");
	CHECK_EQ_STR(lb_rule_classify(r, to, chan291, 8, &kind), "good");
	CHECK_EQ_STR(lb_rule_classify(r, from - 1, chan291, 8, &kind), "older");
	CHECK_EQ_STR(lb_rule_classify(r, from + 60, chan290, 8, &kind), "unexpected");
	CHECK_EQ_STR(kind, "other");
	CHECK_EQ_STR(lb_rule_classify(r, from + 60, text, 8, &kind), "unexpected");
	/* a short file cannot match an 8-byte header */
	CHECK_EQ_STR(lb_rule_classify(r, from + 60, zeros, 4, &kind), "unexpected");

	/* NTFS time conversion at the window edges */
	{
		char iso[32];
		int64_t nt = (from + 11644473600LL) * 10000000LL;

		lb_ntfs_time_iso(nt, iso);
		CHECK_EQ_STR(iso, "2024-07-19T04:09:00Z");
		CHECK_EQ_INT(lb_ntfs_time_to_unix(nt), from);
		CHECK_EQ_INT(lb_ntfs_time_to_unix(nt - 1), from - 1); /* 04:08:59.9999999 is older */
		lb_ntfs_time_iso(nt + 5000000, iso);
		CHECK_EQ_STR(iso, "2024-07-19T04:09:00.5Z");
	}
	LBT_DONE();
}
