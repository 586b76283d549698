/* lb_engine.h - scan and fix: the playbook engine over every target.
 *
 * Two phases.  Plan (read-only): open every target, find Windows, classify
 * files, collect the bytes of everything a fix would remove.  Apply (fix
 * only): write the evidence bundle and fsync it, then re-open each affected
 * volume read-write and carry out exactly the planned changes, re-checking
 * each file's SHA-256 first.  Volumes Windows left hibernated or with an
 * unapplied journal are never written unless the operator said so. */
#ifndef LB_ENGINE_H
#define LB_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_io.h"
#include "lb_playbook.h"
#include "lb_unlock.h"

struct lb_options {
	bool fix;
	bool force;                 /* act on "unexpected" files too */
	bool delete_files;          /* delete instead of quarantine */
	bool discard_hibernation;
	bool discard_journal;
	bool replay_journal;        /* replay an unclean journal with ntfsrecover first */
	const char *evidence_path;  /* NULL: ./loopbreaker-evidence-<time>.tar.zst */
	const struct lb_playbook *const *playbooks;
	size_t nplaybooks;
	struct lb_unlock *unlock;    /* BitLocker keys; NULL: locked volumes stay locked */
	/* Test hook: when set, every volume opened for writing is passed
	 * through wrap_io (loopbreaker-test inserts a fault-injecting layer
	 * there); the result must be closed before its parent.  NULL in the
	 * binary that ships. */
	struct lb_io *(*wrap_io)(struct lb_io *parent, void *ctx, struct lb_err *err);
	void *wrap_ctx;
	const char *const *exclude; /* devices not to touch (the boot medium) */
	size_t nexclude;
};

/* Runs the job; *report receives the report (caller json_decref's it).
 * Returns the exit status. */
int lb_engine_run(const struct lb_options *o, const char *const *targets, size_t ntargets,
                  json_t **report);

/* Local disks from /sys/block, minus virtual devices, disks with mounted
 * partitions (the boot medium) and the excluded ones.  Returns a malloc'd
 * NULL-terminated array of malloc'd paths. */
char **lb_engine_discover(const char *const *exclude, size_t nexclude);

#endif
