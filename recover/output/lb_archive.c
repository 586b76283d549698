/* lb_archive.c - libarchive by dlopen (see lb_archive.h). */
#include "lb_archive.h"

#include <stdbool.h>

#include "lb_dlopen.h"

#ifndef LB_ARCHIVE_SONAME
#define LB_ARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef LB_ARCHIVE_PACKAGE
#define LB_ARCHIVE_PACKAGE "libarchive13"
#endif

LB_ELF_NOTE_DLOPEN(lb_note_archive, "evidence", "writing and reading evidence bundles",
                   LB_DLOPEN_RECOMMENDED, LB_ARCHIVE_SONAME);

struct lb_archive_fns lb_arc;

#define ARC_SYM(f) { "archive_" #f, (void **)&lb_arc.f }

int lb_archive_ready(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		ARC_SYM(error_string), ARC_SYM(write_new), ARC_SYM(write_free),
		ARC_SYM(write_set_format_zip), ARC_SYM(write_set_format_pax_restricted),
		ARC_SYM(write_add_filter_xz), ARC_SYM(write_add_filter_gzip),
		ARC_SYM(write_add_filter_zstd), ARC_SYM(write_open_fd), ARC_SYM(write_header),
		ARC_SYM(write_data), ARC_SYM(write_close), ARC_SYM(read_new),
		ARC_SYM(read_support_filter_all), ARC_SYM(read_support_format_all),
		ARC_SYM(read_open_filename), ARC_SYM(read_next_header), ARC_SYM(read_data),
		ARC_SYM(read_free), ARC_SYM(entry_new), ARC_SYM(entry_free),
		ARC_SYM(entry_set_pathname), ARC_SYM(entry_set_size), ARC_SYM(entry_set_filetype),
		ARC_SYM(entry_set_perm), ARC_SYM(entry_set_mtime), ARC_SYM(entry_size),
		ARC_SYM(entry_pathname),
	};
	static void *handle;

	if (!handle)
		handle = lb_dlopen(LB_ARCHIVE_SONAME, LB_ARCHIVE_PACKAGE, "an evidence bundle",
		                   LB_DLOPEN_PLAIN, syms, sizeof(syms) / sizeof(syms[0]), err);
	return handle ? 0 : -1;
}
