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

#include "lb_bitlocker.h"
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
	char path[1024];               /* volume path, real case */
	char name[256];
	uint8_t *data;                 /* bytes captured for evidence */
	uint64_t len;
	char sha256[65];
	int64_t mtime_unix;
	enum { PL_QUARANTINE, PL_DELETE, PL_HIBER_INVALIDATE } kind;
	bool done;
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

static int worse_exit(int a, int b)
{
	/* internal/IO (3) > unreadable input (2) > attention (1) > ok (0) */
	return a > b ? a : b;
}

static int exit_for_kind(enum lb_errkind k)
{
	switch (k) {
	case LB_EK_REFUSED: return LB_EXIT_ATTENTION;
	case LB_EK_INPUT:
	case LB_EK_USAGE: return LB_EXIT_INPUT;
	default: return LB_EXIT_INTERNAL;
	}
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
	v->exit_code = worse_exit(v->exit_code, LB_EXIT_ATTENTION);
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
	v->exit_code = worse_exit(v->exit_code, exit_for_kind(err->kind));
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
	p->meta = json_pack("{s:s, s:i, s:I, s:s, s:s, s:I, s:s, s:s}", "target", target,
	                    "partition", v->partno, "offset", (json_int_t)v->offset,
	                    "path", "\\hiberfil.sys", "action", "invalidate_hibernation",
	                    "header_bytes", (json_int_t)r, "sha256_of_header", p->sha256,
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

static void scan_volume(struct run *run, struct target *t, struct lb_source *src,
                        const struct lb_part *p, struct volume *v)
{
	const struct lb_options *o = run->o;
	struct lb_io *win = NULL;
	struct lb_ntfs *ntfs = NULL;
	struct lb_ntfs_state st;
	struct lb_install *inst = NULL;
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
	if (!win || lb_ntfs_open(win, LB_NTFS_RDONLY, &ntfs, &err)) {
		vol_error(v, &err);
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
			json_object_set_new(v->plans[i].finding, "action", json_string("refused"));
			json_object_set_new(v->plans[i].finding, "reason",
			                    json_string(st.hibernated && !o->discard_hibernation
			                                ? "volume is hibernated (--discard-hibernation)"
			                                : "NTFS journal not replayed (--replay-journal or "
			                                  "--discard-journal)"));
			free(v->plans[i].data);
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
		t->exit_code = exit_for_kind(err.kind);
		return;
	}
	t->opened = true;
	json_object_set_new(t->j, "type", json_string(src.is_block ? "block" : "file"));
	json_object_set_new(t->j, "format", json_string(src.format));
	json_object_set_new(t->j, "size", json_integer((json_int_t)src.io->size));
	if (lb_partition_scan(&src, &disk, &err)) {
		json_object_set_new(t->j, "error", json_string(err.msg));
		t->exit_code = exit_for_kind(err.kind);
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
	if (win && o->fault)
		vio = lb_io_faulty(win, o->fault, &err);
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
			if (p->finding) {
				json_object_set_new(p->finding, "action", json_string("failed"));
				json_object_set_new(p->finding, "reason", json_string(err.msg));
			}
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
		if (v->plans[i].finding) {
			json_object_set_new(v->plans[i].finding, "action", json_string("failed"));
			json_object_set_new(v->plans[i].finding, "reason", json_string(err.msg));
		}
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
					if (v->plans[i].finding) {
						json_object_set_new(v->plans[i].finding, "action",
						                    json_string("skipped"));
						json_object_set_new(v->plans[i].finding, "reason",
						                    json_string("evidence bundle not written"));
					}
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
			if (t->vols[vi].nplans)
				apply_volume(run, t, &src, &t->vols[vi]);
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
	int ex = LB_EXIT_OK, installs = 0, findings_bad = 0, fixed = 0;
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
			tex = worse_exit(tex, v->exit_code);
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

					if (!strcmp(json_string_value(json_object_get(f, "verdict")), "bad"))
						findings_bad++;
					if (!strcmp(a, "quarantined") || !strcmp(a, "deleted"))
						fixed++;
				}
			}
			for (size_t i = 0; i < v->nplans; i++) {
				free(v->plans[i].data);
				json_decref(v->plans[i].meta);
			}
			free(v->plans);
			free(v->bl);
		}
		if (t->exit_code)
			ts = VS_ERROR;
		json_object_set_new(t->j, "status", json_string(vstatus_name(ts)));
		ex = worse_exit(ex, tex);
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
	json_object_set_new(r, "summary", json_pack("{s:i, s:i, s:i}", "installs", installs,
	                    "bad_files", findings_bad, "files_fixed", fixed));
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
	json_object_set_new(r, "options", json_pack("{s:b, s:b, s:b, s:b}", "force", o->force,
	                    "delete", o->delete_files, "discard_hibernation", o->discard_hibernation,
	                    "discard_journal", o->discard_journal));
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
