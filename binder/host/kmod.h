/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the host command knows about kernels through libkmod: the module set
 * vfio-pci needs in a given kernel's tree under the root, and loading it into
 * the running kernel (only when the root is "/"). */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

struct vb_modset {
	char **names; /* module names with a .ko in the tree, dependencies first */
	size_t n;
	bool builtin; /* the requested module itself is built into the kernel */
};

/* kver NULL: the running kernel's release on the host; under a fake root the
 * only directory in lib/modules. Returns a malloc'ed string or NULL with
 * *err set. */
char *vb_kernel_release(const struct vb_root *root, const char *kver, int *err);

/* Resolve `module` (a name or alias, "vfio-pci") with its dependencies and
 * soft dependencies in lib/modules/KVER under the root. -ENOENT when the
 * kernel has no such module. */
int vb_modset_resolve(const struct vb_root *root, const char *kver, const char *module,
		      struct vb_modset *set);
void vb_modset_free(struct vb_modset *set);

/* Driver that would claim a modalias in that kernel: module name in buf,
 * *builtin set when it is built in. -ENOENT when none. */
int vb_kmod_driver_for_alias(const struct vb_root *root, const char *kver, const char *modalias,
			     char *buf, size_t size, bool *builtin);

/* vb_kernel_ops.load_module for the host command: libkmod's
 * modprobe-equivalent on "/", the fake-root check anywhere else. */
int vb_kmod_load_module(const struct vb_root *root, const char *name);
