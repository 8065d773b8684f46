/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One run of the pipeline shared by the host command and the early binder:
 * config -> scan -> select -> plan. Each step fills the job; vb_job_free
 * releases whatever was filled.
 */

#include <stdbool.h>

#include "config.h"
#include "mapping.h"
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
	struct vb_mappings maps; /* the Proxmox mappings mapping= terms point into */
	struct vb_outcome *out;  /* plan.n entries, after vb_job_apply */
};

/* What one apply did, for the summary line and the exit code. */
struct vb_apply_summary {
	size_t ok;      /* on vfio-pci now (or before) */
	size_t todo;    /* planned bind or rebind */
	size_t refused; /* refused by the plan */
	int failed;     /* devices whose binding failed */
	bool dry_run;
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
/* Plans, running the guards on every selected device (plan.h). */
int vb_job_plan(struct vb_job *job, const struct vb_root *root, const struct vb_plan_guard *guards,
		size_t n_guards);
/* vb_job_apply flags: say "no device selected" / "nothing to do" at debug
 * level only (late binding: the unit, udev's coldplug events). */
#define VB_SUMMARY_QUIET_NONE 1u
#define VB_SUMMARY_QUIET_NOTHING 2u

/* Applies job->plan (outcomes in job->out) and logs the one summary line of
 * both binaries ("2 device(s) on vfio-pci, 0 failed, 0 refused in 12 ms",
 * or why nothing was done); t0_ms is when the run began (vb_now_ms()).
 * Returns the number of failed devices, or -errno (not logged). */
int vb_job_apply(struct vb_job *job, const struct vb_root *root, const struct vb_apply_opts *ao,
		 long t0_ms, unsigned flags, struct vb_apply_summary *sum);
