/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Diagnostics: will passthrough of the selected devices work on this machine,
 * and if not, what to change. Everything is read under the root (a fake tree
 * in the tests), nothing is written. Each check appends findings (an error, a
 * warning or a note, each with the fix) to a list; `vfio-bind doctor` prints
 * them, plan and apply use the IOMMU summary, and check/plan/apply the config
 * permission check. Host only (libkmod through kmod.h).
 *
 * Heuristics, documented here once:
 *  - Interrupt remapping: "IR-" interrupt chips in proc/interrupts mean on;
 *    MSI interrupts without "IR-" mean off. Without that evidence: Intel
 *    (sys/class/iommu/dmar*) uses bit 3 (IR) of intel-iommu/ecap, which says
 *    the hardware supports it; AMD-Vi (ivhd*) always has it. intremap=off on
 *    the command line means off.
 *  - Group viability follows the 5.19+ kernel rule (every endpoint of the
 *    group unbound or on a driver_managed_dma driver: vfio-pci and vfio
 *    variants, pci-stub, pcieport). For a target kernel known to be older,
 *    pcieport does not count (vfio then accepted only vfio, pci-stub and
 *    non-normal headers). Bridges never count. Unbound endpoints pass: the
 *    check is about the drivers holding devices now.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pci.h"
#include "plan.h"
#include "root.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* Findings */

/* The checks add their findings to a struct vb_diags (diag.h): the severity,
 * a code (VB_F_*), the device it is about ("" for the machine), the message
 * and the fix as hint. */

/* Finding codes (struct vb_diag code, JSON "code", tests). */
#define VB_F_NO_IOMMU "no-iommu"              /* error: no IOMMU group at all */
#define VB_F_IRQ_REMAP "interrupt-remapping"  /* warning: off */
#define VB_F_CONFIG "config"                  /* error: the config has errors */
#define VB_F_CONFIG_PERM "config-permissions" /* error: owner/mode unsafe */
#define VB_F_NO_TARGETS "no-targets"          /* warning: nothing selected */
#define VB_F_KERNEL "kernel"                  /* release or modules unknown */
#define VB_F_NO_VFIO "no-vfio-pci"            /* error: kernel lacks vfio-pci */
#define VB_F_REFUSED "refused"                /* error: the plan refuses a device */
#define VB_F_GROUP "group-not-viable"         /* error: host driver in the group */
#define VB_F_BUILTIN "builtin-driver"         /* note: claimed before the initramfs */
#define VB_F_BOOT_VGA "boot-vga"              /* warning */
#define VB_F_FRAMEBUFFER "framebuffer"        /* warning (note on 6.0+ for VGA) */
#define VB_F_STALE "stale-config"             /* warning: modprobe.d, cmdline... */
#define VB_F_INITRAMFS "initramfs"            /* error/warning: image out of date */
#define VB_F_SNAPSHOT "snapshot"              /* warning: the image's hardware snapshot */
#define VB_F_IR_SKIPPED "initramfs-skipped"   /* error: the hook left vfio-bind out */
#define VB_F_CMDLINE_OFF "vfio-bind-off"      /* warning: vfio-bind=off this boot */
#define VB_F_MAPPINGS "mappings"              /* warning: the image's Proxmox mappings are old */
#define VB_F_VM "vm"                          /* note: a Proxmox VM uses the device */

/* ------------------------------------------------------------------------ */
/* Kernel release */

/* "6.1.0-18-amd64" -> 6001 (major * 1000 + minor); 0 when unparsable. */
unsigned vb_kver_num(const char *release);

/* ------------------------------------------------------------------------ */
/* IOMMU */

enum vb_iommu_kind {
	VB_IOMMU_NONE,  /* no sys/class/iommu entry */
	VB_IOMMU_INTEL, /* dmar* */
	VB_IOMMU_AMD,   /* ivhd* */
	VB_IOMMU_OTHER,
};
const char *vb_iommu_kind_name(enum vb_iommu_kind k); /* "Intel VT-d", "AMD-Vi", "other", "none" */

struct vb_iommu_info {
	unsigned n_groups; /* directories in sys/kernel/iommu_groups */
	enum vb_iommu_kind kind;
	char units[256];        /* sys/class/iommu entries: "dmar0 dmar1" */
	int irq_remap;          /* 1 on, 0 off, -1 unknown */
	char irq_remap_how[96]; /* the evidence, for the report */
};

/* Fills info. Adds VB_F_NO_IOMMU (once, with the firmware and command line
 * fix) when there is no group, VB_F_IRQ_REMAP when remapping is off. 0 or
 * -ENOMEM. */
int vb_diag_iommu(const struct vb_root *root, struct vb_iommu_info *info, struct vb_diags *f);
/* For plan/apply: true when the root has no IOMMU group at all; message and
 * hint (either may be NULL) receive the summary and the fix. */
bool vb_diag_no_iommu(const struct vb_root *root, char *message, size_t msize, char *hint,
		      size_t hsize);

/* ------------------------------------------------------------------------ */
/* IOMMU group viability */

struct vb_group_blocker {
	char name[VB_PCI_NAME_MAX];
	char driver[VB_DRIVER_MAX];
};

struct vb_group_check {
	int group;        /* -1: the device has no group */
	size_t n_members; /* devices of the group, the device itself included */
	struct vb_group_blocker *blockers;
	size_t n_blockers;
};

/* Does this driver satisfy the group rule (driver_managed_dma)? kver_num 0:
 * the 5.19+ rule. */
bool vb_driver_manages_dma(const char *driver, unsigned kver_num);

/* Endpoints of d's group that are not targets (is_target parallel to
 * list->devs; NULL: only d) and stay on a driver that breaks the group.
 * Group members that are not in the list (non-PCI) are ignored. gc is
 * initialised here; free it whatever the return. 0 or -errno. */
int vb_diag_group(const struct vb_root *root, struct vb_pci_list *list, const bool *is_target,
		  struct vb_pci_dev *d, unsigned kver_num, struct vb_group_check *gc);
void vb_group_check_free(struct vb_group_check *gc);

/* ------------------------------------------------------------------------ */
/* The driver the target kernel would bind */

/* MODALIAS of the device ("pci:v000010DEd..."): the modalias attribute, else
 * uevent's MODALIAS= line. Length or -errno. */
int vb_diag_modalias(const struct vb_root *root, const struct vb_pci_dev *d, char *buf,
		     size_t size);

/* ------------------------------------------------------------------------ */
/* Boot display */

struct vb_fb_range {
	uint64_t start, end; /* inclusive, as proc/iomem prints */
	char name[32];
};

/* Firmware framebuffer ranges of proc/iomem (efifb, simplefb,
 * simple-framebuffer, simpledrm, BOOTFB, vesafb; any nesting). Ranges read
 * as 0-0 (proc/iomem for non-root) are skipped. *ret malloc'ed (NULL when
 * none). 0, -ENOENT when proc/iomem is missing, -errno. */
int vb_diag_framebuffers(const struct vb_root *root, struct vb_fb_range **ret, size_t *n);

/* Warns (VB_F_BOOT_VGA) when d is the boot display and (VB_F_FRAMEBUFFER) when
 * one of its memory BARs (sys/bus/pci/devices/X/resource) overlaps one of
 * fbs. kver_num selects the wording (6.0+ handles VGA-class devices). 0 or
 * -ENOMEM. */
int vb_diag_boot_display(const struct vb_root *root, struct vb_pci_dev *d, unsigned kver_num,
			 const struct vb_fb_range *fbs, size_t n_fbs, struct vb_diags *f);

/* ------------------------------------------------------------------------ */
/* Configuration file safety */

struct vb_config_perm {
	char file[VB_LOCATION_MAX]; /* as shown in messages */
	unsigned uid;
	unsigned mode; /* st_mode */
	bool safe;
	char why[256]; /* "its group can write it", ... ("" when safe) */
};

/*
 * The config runs as root at boot: it must be a regular file owned by uid 0
 * and not writable by group or others. Under a root other than "/", the
 * owner of the root directory is accepted too, so trees prepared by an
 * unprivileged user work. path NULL: etc/vfio-bind.conf under the root; else
 * a path on the running system. Returns 0 when safe, -EPERM when not (msg
 * says why, then "\n  hint: " and the fix: chown root:root FILE; chmod 644
 * FILE), -ENOENT when missing, other -errno. perm (may be NULL) is filled
 * for 0 and -EPERM.
 */
int vb_config_check_perms(const struct vb_root *root, const char *path, char *msg, size_t size,
			  struct vb_config_perm *perm);

/* ------------------------------------------------------------------------ */
/* Helpers shared with recipe.c */

/* Sorted names of a directory under the root (no dot entries); suffix: only
 * names ending with it. *ret NULL and *n 0 when unreadable (-errno). */
int vb_diag_list_dir(const struct vb_root *root, const char *relpath, const char *suffix,
		     char ***ret, size_t *n);
void vb_diag_free_names(char **v, size_t n);
/* Module names compare with '-' and '_' the same. */
bool vb_modname_eq(const char *a, const char *b);
bool vb_modname_eqn(const char *a, size_t alen, const char *b);
/* "GenuineIntel" / "AuthenticAMD" (or Hygon) in proc/cpuinfo: 'I', 'A' or 0. */
char vb_cpu_vendor(const struct vb_root *root);

/* The stale-recipe scanner (vb_diag_stale) is in recipe.h. */
