/* lb_bitlocker_key.c - keys made ready for libdislocker: recovery
 * passwords normalised, user passwords converted to the Latin-1 dislocker
 * expects, startup-key (.BEK) files read, checked and, where Windows 11
 * wrote a layout dislocker 0.7.3 cannot parse, stripped to a private copy.
 * Contracts in lb_bitlocker_key.h. */
#include "lb_bitlocker_key.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "lb_bytes.h"
#include "lb_file.h"

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


int lb_bl_secret_tmp(struct lb_bl_bek_tmp *t, const char *name, const void *data, size_t n,
                     struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";   /* RAM only */
	snprintf(t->dir, sizeof(t->dir), "%s/lb-key-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir)) {
		int e = errno;

		t->dir[0] = '\0';
		return lb_err_set(err, LB_EK_IO, e, "private temporary directory");
	}
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || lb_write_all(fd, data, n)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		unlink(t->path);
		rmdir(t->dir);
		t->dir[0] = t->path[0] = '\0';
		return lb_err_set(err, LB_EK_IO, e, "%s", name);
	}
	close(fd);
	t->len = n;
	return 0;
}

int lb_bl_bek_sanitize(const char *path, struct lb_bl_bek_tmp *t, const char **use, struct lb_err *err)
{
	uint8_t *in, outb[BEK_MAX];
	size_t n;
	uint32_t size, pos = 48, o;
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
	if (lb_bl_secret_tmp(t, "key.bek", outb, o, err)) {
		bek_free(in, n);
		sodium_memzero(outb, sizeof(outb));
		return lb_err_wrap(err, "temporary copy of the startup key");
	}
	*use = t->path;
plain:
	bek_free(in, n);
	sodium_memzero(outb, sizeof(outb));
	return 0;
}

void lb_bl_bek_tmp_remove(struct lb_bl_bek_tmp *t)
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


void lb_bl_locale_save(struct lb_bl_saved_locale *s)
{
	const char *cur = setlocale(LC_ALL, NULL);

	s->all = cur ? strdup(cur) : NULL;
}

void lb_bl_locale_restore(struct lb_bl_saved_locale *s)
{
	if (s->all) {
		setlocale(LC_ALL, s->all);
		free(s->all);
		s->all = NULL;
	}
}


/* Checks the key and turns it into k (secrets: wipe with key_use_wipe). */
int lb_bl_key_prepare(const struct lb_bitlocker_key *key, struct lb_bl_key_use *k, struct lb_err *err)
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

void lb_bl_key_use_wipe(struct lb_bl_key_use *k)
{
	sodium_memzero(k->rp, sizeof(k->rp));
	if (k->pw) {
		sodium_memzero(k->pw, strlen(k->pw));
		free(k->pw);
		k->pw = NULL;
	}
}
