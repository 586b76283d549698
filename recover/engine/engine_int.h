/* engine_int.h - what the files of the engine share (private to engine/).
 *
 * A run (struct run) holds one struct target per disk or image, each with
 * one struct volume per partition; a volume collects the planned changes
 * (struct plan) of the read-only plan phase, which the apply phase carries
 * out.  Who does what:
 *
 *   lb_engine.c          lb_engine_run; scan of a target and of a volume
 *   engine_plan_files.c  file rules (quarantine/delete), plans, hibernation
 *   engine_plan_hive.c   registry rules on SYSTEM/SOFTWARE; interrupted swaps
 *   engine_bcd.c         the BCD rule on the ESP: plan and apply
 *   engine_apply.c       evidence bundle, then each volume read-write
 *   engine_report.c      report JSON, volume status, the final summary
 *   lb_discover.c        lb_engine_discover
 *
 * Every volume is opened through lb_volume (volume/lb_volume.h); lb_undo.c
 * (with undo_bundle.c, undo_target.c, undo_registry.c, undo_int.h) and
 * lb_batch.c stand apart. */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_engine.h"
#include "lb_ntfs.h"
#include "lb_partition.h"
#include "lb_windows.h"

#define FILE_MAX (256ULL * 1024 * 1024) /* largest file we read whole */
#define HIBER_HEADER 4096

enum vstatus { VS_CLEAN, VS_FIXED, VS_ATTN, VS_ERROR };

/* One planned change to one file. */
struct plan {
	json_t *finding;               /* report entry (borrowed from the report) */
	json_t *meta;                  /* evidence manifest entry (owned) */
	char path[4400];               /* volume path, real case (PL_BCD: local file) */
	char name[256];
	uint8_t *data;                 /* bytes captured for evidence */
	uint64_t len;
	char sha256[65];
	int64_t mtime_unix;
	enum { PL_QUARANTINE, PL_DELETE, PL_HIBER_INVALIDATE, PL_HIVE, PL_HIVE_COMPLETE,
	       PL_EVIDENCE_ONLY, PL_BCD, PL_BCD_COMPLETE, PL_MFTMIRR } kind;
	bool done;
	/* PL_HIVE: the new hive bytes, the findings it carries out */
	uint8_t *newdata;
	size_t newlen;
	char new_sha[65];
	struct lb_ntfs_stat st;
	bool replayed;
	json_t *findings;
	int bcd_mode;                  /* PL_BCD; path = local new BCD file */
};

struct volume {
	json_t *j;                     /* report entry (borrowed) */
	struct lb_part part;           /* where it is on its target */
	enum vstatus status;
	int exit_code;                 /* worst exit status seen on this volume */
	bool hibernated, journal_unclean;
	int would;                     /* scan: files a fix would act on */
	struct plan *plans;
	size_t nplans;
	double open_ms, scan_ms, fix_ms;
	int ninstalls;
	bool bitlocker;
	struct lb_bitlocker_info *bl;  /* probe result, for re-opening */
	uint64_t writes;
	bool esp;                      /* EFI System Partition holding the BCD */
	struct lb_mftmirr mirr;        /* $MFTMirr as scanned (owned buffers) */
	json_t *mirr_j;                /* its report entry (borrowed) */
	json_t *id;                    /* identity for the evidence (target_id.h; owned) */
};

struct target {
	const char *path;
	json_t *j;
	struct volume *vols;
	int nvols;
	int exit_code;
	bool opened;
	struct lb_claim claim;         /* ownership, plan to end of apply (lb_source_claim) */
	json_t *id;                    /* disk identity (target_id.h; owned) */
};

struct run {
	const struct lb_options *o;
	char stamp[32];                /* 20261129T002010Z */
	char tmpdir[4096];             /* private temporary files (BCD copies) */
	json_t *report;
	struct target *targets;
	size_t ntargets;
	int stopped;                   /* the signal that interrupted the run, or 0 */
	unsigned napplied;             /* changes made so far (the applied:N points) */
};


/* engine_origin.c: a target from a libvirt domain (lb_target_origin).
 * eng_origin_name puts "domain" and "libvirt" in its JSON; eng_origin_check
 * returns 0, or -1 with err set (LB_EK_REFUSED) when the domain's driver
 * type disagrees with the format src was found to be. */
struct lb_source;
const struct lb_target_origin *eng_origin(const struct lb_options *o, const char *path);
void eng_origin_name(const struct lb_options *o, struct target *t);
int eng_origin_check(const struct lb_options *o, struct target *t, const struct lb_source *src,
                     struct lb_err *err);

/* engine_report.c */
double eng_now_ms(void);
void eng_reason(json_t *obj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eng_attention(struct volume *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eng_error(struct volume *v, const struct lb_err *err);
json_t *eng_str_or_null(const char *s);
void eng_time_json(json_t *obj, const char *key, int64_t nt);
json_t *eng_install_json(const struct lb_install *in);
json_t *eng_bitlocker_json(const struct lb_bitlocker_info *bi);
void eng_used_protector(struct run *run, struct volume *v, const char *prot, const char *source);
json_t *eng_volume_json(const char *target, const struct lb_part *p);
void eng_finish(struct run *run, int *exit_code);

/* engine_plan_files.c */
int eng_add_plan(struct volume *v, struct plan **out);
struct plan *eng_plan_bytes(struct volume *v, int kind, const char *path, const char *name,
                            uint8_t *data, size_t len, json_t *finding);
void eng_plan_mark(struct plan *p, const char *action, const char *reason);
json_t *eng_base_meta(struct target *t, struct volume *v, const char *system_root,
                      const char *action, const char *path);
int eng_scan_rules(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
                   const char *system_root, json_t *findings, struct lb_err *err);
void eng_plan_hiber(struct volume *v, struct lb_ntfs *ntfs, const char *target);
/* Deleting a file with alternate data streams, a sparse layout or more
 * than one hard link is refused: true with the per-file reason in why. */
bool eng_delete_refusal(const struct lb_ntfs_shape *sh, char *why, size_t n);

/* engine_plan_hive.c */
void eng_scan_hive(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
                   const char *system_root, const char *hive, json_t *findings);
void eng_check_interrupted_swaps(struct run *run, struct target *t, struct volume *v,
                                 struct lb_ntfs *ntfs);

/* engine_bcd.c */
void eng_scan_bcd(struct run *run, struct target *t, struct lb_disk *disk, size_t tindex);
void eng_apply_esp(struct run *run, struct target *t, struct volume *v);

/* engine_apply.c */
void eng_apply_all(struct run *run);
/* Has a signal asked the run to stop?  (Latches it in run->stopped.) */
bool eng_stopping(struct run *run);
void eng_point(struct run *run, const char *point);

/* target_snapshots.c: a qcow2 image's internal snapshots [{id, name,
 * date_sec}] (empty when there are none or qemu-img cannot tell). */
json_t *eng_qcow2_snapshots(const char *path);

#endif
