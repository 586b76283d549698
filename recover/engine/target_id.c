/* target_id.c - target identity for the evidence bundle and undo, and the
 * de-duplication of a run's targets (target_id.h). */
#include "target_id.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lb_bytes.h"
#include "lb_err.h"
#include "lb_io.h"

const char *const tid_disk_fields[] = { "type", "rdev", "device", "inode", "disk_guid",
                                        "mbr_signature", NULL };
const char *const tid_volume_fields[] = { "partition_offset", "volume_serial", "volume_guid",
                                          NULL };

static void guid_str(const uint8_t *b, char out[40])
{
	snprintf(out, 40, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         lb_le32(b), lb_le16(b + 4), lb_le16(b + 6), b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

/* The GPT header of src (sector size ss) into hdr: 0, or -1 if none. */
static int gpt_header(struct lb_source *src, unsigned ss, uint8_t hdr[92])
{
	struct lb_err e;

	if (!ss || lb_io_pread(src->io, hdr, 92, ss, &e) || memcmp(hdr, "EFI PART", 8))
		return -1;
	return 0;
}

/* The unique GUID of GPT entry number partno (1-based), or "" */
static void gpt_part_guid(struct lb_source *src, unsigned ss, int partno, char out[40])
{
	uint8_t hdr[92], ent[32];
	uint64_t lba;
	uint32_t count, esize;
	struct lb_err e;

	out[0] = '\0';
	if (partno < 1 || gpt_header(src, ss, hdr))
		return;
	lba = lb_le64(hdr + 72);
	count = lb_le32(hdr + 80);
	esize = lb_le32(hdr + 84);
	if ((uint32_t)partno > count || esize < 32 || lba > UINT64_MAX / ss / 2 ||
	    lb_io_pread(src->io, ent, sizeof(ent), lba * ss + (uint64_t)(partno - 1) * esize, &e))
		return;
	guid_str(ent + 16, out);
}

static json_t *dev_str(dev_t d)
{
	char s[32];

	snprintf(s, sizeof(s), "%u:%u", major(d), minor(d));
	return json_string(s);
}

json_t *tid_disk(const char *path, struct lb_source *src, const struct lb_disk *disk)
{
	json_t *id = json_object();
	char real[PATH_MAX], g[40];
	uint8_t hdr[92], mbr[512];
	struct stat st;
	struct lb_err e;

	json_object_set_new(id, "path", json_string(path));
	json_object_set_new(id, "resolved", realpath(path, real) ? json_string(real) : json_null());
	json_object_set_new(id, "type", json_string(lb_source_type(src)));
	if (lb_source_stat(src, &st) == 0) {
		if (src->is_block) {
			json_object_set_new(id, "rdev", dev_str(st.st_rdev));
		} else {
			json_object_set_new(id, "device", dev_str(st.st_dev));
			json_object_set_new(id, "inode", json_integer((json_int_t)st.st_ino));
		}
	}
	json_object_set_new(id, "disk_guid", json_null());
	json_object_set_new(id, "mbr_signature", json_null());
	if (!strcmp(disk->pttype, "gpt") && gpt_header(src, disk->sector_size, hdr) == 0) {
		guid_str(hdr + 56, g);
		json_object_set_new(id, "disk_guid", json_string(g));
	} else if (!strcmp(disk->pttype, "dos") && lb_io_pread(src->io, mbr, 512, 0, &e) == 0) {
		snprintf(g, sizeof(g), "%08" PRIx32, lb_le32(mbr + 440));
		json_object_set_new(id, "mbr_signature", json_string(g));
	}
	return id;
}

json_t *tid_volume(json_t *disk_id, struct lb_source *src, const struct lb_disk *disk,
                   const struct lb_part *p, const char *serial)
{
	json_t *id = json_deep_copy(disk_id);
	char g[40] = "";

	if (!id)
		return NULL;
	if (!strcmp(disk->pttype, "gpt"))
		gpt_part_guid(src, disk->sector_size, p->number, g);
	json_object_set_new(id, "partition_offset", json_integer((json_int_t)p->offset));
	json_object_set_new(id, "volume_serial", serial ? json_string(serial) : json_null());
	json_object_set_new(id, "volume_guid", g[0] ? json_string(g) : json_null());
	return id;
}

static void value_str(json_t *v, char *out, size_t n)
{
	if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(out, n, "none");
}

int tid_differs(json_t *want, json_t *have, const char *const *fields, char *why, size_t n)
{
	for (size_t i = 0; fields[i]; i++) {
		json_t *w = json_object_get(want, fields[i]), *h = json_object_get(have, fields[i]);
		char a[128], b[128];

		if (!w)
			continue;
		if (json_is_string(w) && json_is_string(h) ?
		    !strcasecmp(json_string_value(w), json_string_value(h)) : json_equal(w, h))
			continue;
		if (!h && json_is_null(w))
			continue;
		value_str(w, a, sizeof(a));
		value_str(h, b, sizeof(b));
		snprintf(why, n, "%s differs (bundle: %s, here: %s)",
		         !strcmp(fields[i], "rdev") ? "device number" : fields[i], a, b);
		for (char *s = why; *s && *s != ' '; s++)
			if (*s == '_')
				*s = ' ';
		return 1;
	}
	return 0;
}

/* The file or device path resolves to: 0, or -1 if it cannot be stat'ed. */
static int key_of(const char *path, dev_t *dev, ino_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (S_ISBLK(st.st_mode)) {
		*dev = st.st_rdev;
		*ino = 0;
	} else {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
	return 0;
}

void tid_dedupe(const char **targets, size_t *n, json_t *reasons, FILE *say)
{
	size_t out = 0;

	for (size_t i = 0; i < *n; i++) {
		dev_t d, d2;
		ino_t ino, ino2;
		size_t k;
		bool dup = false;

		if (key_of(targets[i], &d, &ino) == 0)
			for (k = 0; k < out && !dup; k++)
				dup = key_of(targets[k], &d2, &ino2) == 0 && d == d2 && ino == ino2;
		if (!dup) {
			targets[out++] = targets[i];
			continue;
		}
		k--;
		if (say)
			fprintf(say, "loopbreaker: %s is the same disk as %s: handled once\n",
			        targets[i], targets[k]);
		if (reasons)
			json_array_append_new(reasons, json_sprintf("%s is the same disk as %s: handled "
			                                            "once", targets[i], targets[k]));
	}
	*n = out;
}
