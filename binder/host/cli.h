/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "root.h"

/* Exit codes, documented in vfio-bind(8). */
enum {
	VB_EXIT_SUCCESS = 0,
	VB_EXIT_FAILURE = 1, /* could not run: unreadable root, no sysfs, out of memory */
	VB_EXIT_USAGE = 2,   /* bad command line */
	VB_EXIT_CONFIG = 3,  /* the configuration has errors */
	VB_EXIT_DEVICE = 4,  /* at least one device operation failed */
	VB_EXIT_REFUSED = 5, /* a selected device was refused (bridge, storage, ...) */
	VB_EXIT_ENV = 6,     /* the kernel or machine cannot do passthrough as configured */
};

/* The whole command; ops replaces the kernel operations (tests pass the
 * simulated kernel), NULL for the real ones. */
int vb_main(int argc, char **argv, const struct vb_kernel_ops *ops);
