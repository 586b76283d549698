/* lb_engine.c - plan, back up, apply, report. */
#include "lb_engine.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_bcd.h"
#include "lb_bitlocker.h"
#include "lb_hivedit.h"
#include "lb_regf.h"
#include "lb_evidence.h"
#include "lb_ntfs.h"
#include "lb_ntfs_replay.h"
#include "lb_partition.h"
#include "lb_source.h"
#include "lb_windows.h"

#define FILE_MAX (256ULL * 1024 * 1024) /* largest file we read whole */
#define HIBER_HEADER 4096

enum vstatus { VS_CLEAN, VS_FIXED, VS_ATTN, VS_ERROR };

static const char *vstatus_name(enum vstatus s)
{
	switch (s) {
	case VS_CLEAN: return "clean";
	case VS_FIXED: return "fixed";
	case VS_ATTN: return "needs_attention";
	case VS_ERROR: return "error";
	}
	return "error";
}

/* One planned change to one file. */
struct plan {
	json_t *finding;               /* report entry (borrowed from the report) */
	json_t *meta;                  /* evidence manifest entry (owned) */
	char path[4400];               /* volume path, real case (PL_BCD: local file) */
	char name[256];
	uint8_t *data;                 /* bytes captured for evidence */
	uint64_t len;
	char sha256[65];
	int64_t mtime_unix;
	enum { PL_QUARANTINE, PL_DELETE, PL_HIBER_INVALIDATE, PL_HIVE, PL_HIVE_COMPLETE,
	       PL_EVIDENCE_ONLY, PL_BCD, PL_BCD_COMPLETE, PL_MFTMIRR } kind;
	bool done;
	/* PL_HIVE: the new hive bytes, the findings it carries out */
	uint8_t *newdata;
	size_t newlen;
	char new_sha[65];
	struct lb_ntfs_stat st;
	bool replayed;
	json_t *findings;
	int bcd_mode;                  /* PL_BCD; path = local new BCD file */
};

struct volume {
	json_t *j;                     /* report entry (borrowed) */
	int partno;
	uint64_t offset, size;
	enum vstatus status;
	int exit_code;                 /* worst exit status seen on this volume */
	bool hibernated, journal_unclean;
	int would;                     /* scan: files a fix would act on */
	struct plan *plans;
	size_t nplans;
	double open_ms, scan_ms, fix_ms;
	int ninstalls;
	bool bitlocker;
	struct lb_bitlocker_info *bl;  /* probe result, for re-opening */
	uint64_t writes;
	bool esp;                      /* EFI System Partition holding the BCD */
	struct lb_mftmirr mirr;        /* $MFTMirr as scanned (owned buffers) */
	json_t *mirr_j;                /* its report entry (borrowed) */
};

struct target {
	const char *path;
	json_t *j;
	struct volume *vols;
	int nvols;
	int exit_code;
	bool opened;
};

struct run {
	const struct lb_options *o;
	char stamp[32];                /* 20261129T002010Z */
	char tmpdir[4096];             /* private temporary files (BCD copies) */
	json_t *report;
	struct target *targets;
	size_t ntargets;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


static void add_reason(json_t *obj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(json_t *obj, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	json_t *r = json_object_get(obj, "reasons");

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!r) {
		r = json_array();
		json_object_set_new(obj, "reasons", r);
	}
	json_array_append_new(r, json_string(buf));
}

static void vol_attention(struct volume *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vol_attention(struct volume *v, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add_reason(v->j, "%s", buf);
	if (v->status != VS_ERROR)
		v->status = VS_ATTN;
	v->exit_code = lb_exit_worse(v->exit_code, LB_EXIT_ATTENTION);
}

static void vol_error(struct volume *v, const struct lb_err *err)
{
	json_object_set_new(v->j, "error", json_string(err->msg));
	add_reason(v->j, "%s", err->msg);
	if (err->kind == LB_EK_REFUSED) {
		if (v->status != VS_ERROR)
			v->status = VS_ATTN;
	} else {
		v->status = VS_ERROR;
	}
	v->exit_code = lb_exit_worse(v->exit_code, lb_exit_for(err->kind));
}

static json_t *jstr_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static void hex_bytes(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static json_t *hive_json(const struct lb_hive_status *h)
{
	return json_pack("{s:b, s:b, s:b, s:o}", "present", h->present, "ok", h->ok, "dirty",
	                 h->dirty, "error", jstr_or_null(h->error));
}

static json_t *install_json(const struct lb_install *in)
{
	json_t *j = json_object();

	json_object_set_new(j, "system_root", json_string(in->system_root));
	json_object_set_new(j, "hostname", jstr_or_null(in->hostname));
	json_object_set_new(j, "domain", jstr_or_null(in->domain));
	json_object_set_new(j, "product_name", jstr_or_null(in->product_name));
	json_object_set_new(j, "edition", jstr_or_null(in->edition));
	json_object_set_new(j, "build", jstr_or_null(in->build));
	json_object_set_new(j, "ubr", in->has_ubr ? json_integer(in->ubr) : json_null());
	json_object_set_new(j, "display_version", jstr_or_null(in->display_version));
	json_object_set_new(j, "install_date", jstr_or_null(in->install_date));
	json_object_set_new(j, "sensor", json_pack("{s:b, s:o, s:o, s:o}", "present",
	                    in->sensor_present, "version", jstr_or_null(in->sensor_version),
	                    "agent_id", jstr_or_null(in->agent_id),
	                    "customer_id", jstr_or_null(in->customer_id)));
	json_object_set_new(j, "current_controlset",
	                    in->current_controlset ? json_integer(in->current_controlset) : json_null());
	json_object_set_new(j, "hives", json_pack("{s:o, s:o}", "system", hive_json(&in->system),
	                                          "software", hive_json(&in->software)));
	json_object_set_new(j, "findings", json_array());
	return j;
}

static void time_json(json_t *obj, const char *key, int64_t nt)
{
	char iso[32];

	lb_ntfs_time_iso(nt, iso);
	json_object_set_new(obj, key, json_string(iso));
}

/* ---- plan phase: one rule in one directory ---- */

struct rule_scan {
	struct run *run;
	struct target *t;
	struct volume *v;
	struct lb_ntfs *ntfs;
	const struct lb_playbook *pb;
	const struct lb_file_rule *rule;
	const char *dir;              /* volume path of the directory */
	json_t *findings;
	const char *system_root;
	struct lb_err *err;
	int failed;
};

static int add_plan(struct volume *v, struct plan **out)
{
	struct plan *np = realloc(v->plans, (v->nplans + 1) * sizeof(*np));

	if (!np)
		return -1;
	v->plans = np;
	*out = &np[v->nplans++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* A new plan carrying data (owned from here on, freed on failure) for the
 * evidence bundle: kind, on-volume path, bundle member name, finding. */
static struct plan *plan_bytes(struct volume *v, int kind, const char *path, const char *name,
                               uint8_t *data, size_t len, json_t *finding)
{
	struct plan *p;

	if (add_plan(v, &p)) {
		free(data);
		return NULL;
	}
	p->kind = kind;
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->data = data;
	p->len = len;
	lb_sha256_hex(data, len, p->sha256);
	p->finding = finding;
	p->mtime_unix = (int64_t)time(NULL);
	return p;
}

static json_t *evidence_meta(struct rule_scan *rs, const char *path, const struct lb_ntfs_stat *st,
                             const char *sha, const char *header_hex, const char *verdict,
                             const char *action)
{
	json_t *m = json_object();

	json_object_set_new(m, "target", json_string(rs->t->path));
	json_object_set_new(m, "partition", json_integer(rs->v->partno));
	json_object_set_new(m, "offset", json_integer((json_int_t)rs->v->offset));
	json_object_set_new(m, "volume_serial", json_object_get(rs->v->j, "serial") ?
	                    json_deep_copy(json_object_get(rs->v->j, "serial")) : json_null());
	json_object_set_new(m, "system_root", jstr_or_null(rs->system_root));
	json_object_set_new(m, "playbook", json_string(rs->pb->name));
	json_object_set_new(m, "rule", json_string(rs->rule->id));
	json_object_set_new(m, "path", json_string(path));
	json_object_set_new(m, "size", json_integer((json_int_t)st->size));
	json_object_set_new(m, "sha256", json_string(sha));
	json_object_set_new(m, "header", json_string(header_hex));
	json_object_set_new(m, "verdict", json_string(verdict));
	json_object_set_new(m, "action", json_string(action));
	time_json(m, "created", st->created);
	time_json(m, "modified", st->modified);
	time_json(m, "mft_changed", st->mft_changed);
	time_json(m, "accessed", st->accessed);
	json_object_set_new(m, "ntfs_times", json_pack("{s:I, s:I, s:I, s:I}",
	                    "created", (json_int_t)st->created, "modified", (json_int_t)st->modified,
	                    "mft_changed", (json_int_t)st->mft_changed,
	                    "accessed", (json_int_t)st->accessed));
	json_object_set_new(m, "attributes", json_integer(st->attributes));
	return m;
}

static int rule_file_cb(void *arg, const char *name, bool is_dir)
{
	struct rule_scan *rs = arg;
	const struct lb_options *o = rs->run->o;
	char path[1024], sha[65] = "", header_hex[2 * LB_HEADER_MAX + 1];
	uint8_t header[LB_HEADER_MAX] = { 0 };
	struct lb_ntfs_stat st;
	const char *verdict, *kind, *action = "none", *reason = NULL;
	uint8_t *data = NULL;
	uint64_t len = 0;
	size_t hlen;
	json_t *f;
	bool act;

	if (is_dir || !lb_glob_match_ci(rs->rule->glob, name))
		return 0;
	snprintf(path, sizeof(path), "%s\\%s", rs->dir, name);
	if (lb_ntfs_stat(rs->ntfs, path, &st, rs->err) != 0) {
		rs->failed = 1;
		return 1;
	}
	if (lb_ntfs_read_all(rs->ntfs, path, FILE_MAX, &data, &len, rs->err)) {
		rs->failed = 1;
		return 1;
	}
	hlen = len < rs->rule->header_len ? (size_t)len : rs->rule->header_len;
	memcpy(header, data, hlen);
	hex_bytes(header, hlen, header_hex);
	lb_sha256_hex(data, (size_t)len, sha);
	verdict = lb_rule_classify(rs->rule, lb_ntfs_time_to_unix(st.modified), header, hlen, &kind);

	act = strcmp(verdict, "bad") == 0 || (strcmp(verdict, "unexpected") == 0 && o->force);
	if (act) {
		bool del = o->delete_files || rs->rule->action == LB_ACT_DELETE;

		if (!o->fix) {
			action = del ? "would_delete" : "would_quarantine";
			reason = "run fix to act on it";
		} else {
			action = "planned";
		}
	} else if (strcmp(verdict, "unexpected") == 0) {
		action = "skipped";
		reason = "in the bad time window but its header is not a known channel-file header; "
		         "left alone (use --force to act on it)";
	}

	f = json_object();
	json_object_set_new(f, "playbook", json_string(rs->pb->name));
	json_object_set_new(f, "rule", json_string(rs->rule->id));
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "size", json_integer((json_int_t)st.size));
	time_json(f, "mtime", st.modified);
	json_object_set_new(f, "sha256", json_string(sha));
	json_object_set_new(f, "header", json_string(header_hex));
	json_object_set_new(f, "header_kind", json_string(kind));
	json_object_set_new(f, "verdict", json_string(verdict));
	json_object_set_new(f, "action", json_string(action));
	json_object_set_new(f, "quarantine_path", json_null());
	json_object_set_new(f, "reason", reason ? json_string(reason) : json_null());
	json_array_append_new(rs->findings, f);

	if (act && !o->fix)
		rs->v->would++;
	if (act && !o->fix)
		vol_attention(rs->v, "%s: %s file %s present (run fix)", rs->pb->name, verdict, path);
	else if (!act && strcmp(verdict, "unexpected") == 0)
		vol_attention(rs->v, "%s: %s is in the bad time window with an unknown header %s; "
		              "not touched without --force", rs->pb->name, path, header_hex);

	if (act && o->fix) {
		struct plan *p;

		if (add_plan(rs->v, &p)) {
			free(data);
			lb_err_set(rs->err, LB_EK_INTERNAL, ENOMEM, "planning");
			rs->failed = 1;
			return 1;
		}
		p->finding = f;
		p->kind = (o->delete_files || rs->rule->action == LB_ACT_DELETE) ? PL_DELETE
		                                                                 : PL_QUARANTINE;
		snprintf(p->path, sizeof(p->path), "%s", path);
		snprintf(p->name, sizeof(p->name), "%s", name);
		memcpy(p->sha256, sha, sizeof(sha));
		p->data = data;
		p->len = len;
		p->mtime_unix = lb_ntfs_time_to_unix(st.modified);
		p->meta = evidence_meta(rs, path, &st, sha, header_hex, verdict,
		                        p->kind == PL_DELETE ? "delete" : "quarantine");
		return 0;
	}
	free(data);
	return 0;
}

static int scan_rules(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
                      const char *system_root, json_t *findings, struct lb_err *err)
{
	const struct lb_options *o = run->o;

	for (size_t i = 0; i < o->nplaybooks; i++) {
		const struct lb_playbook *pb = o->playbooks[i];

		for (size_t r = 0; r < pb->nrules; r++) {
			const struct lb_file_rule *rule = &pb->rules[r];
			char dir[1024];
			struct rule_scan rs;

			if (rule->under_system_root != (system_root != NULL))
				continue;
			snprintf(dir, sizeof(dir), "%s\\%s", system_root ? system_root : "", rule->dir);
			memset(&rs, 0, sizeof(rs));
			rs.run = run;
			rs.t = t;
			rs.v = v;
			rs.ntfs = ntfs;
			rs.pb = pb;
			rs.rule = rule;
			rs.dir = dir;
			rs.findings = findings;
			rs.system_root = system_root;
			rs.err = err;
			if (lb_ntfs_readdir(ntfs, dir, rule_file_cb, &rs, err) < 0 || rs.failed)
				return -1;
		}
	}
	return 0;
}

/* A partition blkid could not name may still be a damaged NTFS: NTFS keeps
 * a backup boot sector in the last sector of the volume. */
static bool looks_like_damaged_ntfs(struct lb_source *src, const struct lb_part *p)
{
	char oem[8];
	struct lb_err e;
	const unsigned sizes[] = { 512, 4096 };

	if (p->size < 8192 || p->truncated)
		return false;
	if (lb_io_pread(src->io, oem, 8, p->offset + 3, &e) == 0 && memcmp(oem, "NTFS    ", 8) == 0)
		return true;
	for (size_t i = 0; i < 2; i++)
		if (lb_io_pread(src->io, oem, 8, p->offset + p->size - sizes[i] + 3, &e) == 0 &&
		    memcmp(oem, "NTFS    ", 8) == 0)
			return true;
	return false;
}

static void plan_hiber(struct volume *v, struct lb_ntfs *ntfs, const char *target)
{
	uint8_t *buf = malloc(HIBER_HEADER);
	struct plan *p;
	struct lb_err err;
	int64_t r;
	struct lb_ntfs_stat st;

	if (!buf || lb_ntfs_stat(ntfs, "\\hiberfil.sys", &st, &err) != 0) {
		free(buf);
		return;
	}
	r = lb_ntfs_pread(ntfs, "\\hiberfil.sys", buf, HIBER_HEADER, 0, &err);
	if (r <= 0 || add_plan(v, &p)) {
		free(buf);
		return;
	}
	p->kind = PL_HIBER_INVALIDATE;
	snprintf(p->path, sizeof(p->path), "\\hiberfil.sys");
	snprintf(p->name, sizeof(p->name), "hiberfil.sys.header");
	p->data = buf;
	p->len = (uint64_t)r;
	p->mtime_unix = lb_ntfs_time_to_unix(st.modified);
	lb_sha256_hex(buf, (size_t)r, p->sha256);
	p->meta = json_pack("{s:s, s:i, s:I, s:O?, s:s, s:s, s:I, s:s, s:s}", "target", target,
	                    "partition", v->partno, "offset", (json_int_t)v->offset,
	                    "volume_serial", json_object_get(v->j, "serial"),
	                    "path", "\\hiberfil.sys", "action", "invalidate_hibernation",
	                    "size", (json_int_t)r, "sha256", p->sha256,
	                    "note", "first bytes of hiberfil.sys before its signature was cleared");
}

static json_t *bitlocker_json(const struct lb_bitlocker_info *bi)
{
	json_t *j = json_object(), *prots = json_array();

	json_object_set_new(j, "volume_guid", json_string(bi->volume_guid));
	json_object_set_new(j, "to_go", json_boolean(bi->to_go));
	json_object_set_new(j, "cipher", json_string(bi->cipher ? bi->cipher : "unknown"));
	json_object_set_new(j, "key_bits", json_integer(bi->key_bits));
	json_object_set_new(j, "state", json_string(lb_bl_state_name(bi->state)));
	json_object_set_new(j, "fully_encrypted", json_boolean(bi->fully_encrypted));
	json_object_set_new(j, "suspended", json_boolean(bi->suspended));
	json_object_set_new(j, "description", jstr_or_null(bi->description));
	for (unsigned i = 0; i < bi->n_protectors; i++)
		json_array_append_new(prots, json_pack("{s:s, s:s}", "id", bi->protectors[i].guid,
		                      "type", lb_bl_protector_type_name(bi->protectors[i].type)));
	json_object_set_new(j, "protectors", prots);
	json_object_set_new(j, "unlocked", json_false());
	json_object_set_new(j, "unlocked_with", json_null());
	return j;
}

/* Recovery protectors whose keys were used: the admin rotates them. */
static void used_protector(struct run *run, struct volume *v, const char *prot,
                           const char *source)
{
	json_t *list = json_object_get(run->report, "bitlocker_protectors_used"), *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "protector")), prot))
			return;
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "protector", prot, "source",
	                      source, "volume_guid", v->bl->volume_guid, "partition", v->partno));
}

/* ---- plan phase: registry rules ---- */

static bool regval_equal(const struct lb_regval *v, uint32_t type, const uint8_t *d, size_t n)
{
	return v->present && v->type == type && v->len == n && (n == 0 || memcmp(v->data, d, n) == 0);
}

/* 0 read, 1 absent, -1 error */
static int read_optional(struct lb_ntfs *ntfs, const char *path, uint8_t **d, uint64_t *l,
                         struct lb_err *err)
{
	struct lb_ntfs_stat st;
	int rc = lb_ntfs_stat(ntfs, path, &st, err);

	*d = NULL;
	*l = 0;
	if (rc)
		return rc;
	return lb_ntfs_read_all(ntfs, path, FILE_MAX, d, l, err) ? -1 : 0;
}

static json_t *raw_json(bool present, uint32_t type, const uint8_t *d, size_t n)
{
	char *hex;
	json_t *j;

	if (!present)
		return json_pack("{s:b}", "present", 0);
	hex = lb_hex_encode(d, n);
	j = json_pack("{s:b, s:i, s:s}", "present", 1, "type", (int)type, "hex", hex ? hex : "");
	free(hex);
	return j;
}

static void plan_mark(struct plan *p, const char *action, const char *reason)
{
	json_t *f;
	size_t i;

	if (p->finding) {
		json_object_set_new(p->finding, "action", json_string(action));
		json_object_set_new(p->finding, "reason", reason ? json_string(reason) : json_null());
	}
	json_array_foreach(p->findings, i, f) {
		json_object_set_new(f, "action", json_string(action));
		json_object_set_new(f, "reason", reason ? json_string(reason) : json_null());
	}
}

static json_t *base_meta(struct target *t, struct volume *v, const char *system_root,
                         const char *action, const char *path)
{
	json_t *m = json_object();

	json_object_set_new(m, "target", json_string(t->path));
	json_object_set_new(m, "partition", json_integer(v->partno));
	json_object_set_new(m, "offset", json_integer((json_int_t)v->offset));
	json_object_set_new(m, "volume_serial", json_object_get(v->j, "serial") ?
	                    json_deep_copy(json_object_get(v->j, "serial")) : json_null());
	json_object_set_new(m, "system_root", jstr_or_null(system_root));
	json_object_set_new(m, "action", json_string(action));
	json_object_set_new(m, "path", json_string(path));
	return m;
}

static void refuse_rules(json_t *findings, const char *pbname, const char *hive,
                         const char *reason)
{
	json_array_append_new(findings, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
	                      "registry", "playbook", pbname, "hive", hive, "path", hive, "verdict",
	                      "unknown", "action", "refused", "reason", reason));
}

static const char *cs_roles(const struct lb_controlsets *cs, uint32_t n, char *buf, size_t len)
{
	buf[0] = 0;
	if (cs->current == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "current");
	if (cs->deflt == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "%sdefault", buf[0] ? "," : "");
	if (cs->last_known_good == n)
		snprintf(buf + strlen(buf), len - strlen(buf), "%slast_known_good", buf[0] ? "," : "");
	return buf;
}

/* Evaluates every registry rule on one hive of one installation; with fix,
 * plans the replacement of the hive file. */
static void scan_hive(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
                      const char *system_root, const char *hive, json_t *findings)
{
	const struct lb_options *o = run->o;
	char path[1024], logp[2][1100], reason[4096], sha[65];
	uint8_t *data = NULL, *logs[2] = { NULL, NULL }, *work = NULL, *newb = NULL;
	uint64_t len = 0, loglen[2] = { 0, 0 };
	size_t worklen = 0, newlen = 0, nedits = 0, nrules = 0;
	struct lb_reg_edit *edits = NULL;
	struct lb_regf_info info;
	struct lb_regf_replay_info ri;
	struct lb_hive_copy hc;
	struct lb_controlsets cs;
	struct lb_ntfs_stat st;
	struct lb_err err;
	json_t *hfind = json_array(), *medits = json_array();
	const char *firstpb = NULL;
	bool replayed = false, have_cs = false;

	memset(&hc, 0, sizeof(hc));
	lb_err_clear(&err);
	for (size_t i = 0; i < o->nplaybooks; i++)
		for (size_t r = 0; r < o->playbooks[i]->nreg; r++)
			if (!strcmp(o->playbooks[i]->reg[r].hive, hive)) {
				nrules++;
				if (!firstpb)
					firstpb = o->playbooks[i]->name;
			}
	if (!nrules)
		goto out;
	snprintf(path, sizeof(path), "%s\\System32\\config\\%s", system_root, hive);
	if (lb_ntfs_stat(ntfs, path, &st, &err) != 0 ||
	    lb_ntfs_read_all(ntfs, path, FILE_MAX, &data, &len, &err)) {
		snprintf(reason, sizeof(reason), "%s cannot be read: %s", path,
		         err.msg[0] ? err.msg : "missing");
		refuse_rules(findings, firstpb, hive, reason);
		vol_attention(v, "%s: registry rules not applied", reason);
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		snprintf(logp[k], sizeof(logp[k]), "%s.LOG%d", path, k + 1);
		if (read_optional(ntfs, logp[k], &logs[k], &loglen[k], &err) < 0) {
			vol_error(v, &err);
			goto out;
		}
	}
	memset(&info, 0, sizeof(info));
	if (lb_regf_check(data, (size_t)len, &info, &err) && !info.dirty) {
		snprintf(reason, sizeof(reason), "%s is damaged (%s): registry rules not applied, "
		         "nothing written", path, err.msg);
		refuse_rules(findings, firstpb, hive, reason);
		lb_err_set(&err, LB_EK_INPUT, 0, "%s", reason);
		vol_error(v, &err);
		goto out;
	}
	work = data;
	worklen = (size_t)len;
	if (info.dirty) {
		if (!logs[0] && !logs[1]) {
			snprintf(reason, sizeof(reason), "%s is dirty (sequence numbers %u/%u) and its "
			         ".LOG1/.LOG2 are missing: its latest changes cannot be recovered; "
			         "registry rules not applied, nothing written", path, info.seq1, info.seq2);
			refuse_rules(findings, firstpb, hive, reason);
			vol_attention(v, "%s", reason);
			goto out;
		}
		lb_err_clear(&err);
		if (lb_regf_replay(data, (size_t)len, logs[0], (size_t)loglen[0], logs[1],
		                   (size_t)loglen[1], &work, &worklen, &ri, &err)) {
			snprintf(reason, sizeof(reason), "%s is dirty and its logs do not replay (%s): "
			         "registry rules not applied, nothing written", path, err.msg);
			refuse_rules(findings, firstpb, hive, reason);
			vol_attention(v, "%s", reason);
			work = NULL;
			goto out;
		}
		replayed = true;
	}
	if (lb_hive_copy_open(work, worklen, &hc, &err)) {
		snprintf(reason, sizeof(reason), "%s: %s", path, err.msg);
		refuse_rules(findings, firstpb, hive, reason);
		vol_error(v, &err);
		goto out;
	}
	if (!strcmp(hive, "SYSTEM") && lb_hivedit_control_sets(hc.he->h, &cs, &err) == 0)
		have_cs = true;
	lb_err_clear(&err);
	edits = calloc(nrules * 3 + 1, sizeof(*edits));
	if (!edits) {
		lb_err_set(&err, LB_EK_INTERNAL, ENOMEM, "planning");
		vol_error(v, &err);
		goto out;
	}
	for (size_t i = 0; i < o->nplaybooks; i++) {
		const struct lb_playbook *pb = o->playbooks[i];

		for (size_t r = 0; r < pb->nreg; r++) {
			const struct lb_reg_rule *rule = &pb->reg[r];
			bool ccs = !strncasecmp(rule->key, "CurrentControlSet", 17) &&
			           (rule->key[17] == 0 || rule->key[17] == '\\');
			size_t nkeys = ccs ? (have_cs ? cs.nboot : 0) : 1;

			if (strcmp(rule->hive, hive))
				continue;
			if (ccs && nkeys == 0) {
				snprintf(reason, sizeof(reason), "%s: %s has no usable Select key: "
				         "CurrentControlSet cannot be resolved", rule->id, path);
				refuse_rules(findings, pb->name, hive, reason);
				vol_attention(v, "%s", reason);
				continue;
			}
			for (size_t k = 0; k < nkeys; k++) {
				char key[1024], roles[64] = "", full[1400];
				struct lb_regval old;
				struct lb_err e2;
				const char *why = NULL, *action = "none";
				bool key_present, need;
				json_t *f;
				int g;

				if (ccs)
					snprintf(key, sizeof(key), "ControlSet%03u%s", cs.boot[k], rule->key + 17);
				else
					snprintf(key, sizeof(key), "%s", rule->key);
				lb_err_clear(&e2);
				key_present = lb_hivedit_key(hc.he, key, false, &e2) != 0;
				lb_err_clear(&e2);
				g = lb_hivedit_get(hc.he, key, rule->value, &old, &e2);
				if (g < 0) {
					vol_error(v, &e2);
					continue;
				}
				if (rule->when_key_exists && !key_present) {
					need = false;
					why = "key not present";
				} else if (rule->has_equals &&
				           !regval_equal(&old, rule->eq_type, rule->eq_data, rule->eq_len)) {
					need = false;
					why = "condition value_equals not met";
				} else if (rule->op == LB_REGOP_DELETE_VALUE) {
					need = old.present;
					why = need ? NULL : "value not present";
				} else {
					need = !regval_equal(&old, rule->type, rule->data, rule->len);
					why = need ? NULL : "already set";
				}
				if (need) {
					if (!o->fix) {
						action = rule->op == LB_REGOP_DELETE_VALUE ? "would_delete"
						                                           : "would_set";
					} else {
						action = "planned";
					}
				}
				snprintf(full, sizeof(full), "%s\\%s\\%s", hive, key, rule->value);
				f = json_object();
				json_object_set_new(f, "kind", json_string("registry"));
				json_object_set_new(f, "playbook", json_string(pb->name));
				json_object_set_new(f, "rule", json_string(rule->id));
				json_object_set_new(f, "hive", json_string(hive));
				json_object_set_new(f, "hive_path", json_string(path));
				json_object_set_new(f, "path", json_string(full));
				json_object_set_new(f, "key", json_string(key));
				json_object_set_new(f, "value", json_string(rule->value));
				json_object_set_new(f, "control_set", ccs ? json_integer(cs.boot[k])
				                                          : json_null());
				json_object_set_new(f, "control_set_roles", ccs ?
				                    json_string(cs_roles(&cs, cs.boot[k], roles, sizeof(roles)))
				                    : json_null());
				json_object_set_new(f, "old", lb_regval_to_json(old.present, old.type,
				                                                 old.data, old.len));
				json_object_set_new(f, "new", rule->op == LB_REGOP_DELETE_VALUE ? json_null() :
				                    lb_regval_to_json(true, rule->type, rule->data, rule->len));
				json_object_set_new(f, "verdict", json_string(need ? "change" : "ok"));
				json_object_set_new(f, "action", json_string(action));
				json_object_set_new(f, "reason", why ? json_string(why) :
				                    !o->fix ? json_string("run fix to change it") : json_null());
				json_object_set_new(f, "replayed", json_boolean(replayed));
				json_array_append_new(findings, f);
				if (need && !o->fix) {
					v->would++;
					vol_attention(v, "%s: %s would be %s (run fix)", pb->name, full,
					              rule->op == LB_REGOP_DELETE_VALUE ? "deleted" : "changed");
				}
				if (need) {
					struct lb_reg_edit *e = &edits[nedits];

					snprintf(e->key, sizeof(e->key), "%s", key);
					snprintf(e->value, sizeof(e->value), "%s", rule->value);
					e->create_key = rule->create_key;
					e->new_present = rule->op != LB_REGOP_DELETE_VALUE;
					e->new_type = rule->type;
					e->new_data = rule->data;
					e->new_len = rule->len;
					lb_err_clear(&e2);
					/* later rules see this one's effect */
					if ((e->new_present ?
					     lb_hivedit_set_raw(hc.he, key, rule->value, rule->type, rule->data,
					                        rule->len, rule->create_key ?
					                        LB_HIVEDIT_CREATE_KEYS : 0, NULL, &e2) :
					     lb_hivedit_delete_value(hc.he, key, rule->value, NULL, &e2)) < 0) {
						json_object_set_new(f, "action", json_string("failed"));
						json_object_set_new(f, "reason", json_string(e2.msg));
						vol_error(v, &e2);
					} else {
						json_array_append(hfind, f);
						json_array_append_new(medits, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}",
						                      "playbook", pb->name, "rule", rule->id, "key", key,
						                      "control_set", ccs ? json_integer(cs.boot[k]) :
						                      json_null(), "old", raw_json(old.present, old.type,
						                      old.data, old.len), "new", raw_json(e->new_present,
						                      e->new_type, e->new_data, e->new_len)));
						json_object_set_new(json_array_get(medits, json_array_size(medits) - 1),
						                    "value", json_string(rule->value));
						nedits++;
					}
				}
				lb_regval_free(&old);
				if (nedits == nrules * 3) /* at most 3 boot control sets per rule */
					break;
			}
		}
	}
	if (!o->fix || nedits == 0)
		goto out;
	lb_err_clear(&err);
	if (lb_hive_apply_edits(work, worklen, edits, nedits, &newb, &newlen, &err)) {
		json_t *f;
		size_t i;

		json_array_foreach(hfind, i, f) {
			json_object_set_new(f, "action", json_string("failed"));
			json_object_set_new(f, "reason", json_string(err.msg));
		}
		vol_error(v, &err);
		goto out;
	}
	{
		struct plan *p;
		json_t *mlogs = json_array();

		for (int k = 0; k < 2 && replayed; k++) {
			struct plan *lp;

			if (!logs[k] || add_plan(v, &lp))
				continue;
			lp->kind = PL_EVIDENCE_ONLY;
			snprintf(lp->path, sizeof(lp->path), "%s", logp[k]);
			snprintf(lp->name, sizeof(lp->name), "%s.LOG%d", hive, k + 1);
			lp->data = logs[k];
			lp->len = loglen[k];
			lb_sha256_hex(logs[k], (size_t)loglen[k], lp->sha256);
			lp->meta = base_meta(t, v, system_root, "registry_log", logp[k]);
			json_object_set_new(lp->meta, "sha256", json_string(lp->sha256));
			json_object_set_new(lp->meta, "size", json_integer((json_int_t)loglen[k]));
			json_array_append_new(mlogs, json_pack("{s:s, s:s}", "path", logp[k], "sha256",
			                                       lp->sha256));
			logs[k] = NULL;
		}
		if (work == data)
			work = NULL;
		p = plan_bytes(v, PL_HIVE, path, hive, data, (size_t)len, NULL);
		data = NULL; /* the plan's now, or freed */
		if (!p) {
			json_decref(mlogs);
			goto out;
		}
		p->newdata = newb;
		p->newlen = newlen;
		lb_sha256_hex(newb, newlen, p->new_sha);
		p->st = st;
		p->replayed = replayed;
		p->mtime_unix = lb_ntfs_time_to_unix(st.modified);
		p->findings = hfind;
		json_incref(hfind);
		p->meta = base_meta(t, v, system_root, "registry_hive", path);
		json_object_set_new(p->meta, "hive", json_string(hive));
		json_object_set_new(p->meta, "playbook", json_string(firstpb));
		json_object_set_new(p->meta, "size", json_integer((json_int_t)len));
		json_object_set_new(p->meta, "sha256", json_string(p->sha256));
		json_object_set_new(p->meta, "new_sha256", json_string(p->new_sha));
		json_object_set_new(p->meta, "new_size", json_integer((json_int_t)newlen));
		json_object_set_new(p->meta, "replayed", json_boolean(replayed));
		json_object_set_new(p->meta, "logs", mlogs);
		snprintf(sha, sizeof(sha), "loopbreaker-%s", run->stamp);
		json_object_set_new(p->meta, "backup_suffix", json_string(sha));
		json_object_set_new(p->meta, "edits", medits);
		medits = NULL;
		newb = NULL;
	}
out:
	lb_hive_copy_close(&hc);
	free(edits);
	if (work != data)
		free(work);
	free(data);
	free(newb);
	free(logs[0]);
	free(logs[1]);
	json_decref(hfind);
	json_decref(medits);
}

/* An interrupted hive replacement: <hive> missing, <hive>.loopbreaker-new
 * present.  Scan reports it; fix completes the swap first. */
struct rootdirs {
	char names[64][256];
	int n;
};

static int rootdir_cb(void *arg, const char *name, bool is_dir)
{
	struct rootdirs *rd = arg;

	if (is_dir && rd->n < 64 && name[0] != '$')
		snprintf(rd->names[rd->n++], sizeof(rd->names[0]), "%s", name);
	return 0;
}

static void check_interrupted_swaps(struct run *run, struct target *t, struct volume *v,
                                    struct lb_ntfs *ntfs)
{
	static const char *const hives[] = { "SYSTEM", "SOFTWARE" };
	struct rootdirs *rd = calloc(1, sizeof(*rd));
	struct lb_err err;

	lb_err_clear(&err);
	if (!rd || lb_ntfs_readdir(ntfs, "\\", rootdir_cb, rd, &err) < 0) {
		free(rd);
		return;
	}
	for (int i = 0; i < rd->n; i++)
		for (size_t h = 0; h < 2; h++) {
			char path[1024], newp[1100];
			struct lb_ntfs_stat st;
			struct lb_regf_info info;
			uint8_t *d = NULL;
			uint64_t l = 0;
			struct plan *p;

			snprintf(path, sizeof(path), "\\%s\\System32\\config\\%s", rd->names[i], hives[h]);
			snprintf(newp, sizeof(newp), "%s.loopbreaker-new", path);
			if (lb_ntfs_stat(ntfs, path, &st, &err) != 1 ||
			    lb_ntfs_stat(ntfs, newp, &st, &err) != 0 ||
			    lb_ntfs_read_all(ntfs, newp, FILE_MAX, &d, &l, &err)) {
				lb_err_clear(&err);
				continue;
			}
			memset(&info, 0, sizeof(info));
			if (lb_regf_check(d, (size_t)l, &info, &err) || info.dirty) {
				vol_attention(v, "%s is missing and %s is not a usable hive (%s): interrupted "
				              "hive replacement that cannot be completed; restore %s from its "
				              "%s.loopbreaker-<time> backup or with undo", path, newp,
				              err.msg[0] ? err.msg : "dirty", path, path);
				free(d);
				lb_err_clear(&err);
				continue;
			}
			if (!run->o->fix) {
				vol_attention(v, "%s: interrupted hive replacement: %s is missing and %s holds "
				              "the new hive; fix completes it", path, path, newp);
				v->would++;
				free(d);
				continue;
			}
			if (add_plan(v, &p)) {
				free(d);
				continue;
			}
			p->kind = PL_HIVE_COMPLETE;
			snprintf(p->path, sizeof(p->path), "%s", path);
			snprintf(p->name, sizeof(p->name), "%s.loopbreaker-new.sha256", hives[h]);
			lb_sha256_hex(d, (size_t)l, p->sha256);
			free(d);
			p->len = 0;
			p->meta = base_meta(t, v, NULL, "complete_hive_swap", path);
			json_object_set_new(p->meta, "sha256", json_string(p->sha256));
			vol_attention(v, "%s: interrupted hive replacement: completing it (%s -> %s); run "
			              "fix again to evaluate the playbooks on this installation", path,
			              newp, path);
		}
	free(rd);
}

/* ---- plan phase: the BCD rule (on the ESP of the same disk) ---- */

static const char *safeboot_name(int m)
{
	switch (m) {
	case LB_SAFEBOOT_MINIMAL: return "minimal";
	case LB_SAFEBOOT_NETWORK: return "network";
	case LB_SAFEBOOT_DSREPAIR: return "dsrepair";
	default: return "none";
	}
}

static int run_tmpdir(struct run *run, struct lb_err *err)
{
	const char *tmp = getenv("TMPDIR");

	if (run->tmpdir[0])
		return 0;
	snprintf(run->tmpdir, sizeof(run->tmpdir), "%s/loopbreaker-run-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(run->tmpdir)) {
		run->tmpdir[0] = 0;
		return lb_err_set(err, LB_EK_IO, errno, "creating a temporary directory");
	}
	return 0;
}

/* \EFI\Microsoft\Boot\BCD missing, BCD.NEW a complete store: an earlier
 * fix was cut off between lb_bcd_put's two renames (nothing boots like
 * this).  cur: a local copy of BCD.NEW.  pending: the playbook whose change
 * BCD.NEW does not carry yet (NULL: it does). */
static void plan_bcd_complete(struct run *run, struct target *t, struct volume *esp, json_t *f,
                              const char *cur, const char *pending)
{
	struct plan *p;
	uint8_t *data = NULL;
	size_t len = 0;
	struct lb_err err;

	json_object_set_new(f, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD.NEW"));
	json_object_set_new(f, "interrupted", json_true());
	json_object_set_new(f, "verdict", json_string("interrupted"));
	if (!run->o->fix) {
		json_object_set_new(f, "action", json_string("would_complete"));
		json_object_set_new(f, "reason", json_string("run fix to rename BCD.NEW to BCD"));
		esp->would++;
		vol_attention(esp, "interrupted BCD replacement: \\EFI\\Microsoft\\Boot\\BCD is "
		              "missing and BCD.NEW holds a complete store (an earlier fix was cut off "
		              "between its two renames); Windows cannot boot like this: run fix");
		return;
	}
	lb_err_clear(&err);
	if (lb_hive_read_local(cur, &data, &len, &err)) {
		vol_error(esp, &err);
		return;
	}
	p = plan_bytes(esp, PL_BCD_COMPLETE, LB_BCD_ESP_NEW_PATH, "BCD.NEW", data, len, f);
	if (!p)
		return;
	p->meta = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:I, s:s}", "target", t->path,
	                    "partition", esp->partno, "offset", (json_int_t)esp->offset, "action",
	                    "complete_bcd_swap", "path", "\\EFI\\Microsoft\\Boot\\BCD.NEW",
	                    "sha256", p->sha256, "size", (json_int_t)len, "note",
	                    "BCD.NEW as found, renamed to BCD (undo keeps it)");
	json_object_set_new(f, "action", json_string("planned"));
	if (pending)
		vol_attention(esp, "%s: the completed BCD does not carry this playbook's change yet: "
		              "run fix again", pending);
}

static void scan_bcd(struct run *run, struct target *t, struct lb_disk *disk, size_t tindex)
{
	const struct lb_options *o = run->o;
	const struct lb_playbook *pb = NULL;
	const struct lb_bcd_rule *rule = NULL;
	struct volume *esp = NULL, *attn = NULL;
	char cur[4200] = "", next[4200];
	struct lb_bcd_entry entry;
	struct lb_err err;
	bool hib = false, interrupted = false;
	json_t *f, *list;
	int nrules = 0, old = LB_SAFEBOOT_NONE;
	uint8_t *data = NULL;
	size_t len = 0;

	lb_err_clear(&err);
	for (size_t i = 0; i < o->nplaybooks; i++)
		if (o->playbooks[i]->bcd) {
			if (!rule) {
				pb = o->playbooks[i];
				rule = pb->bcd;
			}
			nrules++;
		}
	if (!rule)
		return;
	for (int i = 0; i < t->nvols; i++) {
		if (t->vols[i].ninstalls && !attn)
			attn = &t->vols[i];
		hib |= t->vols[i].hibernated && t->vols[i].ninstalls;
	}
	if (run_tmpdir(run, &err)) {
		if (attn)
			vol_error(attn, &err);
		else
			t->exit_code = lb_exit_worse(t->exit_code, LB_EXIT_INTERNAL);
		return;
	}
	for (int i = 0; i < disk->nparts && i < t->nvols && !esp; i++) {
		if (strcmp(disk->parts[i].fstype, "vfat") || disk->parts[i].truncated)
			continue;
		snprintf(cur, sizeof(cur), "%s/bcd-%zu-%d", run->tmpdir, tindex, disk->parts[i].number);
		unlink(cur);
		lb_err_clear(&err);
		if (lb_bcd_fetch(t->path, disk->parts[i].offset, cur, &err) == 0) {
			esp = &t->vols[i];
			continue;
		}
		/* no BCD: a replacement cut off between its two renames? */
		unlink(cur);
		lb_err_clear(&err);
		if (lb_bcd_fetch_path(t->path, disk->parts[i].offset, LB_BCD_ESP_NEW_PATH, cur,
		                      &err) == 0 && lb_bcd_default(cur, &entry, &err) == 0) {
			esp = &t->vols[i];
			interrupted = true;
		} else {
			unlink(cur);
		}
	}
	if (!esp) {
		if (attn)
			vol_attention(attn, "%s: no EFI System Partition with \\EFI\\Microsoft\\Boot\\BCD "
			              "on %s: BCD rule not applied", pb->name, t->path);
		else {
			add_reason(t->j, "%s: no EFI System Partition with \\EFI\\Microsoft\\Boot\\BCD: "
			           "BCD rule not applied", pb->name);
			t->exit_code = lb_exit_worse(t->exit_code, LB_EXIT_ATTENTION);
		}
		return;
	}
	list = json_array();
	json_object_set_new(esp->j, "bcd", list);
	esp->esp = true;
	if (nrules > 1)
		vol_attention(esp, "%d playbooks have a BCD rule: only %s's is used", nrules, pb->name);
	lb_err_clear(&err);
	if (lb_bcd_default(cur, &entry, &err)) {
		vol_error(esp, &err);
		unlink(cur);
		return;
	}
	old = entry.safeboot;
	f = json_object();
	json_object_set_new(f, "kind", json_string("bcd"));
	json_object_set_new(f, "playbook", json_string(pb->name));
	json_object_set_new(f, "rule", json_string(rule->id));
	json_object_set_new(f, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD"));
	json_object_set_new(f, "entry", json_string(entry.guid));
	json_object_set_new(f, "description", json_string(entry.description));
	json_object_set_new(f, "element", json_string("25000080"));
	json_object_set_new(f, "old", json_string(safeboot_name(old)));
	json_object_set_new(f, "new", json_string(safeboot_name(rule->mode)));
	json_object_set_new(f, "verdict", json_string(old == rule->mode ? "ok" : "change"));
	json_object_set_new(f, "action", json_string("none"));
	json_object_set_new(f, "reason", json_null());
	json_object_set_new(f, "esp_backup", json_null());
	json_array_append_new(list, f);
	if (interrupted) {
		plan_bcd_complete(run, t, esp, f, cur, old != rule->mode ? pb->name : NULL);
		unlink(cur);
		return;
	}
	if (old == rule->mode) {
		json_object_set_new(f, "reason", json_string("already set"));
		unlink(cur);
		return;
	}
	if (hib && !o->discard_hibernation) {
		json_object_set_new(f, "action", json_string("refused"));
		json_object_set_new(f, "reason", json_string("Windows is hibernated "
		                    "(--discard-hibernation)"));
		vol_attention(esp, "%sWindows on this disk is hibernated (Fast Startup): a resumed "
		              "session ignores the boot configuration; nothing was written. Shut Windows "
		              "down fully, or rerun with --discard-hibernation", o->fix ? "" :
		              "fix will refuse: ");
		unlink(cur);
		return;
	}
	if (!o->fix) {
		json_object_set_new(f, "action", json_string(rule->mode == LB_SAFEBOOT_NONE ?
		                                             "would_clear" : "would_set"));
		json_object_set_new(f, "reason", json_string("run fix to change it"));
		esp->would++;
		vol_attention(esp, "%s: safeboot of %s (%s) would be %s (run fix)", pb->name,
		              entry.guid, entry.description, safeboot_name(rule->mode));
		unlink(cur);
		return;
	}
	snprintf(next, sizeof(next), "%s.new", cur);
	unlink(next);
	if (lb_bcd_set_safeboot(cur, next, entry.guid, rule->mode, &old, &err) ||
	    lb_hive_read_local(cur, &data, &len, &err)) {
		json_object_set_new(f, "action", json_string("failed"));
		json_object_set_new(f, "reason", json_string(err.msg));
		vol_error(esp, &err);
		unlink(cur);
		unlink(next);
		free(data);
		return;
	}
	unlink(cur);
	{
		struct plan *p = plan_bytes(esp, PL_BCD, next, "BCD", data, len, f);

		if (!p)
			return;
		p->bcd_mode = rule->mode;
		p->meta = json_object();
		json_object_set_new(p->meta, "target", json_string(t->path));
		json_object_set_new(p->meta, "partition", json_integer(esp->partno));
		json_object_set_new(p->meta, "offset", json_integer((json_int_t)esp->offset));
		json_object_set_new(p->meta, "action", json_string("bcd_safeboot"));
		json_object_set_new(p->meta, "path", json_string("\\EFI\\Microsoft\\Boot\\BCD"));
		json_object_set_new(p->meta, "playbook", json_string(pb->name));
		json_object_set_new(p->meta, "rule", json_string(rule->id));
		json_object_set_new(p->meta, "entry", json_string(entry.guid));
		json_object_set_new(p->meta, "old_mode", json_integer(old));
		json_object_set_new(p->meta, "new_mode", json_integer(rule->mode));
		json_object_set_new(p->meta, "old", json_string(safeboot_name(old)));
		json_object_set_new(p->meta, "new", json_string(safeboot_name(rule->mode)));
		json_object_set_new(p->meta, "sha256", json_string(p->sha256));
		json_object_set_new(p->meta, "size", json_integer((json_int_t)len));
		json_object_set_new(f, "action", json_string("planned"));
	}
}

static void plan_mirror(struct run *run, struct target *t, struct volume *v)
{
	size_t span = (size_t)v->mirr.nrecords * v->mirr.record_size;
	json_t *recs = json_array();
	struct plan *p;
	uint8_t *data;

	for (unsigned i = 0; i < v->mirr.nrecords; i++)
		if (v->mirr.stale & 1u << i)
			json_array_append_new(recs, json_integer(i));
	v->mirr_j = json_pack("{s:s, s:o, s:s, s:o}", "state", "stale", "records", recs,
	                      "action", run->o->fix ? "planned" : "would_repair", "reason",
	                      json_string(v->mirr.why));
	json_object_set_new(v->j, "mft_mirror", v->mirr_j);
	if (!run->o->fix) {
		v->would++;
		vol_attention(v, "%s (an MFT extension was cut off, e.g. by a power cut during an "
		              "earlier fix): libntfs-3g refuses such a volume; fix rewrites the "
		              "mirror from $MFT, as chkdsk would", v->mirr.why);
		return;
	}
	data = malloc(span);
	if (!data)
		return;
	memcpy(data, v->mirr.mirror, span);
	p = plan_bytes(v, PL_MFTMIRR, "\\$MFTMirr", "MFTMirr.records", data, span, v->mirr_j);
	if (!p)
		return;
	p->meta = json_pack("{s:s, s:i, s:I, s:O?, s:s, s:s, s:I, s:I, s:s, s:s}", "target",
	                    t->path, "partition", v->partno, "offset", (json_int_t)v->offset,
	                    "volume_serial", json_object_get(v->j, "serial"), "path", "\\$MFTMirr",
	                    "action", "repair_mftmirr", "volume_offset",
	                    (json_int_t)v->mirr.mirror_off, "size", (json_int_t)span, "sha256",
	                    p->sha256, "note", "the $MFTMirr records before they were rewritten "
	                    "from $MFT; not restored by undo (a stale mirror makes the volume "
	                    "unreadable to libntfs-3g)");
}

static void scan_volume(struct run *run, struct target *t, struct lb_source *src,
                        const struct lb_part *p, struct volume *v)
{
	const struct lb_options *o = run->o;
	struct lb_io *win = NULL;
	struct lb_ntfs *ntfs = NULL;
	struct lb_ntfs_state st;
	struct lb_install *inst = NULL;
	struct lb_io *view = NULL;
	struct lb_err err;
	json_t *jinst = json_array();
	char name[300], serial[32];
	double t0 = now_ms(), t1;
	int ninst = 0;
	bool pending;

	lb_err_clear(&err);
	json_object_set_new(v->j, "installs", jinst);
	if (p->truncated) {
		lb_err_set(&err, LB_EK_INPUT, 0,
		           "partition %d at offset %" PRIu64 " (%" PRIu64 " bytes) extends past the end "
		           "of %s (%" PRIu64 " bytes): truncated image?", p->number, p->offset, p->size,
		           t->path, src->io->size);
		vol_error(v, &err);
		return;
	}
	snprintf(name, sizeof(name), "%s#p%d", t->path, p->number);
	if (strcmp(p->fstype, "BitLocker") == 0) {
		char prot[LB_GUID_STRLEN], source[32];

		v->bitlocker = true;
		v->bl = calloc(1, sizeof(*v->bl));
		win = lb_io_window(src->io, p->offset, p->size, name, &err);
		if (!v->bl || !win || lb_bitlocker_probe(win, v->bl, &err)) {
			vol_error(v, &err);
			lb_io_close(win);
			return;
		}
		lb_io_close(win);
		json_object_set_new(v->j, "bitlocker", bitlocker_json(v->bl));
		win = lb_unlock_open(o->unlock, t->path, p->offset, p->size, v->bl, false, prot, source,
		                     &err);
		if (!win) {
			vol_error(v, &err);
			return;
		}
		json_object_set_new(json_object_get(v->j, "bitlocker"), "unlocked", json_true());
		json_object_set_new(json_object_get(v->j, "bitlocker"), "unlocked_with",
		                    json_pack("{s:s, s:s}", "protector", prot, "source", source));
		used_protector(run, v, prot, source);
	} else if (strcmp(p->fstype, "ntfs") != 0) {
		if (!p->fstype[0] && looks_like_damaged_ntfs(src, p)) {
			lb_err_set(&err, LB_EK_INPUT, 0, "partition %d: NTFS boot sector is damaged or "
			           "unreadable (a backup boot sector exists; repair with chkdsk /f or "
			           "ntfsfix -b on a copy)", p->number);
			json_object_set_new(v->j, "filesystem", json_string("ntfs"));
			vol_error(v, &err);
		}
		return;
	}
	if (!win)
		win = lb_io_window(src->io, p->offset, p->size, name, &err);
	if (win) /* a stale $MFTMirr: scan through a view of the repaired volume */
		view = lb_mftmirr_view(win, &v->mirr);
	if (!win || lb_ntfs_open(view ? view : win, LB_NTFS_RDONLY, &ntfs, &err)) {
		if (v->mirr.state == LB_MIRR_DAMAGED)
			lb_err_set(&err, LB_EK_INPUT, 0, "%s: cannot open NTFS: %s; repair it with "
			           "chkdsk /f (or ntfsfix on a copy)", name, v->mirr.why);
		vol_error(v, &err);
		lb_io_close(view);
		lb_io_close(win);
		return;
	}
	t1 = now_ms();
	v->open_ms = t1 - t0;
	lb_ntfs_state(ntfs, &st, &err);
	snprintf(serial, sizeof(serial), "%016" PRIX64, st.serial);
	json_object_set_new(v->j, "label", jstr_or_null(st.label));
	json_object_set_new(v->j, "serial", json_string(serial));
	json_object_set_new(v->j, "ntfs_version", json_string(st.ntfs_version));
	json_object_set_new(v->j, "cluster_size", json_integer(st.cluster_size));
	json_object_set_new(v->j, "state", json_pack("{s:b, s:o, s:s, s:o, s:b}",
	                    "hibernated", st.hibernated,
	                    "hiberfil_magic", jstr_or_null(st.hiber_magic),
	                    "journal", !st.journal_known ? "unknown" :
	                               st.journal_clean ? "clean" : "unclean",
	                    "journal_version", jstr_or_null(st.journal_version),
	                    "dirty", st.dirty));
	v->hibernated = st.hibernated;
	v->journal_unclean = !st.journal_known || !st.journal_clean;
	json_object_set_new(json_object_get(v->j, "state"), "mft_mirror",
	                    json_string(v->mirr.state == LB_MIRR_STALE ? "stale" : "ok"));
	if (v->mirr.state == LB_MIRR_STALE)
		plan_mirror(run, t, v);

	check_interrupted_swaps(run, t, v, ntfs);
	if (lb_windows_find(ntfs, &inst, &ninst, &err)) {
		vol_error(v, &err);
		goto out;
	}
	v->ninstalls = ninst;
	for (int i = 0; i < ninst; i++) {
		json_t *ji;

		lb_windows_identify(ntfs, &inst[i]);
		ji = install_json(&inst[i]);
		json_array_append_new(jinst, ji);
		if (inst[i].system.present && !inst[i].system.ok)
			vol_attention(v, "%s: SYSTEM hive is damaged (%s): Windows may not boot even "
			              "when the playbook's fix is applied", inst[i].system_root,
			              inst[i].system.error);
		else if (!inst[i].system.present)
			vol_attention(v, "%s: SYSTEM hive cannot be read: %s", inst[i].system_root,
			              inst[i].system.error[0] ? inst[i].system.error : "missing");
		if (scan_rules(run, t, v, ntfs, inst[i].system_root, json_object_get(ji, "findings"),
		               &err)) {
			vol_error(v, &err);
			goto out;
		}
		scan_hive(run, t, v, ntfs, inst[i].system_root, "SYSTEM",
		          json_object_get(ji, "findings"));
		scan_hive(run, t, v, ntfs, inst[i].system_root, "SOFTWARE",
		          json_object_get(ji, "findings"));
	}
	if (ninst > 0) {
		/* volume-root rules are reported with the first installation */
		if (scan_rules(run, t, v, ntfs, NULL,
		               json_object_get(json_array_get(jinst, 0), "findings"), &err)) {
			vol_error(v, &err);
			goto out;
		}
	}

	/* Would a fix be allowed to write here? */
	pending = v->nplans > 0 || v->would > 0;
	if (pending && st.hibernated && !o->discard_hibernation) {
		vol_attention(v, "%sWindows is hibernated (Fast Startup, hiberfil.sys \"%s\"): writing "
		              "now could corrupt the volume when Windows resumes; nothing was written. "
		              "Shut Windows down fully, or rerun with --discard-hibernation to discard "
		              "the hibernated session", o->fix ? "" : "fix will refuse: ", st.hiber_magic);
	} else if (pending && v->journal_unclean && !o->discard_journal && !o->replay_journal) {
		vol_attention(v, "%sthe NTFS journal ($LogFile%s%s) holds changes Windows has not "
		              "applied: nothing was written. Rerun with --replay-journal to apply "
		              "them first (ntfsrecover, as Windows would at boot), or with "
		              "--discard-journal to reset the journal (its unapplied changes are lost)", o->fix ? "" : "fix will refuse: ",
		              st.journal_version[0] ? " v" : "", st.journal_version);
	} else {
		pending = false;
	}
	if (pending) {
		/* refused: drop the plans, say why on each finding */
		for (size_t i = 0; i < v->nplans; i++) {
			plan_mark(&v->plans[i], "refused", st.hibernated && !o->discard_hibernation
			          ? "volume is hibernated (--discard-hibernation)"
			          : "NTFS journal not replayed (--replay-journal or --discard-journal)");
			free(v->plans[i].data);
			free(v->plans[i].newdata);
			json_decref(v->plans[i].findings);
			json_decref(v->plans[i].meta);
		}
		free(v->plans);
		v->plans = NULL;
		v->nplans = 0;
	} else if (v->nplans > 0 && st.hibernated && o->discard_hibernation) {
		plan_hiber(v, ntfs, t->path);
	}
out:
	free(inst);
	v->scan_ms = now_ms() - t1;
	if (lb_ntfs_close(ntfs, &err))
		vol_error(v, &err);
	lb_io_close(view);
	lb_io_close(win);
}

static json_t *volume_json(const char *target, const struct lb_part *p)
{
	json_t *j = json_object();

	json_object_set_new(j, "device", json_string(target));
	json_object_set_new(j, "partition", json_integer(p->number));
	json_object_set_new(j, "offset", json_integer((json_int_t)p->offset));
	json_object_set_new(j, "size", json_integer((json_int_t)p->size));
	json_object_set_new(j, "filesystem", jstr_or_null(p->fstype));
	json_object_set_new(j, "partition_type", jstr_or_null(p->type));
	json_object_set_new(j, "label", jstr_or_null(p->label));
	json_object_set_new(j, "status", json_string("clean"));
	json_object_set_new(j, "reasons", json_array());
	json_object_set_new(j, "error", json_null());
	return j;
}

static void scan_target(struct run *run, struct target *t)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_err err;
	json_t *vols = json_array();

	lb_err_clear(&err);
	json_object_set_new(t->j, "path", json_string(t->path));
	json_object_set_new(t->j, "volumes", vols);
	json_object_set_new(t->j, "error", json_null());
	if (lb_source_open(t->path, false, &src, &err)) {
		json_object_set_new(t->j, "error", json_string(err.msg));
		t->exit_code = lb_exit_for(err.kind);
		return;
	}
	t->opened = true;
	json_object_set_new(t->j, "type", json_string(src.is_block ? "block" : "file"));
	json_object_set_new(t->j, "format", json_string(src.format));
	json_object_set_new(t->j, "size", json_integer((json_int_t)src.io->size));
	if (lb_partition_scan(&src, &disk, &err)) {
		json_object_set_new(t->j, "error", json_string(err.msg));
		t->exit_code = lb_exit_for(err.kind);
		lb_source_close(&src);
		return;
	}
	json_object_set_new(t->j, "sector_size", json_integer(disk.sector_size));
	json_object_set_new(t->j, "partition_table", jstr_or_null(disk.pttype));
	t->vols = calloc((size_t)disk.nparts, sizeof(*t->vols));
	if (!t->vols) {
		json_object_set_new(t->j, "error", json_string("out of memory"));
		t->exit_code = LB_EXIT_INTERNAL;
		lb_partition_free(&disk);
		lb_source_close(&src);
		return;
	}
	t->nvols = disk.nparts;
	for (int i = 0; i < disk.nparts; i++) {
		struct volume *v = &t->vols[i];

		v->j = volume_json(t->path, &disk.parts[i]);
		json_array_append_new(vols, v->j);
		v->partno = disk.parts[i].number;
		v->offset = disk.parts[i].offset;
		v->size = disk.parts[i].size;
		scan_volume(run, t, &src, &disk.parts[i], v);
	}
	scan_bcd(run, t, &disk, (size_t)(t - run->targets));
	lb_partition_free(&disk);
	lb_source_close(&src);
}

/* ---- apply phase ---- */

static int verify_unchanged(struct lb_ntfs *ntfs, const struct plan *p, struct lb_err *err)
{
	uint8_t *data = NULL;
	uint64_t len = 0;
	char sha[65];

	if (lb_ntfs_read_all(ntfs, p->path, FILE_MAX, &data, &len, err))
		return -1;
	lb_sha256_hex(data, (size_t)len, sha);
	free(data);
	if (len != p->len || strcmp(sha, p->sha256) != 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s changed since it was scanned; not touched",
		                  p->path);
	return 0;
}

/* Replaces a hive file by the planned new bytes (lb_hive_swap), after
 * checking that it and its logs are still what was planned from. */
static int apply_hive(struct run *run, struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                      struct lb_err *err)
{
	char suffix[64], bak[1100];
	size_t pl = strlen(p->path), i;
	json_t *moved, *f;

	if (verify_unchanged(ntfs, p, err))
		return -1;
	for (i = 0; p->replayed && i < v->nplans; i++) {
		struct plan *lp = &v->plans[i];

		if (lp->kind == PL_EVIDENCE_ONLY && !strncmp(lp->path, p->path, pl) &&
		    lp->path[pl] == '.' && verify_unchanged(ntfs, lp, err))
			return -1;
	}
	snprintf(suffix, sizeof(suffix), "loopbreaker-%s", run->stamp);
	if (lb_hive_swap(ntfs, p->path, p->newdata, p->newlen, p->new_sha, suffix, &p->st, bak,
	                 sizeof(bak), err))
		return -1;
	moved = json_array();
	/* The new hive is clean (equal sequence numbers) and already holds the
	 * logged changes: set the old logs aside so nothing replays them. */
	if (p->replayed && lb_hive_logs_aside(ntfs, p->path, suffix, moved, err)) {
		json_decref(moved);
		return -1;
	}
	json_array_foreach(p->findings, i, f) {
		json_object_set_new(f, "action", json_string(json_is_null(json_object_get(f, "new")) ?
		                                             "deleted" : "set"));
		json_object_set_new(f, "reason", json_null());
		json_object_set_new(f, "hive_backup", json_string(bak));
		if (p->replayed)
			json_object_set(f, "logs_moved", moved);
	}
	json_decref(moved);
	p->done = true;
	return 0;
}

static int apply_hive_complete(struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                               struct lb_err *err)
{
	char newp[1100];
	struct lb_ntfs_stat st;
	struct plan chk = *p;

	if ((size_t)snprintf(newp, sizeof(newp), "%s.loopbreaker-new", p->path) >= sizeof(newp))
		return lb_err_set(err, LB_EK_INTERNAL, 0, "path too long");
	if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s reappeared since the scan; not touched",
		                  p->path);
	snprintf(chk.path, sizeof(chk.path), "%s", newp);
	if (lb_ntfs_stat(ntfs, newp, &st, err) != 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s vanished since the scan", newp);
	chk.len = st.size;
	if (verify_unchanged(ntfs, &chk, err) || lb_ntfs_move(ntfs, newp, p->path, err))
		return -1;
	add_reason(v->j, "interrupted hive replacement completed: %s -> %s", newp, p->path);
	p->done = true;
	return 0;
}

static int apply_plan(struct run *run, struct volume *v, struct lb_ntfs *ntfs, struct plan *p,
                      struct lb_err *err)
{
	char qdir[256], qpath[1024];
	struct lb_ntfs_stat st;
	int rc;

	if (p->kind == PL_HIBER_INVALIDATE) {
		static const uint8_t zero[4] = { 0 };

		/* Clearing the signature makes Windows cold-boot instead of
		 * resuming a session that no longer matches the disk. */
		if (lb_ntfs_pwrite(ntfs, p->path, zero, sizeof(zero), 0, err))
			return -1;
		add_reason(v->j, "hibernated session discarded (hiberfil.sys signature cleared) at "
		           "the operator's request");
		p->done = true;
		return 0;
	}
	if (p->kind == PL_EVIDENCE_ONLY || p->kind == PL_MFTMIRR)
		return 0; /* a log: checked with its hive; the mirror: before the mount */
	if (p->kind == PL_HIVE_COMPLETE)
		return apply_hive_complete(v, ntfs, p, err);
	if (p->kind == PL_HIVE)
		return apply_hive(run, v, ntfs, p, err);
	if (verify_unchanged(ntfs, p, err))
		return -1;
	if (p->kind == PL_DELETE) {
		if (lb_ntfs_unlink(ntfs, p->path, err))
			return -1;
		if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1)
			return lb_err_set(err, LB_EK_IO, 0, "%s still present after delete", p->path);
		json_object_set_new(p->finding, "action", json_string("deleted"));
		p->done = true;
		return 0;
	}
	snprintf(qdir, sizeof(qdir), "\\loopbreaker.quarantine\\%s", run->stamp);
	if (lb_ntfs_mkdir_p(ntfs, qdir, err)) {
		/* \loopbreaker.quarantine itself may be damaged (an earlier run
		 * cut off mid-way): use a fresh top-level directory instead. */
		struct lb_err e2;

		snprintf(qdir, sizeof(qdir), "\\loopbreaker.quarantine-%s", run->stamp);
		lb_err_clear(&e2);
		if (lb_ntfs_mkdir_p(ntfs, qdir, &e2))
			return -1;
		add_reason(v->j, "quarantine directory unusable (%s); used %s", err->msg, qdir);
		lb_err_clear(err);
	}
	/* A free name: name, name.1, name.2…  The file itself may already
	 * carry a name here without a directory entry (a run cut off
	 * mid-link in the same second), which makes the link fail with
	 * EEXIST: take the next name then too. */
	for (int n = 0;; n++) {
		if (n == 0)
			snprintf(qpath, sizeof(qpath), "%s\\%s", qdir, p->name);
		else
			snprintf(qpath, sizeof(qpath), "%s\\%s.%d", qdir, p->name, n);
		rc = lb_ntfs_stat(ntfs, qpath, &st, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && n < 100)
			continue;
		if (lb_ntfs_move(ntfs, p->path, qpath, err) == 0)
			break;
		if (err->sys_errno != EEXIST || n >= 100)
			return -1;
		lb_err_clear(err);
	}
	if (lb_ntfs_stat(ntfs, p->path, &st, err) != 1 || lb_ntfs_stat(ntfs, qpath, &st, err) != 0 ||
	    st.size != p->len)
		return lb_err_set(err, LB_EK_IO, 0, "%s: move to %s did not verify", p->path, qpath);
	json_object_set_new(p->finding, "action", json_string("quarantined"));
	json_object_set_new(p->finding, "quarantine_path", json_string(qpath));
	p->done = true;
	return 0;
}

static void apply_volume(struct run *run, struct target *t, struct lb_source *src,
                         struct volume *v)
{
	const struct lb_options *o = run->o;
	struct lb_io *win, *vio = NULL;
	struct lb_ntfs *ntfs = NULL;
	struct lb_err err;
	char name[300];
	unsigned flags = LB_NTFS_RW;
	double t0 = now_ms();

	lb_err_clear(&err);
	if (o->discard_hibernation && v->hibernated)
		flags |= LB_NTFS_DISCARD_HIBERNATION;
	snprintf(name, sizeof(name), "%s#p%d", t->path, v->partno);
	if (v->bitlocker && o->replay_journal && v->journal_unclean && !o->discard_journal) {
		lb_err_set(&err, LB_EK_REFUSED, 0, "the NTFS journal inside a BitLocker volume cannot "
		           "be replayed by ntfsrecover here; nothing was written (--discard-journal "
		           "resets it)");
		goto skipped_err;
	}
	if (o->replay_journal && v->journal_unclean && !o->discard_journal) {
		char out[2048];
		struct lb_ntfs_state st;

		if (lb_ntfs_replay_journal(src, v->partno, v->offset, v->size, out, sizeof(out), &err))
			goto skipped_err;
		/* ntfsrecover must have left a clean journal */
		win = lb_io_window(src->io, v->offset, v->size, name, &err);
		if (!win || lb_ntfs_open(win, LB_NTFS_RDONLY, &ntfs, &err)) {
			lb_io_close(win);
			goto skipped_err;
		}
		lb_ntfs_state(ntfs, &st, &err);
		lb_ntfs_close(ntfs, &err);
		lb_io_close(win);
		ntfs = NULL;
		if (!st.journal_known || !st.journal_clean) {
			lb_err_set(&err, LB_EK_REFUSED, 0, "the NTFS journal is still not clean after "
			           "ntfsrecover: nothing was written");
			goto skipped_err;
		}
		add_reason(v->j, "NTFS journal replayed with ntfsrecover before the fix");
		json_object_set_new(json_object_get(v->j, "state"), "journal_replayed", json_true());
	} else if (o->discard_journal && v->journal_unclean) {
		flags |= LB_NTFS_DISCARD_JOURNAL;
	}
	if (v->bitlocker) {
		char prot[LB_GUID_STRLEN], source[32];

		win = lb_unlock_open(o->unlock, t->path, v->offset, v->size, v->bl, true, prot, source,
		                     &err);
	} else {
		win = lb_io_window(src->io, v->offset, v->size, name, &err);
	}
	vio = win;
	if (win && o->wrap_io)
		vio = o->wrap_io(win, o->wrap_ctx, &err);
	for (size_t i = 0; vio && i < v->nplans; i++) {
		struct plan *p = &v->plans[i];

		/* libntfs-3g mounts nothing with a stale mirror: repair first */
		if (p->kind != PL_MFTMIRR)
			continue;
		if (lb_mftmirr_repair(vio, &v->mirr, &err)) {
			vol_error(v, &err);
			if (vio != win)
				lb_io_close(vio);
			lb_io_close(win);
			goto skipped;
		}
		json_object_set_new(p->finding, "action", json_string("repaired"));
		json_object_set_new(p->finding, "state", json_string("ok"));
		json_object_set_new(json_object_get(v->j, "state"), "mft_mirror",
		                    json_string("repaired"));
		add_reason(v->j, "%s: rewritten from $MFT before any other change", v->mirr.why);
		p->done = true;
	}
	if (!vio || lb_ntfs_open(vio, flags, &ntfs, &err)) {
		vol_error(v, &err);
		if (vio != win)
			lb_io_close(vio);
		lb_io_close(win);
		goto skipped;
	}
	if (flags & LB_NTFS_DISCARD_JOURNAL)
		add_reason(v->j, "NTFS journal reset at the operator's request (--discard-journal)");
	for (size_t i = 0; i < v->nplans; i++) {
		struct plan *p = &v->plans[i];

		if (apply_plan(run, v, ntfs, p, &err)) {
			plan_mark(p, "failed", err.msg);
			vol_error(v, &err);
			lb_err_clear(&err);
		}
	}
	if (lb_ntfs_close(ntfs, &err))
		vol_error(v, &err);
	if (lb_io_sync(vio, &err))
		vol_error(v, &err);
	v->writes = vio->writes;
	if (vio != win)
		lb_io_close(vio);
	lb_io_close(win);
	v->fix_ms = now_ms() - t0;
	if (v->status == VS_CLEAN)
		v->status = VS_FIXED;
	return;
skipped_err:
	vol_error(v, &err);
skipped:
	for (size_t i = 0; i < v->nplans; i++)
		plan_mark(&v->plans[i], "failed", err.msg);
}

/* Is the ESP file esp_path still what p was planned from (size, SHA-256)?
 * check: a free local path for the copy.  0, or -1 with err. */
static int esp_unchanged(struct target *t, struct volume *v, const struct plan *p,
                         const char *esp_path, const char *check, struct lb_err *err)
{
	uint8_t *d = NULL;
	size_t l = 0;
	char sha[65];
	int rc = -1;

	unlink(check);
	if (lb_bcd_fetch_path(t->path, v->offset, esp_path, check, err) == 0 &&
	    lb_hive_read_local(check, &d, &l, err) == 0) {
		lb_sha256_hex(d, l, sha);
		if (l != p->len || strcmp(sha, p->sha256))
			lb_err_set(err, LB_EK_REFUSED, 0, "%s changed since it was scanned; not touched",
			           esp_path + 2);
		else
			rc = 0;
	}
	free(d);
	unlink(check);
	return rc;
}

/* BCD on the ESP: re-check the file, then put the new one with lb_bcd_put
 * (the original stays on the ESP as BCD.LBn). */
static void apply_esp(struct run *run, struct target *t, struct volume *v)
{
	double t0 = now_ms();

	for (size_t i = 0; i < v->nplans; i++) {
		struct plan *p = &v->plans[i];
		char check[4500], name[16];
		struct lb_err err;
		int rc = -1, dropped = 0;

		if (p->kind == PL_BCD_COMPLETE) {
			lb_err_clear(&err);
			snprintf(check, sizeof(check), "%s/bcd-complete-check", run->tmpdir);
			if (esp_unchanged(t, v, p, LB_BCD_ESP_NEW_PATH, check, &err) == 0)
				rc = lb_bcd_complete(t->path, v->offset, &err);
			if (rc) {
				plan_mark(p, "failed", err.msg);
				vol_error(v, &err);
				continue;
			}
			json_object_set_new(p->finding, "action", json_string("completed"));
			json_object_set_new(p->finding, "reason", json_null());
			add_reason(v->j, "interrupted BCD replacement completed: BCD.NEW -> BCD");
			p->done = true;
			continue;
		}
		if (p->kind != PL_BCD)
			continue;
		lb_err_clear(&err);
		snprintf(check, sizeof(check), "%s.check", p->path);
		if (esp_unchanged(t, v, p, LB_BCD_ESP_PATH, check, &err) == 0 &&
		    lb_bcd_drop_broken_new(t->path, v->offset, &dropped, &err) == 0) {
			if (dropped)
				add_reason(v->j, "dropped the directory entry of a broken leftover BCD.NEW (an "
				           "earlier fix was cut off while writing it); no FAT entry touched");
			for (int n = 1; n <= 9; n++) {
				snprintf(name, sizeof(name), "BCD.LB%d", n);
				lb_err_clear(&err);
				rc = lb_bcd_put(t->path, v->offset, p->path, name, &err);
				if (rc == 0 || err.kind != LB_EK_REFUSED)
					break;
			}
		}
		if (rc) {
			plan_mark(p, "failed", err.msg);
			vol_error(v, &err);
			continue;
		}
		json_object_set_new(p->finding, "action", json_string(p->bcd_mode == LB_SAFEBOOT_NONE ?
		                                                      "cleared" : "set"));
		json_object_set_new(p->finding, "reason", json_null());
		snprintf(check, sizeof(check), "\\EFI\\Microsoft\\Boot\\%s", name);
		json_object_set_new(p->finding, "esp_backup", json_string(check));
		p->done = true;
	}
	v->fix_ms = now_ms() - t0;
	if (v->status == VS_CLEAN)
		v->status = VS_FIXED;
}

static void apply_all(struct run *run)
{
	const struct lb_options *o = run->o;
	struct lb_evidence_item *items = NULL;
	size_t n = 0, cap = 0;
	char path[4096], sha[65];
	struct lb_err err;
	json_t *hdr, *ev;
	int fails = 0;

	for (size_t ti = 0; ti < run->ntargets; ti++)
		for (int vi = 0; vi < run->targets[ti].nvols; vi++) {
			struct volume *v = &run->targets[ti].vols[vi];

			for (size_t i = 0; i < v->nplans; i++) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 8;
					struct lb_evidence_item *ni = realloc(items, nc * sizeof(*ni));

					if (!ni) {
						free(items);
						return;
					}
					items = ni;
					cap = nc;
				}
				items[n].meta = v->plans[i].meta;
				items[n].data = v->plans[i].data;
				items[n].len = (size_t)v->plans[i].len;
				items[n].name = v->plans[i].name;
				items[n].mtime_unix = v->plans[i].mtime_unix;
				n++;
			}
		}
	if (n == 0) {
		free(items);
		return;
	}
	if (o->evidence_path)
		snprintf(path, sizeof(path), "%s", o->evidence_path);
	else
		snprintf(path, sizeof(path), "loopbreaker-evidence-%s.tar.zst", run->stamp);
	hdr = json_pack("{s:s, s:s, s:s, s:s}", "schema", "loopbreaker-evidence/1", "tool_version",
	                LB_VERSION, "created_at",
	                json_string_value(json_object_get(run->report, "started_at")),
	                "quarantine_dir", run->stamp);
	lb_err_clear(&err);
	if (lb_evidence_write(path, hdr, items, n, sha, &err)) {
		json_decref(hdr);
		free(items);
		/* no copy, no change */
		add_reason(run->report, "evidence bundle could not be written, nothing was changed: %s",
		           err.msg);
		for (size_t ti = 0; ti < run->ntargets; ti++)
			for (int vi = 0; vi < run->targets[ti].nvols; vi++) {
				struct volume *v = &run->targets[ti].vols[vi];

				for (size_t i = 0; i < v->nplans; i++)
					plan_mark(&v->plans[i], "skipped", "evidence bundle not written");
				if (v->nplans)
					vol_error(v, &err);
			}
		return;
	}
	json_decref(hdr);
	free(items);
	ev = json_pack("{s:s, s:s, s:I}", "path", path, "sha256", sha, "files", (json_int_t)n);
	json_object_set_new(run->report, "evidence", ev);

	for (size_t ti = 0; ti < run->ntargets; ti++) {
		struct target *t = &run->targets[ti];
		struct lb_source src;
		bool need = false;

		for (int vi = 0; vi < t->nvols; vi++)
			need |= t->vols[vi].nplans > 0;
		if (!need)
			continue;
		if (lb_source_open(t->path, true, &src, &err)) {
			for (int vi = 0; vi < t->nvols; vi++)
				if (t->vols[vi].nplans)
					vol_error(&t->vols[vi], &err);
			fails++;
			continue;
		}
		for (int vi = 0; vi < t->nvols; vi++)
			if (t->vols[vi].nplans && !t->vols[vi].esp)
				apply_volume(run, t, &src, &t->vols[vi]);
		/* the boot configuration last: the repaired Windows is in place */
		for (int vi = 0; vi < t->nvols; vi++)
			if (t->vols[vi].nplans && t->vols[vi].esp)
				apply_esp(run, t, &t->vols[vi]);
		if (lb_io_sync(src.io, &err))
			for (int vi = 0; vi < t->nvols; vi++)
				if (t->vols[vi].nplans)
					vol_error(&t->vols[vi], &err);
		{
			uint64_t w = 0;

			for (int vi = 0; vi < t->nvols; vi++)
				w += t->vols[vi].writes;
			json_object_set_new(t->j, "writes", json_integer((json_int_t)w));
		}
		lb_source_close(&src);
	}
	(void)fails;
}

/* ---- report ---- */

static void finish(struct run *run, int *exit_code)
{
	json_t *r = run->report;
	int ex = LB_EXIT_OK, installs = 0, findings_bad = 0, fixed = 0, regs = 0, bcds = 0;
	bool any_fixed = false;
	const char *host = NULL;
	char iso[32];

	for (size_t ti = 0; ti < run->ntargets; ti++) {
		struct target *t = &run->targets[ti];
		int tex = t->exit_code;
		enum vstatus ts = t->exit_code ? VS_ERROR : VS_CLEAN;

		for (int vi = 0; vi < t->nvols; vi++) {
			struct volume *v = &t->vols[vi];
			json_t *ji;
			size_t k;

			json_object_set_new(v->j, "status", json_string(vstatus_name(v->status)));
			json_object_set_new(v->j, "timings", json_pack("{s:f, s:f, s:f}", "open_ms",
			                    v->open_ms, "scan_ms", v->scan_ms, "fix_ms", v->fix_ms));
			tex = lb_exit_worse(tex, v->exit_code);
			if (v->status > ts)
				ts = v->status;
			if (v->status == VS_FIXED)
				any_fixed = true;
			installs += v->ninstalls;
			json_array_foreach(json_object_get(v->j, "installs"), k, ji) {
				json_t *f;
				size_t m;

				if (!host && json_string_value(json_object_get(ji, "hostname")))
					host = json_string_value(json_object_get(ji, "hostname"));
				json_array_foreach(json_object_get(ji, "findings"), m, f) {
					const char *a = json_string_value(json_object_get(f, "action"));
					const char *vd = json_string_value(json_object_get(f, "verdict"));
					const char *kind = json_string_value(json_object_get(f, "kind"));

					if (kind && !strcmp(kind, "registry")) {
						if (a && (!strcmp(a, "set") || !strcmp(a, "deleted")))
							regs++;
						continue;
					}
					if (vd && !strcmp(vd, "bad"))
						findings_bad++;
					if (a && (!strcmp(a, "quarantined") || !strcmp(a, "deleted")))
						fixed++;
				}
			}
			json_array_foreach(json_object_get(v->j, "bcd"), k, ji) {
				const char *a = json_string_value(json_object_get(ji, "action"));

				if (a && (!strcmp(a, "set") || !strcmp(a, "cleared")))
					bcds++;
			}
			lb_mftmirr_free(&v->mirr);
			for (size_t i = 0; i < v->nplans; i++) {
				if (v->plans[i].kind == PL_BCD)
					unlink(v->plans[i].path);
				free(v->plans[i].data);
				free(v->plans[i].newdata);
				json_decref(v->plans[i].findings);
				json_decref(v->plans[i].meta);
			}
			free(v->plans);
			free(v->bl);
		}
		if (t->exit_code)
			ts = VS_ERROR;
		json_object_set_new(t->j, "status", json_string(vstatus_name(ts)));
		ex = lb_exit_worse(ex, tex);
		free(t->vols);
	}
	if (installs == 0 && ex < LB_EXIT_ATTENTION) {
		add_reason(r, "no Windows installation found on any target");
		ex = LB_EXIT_ATTENTION;
	}
	json_object_set_new(r, "hostname", jstr_or_null(host));
	json_object_set_new(r, "status", json_string(ex >= LB_EXIT_INPUT ? "error" :
	                                             ex == LB_EXIT_ATTENTION ? "needs_attention" :
	                                             any_fixed ? "fixed" : "clean"));
	json_object_set_new(r, "exit_code", json_integer(ex));
	json_object_set_new(r, "summary", json_pack("{s:i, s:i, s:i, s:i, s:i}", "installs",
	                    installs, "bad_files", findings_bad, "files_fixed", fixed,
	                    "registry_values_changed", regs, "bcd_changes", bcds));
	if (run->tmpdir[0])
		rmdir(run->tmpdir);
	iso_now(iso);
	json_object_set_new(r, "finished_at", json_string(iso));
	*exit_code = ex;
}

int lb_engine_run(const struct lb_options *o, const char *const *targets, size_t ntargets,
                  json_t **report)
{
	struct run run;
	json_t *r, *pbs, *jt;
	char iso[32];
	time_t now = time(NULL);
	struct tm tm;
	double t0 = now_ms();
	int ex;

	memset(&run, 0, sizeof(run));
	run.o = o;
	gmtime_r(&now, &tm);
	strftime(run.stamp, sizeof(run.stamp), "%Y%m%dT%H%M%SZ", &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r = json_object();
	run.report = r;
	pbs = json_array();
	for (size_t i = 0; i < o->nplaybooks; i++)
		json_array_append_new(pbs, json_string(o->playbooks[i]->name));
	json_object_set_new(r, "schema", json_string("loopbreaker-report/1"));
	json_object_set_new(r, "tool", json_pack("{s:s, s:s}", "name", "loopbreaker", "version",
	                                         LB_VERSION));
	json_object_set_new(r, "mode", json_string(o->fix ? "fix" : "scan"));
	json_object_set_new(r, "playbooks", pbs);
	json_object_set_new(r, "options", json_pack("{s:b, s:b, s:b, s:b, s:b}", "force", o->force,
	                    "delete", o->delete_files, "discard_hibernation", o->discard_hibernation,
	                    "discard_journal", o->discard_journal, "replay_journal",
	                    o->replay_journal));
	json_object_set_new(r, "started_at", json_string(iso));
	json_object_set_new(r, "finished_at", json_null());
	json_object_set_new(r, "duration_ms", json_null());
	json_object_set_new(r, "status", json_null());
	json_object_set_new(r, "exit_code", json_null());
	json_object_set_new(r, "reasons", json_array());
	json_object_set_new(r, "hostname", json_null());
	json_object_set_new(r, "evidence", json_null());
	json_object_set_new(r, "bitlocker_protectors_used", json_array());
	jt = json_array();
	json_object_set_new(r, "targets", jt);

	run.targets = calloc(ntargets ? ntargets : 1, sizeof(*run.targets));
	if (!run.targets) {
		*report = r;
		return LB_EXIT_INTERNAL;
	}
	run.ntargets = ntargets;
	for (size_t i = 0; i < ntargets; i++) {
		run.targets[i].path = targets[i];
		run.targets[i].j = json_object();
		json_array_append_new(jt, run.targets[i].j);
		scan_target(&run, &run.targets[i]);
	}
	if (o->fix)
		apply_all(&run);
	finish(&run, &ex);
	json_object_set_new(r, "duration_ms", json_integer((json_int_t)(now_ms() - t0)));
	free(run.targets);
	*report = r;
	return ex;
}

/* ---- discovery ---- */

static bool has_mounted_partition(const char *disk)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[512];
	bool found = false;
	size_t dl = strlen(disk);

	if (!f)
		return false;
	while (fscanf(f, "%511s %*s %*s %*s %*d %*d", dev) == 1) {
		const char *b = strncmp(dev, "/dev/", 5) == 0 ? dev + 5 : NULL;

		if (b && strncmp(b, disk, dl) == 0) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

char **lb_engine_discover(const char *const *exclude, size_t nexclude)
{
	static const char *const skip[] = { "loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd" };
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char **list = NULL;
	size_t n = 0;

	if (!d) {
		list = calloc(1, sizeof(*list));
		return list;
	}
	while ((de = readdir(d))) {
		char p[512], path[300];
		bool skipit = de->d_name[0] == '.';
		FILE *f;
		unsigned long long size = 0;
		char **nl;

		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]) && !skipit; i++)
			skipit = strncmp(de->d_name, skip[i], strlen(skip[i])) == 0;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		for (size_t i = 0; i < nexclude && !skipit; i++) {
			const char *e = exclude[i];

			skipit = strcmp(e, path) == 0 || strcmp(e, de->d_name) == 0;
		}
		if (skipit || has_mounted_partition(de->d_name))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/size", de->d_name);
		f = fopen(p, "r");
		if (!f || fscanf(f, "%llu", &size) != 1)
			size = 0;
		if (f)
			fclose(f);
		if (size == 0)
			continue;
		nl = realloc(list, (n + 2) * sizeof(*nl));
		if (!nl)
			break;
		list = nl;
		list[n++] = strdup(path);
		list[n] = NULL;
	}
	closedir(d);
	if (!list)
		list = calloc(1, sizeof(*list));
	return list;
}
