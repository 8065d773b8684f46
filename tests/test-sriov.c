/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SR-IOV VF creation (binder/core/sriov.c) and driver= through the whole
 * pipeline (config -> scan -> select -> VF creation -> plan -> apply ->
 * release) against the simulated kernel, whose sriov_numvfs creates VFs and
 * honours sriov_drivers_autoprobe. The write log proves the order.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "job.h"
#include "log.h"
#include "simkernel.h"

/* Two X710 ports: 03:00.0 with SR-IOV off (VFs 03:02.0...), 03:00.1 with 4
 * VFs on iavf (03:03.0-03:03.3); an e1000e NIC for driver=pci-stub. */
static const char tree[] = "driver pcieport state=builtin class=0604\n"
			   "driver i40e state=loaded ids=8086:1572\n"
			   "driver iavf state=loaded ids=8086:154c\n"
			   "driver e1000e state=loaded ids=8086:10d3\n"
			   "driver vfio-pci state=module override-only\n"
			   "driver pci-stub state=module override-only\n"
			   "dev 0000:00:02.0 id=8086:2032 class=060400 group=2 driver=pcieport\n"
			   "    dev 0000:03:00.0 id=8086:1572 subsys=8086:0007 class=020000 "
			   "group=10 driver=i40e sriov-total=8 sriov-num=0 sriov-autoprobe=1 "
			   "vf-offset=16 vf-stride=1 vf-id=8086:154c vf-subsys=8086:0000 "
			   "vf-driver=iavf\n"
			   "    dev 0000:03:00.1 id=8086:1572 subsys=8086:0007 class=020000 "
			   "group=11 driver=i40e sriov-total=8 sriov-num=4 sriov-autoprobe=1 "
			   "vf-offset=23 vf-stride=1 vf-id=8086:154c vf-subsys=8086:0000 "
			   "vf-driver=iavf\n"
			   "dev 0000:00:05.0 id=8086:10d3 subsys=8086:a01f class=020000 group=5 "
			   "driver=e1000e\n";

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_job job;
	struct vb_outcome out[64];
	struct simkernel_log log;
	int failures;
	char *text; /* what was logged */
};

static void ctx_open(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = fixture_tree_text(tree);
	simkernel_open(&c->root, c->dir);
}

static void ctx_close(struct ctx *c)
{
	simkernel_log_free(&c->log);
	free(c->text);
	vb_job_free(&c->job);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static const char *driver_of(const struct ctx *c, const char *bdf)
{
	static char buf[64];
	char rel[128], *link, *b;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", bdf);
	link = fixture_readlink(c->dir, rel);
	if (!link)
		return "";
	b = strrchr(link, '/');
	snprintf(buf, sizeof(buf), "%s", b ? b + 1 : link);
	free(link);
	return buf;
}

static char *attr(const struct ctx *c, const char *bdf, const char *name)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/%s", bdf, name);
	return fixture_read(c->dir, rel);
}

static void assert_attr(const struct ctx *c, const char *bdf, const char *name, const char *want)
{
	char *v = attr(c, bdf, name);

	ck_assert_msg(v, "%s/%s missing", bdf, name);
	ck_assert_msg(strcmp(v, want) == 0, "%s/%s is '%s', want '%s'", bdf, name, v, want);
	free(v);
}

/* The whole pipeline, as `vfio-bind apply` and the early binder run it;
 * create false: as `vfio-bind plan` (no VF is made, nothing applied). */
static void run(struct ctx *c, const char *config, bool create)
{
	char path[4200];
	int fd;

	vb_job_free(&c->job);
	fixture_write(c->dir, "etc/vfio-bind.conf", config);
	simkernel_log_clear(c->dir);
	snprintf(path, sizeof(path), "%s/.log", c->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	vb_log_set_kmsg_fd(fd);
	vb_log_set_max_priority(VB_LOG_DEBUG);

	vb_job_init(&c->job);
	ck_assert_int_eq(vb_job_load_config(&c->job, &c->root, NULL), 0);
	ck_assert_int_eq(vb_job_select(&c->job, &c->root), 0);
	ck_assert_int_eq(vb_job_sriov(&c->job, &c->root, create, false), 0);
	ck_assert_int_eq(vb_job_plan(&c->job, &c->root, NULL, 0), 0);
	ck_assert_uint_le(c->job.plan.n, 64);
	c->failures = 0;
	if (create)
		c->failures = vb_apply(&c->root, &c->job.cfg, &c->job.plan, NULL, c->out);

	vb_log_set_kmsg_fd(-1);
	close(fd);
	free(c->text);
	c->text = fixture_read(c->dir, ".log");
	simkernel_log_free(&c->log);
	simkernel_log_read(c->dir, &c->log);
}

static long find(const struct ctx *c, const char *suffix, const char *value)
{
	long i = simkernel_log_find(&c->log, 0, suffix, value);

	if (i < 0)
		simkernel_log_dump(&c->log);
	ck_assert_msg(i >= 0, "no write %s=%s", suffix, value ? value : "*");
	return i;
}

static const struct vb_plan_item *item(const struct ctx *c, const char *bdf)
{
	for (size_t i = 0; i < c->job.plan.n; i++)
		if (strcmp(c->job.plan.items[i].dev->name, bdf) == 0)
			return &c->job.plan.items[i];
	return NULL;
}

START_TEST(test_create_order)
{
	static const char *const taken[] = {"0000:03:02.0", "0000:03:02.2", "0000:03:02.3"};
	static const char *const others[] = {"0000:03:02.1", "0000:03:02.4", "0000:03:02.5"};
	struct ctx c;
	long off, num, on, load;

	ctx_open(&c);
	run(&c, "bind path=0000:03:00.0 vfs=0,2-3 numvfs=6\n", true);
	ck_assert_int_eq(c.failures, 0);
	ck_assert_uint_eq(c.job.sriov.n, 1);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_CREATE);
	ck_assert(c.job.sriov.items[0].created);

	/* autoprobe off before numvfs; overrides before autoprobe comes back */
	off = find(&c, "0000:03:00.0/sriov_drivers_autoprobe", "0");
	num = find(&c, "0000:03:00.0/sriov_numvfs", "6");
	on = find(&c, "0000:03:00.0/sriov_drivers_autoprobe", "1");
	load = find(&c, "@load_module", "vfio-pci");
	ck_assert_int_lt(off, num);
	ck_assert_int_lt(num, on);
	ck_assert_int_lt(on, load);
	for (size_t i = 0; i < 3; i++) {
		char suffix[96];
		long w;

		snprintf(suffix, sizeof(suffix), "%s/driver_override", taken[i]);
		w = find(&c, suffix, "vfio-pci");
		ck_assert_int_gt(w, num);
		ck_assert_int_lt(w, on);
		/* no VF driver ever bound it: nothing had to be unbound */
		ck_assert_int_lt(simkernel_log_find(&c.log, 0, "drivers/iavf/unbind", taken[i]), 0);
		ck_assert_str_eq(driver_of(&c, taken[i]), "vfio-pci");
		ck_assert_ptr_nonnull(item(&c, taken[i]));
		ck_assert_int_eq(item(&c, taken[i])->via, VB_VIA_VF);
		ck_assert_int_eq(item(&c, taken[i])->action, VB_ACT_BIND);
	}
	/* the others reach their native driver through drivers_probe */
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_gt(find(&c, "sys/bus/pci/drivers_probe", others[i]), on);
		ck_assert_str_eq(driver_of(&c, others[i]), "iavf");
		ck_assert_ptr_null(item(&c, others[i]));
	}
	ck_assert_ptr_null(item(&c, "0000:03:00.0"));
	ck_assert_str_eq(driver_of(&c, "0000:03:00.0"), "i40e");
	assert_attr(&c, "0000:03:00.0", "sriov_drivers_autoprobe", "1\n");
	assert_attr(&c, "0000:03:00.0", "sriov_numvfs", "6\n");
	ck_assert_ptr_nonnull(strstr(c.text, "created 6 VFs"));

	/* the VF model: PF and index, as status shows them */
	{
		struct vb_pci_dev *vf = fixture_find_dev(&c.job.list, "0000:03:02.3");

		ck_assert_int_eq(vb_pci_load_physfn(&c.root, vf), 0);
		ck_assert_str_eq(vf->pf, "0000:03:00.0");
		ck_assert_int_eq(vf->vf_index, 3);
		ck_assert(strstr(item(&c, "0000:03:02.3")->reason, "VF 3 of 0000:03:00.0"));
	}

	/* a second run finds them there: nothing created, nothing written */
	run(&c, "bind path=0000:03:00.0 vfs=0,2-3 numvfs=6\n", true);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_PRESENT);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_numvfs", NULL), 0);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "driver_override", NULL), 0);
	ck_assert_int_eq(item(&c, "0000:03:02.0")->action, VB_ACT_NOTHING);
	ctx_close(&c);
}
END_TEST

START_TEST(test_plan_only)
{
	struct ctx c;

	ctx_open(&c);
	run(&c, "bind path=0000:03:00.0 vfs=all numvfs=2 driver=pci-stub\n", false);
	ck_assert_uint_eq(c.job.sriov.n, 1);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_CREATE);
	ck_assert_ptr_nonnull(strstr(c.job.sriov.items[0].reason, "create 2 VFs"));
	ck_assert_ptr_nonnull(strstr(c.job.sriov.items[0].reason, "every VF to pci-stub"));
	ck_assert_uint_eq(c.log.n, 0);
	ck_assert_uint_eq(c.job.plan.n, 0);
	/* no "has no VF 0" warning: numvfs= will make them */
	ck_assert_uint_eq(c.job.diags.n, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_existing_vfs)
{
	struct ctx c;

	ctx_open(&c);
	/* 03:00.1 has 4 VFs on iavf (autoprobe on): VF 1 and 3 are taken from it */
	run(&c, "bind path=0000:03:00.1 vfs=1,3 numvfs=4\n", true);
	ck_assert_int_eq(c.failures, 0);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_PRESENT);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_numvfs", NULL), 0);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_drivers_autoprobe", NULL), 0);
	ck_assert_int_eq(item(&c, "0000:03:03.1")->action, VB_ACT_REBIND);
	ck_assert_str_eq(driver_of(&c, "0000:03:03.1"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:03:03.3"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:03:03.0"), "iavf");
	ck_assert_str_eq(driver_of(&c, "0000:03:03.2"), "iavf");
	ck_assert_str_eq(driver_of(&c, "0000:03:00.1"), "i40e");

	/* vfs= without numvfs= takes what is there; a missing index is a warning */
	run(&c, "bind path=0000:03:00.1 vfs=2-5\n", true);
	ck_assert_uint_eq(c.job.sriov.n, 0);
	ck_assert_str_eq(driver_of(&c, "0000:03:03.2"), "vfio-pci");
	ck_assert_uint_eq(c.job.diags.n, 1);
	ck_assert_ptr_nonnull(strstr(c.job.diags.v[0].message, "has no VF 4 (sriov_numvfs is 4)"));
	ck_assert_uint_eq(c.job.diags.v[0].column, 24);
	ctx_close(&c);
}
END_TEST

START_TEST(test_numvfs_mismatch)
{
	struct ctx c;

	ctx_open(&c);
	run(&c, "bind path=0000:03:00.1 vfs=0 numvfs=2\n", true);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_MISMATCH);
	ck_assert_ptr_nonnull(strstr(c.job.sriov.items[0].reason, "has 4 VFs, not numvfs=2"));
	ck_assert_ptr_nonnull(strstr(c.text, "changing the count destroys every VF"));
	/* the VFs in use stay: no write to sriov_numvfs */
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_numvfs", NULL), 0);
	assert_attr(&c, "0000:03:00.1", "sriov_numvfs", "4\n");
	ck_assert_str_eq(driver_of(&c, "0000:03:03.1"), "iavf");
	ctx_close(&c);
}
END_TEST

START_TEST(test_totalvfs_exceeded)
{
	struct ctx c;

	ctx_open(&c);
	run(&c, "bind path=0000:03:00.0 vfs=0 numvfs=9\n", true);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_TOO_MANY);
	ck_assert_ptr_nonnull(
		strstr(c.job.sriov.items[0].reason, "numvfs=9 is more than the 8 VFs it supports"));
	ck_assert_uint_eq(c.log.n, 0);
	assert_attr(&c, "0000:03:00.0", "sriov_numvfs", "0\n");
	/* the simulated kernel refuses it as Linux does */
	ck_assert_int_eq(vb_kernel_write_str(
				 &c.root, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "9", 0),
			 -ERANGE);
	ctx_close(&c);
}
END_TEST

START_TEST(test_pf_without_driver)
{
	struct ctx c;

	ctx_open(&c);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/i40e/unbind", "0000:03:00.0", 0),
		0);
	run(&c, "bind path=0000:03:00.0 vfs=0 numvfs=2\n", true);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_NO_DRIVER);
	ck_assert_ptr_nonnull(strstr(c.text, "`vfio-bind apply` creates 2 once it has one"));
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_", NULL), 0);
	/* the PF driver arrives (udev, a late module): apply creates them */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:03:00.0", 0), 0);
	ck_assert_str_eq(driver_of(&c, "0000:03:00.0"), "i40e");
	run(&c, "bind path=0000:03:00.0 vfs=0 numvfs=2\n", true);
	ck_assert_int_eq(c.failures, 0);
	ck_assert(c.job.sriov.items[0].created);
	ck_assert_str_eq(driver_of(&c, "0000:03:02.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:03:02.1"), "iavf");
	ctx_close(&c);
}
END_TEST

START_TEST(test_create_fails)
{
	struct ctx c;

	ctx_open(&c);
	simkernel_fail("0000:03:00.0/sriov_numvfs", ENOMEM, 1);
	run(&c, "bind path=0000:03:00.0 vfs=0 numvfs=2\n", true);
	ck_assert_int_eq(c.job.sriov.items[0].action, VB_SRIOV_FAILED);
	ck_assert_int_eq(c.job.sriov.items[0].err, -ENOMEM);
	/* autoprobe is given back: the PF is as it was */
	ck_assert_int_gt(find(&c, "0000:03:00.0/sriov_drivers_autoprobe", "1"),
			 find(&c, "0000:03:00.0/sriov_numvfs", "2"));
	assert_attr(&c, "0000:03:00.0", "sriov_drivers_autoprobe", "1\n");
	ck_assert_ptr_nonnull(strstr(c.text, "cannot create 2 VFs"));
	ck_assert_uint_eq(c.job.plan.n, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_autoprobe_off_kept)
{
	struct ctx c;

	ctx_open(&c);
	/* the admin keeps VFs driverless: vfio-bind leaves it so */
	fixture_write(c.dir, "sys/bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe", "0\n");
	run(&c, "bind path=0000:03:00.0 vfs=1 numvfs=3\n", true);
	ck_assert_int_eq(c.failures, 0);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "sriov_drivers_autoprobe", NULL), 0);
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "drivers_probe", "0000:03:02.0"), 0);
	ck_assert_str_eq(driver_of(&c, "0000:03:02.0"), "");
	ck_assert_str_eq(driver_of(&c, "0000:03:02.1"), "vfio-pci");
	ctx_close(&c);
}
END_TEST

START_TEST(test_driver_option)
{
	struct ctx c;

	ctx_open(&c);
	run(&c, "bind path=0000:00:05.0 driver=pci-stub\n", true);
	ck_assert_int_eq(c.failures, 0);
	ck_assert_str_eq(item(&c, "0000:00:05.0")->target, "pci-stub");
	find(&c, "0000:00:05.0/driver_override", "pci-stub");
	find(&c, "@load_module", "pci-stub");
	ck_assert_int_lt(simkernel_log_find(&c.log, 0, "@load_module", "vfio-pci"), 0);
	ck_assert_str_eq(driver_of(&c, "0000:00:05.0"), "pci-stub");
	ck_assert_str_eq(c.out[0].driver_after, "pci-stub");
	ck_assert_ptr_nonnull(strstr(c.text, "rebind e1000e -> pci-stub: ok"));

	/* again: already there */
	run(&c, "bind path=0000:00:05.0 driver=pci-stub\n", true);
	ck_assert_int_eq(item(&c, "0000:00:05.0")->action, VB_ACT_NOTHING);

	/* release gives it back to e1000e */
	{
		struct vb_pci_dev *d = fixture_find_dev(&c.job.list, "0000:00:05.0");
		struct vb_outcome o;

		ck_assert_int_eq(vb_release(&c.root, &d, 1, NULL, &o), 0);
		ck_assert_str_eq(driver_of(&c, "0000:00:05.0"), "e1000e");
		assert_attr(&c, "0000:00:05.0", "driver_override", "(null)\n");
	}
	ctx_close(&c);
}
END_TEST

START_TEST(test_driver_verified)
{
	struct ctx c;

	ctx_open(&c);
	/* the named driver's bind reports success but does not attach */
	simkernel_ignore("drivers/pci-stub/bind", -1);
	simkernel_ignore("drivers_probe", -1);
	/* registration attaches nothing either: a kernel whose pci-stub
	 * claims nothing it is offered */
	simkernel_probe_fails("pci-stub", NULL, ENODEV);
	run(&c, "bind path=0000:00:05.0 driver=pci-stub\n", true);
	ck_assert_int_eq(c.failures, 1);
	ck_assert_int_eq(c.out[0].result, VB_RES_FAILED);
	ck_assert_str_eq(c.out[0].step, "verify");
	/* rolled back to its driver */
	ck_assert_str_eq(driver_of(&c, "0000:00:05.0"), "e1000e");

	/* the module does not load: "load module", rolled back */
	simkernel_reset();
	simkernel_module_fails("pci-stub", ENOENT);
	run(&c, "bind path=0000:00:05.0 driver=pci-stub\n", true);
	ck_assert_int_eq(c.failures, 1);
	ck_assert_str_eq(c.out[0].step, "load module");
	ck_assert_ptr_nonnull(strstr(c.text, "cannot load pci-stub"));
	ck_assert_str_eq(driver_of(&c, "0000:00:05.0"), "e1000e");
	ctx_close(&c);
}
END_TEST

START_TEST(test_release_vf)
{
	struct ctx c;

	ctx_open(&c);
	run(&c, "bind path=0000:03:00.0 vfs=0 numvfs=2\n", true);
	ck_assert_str_eq(driver_of(&c, "0000:03:02.0"), "vfio-pci");
	{
		struct vb_pci_dev *d = fixture_find_dev(&c.job.list, "0000:03:02.0");
		struct vb_outcome o;

		ck_assert_int_eq(vb_release(&c.root, &d, 1, NULL, &o), 0);
		ck_assert_int_eq(o.result, VB_RES_OK);
		/* the PF autoprobes VFs again: its VF driver takes it */
		ck_assert_str_eq(driver_of(&c, "0000:03:02.0"), "iavf");
		ck_assert_str_eq(o.driver_after, "iavf");
		assert_attr(&c, "0000:03:02.0", "driver_override", "(null)\n");
	}
	ctx_close(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sriov");
	TCase *tc = tcase_create("create");

	tcase_add_test(tc, test_create_order);
	tcase_add_test(tc, test_plan_only);
	tcase_add_test(tc, test_existing_vfs);
	tcase_add_test(tc, test_numvfs_mismatch);
	tcase_add_test(tc, test_totalvfs_exceeded);
	tcase_add_test(tc, test_pf_without_driver);
	tcase_add_test(tc, test_create_fails);
	tcase_add_test(tc, test_autoprobe_off_kept);
	suite_add_tcase(s, tc);
	tc = tcase_create("driver");
	tcase_add_test(tc, test_driver_option);
	tcase_add_test(tc, test_driver_verified);
	tcase_add_test(tc, test_release_vf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
