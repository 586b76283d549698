/* lb_archive.h - libarchive, loaded the first time a bundle is written or read.
 *
 * Only `fix --evidence` (writing an evidence bundle) and `undo` (reading
 * one) need libarchive and the compressors and XML library it pulls in, so
 * it is not linked: lb_archive_ready() dlopen()s it by soname (lb_dlopen)
 * and resolves every archive_X function this project calls into lb_arc.X.
 * <archive.h> (libarchive-dev) is only used for types and constants.
 *
 * It is loaded plainly (RTLD_NOW | RTLD_LOCAL), not isolated: its gzip and
 * zip writers must bind crc32() to zlib's, which is in the global scope
 * (the binary links zlib).  libdislocker, the other library that exports a
 * crc32(), is loaded isolated (bitlocker/lb_bitlocker_dis.c), so it is not
 * in the global scope either way. */
#ifndef LB_ARCHIVE_H
#define LB_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>
#include <time.h>

#include "lb_err.h"

/* archive_X as lb_arc.X; NULL until lb_archive_ready succeeds. */
struct lb_archive_fns {
	const char *(*error_string)(struct archive *a);
	struct archive *(*write_new)(void);
	int (*write_free)(struct archive *a);
	int (*write_set_format_zip)(struct archive *a);
	int (*write_set_format_pax_restricted)(struct archive *a);
	int (*write_add_filter_xz)(struct archive *a);
	int (*write_add_filter_gzip)(struct archive *a);
	int (*write_add_filter_zstd)(struct archive *a);
	int (*write_open_fd)(struct archive *a, int fd);
	int (*write_header)(struct archive *a, struct archive_entry *e);
	la_ssize_t (*write_data)(struct archive *a, const void *buf, size_t len);
	int (*write_close)(struct archive *a);
	struct archive *(*read_new)(void);
	int (*read_support_filter_all)(struct archive *a);
	int (*read_support_format_all)(struct archive *a);
	int (*read_open_filename)(struct archive *a, const char *path, size_t block);
	int (*read_next_header)(struct archive *a, struct archive_entry **e);
	la_ssize_t (*read_data)(struct archive *a, void *buf, size_t len);
	int (*read_free)(struct archive *a);
	struct archive_entry *(*entry_new)(void);
	void (*entry_free)(struct archive_entry *e);
	void (*entry_set_pathname)(struct archive_entry *e, const char *name);
	void (*entry_set_size)(struct archive_entry *e, la_int64_t size);
	void (*entry_set_filetype)(struct archive_entry *e, unsigned int type);
	void (*entry_set_perm)(struct archive_entry *e, mode_t perm);
	void (*entry_set_mtime)(struct archive_entry *e, time_t sec, long nsec);
	la_int64_t (*entry_size)(struct archive_entry *e);
	const char *(*entry_pathname)(struct archive_entry *e);
};
extern struct lb_archive_fns lb_arc;

/* Loads libarchive once: 0, or -1 with err ("an evidence bundle needs
 * libarchive.so.13 (Debian package libarchive13): …").  Call it before
 * any lb_arc function. */
int lb_archive_ready(struct lb_err *err);

#endif
