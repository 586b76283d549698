/* lb_file.h - the file helpers every layer shares (util-linux all-io.h
 * style): one write-all, one read-whole-file, one atomic replace.
 *
 * lb_write_all: write(2) until all n bytes are out, EINTR retried; 0, or -1
 * with errno set.
 *
 * lb_read_file: the whole of a regular file (or pipe) into a malloc'd
 * buffer with a NUL after the last byte (so text can be parsed in place);
 * more than max bytes is an LB_EK_INPUT error naming the limit.  Errors
 * name the path, never the content: a missing or unreadable (EACCES) file,
 * a directory or over the limit is LB_EK_INPUT, a failed read LB_EK_IO.
 * Fit for key files: every buffer it drops on the way (growing, errors) is
 * wiped first, so the bytes are only ever in the buffer returned, which
 * the caller wipes (sodium_memzero) before freeing it.
 *
 * lb_replace_file: path gets exactly data, atomically and durably, or is
 * left as it was: the bytes go to a temporary file in the same directory
 * (mode `mode`, O_EXCL), which is fsync'd, renamed over path, and then the
 * directory is fsync'd, so that after a power cut path holds either the old
 * or the new content, never a mix or nothing.  This is the strongest
 * durability any caller needs (reports, sealed key bundles, hives written
 * back, the dashboard), so every caller uses it. */
#ifndef LB_FILE_H
#define LB_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lb_err.h"

int lb_write_all(int fd, const void *buf, size_t n);
int lb_read_file(const char *path, size_t max, uint8_t **data, size_t *len, struct lb_err *err);
int lb_replace_file(const char *path, const void *data, size_t len, mode_t mode,
                    struct lb_err *err);
/* fsync the directory that holds path (after a rename or create in it). */
int lb_fsync_parent(const char *path, struct lb_err *err);

#endif
