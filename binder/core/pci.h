/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The PCI model: one scan of sys/bus/pci/devices under the root. The scan
 * reads only each device's uevent (PCI_ID, PCI_SUBSYS_ID, PCI_CLASS,
 * PCI_SLOT_NAME, DRIVER); everything else is loaded on demand.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "root.h"

#define VB_PCI_NAME_MAX 16 /* "dddd:bb:ss.f" + NUL */
#define VB_DRIVER_MAX 64
/* A stable topology string: 12 bytes for the first hop, 5 per hop below
 * (6 after a nested host bridge); 128 holds 24 hops, deeper than any PCIe
 * hierarchy built. */
#define VB_TOPOLOGY_MAX 128

struct vb_pci_addr {
	uint32_t domain; /* 0..0xffff (pciutils prints %04x) */
	uint8_t bus;
	uint8_t slot; /* 0..0x1f */
	uint8_t func; /* 0..7 */
};

/* Value of one hex digit (either case), -1 for anything else. */

/* "%04x:%02x:%02x.%x" */
void vb_pci_addr_format(const struct vb_pci_addr *a, char buf[VB_PCI_NAME_MAX]);
/* Strict parse of a full "dddd:bb:ss.f" (as sysfs names them). 0 or -EINVAL. */
int vb_pci_addr_parse(const char *s, struct vb_pci_addr *a);
/* Also accepts "bb:ss.f" (domain 0000), lspci -s style for command arguments. */
int vb_pci_addr_parse_short(const char *s, struct vb_pci_addr *a);
int vb_pci_addr_cmp(const struct vb_pci_addr *a, const struct vb_pci_addr *b);

enum {
	VB_PCI_HAVE_GROUP = 1u << 0,
	VB_PCI_HAVE_BOOT_VGA = 1u << 1,
	VB_PCI_HAVE_OVERRIDE = 1u << 2,
	VB_PCI_HAVE_PHYSPATH = 1u << 3,
	VB_PCI_HAVE_HEADER = 1u << 4,
	VB_PCI_HAVE_SRIOV = 1u << 5,
};

struct vb_pci_dev {
	struct vb_pci_addr addr;
	char name[VB_PCI_NAME_MAX]; /* canonical address */
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;
	uint32_t class;               /* 24 bits: base, sub, prog-if */
	char driver[VB_DRIVER_MAX];   /* "" when unbound */
	char override[VB_DRIVER_MAX]; /* "" when "(null)"; valid with HAVE_OVERRIDE */
	int iommu_group;              /* -1 none; valid with HAVE_GROUP */
	int boot_vga;                 /* -1 absent, 0, 1; valid with HAVE_BOOT_VGA */
	int header_type;              /* 0 normal, 1 bridge, 2 cardbus, -1 unknown */
	int sriov_numvfs;             /* -1 not a PF; valid with HAVE_SRIOV */
	char *physpath;               /* "pci0000:00/0000:00:01.0/0000:01:00.0" */
	unsigned have;                /* VB_PCI_HAVE_* */
};

struct vb_pci_list {
	struct vb_pci_dev *devs; /* sorted by address */
	size_t n;
};

int vb_pci_scan(const struct vb_root *root, struct vb_pci_list *ret);
void vb_pci_list_free(struct vb_pci_list *list);
struct vb_pci_dev *vb_pci_find(const struct vb_pci_list *list, const struct vb_pci_addr *a);

/* Lazy loaders; each is a no-op once loaded. 0 or -errno (-ENODEV: device
 * vanished). A missing attribute is not an error (iommu_group -1, ...). */
int vb_pci_load_group(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_boot_vga(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_override(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_physpath(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_header(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_sriov(const struct vb_root *root, struct vb_pci_dev *d);
int vb_pci_load_all(const struct vb_root *root, struct vb_pci_dev *d);

/* Re-reads uevent (driver) and forgets lazily loaded state. -ENODEV when the
 * device is gone. */
int vb_pci_refresh(const struct vb_root *root, struct vb_pci_dev *d);

/*
 * The stable topology of a device: where it is plugged in, in a form that
 * survives bus renumbering. Firmware numbers the buses below a root bus
 * depth-first at boot, so a card added behind an earlier root port moves
 * the bus number of everything behind the later ones; the domain, the root
 * bus and the slot.function of every hop stay.
 *
 *   pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0
 *     -> "0000:40:03.1/00.0/04.0/00.0"
 *   pci0000:00/0000:00:10.0 -> "0000:00:10.0"
 *
 * The first hop is the device on the root bus, in canonical form (domain and
 * root bus included); every further hop is the slot.function behind the
 * bridge before it. Lower-case hex, '/'-separated.
 *
 * A host bridge nested in a device (Intel VMD:
 * ".../0000:00:0e.0/pci10000:e0/10000:e0:01.0/10000:e1:00.0") starts a new
 * root bus: the hop after it is written "BB:SS.F" with that root bus's
 * number ("0000:00:0e.0/e0:01.0/00.0"). Its domain is left out: the vmd
 * driver numbers it at probe time (first free number from 10000), so it
 * depends on how many VMDs probed before, while the device holding the host
 * bridge is already the hop before. A hop has 0 colons below a bridge, 1
 * below a nested host bridge, 2 for the first: never ambiguous.
 *
 * Components before the first root bus ("platform/soc/fd500000.pcie/" on
 * ARM boards, "pci-0/" under Xen's pcifront) are left out: the domain names
 * the host bridge.
 */

/* Pure: from a physical path as vb_pci_load_physpath() stores it (relative
 * to /sys/devices; a leading "/sys/devices/" is accepted too). 0, -EINVAL
 * for a path that is not a PCI device's, -ENOBUFS when the result does not fit
 * in size (or in VB_TOPOLOGY_MAX). buf is written only on success. */
int vb_topology_from_physpath(const char *physpath, char *buf, size_t size);

/* Loads the physical path and fills buf (VB_TOPOLOGY_MAX is enough). 0 or
 * -errno: -ENODEV the device vanished, -EINVAL unparsable link target. */
int vb_pci_topology(const struct vb_root *root, struct vb_pci_dev *d, char *buf, size_t size);

/* An endpoint: header type 0 and not class 06 (bridges of any kind, host and
 * ISA/LPC bridges included); unknown headers are not. */
bool vb_pci_is_endpoint(const struct vb_pci_dev *d);
