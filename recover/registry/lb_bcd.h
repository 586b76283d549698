/* lb_bcd.h - the Windows Boot Configuration Data store (a registry hive at
 * \EFI\Microsoft\Boot\BCD on the FAT32 EFI System Partition).
 *
 * FAT access: mtools run as a subprocess (mcopy/mren/mdir with
 * "-i IMAGE@@OFFSET", MTOOLS_SKIP_CHECK=1), no kernel mount.  Hive access:
 * libhivex through lb_hivedit on a local copy.
 *
 * Layout used here: Objects\{GUID}\Elements\<element type hex>\Element.
 * The boot manager object {9dea862c-5cdd-4e70-acc1-f32b344d4795} holds the
 * default entry's GUID in element 23000003 (REG_SZ); an OS loader entry
 * holds its description in 12000004 (REG_SZ) and safe boot in 25000080
 * (REG_BINARY, u64 little-endian: 0 minimal, 1 network, 2 dsrepair). */
#ifndef LB_BCD_H
#define LB_BCD_H

#include <stddef.h>
#include <stdint.h>

#include "lb_err.h"

#define LB_BCD_BOOTMGR_GUID "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define LB_BCD_ESP_PATH "::/EFI/Microsoft/Boot/BCD"
#define LB_BCD_ESP_NEW_PATH "::/EFI/Microsoft/Boot/BCD.NEW"

enum lb_safeboot {
	LB_SAFEBOOT_NONE = -1,   /* element absent: normal boot */
	LB_SAFEBOOT_MINIMAL = 0,
	LB_SAFEBOOT_NETWORK = 1,
	LB_SAFEBOOT_DSREPAIR = 2,
};

struct lb_bcd_entry {
	char guid[39];           /* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", as stored */
	char description[256];   /* element 12000004, UTF-8 ("" if absent) */
	uint32_t type;           /* Objects\{GUID}\Description\Type (0x10200003 = OS loader) */
	int safeboot;            /* enum lb_safeboot */
};

/* ---- ESP (FAT) side: mtools ------------------------------------------ */

/* Copies \EFI\Microsoft\Boot\BCD from the FAT volume at byte offset
 * esp_offset of image to dest (a new local file; an existing dest is
 * refused).  LB_EK_IO when mtools fails (message = mtools' first line). */
int lb_bcd_fetch(const char *image, uint64_t esp_offset, const char *dest, struct lb_err *err);
/* The same for another file of the ESP (an mtools path, "::/EFI/…"). */
int lb_bcd_fetch_path(const char *image, uint64_t esp_offset, const char *esp_path,
                      const char *dest, struct lb_err *err);

/* Completes a replacement cut off between lb_bcd_put's two renames: BCD
 * absent, BCD.NEW present -> BCD.NEW renamed to BCD.  Refused
 * (LB_EK_REFUSED) if BCD exists. */
int lb_bcd_complete(const char *image, uint64_t esp_offset, struct lb_err *err);

/* Puts src back as \EFI\Microsoft\Boot\BCD: src must be a clean hive with a
 * boot manager object; it is copied to BCD.NEW on the volume, read back and
 * compared, then BCD is renamed to evidence_name (8.3, e.g. "BCD.LB1"; an
 * existing one is refused, LB_EK_REFUSED) and BCD.NEW to BCD.  The only
 * window without a BCD is between the two renames; the evidence copy is
 * the original file itself, untouched. */
int lb_bcd_put(const char *image, uint64_t esp_offset, const char *src, const char *evidence_name,
               struct lb_err *err);

/* A leftover BCD.NEW whose cluster chain runs into a free cluster (a put
 * cut off between mtools' directory and FAT writes) loses its directory
 * entry (marked deleted; no FAT touched: freeing its chain would free
 * clusters it does not own).  *dropped = 1 if so.  Call before lb_bcd_put. */
int lb_bcd_drop_broken_new(const char *image, uint64_t esp_offset, int *dropped,
                           struct lb_err *err);

/* ---- hive side ------------------------------------------------------- */

/* Default boot entry of a BCD hive file (read-only). */
int lb_bcd_default(const char *bcd_path, struct lb_bcd_entry *e, struct lb_err *err);

/* Sets (mode 0..2) or clears (LB_SAFEBOOT_NONE: the element key is
 * deleted) safe boot on the entry guid (NULL = the default entry) of the
 * BCD hive in_path, committing to out_path (a new file).  *old_mode (may be
 * NULL) receives the previous setting. */
int lb_bcd_set_safeboot(const char *in_path, const char *out_path, const char *guid, int mode,
                        int *old_mode, struct lb_err *err);

#endif
