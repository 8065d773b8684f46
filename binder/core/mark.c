/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mark.h"

static int device_instance(const struct vb_root *root, const struct vb_pci_dev *dev,
			   unsigned long long *ino)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", dev->name);
	if (fstatat(root->fd, path, &st, 0) < 0)
		return -errno;
	*ino = (unsigned long long)st.st_ino;
	return 0;
}

int vb_mark_set(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev,
		const char *text)
{
	char path[160], buf[320];
	unsigned long long ino = 0;
	int fd, n, r;

	r = device_instance(root, dev, &ino);
	if (r < 0)
		return r;
	/* each component of dir ("run/vfio-bind/released") */
	for (const char *p = dir;; p++) {
		if (*p != '/' && *p)
			continue;
		snprintf(path, sizeof(path), "%.*s", (int)(p - dir), dir);
		if (mkdirat(root->fd, path, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!*p)
			break;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, dev->name);
	fd = openat(root->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "ino=%llu\n%s\n", ino, text);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	r = write(fd, buf, n) == n ? 0 : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int vb_mark_get(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev,
		char *buf, size_t size)
{
	char path[160], text[320], *end;
	unsigned long long ino = 0, marked = 0;

	if (vb_path_join(path, sizeof(path), "%s/%s", dir, dev->name) < 0 ||
	    vb_read_file(root, path, text, sizeof(text)) < 0)
		return 0;
	if (strncmp(text, "ino=", 4) == 0) {
		errno = 0;
		marked = strtoull(text + 4, &end, 10);
		if (errno || (*end != '\n' && *end))
			marked = 0;
	}
	if (marked && device_instance(root, dev, &ino) == 0 && ino == marked) {
		const char *nl = strchr(text, '\n');

		vb_copy_str(buf, size, nl ? nl + 1 : "");
		return 1;
	}
	/* another device now sits at that address (or the mark is unreadable) */
	(void)unlinkat(root->fd, path, 0);
	return 0;
}

void vb_mark_clear(const struct vb_root *root, const char *dir, const struct vb_pci_dev *dev)
{
	char path[160];

	if (vb_path_join(path, sizeof(path), "%s/%s", dir, dev->name) == 0)
		(void)unlinkat(root->fd, path, 0);
}
