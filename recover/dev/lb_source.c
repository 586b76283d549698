/* lb_source.c - files and block devices as lb_io; containers and URIs are
 * handed to lb_source_nbd.c. */
#include "lb_source.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_source_nbd.h"

static int fd_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	int fd = *(int *)io->ctx;
	char *p = buf;

	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* short file: treated as an I/O error */
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int fd_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off)
{
	int fd = *(int *)io->ctx;
	const char *p = buf;

	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int fd_sync(struct lb_io *io)
{
	int fd = *(int *)io->ctx;

	if (!io->writable)
		return 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static const struct lb_io_ops fd_ops = {
	.pread = fd_pread,
	.pwrite = fd_pwrite,
	.sync = fd_sync,
	.destroy = NULL, /* ctx points into struct lb_source */
};

/* Returns 1 if the last 512 bytes are a valid fixed-VHD footer, 2 if a
 * dynamic or differencing one (QEMU's "vpc"), 0 if none, -1 (err set) if
 * the footer is damaged. */
static int detect_vhd(int fd, uint64_t size, const char *path, struct lb_err *err)
{
	unsigned char f[512];
	uint32_t sum = 0, want;

	if (size < 512 + 512)
		return 0;
	if (pread(fd, f, sizeof(f), (off_t)(size - 512)) != (ssize_t)sizeof(f))
		return 0;
	if (memcmp(f, "conectix", 8) != 0)
		return 0;
	for (int i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			sum += f[i];
	want = lb_be32(f + 64);
	if ((uint32_t)~sum != want)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: VHD footer checksum mismatch", path);
	return lb_be32(f + 60) == 2 ? 1 : 2;
}

/* Disk-image containers recognised by their first bytes: their data is not
 * where the disk's bytes are, so each is served by QEMU under its format
 * name (lb_source_nbd.c). */
static const struct {
	size_t off;
	const char *magic;
	size_t len;
	const char *qemu;       /* QEMU's block driver */
} containers[] = {
	{ 0, "vhdxfile", 8, "vhdx" },
	{ 0, "QFI\xfb", 4, "qcow2" },
	{ 0, "KDMV", 4, "vmdk" },
	{ 0, "# Disk DescriptorFile", 21, "vmdk" },
	{ 0, "conectix", 8, "vpc" },
	{ 64, "\x7f\x10\xda\xbe", 4, "vdi" },
	{ 0, "QED\0", 4, "qed" },
	{ 0, "WithoutFreeSpace", 16, "parallels" },
	{ 0, "WithouFreSpacExt", 16, "parallels" },
};

/* QEMU's format name for the container at fd, NULL if none; -1 with err set
 * for one QEMU cannot write when writable is asked for. */
static int detect_container(int fd, const char *path, bool writable, const char **fmt,
                            struct lb_err *err)
{
	unsigned char h[80];

	*fmt = NULL;
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return 0;
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]) && !*fmt; i++)
		if (memcmp(h + containers[i].off, containers[i].magic, containers[i].len) == 0)
			*fmt = containers[i].qemu;
	if (*fmt && !strcmp(*fmt, "qcow2") && lb_be32(h + 4) == 1)
		*fmt = "qcow";
	/* VMDK sparse header: flags at 8, bit 16 = compressed grains
	 * (streamOptimized), which QEMU can append to but not rewrite */
	if (*fmt && writable && !memcmp(h, "KDMV", 4) && (lb_le32(h + 8) & (1u << 16)))
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: streamOptimized (compressed) VMDK "
		                  "cannot be written in place; convert it (qemu-img convert -O "
		                  "vmdk or -O raw) and fix the copy", path);
	return 0;
}

/* Size and sector size of the open file or device src->fd. */
static int size_of(struct lb_source *src, const char *path, uint64_t *size, unsigned *sector,
                   struct lb_err *err)
{
	struct stat st;

	if (fstat(src->fd, &st) < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s: stat", path);
	if (S_ISBLK(st.st_mode)) {
		int ss = 0;

		src->is_block = true;
		if (ioctl(src->fd, BLKGETSIZE64, size) < 0)
			return lb_err_set(err, LB_EK_IO, errno, "%s: BLKGETSIZE64", path);
		if (ioctl(src->fd, BLKSSZGET, &ss) == 0 && ss > 0)
			*sector = (unsigned)ss;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	return lb_err_set(err, LB_EK_INPUT, 0, "%s: not a regular file or block device", path);
}

int lb_source_open(const char *path, bool writable, struct lb_source *src, struct lb_err *err)
{
	uint64_t size = 0;
	unsigned sector = 512;
	const char *fmt = NULL;
	int vhd;

	memset(src, 0, sizeof(*src));
	src->fd = -1;
	snprintf(src->path, sizeof(src->path), "%s", path);
	if (lb_nbd_is_uri(path))
		return lb_nbd_open_uri(src, writable, err);
	src->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (src->fd < 0)
		return lb_err_set(err, errno == ENOENT || errno == EACCES || errno == EISDIR
		                  ? LB_EK_INPUT : LB_EK_IO, errno, "%s: open", path);
	if (size_of(src, path, &size, &sector, err))
		goto fail;
	src->file_size = size;
	src->format = "raw";
	vhd = detect_vhd(src->fd, size, path, err);
	if (vhd < 0)
		goto fail;
	if (vhd == 2)
		fmt = "vpc";
	else if (vhd == 0 && detect_container(src->fd, path, writable, &fmt, err))
		goto fail;
	if (fmt)
		return lb_nbd_open_file(src, fmt, writable, err); /* takes src->fd */
	if (size < 4096) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: too small to hold a disk (%llu bytes)", path,
		           (unsigned long long)size);
		goto fail;
	}
	if (vhd) {
		src->format = "vhd";
		size -= 512;
	}
	src->io = lb_io_new(&fd_ops, &src->fd, size, sector, writable, path);
	if (!src->io) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
		goto fail;
	}
	return 0;
fail:
	close(src->fd);
	src->fd = -1;
	return -1;
}

void lb_source_close(struct lb_source *src)
{
	lb_nbd_close(src); /* flushes through src->io's flag first */
	if (src->io)
		lb_io_close(src->io);
	src->io = NULL;
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}

const char *lb_source_type(const struct lb_source *src)
{
	return src->is_block ? "block" : src->is_uri ? "nbd" : "file";
}
