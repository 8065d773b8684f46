/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Marks on a device for the rest of this boot, in files under ROOT/run
 * (a tmpfs; in the initramfs the same one that initramfs-tools moves to the
 * real root): ROOT/DIR/ADDRESS holds "ino=N" and a line of text. N is the
 * sysfs inode of the device's directory: kernfs gives every kernel object
 * its own, so a device removed and added again at the same address is
 * another device, and its predecessor's mark does not apply to it.
 *
 *   VB_MARK_RELEASED      given back by `vfio-bind release`: the udev rule
 *                         does not take it again; apply does
 *   VB_MARK_BOOT_REFUSED  the early binder refused it (hardware changed
 *                         since the image was built, a protected
 *                         controller): the unit and the udev rule do not
 *                         take it either; apply does
 */

#include <stddef.h>

#include "pci.h"
#include "root.h"

#define VB_MARK_RELEASED "run/vfio-bind/released"
#define VB_MARK_BOOT_REFUSED "run/vfio-bind/boot-refused"

/* Marks dev in dir (created as needed), with text (one line). 0 or -errno. */
int vb_mark_set(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev,
		const char *text);
/* 1 when this instance of dev is marked (its text copied to buf), 0 when
 * not (a mark of an earlier device at that address is removed). */
int vb_mark_get(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev,
		char *buf, size_t size);
/* Removes the mark (none is fine). */
void vb_mark_clear(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev);
