/* lb_keys.c - recovery password checks and the key store. */
#define LB_KEYS_INTERNAL
#include "lb_keys.h"
#include "lb_bitlocker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lb_file.h"
#include "lb_text.h"

/* ---- recovery passwords ---- */

enum lb_rp_block_status lb_rp_check_block(const char *b, size_t len)
{
	unsigned long v = 0;
	unsigned long scale = 1;

	if (len > 6)
		return LB_RP_BLOCK_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		if (b[i] < '0' || b[i] > '9')
			return LB_RP_BLOCK_NOT_DIGITS;
		v = v * 10 + (unsigned long)(b[i] - '0');
	}
	for (size_t i = len; i < 6; i++)
		scale *= 10;
	if (v * scale >= 720896UL)   /* even the smallest completion is too large */
		return LB_RP_BLOCK_TOO_LARGE;
	if (len < 6)
		return LB_RP_BLOCK_INCOMPLETE;
	if (v % 11)
		return LB_RP_BLOCK_NOT_MULTIPLE_OF_11;
	return LB_RP_BLOCK_OK;
}

const char *lb_rp_block_status_text(enum lb_rp_block_status st)
{
	switch (st) {
	case LB_RP_BLOCK_OK: return "ok";
	case LB_RP_BLOCK_INCOMPLETE: return "incomplete (6 digits per block)";
	case LB_RP_BLOCK_NOT_DIGITS: return "contains a non-digit";
	case LB_RP_BLOCK_NOT_MULTIPLE_OF_11: return "is not a multiple of 11 (typo?)";
	case LB_RP_BLOCK_TOO_LARGE: return "is too large (each block is below 720896)";
	case LB_RP_BLOCK_TOO_LONG: return "has more than 6 digits";
	}
	return "invalid";
}

int lb_rp_normalize(const char *in, char out[LB_RP_LEN + 1], struct lb_err *err)
{
	char d[48];
	size_t n = 0;
	int rc = 0;

	if (out)
		sodium_memzero(out, LB_RP_LEN + 1);
	if (!in)
		return lb_err_set(err, LB_EK_INPUT, 0, "no recovery password given");
	for (const char *p = in; *p; p++) {
		char ch = *p;

		if (ch == '-' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch < '0' || ch > '9') {
			rc = lb_err_set(err, LB_EK_INPUT, 0,
			                "recovery password contains a character that is not a digit or dash");
			goto out;
		}
		if (n == 48) {
			rc = lb_err_set(err, LB_EK_INPUT, 0, "recovery password has more than 48 digits");
			goto out;
		}
		d[n++] = ch;
	}
	if (n != 48) {
		rc = lb_err_set(err, LB_EK_INPUT, 0, "recovery password has %zu digits, expected 48", n);
		goto out;
	}
	for (int b = 0; b < 8; b++) {
		enum lb_rp_block_status st = lb_rp_check_block(d + 6 * b, 6);

		if (st != LB_RP_BLOCK_OK) {
			rc = lb_err_set(err, LB_EK_INPUT, 0, "recovery password block %d %s", b + 1,
			                lb_rp_block_status_text(st));
			goto out;
		}
	}
	if (out) {
		for (int b = 0; b < 8; b++) {
			memcpy(out + 7 * b, d + 6 * b, 6);
			if (b < 7)
				out[7 * b + 6] = '-';
		}
		out[LB_RP_LEN] = '\0';
	}
out:
	sodium_memzero(d, sizeof(d));
	return rc;
}

bool lb_rp_is_valid(const char *in)
{
	char tmp[LB_RP_LEN + 1];
	bool ok = lb_rp_normalize(in, tmp, NULL) == 0;

	sodium_memzero(tmp, sizeof(tmp));
	return ok;
}

const char *lb_rp_problem(const char *in, char *buf, size_t cap)
{
	size_t n = 0;
	int bad_block = 0;
	char d[6];

	if (!in)
		return snprintf(buf, cap, "is missing"), buf;
	for (const char *p = in; *p; p++) {
		if (*p == '-' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (*p < '0' || *p > '9')
			return snprintf(buf, cap, "contains a character that is not a digit or dash"),
			       buf;
		if (n < 48) {
			d[n % 6] = *p;
			if (n % 6 == 5 && !bad_block && lb_rp_check_block(d, 6) != LB_RP_BLOCK_OK)
				bad_block = (int)(n / 6) + 1;
		}
		n++;
	}
	sodium_memzero(d, sizeof(d));
	if (n == 0)
		return snprintf(buf, cap, "is empty"), buf;
	if (n != 48)
		return snprintf(buf, cap, "has %zu digits, expected 48", n), buf;
	if (bad_block)
		return snprintf(buf, cap, "block %d fails its checksum", bad_block), buf;
	return NULL;
}

bool lb_rp_lookalike(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++) {
		if (*s >= '0' && *s <= '9')
			n++;
		else if (*s != '-' && *s != ' ' && *s != '\t')
			return false;
	}
	return n >= 40 && n <= 56;
}

/* ---- store ---- */

struct lb_keystore *lb_keys_new(void)
{
	if (sodium_init() < 0)
		return NULL;
	return calloc(1, sizeof(struct lb_keystore));
}

void lb_keys_free(struct lb_keystore *ks)
{
	if (!ks)
		return;
	if (ks->secure)
		sodium_free(ks->secure);   /* wipes */
	if (ks->entries) {
		sodium_memzero(ks->entries, ks->cap * sizeof(*ks->entries));
		free(ks->entries);
	}
	for (size_t i = 0; i < ks->nnotes; i++)
		free(ks->notes[i].text);
	free(ks->notes);
	free(ks);
}

int lb_keys_note(struct lb_keystore *ks, const char *guid, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!ks)
		return -1;
	if (ks->nnotes >= LB_KEYS_MAX_NOTES) {
		ks->notes_dropped++;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	lb_redact_digits(text);
	for (size_t i = 0; i < ks->nnotes; i++)   /* the same problem twice: once */
		if (!strcmp(ks->notes[i].text, text) && !strcmp(ks->notes[i].guid, guid ? guid : ""))
			return 0;
	if (ks->nnotes == ks->capnotes) {
		size_t nc = ks->capnotes ? ks->capnotes * 2 : 8;
		struct lbk_note *nn = realloc(ks->notes, nc * sizeof(*nn));

		if (!nn)
			return -1;
		ks->notes = nn;
		ks->capnotes = nc;
	}
	ks->notes[ks->nnotes].text = strdup(text);
	if (!ks->notes[ks->nnotes].text)
		return -1;
	snprintf(ks->notes[ks->nnotes].guid, sizeof(ks->notes[ks->nnotes].guid), "%s",
	         guid ? guid : "");
	ks->nnotes++;
	return 0;
}

size_t lb_keys_nnotes(const struct lb_keystore *ks)
{
	return ks ? ks->nnotes : 0;
}

size_t lb_keys_notes_dropped(const struct lb_keystore *ks)
{
	return ks ? ks->notes_dropped : 0;
}

const char *lb_keys_note_text(const struct lb_keystore *ks, size_t i, const char **guid)
{
	if (!ks || i >= ks->nnotes)
		return NULL;
	if (guid)
		*guid = ks->notes[i].guid;
	return ks->notes[i].text;
}

size_t lb_keys_count_unidentified(const struct lb_keystore *ks)
{
	size_t n = 0;

	for (size_t i = 0; ks && i < ks->n; i++)
		n += ks->entries[i].guid[0] == '\0';
	return n;
}

size_t lb_keys_count(const struct lb_keystore *ks)
{
	return ks ? ks->n : 0;
}

const struct lb_key_entry *lb_keys_entry(const struct lb_keystore *ks, size_t i)
{
	return ks && i < ks->n ? &ks->entries[i] : NULL;
}

static void copy_clean(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	if (src) {
		for (; *src && o + 1 < cap; src++) {
			unsigned char ch = (unsigned char)*src;

			dst[o++] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
		}
		if (*src) {   /* truncated: drop an incomplete trailing UTF-8 sequence */
			size_t k = o;

			while (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0x80)
				k--;
			if (k > 0 && ((unsigned char)dst[k - 1] & 0xC0) == 0xC0) {
				unsigned char lead = (unsigned char)dst[k - 1];
				size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

				if (o - (k - 1) < need)
					o = k - 1;
			}
		}
	}
	dst[o] = '\0';
}

int lbk_add(struct lb_keystore *ks, const char *guid_canon, const char rp[LB_RP_LEN + 1],
            const char *host, const char *source, struct lb_keys_stats *st, struct lb_err *err)
{
	struct lb_key_entry *e;

	for (size_t i = 0; i < ks->n; i++) {
		if (strcmp(ks->entries[i].guid, guid_canon) == 0 &&
		    sodium_memcmp(ks->entries[i].recovery_password, rp, LB_RP_LEN) == 0) {
			if (st)
				st->duplicates++;
			return 0;
		}
	}
	if (ks->n == ks->cap) {
		size_t ncap = ks->cap ? ks->cap * 2 : 64;
		struct lb_key_entry *ne = calloc(ncap, sizeof(*ne));
		char *ns = sodium_allocarray(ncap, LB_RP_LEN + 1);

		if (!ne || !ns) {
			free(ne);
			if (ns)
				sodium_free(ns);
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "key store");
		}
		if (ks->n) {
			memcpy(ne, ks->entries, ks->n * sizeof(*ne));
			memcpy(ns, ks->secure, ks->n * (LB_RP_LEN + 1));
		}
		for (size_t i = 0; i < ks->n; i++)
			ne[i].recovery_password = ns + i * (LB_RP_LEN + 1);
		if (ks->entries) {
			sodium_memzero(ks->entries, ks->cap * sizeof(*ks->entries));
			free(ks->entries);
		}
		if (ks->secure)
			sodium_free(ks->secure);
		ks->entries = ne;
		ks->secure = ns;
		ks->cap = ncap;
	}
	e = &ks->entries[ks->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->guid, sizeof(e->guid), "%s", guid_canon ? guid_canon : "");
	copy_clean(e->host, sizeof(e->host), host);
	copy_clean(e->source, sizeof(e->source), source);
	memcpy(ks->secure + ks->n * (LB_RP_LEN + 1), rp, LB_RP_LEN + 1);
	e->recovery_password = ks->secure + ks->n * (LB_RP_LEN + 1);
	ks->n++;
	if (st)
		st->loaded++;
	return 0;
}

const struct lb_key_entry *lb_keys_find(const struct lb_keystore *ks, const char *guid,
                                        size_t *pos)
{
	char canon[LB_KEYS_GUID_STRLEN];
	size_t start = pos ? *pos : 0;

	if (!ks || lb_guid_canon(guid, canon))
		return NULL;
	for (size_t i = start; i < ks->n; i++) {
		if (strcmp(ks->entries[i].guid, canon) == 0) {
			if (pos)
				*pos = i + 1;
			return &ks->entries[i];
		}
	}
	return NULL;
}

const struct lb_key_entry *lb_keys_lookup(const struct lb_keystore *ks, const char *guid)
{
	return lb_keys_find(ks, guid, NULL);
}

/* ---- files ---- */

char *lb_keys_read_secret(const char *path, const char *what, struct lb_err *err)
{
	uint8_t *data = NULL;
	size_t len = 0, n;
	char *s;

	if (!what)
		what = "file";
	if (lb_read_file(path, LB_SECRET_FILE_MAX, &data, &len, err)) {
		/* lb_read_file says "PATH: strerror": say which file it was */
		if (err) {
			struct lb_err e = *err;

			lb_err_set(err, e.kind, 0, "%s %s", what, e.msg);
			err->sys_errno = e.sys_errno;
		}
		return NULL;
	}
	/* the first line, at most LB_SECRET_MAX - 1 bytes of it (as fgets
	 * into a buffer of LB_SECRET_MAX bytes always did) */
	n = strcspn((const char *)data, "\r\n");
	if (n == 0) {
		lbk_wipe_free(data, len + 1);
		lb_err_set(err, LB_EK_INPUT, 0, "%s: empty %s%s", path, what,
		           len ? " (its first line is blank)" : "");
		return NULL;
	}
	if (n > LB_SECRET_MAX - 1)
		n = LB_SECRET_MAX - 1;
	s = sodium_malloc(LB_SECRET_MAX);
	if (!s) {
		lbk_wipe_free(data, len + 1);
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
		return NULL;
	}
	memcpy(s, data, n);
	s[n] = '\0';
	lbk_wipe_free(data, len + 1);
	return s;
}

void lb_keys_free_secret(char *s)
{
	if (s)
		sodium_free(s); /* wipes */
}

void lbk_wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	sodium_memzero(p, n);
	free(p);
}

int lb_keys_load_file(struct lb_keystore *ks, const char *path, struct lb_keys_stats *stats,
                      struct lb_err *err)
{
	uint8_t *raw;
	char *data;
	size_t len;
	int rc;

	if (!ks)
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "lb_keys_load_file: no store");
	if (lb_read_file(path, (size_t)256 << 20, &raw, &len, err))
		return -1;
	data = (char *)raw;
	if (len >= 8 && memcmp(data, LBK_SEAL_MAGIC, 8) == 0) {
		lbk_wipe_free(data, len);
		return lb_err_set(err, LB_EK_USAGE, 0,
		                  "%s is a sealed key bundle: open it with its passphrase", path);
	}
	{
		const char *base = strrchr(path, '/');

		rc = lb_keys_load_buffer(ks, data, len, base ? base + 1 : path, stats, err);
	}
	lbk_wipe_free(data, len + 1);
	return rc;
}

/* s starts with "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */
static bool guid_first(const char *s, size_t n)
{
	char t[LB_KEYS_GUID_STRLEN], canon[LB_KEYS_GUID_STRLEN];

	if (n < 38 || s[37] != '}')
		return false;
	memcpy(t, s, 38);
	t[38] = '\0';
	return lb_guid_canon(t, canon) == 0;
}

int lb_keys_load_buffer(struct lb_keystore *ks, const char *data, size_t len, const char *name,
                        struct lb_keys_stats *stats, struct lb_err *err)
{
	struct lb_keys_stats local;
	char *utf8 = NULL;
	size_t ulen = 0, i = 0;
	int rc;

	if (!ks || !data)
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "lb_keys_load_buffer: bad arguments");
	if (!name)
		name = "keys";
	memset(&local, 0, sizeof(local));
	if (lbk_to_utf8(data, len, &utf8, &ulen, err))
		return lb_err_wrap(err, "%s", name);
	while (i < ulen && (utf8[i] == ' ' || utf8[i] == '\t' || utf8[i] == '\r' || utf8[i] == '\n'))
		i++;
	/* JSON, unless it is a headerless CSV row starting with a "{GUID}" */
	if (i < ulen && (utf8[i] == '[' || (utf8[i] == '{' && !guid_first(utf8 + i, ulen - i))))
		rc = lbk_load_json(ks, utf8 + i, ulen - i, name, &local, err);
	else
		rc = lbk_load_csv(ks, utf8, ulen, name, &local, err);
	lbk_wipe_free(utf8, ulen + 1);
	if (stats) {
		stats->rows += local.rows;
		stats->loaded += local.loaded;
		stats->duplicates += local.duplicates;
		stats->bad_key += local.bad_key;
		stats->bad_guid += local.bad_guid;
		stats->headerless |= local.headerless;
	}
	if (rc == 0 && local.loaded == 0 && local.duplicates == 0)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: no usable recovery password (%zu rows, %zu malformed keys)",
		                  name, local.rows, local.bad_key);
	return rc;
}
