/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Selection: which scanned devices the config takes. Bind rules add up,
 * expansions (expand=slot, expand=group) add the slot's functions or the IOMMU
 * group's endpoints, exclude rules remove devices at the end.
 */

#include "config.h"
#include "pci.h"

enum vb_via {
	VB_VIA_NONE = 0,
	VB_VIA_RULE,  /* the rule's terms match the device */
	VB_VIA_SLOT,  /* added by expand=slot of the rule */
	VB_VIA_GROUP, /* added by expand=group of the rule */
	VB_VIA_VF,    /* a VF that vfs= of the rule takes from the PF it matches */
};

struct vb_sel {
	enum vb_via via; /* VB_VIA_NONE: not selected */
	int rule;        /* index into cfg->rules of the selecting rule, -1 */
	int excluded_by; /* index of the exclude rule that removed it, -1 */
};

/* With vfs=, a rule's terms select SR-IOV physical functions (devices with
 * sriov_numvfs; VFs and other devices are passed over) and the rule takes the
 * listed VFs of each (the PF's virtfnN links), never the PF itself. */

/* sel has list->n entries, parallel to list->devs. Rules that match no device
 * get a warning in diags ("matches no device on this machine"). Loads lazy
 * attributes only when a rule needs them. 0 or -errno. */
int vb_select(const struct vb_root *root, const struct vb_config *cfg, struct vb_pci_list *list,
	      struct vb_sel *sel, struct vb_diags *diags);

/* Does this single term / every term of the rule match? (loads on demand) */
bool vb_term_match(const struct vb_root *root, const struct vb_term *t, struct vb_pci_dev *d);
bool vb_rule_match(const struct vb_root *root, const struct vb_rule *r, struct vb_pci_dev *d);
