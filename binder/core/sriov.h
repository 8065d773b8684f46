/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SR-IOV VF creation for bind rules with numvfs= (vfio-bind.conf(5)).
 *
 * Creation is race-free: no VF driver ever probes a VF that a rule takes.
 * For each PF that must get its VFs:
 *   1. sriov_drivers_autoprobe = 0 (new VFs then probe no driver),
 *   2. sriov_numvfs = N,
 *   3. driver_override = the rule's driver on each VF the rule takes,
 *   4. sriov_drivers_autoprobe back to its value before,
 *   5. drivers_probe for each other VF (when autoprobe was on), so those
 *      reach their native driver as they would have,
 * and the ordinary pipeline (scan, select, plan, apply) then binds the taken
 * VFs and verifies them. A PF whose VF count already is N keeps its VFs; a
 * PF with another non-zero count is left alone (changing it would destroy
 * VFs that may be in use); N above sriov_totalvfs is refused.
 *
 * Writing sriov_numvfs needs the PF's driver (its sriov_configure): a PF
 * without one is postponed, and `vfio-bind apply` creates the VFs once the
 * driver has arrived.
 */

#include <stdbool.h>

#include "config.h"
#include "pci.h"

enum vb_sriov_action {
	VB_SRIOV_CREATE,    /* "create": the PF has no VF; numvfs= VFs will be made */
	VB_SRIOV_PRESENT,   /* "present": the PF already has numvfs= VFs */
	VB_SRIOV_MISMATCH,  /* "mismatch": another non-zero count; left alone */
	VB_SRIOV_TOO_MANY,  /* "too-many": numvfs= above sriov_totalvfs */
	VB_SRIOV_NO_DRIVER, /* "no-driver": the PF has no driver yet: later */
	VB_SRIOV_FAILED,    /* "failed": unreadable, or creation failed */
};

const char *vb_sriov_action_name(enum vb_sriov_action a);

struct vb_sriov_item {
	char pf[VB_PCI_NAME_MAX];
	int rule;
	enum vb_sriov_action action;
	int numvfs, totalvfs; /* as read; -1 unknown */
	int err;              /* -errno with VB_SRIOV_FAILED */
	bool created;         /* vb_sriov_create() made the VFs */
	char reason[256];
};

struct vb_sriov_plan {
	struct vb_sriov_item *items;
	size_t n;
};

/* One item per PF that a rule with numvfs= selects (the first such rule of
 * a PF wins). 0 or -ENOMEM. */
int vb_sriov_plan_build(const struct vb_root *root, const struct vb_config *cfg,
			struct vb_pci_list *list, struct vb_sriov_plan *plan);
void vb_sriov_plan_free(struct vb_sriov_plan *plan);

/* Carries out the CREATE items (see above); dry_run only logs. Logs one
 * line per PF. Returns the number of PFs whose VFs were created (the caller
 * scans again), or -errno for a global failure. */
int vb_sriov_create(const struct vb_root *root, const struct vb_config *cfg,
		    struct vb_sriov_plan *plan, bool dry_run);
