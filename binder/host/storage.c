/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which PCI devices hold the host's storage (see storage.h). Everything is
 * read root-relative: the scan runs the same on "/" and on a fake tree.
 */
#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "cmdline.h"
#include "job.h"
#include "storage.h"
#include "util.h"

#define PATH_SIZE 4096
#define MAX_DEPTH 16       /* dm over dm over md over partitions... */
#define MAX_VISITS 4096    /* sysfs nodes per walk, against crafted trees */
#define MAX_PCI_ON_PATH 16 /* PCI components on one device path */
#define MAX_LINKS 8        /* symlinks followed for a /dev path */
#define MOUNTINFO_MAX (16u * 1024 * 1024)
#define SMALL_FILE_MAX (1024u * 1024)

#define SWAP_MOUNTPOINT "[swap]"

/* A block device that libblkid may probe (one with a PCI device on its way). */
struct cand {
	char *name; /* "sda1" (sysfs spelling: '!' for '/') */
	char *path; /* "sys/devices/.../block/sda/sda1" */
	bool whole; /* no "partition" attribute */
	bool probed;
	bool readable; /* opened and probed (whatever was found) */
	char *type, *label, *uuid;
	struct cand_part {
		int partno;
		char *uuid, *name;
	} * parts;
	size_t n_parts;
};

/* A ZFS pool that a mount or root=ZFS= names. */
struct pool {
	char *name;
	char *mountpoint;
	bool is_root;
	char *root_what; /* what named it as the root, for messages: "root=ZFS=rpool/x" */
	bool found;      /* a member reached a PCI device */
};

/* What the root sources ("/" in mountinfo, root=) resolved to so far. */
struct root_res {
	bool found;      /* one reached a PCI device */
	bool not_block;  /* one is on no block device (nfs, tmpfs...) */
	bool unresolved; /* one should be on a block device and was not traced */
	char why[256];   /* the unresolved ones, "; " between */
};

struct scan {
	const struct vb_root *root;
	char *root_dir; /* realpath of a root other than "/": its mount is the root fs */
	struct vb_storage *st;
	unsigned visits; /* of the current walk */
	int err;         /* sticky -ENOMEM */
	struct cand *cands;
	size_t n_cands;
	bool cands_loaded;
	struct pool *pools;
	size_t n_pools;
	struct root_res rr;
};

/* What the block device being walked serves. */
struct ctx {
	const char *blockdev;
	const char *mountpoint;
	const char *fstype;
	bool is_root;
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Lexically joins a root-relative directory and a symlink's text into a
 * normalised root-relative path ("sys/dev/block" + "../../devices/x" ->
 * "sys/devices/x"). Absolute link text is taken relative to the root. Sysfs
 * links never cross other symlinks on the way, so no lookup is needed. */
static int path_resolve(const char *dir, const char *link, char *out, size_t size)
{
	char tmp[2 * PATH_SIZE + 2];
	size_t len = 0;
	char *save = NULL, *tok;
	int r;

	if (link[0] == '/')
		r = vb_path_join(tmp, sizeof(tmp), "%s", link);
	else
		r = vb_path_join(tmp, sizeof(tmp), "%s/%s", dir, link);
	if (r < 0)
		return r;
	if (size == 0)
		return -ENAMETOOLONG;
	out[0] = 0;
	for (tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		size_t tl = strlen(tok);

		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash;

			if (len == 0)
				return -EINVAL; /* leaves the root */
			slash = strrchr(out, '/');
			len = slash ? (size_t)(slash - out) : 0;
			out[len] = 0;
			continue;
		}
		if (len + (len ? 1 : 0) + tl + 1 > size)
			return -ENAMETOOLONG;
		if (len)
			out[len++] = '/';
		memcpy(out + len, tok, tl + 1);
		len += tl;
	}
	return len ? 0 : -EINVAL;
}

/* Reads the symlink relpath (root-relative) and resolves it against its own
 * directory. */
static int link_resolve(const struct vb_root *root, const char *relpath, char *out, size_t size)
{
	char link[PATH_SIZE], dir[PATH_SIZE];
	const char *slash;
	int r;

	r = vb_read_link(root, relpath, link, sizeof(link));
	if (r < 0)
		return r;
	slash = strrchr(relpath, '/');
	if (slash) {
		if ((size_t)(slash - relpath) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, relpath, slash - relpath);
		dir[slash - relpath] = 0;
	} else {
		dir[0] = 0;
	}
	return path_resolve(dir, link, out, size);
}

/* The PCI addresses among the components of path, in order. */
static size_t path_pci(const char *path, struct vb_pci_addr *out, size_t max)
{
	size_t n = 0;

	while (*path && n < max) {
		const char *end = strchrnul(path, '/');
		size_t len = end - path;
		char comp[32];

		if (len > 0 && len < sizeof(comp)) {
			memcpy(comp, path, len);
			comp[len] = 0;
			if (vb_pci_addr_parse(comp, &out[n]) == 0)
				n++;
		}
		path = *end ? end + 1 : end;
	}
	return n;
}

static char *xstrdup(struct scan *s, const char *str)
{
	char *d = strdup(str ? str : "");
	if (!d)
		s->err = -ENOMEM;
	return d;
}

static void use_free(struct vb_storage_use *u)
{
	free(u->blockdev);
	free(u->leaf);
	free(u->mountpoint);
	free(u->fstype);
}

static void add_use(struct scan *s, const struct ctx *c, const struct vb_pci_addr *pci,
		    const struct vb_pci_addr *controller, const char *leaf)
{
	struct vb_storage *st = s->st;
	struct vb_storage_use *u, *nv;
	char name[VB_PCI_NAME_MAX];

	for (size_t i = 0; i < st->n; i++) {
		u = &st->v[i];
		if (vb_pci_addr_cmp(&u->pci, pci) != 0 || strcmp(u->blockdev, c->blockdev) != 0)
			continue;
		if (c->is_root && !u->is_root) {
			/* the same device mounted elsewhere first: it is the root */
			char *mp = strdup(c->mountpoint), *fs = strdup(c->fstype ? c->fstype : "");

			if (!mp || !fs) {
				free(mp);
				free(fs);
				s->err = -ENOMEM;
				return;
			}
			free(u->mountpoint);
			free(u->fstype);
			u->mountpoint = mp;
			u->fstype = fs;
			u->is_root = true;
		} else if (!u->fstype[0] && c->fstype && c->fstype[0]) {
			char *fs = strdup(c->fstype);

			if (!fs) {
				s->err = -ENOMEM;
				return;
			}
			free(u->fstype);
			u->fstype = fs;
		}
		return;
	}

	nv = realloc(st->v, (st->n + 1) * sizeof(*st->v));
	if (!nv) {
		s->err = -ENOMEM;
		return;
	}
	st->v = nv;
	u = &st->v[st->n];
	memset(u, 0, sizeof(*u));
	u->pci = *pci;
	u->controller = *controller;
	u->is_root = c->is_root;
	u->blockdev = xstrdup(s, c->blockdev);
	u->leaf = xstrdup(s, leaf);
	u->mountpoint = xstrdup(s, c->mountpoint);
	u->fstype = xstrdup(s, c->fstype);
	if (!u->blockdev || !u->leaf || !u->mountpoint || !u->fstype) {
		use_free(u);
		return;
	}
	st->n++;
	if (vb_log_get_max_priority() >= VB_LOG_DEBUG) {
		char what[512];

		vb_pci_addr_format(pci, name);
		vb_storage_use_describe(u, what, sizeof(what));
		log_debug("storage: %s serves %s", name, what);
	}
}

static void collect(struct scan *s, const struct ctx *c, const char *devpath, const char *leaf,
		    unsigned depth, bool *found);

/* Native NVMe multipath: the namespace head lives under
 * devices/virtual/nvme-subsystem/nvme-subsysN, whose nvmeM entries link to
 * the controllers (one per path). */
static bool collect_nvme_subsys(struct scan *s, const struct ctx *c, const char *devpath,
				unsigned depth, bool *found)
{
	const char *p = strstr(devpath, "/nvme-subsystem/");
	char dir[PATH_SIZE];
	struct dirent *de;
	size_t len;
	DIR *d;

	if (!p)
		return false;
	p += strlen("/nvme-subsystem/");
	len = (size_t)(strchrnul(p, '/') - devpath);
	if (len >= sizeof(dir))
		return false;
	memcpy(dir, devpath, len);
	dir[len] = 0;

	if (vb_opendir(s->root, dir, &d) < 0)
		return false;
	while ((de = readdir(d))) {
		char rel[PATH_SIZE], target[PATH_SIZE];
		const char *q = de->d_name;

		/* controllers are "nvme" + digits; namespaces (nvme0n1) are not */
		if (strncmp(q, "nvme", 4) != 0 || !q[4])
			continue;
		for (q += 4; isdigit((unsigned char)*q); q++)
			;
		if (*q)
			continue;
		if (vb_path_join(rel, sizeof(rel), "%s/%s", dir, de->d_name) < 0 ||
		    link_resolve(s->root, rel, target, sizeof(target)) < 0)
			continue;
		collect(s, c, target, base_name(devpath), depth + 1, found);
	}
	closedir(d);
	return true;
}

/*
 * Walks the block device at devpath (root-relative sysfs directory) down to
 * PCI: the PCI components of its own path, else its slaves (a partition's
 * slaves are its disk's). With c == NULL only reports through *found
 * whether any PCI device was reached.
 */
static void collect(struct scan *s, const struct ctx *c, const char *devpath, const char *leaf,
		    unsigned depth, bool *found)
{
	struct vb_pci_addr pci[MAX_PCI_ON_PATH];
	char dir[PATH_SIZE];
	struct dirent *de;
	size_t n;
	DIR *d;

	if (s->err)
		return;
	if (depth > MAX_DEPTH || ++s->visits > MAX_VISITS) {
		log_debug("storage: %s: too deep or too many devices, not followed", devpath);
		return;
	}
	n = path_pci(devpath, pci, MAX_PCI_ON_PATH);
	if (n > 0) {
		if (found)
			*found = true;
		if (c)
			for (size_t i = 0; i < n; i++)
				add_use(s, c, &pci[i], &pci[n - 1],
					leaf ? leaf : base_name(devpath));
		return;
	}
	if (collect_nvme_subsys(s, c, devpath, depth, found))
		return;

	if (vb_path_join(dir, sizeof(dir), "%s/slaves", devpath) < 0)
		return;
	if (!vb_exists(s->root, dir)) {
		char part[PATH_SIZE];
		const char *slash = strrchr(devpath, '/');

		/* md0p1, dm partitions: the slaves are the whole device's */
		if (!slash || vb_path_join(part, sizeof(part), "%s/partition", devpath) < 0 ||
		    !vb_exists(s->root, part))
			return;
		if (vb_path_join(dir, sizeof(dir), "%.*s/slaves", (int)(slash - devpath), devpath) <
		    0)
			return;
	}
	if (vb_opendir(s->root, dir, &d) < 0)
		return;
	while ((de = readdir(d))) {
		char rel[PATH_SIZE], target[PATH_SIZE];

		if (de->d_name[0] == '.')
			continue;
		if (vb_path_join(rel, sizeof(rel), "%s/%s", dir, de->d_name) < 0 ||
		    link_resolve(s->root, rel, target, sizeof(target)) < 0) {
			log_debug("storage: cannot follow %s", dir);
			continue;
		}
		collect(s, c, target, NULL, depth + 1, found);
	}
	closedir(d);
}

/* sys/dev/block/MAJ:MIN -> its sysfs directory. */
static int devnum_path(const struct vb_root *root, unsigned maj, unsigned min, char *out,
		       size_t size)
{
	char rel[64];
	int r = vb_path_join(rel, sizeof(rel), "sys/dev/block/%u:%u", maj, min);

	return r < 0 ? r : link_resolve(root, rel, out, size);
}

/* sys/class/block/NAME -> its sysfs directory. */
static int name_path(const struct vb_root *root, const char *name, char *out, size_t size)
{
	char rel[PATH_SIZE];

	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (vb_path_join(rel, sizeof(rel), "sys/class/block/%s", name) < 0)
		return -ENAMETOOLONG;
	return link_resolve(root, rel, out, size);
}

/* The dm device whose dm/name is `name` (/dev/mapper/NAME). */
static int dm_name_path(const struct vb_root *root, const char *name, char *out, size_t size)
{
	struct dirent *de;
	int r = -ENOENT;
	DIR *d;

	if (vb_opendir(root, "sys/class/block", &d) < 0)
		return -errno;
	while ((de = readdir(d))) {
		char buf[256];

		if (strncmp(de->d_name, "dm-", 3) != 0)
			continue;
		if (vb_read_filef(root, buf, sizeof(buf), "sys/class/block/%s/dm/name",
				  de->d_name) >= 0 &&
		    strcmp(buf, name) == 0) {
			r = name_path(root, de->d_name, out, size);
			break;
		}
	}
	closedir(d);
	return r;
}

/*
 * A /dev path as a mount source or swap area names it, to the device's
 * sysfs directory: a block node gives its number; symlinks (dev/mapper/x,
 * dev/disk/by-uuid/x) are followed under the root; what is left is mapped
 * by name (dev/NAME -> sys/class/block/NAME, dev/mapper/NAME by dm/name,
 * dev/cciss/c0d0 -> cciss!c0d0). A fake root has no device nodes.
 */
static int devnode_path(const struct vb_root *root, const char *node, char *out, size_t size)
{
	char rel[PATH_SIZE], name[PATH_SIZE];
	struct stat st;

	if (strncmp(node, "/dev/", 5) != 0 || strlen(node) >= sizeof(rel))
		return -EINVAL;
	if (path_resolve("", node, rel, sizeof(rel)) < 0)
		return -EINVAL;
	for (int i = 0; i <= MAX_LINKS; i++) {
		char next[PATH_SIZE];

		if (vb_stat(root, rel, &st, false) < 0)
			break;
		if (S_ISBLK(st.st_mode))
			return devnum_path(root, major(st.st_rdev), minor(st.st_rdev), out, size);
		if (!S_ISLNK(st.st_mode) || link_resolve(root, rel, next, sizeof(next)) < 0)
			break;
		strcpy(rel, next);
	}
	if (strncmp(rel, "dev/", 4) != 0)
		return -ENOENT;
	if (strncmp(rel, "dev/mapper/", 11) == 0 && dm_name_path(root, rel + 11, out, size) == 0)
		return 0;
	strcpy(name, rel + 4);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '!';
	return name_path(root, name, out, size);
}

/* Decodes the octal escapes (\040) the kernel writes in mountinfo and swaps. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
}

/* Walks devpath for c; true when a PCI device was reached. */
static bool walk(struct scan *s, const struct ctx *c, const char *devpath)
{
	bool found = false;

	s->visits = 0;
	collect(s, c, devpath, NULL, 0, &found);
	return found;
}

/* Records a root source that should be on a block device and was not
 * traced to PCI: what it was and which lookups failed. */
static void __attribute__((format(printf, 2, 3)))
root_unresolved(struct scan *s, const char *fmt, ...)
{
	struct root_res *rr = &s->rr;
	size_t len = strlen(rr->why), wl;
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("storage: root not traced: %s", what);
	rr->unresolved = true;
	/* the first source's text is kept whole as far as it fits */
	if (len + 3 >= sizeof(rr->why))
		return;
	if (len) {
		memcpy(rr->why + len, "; ", 2);
		len += 2;
	}
	wl = strlen(what);
	if (wl > sizeof(rr->why) - 1 - len)
		wl = sizeof(rr->why) - 1 - len;
	memcpy(rr->why + len, what, wl);
	rr->why[len + wl] = 0;
}

static void add_pool(struct scan *s, const char *dataset, const char *mountpoint, bool is_root,
		     const char *root_what)
{
	size_t len = strcspn(dataset, "/");
	struct pool *np, *p = NULL;

	if (len == 0)
		return;
	for (size_t i = 0; i < s->n_pools; i++)
		if (strlen(s->pools[i].name) == len && strncmp(s->pools[i].name, dataset, len) == 0)
			p = &s->pools[i];
	if (!p) {
		np = realloc(s->pools, (s->n_pools + 1) * sizeof(*np));
		if (!np) {
			s->err = -ENOMEM;
			return;
		}
		s->pools = np;
		p = &s->pools[s->n_pools];
		memset(p, 0, sizeof(*p));
		p->name = strndup(dataset, len);
		p->mountpoint = strdup(mountpoint);
		p->is_root = is_root;
		p->root_what = is_root ? strdup(root_what) : NULL;
		if (!p->name || !p->mountpoint || (is_root && !p->root_what)) {
			free(p->name);
			free(p->mountpoint);
			free(p->root_what);
			s->err = -ENOMEM;
			return;
		}
		s->n_pools++;
		return;
	}
	if (is_root && !p->is_root) {
		char *mp = strdup(mountpoint), *what = strdup(root_what);

		if (!mp || !what) {
			free(mp);
			free(what);
			s->err = -ENOMEM;
			return;
		}
		free(p->mountpoint);
		p->mountpoint = mp;
		p->root_what = what;
		p->is_root = true;
	}
}

/* btrfs spans devices: sys/fs/btrfs/UUID/devices/ lists them all. Walks
 * every member of the filesystem that has `name` among its devices; *found
 * is set when one reached a PCI device. */
static bool walk_btrfs(struct scan *s, const struct ctx *c, const char *name, bool *found)
{
	struct dirent *de;
	bool done = false;
	DIR *d;

	if (vb_opendir(s->root, "sys/fs/btrfs", &d) < 0)
		return false;
	while (!done && (de = readdir(d))) {
		char dir[PATH_SIZE], rel[PATH_SIZE];
		struct dirent *me;
		DIR *md;

		if (de->d_name[0] == '.')
			continue;
		if (vb_path_join(dir, sizeof(dir), "sys/fs/btrfs/%s/devices", de->d_name) < 0 ||
		    vb_path_join(rel, sizeof(rel), "%s/%s", dir, name) < 0 ||
		    !vb_exists(s->root, rel))
			continue;
		if (vb_opendir(s->root, dir, &md) < 0)
			continue;
		while ((me = readdir(md))) {
			char target[PATH_SIZE];
			struct ctx mc = *c;

			if (me->d_name[0] == '.' ||
			    vb_path_join(rel, sizeof(rel), "%s/%s", dir, me->d_name) < 0 ||
			    link_resolve(s->root, rel, target, sizeof(target)) < 0)
				continue;
			mc.blockdev = me->d_name;
			if (walk(s, &mc, target))
				*found = true;
		}
		closedir(md);
		done = true;
	}
	closedir(d);
	return done;
}

/* Filesystems that live on no block device: a root on one of them has no
 * controller to protect. Anything else without a block device (overlay,
 * fuse, an unknown type) leaves the root unknown. */
static bool fs_not_block(const char *fstype)
{
	static const char *const names[] = {
		"nfs", "nfs4", "cifs", "smb3", "9p", "virtiofs", "ceph", "tmpfs", "ramfs", "rootfs",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(fstype, names[i]) == 0)
			return true;
	return false;
}

static int scan_mounts(struct scan *s)
{
	char *buf, *line, *save = NULL;
	int r;

	r = vb_read_all(s->root, "proc/self/mountinfo", MOUNTINFO_MAX, &buf, NULL);
	if (r < 0) {
		log_debug("storage: cannot read proc/self/mountinfo: %s", vb_strerror(r));
		return r;
	}
	for (line = strtok_r(buf, "\n", &save); line && !s->err;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[64], *fstype, *source, *mountpoint, devpath[PATH_SIZE];
		size_t n = vb_split_words(line, f, 64), sep;
		unsigned maj, min;
		bool found = false;
		char tail;
		struct ctx c;

		/* id parent MAJ:MIN root mountpoint options [optional...] - fstype source super */
		for (sep = 6; sep < n && strcmp(f[sep], "-") != 0; sep++)
			;
		if (n < 7 || sep + 2 >= n || sscanf(f[2], "%u:%u%c", &maj, &min, &tail) != 2) {
			log_debug("storage: malformed mountinfo line skipped");
			continue;
		}
		mountpoint = f[4];
		fstype = f[sep + 1];
		source = f[sep + 2];
		unescape(mountpoint);
		unescape(source);
		c.fstype = fstype;
		/* mountinfo is the reading process's view: seen from outside a
		 * chroot, the chroot's file systems are mounted under its directory */
		if (s->root_dir) {
			size_t rl = strlen(s->root_dir);

			if (strcmp(mountpoint, s->root_dir) == 0)
				mountpoint = "/";
			else if (strncmp(mountpoint, s->root_dir, rl) == 0 && mountpoint[rl] == '/')
				mountpoint += rl;
		}
		c.mountpoint = mountpoint;
		c.is_root = strcmp(mountpoint, "/") == 0;

		if (strcmp(fstype, "zfs") == 0) {
			char what[256];

			snprintf(what, sizeof(what), "/ (zfs %s)", source);
			add_pool(s, source, mountpoint, c.is_root, what);
			continue;
		}
		if (maj != 0)
			r = devnum_path(s->root, maj, min, devpath, sizeof(devpath));
		else if (strncmp(source, "/dev/", 5) == 0)
			/* btrfs (anonymous device numbers) and the like */
			r = devnode_path(s->root, source, devpath, sizeof(devpath));
		else {
			/* tmpfs, proc, overlay, nfs... */
			if (!c.is_root)
				continue;
			if (fs_not_block(fstype)) {
				log_debug("storage: / is %s (%s): on no block device", fstype,
					  source);
				s->rr.not_block = true;
			} else {
				root_unresolved(s, "/ (%s %s): no block device to trace", fstype,
						source);
			}
			continue;
		}
		if (r < 0) {
			log_debug("storage: %s (%s on %u:%u): no block device: %s", mountpoint,
				  source, maj, min, vb_strerror(r));
			if (c.is_root)
				root_unresolved(s,
						"/ (%s %s on %u:%u): no such block device in sys",
						fstype, source, maj, min);
			continue;
		}
		c.blockdev = base_name(devpath);
		if (strcmp(fstype, "btrfs") == 0 && walk_btrfs(s, &c, c.blockdev, &found)) {
			/* found: set by the walk */
		} else {
			found = walk(s, &c, devpath);
		}
		if (c.is_root && found)
			s->rr.found = true;
		else if (c.is_root)
			root_unresolved(s, "/ (%s %s): no PCI device under %s", fstype, source,
					c.blockdev);
	}
	free(buf);
	return 0;
}

static int scan_swaps(struct scan *s)
{
	char *buf, *line, *save = NULL;
	int r;

	r = vb_read_all(s->root, "proc/swaps", SMALL_FILE_MAX, &buf, NULL);
	if (r < 0) {
		log_debug("storage: cannot read proc/swaps: %s", vb_strerror(r));
		return r;
	}
	for (line = strtok_r(buf, "\n", &save); line && !s->err;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[8], devpath[PATH_SIZE];
		struct ctx c = {.mountpoint = SWAP_MOUNTPOINT, .fstype = "swap"};

		if (vb_split_words(line, f, 8) < 2 || strcmp(f[0], "Filename") == 0)
			continue;
		unescape(f[0]);
		if (strcmp(f[1], "file") == 0) {
			/* the filesystem holding it is a mount already */
			log_debug("storage: swap file %s: covered by its filesystem", f[0]);
			continue;
		}
		r = devnode_path(s->root, f[0], devpath, sizeof(devpath));
		if (r < 0) {
			log_debug("storage: swap %s: no block device: %s", f[0], vb_strerror(r));
			continue;
		}
		c.blockdev = base_name(devpath);
		walk(s, &c, devpath);
	}
	free(buf);
	return 0;
}

/* --- libblkid --- */

static void cand_free(struct cand *c)
{
	free(c->name);
	free(c->path);
	free(c->type);
	free(c->label);
	free(c->uuid);
	for (size_t i = 0; i < c->n_parts; i++) {
		free(c->parts[i].uuid);
		free(c->parts[i].name);
	}
	free(c->parts);
}

/* Every block device with a PCI device on its way: the only ones probed. */
static void cands_load(struct scan *s)
{
	struct dirent *de;
	DIR *d;

	if (s->cands_loaded)
		return;
	s->cands_loaded = true;
	if (vb_opendir(s->root, "sys/class/block", &d) < 0)
		return;
	while ((de = readdir(d)) && !s->err) {
		char path[PATH_SIZE], rel[PATH_SIZE];
		struct cand *nc, *c;
		bool found = false;

		if (de->d_name[0] == '.' || name_path(s->root, de->d_name, path, sizeof(path)) < 0)
			continue;
		s->visits = 0;
		collect(s, NULL, path, NULL, 0, &found);
		if (!found)
			continue; /* loop, ram, zram, nbd... */
		nc = realloc(s->cands, (s->n_cands + 1) * sizeof(*nc));
		if (!nc) {
			s->err = -ENOMEM;
			break;
		}
		s->cands = nc;
		c = &s->cands[s->n_cands];
		memset(c, 0, sizeof(*c));
		c->name = strdup(de->d_name);
		c->path = strdup(path);
		if (!c->name || !c->path) {
			cand_free(c);
			s->err = -ENOMEM;
			break;
		}
		c->whole = !(vb_path_join(rel, sizeof(rel), "%s/partition", path) == 0 &&
			     vb_exists(s->root, rel));
		s->n_cands++;
	}
	closedir(d);
}

static char *probe_value(struct scan *s, blkid_probe pr, const char *key)
{
	const char *v;

	if (blkid_probe_lookup_value(pr, key, &v, NULL) < 0)
		return NULL;
	return xstrdup(s, v);
}

static void cand_probe_parts(struct scan *s, struct cand *c, blkid_probe pr)
{
	blkid_partlist ls = blkid_probe_get_partitions(pr);
	int n = ls ? blkid_partlist_numof_partitions(ls) : 0;

	if (n <= 0)
		return;
	c->parts = calloc(n, sizeof(*c->parts));
	if (!c->parts) {
		s->err = -ENOMEM;
		return;
	}
	for (int i = 0; i < n; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		struct cand_part *p = &c->parts[c->n_parts];

		if (!par)
			continue;
		p->partno = blkid_partition_get_partno(par);
		p->uuid = xstrdup(s, blkid_partition_get_uuid(par));
		p->name = xstrdup(s, blkid_partition_get_name(par));
		c->n_parts++;
	}
}

/* Probes dev/NAME under the root: TYPE, LABEL, UUID, and the partition
 * table of a whole disk. Read-only, O_NONBLOCK; empty media are skipped. */
static void cand_probe(struct scan *s, struct cand *c)
{
	char rel[PATH_SIZE], buf[64];
	blkid_probe pr;
	int fd, r;

	if (c->probed)
		return;
	c->probed = true;
	if (vb_read_filef(s->root, buf, sizeof(buf), "%s/size", c->path) >= 0 &&
	    strcmp(buf, "0") == 0)
		return;
	if (vb_path_join(rel, sizeof(rel), "dev/%s", c->name) < 0)
		return;
	for (char *p = rel + 4; *p; p++)
		if (*p == '!')
			*p = '/';
	fd = vb_open(s->root, rel, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		log_debug("storage: cannot open %s: %s", rel, vb_strerror(-fd));
		return;
	}
	pr = blkid_new_probe();
	if (!pr) {
		close(fd);
		s->err = -ENOMEM;
		return;
	}
	if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
		log_debug("storage: cannot probe %s", rel);
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 0);
	r = blkid_do_safeprobe(pr);
	c->readable = r >= 0; /* 1: read, nothing on it; -2: ambivalent */
	if (r == 0) {
		c->type = probe_value(s, pr, "TYPE");
		c->label = probe_value(s, pr, "LABEL");
		c->uuid = probe_value(s, pr, "UUID");
	}
	log_debug("storage: probed %s: %s%s%s", rel, c->type ? c->type : "nothing",
		  c->label ? " LABEL=" : "", c->label ? c->label : "");
	if (c->whole) {
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
		cand_probe_parts(s, c, pr);
	}
out:
	blkid_free_probe(pr);
	close(fd);
}

/* The partition of whole disk c numbered partno: the child directory whose
 * "partition" attribute says so. */
static int part_path(struct scan *s, const struct cand *c, int partno, char *out, size_t size)
{
	struct dirent *de;
	int r = -ENOENT;
	DIR *d;

	if (vb_opendir(s->root, c->path, &d) < 0)
		return -errno;
	while ((de = readdir(d))) {
		char buf[32];

		if (de->d_name[0] == '.')
			continue;
		if (vb_read_filef(s->root, buf, sizeof(buf), "%s/%s/partition", c->path,
				  de->d_name) >= 0 &&
		    atoi(buf) == partno &&
		    vb_path_join(out, size, "%s/%s", c->path, de->d_name) == 0) {
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

enum tag { TAG_UUID, TAG_LABEL, TAG_PARTUUID, TAG_PARTLABEL };

/* Walks every probed device whose tag equals value. Returns how many;
 * *found is set when one of them reached a PCI device. */
static int walk_by_tag(struct scan *s, const struct ctx *c, enum tag tag, const char *value,
		       bool *found)
{
	int hits = 0;

	cands_load(s);
	for (size_t i = 0; i < s->n_cands && !s->err; i++) {
		struct cand *cd = &s->cands[i];
		struct ctx mc = *c;

		if (tag == TAG_PARTUUID || tag == TAG_PARTLABEL) {
			if (!cd->whole)
				continue;
			cand_probe(s, cd);
			for (size_t j = 0; j < cd->n_parts; j++) {
				const char *v =
					tag == TAG_PARTUUID ? cd->parts[j].uuid : cd->parts[j].name;
				char path[PATH_SIZE];

				if (!v || !v[0] ||
				    (tag == TAG_PARTUUID ? strcasecmp(v, value)
							 : strcmp(v, value)) != 0)
					continue;
				if (part_path(s, cd, cd->parts[j].partno, path, sizeof(path)) < 0) {
					log_debug("storage: %s: no partition %d in sysfs", cd->name,
						  cd->parts[j].partno);
					continue;
				}
				mc.blockdev = base_name(path);
				if (walk(s, &mc, path))
					*found = true;
				hits++;
			}
			continue;
		}
		cand_probe(s, cd);
		if (tag == TAG_UUID ? !cd->uuid || strcasecmp(cd->uuid, value) != 0
				    : !cd->label || strcmp(cd->label, value) != 0)
			continue;
		mc.blockdev = cd->name;
		if (!mc.fstype || !mc.fstype[0])
			mc.fstype = cd->type;
		if (walk(s, &mc, cd->path))
			*found = true;
		hits++;
	}
	return hits;
}

/* How many candidates libblkid could read: for messages. */
static size_t cands_readable(const struct scan *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_cands; i++)
		n += s->cands[i].readable;
	return n;
}

/* Walks the device a udev link dev/disk/by-KIND/ID names as a member of
 * pool p. Returns 1 when it reached a PCI device, 0 when the link names a
 * device without one, -ENOENT without a link, another -errno when the
 * link's target is no block device in sysfs. */
static int walk_pool_link(struct scan *s, struct pool *p, const struct ctx *c, const char *kind,
			  const char *id)
{
	char link[PATH_SIZE], devpath[PATH_SIZE];
	struct stat st;
	int r;

	if (!id[0] || strchr(id, '/') ||
	    vb_path_join(link, sizeof(link), "/dev/disk/%s/%s", kind, id) < 0)
		return -EINVAL;
	if (vb_stat(s->root, link + 1, &st, false) < 0) {
		log_debug("storage: pool %s: no %s", p->name, link + 1);
		return -ENOENT;
	}
	r = devnode_path(s->root, link, devpath, sizeof(devpath));
	if (r < 0) {
		log_debug("storage: pool %s: %s is no block device: %s", p->name, link + 1,
			  vb_strerror(r));
		return r == -ENOENT ? -ENODEV : r; /* -ENOENT: no link */
	}
	log_debug("storage: pool %s: %s names %s", p->name, link + 1, base_name(devpath));
	if (!walk(s, c, devpath))
		return 0;
	p->found = true;
	return 1;
}

/* Whether the udev database record text (run/udev/data/bMAJ:MIN) is a
 * member of pool: udev's blkid said zfs_member with that label, or the
 * device claims the disk/by-label/POOL link (one device wins the link, every
 * member claims it). */
static bool udev_data_member(char *text, const char *pool)
{
	bool zfs = false, label = false, claims = false;
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strcmp(l, "E:ID_FS_TYPE=zfs_member") == 0)
			zfs = true;
		else if (strncmp(l, "E:ID_FS_LABEL=", 14) == 0)
			label = label || strcmp(l + 14, pool) == 0;
		else if (strncmp(l, "S:disk/by-label/", 16) == 0)
			claims = claims || strcmp(l + 16, pool) == 0;
	}
	return (zfs && label) || claims;
}

/* Walks every member of pool p that udev's database names. Returns how
 * many records named one, -errno without a readable run/udev/data. */
static int walk_pool_udev_data(struct scan *s, struct pool *p, const struct ctx *c)
{
	struct dirent *de;
	int hits = 0;
	DIR *d;

	if (vb_opendir(s->root, "run/udev/data", &d) < 0) {
		int r = -errno;

		log_debug("storage: pool %s: no run/udev/data: %s", p->name, vb_strerror(r));
		return r;
	}
	while ((de = readdir(d)) && !s->err) {
		char rel[PATH_SIZE], devpath[PATH_SIZE], *text, tail;
		unsigned maj, min;
		bool member;

		if (sscanf(de->d_name, "b%u:%u%c", &maj, &min, &tail) != 2 ||
		    vb_path_join(rel, sizeof(rel), "run/udev/data/%s", de->d_name) < 0 ||
		    vb_read_all(s->root, rel, SMALL_FILE_MAX, &text, NULL) < 0)
			continue;
		member = udev_data_member(text, p->name);
		free(text);
		if (!member)
			continue;
		hits++;
		if (devnum_path(s->root, maj, min, devpath, sizeof(devpath)) < 0) {
			log_debug("storage: pool %s: %s names %u:%u, not in sys", p->name, rel, maj,
				  min);
			continue;
		}
		log_debug("storage: pool %s: %s names %s", p->name, rel, base_name(devpath));
		if (walk(s, c, devpath))
			p->found = true;
	}
	closedir(d);
	return hits;
}

/*
 * Every member of every pool in use, from four sources, all counted:
 * udev's dev/disk/by-label/POOL (it names one member, readable or not when
 * we look), udev's database run/udev/data (every member udev saw, with
 * its label), libblkid's zfs_member devices labelled POOL (every member
 * whose first sectors can be read now), and udev's dev/disk/by-uuid/GUID
 * for each pool GUID those members report.
 */
static void scan_pools(struct scan *s)
{
	if (!s->n_pools)
		return;
	cands_load(s);
	for (size_t j = 0; j < s->n_pools && !s->err; j++) {
		struct pool *p = &s->pools[j];
		struct ctx c = {
			.blockdev = p->name,
			.mountpoint = p->mountpoint,
			.fstype = "zfs",
			.is_root = p->is_root,
		};
		char *guids[8];
		size_t n_guids = 0;
		int rl, ru;

		rl = walk_pool_link(s, p, &c, "by-label", p->name);
		ru = walk_pool_udev_data(s, p, &c);
		for (size_t i = 0; i < s->n_cands && !s->err; i++) {
			struct cand *cd = &s->cands[i];
			bool seen = false;

			cand_probe(s, cd);
			if (!cd->type || strcmp(cd->type, "zfs_member") != 0 || !cd->label ||
			    strcmp(cd->label, p->name) != 0)
				continue;
			log_debug("storage: pool %s: %s is a member (libblkid)", p->name, cd->name);
			if (walk(s, &c, cd->path))
				p->found = true;
			if (!cd->uuid || !cd->uuid[0])
				continue;
			for (size_t k = 0; k < n_guids; k++)
				seen = seen || strcmp(guids[k], cd->uuid) == 0;
			if (!seen && n_guids < sizeof(guids) / sizeof(guids[0]))
				guids[n_guids++] = cd->uuid;
		}
		for (size_t k = 0; k < n_guids && !s->err; k++)
			walk_pool_link(s, p, &c, "by-uuid", guids[k]);

		if (!p->is_root || !p->root_what)
			continue;
		if (p->found) {
			s->rr.found = true;
			continue;
		}
		root_unresolved(s,
				"%s: no member of pool %s found (%s%s%s%s, %s, no zfs_member "
				"with label %s on the %zu readable block devices)",
				p->root_what, p->name, rl == -ENOENT ? "no " : "",
				"dev/disk/by-label/", p->name,
				rl == -ENOENT ? ""
				: rl == 0     ? ": no PCI device under it"
					      : ": no such block device",
				ru < 0    ? "no run/udev/data"
				: ru == 0 ? "none in run/udev/data"
					  : "run/udev/data: not in sys or not on PCI",
				p->name, cands_readable(s));
	}
}

/* The value of the last `key=` word of a kernel command line into buf,
 * quotes removed (the kernel accepts "key=a b" and key="a b"); false when
 * absent. */
static int scan_cmdline(struct scan *s)
{
	static const struct {
		const char *prefix; /* root=PREFIX... */
		const char *link;   /* udev's dev/disk/by-* name for it */
		const char *what;   /* for messages */
		enum tag tag;
	} tags[] = {
		{"UUID=", "/dev/disk/by-uuid/", "UUID", TAG_UUID},
		{"LABEL=", "/dev/disk/by-label/", "label", TAG_LABEL},
		{"PARTUUID=", "/dev/disk/by-partuuid/", "partition UUID", TAG_PARTUUID},
		{"PARTLABEL=", "/dev/disk/by-partlabel/", "partition label", TAG_PARTLABEL},
	};
	char cmdline[VB_CMDLINE_MAX], value[1024], fstype[64] = "", devpath[PATH_SIZE], what[1100];
	struct ctx c = {.mountpoint = "/", .is_root = true};
	unsigned maj, min;
	char tail;
	int r;

	r = vb_read_file(s->root, "proc/cmdline", cmdline, sizeof(cmdline));
	if (r < 0) {
		log_debug("storage: cannot read proc/cmdline: %s", vb_strerror(r));
		return r;
	}
	if (!vb_cmdline_value(cmdline, "root", value, sizeof(value)) || !value[0])
		return 0;
	snprintf(what, sizeof(what), "root=%s", value);
	vb_cmdline_value(cmdline, "rootfstype", fstype, sizeof(fstype));
	c.fstype = fstype;

	/* Debian/Proxmox ZFS root: root=ZFS=pool/dataset (or zfs:pool/dataset) */
	if (strncasecmp(value, "ZFS=", 4) == 0 || strncasecmp(value, "zfs:", 4) == 0) {
		if (strcasecmp(value + 4, "AUTO") == 0)
			root_unresolved(s, "%s: the pool is chosen at boot (bootfs), none is named",
					what);
		else if (value[4] == 0 || value[4] == '/')
			root_unresolved(s, "%s: no pool named", what);
		else
			add_pool(s, value + 4, "/", true, what);
		return 0;
	}
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		size_t pl = strlen(tags[i].prefix), ll = strlen(tags[i].link);
		char link[PATH_SIZE], *id = NULL;
		bool found = false;

		if (strncmp(value, tags[i].prefix, pl) == 0)
			id = value + pl;
		else if (strncmp(value, tags[i].link, ll) == 0)
			id = value + ll;
		if (!id)
			continue;
		if (tags[i].tag == TAG_PARTUUID)
			id[strcspn(id, "/")] = 0; /* PARTUUID=x/PARTNROFF=n: the same disk */
		if (!id[0]) {
			root_unresolved(s, "%s: empty %s", what, tags[i].what);
			return 0;
		}
		/* udev's link first: no disk is read */
		if (!strchr(id, '/') &&
		    vb_path_join(link, sizeof(link), "%s%s", tags[i].link, id) == 0 &&
		    devnode_path(s->root, link, devpath, sizeof(devpath)) == 0) {
			c.blockdev = base_name(devpath);
			if (walk(s, &c, devpath))
				s->rr.found = true;
			else
				root_unresolved(s, "%s: %s is %s, no PCI device under it", what,
						link + 1, c.blockdev);
			return 0;
		}
		log_debug("storage: %s: no %s%s, probing", what, tags[i].link + 1, id);
		if (walk_by_tag(s, &c, tags[i].tag, id, &found) == 0)
			root_unresolved(s,
					"%s: not found (no %s%s, no %s %s %s the %zu readable %s)",
					what, tags[i].link + 1, id, tags[i].what, id,
					tags[i].tag == TAG_PARTUUID || tags[i].tag == TAG_PARTLABEL
						? "in the partition tables of"
						: "on",
					cands_readable(s),
					tags[i].tag == TAG_PARTUUID || tags[i].tag == TAG_PARTLABEL
						? "disks"
						: "block devices");
		else if (found)
			s->rr.found = true;
		else
			root_unresolved(s, "%s: no PCI device under the device with that %s", what,
					tags[i].what);
		return 0;
	}
	if (strcmp(value, "/dev/nfs") == 0) {
		log_debug("storage: root=/dev/nfs: on no block device");
		s->rr.not_block = true;
		return 0;
	}
	if (strncmp(value, "/dev/", 5) == 0)
		r = devnode_path(s->root, value, devpath, sizeof(devpath));
	else if (sscanf(value, "%u:%u%c", &maj, &min, &tail) == 2)
		r = devnum_path(s->root, maj, min, devpath, sizeof(devpath));
	else {
		root_unresolved(s, "%s: a form vfio-bind does not resolve", what);
		return 0;
	}
	if (r < 0) {
		root_unresolved(s, "%s: no such block device in sys", what);
		return 0;
	}
	c.blockdev = base_name(devpath);
	if (walk(s, &c, devpath))
		s->rr.found = true;
	else
		root_unresolved(s, "%s: no PCI device under %s", what, c.blockdev);
	return 0;
}

/* The root fields of st from what the sources resolved to. */
static void root_finish(struct scan *s, int rm, int rc)
{
	struct vb_storage *st = s->st;
	struct root_res *rr = &s->rr;

	if (rr->found) {
		st->root_state = VB_ROOT_FOUND;
	} else if (rr->unresolved) {
		st->root_state = VB_ROOT_UNKNOWN;
		snprintf(st->root_unresolved, sizeof(st->root_unresolved), "%s", rr->why);
	} else if (rr->not_block) {
		st->root_state = VB_ROOT_NOT_BLOCK;
	} else {
		/* nothing names the root: a chroot without proc, a bare cmdline */
		st->root_state = VB_ROOT_UNKNOWN;
		snprintf(st->root_unresolved, sizeof(st->root_unresolved),
			 "the root is not named (%s, %s)",
			 rm < 0 ? "cannot read proc/self/mountinfo" : "no / in proc/self/mountinfo",
			 rc < 0 ? "cannot read proc/cmdline" : "no root= in proc/cmdline");
	}
	st->root_found = st->root_state != VB_ROOT_UNKNOWN;
	if (st->root_state == VB_ROOT_UNKNOWN)
		log_debug("storage: the root's controller is unknown: %s", st->root_unresolved);
	else
		log_debug("storage: the root is %s", st->root_state == VB_ROOT_FOUND
							     ? "on PCI storage"
							     : "on no block device");
}

int vb_storage_scan(const struct vb_root *root, struct vb_storage *st)
{
	struct scan s = {.root = root, .st = st};
	int rm, rs, rc, r;

	memset(st, 0, sizeof(*st));
	if (!root->is_host)
		s.root_dir = realpath(root->path, NULL); /* NULL: only "/" is the root */
	rm = scan_mounts(&s);
	rs = s.err ? 0 : scan_swaps(&s);
	rc = s.err ? 0 : scan_cmdline(&s);
	if (!s.err)
		scan_pools(&s);
	if (!s.err)
		root_finish(&s, rm, rc);

	for (size_t i = 0; i < s.n_cands; i++)
		cand_free(&s.cands[i]);
	free(s.cands);
	for (size_t i = 0; i < s.n_pools; i++) {
		free(s.pools[i].name);
		free(s.pools[i].mountpoint);
		free(s.pools[i].root_what);
	}
	free(s.pools);
	free(s.root_dir);

	r = s.err;
	if (!r && rm < 0 && rs < 0 && rc < 0)
		r = -ENOENT;
	if (r < 0) {
		enum vb_root_state state = st->root_state;
		char why[sizeof(st->root_unresolved)];

		memcpy(why, st->root_unresolved, sizeof(why));
		vb_storage_free(st);
		if (r == -ENOENT) {
			/* the list is empty, what is known of the root stays */
			st->root_state = state;
			memcpy(st->root_unresolved, why, sizeof(why));
		} else {
			snprintf(st->root_unresolved, sizeof(st->root_unresolved),
				 "the storage scan failed: %s", vb_strerror(r));
		}
		st->root_found = st->root_state != VB_ROOT_UNKNOWN;
	}
	return r;
}

void vb_storage_free(struct vb_storage *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		use_free(&st->v[i]);
	free(st->v);
	memset(st, 0, sizeof(*st)); /* VB_ROOT_UNKNOWN, root_found false */
}

const struct vb_storage_use *vb_storage_find(const struct vb_storage *st,
					     const struct vb_pci_addr *a)
{
	const struct vb_storage_use *first = NULL;

	for (size_t i = 0; i < st->n; i++) {
		const struct vb_storage_use *u = &st->v[i];

		if (vb_pci_addr_cmp(&u->pci, a) != 0)
			continue;
		if (u->is_root)
			return u;
		if (!first)
			first = u;
	}
	return first;
}

void vb_storage_use_describe(const struct vb_storage_use *u, char *buf, size_t size)
{
	char on[256];

	if (strcmp(u->leaf, u->blockdev) != 0)
		snprintf(on, sizeof(on), "%s over %s", u->blockdev, u->leaf);
	else
		snprintf(on, sizeof(on), "%s", u->blockdev);
	if (u->is_root)
		snprintf(buf, size, "the root filesystem (%s on %s%s%s)", u->mountpoint, on,
			 u->fstype[0] ? ", " : "", u->fstype);
	else if (strcmp(u->mountpoint, SWAP_MOUNTPOINT) == 0)
		snprintf(buf, size, "swap (%s)", on);
	else
		snprintf(buf, size, "the filesystem mounted on %s (%s%s%s)", u->mountpoint, on,
			 u->fstype[0] ? ", " : "", u->fstype);
}

/* "controller of X" or "upstream of CTRL, the controller of X". */
static void use_role(const struct vb_storage_use *u, char *buf, size_t size)
{
	char what[512], ctrl[VB_PCI_NAME_MAX];

	vb_storage_use_describe(u, what, sizeof(what));
	if (vb_pci_addr_cmp(&u->pci, &u->controller) == 0) {
		snprintf(buf, size, "controller of %s", what);
	} else {
		vb_pci_addr_format(&u->controller, ctrl);
		snprintf(buf, size, "upstream of %s, the controller of %s", ctrl, what);
	}
}

bool vb_storage_refuses(const struct vb_storage *st, const struct vb_config *cfg,
			const struct vb_pci_addr *a, int rule, char *buf, size_t size)
{
	const struct vb_storage_use *u = vb_storage_find(st, a);
	char role[768];

	if (!u)
		return false;
	if (!u->is_root && vb_rule_allows_storage(cfg, rule))
		return false;
	use_role(u, role, sizeof(role));
	if (u->is_root)
		snprintf(buf, size, "%s: never taken", role);
	else
		snprintf(buf, size, "%s: taken only with allow-storage=yes", role);
	return true;
}

void vb_storage_policy_init(struct vb_storage_policy *p, const struct vb_root *root,
			    const struct vb_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->root = root;
	p->cfg = cfg;
}

void vb_storage_policy_free(struct vb_storage_policy *p)
{
	vb_storage_free(&p->st);
	p->scanned = false;
}

const struct vb_storage *vb_storage_policy_scan(struct vb_storage_policy *p)
{
	int r;

	if (p->scanned)
		return p->scan_err ? NULL : &p->st;
	p->scanned = true;
	r = vb_storage_scan(p->root, &p->st);
	if (r == -ENOENT) {
		/* a chroot without /proc: nothing tells what is mounted */
		if (p->root->is_host)
			log_warning("cannot read proc/self/mountinfo, proc/swaps or proc/cmdline: "
				    "controllers of mounted storage are not recognised");
		else
			log_info("no proc/self/mountinfo, proc/swaps or proc/cmdline under %s: "
				 "controllers of mounted storage are not recognised",
				 p->root->path);
	} else if (r < 0) {
		log_error("cannot tell which controllers hold mounted storage: %s", vb_strerror(r));
		p->scan_err = r;
		return NULL;
	}
	return &p->st;
}

int vb_storage_guard(const struct vb_root *root, const struct vb_config *cfg,
		     struct vb_plan_item *item, void *userdata)
{
	struct vb_storage_policy *p = userdata;
	const struct vb_storage *st;
	const struct vb_storage_use *u;
	char reason[sizeof(item->reason)];

	if (!p->root)
		p->root = root;
	st = vb_storage_policy_scan(p);
	if (!st) {
		/* fail safe: a device may hold storage we could not see */
		vb_plan_refuse(item, VB_REFUSE_STORAGE_UNKNOWN,
			       "cannot tell whether it holds mounted storage: %s",
			       vb_strerror(-p->scan_err));
		return 0;
	}
	u = vb_storage_find(st, &item->dev->addr);
	if (vb_storage_refuses(st, cfg, &item->dev->addr, item->rule, reason, sizeof(reason))) {
		vb_plan_refuse(item, u->is_root ? VB_REFUSE_ROOT_STORAGE : VB_REFUSE_STORAGE, "%s",
			       reason);
		return 0;
	}
	if (u) {
		char role[768], loc[VB_LOCATION_MAX];

		use_role(u, role, sizeof(role));
		log_warning("%s: %s: taken because %s has allow-storage=yes", item->dev->name, role,
			    vb_rule_location(cfg, item->rule, loc, sizeof(loc)));
	} else if (!st->root_found) {
		/* fail closed: it may be the root's controller */
		vb_plan_refuse_unknown_storage(cfg, item, "the root's controller is unknown");
	}
	return 0;
}

int vb_storage_plan_job(const struct vb_root *root, struct vb_job *job,
			struct vb_storage_policy *pol)
{
	const struct vb_plan_guard guard = {vb_storage_guard, pol};

	vb_storage_policy_init(pol, root, &job->cfg);
	return vb_job_plan(job, root, &guard, 1);
}
