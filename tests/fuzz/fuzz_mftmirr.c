/* fuzz_mftmirr.c - the $MFTMirr check and repair (lb_ntfs_mirror.c) on
 * hostile NTFS volumes, with a property: whenever the check calls the
 * mirror stale, the repair must succeed on a writable copy and a second
 * check must then find it OK, having written only inside the mirror's
 * records.  Input: a raw volume or the sparse encoding of fuzz_common.h
 * (seeds: the NTFS volumes of fuzz_engine, some with a stale mirror). */
#include <stdlib.h>

#include "fuzz_common.h"
#include "lb_ntfs.h"
#include "lb_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct lb_source src;
	struct lb_mftmirr m, again;
	struct lb_err err;

	if (lbf_image(data, size, path) < 0)
		return 0;
	lb_err_clear(&err);
	if (lb_source_open(path, true, &src, &err))
		return 0;
	if (lb_mftmirr_check(src.io, &m, &err) == 0) {
		if (m.state == LB_MIRR_STALE) {
			uint64_t span = (uint64_t)m.nrecords * m.record_size;
			uint64_t before = src.io->writes;

			if (lb_mftmirr_repair(src.io, &m, &err) != 0)
				abort(); /* nothing changed in between: must succeed */
			if (src.io->writes - before > m.nrecords)
				abort();
			if (lb_mftmirr_check(src.io, &again, &err) != 0)
				abort();
			/* $MFT and the mirror may overlap in a hostile boot
			 * sector; then the copy moves $MFT too, and only "not
			 * stale in the same way" can be asked */
			if (again.state == LB_MIRR_STALE &&
			    (m.mirror_off >= m.mft_off + span || m.mft_off >= m.mirror_off + span))
				abort();
			lb_mftmirr_free(&again);
		}
		lb_mftmirr_free(&m);
	}
	lb_source_close(&src);
	return 0;
}
