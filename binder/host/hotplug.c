/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "hotplug.h"

bool vb_plan_keep_device(struct vb_plan *plan, const struct vb_pci_dev *dev)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->items[i].dev != dev)
			continue;
		if (i)
			plan->items[0] = plan->items[i];
		plan->n = 1;
		return true;
	}
	plan->n = 0;
	return false;
}
