/* fuzz_regf_read.c - hostile hives through the lazy reader
 * (lb_regf_read.h) and the streamed check:
 *  - lb_regf_check_stream, fed through a read callback, must give exactly
 *    lb_regf_check's verdict and message (abort otherwise);
 *  - the reader, opened with the check and without it (only the base
 *    block checked: the getters then meet every kind of damage), runs
 *    every lookup the identity makes (lb_windows.c): Select\Current, the
 *    computer name, domain, CSAgent and its Sim values, the CurrentVersion
 *    strings and DWORDs, MachineGuid, and the Uninstall subkeys with their
 *    DisplayName/DisplayVersion.
 * Input: the hive file, as is (and with its base block checksum re-sealed
 * unless the input is shorter than 512 bytes, so the walk is reached). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lb_regf.h"
#include "lb_regf_read.h"
#include "regf_lookups.h"

struct src {
	const uint8_t *d;
	size_t n;
};

static int src_read(void *ctx, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	struct src *s = ctx;

	if (off > s->n || s->n - off < n)
		return lb_err_set(err, LB_EK_IO, 0, "read past the end");
	memcpy(buf, s->d + off, n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *h = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	struct src s = { h, size };
	struct lb_regf_info i1, i2;
	struct lb_regf_reader *r;
	struct lb_err e1, e2;
	uint8_t *starts = NULL;
	int r1, r2;

	if (!h)
		return 0;
	memcpy(h, data, size);
	if (size >= 512 && memcmp(h, "regf", 4) == 0)
		lbf_put32(h + 508, lb_regf_checksum(h));
	lb_err_clear(&e1);
	lb_err_clear(&e2);
	r1 = lb_regf_check(h, size, &i1, &e1);
	r2 = lb_regf_check_stream(src_read, &s, size, &i2, &starts, &e2);
	if (r1 != r2 || strcmp(e1.msg, e2.msg) || (r2 == 0) != (starts != NULL))
		abort(); /* the streamed check is lb_regf_check, read differently */
	free(starts);
	if (lb_regf_reader_open(src_read, &s, size, 0, &r, NULL, &e1) == 0) {
		regf_identity_lookups(r);
		lb_regf_reader_close(r);
	}
	if (lb_regf_reader_open_buffer(h, size, LB_REGF_READ_CHECK, &r, NULL, &e1) == 0) {
		regf_identity_lookups(r);
		lb_regf_reader_close(r);
	}
	free(h);
	return 0;
}
