/* lb_bitlocker_dis.c - decrypting lb_io layer over libdislocker.
 *
 * The volume is probed with our own parser first (lb_bitlocker.c): that
 * gives the protector list for messages, refuses damaged metadata that
 * dislocker would mishandle, and lets us point dislocker at the metadata
 * copy we validated.  Then dis_initialize() verifies the key (AES-CCM tag
 * of the VMK): nothing is written before that succeeds.
 *
 * I/O is always handed to dislock()/enlock() in whole sectors; unaligned
 * requests go through a bounce buffer (read-modify-write for writes). */
#include "lb_bitlocker.h"
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
#include "lb_file.h"

#include <dislocker/dislocker.h>
#include <dislocker/config.h>
#include <dislocker/inouts/inouts.h>
#include <dislocker/return_values.h>

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
				r = dislock(c->dis, rbuf, (off_t)a_off, span);
			} else {
				r = dislock(c->dis, c->bounce, (off_t)a_off, span);
				if (r == (int)span)
					memcpy(rbuf, c->bounce + head, chunk);
			}
		} else {
			if (aligned) {
				memcpy(c->bounce, wbuf, chunk);   /* enlock takes a non-const buffer */
			} else {
				r = dislock(c->dis, c->bounce, (off_t)a_off, span);
				if (r != (int)span)
					return r < 0 ? (r == -EFAULT ? -EIO : r) : -EIO;
				memcpy(c->bounce + head, wbuf, chunk);
			}
			r = enlock(c->dis, c->bounce, (off_t)a_off, span);
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
	int fd = get_fvevol_fd(c->dis);

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
		dis_destroy(c->dis);
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

#define BEK_MAX 4096   /* .BEK files are a few hundred bytes */

/* The whole .BEK file (lb_read_file) into *buf; the caller wipes and frees
 * it with bek_free. */
static int bek_read(const char *path, uint8_t **buf, size_t *n, struct lb_err *err)
{
	if (lb_read_file(path, BEK_MAX, buf, n, err))
		return lb_err_wrap(err, "startup key file");
	return 0;
}

static void bek_free(uint8_t *buf, size_t n)
{
	if (buf) {
		sodium_memzero(buf, n);
		free(buf);
	}
}

/* Reads the key ID out of a .BEK startup-key file: a 48-byte metadata
 * header, then an entry of type 6 (startup key), value type 9 (external
 * key) whose GUID is the ID of the protector it opens. */
static int bek_guid(const char *path, char guid[LB_GUID_STRLEN], struct lb_err *err)
{
	uint8_t *buf;
	size_t n;
	uint32_t size, pos = 48;

	if (bek_read(path, &buf, &n, err))
		return -1;
	size = n >= 16 ? lb_le32(buf) : 0;
	if (n < 48 + 8 + 24 || size != n || lb_le32(buf + 4) != 1 || lb_le32(buf + 8) != 48 ||
	    lb_le32(buf + 12) != size) {
		bek_free(buf, n);
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s is not a BitLocker startup key (.BEK) file", path);
	}
	while (pos + 8 <= size) {
		uint16_t esz = lb_le16(buf + pos);

		if (esz < 8 || esz > size - pos)
			break;
		if (lb_le16(buf + pos + 2) == 6 && lb_le16(buf + pos + 4) == 9 && esz >= 24) {
			lb_guid_format(buf + pos + 8, guid);
			bek_free(buf, n);
			return 0;
		}
		pos += esz;
	}
	bek_free(buf, n);
	return lb_err_set(err, LB_EK_INPUT, 0, "%s: no startup key found in the .BEK file", path);
}

/* dislocker 0.7.3 widens the password to UTF-16 byte by byte.  Give it
 * Latin-1 bytes so that passwords with characters up to U+00FF ("£", "é",
 * "ß") work; refuse anything beyond.  Invalid UTF-8 is passed unchanged. */
static int password_for_dislocker(const char *utf8, char **out, struct lb_err *err)
{
	const unsigned char *u = (const unsigned char *)utf8;
	size_t n = strlen(utf8), o = 0;
	char *buf = malloc(n + 1);

	if (!buf)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "password");
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k;

		if (u[i] < 0x80) {
			cp = u[i];
			k = 1;
		} else if ((u[i] & 0xE0) == 0xC0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
			cp = ((uint32_t)(u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
			k = 2;
		} else if ((u[i] & 0xF0) == 0xE0 || (u[i] & 0xF8) == 0xF0) {
			sodium_memzero(buf, n + 1);
			free(buf);
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "the password has characters beyond U+00FF, which libdislocker"
			                  " 0.7.3 cannot handle; use the recovery password");
		} else {   /* not UTF-8: hand over the bytes as they are */
			memcpy(buf, utf8, n + 1);
			*out = buf;
			return 0;
		}
		if (cp < 0x80 && k == 2) {   /* overlong form */
			memcpy(buf, utf8, n + 1);
			*out = buf;
			return 0;
		}
		buf[o++] = (char)cp;
		i += k;
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

/* dislocker 0.7.3 cannot parse the startup-key files Windows 11 writes:
 * their external-key entry carries an extra nested entry (value type 0x17).
 * If the .BEK has nested entries other than the name (2) and key (1), a
 * stripped copy is written to a private temporary directory; the caller
 * wipes and removes it right after dis_initialize(). */
struct bek_tmp {
	char dir[256];
	char path[300];
	size_t len;
};

static int bek_sanitize(const char *path, struct bek_tmp *t, const char **use, struct lb_err *err)
{
	uint8_t *in, outb[BEK_MAX];
	size_t n;
	uint32_t size, pos = 48, o;
	int fd;
	bool strip = false;

	*use = path;
	t->dir[0] = t->path[0] = '\0';
	if (bek_read(path, &in, &n, err))
		return -1;
	if (n < 48)
		goto plain;   /* bek_guid() already vetted the format */
	size = lb_le32(in);
	if (size != n)
		goto plain;
	memcpy(outb, in, 48);
	o = 48;
	while (pos + 8 <= size) {
		uint16_t esz = lb_le16(in + pos);

		if (esz < 8 || esz > size - pos)
			goto plain;
		if (lb_le16(in + pos + 2) == 6 && lb_le16(in + pos + 4) == 9 && esz >= 32) {
			uint32_t q = pos + 32, start = o;

			memcpy(outb + o, in + pos, 32);
			o += 32;
			while (q + 8 <= pos + esz) {
				uint16_t nsz = lb_le16(in + q), vt = lb_le16(in + q + 4);

				if (nsz < 8 || nsz > pos + esz - q)
					goto plain;
				if (vt == 1 || vt == 2) {
					memcpy(outb + o, in + q, nsz);
					o += nsz;
				} else {
					strip = true;
				}
				q += nsz;
			}
			lb_put_le16(outb + start, (uint16_t)(o - start));
		} else {
			memcpy(outb + o, in + pos, esz);
			o += esz;
		}
		pos += esz;
	}
	if (!strip)
		goto plain;
	lb_put_le32(outb, o);
	lb_put_le32(outb + 12, o);
	{
		const char *tmp = getenv("TMPDIR");

		if (access("/dev/shm", W_OK) == 0)
			tmp = "/dev/shm";   /* RAM only */
		snprintf(t->dir, sizeof(t->dir), "%s/lb-bek-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	}
	if (!mkdtemp(t->dir)) {
		int e = errno;

		t->dir[0] = '\0';
		bek_free(in, n);
		sodium_memzero(outb, sizeof(outb));
		return lb_err_set(err, LB_EK_IO, e, "temporary directory for the startup key");
	}
	snprintf(t->path, sizeof(t->path), "%s/key.bek", t->dir);
	fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || lb_write_all(fd, outb, o)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlink(t->path);
		rmdir(t->dir);
		t->dir[0] = t->path[0] = '\0';
		bek_free(in, n);
		sodium_memzero(outb, sizeof(outb));
		return lb_err_set(err, LB_EK_IO, e, "temporary copy of the startup key");
	}
	close(fd);
	t->len = o;
	*use = t->path;
plain:
	bek_free(in, n);
	sodium_memzero(outb, sizeof(outb));
	return 0;
}

static void bek_tmp_remove(struct bek_tmp *t)
{
	if (t->path[0]) {
		int fd = open(t->path, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			uint8_t z[4096];

			memset(z, 0, sizeof(z));
			if (write(fd, z, t->len < sizeof(z) ? t->len : sizeof(z)) < 0) {
				/* nothing more to do: the file is removed below */
			}
			fsync(fd);
			close(fd);
		}
		unlink(t->path);
		t->path[0] = '\0';
	}
	if (t->dir[0]) {
		rmdir(t->dir);
		t->dir[0] = '\0';
	}
}

/* Restores LC_ALL as it was before dislocker's setlocale(LC_ALL, ""). */
struct saved_locale {
	char *all;
};

static void locale_save(struct saved_locale *s)
{
	const char *cur = setlocale(LC_ALL, NULL);

	s->all = cur ? strdup(cur) : NULL;
}

static void locale_restore(struct saved_locale *s)
{
	if (s->all) {
		setlocale(LC_ALL, s->all);
		free(s->all);
		s->all = NULL;
	}
}

/* What the key is, and what lb_bitlocker_open2 gets ready from it. */
struct key_use {
	enum lb_bl_protector_type ptype;
	const char *what;                 /* "recovery password", for messages */
	char rp[LB_RP_LEN + 1];           /* normalised recovery password */
	char *pw;                         /* password as dislocker takes it */
	char want[LB_GUID_STRLEN];        /* the protector a .BEK opens */
	int first, nprot;                 /* first protector of the kind, how many */
};

/* Checks the key and turns it into k (secrets: wipe with key_use_wipe). */
static int key_prepare(const struct lb_bitlocker_key *key, struct key_use *k, struct lb_err *err)
{
	switch (key->kind) {
	case LB_BLK_RECOVERY_PASSWORD:
		k->ptype = LB_BLP_RECOVERY_PASSWORD;
		k->what = "recovery password";
		return lb_rp_normalize(key->secret, k->rp, err);
	case LB_BLK_PASSWORD:
		k->ptype = LB_BLP_PASSWORD;
		k->what = "password";
		if (!key->secret || !key->secret[0])
			return lb_err_set(err, LB_EK_INPUT, 0, "empty BitLocker password");
		return password_for_dislocker(key->secret, &k->pw, err);
	case LB_BLK_BEK_FILE:
		k->ptype = LB_BLP_STARTUP_KEY;
		k->what = "startup key";
		if (!key->secret || !key->secret[0])
			return lb_err_set(err, LB_EK_INPUT, 0, "no startup key (.BEK) file given");
		return bek_guid(key->secret, k->want, err);
	case LB_BLK_CLEAR_KEY:
		k->ptype = LB_BLP_CLEAR_KEY;
		k->what = "clear key";
		return 0;
	}
	return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "lb_bitlocker_open: unknown key kind %d",
	                  (int)key->kind);
}

static void key_use_wipe(struct key_use *k)
{
	sodium_memzero(k->rp, sizeof(k->rp));
	if (k->pw) {
		sodium_memzero(k->pw, strlen(k->pw));
		free(k->pw);
		k->pw = NULL;
	}
}

/* Refuses a volume the key cannot open, or that must not be opened: no
 * protector of the key's kind, a startup key of another volume, a volume
 * mid-conversion, an encrypt-on-write volume.  Sets k->first and k->nprot. */
static int check_volume(const char *path, const struct lb_bitlocker_info *info, bool writable,
                        struct key_use *k, struct lb_err *err)
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
                       const struct key_use *k, struct lb_err *err)
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
		return lb_err_set(err, LB_EK_IO, dis_errno > 0 ? dis_errno : 0,
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

struct lb_io *lb_bitlocker_open2(const char *path, uint64_t offset, uint64_t size,
                                 const struct lb_bitlocker_key *key, bool writable,
                                 char used_protector[LB_GUID_STRLEN], struct lb_err *err)
{
	struct lb_bitlocker_info *info = NULL;
	struct bl_ctx *c = NULL;
	struct lb_io *io = NULL;
	struct saved_locale loc = { NULL };
	struct key_use k;
	char name[256];
	dis_context_t dis = NULL;
	int ret;
	int on = 1, ro = writable ? 0 : 1, force_block;
	DIS_LOGS quiet = L_QUIET;
	off_t doff = (off_t)offset;
	struct bek_tmp bt;
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
	if (lb_bitlocker_probe_file(path, offset, size, info, err) || key_prepare(key, &k, err) ||
	    check_volume(path, info, writable, &k, err))
		goto fail;
	if (key->kind == LB_BLK_BEK_FILE && bek_sanitize(key->secret, &bt, &bek_use, err))
		goto fail;
	if (info->volume_size == 0 || info->volume_size % info->sector_size ||
	    (size && info->volume_size > size)) {
		lb_err_set(err, LB_EK_INPUT, 0,
		           "%s: BitLocker volume size %" PRIu64 " does not fit the partition (%" PRIu64
		           " bytes, sector %u)", path, info->volume_size, size, info->sector_size);
		goto fail;
	}

	/* ---- dislocker (not thread-safe; see lb_bitlocker.h) ---- */
	locale_save(&loc);
	dis = dis_new();
	if (!dis) {
		lb_err_set(err, LB_EK_INTERNAL, 0, "%s: dislocker context allocation failed", path);
		goto fail;
	}
	force_block = (int)info->metadata_used + 1;
	dis_setopt(dis, DIS_OPT_VERBOSITY, &quiet);   /* also stops dis_destroy closing stdout */
	dis_setopt(dis, DIS_OPT_VOLUME_PATH, path);
	dis_setopt(dis, DIS_OPT_VOLUME_OFFSET, &doff);
	dis_setopt(dis, DIS_OPT_READ_ONLY, &ro);
	dis_setopt(dis, DIS_OPT_FORCE_BLOCK, &force_block);
	switch (key->kind) {
	case LB_BLK_RECOVERY_PASSWORD:
		dis_setopt(dis, DIS_OPT_USE_RECOVERY_PASSWORD, &on);
		dis_setopt(dis, DIS_OPT_SET_RECOVERY_PASSWORD, k.rp);
		sodium_memzero(k.rp, sizeof(k.rp));
		break;
	case LB_BLK_PASSWORD:
		dis_setopt(dis, DIS_OPT_USE_USER_PASSWORD, &on);
		dis_setopt(dis, DIS_OPT_SET_USER_PASSWORD, k.pw);
		sodium_memzero(k.pw, strlen(k.pw));
		break;
	case LB_BLK_BEK_FILE:
		dis_setopt(dis, DIS_OPT_USE_BEK_FILE, &on);
		dis_setopt(dis, DIS_OPT_SET_BEK_FILE_PATH, bek_use);
		break;
	case LB_BLK_CLEAR_KEY:
		dis_setopt(dis, DIS_OPT_USE_CLEAR_KEY, &on);
		break;
	}
	ret = dis_initialize(dis);   /* on failure the context is already destroyed */
	locale_restore(&loc);
	bek_tmp_remove(&bt);
	if (ret != DIS_RET_SUCCESS) {
		dis = NULL;
		dis_failure(ret, path, info, &k, err);
		goto fail;
	}
	if (dis_inouts_sector_size(dis) != info->sector_size ||
	    dis_inouts_volume_size(dis) != info->volume_size) {
		lb_err_set(err, LB_EK_INPUT, 0,
		           "%s: dislocker sees %" PRIu64 " bytes in %u-byte sectors, metadata says %" PRIu64
		           " in %u-byte sectors", path, (uint64_t)dis_inouts_volume_size(dis),
		           dis_inouts_sector_size(dis), info->volume_size, info->sector_size);
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
	key_use_wipe(&k);
	return io;

nomem:
	lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
fail:
	key_use_wipe(&k);
	bek_tmp_remove(&bt);
	locale_restore(&loc);
	if (c) {
		free(c->bounce);
		free(c);
	}
	if (dis)
		dis_destroy(dis);
	free(info);
	return NULL;
}
