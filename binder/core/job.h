/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One run of the pipeline shared by the host command and the early binder:
 * config -> mappings -> scan and select -> SR-IOV -> plan -> apply and
 * summary. vb_job_run runs the steps in that order; what the two binaries
 * (and the host's commands) do differently goes through its options and
 * hooks. Each step fills the job; vb_job_free releases whatever was filled.
 */

#include <stdbool.h>

#include "config.h"
#include "mapping.h"
#include "pci.h"
#include "plan.h"
#include "root.h"
#include "select.h"
#include "sriov.h"

#define VB_DEFAULT_CONFIG "etc/vfio-bind.conf"

struct vb_job {
	struct vb_config cfg;
	struct vb_diags diags;
	struct vb_pci_list list;
	struct vb_sel *sel; /* list.n entries */
	struct vb_plan plan;
	struct vb_sriov_plan sriov; /* PFs that numvfs= rules select */
	struct vb_mappings maps;    /* the Proxmox mappings mapping= terms point into */
	struct vb_outcome *out;     /* plan.n entries, after vb_job_apply */
	bool config_bad;            /* vb_job_run: the config has errors, the hook went on */
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
/* After select: plans VF creation (sriov.h). With create, logs each PF and
 * makes the VFs (dry_run: only says what it would do) and, when some were
 * made, scans and selects again (without repeating the warnings). 0 or
 * -errno. */
int vb_job_sriov(struct vb_job *job, const struct vb_root *root, bool create, bool dry_run);
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

/* The steps of vb_job_run, in order (the step functions below). */
enum vb_job_step {
	VB_JOB_CONFIG = 1, /* vb_job_load_config */
	VB_JOB_MAPPINGS,   /* opts->mappings: the config is final after it */
	VB_JOB_SELECT,     /* vb_job_select (then the diagnostics are logged) */
	VB_JOB_SRIOV,      /* vb_job_sriov */
	VB_JOB_PLAN,       /* vb_job_plan */
	VB_JOB_APPLY,      /* vb_job_apply and its summary line */
};

/* A hook's (and vb_job_run's) "stop here, nothing failed". */
#define VB_JOB_DONE 0x100

/* After select: which diagnostics of job->diags are logged. */
enum vb_job_log_diags {
	VB_JOB_LOG_DIAGS_NONE,   /* the caller's business */
	VB_JOB_LOG_DIAGS_ALL,    /* all of them */
	VB_JOB_LOG_DIAGS_ERRORS, /* all of them, but only when there are errors */
};

struct vb_job_opts {
	const char *config; /* as vb_job_load_config's path */
	/* Resolves the config's mapping= terms (NULL: none to resolve); 0,
	 * -EINVAL (errors in job->diags) or -errno. */
	int (*mappings)(struct vb_job *job, const struct vb_root *root, void *userdata);
	enum vb_job_log_diags log_diags;
	bool create_vfs;                    /* vb_job_sriov's create (dry run: apply->dry_run) */
	const struct vb_plan_guard *guards; /* for vb_job_plan */
	size_t n_guards;
	enum vb_job_step until;            /* the last step run; 0: every one */
	const struct vb_apply_opts *apply; /* for vb_job_apply (dry_run: also the VFs') */
	long t0_ms;                        /* when the run began, for the summary line */
	unsigned summary_flags;            /* VB_SUMMARY_* */
	/*
	 * Called after each step that ran, with its result r (0 or -errno;
	 * for VB_JOB_MAPPINGS also when there was nothing to resolve). What
	 * the caller logs or does between two steps: 0 goes on (also after a
	 * failed step: the hook knows whether the next can run), anything else
	 * stops the run and vb_job_run returns it. NULL: a failed step stops
	 * the run with its -errno. A hook that goes on after a config (or
	 * mappings) with errors sets job->config_bad: the job is then still
	 * selected and planned, for a report, but no VF is made and nothing is
	 * applied (vb_job_run returns -EINVAL after the plan). After a missing
	 * config it may make job->cfg an empty one.
	 */
	int (*step)(struct vb_job *job, const struct vb_root *root, enum vb_job_step step, int r,
		    void *userdata);
	void *userdata; /* for mappings and step */
};

/*
 * The pipeline of both binaries, from an initialized job: load the config,
 * resolve its mappings, scan and select, plan and make the SR-IOV VFs,
 * plan, apply and log the summary line (vb_job_apply fills sum, which may
 * be NULL when the run stops earlier). Returns 0 when every step up
 * to opts->until ran, else what stopped it: a hook's value (VB_JOB_DONE,
 * an exit code) or a step's -errno. The job holds what was done; the
 * caller frees it.
 */
int vb_job_run(struct vb_job *job, const struct vb_root *root, const struct vb_job_opts *opts,
	       struct vb_apply_summary *sum);
