/* lb_fuzz_pack.c - seed helper for the fuzz targets (not a fuzz target).
 *
 *   lb-fuzz-pack pack IMAGE OUT        raw image -> sparse encoding (fuzz_common.h)
 *   lb-fuzz-pack unpack INPUT OUT      sparse or raw input -> raw image file
 *                                      (to replay a finding with the CLI)
 *   lb-fuzz-pack regf HIVE LOG1 LOG2 OUT
 *                                      fuzz_regf input ("-" for a missing log)
 *   lb-fuzz-pack regf-synth HIVE OUTDIR
 *                                      dirty copies of a clean hive with a new-format
 *                                      (HvLE) and an old-format (DIRT) log, as
 *                                      fuzz_regf inputs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "lb_regf.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *b;
	long n;

	*len = 0;
	if (strcmp(path, "-") == 0)
		return calloc(1, 1);
	if (!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		perror(path);
		exit(2);
	}
	rewind(f);
	b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static FILE *create(const char *path)
{
	FILE *f = fopen(path, "wb");

	if (!f) {
		perror(path);
		exit(2);
	}
	return f;
}

static void w32(FILE *f, uint32_t v)
{
	uint8_t b[4];

	lbf_put32(b, v);
	fwrite(b, 1, 4, f);
}

static void w64(FILE *f, uint64_t v)
{
	uint8_t b[8];

	lbf_put64(b, v);
	fwrite(b, 1, 8, f);
}

/* Sector kinds: 0 zero, 1 uniform non-zero byte, 2 data. */
static int kind(const uint8_t *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (s[i] != s[0])
			return 2;
	return s[0] ? 1 : 0;
}

static int pack(const char *in, const char *out)
{
	size_t n, bs = 512, i = 0;
	uint8_t *d = slurp(in, &n);
	FILE *f = create(out);

	fwrite(LBF_MAGIC, 1, 4, f);
	w64(f, n);
	while (i < n) {
		size_t k = n - i < bs ? n - i : bs, j;
		int t = kind(d + i, k);

		if (t == 0) {
			i += k;
			continue;
		}
		/* extend the run while sectors have the same kind (and byte, for fills) */
		for (j = i + k; j < n; j += bs) {
			size_t kk = n - j < bs ? n - j : bs;

			if (kind(d + j, kk) != t || (t == 1 && d[j] != d[i]))
				break;
		}
		if (j > n)
			j = n;
		w64(f, i);
		if (t == 1) {
			w32(f, LBF_FILL_FLAG | (uint32_t)(j - i));
			fputc(d[i], f);
		} else {
			w32(f, (uint32_t)(j - i));
			fwrite(d + i, 1, j - i, f);
		}
		i = j;
	}
	free(d);
	return fclose(f) ? 2 : 0;
}

static int unpack(const char *in, const char *out)
{
	size_t n;
	uint8_t *d = slurp(in, &n);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
	int rc = fd < 0 || lbf_materialise(fd, d, n) < 0;

	if (rc)
		perror(out);
	free(d);
	if (rc)
		return 2;
	return close(fd) ? 2 : 0;
}

static void write_regf(const char *out, const uint8_t *h, size_t hn, const uint8_t *l1, size_t n1,
                       const uint8_t *l2, size_t n2)
{
	FILE *f = create(out);

	w32(f, (uint32_t)hn);
	w32(f, (uint32_t)n1);
	fwrite(h, 1, hn, f);
	fwrite(l1, 1, n1, f);
	fwrite(l2, 1, n2, f);
	if (fclose(f)) {
		perror(out);
		exit(2);
	}
}

static int regf(const char *hive, const char *log1, const char *log2, const char *out)
{
	size_t hn, n1, n2;
	uint8_t *h = slurp(hive, &hn), *l1 = slurp(log1, &n1), *l2 = slurp(log2, &n2);

	write_regf(out, h, hn, l1, n1, l2, n2);
	free(h);
	free(l1);
	free(l2);
	return 0;
}

static void reseal(uint8_t *base)
{
	lbf_put32(base + 508, lb_regf_checksum(base));
}

/* A dirty primary (seq1 = seq2 + 1) and a new-format log holding two
 * entries: one rewriting the first bin page, one appending an empty bin. */
static void synth_new(const uint8_t *hv, size_t n, const char *dir)
{
	uint32_t seq = lbf_le32(hv + 8), hb = lbf_le32(hv + 40);
	uint8_t *prim = malloc(n), *log = calloc(1, 3 * 8192 + 512);
	size_t pos = 512;
	char path[4096];

	memcpy(prim, hv, n);
	lbf_put32(prim + 4, seq + 1);
	reseal(prim);
	memcpy(log, hv, 512);
	lbf_put32(log + 28, LB_REGF_TYPE_LOG_NEW);
	reseal(log);
	for (uint32_t k = 0; k < 2; k++) {
		uint8_t *e = log + pos;
		uint32_t size = (40 + 8 + 4096 + 511) / 512 * 512;
		uint32_t ehb = k ? hb + 4096 : hb, page = k ? hb : 0;

		memcpy(e, "HvLE", 4);
		lbf_put32(e + 4, size);
		lbf_put32(e + 12, seq + k);
		lbf_put32(e + 16, ehb);
		lbf_put32(e + 20, 1);          /* one dirty page */
		lbf_put32(e + 40, page);
		lbf_put32(e + 44, 4096);
		if (k) {
			memcpy(e + 48, "hbin", 4);
			lbf_put32(e + 52, hb);
			lbf_put32(e + 56, 4096);
			lbf_put32(e + 48 + 32, 4096 - 32); /* one free cell */
		} else {
			memcpy(e + 48, hv + 4096, 4096);
		}
		lbf_put64(e + 24, lb_marvin32(e + 40, size - 40, LB_REGF_MARVIN_SEED));
		lbf_put64(e + 32, lb_marvin32(e, 32, LB_REGF_MARVIN_SEED));
		pos += size;
	}
	snprintf(path, sizeof(path), "%s/synth-new-log1", dir);
	write_regf(path, prim, n, log, pos, NULL, 0);
	snprintf(path, sizeof(path), "%s/synth-new-log2", dir);
	write_regf(path, prim, n, NULL, 0, log, pos);
	free(prim);
	free(log);
}

/* Old format: base block (type 1), "DIRT" + bitmap of 512-byte pages,
 * then the dirty pages; page 1 of the first bin marked dirty. */
static void synth_old(const uint8_t *hv, size_t n, const char *dir)
{
	uint32_t seq = lbf_le32(hv + 8), hb = lbf_le32(hv + 40);
	uint32_t bits = hb / 512, bytes = (bits + 7) / 8;
	size_t pos = 512 + (4 + bytes + 511) / 512 * 512;
	uint8_t *prim = malloc(n), *log = calloc(1, pos + 512);
	char path[4096];

	memcpy(prim, hv, n);
	lbf_put32(prim + 4, seq + 1);
	reseal(prim);
	memcpy(log, hv, 512);
	lbf_put32(log + 4, seq + 1);
	lbf_put32(log + 8, seq + 1);
	lbf_put32(log + 28, LB_REGF_TYPE_LOG_OLD);
	reseal(log);
	memcpy(log + 512, "DIRT", 4);
	log[516] = 0x02;
	memcpy(log + pos, hv + 4096 + 512, 512);
	pos += 512;
	snprintf(path, sizeof(path), "%s/synth-old-log1", dir);
	write_regf(path, prim, n, log, pos, NULL, 0);
	free(prim);
	free(log);
}

static int regf_synth(const char *hive, const char *dir)
{
	size_t n;
	uint8_t *hv = slurp(hive, &n);

	if (n < 4096 + 4096 || memcmp(hv, "regf", 4) != 0 ||
	    (size_t)lbf_le32(hv + 40) + 4096 > n) {
		fprintf(stderr, "%s: not a usable hive\n", hive);
		return 2;
	}
	synth_new(hv, n, dir);
	synth_old(hv, n, dir);
	free(hv);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "pack") == 0)
		return pack(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "unpack") == 0)
		return unpack(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "regf") == 0)
		return regf(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && strcmp(argv[1], "regf-synth") == 0)
		return regf_synth(argv[2], argv[3]);
	fprintf(stderr, "usage: lb-fuzz-pack pack IMAGE OUT | unpack INPUT OUT |\n"
	                "       regf HIVE LOG1|- LOG2|- OUT | regf-synth HIVE OUTDIR\n");
	return 2;
}
