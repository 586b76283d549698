/* cmd_domain.c - `--domain NAME` and `--libvirt URI` for scan, fix, undo
 * and ls: a shut-off libvirt domain's disks as targets (recover/virt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_err.h"

const char cmd_domain_help[] =
"  --domain NAME         also the disks of this shut-off libvirt domain (repeatable); a\n"
"                        running or paused one is refused; cdrom, floppy, read-only and\n"
"                        shareable disks are skipped (said on stderr and in the report)\n"
"  --libvirt URI         libvirt connection for --domain (default: libvirt's own,\n"
"                        e.g. qemu:///system as root)\n";

bool cmd_domains_option(struct cmd_domains *d, int code, const char *arg)
{
	if (code == CMD_O_LIBVIRT) {
		d->uri = arg;
		return true;
	}
	if (code != CMD_O_DOMAIN)
		return false;
	if (d->nnames == CMD_MAX_DOMAINS) {
		fprintf(stderr, "loopbreaker: at most %d --domain options\n", CMD_MAX_DOMAINS);
		return false;
	}
	d->names[d->nnames++] = arg;
	return true;
}

/* Room for n more targets. */
static int grow(struct cmd_domains *d, size_t n)
{
	const char **t = realloc(d->targets, (d->ntargets + n + 1) * sizeof(*t));
	struct lb_target_origin *o;

	if (!t)
		return -1;
	d->targets = t;
	o = realloc(d->origins, (d->norigins + n + 1) * sizeof(*o));
	if (!o)
		return -1;
	d->origins = o;
	return 0;
}

/* One domain's disks onto the target list; its skipped disks on stderr. */
static int add_domain(struct cmd_domains *d, struct lb_virt_domain *dom)
{
	for (size_t i = 0; i < dom->nskipped; i++)
		fprintf(stderr, "loopbreaker: %s\n", dom->skipped[i]);
	if (grow(d, dom->ndisks))
		return -1;
	for (size_t i = 0; i < dom->ndisks; i++) {
		struct lb_virt_disk *k = &dom->disks[i];

		d->targets[d->ntargets++] = k->path;
		d->origins[d->norigins++] = (struct lb_target_origin){
			.path = k->path, .domain = dom->name, .uri = dom->uri, .disk = k->target,
			.format = k->format,
		};
		fprintf(stderr, "loopbreaker: domain %s disk %s: %s (%s)\n", dom->name,
		        *k->target ? k->target : "?", k->path, k->format ? k->format : "no driver type");
	}
	return 0;
}

int cmd_domains_resolve(struct cmd_domains *d, const char *const *paths, size_t npaths)
{
	struct lb_err err;

	if (d->uri && d->nnames == 0) {
		fprintf(stderr, "loopbreaker: --libvirt is used with --domain\n");
		return LB_EXIT_INPUT;
	}
	if (grow(d, npaths))
		goto oom;
	for (size_t i = 0; i < npaths; i++)
		d->targets[d->ntargets++] = paths[i];
	for (size_t i = 0; i < d->nnames; i++) {
		lb_err_clear(&err);
		if (lb_virt_domain_get(d->uri, d->names[i], &d->doms[i], &err)) {
			fprintf(stderr, "loopbreaker: %s; nothing was done\n", err.msg);
			return lb_exit_for(err.kind);
		}
		d->ndoms = i + 1;
		if (add_domain(d, &d->doms[i]))
			goto oom;
	}
	return 0;
oom:
	fprintf(stderr, "loopbreaker: out of memory\n");
	return LB_EXIT_INTERNAL;
}

void cmd_domains_report(const struct cmd_domains *d, json_t *report)
{
	json_t *all;

	if (!d->ndoms || !report)
		return;
	all = json_array();
	for (size_t i = 0; i < d->ndoms; i++) {
		const struct lb_virt_domain *dom = &d->doms[i];
		json_t *disks = json_array(), *skipped = json_array();

		for (size_t k = 0; k < dom->ndisks; k++)
			json_array_append_new(disks, json_pack("{s:s, s:s, s:s?}", "path",
			                      dom->disks[k].path, "disk", dom->disks[k].target,
			                      "driver_type", dom->disks[k].format));
		for (size_t k = 0; k < dom->nskipped; k++)
			json_array_append_new(skipped, json_string(dom->skipped[k]));
		json_array_append_new(all, json_pack("{s:s, s:s, s:o, s:o}", "name", dom->name, "uri",
		                                     dom->uri, "disks", disks, "skipped", skipped));
	}
	json_object_set_new(report, "domains", all);
}

void cmd_domains_free(struct cmd_domains *d)
{
	for (size_t i = 0; i < d->ndoms; i++)
		lb_virt_domain_free(&d->doms[i]);
	free(d->targets);
	free(d->origins);
	memset(d, 0, sizeof(*d));
}
