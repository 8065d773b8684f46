/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotplug.h"

/* The sysfs inode of the device's directory: kernfs gives every kernel
 * object its own, so it tells a re-added device from the one released. */
static int device_instance(const struct vb_root *root, const struct vb_pci_dev *dev, uint64_t *ino)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", dev->name);
	if (fstatat(root->fd, path, &st, 0) < 0)
		return -errno;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

static void mark_path(const struct vb_pci_dev *dev, char *buf, size_t size)
{
	snprintf(buf, size, VB_RELEASED_DIR "/%s", dev->name);
}

int vb_released_mark(const struct vb_root *root, const struct vb_pci_dev *dev)
{
	static const char *const dirs[] = {"run", "run/vfio-bind", VB_RELEASED_DIR};
	char path[128], buf[40];
	uint64_t ino = 0;
	int fd, n, r;

	r = device_instance(root, dev, &ino);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdirat(root->fd, dirs[i], 0755) < 0 && errno != EEXIST)
			return -errno;
	mark_path(dev, path, sizeof(path));
	fd = openat(root->fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "ino=%" PRIu64 "\n", ino);
	r = write(fd, buf, n) == n ? 0 : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

bool vb_released_is(const struct vb_root *root, const struct vb_pci_dev *dev)
{
	char path[128], buf[40], *end;
	uint64_t ino = 0, marked;

	mark_path(dev, path, sizeof(path));
	if (vb_read_file(root, path, buf, sizeof(buf)) < 0)
		return false;
	errno = 0;
	marked = strncmp(buf, "ino=", 4) == 0 ? strtoull(buf + 4, &end, 10) : 0;
	if (errno == 0 && marked && *end == 0 && device_instance(root, dev, &ino) == 0 &&
	    ino == marked)
		return true;
	/* another device now sits at that address (or the mark is unreadable) */
	(void)unlinkat(root->fd, path, 0);
	return false;
}

void vb_released_clear(const struct vb_root *root, const struct vb_pci_dev *dev)
{
	char path[128];

	mark_path(dev, path, sizeof(path));
	(void)unlinkat(root->fd, path, 0);
}

bool vb_plan_keep_device(struct vb_plan *plan, const struct vb_pci_dev *dev)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->items[i].dev != dev)
			continue;
		if (i)
			plan->items[0] = plan->items[i];
		plan->n = 1;
		return true;
	}
	plan->n = 0;
	return false;
}
