/* fuzz_bitlocker.c - the FVE metadata parser (no key, no dislocker):
 *  - a raw input is a volume prefix for lb_bitlocker_probe_buffer;
 *  - a sparse input (fuzz_common.h, seeds made from the Windows-made images
 *    in bitlk-images.tar.xz) is a whole volume, probed through the lb_io
 *    path the engine uses (lb_source_open + lb_bitlocker_probe).
 * Then the lookups run on the result.
 *
 * Sparse inputs get their metadata CRC32s recomputed after mutation
 * (fuzz_common.h) unless bit 62 of the size field is set; raw inputs are
 * used exactly as given (the CRC and header checks get fuzzed there). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lb_bitlocker.h"
#include "lb_source.h"

static void use(const struct lb_bitlocker_info *bi)
{
	if (bi->n_protectors > LB_BITLOCKER_MAX_PROTECTORS)
		abort();
	for (unsigned i = 0; i < bi->n_protectors; i++) {
		const struct lb_bitlocker_protector *p = &bi->protectors[i];

		if (strnlen(p->guid, sizeof(p->guid)) == sizeof(p->guid) ||
		    strnlen(p->name, sizeof(p->name)) == sizeof(p->name))
			abort(); /* unterminated strings */
		if (lb_bitlocker_find_protector(bi, p->guid) < 0)
			abort();
		(void)lb_bl_protector_type_name(p->type);
	}
	if (strnlen(bi->description, sizeof(bi->description)) == sizeof(bi->description) ||
	    strnlen(bi->volume_guid, sizeof(bi->volume_guid)) == sizeof(bi->volume_guid))
		abort();
	(void)lb_bl_state_name(bi->state);
	if (!bi->cipher)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_bitlocker_info *bi = calloc(1, sizeof(*bi));
	struct lb_err err;
	uint8_t *copy;

	if (!bi)
		return 0;
	lb_err_clear(&err);
	if (lbf_is_sparse(data, size)) {
		char path[64];
		struct lb_source src;

		int fd = lbf_image(data, size, path);

		struct stat st;

		if (fd >= 0 && !(lbf_le64(data + 4) & LBF_NOFIX_FLAG) && fstat(fd, &st) == 0)
			lbf_fve_reseal_fd(fd, 0, (uint64_t)st.st_size);
		if (fd >= 0 && lb_source_open(path, false, &src, &err) == 0) {
			if (lb_bitlocker_probe(src.io, bi, &err) == 0)
				use(bi);
			lb_source_close(&src);
		}
	} else {
		/* exact-size copy: libFuzzer's buffer is exact too, but be explicit */
		copy = malloc(size ? size : 1);
		if (copy) {
			memcpy(copy, data, size);
			if (size >= 512)
				(void)lb_bitlocker_is_bitlocker(copy);
			if (lb_bitlocker_probe_buffer(copy, size, bi, &err) == 0)
				use(bi);
			free(copy);
		}
	}
	free(bi);
	return 0;
}
