/* undo_target.c - which target an undo entry may be written to: the
 * identity fix recorded (target_id.h) against each candidate, checked on
 * read-only opens before anything is opened for writing. */
#include "undo_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_bytes.h"
#include "lb_keys.h"
#include "lb_partition.h"
#include "target_id.h"

/* The NTFS serial of the volume io starts with ("" if it is not NTFS). */
static void ntfs_serial(struct lb_io *io, char s[32])
{
	uint8_t bs[0x50];
	struct lb_err e;

	s[0] = '\0';
	if (io->size < sizeof(bs) || lb_io_pread(io, bs, sizeof(bs), 0, &e) ||
	    memcmp(bs + 3, "NTFS    ", 8))
		return;
	snprintf(s, 32, "%016" PRIX64, lb_le64(bs + 0x48));
}

/* The serial of partition p of cand (a BitLocker one unlocked read-only
 * with the operator's keys; without keys it is not looked at). */
static void part_serial(const char *cand, struct lb_source *src, const struct lb_part *p,
                        struct lb_unlock *unlock, char s[32], struct lb_err *err)
{
	struct lb_bitlocker_info bi;
	const struct lb_volume_opts look = { .no_ntfs = true, .name = cand, .unlock = unlock,
	                                     .bl = &bi };
	struct lb_volume lv;

	s[0] = '\0';
	if (!strcmp(p->fstype, "BitLocker") && !unlock)
		return;
	if (lb_volume_open(src, p, &look, &lv, err))
		return;
	ntfs_serial(lv.io, s);
	lb_volume_close(&lv, NULL);
}

/* Opens path read-only and reads its disk identity: NULL with err. */
static json_t *cand_identity(const char *path, struct lb_err *err)
{
	struct lb_source src;
	struct lb_disk disk;
	json_t *id;

	if (lb_source_open(path, false, &src, err))
		return NULL;
	if (lb_partition_scan(&src, &disk, err)) {
		lb_source_close(&src);
		return NULL;
	}
	id = tid_disk(path, &src, &disk);
	lb_partition_free(&disk);
	lb_source_close(&src);
	return id;
}

static bool checks(const struct utargets *ut, json_t *ent)
{
	return !ut->any_target && json_is_object(json_object_get(ent, "identity"));
}

/* A given target that matches no entry's disk identity is excluded. */
static void check_given(struct utargets *ut, struct ucand *c, json_t *ents, json_t *reasons)
{
	char d[400] = "";
	bool any = false;
	json_t *e;
	size_t i;

	json_array_foreach(ents, i, e) {
		char w[400];

		if (!checks(ut, e))
			continue;
		any = true;
		if (!tid_differs(json_object_get(e, "identity"), c->id, tid_disk_fields, w, sizeof(w)))
			return;
		if (!d[0])
			snprintf(d, sizeof(d), "%s", w);
	}
	if (!any)
		return;
	c->excluded = true;
	snprintf(c->why, sizeof(c->why), "%s: not the disk this bundle was made from: %s", c->path,
	         d);
	json_array_append_new(reasons, json_string(c->why));
}

static void add_recorded(struct utargets *ut, const char *rec)
{
	for (size_t k = 0; k < ut->n; k++)
		if (!strcmp(ut->c[k].path, rec))
			return;
	ut->c[ut->n++].path = rec;
}

int undo_targets_init(struct utargets *ut, const char *const *targets, size_t n,
                      json_t *manifest, bool any_target, struct lb_unlock *unlock,
                      json_t *reasons)
{
	json_t *ents = json_object_get(manifest, "entries"), *e;
	const char **list;
	size_t i;
	int ex = 0;

	memset(ut, 0, sizeof(*ut));
	ut->any_target = any_target;
	ut->unlock = unlock;
	ut->given = n > 0;
	ut->c = calloc(n + json_array_size(ents) + 1, sizeof(*ut->c));
	list = calloc(n + 1, sizeof(*list));
	if (!ut->c || !list) {
		free(list);
		return -1;
	}
	memcpy(list, targets, n * sizeof(*list));
	tid_dedupe(list, &n, reasons, NULL);
	for (i = 0; i < n; i++)
		ut->c[ut->n++].path = list[i];
	free(list);
	json_array_foreach(ents, i, e) {
		const char *rec = json_string_value(json_object_get(e, "target"));

		if (!json_object_get(e, "identity"))
			ut->unrecorded = true;
		if (!ut->given && rec)
			add_recorded(ut, rec);
	}
	for (i = 0; i < ut->n; i++) {
		struct ucand *c = &ut->c[i];
		struct lb_err err;

		lb_err_clear(&err);
		/* one writer per disk: owned like fix owns it, until the end */
		if (lb_source_claim(c->path, true, &c->claim, &err)) {
			c->excluded = true;
			snprintf(c->why, sizeof(c->why), "%s", err.msg);
			json_array_append_new(reasons, json_string(c->why));
			ex = 1;
			continue;
		}
		c->id = cand_identity(c->path, &err);
		if (!c->id) {
			snprintf(c->why, sizeof(c->why), "%s", err.msg);
			continue;
		}
		if (ut->given)
			check_given(ut, c, ents, reasons);
		if (c->excluded)
			ex = 1;
	}
	return ex;
}

void undo_targets_free(struct utargets *ut)
{
	for (size_t i = 0; i < ut->n; i++) {
		lb_source_release(&ut->c[i].claim);
		json_decref(ut->c[i].id);
	}
	free(ut->c);
	memset(ut, 0, sizeof(*ut));
}

/* May candidate c take entry ent at all?  If not, why (first reason kept). */
static bool usable(struct utargets *ut, struct ucand *c, json_t *ent, char *why, size_t n)
{
	const char *rec = json_string_value(json_object_get(ent, "target"));
	char d[400];

	if (!ut->given && (!rec || strcmp(c->path, rec)))
		return false;
	if (c->excluded || !c->id) {
		if (!why[0])
			snprintf(why, n, "%s", c->why);
		return false;
	}
	if (checks(ut, ent) &&
	    tid_differs(json_object_get(ent, "identity"), c->id, tid_disk_fields, d, sizeof(d))) {
		if (!why[0])
			snprintf(why, n, "%s: not the disk this bundle was made from: %s", c->path, d);
		return false;
	}
	return true;
}

/* The partition of c holding the entry's volume (pass 0: at the recorded
 * offset only; pass 1: anywhere), or -1. */
static int find_part(struct utargets *ut, struct ucand *c, json_t *ent, int pass, char *why,
                     size_t n, struct lb_err *err)
{
	const char *serial = json_string_value(json_object_get(ent, "volume_serial"));
	uint64_t offset = (uint64_t)json_integer_value(json_object_get(ent, "offset"));
	struct lb_source src;
	struct lb_disk disk;
	int partno = -1;

	if (lb_source_open(c->path, false, &src, err))
		return -1;
	if (lb_partition_scan(&src, &disk, err)) {
		lb_source_close(&src);
		return -1;
	}
	for (int i = 0; i < disk.nparts && partno < 0; i++) {
		const struct lb_part *p = &disk.parts[i];
		char s[32], d[400];
		json_t *vid;

		if ((strcmp(p->fstype, "ntfs") && strcmp(p->fstype, "BitLocker")) ||
		    p->truncated || (pass == 0 && p->offset != offset))
			continue;
		part_serial(c->path, &src, p, ut->unlock, s, err);
		if (strcasecmp(s, serial))
			continue;
		vid = checks(ut, ent) ? tid_volume(c->id, &src, &disk, p, s) : NULL;
		if (vid && tid_differs(json_object_get(ent, "identity"), vid, tid_volume_fields, d,
		                       sizeof(d))) {
			if (!why[0])
				snprintf(why, n, "%s: not the volume this bundle was made from: %s",
				         c->path, d);
		} else {
			partno = p->number;
		}
		json_decref(vid);
	}
	lb_partition_free(&disk);
	lb_source_close(&src);
	return partno;
}

/* Opens partition partno of c (read-write if writable), on the very file
 * checked. */
static int open_vol(struct utargets *ut, struct ucand *c, int partno, bool writable,
                    struct vol *v, struct lb_err *err)
{
	const struct lb_volume_opts rw = { .writable = writable, .name = c->path,
	                                   .unlock = ut->unlock };
	struct lb_disk disk;
	json_t *id;
	char d[400];
	int rc = -1;

	memset(v, 0, sizeof(*v));
	if (lb_source_open(c->path, writable, &v->src, err))
		return -1;
	v->src_open = true;
	if (lb_partition_scan(&v->src, &disk, err))
		return -1;
	id = tid_disk(c->path, &v->src, &disk);
	if (tid_differs(c->id, id, tid_disk_fields, d, sizeof(d))) {
		lb_err_set(err, LB_EK_REFUSED, 0, "%s was replaced while undo ran: %s", c->path, d);
	} else {
		for (int i = 0; i < disk.nparts; i++)
			if (disk.parts[i].number == partno)
				rc = lb_volume_open(&v->src, &disk.parts[i], &rw, &v->lv, err);
	}
	json_decref(id);
	lb_partition_free(&disk);
	if (rc == 0) {
		snprintf(v->target, sizeof(v->target), "%s", c->path);
		v->partno = partno;
	}
	return rc;
}

void undo_close_volume(struct vol *v, struct lb_err *err)
{
	lb_volume_close(&v->lv, err);
	if (v->src_open)
		lb_source_close(&v->src);
	memset(v, 0, sizeof(*v));
}

static void note_identity(struct utargets *ut, json_t *ent, json_t *out)
{
	json_object_set_new(out, "identity", json_string(
	        checks(ut, ent) ? "matched" : ut->any_target ?
	        "not checked (--any-target): volume serial only" :
	        "not recorded in the bundle: volume serial only"));
}

static int no_volume(struct utargets *ut, const char *serial, struct lb_err *err)
{
	struct lb_unlock *u = ut->unlock;
	bool have_keys = u && ((u->ks && lb_keys_count(u->ks)) || u->nbek || u->nrecovery ||
	                       u->npasswords);

	return lb_err_set(err, LB_EK_REFUSED, 0, "no NTFS volume with serial %s on the target%s%s",
	                  serial, ut->n == 1 ? "" : "s", have_keys ? "" :
	                  " (a BitLocker volume needs its key: --keys, --bek, --recovery-password)");
}

int undo_open_volume(struct utargets *ut, json_t *ent, json_t *out, bool writable,
                     struct vol *v, struct lb_err *err)
{
	const char *serial = json_string_value(json_object_get(ent, "volume_serial"));
	char why[600] = "";

	if (!serial)
		return lb_err_set(err, LB_EK_INPUT, 0, "manifest entry without volume_serial");
	/* two passes: the serial at the recorded offset first (two volumes
	 * formatted in the same second can share a serial), then anywhere,
	 * unless the identity pins the offset */
	for (int pass = 0; pass < (checks(ut, ent) ? 1 : 2); pass++)
		for (size_t i = 0; i < ut->n; i++) {
			struct ucand *c = &ut->c[i];
			int partno;

			if (!usable(ut, c, ent, why, sizeof(why)))
				continue;
			partno = find_part(ut, c, ent, pass, why, sizeof(why), err);
			if (partno < 0)
				continue;
			lb_err_clear(err);
			note_identity(ut, ent, out);
			if (open_vol(ut, c, partno, writable, v, err)) {
				undo_close_volume(v, NULL);
				return -1;
			}
			return 0;
		}
	if (why[0])
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s", why);
	return no_volume(ut, serial, err);
}

const char *undo_bcd_target(struct utargets *ut, json_t *ent, struct lb_err *err)
{
	char why[600] = "";

	for (size_t i = 0; i < ut->n; i++)
		if (usable(ut, &ut->c[i], ent, why, sizeof(why)))
			return ut->c[i].path;
	if (why[0])
		lb_err_set(err, LB_EK_REFUSED, 0, "%s", why);
	else
		lb_err_set(err, LB_EK_INPUT, 0, "BCD entry without target");
	return NULL;
}
