/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The boot loader and the kernel command line it boots with: which one is
 * in use under the root, where its command line lives, how it is refreshed,
 * and the IOMMU words this CPU and kernel need. `vfio-bind iommu` and
 * `vfio-bind import` change the command line only through here.
 *
 * Detection, first match wins:
 *  1. etc/kernel/proxmox-boot-uuids: Proxmox's proxmox-boot-tool; with
 *     etc/kernel/cmdline it boots systemd-boot from that file, otherwise
 *     GRUB from etc/default/grub; refreshed by `proxmox-boot-tool refresh`.
 *  2. etc/default/grub: GRUB; refreshed by `update-grub`.
 *  3. etc/kernel/cmdline: systemd-boot through kernel-install; refreshed by
 *     `kernel-install add KVER /boot/vmlinuz-KVER`.
 * GRUB's command line is changed by a drop-in (etc/default/grub.d/
 * vfio-bind.cfg, sourced after the admin's file), never the admin's file;
 * etc/kernel/cmdline is edited in place (backup in var/lib/vfio-bind).
 */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

enum vb_boot_kind {
	VB_BOOTL_UNKNOWN,
	VB_BOOTL_GRUB,
	VB_BOOTL_PVE_SDBOOT, /* proxmox-boot-tool, systemd-boot, etc/kernel/cmdline */
	VB_BOOTL_PVE_GRUB,   /* proxmox-boot-tool, GRUB, etc/default/grub */
	VB_BOOTL_KERNEL_INSTALL,
};

#define VB_GRUB_DROPIN "etc/default/grub.d/vfio-bind.cfg"

struct vb_boot {
	enum vb_boot_kind kind;
	const char *name;        /* "GRUB", "proxmox-boot-tool (systemd-boot)", ... */
	bool grub;               /* the command line is GRUB's */
	char cmdline_where[256]; /* "GRUB_CMDLINE_LINUX in /etc/default/grub", ... */
	char refresh[512];       /* the refresh command, as shown */
	char *refresh_argv[8];   /* the same, to run (pointers into argv_buf) */
	char argv_buf[512];
};

/* kver names the kernel kernel-install refreshes (NULL: "$(uname -r)"). */
void vb_boot_detect(const struct vb_root *root, const char *kver, struct vb_boot *b);

/* Runs b's refresh command when the root is "/"; under another root prints
 * what would run instead (stdout; with json a notice, and the command's own
 * output goes to stderr). 1 when it ran, 0 when not, or -errno / the
 * command's failure as -ECHILD (logged). */
int vb_boot_refresh(const struct vb_root *root, const struct vb_boot *b, bool json);

/* Removes every occurrence of `word` from etc/kernel/cmdline (backup kept).
 * 0 when changed, -ENOENT when the word is not there, -EBADMSG when the file
 * is not one parsable line, other -errno. */
int vb_kernel_cmdline_remove(const struct vb_root *root, const char *word);

/* The kernel release vfio-bind reasons about: kver when given, else the
 * running one (proc/sys/kernel/osrelease, else BOOT_IMAGE=/boot/vmlinuz-V
 * of proc/cmdline, else the only one in lib/modules). buf "" when unknown. */
void vb_boot_kernel(const struct vb_root *root, const char *kver, char *buf, size_t size);

enum vb_iommu_mode { VB_IOMMU_SHOW, VB_IOMMU_APPLY, VB_IOMMU_REMOVE };

/* The command `vfio-bind iommu [--apply|--remove] [--kernel V] [--json]`
 * (kver NULL: the running kernel); json: the one object of vfio-bind(8),
 * JSON OUTPUT, on stdout instead of the text. Returns an exit code
 * (exit-codes.h). */
int vb_cmd_iommu(const struct vb_root *root, enum vb_iommu_mode mode, const char *kver, bool json);
