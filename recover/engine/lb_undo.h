/* lb_undo.h - putting back what a fix changed, from its evidence bundle.
 *
 * Each manifest entry is restored only onto the target and volume it was
 * made from: its recorded identity (file or device, partition offset, NTFS
 * serial, volume and disk GUID or MBR signature; undo_target.c) must match
 * a given target (or the target recorded in the bundle).  Then:
 * a quarantined file is moved back from \loopbreaker.quarantine*; a deleted
 * file is recreated from the bundle with its original times; either gets
 * its recorded 8.3 name back; a cleared hibernation signature is restored.
 * Every target undo may write is claimed exclusively (lb_source_claim) for
 * the whole run; one another process holds is refused, naming it.
 * Nothing is done for an entry whose target changed since the fix (the
 * original name exists again with other bytes, the quarantined copy is
 * missing or differs, a BCD entry has another mode): it is reported as
 * refused; one already as before the fix is reported as already_restored.
 * BitLocker volumes are unlocked with unlock (NULL: only clear NTFS). */
#ifndef LB_UNDO_H
#define LB_UNDO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_unlock.h"

/* any_target: restore onto any target holding a volume with the recorded
 * NTFS serial (a copy of the disk), skipping the rest of the recorded
 * identity.  Returns the exit status; *report gets the report. */
int lb_undo_run(const char *bundle, const char *const *targets, size_t ntargets,
                struct lb_unlock *unlock, bool any_target, json_t **report);

#endif
