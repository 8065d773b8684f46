/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the pipeline runner (binder/core/job.c, vb_job_run) on the
 * fake sysfs trees and the simulated kernel (tests/simkernel.c): the order
 * of the steps, where a failure or a hook stops the run, what a run that
 * stops after the plan writes (nothing), and the summary counts.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "job.h"
#include "log.h"
#include "simkernel.h"

#define MAX_STEPS 16

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_job job;
	struct vb_apply_opts ao;
	struct vb_job_opts opts;
	struct vb_apply_summary sum;
	enum vb_job_step steps[MAX_STEPS]; /* the hook's calls, in order */
	int results[MAX_STEPS];
	size_t n_steps;
	enum vb_job_step stop_at; /* the hook stops the run there */
	int stop_with;
	bool keep_bad;       /* the hook goes on after a config with errors */
	bool missing_empty;  /* the hook makes a missing config an empty one */
	unsigned n_mappings; /* calls of the mapping callback */
	struct simkernel_log log;
};

static int record_step(struct vb_job *job, const struct vb_root *root, enum vb_job_step step, int r,
		       void *userdata)
{
	struct ctx *c = userdata;

	(void)root;
	ck_assert_uint_lt(c->n_steps, MAX_STEPS);
	c->steps[c->n_steps] = step;
	c->results[c->n_steps++] = r;
	if (step == c->stop_at)
		return c->stop_with;
	if (step == VB_JOB_CONFIG && r == -EINVAL && c->keep_bad) {
		job->config_bad = true;
		return 0;
	}
	if (step == VB_JOB_CONFIG && r == -ENOENT && c->missing_empty) {
		vb_config_free(&job->cfg);
		job->cfg.file = strdup("/etc/vfio-bind.conf");
		return 0;
	}
	return r; /* as without a hook: a failed step stops */
}

static int count_mappings(struct vb_job *job, const struct vb_root *root, void *userdata)
{
	struct ctx *c = userdata;

	(void)job;
	(void)root;
	c->n_mappings++;
	return 0;
}

/* The desktop tree with conf as /etc/vfio-bind.conf (NULL: none). */
static void ctx_open(struct ctx *c, const char *conf)
{
	memset(c, 0, sizeof(*c));
	c->dir = fixture_tree("desktop");
	if (conf)
		fixture_write(c->dir, "etc/vfio-bind.conf", conf);
	simkernel_open(&c->root, c->dir);
	simkernel_log_clear(c->dir);
	vb_job_init(&c->job);
	c->ao.unbind_timeout_ms = 5000;
	c->opts.apply = &c->ao;
	c->opts.mappings = count_mappings;
	c->opts.log_diags = VB_JOB_LOG_DIAGS_ALL;
	c->opts.step = record_step;
	c->opts.userdata = c;
	c->opts.t0_ms = vb_now_ms();
}

static int ctx_run(struct ctx *c)
{
	int r = vb_job_run(&c->job, &c->root, &c->opts, &c->sum);

	simkernel_log_free(&c->log);
	simkernel_log_read(c->dir, &c->log);
	return r;
}

static void ctx_close(struct ctx *c)
{
	simkernel_log_free(&c->log);
	vb_job_free(&c->job);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static void assert_steps(const struct ctx *c, size_t n, ...)
{
	va_list ap;

	ck_assert_uint_eq(c->n_steps, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(c->steps[i], va_arg(ap, int));
	va_end(ap);
}

static const char *driver_of(const struct ctx *c, const char *name)
{
	static char buf[64];
	char rel[128], *link, *b;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", name);
	link = fixture_readlink(c->dir, rel);
	buf[0] = '\0';
	if (link) {
		b = strrchr(link, '/');
		snprintf(buf, sizeof(buf), "%s", b ? b + 1 : link);
	}
	free(link);
	return buf;
}

static const char gpu_conf[] = "bind id=10de:2204 expand=slot\n";

/* Every step in order; the GPU and its audio function end on vfio-pci and
 * the summary counts them. */
START_TEST(test_run_all)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	ck_assert_int_eq(ctx_run(&c), 0);
	assert_steps(&c, 6, VB_JOB_CONFIG, VB_JOB_MAPPINGS, VB_JOB_SELECT, VB_JOB_SRIOV,
		     VB_JOB_PLAN, VB_JOB_APPLY);
	for (size_t i = 0; i < c.n_steps; i++)
		ck_assert_int_eq(c.results[i], 0);
	ck_assert_uint_eq(c.n_mappings, 1);
	ck_assert_uint_eq(c.job.plan.n, 2);
	ck_assert_ptr_nonnull(c.job.out);
	ck_assert_uint_eq(c.sum.ok, 2);
	ck_assert_uint_eq(c.sum.todo, 2);
	ck_assert_uint_eq(c.sum.refused, 0);
	ck_assert_int_eq(c.sum.failed, 0);
	ck_assert(!c.sum.dry_run);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:00:02.0"), "i915");
	ctx_close(&c);
}
END_TEST

/* A failed bind is counted, the other device is still taken. */
START_TEST(test_run_summary_failed)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	simkernel_fail("0000:01:00.1/driver_override", EIO, 1);
	ck_assert_int_eq(ctx_run(&c), 0);
	ck_assert_uint_eq(c.n_steps, 6);
	ck_assert_uint_eq(c.sum.ok, 1);
	ck_assert_uint_eq(c.sum.todo, 2);
	ck_assert_int_eq(c.sum.failed, 1);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "snd_hda_intel");
	ctx_close(&c);
}
END_TEST

static char summary[512];

static void keep_summary(int prio, const char *text)
{
	(void)prio;
	if (strstr(text, " failed, ") || strncmp(text, "nothing to do: ", 15) == 0)
		snprintf(summary, sizeof(summary), "%s", text);
}

/* driver= rules: the summary says which driver the devices are on, the
 * default's count first, then each other driver once. */
START_TEST(test_run_summary_drivers)
{
	struct ctx c;

	char *drivers;

	ctx_open(&c, "bind path=0000:01:00.0\nbind path=0000:01:00.1 driver=pci-stub\n");
	/* pci-stub: a module that binds what driver_override gives it */
	drivers = fixture_read(c.dir, ".simkernel/drivers");
	ck_assert_ptr_nonnull(drivers);
	drivers = realloc(drivers, strlen(drivers) + 64);
	strcat(drivers, "pci-stub state=module\n");
	fixture_write(c.dir, ".simkernel/drivers", drivers);
	free(drivers);
	summary[0] = 0;
	vb_log_set_hook(keep_summary);
	ck_assert_int_eq(ctx_run(&c), 0);
	vb_log_set_hook(NULL);
	ck_assert_uint_eq(c.sum.ok, 2);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "pci-stub");
	ck_assert_msg(strncmp(summary,
			      "1 device(s) on vfio-pci, 1 on pci-stub, 0 failed, 0 refused in ",
			      strlen("1 device(s) on vfio-pci, 1 on pci-stub, 0 failed, 0 refused "
				     "in ")) == 0,
		      "summary: %s", summary);

	/* again: nothing to do, and the line still says where they are */
	vb_job_free(&c.job);
	vb_job_init(&c.job);
	c.n_steps = 0;
	summary[0] = 0;
	vb_log_set_hook(keep_summary);
	ck_assert_int_eq(ctx_run(&c), 0);
	vb_log_set_hook(NULL);
	ck_assert_str_eq(summary, "nothing to do: 1 device(s) already on vfio-pci, 1 on pci-stub");
	ctx_close(&c);
}
END_TEST

/* until = VB_JOB_PLAN: planned, nothing written, no summary. */
START_TEST(test_run_until_plan)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	c.opts.until = VB_JOB_PLAN;
	ck_assert_int_eq(ctx_run(&c), 0);
	assert_steps(&c, 5, VB_JOB_CONFIG, VB_JOB_MAPPINGS, VB_JOB_SELECT, VB_JOB_SRIOV,
		     VB_JOB_PLAN);
	ck_assert_uint_eq(c.job.plan.n, 2);
	ck_assert_int_eq(c.job.plan.items[0].action, VB_ACT_REBIND);
	ck_assert_ptr_null(c.job.out);
	ck_assert_uint_eq(c.log.n, 0);
	ck_assert_uint_eq(c.sum.todo, 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "nvidia");
	ctx_close(&c);
}
END_TEST

/* A dry run plans and summarizes, and writes nothing. */
START_TEST(test_run_dry_run)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	c.ao.dry_run = true;
	ck_assert_int_eq(ctx_run(&c), 0);
	ck_assert_uint_eq(c.n_steps, 6);
	ck_assert(c.sum.dry_run);
	ck_assert_uint_eq(c.sum.todo, 2);
	ck_assert_uint_eq(c.log.n, 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "nvidia");
	ctx_close(&c);
}
END_TEST

/* A config with errors stops the run before the mappings and the scan. */
START_TEST(test_run_config_error)
{
	struct ctx c;

	ctx_open(&c, "bind frobnicate=yes\n");
	ck_assert_int_eq(ctx_run(&c), -EINVAL);
	assert_steps(&c, 1, VB_JOB_CONFIG);
	ck_assert_int_eq(c.results[0], -EINVAL);
	ck_assert_uint_gt(c.job.diags.n_errors, 0);
	ck_assert_uint_eq(c.n_mappings, 0);
	ck_assert_uint_eq(c.job.list.n, 0);
	ck_assert_ptr_null(c.job.sel);
	ck_assert_uint_eq(c.log.n, 0);
	ctx_close(&c);
}
END_TEST

/* Without a hook a failed step stops the run with its -errno. */
START_TEST(test_run_config_error_no_hook)
{
	struct ctx c;

	ctx_open(&c, "bind frobnicate=yes\n");
	c.opts.step = NULL;
	ck_assert_int_eq(ctx_run(&c), -EINVAL);
	ck_assert_uint_eq(c.n_mappings, 0);
	ck_assert_uint_eq(c.job.list.n, 0);
	ctx_close(&c);
}
END_TEST

/* A hook that goes on after a config with errors (job->config_bad): selected
 * and planned for the report, but no VF is made and nothing is applied. */
START_TEST(test_run_keep_bad_config)
{
	struct ctx c;

	ctx_open(&c, "bind id=10de:2204 expand=slot\nbind frobnicate=yes\n");
	c.keep_bad = true;
	ck_assert_int_eq(ctx_run(&c), -EINVAL);
	assert_steps(&c, 4, VB_JOB_CONFIG, VB_JOB_MAPPINGS, VB_JOB_SELECT, VB_JOB_PLAN);
	ck_assert(c.job.config_bad);
	ck_assert_uint_eq(c.job.plan.n, 2);
	ck_assert_ptr_null(c.job.out);
	ck_assert_uint_eq(c.log.n, 0);
	ctx_close(&c);
}
END_TEST

/* A missing default config: -ENOENT, or, when the hook makes it an empty
 * one, a run that selects nothing. */
START_TEST(test_run_missing_config)
{
	struct ctx c;

	ctx_open(&c, NULL);
	ck_assert_int_eq(ctx_run(&c), -ENOENT);
	assert_steps(&c, 1, VB_JOB_CONFIG);
	ctx_close(&c);

	ctx_open(&c, NULL);
	c.missing_empty = true;
	c.opts.until = VB_JOB_PLAN;
	ck_assert_int_eq(ctx_run(&c), 0);
	assert_steps(&c, 5, VB_JOB_CONFIG, VB_JOB_MAPPINGS, VB_JOB_SELECT, VB_JOB_SRIOV,
		     VB_JOB_PLAN);
	ck_assert_uint_eq(c.n_mappings, 1);
	ck_assert_str_eq(c.job.cfg.file, "/etc/vfio-bind.conf");
	ck_assert_uint_eq(c.job.cfg.n_rules, 0);
	ck_assert_uint_gt(c.job.list.n, 0);
	ck_assert_uint_eq(c.job.plan.n, 0);
	ck_assert_uint_eq(c.log.n, 0);
	ctx_close(&c);
}
END_TEST

/* A hook's value stops the run and is returned: VB_JOB_DONE after the plan
 * applies nothing. */
START_TEST(test_run_hook_stops)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	c.stop_at = VB_JOB_PLAN;
	c.stop_with = VB_JOB_DONE;
	ck_assert_int_eq(ctx_run(&c), VB_JOB_DONE);
	ck_assert_uint_eq(c.n_steps, 5);
	ck_assert_ptr_null(c.job.out);
	ck_assert_uint_eq(c.log.n, 0);
	ctx_close(&c);

	ctx_open(&c, gpu_conf);
	c.stop_at = VB_JOB_MAPPINGS;
	c.stop_with = 3;
	ck_assert_int_eq(ctx_run(&c), 3);
	assert_steps(&c, 2, VB_JOB_CONFIG, VB_JOB_MAPPINGS);
	ck_assert_uint_eq(c.job.list.n, 0);
	ctx_close(&c);
}
END_TEST

/* A failed scan reaches the hook, and stops the run. */
START_TEST(test_run_select_fails)
{
	struct ctx c;

	ctx_open(&c, gpu_conf);
	fixture_remove(c.dir, "sys/bus/pci/devices");
	ck_assert_int_lt(ctx_run(&c), 0);
	assert_steps(&c, 3, VB_JOB_CONFIG, VB_JOB_MAPPINGS, VB_JOB_SELECT);
	ck_assert_int_lt(c.results[2], 0);
	ck_assert_uint_eq(c.job.plan.n, 0);
	ctx_close(&c);
}
END_TEST

static Suite *job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("run");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_all);
	tcase_add_test(tc, test_run_summary_failed);
	tcase_add_test(tc, test_run_summary_drivers);
	tcase_add_test(tc, test_run_until_plan);
	tcase_add_test(tc, test_run_dry_run);
	tcase_add_test(tc, test_run_config_error);
	tcase_add_test(tc, test_run_config_error_no_hook);
	tcase_add_test(tc, test_run_keep_bad_config);
	tcase_add_test(tc, test_run_missing_config);
	tcase_add_test(tc, test_run_hook_stops);
	tcase_add_test(tc, test_run_select_fails);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(job_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
