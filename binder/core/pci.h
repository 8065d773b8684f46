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

struct vb_pci_addr {
	uint32_t domain; /* 0..0xffff (pciutils prints %04x) */
	uint8_t bus;
	uint8_t slot;    /* 0..0x1f */
	uint8_t func;    /* 0..7 */
};

/* Value of one hex digit (either case), -1 for anything else. */
int vb_hexval(char c);

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
	uint32_t class;                  /* 24 bits: base, sub, prog-if */
	char driver[VB_DRIVER_MAX];      /* "" when unbound */
	char override[VB_DRIVER_MAX];    /* "" when "(null)"; valid with HAVE_OVERRIDE */
	int iommu_group;                 /* -1 none; valid with HAVE_GROUP */
	int boot_vga;                    /* -1 absent, 0, 1; valid with HAVE_BOOT_VGA */
	int header_type;                 /* 0 normal, 1 bridge, 2 cardbus, -1 unknown */
	int sriov_numvfs;                /* -1 not a PF; valid with HAVE_SRIOV */
	char *physpath;                  /* "pci0000:00/0000:00:01.0/0000:01:00.0" */
	unsigned have;                   /* VB_PCI_HAVE_* */
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

/* An endpoint: header type 0 and not class 06 (bridges of any kind, host and
 * ISA/LPC bridges included); unknown headers are not. */
bool vb_pci_is_endpoint(const struct vb_pci_dev *d);
