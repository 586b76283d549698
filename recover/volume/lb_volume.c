/* lb_volume.c - the one open sequence (see lb_volume.h). */
#include "lb_volume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Closes what is open, top down; keeps the flags. */
static void close_ios(struct lb_volume *vol)
{
	lb_io_close(vol->view);
	if (vol->wrap != vol->win)
		lb_io_close(vol->wrap);
	lb_io_close(vol->win);
	vol->view = vol->wrap = vol->win = vol->io = NULL;
	if (vol->own_src) {
		lb_source_close(&vol->src);
		vol->own_src = false;
	}
}

/* win: the partition window, or for BitLocker the decrypting io. */
static int open_win(struct lb_source *src, const struct lb_volume_opts *o, struct lb_volume *vol,
                    struct lb_err *err)
{
	const struct lb_part *p = &vol->part;
	struct lb_bitlocker_info *bl = o->bl, *own = NULL;
	struct lb_io *probe;

	if (!vol->bitlocker) {
		vol->win = lb_io_window(src->io, p->offset, p->size, vol->name, err);
		return vol->win ? 0 : -1;
	}
	if (!bl || !o->bl_probed) {
		if (!bl)
			bl = own = calloc(1, sizeof(*own));
		if (!bl)
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: BitLocker", vol->name);
		probe = lb_io_window(src->io, p->offset, p->size, vol->name, err);
		if (!probe || lb_bitlocker_probe(probe, bl, err)) {
			lb_io_close(probe);
			free(own);
			return -1;
		}
		lb_io_close(probe);
		vol->probed = true;
	}
	if (src->nbd) { /* libdislocker opens a path, whose bytes are not this disk's */
		free(own);
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: BitLocker inside a %s image cannot be "
		                  "unlocked in place (libdislocker reads a file or device, not NBD); "
		                  "convert the image to raw (qemu-img convert -O raw) and fix that",
		                  vol->name, src->format);
	}
	vol->win = lb_unlock_open(o->unlock, src->path, p->offset, p->size, bl, vol->writable,
	                          vol->protector, vol->key_source, err);
	free(own);
	if (!vol->win)
		return -1;
	vol->unlocked = true;
	return 0;
}

/* lb_volume_open on a zeroed vol (which may own src already). */
static int open_on(struct lb_source *src, const struct lb_part *part,
                   const struct lb_volume_opts *o, struct lb_volume *vol, struct lb_err *err)
{
	vol->part = *part;
	vol->writable = o->writable;
	vol->bitlocker = strcmp(part->fstype, "BitLocker") == 0;
	if (o->name)
		snprintf(vol->name, sizeof(vol->name), "%s", o->name);
	else
		snprintf(vol->name, sizeof(vol->name), "%s#p%d", src->path, part->number);
	if (open_win(src, o, vol, err))
		goto fail;
	vol->io = vol->win;
	if (o->writable && o->wrap_io) {
		vol->wrap = o->wrap_io(vol->win, o->wrap_ctx, err);
		if (!vol->wrap)
			goto fail;
		vol->io = vol->wrap;
	}
	if (o->mirr && !o->writable) {
		vol->view = lb_mftmirr_view(vol->win, o->mirr);
		if (vol->view) {
			vol->mirr_view = true;
			vol->io = vol->view;
		}
	} else if (o->mirr && o->mirr->state == LB_MIRR_STALE) {
		/* libntfs-3g mounts nothing with a stale mirror: repair first */
		if (lb_mftmirr_repair(vol->io, o->mirr, err))
			goto fail;
		vol->mirr_repaired = true;
	}
	if (o->no_ntfs)
		return 0;
	if (lb_ntfs_open(vol->io, o->writable ? LB_NTFS_RW | o->ntfs_flags : LB_NTFS_RDONLY,
	                 &vol->ntfs, err))
		goto fail;
	return 0;
fail:
	vol->ntfs = NULL;
	close_ios(vol);
	return -1;
}

int lb_volume_open(struct lb_source *src, const struct lb_part *part,
                   const struct lb_volume_opts *o, struct lb_volume *vol, struct lb_err *err)
{
	memset(vol, 0, sizeof(*vol));
	return open_on(src, part, o, vol, err);
}

int lb_volume_open_path(const char *path, int partno, const struct lb_volume_opts *o,
                        struct lb_volume *vol, struct lb_err *err)
{
	struct lb_disk disk;
	const struct lb_part *p = NULL;
	int rc;

	memset(vol, 0, sizeof(*vol));
	if (lb_source_open(path, o->writable, &vol->src, err))
		return -1;
	if (lb_partition_scan(&vol->src, &disk, err)) {
		lb_source_close(&vol->src);
		return -1;
	}
	for (int i = 0; i < disk.nparts && !p; i++)
		if ((partno < 0 && !strcmp(disk.parts[i].fstype, "ntfs")) ||
		    disk.parts[i].number == partno)
			p = &disk.parts[i];
	if (!p) {
		lb_partition_free(&disk);
		lb_source_close(&vol->src);
		lb_err_set(err, LB_EK_INPUT, 0, "%s: no such NTFS partition", path);
		return 1;
	}
	vol->own_src = true;
	rc = open_on(&vol->src, p, o, vol, err);
	lb_partition_free(&disk);
	return rc;
}

int lb_volume_unmount(struct lb_volume *vol, struct lb_err *err)
{
	struct lb_err e;
	int rc;

	if (!vol->ntfs)
		return 0;
	lb_err_clear(&e);
	rc = lb_ntfs_close(vol->ntfs, err ? err : &e);
	vol->ntfs = NULL;
	return rc;
}

int lb_volume_close(struct lb_volume *vol, struct lb_err *err)
{
	int rc = lb_volume_unmount(vol, err);

	close_ios(vol);
	memset(vol, 0, sizeof(*vol));
	return rc;
}
