/* fuzz_regf.c - transaction-log replay on hostile hives and logs:
 * lb_regf_replay over a primary file and up to two logs (.LOG1/.LOG2, old
 * DIRT and new HvLE formats), then the invariant the engine relies on: a
 * successful replay returns a hive that passes lb_regf_check.
 *
 * Input: u32 len_primary, u32 len_log1 (little-endian), then the primary,
 * log1 and the rest as log2 (lengths cut to what is there).
 *
 * Checksums and hashes: a mutated log entry almost never carries a valid
 * Marvin32 hash, which would keep the fuzzer at the hash check.  Unless bit
 * 31 of len_primary is set, the harness therefore recomputes the base
 * block checksums and every HvLE entry's two hashes after mutation (with
 * lb_regf's own functions), so the replay logic behind them is reached;
 * with the bit set the bytes are used exactly as given. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lb_regf.h"

static void fix_base(uint8_t *b, size_t n)
{
	if (n >= 512 && memcmp(b, "regf", 4) == 0)
		lbf_put32(b + 508, lb_regf_checksum(b));
}

/* HvLE entries follow the 512-byte base block of a new-format log. */
static void fix_log(uint8_t *b, size_t n)
{
	size_t pos = 512;

	fix_base(b, n);
	while (pos + 48 <= n && memcmp(b + pos, "HvLE", 4) == 0) {
		uint8_t *e = b + pos;
		uint32_t sz = lbf_le32(e + 4);

		if (sz < 48 || sz > n - pos)
			break;
		lbf_put64(e + 24, lb_marvin32(e + 40, sz - 40, LB_REGF_MARVIN_SEED));
		lbf_put64(e + 32, lb_marvin32(e, 32, LB_REGF_MARVIN_SEED));
		pos += sz;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int raw;
	const uint8_t *p = data + 8, *l1, *l2;
	size_t n, n1, n2, rest;
	uint8_t *out = NULL, *prim, *log1 = NULL, *log2 = NULL;
	size_t out_len = 0;
	struct lb_regf_replay_info ri;
	struct lb_regf_info info;
	struct lb_err err;

	if (size < 8)
		return 0;
	rest = size - 8;
	n = lbf_le32(data) & 0x7fffffffu;
	raw = (lbf_le32(data) & 0x80000000u) != 0;
	n = n > rest ? rest : n;
	rest -= n;
	n1 = lbf_le32(data + 4);
	n1 = n1 > rest ? rest : n1;
	n2 = rest - n1;
	l1 = p + n;
	l2 = l1 + n1;
	/* exact-size heap copies so that ASan sees any overread */
	prim = malloc(n ? n : 1);
	if (n1)
		log1 = malloc(n1);
	if (n2)
		log2 = malloc(n2);
	if (!prim || (n1 && !log1) || (n2 && !log2))
		goto out;
	memcpy(prim, p, n);
	if (n1)
		memcpy(log1, l1, n1);
	if (n2)
		memcpy(log2, l2, n2);
	if (!raw) {
		fix_base(prim, n);
		if (n1)
			fix_log(log1, n1);
		if (n2)
			fix_log(log2, n2);
	}
	lb_err_clear(&err);
	lb_regf_check(prim, n, &info, &err);
	if (lb_regf_replay(prim, n, log1, n1, log2, n2, &out, &out_len, &ri, &err) == 0) {
		if (!out || lb_regf_check(out, out_len, &info, &err) != 0 || info.dirty)
			abort(); /* replay must hand back a clean, consistent hive */
		free(out);
	} else if (out) {
		abort(); /* *out is NULL on failure */
	}
out:
	free(prim);
	free(log1);
	free(log2);
	return 0;
}
