/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the diagnostics (binder/host/diagnose.c), the initramfs
 * reader (binder/host/initramfs.c) and `vfio-bind doctor` (doctor.c), on the
 * fake trees of tests/sysfs plus what a test adds: IOMMU class entries,
 * proc/interrupts, BAR resource files, modprobe.d files, a kernel module tree
 * (tests/kmod/mkmodtree, built once) and initramfs images written here.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "diagnose.h"
#include "doctor.h"
#include "fixture.h"
#include "initramfs.h"
#include "log.h"
#include "mapping.h"
#include "pci.h"
#include "recipe.h"
#include "root.h"

#define KVER "6.1.0-18-amd64"

/* ------------------------------------------------------------------------ */
/* Helpers */

static const char *srcdir(void)
{
	const char *s = getenv("VB_SRCDIR");

	return s && *s ? s : ".";
}

static char *path_join(const char *a, const char *b)
{
	char *r;

	ck_assert_int_ge(asprintf(&r, "%s/%s", a, b), 0);
	return r;
}

/* Runs argv (no shell); stdin/stdout redirected to files when given. */
static int run(const char *const argv[], const char *in, const char *out)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (in) {
			int fd = open(in, O_RDONLY);
			if (fd < 0 || dup2(fd, 0) < 0)
				_exit(126);
		}
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
		} else if (null >= 0) {
			dup2(null, 1);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* A kernel module tree for KVER, built once in the runner process and copied
 * into the roots that need it. */
static char *kernel_tpl;

static void kernel_setup(void)
{
	char *mk = path_join(srcdir(), "tests/kmod/mkmodtree");
	char tpl[] = "/tmp/vb-kernel-XXXXXX";
	const char *argv[] = {mk, tpl, KVER, "6.1", NULL};

	ck_assert_ptr_nonnull(mkdtemp(tpl));
	ck_assert_int_eq(run(argv, NULL, NULL), 0);
	kernel_tpl = strdup(tpl);
	free(mk);
}

static void kernel_teardown(void)
{
	fixture_cleanup(kernel_tpl);
	kernel_tpl = NULL;
}

static void add_kernel(const char *root)
{
	char *src, *dst;

	ck_assert_ptr_nonnull(kernel_tpl);
	src = path_join(kernel_tpl, "lib");
	dst = path_join(root, "lib");
	ck_assert_int_eq(fixture_copy_tree(src, dst), 0);
	free(src);
	free(dst);
}

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_pci_list list;
	struct vb_diags f;
};

static void ctx_open(struct ctx *c, const char *tree)
{
	memset(c, 0, sizeof(*c));
	c->dir = fixture_tree(tree);
	ck_assert_int_eq(vb_root_open(&c->root, c->dir), 0);
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
	vb_diags_init(&c->f, NULL);
}

static void ctx_close(struct ctx *c)
{
	vb_diags_free(&c->f);
	vb_pci_list_free(&c->list);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

static struct vb_pci_dev *dev(struct ctx *c, const char *name)
{
	struct vb_pci_addr a;
	struct vb_pci_dev *d;

	ck_assert_int_eq(vb_pci_addr_parse(name, &a), 0);
	d = vb_pci_find(&c->list, &a);
	ck_assert_msg(d, "no device %s", name);
	return d;
}

/* fixture_write() with the parent directories created. */
static void put(const char *root, const char *relpath, const char *content)
{
	char *p = path_join(root, relpath);

	for (char *q = p + strlen(root) + 1; (q = strchr(q, '/')); q++) {
		*q = 0;
		ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
			      strerror(errno));
		*q = '/';
	}
	free(p);
	fixture_write(root, relpath, content);
}

static void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(hay && strstr(hay, needle), "'%s' not in:\n%s", needle, hay ? hay : "(null)");
}

/* ------------------------------------------------------------------------ */
/* cpio images */

static void cpio_entry(FILE *f, const char *name, const char *data, size_t len, unsigned mode)
{
	size_t nlen = strlen(name) + 1, hlen;

	hlen = (size_t)fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
			       1u, mode, 0u, 0u, 1u, 0u, len, 0u, 0u, 0u, 0u, nlen, 0u);
	ck_assert_uint_eq(hlen, 110);
	fwrite(name, 1, nlen, f);
	for (size_t k = (110 + nlen) % 4; k && k < 4; k++)
		fputc(0, f);
	fwrite(data, 1, len, f);
	for (size_t k = len % 4; k && k < 4; k++)
		fputc(0, f);
}

/* One archive with the given files (NULL-terminated name/content pairs),
 * padded to 512 bytes as the kernel's tools do. */
static void cpio_write(const char *path, const char *const *files)
{
	FILE *f = fopen(path, "wb");
	long end;

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; files[i]; i += 2)
		cpio_entry(f, files[i], files[i + 1], strlen(files[i + 1]), 0100644);
	cpio_entry(f, "TRAILER!!!", "", 0, 0);
	end = ftell(f);
	while (end++ % 512)
		fputc(0, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void concat(const char *out, const char *a, const char *b)
{
	char buf[4096];
	FILE *o = fopen(out, "wb");

	ck_assert_ptr_nonnull(o);
	for (const char *p = a; p; p = p == a ? b : NULL) {
		FILE *i = fopen(p, "rb");
		size_t n;

		ck_assert_ptr_nonnull(i);
		while ((n = fread(buf, 1, sizeof(buf), i)) > 0)
			fwrite(buf, 1, n, o);
		fclose(i);
	}
	ck_assert_int_eq(fclose(o), 0);
}

/* etc/vfio-bind.mappings of the next image written (NULL: none). */
static const char *image_mappings;

/* boot/initrd.img-KVER under root: an uncompressed microcode archive, then
 * the main archive compressed with `compressor` ("gzip", or NULL: none).
 * conf NULL: the image has no vfio-bind at all; snapshot NULL: none. */
static void write_initramfs_snap(const char *root, const char *compressor, const char *conf,
				 const char *snapshot)
{
	char *early = path_join(root, "early.cpio"), *main_ = path_join(root, "main.cpio");
	char *z = path_join(root, "main.cpio.z");
	char *img = path_join(root, "boot/initrd.img-" KVER);
	const char *ucode[] = {"kernel/x86/microcode/GenuineIntel.bin", "ucode", NULL};
	const char *with[] = {"usr/lib/vfio-bind/vfio-bind-early",
			      "\177ELF",
			      "scripts/init-top/00-vfio-bind",
			      "#!/bin/sh\n",
			      "etc/vfio-bind.conf",
			      conf,
			      "init",
			      "#!/bin/sh\n",
			      NULL,
			      NULL,
			      NULL,
			      NULL,
			      NULL};
	size_t n = 8;

	if (snapshot)
		with[n++] = "etc/vfio-bind.snapshot", with[n++] = snapshot;
	if (image_mappings)
		with[n++] = "etc/vfio-bind.mappings", with[n++] = image_mappings;
	const char *without[] = {"init", "#!/bin/sh\n", "bin/busybox", "\177ELF", NULL};

	put(root, "boot/.keep", "");
	cpio_write(early, ucode);
	cpio_write(main_, conf ? with : without);
	if (compressor) {
		const char *argv[] = {compressor, "-c", NULL};
		ck_assert_int_eq(run(argv, main_, z), 0);
		concat(img, early, z);
	} else {
		concat(img, early, main_);
	}
	unlink(early);
	unlink(main_);
	unlink(z);
	free(early);
	free(main_);
	free(z);
	free(img);
}

static void write_initramfs(const char *root, const char *compressor, const char *conf)
{
	write_initramfs_snap(root, compressor, conf, NULL);
}

/* ------------------------------------------------------------------------ */
/* IOMMU */

START_TEST(test_no_iommu_summary)
{
	struct vb_iommu_info info;
	const struct vb_diag *x;
	char msg[512], hint[1024];
	struct ctx c;

	ctx_open(&c, "desktop");
	fixture_remove(c.dir, "sys/kernel/iommu_groups");
	put(c.dir, "proc/cpuinfo", "vendor_id\t: GenuineIntel\n");
	put(c.dir, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_uint_eq(info.n_groups, 0);
	/* one error for the machine, not one per device */
	ck_assert_uint_eq(c.f.n, 1);
	ck_assert_uint_eq(c.f.n_errors, 1);
	x = vb_diags_find(&c.f, VB_F_NO_IOMMU, NULL);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->dev, "");
	assert_contains(x->message, "no IOMMU group");
	assert_contains(x->hint, "VT-d");
	assert_contains(x->hint, "intel_iommu=on");
	assert_contains(x->hint, "iommu=pt is optional");

	ck_assert(vb_diag_no_iommu(&c.root, msg, sizeof(msg), hint, sizeof(hint)));
	assert_contains(msg, "no IOMMU group");
	assert_contains(hint, "intel_iommu=on");

	/* AMD: firmware only; an explicit off is named */
	put(c.dir, "proc/cpuinfo", "vendor_id\t: AuthenticAMD\n");
	put(c.dir, "proc/cmdline", "root=/dev/sda1 amd_iommu=off\n");
	ck_assert(vb_diag_no_iommu(&c.root, msg, sizeof(msg), hint, sizeof(hint)));
	assert_contains(hint, "remove amd_iommu=off");
	assert_contains(hint, "AMD-Vi");
	ck_assert_ptr_null(strstr(hint, "intel_iommu"));
	ctx_close(&c);
}
END_TEST

START_TEST(test_iommu_groups_present)
{
	struct vb_iommu_info info;
	char msg[512];
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert(!vb_diag_no_iommu(&c.root, msg, sizeof(msg), NULL, 0));
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_uint_gt(info.n_groups, 0);
	ck_assert_int_eq(info.kind, VB_IOMMU_NONE); /* the tree has no sys/class/iommu */
	ck_assert_int_eq(info.irq_remap, -1);
	ck_assert_uint_eq(c.f.n, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_interrupt_remapping)
{
	struct vb_iommu_info info;
	struct ctx c;

	ctx_open(&c, "desktop");
	/* Intel, ecap with IR (bit 3) */
	put(c.dir, "sys/class/iommu/dmar0/intel-iommu/ecap", "f050da\n");
	put(c.dir, "sys/class/iommu/dmar1/intel-iommu/ecap", "1e\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.kind, VB_IOMMU_INTEL);
	ck_assert_str_eq(info.units, "dmar0 dmar1");
	ck_assert_int_eq(info.irq_remap, 1);
	assert_contains(info.irq_remap_how, "ecap");
	ck_assert_uint_eq(c.f.n, 0);

	/* a unit without IR: off, with a warning */
	put(c.dir, "sys/class/iommu/dmar1/intel-iommu/ecap", "f050d2\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.irq_remap, 0);
	ck_assert_ptr_nonnull(vb_diags_find(&c.f, VB_F_IRQ_REMAP, NULL));
	ck_assert_uint_eq(c.f.n_warnings, 1);

	/* proc/interrupts is stronger evidence than ecap */
	put(c.dir, "proc/interrupts",
	    "           CPU0\n"
	    " 120:          5  IR-PCI-MSI-0000:02:00.0    0-edge      nvme0q0\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.irq_remap, 1);
	assert_contains(info.irq_remap_how, "/proc/interrupts");
	put(c.dir, "proc/interrupts",
	    " 120:          5  PCI-MSI-0000:02:00.0    0-edge      nvme0q0\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.irq_remap, 0);

	/* AMD-Vi: assumed on */
	fixture_remove(c.dir, "proc/interrupts");
	fixture_remove(c.dir, "sys/class/iommu");
	put(c.dir, "sys/class/iommu/ivhd0/amd-iommu/cap", "0x190b3\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.kind, VB_IOMMU_AMD);
	ck_assert_str_eq(vb_iommu_kind_name(info.kind), "AMD-Vi");
	ck_assert_int_eq(info.irq_remap, 1);
	/* ... unless the command line turns it off */
	put(c.dir, "proc/cmdline", "root=/dev/sda1 intremap=off\n");
	ck_assert_int_eq(vb_diag_iommu(&c.root, &info, &c.f), 0);
	ck_assert_int_eq(info.irq_remap, 0);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Groups */

START_TEST(test_group_host_driver_endpoint)
{
	struct vb_group_check gc;
	struct ctx c;
	bool *target;

	ctx_open(&c, "desktop");
	target = calloc(c.list.n, sizeof(*target));
	target[dev(&c, "0000:01:00.0") - c.list.devs] = true;
	ck_assert_int_eq(vb_diag_group(&c.root, &c.list, target, dev(&c, "0000:01:00.0"), 0, &gc),
			 0);
	ck_assert_int_eq(gc.group, 12);
	ck_assert_uint_eq(gc.n_members, 2);
	ck_assert_uint_eq(gc.n_blockers, 1);
	ck_assert_str_eq(gc.blockers[0].name, "0000:01:00.1");
	ck_assert_str_eq(gc.blockers[0].driver, "snd_hda_intel");
	vb_group_check_free(&gc);

	/* group 6: the ISA bridge function (unbound) passes, i801_smbus does not */
	ck_assert_int_eq(vb_diag_group(&c.root, &c.list, NULL, dev(&c, "0000:00:1f.3"), 0, &gc), 0);
	ck_assert_int_eq(gc.group, 6);
	ck_assert_uint_eq(gc.n_members, 3);
	ck_assert_uint_eq(gc.n_blockers, 1);
	ck_assert_str_eq(gc.blockers[0].name, "0000:00:1f.4");
	ck_assert_str_eq(gc.blockers[0].driver, "i801_smbus");
	vb_group_check_free(&gc);
	free(target);
	ctx_close(&c);
}
END_TEST

START_TEST(test_group_fully_selected)
{
	struct vb_group_check gc;
	struct ctx c;
	bool *target;

	ctx_open(&c, "desktop");
	target = calloc(c.list.n, sizeof(*target));
	target[dev(&c, "0000:01:00.0") - c.list.devs] = true;
	target[dev(&c, "0000:01:00.1") - c.list.devs] = true;
	ck_assert_int_eq(vb_diag_group(&c.root, &c.list, target, dev(&c, "0000:01:00.0"), 0, &gc),
			 0);
	ck_assert_int_eq(gc.group, 12);
	ck_assert_uint_eq(gc.n_blockers, 0);
	vb_group_check_free(&gc);
	/* a group of one */
	ck_assert_int_eq(vb_diag_group(&c.root, &c.list, NULL, dev(&c, "0000:00:02.0"), 0, &gc), 0);
	ck_assert_uint_eq(gc.n_members, 1);
	ck_assert_uint_eq(gc.n_blockers, 0);
	vb_group_check_free(&gc);
	free(target);
	ctx_close(&c);
}
END_TEST

START_TEST(test_driver_manages_dma)
{
	ck_assert(vb_driver_manages_dma("", 0));
	ck_assert(vb_driver_manages_dma("vfio-pci", 0));
	ck_assert(vb_driver_manages_dma("mlx5_vfio_pci", 6001));
	ck_assert(vb_driver_manages_dma("pci-stub", 5010));
	ck_assert(vb_driver_manages_dma("pci_stub", 0));
	ck_assert(vb_driver_manages_dma("pcieport", 0));
	ck_assert(vb_driver_manages_dma("pcieport", 5019));
	ck_assert(!vb_driver_manages_dma("pcieport", 5018)); /* before 5.19 */
	ck_assert(!vb_driver_manages_dma("snd_hda_intel", 0));
	ck_assert(!vb_driver_manages_dma("nvidia", 6001));
	ck_assert_uint_eq(vb_kver_num("6.1.0-18-amd64"), 6001);
	ck_assert_uint_eq(vb_kver_num("5.19"), 5019);
	ck_assert_uint_eq(vb_kver_num("6.12.9+bpo-amd64"), 6012);
	ck_assert_uint_eq(vb_kver_num("linux"), 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Boot display */

START_TEST(test_boot_vga_warning)
{
	const struct vb_diag *x;
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(
		vb_diag_boot_display(&c.root, dev(&c, "0000:00:02.0"), 6001, NULL, 0, &c.f), 0);
	x = vb_diags_find(&c.f, VB_F_BOOT_VGA, "0000:00:02.0");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->severity, VB_SEV_WARNING);
	assert_contains(x->message, "boot_vga=1");
	assert_contains(x->hint, "video=efifb:off");
	assert_contains(x->hint, "6.0");
	/* the discrete GPU is not the boot display */
	ck_assert_int_eq(
		vb_diag_boot_display(&c.root, dev(&c, "0000:01:00.0"), 6001, NULL, 0, &c.f), 0);
	ck_assert_uint_eq(c.f.n, 1);
	ctx_close(&c);
}
END_TEST

START_TEST(test_bar_overlaps_bootfb)
{
	struct vb_fb_range *fbs;
	const struct vb_diag *x;
	size_t n;
	struct ctx c;

	ctx_open(&c, "desktop");
	/* desktop.tree: "    4000000000-40007fffff : BOOTFB" nested under the iGPU */
	ck_assert_int_eq(vb_diag_framebuffers(&c.root, &fbs, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(fbs[0].name, "BOOTFB");
	ck_assert(fbs[0].start == 0x4000000000ull && fbs[0].end == 0x40007fffffull);

	put(c.dir, "sys/bus/pci/devices/0000:01:00.0/resource",
	    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
	    "0x0000004000000000 0x000000400fffffff 0x000000000014220c\n"
	    "0x0000000000003000 0x000000000000307f 0x0000000000040101\n");
	ck_assert_int_eq(vb_diag_boot_display(&c.root, dev(&c, "0000:01:00.0"), 5010, fbs, n, &c.f),
			 0);
	x = vb_diags_find(&c.f, VB_F_FRAMEBUFFER, "0000:01:00.0");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->severity, VB_SEV_WARNING);
	assert_contains(x->message, "BAR 1");
	assert_contains(x->message, "BOOTFB");
	assert_contains(x->hint, "video=efifb:off");
	assert_contains(x->hint, "initcall_blacklist=sysfb_init");
	assert_contains(x->hint, "6.0");

	/* 6.0+ and a VGA-class device: the kernel handles it, only a note */
	vb_diags_free(&c.f);
	ck_assert_int_eq(vb_diag_boot_display(&c.root, dev(&c, "0000:01:00.0"), 6001, fbs, n, &c.f),
			 0);
	x = vb_diags_find(&c.f, VB_F_FRAMEBUFFER, "0000:01:00.0");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->severity, VB_SEV_NOTE);

	/* BARs elsewhere: nothing */
	vb_diags_free(&c.f);
	put(c.dir, "sys/bus/pci/devices/0000:01:00.0/resource",
	    "0x0000006000000000 0x000000600fffffff 0x000000000014220c\n");
	ck_assert_int_eq(vb_diag_boot_display(&c.root, dev(&c, "0000:01:00.0"), 5010, fbs, n, &c.f),
			 0);
	ck_assert_uint_eq(c.f.n, 0);
	free(fbs);

	/* proc/iomem as non-root shows zeros: no range */
	put(c.dir, "proc/iomem",
	    "00000000-00000000 : PCI Bus 0000:00\n"
	    "  00000000-00000000 : efifb\n"
	    "c0000000-c02fffff : simple-framebuffer.0\n");
	ck_assert_int_eq(vb_diag_framebuffers(&c.root, &fbs, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(fbs[0].name, "simple-framebuffer.0");
	free(fbs);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Config permissions */

START_TEST(test_config_permissions)
{
	struct vb_config_perm perm;
	char msg[9000], *conf;
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), NULL), -ENOENT);
	put(c.dir, "etc/vfio-bind.conf", "bind path=0000:01:00.*\n");
	conf = path_join(c.dir, "etc/vfio-bind.conf");
	ck_assert_int_eq(chmod(conf, 0644), 0);
	ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), &perm), 0);
	ck_assert(perm.safe);
	ck_assert_uint_eq(perm.mode & 07777, 0644);

	/* group-writable: refused, with the fix */
	ck_assert_int_eq(chmod(conf, 0664), 0);
	ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), &perm), -EPERM);
	ck_assert(!perm.safe);
	assert_contains(msg, "group can write");
	assert_contains(msg, "chown root:root");
	assert_contains(msg, "chmod 644");
	assert_contains(msg, "etc/vfio-bind.conf");
	/* an explicit --config path is checked the same way */
	ck_assert_int_eq(vb_config_check_perms(&c.root, conf, msg, sizeof(msg), NULL), -EPERM);
	ck_assert_int_eq(chmod(conf, 0646), 0);
	ck_assert_int_eq(vb_config_check_perms(&c.root, conf, msg, sizeof(msg), NULL), -EPERM);
	assert_contains(msg, "everyone can write");

	if (geteuid() == 0) {
		/* owned by uid 1000 in a root-owned tree: refused */
		ck_assert_int_eq(chmod(conf, 0644), 0);
		ck_assert_int_eq(chown(conf, 1000, 1000), 0);
		ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), &perm),
				 -EPERM);
		ck_assert_uint_eq(perm.uid, 1000);
		assert_contains(msg, "owned by uid 1000");
		/* a tree prepared by that user: its owner is accepted */
		ck_assert_int_eq(chown(c.dir, 1000, 1000), 0);
		ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), NULL), 0);
		ck_assert_int_eq(chown(c.dir, 0, 0), 0);
	}
	/* not a regular file */
	fixture_remove(c.dir, "etc/vfio-bind.conf");
	put(c.dir, "etc/vfio-bind.conf/x", "");
	ck_assert_int_eq(vb_config_check_perms(&c.root, NULL, msg, sizeof(msg), NULL), -EPERM);
	assert_contains(msg, "not a regular file");
	free(conf);
	ctx_close(&c);
}
END_TEST

static int main_argv(const char *root, const char *a, const char *b)
{
	char *argv[] = {"vfio-bind", "-q", "--root", (char *)root, (char *)a, (char *)b, NULL};
	int argc = b ? 6 : 5;

	optind = 0; /* glibc: restart getopt */
	return vb_main(argc, argv, NULL);
}

START_TEST(test_config_permissions_cli)
{
	char *dir = fixture_tree("desktop"), *conf;

	put(dir, "etc/vfio-bind.conf", "bind path=0000:01:00.* expand=group\n");
	conf = path_join(dir, "etc/vfio-bind.conf");
	ck_assert_int_eq(chmod(conf, 0644), 0);
	ck_assert_int_eq(main_argv(dir, "check", NULL), VB_EXIT_SUCCESS);
	ck_assert_int_eq(chmod(conf, 0664), 0);
	ck_assert_int_eq(main_argv(dir, "check", NULL), VB_EXIT_CONFIG);
	ck_assert_int_eq(main_argv(dir, "plan", NULL), VB_EXIT_CONFIG);
	ck_assert_int_eq(main_argv(dir, "apply", "--dry-run"), VB_EXIT_CONFIG);
	/* status only reports (its table goes to /dev/null) */
	{
		int saved = dup(1), null = open("/dev/null", O_WRONLY);

		fflush(stdout);
		dup2(null, 1);
		ck_assert_int_eq(main_argv(dir, "status", NULL), VB_EXIT_SUCCESS);
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
		close(null);
	}
	free(conf);
	fixture_cleanup(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Stale configuration */

START_TEST(test_stale_modprobe)
{
	const char *drivers[] = {"nvidia", "nouveau", "snd_hda_intel"};
	struct vb_stale_list st;
	struct ctx c;

	ctx_open(&c, "desktop");
	put(c.dir, "etc/modprobe.d/vfio.conf",
	    "# GPU passthrough\n"
	    "options vfio-pci ids=10de:2204,10de:1aef disable_vga=1\n"
	    "softdep nvidia pre: vfio-pci\n"
	    "blacklist nouveau\n"
	    "blacklist pcspkr\n");
	put(c.dir, "etc/modprobe.d/other.conf",
	    "options vfio_pci disable_idle_d3=1\n"
	    "blacklist snd-hda-intel\n");
	put(c.dir, "etc/modprobe.d/ignored.txt", "options vfio-pci ids=1:2\n");
	/* merged /usr: lib is a symlink to usr/lib, each file counts once */
	put(c.dir, "usr/lib/modprobe.d/vfio-old.conf", "options vfio_pci ids=10de:2204\n");
	fixture_symlink(c.dir, "lib", "usr/lib");
	put(c.dir, "etc/initramfs-tools/modules",
	    "# modules\nvfio\nvfio_iommu_type1\nvfio_virqfd\nvfio_pci ids=10de:2204\nbtrfs\n");
	put(c.dir, "etc/default/grub",
	    "GRUB_DEFAULT=0\n"
	    "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on vfio-pci.ids=10de:2204\"\n"
	    "GRUB_CMDLINE_LINUX=\"\"\n");
	put(c.dir, "etc/kernel/cmdline", "root=/dev/sda1 ro vfio_pci.ids=10de:2204\n");
	put(c.dir, "proc/cmdline",
	    "root=/dev/sda1 ro vfio-pci.ids=10de:2204 modprobe.blacklist=nouveau,pcspkr\n");

	ck_assert_int_eq(vb_diag_stale(&c.root, drivers, 3, &st, &c.f), 0);
	for (size_t i = 0; st.n != 13 && i < st.n; i++)
		fprintf(stderr, "stale: %s:%u: %s\n", st.v[i].file, st.v[i].line, st.v[i].text);
	ck_assert_uint_eq(st.n, 13);
	ck_assert_uint_eq(c.f.n_warnings, 13);
	/* sorted by file name within a directory */
	ck_assert_str_eq(st.v[0].file, "/etc/modprobe.d/other.conf");
	ck_assert_uint_eq(st.v[0].line, 2);
	ck_assert_str_eq(st.v[0].text, "blacklist snd-hda-intel");
	ck_assert_str_eq(st.v[1].file, "/etc/modprobe.d/vfio.conf");
	ck_assert_uint_eq(st.v[1].line, 2);
	ck_assert_str_eq(st.v[1].text, "options vfio-pci ids=10de:2204,10de:1aef disable_vga=1");
	assert_contains(st.v[1].why, "made unnecessary by vfio-bind");
	ck_assert_uint_eq(st.v[2].line, 3);
	ck_assert_str_eq(st.v[2].text, "softdep nvidia pre: vfio-pci");
	ck_assert_uint_eq(st.v[3].line, 4);
	ck_assert_str_eq(st.v[3].text, "blacklist nouveau");
	ck_assert_str_eq(st.v[4].file, "/lib/modprobe.d/vfio-old.conf");
	ck_assert_uint_eq(st.v[4].line, 1);
	ck_assert_str_eq(st.v[5].file, "/etc/initramfs-tools/modules");
	ck_assert_uint_eq(st.v[5].line, 2);
	ck_assert_str_eq(st.v[8].text, "vfio_pci ids=10de:2204");
	ck_assert_str_eq(st.v[9].file, "/etc/default/grub");
	ck_assert_uint_eq(st.v[9].line, 2);
	ck_assert_str_eq(st.v[9].text, "vfio-pci.ids=10de:2204");
	ck_assert_str_eq(st.v[10].file, "/etc/kernel/cmdline");
	ck_assert_str_eq(st.v[11].file, "kernel command line (/proc/cmdline)");
	ck_assert_uint_eq(st.v[11].line, 0);
	ck_assert_str_eq(st.v[12].text, "modprobe.blacklist=nouveau,pcspkr");
	/* the finding carries file:line */
	assert_contains(c.f.v[1].message, "/etc/modprobe.d/vfio.conf:2: options vfio-pci ids=");
	assert_contains(c.f.v[1].hint, "update-initramfs");
	vb_stale_list_free(&st);
	ctx_close(&c);
}
END_TEST

/* The sources the scanner grew for import: /etc/modules, modules-load.d,
 * grub.d drop-ins, aliases; the fixes name import and the boot loader. */
START_TEST(test_stale_module_lists_and_grub_d)
{
	const char *drivers[] = {"e1000e"};
	struct vb_stale_list st;
	struct ctx c;

	ctx_open(&c, "desktop");
	put(c.dir, "etc/modules", "# /etc/modules\nvfio\nvfio_pci\n; vfio_virqfd\nloop\n");
	/* Debian's symlink to /etc/modules: read once */
	put(c.dir, "etc/modules-load.d/.keep", "");
	fixture_symlink(c.dir, "etc/modules-load.d/modules.conf", "../modules");
	put(c.dir, "usr/lib/modules-load.d/vfio.conf", "vfio_iommu_type1\n");
	put(c.dir, "etc/modprobe.d/alias.conf",
	    "alias pci:v000010DEd00002204sv*sd*bc*sc*i* vfio-pci\nblacklist e1000e\n");
	put(c.dir, "etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
	put(c.dir, "etc/default/grub.d/vfio.cfg",
	    "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX vfio-pci.ids=10de:2204\"\n");
	put(c.dir, "etc/default/grub.d/ignored.conf", "GRUB_CMDLINE_LINUX=\"vfio-pci.ids=1:2\"\n");
	put(c.dir, "proc/cmdline", "root=/dev/sda1 ro\n");

	ck_assert_int_eq(vb_diag_stale(&c.root, drivers, 1, &st, &c.f), 0);
	for (size_t i = 0; st.n != 6 && i < st.n; i++)
		fprintf(stderr, "stale: %s:%u: %s\n", st.v[i].file, st.v[i].line, st.v[i].text);
	ck_assert_uint_eq(st.n, 6);
	ck_assert_str_eq(st.v[0].text, "alias pci:v000010DEd00002204sv*sd*bc*sc*i* vfio-pci");
	ck_assert_str_eq(st.v[1].text, "blacklist e1000e");
	ck_assert_str_eq(st.v[2].file, "/etc/modules");
	ck_assert_uint_eq(st.v[2].line, 2);
	ck_assert_str_eq(st.v[3].text, "vfio_pci");
	ck_assert_str_eq(st.v[4].file, "/usr/lib/modules-load.d/vfio.conf");
	ck_assert_str_eq(st.v[5].file, "/etc/default/grub.d/vfio.cfg");
	ck_assert_str_eq(st.v[5].text, "vfio-pci.ids=10de:2204");
	assert_contains(c.f.v[2].hint, "vfio-bind import");
	/* GRUB: the file and line to edit, then update-grub */
	assert_contains(c.f.v[5].hint, "remove it from /etc/default/grub.d/vfio.cfg line 1, then "
				       "update-grub");
	vb_stale_list_free(&st);
	ctx_close(&c);
}
END_TEST

/* No IOMMU: the fix names vfio-bind iommu and Proxmox's refresh. */
START_TEST(test_no_iommu_hint_proxmox)
{
	struct ctx c;
	char msg[512], hint[2048];

	ctx_open(&c, "desktop");
	fixture_remove(c.dir, "sys/kernel/iommu_groups");
	put(c.dir, "proc/cpuinfo", "vendor_id\t: GenuineIntel\n");
	put(c.dir, "proc/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
	put(c.dir, "etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
	put(c.dir, "etc/kernel/proxmox-boot-uuids", "5D3A-1F2B\n");
	ck_assert(vb_diag_no_iommu(&c.root, msg, sizeof(msg), hint, sizeof(hint)));
	assert_contains(hint, "vfio-bind iommu --apply writes it (/etc/kernel/cmdline, then "
			      "proxmox-boot-tool refresh)");
	assert_contains(hint, "before kernel 6.8");
	ck_assert_ptr_null(strstr(hint, "update-grub"));
	ctx_close(&c);
}
END_TEST

START_TEST(test_stale_none)
{
	const char *drivers[] = {"nvidia"};
	struct vb_stale_list st;
	struct ctx c;

	ctx_open(&c, "desktop");
	put(c.dir, "etc/modprobe.d/ok.conf",
	    "blacklist pcspkr\noptions vfio_pci disable_vga=1\nsoftdep drm post: x\n");
	put(c.dir, "proc/cmdline", "root=/dev/sda1 ro intel_iommu=on iommu=pt\n");
	ck_assert_int_eq(vb_diag_stale(&c.root, drivers, 1, &st, &c.f), 0);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(c.f.n, 0);
	vb_stale_list_free(&st);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Modalias, initramfs */

START_TEST(test_modalias)
{
	char buf[256];
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_gt(vb_diag_modalias(&c.root, dev(&c, "0000:01:00.0"), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00");
	/* without the attribute: uevent's MODALIAS= */
	fixture_remove(c.dir, "sys/bus/pci/devices/0000:01:00.0/modalias");
	ck_assert_int_gt(vb_diag_modalias(&c.root, dev(&c, "0000:01:00.0"), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00");
	ctx_close(&c);
}
END_TEST

START_TEST(test_initramfs_read)
{
	const char *rel = "boot/initrd.img-" KVER;
	struct vb_initramfs ir;
	char why[256];
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), -ENOENT);
	vb_initramfs_free(&ir);

	write_initramfs(c.dir, NULL, "bind id=10de:2204\n");
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), 0);
	ck_assert(ir.has_binder && ir.has_script && ir.has_config);
	ck_assert_str_eq(ir.compression, "none");
	ck_assert_str_eq(ir.config, "bind id=10de:2204\n");
	ck_assert_uint_eq(ir.n_entries, 5);
	vb_initramfs_free(&ir);

	write_initramfs(c.dir, "gzip", "bind path=0000:01:00.*\n");
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), 0);
	ck_assert_str_eq(ir.compression, "gzip");
	ck_assert(ir.has_binder && ir.has_config);
	ck_assert_str_eq(ir.config, "bind path=0000:01:00.*\n");
	vb_initramfs_free(&ir);

	write_initramfs(c.dir, "gzip", NULL);
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), 0);
	ck_assert(!ir.has_binder && !ir.has_config);
	ck_assert_ptr_null(ir.config);
	vb_initramfs_free(&ir);

	/* not an image */
	put(c.dir, rel, "this is not an initramfs\n");
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), -ENOEXEC);
	assert_contains(why, "unknown data");
	vb_initramfs_free(&ir);

	/* truncated inside an entry */
	put(c.dir, rel, "07070100000001000081A4000000000000000000000001000000000000FFFF");
	ck_assert_int_eq(vb_initramfs_read(&c.root, rel, &ir, why, sizeof(why)), -EIO);
	vb_initramfs_free(&ir);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* doctor */

struct doc {
	char *out;
	size_t len;
	int ret;
};

static struct doc doctor(const char *dir, bool json)
{
	/* wide: these tests read what doctor says; test-cli checks the layout */
	struct vb_doctor_opts o = {.kver = KVER, .json = json, .width = 1000};
	struct vb_root root;
	struct doc d = {0};

	o.out = open_memstream(&d.out, &d.len);
	ck_assert_ptr_nonnull(o.out);
	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	d.ret = vb_doctor(&root, &o);
	fclose(o.out);
	vb_root_close(&root);
	return d;
}

/* The JSON parses (python3 is there: mktree needs it). */
static void assert_json_valid(const char *dir, const char *json)
{
	const char *argv[] = {"python3", "-c", "import json,sys; json.load(sys.stdin)", NULL};
	char *file = path_join(dir, "doctor.json");

	put(dir, "doctor.json", json);
	ck_assert_msg(run(argv, file, NULL) == 0, "invalid JSON:\n%s", json);
	unlink(file);
	free(file);
}

/* desktop.tree made ready: the GPU and its audio function selected, IR on,
 * a kernel with vfio-pci and a current initramfs. */
static char *ready_tree(void)
{
	const char *conf = "bind path=0000:01:00.0 expand=group\n";
	char *dir = fixture_tree("desktop"), *p;

	put(dir, "etc/vfio-bind.conf", conf);
	p = path_join(dir, "etc/vfio-bind.conf");
	ck_assert_int_eq(chmod(p, 0644), 0);
	free(p);
	put(dir, "sys/class/iommu/dmar0/intel-iommu/ecap", "f050da\n");
	put(dir, "proc/interrupts", " 120:  5  IR-PCI-MSI-0000:02:00.0  0-edge  nvme0q0\n");
	add_kernel(dir);
	write_initramfs(dir, "gzip", conf);
	return dir;
}

START_TEST(test_doctor_ready)
{
	char *dir = ready_tree();
	struct doc d = doctor(dir, false);

	ck_assert_msg(d.ret == VB_EXIT_SUCCESS, "doctor returned %d:\n%s", d.ret, d.out);
	assert_contains(d.out, "Intel VT-d (dmar0)");
	assert_contains(d.out, "interrupt remapping on");
	assert_contains(d.out, "vfio-pci is a module");
	assert_contains(d.out, "0000:01:00.0 10de:2204 VGA, driver nvidia, group 12: rebind");
	assert_contains(d.out, "0000:01:00.1 10de:1aef audio, driver snd_hda_intel");
	assert_contains(d.out, "IOMMU group 12: 2 devices, none left on a host driver");
	assert_contains(d.out, "would bind nouveau (module)");
	assert_contains(d.out, "(gzip): vfio-bind and the same /etc/vfio-bind.conf");
	assert_contains(d.out, "\nREADY");
	ck_assert_ptr_null(strstr(d.out, "FAIL"));
	free(d.out);

	d = doctor(dir, true);
	ck_assert_int_eq(d.ret, VB_EXIT_SUCCESS);
	assert_json_valid(dir, d.out);
	assert_contains(d.out, "\"ready\": true");
	assert_contains(d.out, "\"iommu\": {");
	assert_contains(d.out, "\"type\": \"Intel VT-d\"");
	assert_contains(d.out, "\"interrupt_remapping\": true");
	assert_contains(d.out, "\"kernel\": {");
	assert_contains(d.out, "\"target\": \"" KVER "\"");
	assert_contains(d.out, "\"vfio_pci\": \"module\"");
	assert_contains(d.out, "\"configuration\": {");
	assert_contains(d.out, "\"safe\": true");
	assert_contains(d.out, "\"targets\": [");
	assert_contains(d.out, "\"address\": \"0000:01:00.1\"");
	assert_contains(d.out, "\"group_viable\": true");
	assert_contains(d.out, "\"kernel_driver\": \"nouveau\"");
	assert_contains(d.out, "\"initramfs\": {");
	assert_contains(d.out, "\"state\": \"current\"");
	assert_contains(d.out, "\"config_matches\": true");
	assert_contains(d.out, "\"stale\": []");
	assert_contains(d.out, "\"errors\": []");
	assert_contains(d.out, "\"warnings\": [");
	free(d.out);
	fixture_cleanup(dir);
}
END_TEST

/* doctor reads the image's hardware snapshot and says what the next boot
 * will refuse on the hardware now. */
START_TEST(test_doctor_snapshot)
{
	static const char conf[] = "bind path=0000:01:00.*\n";
	static const char good[] =
		"vfio-bind-snapshot 1\nkernel " KVER "\nsysfs yes\nroot found\n"
		"select 0000:01:00.0 10de:2204 1458:403b 030000 0000:00:01.0/00.0\n"
		"select 0000:01:00.1 10de:1aef 1458:403b 040300 0000:00:01.0/00.1\n";
	static const char changed[] =
		"vfio-bind-snapshot 1\nkernel " KVER "\nsysfs yes\nroot found\n"
		"select 0000:01:00.0 10de:1b80 10de:119e 030000 0000:00:01.0/00.0\n"
		"select 0000:01:00.1 10de:1aef 1458:403b 040300 0000:00:01.0/00.1\n";
	char *dir = ready_tree();
	struct doc d;

	write_initramfs_snap(dir, "gzip", conf, good);
	d = doctor(dir, false);
	ck_assert_msg(d.ret == VB_EXIT_SUCCESS, "doctor returned %d:\n%s", d.ret, d.out);
	ck_assert_ptr_null(strstr(d.out, "snapshot"));
	free(d.out);

	write_initramfs_snap(dir, "gzip", conf, changed);
	d = doctor(dir, false);
	assert_contains(d.out, "the next boot will not take it: hardware changed at 0000:01:00.0");
	free(d.out);

	write_initramfs_snap(dir, "gzip", conf,
			     "vfio-bind-snapshot 1\nkernel x\nsysfs no\nroot unknown\n");
	d = doctor(dir, false);
	assert_contains(d.out, "built without /sys");
	free(d.out);

	write_initramfs_snap(dir, "gzip", conf, "vfio-bind-snapshot 7\n");
	d = doctor(dir, false);
	assert_contains(d.out, "vfio-bind.snapshot:1: unknown snapshot version");
	ck_assert_int_eq(d.ret, VB_EXIT_ENV);
	free(d.out);

	write_initramfs(dir, "gzip", conf);
	d = doctor(dir, false);
	assert_contains(d.out, "has no hardware snapshot");
	free(d.out);
	fixture_cleanup(dir);
}
END_TEST

/* A Proxmox node: doctor compares the image's mappings with pci.cfg now. */
START_TEST(test_doctor_mappings)
{
	static const char conf[] = "bind mapping=gpu\n";
	static const char cfg[] = "gpu\n"
				  "\tmap id=10de:2204,iommugroup=12,node=pve1,path=0000:01:00,"
				  "subsystem-id=1458:403b\n";
	char *dir = ready_tree(), img[512], digest[17], *p;
	struct doc d;

	put(dir, "etc/vfio-bind.conf", conf);
	p = path_join(dir, "etc/vfio-bind.conf");
	ck_assert_int_eq(chmod(p, 0644), 0);
	free(p);
	put(dir, "etc/hostname", "pve1\n");
	put(dir, "etc/pve/.version", "1\n");
	put(dir, "etc/pve/mapping/pci.cfg", cfg);
	vb_digest(cfg, strlen(cfg), digest);
	snprintf(img, sizeof(img),
		 "vfio-bind-mappings 1\nnode pve1\nsource /x/pci.cfg %s\nmapping gpu 1\n"
		 "path 0000:01:00 10de:2204 1458:403b 12 2\n",
		 digest);
	image_mappings = img;
	write_initramfs(dir, "gzip", conf);
	d = doctor(dir, false);
	ck_assert_msg(d.ret == VB_EXIT_SUCCESS, "doctor returned %d:\n%s", d.ret, d.out);
	assert_contains(d.out, "0000:01:00.1 10de:1aef audio, driver snd_hda_intel");
	ck_assert_ptr_null(strstr(d.out, "changed after"));
	free(d.out);

	/* pci.cfg changed, not this node's mapping */
	put(dir, "etc/pve/mapping/pci.cfg",
	    "gpu\n\tmap id=10de:2204,iommugroup=12,node=pve1,path=0000:01:00,"
	    "subsystem-id=1458:403b\n\tdescription the RTX 3090\n");
	d = doctor(dir, false);
	assert_contains(d.out, "pci.cfg changed after /boot/initrd.img-" KVER);
	assert_contains(d.out, "not in the mappings this node's rules use");
	ck_assert_int_eq(d.ret, VB_EXIT_SUCCESS);
	free(d.out);

	/* the mapping itself changed: the next boot takes the old devices */
	put(dir, "etc/pve/mapping/pci.cfg",
	    "gpu\n\tmap id=10de:2204,iommugroup=12,node=pve1,path=0000:01:00.0,"
	    "subsystem-id=1458:403b\n");
	d = doctor(dir, false);
	assert_contains(d.out, "  warn ");
	assert_contains(d.out, "the next boot takes the devices of the old");
	free(d.out);
	d = doctor(dir, true);
	assert_json_valid(dir, d.out);
	assert_contains(d.out, "\"code\": \"mappings\"");
	free(d.out);

	/* an image without the file */
	image_mappings = NULL;
	write_initramfs(dir, "gzip", conf);
	d = doctor(dir, false);
	assert_contains(d.out, "has no /etc/vfio-bind.mappings: the rules with mapping=");
	free(d.out);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_doctor_errors)
{
	char *dir = ready_tree();
	struct doc d;

	/* only the GPU function: the audio function keeps the group on the host;
	 * the initramfs now holds another config; a stale modprobe.d line */
	put(dir, "etc/vfio-bind.conf", "bind path=0000:01:00.0\n");
	put(dir, "etc/modprobe.d/vfio.conf", "options vfio-pci ids=10de:2204\n");
	d = doctor(dir, false);
	ck_assert_msg(d.ret == VB_EXIT_ENV, "doctor returned %d:\n%s", d.ret, d.out);
	assert_contains(d.out, "FAIL  IOMMU group 12 of 0000:01:00.0 is not viable: 0000:01:00.1 "
			       "(snd_hda_intel)");
	assert_contains(d.out, "expand=group");
	assert_contains(d.out, "update-initramfs -u -k " KVER);
	assert_contains(d.out, "/etc/modprobe.d/vfio.conf:1: options vfio-pci ids=10de:2204");
	assert_contains(d.out, "NOT READY: 1 error, ");
	free(d.out);

	d = doctor(dir, true);
	ck_assert_int_eq(d.ret, VB_EXIT_ENV);
	assert_json_valid(dir, d.out);
	assert_contains(d.out, "\"ready\": false");
	assert_contains(d.out, "\"group_viable\": false");
	assert_contains(d.out, "\"code\": \"group-not-viable\"");
	assert_contains(d.out, "\"state\": \"stale\"");
	assert_contains(d.out, "\"file\": \"/etc/modprobe.d/vfio.conf\"");
	assert_contains(d.out, "\"line\": 1");
	free(d.out);

	/* no IOMMU at all: one error, the devices point at it */
	put(dir, "etc/vfio-bind.conf", "bind path=0000:01:00.0 expand=group\n");
	fixture_remove(dir, "etc/modprobe.d");
	fixture_remove(dir, "sys/kernel/iommu_groups");
	fixture_remove(dir, "sys/bus/pci/devices/0000:01:00.0/iommu_group");
	fixture_remove(dir, "sys/bus/pci/devices/0000:01:00.1/iommu_group");
	d = doctor(dir, false);
	ck_assert_int_eq(d.ret, VB_EXIT_ENV);
	assert_contains(d.out, "FAIL  no IOMMU group");
	assert_contains(d.out, "refused: no IOMMU group (see IOMMU)");
	assert_contains(d.out, "NOT READY: 1 error");
	free(d.out);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_doctor_config_unsafe)
{
	char *dir = ready_tree(), *p = path_join(dir, "etc/vfio-bind.conf");
	struct doc d;

	ck_assert_int_eq(chmod(p, 0664), 0);
	d = doctor(dir, false);
	ck_assert_int_eq(d.ret, VB_EXIT_ENV);
	assert_contains(d.out, "is unsafe: its group can write it");
	assert_contains(d.out, "fix: chown root:root");
	free(d.out);
	d = doctor(dir, true);
	assert_contains(d.out, "\"safe\": false");
	assert_contains(d.out, "\"mode\": \"0664\"");
	free(d.out);
	free(p);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_doctor_initramfs_skipped)
{
	char *dir = ready_tree();
	struct doc d;

	/* what initramfs-hooks/vfio-bind writes when, under a kernel's
	 * postinst, the check refused the config: an image without vfio-bind */
	write_initramfs(dir, "gzip", NULL);
	put(dir, "var/lib/vfio-bind/initramfs-skipped/" KVER,
	    "kernel=" KVER "\nexit=3\npackage=linux-image-" KVER "\ndate=2026-12-01T23:33:45Z\n"
	    "message='vfio-bind check --kernel " KVER "' failed (exit 3): fix "
	    "/etc/vfio-bind.conf and run update-initramfs again\n"
	    "detail=vfio-bind: /etc/vfio-bind.conf:1:6: error: unknown key 'colour'\n"
	    "detail=  hint: valid keys: path\n");
	d = doctor(dir, false);
	ck_assert_msg(d.ret == VB_EXIT_ENV, "doctor returned %d:\n%s", d.ret, d.out);
	assert_contains(d.out,
			"FAIL  the initramfs of kernel " KVER " was built without vfio-bind");
	assert_contains(d.out, "NOT READY: 2 errors"); /* this and the image's */
	free(d.out);
	d = doctor(dir, true);
	assert_json_valid(dir, d.out);
	assert_contains(d.out, "\"code\": \"initramfs-skipped\"");
	assert_contains(d.out,
			"\"message\": \"the initramfs of kernel " KVER
			" was built without vfio-bind on 2026-12-01T23:33:45Z, under dpkg for "
			"linux-image-" KVER ": the check exited 3: /etc/vfio-bind.conf:1:6: "
			"error: unknown key 'colour'\"");
	assert_contains(d.out, "correct /etc/vfio-bind.conf, then update-initramfs -u -k " KVER
			       " (which removes /var/lib/vfio-bind/initramfs-skipped/" KVER ")");
	free(d.out);

	/* a good build removes the record and puts vfio-bind back: READY */
	fixture_remove(dir, "var/lib/vfio-bind");
	write_initramfs(dir, "gzip", "bind path=0000:01:00.0 expand=group\n");
	d = doctor(dir, false);
	ck_assert_msg(d.ret == VB_EXIT_SUCCESS, "doctor returned %d:\n%s", d.ret, d.out);
	ck_assert_ptr_null(strstr(d.out, "built without vfio-bind"));
	free(d.out);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_doctor_builtin)
{
	const char *argv[] = {"depmod", "-b", NULL, KVER, NULL};
	char *dir = ready_tree(), *mods;
	struct doc d;

	/* the target kernel has nouveau built in */
	mods = path_join(dir, "lib/modules/" KVER);
	fixture_remove(mods, "kernel/drivers/gpu/drm/nouveau/nouveau.ko");
	put(mods, "modules.builtin", "kernel/drivers/gpu/drm/nouveau/nouveau.ko\n");
	{
		static const char info[] = "nouveau.alias=pci:v000010DEd*sv*sd*bc03sc*i*";
		char *f = path_join(mods, "modules.builtin.modinfo");
		FILE *o = fopen(f, "wb");

		ck_assert_ptr_nonnull(o);
		fwrite(info, 1, sizeof(info), o); /* with its NUL */
		fclose(o);
		free(f);
	}
	argv[2] = dir;
	if (run(argv, NULL, NULL) != 0 &&
	    run((const char *[]){"/sbin/depmod", "-b", dir, KVER, NULL}, NULL, NULL) != 0) {
		free(mods);
		fixture_cleanup(dir);
		return; /* no depmod here */
	}
	d = doctor(dir, true);
	ck_assert_int_eq(d.ret, VB_EXIT_SUCCESS);
	assert_contains(d.out, "\"kernel_driver\": \"nouveau\"");
	assert_contains(d.out, "\"kernel_driver_builtin\": true");
	assert_contains(d.out, "\"code\": \"builtin-driver\"");
	assert_contains(d.out, "vfio-bind will unbind it at boot");
	free(d.out);
	free(mods);
	fixture_cleanup(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *diagnose_suite(void)
{
	Suite *s = suite_create("diagnose");
	TCase *tc = tcase_create("checks");
	TCase *td = tcase_create("doctor");

	tcase_add_test(tc, test_no_iommu_summary);
	tcase_add_test(tc, test_iommu_groups_present);
	tcase_add_test(tc, test_interrupt_remapping);
	tcase_add_test(tc, test_group_host_driver_endpoint);
	tcase_add_test(tc, test_group_fully_selected);
	tcase_add_test(tc, test_driver_manages_dma);
	tcase_add_test(tc, test_boot_vga_warning);
	tcase_add_test(tc, test_bar_overlaps_bootfb);
	tcase_add_test(tc, test_config_permissions);
	tcase_add_test(tc, test_config_permissions_cli);
	tcase_add_test(tc, test_stale_modprobe);
	tcase_add_test(tc, test_stale_none);
	tcase_add_test(tc, test_stale_module_lists_and_grub_d);
	tcase_add_test(tc, test_no_iommu_hint_proxmox);
	tcase_add_test(tc, test_modalias);
	tcase_add_test(tc, test_initramfs_read);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(td, kernel_setup, kernel_teardown);
	tcase_set_timeout(td, 120);
	tcase_add_test(td, test_doctor_ready);
	tcase_add_test(td, test_doctor_snapshot);
	tcase_add_test(td, test_doctor_mappings);
	tcase_add_test(td, test_doctor_errors);
	tcase_add_test(td, test_doctor_config_unsafe);
	tcase_add_test(td, test_doctor_initramfs_skipped);
	tcase_add_test(td, test_doctor_builtin);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diagnose_suite());
	int failed;

	fixture_preload("desktop");
	vb_log_set_max_priority(VB_LOG_ERR);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
