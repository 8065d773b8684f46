/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pci.h"
#include "util.h"

#define DEVICES_DIR "sys/bus/pci/devices"

/* Exactly `min..max` hex digits from s, stopping at a non-hex byte. Returns the
 * number of digits consumed or -EINVAL. */
static int parse_hex(const char *s, int min, int max, uint32_t *ret)
{
	uint32_t v = 0;
	int n = 0;

	while (n < max && vb_hexval(s[n]) >= 0) {
		v = v * 16 + vb_hexval(s[n]);
		n++;
	}
	if (n < min || vb_hexval(s[n]) >= 0)
		return -EINVAL;
	*ret = v;
	return n;
}

static int parse_bus_slot_func(const char *s, struct vb_pci_addr *a)
{
	uint32_t bus, slot, func;
	int n;

	n = parse_hex(s, 2, 2, &bus);
	if (n < 0 || s[n] != ':')
		return -EINVAL;
	s += n + 1;
	n = parse_hex(s, 2, 2, &slot);
	if (n < 0 || s[n] != '.' || slot > 0x1f)
		return -EINVAL;
	s += n + 1;
	n = parse_hex(s, 1, 1, &func);
	if (n < 0 || s[n] != 0 || func > 7)
		return -EINVAL;
	a->bus = bus;
	a->slot = slot;
	a->func = func;
	return 0;
}

int vb_pci_addr_parse(const char *s, struct vb_pci_addr *a)
{
	struct vb_pci_addr t;
	uint32_t dom;
	int n;

	/* The kernel prints %04x, so VMD domains (0x10000 and up) have more digits. */
	n = parse_hex(s, 4, 8, &dom);
	if (n < 0 || s[n] != ':')
		return -EINVAL;
	if (parse_bus_slot_func(s + n + 1, &t) < 0)
		return -EINVAL;
	t.domain = dom;
	*a = t;
	return 0;
}

int vb_pci_addr_parse_short(const char *s, struct vb_pci_addr *a)
{
	struct vb_pci_addr t = {0};

	if (vb_pci_addr_parse(s, a) == 0)
		return 0;
	if (parse_bus_slot_func(s, &t) < 0)
		return -EINVAL;
	*a = t;
	return 0;
}

void vb_pci_addr_format(const struct vb_pci_addr *a, char buf[VB_PCI_NAME_MAX])
{
	snprintf(buf, VB_PCI_NAME_MAX, "%04x:%02x:%02x.%x", (unsigned)a->domain, a->bus, a->slot,
		 a->func);
}

int vb_pci_addr_cmp(const struct vb_pci_addr *a, const struct vb_pci_addr *b)
{
	if (a->domain != b->domain)
		return a->domain < b->domain ? -1 : 1;
	if (a->bus != b->bus)
		return a->bus < b->bus ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->func != b->func)
		return a->func < b->func ? -1 : 1;
	return 0;
}

/* "10DE:2204" */
static int parse_id_pair(const char *s, uint16_t *v, uint16_t *d)
{
	uint32_t a, b;
	int n;

	n = parse_hex(s, 4, 4, &a);
	if (n < 0 || s[n] != ':')
		return -EINVAL;
	s += n + 1;
	n = parse_hex(s, 4, 4, &b);
	if (n < 0 || s[n] != 0)
		return -EINVAL;
	*v = a;
	*d = b;
	return 0;
}

/*
 * Fills identity and driver from a uevent buffer (NUL-terminated, modified).
 * Returns -EINVAL unless PCI_ID and PCI_CLASS were present.
 */
static int parse_uevent(char *buf, struct vb_pci_dev *d)
{
	bool have_id = false, have_class = false;
	char *line = buf;

	d->driver[0] = 0;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		uint32_t v;

		if (nl)
			*nl = 0;
		if (strncmp(line, "DRIVER=", 7) == 0) {
			vb_copy_str(d->driver, sizeof(d->driver), line + 7);
		} else if (strncmp(line, "PCI_ID=", 7) == 0) {
			have_id = parse_id_pair(line + 7, &d->vendor, &d->device) == 0;
		} else if (strncmp(line, "PCI_SUBSYS_ID=", 14) == 0) {
			if (parse_id_pair(line + 14, &d->subsys_vendor, &d->subsys_device) < 0)
				d->subsys_vendor = d->subsys_device = 0;
		} else if (strncmp(line, "PCI_CLASS=", 10) == 0) {
			int n = parse_hex(line + 10, 1, 6, &v);
			if (n > 0 && line[10 + n] == 0) {
				d->class = v;
				have_class = true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return have_id && have_class ? 0 : -EINVAL;
}

/* openat + one read + close: the whole budget of the scan for one device.
 * sysfs returns an attribute in one read; a uevent larger than the buffer
 * (never seen for PCI) is truncated, which loses only trailing keys. */
static int read_small_at(int dirfd, const char *relpath, char *buf, size_t size)
{
	ssize_t n;
	int fd, r;

	fd = openat(dirfd, relpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : (int)n;
	close(fd);
	if (r >= 0)
		buf[r] = 0;
	return r;
}

static int read_attr_u32(const struct vb_root *root, const char *name, const char *attr, int base,
			 uint32_t *ret)
{
	char buf[64], *end;
	unsigned long v;
	int r;

	r = vb_read_filef(root, buf, sizeof(buf), DEVICES_DIR "/%s/%s", name, attr);
	if (r < 0)
		return r;
	errno = 0;
	if (!buf[0] || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
		return -EINVAL;
	v = strtoul(buf, &end, base);
	if (errno || *end || v > 0xffffffffUL)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* A device whose uevent is unreadable: fall back to the single-value files. */
static int read_identity_files(const struct vb_root *root, struct vb_pci_dev *d)
{
	uint32_t v;

	if (read_attr_u32(root, d->name, "vendor", 16, &v) < 0 || v > 0xffff)
		return -EINVAL;
	d->vendor = v;
	if (read_attr_u32(root, d->name, "device", 16, &v) < 0 || v > 0xffff)
		return -EINVAL;
	d->device = v;
	if (read_attr_u32(root, d->name, "class", 16, &v) < 0 || v > 0xffffff)
		return -EINVAL;
	d->class = v;
	if (read_attr_u32(root, d->name, "subsystem_vendor", 16, &v) == 0 && v <= 0xffff)
		d->subsys_vendor = v;
	if (read_attr_u32(root, d->name, "subsystem_device", 16, &v) == 0 && v <= 0xffff)
		d->subsys_device = v;
	{
		char path[128], link[256];
		snprintf(path, sizeof(path), DEVICES_DIR "/%s/driver", d->name);
		if (vb_read_link(root, path, link, sizeof(link)) > 0) {
			const char *b = strrchr(link, '/');
			vb_copy_str(d->driver, sizeof(d->driver), b ? b + 1 : link);
		}
	}
	return 0;
}

static void dev_init(struct vb_pci_dev *d, const struct vb_pci_addr *a)
{
	memset(d, 0, sizeof(*d));
	d->addr = *a;
	vb_pci_addr_format(a, d->name);
	d->iommu_group = -1;
	d->boot_vga = -1;
	d->header_type = -1;
	d->sriov_numvfs = -1;
	d->vf_index = -1;
}

static int cmp_dev(const void *a, const void *b)
{
	return vb_pci_addr_cmp(&((const struct vb_pci_dev *)a)->addr,
			       &((const struct vb_pci_dev *)b)->addr);
}

/* Reads the identity of devs[0..n) from their uevent files in dirfd (the
 * bus's devices directory). A device whose uevent cannot be used is marked
 * (vendor and class left 0, ok false) for the slow path, which the caller
 * takes: it logs, and it runs in one thread only. */
struct scan_part {
	int dirfd;
	struct vb_pci_dev *devs;
	bool *ok;
	size_t n;
};

static void *scan_part_read(void *arg)
{
	struct scan_part *p = arg;

	for (size_t i = 0; i < p->n; i++) {
		struct vb_pci_dev *d = &p->devs[i];
		char path[VB_PCI_NAME_MAX + 8], buf[1024];

		memcpy(path, d->name, strlen(d->name));
		memcpy(path + strlen(d->name), "/uevent", sizeof("/uevent"));
		p->ok[i] = read_small_at(p->dirfd, path, buf, sizeof(buf)) >= 0 &&
			   parse_uevent(buf, d) == 0;
	}
	return NULL;
}

/* A directory entry that names a device: 1 and *d dev_init()ed, else 0. */
static int entry_device(const struct dirent *de, struct vb_pci_dev *d)
{
	struct vb_pci_addr a;

	if (de->d_name[0] == '.' || vb_pci_addr_parse(de->d_name, &a) < 0)
		return 0;
	dev_init(d, &a);
	/* The directory entry is authoritative; a name sysfs never prints
	 * (e.g. upper-case hex) is skipped rather than misread. */
	return strcmp(d->name, de->d_name) == 0;
}

#ifdef VB_SCAN_THREADS
/*
 * On a big machine the scan's time is the kernel's: the readdir of the
 * bus's devices directory, then one path walk per device, through the bus
 * symlink into sys/devices. The names are handed on in chunks as readdir
 * yields them, and other threads read the chunks' uevent files while the
 * readdir goes on; when it is done this thread reads what is left. The
 * other threads start only once VB_SCAN_PARALLEL_MIN names have come: on
 * a small machine a thread costs more than it saves. The early binder
 * (klibc has no threads) always reads in one.
 */
#include <pthread.h>
#include <sched.h>

#define VB_SCAN_PARALLEL_MIN 512
#define VB_SCAN_THREADS_MAX 4
#define VB_SCAN_CHUNK 256

struct scan_chunk {
	struct vb_pci_dev devs[VB_SCAN_CHUNK];
	bool ok[VB_SCAN_CHUNK];
	size_t n;
	struct scan_chunk *next;  /* every chunk, in directory order */
	struct scan_chunk *qnext; /* the queue of chunks not read yet */
};

struct scan_queue {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct scan_chunk *head, **tail;
	bool closed; /* the readdir is done: nothing more comes */
	int dirfd;
};

static void queue_push(struct scan_queue *q, struct scan_chunk *c)
{
	pthread_mutex_lock(&q->lock);
	c->qnext = NULL;
	*q->tail = c;
	q->tail = &c->qnext;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

static void queue_close(struct scan_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
}

/* The next chunk to read, NULL when the queue is closed and empty. */
static struct scan_chunk *queue_take(struct scan_queue *q)
{
	struct scan_chunk *c;

	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closed)
		pthread_cond_wait(&q->more, &q->lock);
	c = q->head;
	if (c) {
		q->head = c->qnext;
		if (!q->head)
			q->tail = &q->head;
	}
	pthread_mutex_unlock(&q->lock);
	return c;
}

static void *scan_worker(void *arg)
{
	struct scan_queue *q = arg;
	struct scan_chunk *c;

	while ((c = queue_take(q))) {
		struct scan_part p = {q->dirfd, c->devs, c->ok, c->n};

		scan_part_read(&p);
	}
	return NULL;
}

static unsigned scan_workers(void)
{
	cpu_set_t set;
	unsigned cpus = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = (unsigned)CPU_COUNT(&set);
	return (cpus < VB_SCAN_THREADS_MAX ? cpus : VB_SCAN_THREADS_MAX) - 1;
}

/* Reads the names of dir and their uevent files: *ret (n entries) and
 * *ret_ok (n flags, false: take the slow path), both malloc'ed. */
static int scan_read(DIR *dir, struct vb_pci_dev **ret, bool **ret_ok, size_t *ret_n)
{
	struct scan_queue q = {.tail = &q.head, .dirfd = dirfd(dir)};
	struct scan_chunk *all = NULL, **last = &all, *cur = NULL, *c;
	pthread_t tid[VB_SCAN_THREADS_MAX];
	unsigned workers = 0;
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.more, NULL);
	while ((de = readdir(dir))) {
		if (!cur) {
			cur = malloc(sizeof(*cur));
			if (!cur) {
				r = -ENOMEM;
				break;
			}
			cur->n = 0;
			cur->next = NULL;
		}
		if (!entry_device(de, &cur->devs[cur->n]))
			continue;
		n++;
		if (++cur->n < VB_SCAN_CHUNK)
			continue;
		*last = cur;
		last = &cur->next;
		queue_push(&q, cur);
		cur = NULL;
		if (n == VB_SCAN_PARALLEL_MIN)
			for (unsigned k = scan_workers(); workers < k; workers++)
				if (pthread_create(&tid[workers], NULL, scan_worker, &q) != 0)
					break;
	}
	if (cur && cur->n > 0) {
		*last = cur;
		last = &cur->next;
		queue_push(&q, cur);
	} else {
		free(cur);
	}
	/* what the other threads have not taken yet, here; an error above
	 * still reads it, so that they are done with the chunks when joined */
	queue_close(&q);
	scan_worker(&q);
	for (unsigned k = 0; k < workers; k++)
		pthread_join(tid[k], NULL);
	pthread_cond_destroy(&q.more);
	pthread_mutex_destroy(&q.lock);

	*ret = NULL;
	*ret_ok = NULL;
	if (r == 0) {
		*ret = malloc((n ? n : 1) * sizeof(**ret));
		*ret_ok = malloc((n ? n : 1) * sizeof(**ret_ok));
		if (!*ret || !*ret_ok)
			r = -ENOMEM;
	}
	n = 0;
	while ((c = all)) {
		if (r == 0) {
			memcpy(*ret + n, c->devs, c->n * sizeof(**ret));
			memcpy(*ret_ok + n, c->ok, c->n * sizeof(**ret_ok));
			n += c->n;
		}
		all = c->next;
		free(c);
	}
	if (r < 0) {
		free(*ret);
		free(*ret_ok);
		return r;
	}
	*ret_n = n;
	return 0;
}
#else
/* The directory's device names, each in a dev_init()ed entry. */
static int scan_names(DIR *dir, struct vb_pci_dev **ret, size_t *ret_n)
{
	struct vb_pci_dev *devs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	while ((de = readdir(dir))) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct vb_pci_dev *nd = realloc(devs, ncap * sizeof(*devs));

			if (!nd) {
				free(devs);
				return -ENOMEM;
			}
			devs = nd;
			cap = ncap;
		}
		n += entry_device(de, &devs[n]);
	}
	*ret = devs;
	*ret_n = n;
	return 0;
}

static int scan_read(DIR *dir, struct vb_pci_dev **ret, bool **ret_ok, size_t *ret_n)
{
	struct scan_part p = {dirfd(dir)};
	int r = scan_names(dir, &p.devs, &p.n);

	if (r < 0)
		return r;
	p.ok = calloc(p.n ? p.n : 1, sizeof(*p.ok));
	if (!p.ok) {
		free(p.devs);
		return -ENOMEM;
	}
	scan_part_read(&p);
	*ret = p.devs;
	*ret_ok = p.ok;
	*ret_n = p.n;
	return 0;
}
#endif

int vb_pci_scan(const struct vb_root *root, struct vb_pci_list *ret)
{
	struct vb_pci_dev *devs;
	size_t n, kept = 0;
	bool *ok;
	DIR *dir;
	int r;

	r = vb_opendir(root, DEVICES_DIR, &dir);
	if (r < 0)
		return r;
	r = scan_read(dir, &devs, &ok, &n);
	closedir(dir);
	if (r < 0)
		return r;

	for (size_t i = 0; i < n; i++) {
		/* unreadable uevent: slow path, still a device */
		if (!ok[i] && read_identity_files(root, &devs[i]) < 0) {
			log_debug("%s: no readable identity, skipped", devs[i].name);
			continue;
		}
		if (kept != i)
			devs[kept] = devs[i];
		kept++;
	}
	free(ok);

	if (kept > 1)
		qsort(devs, kept, sizeof(*devs), cmp_dev);
	ret->devs = devs;
	ret->n = kept;
	return 0;
}

void vb_pci_list_free(struct vb_pci_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->devs[i].physpath);
	free(list->devs);
	list->devs = NULL;
	list->n = 0;
}

struct vb_pci_dev *vb_pci_find(const struct vb_pci_list *list, const struct vb_pci_addr *a)
{
	size_t lo = 0, hi = list->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = vb_pci_addr_cmp(&list->devs[mid].addr, a);
		if (c == 0)
			return &list->devs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void dev_path(const struct vb_pci_dev *d, const char *attr, char *buf, size_t size)
{
	snprintf(buf, size, DEVICES_DIR "/%s%s%s", d->name, attr ? "/" : "", attr ? attr : "");
}

/* -ENODEV when the device directory itself is gone, 0 when only attr is. */
static int missing_attr(const struct vb_root *root, const struct vb_pci_dev *d)
{
	char path[128];

	dev_path(d, NULL, path, sizeof(path));
	return vb_exists(root, path) ? 0 : -ENODEV;
}

static int parse_uint_strict(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (max - (unsigned)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	*ret = v;
	return 0;
}

int vb_pci_load_group(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], link[256];
	unsigned long g;
	const char *base;
	int r;

	if (d->have & VB_PCI_HAVE_GROUP)
		return 0;
	dev_path(d, "iommu_group", path, sizeof(path));
	r = vb_read_link(root, path, link, sizeof(link));
	if (r == -ENOENT) {
		r = missing_attr(root, d);
		if (r < 0)
			return r;
		d->iommu_group = -1;
	} else if (r < 0) {
		return r;
	} else {
		base = strrchr(link, '/');
		base = base ? base + 1 : link;
		if (parse_uint_strict(base, 0x7fffffff, &g) < 0)
			return -EINVAL;
		d->iommu_group = (int)g;
	}
	d->have |= VB_PCI_HAVE_GROUP;
	return 0;
}

int vb_pci_load_boot_vga(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], buf[16];
	int r;

	if (d->have & VB_PCI_HAVE_BOOT_VGA)
		return 0;
	dev_path(d, "boot_vga", path, sizeof(path));
	r = vb_read_file(root, path, buf, sizeof(buf));
	if (r == -ENOENT) {
		r = missing_attr(root, d);
		if (r < 0)
			return r;
		d->boot_vga = -1;
	} else if (r < 0) {
		return r;
	} else if (strcmp(buf, "1") == 0) {
		d->boot_vga = 1;
	} else if (strcmp(buf, "0") == 0) {
		d->boot_vga = 0;
	} else {
		return -EINVAL;
	}
	d->have |= VB_PCI_HAVE_BOOT_VGA;
	return 0;
}

int vb_pci_load_override(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], buf[VB_DRIVER_MAX];
	int r;

	if (d->have & VB_PCI_HAVE_OVERRIDE)
		return 0;
	dev_path(d, "driver_override", path, sizeof(path));
	r = vb_read_file(root, path, buf, sizeof(buf));
	if (r == -ENOENT) {
		/* kernels before 3.16 have no driver_override */
		r = missing_attr(root, d);
		if (r < 0)
			return r;
		buf[0] = 0;
	} else if (r < 0) {
		return r;
	}
	if (strcmp(buf, "(null)") == 0)
		buf[0] = 0;
	vb_copy_str(d->override, sizeof(d->override), buf);
	d->have |= VB_PCI_HAVE_OVERRIDE;
	return 0;
}

int vb_pci_load_physpath(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], link[1024];
	const char *p;
	int r;

	if (d->have & VB_PCI_HAVE_PHYSPATH)
		return 0;
	dev_path(d, NULL, path, sizeof(path));
	r = vb_read_link(root, path, link, sizeof(link));
	if (r == -ENOENT)
		return -ENODEV;
	if (r < 0)
		return r;
	/* "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0" */
	p = strstr(link, "devices/");
	if (!p)
		return -EINVAL;
	p += 8;
	free(d->physpath);
	d->physpath = strdup(p);
	if (!d->physpath)
		return -ENOMEM;
	d->have |= VB_PCI_HAVE_PHYSPATH;
	return 0;
}

int vb_pci_load_header(const struct vb_root *root, struct vb_pci_dev *d)
{
	unsigned char cfg[0x10];
	char path[128];
	ssize_t n;
	int fd;

	if (d->have & VB_PCI_HAVE_HEADER)
		return 0;
	/*
	 * Linux keeps the class code and the header type consistent
	 * (pci_setup_device): header type 1 only with class 0604, 2 only with
	 * 0607, a mismatch has its class reset to 0000, and an unknown header
	 * type is not added at all. So a device of any other base class than
	 * 06 (and not 0000) has header type 0, and its config space need not
	 * be read: planning then costs two syscalls per device, not five.
	 */
	if ((d->class >> 16) != 0x06 && (d->class >> 8) != 0) {
		d->header_type = 0;
		d->have |= VB_PCI_HAVE_HEADER;
		return 0;
	}
	dev_path(d, "config", path, sizeof(path));
	fd = vb_open(root, path, O_RDONLY);
	if (fd < 0) {
		int r = missing_attr(root, d);
		if (r < 0)
			return r;
		n = -1;
	} else {
		n = read(fd, cfg, sizeof(cfg));
		close(fd);
	}
	if (n == (ssize_t)sizeof(cfg)) {
		d->header_type = cfg[0x0e] & 0x7f;
	} else {
		/* config space unreadable: the class code tells bridges apart */
		uint32_t base_sub = d->class >> 8;
		d->header_type = base_sub == 0x0604 || base_sub == 0x0609 ? 1
				 : base_sub == 0x0607                     ? 2
									  : 0;
	}
	d->have |= VB_PCI_HAVE_HEADER;
	return 0;
}

int vb_pci_load_sriov(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], buf[32];
	unsigned long v;
	int r;

	if (d->have & VB_PCI_HAVE_SRIOV)
		return 0;
	dev_path(d, "sriov_numvfs", path, sizeof(path));
	r = vb_read_file(root, path, buf, sizeof(buf));
	if (r == -ENOENT) {
		/* most devices have no SR-IOV: not worth an fstatat to tell a
		 * device that vanished (the other loads notice that) */
		d->sriov_numvfs = -1;
	} else if (r < 0) {
		return r;
	} else {
		r = parse_uint_strict(buf, 0xffff, &v);
		if (r < 0)
			return -EINVAL;
		d->sriov_numvfs = (int)v;
	}
	d->have |= VB_PCI_HAVE_SRIOV;
	return 0;
}

int vb_pci_virtfn(const struct vb_root *root, const char *pf, unsigned index,
		  char name[VB_PCI_NAME_MAX])
{
	char path[128], link[256];
	struct vb_pci_addr a;
	const char *base;
	int r;

	snprintf(path, sizeof(path), DEVICES_DIR "/%s/virtfn%u", pf, index);
	r = vb_read_link(root, path, link, sizeof(link));
	if (r < 0)
		return r;
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (vb_pci_addr_parse(base, &a) < 0)
		return -EINVAL;
	vb_pci_addr_format(&a, name);
	return 0;
}

/* Reads a small decimal PF attribute (sriov_offset, sriov_stride). */
static int read_pf_uint(const struct vb_root *root, const char *pf, const char *attr,
			unsigned long *ret)
{
	char path[128], buf[32];
	int r;

	snprintf(path, sizeof(path), DEVICES_DIR "/%s/%s", pf, attr);
	r = vb_read_file(root, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return parse_uint_strict(buf, 0xffff, ret);
}

int vb_pci_load_physfn(const struct vb_root *root, struct vb_pci_dev *d)
{
	char path[128], link[256], name[VB_PCI_NAME_MAX];
	unsigned long off, stride;
	struct vb_pci_addr pf;
	const char *base;
	int r;

	if (d->have & VB_PCI_HAVE_PHYSFN)
		return 0;
	dev_path(d, "physfn", path, sizeof(path));
	r = vb_read_link(root, path, link, sizeof(link));
	if (r == -ENOENT) {
		r = missing_attr(root, d);
		if (r < 0)
			return r;
		d->have |= VB_PCI_HAVE_PHYSFN;
		return 0;
	}
	if (r < 0)
		return r;
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (vb_pci_addr_parse(base, &pf) < 0)
		return -EINVAL;
	vb_pci_addr_format(&pf, d->pf);
	/* Routing ID of VF N = PF's + sriov_offset + N * sriov_stride (PCIe
	 * SR-IOV 3.3.9-10); the PF's virtfnN link confirms it. */
	if (read_pf_uint(root, d->pf, "sriov_offset", &off) == 0 &&
	    read_pf_uint(root, d->pf, "sriov_stride", &stride) == 0 && stride > 0) {
		long rid = ((long)d->addr.bus << 8 | d->addr.slot << 3 | d->addr.func) -
			   ((long)pf.bus << 8 | pf.slot << 3 | pf.func) - (long)off;

		if (rid >= 0 && rid % (long)stride == 0 &&
		    vb_pci_virtfn(root, d->pf, (unsigned)(rid / (long)stride), name) == 0 &&
		    strcmp(name, d->name) == 0)
			d->vf_index = (int)(rid / (long)stride);
	}
	for (unsigned i = 0; d->vf_index < 0 && i <= 0xffff; i++) {
		r = vb_pci_virtfn(root, d->pf, i, name);
		if (r == -ENOENT)
			break;
		if (r == 0 && strcmp(name, d->name) == 0)
			d->vf_index = (int)i;
	}
	d->have |= VB_PCI_HAVE_PHYSFN;
	return 0;
}

int vb_pci_load_all(const struct vb_root *root, struct vb_pci_dev *d)
{
	int r;

	if ((r = vb_pci_load_group(root, d)) < 0 || (r = vb_pci_load_boot_vga(root, d)) < 0 ||
	    (r = vb_pci_load_override(root, d)) < 0 || (r = vb_pci_load_physpath(root, d)) < 0 ||
	    (r = vb_pci_load_header(root, d)) < 0 || (r = vb_pci_load_sriov(root, d)) < 0)
		return r;
	return 0;
}

int vb_pci_refresh(const struct vb_root *root, struct vb_pci_dev *d)
{
	struct vb_pci_dev t;
	char path[128], buf[1024];
	int r;

	dev_path(d, "uevent", path, sizeof(path));
	r = read_small_at(root->fd, path, buf, sizeof(buf));
	dev_init(&t, &d->addr);
	if (r >= 0 && parse_uevent(buf, &t) == 0) {
		/* the common case */
	} else if (r < 0 && r != -ENOENT) {
		return r;
	} else {
		/* no (usable) uevent: gone, or a device the scan read the slow way */
		r = missing_attr(root, d);
		if (r < 0)
			return r;
		if (read_identity_files(root, &t) < 0)
			return -EINVAL;
	}
	free(d->physpath);
	*d = t;
	return 0;
}

/* "pciDDDD:BB" (a host bridge's directory), n bytes at s. */
static int parse_host_bridge(const char *s, size_t n, uint32_t *domain, uint32_t *bus)
{
	char tmp[24];
	int k;

	if (n < 3 || n >= sizeof(tmp) || (s[0] | 0x20) != 'p' || (s[1] | 0x20) != 'c' ||
	    (s[2] | 0x20) != 'i')
		return -EINVAL;
	memcpy(tmp, s + 3, n - 3);
	tmp[n - 3] = 0;
	k = parse_hex(tmp, 4, 8, domain);
	if (k < 0 || tmp[k] != ':')
		return -EINVAL;
	if (parse_hex(tmp + k + 1, 2, 2, bus) != 2 || tmp[k + 3] != 0)
		return -EINVAL;
	return 0;
}

/* Appends to buf at *o; -ENOBUFS when it does not fit. */
static int topo_append(char *buf, size_t size, size_t *o, const char *fmt, unsigned a, unsigned b,
		       unsigned c, unsigned d)
{
	int k;

	if (*o >= size)
		return -ENOBUFS;
	if (fmt[0] == 'D')
		k = snprintf(buf + *o, size - *o, "%04x:%02x:%02x.%x", a, b, c, d);
	else if (fmt[0] == 'B')
		k = snprintf(buf + *o, size - *o, "/%02x:%02x.%x", b, c, d);
	else
		k = snprintf(buf + *o, size - *o, "/%02x.%x", c, d);
	if (k < 0 || (size_t)k >= size - *o)
		return -ENOBUFS;
	*o += (size_t)k;
	return 0;
}

int vb_topology_from_physpath(const char *physpath, char *buf, size_t size)
{
	static const char prefix[] = "/sys/devices/";
	char out[VB_TOPOLOGY_MAX];
	uint32_t domain = 0, bus = 0;
	bool seen_root = false, need_root = false;
	const char *p = physpath;
	size_t o = 0, hops = 0;
	int r;

	if (!physpath || size == 0)
		return -EINVAL;
	if (strncmp(p, prefix, sizeof(prefix) - 1) == 0)
		p += sizeof(prefix) - 1;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		uint32_t hd, hb;

		if (n == 0) {
			/* a physical path from readlink has no "//"; one that
			 * does was not written by the kernel */
			return -EINVAL;
		}
		if (parse_host_bridge(p, n, &hd, &hb) == 0) {
			/* A host bridge right below another one, or one below a
			 * bridge's secondary bus, is not a PCI device tree. */
			if (need_root)
				return -EINVAL;
			domain = hd;
			bus = hb;
			seen_root = need_root = true;
		} else if (seen_root) {
			struct vb_pci_addr a;
			char tmp[VB_PCI_NAME_MAX + 8];

			if (n >= sizeof(tmp))
				return -EINVAL;
			memcpy(tmp, p, n);
			tmp[n] = 0;
			if (vb_pci_addr_parse(tmp, &a) < 0 || a.domain != domain)
				return -EINVAL;
			if (need_root && a.bus != bus)
				return -EINVAL;
			r = topo_append(out, sizeof(out), &o,
					hops == 0   ? "D"
					: need_root ? "B"
						    : "S",
					a.domain, a.bus, a.slot, a.func);
			if (r < 0)
				return r;
			need_root = false;
			hops++;
		}
		/* else: a platform device holding the host bridge, left out */
		p += n;
		if (*p == '/' && p[1] == 0)
			return -EINVAL;
		if (*p == '/')
			p++;
	}
	if (hops == 0 || need_root)
		return -EINVAL;
	if (o >= size)
		return -ENOBUFS;
	memcpy(buf, out, o + 1);
	return 0;
}

int vb_pci_topology(const struct vb_root *root, struct vb_pci_dev *d, char *buf, size_t size)
{
	int r;

	r = vb_pci_load_physpath(root, d);
	if (r < 0)
		return r;
	/* The bus link outlives the device directory for a moment on removal
	 * (and the path may be cached): a gone device has no topology. */
	r = missing_attr(root, d);
	if (r < 0)
		return r;
	return vb_topology_from_physpath(d->physpath, buf, size);
}

bool vb_pci_is_endpoint(const struct vb_pci_dev *d)
{
	/* Host bridges (0600) and ISA/LPC bridges (0601) have a normal header
	 * and vfio-pci would take them, but they are the host's chipset: giving
	 * one to a guest breaks the host. Every class 06 device is a bridge. */
	if ((d->class >> 16) == 0x06)
		return false;
	if (d->have & VB_PCI_HAVE_HEADER)
		return d->header_type == 0;
	return true;
}
