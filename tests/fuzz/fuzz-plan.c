/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the planner. Any config text is parsed and, when valid,
 * selected, planned and applied in dry-run mode against a fake sysfs tree
 * (tests/sysfs/proxmox.tree, built once by mktree): no crash, no leak, every
 * plan item points at a selected device with a known action and a reason.
 *
 * fuzz-sources: binder/core/config.c binder/core/log.c binder/core/root.c binder/core/pci.c
 * fuzz-sources: binder/core/util.c binder/core/diag.c
 * fuzz-sources: binder/core/select.c binder/core/plan.c binder/core/apply.c binder/core/job.c
 * fuzz-sources: binder/core/cmdline.c binder/core/module.c binder/core/mapping.c
 * fuzz-sources: binder/core/lock.c binder/core/sriov.c
 * fuzz-seeds: conf/vfio-bind.conf
 */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "plan.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static struct vb_root root;
static char tree_dir[] = "/tmp/vb-fuzz-plan-XXXXXX";

static void remove_tree(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execlp("rm", "rm", "-rf", tree_dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char here[4096], mktree[4200], tree[4200], dest[4200];
	int status;
	pid_t pid;

	(void)argc;
	(void)argv;
	/* the harness is compiled from its absolute path: the tree is beside it */
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(mktree, sizeof(mktree), "%s/../sysfs/mktree", dirname(here));
	snprintf(here, sizeof(here), "%s", __FILE__);
	snprintf(tree, sizeof(tree), "%s/../sysfs/proxmox.tree", dirname(here));
	CHECK(mkdtemp(tree_dir));
	snprintf(dest, sizeof(dest), "%s/root", tree_dir);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execlp("python3", "python3", mktree, tree, dest, (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	atexit(remove_tree);
	CHECK(vb_root_open(&root, dest) == 0);
	CHECK(!root.is_host);
	vb_log_set_max_priority(0); /* quiet: millions of runs */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_apply_opts ao = {.dry_run = true};
	struct vb_outcome *out;
	struct vb_job job;
	int r;

	vb_job_init(&job);
	r = vb_config_parse("fuzz.conf", (const char *)data, size, &job.cfg, &job.diags);
	if (r < 0) {
		vb_job_free(&job);
		return 0;
	}
	CHECK(vb_job_select(&job, &root) == 0);
	CHECK(vb_job_sriov(&job, &root, false, false) == 0);
	CHECK(vb_job_plan(&job, &root, NULL, 0) == 0);
	for (size_t i = 0; i < job.plan.n; i++) {
		const struct vb_plan_item *it = &job.plan.items[i];
		size_t idx = (size_t)(it->dev - job.list.devs);

		CHECK(idx < job.list.n);
		CHECK(job.sel[idx].via != VB_VIA_NONE);
		CHECK(it->rule >= 0 && (size_t)it->rule < job.cfg.n_rules);
		CHECK(!job.cfg.rules[it->rule].exclude);
		CHECK(it->action <= VB_ACT_REFUSE);
		CHECK(it->reason[0] != 0);
		if (i > 0)
			CHECK(vb_pci_addr_cmp(&job.plan.items[i - 1].dev->addr, &it->dev->addr) <
			      0);
	}
	out = calloc(job.plan.n ? job.plan.n : 1, sizeof(*out));
	CHECK(out);
	/* a dry run writes nothing, whatever the plan */
	CHECK(vb_apply(&root, &job.cfg, &job.plan, &ao, out) == 0);
	for (size_t i = 0; i < job.plan.n; i++)
		CHECK(out[i].result != VB_RES_FAILED);
	free(out);
	vb_job_free(&job);
	return 0;
}
