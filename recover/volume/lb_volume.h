/* lb_volume.h - the one open sequence: source -> partition -> BitLocker ->
 * $MFTMirr view -> NTFS, shared by scan, fix, undo and ls.
 *
 * lb_volume_open stacks, on one partition of an open source:
 *
 *   win   lb_io_window onto the partition; for a BitLocker partition the
 *         metadata is probed there (into o->bl) and win is then the
 *         decrypting io from lb_unlock_open (which opens the device itself)
 *   wrap  read-write only, when o->wrap_io is set (the test hook that puts
 *         a fault injector under libntfs-3g): o->wrap_io(win)
 *   view  read-only only, when o->mirr is set: $MFTMirr is checked into
 *         *o->mirr and, if it is stale, NTFS is opened on a patched view
 *         showing the volume as the repair will leave it (libntfs-3g
 *         refuses a stale mirror)
 *   ntfs  lb_ntfs_open on the top io (vol->io), LB_NTFS_RDONLY or
 *         LB_NTFS_RW | o->ntfs_flags; skipped with o->no_ntfs
 *
 * Read-write with o->mirr set and o->mirr->state == LB_MIRR_STALE: the
 * mirror records are rewritten from $MFT on the top io (lb_mftmirr_repair,
 * which re-checks that both are still the bytes *o->mirr was made from)
 * before NTFS is opened.  Nothing here decides whether a volume may be
 * written (hibernation, the journal): the caller does, and passes
 * LB_NTFS_DISCARD_* in o->ntfs_flags when the operator said so.
 *
 * Ownership and order of close.  The volume owns win, wrap, view and ntfs
 * (and, from lb_volume_open_path, the source); lb_volume_close closes them
 * top down: ntfs (unmount, flushing), view, wrap, win, then an owned
 * source.  The caller owns the source given to lb_volume_open (keep it open
 * until lb_volume_close), *o->bl and *o->mirr: the mirror's buffers back
 * the view, so lb_mftmirr_free(o->mirr) only after lb_volume_close.  vol->io
 * is borrowed (one of view, wrap, win); read vol->io->writes before the
 * close.  lb_volume_close does not sync: a writer calls lb_io_sync(vol->io)
 * after lb_volume_unmount if it wants to.
 *
 * On failure (-1, err set) everything lb_volume_open opened is closed again
 * and vol keeps only the flags saying how far it got (bitlocker, probed,
 * unlocked with protector/key_source, mirr_view, mirr_repaired), so the
 * caller can report them; lb_volume_close on it is a no-op. */
#ifndef LB_VOLUME_H
#define LB_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_bitlocker.h"
#include "lb_io.h"
#include "lb_ntfs.h"
#include "lb_partition.h"
#include "lb_source.h"
#include "lb_unlock.h"

struct lb_volume_opts {
	bool writable;               /* LB_NTFS_RW (the source must be open read-write) */
	unsigned ntfs_flags;         /* added to LB_NTFS_RW: LB_NTFS_DISCARD_* */
	bool no_ntfs;                /* stop below NTFS: only vol->io (to peek at the boot sector) */
	const char *name;            /* io name in messages; NULL: "<source path>#p<number>" */
	struct lb_unlock *unlock;    /* BitLocker keys; NULL: only a suspended volume opens */
	struct lb_bitlocker_info *bl;/* BitLocker: the caller's storage for the probe (NULL: private) */
	bool bl_probed;              /* *bl already holds the probe result: use it, no probe */
	struct lb_mftmirr *mirr;     /* see above; NULL: $MFTMirr neither checked nor repaired */
	/* Test hook, read-write only: wraps win (the result is closed before win). */
	struct lb_io *(*wrap_io)(struct lb_io *parent, void *ctx, struct lb_err *err);
	void *wrap_ctx;
};

struct lb_volume {
	struct lb_part part;         /* the partition opened (a copy) */
	char name[4112];             /* the io name in messages */
	bool writable;
	bool bitlocker;              /* a BitLocker partition */
	bool probed;                 /* its metadata was read into o->bl */
	bool unlocked;               /* ... and it was unlocked: */
	char protector[LB_GUID_STRLEN]; /* the protector used */
	char key_source[32];         /* where its key came from ("escrow:ad", "bek", ...) */
	bool mirr_view;              /* read-only: NTFS sits on the $MFTMirr-patched view */
	bool mirr_repaired;          /* read-write: the stale $MFTMirr was rewritten */
	struct lb_io *win, *wrap, *view; /* owned, see above (NULL when not used) */
	struct lb_io *io;            /* the top io, NTFS's (borrowed) */
	struct lb_ntfs *ntfs;        /* NULL with no_ntfs */
	struct lb_source src;        /* lb_volume_open_path only */
	bool own_src;
};

/* Opens partition part of src (see above).  0, or -1 with err. */
int lb_volume_open(struct lb_source *src, const struct lb_part *part,
                   const struct lb_volume_opts *o, struct lb_volume *vol, struct lb_err *err);

/* Opens the source at path (read-write if o->writable), scans its
 * partitions and opens partition number partno (-1: the first NTFS one)
 * with lb_volume_open; the volume owns the source.  0; 1 when there is no
 * such partition (err says so); -1 with err. */
int lb_volume_open_path(const char *path, int partno, const struct lb_volume_opts *o,
                        struct lb_volume *vol, struct lb_err *err);

/* Unmounts NTFS (flushing it) if it is mounted: 0, or -1 with err if the
 * flush failed (the volume may be inconsistent: report it). */
int lb_volume_unmount(struct lb_volume *vol, struct lb_err *err);

/* lb_volume_unmount, then closes the ios top down and an owned source.
 * Returns lb_volume_unmount's result.  vol is zeroed; closing twice is
 * harmless. */
int lb_volume_close(struct lb_volume *vol, struct lb_err *err);

#endif
