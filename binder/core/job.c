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

int vb_job_plan(struct vb_job *job, const struct vb_root *root)
{
	return vb_plan_build(root, &job->cfg, &job->list, job->sel, &job->plan);
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(w, s, len) == 0;
}

unsigned vb_cmdline_parse(const char *s, char *unknown, size_t unknown_size)
{
	unsigned flags = 0;

	if (unknown_size)
		unknown[0] = 0;
	while (*s) {
		const char *w;
		size_t len;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		w = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
		len = s - w;
		if (len == 0)
			break;
		if (word_is(w, len, "vfio-bind=off") || word_is(w, len, "vfio-bind=0"))
			flags |= VB_CMDLINE_OFF;
		else if (word_is(w, len, "vfio-bind=dry-run"))
			flags |= VB_CMDLINE_DRY_RUN;
		else if (word_is(w, len, "vfio-bind.debug") || word_is(w, len, "vfio-bind.debug=1"))
			flags |= VB_CMDLINE_DEBUG;
		else if (word_is(w, len, "vfio-bind=on") || word_is(w, len, "vfio-bind=1"))
			flags &= ~VB_CMDLINE_OFF; /* the last word wins, as for kernel parameters */
		else if (len > 10 && memcmp(w, "vfio-bind=", 10) == 0 && unknown_size) {
			size_t n = len < unknown_size - 1 ? len : unknown_size - 1;
			memcpy(unknown, w, n);
			unknown[n] = 0;
		}
	}
	return flags;
}

unsigned vb_cmdline_read(const struct vb_root *root, char *unknown, size_t unknown_size)
{
	char buf[4096];

	if (vb_read_file(root, "proc/cmdline", buf, sizeof(buf)) < 0) {
		if (unknown_size)
			unknown[0] = 0;
		return 0;
	}
	return vb_cmdline_parse(buf, unknown, unknown_size);
}
