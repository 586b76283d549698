/* Built-in playbook: glob matching and the time-window / header verdicts. */
#include <stdint.h>

#include "lbtest.h"
#include "lb_ntfs.h"
#include "lb_err.h"
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
	/* the built-ins are parsed from the embedded shipped files */
	{
		size_t len;
		const char *t = lb_playbook_builtin_text("crowdstrike-2024-07-19", &len);
		const struct lb_playbook *dd = lb_playbook_builtin("disable-driver");
		const struct lb_playbook *on = lb_playbook_builtin("safe-mode-on");
		const struct lb_playbook *off = lb_playbook_builtin("safe-mode-off");

		CHECK(t && len > 100 && strstr(t, "loopbreaker-playbook/1"));
		CHECK_EQ_INT(pb->nrules, 1);
		CHECK_EQ_STR(r->dir, "System32\\drivers\\CrowdStrike");
		CHECK_EQ_STR(r->glob, "C-00000291*.sys");
		CHECK(r->under_system_root);
		CHECK_EQ_INT(r->window_from, from);
		CHECK_EQ_INT(r->window_to, to);
		CHECK_EQ_INT(r->header_len, 8);
		CHECK_EQ_STR(pb->origin, "built-in");
		REQUIRE(dd && on && off);
		CHECK_EQ_INT(dd->nreg, 1);
		CHECK_EQ_INT(dd->nparams, 1);
		CHECK(dd->params[0].required);
		CHECK(off->bcd && off->bcd->mode == -1);
		CHECK(on->bcd != NULL);
	}
	/* parameters, typed data, sha256 / size classification, errors */
	{
		static const char txt[] =
			"{\"schema\": \"loopbreaker-playbook/1\", \"name\": \"t\",\n"
			" \"params\": {\"svc\": {\"required\": true}},\n"
			" \"files\": [{\"path\": \"\\\\x\\\\${svc}*.bin\", \"size\": {\"min\": 2, \"max\": 9},\n"
			"   \"sha256\": [\"" "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824" "\"]}],\n"
			" \"registry\": [{\"action\": \"disable_service\", \"service\": \"${svc}\"},\n"
			"  {\"hive\": \"SOFTWARE\", \"key\": \"A\\\\B\", \"value\": \"Q\", \"action\": \"set\",\n"
			"   \"type\": \"REG_QWORD\", \"data\": 258}]}";
		struct lb_pb_param_value pv[1] = { { "svc", "CSAgent" } };
		struct lb_playbook *p = NULL;
		struct lb_err err;
		const char *k;

		lb_err_clear(&err);
		CHECK_EQ_INT(lb_playbook_parse(txt, sizeof(txt) - 1, "t.json", pv, 1, &p, &err), 0);
		REQUIRE(p);
		CHECK_EQ_STR(p->rules[0].glob, "CSAgent*.bin");
		CHECK_EQ_STR(p->rules[0].dir, "x");
		CHECK(!p->rules[0].under_system_root);
		CHECK_EQ_STR(p->reg[0].key, "CurrentControlSet\\Services\\CSAgent");
		CHECK_EQ_STR(p->reg[0].value, "Start");
		CHECK_EQ_INT(p->reg[1].len, 8);
		CHECK_EQ_INT(p->reg[1].data[0], 2);
		CHECK_EQ_INT(p->reg[1].data[1], 1);
		/* no headers: identified by SHA-256 (of "hello"), inside the size range */
		CHECK_EQ_STR(lb_rule_classify_file(&p->rules[0], 0, 5,
		             "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		             text, 8, &k), "bad");
		CHECK_EQ_STR(k, "sha256");
		CHECK_EQ_STR(lb_rule_classify_file(&p->rules[0], 0, 50,
		             "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		             text, 8, &k), "unexpected");
		CHECK_EQ_STR(lb_rule_classify_file(&p->rules[0], 0, 5, "00", text, 8, &k), "unexpected");
		lb_playbook_free(p);

		/* required parameter missing: error points at its declaration */
		lb_err_clear(&err);
		CHECK_EQ_INT(lb_playbook_parse(txt, sizeof(txt) - 1, "t.json", NULL, 0, &p, &err), 0);
		lb_playbook_free(p);
		lb_err_clear(&err);
		CHECK_EQ_INT(lb_playbook_parse(txt, sizeof(txt) - 1, "t.json", pv, 0, &p, &err), -1);
		CHECK(strstr(err.msg, "t.json:2:20: params.svc: required parameter") != NULL);
		if (!strstr(err.msg, "t.json:2:20"))
			fprintf(stderr, "got: %s\n", err.msg);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	}
	LBT_DONE();
}
