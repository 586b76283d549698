/* lb_ntfs_names.c - what a copy of a file's bytes does not capture (its
 * other hard links, alternate data streams, a sparse layout) and its 8.3
 * short name: read, and put back after a move or a re-creation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_ntfs_priv.h"

/* Counts the names (not 8.3 aliases) and named $DATA streams of ni. */
static int count_attrs(ntfs_inode *ni, struct lb_ntfs_shape *s)
{
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);

	if (!ctx)
		return -1;
	while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, ctx)) {
		const FILE_NAME_ATTR *fn = (const FILE_NAME_ATTR *)((const u8 *)ctx->attr +
		                           le16_to_cpu(ctx->attr->value_offset));

		if (fn->file_name_type != FILE_NAME_DOS)
			s->links++;
	}
	ntfs_attr_reinit_search_ctx(ctx);
	while (!ntfs_attr_lookup(AT_DATA, NULL, 0, CASE_SENSITIVE, 0, NULL, 0, ctx)) {
		const ATTR_RECORD *a = ctx->attr;

		if (a->name_length == 0) {
			if (a->flags & ATTR_IS_SPARSE)
				s->sparse = true;
			continue;
		}
		if (s->streams++ == 0) {
			char *utf8 = NULL;

			if (ntfs_ucstombs((const ntfschar *)((const u8 *)a + le16_to_cpu(a->name_offset)),
			                  a->name_length, &utf8, 0) >= 0)
				snprintf(s->stream, sizeof(s->stream), "%s", utf8);
			free(utf8);
		}
	}
	ntfs_attr_put_search_ctx(ctx);
	return 0;
}

/* The file at path and its directory, both open (close both), or -1. */
static int open_with_parent(struct lb_ntfs *v, const char *path, ntfs_inode **ni,
                            ntfs_inode **dni, struct lb_err *err)
{
	char parent[4096], leaf[1024];
	int e;

	if (lbn_split_path(path, parent, sizeof(parent), leaf, sizeof(leaf)))
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "%s: not a file", path);
	*ni = lbn_open_path(v, path);
	*dni = *ni ? ntfs_pathname_to_inode(v->vol, NULL, parent) : NULL;
	if (!*ni || !*dni) {
		e = errno;
		if (*ni)
			ntfs_inode_close(*ni);
		return lb_err_set(err, LB_EK_IO, e, "%s: %s", v->io->name, path);
	}
	return 0;
}

int lb_ntfs_shape(struct lb_ntfs *v, const char *path, struct lb_ntfs_shape *s,
                  struct lb_err *err)
{
	ntfs_inode *ni, *dni;
	int n, e;

	memset(s, 0, sizeof(*s));
	if (open_with_parent(v, path, &ni, &dni, err))
		return -1;
	if (count_attrs(ni, s)) {
		e = errno;
		ntfs_inode_close(ni);
		ntfs_inode_close(dni);
		return lb_err_set(err, LB_EK_IO, e, "%s: reading the attributes of %s", v->io->name,
		                  path);
	}
	/* the 8.3 name in this directory (ENODATA: none) */
	n = ntfs_get_ntfs_dos_name(ni, dni, s->short_name, sizeof(s->short_name) - 1);
	s->short_name[n > 0 ? n : 0] = '\0';
	ntfs_inode_close(ni);
	ntfs_inode_close(dni);
	return 0;
}

int lb_ntfs_set_short_name(struct lb_ntfs *v, const char *path, const char *short_name,
                           struct lb_err *err)
{
	ntfs_inode *ni, *dni;

	if (!v->writable)
		return lb_err_set(err, LB_EK_INTERNAL, EROFS, "%s: volume opened read-only",
		                  v->io->name);
	if (!short_name[0] || strlen(short_name) > 12)
		return lb_err_set(err, LB_EK_INPUT, EINVAL, "%s: short name \"%s\"", path, short_name);
	if (open_with_parent(v, path, &ni, &dni, err))
		return -1;
	/* closes both inodes, on success and on error */
	if (ntfs_set_ntfs_dos_name(ni, dni, short_name, strlen(short_name), 0))
		return lb_err_set(err, LB_EK_IO, errno, "%s: giving %s the short name %s",
		                  v->io->name, path, short_name);
	return 0;
}
