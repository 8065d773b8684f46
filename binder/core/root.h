/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The root context (util-linux path_cxt style). Every path vfio-bind reads or
 * writes is relative to one directory fd, so the same code runs on "/" and on
 * a fake sysfs tree. Writes that the kernel interprets (driver_override,
 * bind, unbind, drivers_probe, sriov_*) and module loading go through a
 * replaceable set of kernel operations: the real ones, or the simulated
 * kernel used by the tests.
 */

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util.h"

struct vb_root;
struct vb_writer;

struct vb_kernel_ops {
	/* One write(2) of buf to relpath; 0 or -errno. A short write is -EIO. */
	int (*write)(const struct vb_root *root, const char *relpath, const char *buf, size_t len);
	/* Make module `name` (e.g. "vfio-pci") loaded; 0 or -errno. */
	int (*load_module)(const struct vb_root *root, const char *name);
	void *userdata;
};

struct vb_root {
	int fd;                 /* O_PATH directory fd of the root */
	char path[VB_PATH_MAX]; /* as given, for messages */
	bool is_host;           /* root is "/": the running kernel may be touched */
	const struct vb_kernel_ops *ops;
	unsigned unbind_timeout_ms; /* 0: no timeout */
	struct vb_writer *writer;   /* the child that does timed writes (root.c) */
};

/* Opens `dir` ("/" when NULL). ops default to vb_kernel_ops_real. */
int vb_root_open(struct vb_root *root, const char *dir);
void vb_root_close(struct vb_root *root);

/* The real operations: openat()+write() under the root. load_module is the
 * "cannot load" stub unless the program installs its own (libkmod on the
 * host, modprobe in early boot); under a fake root it only reports whether
 * sys/module/<name> exists, it never reaches the running kernel. */
extern const struct vb_kernel_ops vb_kernel_ops_real;
int vb_write_real(const struct vb_root *root, const char *relpath, const char *buf, size_t len);
/* Fake-root module "loading": 0 when sys/module/<name with _> exists, else -ENOENT. */
int vb_load_module_fake_root(const struct vb_root *root, const char *name);

/* Reads up to size-1 bytes of relpath, NUL-terminates, strips one trailing
 * newline. Returns the length or -errno. */
int vb_read_file(const struct vb_root *root, const char *relpath, char *buf, size_t size);
/* readlinkat() under the root, NUL-terminated. Returns length or -errno. */
int vb_read_link(const struct vb_root *root, const char *relpath, char *buf, size_t size);
/* Whole file into a malloc'ed buffer (NUL-terminated); max bytes limit. */
int vb_read_all(const struct vb_root *root, const char *relpath, size_t max, char **ret,
		size_t *ret_len);
/* A text file of at most max bytes: vb_read_all() that also refuses a NUL
 * byte (-EINVAL). On failure why says what went wrong, for the caller's
 * message; *ret is only set on success. */
int vb_read_text(const struct vb_root *root, const char *relpath, size_t max, char **ret, char *why,
		 size_t why_size);
bool vb_exists(const struct vb_root *root, const char *relpath);

/* The rest of the root I/O, so no module opens, stats or lists by hand. */
/* openat() under the root (O_CLOEXEC|O_NOCTTY added); fd or -errno. */
int vb_open(const struct vb_root *root, const char *relpath, int flags);
/* fstatat() under the root; follow: whether a final symlink is followed. */
int vb_stat(const struct vb_root *root, const char *relpath, struct stat *st, bool follow);
/* opendir() of a root-relative directory into *ret; 0 or -errno (errno set too). */
int vb_opendir(const struct vb_root *root, const char *relpath, DIR **ret);
/* snprintf() of a path into buf: -ENAMETOOLONG instead of a truncated path. */
int vb_path_join(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* vb_read_file() of the path made from fmt. */
int vb_read_filef(const struct vb_root *root, char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Kernel write through root->ops, bounded by timeout_ms (0: unbounded).
 * Timed writes are done by one long-lived writer child per root, fed over a
 * pipe: a write that does not return in time is reported as -ETIMEDOUT and
 * abandoned together with that child (killed, left to finish in the kernel),
 * and the next timed write starts a new one. So a run forks once, plus once
 * per write that timed out, not once per device. vb_root_close() ends it. */
int vb_kernel_write(const struct vb_root *root, const char *relpath, const char *buf, size_t len,
		    unsigned timeout_ms);
/* Writes reqs[0..n) in order, each bounded by timeout_ms as above; each
 * request's result is 0 or -errno (-ETIMEDOUT: abandoned). The writes are
 * queued to the writer child together, so a batch costs no round trip per
 * write. Returns 0, or -errno when the writer cannot be started. */
struct vb_kernel_req {
	const char *path;
	const char *buf;
	size_t len;
	int result;
};
int vb_kernel_write_many(const struct vb_root *root, struct vb_kernel_req *reqs, size_t n,
			 unsigned timeout_ms);
static inline int vb_kernel_write_str(const struct vb_root *root, const char *relpath,
				      const char *s, unsigned timeout_ms)
{
	size_t n = 0;
	while (s[n])
		n++;
	return vb_kernel_write(root, relpath, s, n, timeout_ms);
}
