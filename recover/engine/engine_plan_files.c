/* engine_plan_files.c - plan phase: the file rules of the playbooks (one
 * rule in one directory), the plans themselves, and the hibernation file. */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_bytes.h"
#include "lb_evidence.h"

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

int eng_add_plan(struct volume *v, struct plan **out)
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
struct plan *eng_plan_bytes(struct volume *v, int kind, const char *path, const char *name,
                            uint8_t *data, size_t len, json_t *finding)
{
	struct plan *p;

	if (eng_add_plan(v, &p)) {
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

void eng_plan_mark(struct plan *p, const char *action, const char *reason)
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

json_t *eng_base_meta(struct target *t, struct volume *v, const char *system_root,
                      const char *action, const char *path)
{
	json_t *m = json_object();

	json_object_set_new(m, "target", json_string(t->path));
	json_object_set_new(m, "partition", json_integer(v->part.number));
	json_object_set_new(m, "offset", json_integer((json_int_t)v->part.offset));
	json_object_set_new(m, "volume_serial", json_object_get(v->j, "serial") ?
	                    json_deep_copy(json_object_get(v->j, "serial")) : json_null());
	json_object_set_new(m, "system_root", eng_str_or_null(system_root));
	json_object_set_new(m, "action", json_string(action));
	json_object_set_new(m, "path", json_string(path));
	return m;
}

static json_t *evidence_meta(struct rule_scan *rs, const char *path, const struct lb_ntfs_stat *st,
                             const char *sha, const char *header_hex, const char *verdict,
                             const char *action)
{
	json_t *m = json_object();

	json_object_set_new(m, "target", json_string(rs->t->path));
	json_object_set_new(m, "partition", json_integer(rs->v->part.number));
	json_object_set_new(m, "offset", json_integer((json_int_t)rs->v->part.offset));
	json_object_set_new(m, "volume_serial", json_object_get(rs->v->j, "serial") ?
	                    json_deep_copy(json_object_get(rs->v->j, "serial")) : json_null());
	json_object_set_new(m, "system_root", eng_str_or_null(rs->system_root));
	json_object_set_new(m, "playbook", json_string(rs->pb->name));
	json_object_set_new(m, "rule", json_string(rs->rule->id));
	json_object_set_new(m, "path", json_string(path));
	json_object_set_new(m, "size", json_integer((json_int_t)st->size));
	json_object_set_new(m, "sha256", json_string(sha));
	json_object_set_new(m, "header", json_string(header_hex));
	json_object_set_new(m, "verdict", json_string(verdict));
	json_object_set_new(m, "action", json_string(action));
	eng_time_json(m, "created", st->created);
	eng_time_json(m, "modified", st->modified);
	eng_time_json(m, "mft_changed", st->mft_changed);
	eng_time_json(m, "accessed", st->accessed);
	json_object_set_new(m, "ntfs_times", json_pack("{s:I, s:I, s:I, s:I}",
	                    "created", (json_int_t)st->created, "modified", (json_int_t)st->modified,
	                    "mft_changed", (json_int_t)st->mft_changed,
	                    "accessed", (json_int_t)st->accessed));
	json_object_set_new(m, "attributes", json_integer(st->attributes));
	return m;
}

/* Why deleting a file would lose what undo cannot put back: the bundle
 * keeps the unnamed data stream, the times, the attributes and the 8.3
 * name, not alternate data streams, a sparse layout or other hard links.
 * Writes the per-file reason into why; false when the file may go. */
bool eng_delete_refusal(const struct lb_ntfs_shape *sh, char *why, size_t n)
{
	char what[512] = "";
	size_t l = 0;

	if (sh->streams)
		l += (size_t)snprintf(what + l, sizeof(what) - l, "has alternate data streams "
		                      "(%u: \"%s\"%s)", sh->streams, sh->stream,
		                      sh->streams > 1 ? ", ..." : "");
	if (sh->sparse && l < sizeof(what))
		l += (size_t)snprintf(what + l, sizeof(what) - l, "%sis sparse", l ? ", " : "");
	if (sh->links > 1 && l < sizeof(what))
		snprintf(what + l, sizeof(what) - l, "%shas %u hard links (names)", l ? ", " : "",
		         sh->links);
	if (!what[0])
		return false;
	snprintf(why, n, "%s; not deleted: the evidence bundle keeps only its main data stream, "
	         "times and names, so undo could not put it back exactly (quarantine it "
	         "instead, with fix without --delete: a rename keeps all of it)", what);
	return true;
}

/* A file a rule would delete: refused (action, reason into why) when
 * deleting it would lose what undo cannot restore.  sh gets its shape. */
static bool delete_refused(struct rule_scan *rs, const char *path, struct lb_ntfs_shape *sh,
                           char *why, size_t n)
{
	struct lb_err e;

	lb_err_clear(&e);
	if (lb_ntfs_shape(rs->ntfs, path, sh, &e)) {
		snprintf(why, n, "its streams and links could not be read (%s); not deleted", e.msg);
		return true;
	}
	return eng_delete_refusal(sh, why, n);
}

/* What to do with a file of this verdict: true to act on it; else action
 * and reason say why not (*refused: a delete refused, see delete_refused).
 * sh gets the file's shape when fix will act on it. */
static bool decide(struct rule_scan *rs, const char *path, const char *verdict,
                   struct lb_ntfs_shape *sh, char *why, size_t n, const char **action,
                   const char **reason, bool *refused)
{
	const struct lb_options *o = rs->run->o;
	bool del = o->delete_files || rs->rule->action == LB_ACT_DELETE;
	bool act = strcmp(verdict, "bad") == 0 || (strcmp(verdict, "unexpected") == 0 && o->force);

	memset(sh, 0, sizeof(*sh));
	*refused = act && del && delete_refused(rs, path, sh, why, n);
	if (*refused) {
		*action = "skipped";
		*reason = why;
		eng_attention(rs->v, "%s: %s %s", rs->pb->name, path, why);
		return false;
	}
	if (act && o->fix && lb_ntfs_shape(rs->ntfs, path, sh, rs->err)) {
		lb_err_clear(rs->err); /* a quarantine keeps it all anyway */
		memset(sh, 0, sizeof(*sh));
	}
	if (act) {
		*action = !o->fix ? (del ? "would_delete" : "would_quarantine") : "planned";
		*reason = !o->fix ? "run fix to act on it" : NULL;
	} else if (strcmp(verdict, "unexpected") == 0) {
		*action = "skipped";
		*reason = "in the bad time window but its header is not a known channel-file header; "
		          "left alone (use --force to act on it)";
	}
	return act;
}

static int rule_file_cb(void *arg, const char *name, bool is_dir)
{
	struct rule_scan *rs = arg;
	const struct lb_options *o = rs->run->o;
	char path[1024], sha[65] = "", header_hex[2 * LB_HEADER_MAX + 1], why[1024];
	struct lb_ntfs_shape sh;
	uint8_t header[LB_HEADER_MAX] = { 0 };
	struct lb_ntfs_stat st;
	const char *verdict, *kind, *action = "none", *reason = NULL;
	uint8_t *data = NULL;
	uint64_t len = 0;
	size_t hlen;
	json_t *f;
	bool act, refused;

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
	lb_hex(header, hlen, header_hex);
	lb_sha256_hex(data, (size_t)len, sha);
	verdict = lb_rule_classify(rs->rule, lb_ntfs_time_to_unix(st.modified), header, hlen, &kind);

	act = decide(rs, path, verdict, &sh, why, sizeof(why), &action, &reason, &refused);
	f = json_object();
	json_object_set_new(f, "playbook", json_string(rs->pb->name));
	json_object_set_new(f, "rule", json_string(rs->rule->id));
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "size", json_integer((json_int_t)st.size));
	eng_time_json(f, "mtime", st.modified);
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
		eng_attention(rs->v, "%s: %s file %s present (run fix)", rs->pb->name, verdict, path);
	else if (!act && !refused && strcmp(verdict, "unexpected") == 0)
		eng_attention(rs->v, "%s: %s is in the bad time window with an unknown header %s; "
		              "not touched without --force", rs->pb->name, path, header_hex);

	if (act && o->fix) {
		struct plan *p;

		if (eng_add_plan(rs->v, &p)) {
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
		/* undo gives the 8.3 name back: a move or a re-creation loses it */
		json_object_set_new(p->meta, "short_name", eng_str_or_null(sh.short_name[0] ?
		                                                          sh.short_name : NULL));
		json_object_set_new(p->meta, "links", json_integer(sh.links));
		return 0;
	}
	free(data);
	return 0;
}

int eng_scan_rules(struct run *run, struct target *t, struct volume *v, struct lb_ntfs *ntfs,
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


void eng_plan_hiber(struct volume *v, struct lb_ntfs *ntfs, const char *target)
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
	if (r <= 0 || eng_add_plan(v, &p)) {
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
	                    "partition", v->part.number, "offset", (json_int_t)v->part.offset,
	                    "volume_serial", json_object_get(v->j, "serial"),
	                    "path", "\\hiberfil.sys", "action", "invalidate_hibernation",
	                    "size", (json_int_t)r, "sha256", p->sha256,
	                    "note", "first bytes of hiberfil.sys before its signature was cleared");
}
