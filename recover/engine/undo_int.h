/* undo_int.h - what the files of undo share (private to engine/). */
#ifndef UNDO_INT_H
#define UNDO_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "lb_err.h"
#include "lb_source.h"
#include "lb_unlock.h"
#include "lb_volume.h"

#define BLOB_MAX (512ULL * 1024 * 1024)

/* An evidence bundle read whole into memory (undo_bundle.c). */
struct blob {
	char *name;
	uint8_t *data;
	size_t len;
};

struct bundle {
	json_t *manifest;
	struct blob *blobs;
	size_t n;
};

/* Reads the bundle at path; its manifest must be loopbreaker-evidence/1.
 * 0, or -1 with err (nothing to free). */
int undo_bundle_read(const char *path, struct bundle *b, struct lb_err *err);
void undo_bundle_free(struct bundle *b);
/* The member called name, or NULL. */
const struct blob *undo_find_blob(const struct bundle *b, const char *name);

/* An entry whose change is undone already (an earlier undo): status
 * already_restored on out; returns 1 (lb_undo.c). */
int undo_already(json_t *out);

/* ---- undo_registry.c ---- */

struct vol;
/* A registry_hive entry: the original hive back through the same safe swap
 * as fix, whole or value by value (stamp names the kept copy).  0
 * restored, 1 already restored, -1 with err. */
int undo_hive(struct vol *v, const struct bundle *b, json_t *ent, json_t *out,
              const char *stamp, struct lb_err *err);
/* A bcd_safeboot entry on target: the old safe-boot mode back if the entry
 * still has the mode fix set; already_restored (nothing written) if it has
 * the old one again.  0, 1, or -1 with err. */
int undo_bcd(const char *target, json_t *ent, json_t *out, struct lb_err *err);

/* ---- undo_target.c: where an entry may be restored ---- */

/* A target undo may write: given on the command line, or (none given)
 * recorded in the bundle. */
struct ucand {
	const char *path;
	struct lb_claim claim;         /* held exclusively for the run, as fix does */
	json_t *id;                    /* its disk identity (NULL: could not be read) */
	bool excluded;                 /* not the disk the bundle was made from */
	char why[600];                 /* why it cannot be used */
};

struct utargets {
	struct ucand *c;
	size_t n;
	bool given;                    /* from the command line (else recorded) */
	bool any_target;               /* --any-target: the volume serial is enough */
	bool unrecorded;               /* some entry carries no identity */
	struct lb_unlock *unlock;
};

/* An NTFS volume open read-write for undo, on a source undo opened itself. */
struct vol {
	struct lb_source src;
	bool src_open;
	struct lb_volume lv;
	char target[4096];
	int partno;
};

/* The candidates for manifest (targets given, or those it records), each
 * checked against the identities in it: a given target that matches no
 * entry is excluded and named in reasons ("vm2.img: not the disk this
 * bundle was made from: inode differs (bundle: …, here: …)").  Returns
 * the exit status this already implies (0 or 1); -1 out of memory. */
int undo_targets_init(struct utargets *ut, const char *const *targets, size_t n,
                      json_t *manifest, bool any_target, struct lb_unlock *unlock,
                      json_t *reasons);
void undo_targets_free(struct utargets *ut);
/* Opens (read-write if writable) the volume entry ent was made from, on a
 * candidate whose identity matches all of the recorded one; notes on out
 * how it was matched ("identity").  0, or -1 with err (nothing written). */
int undo_open_volume(struct utargets *ut, json_t *ent, json_t *out, bool writable,
                     struct vol *v, struct lb_err *err);
void undo_close_volume(struct vol *v, struct lb_err *err);
/* The target a BCD entry is restored on (its disk identity checked), or
 * NULL with err. */
const char *undo_bcd_target(struct utargets *ut, json_t *ent, struct lb_err *err);

#endif
