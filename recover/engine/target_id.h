/* target_id.h - which disk a target is (private to engine/).
 *
 * fix records, in every evidence entry, the identity of the entry's target
 * ("identity", docs/evidence-format.md): the path as given, the file or
 * device it resolved to (st_dev/st_ino of the file after links, st_rdev of
 * a block device), the partition offset, the NTFS serial, the volume GUID
 * (GPT partition GUID) and the disk GUID (GPT) or MBR signature.  undo
 * compares a candidate target with it field by field (tid_differs) and
 * names the first field that differs.  The same device/inode key makes the
 * targets of one run unique (tid_dedupe). */
#ifndef TARGET_ID_H
#define TARGET_ID_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lb_partition.h"
#include "lb_source.h"

/* The disk-level identity of src, opened from path (as given), whose
 * partitions are disk: {path, resolved, type, device, inode | rdev,
 * disk_guid, mbr_signature}.  A new object. */
json_t *tid_disk(const char *path, struct lb_source *src, const struct lb_disk *disk);

/* A copy of the disk identity plus partition p's fields: partition_offset,
 * volume_serial (serial may be NULL), volume_guid (GPT only, else null). */
json_t *tid_volume(json_t *disk_id, struct lb_source *src, const struct lb_disk *disk,
                   const struct lb_part *p, const char *serial);

/* The fields undo compares: the disk's, then the volume's. */
extern const char *const tid_disk_fields[];
extern const char *const tid_volume_fields[];

/* Compares want (from a bundle) with have over fields (a NULL-terminated
 * list); a field want does not carry is not compared.  0 when all agree;
 * 1 when one differs, why = "inode differs (bundle: 12, here: 13)". */
int tid_differs(json_t *want, json_t *have, const char *const *fields, char *why, size_t n);

/* Removes from targets[0..*n) every target that resolves to the same file
 * or device as an earlier one (order kept, *n updated), saying so on say
 * (if not NULL) and as a string in reasons (if not NULL).  Targets that
 * cannot be stat'ed are kept (their open fails with its own message). */
void tid_dedupe(const char **targets, size_t *n, json_t *reasons, FILE *say);

#endif
