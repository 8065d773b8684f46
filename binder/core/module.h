/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Why a module did not load, in words an admin can act on. Both binaries
 * load vfio-pci their own way (modprobe in the initramfs, libkmod on the
 * host) and get back only an errno; the usual causes are on the kernel
 * command line or in the module directory, and both are readable under the
 * root.
 */

#include <stddef.h>

#include "root.h"

/* Fills buf with the most likely cause of a failed load of `name`
 * ("vfio-pci"): module_blacklist= / modprobe.blacklist= on the command line,
 * the module missing from lib/modules/RELEASE, or else err's text. */
void vb_module_explain_failure(const struct vb_root *root, const char *name, int err, char *buf,
			       size_t size);
