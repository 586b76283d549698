/* lb_ntfs.h - an NTFS volume opened through libntfs-3g on any lb_io.
 *
 * No FUSE, no kernel mount: libntfs-3g runs on our own
 * ntfs_device_operations, which forward to the lb_io below (a partition
 * window, a BitLocker layer, a fault injector…).  Paths are volume-relative,
 * with '\' or '/' separators, looked up case-insensitively as Windows does;
 * names come back in their real case.
 *
 * libntfs-3g is not thread-safe: use one volume at a time per process. */
#ifndef LB_NTFS_H
#define LB_NTFS_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_io.h"

struct lb_ntfs;

enum lb_ntfs_flags {
	LB_NTFS_RDONLY = 0,
	LB_NTFS_RW = 1 << 0,
	LB_NTFS_DISCARD_HIBERNATION = 1 << 1, /* mount RW although Windows is hibernated */
	LB_NTFS_DISCARD_JOURNAL = 1 << 2,     /* reset an unclean $LogFile (loses its changes) */
};

/* Volume state read without writing (a read-only mount). */
struct lb_ntfs_state {
	bool hibernated;        /* \hiberfil.sys starts with hibr/HIBR */
	char hiber_magic[5];
	bool journal_clean;     /* $LogFile empty, or restart area says clean */
	bool journal_known;     /* the restart pages could be read */
	char journal_version[16];/* "1.1", "2.0", "" when empty */
	bool dirty;             /* $Volume dirty flag (chkdsk scheduled) */
	char label[128];
	uint64_t serial;
	unsigned cluster_size;
	unsigned sector_size;
	char ntfs_version[8];   /* "3.1" */
};

/* Times in 100 ns units since 1601-01-01 UTC, as NTFS stores them. */
struct lb_ntfs_stat {
	bool is_dir;
	uint64_t size;          /* unnamed $DATA size */
	uint64_t mft_ref;
	int64_t created, modified, mft_changed, accessed; /* $STANDARD_INFORMATION */
	uint32_t attributes;    /* FILE_ATTR_* */
};

int lb_ntfs_open(struct lb_io *io, unsigned flags, struct lb_ntfs **out, struct lb_err *err);
/* Unmounts, flushing everything.  Returns -1 with err set if the flush
 * failed (the volume may then be inconsistent: report it). */
int lb_ntfs_close(struct lb_ntfs *v, struct lb_err *err);

int lb_ntfs_state(struct lb_ntfs *v, struct lb_ntfs_state *st, struct lb_err *err);

/* 0 found, 1 not found, -1 error. */
int lb_ntfs_stat(struct lb_ntfs *v, const char *path, struct lb_ntfs_stat *st, struct lb_err *err);

/* Calls cb for each entry (not "." or "..", no DOS 8.3 aliases), in index
 * order, with the name in UTF-8 and its real case.  cb returns non-zero to
 * stop.  Returns 1 if the directory does not exist. */
typedef int (*lb_ntfs_dir_cb)(void *arg, const char *name, bool is_dir);
int lb_ntfs_readdir(struct lb_ntfs *v, const char *dir, lb_ntfs_dir_cb cb, void *arg,
                    struct lb_err *err);

/* Reads up to n bytes at off; returns bytes read or -1. */
int64_t lb_ntfs_pread(struct lb_ntfs *v, const char *path, void *buf, uint64_t n, uint64_t off,
                      struct lb_err *err);
/* Reads a whole file (at most max bytes, else an error) into a malloc'd buffer. */
int lb_ntfs_read_all(struct lb_ntfs *v, const char *path, uint64_t max, uint8_t **data,
                     uint64_t *len, struct lb_err *err);
/* A file kept open for reads at offsets (a hive read a few cells at a time,
 * without a copy of the whole file).  lb_ntfs_file_open runs the checks
 * lb_ntfs_read_all runs (ENOENT, EISDIR, over max bytes: LB_EK_INPUT, with
 * the same messages) and gives the unnamed $DATA size in *size.
 * lb_ntfs_file_pread reads up to n bytes at off, short only at the end of
 * the data; returns bytes read or -1 (LB_EK_IO).  Close before the volume. */
struct lb_ntfs_file;
int lb_ntfs_file_open(struct lb_ntfs *v, const char *path, uint64_t max, struct lb_ntfs_file **f,
                      uint64_t *size, struct lb_err *err);
int64_t lb_ntfs_file_pread(struct lb_ntfs_file *f, void *buf, uint64_t n, uint64_t off,
                           struct lb_err *err);
void lb_ntfs_file_close(struct lb_ntfs_file *f);

/* Write operations (volume opened LB_NTFS_RW). */
int lb_ntfs_mkdir_p(struct lb_ntfs *v, const char *path, struct lb_err *err);
/* Gives the file a new name in another directory (hard link, then removal
 * of the old name: the data is not copied).  The target must not exist. */
int lb_ntfs_move(struct lb_ntfs *v, const char *from, const char *to, struct lb_err *err);
int lb_ntfs_unlink(struct lb_ntfs *v, const char *path, struct lb_err *err);
/* Creates a new file (it must not exist) holding data, with the four
 * $STANDARD_INFORMATION times given (NTFS units) and the file attributes. */
int lb_ntfs_create_file(struct lb_ntfs *v, const char *path, const void *data, uint64_t len,
                        const struct lb_ntfs_stat *times, struct lb_err *err);
/* Overwrites n bytes at off inside an existing file (no growth). */
int lb_ntfs_pwrite(struct lb_ntfs *v, const char *path, const void *buf, uint64_t n, uint64_t off,
                   struct lb_err *err);

/* What a copy of a file's unnamed data stream does not capture, and its
 * 8.3 short name (lb_ntfs_names.c). */
struct lb_ntfs_shape {
	unsigned links;         /* names in directories (hard links), 8.3 aliases not counted */
	unsigned streams;       /* named $DATA attributes (alternate data streams) */
	char stream[256];       /* the first one's name, UTF-8 */
	bool sparse;            /* the unnamed $DATA is sparse */
	char short_name[64];    /* 8.3 name of the file in path's directory (upper case), "" if none */
};

/* Reads only.  0, or -1 with err (the file or its directory cannot be read). */
int lb_ntfs_shape(struct lb_ntfs *v, const char *path, struct lb_ntfs_shape *s,
                  struct lb_err *err);
/* Gives the file at path the 8.3 name short_name in its directory (the long
 * name becomes a Win32 name, or Win32+DOS when the two are the same name),
 * replacing any other 8.3 name it has there.  Not atomic: libntfs-3g adds
 * the 8.3 name, then removes and re-adds the long one. */
int lb_ntfs_set_short_name(struct lb_ntfs *v, const char *path, const char *short_name,
                           struct lb_err *err);

/* Converts NTFS time to Unix seconds, and formats as "2024-07-19T04:09:00Z"
 * (fractions kept when non-zero: "…:00.5Z"). */
int64_t lb_ntfs_time_to_unix(int64_t nt);
void lb_ntfs_time_iso(int64_t nt, char out[32]);

/* Installs libntfs-3g's log handler: quiet unless verbose.  Call once
 * from main (the library's logging is process-global). */
void lb_ntfs_library_init(bool verbose);

/* $MFTMirr, checked and repaired on the raw volume (lb_ntfs_mirror.c), for
 * the one state libntfs-3g refuses that a cut MFT extension leaves: a
 * mirror older than $MFT. */
enum lb_mftmirr_state { LB_MIRR_OK, LB_MIRR_STALE, LB_MIRR_DAMAGED };

struct lb_mftmirr {
	enum lb_mftmirr_state state;
	unsigned nrecords;      /* records the mirror holds (4, or a cluster's worth) */
	uint32_t stale;         /* bit i: record i of the mirror differs from $MFT */
	uint32_t record_size;
	uint64_t mft_off, mirror_off; /* byte offsets in the volume */
	uint8_t *mft, *mirror;  /* the raw records, nrecords * record_size each */
	char why[160];          /* "$MFTMirr record 0 older than $MFT", or what is damaged */
};

/* Reads only.  -1 with err if the boot sector or the records cannot be read. */
int lb_mftmirr_check(struct lb_io *io, struct lb_mftmirr *m, struct lb_err *err);
/* Rewrites the stale mirror records from $MFT, after checking that both are
 * still the bytes m was made from; syncs. */
int lb_mftmirr_repair(struct lb_io *io, const struct lb_mftmirr *m, struct lb_err *err);
void lb_mftmirr_free(struct lb_mftmirr *m);
/* Checks win's mirror into m; if it is stale, returns a read-only view of
 * win in which the mirror already holds the $MFT records (what the repair
 * will write), so that libntfs-3g opens it; else NULL.  m's buffers back
 * the view: free m after closing it. */
struct lb_io *lb_mftmirr_view(struct lb_io *win, struct lb_mftmirr *m);

#endif
