/* lb_bitlocker_vmk.h - the volume master key from a recovery password, for
 * any recovery protector (internal to the bitlocker layer).
 *
 * libdislocker 0.7.3 checks a recovery password against the first
 * recovery-password protector only.  Volumes with a second one are common
 * (an admin added a protector, or escrow rotated one), and the escrow key
 * then belongs to protector 2.  lb_bl_vmk_from_rp() walks the FVE metadata
 * copy the probe validated, and for each recovery-password protector in
 * order stretches the password with that protector's salt and unwraps its
 * VMK (AES-CCM: a wrong key fails the tag).  The crypto is libdislocker's
 * own (intermediate_key: 2^20 SHA-256 rounds; get_vmk: AES-CCM), resolved
 * from the same dlopen()ed library; the caller hands the VMK to dislocker
 * as a VMK file (DIS_OPT_USE_VMK_FILE), which derives the FVEK from it.
 *
 * Contract: the VMK is key material: the caller wipes it (sodium_memzero)
 * and any file it is written to.  Nothing here prints or keeps a secret. */
#ifndef LB_BITLOCKER_VMK_H
#define LB_BITLOCKER_VMK_H

#include <stddef.h>
#include <stdint.h>

#include "lb_bitlocker.h"

#define LB_BL_VMK_LEN 32

/* libdislocker's helpers (see dislocker/accesses/rp/recovery_password.h,
 * metadata/datums.h, metadata/vmk.h). */
struct lb_bl_vmk_fns {
	int (*intermediate_key)(const uint8_t *rp, const uint8_t *salt, uint8_t *key);
	int (*get_nested_datumvaluetype)(void *datum, int value_type, void **nested);
	int (*get_vmk)(void *aesccm_datum, uint8_t *key, size_t key_size, void **vmk);
	/* what get_vmk allocates is freed by the library's own allocator (under
	 * the sanitizers it lives in a link namespace of its own: lb_dlopen.c) */
	void (*dis_free)(void *p);
};

/* Tries rp ("NNNNNN-…", 55 characters) on every recovery-password
 * protector of the BitLocker volume at [offset…) of path, reading metadata
 * copy info->metadata_used.  Returns the index in info->protectors of the
 * protector it opened, with its VMK in vmk; -1 with LB_EK_REFUSED when none
 * opens ("wrong recovery password for protectors {A}, {B}"), LB_EK_IO or
 * LB_EK_INPUT when the metadata cannot be read or walked. */
int lb_bl_vmk_from_rp(const struct lb_bl_vmk_fns *f, const char *path, uint64_t offset,
                      const struct lb_bitlocker_info *info, const char *rp,
                      uint8_t vmk[LB_BL_VMK_LEN], struct lb_err *err);

#endif
