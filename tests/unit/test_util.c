/* test_util.c - the shared helpers of recover/util/: on-disk integers at
 * odd alignment, hex (libsodium), CRC-32 (zlib), UTF-16LE <-> UTF-8
 * (iconv), glob matching (fnmatch), read-whole-file, the durable atomic
 * replace, and the one exit-status map. */
#include "lbtest.h"
#include "lb_bytes.h"
#include "lb_err.h"
#include "lb_file.h"
#include "lb_text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];

static void put_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(lb_write_all(fd, data, n) == 0);
	REQUIRE(close(fd) == 0);
}

static void test_bytes(void)
{
	uint8_t b[32];

	/* stores and loads at every odd offset, against the byte layout */
	for (size_t off = 1; off < 8; off += 2) {
		memset(b, 0xAA, sizeof(b));
		lb_put_le16(b + off, 0x1234);
		CHECK(b[off] == 0x34 && b[off + 1] == 0x12);
		CHECK(b[off - 1] == 0xAA && b[off + 2] == 0xAA);
		CHECK_EQ_INT(lb_le16(b + off), 0x1234);

		lb_put_le32(b + off, 0xDEADBEEFu);
		CHECK(b[off] == 0xEF && b[off + 1] == 0xBE && b[off + 2] == 0xAD && b[off + 3] == 0xDE);
		CHECK(lb_le32(b + off) == 0xDEADBEEFu);
		CHECK(lb_be32(b + off) == 0xEFBEADDEu);

		lb_put_le64(b + off, 0x0102030405060708ull);
		for (int i = 0; i < 8; i++)
			CHECK(b[off + (size_t)i] == 8 - i);
		CHECK(b[off + 8] == 0xAA);
		CHECK(lb_le64(b + off) == 0x0102030405060708ull);
		CHECK(lb_be64(b + off) == 0x0807060504030201ull);
	}
	/* the high bit survives (no sign extension) */
	lb_put_le16(b + 3, 0xFFFE);
	CHECK_EQ_INT(lb_le16(b + 3), 0xFFFE);
	lb_put_le32(b + 5, 0x80000001u);
	CHECK(lb_le32(b + 5) == 0x80000001u);
	lb_put_le64(b + 7, 0xFEDCBA9876543210ull);
	CHECK(lb_le64(b + 7) == 0xFEDCBA9876543210ull);
	{
		static const uint8_t be[] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x02, 0x03 };

		CHECK(lb_be32(be + 4) == 0x00020001u);
		CHECK(lb_be64(be + 1) == 0x0000000002000102ull);
	}
}

static void test_hex(void)
{
	static const uint8_t bin[] = { 0x00, 0x01, 0xAB, 0xCD, 0xEF, 0x7F, 0x80, 0xFF };
	char hex[2 * sizeof(bin) + 1];
	uint8_t back[sizeof(bin)], one[1];

	CHECK(lb_hex(bin, sizeof(bin), hex) == hex);
	CHECK_EQ_STR(hex, "0001abcdef7f80ff");
	memset(back, 0, sizeof(back));
	CHECK_EQ_INT(lb_unhex(hex, back, sizeof(back)), 0);
	CHECK(memcmp(back, bin, sizeof(bin)) == 0);
	CHECK_EQ_INT(lb_unhex("0001ABCDEF7F80FF", back, sizeof(back)), 0); /* either case */
	CHECK(memcmp(back, bin, sizeof(bin)) == 0);
	CHECK(lb_hex(bin, 0, hex) == hex && hex[0] == '\0');
	CHECK_EQ_INT(lb_unhex("", back, 0), 0);

	CHECK_EQ_INT(lb_unhex("abc", back, 2), -1);     /* odd length */
	CHECK_EQ_INT(lb_unhex("a", one, 1), -1);        /* odd, shorter than asked */
	CHECK_EQ_INT(lb_unhex("abcd", one, 1), -1);     /* longer than asked */
	CHECK_EQ_INT(lb_unhex("ab", back, 2), -1);      /* shorter than asked */
	CHECK_EQ_INT(lb_unhex("0g", one, 1), -1);       /* bad digit */
	CHECK_EQ_INT(lb_unhex("g0", one, 1), -1);
	CHECK_EQ_INT(lb_unhex("0 ", one, 1), -1);
	CHECK_EQ_INT(lb_unhex("ab:d", back, 2), -1);
	CHECK_EQ_INT(lb_unhex("-1", one, 1), -1);
}

static void test_crc32(void)
{
	CHECK(lb_crc32("123456789", 9) == 0xCBF43926u);
	CHECK(lb_crc32("", 0) == 0);
	CHECK(lb_crc32("a", 1) == 0xE8B7BE43u);
	CHECK(lb_crc32("The quick brown fox jumps over the lazy dog", 43) == 0x414FA339u);
}

static void check_u16(const char *what, const uint8_t *u16, size_t n, const char *want)
{
	char *s = lb_utf16le_to_utf8(u16, n);

	CHECK(s != NULL);
	if (s && strcmp(s, want) != 0) {
		lbt_failures++;
		fprintf(stderr, "%s: got \"%s\", expected \"%s\"\n", what, s, want);
	}
	lbt_checks++;
	free(s);
}

static void test_utf16(void)
{
	static const uint8_t ascii[] = { 'C', 0, ':', 0, '\\', 0, 'x', 0 };
	static const uint8_t bmp[] = { 0xE9, 0x00, 0xAC, 0x20, 0x2D, 0x4E };         /* é € 中 */
	static const uint8_t pair[] = { 'a', 0, 0x3D, 0xD8, 0x00, 0xDE, 'b', 0 };     /* U+1F600 */
	static const uint8_t lone_hi[] = { 'a', 0, 0x3D, 0xD8, 'b', 0 };
	static const uint8_t lone_lo[] = { 'a', 0, 0x00, 0xDE, 'b', 0 };
	static const uint8_t hi_end[] = { 'a', 0, 0x3D, 0xD8 };
	static const uint8_t two_hi[] = { 0x3D, 0xD8, 0x3D, 0xD8, 0x00, 0xDE };
	static const uint8_t nul[] = { 'a', 0, 'b', 0, 0, 0, 'c', 0 };
	static const uint8_t odd[] = { 'a', 0, 'b', 0, 'c' };
	static const uint8_t bom[] = { 0xFF, 0xFE, 'a', 0 };
	uint8_t *out = NULL;
	size_t outlen = 99;

	check_u16("ascii", ascii, sizeof(ascii), "C:\\x");
	check_u16("bmp", bmp, sizeof(bmp), "\xc3\xa9\xe2\x82\xac\xe4\xb8\xad");
	check_u16("surrogate pair", pair, sizeof(pair), "a\xf0\x9f\x98\x80" "b");
	check_u16("lone high surrogate", lone_hi, sizeof(lone_hi), "a\xef\xbf\xbd" "b");
	check_u16("lone low surrogate", lone_lo, sizeof(lone_lo), "a\xef\xbf\xbd" "b");
	check_u16("high surrogate at the end", hi_end, sizeof(hi_end), "a\xef\xbf\xbd");
	check_u16("high, then a pair", two_hi, sizeof(two_hi), "\xef\xbf\xbd\xf0\x9f\x98\x80");
	check_u16("embedded NUL stops", nul, sizeof(nul), "ab");
	check_u16("odd trailing byte", odd, sizeof(odd), "ab");
	check_u16("empty", ascii, 0, "");
	check_u16("BOM is a character in UTF-16LE", bom, sizeof(bom), "\xef\xbb\xbf" "a");

	/* UTF-8 -> UTF-16LE */
	CHECK_EQ_INT(lb_utf8_to_utf16le("C:\\\xc3\xa9\xf0\x9f\x98\x80", &out, &outlen), 0);
	{
		static const uint8_t want[] = { 'C', 0, ':', 0, '\\', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE };

		CHECK_EQ_INT(outlen, sizeof(want));
		CHECK(out && memcmp(out, want, sizeof(want)) == 0);
		/* and back */
		{
			char *s = lb_utf16le_to_utf8(out, outlen);

			CHECK_EQ_STR(s, "C:\\\xc3\xa9\xf0\x9f\x98\x80");
			free(s);
		}
	}
	free(out);
	out = NULL;
	CHECK_EQ_INT(lb_utf8_to_utf16le("", &out, &outlen), 0);
	CHECK_EQ_INT(outlen, 0);
	free(out);

	/* invalid UTF-8: -1 with EILSEQ and nothing returned */
	{
		static const char *const bad[] = {
			"a\xff" "b",            /* never valid */
			"a\xc3",                /* truncated sequence */
			"\xc0\xaf",             /* overlong '/' */
			"\xed\xa0\x80",         /* encoded surrogate */
			"\x80",                 /* lone continuation byte */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			out = (uint8_t *)1;
			outlen = 99;
			errno = 0;
			CHECK_EQ_INT(lb_utf8_to_utf16le(bad[i], &out, &outlen), -1);
			CHECK_EQ_INT(errno, EILSEQ);
			CHECK(out == NULL && outlen == 0);
		}
	}
}

static void test_glob(void)
{
	CHECK(lb_glob_match("C-00000291*.sys", "C-00000291-00000000-00000032.sys"));
	CHECK(lb_glob_match("c-00000291*.SYS", "C-00000291-00000000-00000032.sys"));
	CHECK(lb_glob_match("CSAGENT", "csagent"));
	CHECK(!lb_glob_match("C-00000291*.sys", "C-00000292-00000000-00000032.sys"));
	CHECK(lb_glob_match("a?c", "abc"));
	CHECK(lb_glob_match("a?c", "aBc"));
	CHECK(!lb_glob_match("a?c", "ac"));
	CHECK(!lb_glob_match("a?c", "abbc"));
	CHECK(lb_glob_match("*", ""));
	CHECK(lb_glob_match("*", "anything.at.all"));
	CHECK(lb_glob_match("*.sys", ".sys"));
	CHECK(!lb_glob_match("*.sys", "x.sys.bak"));
	/* '*' crosses separators; a backslash is a character, not an escape */
	CHECK(lb_glob_match("\\Windows\\*.exe", "\\windows\\System32\\cmd.EXE"));
	CHECK(lb_glob_match("a/*", "A/b/c"));
	CHECK(lb_glob_match("a\\b", "A\\B"));
	CHECK(lb_glob_match("a\\*", "A\\xyz"));
	CHECK(!lb_glob_match("a\\*", "a*"));
	CHECK(lb_glob_match("[ab]x", "Bx"));
}

static size_t count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	REQUIRE(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_read_file(void)
{
	char path[700], missing[700];
	static uint8_t big[20000];
	struct lb_err err;
	uint8_t *data;
	size_t len;

	/* exactly at the limit, and one over */
	snprintf(path, sizeof(path), "%s/ten", g_dir);
	put_file(path, "0123456789", 10);
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_read_file(path, 10, &data, &len, &err), 0);
	CHECK_EQ_INT(len, 10);
	CHECK(data && memcmp(data, "0123456789", 11) == 0); /* NUL after the last byte */
	free(data);
	lb_err_clear(&err);
	data = (uint8_t *)1;
	CHECK_EQ_INT(lb_read_file(path, 9, &data, &len, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK(strstr(err.msg, "9-byte limit") != NULL);
	CHECK(strstr(err.msg, "0123") == NULL);        /* never the content */
	CHECK(data == NULL && len == 0);

	/* larger than the first buffer, read whole */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	snprintf(path, sizeof(path), "%s/big", g_dir);
	put_file(path, big, sizeof(big));
	CHECK_EQ_INT(lb_read_file(path, sizeof(big), &data, &len, &err), 0);
	CHECK_EQ_INT(len, sizeof(big));
	CHECK(data && memcmp(data, big, sizeof(big)) == 0 && data[len] == 0);
	free(data);
	CHECK_EQ_INT(lb_read_file(path, sizeof(big) - 1, &data, &len, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	/* a limit near SIZE_MAX is no limit */
	CHECK_EQ_INT(lb_read_file(path, SIZE_MAX, &data, &len, &err), 0);
	CHECK_EQ_INT(len, sizeof(big));
	free(data);

	/* a pipe (no size known up front), longer than the first buffer */
	{
		char cmd[1400];
		FILE *p;

		snprintf(path, sizeof(path), "%s/fifo", g_dir);
		unlink(path);
		REQUIRE(mkfifo(path, 0600) == 0);
		snprintf(cmd, sizeof(cmd), "head -c 9000 /dev/zero > '%s' &", path);
		p = popen(cmd, "r");
		REQUIRE(p);
		CHECK_EQ_INT(lb_read_file(path, 100000, &data, &len, &err), 0);
		CHECK_EQ_INT(len, 9000);
		free(data);
		pclose(p);
		snprintf(cmd, sizeof(cmd), "head -c 9000 /dev/zero > '%s' &", path);
		p = popen(cmd, "r");
		REQUIRE(p);
		CHECK_EQ_INT(lb_read_file(path, 5000, &data, &len, &err), -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		pclose(p);
		unlink(path);
	}

	/* missing file: input error naming the path */
	snprintf(missing, sizeof(missing), "%s/no-such-file", g_dir);
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_read_file(missing, 100, &data, &len, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);
	CHECK_EQ_INT(err.sys_errno, ENOENT);
	CHECK(strstr(err.msg, missing) != NULL);
	CHECK_EQ_INT(lb_exit_for(err.kind), 2);

	/* a directory: input */
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_read_file(g_dir, 100, &data, &len, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_INPUT);

	/* a read that fails (EIO: /proc/self/mem at address 0): I/O, exit 3 */
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_read_file("/proc/self/mem", 100, &data, &len, &err), -1);
	CHECK_EQ_INT(err.kind, LB_EK_IO);
	CHECK(strstr(err.msg, "/proc/self/mem") != NULL);
	CHECK_EQ_INT(lb_exit_for(err.kind), 3);

	/* empty file: an empty, NUL-terminated buffer */
	snprintf(path, sizeof(path), "%s/empty", g_dir);
	put_file(path, "", 0);
	CHECK_EQ_INT(lb_read_file(path, 100, &data, &len, &err), 0);
	CHECK_EQ_INT(len, 0);
	CHECK(data && data[0] == '\0');
	free(data);
	CHECK_EQ_INT(lb_read_file(path, 0, &data, &len, &err), 0);
	CHECK_EQ_INT(len, 0);
	free(data);
}

static void test_replace_file(void)
{
	char path[700];
	struct lb_err err;
	struct stat st;
	uint8_t *data;
	size_t len;
	mode_t old = umask(022);

	snprintf(path, sizeof(path), "%s/report.json", g_dir);
	put_file(path, "old content, longer than the new one",
	         strlen("old content, longer than the new one"));
	REQUIRE(chmod(path, 0644) == 0);
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_replace_file(path, "new", 3, 0600, &err), 0);
	CHECK_EQ_INT(lb_read_file(path, 100, &data, &len, &err), 0);
	CHECK_EQ_INT(len, 3);
	CHECK(data && memcmp(data, "new", 4) == 0);
	free(data);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK_EQ_INT(count_entries(g_dir, "report.json"), 1); /* no temporary left */

	/* a new file, a mode the umask would cut (0666 under 022) */
	snprintf(path, sizeof(path), "%s/fresh", g_dir);
	CHECK_EQ_INT(lb_replace_file(path, "", 0, 0666, &err), 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0666);
	CHECK_EQ_INT(st.st_size, 0);
	CHECK_EQ_INT(count_entries(g_dir, "fresh"), 1);

	/* a directory that does not exist: an error naming it, nothing made */
	snprintf(path, sizeof(path), "%s/no-dir/x", g_dir);
	lb_err_clear(&err);
	CHECK_EQ_INT(lb_replace_file(path, "x", 1, 0600, &err), -1);
	CHECK(err.kind != LB_EK_NONE);
	CHECK(strstr(err.msg, "no-dir") != NULL);
	umask(old);
}

static void test_exit_for(void)
{
	CHECK_EQ_INT(lb_exit_for(LB_EK_NONE), 0);
	CHECK_EQ_INT(lb_exit_for(LB_EK_REFUSED), 1);
	CHECK_EQ_INT(lb_exit_for(LB_EK_INPUT), 2);
	CHECK_EQ_INT(lb_exit_for(LB_EK_USAGE), 2);
	CHECK_EQ_INT(lb_exit_for(LB_EK_IO), 3);
	CHECK_EQ_INT(lb_exit_for(LB_EK_INTERNAL), 3);
	CHECK_EQ_INT(lb_exit_for((enum lb_errkind)99), 3);
	CHECK_EQ_INT(LB_EXIT_OK, 0);
	CHECK_EQ_INT(LB_EXIT_ATTENTION, 1);
	CHECK_EQ_INT(LB_EXIT_INPUT, 2);
	CHECK_EQ_INT(LB_EXIT_INTERNAL, 3);
	CHECK_EQ_INT(lb_exit_worse(1, 3), 3);
	CHECK_EQ_INT(lb_exit_worse(2, 0), 2);
	CHECK_EQ_INT(lb_exit_worse(0, 0), 0);
}

int main(void)
{
	char cmd[1200];

	snprintf(g_dir, sizeof(g_dir), "%.400s/util-test", getenv("LB_BUILD") ? getenv("LB_BUILD") : ".");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
	REQUIRE(system(cmd) == 0);

	test_bytes();
	test_hex();
	test_crc32();
	test_utf16();
	test_glob();
	test_read_file();
	test_replace_file();
	test_exit_for();
	LBT_DONE_CLEAN(g_dir);
}
