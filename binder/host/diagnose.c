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

#include "boot.h"
#include "cmdline.h"
#include "diagnose.h"
#include "job.h"
#include "util.h"

#define MAX_PROC_FILE (4u << 20) /* proc/interrupts, proc/iomem */
#define MAX_CONF_FILE (1u << 20) /* modprobe.d files, grub defaults */

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
int vb_diag_list_dir(const struct vb_root *root, const char *relpath, const char *suffix,
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

void vb_diag_free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Module names compare with '-' and '_' the same. */
bool vb_modname_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

bool vb_modname_eqn(const char *a, size_t alen, const char *b)
{
	char buf[128];

	if (alen >= sizeof(buf))
		return false;
	memcpy(buf, a, alen);
	buf[alen] = 0;
	return vb_modname_eq(buf, b);
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

	if (vb_diag_list_dir(root, "sys/kernel/iommu_groups", NULL, &names, &n) < 0)
		return 0;
	vb_diag_free_names(names, n);
	return (unsigned)n;
}

/* "GenuineIntel" / "AuthenticAMD" from proc/cpuinfo: 'I', 'A' or 0. */
char vb_cpu_vendor(const struct vb_root *root)
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
	char vendor = vb_cpu_vendor(root);
	const char *off = NULL;
	char where[1024];
	struct vb_boot boot;
	size_t len = 0;

	vb_boot_detect(root, NULL, &boot);
	snprintf(where, sizeof(where), "%s, then %s", boot.cmdline_where, boot.refresh);
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
			ADD(" and, before kernel 6.8 (unless the kernel's config turns VT-d on by "
			    "default, as Debian's does), add intel_iommu=on to the kernel command "
			    "line: vfio-bind iommu says whether this kernel needs it, vfio-bind "
			    "iommu --apply writes it (%s)",
			    where);
		else
			ADD(" (intel_iommu=on is already set)");
	} else if (vendor == 'A' || (vendor == 0 && kind == VB_IOMMU_AMD)) {
		ADD("enable the IOMMU (AMD-Vi, usually called \"IOMMU\") in the firmware setup; "
		    "the kernel turns AMD-Vi on by default, amd_iommu=on is not needed");
	} else if (vb_cmdline_has(cmdline, "intel_iommu=on")) {
		ADD("enable VT-d (Intel) or the IOMMU (AMD-Vi) in the firmware setup "
		    "(intel_iommu=on is already set)");
	} else {
		ADD("enable VT-d (Intel) or the IOMMU (AMD-Vi) in the firmware setup; Intel "
		    "before kernel 6.8 also needs intel_iommu=on on the kernel command line "
		    "(vfio-bind iommu --apply; %s)",
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
	if (vb_diag_list_dir(root, "sys/class/iommu", NULL, &names, &n) < 0)
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
	vb_diag_free_names(names, n);
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

int vb_diag_iommu(const struct vb_root *root, struct vb_iommu_info *info, struct vb_diags *f)
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
		return vb_diags_add(f, VB_SEV_ERROR, VB_F_NO_IOMMU, NULL, 0, 0, NULL, hint, "%s",
				    msg);
	}
	if (info->irq_remap == 0) {
		r = vb_diags_add(
			f, VB_SEV_WARNING, VB_F_IRQ_REMAP, NULL, 0, 0, NULL,
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
	if (vb_modname_eq(driver, "pci-stub"))
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
	r = vb_path_join(path, sizeof(path), "sys/kernel/iommu_groups/%d/devices", d->iommu_group);
	if (r < 0)
		return r;
	r = vb_diag_list_dir(root, path, NULL, &names, &n);
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
	vb_diag_free_names(names, n);
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
			 const struct vb_fb_range *fbs, size_t n_fbs, struct vb_diags *f)
{
	bool vga = (d->class >> 8) == 0x0300;
	bool kernel_handles = vga && kver_num >= 6000;
	char path[128], *buf = NULL, *line, *next;
	int r, idx;

	(void)vb_pci_load_boot_vga(root, d);
	if (d->boot_vga == 1) {
		r = vb_diags_add(
			f, VB_SEV_WARNING, VB_F_BOOT_VGA, NULL, 0, 0, d->name,
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
	if (vb_path_join(path, sizeof(path), "sys/bus/pci/devices/%s/resource", d->name) < 0 ||
	    vb_read_all(root, path, 64 * 1024, &buf, NULL) < 0)
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
			r = vb_diags_add(
				f, kernel_handles ? VB_SEV_NOTE : VB_SEV_WARNING, VB_F_FRAMEBUFFER,
				NULL, 0, 0, d->name,
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
