/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Writing the hardware snapshot (format: binder/core/snapshot.h). Host only:
 * it needs the storage scan. */

#include <stdio.h>

#include "job.h"
#include "storage.h"

/* Writes the snapshot of a job planned with the storage guard (pol holds
 * its scan; NULL or unscanned: a scan is made). With sysfs false the
 * snapshot says so and holds no device. 0 or -errno. */
int vb_snapshot_write(FILE *f, const struct vb_root *root, struct vb_job *job,
		      struct vb_storage_policy *pol, bool sysfs, const char *kernel);
