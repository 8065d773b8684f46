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
	vb_plan_free(&job->plan);
	free(job->sel);
	vb_pci_list_free(&job->list);
	vb_config_free(&job->cfg);
	vb_diags_free(&job->diags);
	vb_mappings_free(&job->maps);
	vb_job_init(job);
}

int vb_job_load_config(struct vb_job *job, const struct vb_root *root, const char *path)
{
	char label[4200];

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
		char cwd[4096];
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

int vb_job_plan(struct vb_job *job, const struct vb_root *root, const struct vb_plan_guard *guards,
		size_t n_guards)
{
	return vb_plan_build(root, &job->cfg, &job->list, job->sel, guards, n_guards, &job->plan);
}
