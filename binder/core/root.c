/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
#include "log.h"
#include "root.h"

#ifndef O_PATH
#define O_PATH 010000000
#endif

static int writer_alloc(struct vb_root *root);
static void writer_stop(struct vb_writer *w, bool stuck);

const struct vb_kernel_ops vb_kernel_ops_real = {
	.write = vb_write_real,
	.load_module = vb_load_module_fake_root,
};

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
	if (writer_alloc(root) < 0) {
		close(fd);
		root->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

void vb_root_close(struct vb_root *root)
{
	if (root->writer) {
		writer_stop(root->writer, false);
		free(root->writer);
		root->writer = NULL;
	}
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

int vb_open(const struct vb_root *root, const char *relpath, int flags)
{
	int fd = openat(root->fd, relpath, flags | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

int vb_stat(const struct vb_root *root, const char *relpath, struct stat *st, bool follow)
{
	return fstatat(root->fd, relpath, st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int vb_opendir(const struct vb_root *root, const char *relpath, DIR **ret)
{
	int fd = vb_open(root, relpath, O_RDONLY | O_DIRECTORY), r;
	DIR *d;

	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		errno = -r;
		return r;
	}
	*ret = d;
	return 0;
}

static int path_vjoin(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	return n < 0 ? -EINVAL : (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int vb_path_join(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = path_vjoin(buf, size, fmt, ap);
	va_end(ap);
	return r;
}

int vb_read_filef(const struct vb_root *root, char *buf, size_t size, const char *fmt, ...)
{
	char path[VB_PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = path_vjoin(path, sizeof(path), fmt, ap);
	va_end(ap);
	return r < 0 ? r : vb_read_file(root, path, buf, size);
}

/*
 * The writer: a child that performs timed kernel writes one at a time. An
 * unbind can block for as long as a user holds the device open; the parent
 * must be able to give up on it, and the only portable way to walk away from
 * a write(2) stuck in the kernel is to have another process do it. One child
 * serves every timed write of a run; only a write that times out costs a
 * new one (the stuck child is killed: it finishes or dies with the device).
 *
 * Request: struct writer_req, then path and value bytes. Reply: one int.
 */
struct vb_writer {
	pid_t pid;                       /* 0: no child running */
	int req;                         /* write end of the request pipe */
	int resp;                        /* read end of the reply pipe */
	int fd;                          /* the root fd the child was started with */
	const struct vb_kernel_ops *ops; /* the ops it was started with */
	pid_t stuck;                     /* last abandoned child, reaped when it has exited */
};

struct writer_req {
	unsigned path_len;
	unsigned len;
};

#define WRITER_MSG_MAX 4096

static int writer_alloc(struct vb_root *root)
{
	root->writer = calloc(1, sizeof(*root->writer));
	return root->writer ? 0 : -ENOMEM;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		got += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

static void writer_child(const struct vb_root *parent_root, int req, int resp)
{
	struct vb_root root = *parent_root; /* our own copy: the parent's may go away */
	char msg[WRITER_MSG_MAX + 1];

	/* a child stuck in the kernel must not keep the lock */
	vb_lock_forget_in_child();

	for (;;) {
		struct writer_req h;
		int res;

		if (read_full(req, &h, sizeof(h)) < 0)
			_exit(0); /* the parent closed the pipe (or is gone) */
		if (h.path_len == 0 || h.path_len + 1 + h.len > WRITER_MSG_MAX ||
		    read_full(req, msg, h.path_len + 1 + h.len) < 0)
			_exit(1);
		msg[h.path_len] = 0;
		res = root.ops->write(&root, msg, msg + h.path_len + 1, h.len);
		if (write_full(resp, &res, sizeof(res)) < 0)
			_exit(1);
	}
}

static void set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static void writer_reap_stuck(struct vb_writer *w)
{
	int status;

	if (w->stuck > 0 && waitpid(w->stuck, &status, WNOHANG) != 0)
		w->stuck = 0;
}

/* Ends the child: idle (kill and reap) or stuck in a write (kill, reap
 * if it died; a task in uninterruptible sleep stays behind). */
static void writer_stop(struct vb_writer *w, bool stuck)
{
	int status;

	if (w->pid <= 0)
		return;
	close(w->req);
	close(w->resp);
	/* Killed rather than left to see EOF: other writers' children may hold
	 * copies of our pipe, so EOF alone is not guaranteed. */
	kill(w->pid, SIGKILL);
	if (stuck) {
		writer_reap_stuck(w);
		w->stuck = waitpid(w->pid, &status, WNOHANG) == 0 ? w->pid : 0;
	} else {
		(void)waitpid(w->pid, &status, 0);
	}
	w->pid = 0;
}

static int writer_start(const struct vb_root *root, struct vb_writer *w)
{
	int req[2], resp[2], r;
	pid_t pid;

	if (pipe(req) < 0)
		return -errno;
	if (pipe(resp) < 0) {
		r = -errno;
		close(req[0]);
		close(req[1]);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(req[0]);
		close(req[1]);
		close(resp[0]);
		close(resp[1]);
		return r;
	}
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		writer_child(root, req[0], resp[1]);
	}
	close(req[0]);
	close(resp[1]);
	/* not inherited by modprobe (early binder) or other children */
	set_cloexec(req[1]);
	set_cloexec(resp[0]);
	w->pid = pid;
	w->req = req[1];
	w->resp = resp[0];
	w->fd = root->fd;
	w->ops = root->ops;
	return 0;
}

static int writer_send(struct vb_writer *w, const char *relpath, const char *buf, size_t len)
{
	char msg[sizeof(struct writer_req) + WRITER_MSG_MAX];
	struct writer_req h = {.path_len = (unsigned)strlen(relpath), .len = (unsigned)len};

	if (h.path_len == 0 || h.path_len + 1 + len > WRITER_MSG_MAX)
		return -ENAMETOOLONG;
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), relpath, h.path_len + 1);
	memcpy(msg + sizeof(h) + h.path_len + 1, buf, len);
	/* SIGPIPE is ignored meanwhile (vb_kernel_write_many) */
	return write_full(w->req, msg, sizeof(h) + h.path_len + 1 + len);
}

/* Bytes of requests in the pipe at once: below the pipe's 64 KiB, so that
 * sending never blocks while the child waits for us to read its replies. */
#define WRITER_INFLIGHT_MAX (32 * 1024)

static size_t req_size(const struct vb_kernel_req *q)
{
	return sizeof(struct writer_req) + strlen(q->path) + 1 + q->len;
}

/* Makes sure a writer for this root runs. */
static int writer_ready(const struct vb_root *root, struct vb_writer *w)
{
	writer_reap_stuck(w);
	if (w->pid > 0 && (w->fd != root->fd || w->ops != root->ops))
		writer_stop(w, false); /* started for another fd or other ops */
	return w->pid > 0 ? 0 : writer_start(root, w);
}

/* Waits for the reply to the oldest request in flight until deadline. */
static int writer_reply(struct vb_writer *w, long deadline, int *res)
{
	for (;;) {
		struct pollfd p = {.fd = w->resp, .events = POLLIN};
		long left = deadline - vb_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		/* EOF: the child died mid-write, we cannot tell what happened */
		return read_full(w->resp, res, sizeof(*res)) < 0 ? -EIO : 0;
	}
}

static int write_many_piped(const struct vb_root *root, struct vb_kernel_req *reqs, size_t n,
			    unsigned timeout_ms)
{
	struct vb_writer *w = root->writer;
	size_t done = 0;

	/*
	 * The requests are queued in the pipe ahead of the child, which does
	 * them one by one: no round trip per write. Each write's deadline
	 * starts when the reply to the one before it arrived, which is when
	 * the child began it. After a timeout the child is abandoned with the
	 * requests behind the stuck one unread; a new child gets them again.
	 */
	while (done < n) {
		size_t sent = done, inflight = 0;
		int r = writer_ready(root, w);

		if (r < 0)
			return r;
		for (;;) {
			long deadline;
			int res;

			while (sent < n && (sent == done || inflight + req_size(&reqs[sent]) <=
								    WRITER_INFLIGHT_MAX)) {
				r = writer_send(w, reqs[sent].path, reqs[sent].buf, reqs[sent].len);
				if (r < 0)
					break;
				inflight += req_size(&reqs[sent]);
				sent++;
			}
			if (r < 0 && sent == done) {
				/* nothing of this one reached the child */
				writer_stop(w, true);
				if (r != -EPIPE)
					return r;
				break; /* it died between writes: a new one */
			}
			deadline = vb_now_ms() + timeout_ms;
			r = writer_reply(w, deadline, &res);
			if (r < 0) {
				reqs[done++].result = r;
				writer_stop(w, true);
				break;
			}
			inflight -= req_size(&reqs[done]);
			reqs[done++].result = res;
			if (done == n)
				return 0;
		}
	}
	return 0;
}

int vb_kernel_write_many(const struct vb_root *root, struct vb_kernel_req *reqs, size_t n,
			 unsigned timeout_ms)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	int r;

	if (timeout_ms == 0) {
		for (size_t i = 0; i < n; i++)
			reqs[i].result =
				root->ops->write(root, reqs[i].path, reqs[i].buf, reqs[i].len);
		return 0;
	}
	if (!root->writer)
		return -EINVAL; /* a root not made by vb_root_open() */
	/* a child that died must give -EPIPE when we send, not kill us with
	 * SIGPIPE: ignored for the batch, not around every request */
	sigaction(SIGPIPE, &ign, &old);
	r = write_many_piped(root, reqs, n, timeout_ms);
	sigaction(SIGPIPE, &old, NULL);
	return r;
}

int vb_kernel_write(const struct vb_root *root, const char *relpath, const char *buf, size_t len,
		    unsigned timeout_ms)
{
	struct vb_kernel_req q = {.path = relpath, .buf = buf, .len = len};
	int r;

	r = vb_kernel_write_many(root, &q, 1, timeout_ms);
	return r < 0 ? r : q.result;
}

int vb_read_text(const struct vb_root *root, const char *relpath, size_t max, char **ret, char *why,
		 size_t why_size)
{
	char *text;
	size_t len;
	int r;

	r = vb_read_all(root, relpath, max, &text, &len);
	if (r < 0) {
		snprintf(why, why_size, "%s", vb_strerror(-r));
		return r;
	}
	if (strlen(text) != len) {
		free(text);
		snprintf(why, why_size, "NUL byte in the file");
		return -EINVAL;
	}
	*ret = text;
	return 0;
}
