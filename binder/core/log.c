/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int max_priority = VB_LOG_NOTICE;
static int kmsg_fd = -1;
static void (*log_hook)(int prio, const char *text);

void vb_log_set_hook(void (*hook)(int prio, const char *text))
{
	log_hook = hook;
}

void vb_log_set_max_priority(int prio)
{
	max_priority = prio;
}

int vb_log_get_max_priority(void)
{
	return max_priority;
}

void vb_log_set_kmsg_fd(int fd)
{
	kmsg_fd = fd;
}

void vb_logv(int prio, const char *fmt, va_list ap)
{
	bool bare = prio & VB_LOG_BARE;
	char buf[1024];
	int n, off;

	prio &= 7;
	if (prio > max_priority)
		return;

	if (kmsg_fd >= 0) {
		/* One write per record: /dev/kmsg takes each write as one line. */
		off = snprintf(buf, sizeof(buf), "<%d>vfio-bind: ", prio);
	} else {
		off = snprintf(buf, sizeof(buf), "vfio-bind: %s",
			       bare                     ? ""
			       : prio <= VB_LOG_ERR     ? "error: "
			       : prio == VB_LOG_WARNING ? "warning: "
							: "");
	}
	if (off < 0)
		return;
	n = vsnprintf(buf + off, sizeof(buf) - off - 1, fmt, ap);
	if (n < 0)
		return;
	n += off;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n] = 0;
	if (log_hook)
		log_hook(prio, buf + off);
	buf[n++] = '\n';

	if (kmsg_fd >= 0) {
		/* a record is one line in dmesg: keep continuation lines (hints)
		 * on it, so `dmesg | grep vfio-bind` shows them */
		for (int i = off; i < n - 1; i++)
			if (buf[i] == '\n')
				buf[i] = ' ';
		if (write(kmsg_fd, buf, n) >= 0)
			return;
		/* kmsg refused (rate limit, closed): fall through to stderr */
		memmove(buf, buf + 3, n - 3); /* drop "<p>" */
		n -= 3;
	}
	(void)!write(STDERR_FILENO, buf, n);
}

void vb_log(int prio, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vb_logv(prio, fmt, ap);
	va_end(ap);
	errno = saved;
}

const char *vb_strerror(int errnum)
{
	if (errnum < 0)
		errnum = -errnum;
	/* one line per errno, as the table it is */
	/* clang-format off */
	switch (errnum) {
	case 0: return "Success";
	case EPERM: return "Operation not permitted";
	case ENOENT: return "No such file or directory";
	case EIO: return "Input/output error";
	case ENXIO: return "No such device or address";
	case E2BIG: return "Argument list too long";
	case ENOEXEC: return "Exec format error";
	case EBADF: return "Bad file descriptor";
	case ENOMEM: return "Cannot allocate memory";
	case EACCES: return "Permission denied";
	case EBUSY: return "Device or resource busy";
	case EEXIST: return "File exists";
	case ENODEV: return "No such device";
	case ENOTDIR: return "Not a directory";
	case EISDIR: return "Is a directory";
	case EINVAL: return "Invalid argument";
	case ENOSPC: return "No space left on device";
	case EROFS: return "Read-only file system";
	case ERANGE: return "Numerical result out of range";
	case EFBIG: return "File too large";
	case ENOSYS: return "Function not implemented";
	case ETIMEDOUT: return "Connection timed out";
	case EOPNOTSUPP: return "Operation not supported";
	case ELOOP: return "Too many levels of symbolic links";
	case ENAMETOOLONG: return "File name too long";
	case EAGAIN: return "Resource temporarily unavailable";
	case ECHILD: return "No child processes";
	default: return "Unknown error";
	}
	/* clang-format on */
}
