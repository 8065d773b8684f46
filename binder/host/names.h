/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Device, vendor and class names from the PCI ID database, through libpci
 * (pciutils' pci_lookup_name(), the names lspci prints). The database is the
 * root's own usr/share/misc/pci.ids: under --root DIR the names come from
 * DIR, never from the running system. A missing or unreadable database is
 * not an error: every lookup then returns NULL and callers show hex ids.
 */

#include <stdint.h>

#include "root.h"

struct vb_names;

/* The database of this root; NULL only when out of memory. */
struct vb_names *vb_names_open(const struct vb_root *root);
void vb_names_close(struct vb_names *n);

/* Each returns a string owned by n (valid until the next lookup of the same
 * kind) or NULL when the database has no name for it. */
const char *vb_names_vendor(struct vb_names *n, uint16_t vendor);
const char *vb_names_device(struct vb_names *n, uint16_t vendor, uint16_t device);
/* class: the 24-bit class; the subclass name, else the base class name */
const char *vb_names_class(struct vb_names *n, uint32_t class);
