/* lb_dlopen.h - optional libraries, loaded when a run needs them.
 *
 * A library that only some runs need is not linked; it is dlopen()ed by
 * soname the first time it is needed, and every function is resolved once
 * into a table: libdislocker (a BitLocker unlock, bitlocker/), libarchive
 * (an evidence bundle, output/lb_archive.c), libcurl (an upload,
 * fleet/upload_curl.c), libnbd (a VM image or NBD target,
 * dev/lb_source_nbd.c).  Start-up then loads only what every scan needs
 * (docs/design.md, "Start-up").
 *
 * So that packagers and the boot-image builder still see the dependency,
 * each such library is declared with LB_ELF_NOTE_DLOPEN(), which puts an
 * ELF note in the binary as the "dlopen metadata" specification describes
 * (https://systemd.io/ELF_DLOPEN_METADATA/, also at uapi-group.org):
 *
 *   section .note.dlopen, allocated, read-only, 4-byte aligned, 0-padded;
 *   note owner "FDO", note type 0x407c0c0a;
 *   descriptor: a NUL-terminated JSON array of objects
 *     [{"feature":"…","description":"…","priority":"…","soname":["…"]}]
 *
 * Read it with `readelf -n BINARY` or `readelf -p .note.dlopen BINARY`
 * (bootmedia/build.sh does, to copy the library into the initramfs). */
#ifndef LB_DLOPEN_H
#define LB_DLOPEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define LB_ELF_NOTE_DLOPEN_OWNER "FDO"
#define LB_ELF_NOTE_DLOPEN_TYPE UINT32_C(0x407c0c0a)
#define LB_DLOPEN_REQUIRED "required"
#define LB_DLOPEN_RECOMMENDED "recommended"
#define LB_DLOPEN_SUGGESTED "suggested"

/* The JSON descriptor for one library with one soname.  Arguments are
 * string literals without quotes or backslashes. */
#define LB_DLOPEN_JSON(feature, description, priority, soname)                 \
	"[{\"feature\":\"" feature "\",\"description\":\"" description           \
	"\",\"priority\":\"" priority "\",\"soname\":[\"" soname "\"]}]"

/* LB_ELF_NOTE_DLOPEN(ident, feature, description, priority, soname): one
 * ELF note (at file scope).  The name "FDO\0" is 4 bytes, so the
 * descriptor starts 4-aligned after it; the descriptor is padded with
 * zeros to a multiple of 4 by the array size. */
#define LB_ELF_NOTE_DLOPEN(ident, feature, description, priority, soname)      \
	__attribute__((used, section(".note.dlopen"), aligned(4)))            \
	static const struct {                                                  \
		uint32_t namesz, descsz, type;                                 \
		char name[4];                                                  \
		char desc[(sizeof(LB_DLOPEN_JSON(feature, description,          \
		                  priority, soname)) + 3) & ~(size_t)3];        \
	} ident = {                                                            \
		sizeof(LB_ELF_NOTE_DLOPEN_OWNER),                              \
		sizeof(LB_DLOPEN_JSON(feature, description, priority, soname)), \
		LB_ELF_NOTE_DLOPEN_TYPE,                                       \
		LB_ELF_NOTE_DLOPEN_OWNER,                                      \
		LB_DLOPEN_JSON(feature, description, priority, soname),         \
	}

/* One function of a library: its name and where its address goes. */
struct lb_dlsym {
	const char *name;
	void **slot;
};

/* How a library is loaded (lb_dlopen's mode). */
enum lb_dlopen_mode {
	/* RTLD_NOW | RTLD_LOCAL: the usual (libarchive, libcurl, libnbd).  The
	 * library's own undefined names still bind to the global scope first:
	 * libarchive's crc32 to the linked zlib. */
	LB_DLOPEN_PLAIN,
	/* The library's symbols neither go into the global scope nor are taken
	 * from it: for a library that exports names other libraries also
	 * define (libdislocker's crc32).  RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
	 * in sanitizer builds, whose runtimes refuse RTLD_DEEPBIND, the library
	 * gets a link-map namespace of its own instead (dlmopen LM_ID_NEWLM),
	 * with its own copy of libc. */
	LB_DLOPEN_ISOLATED,
};

/* Loads soname and resolves every entry of syms (call it once and keep
 * the handle: an isolated load in a sanitizer build makes a new namespace
 * each time).  On failure nothing is kept loaded and err
 * says, in one line, what is missing and which Debian package provides it:
 *   "BitLocker unlocking needs libdislocker.so.0.7 (Debian package
 *    libdislocker0.7): libdislocker.so.0.7: cannot open shared object file…"
 * what names the feature ("BitLocker unlocking"), package the package. */
void *lb_dlopen(const char *soname, const char *package, const char *what,
                enum lb_dlopen_mode mode, const struct lb_dlsym *syms, size_t nsyms,
                struct lb_err *err);

/* Test hook (tests/support/lb_dlopen_hook.c, linked only into
 * loopbreaker-test): may replace the soname lb_dlopen asks for, so that a
 * test can see the error for a missing library.  NULL everywhere else. */
extern const char *lb_test_dlopen_soname(const char *soname) __attribute__((weak));

#endif
