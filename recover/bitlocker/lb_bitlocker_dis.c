/* lb_bitlocker_dis.c - decrypting lb_io layer over libdislocker.
 *
 * The volume is probed with our own parser first (lb_bitlocker.c): that
 * gives the protector list for messages, refuses damaged metadata that
 * dislocker would mishandle, and lets us point dislocker at the metadata
 * copy we validated.  Then dis_initialize() verifies the key (AES-CCM tag
 * of the VMK): nothing is written before that succeeds.
 *
 * I/O is always handed to dislock()/enlock() in whole sectors; unaligned
 * requests go through a bounce buffer (read-modify-write for writes).
 *
 * libdislocker is not linked: it is dlopen()ed the first time a volume is
 * unlocked (lb_dlopen, isolated: it exports a crc32() of its own that must
 * neither replace zlib's for libarchive nor be replaced for dislocker's own
 * metadata checks), and every dis_* function comes from the table below.
 * The headers are only used for types and constants. */
#include "lb_bitlocker.h"
#include "lb_bitlocker_key.h"
#include "lb_bitlocker_vmk.h"
#include "lb_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "lb_bytes.h"
#include "lb_dlopen.h"
#include "lb_file.h"

#include <dislocker/dislocker.h>
#include <dislocker/config.h>
#include <dislocker/inouts/inouts.h>
#include <dislocker/return_values.h>

#ifndef LB_DISLOCKER_SONAME
#define LB_DISLOCKER_SONAME "libdislocker.so.0.7"
#endif
#ifndef LB_DISLOCKER_PACKAGE
#define LB_DISLOCKER_PACKAGE "libdislocker0.7"
#endif

LB_ELF_NOTE_DLOPEN(lb_note_dislocker, "bitlocker", "unlocking BitLocker volumes",
                   LB_DLOPEN_RECOMMENDED, LB_DISLOCKER_SONAME);

/* The dis_* functions, resolved once (dis_load). */
static struct {
	dis_context_t (*dis_new)(void);
	int (*dis_setopt)(dis_context_t, dis_opt_e, const void *);
	int (*dis_initialize)(dis_context_t);
	int (*dislock)(dis_context_t, uint8_t *, off_t, size_t);
	int (*enlock)(dis_context_t, uint8_t *, off_t, size_t);
	int (*dis_destroy)(dis_context_t);
	int (*get_fvevol_fd)(dis_context_t);
	uint16_t (*dis_inouts_sector_size)(dis_context_t);
	uint64_t (*dis_inouts_volume_size)(dis_context_t);
	int *dis_errno;
	struct lb_bl_vmk_fns vmk;   /* any recovery protector (lb_bitlocker_vmk.h) */
} D;
static void *dis_handle;

#define DIS_SYM(f) { #f, (void **)&D.f }

static int dis_load(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		DIS_SYM(dis_new), DIS_SYM(dis_setopt), DIS_SYM(dis_initialize), DIS_SYM(dislock),
		DIS_SYM(enlock), DIS_SYM(dis_destroy), DIS_SYM(get_fvevol_fd),
		DIS_SYM(dis_inouts_sector_size), DIS_SYM(dis_inouts_volume_size),
		DIS_SYM(dis_errno),
		{ "intermediate_key", (void **)&D.vmk.intermediate_key },
		{ "get_nested_datumvaluetype", (void **)&D.vmk.get_nested_datumvaluetype },
		{ "get_vmk", (void **)&D.vmk.get_vmk },
		{ "dis_free", (void **)&D.vmk.dis_free },
	};

	if (dis_handle)
		return 0;
	dis_handle = lb_dlopen(LB_DISLOCKER_SONAME, LB_DISLOCKER_PACKAGE, "BitLocker unlocking",
	                       LB_DLOPEN_ISOLATED, syms, sizeof(syms) / sizeof(syms[0]), err);
	return dis_handle ? 0 : -1;
}

#define BL_CHUNK (1u << 20)   /* largest transfer handed to dislocker at once */

struct bl_ctx {
	dis_context_t dis;
	unsigned ss;
	uint8_t *bounce;          /* BL_CHUNK + 2 sectors */
	size_t bounce_cap;
};

static int bl_xfer(struct lb_io *io, uint8_t *rbuf, const uint8_t *wbuf, size_t n, uint64_t off)
{
	struct bl_ctx *c = io->ctx;
	uint64_t ss = c->ss;

	while (n > 0) {
		uint64_t a_off = off - off % ss;
		size_t head = (size_t)(off - a_off);
		size_t chunk = n < BL_CHUNK ? n : BL_CHUNK;
		size_t span = (size_t)(((head + chunk) + ss - 1) / ss * ss);
		bool aligned = head == 0 && chunk % ss == 0;
		int r;

		if (a_off + span > io->size)
			return -EINVAL;
		if (!wbuf) {
			if (aligned) {
				r = D.dislock(c->dis, rbuf, (off_t)a_off, span);
			} else {
				r = D.dislock(c->dis, c->bounce, (off_t)a_off, span);
				if (r == (int)span)
					memcpy(rbuf, c->bounce + head, chunk);
			}
		} else {
			if (aligned) {
				memcpy(c->bounce, wbuf, chunk);   /* enlock takes a non-const buffer */
			} else {
				r = D.dislock(c->dis, c->bounce, (off_t)a_off, span);
				if (r != (int)span)
					return r < 0 ? (r == -EFAULT ? -EIO : r) : -EIO;
				memcpy(c->bounce + head, wbuf, chunk);
			}
			r = D.enlock(c->dis, c->bounce, (off_t)a_off, span);
			if (r == -EFAULT)   /* overlaps a metadata block, or bad state */
				return -EPERM;
		}
		if (r < 0)
			return r == -EFAULT ? -EIO : r;
		if (r != (int)span)
			return -EIO;
		n -= chunk;
		off += chunk;
		if (rbuf)
			rbuf += chunk;
		if (wbuf)
			wbuf += chunk;
	}
	return 0;
}

static int bl_pread(struct lb_io *io, void *buf, size_t n, uint64_t off)
{
	return bl_xfer(io, buf, NULL, n, off);
}

static int bl_pwrite(struct lb_io *io, const void *buf, size_t n, uint64_t off)
{
	if (!io->writable)
		return -EROFS;
	return bl_xfer(io, NULL, buf, n, off);
}

static int bl_sync(struct lb_io *io)
{
	struct bl_ctx *c = io->ctx;
	int fd = D.get_fvevol_fd(c->dis);

	if (fd >= 0 && fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}

static void bl_destroy(struct lb_io *io)
{
	struct bl_ctx *c = io->ctx;

	if (!c)
		return;
	if (c->dis)
		D.dis_destroy(c->dis);
	if (c->bounce) {
		sodium_memzero(c->bounce, c->bounce_cap);
		free(c->bounce);
	}
	free(c);
	io->ctx = NULL;
}

static const struct lb_io_ops bl_ops = {
	.pread = bl_pread,
	.pwrite = bl_pwrite,
	.sync = bl_sync,
	.destroy = bl_destroy,
};

/* Lists the GUIDs of the protectors of one type: "{A}, {B}". */
static void list_protectors(const struct lb_bitlocker_info *info, enum lb_bl_protector_type t,
                            char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < info->n_protectors; i++) {
		if (info->protectors[i].type != t)
			continue;
		int k = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", info->protectors[i].guid);
		if (k < 0 || (size_t)k >= cap - o)
			break;
		o += (size_t)k;
	}
}

static void list_all_protectors(const struct lb_bitlocker_info *info, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < info->n_protectors; i++) {
		int k = snprintf(out + o, cap - o, "%s%s %s", o ? ", " : "",
		                 lb_bl_protector_type_name(info->protectors[i].type),
		                 info->protectors[i].guid);
		if (k < 0 || (size_t)k >= cap - o)
			break;
		o += (size_t)k;
	}
}

static int count_type(const struct lb_bitlocker_info *info, enum lb_bl_protector_type t,
                      int *first)
{
	int n = 0;

	*first = -1;
	for (unsigned i = 0; i < info->n_protectors; i++) {
		if (info->protectors[i].type == t) {
			if (*first < 0)
				*first = (int)i;
			n++;
		}
	}
	return n;
}


/* Refuses a volume the key cannot open, or that must not be opened: no
 * protector of the key's kind, a startup key of another volume, a volume
 * mid-conversion, an encrypt-on-write volume.  Sets k->first and k->nprot. */
static int check_volume(const char *path, const struct lb_bitlocker_info *info, bool writable,
                        struct lb_bl_key_use *k, struct lb_err *err)
{
	char list[512];

	k->nprot = count_type(info, k->ptype, &k->first);
	if (k->ptype == LB_BLP_STARTUP_KEY) {
		k->first = lb_bitlocker_find_protector(info, k->want);
		if (k->first < 0 || info->protectors[k->first].type != LB_BLP_STARTUP_KEY) {
			list_protectors(info, LB_BLP_STARTUP_KEY, list, sizeof(list));
			return lb_err_set(err, LB_EK_REFUSED, 0,
			                  "%s: startup key %s does not belong to this volume (its"
			                  " startup-key protectors: %s)", path, k->want,
			                  list[0] ? list : "none");
		}
	} else if (k->nprot == 0) {
		list_all_protectors(info, list, sizeof(list));
		if (k->ptype == LB_BLP_CLEAR_KEY)
			return lb_err_set(err, LB_EK_REFUSED, 0,
			                  "%s: BitLocker protection is not suspended (no clear key);"
			                  " protectors: %s", path, list);
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s: volume has no %s protector; protectors: %s",
		                  path, k->what, list);
	}
	if (info->state != LB_BLS_ENCRYPTED || info->next_state != LB_BLS_ENCRYPTED) {
		if (writable || info->state == LB_BLS_CONVERTING)
			return lb_err_set(err, LB_EK_REFUSED, 0,
			                  "%s: BitLocker volume is not fully encrypted (state %s, next %u);"
			                  " let Windows finish or pause the conversion first", path,
			                  lb_bl_state_name(info->state), info->next_state);
	}
	if (info->encrypt_on_write)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: BitLocker encrypt-on-write (EOW) volume identifier;"
		                  " libdislocker 0.7.3 cannot open it", path);
	return 0;
}

/* Why dis_initialize() failed (ret), as an error. */
static int dis_failure(int ret, const char *path, const struct lb_bitlocker_info *info,
                       const struct lb_bl_key_use *k, struct lb_err *err)
{
	char list[512];

	switch (ret) {
	case DIS_RET_ERROR_VMK_RETRIEVAL:
		if (k->ptype == LB_BLP_STARTUP_KEY)
			return lb_err_set(err, LB_EK_REFUSED, 0,
			                  "%s: startup key file does not open protector %s", path, k->want);
		if (k->nprot == 1 || k->ptype == LB_BLP_CLEAR_KEY)
			return lb_err_set(err, LB_EK_REFUSED, 0, "wrong %s for protector %s", k->what,
			                  info->protectors[k->first].guid);
		list_protectors(info, k->ptype, list, sizeof(list));
		return lb_err_set(err, LB_EK_REFUSED, 0,
		                  "wrong %s for protectors %s (dislocker only tries the first)",
		                  k->what, list);
	case DIS_RET_ERROR_VOLUME_STATE_NOT_SAFE:
		return lb_err_set(err, LB_EK_REFUSED, 0,
		                  "%s: BitLocker volume is mid-conversion; refusing to decrypt it", path);
	case DIS_RET_ERROR_FILE_OPEN:
	case DIS_RET_ERROR_FILE_READ:
	case DIS_RET_ERROR_FILE_SEEK:
		return lb_err_set(err, LB_EK_IO, *D.dis_errno > 0 ? *D.dis_errno : 0,
		                  "%s: dislocker could not read the volume (code %d)", path, ret);
	case DIS_RET_ERROR_CRYPTO_ALGORITHM_UNSUPPORTED:
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: encryption method 0x%04x not supported",
		                  path, info->method);
	}
	return lb_err_set(err, LB_EK_INPUT, 0,
	                  "%s: dislocker refused the volume (code %d, key %s checked against"
	                  " protector %s)", path, ret, k->what,
	                  k->first >= 0 ? info->protectors[k->first].guid : "?");
}

struct lb_io *lb_bitlocker_open(const char *path, uint64_t offset, uint64_t size,
                                const struct lb_bitlocker_key *key, bool writable,
                                struct lb_err *err)
{
	return lb_bitlocker_open2(path, offset, size, key, writable, NULL, err);
}

/* dislocker 0.7.3 checks a recovery password against the first recovery
 * protector only: with several, the VMK is derived here from whichever
 * protector the password opens (lb_bitlocker_vmk.c) and handed over as a
 * private VMK file (bt; removed right after dis_initialize).  k->first
 * becomes that protector. */
static int vmk_for_any_protector(const char *path, uint64_t offset,
                                 const struct lb_bitlocker_info *info, struct lb_bl_key_use *k,
                                 struct lb_bl_bek_tmp *bt, struct lb_err *err)
{
	uint8_t vmk[LB_BL_VMK_LEN];
	char list[512];
	int idx = lb_bl_vmk_from_rp(&D.vmk, path, offset, info, k->rp, vmk, err);

	if (idx < 0) {
		sodium_memzero(vmk, sizeof(vmk));
		if (err->kind != LB_EK_REFUSED)
			return -1;
		list_protectors(info, LB_BLP_RECOVERY_PASSWORD, list, sizeof(list));
		return lb_err_set(err, LB_EK_REFUSED, 0, "wrong recovery password for protectors %s",
		                  list);
	}
	k->first = idx;
	idx = lb_bl_secret_tmp(bt, "vmk", vmk, sizeof(vmk), err);
	sodium_memzero(vmk, sizeof(vmk));
	return idx;
}

struct lb_io *lb_bitlocker_open2(const char *path, uint64_t offset, uint64_t size,
                                 const struct lb_bitlocker_key *key, bool writable,
                                 char used_protector[LB_GUID_STRLEN], struct lb_err *err)
{
	struct lb_bitlocker_info *info = NULL;
	struct bl_ctx *c = NULL;
	struct lb_io *io = NULL;
	struct lb_bl_saved_locale loc = { NULL };
	struct lb_bl_key_use k;
	char name[256];
	dis_context_t dis = NULL;
	int ret;
	int on = 1, ro = writable ? 0 : 1, force_block;
	DIS_LOGS quiet = L_QUIET;
	off_t doff = (off_t)offset;
	struct lb_bl_bek_tmp bt;
	const char *bek_use = NULL;

	memset(&bt, 0, sizeof(bt));
	memset(&k, 0, sizeof(k));
	k.first = -1;
	if (used_protector)
		used_protector[0] = '\0';
	if (!path || !key) {
		lb_err_set(err, LB_EK_INTERNAL, EINVAL, "lb_bitlocker_open: missing path or key");
		return NULL;
	}
	if (sodium_init() < 0) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "libsodium initialisation failed");
		return NULL;
	}
	info = calloc(1, sizeof(*info));
	if (!info) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
		return NULL;
	}
	if (lb_bitlocker_probe_file(path, offset, size, info, err) || lb_bl_key_prepare(key, &k, err) ||
	    check_volume(path, info, writable, &k, err))
		goto fail;
	if (key->kind == LB_BLK_BEK_FILE && lb_bl_bek_sanitize(key->secret, &bt, &bek_use, err))
		goto fail;
	if (info->volume_size == 0 || info->volume_size % info->sector_size ||
	    (size && info->volume_size > size)) {
		lb_err_set(err, LB_EK_INPUT, 0,
		           "%s: BitLocker volume size %" PRIu64 " does not fit the partition (%" PRIu64
		           " bytes, sector %u)", path, info->volume_size, size, info->sector_size);
		goto fail;
	}

	/* ---- dislocker (not thread-safe; see lb_bitlocker.h) ---- */
	if (dis_load(err))
		goto fail;
	if (key->kind == LB_BLK_RECOVERY_PASSWORD && k.nprot > 1 &&
	    vmk_for_any_protector(path, offset, info, &k, &bt, err))
		goto fail;
	lb_bl_locale_save(&loc);
	dis = D.dis_new();
	if (!dis) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "%s: dislocker context allocation failed", path);
		goto fail;
	}
	force_block = (int)info->metadata_used + 1;
	D.dis_setopt(dis, DIS_OPT_VERBOSITY, &quiet);   /* also stops dis_destroy closing stdout */
	D.dis_setopt(dis, DIS_OPT_VOLUME_PATH, path);
	D.dis_setopt(dis, DIS_OPT_VOLUME_OFFSET, &doff);
	D.dis_setopt(dis, DIS_OPT_READ_ONLY, &ro);
	D.dis_setopt(dis, DIS_OPT_FORCE_BLOCK, &force_block);
	switch (key->kind) {
	case LB_BLK_RECOVERY_PASSWORD:
		if (bt.path[0]) {   /* several recovery protectors: the VMK we derived */
			D.dis_setopt(dis, DIS_OPT_USE_VMK_FILE, &on);
			D.dis_setopt(dis, DIS_OPT_SET_VMK_FILE_PATH, bt.path);
			break;
		}
		D.dis_setopt(dis, DIS_OPT_USE_RECOVERY_PASSWORD, &on);
		D.dis_setopt(dis, DIS_OPT_SET_RECOVERY_PASSWORD, k.rp);
		sodium_memzero(k.rp, sizeof(k.rp));
		break;
	case LB_BLK_PASSWORD:
		D.dis_setopt(dis, DIS_OPT_USE_USER_PASSWORD, &on);
		D.dis_setopt(dis, DIS_OPT_SET_USER_PASSWORD, k.pw);
		sodium_memzero(k.pw, strlen(k.pw));
		break;
	case LB_BLK_BEK_FILE:
		D.dis_setopt(dis, DIS_OPT_USE_BEK_FILE, &on);
		D.dis_setopt(dis, DIS_OPT_SET_BEK_FILE_PATH, bek_use);
		break;
	case LB_BLK_CLEAR_KEY:
		D.dis_setopt(dis, DIS_OPT_USE_CLEAR_KEY, &on);
		break;
	}
	ret = D.dis_initialize(dis);   /* on failure the context is already destroyed */
	lb_bl_locale_restore(&loc);
	lb_bl_bek_tmp_remove(&bt);
	if (ret != DIS_RET_SUCCESS) {
		dis = NULL;
		dis_failure(ret, path, info, &k, err);
		goto fail;
	}
	if (D.dis_inouts_sector_size(dis) != info->sector_size ||
	    D.dis_inouts_volume_size(dis) != info->volume_size) {
		lb_err_set(err, LB_EK_INPUT, 0,
		           "%s: dislocker sees %" PRIu64 " bytes in %u-byte sectors, metadata says %" PRIu64
		           " in %u-byte sectors", path, (uint64_t)D.dis_inouts_volume_size(dis),
		           D.dis_inouts_sector_size(dis), info->volume_size, info->sector_size);
		goto fail;
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->dis = dis;
	c->ss = info->sector_size;
	c->bounce_cap = BL_CHUNK + 2 * (size_t)c->ss;
	c->bounce = malloc(c->bounce_cap);
	if (!c->bounce)
		goto nomem;
	snprintf(name, sizeof(name), "%s@%" PRIu64 " [bitlocker]", path, offset);
	io = lb_io_new(&bl_ops, c, info->volume_size, info->sector_size, writable, name);
	if (!io)
		goto nomem;
	if (used_protector && k.first >= 0)
		memcpy(used_protector, info->protectors[k.first].guid, LB_GUID_STRLEN);
	free(info);
	lb_bl_key_use_wipe(&k);
	return io;

nomem:
	lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
fail:
	lb_bl_key_use_wipe(&k);
	lb_bl_bek_tmp_remove(&bt);
	lb_bl_locale_restore(&loc);
	if (c) {
		free(c->bounce);
		free(c);
	}
	if (dis)
		D.dis_destroy(dis);
	free(info);
	return NULL;
}
