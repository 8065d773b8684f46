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
