/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of planning (binder/core/plan.c): one action per selected
 * device, with a reason that names the facts behind it; typed refusals; guards; order.
 * tests/sysfs/sel-plan.tree has one device for each decision.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "pci.h"
#include "plan.h"
#include "root.h"
#include "select.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_pci_list list;
	struct vb_config cfg;
	struct vb_diags diags;
	struct vb_sel *sel;
	struct vb_plan plan;
	const struct vb_plan_guard *guards;
	size_t n_guards;
};

static void ctx_open(struct ctx *c, const char *tree, const char *conf)
{
	memset(c, 0, sizeof(*c));
	c->dir = fixture_tree(tree);
	ck_assert_ptr_nonnull(c->dir);
	ck_assert_int_eq(vb_root_open(&c->root, c->dir), 0);
	ck_assert(!c->root.is_host);
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
	c->sel = calloc(c->list.n ? c->list.n : 1, sizeof(*c->sel));
	ck_assert_ptr_nonnull(c->sel);
	ck_assert_int_eq(vb_config_parse("test.conf", conf, strlen(conf), &c->cfg, &c->diags), 0);
	ck_assert_int_eq(vb_select(&c->root, &c->cfg, &c->list, c->sel, &c->diags), 0);
}

/* Scan and select again (the tree changed). */
static void ctx_rescan(struct ctx *c)
{
	vb_pci_list_free(&c->list);
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
	free(c->sel);
	c->sel = calloc(c->list.n ? c->list.n : 1, sizeof(*c->sel));
	ck_assert_ptr_nonnull(c->sel);
	ck_assert_int_eq(vb_select(&c->root, &c->cfg, &c->list, c->sel, &c->diags), 0);
}

static void ctx_plan(struct ctx *c)
{
	vb_plan_free(&c->plan);
	ck_assert_int_eq(vb_plan_build(&c->root, &c->cfg, &c->list, c->sel, c->guards, c->n_guards,
				       &c->plan),
			 0);
}

static void ctx_close(struct ctx *c)
{
	vb_plan_free(&c->plan);
	vb_config_free(&c->cfg);
	vb_diags_free(&c->diags);
	free(c->sel);
	vb_pci_list_free(&c->list);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static const struct vb_plan_item *item(const struct ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->plan.n; i++)
		if (strcmp(c->plan.items[i].dev->name, name) == 0)
			return &c->plan.items[i];
	ck_abort_msg("%s is not in the plan", name);
	return NULL;
}

/* The item's action is `act` and its reason contains each of the NULL-
 * terminated strings. */
static void item_is(const struct ctx *c, const char *name, enum vb_action act, ...)
{
	const struct vb_plan_item *it = item(c, name);
	size_t len = strlen(it->reason);
	const char *want;
	va_list ap;

	ck_assert_msg(it->action == act, "%s: action %s, want %s (%s)", name,
		      vb_action_name(it->action), vb_action_name(act), it->reason);
	/* one human-readable line, no trailing period */
	ck_assert_uint_gt(len, 0);
	ck_assert_ptr_null(strchr(it->reason, '\n'));
	ck_assert_msg(it->reason[len - 1] != '.', "%s: reason ends with '.': %s", name, it->reason);
	va_start(ap, act);
	while ((want = va_arg(ap, const char *)))
		ck_assert_msg(strstr(it->reason, want), "%s: reason '%s' lacks '%s'", name,
			      it->reason, want);
	va_end(ap);
}

/* Hot-unplug: the device directory and its sys/bus/pci/devices link go. */
static void remove_device(const struct ctx *c, const char *name)
{
	char rel[256];
	char *target;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", name);
	target = fixture_readlink(c->dir, rel);
	ck_assert_ptr_nonnull(target);
	ck_assert_ptr_nonnull(strstr(target, "devices/"));
	snprintf(rel, sizeof(rel), "sys/%s", strstr(target, "devices/"));
	fixture_remove(c->dir, rel);
	ck_assert(!fixture_exists(c->dir, rel));
	free(target);
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", name);
	fixture_remove(c->dir, rel);
}

/* Every device of sel-plan.tree but the host bridge, one rule each. */
static const char all_conf[] = "bind path=00:01.0\n"              /* rule 0 */
			       "bind path=00:02.0\n"              /* 1 */
			       "bind path=00:03.0\n"              /* 2 */
			       "bind path=00:04.0\n"              /* 3 */
			       "bind path=00:05.0\n"              /* 4 */
			       "bind path=00:06.0\n"              /* 5 */
			       "bind id=8086:154c\n"              /* 6: the two VFs */
			       "bind path=01:00.0 expand=slot\n"; /* 7 */

/* ------------------------------------------------------------------------ */
/* Tests */

START_TEST(test_action_names)
{
	ck_assert_str_eq(vb_action_name(VB_ACT_NOTHING), "nothing");
	ck_assert_str_eq(vb_action_name(VB_ACT_BIND), "bind");
	ck_assert_str_eq(vb_action_name(VB_ACT_REBIND), "rebind");
	ck_assert_str_eq(vb_action_name(VB_ACT_REFUSE), "refuse");
}
END_TEST

START_TEST(test_each_action)
{
	struct ctx c;

	ctx_open(&c, "sel-plan", all_conf);
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 10);

	item_is(&c, "0000:01:00.0", VB_ACT_NOTHING, "already bound to vfio-pci", NULL);
	item_is(&c, "0000:00:04.0", VB_ACT_BIND, "unbound", "override then bind", NULL);
	ck_assert_ptr_null(strstr(item(&c, "0000:00:04.0")->reason, "already"));
	item_is(&c, "0000:01:00.1", VB_ACT_BIND, "unbound", "driver_override already vfio-pci",
		NULL);
	item_is(&c, "0000:00:06.0", VB_ACT_REBIND, "bound to xhci_hcd", "unbind then bind", NULL);
	item_is(&c, "0000:00:07.0", VB_ACT_REBIND, "bound to iavf", NULL);
	item_is(&c, "0000:00:07.1", VB_ACT_REBIND, "bound to iavf", NULL);
	item_is(&c, "0000:00:01.0", VB_ACT_REFUSE, "PCI bridge", "header type 1", "endpoints only",
		NULL);
	item_is(&c, "0000:00:03.0", VB_ACT_REFUSE, "CardBus", "header type 2", "endpoints only",
		NULL);
	item_is(&c, "0000:00:05.0", VB_ACT_REFUSE, "SR-IOV physical function", "2 VFs enabled",
		"-EBUSY", "sriov_numvfs to 0", "select the VFs", NULL);
	item_is(&c, "0000:00:02.0", VB_ACT_REFUSE, "no IOMMU group", "VT-d/AMD-Vi",
		"intel_iommu=on", "before kernel 6.8", NULL);
	/* amd_iommu=on is not a value the kernel knows: never suggest it */
	ck_assert_ptr_null(strstr(item(&c, "0000:00:02.0")->reason, "amd_iommu"));

	/* rule and via come from the selection */
	ck_assert_int_eq(item(&c, "0000:00:01.0")->rule, 0);
	ck_assert_int_eq(item(&c, "0000:00:07.1")->rule, 6);
	ck_assert_int_eq(item(&c, "0000:01:00.0")->rule, 7);
	ck_assert_int_eq(item(&c, "0000:01:00.0")->via, VB_VIA_RULE);
	ck_assert_int_eq(item(&c, "0000:01:00.1")->rule, 7);
	ck_assert_int_eq(item(&c, "0000:01:00.1")->via, VB_VIA_SLOT);
	ctx_close(&c);
}
END_TEST

START_TEST(test_only_selected)
{
	struct ctx c;
	size_t i;

	ctx_open(&c, "sel-plan", "bind class=0c0330\nexclude path=00:04.0\n");
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 1);
	ck_assert_str_eq(c.plan.items[0].dev->name, "0000:00:06.0");
	ck_assert_int_eq(c.plan.items[0].rule, 0);
	vb_plan_free(&c.plan);
	ck_assert_ptr_null(c.plan.items);
	ck_assert_uint_eq(c.plan.n, 0);
	vb_plan_free(&c.plan); /* twice is fine */
	ctx_close(&c);

	/* nothing selected: an empty plan */
	ctx_open(&c, "sel-plan", "bind id=ffff:0000\n");
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 0);
	for (i = 0; i < c.list.n; i++)
		ck_assert_int_eq(c.sel[i].via, VB_VIA_NONE);
	ctx_close(&c);
}
END_TEST

START_TEST(test_sriov_pf_and_vfs)
{
	struct ctx c;

	ctx_open(&c, "sriov", "bind id=8086:1572\nbind id=8086:1889\n");
	ctx_plan(&c);
	item_is(&c, "0000:03:00.0", VB_ACT_REFUSE, "SR-IOV physical function", "16 VFs enabled",
		NULL);
	/* the other port has SR-IOV off: an ordinary device */
	item_is(&c, "0000:03:00.1", VB_ACT_REBIND, "bound to i40e", NULL);
	/* the E810's VFs are unbound (sriov_drivers_autoprobe=0) */
	item_is(&c, "0000:17:01.0", VB_ACT_BIND, "unbound", NULL);
	ck_assert_uint_eq(c.plan.n, 2 + 8);
	ctx_close(&c);
}
END_TEST

START_TEST(test_desktop_gpu)
{
	struct ctx c;

	ctx_open(&c, "desktop", "bind id=10de:2204 expand=slot\nbind path=00:01.0\n");
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 3);
	item_is(&c, "0000:00:01.0", VB_ACT_REFUSE, "PCI bridge (header type 1)", NULL);
	item_is(&c, "0000:01:00.0", VB_ACT_REBIND, "bound to nvidia", NULL);
	item_is(&c, "0000:01:00.1", VB_ACT_REBIND, "bound to snd_hda_intel", NULL);
	ctx_close(&c);
}
END_TEST

/* Host and ISA/LPC bridges have a normal header, so vfio-pci's probe would
 * take them; they are the host's chipset and are refused all the same. */
START_TEST(test_chipset_bridges)
{
	struct ctx c;

	ctx_open(&c, "desktop", "bind path=00:00.0\nbind path=00:1f.0\nbind path=00:1f.3\n");
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 3);
	item_is(&c, "0000:00:00.0", VB_ACT_REFUSE, "bridge (class 0600)", NULL);
	item_is(&c, "0000:00:1f.0", VB_ACT_REFUSE, "bridge (class 0601)", NULL);
	item_is(&c, "0000:00:1f.3", VB_ACT_REBIND, "bound to snd_hda_intel", NULL);
	ctx_close(&c);
}
END_TEST

START_TEST(test_vanished)
{
	struct ctx c;

	ctx_open(&c, "sel-plan", all_conf);
	remove_device(&c, "0000:00:06.0");
	remove_device(&c, "0000:00:01.0");
	ctx_plan(&c);
	ck_assert_uint_eq(c.plan.n, 10);
	item_is(&c, "0000:00:06.0", VB_ACT_REFUSE, "device vanished", NULL);
	/* the bridge is gone too: vanished wins over "bridge" */
	item_is(&c, "0000:00:01.0", VB_ACT_REFUSE, "device vanished", NULL);
	/* the others are planned as usual */
	item_is(&c, "0000:00:04.0", VB_ACT_BIND, NULL);
	item_is(&c, "0000:00:07.0", VB_ACT_REBIND, NULL);
	ctx_close(&c);
}
END_TEST

START_TEST(test_fresh_state)
{
	struct ctx c;

	ctx_open(&c, "sel-plan", all_conf);
	/* after the scan, xhci_hcd lets 00:06.0 go and 00:04.0 gets a driver */
	fixture_write(c.dir, "sys/bus/pci/devices/0000:00:06.0/uevent",
		      "PCI_CLASS=C0330\nPCI_ID=8086:A1AF\nPCI_SUBSYS_ID=15D9:095D\n"
		      "PCI_SLOT_NAME=0000:00:06.0\n");
	fixture_write(c.dir, "sys/bus/pci/devices/0000:00:04.0/uevent",
		      "DRIVER=vfio-pci\nPCI_CLASS=C0330\nPCI_ID=1234:5678\n"
		      "PCI_SUBSYS_ID=1234:0001\nPCI_SLOT_NAME=0000:00:04.0\n");
	/* The plan works from the scan it is given (no second uevent read per
	 * device: apply reads each device again before it acts); the caller
	 * with an old scan scans again, and the plan follows. */
	ctx_plan(&c);
	item_is(&c, "0000:00:06.0", VB_ACT_REBIND, "bound to xhci_hcd", NULL);
	ctx_rescan(&c);
	ctx_plan(&c);
	item_is(&c, "0000:00:06.0", VB_ACT_BIND, "unbound", NULL);
	item_is(&c, "0000:00:04.0", VB_ACT_NOTHING, "already bound to vfio-pci", NULL);
	ctx_close(&c);
}
END_TEST

struct guard_log {
	unsigned calls;
	char seen[16][VB_PCI_NAME_MAX];
	const char *refuse; /* device name to refuse */
	enum vb_refusal code;
	int err; /* returned for `refuse` instead, when set */
};

static int guard(const struct vb_root *root, const struct vb_config *cfg, struct vb_plan_item *it,
		 void *userdata)
{
	struct guard_log *v = userdata;

	ck_assert_ptr_nonnull(root);
	ck_assert_ptr_nonnull(cfg);
	if (v->calls < 16)
		strcpy(v->seen[v->calls], it->dev->name);
	v->calls++;
	if (strcmp(it->dev->name, v->refuse) != 0)
		return 0;
	if (v->err)
		return v->err;
	vb_plan_refuse(it, v->code, "guarded: %s", vb_refusal_code(v->code));
	return 0;
}

static const struct vb_plan_item *plan_item(const struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->plan.n; i++)
		if (strcmp(c->plan.items[i].dev->name, name) == 0)
			return &c->plan.items[i];
	ck_abort_msg("%s not planned", name);
	return NULL;
}

START_TEST(test_guard)
{
	struct ctx c;
	struct guard_log v = {.refuse = "0000:00:06.0", .code = VB_REFUSE_ROOT_STORAGE};
	const struct vb_plan_guard g = {guard, &v};
	const struct vb_plan_item *it;

	ctx_open(&c, "sel-plan", all_conf);
	c.guards = &g;
	c.n_guards = 1;
	ctx_plan(&c);
	/* asked about every selected device, refused by the plan or not */
	ck_assert_uint_eq(v.calls, 10);
	ck_assert_str_eq(v.seen[0], "0000:00:01.0");
	ck_assert_str_eq(v.seen[9], "0000:01:00.1");
	item_is(&c, "0000:00:06.0", VB_ACT_REFUSE, "guarded: root-storage", NULL);
	it = plan_item(&c, "0000:00:06.0");
	ck_assert_int_eq(it->refusal, VB_REFUSE_ROOT_STORAGE);
	ck_assert_uint_eq(it->refusals, 1u << VB_REFUSE_ROOT_STORAGE);
	item_is(&c, "0000:00:04.0", VB_ACT_BIND, NULL);
	ck_assert_int_eq(plan_item(&c, "0000:00:04.0")->refusals, 0);

	/* a device without an IOMMU group is still checked by the guard: the
	 * storage refusal wins, and both are recorded */
	v.calls = 0;
	v.refuse = "0000:00:02.0";
	ctx_plan(&c);
	it = plan_item(&c, "0000:00:02.0");
	ck_assert_int_eq(it->action, VB_ACT_REFUSE);
	ck_assert_int_eq(it->refusal, VB_REFUSE_ROOT_STORAGE);
	ck_assert_uint_eq(it->refusals,
			  (1u << VB_REFUSE_ROOT_STORAGE) | (1u << VB_REFUSE_NO_IOMMU));
	ck_assert(it->refusals & VB_REFUSALS_STORAGE);

	/* a less important guard refusal does not replace the plan's reason */
	v.code = VB_REFUSE_UNREADABLE;
	ctx_plan(&c);
	it = plan_item(&c, "0000:00:02.0");
	ck_assert_int_eq(it->refusal, VB_REFUSE_NO_IOMMU);
	ck_assert_ptr_nonnull(strstr(it->reason, "no IOMMU group"));
	ck_assert(!(it->refusals & VB_REFUSALS_STORAGE));

	/* a guard that cannot decide refuses (fail closed) */
	v.refuse = "0000:00:04.0";
	v.err = -EIO;
	ctx_plan(&c);
	item_is(&c, "0000:00:04.0", VB_ACT_REFUSE, "cannot tell", NULL);
	ck_assert_int_eq(plan_item(&c, "0000:00:04.0")->refusal, VB_REFUSE_STORAGE_UNKNOWN);

	/* a device already on vfio-pci is guarded too */
	v.refuse = "0000:01:00.0";
	v.err = 0;
	v.code = VB_REFUSE_PROTECTED;
	ctx_plan(&c);
	item_is(&c, "0000:01:00.0", VB_ACT_REFUSE, "guarded: protected", NULL);

	/* no guard: nothing more is refused */
	c.guards = NULL;
	c.n_guards = 0;
	v.calls = 0;
	ctx_plan(&c);
	ck_assert_uint_eq(v.calls, 0);
	item_is(&c, "0000:01:00.0", VB_ACT_NOTHING, NULL);
	ctx_close(&c);
}
END_TEST

/* Every hardware check runs whatever the others found: a bridge without an
 * IOMMU group carries both codes. */
START_TEST(test_refusal_codes)
{
	static const struct {
		const char *dev;
		enum vb_refusal code;
		const char *name;
	} want[] = {
		{"0000:00:01.0", VB_REFUSE_BRIDGE, "bridge"},
		{"0000:00:02.0", VB_REFUSE_NO_IOMMU, "no-iommu-group"},
		{"0000:00:03.0", VB_REFUSE_BRIDGE, "bridge"},
		{"0000:00:05.0", VB_REFUSE_SRIOV_PF, "sriov-pf"},
	};
	struct ctx c;

	ctx_open(&c, "sel-plan", all_conf);
	/* the bridge 00:01.0 loses its IOMMU group too */
	fixture_remove(c.dir, "sys/bus/pci/devices/0000:00:01.0/iommu_group");
	ctx_plan(&c);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct vb_plan_item *it = plan_item(&c, want[i].dev);

		ck_assert_int_eq(it->refusal, want[i].code);
		ck_assert_str_eq(vb_refusal_code(it->refusal), want[i].name);
		ck_assert(it->refusals & (1u << want[i].code));
	}
	ck_assert_uint_eq(plan_item(&c, "0000:00:01.0")->refusals,
			  (1u << VB_REFUSE_BRIDGE) | (1u << VB_REFUSE_NO_IOMMU));
	ck_assert_str_eq(vb_refusal_code(VB_REFUSE_NONE), "");
	ck_assert_str_eq(vb_refusal_code(VB_REFUSE_HW_CHANGED), "hardware-changed");
	ck_assert_str_eq(vb_refusal_code(VB_REFUSE_STORAGE_UNKNOWN), "storage-unknown");
	ctx_close(&c);
}
END_TEST

START_TEST(test_deterministic_order)
{
	static const char reversed[] = "bind path=01:00.0 expand=slot\n"
				       "bind id=8086:154c\n"
				       "bind path=00:06.0\n"
				       "bind path=00:05.0\n"
				       "bind path=00:04.0\n"
				       "bind path=00:03.0\n"
				       "bind path=00:02.0\n"
				       "bind path=00:01.0\n";
	struct ctx a, b;
	size_t i;

	ctx_open(&a, "sel-plan", all_conf);
	ctx_open(&b, "sel-plan", reversed);
	ctx_plan(&a);
	ctx_plan(&b);
	ck_assert_uint_eq(a.plan.n, 10);
	ck_assert_uint_eq(b.plan.n, a.plan.n);
	for (i = 0; i < a.plan.n; i++) {
		if (i > 0)
			ck_assert_int_lt(vb_pci_addr_cmp(&a.plan.items[i - 1].dev->addr,
							 &a.plan.items[i].dev->addr),
					 0);
		ck_assert_str_eq(a.plan.items[i].dev->name, b.plan.items[i].dev->name);
		ck_assert_int_eq(a.plan.items[i].action, b.plan.items[i].action);
		ck_assert_str_eq(a.plan.items[i].reason, b.plan.items[i].reason);
	}
	ck_assert_str_eq(a.plan.items[0].dev->name, "0000:00:01.0");
	ck_assert_str_eq(a.plan.items[9].dev->name, "0000:01:00.1");

	/* building again gives the same plan */
	{
		struct vb_plan_item first = a.plan.items[3];

		ctx_plan(&a);
		ck_assert_str_eq(a.plan.items[3].dev->name, first.dev->name);
		ck_assert_int_eq(a.plan.items[3].action, first.action);
		ck_assert_str_eq(a.plan.items[3].reason, first.reason);
	}
	ctx_close(&a);
	ctx_close(&b);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, test_action_names);
	tcase_add_test(tc, test_each_action);
	tcase_add_test(tc, test_only_selected);
	tcase_add_test(tc, test_sriov_pf_and_vfs);
	tcase_add_test(tc, test_desktop_gpu);
	tcase_add_test(tc, test_chipset_bridges);
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_fresh_state);
	tcase_add_test(tc, test_guard);
	tcase_add_test(tc, test_refusal_codes);
	tcase_add_test(tc, test_deterministic_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* built once in the runner; every forked test copies them */
	fixture_preload("sel-plan");
	fixture_preload("sriov");
	fixture_preload("desktop");

	vb_log_set_max_priority(VB_LOG_ERR);
	sr = srunner_create(plan_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
