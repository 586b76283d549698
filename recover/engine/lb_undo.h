/* lb_undo.h - putting back what a fix changed, from its evidence bundle.
 *
 * Each manifest entry is matched to its volume by NTFS serial number (on
 * the given targets, or on the target recorded in the bundle), then:
 * a quarantined file is moved back from \loopbreaker.quarantine*; a deleted
 * file is recreated from the bundle with its original times; a cleared
 * hibernation signature is restored.  Nothing is done for an entry whose
 * target changed since the fix (the original name exists again, the
 * quarantined copy is missing or differs): it is reported as refused.
 * BitLocker volumes are unlocked with unlock (NULL: only clear NTFS). */
#ifndef LB_UNDO_H
#define LB_UNDO_H

#include <jansson.h>
#include <stddef.h>

#include "lb_unlock.h"

int lb_undo_run(const char *bundle, const char *const *targets, size_t ntargets,
                struct lb_unlock *unlock, json_t **report);

#endif
