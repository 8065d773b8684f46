/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `vfio-bind iommu` and `vfio-bind import` end to end: the real binary on
 * fake trees (tests/sysfs) with the files a Debian or Proxmox host has
 * (/etc/default/grub, grub.d, /etc/kernel/cmdline, proxmox-boot-uuids,
 * proc/cpuinfo, the old modprobe.d recipe), checking output, exit codes and
 * the files left behind. Under a --root other than / nothing is executed.
 */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

#define KVER "6.8.12-4-pve" /* proxmox.tree's BOOT_IMAGE */

struct run {
	int status;
	char *out;
	char *err;
};

static char *slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[len] = 0;
	return buf;
}

/* vb(&r, root, arg, ..., NULL): runs $VB_BIN --root ROOT ARGS */
static struct run vb(const char *root, ...)
{
	char of[] = "/tmp/vbrec-out-XXXXXX", ef[] = "/tmp/vbrec-err-XXXXXX";
	int ofd = mkstemp(of), efd = mkstemp(ef), st, n = 0;
	char *argv[32];
	const char *a;
	struct run r;
	va_list ap;
	pid_t pid;

	ck_assert(ofd >= 0 && efd >= 0);
	unlink(of);
	unlink(ef);
	argv[n++] = getenv("VB_BIN");
	ck_assert_ptr_nonnull(argv[0]);
	argv[n++] = (char *)"--root";
	argv[n++] = (char *)root;
	va_start(ap, root);
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp_fd(ofd);
	r.err = slurp_fd(efd);
	close(ofd);
	close(efd);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fprintf(stderr, "--- output ---\n%s\n---\n", (hay));                       \
		ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\"", (needle));       \
	} while (0)
#define assert_not_contains(hay, needle)                                                           \
	ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle),  \
		      (hay))
#define assert_status(r, code)                                                                     \
	ck_assert_msg((r).status == (code), "exit %d, expected %d; stdout:\n%s\nstderr:\n%s",      \
		      (r).status, (code), (r).out, (r).err)

static void assert_file(const char *root, const char *rel, const char *content)
{
	char *s = fixture_read(root, rel);

	ck_assert_msg(s != NULL, "%s missing", rel);
	ck_assert_str_eq(s, content);
	free(s);
}

#define GRUB                                                                                       \
	"# If you change this file, run 'update-grub' afterwards.\n"                               \
	"GRUB_DEFAULT=0\n"                                                                         \
	"GRUB_TIMEOUT=5\n"                                                                         \
	"GRUB_DISTRIBUTOR=`( . /etc/os-release; echo ${NAME:-Debian} ) 2>/dev/null`\n"             \
	"GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"                                                   \
	"GRUB_CMDLINE_LINUX=\"\"\n"
#define INTEL "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n"
#define AMD "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302\n"
#define PVE_CMDLINE "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"

/* A node: proxmox.tree (its cmdline has intel_iommu=on: drop it, as on a
 * fresh install) with this CPU. */
static char *node(const char *cpuinfo)
{
	char *root = fixture_tree("proxmox");

	fixture_write(root, "proc/cmdline",
		      "BOOT_IMAGE=/boot/vmlinuz-" KVER " root=/dev/nvme0n1p3 ro quiet\n");
	fixture_write(root, "proc/cpuinfo", cpuinfo);
	return root;
}

/* Every regular file under root/etc and root/var, "path\ncontent\n" sorted:
 * what the round trips compare. */
static char *snapshot(const char *root)
{
	char cmd[4400], *s;
	FILE *p;
	size_t cap = 1 << 16, len = 0, n;

	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find etc var -type f 2>/dev/null | LC_ALL=C sort | "
		 "while read -r f; do echo \"== $f\"; cat \"$f\"; done",
		 root);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	s = malloc(cap + 1);
	while ((n = fread(s + len, 1, cap - len, p)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			s = realloc(s, cap + 1);
		}
	}
	s[len] = 0;
	pclose(p);
	return s;
}

/* ---- iommu ---- */

START_TEST(iommu_intel_grub_show_apply_remove)
{
	char *root = node(INTEL), *before;
	struct run r;

	fixture_write(root, "etc/default/grub", GRUB);
	fixture_write(root, "etc/default/grub.d/init-select.cfg", "GRUB_DISABLE_OS_PROBER=true\n");
	before = snapshot(root);

	/* 6.5: VT-d is off by default; no flag anywhere */
	r = vb(root, "iommu", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "CPU:         Intel (GenuineIntel)");
	assert_contains(r.out, "needed:      intel_iommu=on (VT-d is off by default before "
			       "kernel 6.8 (this is 6.5.13-5-pve))");
	assert_contains(r.out, "optional:    iommu=pt");
	assert_contains(r.out, "intel_iommu=on is not on /proc/cmdline");
	assert_contains(r.out, "boot loader: GRUB,");
	assert_contains(r.out, "configured:  no");
	assert_contains(r.out, "--- /dev/null\n"
			       "+++ /etc/default/grub.d/vfio-bind.cfg\n"
			       "@@ -0,0 +1,2 @@\n"
			       "+# Written by vfio-bind iommu --apply; vfio-bind iommu --remove "
			       "deletes it.\n"
			       "+GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX intel_iommu=on\"\n");
	assert_contains(r.out, "then runs: update-grub");
	run_free(&r);
	{
		char *now = snapshot(root);
		ck_assert_str_eq(now, before); /* showing writes nothing */
		free(now);
	}

	r = vb(root, "iommu", "--apply", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "wrote /etc/default/grub.d/vfio-bind.cfg");
	assert_contains(r.out, "is not /): update-grub");
	run_free(&r);
	assert_file(root, "etc/default/grub", GRUB); /* the admin's file: never edited */
	assert_file(root, "etc/default/grub.d/vfio-bind.cfg",
		    "# Written by vfio-bind iommu --apply; vfio-bind iommu --remove deletes it.\n"
		    "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX intel_iommu=on\"\n");

	/* now configured: a second --apply writes nothing */
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "configured:  yes, intel_iommu=on is in GRUB_CMDLINE_LINUX");
	assert_contains(r.out, "(reboot to use it)");
	assert_contains(r.out, "Nothing to write.");
	run_free(&r);

	r = vb(root, "iommu", "--remove", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "removed /etc/default/grub.d/vfio-bind.cfg");
	assert_contains(r.out, "is not /): update-grub");
	run_free(&r);
	{
		char *now = snapshot(root);
		ck_assert_str_eq(now, before); /* byte for byte what was there */
		free(now);
	}
	r = vb(root, "iommu", "--remove", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "nothing to remove");
	run_free(&r);
	free(before);
	fixture_cleanup(root);
}
END_TEST

START_TEST(iommu_proxmox_systemd_boot_round_trip)
{
	char *root = node(INTEL), *before;
	struct run r;

	fixture_write(root, "etc/kernel/cmdline", PVE_CMDLINE);
	fixture_write(root, "etc/kernel/proxmox-boot-uuids", "5D3A-1F2B\n5D3A-9C4E\n");
	before = snapshot(root);

	r = vb(root, "iommu", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "boot loader: proxmox-boot-tool (systemd-boot), command line in "
			       "/etc/kernel/cmdline");
	assert_contains(r.out, "--- /etc/kernel/cmdline\n+++ /etc/kernel/cmdline\n@@ -1 +1 @@\n"
			       "-root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"
			       "+root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n");
	assert_contains(r.out, "then runs: proxmox-boot-tool refresh");
	run_free(&r);

	r = vb(root, "iommu", "--apply", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "not run (the root ");
	assert_contains(r.out, "is not /): proxmox-boot-tool refresh");
	run_free(&r);
	assert_file(root, "etc/kernel/cmdline",
		    "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n");
	assert_file(root, "var/lib/vfio-bind/backup/etc/kernel/cmdline", PVE_CMDLINE);

	r = vb(root, "iommu", "--remove", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "restored /etc/kernel/cmdline");
	run_free(&r);
	{
		char *now = snapshot(root);
		ck_assert_str_eq(now, before);
		free(now);
	}

	/* the admin edits the line after --apply: --remove takes out only its word */
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	run_free(&r);
	fixture_write(root, "etc/kernel/cmdline",
		      "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on quiet\n");
	r = vb(root, "iommu", "--remove", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "removed intel_iommu=on from /etc/kernel/cmdline");
	run_free(&r);
	assert_file(root, "etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs quiet\n");
	ck_assert(!fixture_exists(root, "var/lib/vfio-bind/iommu"));
	free(before);
	fixture_cleanup(root);
}
END_TEST

START_TEST(iommu_proxmox_grub_and_kernel_install)
{
	char *root = node(INTEL);
	struct run r;

	/* proxmox-boot-tool booting GRUB (legacy BIOS on ZFS): GRUB's file, PVE's refresh */
	fixture_write(root, "etc/default/grub", GRUB);
	fixture_write(root, "etc/kernel/proxmox-boot-uuids", "5D3A-1F2B\n");
	r = vb(root, "iommu", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "boot loader: proxmox-boot-tool (GRUB)");
	assert_contains(r.out, "+++ /etc/default/grub.d/vfio-bind.cfg");
	assert_contains(r.out, "then runs: proxmox-boot-tool refresh");
	run_free(&r);

	/* plain systemd-boot through kernel-install */
	fixture_remove(root, "etc/default/grub");
	fixture_remove(root, "etc/kernel/proxmox-boot-uuids");
	fixture_write(root, "etc/kernel/cmdline", "root=UUID=1234 rw\n");
	r = vb(root, "iommu", "--apply", "--kernel", "6.1.0-18-amd64", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "boot loader: systemd-boot (kernel-install)");
	assert_contains(r.out, "is not /): kernel-install add 6.1.0-18-amd64 "
			       "/boot/vmlinuz-6.1.0-18-amd64");
	run_free(&r);
	assert_file(root, "etc/kernel/cmdline", "root=UUID=1234 rw intel_iommu=on\n");
	fixture_cleanup(root);
}
END_TEST

START_TEST(iommu_nothing_needed)
{
	char *root = node(AMD), *before;
	struct run r;

	fixture_write(root, "etc/default/grub", GRUB);
	before = snapshot(root);
	r = vb(root, "iommu", "--apply", "--kernel", "6.1.0-18-amd64", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "CPU:         AMD (AuthenticAMD)");
	assert_contains(r.out, "needed:      nothing (the kernel turns AMD-Vi on by default");
	assert_contains(r.out, "amd_iommu=on is not a valid value");
	assert_contains(r.out, "Nothing to change");
	assert_not_contains(r.out, "+GRUB");
	run_free(&r);

	/* Intel, 6.8 and later: on by default */
	fixture_write(root, "proc/cpuinfo", INTEL);
	r = vb(root, "iommu", "--apply", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "kernel:      " KVER);
	assert_contains(r.out, "VT-d is on by default since kernel 6.8");
	run_free(&r);

	/* Debian's 6.1 turns it on in its config */
	fixture_write(root, "boot/config-6.1.0-18-amd64",
		      "#\n# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n"
		      "CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y\nCONFIG_INTEL_IOMMU=y\n");
	r = vb(root, "iommu", "--apply", "--kernel", "6.1.0-18-amd64", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y");
	assert_contains(r.out, "Nothing to change");
	run_free(&r);
	/* a config without the default: needed */
	fixture_write(root, "boot/config-6.1.0-18-amd64",
		      "#\nCONFIG_INTEL_IOMMU=y\n# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n");
	r = vb(root, "iommu", "--kernel", "6.1.0-18-amd64", NULL);
	assert_status(r, 0);
	assert_contains(r.out,
			"needed:      intel_iommu=on (VT-d is off by default in this kernel");
	run_free(&r);
	{
		char *now = snapshot(root);
		ck_assert_str_eq(now, before);
		free(now);
	}
	free(before);
	fixture_cleanup(root);
}
END_TEST

START_TEST(iommu_refuses_what_it_cannot_parse)
{
	char *root = node(INTEL), *before;
	struct run r;

	/* two lines in /etc/kernel/cmdline */
	fixture_write(root, "etc/kernel/cmdline", "root=UUID=1234\nrw\n");
	before = snapshot(root);
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.0", NULL);
	assert_status(r, 6);
	assert_contains(r.err, "/etc/kernel/cmdline is not one command line");
	run_free(&r);
	/* an odd quote */
	fixture_write(root, "etc/kernel/cmdline", "root=UUID=1234 foo=\"bar\n");
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.0", NULL);
	assert_status(r, 6);
	run_free(&r);
	fixture_write(root, "etc/kernel/cmdline", "root=UUID=1234\nrw\n");
	{
		char *now = snapshot(root);
		ck_assert_str_eq(now, before);
		free(now);
	}

	/* a grub.d/vfio-bind.cfg that vfio-bind did not write */
	fixture_remove(root, "etc/kernel/cmdline");
	fixture_write(root, "etc/default/grub", GRUB);
	fixture_write(root, "etc/default/grub.d/vfio-bind.cfg", "GRUB_TIMEOUT=1\n");
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.0", NULL);
	assert_status(r, 6);
	assert_contains(r.err, "vfio-bind.cfg exists and is not what vfio-bind writes");
	run_free(&r);
	assert_file(root, "etc/default/grub.d/vfio-bind.cfg", "GRUB_TIMEOUT=1\n");

	/* intel_iommu=off configured: named, never overridden */
	fixture_write(root, "etc/default/grub",
		      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=off\"\n");
	fixture_remove(root, "etc/default/grub.d/vfio-bind.cfg");
	r = vb(root, "iommu", "--kernel", "6.12.9-amd64", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "configured:  intel_iommu=off is in GRUB_CMDLINE_LINUX");
	assert_contains(r.out, "Remove intel_iommu=off from");
	run_free(&r);
	r = vb(root, "iommu", "--apply", "--kernel", "6.12.9-amd64", NULL);
	assert_status(r, 6);
	assert_contains(r.err, "intel_iommu=off is configured");
	run_free(&r);
	ck_assert(!fixture_exists(root, "etc/default/grub.d/vfio-bind.cfg"));

	/* no boot loader at all */
	fixture_remove(root, "etc/default");
	r = vb(root, "iommu", "--apply", "--kernel", "6.5.0", NULL);
	assert_status(r, 6);
	assert_contains(r.err, "no boot loader found");
	run_free(&r);

	r = vb(root, "iommu", "--apply", "--remove", NULL);
	assert_status(r, 2);
	assert_contains(r.err, "Try 'vfio-bind --help'");
	run_free(&r);
	r = vb(root, "iommu", "--help", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "vfio-bind iommu [options]");
	run_free(&r);
	free(before);
	fixture_cleanup(root);
}
END_TEST

/* --json: the same facts as one object, and nothing else on stdout */
START_TEST(iommu_json)
{
	char *root = node(INTEL);
	struct run r;

	fixture_write(root, "etc/default/grub", GRUB);
	r = vb(root, "iommu", "--json", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	ck_assert_msg(r.out[0] == '{' && strcmp(r.out + strlen(r.out) - 2, "}\n") == 0,
		      "not one object:\n%s", r.out);
	assert_contains(r.out, "\n  \"command\": \"iommu\",\n");
	assert_contains(r.out, "\n  \"cpu_vendor\": \"intel\",\n");
	assert_contains(r.out, "\n  \"kernel_release\": \"6.5.13-5-pve\",\n");
	assert_contains(r.out, "\n  \"needed\": \"intel_iommu=on\",\n");
	assert_contains(r.out, "\n  \"in_running_cmdline\": false,\n");
	assert_contains(r.out, "\n  \"boot_loader\": \"grub\",\n");
	assert_contains(r.out, "\n  \"configured\": false,\n");
	assert_contains(r.out, "\n  \"refresh\": \"update-grub\",\n");
	assert_contains(r.out, "\"action\": \"create\",\n"
			       "      \"file\": \"/etc/default/grub.d/vfio-bind.cfg\",\n"
			       "      \"diff\": \"--- /dev/null\\n"
			       "+++ /etc/default/grub.d/vfio-bind.cfg\\n@@ -0,0 +1,2 @@\\n");
	assert_contains(r.out, "\n  \"written\": false,\n");
	assert_not_contains(r.out, "CPU:");
	/* the text's last line is a notice: stderr and the messages */
	assert_contains(r.err, "vfio-bind: vfio-bind iommu --apply writes this file");
	assert_contains(r.out, "\"text\": \"vfio-bind iommu --apply writes this file");
	assert_contains(r.out, "\n  \"exit_code\": 0\n}\n");
	ck_assert(!fixture_exists(root, "etc/default/grub.d/vfio-bind.cfg"));
	run_free(&r);

	r = vb(root, "iommu", "--apply", "--json", "--kernel", "6.5.13-5-pve", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "\n  \"written\": true,\n");
	assert_contains(r.err, "vfio-bind: not run (the root ");
	assert_not_contains(r.out, "\nnot run (the root"); /* only in messages */
	assert_contains(r.out, "\"text\": \"not run (the root ");
	run_free(&r);
	ck_assert(fixture_exists(root, "etc/default/grub.d/vfio-bind.cfg"));

	/* the exit code of a refusal is the object's too */
	fixture_write(root, "etc/default/grub",
		      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=off\"\n");
	r = vb(root, "iommu", "--remove", NULL);
	assert_status(r, 0);
	run_free(&r);
	r = vb(root, "iommu", "--apply", "--json", NULL);
	assert_status(r, 6);
	assert_contains(r.out, "\n  \"configured_off\": true,\n");
	assert_contains(r.out, "\"level\": \"error\",\n      \"text\": \"intel_iommu=off is "
			       "configured");
	assert_contains(r.out, "\n  \"exit_code\": 6\n}\n");
	run_free(&r);

	/* AMD: nothing needed, so nothing about it is configured or running */
	fixture_write(root, "proc/cpuinfo", AMD);
	r = vb(root, "iommu", "--json", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "\n  \"cpu_vendor\": \"amd\",\n");
	assert_contains(r.out, "\n  \"needed\": null,\n");
	assert_contains(r.out, "\n  \"in_running_cmdline\": null,\n");
	assert_contains(r.out, "\n  \"configured\": null,\n");
	assert_contains(r.out, "\n  \"changes\": [],\n");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- import ---- */

/* A module tree for KVER (tests/kmod/mkmodtree: nouveau, snd_hda_intel,
 * e1000e...), so import knows which driver each device would get. */
static void add_kernel(const char *root)
{
	const char *src = getenv("VB_SRCDIR");
	char cmd[8400];

	snprintf(cmd, sizeof(cmd), "%s/tests/kmod/mkmodtree '%s' %s 6.8 >/dev/null",
		 src && *src ? src : ".", root, KVER);
	ck_assert_int_eq(system(cmd), 0);
}

#define SEED_RECIPE                                                                                \
	"# GPU passthrough (the usual wiki recipe)\n"                                              \
	"options vfio-pci ids=10de:1eb1,10de:10f8 disable_vga=1\n"                                 \
	"blacklist nouveau\n"                                                                      \
	"softdep nouveau pre: vfio-pci\n"                                                          \
	"blacklist pcspkr\n"

START_TEST(import_seed_recipe)
{
	char *root = node(INTEL);
	struct run r;

	add_kernel(root);
	fixture_write(root, "etc/modprobe.d/vfio.conf", SEED_RECIPE);
	fixture_write(root, "etc/modules",
		      "# /etc/modules\nvfio\nvfio_iommu_type1\nvfio_pci\n"
		      "vfio_virqfd\nkvm\n");
	fixture_write(root, "etc/default/grub", GRUB);
	fixture_write(root, "etc/default/grub.d/passthrough.cfg",
		      "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT intel_iommu=on "
		      "vfio-pci.ids=10de:1eb1\"\n");

	r = vb(root, "import", NULL);
	assert_status(r, 0);
	assert_contains(r.out,
			"# Imported by vfio-bind import from the old vfio-pci recipe.\n"
			"bind path=0000:3d:00.0 id=10de:1eb1  # from "
			"/etc/modprobe.d/vfio.conf:2, /etc/default/grub.d/passthrough.cfg:1\n"
			"bind path=0000:3d:00.1 id=10de:10f8  # from "
			"/etc/modprobe.d/vfio.conf:2\n");
	assert_contains(r.out, "# replaces /etc/modprobe.d/vfio.conf:3: blacklist nouveau\n");
	assert_contains(r.out, "# replaces /etc/modprobe.d/vfio.conf:4: softdep nouveau pre: "
			       "vfio-pci\n");
	assert_contains(r.out, "# replaces /etc/modules:5: vfio_virqfd\n");
	assert_contains(r.out, "# replaces /etc/default/grub.d/passthrough.cfg:1: "
			       "vfio-pci.ids=10de:1eb1\n");
	/* not the recipe's: pcspkr's blacklist and kvm stay */
	assert_not_contains(r.out, "pcspkr");
	assert_not_contains(r.out, "kvm");
	/* the USB and UCSI functions are not in ids=: no rule */
	assert_not_contains(r.out, "3d:00.2");
	run_free(&r);

	/* the output is a valid config as it stands */
	{
		char path[4200];

		r = vb(root, "import", NULL);
		fixture_write(root, "etc/vfio-bind.conf", r.out);
		run_free(&r);
		snprintf(path, sizeof(path), "%s/etc/vfio-bind.conf", root);
		ck_assert_int_eq(chmod(path, 0644), 0);
		r = vb(root, "check", NULL);
		assert_status(r, 0);
		run_free(&r);
		fixture_remove(root, "etc/vfio-bind.conf");
	}

	r = vb(root, "import", "--write", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "appended 2 rule(s) to /etc/vfio-bind.conf");
	assert_contains(r.out, "commented out the old lines of /etc/modprobe.d/vfio.conf (backup: "
			       "/var/lib/vfio-bind/backup/etc/modprobe.d/vfio.conf)");
	assert_contains(r.out, "edit /etc/default/grub.d/passthrough.cfg line 1: remove "
			       "vfio-pci.ids=10de:1eb1, then run update-grub");
	assert_contains(r.out, "now run: update-initramfs -u -k all");
	run_free(&r);
	assert_file(root, "etc/modprobe.d/vfio.conf",
		    "# GPU passthrough (the usual wiki recipe)\n"
		    "# vfio-bind import: options vfio-pci ids=10de:1eb1,10de:10f8 disable_vga=1\n"
		    "options vfio-pci disable_vga=1\n"
		    "# vfio-bind import: blacklist nouveau\n"
		    "# vfio-bind import: softdep nouveau pre: vfio-pci\n"
		    "blacklist pcspkr\n");
	assert_file(root, "var/lib/vfio-bind/backup/etc/modprobe.d/vfio.conf", SEED_RECIPE);
	assert_file(root, "etc/modules",
		    "# /etc/modules\n# vfio-bind import: vfio\n# vfio-bind import: "
		    "vfio_iommu_type1\n# vfio-bind import: vfio_pci\n# vfio-bind import: "
		    "vfio_virqfd\nkvm\n");
	/* the admin's GRUB file is not edited */
	assert_file(root, "etc/default/grub.d/passthrough.cfg",
		    "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT intel_iommu=on "
		    "vfio-pci.ids=10de:1eb1\"\n");

	r = vb(root, "check", NULL);
	assert_status(r, 0);
	run_free(&r);
	r = vb(root, "plan", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "0000:3d:00.0");
	assert_contains(r.out, "0000:3d:00.1");
	run_free(&r);

	/* once the GRUB word is gone too, there is nothing left to import */
	fixture_write(
		root, "etc/default/grub.d/passthrough.cfg",
		"GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT intel_iommu=on\"\n");
	r = vb(root, "import", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "# Nothing to import");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(import_twin_cards_become_explicit)
{
	char *root = fixture_tree("twin-gpu");
	struct run r;

	fixture_write(root, "etc/modprobe.d/vfio.conf", "options vfio_pci ids=10de:2204\n");
	fixture_write(root, "usr/lib/modprobe.d/vendor.conf", "softdep nvidia pre: vfio-pci\n");
	fixture_write(root, "etc/kernel/cmdline",
		      "root=/dev/nvme0n1p2 vfio-pci.ids=10de:1aef rw\n");
	r = vb(root, "import", NULL);
	assert_status(r, 0);
	/* ids= takes both cards: import says so, one rule per address */
	assert_contains(r.out, "bind path=0000:0a:00.0 id=10de:2204  # from "
			       "/etc/modprobe.d/vfio.conf:1\n");
	assert_contains(r.out,
			"bind path=0000:0a:00.1 id=10de:1aef  # from /etc/kernel/cmdline:1\n");
	assert_contains(r.out, "bind path=0000:43:00.0 id=10de:2204");
	assert_contains(r.out, "bind path=0000:43:00.1 id=10de:1aef");
	assert_contains(r.err, "no module tree of kernel");
	run_free(&r);

	r = vb(root, "import", "--write", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "removed vfio-pci.ids=10de:1aef from /etc/kernel/cmdline");
	/* a package's file is named, not edited */
	assert_contains(r.out, "lib/modprobe.d/vendor.conf is not under /etc");
	assert_file(root, "usr/lib/modprobe.d/vendor.conf", "softdep nvidia pre: vfio-pci\n");
	assert_contains(r.out, "is not /): kernel-install add 6.1.0-18-amd64");
	run_free(&r);
	assert_file(root, "etc/kernel/cmdline", "root=/dev/nvme0n1p2 rw\n");
	assert_file(root, "var/lib/vfio-bind/backup/etc/kernel/cmdline",
		    "root=/dev/nvme0n1p2 vfio-pci.ids=10de:1aef rw\n");
	r = vb(root, "check", NULL);
	assert_status(r, 0);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The blacklist of a driver the host still needs for another card. */
START_TEST(import_calls_out_harmful_blacklist)
{
	char *root = fixture_tree_text(
		"cmdline BOOT_IMAGE=/boot/vmlinuz-" KVER " root=/dev/sda1 ro\n"
		"mountinfo 25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
		"driver pcieport state=builtin class=0604\n"
		"driver e1000e state=module ids=8086:15b8,8086:15bc\n"
		"driver vfio-pci state=loaded override-only\n"
		"dev 0000:00:1c.0 id=8086:a110 class=060400 group=1 driver=pcieport\n"
		"    dev 0000:01:00.0 id=8086:15b8 class=020000 group=2 driver=vfio-pci\n"
		"dev 0000:00:1d.0 id=8086:a111 class=060400 group=3 driver=pcieport\n"
		"    dev 0000:02:00.0 id=8086:15bc class=020000 group=4\n");
	struct run r;

	add_kernel(root);
	fixture_write(root, "etc/modprobe.d/nic.conf",
		      "options vfio-pci ids=8086:15b8\nblacklist e1000e\n");
	fixture_write(root, "etc/initramfs-tools/modules", "vfio_pci ids=8086:15b8\n");
	r = vb(root, "import", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "bind path=0000:01:00.0 id=8086:15b8  # from "
			       "/etc/modprobe.d/nic.conf:1, /etc/initramfs-tools/modules:1\n");
	assert_not_contains(r.out, "bind path=0000:02:00.0");
	assert_contains(r.out, "# replaces /etc/modprobe.d/nic.conf:2: blacklist e1000e\n");
	assert_contains(r.err, "/etc/modprobe.d/nic.conf:2: blacklist e1000e also keeps e1000e "
			       "from 0000:02:00.0 [8086:15bc], which the old recipe does not "
			       "pass through: the host gets it back once the line is gone");
	run_free(&r);

	/* doctor: the leftovers point at import */
	r = vb(root, "doctor", NULL);
	assert_contains(r.out, "vfio-bind import");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(import_json)
{
	char *root = fixture_tree("twin-gpu");
	struct run r;

	fixture_write(root, "etc/modprobe.d/vfio.conf", "options vfio_pci ids=10de:2204\n");
	fixture_write(root, "etc/kernel/cmdline",
		      "root=/dev/nvme0n1p2 vfio-pci.ids=10de:1aef rw\n");
	r = vb(root, "import", "--json", NULL);
	assert_status(r, 0);
	ck_assert_msg(r.out[0] == '{' && strcmp(r.out + strlen(r.out) - 2, "}\n") == 0,
		      "not one object:\n%s", r.out);
	assert_not_contains(r.out, "\nbind path="); /* the fragment is a string in it */
	/* ids= takes both cards: both addresses, and each card's rule */
	assert_contains(r.out, "\"text\": \"options vfio_pci ids=10de:2204\",\n"
			       "      \"matched\": [\n"
			       "        \"0000:0a:00.0\",\n"
			       "        \"0000:43:00.0\"\n"
			       "      ],\n"
			       "      \"replaced\": true\n");
	assert_contains(r.out, "\"rule\": \"bind path=0000:43:00.1 id=10de:1aef\",\n"
			       "      \"commented_out\": false,\n"
			       "      \"from\": [\n"
			       "        \"/etc/kernel/cmdline:1\"\n");
	assert_contains(r.out, "\"fragment\": \"# Imported by vfio-bind import from the old "
			       "vfio-pci recipe.\\nbind path=0000:0a:00.0 id=10de:2204  # from "
			       "/etc/modprobe.d/vfio.conf:1\\n");
	assert_contains(r.out, "\n  \"written\": false,\n");
	assert_contains(r.out, "\n  \"changes\": [],\n");
	run_free(&r);

	r = vb(root, "import", "--write", "--json", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "\n  \"written\": true,\n");
	assert_contains(r.out, "\"action\": \"append\",\n"
			       "      \"file\": \"/etc/vfio-bind.conf\",\n"
			       "      \"backup\": null\n");
	assert_contains(r.out,
			"\"action\": \"remove-word\",\n"
			"      \"file\": \"/etc/kernel/cmdline\",\n"
			"      \"backup\": \"/var/lib/vfio-bind/backup/etc/kernel/cmdline\"\n");
	assert_contains(r.err, "vfio-bind: appended 4 rule(s) to /etc/vfio-bind.conf\n");
	run_free(&r);
	assert_file(root, "etc/kernel/cmdline", "root=/dev/nvme0n1p2 rw\n");

	r = vb(root, "import", "--json", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "\n  \"rules\": [],\n");
	assert_contains(r.out, "\n  \"fragment\": null,\n");
	assert_contains(r.err, "vfio-bind: # Nothing to import");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(import_modalias_alias)
{
	char *root = fixture_tree("desktop");
	struct run r;

	/* an alias line hands the matching device (by modalias glob) to vfio-pci */
	fixture_write(root, "etc/modprobe.d/alias.conf",
		      "alias pci:v000010DEd00002204sv*sd*bc*sc*i* vfio-pci\n"
		      "alias pci:v000010DEd00001AEFsv*sd*bc03sc*i* vfio-pci\n");
	r = vb(root, "import", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "bind path=0000:01:00.0 id=10de:2204  # from "
			       "/etc/modprobe.d/alias.conf:1\n");
	/* the audio function's class is 04: the second alias matches nothing */
	assert_not_contains(r.out, "bind path=0000:01:00.1");
	assert_contains(r.err, "/etc/modprobe.d/alias.conf:2: alias "
			       "pci:v000010DEd00001AEFsv*sd*bc03sc*i* vfio-pci matches no device");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(import_nothing)
{
	char *root = fixture_tree("desktop");
	struct run r;

	r = vb(root, "import", "--write", NULL);
	assert_status(r, 0);
	assert_contains(r.out, "# Nothing to import");
	run_free(&r);
	ck_assert(!fixture_exists(root, "etc/vfio-bind.conf"));
	r = vb(root, "import", "extra", NULL);
	assert_status(r, 2);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recipe");
	TCase *tc = tcase_create("cli");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, iommu_intel_grub_show_apply_remove);
	tcase_add_test(tc, iommu_proxmox_systemd_boot_round_trip);
	tcase_add_test(tc, iommu_proxmox_grub_and_kernel_install);
	tcase_add_test(tc, iommu_nothing_needed);
	tcase_add_test(tc, iommu_refuses_what_it_cannot_parse);
	tcase_add_test(tc, iommu_json);
	tcase_add_test(tc, import_seed_recipe);
	tcase_add_test(tc, import_twin_cards_become_explicit);
	tcase_add_test(tc, import_calls_out_harmful_blacklist);
	tcase_add_test(tc, import_json);
	tcase_add_test(tc, import_modalias_alias);
	tcase_add_test(tc, import_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? 1 : 0;
}
