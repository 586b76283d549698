/* lbtest.h - a tiny assertion harness for unit tests (no global state
 * beyond the failure counter each test file owns). */
#ifndef LBTEST_H
#define LBTEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lbt_failures;
static int lbt_checks;

#define CHECK(cond) do { lbt_checks++; if (!(cond)) { lbt_failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); lbt_checks++; \
	if (_a != _b) { lbt_failures++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", \
	__FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *_a = (a), *_b = (b); lbt_checks++; \
	if (!_a || !_b || strcmp(_a, _b) != 0) { lbt_failures++; fprintf(stderr, \
	"%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, _a ? _a : "(null)", \
	_b ? _b : "(null)"); } } while (0)
#define REQUIRE(cond) do { lbt_checks++; if (!(cond)) { fprintf(stderr, \
	"%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)
#define LBT_DONE() do { fprintf(stderr, "%d checks, %d failed\n", lbt_checks, lbt_failures); \
	return lbt_failures ? 1 : 0; } while (0)
/* LBT_DONE_CLEAN(dir): as LBT_DONE, and on success removes the test's work
 * dir (CI disks are small), unless LB_KEEP_WORK=1. */
#define LBT_DONE_CLEAN(dir) do { if (!lbt_failures) lbt_clean(dir); LBT_DONE(); } while (0)

static inline void lbt_clean(const char *dir)
{
	char cmd[1200];
	const char *keep = getenv("LB_KEEP_WORK");

	if ((keep && strcmp(keep, "1") == 0) || !dir || strchr(dir, '\''))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%.1000s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* A whole file, malloc'd (at least 1 byte); exits the test if it cannot
 * be read. */
static inline unsigned char *lbt_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	rewind(f);
	b = malloc(n > 0 ? (size_t)n : 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Path of a file under ../shared/data (LB_SHARED_DATA). */
static inline const char *lbt_shared(const char *rel, char *buf, size_t n)
{
	const char *d = getenv("LB_SHARED_DATA");
	snprintf(buf, n, "%s/%s", d ? d : "../shared/data", rel);
	return buf;
}
#endif
