/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CLI tests: run the real binaries against fake sysfs trees and compare their
 * output and exit codes. `vfio-bind-sim` and `vfio-bind-early-sim` are the
 * same programs with the simulated kernel behind the kernel-operations
 * boundary, so apply and release are seen end to end.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "lock.h"
#include "simkernel.h"

struct run {
	int status; /* exit code, or 128+signal */
	char *out;
	char *err;
};

static const char *bin(const char *var)
{
	const char *p = getenv(var);

	ck_assert_msg(p && *p, "%s is not set (run under meson test)", var);
	return p;
}

static char *slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[len] = 0;
	return buf;
}

/* Runs argv (argv[0] is the program path) with stdin from `input` (NULL: empty). */
static struct run run_argv(char *const argv[], const char *input)
{
	char of[] = "/tmp/vbcli-out-XXXXXX", ef[] = "/tmp/vbcli-err-XXXXXX",
	     inf[] = "/tmp/vbcli-in-XXXXXX";
	int ofd = mkstemp(of), efd = mkstemp(ef), ifd = mkstemp(inf), st;
	struct run r;
	pid_t pid;

	ck_assert(ofd >= 0 && efd >= 0 && ifd >= 0);
	unlink(of);
	unlink(ef);
	unlink(inf);
	if (input)
		ck_assert_int_eq(write(ifd, input, strlen(input)), (ssize_t)strlen(input));
	lseek(ifd, 0, SEEK_SET);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(ifd, 0);
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
	close(ifd);
	return r;
}

/* run(&r, "VB_BIN", arg, ..., NULL) */
static struct run run(const char *binvar, ...)
{
	char *argv[32];
	va_list ap;
	int n = 0;
	const char *a;

	argv[n++] = (char *)bin(binvar);
	va_start(ap, binvar);
	while ((a = va_arg(ap, const char *)) && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return run_argv(argv, NULL);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Check caps a message at a few KiB: print the haystack on stderr instead. */
#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fprintf(stderr, "--- output ---\n%s\n---\n", (hay));                       \
		ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\"", (needle));       \
	} while (0)
#define assert_not_contains(hay, needle)                                                           \
	ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle),  \
		      (hay))

static char *tree_with_config(const char *tree, const char *config)
{
	char *root = fixture_tree(tree);

	if (config) {
		fixture_write(root, "etc/vfio-bind.conf", config);
		char path[4200];
		snprintf(path, sizeof(path), "%s/etc/vfio-bind.conf", root);
		chmod(path, 0644);
	}
	return root;
}

/* The name of the driver bound to a device in the tree ("" for none). */
static char *driver_of(const char *root, const char *bdf)
{
	char rel[128], *link, *base, *res;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver", bdf);
	link = fixture_readlink(root, rel);
	if (!link)
		return strdup("");
	base = strrchr(link, '/');
	res = strdup(base ? base + 1 : link);
	free(link);
	return res;
}

#define assert_driver(root, bdf, expected)                                                         \
	do {                                                                                       \
		char *_d = driver_of((root), (bdf));                                               \
		ck_assert_msg(strcmp(_d, (expected)) == 0, "%s: driver '%s', expected '%s'",       \
			      (bdf), _d, (expected));                                              \
		free(_d);                                                                          \
	} while (0)

/* ---- conventions ---- */

START_TEST(help_and_version)
{
	struct run r = run("VB_BIN", "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.out, "Usage:");
	assert_contains(r.out, "vfio-bind.conf(5)");
	ck_assert_str_eq(r.err, "");
	run_free(&r);

	r = run("VB_BIN", "--version", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.out, "vfio-bind ");
	run_free(&r);
}
END_TEST

START_TEST(usage_errors_point_at_help)
{
	static const char *const cases[][3] = {
		{"--bogus", NULL, NULL},        {"frobnicate", NULL, NULL},
		{"status", "--bogus", NULL},    {"plan", "extra", NULL},
		{"--timeout", "abc", "status"}, {"--timeout", "-5", "status"},
		{"check", "--kernel", NULL},
	};
	char *root = fixture_tree("desktop");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r =
			run("VB_BIN", "--root", root, cases[i][0], cases[i][1], cases[i][2], NULL);
		ck_assert_msg(r.status == 2, "case %zu: exit %d, stderr:\n%s", i, r.status, r.err);
		assert_contains(r.err, "Try 'vfio-bind --help'");
		assert_not_contains(r.out, "Usage:");
		run_free(&r);
	}
	{
		struct run r = run("VB_BIN", NULL);
		ck_assert_int_eq(r.status, 2);
		assert_contains(r.err, "no command given");
		run_free(&r);
	}
	{
		/* an unknown command is a usage error even when the root is bad */
		struct run r = run("VB_BIN", "--root", "/nonexistent", "frobnicate", NULL);
		ck_assert_int_eq(r.status, 2);
		run_free(&r);
	}
	fixture_cleanup(root);
}
END_TEST

START_TEST(bad_root_is_exit_1)
{
	struct run r = run("VB_BIN", "--root", "/nonexistent/vfio-bind-root", "status", NULL);

	ck_assert_int_eq(r.status, 1);
	assert_contains(r.err, "cannot open root directory /nonexistent/vfio-bind-root");
	run_free(&r);
}
END_TEST

/* ---- status ---- */

START_TEST(status_table_matches_dump)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	char *expected_path, *expected;
	struct run r;

	r = run("VB_BIN", "--root", root, "status", NULL);
	ck_assert_int_eq(r.status, 0);

	/* config file names in output depend on the temp root: normalise */
	{
		char *p;
		size_t rl = strlen(root);
		while ((p = strstr(r.out, root))) {
			memmove(p + 5, p + rl, strlen(p + rl) + 1);
			memcpy(p, "ROOT/", 5);
			if (p[5] == '/')
				memmove(p + 5, p + 6, strlen(p + 6) + 1);
		}
	}
	ck_assert_int_ge(asprintf(&expected_path, "%s/tests/cli/expected/status-desktop.txt",
				  getenv("VB_SRCDIR") ? getenv("VB_SRCDIR") : "."),
			 0);
	{
		char *dir = strdup(expected_path), *slash = strrchr(dir, '/');
		*slash = 0;
		expected = fixture_read(dir, slash + 1);
		free(dir);
	}
	ck_assert_msg(expected, "missing %s", expected_path);
	if (strcmp(r.out, expected) != 0)
		fprintf(stderr, "--- got ---\n%s---\n", r.out);
	ck_assert_msg(strcmp(r.out, expected) == 0, "status output differs from %s", expected_path);
	free(expected);
	free(expected_path);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

static void check_json(const char *json)
{
	char *argv[] = {(char *)"/usr/bin/python3", (char *)"-c",
			(char *)"import json,sys; d=json.load(sys.stdin); "
				"assert isinstance(d['devices'], list)",
			NULL};
	struct run r = run_argv(argv, json);

	if (r.status != 0)
		fprintf(stderr, "--- JSON ---\n%s\n---\n", json);
	ck_assert_msg(r.status == 0, "invalid JSON: %s", r.err);
	run_free(&r);
}

START_TEST(status_json_fields)
{
	char *root = tree_with_config("twin-gpu", "# the second card only\nbind path=43:00\n");
	struct run r = run("VB_BIN", "--root", root, "status", "--json", NULL);
	static const char *const fields[] = {
		"\"address\"",          "\"vendor\"",   "\"device\"",   "\"subsystem_vendor\"",
		"\"subsystem_device\"", "\"class\"",    "\"driver\"",   "\"driver_override\"",
		"\"iommu_group\"",      "\"boot_vga\"", "\"topology\"", "\"selected_by\"",
	};
	char sel[4300];

	ck_assert_int_eq(r.status, 0);
	check_json(r.out);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_contains(r.out, fields[i]);
	assert_contains(r.out, "\"address\": \"0000:43:00.0\"");
	assert_contains(r.out, "\"topology\": \"0000:40:03.1/00.0/04.0/00.0\"");
	snprintf(sel, sizeof(sel), "\"selected_by\": \"%s/etc/vfio-bind.conf:2\"", root);
	assert_contains(r.out, sel);
	/* the identical first card is not selected */
	{
		const char *first = strstr(r.out, "\"address\": \"0000:0a:00.0\"");
		ck_assert_ptr_nonnull(first);
		const char *end = strchr(first, '}');
		ck_assert_ptr_nonnull(end);
		char *obj = strndup(first, end - first);
		assert_contains(obj, "\"selected_by\": null");
		free(obj);
	}
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

static void set_cmdline(const char *root, const char *cmdline)
{
	fixture_write(root, "proc/cmdline", cmdline);
}

/* The JSON object of one device in `status --json` output (freed by caller). */
static char *json_device(const char *out, const char *bdf)
{
	char key[64];
	const char *p, *end;

	snprintf(key, sizeof(key), "\"address\": \"%s\"", bdf);
	p = strstr(out, key);
	ck_assert_msg(p, "no %s in:\n%s", bdf, out);
	end = strchr(p, '}');
	ck_assert_ptr_nonnull(end);
	return strndup(p, end - p);
}

/* A card added behind an earlier root port renumbers the buses behind the
 * later ones (tests/sysfs/renumber-*.tree): status shows the same topology
 * for the same device before and after, in the table and in JSON. */
START_TEST(status_topology_survives_renumbering)
{
	static const char *const same[][3] = {
		{"0000:02:00.0", "0000:03:00.0", "0000:00:1c.4/00.0"},
		{"0000:05:00.1", "0000:06:00.1", "0000:00:1d.0/00.0/01.0/00.1"},
		{"0000:01:00.0", "0000:01:00.0", "0000:00:01.0/00.0"},
	};
	char *before = tree_with_config("renumber-before", NULL);
	char *after = tree_with_config("renumber-after", NULL);
	struct run rb = run("VB_BIN", "--root", before, "status", "--json", NULL);
	struct run ra = run("VB_BIN", "--root", after, "status", "--json", NULL);
	struct run rt = run("VB_BIN", "--root", after, "status", NULL);

	ck_assert_int_eq(rb.status, 0);
	ck_assert_int_eq(ra.status, 0);
	ck_assert_int_eq(rt.status, 0);
	check_json(rb.out);
	check_json(ra.out);
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char want[128], *ob = json_device(rb.out, same[i][0]),
				*oa = json_device(ra.out, same[i][1]);

		snprintf(want, sizeof(want), "\"topology\": \"%s\"", same[i][2]);
		assert_contains(ob, want);
		assert_contains(oa, want);
		free(ob);
		free(oa);
	}
	/* the table has a TOPOLOGY column, as wide as the widest topology */
	assert_contains(rt.out, " BOOT TOPOLOGY                    SELECTED-BY\n");
	assert_contains(rt.out, "   no 0000:00:1c.4/00.0           -\n");
	assert_contains(rt.out, "    - 0000:00:1d.0/00.0/01.0/00.1 -\n");
	run_free(&rb);
	run_free(&ra);
	run_free(&rt);
	fixture_cleanup(before);
	fixture_cleanup(after);
}
END_TEST

/* The config written before the card was added (a topology copied from
 * status, and a sysfs path), applied after it: the same GPU and NIC port are
 * taken at their new addresses, by the host command and the early binder;
 * the new NVMe at the GPU's old address is not. */
START_TEST(apply_topology_after_renumbering)
{
	static const char conf[] =
		"bind topology=0000:00:1c.4/00\n"
		"bind topology=/sys/devices/pci0000:00/0000:00:1d.0/0000:03:00.0/"
		"0000:04:01.0/0000:05:00.1\n";
	static const char *const bins[] = {"VB_SIM_BIN", "VB_EARLY_SIM_BIN"};

	for (size_t i = 0; i < 2; i++) {
		char *root = tree_with_config("renumber-after", conf);
		struct run r;

		fixture_write(root, "dev/kmsg", "");
		set_cmdline(root, "root=/dev/sda2 ro quiet\n");
		if (i == 0)
			r = run(bins[i], "--root", root, "apply", NULL);
		else
			r = run(bins[i], "--root", root, NULL);
		ck_assert_msg(r.status == 0, "%s: exit %d: %s", bins[i], r.status, r.err);
		assert_driver(root, "0000:03:00.0", "vfio-pci");
		assert_driver(root, "0000:03:00.1", "vfio-pci");
		assert_driver(root, "0000:06:00.1", "vfio-pci");
		assert_driver(root, "0000:06:00.0", "ixgbe");
		assert_driver(root, "0000:02:00.0", "nvme");
		assert_driver(root, "0000:01:00.0", "amdgpu");
		run_free(&r);
		fixture_cleanup(root);
	}
}
END_TEST

/* ---- plan ---- */

START_TEST(plan_json_actions)
{
	char *root = tree_with_config("desktop", "bind path=01:00\nbind path=00:01.0\n");
	struct run r = run("VB_BIN", "--root", root, "plan", "--json", NULL);

	ck_assert_int_eq(r.status, 0);
	check_json(r.out);
	assert_contains(r.out, "\"action\": \"rebind\"");
	assert_contains(r.out, "\"action\": \"refuse\"");
	assert_contains(r.out, "\"reason\"");
	assert_contains(r.out, "\"rule\"");
	assert_contains(r.out, "vfio-bind.conf:2\"");
	run_free(&r);

	r = run("VB_BIN", "--root", root, "plan", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.out, "0000:01:00.0 rebind");
	assert_contains(r.out, "0000:00:01.0 refuse");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- check ---- */

START_TEST(check_reports_file_line_column)
{
	char *root = tree_with_config("desktop", "bind path=01:00\nbind id=10de:22zz\n");
	struct run r = run("VB_BIN", "--root", root, "check", NULL);
	char loc[4300];

	ck_assert_int_eq(r.status, 3);
	snprintf(loc, sizeof(loc), "%s/etc/vfio-bind.conf:2:", root);
	assert_contains(r.err, loc);
	assert_contains(r.err, "error");
	run_free(&r);

	/* a rule matching nothing is a warning, not an error */
	fixture_write(root, "etc/vfio-bind.conf", "bind id=dead:beef\n");
	r = run("VB_BIN", "--root", root, "check", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.err, "warning");
	run_free(&r);

	/* --config is a path on the running system */
	fixture_write(root, "other.conf", "bind path=01:00.1\n");
	{
		char cfg[4300];
		snprintf(cfg, sizeof(cfg), "%s/other.conf", root);
		r = run("VB_BIN", "--root", root, "--config", cfg, "check", NULL);
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		run_free(&r);
	}
	fixture_cleanup(root);
}
END_TEST

START_TEST(check_refuses_root_controller)
{
	/* desktop.tree: / is on nvme0n1p2 behind 0000:02:00.0 */
	char *root = tree_with_config("desktop", "bind path=02:00.0 allow-storage=yes\n");
	struct run r = run("VB_BIN", "--root", root, "check", NULL);

	ck_assert_int_eq(r.status, 5);
	assert_contains(r.err, "0000:02:00.0");
	assert_contains(r.err, "root filesystem");
	assert_contains(r.err, "vfio-bind.conf:1");
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_int_eq(r.status, 5);
	assert_driver(root, "0000:02:00.0", "nvme");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The IOMMU still off when the image is built (Intel before 6.8, before
 * intel_iommu=on was added): no device has a group, and the root's NVMe
 * must still fail check, not pass as "no IOMMU group". */
START_TEST(check_refuses_root_controller_without_iommu)
{
	char *root = tree_with_config("desktop", "bind class=0108\n");
	char dir[4200];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/sys/bus/pci/devices", root);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char rel[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/iommu_group", e->d_name);
		fixture_remove(root, rel);
	}
	closedir(d);

	struct run r = run("VB_BIN", "--root", root, "check", NULL);
	ck_assert_msg(r.status == 5, "exit %d, stderr:\n%s", r.status, r.err);
	assert_contains(r.err, "0000:02:00.0");
	assert_contains(r.err, "root filesystem");
	assert_contains(r.err, "vfio-bind.conf:1");
	run_free(&r);

	/* plan --json: the root's refusal first, the missing group recorded too */
	r = run("VB_BIN", "--root", root, "plan", "--json", NULL);
	check_json(r.out);
	assert_contains(r.out, "\"refusal\": \"root-storage\"");
	assert_contains(r.out, "\"root-storage\",\n");
	assert_contains(r.out, "\"no-iommu-group\"\n");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The root cannot be traced (a pool whose members are not found): check says
 * what it could not resolve and refuses every mass-storage controller whose
 * rule lacks allow-storage=yes. */
START_TEST(check_fails_closed_when_root_unknown)
{
	char *root = tree_with_config("desktop", "bind class=0106\nbind path=01:00\n");
	struct run r;

	fixture_write(root, "proc/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs ro\n");
	fixture_write(root, "proc/self/mountinfo", "");
	r = run("VB_BIN", "--root", root, "check", NULL);
	ck_assert_msg(r.status == 5, "exit %d: %s", r.status, r.err);
	assert_contains(r.err, "cannot tell which controller holds the root filesystem: "
			       "root=ZFS=rpool/ROOT/pve-1: no member of pool rpool found");
	assert_contains(r.err, "0000:00:17.0 refused: mass-storage controller while the root's "
			       "controller is unknown");
	assert_not_contains(r.err, "0000:01:00.0 refused");
	run_free(&r);

	fixture_write(root, "etc/vfio-bind.conf", "bind class=0106 allow-storage=yes\n");
	r = run("VB_BIN", "--root", root, "check", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(check_missing_config)
{
	char *root = tree_with_config("desktop", NULL);
	struct run r = run("VB_BIN", "--root", root, "check", NULL);

	ck_assert_int_eq(r.status, 3);
	assert_contains(r.err, "vfio-bind.conf");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- apply / release with the simulated kernel ---- */

START_TEST(apply_then_release_roundtrip)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	struct run r;

	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	assert_driver(root, "0000:01:00.1", "vfio-pci");
	assert_driver(root, "0000:00:02.0", "i915"); /* untouched */
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "status", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.out, "vfio-pci       vfio-pci");
	run_free(&r);

	/* second apply: a no-op that says so */
	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.err, "nothing to do");
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "release", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "nvidia");
	assert_driver(root, "0000:01:00.1", "snd_hda_intel");
	{
		char *ov = fixture_read(root, "sys/bus/pci/devices/0000:01:00.0/driver_override");
		ck_assert_str_eq(ov, "(null)\n");
		free(ov);
	}
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(release_by_address)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "apply", NULL);

	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "release", "01:00.1", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	assert_driver(root, "0000:01:00.1", "snd_hda_intel");
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "release", "not-an-address", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "release", "0000:7f:00.0", NULL);
	ck_assert_int_eq(r.status, 4);
	assert_contains(r.err, "no PCI device 0000:7f:00.0");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(apply_dry_run_writes_nothing)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "apply", "--dry-run", NULL);
	char *log;

	ck_assert_int_eq(r.status, 0);
	assert_contains(r.err, "dry run");
	assert_driver(root, "0000:01:00.0", "nvidia");
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "dry run wrote:\n%s", log ? log : "");
	free(log);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(apply_refuses_invalid_config)
{
	char *root = tree_with_config("desktop", "bind path=01:00\nbind nonsense\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "apply", NULL);

	ck_assert_int_eq(r.status, 3);
	assert_contains(r.err, "nothing applied");
	assert_driver(root, "0000:01:00.0", "nvidia");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(apply_twin_gpus_takes_only_the_named_one)
{
	/* same ids, same subsystem: only the topology tells them apart */
	char *root = tree_with_config(
		"twin-gpu",
		"bind topology=pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0\n"
		"bind path=43:00.1\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "apply", NULL);

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	assert_driver(root, "0000:43:00.1", "vfio-pci");
	assert_driver(root, "0000:0a:00.0", "nvidia");
	assert_driver(root, "0000:0a:00.1", "snd_hda_intel");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- the early binder ---- */

START_TEST(early_binds_and_logs_to_kmsg)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	struct run r;
	char *kmsg;

	set_cmdline(root, "root=/dev/nvme0n1p2 ro quiet\n");
	fixture_write(root, "dev/kmsg", "");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	assert_driver(root, "0000:01:00.1", "vfio-pci");
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "vfio-bind: ");
	assert_contains(kmsg, "0000:01:00.0");
	assert_contains(kmsg, "2 device(s) on vfio-pci, 0 failed, 0 refused in ");
	assert_contains(kmsg, " ms\n");
	/* records are "<prio>vfio-bind: ..." so the kernel files them right */
	ck_assert_msg(kmsg[0] == '<', "kmsg record without priority: %s", kmsg);
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(early_cmdline_off_and_dry_run)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n");
	struct run r;
	char *kmsg, *log;

	fixture_write(root, "dev/kmsg", "");
	set_cmdline(root, "quiet vfio-bind=off\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 0);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "disabled by vfio-bind=off");
	free(kmsg);
	assert_driver(root, "0000:01:00.0", "nvidia");
	run_free(&r);

	fixture_write(root, "dev/kmsg", "");
	set_cmdline(root, "quiet vfio-bind=dry-run vfio-bind.debug\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 0);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "dry run");
	free(kmsg);
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "dry run wrote:\n%s", log ? log : "");
	free(log);
	assert_driver(root, "0000:01:00.0", "nvidia");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(early_invalid_config_logs_and_binds_nothing)
{
	char *root = tree_with_config("desktop", "bind path=01:00\nbind id=10de\n");
	struct run r;
	char *kmsg, loc[4300];

	fixture_write(root, "dev/kmsg", "");
	set_cmdline(root, "quiet\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 3);
	kmsg = fixture_read(root, "dev/kmsg");
	snprintf(loc, sizeof(loc), "/etc/vfio-bind.conf:2:");
	assert_contains(kmsg, loc);
	assert_contains(kmsg, "no device bound (boot continues)");
	free(kmsg);
	assert_driver(root, "0000:01:00.0", "nvidia");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- the hardware snapshot: written by check, enforced at boot ---- */

/* desktop.tree with config, its snapshot written by check --snapshot. */
static char *tree_with_snapshot(const char *config)
{
	char *root = tree_with_config("desktop", config), path[4300];
	struct run r;

	snprintf(path, sizeof(path), "%s/etc/vfio-bind.snapshot", root);
	r = run("VB_BIN", "--root", root, "check", "--snapshot", path, NULL);
	ck_assert_msg(r.status == 0, "check --snapshot: exit %d: %s", r.status, r.err);
	run_free(&r);
	set_cmdline(root, "root=UUID=3c5e6f4a-1b2d-4f3e-9a8b-7c6d5e4f3a2b ro quiet\n");
	fixture_write(root, "dev/kmsg", "");
	return root;
}

/* Replaces the first `from` in relpath with `to`. */
static void edit_file(const char *root, const char *relpath, const char *from, const char *to)
{
	char *text = fixture_read(root, relpath), *hit, *out;

	ck_assert_ptr_nonnull(text);
	hit = strstr(text, from);
	ck_assert_msg(hit, "%s has no '%s':\n%s", relpath, from, text);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	ck_assert_ptr_nonnull(out);
	sprintf(out, "%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
	fixture_write(root, relpath, out);
	free(out);
	free(text);
}

START_TEST(snapshot_written_by_check)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	char *snap = fixture_read(root, "etc/vfio-bind.snapshot");

	assert_contains(snap, "\nvfio-bind-snapshot 1\n");
	assert_contains(snap, "\nsysfs yes\n");
	assert_contains(snap, "\nroot found\n");
	/* the root's NVMe, by identity and stable topology; the ESP is on it too */
	assert_contains(snap, "\nprotect 0000:02:00.0 144d:a80a 144d:a801 010802 0000:00:06.0/00.0 "
			      "controller of the root filesystem");
	assert_contains(snap,
			"\nselect 0000:01:00.0 10de:2204 1458:403b 030000 0000:00:01.0/00.0\n");
	assert_contains(snap,
			"\nselect 0000:01:00.1 10de:1aef 1458:403b 040300 0000:00:01.0/00.1\n");
	/* nothing else: the AHCI holds no mounted storage */
	assert_not_contains(snap, "0000:00:17.0");
	free(snap);
	fixture_cleanup(root);
}
END_TEST

START_TEST(early_takes_what_matches_the_snapshot)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	struct run r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	char *kmsg = fixture_read(root, "dev/kmsg");

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, kmsg);
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	assert_driver(root, "0000:01:00.1", "vfio-pci");
	assert_not_contains(kmsg, "hardware changed");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* Another card sits at the address now: not taken, said, boot goes on. */
START_TEST(early_refuses_changed_hardware)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	struct run r;
	char *kmsg;

	/* the image was built when 01:00.0 was another card */
	edit_file(root, "etc/vfio-bind.snapshot", "select 0000:01:00.0 10de:2204 1458:403b",
		  "select 0000:01:00.0 10de:1b80 10de:119e");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "hardware changed at 0000:01:00.0: was 10de:1b80 [10de:119e] class "
			      "030000, now 10de:2204 [1458:403b] class 030000; not taken");
	assert_driver(root, "0000:01:00.0", "nvidia");
	assert_driver(root, "0000:01:00.1", "vfio-pci");
	assert_contains(kmsg, "1 refused");
	ck_assert_int_eq(r.status, 0);
	free(kmsg);
	run_free(&r);

	/* the selected card moved to another slot: its old topology is stale */
	fixture_cleanup(root);
	root = tree_with_snapshot("bind path=01:00\n");
	edit_file(root, "etc/vfio-bind.snapshot", "030000 0000:00:01.0/00.0",
		  "030000 0000:00:1c.4/00.0");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "hardware changed at 0000:01:00.0: was 10de:2204 [1458:403b] at "
			      "0000:00:1c.4/00.0, now 10de:2204 [1458:403b] at 0000:00:01.0/00.0");
	assert_driver(root, "0000:01:00.0", "nvidia");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* A config selecting the root's controller reached the image after the hook
 * checked it: the snapshot protects the controller anyway. */
START_TEST(early_never_takes_a_protected_controller)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	struct run r;
	char *kmsg;

	fixture_write(root, "etc/vfio-bind.conf",
		      "bind class=01 allow-storage=yes\nbind path=01:00\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "0000:02:00.0");
	assert_contains(kmsg, "controller of the root filesystem");
	assert_contains(kmsg, "when the image was built");
	assert_driver(root, "0000:02:00.0", "nvme");
	/* the AHCI was not selected when the image was built */
	assert_driver(root, "0000:00:17.0", "ahci");
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	free(kmsg);
	run_free(&r);

	/* the root's NVMe moved to another slot: still protected there */
	fixture_write(root, "dev/kmsg", "");
	edit_file(root, "etc/vfio-bind.snapshot", "010802 0000:00:06.0/00.0",
		  "010802 0000:00:1d.0/00.0");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "controller of the root filesystem");
	assert_driver(root, "0000:02:00.0", "nvme");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* No snapshot, or one made without /sys: mass storage only with
 * allow-storage=yes; everything else as the config says. */
START_TEST(early_fails_closed_without_snapshot)
{
	char *root = tree_with_config("desktop", "bind class=0106\nbind path=01:00\n");
	struct run r;
	char *kmsg;

	set_cmdline(root, "quiet\n");
	fixture_write(root, "dev/kmsg", "");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "no /etc/vfio-bind.snapshot in the image");
	assert_contains(kmsg, "0000:00:17.0");
	assert_contains(kmsg, "mass-storage controller while the image has no hardware snapshot");
	assert_driver(root, "0000:00:17.0", "ahci");
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	free(kmsg);
	run_free(&r);

	/* built in a chroot: the snapshot says so; allow-storage=yes takes it */
	fixture_write(root, "etc/vfio-bind.snapshot",
		      "vfio-bind-snapshot 1\nkernel 6.1.0-18-amd64\nsysfs no\nroot unknown\n");
	fixture_write(root, "etc/vfio-bind.conf", "bind class=0106 allow-storage=yes\n");
	fixture_write(root, "dev/kmsg", "");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "built without /sys");
	assert_driver(root, "0000:00:17.0", "vfio-pci");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(early_corrupt_snapshot_binds_nothing)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	struct run r;
	char *kmsg;

	edit_file(root, "etc/vfio-bind.snapshot", "\nsysfs yes\n", "\nsysfs maybe\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 3);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "/etc/vfio-bind.snapshot:");
	assert_contains(kmsg, "sysfs must be yes or no");
	assert_contains(kmsg, "no device bound (boot continues");
	assert_driver(root, "0000:01:00.0", "nvidia");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* check --snapshot in a chroot without /sys: a snapshot that says so. */
START_TEST(snapshot_without_sysfs)
{
	char *root = tree_with_config("desktop", "bind path=01:00\n"), path[4300];
	struct run r;
	char *snap;

	snprintf(path, sizeof(path), "%s/sys", root);
	ck_assert_int_eq(fixture_rm_rf_at(AT_FDCWD, path), 0);
	snprintf(path, sizeof(path), "%s/etc/vfio-bind.snapshot", root);
	r = run("VB_BIN", "--root", root, "check", "--snapshot", path, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_contains(r.err, "the snapshot records no hardware");
	snap = fixture_read(root, "etc/vfio-bind.snapshot");
	assert_contains(snap, "\nsysfs no\nroot unknown\n");
	assert_not_contains(snap, "select");
	free(snap);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The image built before a card renumbered the buses, booted after: a
 * topology= rule's devices are taken at their new addresses, and the
 * device now at a path= rule's old address is not taken. */
START_TEST(early_snapshot_across_renumbering)
{
	static const char conf[] = "bind topology=0000:00:1c.4/00\n" /* the guest GPU, 02:00 */
				   "bind path=0000:02:00.0\n";        /* the same GPU, by address */
	char *before = tree_with_config("renumber-before", conf);
	char *after = tree_with_config("renumber-after", conf);
	char path[4300], *snap, *kmsg;
	struct run r;

	snprintf(path, sizeof(path), "%s/etc/vfio-bind.snapshot", before);
	r = run("VB_BIN", "--root", before, "check", "--snapshot", path, NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	snap = fixture_read(before, "etc/vfio-bind.snapshot");
	assert_contains(snap, "select 0000:02:00.0 10de:2489 1462:3973 030000 0000:00:1c.4/00.0\n");
	fixture_write(after, "etc/vfio-bind.snapshot", snap);
	free(snap);

	set_cmdline(after, "BOOT_IMAGE=/boot/vmlinuz root=/dev/sda2 ro quiet\n");
	fixture_write(after, "dev/kmsg", "");
	r = run("VB_EARLY_SIM_BIN", "--root", after, NULL);
	kmsg = fixture_read(after, "dev/kmsg");
	assert_driver(after, "0000:03:00.0", "vfio-pci");
	assert_driver(after, "0000:03:00.1", "vfio-pci");
	assert_contains(kmsg, "hardware changed at 0000:02:00.0: was 10de:2489 [1462:3973] at "
			      "0000:00:1c.4/00.0, now 144d:a80c [144d:a801] at 0000:00:1c.0/00.0; "
			      "not taken");
	assert_driver(after, "0000:02:00.0", "nvme");
	ck_assert_int_eq(r.status, 0);
	free(kmsg);
	run_free(&r);
	fixture_cleanup(before);
	fixture_cleanup(after);
}
END_TEST

START_TEST(early_static_binary_runs_on_fake_root)
{
	/* The klibc binary itself: no simulated kernel, so only paths that do
	 * not need the kernel's reaction (off, no config, invalid config). */
	char *root = tree_with_config("desktop", NULL);
	struct run r;
	char *kmsg;
	const char *early = getenv("VB_EARLY_BIN");

	if (!early || !*early) {
		fixture_cleanup(root);
		return; /* built without klibc: covered by the e2e suite's check */
	}
	fixture_write(root, "dev/kmsg", "");
	set_cmdline(root, "quiet\n");
	r = run("VB_EARLY_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 0);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "nothing to bind");
	free(kmsg);
	run_free(&r);

	fixture_write(root, "etc/vfio-bind.conf", "bind frob=1\n");
	fixture_write(root, "dev/kmsg", "");
	r = run("VB_EARLY_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 3);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "/etc/vfio-bind.conf:1:");
	free(kmsg);
	run_free(&r);

	fixture_write(root, "etc/vfio-bind.conf", "bind path=01:00\n");
	fixture_write(root, "dev/kmsg", "");
	set_cmdline(root, "vfio-bind=dry-run\n");
	r = run("VB_EARLY_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 0);
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "dry run");
	free(kmsg);
	{
		char *ov = fixture_read(root, "sys/bus/pci/devices/0000:01:00.0/driver_override");
		ck_assert_str_eq(ov, "(null)\n");
		free(ov);
	}
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* ---- late binding: the udev rule's entry point, the lock ---- */

/* What the udev rule runs for an `add` event: the twin-gpu tree as a hot
 * add leaves it, the card already probed by nvidia (its module was loaded:
 * the native driver won the race); its twin is not selected. */
static char *hotplug_tree(const char *config)
{
	char *root = tree_with_config("twin-gpu", config);

	fixture_write(root, "dev/kmsg", "");
	return root;
}

START_TEST(hotplug_add_of_a_selected_device)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	struct simkernel_log log;
	struct run r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--device",
			   "0000:43:00.0", NULL);
	char *kmsg, *ov;
	long o, u;

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	assert_driver(root, "0000:0a:00.0", "nvidia");        /* the twin */
	assert_driver(root, "0000:43:00.1", "snd_hda_intel"); /* not selected either */
	ov = fixture_read(root, "sys/bus/pci/devices/0000:43:00.0/driver_override");
	ck_assert_str_eq(ov, "vfio-pci\n");
	free(ov);
	/* override first, then the native driver is unbound, then vfio-pci */
	simkernel_log_read(root, &log);
	o = simkernel_log_find(&log, 0, "0000:43:00.0/driver_override", "vfio-pci");
	u = simkernel_log_find(&log, 0, "drivers/nvidia/unbind", "0000:43:00.0");
	ck_assert_msg(o >= 0 && u > o, "override at %ld, unbind at %ld", o, u);
	ck_assert_uint_eq(simkernel_log_count(&log, "0000:0a:00.0/driver_override", NULL), 0);
	simkernel_log_free(&log);
	/* the kernel log has the decision, one record */
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "<6>vfio-bind: 0000:43:00.0 [10de:2204] ");
	assert_contains(kmsg, "rebind nvidia -> vfio-pci: ok");
	ck_assert_str_eq(r.err, "");
	free(kmsg);
	run_free(&r);

	/* the next event of that device (a coldplug replay): nothing, quietly */
	simkernel_log_clear(root);
	fixture_write(root, "dev/kmsg", "");
	r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--device", "43:00.0", NULL);
	ck_assert_int_eq(r.status, 0);
	kmsg = fixture_read(root, "dev/kmsg");
	ck_assert_str_eq(kmsg, "");
	free(kmsg);
	ov = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!ov || !*ov, "wrote:\n%s", ov ? ov : "");
	free(ov);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

START_TEST(hotplug_add_of_an_unselected_twin)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--device",
			   "0000:0a:00.0", NULL);
	char *log, *kmsg;

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:0a:00.0", "nvidia");
	assert_driver(root, "0000:43:00.0", "nvidia"); /* not this event's device */
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "wrote:\n%s", log ? log : "");
	kmsg = fixture_read(root, "dev/kmsg");
	ck_assert_str_eq(kmsg, "");
	/* it did not even take the lock */
	ck_assert(!fixture_exists(root, VB_LOCK_FILE));
	free(log);
	free(kmsg);
	run_free(&r);

	/* no rule at all (the package's config) is the same */
	fixture_write(root, "etc/vfio-bind.conf", "# nothing\n");
	r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--device", "43:00.0", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_driver(root, "0000:43:00.0", "nvidia");
	run_free(&r);

	/* bad addresses are usage errors, a vanished device a failure */
	r = run("VB_SIM_BIN", "--root", root, "apply", "--device", "bogus", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	fixture_write(root, "etc/vfio-bind.conf", "bind path=43:00.0\n");
	r = run("VB_SIM_BIN", "--root", root, "apply", "--device", "0000:7f:00.0", NULL);
	ck_assert_int_eq(r.status, 4);
	assert_contains(r.err, "no PCI device 0000:7f:00.0");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The storage guard holds for a hot-added device too: the root's NVMe. */
START_TEST(hotplug_add_keeps_the_guards)
{
	char *root = hotplug_tree("bind class=0108\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--device",
			   "0000:01:00.0", NULL);
	char *kmsg;

	ck_assert_msg(r.status == 5, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "nvme");
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "0000:01:00.0");
	assert_contains(kmsg, "refused");
	assert_contains(kmsg, "root");
	free(kmsg);
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* release gives a hot-added device back for good: its next uevent does not
 * take it again; apply does, and forgets the release. */
START_TEST(release_of_a_hot_added_device)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	struct run r = run("VB_SIM_BIN", "--root", root, "apply", "--device", "43:00.0", NULL);
	char *kmsg;

	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "release", "43:00.0", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:43:00.0", "nvidia");
	ck_assert(fixture_exists(root, "run/vfio-bind/released/0000:43:00.0"));
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--auto", "--device", "43:00.0",
		NULL);
	ck_assert_int_eq(r.status, 0);
	assert_driver(root, "0000:43:00.0", "nvidia");
	kmsg = fixture_read(root, "dev/kmsg");
	assert_contains(kmsg, "<5>vfio-bind: 0000:43:00.0: given back by 'vfio-bind release'");
	free(kmsg);
	run_free(&r);

	/* a mark of another device at that address (removed, added again) is stale */
	fixture_write(root, "run/vfio-bind/released/0000:43:00.0", "ino=1\nreleased\n");
	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", "--device", "43:00.0", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	ck_assert(!fixture_exists(root, "run/vfio-bind/released/0000:43:00.0"));
	run_free(&r);

	/* released again; the admin's apply takes it and clears the mark */
	r = run("VB_SIM_BIN", "--root", root, "release", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert(fixture_exists(root, "run/vfio-bind/released/0000:43:00.0"));
	run_free(&r);
	/* the unit's apply leaves it alone too */
	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_driver(root, "0000:43:00.0", "nvidia");
	assert_contains(r.err, "given back by 'vfio-bind release'");
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	ck_assert(!fixture_exists(root, "run/vfio-bind/released/0000:43:00.0"));
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* Holds ROOT/run/vfio-bind.lock as a vfio-bind would; returns the fd. */
static int hold_lock(const char *root)
{
	char path[4200];
	int fd;

	fixture_write(root, VB_LOCK_FILE, "");
	snprintf(path, sizeof(path), "%s/" VB_LOCK_FILE, root);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	{
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		ck_assert_int_eq(pwrite(fd, pid, n, 0), n);
	}
	return fd;
}

/* Every entry point waits for the lock and gives up after --wait, naming
 * the holder; an unselected device's event never waits. */
START_TEST(lock_bounds_every_entry_point)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	char pid[64], *log;
	int fd = hold_lock(root);
	struct run r;

	snprintf(pid, sizeof(pid), "another vfio-bind (pid %ld)", (long)getpid());
	r = run("VB_SIM_BIN", "--root", root, "--wait", "1", "apply", NULL);
	ck_assert_int_eq(r.status, 1);
	assert_contains(r.err, pid);
	assert_contains(r.err, "nothing done");
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "--wait", "0", "apply", "--device", "43:00.0", NULL);
	ck_assert_int_eq(r.status, 1);
	assert_contains(r.err, pid);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "--wait", "0", "release", "43:00.0", NULL);
	ck_assert_int_eq(r.status, 1);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "--wait", "0", "apply", "--device", "0a:00.0", NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	/* read-only commands do not need it */
	r = run("VB_SIM_BIN", "--root", root, "plan", NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "--wait", "x", "apply", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "wrote under another's lock:\n%s", log ? log : "");
	free(log);
	assert_driver(root, "0000:43:00.0", "nvidia");

	/* the boot binder too (it waits 10 s: nothing else binds that early) */
	set_cmdline(root, "root=/dev/nvme0n1p2 ro\n");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 1);
	log = fixture_read(root, "dev/kmsg");
	assert_contains(log, pid);
	assert_contains(log, "no device bound (boot continues)");
	free(log);
	run_free(&r);
	assert_driver(root, "0000:43:00.0", "nvidia");
	close(fd);
	fixture_cleanup(root);
}
END_TEST

/* A second entry point that finds the lock held waits, then runs after the
 * first is done: none of its writes falls inside the first's hold. */
START_TEST(lock_waiter_runs_after_the_holder)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	int fd = hold_lock(root), st;
	struct timespec ts = {0, 500 * 1000000L};
	char *log;
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = {(char *)bin("VB_SIM_BIN"), (char *)"--root",  root, (char *)"apply",
				(char *)"--device",        (char *)"43:00.0", NULL};
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	nanosleep(&ts, NULL);
	/* still waiting: nothing written, the process still there */
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "wrote while the lock was held:\n%s", log ? log : "");
	free(log);
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), 0);
	close(fd); /* the first one is done */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	fixture_cleanup(root);
}
END_TEST

/* --auto (the unit, the udev rule) obeys the boot's switches: vfio-bind=off
 * is the way back from a taken display for the whole boot. */
START_TEST(auto_obeys_the_kernel_command_line)
{
	char *root = hotplug_tree("bind path=43:00.0\n");
	struct run r;
	char *log;

	set_cmdline(root, "root=/dev/nvme0n1p2 ro vfio-bind=off\n");
	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.err, "disabled by vfio-bind=off");
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "--kmsg", "apply", "--auto", "--device", "43:00.0",
		NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	assert_driver(root, "0000:43:00.0", "nvidia");
	log = fixture_read(root, ".simkernel/writes");
	ck_assert_msg(!log || !*log, "wrote:\n%s", log ? log : "");
	free(log);

	set_cmdline(root, "root=/dev/nvme0n1p2 ro vfio-bind=dry-run\n");
	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", NULL);
	ck_assert_int_eq(r.status, 0);
	assert_contains(r.err, "dry run");
	assert_driver(root, "0000:43:00.0", "nvidia");
	run_free(&r);

	/* an admin's apply is not automatic */
	set_cmdline(root, "root=/dev/nvme0n1p2 ro vfio-bind=off\n");
	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:43:00.0", "vfio-pci");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* What the early binder refused at boot because the hardware changed since
 * the image was built, the unit and the udev rule refuse too (a path= rule
 * whose address now names another card); the admin's apply takes it. */
START_TEST(auto_keeps_the_boot_refusals)
{
	char *root = tree_with_snapshot("bind path=01:00\n");
	struct run r;
	char *mark;

	edit_file(root, "etc/vfio-bind.snapshot", "select 0000:01:00.0 10de:2204 1458:403b",
		  "select 0000:01:00.0 10de:1b80 10de:119e");
	r = run("VB_EARLY_SIM_BIN", "--root", root, NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);
	assert_driver(root, "0000:01:00.0", "nvidia");
	mark = fixture_read(root, "run/vfio-bind/boot-refused/0000:01:00.0");
	ck_assert_ptr_nonnull(mark);
	assert_contains(mark, "hardware-changed hardware changed at 0000:01:00.0");
	free(mark);
	ck_assert(!fixture_exists(root, "run/vfio-bind/boot-refused/0000:01:00.1"));

	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", NULL);
	ck_assert_msg(r.status == 5, "exit %d: %s", r.status, r.err);
	assert_contains(r.err, "0000:01:00.0 [10de:2204]");
	assert_contains(r.err, "refused at boot: hardware changed at 0000:01:00.0");
	assert_driver(root, "0000:01:00.0", "nvidia");
	assert_driver(root, "0000:01:00.1", "vfio-pci");
	run_free(&r);
	r = run("VB_SIM_BIN", "--root", root, "apply", "--auto", "--device", "01:00.0", NULL);
	ck_assert_int_eq(r.status, 5);
	assert_driver(root, "0000:01:00.0", "nvidia");
	run_free(&r);

	r = run("VB_SIM_BIN", "--root", root, "apply", NULL);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	assert_driver(root, "0000:01:00.0", "vfio-pci");
	run_free(&r);
	fixture_cleanup(root);
}
END_TEST

/* The early binder goes into every initramfs: static (no program
 * interpreter, no dynamic section) and at most 80 KiB (64 KiB until the
 * Proxmox mappings, mapping.c, came in: about 6 KB). */
START_TEST(early_binary_is_static_and_small)
{
	const char *early = getenv("VB_EARLY_BIN");
	unsigned char ehdr[64];
	struct stat st;
	int fd;

	ck_assert_msg(early && *early, "VB_EARLY_BIN not set: the klibc binder was not built");
	fd = open(early, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_msg(st.st_size <= 80 * 1024, "vfio-bind-early is %lld bytes, limit 81920",
		      (long long)st.st_size);
	ck_assert_int_eq(pread(fd, ehdr, sizeof(ehdr), 0), (ssize_t)sizeof(ehdr));
	ck_assert(memcmp(ehdr, "\177ELF", 4) == 0);
	ck_assert_int_eq(ehdr[4], 2); /* ELFCLASS64 */
	{
		uint64_t phoff;
		uint16_t phentsize, phnum;

		memcpy(&phoff, ehdr + 0x20, 8);
		memcpy(&phentsize, ehdr + 0x36, 2);
		memcpy(&phnum, ehdr + 0x38, 2);
		ck_assert_uint_gt(phnum, 0);
		for (uint16_t i = 0; i < phnum; i++) {
			uint32_t type;
			ck_assert_int_eq(pread(fd, &type, 4, phoff + (uint64_t)i * phentsize), 4);
			ck_assert_msg(type != 3, "vfio-bind-early has a program interpreter");
			ck_assert_msg(type != 2, "vfio-bind-early is dynamically linked");
		}
	}
	close(fd);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, usage_errors_point_at_help);
	tcase_add_test(tc, bad_root_is_exit_1);
	tcase_add_test(tc, status_table_matches_dump);
	tcase_add_test(tc, status_json_fields);
	tcase_add_test(tc, status_topology_survives_renumbering);
	tcase_add_test(tc, plan_json_actions);
	tcase_add_test(tc, check_reports_file_line_column);
	tcase_add_test(tc, check_refuses_root_controller);
	tcase_add_test(tc, check_refuses_root_controller_without_iommu);
	tcase_add_test(tc, check_fails_closed_when_root_unknown);
	tcase_add_test(tc, snapshot_written_by_check);
	tcase_add_test(tc, snapshot_without_sysfs);
	tcase_add_test(tc, early_takes_what_matches_the_snapshot);
	tcase_add_test(tc, early_refuses_changed_hardware);
	tcase_add_test(tc, early_never_takes_a_protected_controller);
	tcase_add_test(tc, early_fails_closed_without_snapshot);
	tcase_add_test(tc, early_corrupt_snapshot_binds_nothing);
	tcase_add_test(tc, early_snapshot_across_renumbering);
	tcase_add_test(tc, check_missing_config);
	tcase_add_test(tc, apply_then_release_roundtrip);
	tcase_add_test(tc, release_by_address);
	tcase_add_test(tc, apply_dry_run_writes_nothing);
	tcase_add_test(tc, apply_refuses_invalid_config);
	tcase_add_test(tc, apply_twin_gpus_takes_only_the_named_one);
	tcase_add_test(tc, apply_topology_after_renumbering);
	tcase_add_test(tc, early_binds_and_logs_to_kmsg);
	tcase_add_test(tc, early_cmdline_off_and_dry_run);
	tcase_add_test(tc, early_invalid_config_logs_and_binds_nothing);
	tcase_add_test(tc, early_static_binary_runs_on_fake_root);
	tcase_add_test(tc, early_binary_is_static_and_small);
	tcase_add_test(tc, hotplug_add_of_a_selected_device);
	tcase_add_test(tc, hotplug_add_of_an_unselected_twin);
	tcase_add_test(tc, hotplug_add_keeps_the_guards);
	tcase_add_test(tc, release_of_a_hot_added_device);
	tcase_add_test(tc, lock_bounds_every_entry_point);
	tcase_add_test(tc, lock_waiter_runs_after_the_holder);
	tcase_add_test(tc, auto_obeys_the_kernel_command_line);
	tcase_add_test(tc, auto_keeps_the_boot_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
