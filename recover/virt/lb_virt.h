/* lb_virt.h - libvirt domains as targets (`--domain NAME`).
 *
 * A domain's disks are read from its XML (virDomainGetXMLDesc) through
 * libvirt, which is dlopen()ed (libvirt.so.0, Debian package libvirt0) the
 * first time a domain is looked up, with libxml2 (libxml2.so.2, already
 * loaded by libvirt) to read the XML: plain scans never load either.
 *
 * Only a domain that is shut off is resolved; a running, paused, blocked,
 * suspended, crashed or shutting-down domain is refused (its disks are in
 * use by QEMU), as is one that does not exist. */
#ifndef LB_VIRT_H
#define LB_VIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "lb_err.h"

/* One disk the domain would boot from: fixable. */
struct lb_virt_disk {
	char *path;     /* <source file=…> or <source dev=…> */
	char *format;   /* <driver type=…> ("raw", "qcow2", …); NULL when absent */
	char *target;   /* <target dev=…> ("vda", "sda"); "" when absent */
	bool block;     /* type='block' */
};

struct lb_virt_domain {
	char *name;
	char *uri;                 /* the connection's URI, as libvirt names it */
	struct lb_virt_disk *disks;
	size_t ndisks;
	char **skipped;            /* one line per disk not taken, and why */
	size_t nskipped;
};

/* Looks up the domain `name` on the connection `uri` (NULL: libvirt's
 * default, i.e. $LIBVIRT_DEFAULT_URI, uri_default or qemu:///system for
 * root) and fills d with its disks.  Taken: <disk device='disk'> of type
 * 'file' (with a source file) or 'block' (with a source dev).  Skipped,
 * with a line in d->skipped: cdrom, floppy and lun devices, readonly or
 * shareable disks, network, volume and other types, disks with no source.
 * Refused (-1, LB_EK_REFUSED): a domain that is not shut off ("domain X is
 * running: shut it down first").  -1, LB_EK_INPUT: no such domain, no
 * connection, or libvirt missing (the message names libvirt0).  On success
 * the caller frees d with lb_virt_domain_free; on failure d holds nothing. */
int lb_virt_domain_get(const char *uri, const char *name, struct lb_virt_domain *d,
                       struct lb_err *err);
void lb_virt_domain_free(struct lb_virt_domain *d);

/* Internal to the virt layer (lb_virt_xml.c): the disks of a domain XML
 * document, as above.  0, or -1 with err set (LB_EK_INPUT). */
int lb_virt_parse_disks(const char *xml, struct lb_virt_domain *d, struct lb_err *err);

#endif
