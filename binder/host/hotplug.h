/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Late binding (vfio-bind(8), LATE BINDING): what the per-device entry point
 * that the udev rule runs (`apply --device`) needs besides apply itself.
 * The marks (given back by release, refused by the early binder) are
 * binder/core/mark.h.
 */

#include <stdbool.h>

#include "pci.h"
#include "plan.h"

/* Keeps only the item of dev in plan (the items of other devices are
 * dropped). Returns true when plan has an item for dev. */
bool vb_plan_keep_device(struct vb_plan *plan, const struct vb_pci_dev *dev);
