/* Built-in playbook: glob matching and the time-window / header verdicts;
 * typed registry data and its report form. */
#include <ctype.h>
#include <stdint.h>

#include "lbtest.h"
#include "lb_ntfs.h"
#include "lb_err.h"
#include "lb_hivedit.h"
#include "lb_playbook.h"

static const uint8_t chan291[8] = { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x23, 0x01 };
static const uint8_t chan290[8] = { 0xAA, 0xAA, 0xAA, 0xAA, 0x01, 0x00, 0x22, 0x01 };
static const uint8_t zeros[8] = { 0 };
static const uint8_t text[8] = { 'M', 'Z', 0x90, 0, 3, 0, 0, 0 };

/* The hand-written matcher lb_glob_match_ci was before it became fnmatch(3)
 * (lb_glob_match): '*' and '?' only, ASCII case folding.  Kept here as the
 * reference the fnmatch version must agree with. */
static bool ref_glob(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g && (*g == '?' || tolower((unsigned char)*g) == tolower((unsigned char)*s))) {
			g++;
			s++;
		} else if (star) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

/* docs/playbook-format.md promises '*' and '?' in the last component,
 * matched case-insensitively; everything else is literal. */
static void test_glob(void)
{
	/* the built-in's glob */
	CHECK(lb_glob_match_ci("C-00000291*.sys", "C-00000291-00000000-00000032.sys"));
	CHECK(lb_glob_match_ci("C-00000291*.sys", "c-00000291-00000000-00000032.SYS"));
	CHECK(lb_glob_match_ci("C-00000291*.sys", "C-00000291.sys"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "C-00000290-00000000-00000032.sys"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "C-00000291-00000000-00000032.sys.bak"));
	CHECK(!lb_glob_match_ci("C-00000291*.sys", "XC-00000291.sys"));
	CHECK(lb_glob_match_ci("a?c*", "abcdef"));
	/* case-insensitive both ways, '?' is exactly one character */
	CHECK(lb_glob_match_ci("CSAGENT.SYS", "csagent.sys"));
	CHECK(lb_glob_match_ci("csagent.sys", "CsAgEnT.SyS"));
	CHECK(lb_glob_match_ci("c?agent.sys", "CSAGENT.SYS"));
	CHECK(!lb_glob_match_ci("c?agent.sys", "cagent.sys"));
	CHECK(!lb_glob_match_ci("c?agent.sys", "csxagent.sys"));
	/* '*' matches nothing, anything, several times */
	CHECK(lb_glob_match_ci("*", ""));
	CHECK(lb_glob_match_ci("*", "anything.at.all"));
	CHECK(lb_glob_match_ci("a*b*c", "abc"));
	CHECK(lb_glob_match_ci("a*b*c", "aXXbYYc"));
	CHECK(!lb_glob_match_ci("a*b*c", "aXXbYYcZ"));
	CHECK(lb_glob_match_ci("**.sys", "x.sys"));
	/* leading dots are ordinary (no FNM_PERIOD) */
	CHECK(lb_glob_match_ci("*.sys", ".sys"));
	CHECK(lb_glob_match_ci("?sys", ".sys"));
	/* everything else is literal: '[', ']', '!', '\\', '-' */
	CHECK(lb_glob_match_ci("drv[1].sys", "DRV[1].SYS"));
	CHECK(!lb_glob_match_ci("drv[1].sys", "drv1.sys"));
	CHECK(lb_glob_match_ci("a[!b]*", "A[!B]x"));
	CHECK(!lb_glob_match_ci("a[!b]*", "ac"));
	CHECK(lb_glob_match_ci("[*", "[abc"));
	CHECK(lb_glob_match_ci("x]", "X]"));
	CHECK(lb_glob_match_ci("a\\b?", "A\\Bc"));
	CHECK(!lb_glob_match_ci("a\\b", "ab"));
	/* a long glob with '[' (the copy is not on the stack) */
	{
		char g[3000], n[3000];

		memset(g, 'x', sizeof(g) - 1);
		g[sizeof(g) - 1] = 0;
		g[100] = '[';
		g[2990] = '*';
		memcpy(n, g, sizeof(n));
		CHECK(lb_glob_match_ci(g, n));
		n[100] = 'x';
		CHECK(!lb_glob_match_ci(g, n));
	}
	/* the same answers as the matcher it replaced, on random globs over a
	 * small alphabet that includes the special characters */
	{
		static const char gal[] = "aAbB*?.[]!-\\";
		static const char nal[] = "aAbB.[]!-\\*?";
		unsigned seed = 12345;
		int differ = 0;

		for (int t = 0; t < 200000; t++) {
			char g[9], n[11];
			int gl, nl;

			seed = seed * 1103515245u + 12345u;
			gl = (int)(seed >> 16) % 9;
			seed = seed * 1103515245u + 12345u;
			nl = (int)(seed >> 16) % 11;
			for (int i = 0; i < gl; i++) {
				seed = seed * 1103515245u + 12345u;
				g[i] = gal[(seed >> 16) % (sizeof(gal) - 1)];
			}
			g[gl] = 0;
			for (int i = 0; i < nl; i++) {
				seed = seed * 1103515245u + 12345u;
				n[i] = nal[(seed >> 16) % (sizeof(nal) - 1)];
			}
			n[nl] = 0;
			if (lb_glob_match_ci(g, n) != ref_glob(g, n) && differ++ < 5)
				fprintf(stderr, "glob \"%s\" name \"%s\": fnmatch %d, reference %d\n", g, n,
				        lb_glob_match_ci(g, n), ref_glob(g, n));
		}
		CHECK_EQ_INT(differ, 0);
	}
}

/* Typed registry data as stored, and its report form (lb_regval_to_json):
 * UTF-16LE through iconv, integers little-endian, hex through lb_hex. */
static void test_regdata(void)
{
	static const char txt[] =
		"{\"schema\": \"loopbreaker-playbook/1\", \"name\": \"d\", \"registry\": [\n"
		" {\"hive\": \"SOFTWARE\", \"key\": \"K\", \"value\": \"s\", \"action\": \"set\",\n"
		"  \"type\": \"REG_SZ\", \"data\": \"A\\u00e9\\u20ac\\ud834\\udd1e\"},\n"
		" {\"hive\": \"SOFTWARE\", \"key\": \"K\", \"value\": \"m\", \"action\": \"set\",\n"
		"  \"type\": \"REG_MULTI_SZ\", \"data\": [\"ab\", \"c\"]},\n"
		" {\"hive\": \"SOFTWARE\", \"key\": \"K\", \"value\": \"d\", \"action\": \"set\",\n"
		"  \"type\": \"REG_DWORD\", \"data\": 4294967295},\n"
		" {\"hive\": \"SOFTWARE\", \"key\": \"K\", \"value\": \"b\", \"action\": \"set\",\n"
		"  \"type\": \"REG_BINARY\", \"data\": \"0a:0B, ff\"}]}";
	static const uint8_t sz[] = { 'A', 0, 0xE9, 0, 0xAC, 0x20, 0x34, 0xD8, 0x1E, 0xDD, 0, 0 };
	static const uint8_t msz[] = { 'a', 0, 'b', 0, 0, 0, 'c', 0, 0, 0, 0, 0 };
	struct lb_playbook *p = NULL;
	struct lb_err err;
	json_t *j;
	char *s;

	lb_err_clear(&err);
	REQUIRE(lb_playbook_parse(txt, sizeof(txt) - 1, "d.json", NULL, 0, &p, &err) == 0);
	REQUIRE(p->nreg == 4);
	CHECK_EQ_INT(p->reg[0].len, sizeof(sz));
	CHECK(memcmp(p->reg[0].data, sz, sizeof(sz)) == 0);
	CHECK_EQ_INT(p->reg[1].len, sizeof(msz));
	CHECK(memcmp(p->reg[1].data, msz, sizeof(msz)) == 0);
	CHECK_EQ_INT(p->reg[2].len, 4);
	CHECK(memcmp(p->reg[2].data, "\xff\xff\xff\xff", 4) == 0);
	CHECK_EQ_INT(p->reg[3].len, 3);
	CHECK(memcmp(p->reg[3].data, "\x0a\x0b\xff", 3) == 0);

	j = lb_regval_to_json(true, LB_REG_SZ, sz, sizeof(sz));
	CHECK_EQ_STR(json_string_value(json_object_get(j, "data")), "A\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "hex")), "4100e900ac2034d81edd0000");
	json_decref(j);
	j = lb_regval_to_json(true, LB_REG_MULTI_SZ, msz, sizeof(msz));
	s = json_dumps(json_object_get(j, "data"), JSON_COMPACT);
	CHECK_EQ_STR(s, "[\"ab\",\"c\"]");
	free(s);
	json_decref(j);
	j = lb_regval_to_json(true, LB_REG_DWORD, p->reg[2].data, 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "data")), 4294967295LL);
	json_decref(j);
	{
		static const uint8_t q[8] = { 2, 1, 0, 0, 0, 0, 0, 0x7f };
		/* lone surrogates (a high one at the end, a low one alone) become
		 * U+FFFD, as Windows shows them; an odd last byte is ignored */
		static const uint8_t bad[] = { 'x', 0, 0x00, 0xDC, 'y', 0, 0x00, 0xD8, 'z' };

		j = lb_regval_to_json(true, LB_REG_QWORD, q, 8);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "data")), 0x7f00000000000102LL);
		json_decref(j);
		j = lb_regval_to_json(true, LB_REG_SZ, bad, sizeof(bad));
		CHECK_EQ_STR(json_string_value(json_object_get(j, "data")),
		             "x\xef\xbf\xbdy\xef\xbf\xbd");
		CHECK_EQ_STR(json_string_value(json_object_get(j, "hex")), "780000dc790000d87a");
		json_decref(j);
	}
	CHECK(json_is_null(lb_regval_to_json(false, LB_REG_SZ, NULL, 0)));
	s = lb_hex_encode((const uint8_t *)"\x00\x9f\xff", 3);
	CHECK_EQ_STR(s, "009fff");
	free(s);
	lb_playbook_free(p);

	/* invalid UTF-8 never reaches a hive: overlong, surrogate, beyond U+10FFFF */
	{
		static const char *const bad[] = { "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		                                   "\xe2\x82" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char t[512];

			snprintf(t, sizeof(t), "{\"schema\": \"loopbreaker-playbook/1\", \"name\": \"u\","
			         " \"registry\": [{\"hive\": \"SYSTEM\", \"key\": \"K\", \"value\": \"v\","
			         " \"action\": \"set\", \"type\": \"REG_MULTI_SZ\", \"data\": [\"%s\"]}]}",
			         bad[i]);
			lb_err_clear(&err);
			p = NULL;
			CHECK_EQ_INT(lb_playbook_parse(t, strlen(t), "u.json", NULL, 0, &p, &err), -1);
			/* jansson itself rejects most of these; either way it is input */
			CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		}
	}
}

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

	test_glob();
	test_regdata();

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
