/* lb_ntfs.c - libntfs-3g on top of an lb_io. */
/* System headers first: the ntfs-3g headers rely on them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/index.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#include "lb_ntfs.h"

struct lb_ntfs {
	ntfs_volume *vol;
	struct lb_io *io;
	bool writable;
};

/* ---- device operations: libntfs-3g -> lb_io ---- */

struct devpriv {
	struct lb_io *io;
	s64 pos;
};

static int dev_open(struct ntfs_device *dev, int flags)
{
	struct devpriv *p = dev->d_private;

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
	struct devpriv *p = dev->d_private;
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
	struct devpriv *p = dev->d_private;
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
	struct devpriv *p = dev->d_private;
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
	struct devpriv *p = dev->d_private;
	s64 r = dev_pread(dev, buf, count, p->pos);

	if (r > 0)
		p->pos += r;
	return r;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
	struct devpriv *p = dev->d_private;
	s64 r = dev_pwrite(dev, buf, count, p->pos);

	if (r > 0)
		p->pos += r;
	return r;
}

static int dev_sync(struct ntfs_device *dev)
{
	struct devpriv *p = dev->d_private;
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
	struct devpriv *p = dev->d_private;

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

static struct ntfs_device_operations lb_dev_ops = {
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

/* ---- mount ---- */

static const char *mount_errno_text(int e)
{
	switch (e) {
	case EPERM: return "Windows is hibernated or left fast-restart data in the journal";
	case EOPNOTSUPP: return "the NTFS journal ($LogFile) holds unapplied changes";
	case EINVAL: return "not a valid NTFS volume (boot sector or MFT damaged)";
	case EIO: return "I/O error or damaged metadata";
	case EROFS: return "device is read-only";
	default: return NULL;
	}
}

int lb_ntfs_open(struct lb_io *io, unsigned flags, struct lb_ntfs **out, struct lb_err *err)
{
	struct lb_ntfs *v;
	struct devpriv *p;
	struct ntfs_device *dev;
	unsigned long mflags = 0;
	bool rw = flags & LB_NTFS_RW;
	int e;

	*out = NULL;
	if (rw && !io->writable)
		return lb_err_set(err, LB_EK_INTERNAL, EROFS, "%s: NTFS read-write on a read-only device",
		                  io->name);
	v = calloc(1, sizeof(*v));
	p = calloc(1, sizeof(*p));
	if (!v || !p) {
		free(v);
		free(p);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", io->name);
	}
	p->io = io;
	dev = ntfs_device_alloc(io->name, 0, &lb_dev_ops, p);
	if (!dev) {
		free(v);
		free(p);
		return lb_err_set(err, LB_EK_INTERNAL, errno, "%s: ntfs_device_alloc", io->name);
	}
	if (!rw)
		mflags |= NTFS_MNT_RDONLY;
	if (rw && (flags & LB_NTFS_DISCARD_HIBERNATION))
		mflags |= NTFS_MNT_IGNORE_HIBERFILE;
	if (rw && (flags & LB_NTFS_DISCARD_JOURNAL))
		mflags |= NTFS_MNT_RECOVER;
	v->vol = ntfs_device_mount(dev, mflags);
	if (!v->vol && rw && (flags & LB_NTFS_DISCARD_JOURNAL) && errno == EPERM) {
		/* A Windows 8+ (v2.0) journal: libntfs-3g refuses even to
		 * reset it.  The operator asked to discard it: mount without
		 * the checks (hibernation was checked by the caller) and reset
		 * the journal ourselves, as RECOVER would. */
		v->vol = ntfs_device_mount(dev, NTFS_MNT_FORENSIC);
		if (v->vol && ntfs_logfile_reset(v->vol)) {
			e = errno;
			ntfs_umount(v->vol, FALSE);
			free(v);
			free(p);
			return lb_err_set(err, LB_EK_IO, e, "%s: resetting the NTFS journal", io->name);
		}
	}
	if (!v->vol) {
		const char *why;

		e = errno;
		why = mount_errno_text(e);
		ntfs_device_free(dev);
		free(v);
		free(p);
		if (e == EPERM || e == EOPNOTSUPP)
			return lb_err_set(err, LB_EK_REFUSED, 0, "%s: NTFS refused read-write: %s",
			                  io->name, why);
		if (why)
			return lb_err_set(err, e == EIO ? LB_EK_IO : LB_EK_INPUT, 0,
			                  "%s: cannot open NTFS: %s", io->name, why);
		return lb_err_set(err, LB_EK_INPUT, e, "%s: cannot open NTFS", io->name);
	}
	/* Case-insensitive lookups without lower-casing readdir output (which
	 * ntfs_set_ignore_case would do). */
	NVolClearCaseSensitive(v->vol);
	v->io = io;
	v->writable = rw;
	*out = v;
	return 0;
}

int lb_ntfs_close(struct lb_ntfs *v, struct lb_err *err)
{
	struct ntfs_device *dev;
	struct devpriv *p;
	int rc = 0;

	if (!v)
		return 0;
	dev = v->vol->dev;
	p = dev->d_private;
	if (ntfs_umount(v->vol, FALSE) != 0)
		rc = lb_err_set(err, LB_EK_IO, errno, "%s: unmounting NTFS", v->io->name);
	/* ntfs_umount frees the device; only our private data remains. */
	free(p);
	free(v);
	return rc;
}

/* ---- paths ---- */

/* "\Windows\System32" -> "/Windows/System32" in buf. */
static const char *norm_path(const char *in, char *buf, size_t n)
{
	size_t j = 0;

	if (in[0] != '\\' && in[0] != '/' && j + 1 < n)
		buf[j++] = '/';
	for (size_t i = 0; in[i] && j + 1 < n; i++)
		buf[j++] = in[i] == '\\' ? '/' : in[i];
	buf[j] = '\0';
	/* drop a trailing separator except for the root */
	while (j > 1 && buf[j - 1] == '/')
		buf[--j] = '\0';
	return buf;
}

static ntfs_inode *open_path(struct lb_ntfs *v, const char *path)
{
	char p[4096];

	norm_path(path, p, sizeof(p));
	return ntfs_pathname_to_inode(v->vol, NULL, p);
}

/* Splits a normalised path into its parent and last component. */
static int split_path(const char *path, char *parent, size_t pn, char *leaf, size_t ln)
{
	char p[4096];
	char *slash;

	norm_path(path, p, sizeof(p));
	slash = strrchr(p, '/');
	if (!slash || !slash[1])
		return -1;
	snprintf(leaf, ln, "%s", slash + 1);
	if (slash == p)
		snprintf(parent, pn, "/");
	else {
		*slash = '\0';
		snprintf(parent, pn, "%s", p);
	}
	return 0;
}

static void fill_stat(ntfs_inode *ni, struct lb_ntfs_stat *st)
{
	ntfs_attr *na;

	memset(st, 0, sizeof(*st));
	st->is_dir = (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
	st->mft_ref = ni->mft_no;
	st->created = sle64_to_cpu(ni->creation_time);
	st->modified = sle64_to_cpu(ni->last_data_change_time);
	st->mft_changed = sle64_to_cpu(ni->last_mft_change_time);
	st->accessed = sle64_to_cpu(ni->last_access_time);
	st->attributes = le32_to_cpu(ni->flags);
	if (!st->is_dir) {
		na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
		if (na) {
			st->size = (uint64_t)na->data_size;
			ntfs_attr_close(na);
		}
	}
}

int lb_ntfs_stat(struct lb_ntfs *v, const char *path, struct lb_ntfs_stat *st, struct lb_err *err)
{
	ntfs_inode *ni = open_path(v, path);

	if (!ni) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		return lb_err_set(err, LB_EK_IO, errno, "%s: %s", v->io->name, path);
	}
	fill_stat(ni, st);
	ntfs_inode_close(ni);
	return 0;
}

struct rd_ctx {
	lb_ntfs_dir_cb cb;
	void *arg;
	int stop;
	int error;
};

static int rd_filldir(void *dirent, const ntfschar *name, const int name_len,
                      const int name_type, const s64 pos, const MFT_REF mref,
                      const unsigned dt_type)
{
	struct rd_ctx *c = dirent;
	char *u8 = NULL;

	(void)pos;
	if (name_type == FILE_NAME_DOS)
		return 0;
	if (MREF(mref) < FILE_first_user && MREF(mref) != FILE_root)
		return 0; /* $MFT, $LogFile, … */
	if (ntfs_ucstombs(name, name_len, &u8, 0) < 0) {
		c->error = errno ? errno : EILSEQ;
		return -1;
	}
	if (strcmp(u8, ".") && strcmp(u8, "..")) {
		c->stop = c->cb(c->arg, u8, dt_type == NTFS_DT_DIR);
	}
	free(u8);
	return c->stop ? -1 : 0;
}

int lb_ntfs_readdir(struct lb_ntfs *v, const char *dir, lb_ntfs_dir_cb cb, void *arg,
                    struct lb_err *err)
{
	struct rd_ctx c = { cb, arg, 0, 0 };
	ntfs_inode *ni = open_path(v, dir);
	s64 pos = 0;
	int rc;

	if (!ni) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 1;
		return lb_err_set(err, LB_EK_IO, errno, "%s: %s", v->io->name, dir);
	}
	if (!(ni->mrec->flags & MFT_RECORD_IS_DIRECTORY)) {
		ntfs_inode_close(ni);
		return 1;
	}
	rc = ntfs_readdir(ni, &pos, &c, rd_filldir);
	ntfs_inode_close(ni);
	if (c.error)
		return lb_err_set(err, LB_EK_INPUT, c.error, "%s: reading directory %s", v->io->name, dir);
	if (rc && !c.stop)
		return lb_err_set(err, LB_EK_IO, errno, "%s: reading directory %s", v->io->name, dir);
	return 0;
}

int64_t lb_ntfs_pread(struct lb_ntfs *v, const char *path, void *buf, uint64_t n, uint64_t off,
                      struct lb_err *err)
{
	ntfs_inode *ni = open_path(v, path);
	ntfs_attr *na;
	uint64_t done = 0;

	if (!ni)
		return lb_err_set(err, errno == ENOENT ? LB_EK_INPUT : LB_EK_IO, errno, "%s: %s",
		                  v->io->name, path);
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		int e = errno;

		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_INPUT, e, "%s: %s: no data", v->io->name, path);
	}
	while (done < n && off + done < (uint64_t)na->data_size) {
		s64 r = ntfs_attr_pread(na, (s64)(off + done), (s64)(n - done), (char *)buf + done);

		if (r < 0) {
			int e = errno;

			ntfs_attr_close(na);
			ntfs_inode_close(ni);
			return lb_err_set(err, LB_EK_IO, e, "%s: reading %s", v->io->name, path);
		}
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	ntfs_attr_close(na);
	ntfs_inode_close(ni);
	return (int64_t)done;
}

int lb_ntfs_read_all(struct lb_ntfs *v, const char *path, uint64_t max, uint8_t **data,
                     uint64_t *len, struct lb_err *err)
{
	struct lb_ntfs_stat st = { 0 }; /* -O3 cannot see that rc 0 means filled */
	uint8_t *buf;
	int64_t r;
	int rc = lb_ntfs_stat(v, path, &st, err);

	*data = NULL;
	*len = 0;
	if (rc < 0)
		return -1;
	if (rc == 1)
		return lb_err_set(err, LB_EK_INPUT, ENOENT, "%s: %s", v->io->name, path);
	if (st.is_dir)
		return lb_err_set(err, LB_EK_INPUT, EISDIR, "%s: %s", v->io->name, path);
	if (st.size > max)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: %s is %" PRIu64 " bytes, over the %" PRIu64
		                  "-byte limit", v->io->name, path, st.size, max);
	buf = malloc(st.size ? st.size : 1);
	if (!buf)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: %s", v->io->name, path);
	r = lb_ntfs_pread(v, path, buf, st.size, 0, err);
	if (r < 0) {
		free(buf);
		return -1;
	}
	if ((uint64_t)r != st.size) {
		free(buf);
		return lb_err_set(err, LB_EK_IO, 0, "%s: %s: short read (%" PRId64 " of %" PRIu64 ")",
		                  v->io->name, path, r, st.size);
	}
	*data = buf;
	*len = st.size;
	return 0;
}

/* ---- writes ---- */

static int need_rw(struct lb_ntfs *v, struct lb_err *err)
{
	if (!v->writable)
		return lb_err_set(err, LB_EK_INTERNAL, EROFS, "%s: volume opened read-only", v->io->name);
	return 0;
}

static int to_ucs(const char *name, ntfschar **u, struct lb_err *err)
{
	int len;

	*u = NULL;
	len = ntfs_mbstoucs(name, u);
	if (len <= 0)
		return lb_err_set(err, LB_EK_INPUT, errno ? errno : EILSEQ, "name \"%s\"", name);
	return len;
}

/* Creates the last component of path (a file or a directory) in its
 * existing parent; returns the new inode with *dni its open parent (close
 * the inode through the parent: ntfs_inode_close_in_dir). */
static ntfs_inode *create_in(struct lb_ntfs *v, const char *path, mode_t type, ntfs_inode **dni,
                             struct lb_err *err)
{
	char parent[4096], leaf[1024];
	ntfs_inode *ni;
	ntfschar *u;
	int ulen, e;

	*dni = NULL;
	if (split_path(path, parent, sizeof(parent), leaf, sizeof(leaf))) {
		lb_err_set(err, LB_EK_INTERNAL, EINVAL, "create %s", path);
		return NULL;
	}
	*dni = ntfs_pathname_to_inode(v->vol, NULL, parent);
	if (!*dni) {
		lb_err_set(err, LB_EK_IO, errno, "%s: %s", v->io->name, parent);
		return NULL;
	}
	ulen = to_ucs(leaf, &u, err);
	if (ulen < 0) {
		ntfs_inode_close(*dni);
		*dni = NULL;
		return NULL;
	}
	ni = ntfs_create(*dni, const_cpu_to_le32(0), u, (u8)ulen, type);
	e = errno;
	free(u);
	if (!ni) {
		ntfs_inode_close(*dni);
		*dni = NULL;
		lb_err_set(err, LB_EK_IO, e, "%s: creating %s", v->io->name, path);
	}
	return ni;
}

int lb_ntfs_mkdir_p(struct lb_ntfs *v, const char *path, struct lb_err *err)
{
	char p[4096];
	char *s;

	if (need_rw(v, err))
		return -1;
	norm_path(path, p, sizeof(p));
	for (s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char save = *s;
			ntfs_inode *ni;

			*s = '\0';
			ni = ntfs_pathname_to_inode(v->vol, NULL, p);
			if (ni) {
				bool dir = ni->mrec->flags & MFT_RECORD_IS_DIRECTORY;

				ntfs_inode_close(ni);
				if (!dir)
					return lb_err_set(err, LB_EK_INPUT, ENOTDIR, "%s: %s", v->io->name, p);
			} else {
				ntfs_inode *dni, *nni = create_in(v, p, S_IFDIR, &dni, err);

				if (!nni)
					return -1;
				if (ntfs_inode_close_in_dir(nni, dni) | ntfs_inode_close(dni))
					return lb_err_set(err, LB_EK_IO, errno, "%s: creating directory %s",
					                  v->io->name, p);
			}
			*s = save;
			if (!save)
				break;
		}
	}
	return 0;
}

/* The real-case name of the last component of path, from its directory. */
struct find_ctx {
	const char *want;
	char found[1024];
};

static int find_cb(void *arg, const char *name, bool is_dir)
{
	struct find_ctx *c = arg;

	(void)is_dir;
	if (strcasecmp(name, c->want) == 0) {
		snprintf(c->found, sizeof(c->found), "%s", name);
		return 1;
	}
	return 0;
}

static int real_leaf(struct lb_ntfs *v, const char *parent, const char *leaf, char *out,
                     size_t n, struct lb_err *err)
{
	struct find_ctx c = { leaf, "" };
	int rc = lb_ntfs_readdir(v, parent, find_cb, &c, err);

	if (rc < 0)
		return -1;
	if (!c.found[0])
		return lb_err_set(err, LB_EK_INPUT, ENOENT, "%s: %s\\%s", v->io->name, parent, leaf);
	snprintf(out, n, "%s", c.found);
	return 0;
}

/* Removes the index entry `name` from directory `parent` if it refers to
 * inode `mft`.  Only used when that inode no longer has the name. */
static int remove_stale_entry(struct lb_ntfs *v, const char *parent, const ntfschar *name,
                              int len, u64 mft)
{
	size_t keylen = sizeof(FILE_NAME_ATTR) + (size_t)len * sizeof(ntfschar);
	FILE_NAME_ATTR *fn = calloc(1, keylen);
	ntfs_index_context *icx = NULL;
	ntfs_inode *dni;
	int rc = -1;

	if (!fn)
		return -1;
	dni = ntfs_pathname_to_inode(v->vol, NULL, parent);
	if (!dni)
		goto out;
	fn->file_name_length = (u8)len;
	fn->file_name_type = FILE_NAME_POSIX;
	memcpy(fn->file_name, name, (size_t)len * sizeof(ntfschar));
	icx = ntfs_index_ctx_get(dni, NTFS_INDEX_I30, 4);
	if (icx && ntfs_index_lookup(fn, (int)keylen, icx) == 0 &&
	    MREF_LE(icx->entry->indexed_file) == mft)
		rc = ntfs_index_rm(icx);
	if (icx)
		ntfs_index_ctx_put(icx);
	if (ntfs_inode_close(dni))
		rc = -1;
out:
	free(fn);
	return rc;
}

static int unlink_name(struct lb_ntfs *v, const char *path, struct lb_err *err)
{
	char parent[4096], leaf[1024], real[1024], full[4096 + 1024 + 2];
	ntfs_inode *ni, *dni;
	ntfschar *u;
	u64 mft;
	int ulen;

	if (split_path(path, parent, sizeof(parent), leaf, sizeof(leaf)))
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "unlink %s", path);
	if (real_leaf(v, parent, leaf, real, sizeof(real), err))
		return -1;
	snprintf(full, sizeof(full), "%s/%s", strcmp(parent, "/") ? parent : "", real);
	ni = ntfs_pathname_to_inode(v->vol, NULL, full);
	dni = ntfs_pathname_to_inode(v->vol, NULL, parent);
	if (!ni || !dni) {
		int e = errno;

		if (ni)
			ntfs_inode_close(ni);
		if (dni)
			ntfs_inode_close(dni);
		return lb_err_set(err, LB_EK_IO, e, "%s: %s", v->io->name, full);
	}
	ulen = to_ucs(real, &u, err);
	if (ulen < 0) {
		ntfs_inode_close(ni);
		ntfs_inode_close(dni);
		return -1;
	}
	mft = ni->mft_no;
	/* ntfs_delete closes both inodes, on success and on error. */
	if (ntfs_delete(v->vol, full, ni, dni, u, (u8)ulen)) {
		int e = errno;

		/* The directory lists the name but the file no longer carries
		 * it: a stale entry left by an interrupted removal.  Drop the
		 * entry alone. */
		if (e == ENOENT && remove_stale_entry(v, parent, u, ulen, mft) == 0) {
			free(u);
			return 0;
		}
		free(u);
		return lb_err_set(err, LB_EK_IO, e, "%s: removing %s", v->io->name, full);
	}
	free(u);
	return 0;
}

int lb_ntfs_move(struct lb_ntfs *v, const char *from, const char *to, struct lb_err *err)
{
	char tparent[4096], tleaf[1024];
	ntfs_inode *ni, *tdni;
	struct lb_ntfs_stat st;
	ntfschar *u;
	int ulen, rc;

	if (need_rw(v, err))
		return -1;
	rc = lb_ntfs_stat(v, to, &st, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return lb_err_set(err, LB_EK_INTERNAL, EEXIST, "%s: %s", v->io->name, to);
	if (split_path(to, tparent, sizeof(tparent), tleaf, sizeof(tleaf)))
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "move to %s", to);
	ni = open_path(v, from);
	if (!ni)
		return lb_err_set(err, LB_EK_IO, errno, "%s: %s", v->io->name, from);
	if (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) {
		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_INTERNAL, EISDIR, "%s: %s", v->io->name, from);
	}
	tdni = ntfs_pathname_to_inode(v->vol, NULL, tparent);
	if (!tdni) {
		int e = errno;

		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_IO, e, "%s: %s", v->io->name, tparent);
	}
	ulen = to_ucs(tleaf, &u, err);
	if (ulen < 0) {
		ntfs_inode_close(ni);
		ntfs_inode_close(tdni);
		return -1;
	}
	rc = ntfs_link(ni, tdni, u, (u8)ulen);
	free(u);
	if (rc) {
		int e = errno;

		ntfs_inode_close(ni);
		ntfs_inode_close(tdni);
		return lb_err_set(err, LB_EK_IO, e, "%s: linking %s as %s", v->io->name, from, to);
	}
	/* Directory entry first, then the file's record: a cut in between
	 * leaves an entry whose file lacks that name, which
	 * remove_stale_entry() can drop, never a name without an entry. */
	if (ntfs_inode_close(tdni)) {
		int e = errno;

		/* The entry did not reach the disk: do not write the file's
		 * record either, or it would carry a name no directory lists. */
		NInoClearDirty(ni);
		NInoAttrListClearDirty(ni);
		NInoFileNameClearDirty(ni);
		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_IO, e, "%s: linking %s as %s", v->io->name, from, to);
	}
	if (ntfs_inode_close(ni))
		return lb_err_set(err, LB_EK_IO, errno, "%s: linking %s as %s", v->io->name, from, to);
	/* The file now has two names; drop the old one. */
	return unlink_name(v, from, err);
}

int lb_ntfs_unlink(struct lb_ntfs *v, const char *path, struct lb_err *err)
{
	if (need_rw(v, err))
		return -1;
	return unlink_name(v, path, err);
}

int lb_ntfs_create_file(struct lb_ntfs *v, const char *path, const void *data, uint64_t len,
                        const struct lb_ntfs_stat *times, struct lb_err *err)
{
	char parent[4096], leaf[1024];
	ntfs_inode *dni, *ni;
	ntfs_attr *na;
	struct lb_ntfs_stat st;
	int rc, e;
	s64 w = 0;

	if (need_rw(v, err))
		return -1;
	rc = lb_ntfs_stat(v, path, &st, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return lb_err_set(err, LB_EK_REFUSED, EEXIST, "%s: %s", v->io->name, path);
	if (split_path(path, parent, sizeof(parent), leaf, sizeof(leaf)))
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "create %s", path);
	if (lb_ntfs_mkdir_p(v, parent, err))
		return -1;
	ni = create_in(v, path, S_IFREG, &dni, err);
	if (!ni)
		return -1;
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (na && len)
		w = ntfs_attr_pwrite(na, 0, (s64)len, data);
	e = errno;
	if (na)
		ntfs_attr_close(na);
	if (!na || w != (s64)len) {
		ntfs_inode_close(ni);
		ntfs_inode_close(dni);
		return lb_err_set(err, LB_EK_IO, e, "%s: writing %s", v->io->name, path);
	}
	if (times) {
		ni->creation_time = cpu_to_sle64(times->created);
		ni->last_data_change_time = cpu_to_sle64(times->modified);
		ni->last_mft_change_time = cpu_to_sle64(times->mft_changed);
		ni->last_access_time = cpu_to_sle64(times->accessed);
		if (times->attributes)
			ni->flags = cpu_to_le32(times->attributes);
		NInoSetDirty(ni);
	}
	/* the new entry may still sit in the directory's in-memory index
	 * root: close the file through its directory */
	rc = ntfs_inode_close_in_dir(ni, dni);
	e = errno;
	if (ntfs_inode_close(dni) || rc)
		return lb_err_set(err, LB_EK_IO, rc ? e : errno, "%s: closing %s", v->io->name, path);
	return 0;
}

int lb_ntfs_pwrite(struct lb_ntfs *v, const char *path, const void *buf, uint64_t n, uint64_t off,
                   struct lb_err *err)
{
	ntfs_inode *ni;
	ntfs_attr *na;
	s64 w;
	int e;

	if (need_rw(v, err))
		return -1;
	ni = open_path(v, path);
	if (!ni)
		return lb_err_set(err, LB_EK_IO, errno, "%s: %s", v->io->name, path);
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		e = errno;
		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_IO, e, "%s: %s", v->io->name, path);
	}
	if (off + n > (uint64_t)na->data_size) {
		ntfs_attr_close(na);
		ntfs_inode_close(ni);
		return lb_err_set(err, LB_EK_INTERNAL, EFBIG, "%s: %s: write past end", v->io->name, path);
	}
	w = ntfs_attr_pwrite(na, (s64)off, (s64)n, buf);
	e = errno;
	ntfs_attr_close(na);
	if (ntfs_inode_close(ni) && w == (s64)n) {
		w = -1;
		e = errno;
	}
	if (w != (s64)n)
		return lb_err_set(err, LB_EK_IO, e, "%s: writing %s", v->io->name, path);
	return 0;
}

/* ---- state ---- */

static uint16_t le16at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64at(const uint8_t *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

/* Reads both restart pages of $LogFile and uses the newer one. */
static void journal_state(struct lb_ntfs *v, struct lb_ntfs_state *st)
{
	ntfs_inode *ni = ntfs_inode_open(v->vol, FILE_LogFile);
	ntfs_attr *na;
	uint8_t pg[2][4096];
	int best = -1;
	uint64_t best_lsn = 0;
	uint32_t psz = 4096;

	st->journal_known = false;
	if (!ni)
		return;
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		ntfs_inode_close(ni);
		return;
	}
	if (ntfs_attr_pread(na, 0, 4096, pg[0]) != 4096) {
		ntfs_attr_close(na);
		ntfs_inode_close(ni);
		return;
	}
	if (memcmp(pg[0], "RSTR", 4) == 0 || memcmp(pg[0], "CHKD", 4) == 0) {
		psz = (uint32_t)(pg[0][16] | pg[0][17] << 8 | pg[0][18] << 16 | (uint32_t)pg[0][19] << 24);
		if (psz < 512 || psz > 4096 || (psz & (psz - 1)))
			psz = 4096;
	}
	if (ntfs_attr_pread(na, psz, 4096, pg[1]) != 4096)
		memset(pg[1], 0xff, sizeof(pg[1]));
	ntfs_attr_close(na);
	ntfs_inode_close(ni);

	st->journal_known = true;
	for (int i = 0; i < 2; i++) {
		uint16_t ra_off;

		if (memcmp(pg[i], "RSTR", 4) != 0)
			continue;
		ra_off = le16at(pg[i] + 0x18);
		if (ra_off < 0x1e || ra_off > 4096 - 0x30)
			continue;
		if (best < 0 || le64at(pg[i] + ra_off) > best_lsn) {
			best = i;
			best_lsn = le64at(pg[i] + ra_off);
		}
	}
	if (best < 0) {
		bool empty = true;

		for (size_t i = 0; i < sizeof(pg[0]); i++)
			if (pg[0][i] != 0xff) {
				empty = false;
				break;
			}
		/* All 0xFF: reset/empty log, clean.  Anything else without a
		 * valid restart page: unknown, treat as not clean. */
		st->journal_clean = empty;
		st->journal_known = empty;
		st->journal_version[0] = '\0';
		return;
	} else {
		const uint8_t *p = pg[best];
		uint16_t ra_off = le16at(p + 0x18);
		const uint8_t *ra = p + ra_off;
		uint16_t in_use = le16at(ra + 0x0c), rflags = le16at(ra + 0x0e);

		snprintf(st->journal_version, sizeof(st->journal_version), "%u.%u",
		         (unsigned)(le16at(p + 0x1c) & 0xff), (unsigned)(le16at(p + 0x1a) & 0xff));
		st->journal_clean = in_use == 0xffff || (rflags & 0x0002);
	}
}

static void hiber_state(struct lb_ntfs *v, struct lb_ntfs_state *st)
{
	char magic[4];
	struct lb_err e;

	st->hibernated = false;
	st->hiber_magic[0] = '\0';
	if (lb_ntfs_pread(v, "\\hiberfil.sys", magic, 4, 0, &e) == 4) {
		memcpy(st->hiber_magic, magic, 4);
		for (int i = 0; i < 4; i++)
			if (st->hiber_magic[i] < 0x20 || st->hiber_magic[i] > 0x7e)
				st->hiber_magic[i] = '.';
		st->hiber_magic[4] = '\0';
		st->hibernated = memcmp(magic, "hibr", 4) == 0 || memcmp(magic, "HIBR", 4) == 0;
	}
}

int lb_ntfs_state(struct lb_ntfs *v, struct lb_ntfs_state *st, struct lb_err *err)
{
	ntfs_volume *vol = v->vol;
	char *label = NULL;

	(void)err;
	memset(st, 0, sizeof(*st));
	st->dirty = (le16_to_cpu(vol->flags) & le16_to_cpu(VOLUME_IS_DIRTY)) != 0;
	st->cluster_size = vol->cluster_size;
	st->sector_size = vol->sector_size;
	snprintf(st->ntfs_version, sizeof(st->ntfs_version), "%u.%u", vol->major_ver, vol->minor_ver);
	if (vol->vol_name) {
		label = vol->vol_name;
		snprintf(st->label, sizeof(st->label), "%s", label);
	}
	st->serial = 0;
	{
		uint8_t bs[512];
		struct lb_err e;

		if (lb_io_pread(v->io, bs, sizeof(bs), 0, &e) == 0)
			st->serial = le64at(bs + 0x48);
	}
	journal_state(v, st);
	hiber_state(v, st);
	return 0;
}

/* ---- time ---- */

#define NTFS_EPOCH_OFFSET 116444736000000000LL /* 1601 -> 1970 in 100 ns */

int64_t lb_ntfs_time_to_unix(int64_t nt)
{
	int64_t d = nt - NTFS_EPOCH_OFFSET;

	return d >= 0 ? d / 10000000 : -((-d + 9999999) / 10000000);
}

void lb_ntfs_time_iso(int64_t nt, char out[32])
{
	int64_t secs = lb_ntfs_time_to_unix(nt);
	int64_t frac = (nt - NTFS_EPOCH_OFFSET) - secs * 10000000;
	time_t t = (time_t)secs;
	struct tm tm;
	char buf[96];

	gmtime_r(&t, &tm);
	if (frac) {
		char f[16];
		size_t l;

		snprintf(f, sizeof(f), "%07lld", (long long)frac);
		l = strlen(f);
		while (l > 1 && f[l - 1] == '0')
			f[--l] = '\0';
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
	} else {
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	snprintf(out, 32, "%.31s", buf);
}
