/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CLI tests of Proxmox VE support, on a fake Proxmox node (proxmox.tree with
 * etc/hostname, etc/pve/mapping/pci.cfg, VM configs, run/qemu-server): the
 * output and exit codes of check, plan, status and release with mapping=
 * rules and VMs, the mappings file check --mappings writes for the image,
 * and the early binder taking (and refusing) mapped devices from it.
 */
#include <check.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

struct run {
	int status;
	char *out, *err;
};

static char *slurp(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap + 1);

	rewind(f);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	buf[len] = 0;
	fclose(f);
	return buf;
}

/* run(envspec or NULL, "VB_BIN", arg..., NULL); envspec "NAME=VALUE" */
static struct run run(const char *env, const char *binvar, ...)
{
	char *argv[32];
	const char *a;
	FILE *o = tmpfile(), *e = tmpfile();
	struct run r;
	va_list ap;
	int n = 0, st;
	pid_t pid;

	argv[n++] = getenv(binvar);
	ck_assert_msg(argv[0], "%s is not set", binvar);
	va_start(ap, binvar);
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		if (env)
			putenv((char *)env);
		dup2(fileno(o), 1);
		dup2(fileno(e), 2);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(o);
	r.err = slurp(e);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Check caps a message at a few KiB: the haystack goes to stderr. */
#define contains(hay, needle)                                                                      \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fprintf(stderr, "--- output ---\n%s\n---\n", (hay));                       \
		ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\"", (needle));       \
	} while (0)
#define lacks(hay, needle)                                                                         \
	do {                                                                                       \
		if (strstr((hay), (needle)))                                                       \
			fprintf(stderr, "--- output ---\n%s\n---\n", (hay));                       \
		ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\"", (needle)); \
	} while (0)

/* JSON without blanks, for comparing objects whatever the indentation. */
static void squeeze(char *s)
{
	char *d = s;
	bool str = false;

	for (; *s; s++) {
		if (*s == '"' && (s == d || s[-1] != '\\'))
			str = !str;
		if (str || (*s != ' ' && *s != '\n'))
			*d++ = *s;
	}
	*d = 0;
}

static const char pci_cfg[] =
	"gpu\n"
	"\tdescription Quadro RTX 4000\n"
	"\tmap id=10de:1eb1,iommugroup=33,node=pve1,path=0000:3d:00,subsystem-id=10de:12a0\n"
	"\tmap id=10de:1eb1,iommugroup=5,node=pve2,path=0000:41:00,subsystem-id=10de:12a0\n"
	"\n"
	"nic\n"
	"\tmap node=pve1,path=0000:19:00.0;0000:19:00.1,id=8086:10fb,subsystem-id=8086:000c,"
	"iommugroup=23\n"
	"\n"
	"moved\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1533,subsystem-id=15d9:1533,iommugroup=12\n";

static char *node(const char *conf)
{
	char *root = fixture_tree("proxmox"), path[4200];

	fixture_write(root, "etc/hostname", "pve1\n");
	fixture_write(root, "etc/pve/.version", "1\n");
	fixture_write(root, "etc/pve/mapping/pci.cfg", pci_cfg);
	fixture_write(root, "etc/vfio-bind.conf", conf);
	snprintf(path, sizeof(path), "%s/etc/vfio-bind.conf", root);
	chmod(path, 0644);
	fixture_write(root, "dev/kmsg", "");
	return root;
}

static void vm_running(const char *root, unsigned vmid, unsigned pid)
{
	char rel[64], val[160], path[4200];
	FILE *f;
	int n;

	snprintf(rel, sizeof(rel), "run/qemu-server/%u.pid", vmid);
	snprintf(val, sizeof(val), "%u\n", pid);
	fixture_write(root, rel, val);
	snprintf(rel, sizeof(rel), "proc/%u/cmdline", pid);
	fixture_write(root, rel, "");
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	n = snprintf(val, sizeof(val),
		     "/usr/bin/kvm%c-id%c%u%c-pidfile%c/var/run/qemu-server/%u.pid", 0, 0, vmid, 0,
		     0, vmid);
	f = fopen(path, "w");
	fwrite(val, 1, (size_t)n + 1, f);
	fclose(f);
}

static char *driver_of(const char *root, const char *bdf)
{
	char rel[128], *l, *b, *r;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", bdf);
	l = fixture_readlink(root, rel);
	if (!l)
		return strdup("");
	b = strrchr(l, '/');
	r = strdup(b ? b + 1 : l);
	free(l);
	return r;
}

#define driver_is(root, bdf, want)                                                                 \
	do {                                                                                       \
		char *_d = driver_of((root), (bdf));                                               \
		ck_assert_msg(strcmp(_d, (want)) == 0, "%s on '%s', expected '%s'", (bdf), _d,     \
			      (want));                                                             \
		free(_d);                                                                          \
	} while (0)

/* check: a mapping that no longer fits is a warning (exit 0); --mappings
 * writes what the image needs; the early binder takes from that file what
 * still fits and says in the kernel log why it leaves the rest. */
START_TEST(check_writes_mappings_and_early_uses_them)
{
	char *root = node("bind mapping=gpu\nbind mapping=moved\n"), file[4200], *m, *kmsg;
	struct run r;

	snprintf(file, sizeof(file), "%s/etc/vfio-bind.mappings", root);
	r = run(NULL, "VB_BIN", "--root", root, "check", "--mappings", file, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	contains(r.err, "warning: ");
	contains(r.err, "vfio-bind.conf:2: 0000:02:00.0 refused: mapping 'moved' (pci.cfg:10) "
			"expects iommugroup 12, 0000:02:00.0 is in group 13");
	run_free(&r);
	m = fixture_read(root, "etc/vfio-bind.mappings");
	ck_assert_ptr_nonnull(m);
	contains(m, "\nvfio-bind-mappings 1\nnode pve1\n");
	contains(m, "\nmapping gpu 1\npath 0000:3d:00 10de:1eb1 10de:12a0 33 3\n");
	contains(m, "\nmapping moved 9\npath 0000:02:00.0 8086:1533 15d9:1533 12 10\n");
	lacks(m, "mapping nic");
	free(m);

	/* the initramfs has no pmxcfs: the early binder reads only that file */
	fixture_remove(root, "etc/pve");
	r = run(NULL, "VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	driver_is(root, "0000:3d:00.0", "vfio-pci");
	driver_is(root, "0000:3d:00.1", "vfio-pci");
	driver_is(root, "0000:3d:00.3", "vfio-pci");
	driver_is(root, "0000:02:00.0", "igb");
	kmsg = fixture_read(root, "dev/kmsg");
	contains(kmsg, "mapping 'moved' (pci.cfg:10) expects iommugroup 12, 0000:02:00.0 is in "
		       "group 13: hardware changed? not taken");
	contains(kmsg, "4 device(s) on vfio-pci, 0 failed, 1 refused");
	free(kmsg);

	/* without the file (an image from before the rule): nothing at all */
	fixture_remove(root, "etc/vfio-bind.mappings");
	fixture_write(root, "etc/vfio-bind.conf", "bind mapping=nic\nbind path=0000:02:00.0\n");
	fixture_write(root, "dev/kmsg", "");
	r = run(NULL, "VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 3);
	run_free(&r);
	kmsg = fixture_read(root, "dev/kmsg");
	contains(kmsg, "/etc/vfio-bind.mappings: No such file or directory: the Proxmox mappings "
		       "of the image are unusable, no device bound");
	free(kmsg);
	driver_is(root, "0000:02:00.0", "igb");
	driver_is(root, "0000:19:00.0", "ixgbe");
	fixture_cleanup(root);
}
END_TEST

START_TEST(plan_json_refusal_code)
{
	char *root = node("bind mapping=moved\nbind mapping=nic\n");
	struct run r = run(NULL, "VB_BIN", "--root", root, "plan", "--json", NULL);

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	squeeze(r.out);
	contains(r.out, "\"address\":\"0000:02:00.0\",\"action\":\"refuse\"");
	contains(r.out, "\"refusal\":\"mapping-mismatch\",\"refusals\":[\"mapping-mismatch\"]");
	contains(r.out, "\"address\":\"0000:19:00.1\",\"action\":\"rebind\"");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(config_errors)
{
	static const struct {
		const char *conf, *cfg, *err;
		bool no_pve;
	} cases[] = {
		{"bind path=02:00.0\nbind  mapping=gpuu\n", NULL,
		 "vfio-bind.conf:2:7: error: unknown mapping 'gpuu': not in ", false},
		{"bind mapping=gpu\n", NULL, "vfio-bind.conf:1:6: error: mapping=gpu needs ", true},
		{"bind mapping=gpu\n", "gpu\n\tmap node=pve1,path=0000:3d:00\n",
		 "etc/pve/mapping/pci.cfg:2:6: error: map entry without id=", false},
		{"bind mapping=1gpu\n", NULL, "vfio-bind.conf:1:14: error: invalid mapping= value",
		 false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *root = node(cases[i].conf);
		struct run r;

		if (cases[i].cfg)
			fixture_write(root, "etc/pve/mapping/pci.cfg", cases[i].cfg);
		if (cases[i].no_pve)
			fixture_remove(root, "etc/pve");
		r = run(NULL, "VB_BIN", "--root", root, "check", NULL);
		ck_assert_msg(r.status == 3, "case %zu: exit %d: %s", i, r.status, r.err);
		contains(r.err, cases[i].err);
		if (i == 0)
			contains(r.err, "hint: did you mean 'gpu'?");
		if (cases[i].no_pve)
			contains(r.err, "not a Proxmox VE node");
		run_free(&r);
		fixture_cleanup(root);
	}
}
END_TEST

/* No entry for this node, an mdev mapping: warnings, exit 0. */
START_TEST(check_warnings)
{
	char *root = node("bind mapping=gpu\nbind mapping=vgpu\nbind mapping=far\n");
	struct run r;

	fixture_write(root, "etc/pve/mapping/pci.cfg",
		      "gpu\n\tmap id=10de:1eb1,iommugroup=33,node=pve1,path=0000:3d:00,"
		      "subsystem-id=10de:12a0\n\n"
		      "vgpu\n\tmdev 1\n\tmap node=pve1,path=0000:05:00.0,id=1a03:2000\n\n"
		      "far\n\tmap node=pve9,path=0000:05:00.0,id=1a03:2000\n");
	r = run(NULL, "VB_BIN", "--root", root, "check", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	contains(r.err, "vfio-bind.conf:2:6: warning: mapping 'vgpu' is for mediated devices");
	contains(r.err, "vfio-bind.conf:3:6: warning: mapping 'far' has no entry for node 'pve1' "
			"(only for pve9): it selects nothing");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(status_shows_vms)
{
	char *root = node("bind mapping=gpu\n");
	struct run r;

	fixture_write(root, "etc/pve/qemu-server/100.conf",
		      "hostpci0: mapping=gpu,pcie=1,x-vga=1\nhostpci1: 19:00.0\n");
	fixture_write(root, "etc/pve/qemu-server/200.conf", "hostpci0: 0000:19:00\n");
	vm_running(root, 100, 4242);
	fixture_write(root, "run/qemu-server/pci-id-reservations",
		      "0000:3d:00.0 100 pid:4242\n0000:3d:00.1 100 pid:4242\n");
	r = run(NULL, "VB_BIN", "--root", root, "status", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	contains(r.out, " VMS ");
	contains(r.out, " 100*     /");   /* 3d:00.0: running VM 100 */
	contains(r.out, " 100*,200 -\n"); /* 19:00.0 */
	contains(r.out, " 200      -\n"); /* 19:00.1: only the stopped VM */
	run_free(&r);
	r = run(NULL, "VB_BIN", "--root", root, "status", "--json", NULL);
	ck_assert_int_eq(r.status, 0);
	squeeze(r.out);
	contains(r.out, "\"vms\":[{\"vmid\":100,\"entry\":\"hostpci0\",\"mapping\":\"gpu\","
			"\"reservation\":false,\"running\":true},{\"vmid\":100,\"entry\":null,"
			"\"mapping\":null,\"reservation\":true,\"running\":true}]");
	contains(r.out, "\"address\":\"0000:19:00.1\"");
	contains(r.out, "\"vms\":[{\"vmid\":200,\"entry\":\"hostpci0\",\"mapping\":null,"
			"\"reservation\":false,\"running\":false}]");
	run_free(&r);
	r = run(NULL, "VB_BIN", "--root", root, "doctor", NULL);
	contains(r.out, "used by VM 100 (running, hostpci0 mapping gpu)");
	run_free(&r);

	/* not a Proxmox node: the table as before, "vms" empty */
	fixture_remove(root, "etc/pve");
	fixture_write(root, "etc/vfio-bind.conf", "bind path=3d:00\n");
	r = run(NULL, "VB_BIN", "--root", root, "status", NULL);
	ck_assert_int_eq(r.status, 0);
	lacks(r.out, " VMS ");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* release keeps what a running VM holds (exit 5) unless --force, and
 * removes the vfio-pci dynamic id Proxmox's new_id left. */
START_TEST(release_and_running_vms)
{
	char *root = node("bind mapping=gpu\nbind mapping=nic\n"), *log;
	struct run r;

	r = run(NULL, "VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_msg(r.status == 0, "apply exit %d: %s", r.status, r.err);
	run_free(&r);
	driver_is(root, "0000:19:00.0", "vfio-pci");
	fixture_write(root, "etc/pve/qemu-server/100.conf", "hostpci0: mapping=nic\n");
	vm_running(root, 100, 4242);

	r = run(NULL, "VB_SIM_BIN", "--root", root, "release", NULL);
	ck_assert_msg(r.status == 5, "exit %d: %s", r.status, r.err);
	contains(r.err, "release: 0000:19:00.0 is in use by running VM 100: not released");
	contains(r.err, "release --force");
	run_free(&r);
	driver_is(root, "0000:19:00.0", "vfio-pci");
	driver_is(root, "0000:19:00.1", "vfio-pci");
	driver_is(root, "0000:3d:00.1", "snd_hda_intel"); /* the others are released */
	log = fixture_read(root, ".simkernel/writes");
	contains(log, "sys/bus/pci/drivers/vfio-pci/remove_id\t10de 10f8");
	lacks(log, "remove_id\t8086 10fb");
	free(log);

	/* remove_id fails with ENODEV when vfio-pci has no such id: fine */
	r = run("VB_SIM_FAIL=drivers/vfio-pci/remove_id:19", "VB_SIM_BIN", "--root", root,
		"release", "--force", "19:00.0", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	contains(r.err, "0000:19:00.0 is in use by running VM 100: released anyway (--force)");
	lacks(r.err, "cannot remove the vfio-pci dynamic id");
	run_free(&r);
	driver_is(root, "0000:19:00.0", "ixgbe");
	driver_is(root, "0000:19:00.1", "vfio-pci");

	/* another failure is said, the release goes on */
	r = run("VB_SIM_FAIL=drivers/vfio-pci/remove_id:13", "VB_SIM_BIN", "--root", root,
		"release", "--force", "0000:19:00.1", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	contains(r.err, "cannot remove the vfio-pci dynamic id 8086 10fb: Permission denied");
	run_free(&r);
	driver_is(root, "0000:19:00.1", "ixgbe");
	fixture_cleanup(root);
}
END_TEST

/* The digest the image records follows pci.cfg. */
START_TEST(check_digest_follows_pci_cfg)
{
	char *root = node("bind mapping=gpu\n"), file[4200], *m;
	struct run r;

	snprintf(file, sizeof(file), "%s/m", root);
	r = run(NULL, "VB_BIN", "--root", root, "check", "--mappings", file, NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	m = fixture_read(root, "m");
	ck_assert_ptr_nonnull(m);
	free(m);
	/* doctor's comparison with an image is in test-diagnose; here: check
	 * records another digest when pci.cfg changes, the same resolution
	 * when the mapping does not */
	fixture_write(root, "etc/pve/mapping/pci.cfg",
		      "gpu\n"
		      "\tdescription Quadro RTX 4000 (renamed)\n"
		      "\tmap id=10de:1eb1,iommugroup=33,node=pve1,path=0000:3d:00,"
		      "subsystem-id=10de:12a0\n");
	snprintf(file, sizeof(file), "%s/m2", root);
	r = run(NULL, "VB_BIN", "--root", root, "check", "--mappings", file, NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	{
		char *a = fixture_read(root, "m"), *b = fixture_read(root, "m2");

		ck_assert_str_ne(strstr(a, "\nsource "), strstr(b, "\nsource "));
		ck_assert_str_eq(strstr(a, "\nmapping "), strstr(b, "\nmapping "));
		free(a);
		free(b);
	}
	fixture_cleanup(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-pve");
	TCase *tc = tcase_create("cli-pve");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 200);
	fixture_preload("proxmox");
	tcase_add_test(tc, check_writes_mappings_and_early_uses_them);
	tcase_add_test(tc, plan_json_refusal_code);
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, check_warnings);
	tcase_add_test(tc, status_shows_vms);
	tcase_add_test(tc, release_and_running_vms);
	tcase_add_test(tc, check_digest_follows_pci_cfg);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
