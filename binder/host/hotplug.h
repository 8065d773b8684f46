/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Late binding (vfio-bind(8), LATE BINDING): what the per-device entry point
 * that the udev rule runs (`apply --device`) needs besides apply itself.
 *
 * A device given back with `vfio-bind release` is marked in
 * ROOT/run/vfio-bind/released/ADDRESS, so that the next uevent of that
 * device (its native driver's `bind`, a `udevadm trigger`) does not take it
 * again; a full `apply` takes it and clears the mark. The mark records the
 * sysfs inode of that device: a device removed and added again at the same
 * address is another kernel object with another inode, and is taken.
 */

#include <stdbool.h>

#include "pci.h"
#include "plan.h"
#include "root.h"

#define VB_RELEASED_DIR "run/vfio-bind/released"

/* Marks dev as given back. 0 or -errno. */
int vb_released_mark(const struct vb_root *root, const struct vb_pci_dev *dev);
/* true when dev (this instance of it) was given back; a mark of an earlier
 * device at that address is removed. */
bool vb_released_is(const struct vb_root *root, const struct vb_pci_dev *dev);
/* Removes the mark (none is fine). */
void vb_released_clear(const struct vb_root *root, const struct vb_pci_dev *dev);

/* Keeps only the item of dev in plan (the items of other devices are
 * dropped). Returns true when plan has an item for dev. */
bool vb_plan_keep_device(struct vb_plan *plan, const struct vb_pci_dev *dev);
