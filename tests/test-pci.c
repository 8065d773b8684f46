/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the PCI model (binder/core/pci.c) on the fake sysfs trees:
 * the scan (counts, fields, order), the lazy loaders, vanished devices and
 * damaged sysfs content.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "log.h"
#include "pci.h"
#include "root.h"
#include "simkernel.h"

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_pci_list list;
};

static void ctx_open_dir(struct ctx *c, char *dir)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	simkernel_open(&c->root, c->dir);
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
}

static void ctx_open(struct ctx *c, const char *tree)
{
	ctx_open_dir(c, fixture_tree(tree));
}

static void ctx_close(struct ctx *c)
{
	vb_pci_list_free(&c->list);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static struct vb_pci_dev *dev(const struct ctx *c, const char *name)
{
	return fixture_find_dev(&c->list, name);
}

static char *dev_rel(const char *name, const char *attr)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "sys/bus/pci/devices/%s/%s", name, attr);
	return buf;
}

/* Number of entries in sys/bus/pci/devices, counted without pci.c */
static size_t count_links(const struct ctx *c)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", c->dir);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static void assert_sorted(const struct ctx *c)
{
	size_t i;

	for (i = 1; i < c->list.n; i++)
		ck_assert_msg(vb_pci_addr_cmp(&c->list.devs[i - 1].addr, &c->list.devs[i].addr) < 0,
			      "%s before %s", c->list.devs[i - 1].name, c->list.devs[i].name);
}

/* ------------------------------------------------------------------------ */
/* Addresses */

START_TEST(test_addr_parse)
{
	struct vb_pci_addr a, b;
	char buf[VB_PCI_NAME_MAX];

	ck_assert_int_eq(vb_pci_addr_parse("0000:01:00.1", &a), 0);
	ck_assert_uint_eq(a.domain, 0);
	ck_assert_uint_eq(a.bus, 1);
	ck_assert_uint_eq(a.slot, 0);
	ck_assert_uint_eq(a.func, 1);
	vb_pci_addr_format(&a, buf);
	ck_assert_str_eq(buf, "0000:01:00.1");

	ck_assert_int_eq(vb_pci_addr_parse("10000:e1:1f.7", &a), 0); /* VMD domain */
	vb_pci_addr_format(&a, buf);
	ck_assert_str_eq(buf, "10000:e1:1f.7");

	ck_assert_int_eq(vb_pci_addr_parse("01:00.0", &a), -EINVAL);
	ck_assert_int_eq(vb_pci_addr_parse("0000:01:20.0", &a), -EINVAL);
	ck_assert_int_eq(vb_pci_addr_parse("0000:01:00.8", &a), -EINVAL);
	ck_assert_int_eq(vb_pci_addr_parse("0000:01:00.0 ", &a), -EINVAL);
	ck_assert_int_eq(vb_pci_addr_parse("0000:1:00.0", &a), -EINVAL);
	ck_assert_int_eq(vb_pci_addr_parse("", &a), -EINVAL);

	ck_assert_int_eq(vb_pci_addr_parse_short("3d:00.1", &b), 0);
	ck_assert_uint_eq(b.domain, 0);
	ck_assert_uint_eq(b.bus, 0x3d);
	ck_assert_int_eq(vb_pci_addr_parse_short("0001:3d:00.1", &b), 0);
	ck_assert_uint_eq(b.domain, 1);
	ck_assert_int_eq(vb_pci_addr_parse_short("3d:00", &b), -EINVAL);

	ck_assert_int_eq(vb_pci_addr_parse("0000:01:00.0", &a), 0);
	ck_assert_int_eq(vb_pci_addr_parse("0000:00:1f.0", &b), 0);
	ck_assert_int_gt(vb_pci_addr_cmp(&a, &b), 0);
	ck_assert_int_lt(vb_pci_addr_cmp(&b, &a), 0);
	ck_assert_int_eq(vb_pci_addr_cmp(&a, &a), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Scan */

START_TEST(test_scan_desktop)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	ck_assert_uint_eq(c.list.n, 13);
	ck_assert_uint_eq(c.list.n, count_links(&c));
	assert_sorted(&c);
	ck_assert_str_eq(c.list.devs[0].name, "0000:00:00.0");
	ck_assert_str_eq(c.list.devs[c.list.n - 1].name, "0000:02:00.0");

	d = dev(&c, "0000:01:00.0");
	ck_assert_uint_eq(d->vendor, 0x10de);
	ck_assert_uint_eq(d->device, 0x2204);
	ck_assert_uint_eq(d->subsys_vendor, 0x1458);
	ck_assert_uint_eq(d->subsys_device, 0x403b);
	ck_assert_uint_eq(d->class, 0x030000);
	ck_assert_str_eq(d->driver, "nvidia");
	/* nothing lazy is loaded by the scan */
	ck_assert_uint_eq(d->have, 0);
	ck_assert_int_eq(d->iommu_group, -1);
	ck_assert_int_eq(d->boot_vga, -1);
	ck_assert_int_eq(d->header_type, -1);
	ck_assert_int_eq(d->sriov_numvfs, -1);
	ck_assert_ptr_null(d->physpath);

	d = dev(&c, "0000:01:00.1");
	ck_assert_uint_eq(d->class, 0x040300);
	ck_assert_str_eq(d->driver, "snd_hda_intel");

	d = dev(&c, "0000:00:14.2");
	ck_assert_str_eq(d->driver, "");
	ck_assert_uint_eq(d->class, 0x050000);

	d = dev(&c, "0000:00:14.0"); /* PCI_CLASS=C0330 */
	ck_assert_uint_eq(d->class, 0x0c0330);
	ck_assert_str_eq(d->driver, "xhci_hcd");

	d = dev(&c, "0000:02:00.0");
	ck_assert_uint_eq(d->class, 0x010802);
	ck_assert_str_eq(d->driver, "nvme");
	ck_assert_str_eq(d->name, "0000:02:00.0");
	ctx_close(&c);
}
END_TEST

START_TEST(test_scan_counts)
{
	static const struct {
		const char *tree;
		size_t n;
	} trees[] = {
		{"desktop", 13},
		{"twin-gpu", 14},
		{"proxmox", 28},
		{"sriov", 7 + 16 + 8},
	};
	size_t i;

	for (i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		struct ctx c;

		ctx_open(&c, trees[i].tree);
		ck_assert_msg(c.list.n == trees[i].n, "%s: %zu devices, want %zu", trees[i].tree,
			      c.list.n, trees[i].n);
		ck_assert_uint_eq(c.list.n, count_links(&c));
		assert_sorted(&c);
		ctx_close(&c);
	}
}
END_TEST

START_TEST(test_scan_twin_gpu)
{
	struct ctx c;
	struct vb_pci_dev *a, *b;

	ctx_open(&c, "twin-gpu");
	a = dev(&c, "0000:0a:00.0");
	b = dev(&c, "0000:43:00.0");
	ck_assert_uint_eq(a->vendor, b->vendor);
	ck_assert_uint_eq(a->device, b->device);
	ck_assert_uint_eq(a->subsys_vendor, b->subsys_vendor);
	ck_assert_uint_eq(a->subsys_device, b->subsys_device);
	ck_assert_int_eq(vb_pci_load_all(&c.root, a), 0);
	ck_assert_int_eq(vb_pci_load_all(&c.root, b), 0);
	ck_assert_int_ne(a->iommu_group, b->iommu_group);
	ck_assert_str_eq(a->physpath, "pci0000:00/0000:00:03.1/0000:0a:00.0");
	ck_assert_str_eq(b->physpath,
			 "pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0");
	ck_assert_int_eq(a->boot_vga, 1);
	ck_assert_int_eq(b->boot_vga, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_scan_synthetic)
{
	static const char *const args[] = {"--synthetic", "256", NULL};
	struct ctx c;

	ctx_open_dir(&c, fixture_tree_args(args));
	ck_assert_uint_eq(c.list.n, 256);
	ck_assert_uint_eq(c.list.n, count_links(&c));
	assert_sorted(&c);
	ck_assert_ptr_eq(vb_pci_find(&c.list, &c.list.devs[255].addr), &c.list.devs[255]);
	ck_assert_ptr_eq(vb_pci_find(&c.list, &c.list.devs[117].addr), &c.list.devs[117]);
	ctx_close(&c);
}
END_TEST

/* A big tree: the host build reads it in threads (pci.c, VB_SCAN_THREADS:
 * from 512 devices on a machine with more than one CPU; 600 make two).
 * Every device must get its own identity from its own uevent, and the
 * devices whose uevent is unusable (first, middle and last of the
 * directory: in each thread's part) still come through the slow path. The
 * vendor files all say dead, so the vendor shows which path a device took. */
START_TEST(test_scan_parallel)
{
	static const char *const args[] = {"--synthetic", "600", NULL};
	char *dir = fixture_tree_args(args), devdir[4096], **names = NULL;
	struct vb_pci_list list;
	struct vb_root root;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(devdir, sizeof(devdir), "%s/sys/bus/pci/devices", dir);
	d = opendir(devdir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
		fixture_write(dir, dev_rel(names[n - 1], "vendor"), "0xdead\n");
	}
	closedir(d);
	ck_assert_uint_eq(n, 600);
	/* directory order is the order the threads split the work in */
	fixture_write(dir, dev_rel(names[0], "uevent"), "garbage\n");
	fixture_write(dir, dev_rel(names[n / 2], "uevent"), "garbage\n");
	fixture_write(dir, dev_rel(names[n - 1], "uevent"), "garbage\n");

	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	ck_assert_int_eq(vb_pci_scan(&root, &list), 0);
	ck_assert_uint_eq(list.n, 600);
	for (size_t i = 0; i < list.n; i++) {
		const struct vb_pci_dev *p = &list.devs[i];
		char *ue = fixture_read(dir, dev_rel(p->name, "uevent"));
		char *drv = fixture_readlink(dir, dev_rel(p->name, "driver"));
		const char *id = strstr(ue, "PCI_ID=");
		unsigned v = 0xdead, dv;
		char *dvs;

		if (id) {
			ck_assert_int_eq(sscanf(id, "PCI_ID=%x:%x", &v, &dv), 2);
		} else {
			dvs = fixture_read(dir, dev_rel(p->name, "device"));
			dv = (unsigned)strtoul(dvs, NULL, 16);
			free(dvs);
		}
		ck_assert_msg(p->vendor == v && p->device == dv, "%s: %04x:%04x, want %04x:%04x",
			      p->name, p->vendor, p->device, v, dv);
		ck_assert_str_eq(p->driver, drv ? strrchr(drv, '/') + 1 : "");
		if (i > 0)
			ck_assert_int_lt(vb_pci_addr_cmp(&list.devs[i - 1].addr, &p->addr), 0);
		free(ue);
		free(drv);
	}
	ck_assert_uint_eq(fixture_find_dev(&list, names[n / 2])->vendor, 0xdead);
	vb_pci_list_free(&list);
	vb_root_close(&root);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fixture_cleanup(dir);
}
END_TEST

/* Several domains, a VMD domain (5 hex digits) among them: sorted by domain
 * first, not by name. */
START_TEST(test_scan_domains)
{
	static const char tree[] = "driver nvme class=010802\n"
				   "driver vmd ids=8086:9a0b\n"
				   "dev 0001:00:00.0 id=8086:2020 class=060000\n"
				   "dev 0001:00:02.0 id=8086:2030 class=060400\n"
				   "  dev 0001:05:00.0 id=144d:a80a class=010802 driver=nvme\n"
				   "dev 10000:e1:00.0 id=8086:09ab class=060400\n"
				   "  dev 10000:e2:00.0 id=144d:a80a class=010802 driver=nvme\n"
				   "dev 0000:00:0e.0 id=8086:9a0b class=010400 driver=vmd\n"
				   "dev 0000:00:00.0 id=8086:9a14 class=060000\n";
	static const char *const order[] = {"0000:00:00.0", "0000:00:0e.0", "0001:00:00.0",
					    "0001:00:02.0", "0001:05:00.0", "10000:e1:00.0",
					    "10000:e2:00.0"};
	struct vb_pci_dev *d;
	struct ctx c;
	size_t i;

	ctx_open_dir(&c, fixture_tree_text(tree));
	ck_assert_uint_eq(c.list.n, 7);
	for (i = 0; i < 7; i++)
		ck_assert_str_eq(c.list.devs[i].name, order[i]);
	d = dev(&c, "10000:e2:00.0");
	ck_assert_uint_eq(d->addr.domain, 0x10000);
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), 0);
	ck_assert_str_eq(d->physpath, "pci10000:e1/10000:e1:00.0/10000:e2:00.0");
	ctx_close(&c);
}
END_TEST

START_TEST(test_scan_no_sysfs)
{
	struct vb_root root;
	struct vb_pci_list list;
	char *dir = fixture_tree("desktop");

	fixture_remove(dir, "sys/bus/pci");
	simkernel_open(&root, dir);
	ck_assert_int_eq(vb_pci_scan(&root, &list), -ENOENT);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_find_missing)
{
	struct ctx c;
	struct vb_pci_addr a;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(vb_pci_addr_parse("0000:07:00.0", &a), 0);
	ck_assert_ptr_null(vb_pci_find(&c.list, &a));
	ck_assert_int_eq(vb_pci_addr_parse("0000:00:00.0", &a), 0);
	ck_assert_ptr_eq(vb_pci_find(&c.list, &a), &c.list.devs[0]);
	ctx_close(&c);
}
END_TEST

/* Entries that are not device addresses are ignored. */
START_TEST(test_scan_ignores_junk)
{
	struct ctx c;
	char *dir = fixture_tree("desktop");

	fixture_write(dir, "sys/bus/pci/devices/README", "not a device\n");
	fixture_symlink(dir, "sys/bus/pci/devices/0000:01:00", "../../../devices/pci0000:00");
	fixture_symlink(dir, "sys/bus/pci/devices/0000:0A:00.0",
			"../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
	ctx_open_dir(&c, dir);
	ck_assert_uint_eq(c.list.n, 13);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Lazy loaders */

START_TEST(test_load_group)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, 12);
	ck_assert(d->have & VB_PCI_HAVE_GROUP);
	d = dev(&c, "0000:00:00.0");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, 0);

	/* no IOMMU: no iommu_group link */
	d = dev(&c, "0000:00:14.2");
	fixture_remove(c.dir, dev_rel(d->name, "iommu_group"));
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, -1);

	/* a junk link target */
	d = dev(&c, "0000:00:17.0");
	fixture_remove(c.dir, dev_rel(d->name, "iommu_group"));
	fixture_symlink(c.dir, dev_rel(d->name, "iommu_group"), "../../../kernel/iommu_groups/x1");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), -EINVAL);
	ck_assert(!(d->have & VB_PCI_HAVE_GROUP));
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_cached_until_refresh)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "");
	fixture_remove(c.dir, dev_rel(d->name, "iommu_group"));
	fixture_symlink(c.dir, dev_rel(d->name, "iommu_group"),
			"../../../../kernel/iommu_groups/77");
	fixture_write(c.dir, dev_rel(d->name, "driver_override"), "vfio-pci\n");
	/* loaded once: no re-read */
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, 12);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "");
	/* refresh forgets */
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	ck_assert_uint_eq(d->have, 0);
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, 77);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "vfio-pci");
	ck_assert_str_eq(d->name, "0000:01:00.0");
	ck_assert_uint_eq(d->vendor, 0x10de);
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_boot_vga)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:00:02.0");
	ck_assert_int_eq(vb_pci_load_boot_vga(&c.root, d), 0);
	ck_assert_int_eq(d->boot_vga, 1);
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_boot_vga(&c.root, d), 0);
	ck_assert_int_eq(d->boot_vga, 0);
	d = dev(&c, "0000:01:00.1"); /* not VGA: no attribute */
	ck_assert_int_eq(vb_pci_load_boot_vga(&c.root, d), 0);
	ck_assert_int_eq(d->boot_vga, -1);
	ck_assert(d->have & VB_PCI_HAVE_BOOT_VGA);
	d = dev(&c, "0000:00:02.0");
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	fixture_write(c.dir, dev_rel(d->name, "boot_vga"), "2\n");
	ck_assert_int_eq(vb_pci_load_boot_vga(&c.root, d), -EINVAL);
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_override)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "");
	/* as the kernel stores it */
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, dev_rel(d->name, "driver_override"), "vfio-pci\n", 0),
		0);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "vfio-pci");
	/* kernels before 3.16 have no attribute: no override */
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	fixture_remove(c.dir, dev_rel(d->name, "driver_override"));
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), 0);
	ck_assert_str_eq(d->override, "");
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_physpath)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "proxmox");
	d = dev(&c, "0000:3d:00.0");
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), 0);
	ck_assert_str_eq(d->physpath,
			 "pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3c:08.0/0000:3d:00.0");
	d = dev(&c, "0000:00:14.0");
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), 0);
	ck_assert_str_eq(d->physpath, "pci0000:00/0000:00:14.0");
	d = dev(&c, "0000:18:00.0");
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), 0);
	ck_assert_str_eq(d->physpath, "pci0000:17/0000:17:00.0/0000:18:00.0");
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_header)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "proxmox");
	d = dev(&c, "0000:3b:00.0"); /* switch upstream port */
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 1);
	ck_assert(!vb_pci_is_endpoint(d));
	d = dev(&c, "0000:3d:00.0"); /* multifunction GPU: bit 7 is not the type */
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 0);
	ck_assert(vb_pci_is_endpoint(d));
	d = dev(&c, "0000:00:1f.0"); /* ISA bridge: header 0, class 06 */
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 0);

	/* unreadable/short config: the class decides */
	d = dev(&c, "0000:04:00.0");
	fixture_write(c.dir, dev_rel(d->name, "config"), "\x03");
	ck_assert(!vb_pci_is_endpoint(d)); /* class 0604, nothing loaded */
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 1);
	d = dev(&c, "0000:19:00.0");
	fixture_remove(c.dir, dev_rel(d->name, "config"));
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_header_cardbus)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "sel-plan");
	d = dev(&c, "0000:00:03.0");
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 2);
	ck_assert(!vb_pci_is_endpoint(d));
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_sriov)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "sriov");
	d = dev(&c, "0000:03:00.0");
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, 16);
	d = dev(&c, "0000:03:00.1");
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, 0);
	d = dev(&c, "0000:03:02.0"); /* a VF */
	ck_assert_str_eq(d->driver, "iavf");
	ck_assert_uint_eq(d->device, 0x154c);
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, -1);
	d = dev(&c, "0000:17:01.0"); /* E810 VF, autoprobe off */
	ck_assert_str_eq(d->driver, "");
	d = dev(&c, "0000:00:17.0");
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, -1);
	d = dev(&c, "0000:17:00.0");
	fixture_write(c.dir, dev_rel(d->name, "sriov_numvfs"), "-1\n");
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), -EINVAL);
	ctx_close(&c);
}
END_TEST

START_TEST(test_sriov_many)
{
	struct ctx c;
	struct vb_pci_dev *d;
	struct vb_pci_addr a;

	ctx_open_dir(&c, fixture_tree_vars("sriov", "VFS=256"));
	ck_assert_uint_eq(c.list.n, 7 + 16 + 256);
	assert_sorted(&c);
	d = dev(&c, "0000:17:00.0");
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, 256);
	/* the last VFs sit on the virtual bus 18 */
	ck_assert_int_eq(vb_pci_addr_parse("0000:18:00.7", &a), 0);
	d = vb_pci_find(&c.list, &a);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(vb_pci_load_all(&c.root, d), 0);
	ck_assert_str_eq(d->physpath, "pci0000:16/0000:16:00.0/0000:18:00.7");
	ck_assert_int_ge(d->iommu_group, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_load_all)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_all(&c.root, d), 0);
	ck_assert_uint_eq(d->have, VB_PCI_HAVE_GROUP | VB_PCI_HAVE_BOOT_VGA | VB_PCI_HAVE_OVERRIDE |
					   VB_PCI_HAVE_PHYSPATH | VB_PCI_HAVE_HEADER |
					   VB_PCI_HAVE_SRIOV);
	ck_assert_int_eq(d->iommu_group, 12);
	ck_assert_int_eq(d->boot_vga, 0);
	ck_assert_str_eq(d->override, "");
	ck_assert_str_eq(d->physpath, "pci0000:00/0000:00:01.0/0000:01:00.0");
	ck_assert_int_eq(d->header_type, 0);
	ck_assert_int_eq(d->sriov_numvfs, -1);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Vanished devices, refresh */

START_TEST(test_vanished)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(simkernel_remove_device(&c.root, "0000:01:00.0"), 0);
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/devices/0000:01:00.0"));
	ck_assert(!fixture_exists(c.dir, "sys/bus/pci/drivers/nvidia/0000:01:00.0"));
	ck_assert(!fixture_exists(c.dir, "sys/kernel/iommu_groups/12/devices/0000:01:00.0"));
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_load_boot_vga(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), -ENODEV);
	/* the header type of a GPU follows from its class (no read), and a
	 * missing sriov_numvfs is taken as no SR-IOV without an fstatat: both
	 * leave noticing the vanished device to the loads that read */
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), 0);
	ck_assert_int_eq(d->header_type, 0);
	ck_assert_int_eq(vb_pci_load_sriov(&c.root, d), 0);
	ck_assert_int_eq(d->sriov_numvfs, -1);
	ck_assert_int_eq(vb_pci_load_all(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), -ENODEV);
	/* a fresh scan no longer has it */
	vb_pci_list_free(&c.list);
	ck_assert_int_eq(vb_pci_scan(&c.root, &c.list), 0);
	ck_assert_uint_eq(c.list.n, 12);
	/* a bridge's header type is read: that one notices */
	d = dev(&c, "0000:00:01.0");
	ck_assert_int_eq(simkernel_remove_device(&c.root, "0000:00:01.0"), 0);
	ck_assert_int_eq(vb_pci_load_header(&c.root, d), -ENODEV);
	ctx_close(&c);
}
END_TEST

/* The bus link left dangling (the directory went first). */
START_TEST(test_vanished_dangling_link)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.1");
	fixture_remove(c.dir, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_load_override(&c.root, d), -ENODEV);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), -ENODEV);
	vb_pci_list_free(&c.list);
	ck_assert_int_eq(vb_pci_scan(&c.root, &c.list), 0);
	ck_assert_uint_eq(c.list.n, 12);
	ctx_close(&c);
}
END_TEST

START_TEST(test_refresh_driver)
{
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(vb_pci_load_physpath(&c.root, d), 0);
	ck_assert_int_eq(vb_kernel_write_str(&c.root, "sys/bus/pci/drivers/nvidia/unbind",
					     "0000:01:00.0", 0),
			 0);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	ck_assert_str_eq(d->driver, "");
	ck_assert_ptr_null(d->physpath);
	ck_assert_int_eq(
		vb_kernel_write_str(&c.root, "sys/bus/pci/drivers_probe", "0000:01:00.0", 0), 0);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	ck_assert_str_eq(d->driver, "nvidia");
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Damaged sysfs content */

START_TEST(test_uevent_malformed_lines)
{
	struct ctx c;
	struct vb_pci_dev *d;
	char *dir = fixture_tree("desktop");

	fixture_write(dir, dev_rel("0000:01:00.0", "uevent"),
		      "garbage without equals\n"
		      "=\n"
		      "DRIVER=nvidia\n"
		      "PCI_CLASS=30000\n"
		      "PCI_ID=10DE:2204\n"
		      "PCI_SUBSYS_ID=zzzz:403B\n"
		      "\n"
		      "PCI_SLOT_NAME=0000:01:00.0\n"
		      "UNKNOWN_KEY=1\n"
		      "MODALIAS=pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00");
	ctx_open_dir(&c, dir);
	ck_assert_uint_eq(c.list.n, 13);
	d = dev(&c, "0000:01:00.0");
	ck_assert_uint_eq(d->vendor, 0x10de);
	ck_assert_uint_eq(d->device, 0x2204);
	ck_assert_uint_eq(d->class, 0x030000);
	ck_assert_str_eq(d->driver, "nvidia");
	ck_assert_uint_eq(d->subsys_vendor, 0); /* malformed: unknown, not garbage */
	ck_assert_uint_eq(d->subsys_device, 0);
	ck_assert_int_eq(vb_pci_refresh(&c.root, d), 0);
	ck_assert_str_eq(d->driver, "nvidia");
	ctx_close(&c);
}
END_TEST

/* uevent without PCI_ID: the scan falls back to the single-value files. */
START_TEST(test_uevent_incomplete)
{
	struct ctx c;
	struct vb_pci_dev *d;
	char *dir = fixture_tree("desktop");

	fixture_write(dir, dev_rel("0000:01:00.1", "uevent"),
		      "DRIVER=snd_hda_intel\nPCI_CLASS=40300\nPCI_ID=10DE:1AEFX\n");
	ctx_open_dir(&c, dir);
	ck_assert_uint_eq(c.list.n, 13);
	d = dev(&c, "0000:01:00.1");
	ck_assert_uint_eq(d->vendor, 0x10de);
	ck_assert_uint_eq(d->device, 0x1aef);
	ck_assert_uint_eq(d->subsys_vendor, 0x1458);
	ck_assert_uint_eq(d->class, 0x040300);
	ck_assert_str_eq(d->driver, "snd_hda_intel");
	ctx_close(&c);
}
END_TEST

/* A device directory without uevent is still a device (identity from the
 * attribute files, driver from the link). */
START_TEST(test_no_uevent)
{
	struct ctx c;
	struct vb_pci_dev *d;
	char *dir = fixture_tree("desktop");

	fixture_remove(dir, dev_rel("0000:01:00.0", "uevent"));
	ctx_open_dir(&c, dir);
	ck_assert_uint_eq(c.list.n, 13);
	d = dev(&c, "0000:01:00.0");
	ck_assert_uint_eq(d->vendor, 0x10de);
	ck_assert_uint_eq(d->device, 0x2204);
	ck_assert_uint_eq(d->subsys_vendor, 0x1458);
	ck_assert_uint_eq(d->subsys_device, 0x403b);
	ck_assert_uint_eq(d->class, 0x030000);
	ck_assert_str_eq(d->driver, "nvidia");
	ck_assert_int_eq(vb_pci_load_group(&c.root, d), 0);
	ck_assert_int_eq(d->iommu_group, 12);
	ctx_close(&c);
}
END_TEST

/* Refreshing such a device must not report it as vanished. */
START_TEST(test_no_uevent_refresh)
{
	struct ctx c;
	struct vb_pci_dev *d;
	char *dir = fixture_tree("desktop");

	fixture_remove(dir, dev_rel("0000:01:00.0", "uevent"));
	ctx_open_dir(&c, dir);
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_ne(vb_pci_refresh(&c.root, d), -ENODEV);
	ctx_close(&c);
}
END_TEST

/* Neither uevent nor readable identity files: skipped, the rest scanned. */
START_TEST(test_no_identity)
{
	struct ctx c;
	char *dir = fixture_tree("desktop");

	fixture_remove(dir, dev_rel("0000:00:14.2", "uevent"));
	fixture_write(dir, dev_rel("0000:00:14.2", "vendor"), "bogus\n");
	ctx_open_dir(&c, dir);
	ck_assert_uint_eq(c.list.n, 12);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stable topology */

static const struct {
	const char *physpath, *want;
} topologies[] = {
	/* the brief's example: bus numbers below the root are dropped */
	{"pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0",
	 "0000:40:03.1/00.0/04.0/00.0"},
	{"pci0000:00/0000:00:10.0", "0000:00:10.0"},
	{"/sys/devices/pci0000:00/0000:00:1f.3", "0000:00:1f.3"},
	/* the same device after a card behind an earlier port renumbered it */
	{"pci0000:40/0000:40:03.1/0000:42:00.0/0000:43:04.0/0000:44:00.0",
	 "0000:40:03.1/00.0/04.0/00.0"},
	/* upper case is read, lower case written */
	{"PCI0000:0A/0000:0A:1F.3", "0000:0a:1f.3"},
	{"pci0001:40/0001:40:01.1/0001:41:00.0/0001:42:08.0/0001:43:00.3",
	 "0001:40:01.1/00.0/08.0/00.3"},
	/* Intel VMD: the nested root bus number stays, its domain does not */
	{"pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:01.0/10000:e1:00.0",
	 "0000:00:0e.0/e0:01.0/00.0"},
	{"pci0000:00/0000:00:0e.0/pci10001:00/10001:00:02.0", "0000:00:0e.0/00:02.0"},
	/* a platform host controller (ARM) ahead of the root bus is left out */
	{"platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0", "0000:00:00.0/00.0"},
	{"pci-0/pci0000:00/0000:00:00.0", "0000:00:00.0"},
	/* a 5-digit top-level domain (the kernel prints %04x) */
	{"pci12345:00/12345:00:01.0", "12345:00:01.0"},
};

START_TEST(test_topology_from_physpath)
{
	char buf[VB_TOPOLOGY_MAX];

	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(vb_topology_from_physpath(topologies[_i].physpath, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, topologies[_i].want);
}
END_TEST

static const char *const bad_physpaths[] = {
	"",
	"pci0000:00",                                        /* a host bridge, no device */
	"0000:00:01.0",                                      /* no root bus */
	"platform/foo",                                      /* no PCI at all */
	"pci0000:00/0000:01:00.0",                           /* first device off the root bus */
	"pci0000:00/0001:00:01.0",                           /* domain differs from the root's */
	"pci0000:00/0000:00:01.0/0001:01:00.0",              /* domain changes below a bridge */
	"pci0000:00/0000:00:01.0/usb1",                      /* not a PCI device below */
	"pci0000:00/0000:00:01.0/",                          /* trailing '/' */
	"pci0000:00//0000:00:01.0",                          /* empty component */
	"pci0000:00/0000:00:20.0",                           /* slot out of range */
	"pci0000:00/0000:00:01.8",                           /* function out of range */
	"pci0000:00/0000:00:01",                             /* no function */
	"pci0000:0/0000:00:01.0",                            /* short root bus */
	"pci000:00/0000:00:01.0",                            /* short domain */
	"pci0000:00/pci0000:01/0000:01:00.0",                /* host bridge under host bridge */
	"pci0000:00/0000:00:0e.0/pci10000:e0",               /* nested host bridge, no device */
	"pci0000:00/0000:00:0e.0/pci10000:e0/10000:e1:00.0", /* off the nested root */
};

START_TEST(test_topology_bad_physpath)
{
	char buf[VB_TOPOLOGY_MAX];

	strcpy(buf, "untouched");
	ck_assert_msg(vb_topology_from_physpath(bad_physpaths[_i], buf, sizeof(buf)) == -EINVAL,
		      "%s", bad_physpaths[_i]);
	ck_assert_str_eq(buf, "untouched");
}
END_TEST

START_TEST(test_topology_buffer)
{
	static const char p[] = "pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0";
	char deep[2048], buf[VB_TOPOLOGY_MAX];
	size_t o, i;

	/* exactly big enough, and one byte short */
	ck_assert_int_eq(vb_topology_from_physpath(p, buf, 28), 0);
	ck_assert_str_eq(buf, "0000:40:03.1/00.0/04.0/00.0");
	strcpy(buf, "untouched");
	ck_assert_int_eq(vb_topology_from_physpath(p, buf, 27), -ENOBUFS);
	ck_assert_str_eq(buf, "untouched");
	ck_assert_int_eq(vb_topology_from_physpath(NULL, buf, sizeof(buf)), -EINVAL);

	/* 24 hops fit VB_TOPOLOGY_MAX (127 bytes), 25 do not */
	o = (size_t)snprintf(deep, sizeof(deep), "pci0000:00/0000:00:01.0");
	for (i = 1; i < 24; i++)
		o += (size_t)snprintf(deep + o, sizeof(deep) - o, "/0000:%02zx:00.0", i);
	ck_assert_int_eq(vb_topology_from_physpath(deep, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), 12 + 23 * 5);
	snprintf(deep + o, sizeof(deep) - o, "/0000:%02zx:00.0", i);
	ck_assert_int_eq(vb_topology_from_physpath(deep, buf, sizeof(buf)), -ENOBUFS);
}
END_TEST

START_TEST(test_topology_tree)
{
	char buf[VB_TOPOLOGY_MAX];
	struct ctx c;
	struct vb_pci_dev *d;

	ctx_open(&c, "proxmox");
	d = dev(&c, "0000:3d:00.0");
	ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0000:3a:00.0/00.0/08.0/00.0");
	d = dev(&c, "0000:00:14.0");
	ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0000:00:14.0");
	/* every device of the tree has one, and it ends in its slot.function */
	for (size_t i = 0; i < c.list.n; i++) {
		char tail[8];

		d = &c.list.devs[i];
		ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), 0);
		snprintf(tail, sizeof(tail), "%02x.%x", d->addr.slot, d->addr.func);
		ck_assert_str_eq(buf + strlen(buf) - 4, tail);
	}
	ctx_close(&c);

	/* vanished: removed, or only the bus link left dangling */
	ctx_open(&c, "desktop");
	d = dev(&c, "0000:01:00.1");
	ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0000:00:01.0/00.1");
	fixture_remove(c.dir, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.1");
	strcpy(buf, "untouched");
	ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), -ENODEV);
	ck_assert_str_eq(buf, "untouched");
	d = dev(&c, "0000:01:00.0");
	ck_assert_int_eq(simkernel_remove_device(&c.root, "0000:01:00.0"), 0);
	ck_assert_int_eq(vb_pci_topology(&c.root, d, buf, sizeof(buf)), -ENODEV);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc;

	tc = tcase_create("addr");
	tcase_add_test(tc, test_addr_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("scan");
	tcase_add_test(tc, test_scan_desktop);
	tcase_add_test(tc, test_scan_counts);
	tcase_add_test(tc, test_scan_twin_gpu);
	tcase_add_test(tc, test_scan_synthetic);
	tcase_add_test(tc, test_scan_parallel);
	tcase_add_test(tc, test_scan_domains);
	tcase_add_test(tc, test_scan_no_sysfs);
	tcase_add_test(tc, test_find_missing);
	tcase_add_test(tc, test_scan_ignores_junk);
	suite_add_tcase(s, tc);

	tc = tcase_create("lazy");
	tcase_add_test(tc, test_load_group);
	tcase_add_test(tc, test_load_cached_until_refresh);
	tcase_add_test(tc, test_load_boot_vga);
	tcase_add_test(tc, test_load_override);
	tcase_add_test(tc, test_load_physpath);
	tcase_add_test(tc, test_load_header);
	tcase_add_test(tc, test_load_header_cardbus);
	tcase_add_test(tc, test_load_sriov);
	tcase_add_test(tc, test_sriov_many);
	tcase_add_test(tc, test_load_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("vanish");
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_vanished_dangling_link);
	tcase_add_test(tc, test_refresh_driver);
	suite_add_tcase(s, tc);

	tc = tcase_create("damaged");
	tcase_add_test(tc, test_uevent_malformed_lines);
	tcase_add_test(tc, test_uevent_incomplete);
	tcase_add_test(tc, test_no_uevent);
	tcase_add_test(tc, test_no_uevent_refresh);
	tcase_add_test(tc, test_no_identity);
	suite_add_tcase(s, tc);

	tc = tcase_create("topology");
	tcase_add_loop_test(tc, test_topology_from_physpath, 0,
			    sizeof(topologies) / sizeof(topologies[0]));
	tcase_add_loop_test(tc, test_topology_bad_physpath, 0,
			    sizeof(bad_physpaths) / sizeof(bad_physpaths[0]));
	tcase_add_test(tc, test_topology_buffer);
	tcase_add_test(tc, test_topology_tree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pci_suite());
	int failed;

	vb_log_set_max_priority(VB_LOG_DEBUG);
	srunner_run_all(sr, CK_NORMAL);
	fixture_unload_all();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
