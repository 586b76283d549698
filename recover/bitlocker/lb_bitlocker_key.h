/* lb_bitlocker_key.h - turning a key into what libdislocker takes
 * (internal to the bitlocker layer; lb_bitlocker_dis.c is the only user).
 *
 * Contract: everything filled in here may hold secrets; the caller wipes
 * a struct lb_bl_key_use with lb_bl_key_use_wipe() and removes a startup-key
 * copy with lb_bl_bek_tmp_remove() on every path, success or failure. */
#ifndef LB_BITLOCKER_KEY_H
#define LB_BITLOCKER_KEY_H

#include <stddef.h>

#include "lb_bitlocker.h"
#include "lb_keys.h"

/* dislocker 0.7.3 cannot parse the startup-key files Windows 11 writes:
 * their external-key entry carries an extra nested entry (value type 0x17).
 * If the .BEK has nested entries other than the name (2) and key (1), a
 * stripped copy is written to a private temporary directory; the caller
 * wipes and removes it right after dis_initialize(). */
struct lb_bl_bek_tmp {
	char dir[256];
	char path[300];
	size_t len;
};

/* Restores LC_ALL as it was before dislocker's setlocale(LC_ALL, ""). */
struct lb_bl_saved_locale {
	char *all;
};

/* What the key is, and what lb_bitlocker_open2 gets ready from it. */
struct lb_bl_key_use {
	enum lb_bl_protector_type ptype;
	const char *what;                 /* "recovery password", for messages */
	char rp[LB_RP_LEN + 1];           /* normalised recovery password */
	char *pw;                         /* password as dislocker takes it */
	char want[LB_GUID_STRLEN];        /* the protector a .BEK opens */
	int first, nprot;                 /* first protector of the kind, how many */
};

/* Checks the key and turns it into k (secrets: wipe with lb_bl_key_use_wipe). */
int lb_bl_key_prepare(const struct lb_bitlocker_key *key, struct lb_bl_key_use *k, struct lb_err *err);
void lb_bl_key_use_wipe(struct lb_bl_key_use *k);

/* A startup-key file dislocker can parse: *use is path itself, or a
 * stripped private copy recorded in t (remove with lb_bl_bek_tmp_remove). */
int lb_bl_bek_sanitize(const char *path, struct lb_bl_bek_tmp *t, const char **use, struct lb_err *err);
void lb_bl_bek_tmp_remove(struct lb_bl_bek_tmp *t);

/* A secret (a stripped .BEK, a VMK) for dislocker to read: t->path, a 0600
 * file NAME in a fresh private directory (/dev/shm when writable: RAM
 * only).  Remove it with lb_bl_bek_tmp_remove (which overwrites it first). */
int lb_bl_secret_tmp(struct lb_bl_bek_tmp *t, const char *name, const void *data, size_t n,
                     struct lb_err *err);

/* dislocker calls setlocale(LC_ALL, ""); these put LC_ALL back. */
void lb_bl_locale_save(struct lb_bl_saved_locale *s);
void lb_bl_locale_restore(struct lb_bl_saved_locale *s);

#endif
