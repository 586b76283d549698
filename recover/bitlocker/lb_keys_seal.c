/* lb_keys_seal.c - passphrase-sealed key bundle.
 *
 * File format (version 1), all integers little-endian:
 *
 *   off  size  field
 *   0    8     magic "LBKEYS\x1a\x01"
 *   8    4     format version = 1
 *   12   4     algorithm = 1: Argon2id v1.3 (crypto_pwhash) -> 32-byte key,
 *              XSalsa20-Poly1305 (crypto_secretbox)
 *   16   8     opslimit
 *   24   8     memlimit (bytes)
 *   32   16    salt (crypto_pwhash_SALTBYTES)
 *   48   24    nonce (crypto_secretbox_NONCEBYTES)
 *   72   8     ciphertext length (MAC 16 bytes + plaintext)
 *   80   ...   ciphertext
 *
 * Plaintext: the 80-byte header again (so any change to the clear header is
 * detected after decryption), then the canonical key list, UTF-8 text:
 *
 *   "LBKEYS 1\n"
 *   one line per entry, sorted by GUID then password:
 *   "<{GUID} or empty>\t<recovery password, dashed>\t<host>\t<source>\n"
 *
 * Hosts and sources never contain TAB or newlines (cleaned on load).  The
 * derived key and the plaintext live in sodium_malloc'd memory only. */
#define LB_KEYS_INTERNAL
#include "lb_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lb_bytes.h"
#include "lb_file.h"
#include "lb_io.h"

#define HDR_LEN 80
#define KEY_LEN crypto_secretbox_KEYBYTES
#define LIST_MAGIC "LBKEYS 1\n"
#define MAX_SEALED ((size_t)64 << 20)
#define MAX_MEMLIMIT ((uint64_t)1 << 30)   /* refuse files demanding more than 1 GiB */
#define MAX_OPSLIMIT 64

void lb_seal_params_default(struct lb_seal_params *p)
{
	p->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
	p->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
}

void lb_seal_params_interactive(struct lb_seal_params *p)
{
	p->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	p->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct lb_key_entry *x = *(const struct lb_key_entry *const *)a;
	const struct lb_key_entry *y = *(const struct lb_key_entry *const *)b;
	int c = strcmp(x->guid, y->guid);

	return c ? c : strcmp(x->recovery_password, y->recovery_password);
}


int lb_keys_seal(const struct lb_keystore *ks, const char *out_path, const char *passphrase,
                 size_t passphrase_len, const struct lb_seal_params *params, struct lb_err *err)
{
	struct lb_seal_params prm;
	const struct lb_key_entry **order = NULL;
	uint8_t hdr[HDR_LEN];
	uint8_t *key = NULL, *plain = NULL, *ct = NULL;
	size_t plen = 0, cap, ctlen;
	int rc = -1;

	if (sodium_init() < 0)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "libsodium initialisation failed");
	if (!ks || ks->n == 0)
		return lb_err_set(err, LB_EK_USAGE, 0, "no recovery keys to seal");
	if (!passphrase || passphrase_len == 0)
		return lb_err_set(err, LB_EK_USAGE, 0, "an empty passphrase is not allowed");
	if (params)
		prm = *params;
	else
		lb_seal_params_default(&prm);
	if (prm.opslimit < crypto_pwhash_OPSLIMIT_MIN || prm.opslimit > MAX_OPSLIMIT ||
	    prm.memlimit < crypto_pwhash_MEMLIMIT_MIN || prm.memlimit > MAX_MEMLIMIT)
		return lb_err_set(err, LB_EK_USAGE, 0, "Argon2id limits out of range");

	order = malloc(ks->n * sizeof(*order));
	cap = sizeof(LIST_MAGIC) + ks->n * (LB_KEYS_GUID_STRLEN + LB_RP_LEN + 64 + 24 + 4);
	plain = sodium_malloc(HDR_LEN + cap);
	key = sodium_malloc(KEY_LEN);
	if (!order || !plain || !key) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "sealing");
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++)
		order[i] = &ks->entries[i];
	qsort(order, ks->n, sizeof(*order), cmp_entry);

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, LBK_SEAL_MAGIC, 8);
	lb_put_le32(hdr + 8, 1);
	lb_put_le32(hdr + 12, 1);
	lb_put_le64(hdr + 16, prm.opslimit);
	lb_put_le64(hdr + 24, prm.memlimit);
	randombytes_buf(hdr + 32, crypto_pwhash_SALTBYTES);
	randombytes_buf(hdr + 48, crypto_secretbox_NONCEBYTES);

	plen = HDR_LEN;
	memcpy(plain + plen, LIST_MAGIC, strlen(LIST_MAGIC));
	plen += strlen(LIST_MAGIC);
	for (size_t i = 0; i < ks->n; i++) {
		int k = snprintf((char *)plain + plen, HDR_LEN + cap - plen, "%s\t%s\t%s\t%s\n",
		                 order[i]->guid, order[i]->recovery_password, order[i]->host,
		                 order[i]->source);

		if (k < 0 || (size_t)k >= HDR_LEN + cap - plen) {
			lb_err_set(err, LB_EK_INTERNAL, 0, "sealing: buffer too small");
			goto out;
		}
		plen += (size_t)k;
	}
	ctlen = plen + crypto_secretbox_MACBYTES;
	lb_put_le64(hdr + 72, ctlen);
	memcpy(plain, hdr, HDR_LEN);

	if (crypto_pwhash(key, KEY_LEN, passphrase, passphrase_len, hdr + 32, prm.opslimit,
	                  prm.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "Argon2id key derivation (out of memory?)");
		goto out;
	}
	/* the file: the clear header, then the ciphertext */
	ct = malloc(HDR_LEN + ctlen);
	if (!ct) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "sealing");
		goto out;
	}
	memcpy(ct, hdr, HDR_LEN);
	crypto_secretbox_easy(ct + HDR_LEN, plain, plen, hdr + 48, key);
	if (lb_replace_file(out_path, ct, HDR_LEN + ctlen, 0600, err))
		goto out;
	rc = 0;
out:
	free(order);
	if (plain)
		sodium_free(plain);
	if (key)
		sodium_free(key);
	free(ct);
	return rc;
}

int lb_keys_seal_files(const char *const *escrow_paths, size_t n_paths, const char *out_path,
                       const char *passphrase, size_t passphrase_len,
                       const struct lb_seal_params *params, struct lb_err *err)
{
	struct lb_keystore *ks = lb_keys_new();
	int rc = 0;

	if (!ks)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "key store");
	for (size_t i = 0; i < n_paths && rc == 0; i++)
		rc = lb_keys_load_file(ks, escrow_paths[i], NULL, err);
	if (rc == 0)
		rc = lb_keys_seal(ks, out_path, passphrase, passphrase_len, params, err);
	lb_keys_free(ks);
	return rc;
}

bool lb_keys_is_sealed_file(const char *path)
{
	uint8_t m[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = read(fd, m, 8) == 8 && memcmp(m, LBK_SEAL_MAGIC, 8) == 0;
	close(fd);
	return yes;
}

/* Parses the decrypted key list into ks. */
static int parse_list(struct lb_keystore *ks, char *p, size_t n, const char *path,
                      struct lb_err *err)
{
	size_t ml = strlen(LIST_MAGIC), pos;
	struct lb_keys_stats st;

	memset(&st, 0, sizeof(st));
	if (n < ml || memcmp(p, LIST_MAGIC, ml) != 0)
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: unknown key list format", path);
	pos = ml;
	while (pos < n) {
		char *line = p + pos, *nl = memchr(line, '\n', n - pos);
		char *f[4];
		char rp[LB_RP_LEN + 1];
		int k = 0;

		if (!nl)
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: truncated key list", path);
		*nl = '\0';
		pos = (size_t)(nl - p) + 1;
		f[k++] = line;
		for (char *c = line; *c && k < 4; c++) {
			if (*c == '\t') {
				*c = '\0';
				f[k++] = c + 1;
			}
		}
		if (k != 4)
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: malformed key list line", path);
		if (lb_rp_normalize(f[1], rp, NULL))
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: malformed recovery password in list",
			                  path);
		if (lbk_add(ks, f[0], rp, f[2], f[3], &st, err)) {
			sodium_memzero(rp, sizeof(rp));
			return -1;
		}
		sodium_memzero(rp, sizeof(rp));
	}
	return 0;
}

int lb_keys_open_sealed(struct lb_keystore *ks, const char *path, const char *passphrase,
                        size_t passphrase_len, struct lb_err *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	const uint8_t *h;
	uint8_t *key = NULL, *plain = NULL;
	uint64_t ops, mem, ctlen;
	int rc = -1;

	if (sodium_init() < 0)
		return lb_err_set(err, LB_EK_INTERNAL, 0, "libsodium initialisation failed");
	if (!ks || !passphrase)
		return lb_err_set(err, LB_EK_INTERNAL, EINVAL, "lb_keys_open_sealed: bad arguments");
	if (lb_read_file(path, MAX_SEALED, &data, &len, err))
		return -1;
	h = data;
	if (len < 8 || memcmp(h, LBK_SEAL_MAGIC, 8) != 0) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: not a sealed key file", path);
		goto out;
	}
	if (len < HDR_LEN || lb_le32(h + 8) != 1 || lb_le32(h + 12) != 1) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: unsupported sealed key file version", path);
		goto out;
	}
	ops = lb_le64(h + 16);
	mem = lb_le64(h + 24);
	ctlen = lb_le64(h + 72);
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > MAX_OPSLIMIT ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > MAX_MEMLIMIT) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: sealed key file has out-of-range Argon2id limits",
		           path);
		goto out;
	}
	if (ctlen != len - HDR_LEN || ctlen < crypto_secretbox_MACBYTES + HDR_LEN) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: sealed key file is truncated or padded", path);
		goto out;
	}
	key = sodium_malloc(KEY_LEN);
	plain = sodium_malloc(ctlen - crypto_secretbox_MACBYTES + 1);
	if (!key || !plain) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", path);
		goto out;
	}
	if (crypto_pwhash(key, KEY_LEN, passphrase, passphrase_len, h + 32, ops, (size_t)mem,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: Argon2id key derivation (out of memory?)",
		           path);
		goto out;
	}
	if (crypto_secretbox_open_easy(plain, h + HDR_LEN, ctlen, h + 48, key) != 0) {
		lb_err_set(err, LB_EK_REFUSED, 0, "%s: wrong passphrase or damaged sealed key file",
		           path);
		goto out;
	}
	if (sodium_memcmp(plain, h, HDR_LEN) != 0) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: sealed key file header was altered", path);
		goto out;
	}
	plain[ctlen - crypto_secretbox_MACBYTES] = '\0';
	rc = parse_list(ks, (char *)plain + HDR_LEN, ctlen - crypto_secretbox_MACBYTES - HDR_LEN,
	                path, err);
out:
	if (key)
		sodium_free(key);
	if (plain)
		sodium_free(plain);
	lbk_wipe_free(data, len + 1);
	return rc;
}
