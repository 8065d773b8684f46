/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "log.h"

void vb_job_init(struct vb_job *job)
{
	memset(job, 0, sizeof(*job));
}

void vb_job_free(struct vb_job *job)
{
	free(job->out);
	vb_plan_free(&job->plan);
	vb_sriov_plan_free(&job->sriov);
	free(job->sel);
	vb_pci_list_free(&job->list);
	vb_config_free(&job->cfg);
	vb_diags_free(&job->diags);
	vb_mappings_free(&job->maps);
	vb_job_init(job);
}

int vb_job_load_config(struct vb_job *job, const struct vb_root *root, const char *path)
{
	char label[VB_LOCATION_MAX];

	if (!path) {
		/* messages name the file as the admin knows it: /etc/vfio-bind.conf */
		if (root->is_host)
			snprintf(label, sizeof(label), "/%s", VB_DEFAULT_CONFIG);
		else
			snprintf(label, sizeof(label), "%s%s%s", root->path,
				 root->path[strlen(root->path) - 1] == '/' ? "" : "/",
				 VB_DEFAULT_CONFIG);
		return vb_config_load(root, VB_DEFAULT_CONFIG, label, &job->cfg, &job->diags);
	}
	/* An explicit --config is a file on the running system, not under the
	 * root: openat() ignores the root fd for absolute paths. */
	if (path[0] == '/') {
		snprintf(label, sizeof(label), "%s", path);
	} else {
		char cwd[VB_PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		snprintf(label, sizeof(label), "%s/%s", cwd, path);
	}
	{
		/* keep the name the user typed in messages */
		int r = vb_config_load(root, label, path, &job->cfg, &job->diags);
		return r;
	}
}

int vb_job_select(struct vb_job *job, const struct vb_root *root)
{
	int r;

	r = vb_pci_scan(root, &job->list);
	if (r < 0)
		return r;
	job->sel = calloc(job->list.n ? job->list.n : 1, sizeof(*job->sel));
	if (!job->sel)
		return -ENOMEM;
	return vb_select(root, &job->cfg, &job->list, job->sel, &job->diags);
}

int vb_job_sriov(struct vb_job *job, const struct vb_root *root, bool create, bool dry_run)
{
	int r = vb_sriov_plan_build(root, &job->cfg, &job->list, &job->sriov);

	if (r < 0 || !create || job->sriov.n == 0)
		return r;
	r = vb_sriov_create(root, &job->cfg, &job->sriov, dry_run);
	if (r <= 0)
		return r;
	/* the new VFs are devices the first scan did not see */
	free(job->sel);
	job->sel = NULL;
	vb_pci_list_free(&job->list);
	r = vb_pci_scan(root, &job->list);
	if (r < 0)
		return r;
	job->sel = calloc(job->list.n ? job->list.n : 1, sizeof(*job->sel));
	if (!job->sel)
		return -ENOMEM;
	return vb_select(root, &job->cfg, &job->list, job->sel, NULL);
}

int vb_job_plan(struct vb_job *job, const struct vb_root *root, const struct vb_plan_guard *guards,
		size_t n_guards)
{
	return vb_plan_build(root, &job->cfg, &job->list, job->sel, guards, n_guards, &job->plan);
}

/*
 * Where the devices that ended well are: "2 device(s) on vfio-pci" (or
 * "already on", as `already` says), and
 * when rules name other drivers (driver=: a vfio-pci variant, pci-stub)
 * "1 device(s) on vfio-pci, 1 on pci-stub", each driver once, in plan order.
 */
#define OK_DRIVERS_MAX 512

/* The item's driver= when it is not the default, else NULL. */
static const char *other_target(const struct vb_plan_item *it)
{
	return it->target && strcmp(it->target, VB_TARGET_DRIVER) != 0 ? it->target : NULL;
}

static const char *ok_drivers(const struct vb_job *job, const char *already,
			      char buf[OK_DRIVERS_MAX])
{
	size_t o = 0, n_vfio = 0;

	for (size_t i = 0; i < job->plan.n; i++)
		n_vfio += job->out[i].result == VB_RES_OK && !other_target(&job->plan.items[i]);
	o += (size_t)snprintf(buf, OK_DRIVERS_MAX, "%zu device(s) %son " VB_TARGET_DRIVER, n_vfio,
			      already);
	for (size_t i = 0; i < job->plan.n && o < OK_DRIVERS_MAX; i++) {
		const char *t = other_target(&job->plan.items[i]);
		size_t n = 0;
		bool seen = false;

		if (!t || job->out[i].result != VB_RES_OK)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = job->out[k].result == VB_RES_OK &&
			       other_target(&job->plan.items[k]) &&
			       strcmp(other_target(&job->plan.items[k]), t) == 0;
		if (seen)
			continue;
		for (size_t k = i; k < job->plan.n; k++)
			n += job->out[k].result == VB_RES_OK && other_target(&job->plan.items[k]) &&
			     strcmp(other_target(&job->plan.items[k]), t) == 0;
		o += (size_t)snprintf(buf + o, OK_DRIVERS_MAX - o, ", %zu on %s", n, t);
	}
	return buf;
}

int vb_job_apply(struct vb_job *job, const struct vb_root *root, const struct vb_apply_opts *ao,
		 long t0_ms, unsigned flags, struct vb_apply_summary *sum)
{
	int r;

	char buf[OK_DRIVERS_MAX];

	memset(sum, 0, sizeof(*sum));
	sum->dry_run = ao && ao->dry_run;
	free(job->out);
	job->out = calloc(job->plan.n ? job->plan.n : 1, sizeof(*job->out));
	if (!job->out)
		return -ENOMEM;
	r = vb_apply(root, &job->cfg, &job->plan, ao, job->out);
	if (r < 0)
		return r;
	sum->failed = r;
	for (size_t i = 0; i < job->plan.n; i++) {
		enum vb_action a = job->plan.items[i].action;

		sum->ok += job->out[i].result == VB_RES_OK;
		sum->todo += a == VB_ACT_BIND || a == VB_ACT_REBIND;
		sum->refused += a == VB_ACT_REFUSE;
	}

	if (job->plan.n == 0)
		vb_log(flags & VB_SUMMARY_QUIET_NONE ? VB_LOG_DEBUG : VB_LOG_NOTICE,
		       "no device selected by %s", job->cfg.file);
	else if (sum->todo == 0 && sum->failed == 0 && sum->refused == 0)
		vb_log(flags & VB_SUMMARY_QUIET_NOTHING ? VB_LOG_DEBUG : VB_LOG_NOTICE,
		       "nothing to do: %s", ok_drivers(job, "already ", buf));
	else if (sum->dry_run)
		log_notice("dry run: %zu device(s) would change, nothing written", sum->todo);
	else
		log_notice("%s, %d failed, %zu refused in %ld ms", ok_drivers(job, "", buf),
			   sum->failed, sum->refused, vb_now_ms() - t0_ms);
	return r;
}

int vb_job_run(struct vb_job *job, const struct vb_root *root, const struct vb_job_opts *o,
	       struct vb_apply_summary *sum)
{
	bool dry_run = o->apply && o->apply->dry_run;
	int r = 0;

	for (enum vb_job_step step = VB_JOB_CONFIG; step <= VB_JOB_APPLY; step++) {
		switch (step) {
		case VB_JOB_CONFIG:
			r = vb_job_load_config(job, root, o->config);
			break;
		case VB_JOB_MAPPINGS:
			r = o->mappings ? o->mappings(job, root, o->userdata) : 0;
			break;
		case VB_JOB_SELECT:
			r = vb_job_select(job, root);
			if (o->log_diags == VB_JOB_LOG_DIAGS_ALL ||
			    (o->log_diags == VB_JOB_LOG_DIAGS_ERRORS && job->diags.n_errors))
				vb_diags_log(&job->diags);
			break;
		case VB_JOB_SRIOV:
			/* numvfs=: VFs are made before planning, so that the plan sees them */
			if (job->config_bad)
				continue;
			r = vb_job_sriov(job, root, o->create_vfs, dry_run);
			break;
		case VB_JOB_PLAN:
			r = vb_job_plan(job, root, o->guards, o->n_guards);
			break;
		case VB_JOB_APPLY:
			if (job->config_bad)
				return -EINVAL;
			r = vb_job_apply(job, root, o->apply, o->t0_ms, o->summary_flags, sum);
			if (r > 0)
				r = 0; /* failed devices: in sum */
			break;
		}
		if (o->step)
			r = o->step(job, root, step, r, o->userdata);
		if (r || (o->until && step >= o->until))
			return r;
	}
	return 0;
}
