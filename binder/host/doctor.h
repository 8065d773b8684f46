/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `vfio-bind doctor`: one report on whether passthrough will work and what to
 * do next -- IOMMU, interrupt remapping, kernel command line, vfio-pci in the
 * target kernel, the configuration (validity and permissions), each target
 * (identity, planned action, group viability, the driver the kernel would
 * bind, boot display), the initramfs of the target kernel and leftovers of a
 * manual setup. Reads only; nothing is written, no module is loaded.
 */

#include <stdbool.h>
#include <stdio.h>

#include "root.h"

struct vb_names;

struct vb_doctor_opts {
	const char *config; /* --config; NULL: etc/vfio-bind.conf under the root */
	const char *kver; /* --kernel; NULL: the running kernel (the only one under a fake root) */
	bool json;
	FILE *out;              /* NULL: stdout */
	size_t width;           /* lay text out in this width; 0: terminal, $COLUMNS, else 80 */
	bool color;             /* colour the marks (ok, warn, FAIL) */
	struct vb_names *names; /* device names; NULL: ids only */
};

/* Returns VB_EXIT_SUCCESS when ready (warnings allowed), VB_EXIT_ENV when
 * the report has errors, VB_EXIT_FAILURE when it could not run. */
int vb_doctor(const struct vb_root *root, const struct vb_doctor_opts *opts);
