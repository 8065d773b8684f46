/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"

static vb_plan_veto_fn veto_fn;
static void *veto_userdata;

void vb_plan_set_veto(vb_plan_veto_fn fn, void *userdata)
{
	veto_fn = fn;
	veto_userdata = userdata;
}

const char *vb_action_name(enum vb_action a)
{
	switch (a) {
	case VB_ACT_NOTHING:
		return "nothing";
	case VB_ACT_BIND:
		return "bind";
	case VB_ACT_REBIND:
		return "rebind";
	case VB_ACT_REFUSE:
		return "refuse";
	}
	return "unknown";
}

static void refuse_err(struct vb_plan_item *it, const char *what, int r)
{
	it->action = VB_ACT_REFUSE;
	if (r == -ENODEV)
		snprintf(it->reason, sizeof(it->reason), "device vanished");
	else
		snprintf(it->reason, sizeof(it->reason), "cannot read %s: %s", what,
			 vb_strerror(-r));
}

/* Decides the action for one selected device from fresh sysfs state. The
 * checks follow vfio-pci's probe: header type, SR-IOV, IOMMU group. */
static void plan_device(const struct vb_root *root, struct vb_plan_item *it)
{
	struct vb_pci_dev *d = it->dev;
	int r;

	/* The scan may be old (status, a slow config): read the driver again. */
	r = vb_pci_refresh(root, d);
	if (r < 0) {
		refuse_err(it, "uevent", r);
		return;
	}

	if (strcmp(d->driver, VB_TARGET_DRIVER) == 0) {
		it->action = VB_ACT_NOTHING;
		snprintf(it->reason, sizeof(it->reason), "already bound to %s", VB_TARGET_DRIVER);
		return;
	}

	r = vb_pci_load_header(root, d);
	if (r < 0) {
		refuse_err(it, "config header", r);
		return;
	}
	if (!vb_pci_is_endpoint(d)) {
		it->action = VB_ACT_REFUSE;
		if (d->header_type == 1)
			snprintf(it->reason, sizeof(it->reason),
				 "PCI bridge (header type 1): vfio-pci binds endpoints only");
		else if (d->header_type == 2)
			snprintf(it->reason, sizeof(it->reason),
				 "CardBus bridge (header type 2): vfio-pci binds endpoints only");
		else if (d->header_type < 0)
			snprintf(it->reason, sizeof(it->reason),
				 "unknown PCI header type: vfio-pci binds endpoints only");
		else if ((d->class >> 16) == 0x06)
			snprintf(it->reason, sizeof(it->reason),
				 "bridge (class %04x): vfio-pci binds endpoints only",
				 (unsigned)(d->class >> 8));
		else
			snprintf(it->reason, sizeof(it->reason),
				 "not an endpoint (header type %d): vfio-pci binds endpoints only",
				 d->header_type);
		return;
	}

	r = vb_pci_load_sriov(root, d);
	if (r < 0) {
		refuse_err(it, "sriov_numvfs", r);
		return;
	}
	if (d->sriov_numvfs > 0) {
		it->action = VB_ACT_REFUSE;
		snprintf(it->reason, sizeof(it->reason),
			 "SR-IOV physical function with %d VF%s enabled; "
			 "vfio-pci refuses it (-EBUSY); "
			 "set sriov_numvfs to 0 first or select the VFs",
			 d->sriov_numvfs, d->sriov_numvfs == 1 ? "" : "s");
		return;
	}

	r = vb_pci_load_group(root, d);
	if (r < 0) {
		refuse_err(it, "iommu_group", r);
		return;
	}
	if (d->iommu_group < 0) {
		it->action = VB_ACT_REFUSE;
		snprintf(it->reason, sizeof(it->reason),
			 "no IOMMU group: enable VT-d/AMD-Vi in firmware and intel_iommu=on / "
			 "amd_iommu=on");
		return;
	}

	if (d->driver[0] == '\0') {
		it->action = VB_ACT_BIND;
		r = vb_pci_load_override(root, d);
		if (r < 0) {
			refuse_err(it, "driver_override", r);
			return;
		}
		if (d->override[0])
			snprintf(it->reason, sizeof(it->reason),
				 "unbound; override then bind (driver_override already %s)",
				 d->override);
		else
			snprintf(it->reason, sizeof(it->reason), "unbound; override then bind");
		return;
	}

	it->action = VB_ACT_REBIND;
	snprintf(it->reason, sizeof(it->reason), "bound to %s; unbind then bind", d->driver);
}

int vb_plan_build(const struct vb_root *root, const struct vb_config *cfg, struct vb_pci_list *list,
		  const struct vb_sel *sel, struct vb_plan *plan)
{
	struct vb_plan_item *items;
	size_t j, n = 0;

	(void)cfg;
	for (j = 0; j < list->n; j++)
		if (sel[j].via != VB_VIA_NONE)
			n++;

	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;

	/* list->devs is sorted by address: so is the plan. */
	n = 0;
	for (j = 0; j < list->n; j++) {
		struct vb_plan_item *it;

		if (sel[j].via == VB_VIA_NONE)
			continue;
		it = &items[n++];
		it->dev = &list->devs[j];
		it->rule = sel[j].rule;
		it->via = sel[j].via;
		plan_device(root, it);

		if (it->action != VB_ACT_REFUSE && veto_fn) {
			char reason[sizeof(it->reason)] = "";

			if (veto_fn(root, it, reason, sizeof(reason), veto_userdata)) {
				it->action = VB_ACT_REFUSE;
				if (reason[0])
					memcpy(it->reason, reason, sizeof(it->reason));
				else
					snprintf(it->reason, sizeof(it->reason),
						 "refused by policy");
				it->reason[sizeof(it->reason) - 1] = '\0';
			}
		}
	}

	plan->items = items;
	plan->n = n;
	return 0;
}

void vb_plan_free(struct vb_plan *plan)
{
	if (!plan)
		return;
	free(plan->items);
	plan->items = NULL;
	plan->n = 0;
}
