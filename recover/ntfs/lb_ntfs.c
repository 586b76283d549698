/* lb_ntfs.c - libntfs-3g on top of an lb_io: mount and unmount, paths,
 * lookup, readdir, reads, and NTFS times.  The device operations are in
 * lb_ntfs_device.c, writes in lb_ntfs_write.c, the volume state in
 * lb_ntfs_state.c (lb_ntfs_priv.h lists them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_ntfs_priv.h"

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
	struct lbn_devpriv *p;
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
	dev = ntfs_device_alloc(io->name, 0, &lbn_dev_ops, p);
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
	struct lbn_devpriv *p;
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
const char *lbn_norm_path(const char *in, char *buf, size_t n)
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

ntfs_inode *lbn_open_path(struct lb_ntfs *v, const char *path)
{
	char p[4096];

	lbn_norm_path(path, p, sizeof(p));
	return ntfs_pathname_to_inode(v->vol, NULL, p);
}

/* Splits a normalised path into its parent and last component. */
int lbn_split_path(const char *path, char *parent, size_t pn, char *leaf, size_t ln)
{
	char p[4096];
	char *slash;

	lbn_norm_path(path, p, sizeof(p));
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
	ntfs_inode *ni = lbn_open_path(v, path);

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
	ntfs_inode *ni = lbn_open_path(v, dir);
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

/* An open unnamed $DATA attribute (lb_ntfs_file_open). */
struct lb_ntfs_file {
	struct lb_ntfs *v;
	ntfs_inode *ni;
	ntfs_attr *na;
	char path[1024];
};

static void file_free(struct lb_ntfs_file *f)
{
	if (f->na)
		ntfs_attr_close(f->na);
	if (f->ni)
		ntfs_inode_close(f->ni);
	free(f);
}

/* Opens path's unnamed $DATA without the checks of lb_ntfs_file_open. */
static struct lb_ntfs_file *file_attach(struct lb_ntfs *v, const char *path, struct lb_err *err)
{
	struct lb_ntfs_file *f = calloc(1, sizeof(*f));

	if (!f) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: %s", v->io->name, path);
		return NULL;
	}
	f->v = v;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->ni = lbn_open_path(v, path);
	if (!f->ni) {
		lb_err_set(err, errno == ENOENT ? LB_EK_INPUT : LB_EK_IO, errno, "%s: %s", v->io->name,
		           path);
		file_free(f);
		return NULL;
	}
	f->na = ntfs_attr_open(f->ni, AT_DATA, AT_UNNAMED, 0);
	if (!f->na) {
		lb_err_set(err, LB_EK_INPUT, errno, "%s: %s: no data", v->io->name, path);
		file_free(f);
		return NULL;
	}
	return f;
}

int64_t lb_ntfs_file_pread(struct lb_ntfs_file *f, void *buf, uint64_t n, uint64_t off,
                           struct lb_err *err)
{
	uint64_t done = 0;

	while (done < n && off + done < (uint64_t)f->na->data_size) {
		s64 r = ntfs_attr_pread(f->na, (s64)(off + done), (s64)(n - done), (char *)buf + done);

		if (r < 0)
			return lb_err_set(err, LB_EK_IO, errno, "%s: reading %s", f->v->io->name, f->path);
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return (int64_t)done;
}

void lb_ntfs_file_close(struct lb_ntfs_file *f)
{
	if (f)
		file_free(f);
}

int lb_ntfs_file_open(struct lb_ntfs *v, const char *path, uint64_t max, struct lb_ntfs_file **out,
                      uint64_t *size, struct lb_err *err)
{
	struct lb_ntfs_stat st = { 0 }; /* -O3 cannot see that rc 0 means filled */
	int rc = lb_ntfs_stat(v, path, &st, err);

	*out = NULL;
	*size = 0;
	if (rc < 0)
		return -1;
	if (rc == 1)
		return lb_err_set(err, LB_EK_INPUT, ENOENT, "%s: %s", v->io->name, path);
	if (st.is_dir)
		return lb_err_set(err, LB_EK_INPUT, EISDIR, "%s: %s", v->io->name, path);
	if (st.size > max)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: %s is %" PRIu64 " bytes, over the %" PRIu64
		                  "-byte limit", v->io->name, path, st.size, max);
	if (!(*out = file_attach(v, path, err)))
		return -1;
	*size = st.size;
	return 0;
}

int64_t lb_ntfs_pread(struct lb_ntfs *v, const char *path, void *buf, uint64_t n, uint64_t off,
                      struct lb_err *err)
{
	struct lb_ntfs_file *f = file_attach(v, path, err);
	int64_t r;

	if (!f)
		return -1;
	r = lb_ntfs_file_pread(f, buf, n, off, err);
	file_free(f);
	return r;
}

int lb_ntfs_read_all(struct lb_ntfs *v, const char *path, uint64_t max, uint8_t **data,
                     uint64_t *len, struct lb_err *err)
{
	struct lb_ntfs_file *f;
	uint64_t size;
	uint8_t *buf;
	int64_t r;

	*data = NULL;
	*len = 0;
	if (lb_ntfs_file_open(v, path, max, &f, &size, err))
		return -1;
	buf = malloc(size ? size : 1);
	if (!buf) {
		file_free(f);
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: %s", v->io->name, path);
	}
	r = lb_ntfs_file_pread(f, buf, size, 0, err);
	file_free(f);
	if (r < 0) {
		free(buf);
		return -1;
	}
	if ((uint64_t)r != size) {
		free(buf);
		return lb_err_set(err, LB_EK_IO, 0, "%s: %s: short read (%" PRId64 " of %" PRIu64 ")",
		                  v->io->name, path, r, size);
	}
	*data = buf;
	*len = size;
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
