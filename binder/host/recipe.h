/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The old passthrough recipe: the lines an admin wrote before vfio-bind to
 * hand devices to vfio-pci, found under the root. One scanner, two users:
 * `doctor` reports them as leftovers (vb_diag_stale), `vfio-bind import`
 * turns them into rules and comments them out.
 *
 * Sources, in the order they are read (each file once, even through a
 * symlinked /lib):
 *  - modprobe.d (etc, run, usr/lib, lib; *.conf, sorted): `options vfio-pci
 *    ids=`, `options pci-stub ids=`, `alias PATTERN vfio-pci`, `blacklist M`,
 *    `softdep M pre: ... vfio-pci`;
 *  - module lists: etc/modules and modules-load.d (etc, run, usr/lib, lib;
 *    *.conf), etc/initramfs-tools/modules: the vfio modules (a
 *    `vfio_pci ids=` line of initramfs-tools carries ids too);
 *  - kernel command lines: GRUB_CMDLINE_LINUX(_DEFAULT) in etc/default/grub
 *    and etc/default/grub.d/\*.cfg, etc/kernel/cmdline, proc/cmdline:
 *    vfio-pci.ids=, pci-stub.ids=, modprobe.blacklist=, module_blacklist=.
 * Comments (# and, in module lists, ;) are skipped.
 */

#include <stdbool.h>
#include <stddef.h>

#include "diagnose.h"
#include "root.h"

enum vb_recipe_kind {
	VB_RECIPE_IDS,       /* vfio-pci ids (options line or command line word) */
	VB_RECIPE_STUB_IDS,  /* pci-stub ids */
	VB_RECIPE_ALIAS,     /* alias PATTERN vfio-pci */
	VB_RECIPE_BLACKLIST, /* blacklist M, modprobe.blacklist=, module_blacklist= */
	VB_RECIPE_SOFTDEP,   /* softdep M pre: vfio-pci */
	VB_RECIPE_MODULE,    /* a vfio module in a module list */
};

enum vb_recipe_src {
	VB_SRC_MODPROBE,
	VB_SRC_MODULES_LOAD, /* etc/modules, modules-load.d */
	VB_SRC_INITRAMFS_MODULES,
	VB_SRC_GRUB, /* etc/default/grub, etc/default/grub.d/\*.cfg */
	VB_SRC_KERNEL_CMDLINE,
	VB_SRC_PROC_CMDLINE,
};

struct vb_recipe_item {
	enum vb_recipe_kind kind;
	enum vb_recipe_src src;
	char *relpath; /* the file under the root; "proc/cmdline" for the running one */
	char *file;    /* as shown: "/etc/modprobe.d/vfio.conf" */
	unsigned line; /* 1-based; 0 for the running command line */
	char *text;    /* the trimmed line; the word on command lines */
	char *value;   /* ids list, alias pattern, module list (,), softdep's module */
	char *ids;     /* vfio-pci ids this item passes ("10de:2204,10de:1aef"), or NULL */
};

struct vb_recipe {
	struct vb_recipe_item *v;
	size_t n;
};

/* Scans the root. rec is initialised here. 0 or -ENOMEM. */
int vb_recipe_scan(const struct vb_root *root, struct vb_recipe *rec);
void vb_recipe_free(struct vb_recipe *rec);

/* Does the comma-separated module list contain `name` ('-' equals '_')? */
bool vb_modlist_has(const char *list, const char *name);

/* One entry of a vfio-pci ids= list: VENDOR:DEVICE[:SUBVENDOR[:SUBDEVICE[:CLASS[:MASK]]]],
 * hex, missing fields match anything (PCI_ANY_ID); as vfio-pci parses it. */
struct vb_pci_id_match {
	unsigned vendor, device, subvendor, subdevice; /* 0xffffffff: any */
	unsigned class, class_mask;
};
/* Parses one entry ("10de:2204"); -EINVAL when vfio-pci would reject it. */
int vb_pci_id_match_parse(const char *s, size_t len, struct vb_pci_id_match *m);
bool vb_pci_id_matches(const struct vb_pci_id_match *m, const struct vb_pci_dev *d);

/* ------------------------------------------------------------------------ */
/* Leftovers, for doctor */

struct vb_stale {
	char *file;    /* "/etc/modprobe.d/vfio.conf", "kernel command line (/proc/cmdline)" */
	unsigned line; /* 1-based; 0 for the running command line */
	char *text;    /* the line or word, trimmed */
	char *why;
};

struct vb_stale_list {
	struct vb_stale *v;
	size_t n;
};

/*
 * The recipe's lines that vfio-bind makes unnecessary: ids, aliases,
 * softdeps, vfio modules, and blacklists of `drivers` (the drivers of the
 * targets). Each is reported (list and VB_F_STALE warning) with its fix:
 * `vfio-bind import` for module and modprobe lines, the command line's file
 * and its boot loader's refresh for command line words. list is
 * initialised here. 0 or -ENOMEM.
 */
int vb_diag_stale(const struct vb_root *root, const char *const *drivers, size_t n_drivers,
		  struct vb_stale_list *list, struct vb_diags *f);
void vb_stale_list_free(struct vb_stale_list *list);

/* ------------------------------------------------------------------------ */
/* Files vfio-bind changes for the admin (iommu --apply, import --write) */

#define VB_STATE_DIR "var/lib/vfio-bind"
#define VB_BACKUP_DIR VB_STATE_DIR "/backup" /* RELPATH's backup: VB_BACKUP_DIR "/" RELPATH */
#define VB_RECIPE_LINE_MAX 4096              /* a recipe line is matched on its first 4095 bytes */

/* Copies relpath to VB_BACKUP_DIR/RELPATH (kept if already there: the
 * first backup is the admin's original). 0 or -errno. */
int vb_backup_file(const struct vb_root *root, const char *relpath);
/* Replaces relpath atomically (temporary file, fsync, rename) with buf,
 * keeping the mode of the file it replaces (mode for a new one). Missing
 * parent directories are created (0755). 0 or -errno. */
int vb_replace_file(const struct vb_root *root, const char *relpath, const char *buf, size_t len,
		    unsigned mode);
