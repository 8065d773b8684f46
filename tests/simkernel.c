/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "simkernel.h"

#define PATH_MAX_SIM 1024
#define NAME_MAX_SIM 64
#define MAX_FAULTS 32
#define MAX_PROBE_FAULTS 8

/* ------------------------------------------------------------ shared state */

enum fault_kind { F_NONE, F_FAIL, F_SHORT, F_IGNORE, F_HANG };

struct fault {
	enum fault_kind kind;
	int err;
	int count; /* < 0: forever */
	char pattern[256];
};

struct sim_state {
	struct fault faults[MAX_FAULTS];
	bool vanish_armed;
	int vanish_left;
	char vanish_bdf[32];
	char module_fail[NAME_MAX_SIM];
	int module_err;
	struct {
		bool set;
		char driver[NAME_MAX_SIM];
		char bdf[32];
		int err;
	} probe_fail[MAX_PROBE_FAULTS];
};

/* Shared with the children vb_kernel_write() forks, so that a child consumes
 * a counted fault for its parent too. */
static struct sim_state *st;

static struct sim_state *state(void)
{
	if (!st) {
		void *p = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			abort();
		st = p;
		memset(st, 0, sizeof(*st));
	}
	return st;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

void simkernel_reset(void)
{
	memset(state(), 0, sizeof(*st));
}

static void add_fault(enum fault_kind kind, const char *pattern, int err, int count)
{
	struct sim_state *s = state();
	size_t i;

	for (i = 0; i < MAX_FAULTS; i++) {
		struct fault *f = &s->faults[i];

		if (f->kind != F_NONE && f->count != 0)
			continue;
		f->kind = kind;
		f->err = err < 0 ? err : -err;
		f->count = count;
		copy_str(f->pattern, sizeof(f->pattern), pattern);
		return;
	}
	ck_abort_msg("simkernel: too many faults");
}

void simkernel_fail(const char *pattern, int err, int count)
{
	add_fault(F_FAIL, pattern, err, count);
}

void simkernel_short_write(const char *pattern, int count)
{
	add_fault(F_SHORT, pattern, EIO, count);
}

void simkernel_ignore(const char *pattern, int count)
{
	add_fault(F_IGNORE, pattern, 0, count);
}

void simkernel_hang(const char *pattern)
{
	add_fault(F_HANG, pattern, 0, -1);
}

void simkernel_vanish(const char *bdf, int after_n_writes)
{
	struct sim_state *s = state();

	copy_str(s->vanish_bdf, sizeof(s->vanish_bdf), bdf);
	s->vanish_left = after_n_writes;
	s->vanish_armed = true;
}

static void norm_module(char *dst, size_t size, const char *src)
{
	size_t i;

	copy_str(dst, size, src);
	for (i = 0; dst[i]; i++)
		if (dst[i] == '-')
			dst[i] = '_';
}

void simkernel_module_fails(const char *name, int err)
{
	struct sim_state *s = state();

	norm_module(s->module_fail, sizeof(s->module_fail), name);
	s->module_err = err < 0 ? err : -err;
}

void simkernel_probe_fails(const char *driver, const char *bdf, int err)
{
	struct sim_state *s = state();
	size_t i;

	for (i = 0; i < MAX_PROBE_FAULTS; i++) {
		if (s->probe_fail[i].set)
			continue;
		s->probe_fail[i].set = true;
		copy_str(s->probe_fail[i].driver, sizeof(s->probe_fail[i].driver), driver);
		copy_str(s->probe_fail[i].bdf, sizeof(s->probe_fail[i].bdf), bdf ? bdf : "");
		s->probe_fail[i].err = err < 0 ? err : -err;
		return;
	}
	ck_abort_msg("simkernel: too many probe faults");
}

/* "SUFFIX" matches path when equal to it or preceded by '/'. */
static bool suffix_match(const char *suffix, size_t slen, const char *path)
{
	size_t plen;

	if (slen == 0)
		return true;
	plen = strlen(path);
	if (plen < slen || memcmp(path + plen - slen, suffix, slen) != 0)
		return false;
	return plen == slen || path[plen - slen - 1] == '/';
}

/* value equal to want, ignoring one trailing newline of either */
static bool value_equal(const char *value, const char *want)
{
	size_t n = strlen(value), w = strlen(want);

	if (n > 0 && value[n - 1] == '\n')
		n--;
	if (w > 0 && want[w - 1] == '\n')
		w--;
	return n == w && memcmp(value, want, n) == 0;
}

static bool pattern_match(const char *pattern, const char *path, const char *canon,
			  const char *value)
{
	const char *eq = strchr(pattern, '=');
	size_t slen = eq ? (size_t)(eq - pattern) : strlen(pattern);

	if (!suffix_match(pattern, slen, path) && !(canon && suffix_match(pattern, slen, canon)))
		return false;
	return !eq || value_equal(value, eq + 1);
}

static struct fault *take_fault(const char *path, const char *canon, const char *value)
{
	struct sim_state *s = state();
	size_t i;

	for (i = 0; i < MAX_FAULTS; i++) {
		struct fault *f = &s->faults[i];

		if (f->kind == F_NONE || f->count == 0)
			continue;
		if (!pattern_match(f->pattern, path, canon, value))
			continue;
		if (f->count > 0)
			f->count--;
		return f;
	}
	return NULL;
}

/* ------------------------------------------------------------ tree helpers */

static int read_str(const struct vb_root *root, const char *rel, char *buf, size_t size)
{
	return vb_read_file(root, rel, buf, size);
}

static int write_file(const struct vb_root *root, const char *rel, const char *data, size_t len)
{
	int fd, r = 0;

	fd = openat(root->fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		r = -EIO;
	close(fd);
	return r;
}

static int write_str(const struct vb_root *root, const char *rel, const char *s)
{
	return write_file(root, rel, s, strlen(s));
}

static int mkdir_p(const struct vb_root *root, const char *rel)
{
	char buf[PATH_MAX_SIM];
	char *p;

	copy_str(buf, sizeof(buf), rel);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdirat(root->fd, buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdirat(root->fd, buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Joins base (root-relative dir) and a relative target, resolving "." and
 * "..". */
static int norm_join(const char *base, const char *rel, char *out, size_t size)
{
	char tmp[2 * PATH_MAX_SIM];
	char *comp[128], *save = NULL, *tok;
	size_t n = 0, i, len = 0;

	if (rel[0] == '/')
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s/%s", base, rel);
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (n == 0)
				return -EINVAL;
			n--;
			continue;
		}
		if (n == 128)
			return -ENAMETOOLONG;
		comp[n++] = tok;
	}
	out[0] = 0;
	for (i = 0; i < n; i++) {
		int w = snprintf(out + len, size - len, "%s%s", i ? "/" : "", comp[i]);
		if (w < 0 || (size_t)w >= size - len)
			return -ENAMETOOLONG;
		len += w;
	}
	return 0;
}

/* Relative symlink target from directory `from` to `to` (both root-relative). */
static void rel_target(const char *from, const char *to, char *out, size_t size)
{
	size_t common = 0, i = 0, len = 0;

	/* longest common prefix ending at a component boundary */
	for (;;) {
		if ((from[i] == '/' || from[i] == 0) && (to[i] == '/' || to[i] == 0))
			common = i;
		if (!from[i] || !to[i] || from[i] != to[i])
			break;
		i++;
	}
	out[0] = 0;
	for (i = common; from[i]; i++)
		if (from[i] == '/' || i == common)
			len += snprintf(out + len, size - len, "../");
	if (from[common] == 0)
		len = 0; /* `to` is below `from` */
	snprintf(out + len, size - len, "%s", to[common] == '/' ? to + common + 1 : to + common);
}

static int make_link(const struct vb_root *root, const char *linkrel, const char *to)
{
	char dir[PATH_MAX_SIM], target[PATH_MAX_SIM];
	char *slash;

	copy_str(dir, sizeof(dir), linkrel);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		dir[0] = 0;
	rel_target(dir, to, target, sizeof(target));
	(void)unlinkat(root->fd, linkrel, 0);
	return symlinkat(target, root->fd, linkrel) < 0 ? -errno : 0;
}

static bool is_bdf(const char *s)
{
	static const char pat[] = "hhhh:hh:hh.h";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (i = 0; pat[i]; i++) {
		if (pat[i] == 'h') {
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
				return false;
		} else if (s[i] != pat[i]) {
			return false;
		}
	}
	return true;
}

/* Names of the entries of a root-relative directory; free with free_names. */
static int list_dir(const struct vb_root *root, const char *rel, char ***ret, size_t *n_ret)
{
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	fd = openat(root->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(dir))) {
		char **nv;

		if (de->d_name[0] == '.')
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			abort();
		v = nv;
		v[n] = strdup(de->d_name);
		if (!v[n])
			abort();
		n++;
	}
	closedir(dir);
	*ret = v;
	*n_ret = n;
	return 0;
}

static void free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------ devices */

struct sdev {
	char bdf[32];
	char dir[PATH_MAX_SIM]; /* root-relative device directory */
	char driver[NAME_MAX_SIM];
	char override[NAME_MAX_SIM];
	unsigned vendor, device, cls;
};

static unsigned read_hex(const struct vb_root *root, const char *dir, const char *attr)
{
	char path[PATH_MAX_SIM + 32], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	if (read_str(root, path, buf, sizeof(buf)) < 0)
		return 0;
	return (unsigned)strtoul(buf, NULL, 16);
}

static int sdev_get(const struct vb_root *root, const char *bdf, struct sdev *d)
{
	char path[PATH_MAX_SIM + 32], link[PATH_MAX_SIM];
	const char *b;
	int r;

	memset(d, 0, sizeof(*d));
	if (!is_bdf(bdf))
		return -ENODEV;
	copy_str(d->bdf, sizeof(d->bdf), bdf);
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", bdf);
	r = vb_read_link(root, path, link, sizeof(link));
	if (r < 0)
		return -ENODEV;
	if (norm_join("sys/bus/pci/devices", link, d->dir, sizeof(d->dir)) < 0 ||
	    !vb_exists(root, d->dir))
		return -ENODEV;

	snprintf(path, sizeof(path), "%s/driver", d->dir);
	if (vb_read_link(root, path, link, sizeof(link)) > 0) {
		b = strrchr(link, '/');
		copy_str(d->driver, sizeof(d->driver), b ? b + 1 : link);
	}
	snprintf(path, sizeof(path), "%s/driver_override", d->dir);
	if (read_str(root, path, d->override, sizeof(d->override)) < 0 ||
	    strcmp(d->override, "(null)") == 0)
		d->override[0] = 0;
	d->vendor = read_hex(root, d->dir, "vendor");
	d->device = read_hex(root, d->dir, "device");
	d->cls = read_hex(root, d->dir, "class");
	return 0;
}

/* Rewrites uevent with DRIVER=name first (name NULL: no DRIVER line). */
static void uevent_set_driver(const struct vb_root *root, const char *dir, const char *name)
{
	char path[PATH_MAX_SIM + 32], out[4096];
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/uevent", dir);
	if (vb_read_all(root, path, 1 << 20, &buf, NULL) < 0)
		return;
	if (name)
		len += snprintf(out + len, sizeof(out) - len, "DRIVER=%s\n", name);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "DRIVER=", 7) == 0)
			continue;
		if (len < sizeof(out))
			len += snprintf(out + len, sizeof(out) - len, "%s\n", line);
	}
	free(buf);
	if (len > sizeof(out))
		len = sizeof(out);
	(void)write_file(root, path, out, len);
}

static void attach(const struct vb_root *root, const char *driver, const struct sdev *d)
{
	char link[PATH_MAX_SIM + 64], ddir[PATH_MAX_SIM];

	snprintf(ddir, sizeof(ddir), "sys/bus/pci/drivers/%s", driver);
	snprintf(link, sizeof(link), "%s/driver", d->dir);
	(void)make_link(root, link, ddir);
	snprintf(link, sizeof(link), "%s/%s", ddir, d->bdf);
	(void)make_link(root, link, d->dir);
	uevent_set_driver(root, d->dir, driver);
	snprintf(link, sizeof(link), "%s/enable", d->dir);
	(void)write_str(root, link, "1\n");
}

static void detach(const struct vb_root *root, const struct sdev *d)
{
	char link[PATH_MAX_SIM + 64];

	if (!d->driver[0])
		return;
	snprintf(link, sizeof(link), "sys/bus/pci/drivers/%s/%s", d->driver, d->bdf);
	(void)unlinkat(root->fd, link, 0);
	snprintf(link, sizeof(link), "%s/driver", d->dir);
	(void)unlinkat(root->fd, link, 0);
	uevent_set_driver(root, d->dir, NULL);
	snprintf(link, sizeof(link), "%s/enable", d->dir);
	(void)write_str(root, link, "0\n");
}

int simkernel_remove_device(const struct vb_root *root, const char *bdf)
{
	char path[PATH_MAX_SIM + 64], link[PATH_MAX_SIM];
	struct sdev d;
	char **names;
	size_t n, i;
	int r;

	r = sdev_get(root, bdf, &d);
	if (r < 0)
		return r;

	/* VFs go first (the PF disables SR-IOV), then devices behind a bridge */
	if (list_dir(root, d.dir, &names, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (strncmp(names[i], "virtfn", 6) == 0) {
				const char *b;
				snprintf(path, sizeof(path), "%s/%s", d.dir, names[i]);
				if (vb_read_link(root, path, link, sizeof(link)) > 0) {
					b = strrchr(link, '/');
					(void)simkernel_remove_device(root, b ? b + 1 : link);
				}
				(void)unlinkat(root->fd, path, 0);
			} else if (is_bdf(names[i])) {
				(void)simkernel_remove_device(root, names[i]);
			}
		}
		free_names(names, n);
	}

	detach(root, &d);
	snprintf(path, sizeof(path), "%s/iommu_group", d.dir);
	if (vb_read_link(root, path, link, sizeof(link)) > 0) {
		const char *g = strrchr(link, '/');
		snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%s/devices/%s",
			 g ? g + 1 : link, d.bdf);
		(void)unlinkat(root->fd, path, 0);
	}
	/* a VF: drop the PF's virtfnN link */
	snprintf(path, sizeof(path), "%s/physfn", d.dir);
	if (vb_read_link(root, path, link, sizeof(link)) > 0) {
		char pf[PATH_MAX_SIM];

		if (norm_join(d.dir, link, pf, sizeof(pf)) == 0 &&
		    list_dir(root, pf, &names, &n) == 0) {
			for (i = 0; i < n; i++) {
				char t[PATH_MAX_SIM];
				const char *b;

				if (strncmp(names[i], "virtfn", 6) != 0)
					continue;
				snprintf(path, sizeof(path), "%s/%s", pf, names[i]);
				if (vb_read_link(root, path, t, sizeof(t)) <= 0)
					continue;
				b = strrchr(t, '/');
				if (strcmp(b ? b + 1 : t, d.bdf) == 0)
					(void)unlinkat(root->fd, path, 0);
			}
			free_names(names, n);
		}
	}
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", d.bdf);
	(void)unlinkat(root->fd, path, 0);
	return fixture_rm_rf_at(root->fd, d.dir);
}

/* ------------------------------------------------------------ drivers */

enum { DRV_BUILTIN, DRV_LOADED, DRV_MODULE };

struct sid {
	int vendor, device; /* device -1: any */
	unsigned cls, cls_digits;
};

struct sdrv {
	char name[NAME_MAX_SIM], module[NAME_MAX_SIM];
	int state;
	struct sid ids[32];
	size_t n_ids;
	struct {
		unsigned cls, digits;
	} classes[16];
	size_t n_classes;
	bool override_only;
};

static int parse_class_prefix(const char *s, unsigned *cls, unsigned *digits)
{
	size_t n = strlen(s);

	if (n != 2 && n != 4 && n != 6)
		return -EINVAL;
	*cls = (unsigned)strtoul(s, NULL, 16);
	*digits = n;
	return 0;
}

static void parse_driver_line(char *line, struct sdrv *d)
{
	char *save = NULL, *tok;

	memset(d, 0, sizeof(*d));
	tok = strtok_r(line, " \t", &save);
	copy_str(d->name, sizeof(d->name), tok);
	norm_module(d->module, sizeof(d->module), tok);
	d->state = DRV_LOADED;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *save2 = NULL, *item;

		if (strncmp(tok, "state=", 6) == 0) {
			d->state = strcmp(tok + 6, "builtin") == 0  ? DRV_BUILTIN
				   : strcmp(tok + 6, "module") == 0 ? DRV_MODULE
								    : DRV_LOADED;
		} else if (strncmp(tok, "module=", 7) == 0) {
			norm_module(d->module, sizeof(d->module), tok + 7);
		} else if (strncmp(tok, "ids=", 4) == 0) {
			for (item = strtok_r(tok + 4, ",", &save2); item && d->n_ids < 32;
			     item = strtok_r(NULL, ",", &save2)) {
				struct sid *id = &d->ids[d->n_ids++];
				char *c;

				id->vendor = (int)strtoul(item, &c, 16);
				id->device = c[1] == '*' ? -1 : (int)strtoul(c + 1, &c, 16);
				if (id->device == -1)
					c += 2;
				if (*c == ':')
					parse_class_prefix(c + 1, &id->cls, &id->cls_digits);
			}
		} else if (strncmp(tok, "class=", 6) == 0) {
			for (item = strtok_r(tok + 6, ",", &save2); item && d->n_classes < 16;
			     item = strtok_r(NULL, ",", &save2)) {
				if (parse_class_prefix(item, &d->classes[d->n_classes].cls,
						       &d->classes[d->n_classes].digits) == 0)
					d->n_classes++;
			}
		} else if (strcmp(tok, "override-only") == 0) {
			d->override_only = true;
		}
	}
}

static int drivers_load(const struct vb_root *root, struct sdrv **ret, size_t *n_ret)
{
	char *buf, *line, *save = NULL;
	struct sdrv *v = NULL;
	size_t n = 0;
	int r;

	r = vb_read_all(root, ".simkernel/drivers", 1 << 20, &buf, NULL);
	if (r < 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sdrv *nv;

		if (line[0] == '#' || line[0] == 0)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			abort();
		v = nv;
		parse_driver_line(line, &v[n++]);
	}
	free(buf);
	*ret = v;
	*n_ret = n;
	return 0;
}

static bool registered(const struct vb_root *root, const char *name)
{
	char path[NAME_MAX_SIM + 32];

	snprintf(path, sizeof(path), "sys/bus/pci/drivers/%s", name);
	return vb_exists(root, path);
}

static bool class_prefix_match(unsigned cls, unsigned prefix, unsigned digits)
{
	return digits && (cls >> (24 - 4 * digits)) == prefix;
}

/* pci_match_device() */
static bool drv_match(const struct sdrv *drv, const struct sdev *d)
{
	size_t i;

	if (d->override[0])
		return strcmp(d->override, drv->name) == 0; /* then any device matches */
	if (drv->override_only)
		return false;
	for (i = 0; i < drv->n_ids; i++) {
		const struct sid *id = &drv->ids[i];

		if ((unsigned)id->vendor == d->vendor &&
		    (id->device < 0 || (unsigned)id->device == d->device) &&
		    (!id->cls_digits || class_prefix_match(d->cls, id->cls, id->cls_digits)))
			return true;
	}
	for (i = 0; i < drv->n_classes; i++)
		if (class_prefix_match(d->cls, drv->classes[i].cls, drv->classes[i].digits))
			return true;
	return false;
}

/* pci_device_probe() + the driver's probe */
static int drv_probe(const struct vb_root *root, const struct sdrv *drv, const struct sdev *d)
{
	char path[PATH_MAX_SIM + 64], link[PATH_MAX_SIM], buf[32];
	struct sim_state *s = state();
	size_t i;

	for (i = 0; i < MAX_PROBE_FAULTS; i++)
		if (s->probe_fail[i].set && strcmp(s->probe_fail[i].driver, drv->name) == 0 &&
		    (!s->probe_fail[i].bdf[0] || strcmp(s->probe_fail[i].bdf, d->bdf) == 0))
			return s->probe_fail[i].err;

	/* a VF probes only with an override or when its PF autoprobes VFs */
	snprintf(path, sizeof(path), "%s/physfn", d->dir);
	if (!d->override[0] && vb_read_link(root, path, link, sizeof(link)) > 0) {
		char pf[PATH_MAX_SIM];

		if (norm_join(d->dir, link, pf, sizeof(pf)) == 0) {
			snprintf(path, sizeof(path), "%s/sriov_drivers_autoprobe", pf);
			if (read_str(root, path, buf, sizeof(buf)) >= 0 && strcmp(buf, "0") == 0)
				return -ENODEV;
		}
	}

	if (strcmp(drv->name, "vfio-pci") == 0) {
		unsigned char cfg[16];
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "%s/config", d->dir);
		fd = openat(root->fd, path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, cfg, sizeof(cfg)) : -1;
		if (fd >= 0)
			close(fd);
		if (n != (ssize_t)sizeof(cfg) || (cfg[0x0e] & 0x7f) != 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "%s/sriov_numvfs", d->dir);
		if (read_str(root, path, buf, sizeof(buf)) > 0 && strtoul(buf, NULL, 10) > 0)
			return -EBUSY;
		snprintf(path, sizeof(path), "%s/iommu_group", d->dir);
		if (!vb_exists(root, path))
			return -EINVAL;
	}
	return 0;
}

/* device_attach(): the first registered driver that matches and probes */
static void device_attach(const struct vb_root *root, const struct sdrv *drvs, size_t n,
			  const struct sdev *d)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!registered(root, drvs[i].name) || !drv_match(&drvs[i], d))
			continue;
		if (drv_probe(root, &drvs[i], d) == 0) {
			attach(root, drvs[i].name, d);
			return;
		}
	}
}

static const struct sdrv *find_drv(const struct sdrv *drvs, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(drvs[i].name, name) == 0)
			return &drvs[i];
	return NULL;
}

/* driver_register() + driver_attach() */
static void register_driver(const struct vb_root *root, const struct sdrv *drv)
{
	static const char *const files[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
	char ddir[NAME_MAX_SIM + 32], mdir[NAME_MAX_SIM + 32], path[256];
	char **names;
	size_t i, n;

	snprintf(ddir, sizeof(ddir), "sys/bus/pci/drivers/%s", drv->name);
	snprintf(mdir, sizeof(mdir), "sys/module/%s", drv->module);
	(void)mkdir_p(root, ddir);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", ddir, files[i]);
		(void)write_str(root, path, "");
	}
	snprintf(path, sizeof(path), "%s/parameters", mdir);
	(void)mkdir_p(root, path);
	snprintf(path, sizeof(path), "%s/drivers", mdir);
	(void)mkdir_p(root, path);
	snprintf(path, sizeof(path), "%s/initstate", mdir);
	(void)write_str(root, path, "live\n");
	snprintf(path, sizeof(path), "%s/refcnt", mdir);
	(void)write_str(root, path, "0\n");
	snprintf(path, sizeof(path), "%s/drivers/pci:%s", mdir, drv->name);
	(void)make_link(root, path, ddir);
	snprintf(path, sizeof(path), "%s/module", ddir);
	(void)make_link(root, path, mdir);

	if (list_dir(root, "sys/bus/pci/devices", &names, &n) < 0)
		return;
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		struct sdev d;

		if (sdev_get(root, names[i], &d) < 0 || d.driver[0] || !drv_match(drv, &d))
			continue;
		if (drv_probe(root, drv, &d) == 0)
			attach(root, drv->name, &d);
	}
	free_names(names, n);
}

/* ------------------------------------------------------------ stores */

/* sysfs_streq: the value names a device, one trailing newline allowed */
static void value_name(const char *value, char *out, size_t size)
{
	size_t n = strlen(value);

	if (n > 0 && value[n - 1] == '\n')
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, value, n);
	out[n] = 0;
}

static int store_bind(const struct vb_root *root, const char *driver, const char *value)
{
	char bdf[64];
	struct sdrv *drvs;
	const struct sdrv *drv;
	struct sdev d;
	size_t n;
	int r;

	value_name(value, bdf, sizeof(bdf));
	if (sdev_get(root, bdf, &d) < 0)
		return -ENODEV;
	r = drivers_load(root, &drvs, &n);
	if (r < 0)
		return r;
	drv = find_drv(drvs, n, driver);
	if (!drv || !drv_match(drv, &d))
		r = -ENODEV;
	else if (d.driver[0])
		r = -EBUSY;
	else
		r = drv_probe(root, drv, &d);
	if (r == 0)
		attach(root, driver, &d);
	free(drvs);
	return r;
}

static int store_unbind(const struct vb_root *root, const char *driver, const char *value)
{
	char bdf[64];
	struct sdev d;

	value_name(value, bdf, sizeof(bdf));
	if (sdev_get(root, bdf, &d) < 0 || strcmp(d.driver, driver) != 0)
		return -ENODEV;
	detach(root, &d);
	return 0;
}

static int store_drivers_probe(const struct vb_root *root, const char *value)
{
	char bdf[64];
	struct sdrv *drvs;
	struct sdev d;
	size_t n;
	int r;

	value_name(value, bdf, sizeof(bdf));
	if (sdev_get(root, bdf, &d) < 0)
		return -ENODEV;
	if (d.driver[0])
		return 0;
	r = drivers_load(root, &drvs, &n);
	if (r < 0)
		return r;
	device_attach(root, drvs, n, &d);
	free(drvs);
	return 0; /* even when nothing attached */
}

/* driver_set_override() */
static int store_override(const struct vb_root *root, const char *path, const char *value,
			  size_t len)
{
	char out[4200];
	const char *nl;
	size_t n;

	if (len >= 4095)
		return -EINVAL;
	n = strlen(value); /* stops at a NUL, like the kernel */
	nl = memchr(value, '\n', n);
	if (nl)
		n = nl - value;
	if (n == 0)
		return write_str(root, path, "(null)\n");
	snprintf(out, sizeof(out), "%.*s\n", (int)n, value);
	return write_str(root, path, out);
}

static int parse_bool(const char *v, bool *ret)
{
	switch (v[0]) {
	case '1':
	case 'y':
	case 'Y':
		*ret = true;
		return 0;
	case '0':
	case 'n':
	case 'N':
		*ret = false;
		return 0;
	case 'o':
	case 'O':
		if (v[1] == 'n' || v[1] == 'N') {
			*ret = true;
			return 0;
		}
		if (v[1] == 'f' || v[1] == 'F') {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int store_numvfs(const struct vb_root *root, const struct sdev *d, const char *path,
			const char *value)
{
	char buf[32], name[32], link[PATH_MAX_SIM], p[PATH_MAX_SIM + 64];
	unsigned long want, cur, total;
	char *end, **names;
	size_t n, i;

	value_name(value, name, sizeof(name));
	want = strtoul(name, &end, 0);
	if (!name[0] || *end || want > 0xffff)
		return -EINVAL;
	if (read_str(root, path, buf, sizeof(buf)) < 0)
		return -EIO;
	cur = strtoul(buf, NULL, 10);
	if (want == cur)
		return 0;
	if (want == 0) {
		if (list_dir(root, d->dir, &names, &n) == 0) {
			for (i = 0; i < n; i++) {
				const char *b;

				if (strncmp(names[i], "virtfn", 6) != 0)
					continue;
				snprintf(p, sizeof(p), "%s/%s", d->dir, names[i]);
				if (vb_read_link(root, p, link, sizeof(link)) > 0) {
					b = strrchr(link, '/');
					(void)simkernel_remove_device(root, b ? b + 1 : link);
				}
				(void)unlinkat(root->fd, p, 0);
			}
			free_names(names, n);
		}
		return write_str(root, path, "0\n");
	}
	if (cur != 0)
		return -EBUSY;
	snprintf(p, sizeof(p), "%s/sriov_totalvfs", d->dir);
	if (read_str(root, p, buf, sizeof(buf)) < 0)
		return -EIO;
	total = strtoul(buf, NULL, 10);
	if (want > total)
		return -ERANGE;
	return -EOPNOTSUPP; /* creating VFs is not simulated */
}

/* Real directory of rel (root-relative, symlinks resolved); "" for the root. */
static int canon_dir(const struct vb_root *root, const char *reldir, char *out, size_t size)
{
	char proc[64], rootabs[PATH_MAX_SIM], abs[PATH_MAX_SIM];
	ssize_t n, m;
	int fd;

	fd = openat(root->fd, reldir[0] ? reldir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, abs, sizeof(abs) - 1);
	close(fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", root->fd);
	m = readlink(proc, rootabs, sizeof(rootabs) - 1);
	if (n < 0 || m < 0)
		return -errno;
	abs[n] = 0;
	rootabs[m] = 0;
	if (strncmp(abs, rootabs, m) != 0 || (abs[m] != '/' && abs[m] != 0))
		return -EXDEV; /* outside the root */
	copy_str(out, size, abs[m] ? abs + m + 1 : "");
	return 0;
}

static int split_path(const char *relpath, char *dir, size_t dsize, char *base, size_t bsize)
{
	const char *slash = strrchr(relpath, '/');

	if (slash) {
		if ((size_t)(slash - relpath) >= dsize)
			return -ENAMETOOLONG;
		memcpy(dir, relpath, slash - relpath);
		dir[slash - relpath] = 0;
		copy_str(base, bsize, slash + 1);
	} else {
		dir[0] = 0;
		copy_str(base, bsize, relpath);
	}
	return 0;
}

/* Applies one store, as the kernel would. canon: the resolved path or "". */
static int dispatch(const struct vb_root *root, const char *canon, const char *value, size_t len)
{
	char cdir[PATH_MAX_SIM], base[256];
	const char *leaf;
	struct stat stt;
	int r;

	if (!canon[0])
		return -ENOENT;
	r = split_path(canon, cdir, sizeof(cdir), base, sizeof(base));
	if (r < 0)
		return r;
	if (fstatat(root->fd, canon, &stt, 0) < 0)
		return -errno;
	if (S_ISDIR(stt.st_mode))
		return -EISDIR;
	if (len == 0)
		return 0; /* write(2) of zero bytes never reaches a sysfs store */

	if (strcmp(cdir, "sys/bus/pci") == 0 && strcmp(base, "drivers_probe") == 0)
		return store_drivers_probe(root, value);

	if (strncmp(cdir, "sys/bus/pci/drivers/", 20) == 0 && !strchr(cdir + 20, '/')) {
		if (strcmp(base, "bind") == 0)
			return store_bind(root, cdir + 20, value);
		if (strcmp(base, "unbind") == 0)
			return store_unbind(root, cdir + 20, value);
	}

	leaf = strrchr(cdir, '/');
	leaf = leaf ? leaf + 1 : cdir;
	if (strncmp(cdir, "sys/devices/", 12) == 0 && is_bdf(leaf)) {
		struct sdev d;

		if (sdev_get(root, leaf, &d) < 0)
			return -ENODEV;
		if (strcmp(base, "driver_override") == 0)
			return store_override(root, canon, value, len);
		if (strcmp(base, "sriov_numvfs") == 0)
			return store_numvfs(root, &d, canon, value);
		if (strcmp(base, "sriov_drivers_autoprobe") == 0) {
			bool b;
			if (parse_bool(value, &b) < 0)
				return -EINVAL;
			return write_str(root, canon, b ? "1\n" : "0\n");
		}
		if (strcmp(base, "remove") == 0) {
			bool b;
			if (parse_bool(value, &b) < 0)
				return -EINVAL;
			return b ? simkernel_remove_device(root, leaf) : 0;
		}
		if (strcmp(base, "rescan") == 0 || strcmp(base, "reset") == 0)
			return 0;
	}
	return write_file(root, canon, value, len);
}

/* ------------------------------------------------------------ the log */

static void escape(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0, i;

	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = s[i];

		if (c == '\\')
			o += snprintf(out + o, size - o, "\\\\");
		else if (c == '\n')
			o += snprintf(out + o, size - o, "\\n");
		else if (c == '\t')
			o += snprintf(out + o, size - o, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			o += snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = 0;
}

static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		abort();
	while (*s) {
		if (*s != '\\' || !s[1]) {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n':
			*o++ = '\n';
			s++;
			break;
		case 't':
			*o++ = '\t';
			s++;
			break;
		case 'x': {
			char hex[3] = {s[1], s[1] ? s[2] : 0, 0};
			*o++ = (char)strtoul(hex, NULL, 16);
			s += s[1] && s[2] ? 3 : 1;
			break;
		}
		default:
			*o++ = *s++;
		}
	}
	*o = 0;
	return out;
}

static void log_write(const struct vb_root *root, const char *path, const char *value, size_t len,
		      int result)
{
	char line[3 * 4096], epath[2048], evalue[4096 * 2];
	int fd, n;

	escape(path, strlen(path), epath, sizeof(epath));
	escape(value, len, evalue, sizeof(evalue));
	n = snprintf(line, sizeof(line), "%d\t%s\t%s\t%d\n", result, epath, evalue, (int)getpid());
	fd = openat(root->fd, ".simkernel/writes", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, n);
	close(fd);
}

void simkernel_log_read(const char *root, struct simkernel_log *log)
{
	char *buf = NULL, *line, *save = NULL;
	char path[4096];

	memset(log, 0, sizeof(*log));
	snprintf(path, sizeof(path), "%s", ".simkernel/writes");
	buf = fixture_read(root, path);
	if (!buf)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t1 = strchr(line, '\t'), *t2, *t3;
		struct simkernel_write *w;

		if (!t1)
			continue;
		t2 = strchr(t1 + 1, '\t');
		if (!t2)
			continue;
		t3 = strchr(t2 + 1, '\t');
		if (!t3)
			continue;
		*t1 = *t2 = *t3 = 0;
		log->v = realloc(log->v, (log->n + 1) * sizeof(*log->v));
		ck_assert_msg(log->v, "out of memory");
		w = &log->v[log->n++];
		w->result = atoi(line);
		w->path = unescape(t1 + 1);
		w->value = unescape(t2 + 1);
		w->pid = atoi(t3 + 1);
	}
	free(buf);
}

void simkernel_log_free(struct simkernel_log *log)
{
	size_t i;

	for (i = 0; i < log->n; i++) {
		free(log->v[i].path);
		free(log->v[i].value);
	}
	free(log->v);
	log->v = NULL;
	log->n = 0;
}

void simkernel_log_clear(const char *root)
{
	fixture_write(root, ".simkernel/writes", "");
}

static bool entry_match(const struct simkernel_write *w, const char *suffix, const char *value)
{
	return suffix_match(suffix, strlen(suffix), w->path) &&
	       (!value || value_equal(w->value, value));
}

long simkernel_log_find(const struct simkernel_log *log, size_t from, const char *suffix,
			const char *value)
{
	size_t i;

	for (i = from; i < log->n; i++)
		if (entry_match(&log->v[i], suffix, value))
			return (long)i;
	return -1;
}

long simkernel_log_find_last(const struct simkernel_log *log, const char *suffix, const char *value)
{
	size_t i;

	for (i = log->n; i > 0; i--)
		if (entry_match(&log->v[i - 1], suffix, value))
			return (long)(i - 1);
	return -1;
}

size_t simkernel_log_count(const struct simkernel_log *log, const char *suffix, const char *value)
{
	size_t i, n = 0;

	for (i = 0; i < log->n; i++)
		if (entry_match(&log->v[i], suffix, value))
			n++;
	return n;
}

size_t simkernel_log_count_pids(const struct simkernel_log *log, const char *suffix,
				const char *value)
{
	size_t i, j, n = 0;

	for (i = 0; i < log->n; i++) {
		if (!entry_match(&log->v[i], suffix, value))
			continue;
		for (j = 0; j < i; j++)
			if (log->v[j].pid == log->v[i].pid &&
			    entry_match(&log->v[j], suffix, value))
				break;
		n += j == i;
	}
	return n;
}

void simkernel_log_dump(const struct simkernel_log *log)
{
	size_t i;

	for (i = 0; i < log->n; i++) {
		char v[512];

		escape(log->v[i].value, strlen(log->v[i].value), v, sizeof(v));
		fprintf(stderr, "  [%zu] %s <- \"%s\" = %d\n", i, log->v[i].path, v,
			log->v[i].result);
	}
}

/* ------------------------------------------------------------ the ops */

static int sim_write(const struct vb_root *root, const char *relpath, const char *buf, size_t len)
{
	char value[4200], dir[PATH_MAX_SIM], base[256], canon[PATH_MAX_SIM + 256];
	struct sim_state *s = state();
	struct fault *f;
	size_t vlen = len < sizeof(value) - 1 ? len : sizeof(value) - 1;
	int r;

	if (root->is_host)
		abort(); /* never the real /sys */

	memcpy(value, buf, vlen);
	value[vlen] = 0;

	if (s->vanish_armed) {
		if (s->vanish_left <= 0) {
			s->vanish_armed = false;
			(void)simkernel_remove_device(root, s->vanish_bdf);
		} else {
			s->vanish_left--;
		}
	}

	/* resolve the path as open(2) would: the directory must exist */
	canon[0] = 0;
	if (split_path(relpath, dir, sizeof(dir), base, sizeof(base)) == 0 &&
	    canon_dir(root, dir, canon, PATH_MAX_SIM) == 0) {
		size_t n = strlen(canon);
		snprintf(canon + n, sizeof(canon) - n, "%s%s", n ? "/" : "", base);
	} else {
		canon[0] = 0;
	}

	f = take_fault(relpath, canon[0] ? canon : NULL, value);
	if (f && f->kind == F_FAIL) {
		r = f->err;
	} else if (f && f->kind == F_IGNORE) {
		r = canon[0] ? 0 : -ENOENT;
	} else if (f && f->kind == F_HANG) {
		log_write(root, relpath, value, vlen, SIMKERNEL_HUNG);
		for (;;)
			pause();
	} else if (f && f->kind == F_SHORT) {
		char half[sizeof(value)];

		memcpy(half, value, vlen / 2);
		half[vlen / 2] = 0;
		(void)dispatch(root, canon, half, vlen / 2);
		r = -EIO;
	} else {
		r = dispatch(root, canon, value, vlen);
	}
	log_write(root, relpath, value, vlen, r);
	return r;
}

static int sim_load_module(const struct vb_root *root, const char *name)
{
	char want[NAME_MAX_SIM], n1[NAME_MAX_SIM];
	struct sim_state *s = state();
	struct sdrv *drvs;
	size_t n, i;
	bool found = false;
	int r;

	if (root->is_host)
		abort(); /* never the running kernel */
	norm_module(want, sizeof(want), name);
	if (s->module_fail[0] && strcmp(s->module_fail, want) == 0) {
		r = s->module_err;
	} else {
		r = drivers_load(root, &drvs, &n);
		if (r == 0) {
			for (i = 0; i < n; i++) {
				norm_module(n1, sizeof(n1), drvs[i].name);
				if (strcmp(drvs[i].module, want) != 0 && strcmp(n1, want) != 0)
					continue;
				found = true;
				if (drvs[i].state == DRV_MODULE && !registered(root, drvs[i].name))
					register_driver(root, &drvs[i]);
			}
			free(drvs);
			r = found ? 0 : -ENOENT;
		}
	}
	log_write(root, "@load_module", name, strlen(name), r);
	return r;
}

static const struct vb_kernel_ops sim_ops = {
	.write = sim_write,
	.load_module = sim_load_module,
};

const struct vb_kernel_ops *simkernel_ops(void)
{
	(void)state(); /* map the shared state before any fork */
	return &sim_ops;
}

void simkernel_open(struct vb_root *root, const char *dir)
{
	int r = vb_root_open(root, dir);

	ck_assert_msg(r == 0, "vb_root_open(%s): %s", dir, strerror(-r));
	ck_assert_msg(!root->is_host, "refusing to simulate the kernel on the real root");
	simkernel_reset();
	root->ops = simkernel_ops();
}
