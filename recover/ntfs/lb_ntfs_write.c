/* lb_ntfs_write.c - writes through libntfs-3g: directories, new files,
 * overwrites in place, moves (a hard link, then removal of the old name)
 * and removals, including a stale directory entry an interrupted removal
 * left behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_ntfs_priv.h"

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
	if (lbn_split_path(path, parent, sizeof(parent), leaf, sizeof(leaf))) {
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
	lbn_norm_path(path, p, sizeof(p));
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

	if (lbn_split_path(path, parent, sizeof(parent), leaf, sizeof(leaf)))
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
	if (lbn_split_path(to, tparent, sizeof(tparent), tleaf, sizeof(tleaf)))
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "move to %s", to);
	ni = lbn_open_path(v, from);
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
	if (lbn_split_path(path, parent, sizeof(parent), leaf, sizeof(leaf)))
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
	ni = lbn_open_path(v, path);
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
