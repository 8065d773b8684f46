/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Module resolution (binder/host/kmod.c) on genuine module trees of several
 * kernel generations, without a real kernel: tests/kmod/mkmodtree builds
 * lib/modules/VER with fake .ko files and runs the real depmod, then
 *   - `vfio-bind --root R modules [--kernel VER]` must print the set of
 *     tests/kmod/expected/PROFILE, in an order that respects the tree's
 *     modules.dep and modules.softdep, and agree with the real
 *     `modprobe --show-depends` on the same tree (when modprobe is there);
 *   - the error cases exit 6 (VB_EXIT_ENV) with their message;
 *   - `vfio-bind check --kernel VER` fails the same way;
 *   - vb_modset_resolve(), vb_kmod_driver_for_alias() and
 *     vb_kernel_release() are checked directly.
 * Nothing is loaded and the real /sys is never written: every root is a
 * temporary directory.
 *
 * Environment (set by tests/kmod/meson.build): VB_BIN (the vfio-bind
 * binary), VB_SRCDIR (source root), VB_PYTHON (python3 for mkmodtree),
 * optional VB_MODPROBE. VB_KEEP_TREES=1 keeps the trees for inspection.
 * Exits 77 (skip) when depmod is missing.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod.h"
#include "root.h"

#define EXIT_ENV 6 /* VB_EXIT_ENV in binder/host/cli.h */

struct profile {
	const char *name; /* mkmodtree profile and expected/ file */
	const char *kver;
	bool has_vfio;
};

static const struct profile profiles[] = {
	{"5.10", "5.10.0-32-amd64", true},     /* Debian bullseye */
	{"5.15", "5.15.158-2-pve", true},      /* Proxmox VE 7 */
	{"6.1", "6.1.0-25-amd64", true},       /* Debian bookworm */
	{"6.8", "6.8.12-4-pve", true},         /* Proxmox VE 8 */
	{"6.12", "6.12.9+bpo-amd64", true},    /* bookworm-backports, .ko.xz */
	{"builtin", "6.8.0-45-generic", true}, /* Ubuntu-style: vfio built in */
	{"partial", "6.8.0-1-custom", true},   /* vfio core built in */
	{"novfio", "6.1.0-99-novfio", false},  /* CONFIG_VFIO=n */
};
#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* The two kernels of the "multi" root. */
#define MULTI_A 2 /* 6.1 */
#define MULTI_B 4 /* 6.12 */

static char *workdir;  /* everything lives under it */
static char *srcdir;   /* source root */
static char *vb_bin;   /* vfio-bind */
static char *modprobe; /* NULL: no cross-check */

/* ------------------------------------------------------------------------ */
/* Helpers */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

static char *root_of(const char *name)
{
	return xasprintf("%s/root-%s", workdir, name);
}

static const struct profile *profile(const char *name)
{
	for (size_t i = 0; i < N_PROFILES; i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	abort();
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	int c;
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f, "cannot write %s: %s", path, strerror(errno));
	fputs(content, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void mkdir_p(const char *path)
{
	char *p = strdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mkdir %s: %s\n", p, strerror(errno));
		abort();
	}
	free(p);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct res {
	int rc; /* exit status, 128+signal when killed */
	char *out, *err;
};

static void res_free(struct res *r)
{
	free(r->out);
	free(r->err);
}

/* Runs argv (NULL-terminated), capturing stdout and stderr. */
static struct res run_argv(char *const argv[])
{
	char *out = xasprintf("%s/out.XXXXXX", workdir), *err = xasprintf("%s/err.XXXXXX", workdir);
	int fo = mkstemp(out), fe = mkstemp(err), status;
	struct res r;
	pid_t pid;

	ck_assert(fo >= 0 && fe >= 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(fo, 1);
		dup2(fe, 2);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r.out = read_file(out);
	r.err = read_file(err);
	ck_assert(r.out && r.err);
	close(fo);
	close(fe);
	unlink(out);
	unlink(err);
	free(out);
	free(err);
	return r;
}

/* vfio-bind --root ROOT ARGS... (NULL-terminated) */
static struct res vb(const char *root, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	argv[n++] = vb_bin;
	argv[n++] = (char *)"--root";
	argv[n++] = (char *)root;
	va_start(ap, root);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_argv(argv);
}

/* A list of module names. */
struct names {
	char *v[256];
	size_t n;
};

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static void names_add(struct names *l, const char *s, size_t len)
{
	ck_assert_uint_lt(l->n, 256);
	l->v[l->n++] = strndup(s, len);
}

static ssize_t names_index(const struct names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return (ssize_t)i;
	return -1;
}

/* One name per line; '#' comments and blank lines skipped. */
static struct names names_parse(const char *text)
{
	struct names l = {.n = 0};

	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		const char *e = p + len;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len && p[0] != '#')
			names_add(&l, p, len);
		p = *e ? e + 1 : e;
	}
	return l;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names joined by spaces, for messages and comparison. */
static char *names_sorted(const struct names *l)
{
	char *v[256], *s = strdup(""), *t;

	memcpy(v, l->v, l->n * sizeof(*v));
	qsort(v, l->n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < l->n; i++) {
		t = xasprintf("%s%s%s", s, i ? " " : "", v[i]);
		free(s);
		s = t;
	}
	return s;
}

/* "kernel/drivers/vfio/pci/vfio-pci.ko.xz" -> "vfio_pci" */
static char *modname(const char *path, size_t len)
{
	const char *b = path;
	char *n;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			b = path + i + 1;
	n = strndup(b, len - (size_t)(b - path));
	char *dot = strstr(n, ".ko");
	ck_assert_msg(dot, "not a module path: %s", n);
	*dot = 0;
	for (char *c = n; *c; c++)
		if (*c == '-')
			*c = '_';
	return n;
}

/* modules.dep of a tree: the modules and, for each, its dependencies. */
struct depmap {
	struct names mods;
	struct names deps[256];
};

static void depmap_free(struct depmap *d)
{
	for (size_t i = 0; i < d->mods.n; i++)
		names_free(&d->deps[i]);
	names_free(&d->mods);
}

static void depmap_load(struct depmap *d, const char *root, const char *kver)
{
	char *path = xasprintf("%s/lib/modules/%s/modules.dep", root, kver);
	char *text = read_file(path);

	ck_assert_msg(text, "no %s", path);
	memset(d, 0, sizeof(*d));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		ck_assert_ptr_nonnull(colon);
		char *name = modname(line, (size_t)(colon - line));
		size_t i = d->mods.n;
		names_add(&d->mods, name, strlen(name));
		free(name);
		for (char *p = colon + 1; *p;) {
			size_t len;
			p += strspn(p, " ");
			len = strcspn(p, " ");
			if (!len)
				break;
			name = modname(p, len);
			names_add(&d->deps[i], name, strlen(name));
			free(name);
			p += len;
		}
	}
	free(text);
	free(path);
}

/*
 * The order contract of `vfio-bind modules`: no duplicates; every name is a
 * module with a file in the tree; each module's dependencies (modules.dep)
 * are all listed, before it; the soft dependencies in modules.softdep of a
 * listed module are listed when the tree has them (pre: before it).
 */
static void check_order(const struct names *out, const char *root, const char *kver)
{
	struct depmap d;
	char *path, *text;

	depmap_load(&d, root, kver);
	for (size_t i = 0; i < out->n; i++) {
		ssize_t m = names_index(&d.mods, out->v[i]);
		ck_assert_msg(names_index(out, out->v[i]) == (ssize_t)i, "%s listed twice",
			      out->v[i]);
		ck_assert_msg(m >= 0, "%s has no .ko in %s", out->v[i], kver);
		for (size_t j = 0; j < d.deps[m].n; j++) {
			ssize_t k = names_index(out, d.deps[m].v[j]);
			ck_assert_msg(k >= 0, "%s needs %s, which is not listed", out->v[i],
				      d.deps[m].v[j]);
			ck_assert_msg(k < (ssize_t)i, "%s is listed before %s, which needs it",
				      out->v[i], d.deps[m].v[j]);
		}
	}

	path = xasprintf("%s/lib/modules/%s/modules.softdep", root, kver);
	text = read_file(path);
	ck_assert_msg(text, "no %s", path);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char mod[128], *p;
		ssize_t at;
		bool pre = false;

		if (sscanf(line, "softdep %127s", mod) != 1)
			continue;
		at = names_index(out, mod);
		if (at < 0)
			continue;
		p = line + strlen("softdep ") + strlen(mod);
		for (char *w = strtok_r(p, " ", &p); w; w = strtok_r(NULL, " ", &p)) {
			if (strcmp(w, "pre:") == 0 || strcmp(w, "post:") == 0) {
				pre = w[1] == 'r';
				continue;
			}
			if (names_index(&d.mods, w) < 0)
				continue; /* absent from this kernel: no error */
			ssize_t k = names_index(out, w);
			ck_assert_msg(k >= 0, "%s has the softdep %s, which is not listed", mod, w);
			if (pre)
				ck_assert_msg(k < at, "pre-softdep %s of %s listed after it", w,
					      mod);
		}
	}
	free(text);
	free(path);
	depmap_free(&d);
}

static struct names expected(const char *prof)
{
	char *path = xasprintf("%s/tests/kmod/expected/%s", srcdir, prof);
	char *text = read_file(path);
	struct names l;

	ck_assert_msg(text, "no %s", path);
	l = names_parse(text);
	free(text);
	free(path);
	return l;
}

static void assert_same_set(const struct names *got, const struct names *want, const char *what)
{
	char *g = names_sorted(got), *w = names_sorted(want);

	ck_assert_msg(strcmp(g, w) == 0, "%s: got {%s}, expected {%s}", what, g, w);
	free(g);
	free(w);
}

/* What the real modprobe would insert for vfio-pci in that tree, as names. */
static bool modprobe_set(const char *root, const char *kver, const char *confdir, struct names *l)
{
	char *argv[] = {modprobe,           (char *)"-C", (char *)confdir, (char *)"-d",
			(char *)root,       (char *)"-S", (char *)kver,    (char *)"--show-depends",
			(char *)"vfio-pci", NULL};
	struct res r;

	l->n = 0;
	if (!modprobe)
		return false;
	r = run_argv(argv);
	ck_assert_msg(r.rc == 0, "modprobe --show-depends failed (%d): %s", r.rc, r.err);
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "insmod ", 7) != 0)
			continue; /* "builtin vfio_pci" */
		char *p = line + 7;
		size_t len = strcspn(p, " ");
		char *n = modname(p, len);
		if (names_index(l, n) < 0)
			names_add(l, n, strlen(n));
		free(n);
	}
	res_free(&r);
	return true;
}

static void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(strstr(hay, needle), "expected \"%s\" in: %s", needle, hay);
}

/* ------------------------------------------------------------------------ */
/* `vfio-bind modules` on each generation */

static const char *const good_profiles[] = {
	"5.10", "5.15", "6.1", "6.8", "6.12", "builtin", "partial",
};

START_TEST(test_modules_profile)
{
	const struct profile *p = profile(good_profiles[_i]);
	char *root = root_of(p->name);
	struct names want = expected(p->name), got, mp;
	struct res r = vb(root, "modules", "--kernel", p->kver, NULL);

	ck_assert_msg(r.rc == 0, "%s: exit %d: %s", p->name, r.rc, r.err);
	ck_assert_msg(!*r.err, "%s: unexpected messages: %s", p->name, r.err);
	got = names_parse(r.out);
	assert_same_set(&got, &want, p->name);
	check_order(&got, root, p->kver);
	/* x86 has no vfio_iommu_spapr_tce: vfio's softdep on it is no error */
	ck_assert_int_lt(names_index(&got, "vfio_iommu_spapr_tce"), 0);
	if (names_index(&got, "vfio") >= 0)
		ck_assert_int_ge(names_index(&got, "vfio_iommu_type1"), 0);
	/* vfio-pci variant drivers share its alias prefix but are not needed */
	ck_assert_int_lt(names_index(&got, "virtio_vfio_pci"), 0);

	if (modprobe_set(root, p->kver, "/dev/null", &mp)) {
		assert_same_set(&got, &mp, "against modprobe --show-depends");
		names_free(&mp);
	}
	names_free(&got);
	res_free(&r);

	/* the only kernel of the root: --kernel is optional */
	r = vb(root, "modules", NULL);
	ck_assert_msg(r.rc == 0, "%s without --kernel: exit %d: %s", p->name, r.rc, r.err);
	got = names_parse(r.out);
	assert_same_set(&got, &want, "without --kernel");
	names_free(&got);
	names_free(&want);
	res_free(&r);
	free(root);
}
END_TEST

START_TEST(test_modules_builtin)
{
	const struct profile *p = profile("builtin");
	char *root = root_of(p->name);
	struct res r = vb(root, "-v", "modules", "--kernel", p->kver, NULL);
	char *msg = xasprintf("vfio-pci is built into %s", p->kver);

	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	assert_contains(r.err, msg);
	free(msg);
	res_free(&r);
	free(root);
}
END_TEST

START_TEST(test_modules_unknown_kernel)
{
	char *root = root_of("6.8");
	struct res r = vb(root, "modules", "--kernel", "6.9.0-1-amd64", NULL);

	ck_assert_int_eq(r.rc, EXIT_ENV);
	ck_assert_str_eq(r.out, "");
	assert_contains(r.err, "kernel 6.9.0-1-amd64 is not installed");
	res_free(&r);

	/* not a release: a path */
	r = vb(root, "modules", "--kernel", "../../../root-6.1/lib/modules/6.1.0-25-amd64", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	ck_assert_str_eq(r.out, "");
	res_free(&r);
	r = vb(root, "modules", "--kernel", "..", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	res_free(&r);
	free(root);
}
END_TEST

START_TEST(test_modules_no_vfio)
{
	const struct profile *p = profile("novfio");
	char *root = root_of(p->name);
	char *msg = xasprintf("kernel %s has no vfio-pci", p->kver);
	struct res r = vb(root, "modules", "--kernel", p->kver, NULL);

	ck_assert_int_eq(r.rc, EXIT_ENV);
	ck_assert_str_eq(r.out, "");
	assert_contains(r.err, msg);
	res_free(&r);
	/* also when it is the only kernel */
	r = vb(root, "modules", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err, msg);
	res_free(&r);
	free(msg);
	free(root);
}
END_TEST

START_TEST(test_modules_two_kernels)
{
	char *root = root_of("multi");
	const struct profile *a = &profiles[MULTI_A], *b = &profiles[MULTI_B];
	struct res r = vb(root, "modules", NULL);

	ck_assert_int_eq(r.rc, EXIT_ENV);
	ck_assert_str_eq(r.out, "");
	assert_contains(r.err, "say which with --kernel");
	res_free(&r);

	/* each kernel resolves from its own tree */
	for (int k = 0; k < 2; k++) {
		const struct profile *p = k ? b : a;
		struct names want = expected(p->name), got;

		r = vb(root, "modules", "--kernel", p->kver, NULL);
		ck_assert_msg(r.rc == 0, "%s: exit %d: %s", p->kver, r.rc, r.err);
		got = names_parse(r.out);
		assert_same_set(&got, &want, p->kver);
		check_order(&got, root, p->kver);
		names_free(&got);
		names_free(&want);
		res_free(&r);
	}
	free(root);
}
END_TEST

START_TEST(test_modules_no_kernel_dir)
{
	char *root = xasprintf("%s/empty-%d", workdir, (int)getpid());
	char *dir;
	struct res r;

	/* no lib/modules at all */
	mkdir_p(root);
	r = vb(root, "modules", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err, "cannot tell the kernel release");
	res_free(&r);

	/* lib/modules without any kernel */
	dir = xasprintf("%s/lib/modules", root);
	mkdir_p(dir);
	free(dir);
	r = vb(root, "modules", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err, "cannot tell the kernel release");
	res_free(&r);

	/* what a removed kernel leaves behind: a DKMS module, no index */
	dir = xasprintf("%s/lib/modules/6.1.0-9-amd64/updates/dkms", root);
	mkdir_p(dir);
	free(dir);
	dir = xasprintf("%s/lib/modules/6.1.0-9-amd64/updates/dkms/vendor-reset.ko", root);
	write_file(dir, "not an ELF file");
	free(dir);
	r = vb(root, "modules", "--kernel", "6.1.0-9-amd64", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	ck_assert_str_eq(r.out, "");
	assert_contains(r.err, "has no vfio-pci");
	res_free(&r);
	r = vb(root, "modules", NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	res_free(&r);

	rm_rf(root);
	free(root);
}
END_TEST

/* A root sharing root-6.8's module tree, with its own etc/modprobe.d. */
static char *modprobe_d_root(const char *conf)
{
	char *root = xasprintf("%s/mpd-%d", workdir, (int)getpid());
	char *lib = xasprintf("%s/root-6.8/lib", workdir);
	char *p = xasprintf("%s/lib", root);
	char *d = xasprintf("%s/etc/modprobe.d", root);
	char *f = xasprintf("%s/local.conf", d);

	rm_rf(root);
	mkdir_p(d);
	ck_assert_int_eq(symlink(lib, p), 0);
	write_file(f, conf);
	free(lib);
	free(p);
	free(d);
	free(f);
	return root;
}

START_TEST(test_modules_modprobe_d)
{
	const char *kver = profile("6.8")->kver;
	char *root = modprobe_d_root("# the root's own configuration applies\n"
				     "softdep vfio-pci pre: xhci_pci vendor_reset\n"
				     "options vfio-pci ids=10de:2204,10de:1aef disable_vga=1\n"
				     "softdep nouveau pre: vfio-pci\n"
				     "softdep snd_hda_intel pre: vfio-pci\n");
	char *conf = xasprintf("%s/etc/modprobe.d", root);
	struct names want = expected("6.8"), got, mp;
	struct res r = vb(root, "modules", NULL);

	/* vendor_reset (not in this kernel) is skipped, as modprobe does */
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	got = names_parse(r.out);
	names_add(&want, "xhci_pci", 8);
	names_add(&want, "xhci_pci_renesas", 16);
	assert_same_set(&got, &want, "with modprobe.d");
	check_order(&got, root, kver);
	ck_assert_int_lt(names_index(&got, "xhci_pci"), names_index(&got, "vfio_pci"));
	if (modprobe_set(root, kver, conf, &mp)) {
		assert_same_set(&got, &mp, "against modprobe --show-depends");
		names_free(&mp);
	}
	names_free(&got);
	names_free(&want);
	res_free(&r);
	rm_rf(root);
	free(root);
	free(conf);
}
END_TEST

/* Soft dependencies that lead back to vfio-pci: each module once, every
 * module after its dependencies (the walk used to run to its depth cap and
 * list vfio_pci before vfio_pci_core). */
START_TEST(test_modules_softdep_cycle)
{
	const char *kver = profile("6.8")->kver;
	char *root = modprobe_d_root("softdep vfio_pci pre: e1000e xhci_pci snd_hda_intel\n"
				     "softdep e1000e pre: vfio_pci\n"
				     "softdep xhci_pci pre: vfio-pci e1000e\n"
				     "softdep snd_hda_intel pre: vfio_pci xhci_pci post: e1000e\n");
	char *conf = xasprintf("%s/etc/modprobe.d", root);
	struct names got, mp;
	struct res r = vb(root, "modules", NULL);

	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	got = names_parse(r.out);
	check_order(&got, root, kver);
	ck_assert_int_eq(names_index(&got, "vfio_pci"), (ssize_t)got.n - 1);
	if (modprobe_set(root, kver, conf, &mp)) {
		assert_same_set(&got, &mp, "against modprobe --show-depends");
		names_free(&mp);
	}
	names_free(&got);
	res_free(&r);
	rm_rf(root);
	free(root);
	free(conf);
}
END_TEST

START_TEST(test_modules_relative_root)
{
	const struct profile *p = profile("6.12");
	struct names want = expected(p->name), got;
	struct res r;

	ck_assert_int_eq(chdir(workdir), 0);
	r = vb("root-6.12/", "modules", "--kernel", p->kver, NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	got = names_parse(r.out);
	assert_same_set(&got, &want, "relative root");
	names_free(&got);
	names_free(&want);
	res_free(&r);
}
END_TEST

/* driver= (variant drivers, pci-stub): `modules` adds each driver's set to
 * vfio-pci's, dependencies first; a driver the kernel lacks fails `modules`
 * and `check --kernel`, naming the rule. */
START_TEST(test_modules_driver_option)
{
	const struct profile *p = profile("6.12"), *old = profile("6.1");
	char *root = root_of(p->name), *oldroot = root_of(old->name);
	char *conf = xasprintf("%s/drivers.conf", workdir);
	struct names want = expected(p->name), got;
	struct res r;

	write_file(conf, "bind id=1af4:1041 driver=virtio_vfio_pci\n"
			 "bind id=15b3:101e vfs=all driver=mlx5_vfio_pci\n"
			 "bind id=8086:10d3 driver=pci-stub\n"
			 "bind id=10de:2204 driver=vfio-pci\n");
	r = vb(root, "--config", conf, "modules", "--kernel", p->kver, NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	got = names_parse(r.out);
	for (size_t i = 0; i < want.n; i++)
		ck_assert_msg(names_index(&got, want.v[i]) >= 0, "%s missing", want.v[i]);
	for (const char *const *m =
		     (const char *const[]){"virtio_vfio_pci", "mlx5_vfio_pci", "mlx5_core", "ptp",
					   "pps_core", "pci_stub", NULL};
	     *m; m++)
		ck_assert_msg(names_index(&got, *m) >= 0, "%s missing from: %s", *m, r.out);
	ck_assert_uint_eq(got.n, want.n + 6); /* each module once */
	check_order(&got, root, p->kver);
	names_free(&got);
	res_free(&r);

	/* 6.1 has no virtio_vfio_pci: both commands fail, naming the rule */
	r = vb(oldroot, "--config", conf, "modules", "--kernel", old->kver, NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err,
			":1: driver=virtio_vfio_pci: kernel 6.1.0-25-amd64 has no such module");
	res_free(&r);
	r = vb(oldroot, "--config", conf, "check", "--kernel", old->kver, NULL);
	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err, "has no such module");
	res_free(&r);

	/* pci-stub is there in every generation */
	write_file(conf, "bind id=8086:10d3 driver=pci-stub\n");
	r = vb(oldroot, "--config", conf, "check", "--kernel", old->kver, NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	res_free(&r);
	r = vb(oldroot, "--config", conf, "modules", "--kernel", old->kver, NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	assert_contains(r.out, "pci_stub\n");
	res_free(&r);

	names_free(&want);
	free(conf);
	free(root);
	free(oldroot);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* `vfio-bind check --kernel` */

START_TEST(test_check_kernel)
{
	for (size_t i = 0; i < N_PROFILES; i++) {
		const struct profile *p = &profiles[i];
		char *root = root_of(p->name);
		struct res r = vb(root, "check", "--kernel", p->kver, NULL);

		if (p->has_vfio) {
			ck_assert_msg(r.rc == 0, "%s: exit %d: %s", p->name, r.rc, r.err);
		} else {
			ck_assert_msg(r.rc == EXIT_ENV, "%s: exit %d", p->name, r.rc);
			assert_contains(r.err, "has no vfio-pci");
		}
		res_free(&r);
		free(root);
	}
}
END_TEST

START_TEST(test_check_unknown_kernel)
{
	char *root = root_of("6.8");
	struct res r = vb(root, "check", "--kernel", "6.9.0-1-amd64", NULL);

	ck_assert_int_eq(r.rc, EXIT_ENV);
	assert_contains(r.err, "6.9.0-1-amd64");
	res_free(&r);
	/* without --kernel, check does not look at kernels at all */
	r = vb(root, "check", NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	res_free(&r);
	free(root);

	root = root_of("novfio");
	r = vb(root, "check", NULL);
	ck_assert_msg(r.rc == 0, "exit %d: %s", r.rc, r.err);
	res_free(&r);
	free(root);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The library calls */

static void open_root(struct vb_root *r, const char *name)
{
	char *path = root_of(name);

	ck_assert_int_eq(vb_root_open(r, path), 0);
	free(path);
}

START_TEST(test_api_resolve)
{
	struct vb_root r;
	struct vb_modset set;

	open_root(&r, "partial");
	ck_assert_int_eq(vb_modset_resolve(&r, profile("partial")->kver, "vfio-pci", &set), 0);
	ck_assert(!set.builtin);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_str_eq(set.names[0], "vfio_pci_core");
	ck_assert_str_eq(set.names[1], "vfio_pci");
	vb_modset_free(&set);
	ck_assert_int_eq(vb_modset_resolve(&r, "6.9.0-1-amd64", "vfio-pci", &set), -ENOENT);
	vb_root_close(&r);

	open_root(&r, "builtin");
	ck_assert_int_eq(vb_modset_resolve(&r, profile("builtin")->kver, "vfio_pci", &set), 0);
	ck_assert(set.builtin);
	ck_assert_uint_eq(set.n, 0);
	vb_modset_free(&set);
	vb_root_close(&r);

	/* any module: nouveau's dependencies come first */
	open_root(&r, "6.1");
	ck_assert_int_eq(vb_modset_resolve(&r, profile("6.1")->kver, "nouveau", &set), 0);
	ck_assert_uint_eq(set.n, 5);
	ck_assert_str_eq(set.names[4], "nouveau");
	vb_modset_free(&set);
	ck_assert_int_eq(vb_modset_resolve(&r, profile("6.1")->kver, "igb", &set), -ENOENT);
	ck_assert_int_eq(vb_modset_resolve(&r, profile("novfio")->kver, "vfio-pci", &set), -ENOENT);
	vb_root_close(&r);
}
END_TEST

static const struct {
	const char *root, *modalias, *driver; /* driver NULL: -ENOENT */
	bool builtin;
} aliases[] = {
	/* RTX 3090 and its HDMI audio function */
	{"6.8", "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00", "nouveau", false},
	{"6.8", "pci:v000010DEd00001AEFsv00001458sd0000403Bbc04sc03i00", "snd_hda_intel", false},
	/* RX 7900 XTX and its HDMI audio function */
	{"6.1", "pci:v00001002d0000744Csv00001DA2sd0000E471bc03sc00i00", "amdgpu", false},
	{"6.1", "pci:v00001002d0000AB30sv00001DA2sd0000E471bc04sc03i00", "snd_hda_intel", false},
	/* USB controller (xHCI), Intel I219-V */
	{"5.10", "pci:v00001022d000015B6sv00001022sd000015B6bc0Csc03i30", "xhci_pci", false},
	{"6.12", "pci:v00008086d000015BCsv00008086sd00000000bc02sc00i00", "e1000e", false},
	/* no driver in that kernel: an I211 (igb) */
	{"6.8", "pci:v00008086d00001539sv00008086sd00000000bc02sc00i00", NULL, false},
	/* the override-only alias of vfio-pci (5.15+), module and built in */
	{"6.8", "vfio_pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00", "vfio_pci", false},
	{"builtin", "vfio_pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00", "vfio_pci", true},
	{"builtin", "pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00", "nouveau", false},
	{"5.10", "vfio_pci:v000010DEd00002204sv00001458sd0000403Bbc03sc00i00", NULL, false},
};

START_TEST(test_api_driver_for_alias)
{
	struct vb_root r;
	char buf[64];
	bool builtin = !aliases[_i].builtin;
	int ret;

	open_root(&r, aliases[_i].root);
	ret = vb_kmod_driver_for_alias(&r, profile(aliases[_i].root)->kver, aliases[_i].modalias,
				       buf, sizeof(buf), &builtin);
	if (!aliases[_i].driver) {
		ck_assert_int_eq(ret, -ENOENT);
	} else {
		ck_assert_msg(ret == 0, "%s: %d", aliases[_i].modalias, ret);
		ck_assert_str_eq(buf, aliases[_i].driver);
		ck_assert_int_eq(builtin, aliases[_i].builtin);
	}
	vb_root_close(&r);
}
END_TEST

START_TEST(test_api_kernel_release)
{
	struct vb_root r;
	char *k;
	int err;

	open_root(&r, "multi");
	ck_assert_ptr_null(vb_kernel_release(&r, NULL, &err));
	ck_assert_int_eq(err, -EADDRNOTAVAIL);
	k = vb_kernel_release(&r, "6.1.0-25-amd64", &err);
	ck_assert_str_eq(k, "6.1.0-25-amd64");
	free(k);
	ck_assert_ptr_null(vb_kernel_release(&r, "../x", &err));
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_ptr_null(vb_kernel_release(&r, "", &err));
	ck_assert_int_eq(err, -EINVAL);
	vb_root_close(&r);

	open_root(&r, "6.12");
	k = vb_kernel_release(&r, NULL, &err);
	ck_assert_str_eq(k, profile("6.12")->kver);
	free(k);
	vb_root_close(&r);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The trees, built once before the tests fork */

static pid_t spawn_mkmodtree(const char *dest, const char *kver, const char *prof)
{
	const char *py = getenv("VB_PYTHON") ? getenv("VB_PYTHON") : "python3";
	char *script = xasprintf("%s/tests/kmod/mkmodtree", srcdir);
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		execlp(py, py, script, dest, kver, prof, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", py, strerror(errno));
		_exit(127);
	}
	free(script);
	return pid;
}

/* 0, or the exit code for main (77: skip) */
static int build_trees(void)
{
	pid_t pids[N_PROFILES + 2];
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < N_PROFILES; i++) {
		char *root = root_of(profiles[i].name);
		pids[n++] = spawn_mkmodtree(root, profiles[i].kver, profiles[i].name);
		free(root);
	}
	char *multi = root_of("multi");
	pids[n++] = spawn_mkmodtree(multi, profiles[MULTI_A].kver, profiles[MULTI_A].name);
	pids[n++] = spawn_mkmodtree(multi, profiles[MULTI_B].kver, profiles[MULTI_B].name);
	free(multi);
	for (size_t i = 0; i < n; i++) {
		int st;
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			if (code == 77 && ret == 0)
				ret = 77;
			else if (code != 77)
				ret = 1;
		}
	}
	if (ret)
		return ret;

	/* a valid configuration and an (empty) PCI bus for `check` */
	for (size_t i = 0; i < N_PROFILES; i++) {
		char *root = root_of(profiles[i].name);
		char *d = xasprintf("%s/sys/bus/pci/devices", root);
		char *e = xasprintf("%s/etc", root);
		char *f = xasprintf("%s/etc/vfio-bind.conf", root);
		FILE *c;

		mkdir_p(d);
		mkdir_p(e);
		c = fopen(f, "we");
		if (!c)
			abort();
		fputs("# RTX 3090\nbind id=10de:2204\n", c);
		fclose(c);
		free(d);
		free(e);
		free(f);
		free(root);
	}
	return 0;
}

static Suite *kmod_suite(void)
{
	Suite *s = suite_create("kmod");
	TCase *tc;

	tc = tcase_create("modules");
	tcase_add_loop_test(tc, test_modules_profile, 0,
			    sizeof(good_profiles) / sizeof(good_profiles[0]));
	tcase_add_test(tc, test_modules_builtin);
	tcase_add_test(tc, test_modules_unknown_kernel);
	tcase_add_test(tc, test_modules_no_vfio);
	tcase_add_test(tc, test_modules_two_kernels);
	tcase_add_test(tc, test_modules_no_kernel_dir);
	tcase_add_test(tc, test_modules_modprobe_d);
	tcase_add_test(tc, test_modules_softdep_cycle);
	tcase_add_test(tc, test_modules_relative_root);
	tcase_add_test(tc, test_modules_driver_option);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_test(tc, test_check_kernel);
	tcase_add_test(tc, test_check_unknown_kernel);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_api_resolve);
	tcase_add_loop_test(tc, test_api_driver_for_alias, 0, sizeof(aliases) / sizeof(aliases[0]));
	tcase_add_test(tc, test_api_kernel_release);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	SRunner *sr;
	int failed, r;

	srcdir = getenv("VB_SRCDIR") ? getenv("VB_SRCDIR") : ".";
	vb_bin = getenv("VB_BIN");
	if (!vb_bin) {
		fprintf(stderr, "VB_BIN (the vfio-bind binary) is not set\n");
		return 1;
	}
	modprobe = getenv("VB_MODPROBE");
	if (!modprobe || !*modprobe) {
		modprobe = NULL;
		if (access("/usr/sbin/modprobe", X_OK) == 0)
			modprobe = (char *)"/usr/sbin/modprobe";
		else if (access("/sbin/modprobe", X_OK) == 0)
			modprobe = (char *)"/sbin/modprobe";
	}
	workdir = xasprintf("%s/vb-kmod.XXXXXX", tmp);
	if (!mkdtemp(workdir)) {
		perror("mkdtemp");
		return 1;
	}
	r = build_trees();
	if (r) {
		fprintf(stderr, r == 77 ? "skipped: no depmod\n" : "mkmodtree failed\n");
		rm_rf(workdir);
		return r;
	}

	sr = srunner_create(kmod_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (getenv("VB_KEEP_TREES"))
		fprintf(stderr, "trees kept in %s\n", workdir);
	else
		rm_rf(workdir);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
