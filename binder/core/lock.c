/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

/* The descriptor that holds the lock, -1 when none. */
static int lock_fd = -1;

#define RETRY_MS 20

static int open_lock_file(const struct vb_root *root)
{
	int fd;

	fd = openat(root->fd, VB_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		    0600);
	if (fd >= 0 || errno != ENOENT || root->is_host)
		return fd >= 0 ? fd : -errno;
	/* a fake tree without run/: make it (the host always has /run) */
	if (mkdirat(root->fd, "run", 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(root->fd, VB_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		    0600);
	return fd >= 0 ? fd : -errno;
}

static long read_holder(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end) || pid <= 0)
		return 0;
	/* a holder that died without unlocking left its pid: not the holder */
	return kill((pid_t)pid, 0) == 0 || errno == EPERM ? pid : 0;
}

int vb_lock_take(const struct vb_root *root, unsigned wait_ms, long *holder)
{
	unsigned waited = 0;
	char buf[24];
	int fd, n;

	if (lock_fd >= 0)
		return 0;
	fd = open_lock_file(root);
	if (fd < 0)
		return fd;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = {0, RETRY_MS * 1000000L};
		int r = -errno;

		if (r != -EWOULDBLOCK && r != -EINTR) {
			close(fd);
			return r;
		}
		if (waited >= wait_ms) {
			if (holder)
				*holder = read_holder(fd);
			close(fd);
			return -ETIMEDOUT;
		}
		/* polling, not a blocking flock(): klibc has no alarm-free
		 * bounded wait, and a waiter must be able to give up */
		nanosleep(&ts, NULL);
		waited += RETRY_MS;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, buf, n, 0);
	lock_fd = fd;
	return 0;
}

void vb_lock_release(void)
{
	if (lock_fd < 0)
		return;
	/* the pid of a finished holder would only mislead the next waiter */
	(void)!ftruncate(lock_fd, 0);
	close(lock_fd);
	lock_fd = -1;
}

void vb_lock_forget_in_child(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}
