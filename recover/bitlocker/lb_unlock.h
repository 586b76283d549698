/* lb_unlock.h - finding the key for a BitLocker volume and opening it.
 *
 * Sits between the BitLocker layer and the engine: given a volume's key
 * protectors, tries, in order, a suspended volume's clear key, the escrow
 * entries for each recovery-password protector (by protector ID), the
 * escrow entries without an ID, the .BEK files, recovery passwords and
 * user passwords given by the operator, and finally (attended runs only)
 * asks for the recovery key, checking each 6-digit block as it is typed.
 * Keys are never printed or logged.
 *
 * A volume that stays locked gets one LB_EK_REFUSED message that says
 * why, including the key store's notes that concern it (lb_keys_note: a
 * bundle that did not open, a malformed escrow row for one of its
 * protectors), so the engine only has to copy it into the report. */
#ifndef LB_UNLOCK_H
#define LB_UNLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "lb_bitlocker.h"
#include "lb_keys.h"

struct lb_unlock {
	struct lb_keystore *ks;          /* escrow entries (and keys typed at the prompt) */
	const char *const *bek_files;
	size_t nbek;
	const char *const *passwords;    /* user passwords (data volumes, To Go) */
	size_t npasswords;
	const char *const *recovery_passwords; /* given without a protector ID: tried on each */
	size_t nrecovery;
	bool interactive;                /* may prompt on the terminal */
};

/* On success returns the decrypting io, with the protector used and where
 * its key came from ("escrow:ad", "bek", "prompt", "clear_key", …). */
struct lb_io *lb_unlock_open(struct lb_unlock *u, const char *path, uint64_t offset,
                             uint64_t size, const struct lb_bitlocker_info *info, bool writable,
                             char protector[LB_GUID_STRLEN], char source[32], struct lb_err *err);

/* Reads a 48-digit recovery key from the terminal, validating each block
 * as typed; Enter on a short key says how many digits are missing, a
 * letter is refused with "digits only", Ctrl-U clears the line.  Returns
 * 0 with out filled, 1 if the operator skipped (Enter on an empty line),
 * -1 if there is no terminal. */
int lb_unlock_prompt(const char *protector, const char *description, char out[LB_RP_LEN + 1]);

#endif
