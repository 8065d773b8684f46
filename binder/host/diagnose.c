/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Diagnostics of the host command; see diagnose.h for the heuristics.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmdline.h"
#include "diagnose.h"
#include "job.h"
#include "util.h"

#define MAX_PROC_FILE (4u << 20) /* proc/interrupts, proc/iomem */
#define MAX_CONF_FILE (1u << 20) /* modprobe.d files, grub defaults */

/* ------------------------------------------------------------------------ */
/* Findings */

void vb_findings_init(struct vb_findings *f)
{
	memset(f, 0, sizeof(*f));
}

void vb_findings_free(struct vb_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].message);
		free(f->v[i].hint);
	}
	free(f->v);
	vb_findings_init(f);
}

int vb_findings_add(struct vb_findings *f, enum vb_level level, const char *code, const char *dev,
		    const char *hint, const char *fmt, ...)
{
	struct vb_finding *nv, *x;
	va_list ap;
	int r;

	nv = realloc(f->v, (f->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	f->v = nv;
	x = &f->v[f->n];
	memset(x, 0, sizeof(*x));
	x->level = level;
	x->code = code;
	if (dev)
		snprintf(x->dev, sizeof(x->dev), "%s", dev);
	va_start(ap, fmt);
	r = vasprintf(&x->message, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (hint) {
		x->hint = strdup(hint);
		if (!x->hint) {
			free(x->message);
			return -ENOMEM;
		}
	}
	f->n++;
	if (level == VB_LEVEL_ERROR)
		f->n_errors++;
	else if (level == VB_LEVEL_WARNING)
		f->n_warnings++;
	return 0;
}

const struct vb_finding *vb_findings_find(const struct vb_findings *f, const char *code,
					  const char *dev)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].code, code) == 0 && (!dev || strcmp(f->v[i].dev, dev) == 0))
			return &f->v[i];
	return NULL;
}

const char *vb_level_name(enum vb_level level)
{
	switch (level) {
	case VB_LEVEL_ERROR:
		return "error";
	case VB_LEVEL_WARNING:
		return "warning";
	default:
		return "note";
	}
}

/* ------------------------------------------------------------------------ */
/* Small helpers */

unsigned vb_kver_num(const char *release)
{
	unsigned long major, minor;
	char *end;

	if (!release || release[0] < '0' || release[0] > '9')
		return 0;
	major = strtoul(release, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9' || major > 1000)
		return 0;
	minor = strtoul(end + 1, &end, 10);
	if (minor > 999)
		return 0;
	return (unsigned)(major * 1000 + minor);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory under the root (no dot entries); suffix: only
 * names ending with it. *n 0 and NULL when unreadable. */
static int list_dir(const struct vb_root *root, const char *relpath, const char *suffix,
		    char ***ret, size_t *n)
{
	struct dirent *de;
	char **v = NULL;
	size_t k = 0;
	DIR *d;

	*ret = NULL;
	*n = 0;
	if (vb_opendir(root, relpath, &d) < 0)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char **nv;

		if (de->d_name[0] == '.')
			continue;
		if (suffix && (len < strlen(suffix) ||
			       strcmp(de->d_name + len - strlen(suffix), suffix) != 0))
			continue;
		nv = realloc(v, (k + 1) * sizeof(*v));
		if (!nv)
			goto oom;
		v = nv;
		v[k] = strdup(de->d_name);
		if (!v[k])
			goto oom;
		k++;
	}
	closedir(d);
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_str);
	*ret = v;
	*n = k;
	return 0;
oom:
	closedir(d);
	for (size_t i = 0; i < k; i++)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Module names compare with '-' and '_' the same. */
static bool modname_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool modname_eqn(const char *a, size_t alen, const char *b)
{
	char buf[128];

	if (alen >= sizeof(buf))
		return false;
	memcpy(buf, a, alen);
	buf[alen] = 0;
	return modname_eq(buf, b);
}

/* ------------------------------------------------------------------------ */
/* IOMMU */

const char *vb_iommu_kind_name(enum vb_iommu_kind k)
{
	switch (k) {
	case VB_IOMMU_INTEL:
		return "Intel VT-d";
	case VB_IOMMU_AMD:
		return "AMD-Vi";
	case VB_IOMMU_OTHER:
		return "other";
	default:
		return "none";
	}
}

static unsigned count_groups(const struct vb_root *root)
{
	char **names;
	size_t n;

	if (list_dir(root, "sys/kernel/iommu_groups", NULL, &names, &n) < 0)
		return 0;
	free_names(names, n);
	return (unsigned)n;
}

/* "GenuineIntel" / "AuthenticAMD" from proc/cpuinfo: 'I', 'A' or 0. */
static char cpu_vendor(const struct vb_root *root)
{
	char *buf = NULL, v = 0;

	if (vb_read_all(root, "proc/cpuinfo", MAX_PROC_FILE, &buf, NULL) < 0)
		return 0;
	if (strstr(buf, "GenuineIntel"))
		v = 'I';
	else if (strstr(buf, "AuthenticAMD") || strstr(buf, "HygonGenuine"))
		v = 'A';
	free(buf);
	return v;
}

static void no_iommu_text(const struct vb_root *root, enum vb_iommu_kind kind, const char *units,
			  char *message, size_t msize, char *hint, size_t hsize)
{
	char cmdline[VB_CMDLINE_MAX] = "";
	char vendor = cpu_vendor(root);
	const char *off = NULL;
	const char *where = "GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub; or "
			    "/etc/kernel/cmdline";
	size_t len = 0;

	(void)vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline));
	if (message) {
		if (kind != VB_IOMMU_NONE)
			snprintf(message, msize,
				 "no IOMMU group under /sys/kernel/iommu_groups although the "
				 "kernel sees IOMMU units (%s): DMA remapping is off, so "
				 "vfio-pci can take no device",
				 units);
		else
			snprintf(message, msize,
				 "no IOMMU group under /sys/kernel/iommu_groups: the IOMMU is "
				 "off (or absent), so vfio-pci can take no device");
	}
	if (!hint || hsize == 0)
		return;
	hint[0] = 0;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		int k_ = snprintf(hint + len, len < hsize ? hsize - len : 0, __VA_ARGS__);         \
		if (k_ > 0)                                                                        \
			len += (size_t)k_;                                                         \
		if (len >= hsize)                                                                  \
			len = hsize - 1;                                                           \
	} while (0)
	if (vb_cmdline_has(cmdline, "intel_iommu=off"))
		off = "intel_iommu=off";
	else if (vb_cmdline_has(cmdline, "amd_iommu=off"))
		off = "amd_iommu=off";
	else if (vb_cmdline_has(cmdline, "iommu=off"))
		off = "iommu=off";
	if (off)
		ADD("remove %s from the kernel command line (%s); ", off, where);
	if (vendor == 'I' || (vendor == 0 && kind == VB_IOMMU_INTEL)) {
		ADD("enable VT-d in the firmware setup");
		if (!vb_cmdline_has(cmdline, "intel_iommu=on"))
			ADD(" and add intel_iommu=on to the kernel command line (%s)", where);
		else
			ADD(" (intel_iommu=on is already set)");
	} else if (vendor == 'A' || (vendor == 0 && kind == VB_IOMMU_AMD)) {
		ADD("enable the IOMMU (AMD-Vi, usually called \"IOMMU\") in the firmware setup; "
		    "the kernel turns AMD-Vi on by default, amd_iommu=on is not needed");
	} else if (vb_cmdline_has(cmdline, "intel_iommu=on")) {
		ADD("enable VT-d (Intel) or the IOMMU (AMD-Vi) in the firmware setup "
		    "(intel_iommu=on is already set)");
	} else {
		ADD("enable VT-d (Intel) or the IOMMU (AMD-Vi) in the firmware setup; Intel also "
		    "needs intel_iommu=on on the kernel command line (%s)",
		    where);
	}
	ADD("; iommu=pt is optional");
#undef ADD
}

bool vb_diag_no_iommu(const struct vb_root *root, char *message, size_t msize, char *hint,
		      size_t hsize)
{
	if (count_groups(root) > 0)
		return false;
	no_iommu_text(root, VB_IOMMU_NONE, "", message, msize, hint, hsize);
	return true;
}

static void read_units(const struct vb_root *root, struct vb_iommu_info *info, int *ecap_ir)
{
	char **names;
	size_t n, len = 0;

	*ecap_ir = -1;
	if (list_dir(root, "sys/class/iommu", NULL, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		enum vb_iommu_kind k = strncmp(names[i], "dmar", 4) == 0   ? VB_IOMMU_INTEL
				       : strncmp(names[i], "ivhd", 4) == 0 ? VB_IOMMU_AMD
									   : VB_IOMMU_OTHER;
		int w;

		if (info->kind == VB_IOMMU_NONE || info->kind == VB_IOMMU_OTHER)
			info->kind = k;
		w = snprintf(info->units + len, sizeof(info->units) - len, "%s%s", len ? " " : "",
			     names[i]);
		if (w > 0 && len + (size_t)w < sizeof(info->units))
			len += (size_t)w;
		if (k == VB_IOMMU_INTEL) {
			char buf[64];
			unsigned long long ecap;
			char *end;

			if (vb_read_filef(root, buf, sizeof(buf),
					  "sys/class/iommu/%s/intel-iommu/ecap", names[i]) > 0) {
				ecap = strtoull(buf, &end, 16);
				if (end != buf && (*ecap_ir != 0))
					*ecap_ir =
						(ecap >> 3) & 1; /* IR: every unit must have it */
			}
		}
	}
	free_names(names, n);
}

/* 1: "IR-" chips, 0: MSI without IR, -1: no evidence. */
static int interrupts_ir(const struct vb_root *root)
{
	char *buf = NULL;
	int r = -1;

	if (vb_read_all(root, "proc/interrupts", MAX_PROC_FILE, &buf, NULL) < 0)
		return -1;
	if (strstr(buf, " IR-"))
		r = 1;
	else if (strstr(buf, "PCI-MSI"))
		r = 0;
	free(buf);
	return r;
}

int vb_diag_iommu(const struct vb_root *root, struct vb_iommu_info *info, struct vb_findings *f)
{
	char cmdline[VB_CMDLINE_MAX] = "";
	int ecap_ir, ev, r;

	memset(info, 0, sizeof(*info));
	info->irq_remap = -1;
	info->n_groups = count_groups(root);
	read_units(root, info, &ecap_ir);
	(void)vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline));

	ev = interrupts_ir(root);
	if (ev >= 0) {
		info->irq_remap = ev;
		snprintf(info->irq_remap_how, sizeof(info->irq_remap_how), "%s",
			 ev ? "IR- interrupt chips in /proc/interrupts"
			    : "MSI interrupts without IR- in /proc/interrupts");
	} else if (vb_cmdline_has(cmdline, "intremap=off")) {
		info->irq_remap = 0;
		snprintf(info->irq_remap_how, sizeof(info->irq_remap_how),
			 "intremap=off on the kernel command line");
	} else if (info->kind == VB_IOMMU_INTEL && ecap_ir >= 0) {
		info->irq_remap = ecap_ir;
		snprintf(info->irq_remap_how, sizeof(info->irq_remap_how),
			 "IR bit of the VT-d extended capabilities (intel-iommu/ecap)");
	} else if (info->kind == VB_IOMMU_AMD) {
		info->irq_remap = 1;
		snprintf(info->irq_remap_how, sizeof(info->irq_remap_how),
			 "assumed: AMD-Vi includes interrupt remapping");
	}

	if (info->n_groups == 0) {
		char msg[512], hint[768];

		no_iommu_text(root, info->kind, info->units, msg, sizeof(msg), hint, sizeof(hint));
		return vb_findings_add(f, VB_LEVEL_ERROR, VB_F_NO_IOMMU, NULL, hint, "%s", msg);
	}
	if (info->irq_remap == 0) {
		r = vb_findings_add(
			f, VB_LEVEL_WARNING, VB_F_IRQ_REMAP, NULL,
			"enable interrupt remapping (x2APIC / \"Interrupt Remapping\" in the "
			"firmware setup) and do not boot with intremap=off; "
			"vfio_iommu_type1.allow_unsafe_interrupts=1 is the unsafe last resort",
			"interrupt remapping is off (%s): vfio refuses to attach devices to a VM "
			"unless unsafe interrupts are allowed",
			info->irq_remap_how);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Groups */

bool vb_driver_manages_dma(const char *driver, unsigned kver_num)
{
	if (!driver || !*driver)
		return true; /* unbound */
	if (strstr(driver, "vfio"))
		return true; /* vfio-pci and the variant drivers (mlx5_vfio_pci, ...) */
	if (modname_eq(driver, "pci-stub"))
		return true;
	if (strcmp(driver, "pcieport") == 0)
		return kver_num == 0 || kver_num >= 5019;
	return false;
}

static int cmp_blocker(const void *a, const void *b)
{
	return strcmp(((const struct vb_group_blocker *)a)->name,
		      ((const struct vb_group_blocker *)b)->name);
}

void vb_group_check_free(struct vb_group_check *gc)
{
	free(gc->blockers);
	memset(gc, 0, sizeof(*gc));
	gc->group = -1;
}

int vb_diag_group(const struct vb_root *root, struct vb_pci_list *list, const bool *is_target,
		  struct vb_pci_dev *d, unsigned kver_num, struct vb_group_check *gc)
{
	char path[128], **names;
	size_t n;
	int r;

	memset(gc, 0, sizeof(*gc));
	gc->group = -1;
	r = vb_pci_load_group(root, d);
	if (r < 0)
		return r;
	if (d->iommu_group < 0)
		return 0;
	gc->group = d->iommu_group;
	snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%d/devices", d->iommu_group);
	r = list_dir(root, path, NULL, &names, &n);
	if (r < 0)
		return r;
	gc->n_members = n;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct vb_group_blocker *nv;
		struct vb_pci_addr a;
		struct vb_pci_dev *m;

		if (vb_pci_addr_parse(names[i], &a) < 0)
			continue;
		m = vb_pci_find(list, &a);
		if (!m || m == d)
			continue;
		if (is_target && is_target[m - list->devs])
			continue;
		(void)vb_pci_load_header(root, m);
		if (!vb_pci_is_endpoint(m) || vb_driver_manages_dma(m->driver, kver_num))
			continue;
		nv = realloc(gc->blockers, (gc->n_blockers + 1) * sizeof(*nv));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		gc->blockers = nv;
		snprintf(nv[gc->n_blockers].name, sizeof(nv->name), "%s", m->name);
		snprintf(nv[gc->n_blockers].driver, sizeof(nv->driver), "%s", m->driver);
		gc->n_blockers++;
	}
	free_names(names, n);
	if (r < 0) {
		vb_group_check_free(gc);
		return r;
	}
	if (gc->n_blockers > 1)
		qsort(gc->blockers, gc->n_blockers, sizeof(*gc->blockers), cmp_blocker);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Modalias */

int vb_diag_modalias(const struct vb_root *root, const struct vb_pci_dev *d, char *buf, size_t size)
{
	char ue[2048];
	const char *p, *e;
	int r;

	r = vb_read_filef(root, buf, size, "sys/bus/pci/devices/%s/modalias", d->name);
	if (r > 0)
		return r;
	r = vb_read_filef(root, ue, sizeof(ue), "sys/bus/pci/devices/%s/uevent", d->name);
	if (r < 0)
		return r;
	for (p = ue; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "MODALIAS=", 9) == 0) {
			p += 9;
			e = strchr(p, '\n');
			r = e ? (int)(e - p) : (int)strlen(p);
			if ((size_t)r >= size)
				return -ENOBUFS;
			memcpy(buf, p, (size_t)r);
			buf[r] = 0;
			return r;
		}
	}
	return -ENOENT;
}

/* ------------------------------------------------------------------------ */
/* Boot display */

static const char *const fb_names[] = {
	"efifb", "simplefb", "simple-framebuffer", "simpledrm", "BOOTFB", "vesafb",
};

static bool is_fb_name(const char *name)
{
	for (size_t i = 0; i < sizeof(fb_names) / sizeof(fb_names[0]); i++)
		if (strncmp(name, fb_names[i], strlen(fb_names[i])) == 0)
			return true;
	return false;
}

int vb_diag_framebuffers(const struct vb_root *root, struct vb_fb_range **ret, size_t *n)
{
	struct vb_fb_range *v = NULL;
	char *buf = NULL, *line, *next;
	size_t k = 0;
	int r;

	*ret = NULL;
	*n = 0;
	r = vb_read_all(root, "proc/iomem", MAX_PROC_FILE, &buf, NULL);
	if (r < 0)
		return r;
	for (line = buf; line && *line; line = next) {
		unsigned long long start, end;
		char *p, *q, *name;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		p = line;
		while (*p == ' ')
			p++;
		start = strtoull(p, &q, 16);
		if (q == p || *q != '-')
			continue;
		p = q + 1;
		end = strtoull(p, &q, 16);
		if (q == p)
			continue;
		name = strstr(q, " : ");
		if (!name)
			continue;
		name += 3;
		if (!is_fb_name(name) || (start == 0 && end == 0) || end < start)
			continue;
		struct vb_fb_range *nv = realloc(v, (k + 1) * sizeof(*nv));
		if (!nv) {
			free(v);
			free(buf);
			return -ENOMEM;
		}
		v = nv;
		v[k].start = start;
		v[k].end = end;
		snprintf(v[k].name, sizeof(v[k].name), "%s", name);
		k++;
	}
	free(buf);
	*ret = v;
	*n = k;
	return 0;
}

#define IORESOURCE_IO 0x100ull

int vb_diag_boot_display(const struct vb_root *root, struct vb_pci_dev *d, unsigned kver_num,
			 const struct vb_fb_range *fbs, size_t n_fbs, struct vb_findings *f)
{
	bool vga = (d->class >> 8) == 0x0300;
	bool kernel_handles = vga && kver_num >= 6000;
	char path[128], *buf = NULL, *line, *next;
	int r, idx;

	(void)vb_pci_load_boot_vga(root, d);
	if (d->boot_vga == 1) {
		r = vb_findings_add(
			f, VB_LEVEL_WARNING, VB_F_BOOT_VGA, d->name,
			kernel_handles
				? "keep another way in (ssh, serial console); vfio-bind=off on the "
				  "kernel command line gives the GPU back for one boot; kernel "
				  "6.0+ "
				  "vfio-pci removes the firmware framebuffer of a VGA device "
				  "itself, "
				  "older kernels need video=efifb:off or "
				  "initcall_blacklist=sysfb_init"
				: "boot with video=efifb:off or initcall_blacklist=sysfb_init so "
				  "no "
				  "firmware framebuffer holds its memory (kernel 6.0+ vfio-pci "
				  "does "
				  "that itself for VGA devices); keep another way in (ssh, serial "
				  "console); vfio-bind=off on the kernel command line gives the "
				  "GPU "
				  "back for one boot",
			"%s is the boot display (boot_vga=1): the firmware console draws on it, "
			"and the host has no local display once vfio-pci takes it",
			d->name);
		if (r < 0)
			return r;
	}
	if (n_fbs == 0)
		return 0;
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/resource", d->name);
	if (vb_read_all(root, path, 64 * 1024, &buf, NULL) < 0)
		return 0; /* no resource file: nothing to compare */
	for (line = buf, idx = 0; line && *line; line = next, idx++) {
		unsigned long long start, end, flags;
		char bar[32];

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
			continue;
		if ((start == 0 && end == 0) || end < start || (flags & IORESOURCE_IO))
			continue;
		if (idx < 6)
			snprintf(bar, sizeof(bar), "BAR %d", idx);
		else if (idx == 6)
			snprintf(bar, sizeof(bar), "ROM");
		else
			snprintf(bar, sizeof(bar), "resource %d", idx);
		for (size_t i = 0; i < n_fbs; i++) {
			if (start > fbs[i].end || fbs[i].start > end)
				continue;
			r = vb_findings_add(
				f, kernel_handles ? VB_LEVEL_NOTE : VB_LEVEL_WARNING,
				VB_F_FRAMEBUFFER, d->name,
				kernel_handles
					? "nothing to do on this kernel; on older ones boot with "
					  "video=efifb:off or initcall_blacklist=sysfb_init"
					: "boot with video=efifb:off or "
					  "initcall_blacklist=sysfb_init "
					  "(kernel 6.0+ vfio-pci removes the framebuffer of a "
					  "VGA-class device itself)",
				"%s of %s (0x%llx-0x%llx) overlaps the firmware framebuffer %s "
				"(0x%llx-0x%llx in /proc/iomem): %s",
				bar, d->name, start, end, fbs[i].name,
				(unsigned long long)fbs[i].start, (unsigned long long)fbs[i].end,
				kernel_handles ? "vfio-pci removes the framebuffer when it binds"
					       : "vfio-pci cannot reserve it (\"can't reserve\") "
						 "and the guest gets no display");
			free(buf);
			return r; /* one finding per device */
		}
	}
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Configuration file safety */

static void config_label(const struct vb_root *root, const char *path, char *buf, size_t size)
{
	if (path)
		snprintf(buf, size, "%s", path);
	else if (root->is_host)
		snprintf(buf, size, "/%s", VB_DEFAULT_CONFIG);
	else
		snprintf(buf, size, "%s%s%s", root->path,
			 root->path[strlen(root->path) - 1] == '/' ? "" : "/", VB_DEFAULT_CONFIG);
}

int vb_config_check_perms(const struct vb_root *root, const char *path, char *msg, size_t size,
			  struct vb_config_perm *perm)
{
	char file[VB_LOCATION_MAX], why[256];
	struct stat st, rst;
	size_t len = 0;
	bool owner_ok;
	int r;

	if (size)
		msg[0] = 0;
	config_label(root, path, file, sizeof(file));
	/* an explicit path is on the running system, as vb_job_load_config reads it */
	r = path ? (stat(path, &st) < 0 ? -errno : 0) : vb_stat(root, VB_DEFAULT_CONFIG, &st, true);
	if (r < 0)
		return r;
	owner_ok = st.st_uid == 0 ||
		   (!root->is_host && fstat(root->fd, &rst) == 0 && st.st_uid == rst.st_uid);
	why[0] = 0;
#define WHY(s)                                                                                     \
	do {                                                                                       \
		int k_ = snprintf(why + len, sizeof(why) - len, "%s%s", len ? ", " : "", s);       \
		if (k_ > 0 && len + (size_t)k_ < sizeof(why))                                      \
			len += (size_t)k_;                                                         \
	} while (0)
	if (!S_ISREG(st.st_mode))
		WHY("it is not a regular file");
	if (!owner_ok) {
		char o[64];
		snprintf(o, sizeof(o), "it is owned by uid %u, not root", (unsigned)st.st_uid);
		WHY(o);
	}
	if (st.st_mode & S_IWGRP)
		WHY("its group can write it");
	if (st.st_mode & S_IWOTH)
		WHY("everyone can write it");
#undef WHY
	if (perm) {
		snprintf(perm->file, sizeof(perm->file), "%s", file);
		perm->uid = (unsigned)st.st_uid;
		perm->mode = (unsigned)st.st_mode;
		perm->safe = len == 0;
		snprintf(perm->why, sizeof(perm->why), "%s", why);
	}
	if (len == 0)
		return 0;
	snprintf(msg, size,
		 "%s is unsafe: %s; whoever can change it decides at boot which devices the host "
		 "loses\n  hint: chown root:root %s; chmod 644 %s",
		 file, why, file, file);
	return -EPERM;
}

/* ------------------------------------------------------------------------ */
/* Stale configuration */

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

struct stale_ctx {
	const struct vb_root *root;
	const char *const *drivers;
	size_t n_drivers;
	struct vb_stale_list *list;
	struct vb_findings *f;
	struct {
		dev_t dev;
		ino_t ino;
	} seen[256];
	size_t n_seen;
};

static int stale_add(struct stale_ctx *c, const char *file, unsigned line, const char *text,
		     const char *why, const char *hint)
{
	struct vb_stale *nv, *s;
	char where[4300];

	nv = realloc(c->list->v, (c->list->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	c->list->v = nv;
	s = &nv[c->list->n];
	s->line = line;
	s->file = strdup(file);
	s->text = strdup(text);
	s->why = strdup(why);
	if (!s->file || !s->text || !s->why) {
		free(s->file);
		free(s->text);
		free(s->why);
		return -ENOMEM;
	}
	c->list->n++;
	if (line)
		snprintf(where, sizeof(where), "%s:%u", file, line);
	else
		snprintf(where, sizeof(where), "%s", file);
	return vb_findings_add(c->f, VB_LEVEL_WARNING, VB_F_STALE, NULL, hint, "%s: %s: %s", where,
			       text, why);
}

static bool is_target_driver(const struct stale_ctx *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n_drivers; i++)
		if (c->drivers[i] && modname_eqn(name, len, c->drivers[i]))
			return true;
	return false;
}

static const char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

#define HINT_MODPROBE "delete the line, then update-initramfs -u"
#define HINT_CMDLINE                                                                               \
	"remove it from the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then "   \
	"update-grub; or /etc/kernel/cmdline)"

/* One kernel command line word: vfio-pci.ids=, pci-stub.ids=,
 * modprobe.blacklist= / module_blacklist= naming a target driver. */
static int stale_cmdline_word(struct stale_ctx *c, const char *file, unsigned line,
			      const char *word)
{
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);

	if (!eq)
		return 0;
	if (modname_eqn(word, klen, "vfio_pci.ids") || modname_eqn(word, klen, "pci_stub.ids"))
		return stale_add(c, file, line, word,
				 "made unnecessary by vfio-bind: it binds the selected devices "
				 "itself (ids= takes every device with these IDs)",
				 HINT_CMDLINE);
	if (modname_eqn(word, klen, "modprobe.blacklist") ||
	    modname_eqn(word, klen, "module_blacklist")) {
		for (const char *p = eq + 1; *p;) {
			size_t n = strcspn(p, ",");
			if (is_target_driver(c, p, n))
				return stale_add(c, file, line, word,
						 "made unnecessary by vfio-bind: it takes the "
						 "target devices from their driver itself; the "
						 "blacklist also keeps the driver from every other "
						 "device",
						 HINT_CMDLINE);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	return 0;
}

static int stale_cmdline(struct stale_ctx *c, const char *file, unsigned line, char *s)
{
	char *w[256];
	size_t n = vb_split_words(s, w, 256);
	int r;

	for (size_t i = 0; i < n; i++) {
		/* GRUB_CMDLINE_LINUX="quiet vfio-pci.ids=..." : strip the quotes */
		char *word = w[i];
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
		r = stale_cmdline_word(c, file, line, word);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One modprobe.d line (comments already dropped). */
static int stale_modprobe_line(struct stale_ctx *c, const char *file, unsigned line,
			       const char *text, char *s)
{
	char *w[64];
	size_t n = vb_split_words(s, w, 64);

	if (n < 2)
		return 0;
	if (strcmp(w[0], "options") == 0 &&
	    (modname_eq(w[1], "vfio_pci") || modname_eq(w[1], "pci_stub"))) {
		for (size_t i = 2; i < n; i++)
			if (strncmp(w[i], "ids=", 4) == 0)
				return stale_add(c, file, line, text,
						 "made unnecessary by vfio-bind: it binds the "
						 "selected devices itself (ids= takes every device "
						 "with these IDs)",
						 HINT_MODPROBE);
		return 0;
	}
	if (strcmp(w[0], "blacklist") == 0 && is_target_driver(c, w[1], strlen(w[1])))
		return stale_add(c, file, line, text,
				 "made unnecessary by vfio-bind: it takes the target devices from "
				 "this driver itself; the blacklist also keeps the driver from "
				 "every other device",
				 HINT_MODPROBE);
	if (strcmp(w[0], "softdep") == 0) {
		bool pre = false;

		for (size_t i = 2; i < n; i++) {
			if (strcmp(w[i], "pre:") == 0)
				pre = true;
			else if (strcmp(w[i], "post:") == 0)
				pre = false;
			else if (pre && modname_eq(w[i], "vfio_pci"))
				return stale_add(c, file, line, text,
						 "made unnecessary by vfio-bind: it loads "
						 "vfio-pci itself before binding",
						 HINT_MODPROBE);
		}
	}
	return 0;
}

/* etc/initramfs-tools/modules: "vfio_pci ids=..." and the vfio module list. */
static int stale_initramfs_modules_line(struct stale_ctx *c, const char *file, unsigned line,
					const char *text, char *s)
{
	static const char *const vfio_mods[] = {
		"vfio", "vfio_pci", "vfio_iommu_type1", "vfio_virqfd", "vfio_pci_core",
	};
	char *w[64];
	size_t n = vb_split_words(s, w, 64);

	if (n == 0)
		return 0;
	for (size_t i = 0; i < sizeof(vfio_mods) / sizeof(vfio_mods[0]); i++)
		if (modname_eq(w[0], vfio_mods[i]))
			return stale_add(c, file, line, text,
					 "made unnecessary by vfio-bind: its hook adds the vfio "
					 "modules this kernel needs (vfio_virqfd no longer exists "
					 "since 6.2)",
					 "delete the line, then update-initramfs -u");
	return 0;
}

enum file_kind { FK_MODPROBE, FK_INITRAMFS_MODULES, FK_GRUB, FK_CMDLINE_FILE };

static bool already_seen(struct stale_ctx *c, const char *relpath)
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

static int stale_file(struct stale_ctx *c, const char *relpath, enum file_kind kind)
{
	char *buf = NULL, *line, *next, shown[4200];
	unsigned no = 0;
	int r = 0;

	if (already_seen(c, relpath))
		return 0;
	if (vb_read_all(c->root, relpath, MAX_CONF_FILE, &buf, NULL) < 0)
		return 0; /* unreadable: nothing to report */
	snprintf(shown, sizeof(shown), "/%s", relpath);
	for (line = buf; line && *line && r == 0; line = next) {
		char copy[4096], work[4096];
		const char *text;

		no++;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		snprintf(copy, sizeof(copy), "%s", line);
		text = trim(copy);
		if (!*text || *text == '#')
			continue;
		snprintf(work, sizeof(work), "%s", text);
		switch (kind) {
		case FK_MODPROBE:
			r = stale_modprobe_line(c, shown, no, text, work);
			break;
		case FK_INITRAMFS_MODULES:
			r = stale_initramfs_modules_line(c, shown, no, text, work);
			break;
		case FK_GRUB:
			if (strncmp(text, "GRUB_CMDLINE_LINUX", 18) == 0)
				r = stale_cmdline(c, shown, no, work);
			break;
		case FK_CMDLINE_FILE:
			r = stale_cmdline(c, shown, no, work);
			break;
		}
	}
	free(buf);
	return r;
}

int vb_diag_stale(const struct vb_root *root, const char *const *drivers, size_t n_drivers,
		  struct vb_stale_list *list, struct vb_findings *f)
{
	static const char *const dirs[] = {
		"etc/modprobe.d",
		"run/modprobe.d",
		"lib/modprobe.d",
		"usr/lib/modprobe.d",
	};
	struct stale_ctx *c;
	char cmdline[4096];
	int r = 0;

	memset(list, 0, sizeof(*list));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->root = root;
	c->drivers = drivers;
	c->n_drivers = n_drivers;
	c->list = list;
	c->f = f;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && r == 0; i++) {
		char **names, path[4200];
		size_t n;

		if (list_dir(root, dirs[i], ".conf", &names, &n) < 0)
			continue;
		for (size_t k = 0; k < n && r == 0; k++) {
			snprintf(path, sizeof(path), "%s/%s", dirs[i], names[k]);
			r = stale_file(c, path, FK_MODPROBE);
		}
		free_names(names, n);
	}
	if (r == 0)
		r = stale_file(c, "etc/initramfs-tools/modules", FK_INITRAMFS_MODULES);
	if (r == 0)
		r = stale_file(c, "etc/default/grub", FK_GRUB);
	if (r == 0)
		r = stale_file(c, "etc/kernel/cmdline", FK_CMDLINE_FILE);
	if (r == 0 && vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline)) > 0)
		r = stale_cmdline(c, "kernel command line (/proc/cmdline)", 0, cmdline);
	free(c);
	if (r < 0)
		vb_stale_list_free(list);
	return r;
}
