/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Exit codes of both binaries, documented in vfio-bind(8) EXIT STATUS. The
 * early binder uses 0, 1, 3 and 4 (its boot script logs any non-zero one).
 */
enum {
	VB_EXIT_SUCCESS = 0,
	VB_EXIT_FAILURE = 1, /* could not run: bad arguments (early binder), unreadable
			      * root, no sysfs, out of memory */
	VB_EXIT_USAGE = 2,   /* bad command line */
	VB_EXIT_CONFIG = 3,  /* the configuration has errors: nothing was bound */
	VB_EXIT_DEVICE = 4,  /* at least one device operation failed */
	VB_EXIT_REFUSED = 5, /* a selected device was refused (bridge, storage, ...) */
	VB_EXIT_ENV = 6,     /* the kernel or machine cannot do passthrough as configured */
};
