/* lb_virt_xml.c - the disks of a libvirt domain XML document, read with
 * libxml2 (dlopen()ed: libvirt has already loaded it).  Contract in
 * lb_virt.h (lb_virt_parse_disks). */
#include "lb_virt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "lb_dlopen.h"

#define LB_LIBXML2_SONAME "libxml2.so.2"

LB_ELF_NOTE_DLOPEN(lb_note_libxml2, "libvirt-xml", "reading libvirt domain XML (--domain)",
                   LB_DLOPEN_SUGGESTED, LB_LIBXML2_SONAME);

static struct {
	xmlDocPtr (*xmlReadMemory)(const char *, int, const char *, const char *, int);
	xmlNodePtr (*xmlDocGetRootElement)(const xmlDoc *);
	void (*xmlFreeDoc)(xmlDocPtr);
} X;
static void *xml_handle;

#define XML_SYM(f) { #f, (void **)&X.f }

static int xml_load(struct lb_err *err)
{
	static const struct lb_dlsym syms[] = {
		XML_SYM(xmlReadMemory), XML_SYM(xmlDocGetRootElement), XML_SYM(xmlFreeDoc),
	};

	if (xml_handle)
		return 0;
	xml_handle = lb_dlopen(LB_LIBXML2_SONAME, "libxml2", "--domain", LB_DLOPEN_PLAIN, syms,
	                       sizeof(syms) / sizeof(syms[0]), err);
	return xml_handle ? 0 : -1;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first child element called name, or NULL. */
static xmlNode *child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* An attribute's value (a single text node; entities are already
 * replaced), or NULL. */
static const char *attr(const xmlNode *n, const char *name)
{
	for (xmlAttr *a = n ? n->properties : NULL; a; a = a->next)
		if (strcmp((const char *)a->name, name) == 0)
			return a->children && a->children->type == XML_TEXT_NODE && !a->children->next ?
			       (const char *)a->children->content : NULL;
	return NULL;
}

static int skip(struct lb_virt_domain *d, const char *dev, const char *why)
{
	char line[512], **nl = realloc(d->skipped, (d->nskipped + 1) * sizeof(*nl));

	if (!nl)
		return -1;
	d->skipped = nl;
	snprintf(line, sizeof(line), "domain %s disk %s: %s: skipped", d->name ? d->name : "?",
	         dev && *dev ? dev : "(no target)", why);
	if (!(d->skipped[d->nskipped] = strdup(line)))
		return -1;
	d->nskipped++;
	return 0;
}

static int take(struct lb_virt_domain *d, const char *path, const char *fmt, const char *dev,
                bool block)
{
	struct lb_virt_disk *nd = realloc(d->disks, (d->ndisks + 1) * sizeof(*nd));
	struct lb_virt_disk *k;

	if (!nd)
		return -1;
	d->disks = nd;
	k = &d->disks[d->ndisks];
	k->path = strdup(path);
	k->format = fmt ? strdup(fmt) : NULL;
	k->target = strdup(dev ? dev : "");
	k->block = block;
	d->ndisks++;
	return k->path && k->target && (!fmt || k->format) ? 0 : -1;
}

/* One <disk>: taken, skipped with a reason, or -1 (out of memory). */
static int one_disk(struct lb_virt_domain *d, const xmlNode *disk)
{
	const char *type = attr(disk, "type"), *device = attr(disk, "device");
	const char *dev = attr(child(disk, "target"), "dev");
	const char *fmt = attr(child(disk, "driver"), "type");
	xmlNode *src = child(disk, "source");
	char why[160];
	const char *path;

	if (!device)
		device = "disk";
	if (strcmp(device, "disk")) {
		snprintf(why, sizeof(why), "a %s", device);
		return skip(d, dev, why);
	}
	if (child(disk, "readonly"))
		return skip(d, dev, "read-only");
	if (child(disk, "shareable"))
		return skip(d, dev, "shareable (other domains may have it open)");
	if (!type || (strcmp(type, "file") && strcmp(type, "block"))) {
		snprintf(why, sizeof(why), "type '%s' (only file and block disks)",
		         type ? type : "?");
		return skip(d, dev, why);
	}
	path = attr(src, strcmp(type, "file") ? "dev" : "file");
	if (!path || !*path)
		return skip(d, dev, "no source");
	return take(d, path, fmt, dev, strcmp(type, "block") == 0);
}

int lb_virt_parse_disks(const char *xml, struct lb_virt_domain *d, struct lb_err *err)
{
	xmlDocPtr doc;
	xmlNode *root, *devs;
	int rc = 0;

	if (xml_load(err))
		return -1;
	doc = X.xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = doc ? X.xmlDocGetRootElement(doc) : NULL;
	if (!is(root, "domain")) {
		if (doc)
			X.xmlFreeDoc(doc);
		return lb_err_set(err, LB_EK_INPUT, 0, "domain %s: its XML is not a <domain>",
		                  d->name ? d->name : "?");
	}
	devs = child(root, "devices");
	for (xmlNode *n = devs ? devs->children : NULL; n && rc == 0; n = n->next)
		if (is(n, "disk"))
			rc = one_disk(d, n);
	X.xmlFreeDoc(doc);
	return rc ? lb_err_set(err, LB_EK_INTERNAL, 0, "out of memory") : 0;
}
