/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mapping.h"
#include "plan.h"

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

const char *vb_refusal_code(enum vb_refusal r)
{
	static const char *const names[VB_REFUSE_COUNT_] = {
		[VB_REFUSE_NONE] = "",
		[VB_REFUSE_ROOT_STORAGE] = "root-storage",
		[VB_REFUSE_PROTECTED] = "protected",
		[VB_REFUSE_HW_CHANGED] = "hardware-changed",
		[VB_REFUSE_MAPPING] = "mapping-mismatch",
		[VB_REFUSE_STORAGE] = "mounted-storage",
		[VB_REFUSE_STORAGE_UNKNOWN] = "storage-unknown",
		[VB_REFUSE_VANISHED] = "vanished",
		[VB_REFUSE_BRIDGE] = "bridge",
		[VB_REFUSE_SRIOV_PF] = "sriov-pf",
		[VB_REFUSE_NO_IOMMU] = "no-iommu-group",
		[VB_REFUSE_UNREADABLE] = "unreadable",
	};

	return (unsigned)r < VB_REFUSE_COUNT_ ? names[r] : "unknown";
}

void vb_plan_refuse(struct vb_plan_item *it, enum vb_refusal code, const char *fmt, ...)
{
	va_list ap;

	it->refusals |= 1u << code;
	if (it->action == VB_ACT_REFUSE && it->refusal != VB_REFUSE_NONE && it->refusal <= code)
		return;
	it->action = VB_ACT_REFUSE;
	it->refusal = code;
	va_start(ap, fmt);
	vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
	va_end(ap);
}

/* A read failure: the device vanished, or the attribute is unreadable. */
static void refuse_err(struct vb_plan_item *it, const char *what, int r)
{
	if (r == -ENODEV)
		vb_plan_refuse(it, VB_REFUSE_VANISHED, "device vanished");
	else
		vb_plan_refuse(it, VB_REFUSE_UNREADABLE, "cannot read %s: %s", what,
			       vb_strerror(-r));
}

bool vb_plan_refuse_unknown_storage(const struct vb_config *cfg, struct vb_plan_item *it,
				    const char *why)
{
	if ((it->dev->class >> 16) != 0x01)
		return false;
	if (vb_rule_allows_storage(cfg, it->rule))
		return false;
	vb_plan_refuse(it, VB_REFUSE_STORAGE_UNKNOWN,
		       "mass-storage controller while %s: taken only with allow-storage=yes", why);
	return true;
}

static void check_endpoint(const struct vb_root *root, struct vb_plan_item *it)
{
	struct vb_pci_dev *d = it->dev;
	int r = vb_pci_load_header(root, d);

	if (r < 0) {
		refuse_err(it, "config header", r);
		return;
	}
	if (vb_pci_is_endpoint(d))
		return;
	if (d->header_type == 1)
		vb_plan_refuse(it, VB_REFUSE_BRIDGE,
			       "PCI bridge (header type 1): vfio-pci binds endpoints only");
	else if (d->header_type == 2)
		vb_plan_refuse(it, VB_REFUSE_BRIDGE,
			       "CardBus bridge (header type 2): vfio-pci binds endpoints only");
	else if (d->header_type < 0)
		vb_plan_refuse(it, VB_REFUSE_BRIDGE,
			       "unknown PCI header type: vfio-pci binds endpoints only");
	else if ((d->class >> 16) == 0x06)
		vb_plan_refuse(it, VB_REFUSE_BRIDGE,
			       "bridge (class %04x): vfio-pci binds endpoints only",
			       (unsigned)(d->class >> 8));
	else
		vb_plan_refuse(it, VB_REFUSE_BRIDGE,
			       "not an endpoint (header type %d): vfio-pci binds endpoints only",
			       d->header_type);
}

static void check_sriov(const struct vb_root *root, struct vb_plan_item *it)
{
	struct vb_pci_dev *d = it->dev;
	int r = vb_pci_load_sriov(root, d);

	if (r < 0)
		refuse_err(it, "sriov_numvfs", r);
	else if (d->sriov_numvfs > 0)
		vb_plan_refuse(it, VB_REFUSE_SRIOV_PF,
			       "SR-IOV physical function with %d VF%s enabled; "
			       "vfio-pci refuses it (-EBUSY); "
			       "set sriov_numvfs to 0 first or select the VFs",
			       d->sriov_numvfs, d->sriov_numvfs == 1 ? "" : "s");
}

static void check_group(const struct vb_root *root, struct vb_plan_item *it)
{
	struct vb_pci_dev *d = it->dev;
	int r = vb_pci_load_group(root, d);

	if (r < 0)
		refuse_err(it, "iommu_group", r);
	else if (d->iommu_group < 0)
		vb_plan_refuse(it, VB_REFUSE_NO_IOMMU,
			       "no IOMMU group: enable VT-d/AMD-Vi in the firmware "
			       "(and intel_iommu=on on Intel before kernel 6.8)");
}

/* Decides the action for one selected device from fresh sysfs state. The
 * checks follow vfio-pci's probe (header type, SR-IOV, IOMMU group); each
 * runs whatever the others found, then the guards add theirs. */
static void plan_device(const struct vb_root *root, const struct vb_config *cfg,
			struct vb_plan_item *it, const struct vb_plan_guard *guards,
			size_t n_guards)
{
	struct vb_pci_dev *d = it->dev;
	int r;

	/* The driver is the scan's, read just before: apply reads every
	 * device again before it acts (the plan may be older by then). */
	if (strcmp(d->driver, VB_TARGET_DRIVER) != 0) {
		check_endpoint(root, it);
		check_sriov(root, it);
		check_group(root, it);
	}
	for (size_t g = 0; g < n_guards; g++) {
		r = guards[g].check(root, cfg, it, guards[g].userdata);
		if (r == -ENODEV)
			refuse_err(it, "uevent", r);
		else if (r < 0)
			vb_plan_refuse(it, VB_REFUSE_STORAGE_UNKNOWN,
				       "cannot tell whether it is safe to take: %s",
				       vb_strerror(-r));
	}
	if (it->action == VB_ACT_REFUSE)
		return;

	if (strcmp(d->driver, VB_TARGET_DRIVER) == 0) {
		it->action = VB_ACT_NOTHING;
		snprintf(it->reason, sizeof(it->reason), "already bound to %s", VB_TARGET_DRIVER);
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
		  const struct vb_sel *sel, const struct vb_plan_guard *guards, size_t n_guards,
		  struct vb_plan *plan)
{
	struct vb_plan_item *items;
	size_t j, n = 0;

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
		plan_device(root, cfg, it, guards, n_guards);
		vb_mapping_check(root, cfg, list, it);
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
