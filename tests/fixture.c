/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "diag.h"
#include "fixture.h"
#include "log.h"
#include "pci.h"

#define MAX_ARGS 32

/*
 * Bookkeeping shared by Check's runner and the test processes it forks: it is
 * mapped (MAP_SHARED) before main() runs.
 *
 * Templates: the first fixture_tree*() call with given arguments builds the
 * tree once into a template directory, later calls (in any test process of
 * this program) copy it, which is much faster than running python again.
 *
 * Live trees: a failing ck_assert ends a forked test with _exit(), skipping
 * the test's own cleanup; the runner removes what is left at exit (and in
 * fixture_unload_all), templates included.
 */
#define MAX_LIVE 256
#define MAX_TEMPLATES 32

struct shared {
	struct {
		pid_t owner;
		char path[240];
	} live[MAX_LIVE];
	struct {
		char key[1024];
		char path[240];
	} tmpl[MAX_TEMPLATES];
};

static struct shared *shared;
static pid_t runner_pid;

static void cleanup_live(void)
{
	size_t i;

	if (!shared)
		return;
	for (i = 0; i < MAX_LIVE; i++) {
		if (!shared->live[i].path[0] ||
		    (getpid() != runner_pid && shared->live[i].owner != getpid()))
			continue;
		(void)fixture_rm_rf_at(AT_FDCWD, shared->live[i].path);
		shared->live[i].path[0] = 0;
	}
}

static void cleanup_at_exit(void)
{
	if (getpid() == runner_pid)
		fixture_unload_all();
	else
		cleanup_live();
}

__attribute__((constructor)) static void shared_init(void)
{
	void *p = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return;
	shared = p;
	runner_pid = getpid();
	atexit(cleanup_at_exit);
}

static void track(const char *path)
{
	size_t i;

	if (!shared || strlen(path) >= sizeof(shared->live[0].path))
		return;
	for (i = 0; i < MAX_LIVE; i++) {
		if (shared->live[i].path[0])
			continue;
		shared->live[i].owner = getpid();
		strcpy(shared->live[i].path, path);
		return;
	}
}

static void untrack(const char *path)
{
	size_t i;

	if (!shared)
		return;
	for (i = 0; i < MAX_LIVE; i++)
		if (shared->live[i].path[0] && strcmp(shared->live[i].path, path) == 0)
			shared->live[i].path[0] = 0;
}

/* Preloading runs in Check's runner, outside any test, where ck_assert
 * cannot report: failures there print and exit. */
static bool outside_test;

#define FX_ASSERT(cond, ...)                                                                       \
	do {                                                                                       \
		if (cond)                                                                          \
			break;                                                                     \
		if (!outside_test)                                                                 \
			ck_abort_msg(__VA_ARGS__);                                                 \
		fprintf(stderr, "fixture: ");                                                      \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		exit(2);                                                                           \
	} while (0)

static const char *srcdir(void)
{
	const char *s = getenv("VB_SRCDIR");

	return s && *s ? s : ".";
}

static char *xstrdup(const char *s)
{
	char *r = strdup(s);

	FX_ASSERT(r, "out of memory");
	return r;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	FX_ASSERT(n >= 0, "out of memory");
	return r;
}

static char *make_tmpdir(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	dir = xasprintf("%s/%s-XXXXXX", tmp, prefix);
	FX_ASSERT(mkdtemp(dir), "mkdtemp(%s): %s", dir, strerror(errno));
	return dir;
}

/* "desktop.tree" without a slash: a file in tests/sysfs/ */
static char *resolve_arg(const char *a)
{
	size_t n = strlen(a);

	if (!strchr(a, '/') && n > 5 && strcmp(a + n - 5, ".tree") == 0)
		return xasprintf("%s/tests/sysfs/%s", srcdir(), a);
	return xstrdup(a);
}

static char *args_key(const char *const *args)
{
	size_t n = 1, i;
	char *k;

	for (i = 0; args[i]; i++)
		n += strlen(args[i]) + 1;
	k = calloc(1, n);
	FX_ASSERT(k, "out of memory");
	for (i = 0; args[i]; i++) {
		strcat(k, args[i]);
		strcat(k, "\x1f");
	}
	return k;
}

static void run_mktree(const char *const *args, const char *dest)
{
	char *argv[MAX_ARGS + 4];
	const char *python = getenv("VB_PYTHON");
	char *mktree = xasprintf("%s/tests/sysfs/mktree", srcdir());
	size_t n = 0, i;
	int status;
	pid_t pid;

	if (python && *python)
		argv[n++] = (char *)python;
	argv[n++] = mktree;
	for (i = 0; args[i]; i++) {
		FX_ASSERT(i < MAX_ARGS, "too many mktree arguments");
		argv[n++] = resolve_arg(args[i]);
	}
	argv[n++] = (char *)dest;
	argv[n] = NULL;

	fflush(NULL);
	pid = fork();
	FX_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (python && *python)
			execvp(python, argv);
		else
			execv(mktree, argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		FX_ASSERT(errno == EINTR, "waitpid: %s", strerror(errno));

	for (i = (python && *python) ? 2 : 1; i < n - 1; i++)
		free(argv[i]);
	FX_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s failed (status %d) building %s", mktree, status, dest);
	free(mktree);
}

static const char *find_template(const char *key)
{
	size_t i;

	if (!shared)
		return NULL;
	for (i = 0; i < MAX_TEMPLATES; i++)
		if (shared->tmpl[i].path[0] && strcmp(shared->tmpl[i].key, key) == 0)
			return shared->tmpl[i].path;
	return NULL;
}

/* Builds the template for args unless there is one; NULL when the cache is
 * full or unavailable (the caller builds directly). */
static const char *get_template(const char *const *args)
{
	char *key = args_key(args), *path;
	const char *t = find_template(key);
	size_t i;

	if (t || !shared || strlen(key) >= sizeof(shared->tmpl[0].key)) {
		free(key);
		return t;
	}
	/* only plain tests/sysfs trees: generated ones (options, other files)
	 * are used once, and copying would only add time */
	for (i = 0; args[i]; i++) {
		size_t n = strlen(args[i]);

		if (args[i][0] == '-' || strchr(args[i], '/') || n < 6 ||
		    strcmp(args[i] + n - 5, ".tree") != 0) {
			free(key);
			return NULL;
		}
	}
	for (i = 0; i < MAX_TEMPLATES && shared->tmpl[i].path[0]; i++)
		;
	if (i == MAX_TEMPLATES) {
		free(key);
		return NULL;
	}
	path = make_tmpdir("vb-template");
	FX_ASSERT(strlen(path) < sizeof(shared->tmpl[0].path), "TMPDIR too long");
	track(path); /* removed by the runner if the build does not finish */
	run_mktree(args, path);
	untrack(path);
	strcpy(shared->tmpl[i].key, key);
	strcpy(shared->tmpl[i].path, path);
	free(key);
	free(path);
	return shared->tmpl[i].path;
}

char *fixture_tree_args(const char *const *args)
{
	const char *t = get_template(args);
	char *root = make_tmpdir("vb-tree");

	track(root);
	if (t) {
		int r;

		/* fixture_copy_tree wants a fresh destination */
		FX_ASSERT(rmdir(root) == 0, "rmdir %s: %s", root, strerror(errno));
		r = fixture_copy_tree(t, root);
		FX_ASSERT(r == 0, "copy %s to %s: %s", t, root, strerror(-r));
	} else {
		run_mktree(args, root);
	}
	return root;
}

char *fixture_tree(const char *name)
{
	char *file = xasprintf("%s%s", name, ".tree");
	const char *args[] = {file, NULL};
	char *root = fixture_tree_args(args);

	free(file);
	return root;
}

char *fixture_tree_text(const char *text)
{
	char *dir = make_tmpdir("vb-treefile"), *file, *root;
	const char *args[2];

	file = xasprintf("%s/inline.tree", dir);
	fixture_write(dir, "inline.tree", text);
	args[0] = file;
	args[1] = NULL;
	root = fixture_tree_args(args);
	(void)fixture_rm_rf_at(AT_FDCWD, dir);
	free(file);
	free(dir);
	return root;
}

char *fixture_tree_vars(const char *name, const char *vars)
{
	const char *args[MAX_ARGS + 2];
	char *copy = xstrdup(vars), *save = NULL, *tok, *file, *root;
	size_t n = 0;

	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		FX_ASSERT(n + 3 < MAX_ARGS, "too many variables");
		args[n++] = "--var";
		args[n++] = tok;
	}
	file = xasprintf("%s.tree", name);
	args[n++] = file;
	args[n] = NULL;
	root = fixture_tree_args(args);
	free(file);
	free(copy);
	return root;
}

void fixture_cleanup(char *root)
{
	int r;

	if (!root)
		return;
	untrack(root);
	r = fixture_rm_rf_at(AT_FDCWD, root);
	FX_ASSERT(r == 0 || r == -ENOENT, "rm -rf %s: %s", root, strerror(-r));
	free(root);
}

void fixture_preload_args(const char *const *args)
{
	outside_test = true;
	(void)get_template(args);
	outside_test = false;
}

void fixture_preload(const char *name)
{
	char *file = xasprintf("%s%s", name, ".tree");
	const char *args[] = {file, NULL};

	fixture_preload_args(args);
	free(file);
}

void fixture_unload_all(void)
{
	size_t i;

	cleanup_live();
	if (!shared || getpid() != runner_pid)
		return;
	for (i = 0; i < MAX_TEMPLATES; i++) {
		if (!shared->tmpl[i].path[0])
			continue;
		(void)fixture_rm_rf_at(AT_FDCWD, shared->tmpl[i].path);
		shared->tmpl[i].path[0] = 0;
	}
}

static char *join(const char *root, const char *relpath)
{
	return xasprintf("%s/%s", root, relpath);
}

/* mkdir -p of relpath's parent directories under root. */
static void make_parents(const char *root, const char *relpath)
{
	char *p = join(root, relpath);

	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		FX_ASSERT(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p,
			  strerror(errno));
		*s = '/';
	}
	free(p);
}

void fixture_write(const char *root, const char *relpath, const char *content)
{
	char *p = join(root, relpath);
	size_t len = strlen(content);
	int fd;

	make_parents(root, relpath);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FX_ASSERT(fd >= 0, "open %s: %s", p, strerror(errno));
	FX_ASSERT(write(fd, content, len) == (ssize_t)len, "write %s: %s", p, strerror(errno));
	close(fd);
	free(p);
}

char *fixture_read(const char *root, const char *relpath)
{
	char *p = join(root, relpath), *buf;
	size_t len = 0, cap = 256;
	int fd;

	fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	FX_ASSERT(buf, "out of memory");
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			FX_ASSERT(buf, "out of memory");
		}
		n = read(fd, buf + len, cap - len - 1);
		FX_ASSERT(n >= 0, "read %s: %s", relpath, strerror(errno));
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

char *fixture_readlink(const char *root, const char *relpath)
{
	char *p = join(root, relpath), buf[4096];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	free(p);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return xstrdup(buf);
}

bool fixture_exists(const char *root, const char *relpath)
{
	char *p = join(root, relpath);
	struct stat st;
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

void fixture_remove(const char *root, const char *relpath)
{
	char *p = join(root, relpath);
	int r = fixture_rm_rf_at(AT_FDCWD, p);

	FX_ASSERT(r == 0 || r == -ENOENT, "rm -rf %s: %s", p, strerror(-r));
	free(p);
}

void fixture_symlink(const char *root, const char *relpath, const char *target)
{
	char *p = join(root, relpath);

	FX_ASSERT(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
	free(p);
}

int fixture_rm_rf_at(int dirfd, const char *relpath)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	if (fstatat(dirfd, relpath, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, relpath, 0) < 0 ? -errno : 0;

	fd = openat(dirfd, relpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(dir))) {
		int q;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		q = fixture_rm_rf_at(fd, de->d_name);
		if (q < 0 && q != -ENOENT && r == 0)
			r = q;
	}
	closedir(dir);
	if (unlinkat(dirfd, relpath, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

static int copy_file_at(int sfd, int dfd, const char *name, mode_t mode)
{
	char buf[8192];
	int in, out, r = 0;

	in = openat(sfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -errno;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (write(out, buf, n) != n) {
			r = -EIO;
			break;
		}
	}
	if (r == 0 && fchmod(out, mode & 07777) < 0)
		r = -errno;
	close(in);
	close(out);
	return r;
}

static int copy_dir_at(int sfd, int dfd)
{
	struct dirent *de;
	DIR *dir;
	int fd, r = 0;

	fd = dup(sfd);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(dir))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(sfd, de->d_name, target, sizeof(target) - 1);

			if (n < 0) {
				r = -errno;
				break;
			}
			target[n] = 0;
			if (symlinkat(target, dfd, de->d_name) < 0)
				r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			int s2, d2;

			if (mkdirat(dfd, de->d_name, st.st_mode & 07777) < 0) {
				r = -errno;
				break;
			}
			s2 = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				r = -errno;
			else
				r = copy_dir_at(s2, d2);
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
		} else {
			r = copy_file_at(sfd, dfd, de->d_name, st.st_mode);
		}
	}
	closedir(dir);
	return r;
}

int fixture_copy_tree(const char *src, const char *dst)
{
	int sfd, dfd, r;

	if (mkdir(dst, 0700) < 0)
		return -errno;
	sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		close(sfd);
		return r;
	}
	r = copy_dir_at(sfd, dfd);
	close(sfd);
	close(dfd);
	return r;
}

struct vb_pci_dev *fixture_find_dev(const struct vb_pci_list *list, const char *name)
{
	struct vb_pci_addr a;
	struct vb_pci_dev *d;

	ck_assert_int_eq(vb_pci_addr_parse(name, &a), 0);
	d = vb_pci_find(list, &a);
	ck_assert_msg(d, "%s not found", name);
	return d;
}

/* Runs vb_diags_log with stderr redirected to a file and returns the output
 * (free it). */
char *fixture_diags_log(const struct vb_diags *d)
{
	char path[] = "/tmp/vb-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *out = calloc(1, 65536);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	dup2(fd, STDERR_FILENO);
	vb_log_set_max_priority(VB_LOG_DEBUG);
	vb_diags_log(d);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_int_ge(pread(fd, out, 65535, 0), 0);
	close(fd);
	return out;
}
