/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The hardware snapshot: what vfio-bind saw when the initramfs was built,
 * kept in the image next to the config (etc/vfio-bind.snapshot) and enforced
 * by the early binder at boot, when the hardware may have changed since.
 *
 *   # comment
 *   vfio-bind-snapshot 1
 *   kernel 6.12.9-amd64
 *   sysfs yes|no           the hook saw /sys (no: a chroot, an installer)
 *   root found|unknown     the root filesystem's controller was found
 *   protect ADDRESS VVVV:DDDD SVVV:SDDD CLASS TOPOLOGY WHAT...
 *   select  ADDRESS VVVV:DDDD SVVV:SDDD CLASS TOPOLOGY
 *
 * protect: a storage controller that must never be taken (the root's always;
 * other mounted filesystems and swap unless their rule allows it). select:
 * a device the config selected. Identity is vendor:device, subsystem, class
 * (6 hex digits) and the stable topology (pci.h); the address is what it
 * was, for messages. Any line the binder does not understand makes the
 * whole snapshot invalid: the binder then takes nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pci.h"
#include "plan.h"
#include "root.h"

#define VB_SNAPSHOT_FILE "etc/vfio-bind.snapshot"
#define VB_SNAPSHOT_VERSION 1
#define VB_SNAPSHOT_WHAT_MAX 160

enum vb_snap_kind {
	VB_SNAP_PROTECT,
	VB_SNAP_SELECT,
};

struct vb_snap_dev {
	enum vb_snap_kind kind;
	char address[VB_PCI_NAME_MAX];
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;
	uint32_t class;
	char topology[VB_TOPOLOGY_MAX];
	char what[VB_SNAPSHOT_WHAT_MAX]; /* protect: what it serves */
};

struct vb_snapshot {
	bool sysfs;      /* built with the hardware visible */
	bool root_found; /* the root's controller was known at build time */
	char kernel[128];
	struct vb_snap_dev *devs;
	size_t n;
};

/* Parses text. 0, -ENOMEM, or -EINVAL with *bad_line set (1-based) and a
 * reason in why[why_size]. */
int vb_snapshot_parse(const char *text, struct vb_snapshot *snap, unsigned *bad_line, char *why,
		      size_t why_size);
/* Reads VB_SNAPSHOT_FILE under the root and parses it; -ENOENT when absent. */
int vb_snapshot_load(const struct vb_root *root, struct vb_snapshot *snap, unsigned *bad_line,
		     char *why, size_t why_size);
void vb_snapshot_free(struct vb_snapshot *snap);

/* Does d (its ids and class) have the identity of e, topology aside? */
bool vb_snap_same_model(const struct vb_snap_dev *e, const struct vb_pci_dev *d);

/*
 * The boot guard (a vb_plan_guard; userdata: the snapshot, or NULL when the
 * image has none). Refuses:
 *   protected         a device with a protected controller's identity: at
 *                     its topology, or anywhere when no selected device
 *                     shares its model (so a moved root controller stays
 *                     protected, and a selected twin of it is still taken);
 *   hardware-changed  a selected device that is not what the snapshot
 *                     selected at its topology (another model there, a device
 *                     where none was selected, the selected one moved);
 *   storage-unknown   mass storage without allow-storage=yes when the image
 *                     has no snapshot, was built without /sys, or without
 *                     knowing the root's controller.
 */
int vb_snapshot_guard(const struct vb_root *root, const struct vb_config *cfg,
		      struct vb_plan_item *item, void *userdata);
