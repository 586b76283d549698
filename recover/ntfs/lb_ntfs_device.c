/* lb_ntfs_device.c - libntfs-3g's device operations on an lb_io: every
 * read and write libntfs-3g makes goes through here to whatever lies below
 * (a partition window, a BitLocker layer, a fault injector). */
#include <stdio.h>
#include <string.h>

#include "lb_ntfs_priv.h"

static int dev_open(struct ntfs_device *dev, int flags)
{
	struct lbn_devpriv *p = dev->d_private;

	if ((flags & O_ACCMODE) != O_RDONLY && !p->io->writable) {
		errno = EROFS;
		return -1;
	}
	if ((flags & O_ACCMODE) == O_RDONLY)
		NDevSetReadOnly(dev);
	NDevSetOpen(dev);
	p->pos = 0;
	return 0;
}

static int dev_close(struct ntfs_device *dev)
{
	NDevClearOpen(dev);
	return 0;
}

static s64 dev_seek(struct ntfs_device *dev, s64 off, int whence)
{
	struct lbn_devpriv *p = dev->d_private;
	s64 np;

	switch (whence) {
	case SEEK_SET: np = off; break;
	case SEEK_CUR: np = p->pos + off; break;
	case SEEK_END: np = (s64)p->io->size + off; break;
	default: errno = EINVAL; return -1;
	}
	if (np < 0 || (u64)np > p->io->size) {
		errno = EINVAL;
		return -1;
	}
	p->pos = np;
	return np;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 off)
{
	struct lbn_devpriv *p = dev->d_private;
	struct lb_err err;

	if (off < 0 || count < 0) {
		errno = EINVAL;
		return -1;
	}
	if ((u64)off >= p->io->size)
		return 0;
	if ((u64)count > p->io->size - (u64)off)
		count = (s64)(p->io->size - (u64)off);
	if (lb_io_pread(p->io, buf, (size_t)count, (u64)off, &err)) {
		errno = err.sys_errno ? err.sys_errno : EIO;
		return -1;
	}
	return count;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 off)
{
	struct lbn_devpriv *p = dev->d_private;
	struct lb_err err;

	if (NDevReadOnly(dev)) {
		errno = EROFS;
		return -1;
	}
	if (off < 0 || count < 0 || (u64)off + (u64)count > p->io->size) {
		errno = ENOSPC;
		return -1;
	}
	if (lb_io_pwrite(p->io, buf, (size_t)count, (u64)off, &err)) {
		errno = err.sys_errno ? err.sys_errno : EIO;
		return -1;
	}
	NDevSetDirty(dev);
	return count;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
	struct lbn_devpriv *p = dev->d_private;
	s64 r = dev_pread(dev, buf, count, p->pos);

	if (r > 0)
		p->pos += r;
	return r;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
	struct lbn_devpriv *p = dev->d_private;
	s64 r = dev_pwrite(dev, buf, count, p->pos);

	if (r > 0)
		p->pos += r;
	return r;
}

static int dev_sync(struct ntfs_device *dev)
{
	struct lbn_devpriv *p = dev->d_private;
	struct lb_err err;

	if (NDevReadOnly(dev))
		return 0;
	if (lb_io_sync(p->io, &err)) {
		errno = err.sys_errno ? err.sys_errno : EIO;
		return -1;
	}
	NDevClearDirty(dev);
	return 0;
}

static int dev_stat(struct ntfs_device *dev, struct stat *st)
{
	struct lbn_devpriv *p = dev->d_private;

	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0600;
	st->st_size = (off_t)p->io->size;
	st->st_blksize = (blksize_t)p->io->sector_size;
	return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long req, void *arg)
{
	(void)dev;
	(void)req;
	(void)arg;
	errno = EOPNOTSUPP;
	return -1;
}

struct ntfs_device_operations lbn_dev_ops = {
	.open = dev_open,
	.close = dev_close,
	.seek = dev_seek,
	.read = dev_read,
	.write = dev_write,
	.pread = dev_pread,
	.pwrite = dev_pwrite,
	.sync = dev_sync,
	.stat = dev_stat,
	.ioctl = dev_ioctl,
};

void lb_ntfs_library_init(bool verbose)
{
	ntfs_log_set_handler(verbose ? ntfs_log_handler_stderr : ntfs_log_handler_null);
	if (verbose)
		ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_WARNING |
		                    NTFS_LOG_LEVEL_INFO);
	ntfs_set_char_encoding("utf8");
}
