/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The old passthrough recipe (recipe.h): one scanner for doctor's leftovers
 * and for `vfio-bind import`; the file writes both iommu and import make.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "recipe.h"
#include "util.h"

#define MAX_CONF_FILE (1u << 20)

void vb_recipe_free(struct vb_recipe *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->v[i].relpath);
		free(rec->v[i].file);
		free(rec->v[i].text);
		free(rec->v[i].value);
		free(rec->v[i].ids);
	}
	free(rec->v);
	memset(rec, 0, sizeof(*rec));
}

bool vb_modlist_has(const char *list, const char *name)
{
	for (const char *p = list; p && *p;) {
		size_t n = strcspn(p, ",");

		if (n && vb_modname_eqn(p, n, name))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

struct scan {
	const struct vb_root *root;
	struct vb_recipe *rec;
	struct {
		dev_t dev;
		ino_t ino;
	} seen[256];
	size_t n_seen;
};

static int add(struct scan *c, enum vb_recipe_kind kind, enum vb_recipe_src src,
	       const char *relpath, const char *file, unsigned line, const char *text,
	       const char *value, size_t vlen, const char *ids, size_t ilen)
{
	struct vb_recipe_item *nv, *it;

	nv = realloc(c->rec->v, (c->rec->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	c->rec->v = nv;
	it = &nv[c->rec->n];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->src = src;
	it->line = line;
	it->relpath = strdup(relpath);
	it->file = strdup(file);
	it->text = strdup(text);
	it->value = strndup(value ? value : "", value ? vlen : 0);
	it->ids = ids ? strndup(ids, ilen) : NULL;
	if (!it->relpath || !it->file || !it->text || !it->value || (ids && !it->ids)) {
		free(it->relpath);
		free(it->file);
		free(it->text);
		free(it->value);
		free(it->ids);
		return -ENOMEM;
	}
	c->rec->n++;
	return 0;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

struct where {
	enum vb_recipe_src src;
	const char *relpath, *file;
	unsigned line;
};

/* One kernel command line word. */
static int cmdline_word(struct scan *c, const struct where *w, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);

	if (!eq)
		return 0;
	if (vb_modname_eqn(word, klen, "vfio_pci.ids"))
		return add(c, VB_RECIPE_IDS, w->src, w->relpath, w->file, w->line, word, eq + 1,
			   strlen(eq + 1), eq + 1, strlen(eq + 1));
	if (vb_modname_eqn(word, klen, "pci_stub.ids"))
		return add(c, VB_RECIPE_STUB_IDS, w->src, w->relpath, w->file, w->line, word,
			   eq + 1, strlen(eq + 1), NULL, 0);
	if (vb_modname_eqn(word, klen, "modprobe.blacklist") ||
	    vb_modname_eqn(word, klen, "module_blacklist"))
		return add(c, VB_RECIPE_BLACKLIST, w->src, w->relpath, w->file, w->line, word,
			   eq + 1, strlen(eq + 1), NULL, 0);
	return 0;
}

/* The words of a command line; GRUB_CMDLINE_LINUX="..." loses its key and
 * quotes, "$GRUB_CMDLINE_LINUX" words name no parameter and are skipped. */
static int cmdline_words(struct scan *c, const struct where *w, char *s)
{
	char *v[256];
	size_t n = vb_split_words(s, v, 256);
	int r;

	for (size_t i = 0; i < n; i++) {
		char *word = v[i];
		size_t len;

		if (strncmp(word, "GRUB_CMDLINE_LINUX", 18) == 0) {
			word = strchr(word, '=');
			if (!word)
				continue;
			word++;
		}
		while (*word == '"' || *word == '\'')
			word++;
		len = strlen(word);
		while (len && (word[len - 1] == '"' || word[len - 1] == '\''))
			word[--len] = 0;
		r = cmdline_word(c, w, word);
		if (r < 0)
			return r;
	}
	return 0;
}

static int modprobe_line(struct scan *c, const struct where *w, const char *text, char *s)
{
	char *v[64];
	size_t n = vb_split_words(s, v, 64);

	if (n < 2)
		return 0;
	if (strcmp(v[0], "options") == 0 &&
	    (vb_modname_eq(v[1], "vfio_pci") || vb_modname_eq(v[1], "pci_stub"))) {
		bool stub = vb_modname_eq(v[1], "pci_stub");

		for (size_t i = 2; i < n; i++)
			if (strncmp(v[i], "ids=", 4) == 0)
				return add(c, stub ? VB_RECIPE_STUB_IDS : VB_RECIPE_IDS, w->src,
					   w->relpath, w->file, w->line, text, v[i] + 4,
					   strlen(v[i] + 4), stub ? NULL : v[i] + 4,
					   strlen(v[i] + 4));
		return 0;
	}
	if (strcmp(v[0], "alias") == 0 && n >= 3 && vb_modname_eq(v[2], "vfio_pci") &&
	    strncmp(v[1], "pci:", 4) == 0)
		return add(c, VB_RECIPE_ALIAS, w->src, w->relpath, w->file, w->line, text, v[1],
			   strlen(v[1]), NULL, 0);
	if (strcmp(v[0], "blacklist") == 0)
		return add(c, VB_RECIPE_BLACKLIST, w->src, w->relpath, w->file, w->line, text, v[1],
			   strlen(v[1]), NULL, 0);
	if (strcmp(v[0], "softdep") == 0) {
		bool pre = false;

		for (size_t i = 2; i < n; i++) {
			if (strcmp(v[i], "pre:") == 0)
				pre = true;
			else if (strcmp(v[i], "post:") == 0)
				pre = false;
			else if (pre && vb_modname_eq(v[i], "vfio_pci"))
				return add(c, VB_RECIPE_SOFTDEP, w->src, w->relpath, w->file,
					   w->line, text, v[1], strlen(v[1]), NULL, 0);
		}
	}
	return 0;
}

/* A module list line: "vfio_pci" or, in initramfs-tools, "vfio_pci ids=...". */
static int module_line(struct scan *c, const struct where *w, const char *text, char *s)
{
	static const char *const vfio_mods[] = {
		"vfio", "vfio_pci", "vfio_iommu_type1", "vfio_virqfd", "vfio_pci_core",
	};
	char *v[64];
	size_t n = vb_split_words(s, v, 64);

	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(vfio_mods) / sizeof(vfio_mods[0]); i++) {
		const char *ids = NULL;

		if (!vb_modname_eq(v[0], vfio_mods[i]))
			continue;
		if (i == 1 && w->src == VB_SRC_INITRAMFS_MODULES)
			for (size_t k = 1; k < n; k++)
				if (strncmp(v[k], "ids=", 4) == 0)
					ids = v[k] + 4;
		return add(c, VB_RECIPE_MODULE, w->src, w->relpath, w->file, w->line, text, v[0],
			   strlen(v[0]), ids, ids ? strlen(ids) : 0);
	}
	return 0;
}

static bool already_seen(struct scan *c, const char *relpath)
{
	struct stat st;

	if (fstatat(c->root->fd, relpath, &st, 0) < 0 || !S_ISREG(st.st_mode))
		return true; /* nothing to read */
	for (size_t i = 0; i < c->n_seen; i++)
		if (c->seen[i].dev == st.st_dev && c->seen[i].ino == st.st_ino)
			return true;
	if (c->n_seen < sizeof(c->seen) / sizeof(c->seen[0])) {
		c->seen[c->n_seen].dev = st.st_dev;
		c->seen[c->n_seen].ino = st.st_ino;
		c->n_seen++;
	}
	return false;
}

static int scan_file(struct scan *c, const char *relpath, enum vb_recipe_src src)
{
	char *buf = NULL, *line, *next, shown[VB_LOCATION_MAX];
	struct where w = {.src = src, .relpath = relpath, .file = shown};
	int r = 0;

	if (already_seen(c, relpath))
		return 0;
	if (vb_read_all(c->root, relpath, MAX_CONF_FILE, &buf, NULL) < 0)
		return 0; /* unreadable: nothing to report */
	snprintf(shown, sizeof(shown), "/%s", relpath);
	for (line = buf; line && *line && r == 0; line = next) {
		char copy[VB_RECIPE_LINE_MAX], work[VB_RECIPE_LINE_MAX];
		const char *text;

		w.line++;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		snprintf(copy, sizeof(copy), "%s", line);
		text = trim(copy);
		if (!*text || *text == '#' || (src == VB_SRC_MODULES_LOAD && *text == ';'))
			continue;
		snprintf(work, sizeof(work), "%s", text);
		switch (src) {
		case VB_SRC_MODPROBE:
			r = modprobe_line(c, &w, text, work);
			break;
		case VB_SRC_MODULES_LOAD:
		case VB_SRC_INITRAMFS_MODULES:
			r = module_line(c, &w, text, work);
			break;
		case VB_SRC_GRUB:
			if (strncmp(text, "GRUB_CMDLINE_LINUX", 18) == 0)
				r = cmdline_words(c, &w, work);
			break;
		case VB_SRC_KERNEL_CMDLINE:
		case VB_SRC_PROC_CMDLINE:
			r = cmdline_words(c, &w, work);
			break;
		}
	}
	free(buf);
	return r;
}

static int scan_dir(struct scan *c, const char *dir, const char *suffix, enum vb_recipe_src src)
{
	char **names, path[VB_LOCATION_MAX];
	size_t n;
	int r = 0;

	if (vb_diag_list_dir(c->root, dir, suffix, &names, &n) < 0)
		return 0;
	for (size_t k = 0; k < n && r == 0; k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
		r = scan_file(c, path, src);
	}
	vb_diag_free_names(names, n);
	return r;
}

int vb_recipe_scan(const struct vb_root *root, struct vb_recipe *rec)
{
	static const char *const modprobe_dirs[] = {
		"etc/modprobe.d",
		"run/modprobe.d",
		"lib/modprobe.d",
		"usr/lib/modprobe.d",
	};
	static const char *const load_dirs[] = {
		"etc/modules-load.d",
		"run/modules-load.d",
		"lib/modules-load.d",
		"usr/lib/modules-load.d",
	};
	struct scan *c;
	char cmdline[VB_CMDLINE_MAX];
	int r = 0;

	memset(rec, 0, sizeof(*rec));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->root = root;
	c->rec = rec;
	for (size_t i = 0; i < sizeof(modprobe_dirs) / sizeof(modprobe_dirs[0]) && r == 0; i++)
		r = scan_dir(c, modprobe_dirs[i], ".conf", VB_SRC_MODPROBE);
	if (r == 0)
		r = scan_file(c, "etc/modules", VB_SRC_MODULES_LOAD);
	for (size_t i = 0; i < sizeof(load_dirs) / sizeof(load_dirs[0]) && r == 0; i++)
		r = scan_dir(c, load_dirs[i], ".conf", VB_SRC_MODULES_LOAD);
	if (r == 0)
		r = scan_file(c, "etc/initramfs-tools/modules", VB_SRC_INITRAMFS_MODULES);
	if (r == 0)
		r = scan_file(c, "etc/default/grub", VB_SRC_GRUB);
	if (r == 0)
		r = scan_dir(c, "etc/default/grub.d", ".cfg", VB_SRC_GRUB);
	if (r == 0)
		r = scan_file(c, "etc/kernel/cmdline", VB_SRC_KERNEL_CMDLINE);
	if (r == 0 && vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline)) > 0) {
		struct where w = {
			.src = VB_SRC_PROC_CMDLINE,
			.relpath = "proc/cmdline",
			.file = "kernel command line (/proc/cmdline)",
		};
		r = cmdline_words(c, &w, cmdline);
	}
	free(c);
	if (r < 0)
		vb_recipe_free(rec);
	return r;
}

/* ------------------------------------------------------------------------ */
/* vfio-pci ids= entries */

static int hex_field(const char *s, size_t len, unsigned *v)
{
	unsigned long x = 0;

	if (len == 0 || len > 8)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;
		if (d < 0)
			return -EINVAL;
		x = x * 16 + (unsigned long)d;
	}
	*v = (unsigned)x;
	return 0;
}

int vb_pci_id_match_parse(const char *s, size_t len, struct vb_pci_id_match *m)
{
	unsigned *fields[] = {&m->vendor,    &m->device, &m->subvendor,
			      &m->subdevice, &m->class,  &m->class_mask};
	size_t k = 0;

	*m = (struct vb_pci_id_match){0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0, 0};
	while (len > 0 && k < 6) {
		const char *colon = memchr(s, ':', len);
		size_t n = colon ? (size_t)(colon - s) : len;

		if (hex_field(s, n, fields[k]) < 0)
			return -EINVAL;
		k++;
		if (!colon)
			break;
		len -= n + 1;
		s = colon + 1;
		if (len == 0)
			return -EINVAL; /* trailing ':' */
	}
	/* vfio-pci needs at least vendor:device */
	return k >= 2 && len <= 8 ? 0 : -EINVAL;
}

bool vb_pci_id_matches(const struct vb_pci_id_match *m, const struct vb_pci_dev *d)
{
	return (m->vendor == 0xffffffffu || m->vendor == d->vendor) &&
	       (m->device == 0xffffffffu || m->device == d->device) &&
	       (m->subvendor == 0xffffffffu || m->subvendor == d->subsys_vendor) &&
	       (m->subdevice == 0xffffffffu || m->subdevice == d->subsys_device) &&
	       ((m->class ^ (unsigned)d->class) & m->class_mask) == 0;
}

/* ------------------------------------------------------------------------ */
/* Leftovers */

void vb_stale_list_free(struct vb_stale_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].file);
		free(list->v[i].text);
		free(list->v[i].why);
	}
	free(list->v);
	memset(list, 0, sizeof(*list));
}

static int stale_add(struct vb_stale_list *list, struct vb_diags *f,
		     const struct vb_recipe_item *it, const char *why, const char *hint)
{
	struct vb_stale *nv, *s;
	char where[VB_LOCATION_MAX];

	nv = realloc(list->v, (list->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	list->v = nv;
	s = &nv[list->n];
	s->line = it->line;
	s->file = strdup(it->file);
	s->text = strdup(it->text);
	s->why = strdup(why);
	if (!s->file || !s->text || !s->why) {
		free(s->file);
		free(s->text);
		free(s->why);
		return -ENOMEM;
	}
	list->n++;
	if (it->line)
		snprintf(where, sizeof(where), "%s:%u", it->file, it->line);
	else
		snprintf(where, sizeof(where), "%s", it->file);
	return vb_diags_add(f, VB_SEV_WARNING, VB_F_STALE, NULL, 0, 0, NULL, hint, "%s: %s: %s",
			    where, it->text, why);
}

static bool blacklists_target(const struct vb_recipe_item *it, const char *const *drivers,
			      size_t n_drivers)
{
	for (size_t i = 0; i < n_drivers; i++)
		if (drivers[i] && vb_modlist_has(it->value, drivers[i]))
			return true;
	return false;
}

#define HINT_IMPORT                                                                                \
	"vfio-bind import shows the rules that replace the old recipe; vfio-bind import --write "  \
	"adds them and comments the line out (or delete it); then update-initramfs -u -k all"

int vb_diag_stale(const struct vb_root *root, const char *const *drivers, size_t n_drivers,
		  struct vb_stale_list *list, struct vb_diags *f)
{
	struct vb_recipe rec;
	struct vb_boot boot;
	int r = vb_recipe_scan(root, &rec);

	memset(list, 0, sizeof(*list));
	if (r < 0)
		return r;
	vb_boot_detect(root, NULL, &boot);
	for (size_t i = 0; i < rec.n && r == 0; i++) {
		const struct vb_recipe_item *it = &rec.v[i];
		bool cmdline = it->src == VB_SRC_GRUB || it->src == VB_SRC_KERNEL_CMDLINE ||
			       it->src == VB_SRC_PROC_CMDLINE;
		char hint[VB_MESSAGE_MAX];
		const char *why = NULL;

		switch (it->kind) {
		case VB_RECIPE_IDS:
		case VB_RECIPE_STUB_IDS:
			why = "made unnecessary by vfio-bind: it binds the selected devices itself "
			      "(ids= takes every device with these IDs)";
			break;
		case VB_RECIPE_ALIAS:
			why = "made unnecessary by vfio-bind: it binds the selected devices itself "
			      "(the alias hands every matching device to vfio-pci)";
			break;
		case VB_RECIPE_BLACKLIST:
			if (blacklists_target(it, drivers, n_drivers))
				why = cmdline ? "made unnecessary by vfio-bind: it takes the "
						"target devices from their driver itself; the "
						"blacklist also keeps the driver from every other "
						"device"
					      : "made unnecessary by vfio-bind: it takes the "
						"target devices from this driver itself; the "
						"blacklist also keeps the driver from every other "
						"device";
			break;
		case VB_RECIPE_SOFTDEP:
			why = "made unnecessary by vfio-bind: it loads vfio-pci itself before "
			      "binding";
			break;
		case VB_RECIPE_MODULE:
			why = it->src == VB_SRC_INITRAMFS_MODULES
				      ? "made unnecessary by vfio-bind: its hook adds the vfio "
					"modules this kernel needs (vfio_virqfd no longer exists "
					"since 6.2)"
				      : "made unnecessary by vfio-bind: it loads the vfio modules "
					"this kernel needs itself";
			break;
		}
		if (!why)
			continue;
		if (it->src == VB_SRC_PROC_CMDLINE)
			snprintf(hint, sizeof(hint),
				 "remove it from the kernel command line (%s), then %s; "
				 "vfio-bind import shows the rules that replace it",
				 boot.cmdline_where, boot.refresh);
		else if (cmdline)
			snprintf(hint, sizeof(hint),
				 "remove it from %s line %u, then %s; vfio-bind import shows "
				 "the rules that replace it",
				 it->file, it->line, boot.refresh);
		else
			snprintf(hint, sizeof(hint), "%s", HINT_IMPORT);
		r = stale_add(list, f, it, why, hint);
	}
	vb_recipe_free(&rec);
	if (r < 0)
		vb_stale_list_free(list);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Writing the admin's files */

static int mkdir_parents(const struct vb_root *root, const char *relpath)
{
	char path[VB_LOCATION_MAX];

	snprintf(path, sizeof(path), "%s", relpath);
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		if (mkdirat(root->fd, path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int vb_replace_file(const struct vb_root *root, const char *relpath, const char *buf, size_t len,
		    unsigned mode)
{
	char tmp[VB_LOCATION_MAX];
	struct stat st;
	size_t done = 0;
	int fd, r;

	r = mkdir_parents(root, relpath);
	if (r < 0)
		return r;
	if (fstatat(root->fd, relpath, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return -ELOOP; /* a symlink would become a copy: never */
		mode = st.st_mode & 07777;
	}
	snprintf(tmp, sizeof(tmp), "%s.vfio-bind-new", relpath);
	fd = openat(root->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	(void)fchmod(fd, mode); /* the umask does not decide a config file's mode */
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		done += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(root->fd, tmp, root->fd, relpath) < 0)
		r = -errno;
	if (r < 0)
		(void)unlinkat(root->fd, tmp, 0);
	return r;
}

int vb_backup_file(const struct vb_root *root, const char *relpath)
{
	char dst[VB_LOCATION_MAX], *buf = NULL;
	size_t len;
	struct stat st;
	int r;

	snprintf(dst, sizeof(dst), VB_BACKUP_DIR "/%s", relpath);
	if (fstatat(root->fd, dst, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0; /* the first backup is the admin's original: keep it */
	r = vb_read_all(root, relpath, MAX_CONF_FILE, &buf, &len);
	if (r < 0)
		return r;
	r = vb_replace_file(root, dst, buf, len, 0600);
	free(buf);
	return r;
}
