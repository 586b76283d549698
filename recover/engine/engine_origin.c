/* engine_origin.c - targets that came from a libvirt domain (--domain):
 * the domain in the report, and its driver type against the content. */
#include "engine_int.h"

#include <string.h>

#include "lb_source.h"

const struct lb_target_origin *eng_origin(const struct lb_options *o, const char *path)
{
	for (size_t i = 0; i < o->norigins; i++)
		if (strcmp(o->origins[i].path, path) == 0)
			return &o->origins[i];
	return NULL;
}

/* libvirt's driver type in our format names ("vpc" is also a fixed VHD,
 * which we read ourselves and call "vhd"; "iso" and "aio" are raw). */
static bool same_format(const char *virt, const char *ours)
{
	if (!strcmp(virt, "iso") || !strcmp(virt, "aio") || !strcmp(virt, "host_device"))
		virt = "raw";
	if (!strcmp(virt, "vpc") && !strcmp(ours, "vhd"))
		return true;
	return strcmp(virt, ours) == 0;
}

void eng_origin_name(const struct lb_options *o, struct target *t)
{
	const struct lb_target_origin *g = eng_origin(o, t->path);

	if (!g)
		return;
	json_object_set_new(t->j, "domain", json_string(g->domain));
	json_object_set_new(t->j, "libvirt", json_pack("{s:s, s:s, s:s?}", "uri", g->uri, "disk",
	                    g->disk, "driver_type", g->format));
}

int eng_origin_check(const struct lb_options *o, struct target *t, const struct lb_source *src,
                     struct lb_err *err)
{
	const struct lb_target_origin *g = eng_origin(o, t->path);

	if (!g || !g->format || same_format(g->format, src->format))
		return 0;
	return lb_err_set(err, LB_EK_REFUSED, 0, "domain %s disk %s: %s: the domain says %s, the "
	                  "content is %s: refused (correct the domain's <driver type>)",
	                  g->domain, *g->disk ? g->disk : "?", t->path, g->format, src->format);
}
