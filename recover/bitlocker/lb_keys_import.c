/* lb_keys_import.c - escrow exports (CSV, Graph JSON) into the key store.
 *
 * Rather than one parser per vendor, a row (CSV record or JSON object) is
 * mapped by its column names, normalised to lower-case letters and digits
 * ("msFVE-RecoveryPassword" -> "msfverecoverypassword"):
 *   key ID      msFVE-RecoveryGuid, RecoveryGUID, RecoveryKeyId, KeyId,
 *               KeyProtectorId, ... and finally "id" (Graph)
 *   password    msFVE-RecoveryPassword, RecoveryPassword, RecoveryKey,
 *               RecoveryKeyPassword, ... and finally "key" (Graph)
 *   host        HostName, ComputerName, DeviceName, ..., deviceId
 *   fallback    DistinguishedName / Name / CN of an AD recovery object,
 *               "<date>{GUID}" or "CN=<date>{GUID},CN=HOST,...": the key ID
 *               (and host) are taken from it when the ID column is missing
 *               or unusable ("System.Byte[]").
 * The "source" label (ad, entra, mbam, crowdstrike, csv, json) is a guess
 * from the columns, for the report only.
 *
 * A CSV whose first row names no password column but holds a recovery
 * password (digits and dashes) has no header: a bare list of passwords, or
 * "KeyID,Password" rows; the columns are then told by their content.
 * Graph JSON may be several documents one after the other ("{...}{...}",
 * as az rest prints pages).  A row whose password is unusable is skipped
 * and leaves a note (lb_keys_note) against its key ID, so a volume that
 * stays locked says why; rows without an ID leave one note per file.
 * Messages name columns and rows, never cell contents. */
#define LB_KEYS_INTERNAL
#include "lb_keys.h"
#include "lb_bitlocker.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "lb_bytes.h"
#include "lb_text.h"

/* ---- encodings ---- */

int lbk_to_utf8(const char *in, size_t len, char **out, size_t *olen, struct lb_err *err)
{
	const unsigned char *u = (const unsigned char *)in;
	int utf16 = 0;   /* 1 = LE, 2 = BE */
	size_t i = 0;
	uint8_t *swapped = NULL;
	char *buf;

	if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
		i = 3;
	} else if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
		utf16 = 1;
		i = 2;
	} else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
		utf16 = 2;
		i = 2;
	} else if (len >= 4 && u[0] && !u[1] && u[2] && !u[3]) {
		utf16 = 1;   /* UTF-16LE without BOM */
	}
	if (!utf16) {
		buf = malloc(len - i + 1);
		if (!buf)
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "decoding");
		memcpy(buf, in + i, len - i);
		buf[len - i] = '\0';
		*out = buf;
		*olen = len - i;
		return 0;
	}
	if (utf16 == 2) {   /* UTF-16BE: swap into a copy (wiped: it holds the keys) */
		size_t n = (len - i) & ~(size_t)1;

		swapped = malloc(n ? n : 1);
		if (!swapped)
			return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "decoding");
		for (size_t k = 0; k < n; k += 2) {
			swapped[k] = u[i + k + 1];
			swapped[k + 1] = u[i + k];
		}
		buf = lb_utf16le_to_utf8(swapped, n);
		lbk_wipe_free(swapped, n);
	} else {
		buf = lb_utf16le_to_utf8(u + i, len - i);
	}
	if (!buf)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "decoding");
	*out = buf;
	*olen = strlen(buf);
	return 0;
}

/* ---- column mapping ---- */

static void norm_name(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; in && *in && o + 1 < cap; in++)
		if (isalnum((unsigned char)*in))
			out[o++] = (char)tolower((unsigned char)*in);
	out[o] = '\0';
}

static const char *const GUID_COLS[] = {
	"msfverecoveryguid", "recoveryguid", "recoverykeyid", "keyid", "keyprotectorid",
	"protectorid", "recoverypasswordid", "passwordid", "bitlockerkeyid",
	"bitlockerrecoverykeyid", "recoveryid", "id", NULL
};
static const char *const PASS_COLS[] = {
	"msfverecoverypassword", "recoverypassword", "recoverykeypassword",
	"bitlockerrecoverypassword", "bitlockerrecoverykey", "recoverykey", "bitlockerkey",
	"key", NULL
};
static const char *const HOST_COLS[] = {
	"hostname", "computername", "computer", "devicename", "dnshostname", "machinename",
	"device", "deviceid", NULL
};
static const char *const DN_COLS[] = { "distinguishedname", "dn", "name", "cn", "canonicalname", NULL };

#define MAX_COLS 128

struct colmap {
	int guid, pass, host, dn;
	const char *source;
};

/* Per file: its name for notes, and the rows without a key ID whose
 * password could not be used (one note for all of them, at the end). */
struct loadctx {
	const char *name;
	size_t noid_bad, first_row;
	char first_why[96];
};

static int find_col(char names[][48], int n, const char *const *cands)
{
	for (int c = 0; cands[c]; c++)
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], cands[c]) == 0)
				return i;
	return -1;
}

static bool has_col(char names[][48], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void map_columns(char names[][48], int n, bool json, struct colmap *cm)
{
	bool ad = false;

	cm->guid = find_col(names, n, GUID_COLS);
	cm->pass = find_col(names, n, PASS_COLS);
	cm->host = find_col(names, n, HOST_COLS);
	cm->dn = find_col(names, n, DN_COLS);
	for (int i = 0; i < n; i++)
		if (strncmp(names[i], "msfve", 5) == 0)
			ad = true;
	if (ad || has_col(names, n, "distinguishedname"))
		cm->source = "ad";
	else if (has_col(names, n, "volumetype") || has_col(names, n, "deviceid") ||
	         has_col(names, n, "createddatetime"))
		cm->source = "entra";
	else if (has_col(names, n, "aid") || has_col(names, n, "cid") ||
	         (has_col(names, n, "keyid") && has_col(names, n, "recoverykey") &&
	          has_col(names, n, "hostname")))
		cm->source = "crowdstrike";
	else if (has_col(names, n, "recoverykeyid") || has_col(names, n, "recoverykeypassword") ||
	         (has_col(names, n, "keyid") && has_col(names, n, "recoverykey")))
		cm->source = "mbam";
	else
		cm->source = json ? "json" : "csv";
}

static const char *trim(const char *v, char *buf, size_t cap)
{
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

/* "{guid}", "guid", or 32 hex digits of the raw on-disk bytes (csvde "X'..'"). */
static int guid_from_value(const char *v, char out[LB_KEYS_GUID_STRLEN])
{
	char t[96], hex[33];
	const char *p;
	size_t n;
	uint8_t raw[16];

	trim(v, t, sizeof(t));
	if (lb_guid_canon(t, out) == 0)
		return 0;
	p = t;
	n = strlen(p);
	if (n >= 3 && (p[0] == 'X' || p[0] == 'x') && p[1] == '\'' && p[n - 1] == '\'') {
		p += 2;
		n -= 3;
	} else if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		n -= 2;
	}
	if (n != 32)
		return -1;
	memcpy(hex, p, 32);
	hex[32] = '\0';
	if (lb_unhex(hex, raw, sizeof(raw)))
		return -1;
	lb_guid_format(raw, out);
	return 0;
}

/* AD recovery object name or DN: "...{GUID}..." */
static int guid_from_dn(const char *v, char out[LB_KEYS_GUID_STRLEN])
{
	const char *b = strchr(v, '{');
	char t[40];

	if (!b || strlen(b) < 38 || b[37] != '}')
		return -1;
	memcpy(t, b, 38);
	t[38] = '\0';
	return lb_guid_canon(t, out);
}

/* "CN=<date>{GUID},CN=HOST,OU=..." -> "HOST" */
static void host_from_dn(const char *v, char *out, size_t cap)
{
	const char *p = strstr(v, "},");
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return;
	p += 2;
	if (strncasecmp(p, "CN=", 3) != 0)
		return;
	p += 3;
	while (p[n] && p[n] != ',' && n + 1 < cap)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int take_row(struct lb_keystore *ks, const struct colmap *cm, const char *const *vals,
                    int nvals, struct loadctx *lc, struct lb_keys_stats *st, struct lb_err *err)
{
	char rp[LB_RP_LEN + 1];
	char guid[LB_KEYS_GUID_STRLEN] = "";
	char host[128] = "", why[96];
	const char *pv = cm->pass >= 0 && cm->pass < nvals ? vals[cm->pass] : NULL;
	int rc;

	st->rows++;
	if (!(cm->guid >= 0 && cm->guid < nvals && vals[cm->guid] &&
	      guid_from_value(vals[cm->guid], guid) == 0) &&
	    !(cm->dn >= 0 && cm->dn < nvals && vals[cm->dn] && guid_from_dn(vals[cm->dn], guid) == 0))
		guid[0] = '\0';
	if (!pv || lb_rp_normalize(pv, rp, NULL)) {
		const char *w = lb_rp_problem(pv, why, sizeof(why));

		st->bad_key++;
		if (!w)
			w = "cannot be used";
		if (guid[0]) {
			if (lb_keys_note(ks, guid, "escrow entry for %s in %s: recovery password %s", guid,
			                 lc->name, w))
				return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", lc->name);
		} else if (lc->noid_bad++ == 0) {
			lc->first_row = st->rows;
			snprintf(lc->first_why, sizeof(lc->first_why), "%s", w);
		}
		return 0;
	}
	if (!guid[0])
		st->bad_guid++;
	if (cm->host >= 0 && cm->host < nvals && vals[cm->host])
		trim(vals[cm->host], host, sizeof(host));
	if (!host[0] && cm->dn >= 0 && cm->dn < nvals && vals[cm->dn])
		host_from_dn(vals[cm->dn], host, sizeof(host));
	rc = lbk_add(ks, guid, rp, host, cm->source, st, err);
	sodium_memzero(rp, sizeof(rp));
	return rc;
}

/* The one note for the rows without a key ID that were skipped. */
static int noid_note(struct lb_keystore *ks, const struct loadctx *lc, struct lb_err *err)
{
	if (!lc->noid_bad)
		return 0;
	if (lb_keys_note(ks, NULL, "%s: %zu entr%s without a key ID skipped (data row %zu: "
	                 "recovery password %s)", lc->name, lc->noid_bad,
	                 lc->noid_bad == 1 ? "y" : "ies", lc->first_row, lc->first_why))
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", lc->name);
	return 0;
}

/* ---- CSV ---- */

struct record {
	char *v[MAX_COLS];
	size_t len[MAX_COLS];
	int n;
};

static void record_clear(struct record *r)
{
	for (int i = 0; i < r->n; i++) {
		lbk_wipe_free(r->v[i], r->len[i] + 1);
		r->v[i] = NULL;
	}
	r->n = 0;
}

/* Parses one record at *pos.  Returns 1 (record), 0 (end of input), -1
 * (unterminated quote, out of memory). */
static int csv_record(const char *s, size_t n, size_t *pos, char delim, struct record *r)
{
	size_t p = *pos;

	r->n = 0;
	if (p >= n)
		return 0;
	for (;;) {
		char *f;
		size_t flen = 0, cap, q = p;
		bool quoted = p < n && s[p] == '"';

		/* find the raw extent first, then copy (unescaping "") */
		if (quoted) {
			q++;
			for (;;) {
				if (q >= n) {
					*pos = n;
					return -1;
				}
				if (s[q] == '"') {
					if (q + 1 < n && s[q + 1] == '"') {
						q += 2;
						continue;
					}
					break;
				}
				q++;
			}
		} else {
			while (q < n && s[q] != delim && s[q] != '\n' && s[q] != '\r')
				q++;
		}
		cap = q - p + 1;
		f = malloc(cap);
		if (!f)
			return -1;
		if (quoted) {
			for (size_t k = p + 1; k < q; k++) {
				f[flen++] = s[k];
				if (s[k] == '"')
					k++;   /* "" -> " */
			}
			p = q + 1;
			while (p < n && s[p] != delim && s[p] != '\n' && s[p] != '\r')
				p++;   /* junk after the closing quote */
		} else {
			memcpy(f, s + p, q - p);
			flen = q - p;
			p = q;
		}
		f[flen] = '\0';
		if (r->n < MAX_COLS) {
			r->v[r->n] = f;
			r->len[r->n] = flen;
			r->n++;
		} else {
			lbk_wipe_free(f, cap);
		}
		if (p < n && s[p] == delim) {
			p++;
			continue;
		}
		if (p < n && s[p] == '\r')
			p++;
		if (p < n && s[p] == '\n')
			p++;
		break;
	}
	*pos = p;
	return 1;
}

static bool record_blank(const struct record *r)
{
	for (int i = 0; i < r->n; i++)
		for (size_t k = 0; k < r->len[i]; k++)
			if (r->v[i][k] != ' ' && r->v[i][k] != '\t')
				return false;
	return true;
}

static size_t skip_line(const char *s, size_t n, size_t p)
{
	while (p < n && s[p] != '\n')
		p++;
	return p < n ? p + 1 : n;
}

/* A normalised header cell that can be quoted in a message: a name with a
 * letter in it and few digits, never a key, an ID or a date. */
static bool name_like(const char *h)
{
	size_t digits = 0, letters = 0, len = strlen(h);

	for (const char *c = h; *c; c++) {
		digits += isdigit((unsigned char)*c) != 0;
		letters += isalpha((unsigned char)*c) != 0;
	}
	return len && len <= 40 && letters && digits <= 3;
}

/* The first record of a file without a header: a column holding a
 * recovery password (checksum or not) and perhaps one holding a key ID.
 * True if it is such a record; cm then maps the columns by position. */
static bool headerless_columns(const struct record *r, struct colmap *cm)
{
	char g[LB_KEYS_GUID_STRLEN];
	int pass = -1, guid = -1;

	for (int i = 0; i < r->n; i++) {
		if (pass < 0 && lb_rp_lookalike(r->v[i]))
			pass = i;
		else if (guid < 0 && guid_from_value(r->v[i], g) == 0)
			guid = i;
	}
	if (pass < 0)
		return false;
	cm->pass = pass;
	cm->guid = guid;
	cm->host = -1;
	cm->dn = -1;
	cm->source = "csv";
	return true;
}

int lbk_load_csv(struct lb_keystore *ks, const char *s, size_t n, const char *name,
                 struct lb_keys_stats *st, struct lb_err *err)
{
	char (*hdr)[48];
	struct record r = { .n = 0 };
	struct colmap cm;
	struct loadctx lc = { .name = name };
	size_t p = 0;
	char delim = 0;
	int ncols, rc = 0;

	hdr = calloc(MAX_COLS, sizeof(*hdr));
	if (!hdr)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s", name);

	/* comments, "#TYPE ..." (Windows PowerShell) and Excel's "sep=;" */
	for (;;) {
		size_t q = p;

		while (q < n && (s[q] == ' ' || s[q] == '\t' || s[q] == '\r' || s[q] == '\n'))
			q++;
		if (q >= n)
			break;
		if (s[q] == '#') {
			p = skip_line(s, n, q);
			continue;
		}
		if (n - q >= 5 && strncasecmp(s + q, "sep=", 4) == 0 && s[q + 4] != '\r' &&
		    s[q + 4] != '\n') {
			delim = s[q + 4];
			p = skip_line(s, n, q);
			continue;
		}
		p = q;
		break;
	}
	if (!delim) {   /* the most frequent of , ; TAB outside quotes in the header line */
		size_t cnt[3] = { 0, 0, 0 };
		bool inq = false;

		for (size_t q = p; q < n && (inq || (s[q] != '\n' && s[q] != '\r')); q++) {
			if (s[q] == '"')
				inq = !inq;
			else if (!inq && s[q] == ',')
				cnt[0]++;
			else if (!inq && s[q] == ';')
				cnt[1]++;
			else if (!inq && s[q] == '\t')
				cnt[2]++;
		}
		delim = ',';
		if (cnt[1] > cnt[0] && cnt[1] >= cnt[2])
			delim = ';';
		else if (cnt[2] > cnt[0] && cnt[2] > cnt[1])
			delim = '\t';
	}
	if (csv_record(s, n, &p, delim, &r) != 1) {
		record_clear(&r);
		free(hdr);
		return lb_err_set(err, LB_EK_INPUT, 0, "%s: empty or unreadable CSV", name);
	}
	ncols = r.n;
	for (int i = 0; i < ncols; i++)
		norm_name(r.v[i], hdr[i], sizeof(hdr[i]));
	map_columns(hdr, ncols, false, &cm);
	if (cm.pass < 0 && headerless_columns(&r, &cm)) {
		/* no header: the first row is data */
		st->headerless = true;
		rc = take_row(ks, &cm, (const char *const *)r.v, r.n, &lc, st, err);
		record_clear(&r);
		if (rc) {
			free(hdr);
			return rc;
		}
	}
	record_clear(&r);
	if (cm.pass < 0) {
		char list[256];
		size_t o = 0;
		bool any = false;

		/* header names only: a cell that does not look like a name (a
		 * data row, a key) is shown as "?" */
		list[0] = '\0';
		for (int i = 0; i < ncols && o + 50 < sizeof(list); i++) {
			bool nm = name_like(hdr[i]);

			any |= nm;
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
			                      nm ? hdr[i] : "?");
		}
		free(hdr);
		if (!any)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "%s: no recovery-password column: the first row has %d "
			                  "column%s, none of them a header name or a 48-digit recovery "
			                  "password", name, ncols, ncols == 1 ? "" : "s");
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: no recovery-password column in the CSV header (columns: %s)",
		                  name, list);
	}
	for (;;) {
		int k = csv_record(s, n, &p, delim, &r);

		if (k == 0)
			break;
		if (k < 0) {
			record_clear(&r);
			rc = lb_err_set(err, LB_EK_INPUT, 0, "%s: unterminated quoted field", name);
			break;
		}
		if (!record_blank(&r) && take_row(ks, &cm, (const char *const *)r.v, r.n, &lc, st, err)) {
			record_clear(&r);
			rc = -1;
			break;
		}
		record_clear(&r);
	}
	free(hdr);
	if (rc == 0)
		rc = noid_note(ks, &lc, err);
	return rc;
}

/* ---- JSON (Microsoft Graph informationProtection/bitlocker/recoveryKeys) ---- */

static int json_row(struct lb_keystore *ks, json_t *obj, struct loadctx *lc,
                    struct lb_keys_stats *st, struct lb_err *err)
{
	char (*hdr)[48];
	const char *vals[MAX_COLS];
	char nums[MAX_COLS][24];
	const char *k;
	json_t *v;
	struct colmap cm;
	int n = 0, rc;

	if (!json_is_object(obj)) {
		st->rows++;
		st->bad_key++;
		return 0;
	}
	hdr = calloc(MAX_COLS, sizeof(*hdr));
	if (!hdr)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "JSON");
	json_object_foreach(obj, k, v) {
		if (n >= MAX_COLS)
			break;
		if (json_is_string(v)) {
			vals[n] = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(nums[n], sizeof(nums[n]), "%lld", (long long)json_integer_value(v));
			vals[n] = nums[n];
		} else {
			continue;
		}
		norm_name(k, hdr[n], sizeof(hdr[n]));
		n++;
	}
	map_columns(hdr, n, true, &cm);
	rc = take_row(ks, &cm, vals, n, lc, st, err);
	free(hdr);
	return rc;
}

/* One JSON document: a Graph page {"value":[...]}, one key object, or an
 * array of key objects. */
static int json_doc(struct lb_keystore *ks, json_t *root, struct loadctx *lc,
                    struct lb_keys_stats *st, struct lb_err *err)
{
	json_t *arr = root, *el;
	size_t i;

	if (json_is_object(root)) {
		json_t *value = json_object_get(root, "value");

		arr = json_is_array(value) ? value : NULL;
		if (!arr)
			return json_row(ks, root, lc, st, err);
	}
	if (!json_is_array(arr)) {
		st->rows++;
		st->bad_key++;
		return 0;
	}
	json_array_foreach(arr, i, el)
		if (json_row(ks, el, lc, st, err))
			return -1;
	return 0;
}

int lbk_load_json(struct lb_keystore *ks, const char *s, size_t n, const char *name,
                  struct lb_keys_stats *st, struct lb_err *err)
{
	struct loadctx lc = { .name = name };
	size_t pos = 0;
	int rc = 0, ndoc = 0;

	/* several documents one after the other ({...}{...}, or one per line,
	 * as az rest and jq print pages): each is read in turn */
	while (rc == 0) {
		json_error_t je;
		json_t *root;

		while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' ||
		                   s[pos] == '\n' || s[pos] == ','))
			pos++;
		if (pos >= n)
			break;
		root = json_loadb(s + pos, n - pos, JSON_DISABLE_EOF_CHECK, &je);
		if (!root)   /* je.text may quote input (a key): only report the position */
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: not valid JSON (%sline %d, column %d)",
			                  name, ndoc ? "after the first document, " : "", je.line,
			                  je.column);
		ndoc++;
		if (je.position <= 0) {
			json_decref(root);
			break;
		}
		pos += (size_t)je.position;
		rc = json_doc(ks, root, &lc, st, err);
		json_decref(root);
	}
	if (rc == 0)
		rc = noid_note(ks, &lc, err);
	if (rc)
		lb_err_wrap(err, "%s", name);
	return rc;
}
