/* lb_bitlocker.h - BitLocker volumes: metadata without a key, and a
 * decrypting lb_io layer through libdislocker.
 *
 * Two halves:
 *
 *  1. lb_bitlocker_probe(): parses the FVE metadata of a volume (no key
 *     needed, no library involved; written to be a fuzz target).  It lists
 *     the key protectors so that the operator (or lb_keys) can pick the
 *     right recovery password, and reports the encryption method and the
 *     conversion state.  The result never holds key material.
 *
 *  2. lb_bitlocker_open(): unlocks the volume with a recovery password, a
 *     user password, a .BEK startup-key file or the clear key of a
 *     suspended volume, and returns an lb_io presenting the *decrypted*
 *     volume (NTFS boot sector at offset 0).  Writes are encrypted.
 *
 * GUID format: every GUID string produced here is Windows' display form,
 * upper case with braces, e.g. "{3E55195C-8811-4D9B-97B4-2B9E5F8F5384}"
 * (what `manage-bde -protectors -get C:` prints as "ID:").  Functions that
 * take a GUID accept any case, with or without braces.
 *
 * libdislocker caveats (0.7.3, checked):
 *  - NOT thread-safe: global logging state, a global dis_errno.  Open and
 *    close BitLocker volumes from one thread, or hold a lock around
 *    lb_bitlocker_open() and every I/O on the returned layer.
 *  - dis_initialize() calls setlocale(LC_ALL, ""): lb_bitlocker_open()
 *    saves and restores the caller's LC_ALL around it.
 *  - dis_new() sets RLIMIT_CORE to 0 for the whole process (no core dumps
 *    after the first open).  This is left in place on purpose.
 *  - dislocker opens the volume O_RDWR whenever it can, even when asked for
 *    read-only; only its own read-only flag stops writes.
 *  - If all three metadata copies fail their CRC, dislocker 0.7.3 goes on
 *    with freed memory; lb_bitlocker_open() therefore probes first, refuses
 *    such volumes itself and forces dislocker onto the copy it validated.
 *  - Writes overlapping the metadata blocks are refused by dislocker (they
 *    are hidden from the NTFS above, and read back as zeros): EPERM here.
 *  - dis_destroy() would fclose(stdout) unless verbosity is L_QUIET; we
 *    always set L_QUIET (which also silences all of dislocker's logging).
 *  - Limits of 0.7.3 and what this layer does about them:
 *      encrypt-on-write (EOW) volumes: refused by dislocker; refused here
 *        first with LB_EK_INPUT and a clear message;
 *      only the first recovery-password protector is tried: with several,
 *        the VMK is derived here from the one the key opens and handed to
 *        dislocker as a private VMK file (lb_bitlocker_vmk.h);
 *      passwords are widened to UTF-16 byte by byte: we hand over Latin-1,
 *        so characters up to U+00FF work, others are refused (LB_EK_INPUT);
 *      Windows 11 .BEK files are rejected: a stripped copy is written to a
 *        private 0600 temp file (/dev/shm if possible), wiped and removed
 *        right after dis_initialize().
 *  - dislocker frees its VMK/FVEK copies without wiping them.
 */
#ifndef LB_BITLOCKER_H
#define LB_BITLOCKER_H

#include <stdbool.h>
#include <stdint.h>

#include "lb_err.h"
#include "lb_io.h"

#define LB_GUID_STRLEN 39             /* "{8-4-4-4-12}" + NUL */
#define LB_BITLOCKER_MAX_PROTECTORS 32
#define LB_BITLOCKER_FVE_BLOCK_MAX 65536  /* a metadata block never exceeds 64 KiB */

enum lb_bl_protector_type {
	LB_BLP_UNKNOWN = 0,
	LB_BLP_CLEAR_KEY,          /* 0x0000: protection suspended, no key needed */
	LB_BLP_TPM,                /* 0x0100 */
	LB_BLP_STARTUP_KEY,        /* 0x0200: .BEK file on a USB stick */
	LB_BLP_TPM_PIN,            /* 0x0500 */
	LB_BLP_RECOVERY_PASSWORD,  /* 0x0800: the 48-digit key admins escrow */
	LB_BLP_SMART_CARD,         /* 0x1000: public key / certificate */
	LB_BLP_PASSWORD,           /* 0x2000: user password (data volumes, To Go) */
};

struct lb_bitlocker_protector {
	char guid[LB_GUID_STRLEN];        /* "{...}", the protector (VMK) ID */
	enum lb_bl_protector_type type;
	uint16_t raw_type;                /* protection type as stored */
	char name[64];                    /* nested name if any ("DiskPassword", "ExternalKey"), UTF-8 */
	uint64_t modified;                /* FILETIME (100 ns since 1601 UTC), 0 if none */
};

enum lb_bl_state {   /* the "current state" word of the metadata block */
	LB_BLS_UNKNOWN = 0,
	LB_BLS_DECRYPTED = 1,
	LB_BLS_CONVERTING = 2,     /* encryption or decryption in progress */
	LB_BLS_EOW = 3,            /* encrypt-on-write being activated */
	LB_BLS_ENCRYPTED = 4,      /* fully encrypted (steady state) */
	LB_BLS_PAUSED = 5,         /* conversion paused */
};

struct lb_bitlocker_info {
	bool to_go;                       /* BitLocker To Go (MSWIN4.1 / FAT header) */
	bool encrypt_on_write;            /* "used space only" volume identifier GUID */
	unsigned sector_size;             /* from the volume header: 512 or 4096 */
	char volume_guid[LB_GUID_STRLEN]; /* BitLocker volume ID (FVE dataset GUID) */
	uint64_t created;                 /* FILETIME of the metadata */

	uint16_t method;                  /* raw encryption method, e.g. 0x8004 */
	const char *cipher;               /* "aes-xts", "aes-cbc", "aes-cbc-elephant", "unknown" */
	unsigned key_bits;                /* 128 or 256 (0 if unknown) */

	uint16_t curr_state, next_state;  /* raw */
	enum lb_bl_state state;           /* from curr_state */
	bool fully_encrypted;             /* curr == next == ENCRYPTED */
	bool suspended;                   /* a clear-key protector exists: anyone can unlock */

	uint64_t volume_size;             /* bytes the decrypted volume presents */
	uint64_t metadata_offset[3];      /* volume-relative byte offsets */
	unsigned metadata_valid;          /* bit i set: copy i passed all checks incl. CRC32 */
	unsigned metadata_used;           /* index (0..2) of the copy parsed below */
	uint64_t boot_backup_offset;      /* where the original NTFS boot sectors live */
	uint32_t boot_backup_sectors;

	char description[256];            /* "HOST C: 7/19/2024", UTF-8, may be empty */

	unsigned n_protectors;
	struct lb_bitlocker_protector protectors[LB_BITLOCKER_MAX_PROTECTORS];
};

/* Quick signature test on a volume's first 512 bytes: -FVE-FS- or a
 * BitLocker To Go header.  No validation. */
bool lb_bitlocker_is_bitlocker(const uint8_t sector0[512]);

/* Parses the FVE metadata of the volume `io` (a partition window or a
 * whole image).  Each of the three copies is checked (signature, version 2,
 * sizes and bounds, CRC32); the first good one is parsed.  Returns 0, or -1
 * with LB_EK_INPUT ("not a BitLocker volume", "metadata damaged: ...",
 * "version 1 (Windows Vista) unsupported") or LB_EK_IO. */
int lb_bitlocker_probe(struct lb_io *io, struct lb_bitlocker_info *out, struct lb_err *err);

/* Same, on a buffer holding the whole volume prefix (for fuzzing and
 * tests): offsets past `len` read as a truncated volume (LB_EK_INPUT). */
int lb_bitlocker_probe_buffer(const uint8_t *buf, size_t len, struct lb_bitlocker_info *out,
                              struct lb_err *err);

/* Same, on a file or block device at a byte offset; size 0 = to the end. */
int lb_bitlocker_probe_file(const char *path, uint64_t offset, uint64_t size,
                            struct lb_bitlocker_info *out, struct lb_err *err);

const char *lb_bl_protector_type_name(enum lb_bl_protector_type t); /* "recovery_password", ... */
const char *lb_bl_state_name(enum lb_bl_state s);                   /* "encrypted", ... */

/* Returns the index of the protector with that GUID (any case, braces
 * optional), or -1. */
int lb_bitlocker_find_protector(const struct lb_bitlocker_info *info, const char *guid);

/* Formats 16 on-disk (little-endian) GUID bytes as "{XXXXXXXX-...}". */
void lb_guid_format(const uint8_t raw[16], char out[LB_GUID_STRLEN]);
/* Parses a GUID string (any case, braces optional, surrounding blanks
 * ignored) into the canonical "{...}" form.  Returns 0 or -1. */
int lb_guid_canon(const char *in, char out[LB_GUID_STRLEN]);

/* ---- unlocking ---- */

enum lb_bitlocker_key_kind {
	LB_BLK_RECOVERY_PASSWORD = 1, /* secret: 48 digits, dashes/spaces optional */
	LB_BLK_PASSWORD,              /* secret: the user password, UTF-8 */
	LB_BLK_BEK_FILE,              /* secret: path of the .BEK startup-key file */
	LB_BLK_CLEAR_KEY,             /* suspended volume: secret unused */
};

struct lb_bitlocker_key {
	enum lb_bitlocker_key_kind kind;
	const char *secret;           /* never copied into messages or logs */
};

/* Opens the BitLocker volume stored at [offset, offset+size) of `path`
 * (size 0: up to the end of the file/device) and returns a layer that reads
 * and writes the decrypted volume.  io->size is the decrypted volume size,
 * io->sector_size the BitLocker sector size, io->name "<path>@<offset>
 * [bitlocker]".  With writable=false every write is refused by the layer.
 *
 * Errors: LB_EK_REFUSED for a wrong key ("wrong recovery password for
 * protector {GUID}"), a key kind the volume has no protector for, a startup
 * key belonging to another volume, or a volume mid-conversion;
 * LB_EK_INPUT for a malformed recovery password, damaged/unsupported
 * metadata or an unreadable .BEK file; LB_EK_IO when the device cannot be
 * opened.  Nothing is written before the key has been verified.
 *
 * If used_protector is not NULL it receives the GUID of the protector the
 * key was checked against (for the report: admins rotate those keys). */
struct lb_io *lb_bitlocker_open(const char *path, uint64_t offset, uint64_t size,
                                const struct lb_bitlocker_key *key, bool writable,
                                struct lb_err *err);
struct lb_io *lb_bitlocker_open2(const char *path, uint64_t offset, uint64_t size,
                                 const struct lb_bitlocker_key *key, bool writable,
                                 char used_protector[LB_GUID_STRLEN], struct lb_err *err);

#endif
