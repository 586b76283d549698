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
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_io.h"
#include "lb_playbook.h"
#include "lb_unlock.h"

/* Where a target came from when it was not named as a path: a libvirt
 * domain's disk (--domain).  The report names the domain on the target,
 * and the format the domain's XML gives must be the one the content shows
 * (else the target is refused, naming both). */
struct lb_target_origin {
	const char *path;     /* the target as passed to lb_engine_run */
	const char *domain;   /* the domain's name */
	const char *uri;      /* the libvirt connection it was read from */
	const char *disk;     /* its <target dev>, e.g. "vda" ("" if none) */
	const char *format;   /* its <driver type>; NULL: the XML says none */
};

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
	const struct lb_target_origin *origins; /* NULL: every target is a plain path */
	size_t norigins;
	const char *const *exclude; /* devices not to touch (the boot medium) */
	size_t nexclude;
	/* Set to a signal number (by the CLI's SIGINT/SIGTERM handler) to stop:
	 * the change in progress is finished, no new one is started, a bundle
	 * not yet named is removed, and the report's status is "interrupted"
	 * (exit 3).  NULL: never stops. */
	const volatile sig_atomic_t *stop;
	/* Test hook: called at named points of the apply phase
	 * ("evidence-written": the bundle is complete under its temporary
	 * name; "evidence-committed"; "applied:N": the N-th change is made).
	 * loopbreaker-test pauses there for a signal; NULL in the binary that
	 * ships. */
	void (*at_point)(const char *point, void *ctx);
	void *point_ctx;
};

/* Runs the job on the targets (the same file or device named twice, e.g.
 * through a symlink, is one target: said on stderr and in the report's
 * reasons); *report receives the report (caller json_decref's it).
 * Returns the exit status. */
int lb_engine_run(const struct lb_options *o, const char *const *targets, size_t ntargets,
                  json_t **report);

/* Local disks from /sys/block, minus virtual devices, disks with mounted
 * partitions (the boot medium) and the excluded ones.  Returns a malloc'd
 * NULL-terminated array of malloc'd paths. */
char **lb_engine_discover(const char *const *exclude, size_t nexclude);

#endif
