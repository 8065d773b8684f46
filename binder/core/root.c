/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "root.h"

#ifndef O_PATH
#define O_PATH 010000000
#endif

const struct vb_kernel_ops vb_kernel_ops_real = {
	.write = vb_write_real,
	.load_module = vb_load_module_fake_root,
};

void vb_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int vb_root_open(struct vb_root *root, const char *dir)
{
	struct stat st;
	int fd;

	if (!dir || !*dir)
		dir = "/";
	if (strlen(dir) >= sizeof(root->path))
		return -ENAMETOOLONG;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	memset(root, 0, sizeof(*root));
	root->fd = fd;
	strcpy(root->path, dir);
	/* "/" spelled any way ("//", "/.", a symlink to /) is the host. */
	{
		struct stat rst;
		root->is_host = fstat(fd, &st) == 0 && stat("/", &rst) == 0 &&
				st.st_dev == rst.st_dev && st.st_ino == rst.st_ino;
	}
	root->ops = &vb_kernel_ops_real;
	return 0;
}

void vb_root_close(struct vb_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
}

static int write_all_once(int fd, const char *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO; /* sysfs takes a store in one call; a short write is a failure */
	return 0;
}

int vb_write_real(const struct vb_root *root, const char *relpath, const char *buf, size_t len)
{
	int fd, r;

	/* O_TRUNC is what a shell's `>` does: sysfs ignores it, and a fake tree
	 * of plain files then holds what was written last, as sysfs would. */
	fd = openat(root->fd, relpath, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = write_all_once(fd, buf, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int vb_load_module_fake_root(const struct vb_root *root, const char *name)
{
	char path[128];
	size_t i;

	/* sys/module uses underscores: vfio-pci is sys/module/vfio_pci */
	if (strlen(name) > 100)
		return -EINVAL;
	strcpy(path, "sys/module/");
	for (i = 0; name[i]; i++)
		path[11 + i] = name[i] == '-' ? '_' : name[i];
	path[11 + i] = 0;
	return vb_exists(root, path) ? 0 : -ENOENT;
}

int vb_read_file(const struct vb_root *root, const char *relpath, char *buf, size_t size)
{
	size_t total = 0;
	int fd, r = 0;

	if (size == 0)
		return -EINVAL;
	fd = openat(root->fd, relpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (total < size - 1) {
		ssize_t n = read(fd, buf + total, size - 1 - total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	if (r < 0)
		return r;
	buf[total] = 0;
	if (total > 0 && buf[total - 1] == '\n')
		buf[--total] = 0;
	return (int)total;
}

int vb_read_link(const struct vb_root *root, const char *relpath, char *buf, size_t size)
{
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	n = readlinkat(root->fd, relpath, buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size - 1)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return (int)n;
}

int vb_read_all(const struct vb_root *root, const char *relpath, size_t max, char **ret,
		size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf;
	int fd, r = 0;

	fd = openat(root->fd, relpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;
			if (cap >= max) {
				r = -EFBIG;
				break;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[len] = 0;
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

bool vb_exists(const struct vb_root *root, const char *relpath)
{
	struct stat st;

	return fstatat(root->fd, relpath, &st, 0) == 0;
}

static long now_ms(void)
{
#ifdef __KLIBC__
	/* klibc has no clock_gettime(); wall-clock jumps at boot only shorten a wait */
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000L + tv.tv_usec / 1000L;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
#endif
}

int vb_kernel_write(const struct vb_root *root, const char *relpath, const char *buf, size_t len,
		    unsigned timeout_ms)
{
	int pfd[2], status, r;
	long deadline;
	pid_t pid;

	if (timeout_ms == 0)
		return root->ops->write(root, relpath, buf, len);

	/*
	 * An unbind can block for as long as a user holds the device open. Do the
	 * write in a child so the parent can give up on it; a child stuck in the
	 * kernel is left behind (it finishes or dies with the device).
	 */
	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		int res;

		close(pfd[0]);
		/* a child stuck in the kernel must not keep the lock */
		vb_lock_forget_in_child();
		res = root->ops->write(root, relpath, buf, len);
		(void)!write(pfd[1], &res, sizeof(res));
		_exit(0);
	}
	close(pfd[1]);

	deadline = now_ms() + timeout_ms;
	r = -ETIMEDOUT;
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		long left = deadline - now_ms();
		int n;

		if (left <= 0)
			break;
		n = poll(&p, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		{
			int res;
			ssize_t got = read(pfd[0], &res, sizeof(res));
			r = got == (ssize_t)sizeof(res) ? res : -EIO;
		}
		break;
	}
	close(pfd[0]);
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		/* Reap if it died; a task in uninterruptible sleep stays behind. */
		(void)waitpid(pid, &status, WNOHANG);
	} else {
		(void)waitpid(pid, &status, 0);
	}
	return r;
}
