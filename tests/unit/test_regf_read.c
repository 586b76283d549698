/* lb_regf_read (the lazy reader) and lb_regf_check_stream against hivex
 * and lb_regf_check:
 *  - real Windows hives (SYSTEM, SYSTEM_2, SYSTEM_B replayed, BCD): the
 *    identity values and every value of every key under the current
 *    control set's Services (raw bytes, strings, DWORDs) read by the reader
 *    equal what hivex reads, through a buffer and through a file callback;
 *  - a SOFTWARE hive made by lb-mkhive as mkimage.py makes it, with a Falcon
 *    sensor Uninstall entry among others: the identity values;
 *  - the streamed check gives lb_regf_check's verdict and message on the
 *    real hives, the damaged sample, cut and mutated copies;
 *  - a hand-built hive: big data (db) value, nested ri, a subkey count that
 *    does not match its list, a value pointing outside the hive bins;
 *  - every getter on mutated hives without the check (run under ASan). */
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lbtest.h"
#include "lb_hive.h"
#include "lb_regf.h"
#include "lb_regf_read.h"
#include "../fuzz/regf_lookups.h"

#define WORK "tests-work/regf_read"

static uint8_t *unpack(const char *xz, size_t *len)
{
	char src[1024], dst[1024], cmd[4096];
	const char *base = strrchr(xz, '/') ? strrchr(xz, '/') + 1 : xz;

	lbt_shared(xz, src, sizeof(src));
	snprintf(dst, sizeof(dst), WORK "/%.*s", (int)(strlen(base) - 3), base);
	snprintf(cmd, sizeof(cmd), "xz -dc '%s' > '%s'", src, dst);
	REQUIRE(system(cmd) == 0);
	return lbt_slurp(dst, len);
}

static void save(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");

	REQUIRE(f);
	REQUIRE(fwrite(d, 1, n, f) == n);
	fclose(f);
}

static hive_h *hivex_of(const uint8_t *d, size_t n, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), WORK "/%s.hivex", name);
	save(path, d, n);
	return hivex_open(path, 0);
}

/* ---- the reader through a file descriptor (pread) ---- */

static int fd_read(void *ctx, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	ssize_t r = pread(*(int *)ctx, buf, n, (off_t)off);

	if (r < 0 || (size_t)r != n)
		return lb_err_set(err, LB_EK_IO, errno, "pread of %zu at %llu", n,
		                  (unsigned long long)off);
	return 0;
}

/* ---- comparison with hivex ---- */

static hive_node_h hx_node(hive_h *h, const char *path)
{
	return lb_hive_node(h, path);
}

/* Every value of the key at path: raw bytes, string and DWORD views. */
static void compare_key(hive_h *h, struct lb_regf_reader *r, const char *path, int *nvals)
{
	hive_node_h n = hx_node(h, path);
	hive_value_h *vals;

	REQUIRE(n);
	vals = hivex_node_values(h, n);
	REQUIRE(vals);
	for (size_t i = 0; vals[i]; i++) {
		char *name = hivex_value_key(h, vals[i]);
		hive_type ht;
		size_t hlen, rlen;
		char *hd, hs[512], rs[512];
		uint8_t *rd = NULL;
		uint32_t rt = 0, rdw;
		struct lb_err e;
		int rc;

		REQUIRE(name);
		hd = hivex_value_value(h, vals[i], &ht, &hlen);
		rc = lb_regf_get_raw(r, 0, path, name, &rt, &rd, &rlen, &e);
		if (!hd) {
			/* hivex refuses it: the reader must not invent data */
			CHECK(rc != 0);
		} else if (hivex_node_get_value(h, n, name) == vals[i]) {
			/* (the first of several same-named values is the one both find) */
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_INT(rt, ht);
			CHECK_EQ_INT(rlen, hlen);
			CHECK(rc == 0 && rlen == hlen && memcmp(rd, hd, hlen) == 0);
			if (ht == hive_t_REG_SZ || ht == hive_t_REG_EXPAND_SZ) {
				CHECK_EQ_INT(lb_hive_get_string(h, path, name, hs, sizeof(hs)), 0);
				CHECK_EQ_INT(lb_regf_get_string(r, 0, path, name, rs, sizeof(rs), &e), 0);
				CHECK_EQ_STR(rs, hs);
			}
			if ((ht == hive_t_REG_DWORD || ht == hive_t_REG_DWORD_BIG_ENDIAN) && hlen >= 4) {
				uint32_t hdw = 0;

				CHECK_EQ_INT(lb_hive_get_dword(h, path, name, &hdw), 0);
				CHECK_EQ_INT(lb_regf_get_dword(r, 0, path, name, &rdw, &e), 0);
				CHECK_EQ_INT(rdw, hdw);
			}
			(*nvals)++;
		}
		free(hd);
		free(rd);
		free(name);
	}
	free(vals);
}

struct names {
	char (*n)[256];
	size_t count, cap;
};

static void identity_system(hive_h *h, struct lb_regf_reader *r)
{
	char key[256], hs[256], rs[256];
	struct lb_err e;
	uint32_t cur = 0;
	int cs = lb_hive_current_controlset(h);
	uint64_t k;
	hive_node_h services, *kids;
	int nvals = 0, nkeys = 0;

	CHECK(lb_regf_get_dword(r, 0, "Select", "Current", &cur, &e) == 0 ||
	      lb_hive_node(h, "Select") == 0);
	if (lb_hive_node(h, "Select"))
		CHECK_EQ_INT(cur, cs);
	snprintf(key, sizeof(key), "ControlSet%03d\\Control\\ComputerName\\ComputerName", cs);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, key, "ComputerName", rs, sizeof(rs), &e),
	             lb_hive_get_string(h, key, "ComputerName", hs, sizeof(hs)));
	CHECK_EQ_STR(rs, hs);
	/* lookups fold case as hivex does */
	snprintf(key, sizeof(key), "controlset%03d\\CONTROL\\computername\\computerNAME", cs);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, key, "COMPUTERNAME", rs, sizeof(rs), &e),
	             lb_hive_get_string(h, key, "COMPUTERNAME", hs, sizeof(hs)));
	CHECK_EQ_STR(rs, hs);
	/* cut as snprintf cuts */
	CHECK_EQ_INT(lb_regf_get_string(r, 0, key, "ComputerName", rs, 4, &e),
	             lb_hive_get_string(h, key, "ComputerName", hs, 4));
	CHECK_EQ_STR(rs, hs);
	snprintf(key, sizeof(key), "ControlSet%03d\\Services\\Tcpip\\Parameters", cs);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, key, "Domain", rs, sizeof(rs), &e),
	             lb_hive_get_string(h, key, "Domain", hs, sizeof(hs)));
	CHECK_EQ_STR(rs, hs);
	snprintf(key, sizeof(key), "ControlSet%03d\\Services\\CSAgent", cs);
	CHECK_EQ_INT(lb_regf_key(r, 0, key, &k, &e) == 0, lb_hive_node(h, key) != 0);
	CHECK_EQ_INT(lb_regf_key(r, 0, "No\\Such\\Key", &k, &e), 1);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, "Select", "NoSuchValue", rs, sizeof(rs), &e), 1);
	/* wrong type: absent for the string getter, as lb_hive_get_string */
	CHECK_EQ_INT(lb_regf_get_string(r, 0, "Select", "Current", rs, sizeof(rs), &e), 1);

	/* every value of every service key (and subkey one level down) */
	snprintf(key, sizeof(key), "ControlSet%03d\\Services", cs);
	services = lb_hive_node(h, key);
	REQUIRE(services);
	kids = hivex_node_children(h, services);
	REQUIRE(kids);
	{
		size_t nk = 0;

		while (kids[nk])
			nk++;
		CHECK(nk > 50);
	}
	for (size_t i = 0; kids[i]; i++) {
		char *name = hivex_node_name(h, kids[i]), path[512];

		REQUIRE(name);
		snprintf(path, sizeof(path), "%s\\%s", key, name);
		compare_key(h, r, path, &nvals);
		nkeys++;
		free(name);
	}
	free(kids);
	fprintf(stderr, "  %d service keys, %d values compared\n", nkeys, nvals);
	CHECK(nvals > 100);
}

/* Subkeys through lb_regf_subkeys: their count, and each the key node
 * that a path lookup of the same name finds. */
struct sub_count {
	size_t n;
	uint64_t first;
};

static int count_cb(void *arg, uint64_t sub)
{
	struct sub_count *c = arg;

	if (!c->n)
		c->first = sub;
	c->n++;
	return 0;
}

static void compare_subkeys(hive_h *h, struct lb_regf_reader *r, const char *path)
{
	hive_node_h n = lb_hive_node(h, path), *kids;
	struct sub_count c = { 0, 0 };
	struct lb_err e;
	uint64_t k, first;
	size_t nk = 0;
	char *name, sub[512];

	REQUIRE(n);
	kids = hivex_node_children(h, n);
	REQUIRE(kids);
	while (kids[nk])
		nk++;
	REQUIRE(lb_regf_key(r, 0, path, &k, &e) == 0);
	CHECK_EQ_INT(lb_regf_subkeys(r, k, count_cb, &c, &e), 0);
	CHECK_EQ_INT(c.n, nk);
	if (nk) {
		/* hivex names a node by its cell's offset in the hive bins + 4096 */
		CHECK_EQ_INT(c.first, kids[0]);
		name = hivex_node_name(h, kids[0]);
		snprintf(sub, sizeof(sub), "%s\\%s", path, name);
		CHECK_EQ_INT(lb_regf_key(r, 0, sub, &first, &e), 0);
		CHECK_EQ_INT(first, kids[0]);
		free(name);
	}
	free(kids);
}

static void real_hive(const char *label, const uint8_t *d, size_t n, bool system)
{
	struct lb_regf_reader *r, *rf;
	struct lb_regf_info info;
	struct lb_err e;
	hive_h *h = hivex_of(d, n, label);
	char path[256];
	int fd;

	fprintf(stderr, "%s:\n", label);
	REQUIRE(h);
	REQUIRE(lb_regf_reader_open_buffer(d, n, LB_REGF_READ_CHECK, &r, &info, &e) == 0);
	if (system) {
		identity_system(h, r);
		compare_subkeys(h, r, "Select");
		compare_subkeys(h, r, "ControlSet001\\Services");
		compare_subkeys(h, r, "ControlSet001\\Control");
	} else {
		int nv = 0;

		compare_key(h, r, "", &nv);
		compare_subkeys(h, r, "Objects");
	}
	/* through a file callback: the same answers */
	snprintf(path, sizeof(path), WORK "/%s.hivex", label);
	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	REQUIRE(lb_regf_reader_open(fd_read, &fd, n, LB_REGF_READ_CHECK, &rf, &info, &e) == 0);
	if (system)
		identity_system(h, rf);
	lb_regf_reader_close(rf);
	close(fd);
	lb_regf_reader_close(r);
	hivex_close(h);
}

/* ---- the SOFTWARE hive of mkimage.py ---- */

static void software_hive(void)
{
	const char *b = getenv("LB_BUILD");
	char mk[1024], cmd[2048], rs[256], hs[256];
	const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
	const char *un = "Microsoft\\Windows\\CurrentVersion\\Uninstall";
	struct lb_regf_reader *r;
	struct lb_err e;
	uint32_t dw = 0, hdw = 0;
	uint8_t *d;
	size_t n;
	hive_h *h;
	FILE *f;

	snprintf(mk, sizeof(mk), "%s/lb-mkhive", b ? b : ".");
	if (access(mk, X_OK)) {
		fprintf(stderr, "SOFTWARE: no %s, not checked\n", mk);
		return;
	}
	f = fopen(WORK "/software.spec", "w");
	REQUIRE(f);
	fprintf(f, "[%s]\n\"ProductName\"=sz:Windows 10 Pro\n\"EditionID\"=sz:Professional\n"
	        "\"CurrentBuild\"=sz:19045\n\"DisplayVersion\"=sz:22H2\n\"UBR\"=dword:4651\n"
	        "\"InstallDate\"=dword:0x5f5e1000\n\"Unicode\"=sz:Gr\xc3\xbc\xc3\x9f\x65 \xf0\x9f\x98\x80\n", cv);
	fprintf(f, "[Microsoft\\Cryptography]\n\"MachineGuid\"=sz:6f1b7c0e-8f6a-4a53-9c1e-2b9e2d3c4a5b\n");
	for (int i = 0; i < 40; i++)
		fprintf(f, "[%s\\{%08d-0000-0000-0000-000000000000}]\n\"DisplayName\"=sz:App %d\n"
		        "\"DisplayVersion\"=sz:1.%d\n", un, i, i, i);
	fprintf(f, "[%s\\{5c2a55c4-0000-0000-0000-000000000000}]\n\"DisplayName\"=sz:CrowdStrike "
	        "Windows Sensor\n\"DisplayVersion\"=sz:7.16.18605.0\n", un);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' " WORK "/SOFTWARE " WORK "/software.spec", mk);
	REQUIRE(system(cmd) == 0);
	d = lbt_slurp(WORK "/SOFTWARE", &n);
	h = hivex_of(d, n, "SOFTWARE");
	REQUIRE(h);
	REQUIRE(lb_regf_reader_open_buffer(d, n, LB_REGF_READ_CHECK, &r, NULL, &e) == 0);
	fprintf(stderr, "SOFTWARE (lb-mkhive):\n");
	{
		const char *names[] = { "ProductName", "EditionID", "CurrentBuild", "DisplayVersion",
		                        "Unicode", "ReleaseId" };

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			CHECK_EQ_INT(lb_regf_get_string(r, 0, cv, names[i], rs, sizeof(rs), &e),
			             lb_hive_get_string(h, cv, names[i], hs, sizeof(hs)));
			CHECK_EQ_STR(rs, hs);
		}
	}
	CHECK_EQ_INT(lb_regf_get_string(r, 0, cv, "Unicode", rs, sizeof(rs), &e), 0);
	CHECK_EQ_STR(rs, "Gr\xc3\xbc\xc3\x9f\x65 \xf0\x9f\x98\x80"); /* surrogate pair */
	CHECK_EQ_INT(lb_regf_get_dword(r, 0, cv, "UBR", &dw, &e), 0);
	CHECK_EQ_INT(lb_hive_get_dword(h, cv, "UBR", &hdw), 0);
	CHECK_EQ_INT(dw, hdw);
	CHECK_EQ_INT(dw, 4651);
	CHECK_EQ_INT(lb_regf_get_dword(r, 0, cv, "InstallDate", &dw, &e), 0);
	CHECK_EQ_INT(dw, 0x5f5e1000);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, "Microsoft\\Cryptography", "MachineGuid", rs,
	                                sizeof(rs), &e), 0);
	CHECK_EQ_STR(rs, "6f1b7c0e-8f6a-4a53-9c1e-2b9e2d3c4a5b");
	CHECK_EQ_INT(lb_regf_get_string(r, 0, un, "DisplayName", rs, sizeof(rs), &e), 1);
	compare_subkeys(h, r, un);
	{
		char p[512];

		snprintf(p, sizeof(p), "%s\\{5C2A55C4-0000-0000-0000-000000000000}", un);
		CHECK_EQ_INT(lb_regf_get_string(r, 0, p, "DISPLAYVERSION", rs, sizeof(rs), &e), 0);
		CHECK_EQ_STR(rs, "7.16.18605.0");
	}
	lb_regf_reader_close(r);
	hivex_close(h);
	free(d);
}

/* ---- damage: the streamed check agrees with lb_regf_check ---- */

struct memfile {
	const uint8_t *d;
	size_t n;
	int reads;
};

static int mem_read(void *ctx, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	struct memfile *m = ctx;

	m->reads++;
	if (off > m->n || m->n - off < n)
		return lb_err_set(err, LB_EK_IO, 0, "read past the end");
	memcpy(buf, m->d + off, n);
	return 0;
}

static void same_verdict(const char *what, const uint8_t *d, size_t n)
{
	struct lb_regf_info i1, i2;
	struct lb_err e1, e2;
	struct memfile m = { d, n, 0 };
	uint8_t *starts = NULL;
	int r1, r2;

	lb_err_clear(&e1);
	lb_err_clear(&e2);
	r1 = lb_regf_check(d, n, &i1, &e1);
	r2 = lb_regf_check_stream(mem_read, &m, n, &i2, &starts, &e2);
	CHECK_EQ_INT(r2, r1);
	if (r1 != r2 || strcmp(e1.msg, e2.msg))
		fprintf(stderr, "  %s: check \"%s\", stream \"%s\"\n", what, e1.msg, e2.msg);
	CHECK_EQ_STR(e2.msg, e1.msg);
	CHECK_EQ_INT(i2.dirty, i1.dirty);
	CHECK_EQ_INT(i2.seq1, i1.seq1);
	CHECK_EQ_INT(r2 == 0, starts != NULL);
	free(starts);
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void damage(const uint8_t *good, size_t n, const uint8_t *bad, size_t badn)
{
	uint8_t *m = malloc(n);
	struct lb_regf_reader *r;
	struct lb_err e;

	REQUIRE(m);
	fprintf(stderr, "damage:\n");
	same_verdict("SYSTEM", good, n);
	same_verdict("corrupted_system_hive", bad, badn);
	same_verdict("empty", good, 0);
	same_verdict("base block only", good, 4096);
	same_verdict("cut in a bin", good, n / 2);
	same_verdict("one byte short", good, n - 1);
	for (int i = 0; i < 300; i++) {
		size_t at;

		memcpy(m, good, n);
		/* hit bin headers and cell size fields often: they are what
		 * the walk reads */
		for (int k = 0; k < 1 + i % 4; k++) {
			at = i % 3 == 0 ? 4096 + (rnd() % ((n - 4096) / 4096)) * 4096 + rnd() % 12
			                : rnd() % n;
			m[at] ^= (uint8_t)(1u << (rnd() % 8));
		}
		if (i % 5) {
			/* keep the base block checksum right so the walk is reached */
			uint32_t c = lb_regf_checksum(m);

			m[508] = (uint8_t)c;
			m[509] = (uint8_t)(c >> 8);
			m[510] = (uint8_t)(c >> 16);
			m[511] = (uint8_t)(c >> 24);
		}
		same_verdict("mutated", m, n);
		if (lb_regf_reader_open_buffer(m, n, 0, &r, NULL, &e) == 0) {
			regf_identity_lookups(r);
			lb_regf_reader_close(r);
		}
		if (lb_regf_reader_open_buffer(m, n, LB_REGF_READ_CHECK, &r, NULL, &e) == 0) {
			regf_identity_lookups(r);
			lb_regf_reader_close(r);
		}
	}
	free(m);
}

/* ---- a hand-built hive ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

struct builder {
	uint8_t *d;
	uint32_t hb;    /* hive bins size */
	uint32_t next;  /* next free offset in the hive bins */
};

/* An allocated cell of payload n bytes; returns its hive-bins offset. */
static uint32_t cell(struct builder *b, uint32_t n)
{
	uint32_t size = (n + 4 + 7) & ~7u, at = b->next;

	put32(b->d + 4096 + at, (uint32_t)-(int32_t)size);
	b->next += size;
	REQUIRE(b->next + 8 <= b->hb);
	return at;
}

static uint8_t *P(struct builder *b, uint32_t cellofs)
{
	return b->d + 4096 + cellofs + 4;
}

static uint32_t nk(struct builder *b, const char *name, uint32_t nsub, uint32_t list,
                   uint32_t nval, uint32_t vlist)
{
	uint32_t c = cell(b, 76 + (uint32_t)strlen(name));
	uint8_t *p = P(b, c);

	memcpy(p, "nk", 2);
	put16(p + 2, 0x20);
	put32(p + 20, nsub);
	put32(p + 28, list);
	put32(p + 32, 0xFFFFFFFF);
	put32(p + 36, nval);
	put32(p + 40, vlist);
	put16(p + 72, (uint16_t)strlen(name));
	memcpy(p + 76, name, strlen(name));
	return c;
}

static uint32_t list(struct builder *b, const char *sig, const uint32_t *e, uint16_t n)
{
	uint32_t esz = strcmp(sig, "lf") && strcmp(sig, "lh") ? 4 : 8, c = cell(b, 4 + n * esz);
	uint8_t *p = P(b, c);

	memcpy(p, sig, 2);
	put16(p + 2, n);
	for (uint16_t i = 0; i < n; i++)
		put32(p + 4 + i * esz, e[i]);
	return c;
}

static uint32_t vk(struct builder *b, const char *name, uint32_t type, uint32_t len, uint32_t data)
{
	uint32_t c = cell(b, 20 + (uint32_t)strlen(name));
	uint8_t *p = P(b, c);

	memcpy(p, "vk", 2);
	put16(p + 2, (uint16_t)strlen(name));
	put32(p + 4, len);
	put32(p + 8, data);
	put32(p + 12, type);
	put16(p + 16, 1);
	memcpy(p + 20, name, strlen(name));
	return c;
}

static void finish(struct builder *b, uint32_t root)
{
	uint8_t *d = b->d;
	uint32_t rest = b->hb - b->next;

	memcpy(d, "regf", 4);
	put32(d + 4, 1);
	put32(d + 8, 1);
	put32(d + 20, 1);
	put32(d + 24, 5);
	put32(d + 32, 1);
	put32(d + 36, root);
	put32(d + 40, b->hb);
	put32(d + 44, 1);
	put32(d + 508, lb_regf_checksum(d));
	memcpy(d + 4096, "hbin", 4);
	put32(d + 4096 + 8, b->hb);
	put32(d + 4096 + b->next, rest); /* the free rest */
}

static void built(void)
{
	struct builder b;
	uint32_t big = 40000, seg[3], segl, db, v[3], vl, kids[2], inner, outer, ri, root, bad;
	struct lb_regf_reader *r;
	struct lb_err e;
	uint8_t *data;
	size_t len;
	uint32_t t;
	uint64_t k;
	char s[64];
	struct sub_count c = { 0, 0 };

	fprintf(stderr, "built:\n");
	b.hb = 256 * 1024;
	b.d = calloc(1, 4096 + b.hb);
	REQUIRE(b.d);
	b.next = 32;
	/* big data: 40000 bytes in three segments of up to 16344 */
	for (int i = 0; i < 3; i++) {
		uint32_t sz = i < 2 ? 16344 : big - 2 * 16344;

		seg[i] = cell(&b, sz);
		for (uint32_t j = 0; j < sz; j++)
			P(&b, seg[i])[j] = (uint8_t)(i * 16344 + j);
	}
	segl = cell(&b, 12); /* a plain offset list: 4 bytes an entry, no header */
	for (int i = 0; i < 3; i++)
		put32(P(&b, segl) + 4 * i, seg[i]);
	db = cell(&b, 8);
	memcpy(P(&b, db), "db", 2);
	put16(P(&b, db) + 2, 3);
	put32(P(&b, db) + 4, segl);
	v[0] = vk(&b, "Big", 3, big, db);
	v[1] = vk(&b, "Inline", 4, 0x80000004u, 0x01020304);
	v[2] = vk(&b, "Outside", 1, 8, b.hb + 4096);
	vl = cell(&b, 12);
	for (int i = 0; i < 3; i++)
		put32(P(&b, vl) + 4 * i, v[i]);
	kids[0] = nk(&b, "Alpha", 0, 0xFFFFFFFF, 3, vl);
	kids[1] = nk(&b, "Beta", 0, 0xFFFFFFFF, 0, 0xFFFFFFFF);
	inner = list(&b, "lf", kids, 2);
	ri = list(&b, "ri", &inner, 1);
	outer = list(&b, "ri", &ri, 1);     /* an ri inside an ri */
	bad = nk(&b, "Nested", 2, outer, 0, 0xFFFFFFFF);
	{
		/* an ri naming one list three times, under a key of 2 subkeys */
		uint32_t three[3] = { inner, inner, inner }, fan = nk(&b, "Fan", 2,
		                      list(&b, "ri", three, 3), 0, 0xFFFFFFFF);
		uint32_t top[4] = { kids[0], kids[1], bad, fan }, tl = list(&b, "lh", top, 4);

		/* root claims 5 subkeys: its list holds 4 */
		root = nk(&b, "ROOT", 5, tl, 0, 0xFFFFFFFF);
	}
	(void)ri;
	finish(&b, root);
	same_verdict("built", b.d, 4096 + b.hb);
	REQUIRE(lb_regf_reader_open_buffer(b.d, 4096 + b.hb, LB_REGF_READ_CHECK, &r, NULL, &e) == 0);
	CHECK_EQ_INT(lb_regf_get_raw(r, 0, "alpha", "BIG", &t, &data, &len, &e), 0);
	CHECK_EQ_INT(len, big);
	CHECK_EQ_INT(t, 3);
	{
		int ok = 1;

		for (uint32_t j = 0; j < big && data; j++)
			ok &= data[j] == (uint8_t)j;
		CHECK(ok);
	}
	free(data);
	CHECK_EQ_INT(lb_regf_get_dword(r, 0, "Alpha", "Inline", &t, &e), 0);
	CHECK_EQ_INT(t, 0x01020304);
	CHECK_EQ_INT(lb_regf_get_string(r, 0, "Alpha", "Outside", s, sizeof(s), &e), -1);
	CHECK(strstr(e.msg, "outside the hive bins") != NULL);
	CHECK_EQ_INT(lb_regf_key(r, 0, "Beta", &k, &e), 0);
	CHECK_EQ_INT(lb_regf_key(r, 0, "Nested\\Alpha", &k, &e), -1);
	CHECK(strstr(e.msg, "ri inside ri") != NULL);
	CHECK_EQ_INT(lb_regf_subkeys(r, lb_regf_root(r), count_cb, &c, &e), -1);
	CHECK(strstr(e.msg, "counts 5 subkeys, its lists hold 4") != NULL);
	CHECK_EQ_INT(lb_regf_key(r, 0, "Fan", &k, &e), 0);
	CHECK_EQ_INT(lb_regf_subkeys(r, k, count_cb, &c, &e), -1);
	CHECK(strstr(e.msg, "more entries than the 2 subkeys") != NULL);
	CHECK_EQ_INT(lb_regf_key(r, 0, "Fan\\Beta", &k, &e), 0); /* found before the limit */
	lb_regf_reader_close(r);
	/* a key list pointing back at the root (a cycle) is followed once per
	 * path component, never in a loop */
	put32(P(&b, kids[1]) + 20, 1);
	put32(P(&b, kids[1]) + 28, list(&b, "li", &root, 1));
	finish(&b, root);
	REQUIRE(lb_regf_reader_open_buffer(b.d, 4096 + b.hb, LB_REGF_READ_CHECK, &r, NULL, &e) == 0);
	CHECK_EQ_INT(lb_regf_key(r, 0, "Beta\\ROOT\\Beta\\ROOT\\Alpha", &k, &e), 0);
	{
		/* round the cycle: stopped by the depth limit */
		char deep[400] = "";

		for (int i = 0; i < 35; i++)
			strcat(deep, "Beta\\ROOT\\");
		CHECK_EQ_INT(lb_regf_key(r, 0, deep, &k, &e), -1);
		CHECK(strstr(e.msg, "deeper than") != NULL);
	}
	lb_regf_reader_close(r);
	/* the cell-start map: an offset inside a cell is refused with the
	 * check, read as a (bad) cell without it */
	put32(P(&b, vl), v[0] + 8);
	finish(&b, root);
	REQUIRE(lb_regf_reader_open_buffer(b.d, 4096 + b.hb, LB_REGF_READ_CHECK, &r, NULL, &e) == 0);
	CHECK_EQ_INT(lb_regf_get_raw(r, 0, "Alpha", "Big", &t, &data, &len, &e), -1);
	CHECK(strstr(e.msg, "not an allocated cell") != NULL);
	lb_regf_reader_close(r);
	free(b.d);
}

int main(void)
{
	char p[1024];
	uint8_t *sys, *sys2, *sysb, *l1, *l2, *bcd, *bad, *rep;
	size_t n, n2, nb, nl1, nl2, nbcd, nbad, nrep;
	struct lb_hive hv;
	struct lb_err e;

	if (access(lbt_shared("hives/SYSTEM.xz", p, sizeof(p)), R_OK)) {
		printf("SKIP: no %s\n", p);
		return 77;
	}
	REQUIRE(system("mkdir -p " WORK) == 0);
	sys = unpack("hives/SYSTEM.xz", &n);
	sys2 = unpack("hives/SYSTEM_2.xz", &n2);
	sysb = unpack("hives/SYSTEM_B.xz", &nb);
	l1 = unpack("hives/SYSTEM_B.LOG1.xz", &nl1);
	l2 = unpack("hives/SYSTEM_B.LOG2.xz", &nl2);
	bcd = unpack("hives/BCD.xz", &nbcd);
	bad = unpack("hives/corrupted_system_hive.xz", &nbad);

	real_hive("SYSTEM", sys, n, true);
	real_hive("SYSTEM_2", sys2, n2, true);
	REQUIRE(lb_hive_replay(sysb, nb, l1, nl1, l2, nl2, "SYSTEM_B", &hv, &rep, &nrep, &e) == 0);
	REQUIRE(rep);
	real_hive("SYSTEM_B-replayed", rep, nrep, true);
	real_hive("BCD", bcd, nbcd, false);
	software_hive();
	damage(sys, n, bad, nbad);
	same_verdict("SYSTEM_B (dirty)", sysb, nb);
	same_verdict("BCD", bcd, nbcd);
	built();

	free(sys);
	free(sys2);
	free(sysb);
	free(l1);
	free(l2);
	free(bcd);
	free(bad);
	free(rep);
	LBT_DONE_CLEAN(WORK);
}
