/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of applying and releasing (binder/core/apply.c) against the
 * simulated kernel (tests/simkernel.c) on the fake sysfs trees, and of the
 * simulated kernel itself. Plans are built by hand (one item per named
 * device, the action following its driver) so that these tests exercise
 * apply alone; one test runs the whole config -> select -> plan -> apply.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "pci.h"
#include "plan.h"
#include "root.h"
#include "select.h"
#include "simkernel.h"

#define MAX_ITEMS 64

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_pci_list list;
	struct vb_rule rules[MAX_ITEMS];
	struct vb_config cfg;
	struct vb_plan plan;
	struct vb_plan_item items[MAX_ITEMS];
	struct vb_outcome out[MAX_ITEMS];
	struct vb_apply_opts opts;
	struct simkernel_log log;
	char *text; /* what apply logged, "<prio>vfio-bind: msg" lines */
	int log_fd;
};

static void ctx_scan(struct ctx *c)
{
	vb_pci_list_free(&c->list);
	c->plan.n = 0;
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
}

static void ctx_open_dir(struct ctx *c, char *dir)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->log_fd = -1;
	simkernel_open(&c->root, c->dir);
	for (i = 0; i < MAX_ITEMS; i++)
		c->rules[i].line = 10 + i;
	c->cfg.file = "test.conf";
	c->cfg.rules = c->rules;
	c->cfg.n_rules = MAX_ITEMS;
	c->plan.items = c->items;
	ctx_scan(c);
}

static void ctx_open(struct ctx *c, const char *tree)
{
	ctx_open_dir(c, fixture_tree(tree));
}

static void ctx_close(struct ctx *c)
{
	simkernel_log_free(&c->log);
	free(c->text);
	vb_pci_list_free(&c->list);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static struct vb_pci_dev *dev(const struct ctx *c, const char *name)
{
	return fixture_find_dev(&c->list, name);
}

/* Adds an item; action -1: what the planner would say from the driver. */
static size_t add(struct ctx *c, const char *name, int action)
{
	struct vb_plan_item *it = &c->items[c->plan.n];
	struct vb_pci_dev *d = dev(c, name);

	ck_assert_uint_lt(c->plan.n, MAX_ITEMS);
	memset(it, 0, sizeof(*it));
	it->dev = d;
	it->rule = (int)c->plan.n;
	it->via = VB_VIA_RULE;
	if (action >= 0)
		it->action = action;
	else if (strcmp(d->driver, "vfio-pci") == 0)
		it->action = VB_ACT_NOTHING;
	else
		it->action = d->driver[0] ? VB_ACT_REBIND : VB_ACT_BIND;
	snprintf(it->reason, sizeof(it->reason), "test");
	return c->plan.n++;
}

/* add() for each name of a NULL-terminated list */
static void plan(struct ctx *c, ...)
{
	const char *name;
	va_list ap;

	va_start(ap, c);
	while ((name = va_arg(ap, const char *)))
		add(c, name, -1);
	va_end(ap);
}

static void log_start(struct ctx *c)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/apply.log", c->dir);
	c->log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(c->log_fd, 0);
	vb_log_set_kmsg_fd(c->log_fd);
	vb_log_set_max_priority(VB_LOG_DEBUG);
}

static void log_end(struct ctx *c)
{
	vb_log_set_kmsg_fd(-1);
	close(c->log_fd);
	c->log_fd = -1;
	free(c->text);
	c->text = fixture_read(c->dir, "apply.log");
	ck_assert_ptr_nonnull(c->text);
	fputs(c->text, stderr);
	simkernel_log_free(&c->log);
	simkernel_log_read(c->dir, &c->log);
}

static int apply(struct ctx *c)
{
	int r;

	simkernel_log_clear(c->dir);
	log_start(c);
	r = vb_apply(&c->root, &c->cfg, &c->plan, &c->opts, c->out);
	log_end(c);
	return r;
}

static int release(struct ctx *c, ...)
{
	struct vb_pci_dev *devs[MAX_ITEMS];
	const char *name;
	size_t n = 0;
	va_list ap;
	int r;

	va_start(ap, c);
	while ((name = va_arg(ap, const char *)))
		devs[n++] = dev(c, name);
	va_end(ap);
	simkernel_log_clear(c->dir);
	log_start(c);
	r = vb_release(&c->root, devs, n, &c->opts, c->out);
	log_end(c);
	return r;
}

/* The driver the device's link names now ("" unbound). */
static const char *driver_of(const struct ctx *c, const char *name)
{
	static char buf[4][64];
	static int k;
	char rel[128], *link, *b;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", name);
	link = fixture_readlink(c->dir, rel);
	k = (k + 1) % 4;
	buf[k][0] = 0;
	if (link) {
		b = strrchr(link, '/');
		snprintf(buf[k], sizeof(buf[k]), "%s", b ? b + 1 : link);
		free(link);
	}
	return buf[k];
}

static const char *override_of(const struct ctx *c, const char *name)
{
	static char buf[4][64];
	static int k;
	char rel[128], *s;
	size_t n;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver_override", name);
	s = fixture_read(c->dir, rel);
	ck_assert_ptr_nonnull(s);
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s", s);
	free(s);
	n = strlen(buf[k]);
	if (n && buf[k][n - 1] == '\n')
		buf[k][n - 1] = 0;
	return buf[k];
}

static void assert_logged(const struct ctx *c, const char *needle)
{
	ck_assert_msg(c->text && strstr(c->text, needle), "log lacks \"%s\"", needle);
}

/* The log line about `name` (the first one), at priority prio. */
static void assert_line(const struct ctx *c, int prio, const char *name, const char *needle)
{
	char want[64];
	const char *p = c->text;

	snprintf(want, sizeof(want), "<%d>vfio-bind: %s", prio, name);
	for (p = c->text; p && (p = strstr(p, want)); p++) {
		const char *eol = strchr(p, '\n');
		const char *hit = strstr(p, needle);

		if (hit && (!eol || hit < eol))
			return;
	}
	ck_abort_msg("no <%d> line for %s with \"%s\"", prio, name, needle);
}

static void assert_ok(const struct ctx *c, size_t i, const char *driver_after)
{
	ck_assert_msg(c->out[i].result == VB_RES_OK, "%s: result %d step %s err %d",
		      c->items[i].dev->name, c->out[i].result,
		      c->out[i].step ? c->out[i].step : "-", c->out[i].err);
	ck_assert_str_eq(c->out[i].driver_after, driver_after);
}

static void assert_failed(const struct ctx *c, size_t i, const char *step, int err)
{
	ck_assert_msg(c->out[i].result == VB_RES_FAILED, "%s: result %d, want FAILED",
		      c->items[i].dev->name, c->out[i].result);
	ck_assert_ptr_nonnull(c->out[i].step);
	ck_assert_str_eq(c->out[i].step, step);
	ck_assert_int_eq(c->out[i].err, err);
}

/* The device is exactly as in desktop.tree: nothing half-done. */
static void assert_untouched(const struct ctx *c, const char *name, const char *driver)
{
	ck_assert_str_eq(driver_of(c, name), driver);
	ck_assert_str_eq(override_of(c, name), "(null)");
}

static void load_vfio(struct ctx *c)
{
	ck_assert_int_eq(c->root.ops->load_module(&c->root, "vfio-pci"), 0);
	simkernel_log_clear(c->dir);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------------ */
/* The simulated kernel */

START_TEST(test_sim_override)
{
	struct ctx c;
	const char *p = "sys/bus/pci/devices/0000:01:00.0/driver_override";

	ctx_open(&c, "desktop");
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "vfio-pci\n", 0), 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio-pci");
	/* no unbind, no load */
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "nvidia");
	ck_assert(!fixture_exists(c.dir, "sys/module/vfio_pci"));
	/* a zero-length write changes nothing */
	ck_assert_int_eq(vb_kernel_write(&c.root, p, "", 0, 0), 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio-pci");
	/* up to the first newline */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "pci-stub\nmore", 0), 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "pci-stub");
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "\n", 0), 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "(null)");
	/* through the real device directory too */
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/"
					     "driver_override",
					     "vfio-pci", 0),
			 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:09:00.0/driver_override",
					     "x", 0),
			 -ENOENT);
	simkernel_log_read(c.dir, &c.log);
	ck_assert_uint_eq(c.log.n, 6);
	ck_assert_str_eq(c.log.v[3].value, "\n");
	ck_assert_int_eq(c.log.v[5].result, -ENOENT);
	ctx_close(&c);
}
END_TEST

START_TEST(test_sim_bind_unbind)
{
	struct ctx c;
	char *uevent;

	ctx_open(&c, "desktop");
	/* unbind: only from the driver the device is on */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/i915/unbind", "0000:01:00.0", 0),
		-ENODEV);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0\n", 0),
			 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "");
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/nvidia/0000:01:00.0"));
	uevent = fixture_read(c.dir, "sys/bus/pci/devices/0000:01:00.0/uevent");
	ck_assert_ptr_null(strstr(uevent, "DRIVER="));
	ck_assert_ptr_nonnull(strstr(uevent, "PCI_ID=10DE:2204\n"));
	free(uevent);

	/* bind: match table, busy, missing device */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/i915/bind", "0000:01:00.0", 0),
		-ENODEV);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/bind", "0000:09:00.0", 0),
		-ENODEV);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/bind", "0000:01:00.0", 0),
		0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "nvidia");
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/bind", "0000:01:00.0", 0),
		-EBUSY);
	uevent = fixture_read(c.dir, "sys/bus/pci/devices/0000:01:00.0/uevent");
	ck_assert_int_eq(strncmp(uevent, "DRIVER=nvidia\nPCI_CLASS=30000\n", 30), 0);
	free(uevent);

	/* an override restricts matching to the named driver... */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:01:00.0/driver_override",
					     "i915", 0),
			 0);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/bind", "0000:01:00.0", 0),
		-ENODEV);
	/* ...which then matches any device */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/i915/bind", "0000:01:00.0", 0),
		0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "i915");
	ctx_close(&c);
}
END_TEST

START_TEST(test_sim_drivers_probe)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	/* nothing matches the SRAM controller: still success */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:00:14.2", 0), 0);
	ck_assert_str_eq(driver_of(&c, "0000:00:14.2"), "");
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:09:00.0", 0),
		-ENODEV);
	/* unbound audio function: the first matching driver attaches */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/snd_hda_intel/unbind",
					     "0000:01:00.1", 0),
			 0);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:01:00.1", 0), 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "snd_hda_intel");
	/* bound: nothing happens */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:01:00.1", 0), 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "snd_hda_intel");
	ctx_close(&c);
}
END_TEST

START_TEST(test_sim_vfio_module)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/vfio-pci"));
	ck_assert_int_eq(c.root.ops->load_module(&c.root, "no-such-module"), -ENOENT);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/snd_hda_intel/unbind",
					     "0000:01:00.1", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:01:00.0/driver_override",
					     "vfio-pci", 0),
			 0);
	/* registration attaches to overridden unbound devices only */
	ck_assert_int_eq(c.root.ops->load_module(&c.root, "vfio_pci"), 0);
	ck_assert(fixture_exists(c.dir, "sys/module/vfio_pci/initstate"));
	ck_assert(fixture_exists(c.dir, "sys/bus/pci/drivers/vfio-pci/bind"));
	ck_assert(fixture_exists(c.dir, "sys/bus/pci/drivers/vfio-pci/module"));
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "");
	ck_assert_str_eq(driver_of(&c, "0000:00:14.2"), "");
	/* vfio-pci matches only through an override */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:01:00.1", 0),
			 -ENODEV);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:01:00.1", 0), 0);
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "snd_hda_intel");
	/* loaded: loading again is fine; the real fake-root check agrees */
	ck_assert_int_eq(c.root.ops->load_module(&c.root, "vfio-pci"), 0);
	ck_assert_int_eq(vb_load_module_fake_root(&c.root, "vfio-pci"), 0);
	ctx_close(&c);
}
END_TEST

/* vfio-pci's probe: bridges, no IOMMU group, PF with VFs. */
START_TEST(test_sim_vfio_probe)
{
	struct ctx c;

	ctx_open(&c, "sriov");
	load_vfio(&c);
	/* a bridge */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/pcieport/unbind",
					     "0000:00:02.0", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:00:02.0/driver_override",
					     "vfio-pci", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:00:02.0", 0),
			 -EINVAL);
	/* a PF with VFs */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/i40e/unbind", "0000:03:00.0", 0),
		0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:03:00.0/driver_override",
					     "vfio-pci", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:03:00.0", 0),
			 -EBUSY);
	/* no IOMMU group */
	fixture_remove(c.dir, "sys/bus/pci/devices/0000:17:01.0/iommu_group");
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:17:01.0/driver_override",
					     "vfio-pci", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:17:01.0", 0),
			 -EINVAL);
	/* a VF of a PF without autoprobe needs an override */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/iavf/bind", "0000:17:01.1", 0),
		-ENODEV);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:17:01.1/driver_override",
					     "vfio-pci", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:17:01.1", 0),
			 0);
	ck_assert_str_eq(driver_of(&c, "0000:17:01.1"), "vfio-pci");
	/* disabling SR-IOV removes the VFs */
	ck_assert_int_eq(vb_kernel_write_str(
				 &c.root, "sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "0", 0),
			 0);
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/devices/0000:03:02.0"));
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/devices/0000:03:00.0/virtfn0"));
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/iavf/0000:03:02.0"));
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/vfio-pci/bind",
					     "0000:03:00.0", 0),
			 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_sim_faults)
{
	struct ctx c;
	const char *p = "sys/bus/pci/devices/0000:01:00.0/driver_override";
	double t0;

	ctx_open(&c, "desktop");
	/* counted, and seen by the children of timed writes */
	simkernel_fail("driver_override", EACCES, 2);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "a", 100000), -EACCES);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "a", 0), -EACCES);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "a", 0), 0);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "a");
	/* value filter */
	simkernel_fail("nvidia/unbind=0000:01:00.1", -EBUSY, -1);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.1", 0),
			 -EBUSY);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0", 0),
			 0);
	/* short write: half the value reaches the kernel */
	simkernel_short_write("0000:01:00.0/driver_override", 1);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "vfio-pci", 0), -EIO);
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio");
	/* ignored */
	simkernel_ignore("drivers_probe", 1);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:01:00.0", 0), 0);
	/* hang: the timed write gives up */
	simkernel_hang("0000:01:00.0/remove");
	t0 = now_ms();
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/devices/0000:01:00.0/remove", "1", 200),
		-ETIMEDOUT);
	ck_assert_double_lt(now_ms() - t0, 5000);
	ck_assert(fixture_exists(c.dir, "sys/bus/pci/devices/0000:01:00.0"));
	/* vanish after one more write */
	simkernel_vanish("0000:01:00.1", 1);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "x", 0), 0);
	ck_assert(fixture_exists(c.dir, "sys/bus/pci/devices/0000:01:00.1"));
	ck_assert_int_eq(vb_kernel_write_str(&c.root, p, "y", 0), 0);
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/devices/0000:01:00.1"));
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/snd_hda_intel/0000:01:00.1"));
	ck_assert(!fixture_exists(c.dir, "sys/kernel/iommu_groups/12/devices/0000:01:00.1"));
	ck_assert(fixture_exists(c.dir, "sys/kernel/iommu_groups/12/devices/0000:01:00.0"));
	/* module */
	simkernel_module_fails("vfio_pci", EPERM);
	ck_assert_int_eq(c.root.ops->load_module(&c.root, "vfio-pci"), -EPERM);
	ck_assert(!fixture_exists(c.dir, "sys/module/vfio_pci"));

	simkernel_log_read(c.dir, &c.log);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "remove", NULL), 7);
	ck_assert_int_eq(c.log.v[7].result, SIMKERNEL_HUNG);
	ck_assert_int_eq(simkernel_log_find_last(&c.log, "@load_module", "vfio-pci"),
			 (long)c.log.n - 1);
	ck_assert_int_eq(c.log.v[c.log.n - 1].result, -EPERM);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "driver_override", NULL), 6);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Apply */

START_TEST(test_bind_unbound)
{
	struct ctx c;

	ctx_open(&c, "proxmox");
	plan(&c, "0000:3d:00.0", NULL); /* GPU, nouveau not loaded: unbound */
	ck_assert_int_eq(c.items[0].action, VB_ACT_BIND);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 0, "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:3d:00.0"), "vfio-pci");
	ck_assert_str_eq(override_of(&c, "0000:3d:00.0"), "vfio-pci");
	ck_assert(fixture_exists(c.dir, "sys/module/vfio_pci"));
	/* override, load (registration attached it): no unbind, no bind */
	ck_assert_uint_eq(c.log.n, 2);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "0000:3d:00.0/driver_override", "vfio-pci"),
			 0);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "@load_module", "vfio-pci"), 1);
	assert_line(&c, VB_LOG_INFO, "0000:3d:00.0 [10de:1eb1] test.conf:10", "bind: ok");
	ctx_close(&c);
}
END_TEST

START_TEST(test_rebind_bound)
{
	struct ctx c;
	long first_unbind, last_override;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(c.items[0].action, VB_ACT_REBIND);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 0, "vfio-pci");
	assert_ok(&c, 1, "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.1"), "vfio-pci");
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/nvidia/0000:01:00.0"));
	ck_assert(fixture_exists(c.dir, "sys/bus/pci/drivers/vfio-pci/0000:01:00.1"));
	/* the other devices were not touched */
	ck_assert_str_eq(driver_of(&c, "0000:00:02.0"), "i915");
	ck_assert_str_eq(driver_of(&c, "0000:00:1f.3"), "snd_hda_intel");

	/* every override before the first unbind, every unbind before the load */
	last_override = simkernel_log_find_last(&c.log, "driver_override", NULL);
	first_unbind = simkernel_log_find(&c.log, 0, "unbind", NULL);
	ck_assert_int_eq(last_override, 1);
	ck_assert_int_gt(first_unbind, last_override);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "drivers/nvidia/unbind", "0000:01:00.0"), 2);
	ck_assert_int_eq(
		simkernel_log_find(&c.log, 0, "drivers/snd_hda_intel/unbind", "0000:01:00.1"), 3);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "@load_module", NULL), 4);
	ck_assert_uint_eq(c.log.n, 5);
	assert_line(&c, VB_LOG_INFO, "0000:01:00.0", "test.conf:10: rebind nvidia -> vfio-pci: ok");
	assert_line(&c, VB_LOG_INFO, "0000:01:00.1",
		    "test.conf:11: rebind snd_hda_intel -> vfio-pci: ok");
	ctx_close(&c);
}
END_TEST

/* vfio-pci already loaded: phase 4 binds through drivers/vfio-pci/bind. */
START_TEST(test_rebind_vfio_loaded)
{
	struct ctx c;

	ctx_open(&c, "twin-gpu");
	load_vfio(&c);
	plan(&c, "0000:43:00.0", "0000:43:00.1", NULL);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 0, "vfio-pci");
	assert_ok(&c, 1, "vfio-pci");
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "drivers/vfio-pci/bind", "0000:43:00.0"), 5);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "drivers/vfio-pci/bind", "0000:43:00.1"), 6);
	/* the twin on the host stays */
	ck_assert_str_eq(driver_of(&c, "0000:0a:00.0"), "nvidia");
	ck_assert_str_eq(driver_of(&c, "0000:0a:00.1"), "snd_hda_intel");
	ck_assert_str_eq(override_of(&c, "0000:0a:00.0"), "(null)");
	ctx_close(&c);
}
END_TEST

START_TEST(test_nothing_to_do)
{
	struct ctx c;

	ctx_open(&c, "sel-plan");
	plan(&c, "0000:01:00.0", NULL); /* on vfio-pci in the tree */
	ck_assert_int_eq(c.items[0].action, VB_ACT_NOTHING);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 0, "vfio-pci");
	ck_assert_uint_eq(c.log.n, 0);
	assert_line(&c, VB_LOG_INFO, "0000:01:00.0", "already bound to vfio-pci");
	ctx_close(&c);
}
END_TEST

START_TEST(test_second_apply_noop)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(apply(&c), 0);
	ck_assert_uint_gt(c.log.n, 0);

	ctx_scan(&c);
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(c.items[0].action, VB_ACT_NOTHING);
	ck_assert_int_eq(c.items[1].action, VB_ACT_NOTHING);
	ck_assert_int_eq(apply(&c), 0);
	ck_assert_uint_eq(c.log.n, 0);
	assert_ok(&c, 0, "vfio-pci");
	assert_ok(&c, 1, "vfio-pci");
	ctx_close(&c);
}
END_TEST

START_TEST(test_dry_run)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", "0000:00:14.2", NULL);
	c.opts.dry_run = true;
	ck_assert_int_eq(apply(&c), 0);
	ck_assert_uint_eq(c.log.n, 0); /* no write, no module load */
	ck_assert_int_eq(c.out[0].result, VB_RES_SKIPPED);
	ck_assert_int_eq(c.out[1].result, VB_RES_SKIPPED);
	ck_assert_int_eq(c.out[2].result, VB_RES_SKIPPED);
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	assert_untouched(&c, "0000:00:14.2", "");
	ck_assert(!fixture_exists(c.dir, "sys/module/vfio_pci"));
	assert_line(&c, VB_LOG_INFO, "0000:01:00.0", "dry run: rebind nvidia -> vfio-pci: would");
	assert_line(&c, VB_LOG_INFO, "0000:00:14.2", "dry run: bind: would");
	ctx_close(&c);
}
END_TEST

START_TEST(test_refuse)
{
	struct ctx c;
	size_t i;

	ctx_open(&c, "proxmox");
	i = add(&c, "0000:3b:00.0", VB_ACT_REFUSE);
	snprintf(c.items[i].reason, sizeof(c.items[i].reason), "PCI bridge (header type 1)");
	plan(&c, "0000:3d:00.0", NULL);
	ck_assert_int_eq(apply(&c), 0);
	ck_assert_int_eq(c.out[0].result, VB_RES_SKIPPED);
	ck_assert_str_eq(c.out[0].driver_after, "pcieport");
	assert_ok(&c, 1, "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:3b:00.0"), "pcieport");
	ck_assert_uint_eq(simkernel_log_count(&c.log, "0000:3b:00.0/driver_override", NULL), 0);
	assert_line(&c, VB_LOG_WARNING, "0000:3b:00.0", "refused: PCI bridge (header type 1)");
	ctx_close(&c);
}
END_TEST

/* Registration attaches overridden unbound devices, nothing else. */
START_TEST(test_module_attaches)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", "0000:00:14.2", NULL);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 2, "vfio-pci");
	ck_assert_uint_eq(simkernel_log_count(&c.log, "drivers/vfio-pci/bind", NULL), 0);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "drivers_probe", NULL), 0);
	/* unselected unbound devices stay unbound */
	ck_assert_str_eq(driver_of(&c, "0000:00:1f.0"), "");
	ctx_close(&c);
}
END_TEST

/* The plan is older than the device: apply follows the device. */
START_TEST(test_changed_since_plan)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:00:14.2", NULL);
	/* someone unbinds the GPU and binds the SRAM device meanwhile */
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root,
					     "sys/bus/pci/devices/0000:00:14.2/driver_override",
					     "xhci_hcd", 0),
			 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/xhci_hcd/bind",
					     "0000:00:14.2", 0),
			 0);
	ck_assert_int_eq(apply(&c), 0);
	assert_ok(&c, 0, "vfio-pci");
	assert_ok(&c, 1, "vfio-pci");
	ck_assert_uint_eq(simkernel_log_count(&c.log, "nvidia/unbind", NULL), 0);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "xhci_hcd/unbind", "0000:00:14.2"), 1);
	assert_line(&c, VB_LOG_NOTICE, "0000:00:14.2", "changed since planning");
	ctx_close(&c);
}
END_TEST

/* bind says yes but no driver attaches: verify catches it, and the device
 * goes back to its driver. */
START_TEST(test_verify_failure)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	load_vfio(&c);
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	simkernel_ignore("drivers/vfio-pci/bind=0000:01:00.0", 1);
	ck_assert_int_eq(apply(&c), 1);
	assert_failed(&c, 0, "verify", -ENODEV);
	ck_assert_str_eq(c.out[0].driver_after, "nvidia");
	assert_ok(&c, 1, "vfio-pci");
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	assert_line(&c, VB_LOG_ERR, "0000:01:00.0", "failed at verify");
	assert_logged(&c, "bind reported success but the device is on no driver");
	assert_logged(&c, "driver_override restored to (null); back on nvidia");
	ctx_close(&c);
}
END_TEST

/* vfio-pci's probe refuses: the bind error is the probe's. */
START_TEST(test_probe_refuses)
{
	struct ctx c;

	ctx_open(&c, "sriov");
	load_vfio(&c);
	fixture_remove(c.dir, "sys/bus/pci/devices/0000:17:01.0/iommu_group");
	plan(&c, "0000:03:00.0", "0000:17:01.0", "0000:17:01.1", NULL);
	ck_assert_int_eq(apply(&c), 2);
	assert_failed(&c, 0, "bind", -EBUSY);  /* PF with 16 VFs */
	assert_failed(&c, 1, "bind", -EINVAL); /* no IOMMU group */
	assert_ok(&c, 2, "vfio-pci");
	assert_untouched(&c, "0000:03:00.0", "i40e");
	assert_untouched(&c, "0000:17:01.0", "");
	ctx_close(&c);
}
END_TEST

START_TEST(test_release)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(apply(&c), 0);
	ctx_scan(&c);
	ck_assert_int_eq(release(&c, "0000:01:00.0", "0000:01:00.1", "0000:00:02.0", NULL), 0);
	ck_assert_int_eq(c.out[0].result, VB_RES_OK);
	ck_assert_str_eq(c.out[0].driver_after, "nvidia");
	ck_assert_int_eq(c.out[1].result, VB_RES_OK);
	ck_assert_str_eq(c.out[1].driver_after, "snd_hda_intel");
	ck_assert_int_eq(c.out[2].result, VB_RES_OK); /* never ours */
	ck_assert_str_eq(c.out[2].driver_after, "i915");
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	assert_untouched(&c, "0000:01:00.1", "snd_hda_intel");
	/* clear, unbind, probe; nothing for the iGPU */
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "0000:01:00.0/driver_override", "\n"), 0);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "vfio-pci/unbind", "0000:01:00.0"), 1);
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "drivers_probe", "0000:01:00.0"), 2);
	ck_assert_uint_eq(c.log.n, 6);
	assert_line(&c, VB_LOG_INFO, "0000:01:00.0", "release: ok, now on nvidia");
	assert_line(&c, VB_LOG_INFO, "0000:00:02.0", "nothing to do");
	ctx_close(&c);
}
END_TEST

/* No native driver loaded: released, left unbound. */
START_TEST(test_release_unbound)
{
	struct ctx c;

	ctx_open(&c, "proxmox");
	plan(&c, "0000:3d:00.0", NULL);
	ck_assert_int_eq(apply(&c), 0);
	ctx_scan(&c);
	ck_assert_int_eq(release(&c, "0000:3d:00.0", NULL), 0);
	ck_assert_int_eq(c.out[0].result, VB_RES_OK);
	ck_assert_str_eq(c.out[0].driver_after, "");
	assert_untouched(&c, "0000:3d:00.0", "");
	assert_logged(&c, "no driver attached");
	ctx_close(&c);
}
END_TEST

START_TEST(test_release_faults)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(apply(&c), 0);
	ctx_scan(&c);
	simkernel_fail("vfio-pci/unbind=0000:01:00.0", EBUSY, 1);
	c.opts.dry_run = false;
	ck_assert_int_eq(release(&c, "0000:01:00.0", "0000:01:00.1", NULL), 1);
	ck_assert_int_eq(c.out[0].result, VB_RES_FAILED);
	ck_assert_str_eq(c.out[0].step, "unbind");
	ck_assert_int_eq(c.out[0].err, -EBUSY);
	/* still exactly as before the release */
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_int_eq(c.out[1].result, VB_RES_OK);
	ck_assert_str_eq(c.out[1].driver_after, "snd_hda_intel");

	/* dry run */
	ctx_scan(&c);
	c.opts.dry_run = true;
	ck_assert_int_eq(release(&c, "0000:01:00.0", NULL), 0);
	ck_assert_int_eq(c.out[0].result, VB_RES_SKIPPED);
	ck_assert_uint_eq(c.log.n, 0);
	ctx_close(&c);
}
END_TEST

/* config -> select -> plan -> apply on the twin GPUs: only the one named by
 * its path goes to vfio-pci. */
START_TEST(test_pipeline)
{
	static const char conf[] =
		"# the guest's GPU\n"
		"bind topology=pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/"
		"0000:43:00.0 expand=slot\n";
	struct vb_config cfg;
	struct vb_diags diags;
	struct vb_sel *sel;
	struct vb_plan p;
	struct ctx c;
	size_t i;

	ctx_open(&c, "twin-gpu");
	ck_assert_int_eq(vb_config_parse("pipeline.conf", conf, strlen(conf), &cfg, &diags), 0);
	sel = calloc(c.list.n, sizeof(*sel));
	ck_assert_ptr_nonnull(sel);
	ck_assert_int_eq(vb_select(&c.root, &cfg, &c.list, sel, &diags), 0);
	ck_assert_int_eq(vb_plan_build(&c.root, &cfg, &c.list, sel, NULL, 0, &p), 0);
	ck_assert_uint_eq(p.n, 2);
	simkernel_log_clear(c.dir);
	log_start(&c);
	ck_assert_int_eq(vb_apply(&c.root, &cfg, &p, &c.opts, c.out), 0);
	log_end(&c);
	for (i = 0; i < p.n; i++)
		ck_assert_int_eq(c.out[i].result, VB_RES_OK);
	ck_assert_str_eq(driver_of(&c, "0000:43:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:43:00.1"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:0a:00.0"), "nvidia");
	ck_assert_str_eq(driver_of(&c, "0000:0a:00.1"), "snd_hda_intel");
	assert_logged(&c, "pipeline.conf:2 (expand=slot)");
	vb_plan_free(&p);
	free(sel);
	vb_config_free(&cfg);
	vb_diags_free(&diags);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Faults: one device fails, the other is still processed */

static const struct {
	const char *step;
	const char *pattern; /* fault on 0000:01:00.0 */
	int err;
} fault_cases[] = {
	{"driver_override", "0000:01:00.0/driver_override", EACCES},
	{"driver_override", "0000:01:00.0/driver_override", EBUSY},
	{"driver_override", "0000:01:00.0/driver_override", ENODEV},
	{"driver_override", "0000:01:00.0/driver_override", EINVAL},
	{"driver_override", "0000:01:00.0/driver_override", EIO},
	{"unbind", "drivers/nvidia/unbind=0000:01:00.0", EACCES},
	{"unbind", "drivers/nvidia/unbind=0000:01:00.0", EBUSY},
	{"unbind", "drivers/nvidia/unbind=0000:01:00.0", ENODEV},
	{"unbind", "drivers/nvidia/unbind=0000:01:00.0", EINVAL},
	{"unbind", "drivers/nvidia/unbind=0000:01:00.0", EIO},
	{"bind", "drivers/vfio-pci/bind=0000:01:00.0", EACCES},
	{"bind", "drivers/vfio-pci/bind=0000:01:00.0", EBUSY},
	{"bind", "drivers/vfio-pci/bind=0000:01:00.0", ENODEV},
	{"bind", "drivers/vfio-pci/bind=0000:01:00.0", EINVAL},
	{"bind", "drivers/vfio-pci/bind=0000:01:00.0", EIO},
};

START_TEST(test_fault)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	if (strcmp(fault_cases[_i].step, "bind") == 0)
		load_vfio(&c); /* else registration attaches, no bind write */
	plan(&c, "0000:01:00.0", "0000:01:00.1", "0000:00:14.2", NULL);
	simkernel_fail(fault_cases[_i].pattern, fault_cases[_i].err, 1);
	ck_assert_int_eq(apply(&c), 1);
	assert_failed(&c, 0, fault_cases[_i].step, -fault_cases[_i].err);
	ck_assert_str_eq(c.out[0].driver_after, "nvidia");
	assert_ok(&c, 1, "vfio-pci");
	assert_ok(&c, 2, "vfio-pci");
	/* no device half-done */
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	assert_line(&c, VB_LOG_ERR, "0000:01:00.0",
		    "test.conf:10: rebind nvidia -> vfio-pci: failed at");
	assert_logged(&c, vb_strerror(fault_cases[_i].err));
	ctx_close(&c);
}
END_TEST

/* A short override write stores half the value: it is put back. */
START_TEST(test_fault_short_write)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	simkernel_short_write("0000:01:00.0/driver_override", 1);
	ck_assert_int_eq(apply(&c), 1);
	assert_failed(&c, 0, "driver_override", -EIO);
	assert_ok(&c, 1, "vfio-pci");
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	ck_assert_int_eq(simkernel_log_find(&c.log, 0, "0000:01:00.0/driver_override", "\n"), 1);
	assert_logged(&c, "driver_override restored to (null)");
	ctx_close(&c);
}
END_TEST

/* The GPU's audio function disappears after n writes (n = _i / 2; odd _i:
 * vfio-pci loaded before, so phase 4 writes bind). The writes are: the two
 * overrides, the two unbinds, then (vfio-pci loaded) the two binds. */
START_TEST(test_fault_vanish)
{
	struct ctx c;
	int n = _i / 2, writes = _i % 2 ? 6 : 4;

	ctx_open(&c, "desktop");
	if (_i % 2)
		load_vfio(&c);
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	simkernel_vanish("0000:01:00.1", n);
	if (n >= writes) {
		/* never reached: both bound */
		ck_assert_int_eq(apply(&c), 0);
		assert_ok(&c, 1, "vfio-pci");
		ctx_close(&c);
		return;
	}
	ck_assert_int_eq(apply(&c), 1);
	assert_ok(&c, 0, "vfio-pci");
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/devices/0000:01:00.1"));
	ck_assert_int_eq(c.out[1].result, VB_RES_FAILED);
	ck_assert_int_eq(c.out[1].err, -ENODEV);
	ck_assert_str_eq(c.out[1].step, n < 2 ? "driver_override" : n < 4 ? "unbind" : "bind");
	ck_assert_str_eq(c.out[1].driver_after, "");
	assert_line(&c, VB_LOG_ERR, "0000:01:00.1", "device vanished");
	ctx_close(&c);
}
END_TEST

/* Vanished between the scan and apply (before any write). */
START_TEST(test_fault_vanish_before)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", NULL);
	ck_assert_int_eq(simkernel_remove_device(&c.root, "0000:01:00.1"), 0);
	ck_assert_int_eq(apply(&c), 1);
	assert_ok(&c, 0, "vfio-pci");
	assert_failed(&c, 1, "driver_override", -ENODEV);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "0000:01:00.1", NULL), 0);
	assert_line(&c, VB_LOG_ERR, "0000:01:00.1", "device vanished");
	ctx_close(&c);
}
END_TEST

/* An unbind that never returns: given up after the timeout, the override
 * stays (so no host driver takes the device), the rest goes on. */
START_TEST(test_fault_unbind_hangs)
{
	struct ctx c;
	double t0, ms;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:00:14.2", NULL);
	simkernel_hang("drivers/nvidia/unbind");
	c.opts.unbind_timeout_ms = 200;
	t0 = now_ms();
	ck_assert_int_eq(apply(&c), 1);
	ms = now_ms() - t0;
	ck_assert_double_ge(ms, 200);
	ck_assert_double_lt(ms, 10000);
	assert_failed(&c, 0, "unbind", -ETIMEDOUT);
	assert_ok(&c, 1, "vfio-pci");
	ck_assert_str_eq(override_of(&c, "0000:01:00.0"), "vfio-pci");
	ck_assert_str_eq(driver_of(&c, "0000:01:00.0"), "nvidia");
	ck_assert_int_eq(c.log.v[simkernel_log_find(&c.log, 0, "nvidia/unbind", NULL)].result,
			 SIMKERNEL_HUNG);
	/* nothing more was written to the hung device */
	ck_assert_uint_eq(simkernel_log_count(&c.log, "0000:01:00.0/driver_override", NULL), 1);
	assert_line(&c, VB_LOG_ERR, "0000:01:00.0", "failed at unbind");
	assert_logged(&c, "driver_override stays vfio-pci");
	ctx_close(&c);
}
END_TEST

/* Every bound device of a tree with many devices, up to MAX_ITEMS. */
static size_t plan_all_bound(struct ctx *c)
{
	for (size_t i = 0; i < c->list.n && c->plan.n < MAX_ITEMS; i++) {
		const struct vb_pci_dev *d = &c->list.devs[i];

		if (d->driver[0] && strcmp(d->driver, "pcieport") != 0)
			add(c, d->name, -1);
	}
	return c->plan.n;
}

/* Timed unbinds cost one process for the whole run, not one per device:
 * every unbind is written by the same writer child. */
START_TEST(test_unbind_processes_constant)
{
	struct ctx c;
	size_t n;

	ctx_open_dir(&c, fixture_tree_args((const char *const[]){"--synthetic", "256", NULL}));
	n = plan_all_bound(&c);
	ck_assert_uint_ge(n, 40);
	c.opts.unbind_timeout_ms = 5000;
	ck_assert_int_eq(apply(&c), 0);
	simkernel_log_read(c.dir, &c.log);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "unbind", NULL), n);
	ck_assert_uint_eq(simkernel_log_count_pids(&c.log, "unbind", NULL), 1);
	ck_assert_int_ne(c.log.v[simkernel_log_find(&c.log, 0, "unbind", NULL)].pid, getpid());
	/* the untimed writes stay in this process */
	ck_assert_uint_eq(simkernel_log_count_pids(&c.log, "driver_override", NULL), 1);
	for (size_t i = 0; i < n; i++)
		assert_ok(&c, i, "vfio-pci");
	ctx_close(&c);
}
END_TEST

/* A write that times out costs one more process: its writer is abandoned
 * and one new writer does every later unbind. */
START_TEST(test_unbind_processes_after_timeout)
{
	char pattern[64];
	struct ctx c;
	size_t n;

	ctx_open_dir(&c, fixture_tree_args((const char *const[]){"--synthetic", "256", NULL}));
	n = plan_all_bound(&c);
	ck_assert_uint_ge(n, 40);
	/* the third device's unbind */
	snprintf(pattern, sizeof(pattern), "unbind=%s", c.items[2].dev->name);
	simkernel_hang(pattern);
	c.opts.unbind_timeout_ms = 200;
	ck_assert_int_eq(apply(&c), 1);
	assert_failed(&c, 2, "unbind", -ETIMEDOUT);
	assert_ok(&c, 1, "vfio-pci");
	assert_ok(&c, n - 1, "vfio-pci");
	simkernel_log_read(c.dir, &c.log);
	ck_assert_uint_eq(simkernel_log_count(&c.log, "unbind", NULL), n);
	ck_assert_uint_eq(simkernel_log_count_pids(&c.log, "unbind", NULL), 2);
	ctx_close(&c);
}
END_TEST

/* vfio-pci cannot be loaded: every pending device fails and goes back. */
START_TEST(test_fault_module)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.0", "0000:01:00.1", "0000:00:14.2", NULL);
	simkernel_module_fails("vfio-pci", ENOENT);
	ck_assert_int_eq(apply(&c), 3);
	assert_failed(&c, 0, "load vfio-pci", -ENOENT);
	assert_failed(&c, 1, "load vfio-pci", -ENOENT);
	assert_failed(&c, 2, "load vfio-pci", -ENOENT);
	ck_assert_str_eq(c.out[0].driver_after, "nvidia");
	ck_assert_str_eq(c.out[1].driver_after, "snd_hda_intel");
	ck_assert_str_eq(c.out[2].driver_after, "");
	assert_untouched(&c, "0000:01:00.0", "nvidia");
	assert_untouched(&c, "0000:01:00.1", "snd_hda_intel");
	assert_untouched(&c, "0000:00:14.2", "");
	assert_line(&c, VB_LOG_ERR, "0000:01:00.0", "failed at load vfio-pci");
	assert_logged(&c, "back on nvidia");
	ctx_close(&c);
}
END_TEST

/* Why vfio-pci did not load, from the command line and the module dir. */
START_TEST(test_fault_module_explained)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	plan(&c, "0000:01:00.1", NULL);
	fixture_write(c.dir, "proc/cmdline",
		      "root=/dev/sda1 module_blacklist=nouveau,vfio_pci quiet\n");
	simkernel_module_fails("vfio-pci", EPERM);
	ck_assert_int_eq(apply(&c), 1);
	assert_line(&c, VB_LOG_ERR, "cannot load vfio-pci",
		    "module_blacklist=nouveau,vfio_pci on the kernel command line forbids it");

	/* not blacklisted, but missing from the (initramfs's) module dir */
	fixture_write(c.dir, "proc/cmdline", "root=/dev/sda1 modprobe.blacklist=nouveau\n");
	fixture_write(c.dir, "proc/sys/kernel/osrelease", "6.12.9-amd64\n");
	fixture_write(
		c.dir, "lib/modules/6.12.9-amd64/modules.dep",
		"kernel/drivers/vfio/pci/vfio-pci-core.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n"
		"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz:\n");
	simkernel_module_fails("vfio-pci", ENOENT);
	ck_assert_int_eq(apply(&c), 1);
	assert_line(&c, VB_LOG_ERR, "cannot load vfio-pci",
		    "vfio-pci is not in /lib/modules/6.12.9-amd64");

	/* there, and not forbidden: the error itself */
	fixture_write(c.dir, "lib/modules/6.12.9-amd64/modules.dep",
		      "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n");
	simkernel_module_fails("vfio-pci", EIO);
	ck_assert_int_eq(apply(&c), 1);
	assert_line(&c, VB_LOG_ERR, "cannot load vfio-pci:", "Input/output error");
	ctx_close(&c);
}
END_TEST

/* Already-bound devices stay OK when the module fails for the others. */
START_TEST(test_fault_module_partial)
{
	struct ctx c;

	ctx_open(&c, "sel-plan");
	plan(&c, "0000:01:00.0", "0000:00:06.0", NULL);
	/* sel-plan has vfio-pci loaded: make the "load" fail anyway */
	simkernel_module_fails("vfio_pci", EPERM);
	ck_assert_int_eq(apply(&c), 1);
	assert_ok(&c, 0, "vfio-pci");
	assert_failed(&c, 1, "load vfio-pci", -EPERM);
	assert_untouched(&c, "0000:00:06.0", "xhci_hcd");
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *apply_suite(void)
{
	Suite *s = suite_create("apply");
	TCase *tc;

	tc = tcase_create("simkernel");
	tcase_add_test(tc, test_sim_override);
	tcase_add_test(tc, test_sim_bind_unbind);
	tcase_add_test(tc, test_sim_drivers_probe);
	tcase_add_test(tc, test_sim_vfio_module);
	tcase_add_test(tc, test_sim_vfio_probe);
	tcase_add_test(tc, test_sim_faults);
	suite_add_tcase(s, tc);

	tc = tcase_create("apply");
	tcase_add_test(tc, test_bind_unbound);
	tcase_add_test(tc, test_rebind_bound);
	tcase_add_test(tc, test_rebind_vfio_loaded);
	tcase_add_test(tc, test_nothing_to_do);
	tcase_add_test(tc, test_second_apply_noop);
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_refuse);
	tcase_add_test(tc, test_module_attaches);
	tcase_add_test(tc, test_changed_since_plan);
	tcase_add_test(tc, test_verify_failure);
	tcase_add_test(tc, test_probe_refuses);
	tcase_add_test(tc, test_pipeline);
	suite_add_tcase(s, tc);

	tc = tcase_create("release");
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_release_unbound);
	tcase_add_test(tc, test_release_faults);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_loop_test(tc, test_fault, 0, sizeof(fault_cases) / sizeof(fault_cases[0]));
	tcase_add_test(tc, test_fault_short_write);
	tcase_add_loop_test(tc, test_fault_vanish, 0, 14);
	tcase_add_test(tc, test_fault_vanish_before);
	tcase_add_test(tc, test_fault_unbind_hangs);
	tcase_add_test(tc, test_unbind_processes_constant);
	tcase_add_test(tc, test_unbind_processes_after_timeout);
	tcase_add_test(tc, test_fault_module);
	tcase_add_test(tc, test_fault_module_partial);
	tcase_add_test(tc, test_fault_module_explained);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(apply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
