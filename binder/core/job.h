/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One run of the pipeline shared by the host command and the early binder:
 * config -> scan -> select -> plan. Each step fills the job; vb_job_free
 * releases whatever was filled.
 */

#include <stdbool.h>

#include "config.h"
#include "pci.h"
#include "plan.h"
#include "root.h"
#include "select.h"

#define VB_DEFAULT_CONFIG "etc/vfio-bind.conf"

struct vb_job {
	struct vb_config cfg;
	struct vb_diags diags;
	struct vb_pci_list list;
	struct vb_sel *sel; /* list.n entries */
	struct vb_plan plan;
};

void vb_job_init(struct vb_job *job);
void vb_job_free(struct vb_job *job);

/* path: NULL for etc/vfio-bind.conf under the root; else a path on the
 * running system (absolute, or relative to the working directory). Errors
 * land in job->diags; returns -EINVAL when the config has errors, -ENOENT
 * when missing, other -errno when unreadable. */
int vb_job_load_config(struct vb_job *job, const struct vb_root *root, const char *path);
/* Scan and select (warnings for rules that match nothing go to diags). */
int vb_job_select(struct vb_job *job, const struct vb_root *root);
int vb_job_plan(struct vb_job *job, const struct vb_root *root);

/* Kernel command line switches (proc/cmdline under the root). */
enum {
	VB_CMDLINE_OFF = 1u << 0,     /* vfio-bind=off */
	VB_CMDLINE_DRY_RUN = 1u << 1, /* vfio-bind=dry-run */
	VB_CMDLINE_DEBUG = 1u << 2,   /* vfio-bind.debug */
};
/* Parses a command line string; unknown vfio-bind= values are reported
 * through *unknown (pointer into s, NUL-terminated copy in buf). */
unsigned vb_cmdline_parse(const char *s, char *unknown, size_t unknown_size);
/* Reads proc/cmdline under the root and parses it; 0 when unreadable. */
unsigned vb_cmdline_read(const struct vb_root *root, char *unknown, size_t unknown_size);
