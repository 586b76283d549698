/* lb_virt.c - a libvirt domain's disks, through a dlopen()ed libvirt
 * (contracts in lb_virt.h; docs/usage.md "Libvirt domains"). */
#include "lb_virt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lb_dlopen.h"

#define LB_LIBVIRT_SONAME "libvirt.so.0"
#define LB_LIBVIRT_PACKAGE "libvirt0"

LB_ELF_NOTE_DLOPEN(lb_note_libvirt, "libvirt", "libvirt domains as targets (--domain)",
                   LB_DLOPEN_SUGGESTED, LB_LIBVIRT_SONAME);

/* The vir* functions, resolved once (virt_load). */
static struct {
	virConnectPtr (*virConnectOpenReadOnly)(const char *);
	char *(*virConnectGetURI)(virConnectPtr);
	int (*virConnectClose)(virConnectPtr);
	virDomainPtr (*virDomainLookupByName)(virConnectPtr, const char *);
	int (*virDomainGetState)(virDomainPtr, int *, int *, unsigned int);
	char *(*virDomainGetXMLDesc)(virDomainPtr, unsigned int);
	int (*virDomainFree)(virDomainPtr);
	const char *(*virGetLastErrorMessage)(void);
	int (*virGetLastErrorCode)(void);
	void (*virSetErrorFunc)(void *, virErrorFunc);
} V;
static void *virt_handle;

#define VIR_SYM(f) { #f, (void **)&V.f }

/* libvirt prints every error on stderr unless told otherwise: we say it
 * once, in our own words, with its message. */
static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

static int virt_load(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		VIR_SYM(virConnectOpenReadOnly), VIR_SYM(virConnectGetURI),
		VIR_SYM(virConnectClose), VIR_SYM(virDomainLookupByName),
		VIR_SYM(virDomainGetState), VIR_SYM(virDomainGetXMLDesc), VIR_SYM(virDomainFree),
		VIR_SYM(virGetLastErrorMessage), VIR_SYM(virGetLastErrorCode),
		VIR_SYM(virSetErrorFunc),
	};

	if (virt_handle)
		return 0;
	virt_handle = lb_dlopen(LB_LIBVIRT_SONAME, LB_LIBVIRT_PACKAGE, "--domain",
	                        LB_DLOPEN_PLAIN, syms, sizeof(syms) / sizeof(syms[0]), err);
	if (!virt_handle)
		return -1;
	V.virSetErrorFunc(NULL, quiet);
	return 0;
}

/* Why a domain in this state cannot be repaired, or NULL (shut off). */
static const char *busy(int state)
{
	switch (state) {
	case VIR_DOMAIN_SHUTOFF: return NULL;
	case VIR_DOMAIN_PAUSED: return "paused";
	case VIR_DOMAIN_SHUTDOWN: return "shutting down";
	case VIR_DOMAIN_PMSUSPENDED: return "suspended";
	case VIR_DOMAIN_CRASHED: return "crashed (its QEMU may still hold the disks)";
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED: return "running";
	default: return "in an unknown state";
	}
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The domain's XML, once it is known to be shut off (malloc'd). */
static char *domain_xml(virConnectPtr c, const char *name, struct lb_err *err)
{
	virDomainPtr dom = V.virDomainLookupByName(c, name);
	int state = -1, reason = 0;
	const char *why;
	char *xml = NULL;

	if (!dom) {
		if (V.virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			lb_err_set(err, LB_EK_INPUT, 0, "domain %s: no such domain", name);
		else
			lb_err_set(err, LB_EK_INPUT, 0, "domain %s: %s", name,
			           V.virGetLastErrorMessage());
		return NULL;
	}
	if (V.virDomainGetState(dom, &state, &reason, 0) < 0)
		lb_err_set(err, LB_EK_INPUT, 0, "domain %s: state: %s", name,
		           V.virGetLastErrorMessage());
	else if ((why = busy(state)))
		lb_err_set(err, LB_EK_REFUSED, 0, "domain %s is %s: shut it down first", name, why);
	else if (!(xml = V.virDomainGetXMLDesc(dom, 0)))
		lb_err_set(err, LB_EK_INPUT, 0, "domain %s: XML: %s", name,
		           V.virGetLastErrorMessage());
	V.virDomainFree(dom);
	return xml;
}

int lb_virt_domain_get(const char *uri, const char *name, struct lb_virt_domain *d,
                       struct lb_err *err)
{
	virConnectPtr c;
	char *xml;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (virt_load(err))
		return -1;
	c = V.virConnectOpenReadOnly(uri);
	if (!c)
		return lb_err_set(err, LB_EK_INPUT, 0, "libvirt %s: %s", uri ? uri : "(default)",
		                  V.virGetLastErrorMessage());
	xml = domain_xml(c, name, err);
	if (xml) {
		d->name = xstrdup(name);
		d->uri = V.virConnectGetURI(c);
		if (!d->uri)
			d->uri = xstrdup(uri ? uri : "");
		rc = lb_virt_parse_disks(xml, d, err);
		if (rc == 0 && (!d->name || !d->uri))
			rc = lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory");
		else if (rc == 0 && d->ndisks == 0)
			rc = lb_err_set(err, LB_EK_INPUT, 0, "domain %s: no disk to repair%s%s", name,
			                d->nskipped ? ": " : "", d->nskipped ? d->skipped[0] : "");
		if (rc)
			lb_virt_domain_free(d);
		free(xml);
	}
	V.virConnectClose(c);
	return rc;
}

void lb_virt_domain_free(struct lb_virt_domain *d)
{
	for (size_t i = 0; i < d->ndisks; i++) {
		free(d->disks[i].path);
		free(d->disks[i].format);
		free(d->disks[i].target);
	}
	for (size_t i = 0; i < d->nskipped; i++)
		free(d->skipped[i]);
	free(d->disks);
	free(d->skipped);
	free(d->name);
	free(d->uri);
	memset(d, 0, sizeof(*d));
}
