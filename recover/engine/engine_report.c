/* engine_report.c - the report: JSON for targets, volumes, installations
 * and BitLocker; volume status; the final summary and exit status. */
#include "engine_int.h"
#include "lb_report.h"

#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

double eng_now_ms(void)
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


void eng_reason(json_t *obj, const char *fmt, ...)
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

void eng_attention(struct volume *v, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	eng_reason(v->j, "%s", buf);
	if (v->status != VS_ERROR)
		v->status = VS_ATTN;
	v->exit_code = lb_exit_worse(v->exit_code, LB_EXIT_ATTENTION);
}

void eng_error(struct volume *v, const struct lb_err *err)
{
	json_object_set_new(v->j, "error", json_string(err->msg));
	eng_reason(v->j, "%s", err->msg);
	if (err->kind == LB_EK_REFUSED) {
		if (v->status != VS_ERROR)
			v->status = VS_ATTN;
	} else {
		v->status = VS_ERROR;
	}
	v->exit_code = lb_exit_worse(v->exit_code, lb_exit_for(err->kind));
}

json_t *eng_str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *hive_json(const struct lb_hive_status *h)
{
	return json_pack("{s:b, s:b, s:b, s:o}", "present", h->present, "ok", h->ok, "dirty",
	                 h->dirty, "error", eng_str_or_null(h->error));
}

json_t *eng_install_json(const struct lb_install *in)
{
	json_t *j = json_object();

	json_object_set_new(j, "system_root", json_string(in->system_root));
	json_object_set_new(j, "hostname", eng_str_or_null(in->hostname));
	json_object_set_new(j, "domain", eng_str_or_null(in->domain));
	json_object_set_new(j, "product_name", eng_str_or_null(in->product_name));
	json_object_set_new(j, "edition", eng_str_or_null(in->edition));
	json_object_set_new(j, "build", eng_str_or_null(in->build));
	json_object_set_new(j, "ubr", in->has_ubr ? json_integer(in->ubr) : json_null());
	json_object_set_new(j, "display_version", eng_str_or_null(in->display_version));
	json_object_set_new(j, "install_date", eng_str_or_null(in->install_date));
	json_object_set_new(j, "machine_guid", eng_str_or_null(in->machine_guid));
	json_object_set_new(j, "sensor", json_pack("{s:b, s:o, s:o, s:o}", "present",
	                    in->sensor_present, "version", eng_str_or_null(in->sensor_version),
	                    "agent_id", eng_str_or_null(in->agent_id),
	                    "customer_id", eng_str_or_null(in->customer_id)));
	json_object_set_new(j, "current_controlset",
	                    in->current_controlset ? json_integer(in->current_controlset) : json_null());
	json_object_set_new(j, "hives", json_pack("{s:o, s:o}", "system", hive_json(&in->system),
	                                          "software", hive_json(&in->software)));
	json_object_set_new(j, "findings", json_array());
	return j;
}

void eng_time_json(json_t *obj, const char *key, int64_t nt)
{
	char iso[32];

	lb_ntfs_time_iso(nt, iso);
	json_object_set_new(obj, key, json_string(iso));
}

json_t *eng_bitlocker_json(const struct lb_bitlocker_info *bi)
{
	json_t *j = json_object(), *prots = json_array();

	json_object_set_new(j, "volume_guid", json_string(bi->volume_guid));
	json_object_set_new(j, "to_go", json_boolean(bi->to_go));
	json_object_set_new(j, "cipher", json_string(bi->cipher ? bi->cipher : "unknown"));
	json_object_set_new(j, "key_bits", json_integer(bi->key_bits));
	json_object_set_new(j, "state", json_string(lb_bl_state_name(bi->state)));
	json_object_set_new(j, "fully_encrypted", json_boolean(bi->fully_encrypted));
	json_object_set_new(j, "suspended", json_boolean(bi->suspended));
	json_object_set_new(j, "description", eng_str_or_null(bi->description));
	for (unsigned i = 0; i < bi->n_protectors; i++)
		json_array_append_new(prots, json_pack("{s:s, s:s}", "id", bi->protectors[i].guid,
		                      "type", lb_bl_protector_type_name(bi->protectors[i].type)));
	json_object_set_new(j, "protectors", prots);
	json_object_set_new(j, "unlocked", json_false());
	json_object_set_new(j, "unlocked_with", json_null());
	return j;
}

/* Recovery protectors whose keys were used: the admin rotates them. */
void eng_used_protector(struct run *run, struct volume *v, const char *prot,
                        const char *source)
{
	json_t *list = json_object_get(run->report, "bitlocker_protectors_used"), *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "protector")), prot))
			return;
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:O, s:n}", "protector", prot,
	                      "source", source, "volume_guid", v->bl->volume_guid, "partition",
	                      v->part.number, "target", json_object_get(v->j, "device"),
	                      "hostname"));
}

/* Each used protector gets the name of the machine it opened: the
 * hostname of the installation on its volume (known only after the scan),
 * else the volume's BitLocker description (it starts with the PC name). */
static void name_protectors(json_t *r)
{
	json_t *p, *t, *v;
	size_t i, j, k;

	json_array_foreach(json_object_get(r, "bitlocker_protectors_used"), i, p)
		json_array_foreach(json_object_get(r, "targets"), j, t)
			json_array_foreach(json_object_get(t, "volumes"), k, v) {
				json_t *bl = json_object_get(v, "bitlocker");
				const char *g = json_string_value(json_object_get(bl, "volume_guid"));
				json_t *h = json_object_get(json_array_get(json_object_get(v, "installs"), 0),
				                            "hostname");

				if (!g || strcmp(g, json_string_value(json_object_get(p, "volume_guid"))))
					continue;
				if (!json_is_string(h))
					h = json_object_get(bl, "description");
				if (json_is_string(h))
					json_object_set(p, "hostname", h);
			}
}

json_t *eng_volume_json(const char *target, const struct lb_part *p)
{
	json_t *j = json_object();

	json_object_set_new(j, "device", json_string(target));
	json_object_set_new(j, "partition", json_integer(p->number));
	json_object_set_new(j, "offset", json_integer((json_int_t)p->offset));
	json_object_set_new(j, "size", json_integer((json_int_t)p->size));
	json_object_set_new(j, "filesystem", eng_str_or_null(p->fstype));
	json_object_set_new(j, "partition_type", eng_str_or_null(p->type));
	json_object_set_new(j, "label", eng_str_or_null(p->label));
	json_object_set_new(j, "status", json_string("clean"));
	json_object_set_new(j, "reasons", json_array());
	json_object_set_new(j, "error", json_null());
	return j;
}

/* ---- report ---- */

/* A damaged SOFTWARE hive: Windows loads it at boot as it loads SYSTEM, so
 * the machine is not fixed whatever the playbook did (the scan of the
 * installs says the same of SYSTEM); a missing one is left alone, as before. */
static void software_attention(struct volume *v, json_t *inst)
{
	json_t *sw = json_object_get(json_object_get(inst, "hives"), "software");
	const char *root = json_string_value(json_object_get(inst, "system_root"));
	const char *e = json_string_value(json_object_get(sw, "error"));

	if (!sw || json_is_true(json_object_get(sw, "ok")) || !e)
		return;
	eng_attention(v, "%s: SOFTWARE hive %s (%s): Windows may not boot even when the playbook's "
	              "fix is applied", root ? root : "?",
	              json_is_true(json_object_get(sw, "present")) ? "is damaged" : "cannot be read",
	              e);
}

void eng_finish(struct run *run, int *exit_code)
{
	json_t *r = run->report;
	int ex = LB_EXIT_OK;
	struct lb_report_counts c;
	bool any_fixed = false;
	const char *host = NULL;
	char iso[32];

	for (size_t ti = 0; ti < run->ntargets; ti++) {
		struct target *t = &run->targets[ti];
		int tex = t->exit_code;
		enum vstatus ts = t->exit_code == LB_EXIT_ATTENTION ? VS_ATTN :
		                  t->exit_code ? VS_ERROR : VS_CLEAN; /* refused (lb_source_claim) */

		for (int vi = 0; vi < t->nvols; vi++) {
			struct volume *v = &t->vols[vi];
			json_t *ji;
			size_t k;

			json_array_foreach(json_object_get(v->j, "installs"), k, ji)
				software_attention(v, ji);
			json_object_set_new(v->j, "status", json_string(vstatus_name(v->status)));
			json_object_set_new(v->j, "timings", json_pack("{s:f, s:f, s:f}", "open_ms",
			                    v->open_ms, "scan_ms", v->scan_ms, "fix_ms", v->fix_ms));
			tex = lb_exit_worse(tex, v->exit_code);
			if (v->status > ts)
				ts = v->status;
			if (v->status == VS_FIXED)
				any_fixed = true;
			json_array_foreach(json_object_get(v->j, "installs"), k, ji)
				if (!host && json_string_value(json_object_get(ji, "hostname")))
					host = json_string_value(json_object_get(ji, "hostname"));
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
			json_decref(v->id);
		}
		if (t->exit_code > LB_EXIT_ATTENTION)
			ts = VS_ERROR;
		json_object_set_new(t->j, "status", json_string(vstatus_name(ts)));
		ex = lb_exit_worse(ex, tex);
		free(t->vols);
		json_decref(t->id);
	}
	lb_report_count(json_object_get(r, "targets"), &c);
	name_protectors(r);
	if (c.installs == 0 && ex < LB_EXIT_ATTENTION) {
		eng_reason(r, "no Windows installation found on any target");
		ex = LB_EXIT_ATTENTION;
	}
	json_object_set_new(r, "hostname", eng_str_or_null(host));
	if (run->stopped) {
		eng_reason(r, "interrupted by %s: the change in progress was finished, no other was "
		           "started; run fix again to complete the job",
		           run->stopped == SIGINT ? "SIGINT" : run->stopped == SIGTERM ? "SIGTERM" :
		           "a signal");
		ex = lb_exit_worse(ex, LB_EXIT_INTERNAL);
	}
	json_object_set_new(r, "status", json_string(run->stopped ? "interrupted" :
	                                             ex >= LB_EXIT_INPUT ? "error" :
	                                             ex == LB_EXIT_ATTENTION ? "needs_attention" :
	                                             any_fixed ? "fixed" : "clean"));
	json_object_set_new(r, "exit_code", json_integer(ex));
	json_object_set_new(r, "summary", lb_report_counts_json(&c));
	if (run->tmpdir[0])
		rmdir(run->tmpdir);
	iso_now(iso);
	json_object_set_new(r, "finished_at", json_string(iso));
	*exit_code = ex;
}
