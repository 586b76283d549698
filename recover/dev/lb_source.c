/* lb_source.c - files and block devices as lb_io. */
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

/* Returns 1 if the last 512 bytes are a valid fixed-VHD footer, 0 if not,
 * -1 (err set) if it is a VHD we cannot read in place. */
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
	if (lb_be32(f + 60) != 2)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: dynamic or differencing VHD (type %u) cannot be repaired in place; "
		                  "convert it to a fixed VHD or raw image first (qemu-img convert -O raw)",
		                  path, lb_be32(f + 60));
	return 1;
}

/* Disk-image containers recognised by their first bytes: none of them can
 * be written in place (their data is not where the disk's bytes are), so
 * each is refused by name with the conversion that makes it usable. */
static const struct {
	size_t off;
	const char *magic;
	size_t len;
	const char *name;
} containers[] = {
	{ 0, "vhdxfile", 8, "VHDX" },
	{ 0, "QFI\xfb", 4, "qcow2" },
	{ 0, "KDMV", 4, "VMDK" },
	{ 0, "# Disk DescriptorFile", 21, "VMDK (descriptor)" },
	{ 0, "conectix", 8, "dynamic VHD" },
	{ 64, "\x7f\x10\xda\xbe", 4, "VDI (VirtualBox)" },
	{ 0, "QED\0", 4, "QED" },
	{ 0, "WithoutFreeSpace", 16, "Parallels" },
	{ 0, "WithouFreSpacExt", 16, "Parallels" },
};

static int detect_container(int fd, const char *path, struct lb_err *err)
{
	unsigned char h[68];

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return 0;
	for (size_t i = 0; i < sizeof(containers) / sizeof(containers[0]); i++)
		if (memcmp(h + containers[i].off, containers[i].magic, containers[i].len) == 0)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "%s: %s container format is not supported in place; convert "
			                  "it to raw (qemu-img convert -O raw) or fixed VHD", path,
			                  containers[i].name);
	return 0;
}

int lb_source_open(const char *path, bool writable, struct lb_source *src, struct lb_err *err)
{
	struct stat st;
	uint64_t size = 0;
	unsigned sector = 512;
	int vhd;

	memset(src, 0, sizeof(*src));
	src->fd = -1;
	snprintf(src->path, sizeof(src->path), "%s", path);
	src->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (src->fd < 0)
		return lb_err_set(err, errno == ENOENT || errno == EACCES || errno == EISDIR
		                  ? LB_EK_INPUT : LB_EK_IO, errno, "%s: open", path);
	if (fstat(src->fd, &st) < 0) {
		lb_err_set(err, LB_EK_IO, errno, "%s: stat", path);
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		int ss = 0;

		src->is_block = true;
		if (ioctl(src->fd, BLKGETSIZE64, &size) < 0) {
			lb_err_set(err, LB_EK_IO, errno, "%s: BLKGETSIZE64", path);
			goto fail;
		}
		if (ioctl(src->fd, BLKSSZGET, &ss) == 0 && ss > 0)
			sector = (unsigned)ss;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: not a regular file or block device", path);
		goto fail;
	}
	src->file_size = size;
	if (size < 4096) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: too small to hold a disk (%llu bytes)", path,
		           (unsigned long long)size);
		goto fail;
	}
	src->format = "raw";
	vhd = detect_vhd(src->fd, size, path, err);
	if (vhd < 0)
		goto fail;
	if (vhd) {
		src->format = "vhd";
		size -= 512;
	} else if (detect_container(src->fd, path, err) < 0) {
		goto fail;
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
	if (src->io)
		lb_io_close(src->io);
	src->io = NULL;
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}
