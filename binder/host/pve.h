/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Proxmox VE on the host: the cluster's PCI resource mappings
 * (ROOT/etc/pve/mapping/pci.cfg) and the node's virtual machines
 * (ROOT/etc/pve/qemu-server/VMID.conf, ROOT/run/qemu-server). Formats as
 * Proxmox writes them; see vfio-bind.conf(5), PROXMOX VE.
 */

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "job.h"
#include "mapping.h"
#include "root.h"

#define VB_PVE_DIR "etc/pve"
#define VB_PVE_PCI_CFG "etc/pve/mapping/pci.cfg"

/* The node name: the first line of ROOT/etc/hostname up to the first dot
 * (the name the system boots with); without that file, on the host, the
 * running host name. 0 or -errno (-ENOENT: neither). */
int vb_pve_node_name(const struct vb_root *root, char *buf, size_t size);

/*
 * Strict parser of pci.cfg (section config). Every mapping is kept; only the
 * map entries whose node= is `node` give paths. Anything Proxmox would only
 * warn about (an unknown key, a bad value, a line it ignores) is an error
 * here, with the line and column. 0, -EINVAL (errors in diags), -ENOMEM.
 * diags is initialised here with `file`.
 */
int vb_pve_parse_pci_cfg(const char *file, const char *buf, size_t len, const char *node,
			 struct vb_mappings *out, struct vb_diags *diags);

/*
 * Resolves the mapping= terms of job->cfg: reads pci.cfg under the root for
 * this node into job->maps and links the terms. No mapping= term: nothing
 * is read. pci.cfg's own diagnostics go to pdiags (initialised here; the
 * caller logs and frees them); the config's (no /etc/pve, pci.cfg invalid,
 * an unknown name) to job->diags at the term. 0, -EINVAL, -ENOMEM.
 */
int vb_pve_job_mappings(const struct vb_root *root, struct vb_job *job, struct vb_diags *pdiags);

/* Writes the image's file (mapping.h) for the mappings cfg uses. */
int vb_pve_mappings_write(FILE *f, const struct vb_mappings *m, const struct vb_config *cfg);

/* ------------------------------------------------------------------------ */
/* Virtual machines */

struct vb_vm_use {
	unsigned vmid;
	char entry[16];                    /* "hostpci0"; "" for a reservation alone */
	char mapping[VB_MAPPING_NAME_MAX]; /* "" when by address */
	struct vb_pci_addr addr;
	bool slot;     /* every function */
	bool running;  /* the VM runs (qemu-server's pid file, a live process) */
	bool reserved; /* pci-id-reservations holds the device for it (live pid, or a
			* start that has not timed out) */
};

struct vb_vms {
	bool pve; /* ROOT/etc/pve exists */
	struct vb_vm_use *v;
	size_t n;
};

/* Reads every ROOT/etc/pve/qemu-server/VMID.conf (hostpciN: lines; mapping=
 * resolved through maps; NULL: pci.cfg is read for them) and
 * ROOT/run/qemu-server/pci-id-reservations. A file that cannot be read is
 * skipped. 0 or -ENOMEM. */
int vb_vms_load(const struct vb_root *root, const struct vb_mappings *maps, struct vb_vms *out);
void vb_vms_free(struct vb_vms *v);
/* Does use u name device a? */
bool vb_vm_use_covers(const struct vb_vm_use *u, const struct vb_pci_addr *a);
/* Is device a held by a running VM (reserved, or named by a running VM's
 * config)? Returns the VM's id, 0 when none. */
unsigned vb_vms_holder(const struct vb_vms *v, const struct vb_pci_addr *a);
/* "100 (running, hostpci0 via mapping gpu), 101" for status; "" when none. */
void vb_vms_describe(const struct vb_vms *v, const struct vb_pci_addr *a, bool verbose, char *buf,
		     size_t size);
