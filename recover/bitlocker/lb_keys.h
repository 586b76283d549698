/* lb_keys.h - BitLocker recovery passwords and key escrow files.
 *
 *  - Recovery password checks: 48 digits in 8 blocks of 6; each block is a
 *    multiple of 11 below 720896 (block / 11 is a 16-bit word).  A block
 *    check for interactive prompts that validate as the operator types.
 *  - A key store loaded from escrow exports: CSV from Active Directory
 *    (msFVE-RecoveryInformation), Entra ID / Intune (Graph recoveryKeys),
 *    MBAM / ConfigMgr, CrowdStrike's BitLockerKeys.csv or any CSV with a
 *    recognisable key-ID and recovery-password column; Graph JSON
 *    ({"value":[...]} or a bare array).  Looked up by protector GUID.
 *  - A sealed bundle (one file, passphrase-protected with Argon2id +
 *    XSalsa20-Poly1305) so a boot stick need not carry keys in clear.
 *
 * Secrets: recovery passwords live only in sodium_malloc'd (guarded,
 * mlock'd) memory owned by the store; they are never written to an lb_err
 * message, a log or stdout.  lb_keys_free() wipes them.  Input buffers are
 * wiped before being freed.  Caveat: jansson keeps its own heap copies of
 * JSON strings while parsing and frees them without wiping (it has no
 * per-call allocator).
 *
 * All functions call sodium_init() themselves (idempotent). */
#ifndef LB_KEYS_H
#define LB_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define LB_RP_LEN 55             /* "123456-...-123456": 8 x 6 digits + 7 dashes */
#define LB_KEYS_GUID_STRLEN 39   /* same as LB_GUID_STRLEN */

/* ---- recovery passwords ---- */

enum lb_rp_block_status {
	LB_RP_BLOCK_OK = 0,
	LB_RP_BLOCK_INCOMPLETE,       /* fewer than 6 digits so far */
	LB_RP_BLOCK_NOT_DIGITS,
	LB_RP_BLOCK_NOT_MULTIPLE_OF_11,
	LB_RP_BLOCK_TOO_LARGE,        /* >= 720896, or no completion of the prefix can be below */
	LB_RP_BLOCK_TOO_LONG,         /* more than 6 characters */
};

/* Checks one block as typed so far (len 0..6 characters, digits only).
 * INCOMPLETE for a valid prefix shorter than 6. */
enum lb_rp_block_status lb_rp_check_block(const char *block, size_t len);
const char *lb_rp_block_status_text(enum lb_rp_block_status st);

/* Normalises a recovery password: accepts 48 digits with any of '-', ' ',
 * '\t' as separators (or none), surrounding blanks ignored.  On success
 * writes the dashed form (LB_RP_LEN chars + NUL) to out and returns 0.  On
 * failure returns -1 with LB_EK_INPUT and a message naming the bad block
 * number (never its digits); out is wiped. */
int lb_rp_normalize(const char *in, char out[LB_RP_LEN + 1], struct lb_err *err);
bool lb_rp_is_valid(const char *in);
/* Why in is not a recovery password, in words that never quote it: "block
 * 3 fails its checksum", "has 47 digits, expected 48", "contains a
 * character that is not a digit or dash".  NULL if it is a valid one. */
const char *lb_rp_problem(const char *in, char *buf, size_t cap);
/* True if s looks like a recovery password that may be mistyped: only
 * digits, dashes and blanks, and 40 to 56 digits (used to tell a data row
 * from a header row; says nothing about the checksum). */
bool lb_rp_lookalike(const char *s);

/* ---- key store ---- */

struct lb_keystore;

struct lb_key_entry {
	char guid[LB_KEYS_GUID_STRLEN]; /* "{...}" upper case; "" if the export had none */
	char host[64];                  /* computer / device name or id, may be "" */
	char source[24];                /* "ad", "entra", "mbam", "crowdstrike", "csv", "json", "sealed" */
	const char *recovery_password;  /* LB_RP_LEN chars, in secure memory owned by the store */
};

struct lb_keys_stats {
	size_t rows;        /* data rows / JSON objects seen */
	bool headerless;    /* a CSV without a header row (columns told by content) */
	size_t loaded;      /* entries added */
	size_t duplicates;  /* same GUID and same password already present */
	size_t bad_key;     /* row skipped: missing or malformed recovery password */
	size_t bad_guid;    /* row kept without GUID: key ID missing or unparsable */
};

struct lb_keystore *lb_keys_new(void);
void lb_keys_free(struct lb_keystore *ks);       /* wipes; NULL-safe */

/* Loads an escrow export; the format is detected from the content (JSON
 * if it starts with '{' or '[', else CSV by its header row).  UTF-8 with or
 * without BOM, UTF-16LE with BOM (PowerShell '>' redirection), CRLF, any
 * column order and case, ',', ';' or TAB separators, RFC 4180 quoting, and
 * Windows PowerShell's "#TYPE ..." first line are accepted.  A file with no
 * usable key is LB_EK_INPUT.  stats may be NULL. */
int lb_keys_load_file(struct lb_keystore *ks, const char *path, struct lb_keys_stats *stats,
                      struct lb_err *err);
int lb_keys_load_buffer(struct lb_keystore *ks, const char *data, size_t len, const char *name,
                        struct lb_keys_stats *stats, struct lb_err *err);

size_t lb_keys_count(const struct lb_keystore *ks);
const struct lb_key_entry *lb_keys_entry(const struct lb_keystore *ks, size_t i);

/* First entry with that protector GUID (any case, braces optional), at
 * index >= *pos; *pos is set past it so callers can iterate over several
 * candidates (stale exports may hold two keys for one ID).  NULL if none. */
const struct lb_key_entry *lb_keys_find(const struct lb_keystore *ks, const char *guid,
                                        size_t *pos);
const struct lb_key_entry *lb_keys_lookup(const struct lb_keystore *ks, const char *guid);

/* ---- notes: why keys that should be there are not ----
 *
 * Problems met while gathering keys, kept with the store so that a volume
 * that stays locked can say why (lb_unlock_open puts them in its message):
 *  - guid "": concerns every locked volume, e.g. "keys from fleet.sealed
 *    could not be opened: wrong passphrase or damaged file";
 *  - guid "{...}": concerns the volume with that protector only, e.g.
 *    "escrow entry for {83AB...} in keys.csv: block 3 fails its checksum".
 * A note never holds key material (lb_redact_digits runs over it too).
 * lb_keys_note returns 0, or -1 when out of memory; the store keeps at most
 * LB_KEYS_MAX_NOTES notes (later ones are counted, not kept). */
#define LB_KEYS_MAX_NOTES 4096
int lb_keys_note(struct lb_keystore *ks, const char *guid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t lb_keys_nnotes(const struct lb_keystore *ks);       /* kept */
size_t lb_keys_notes_dropped(const struct lb_keystore *ks);
/* Note i: its text, and its protector ID ("" for every volume) in *guid. */
const char *lb_keys_note_text(const struct lb_keystore *ks, size_t i, const char **guid);
/* Entries without a key ID (bare lists, --recovery-password, rows whose ID
 * was unreadable): tried on every volume that has a recovery protector. */
size_t lb_keys_count_unidentified(const struct lb_keystore *ks);

/* ---- sealed bundle ---- */

struct lb_seal_params {
	unsigned long long opslimit;   /* crypto_pwhash opslimit */
	size_t memlimit;               /* crypto_pwhash memlimit, bytes */
};
/* Defaults: crypto_pwhash_OPSLIMIT_MODERATE / MEMLIMIT_MODERATE (256 MiB). */
void lb_seal_params_default(struct lb_seal_params *p);
/* Fast settings for tests (INTERACTIVE: 64 MiB). */
void lb_seal_params_interactive(struct lb_seal_params *p);

/* Writes every entry of ks to out_path (created 0600, written to a temp
 * name, fsync'd, renamed).  params NULL = defaults.  Refuses an empty store
 * and an empty passphrase (LB_EK_USAGE). */
int lb_keys_seal(const struct lb_keystore *ks, const char *out_path, const char *passphrase,
                 size_t passphrase_len, const struct lb_seal_params *params, struct lb_err *err);
/* Loads escrow files and seals them in one go. */
int lb_keys_seal_files(const char *const *escrow_paths, size_t n_paths, const char *out_path,
                       const char *passphrase, size_t passphrase_len,
                       const struct lb_seal_params *params, struct lb_err *err);
/* Adds the entries of a sealed file to ks.  Wrong passphrase or tampered
 * file: LB_EK_REFUSED "wrong passphrase or damaged sealed key file";
 * not a sealed file / bad header: LB_EK_INPUT. */
int lb_keys_open_sealed(struct lb_keystore *ks, const char *path, const char *passphrase,
                        size_t passphrase_len, struct lb_err *err);
/* True if the file starts with the sealed-bundle magic. */
bool lb_keys_is_sealed_file(const char *path);

/* A secret (passphrase, password) from the first line of a file, without
 * its line end and cut at LB_SECRET_MAX - 1 bytes, in sodium's guarded
 * memory: free it with lb_keys_free_secret (wipes).  The file is read with
 * lb_read_file (at most LB_SECRET_FILE_MAX bytes) and its buffer wiped.
 * what names the file's role in messages ("passphrase file"; NULL: "file").
 * Errors name the file, never its content: "pass: empty passphrase file"
 * (also when the first line is blank), "passphrase file nope: No such file
 * or directory"; missing, empty or over the limit LB_EK_INPUT, a failed
 * read LB_EK_IO. */
#define LB_SECRET_MAX 1024
#define LB_SECRET_FILE_MAX ((size_t)1 << 20)
char *lb_keys_read_secret(const char *path, const char *what, struct lb_err *err);
void lb_keys_free_secret(char *s);

/* ---- internal to lb_keys*.c (defined LB_KEYS_INTERNAL), not a public API ---- */
#ifdef LB_KEYS_INTERNAL
#define LBK_SEAL_MAGIC "LBKEYS\x1a\x01"   /* 8 bytes */

struct lbk_note {
	char guid[LB_KEYS_GUID_STRLEN];
	char *text;
};

struct lb_keystore {
	struct lb_key_entry *entries;   /* plain heap: GUIDs, hosts */
	char *secure;                   /* sodium_allocarray: cap x (LB_RP_LEN + 1) */
	size_t n, cap;
	struct lbk_note *notes;
	size_t nnotes, capnotes, notes_dropped;
};

/* Adds one entry (rp already normalised); counts duplicates in st. */
int lbk_add(struct lb_keystore *ks, const char *guid_canon, const char rp[LB_RP_LEN + 1],
            const char *host, const char *source, struct lb_keys_stats *st, struct lb_err *err);
void lbk_wipe_free(void *p, size_t n);
/* UTF-8 (BOM stripped) or UTF-16LE/BE with BOM (or LE without) -> malloc'd
 * NUL-terminated UTF-8; UTF-16 through lb_utf16le_to_utf8, so it ends at a
 * NUL unit and unpaired surrogates become U+FFFD. */
int lbk_to_utf8(const char *in, size_t len, char **out, size_t *olen, struct lb_err *err);
int lbk_load_csv(struct lb_keystore *ks, const char *s, size_t n, const char *name,
                 struct lb_keys_stats *st, struct lb_err *err);
int lbk_load_json(struct lb_keystore *ks, const char *s, size_t n, const char *name,
                  struct lb_keys_stats *st, struct lb_err *err);

#endif /* LB_KEYS_INTERNAL */

#endif
