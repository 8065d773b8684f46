/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Never take the host's storage. The scan finds every block device behind a
 * mounted filesystem, an active swap area and the root named on the kernel
 * command line (root=UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/..., ZFS=),
 * follows stacked devices (dm, LVM, LUKS, md) down to the disks, and records
 * the PCI devices on each disk's sysfs path: the controller (the last PCI
 * address on the path: NVMe, AHCI, HBA, virtio-blk, the USB host controller of
 * a USB disk) and the PCI devices upstream of it that are not bridges to the
 * kernel's eye (Intel VMD). Devices without a PCI ancestor (loop, ram, zram,
 * nbd) are ignored.
 *
 * Everything is read under the root: proc/self/mountinfo, proc/swaps,
 * proc/cmdline, sys/dev/block, sys/class/block, dev/disk/by-*, run/udev/data
 * (for ZFS pools), dev/NAME (probed with libblkid, only for
 * UUID/LABEL/PARTUUID/PARTLABEL roots that udev's dev/disk/by-* links do not
 * name, and for ZFS pools). Host only (libblkid).
 *
 * ZFS pools: a member is any block device that udev's
 * dev/disk/by-label/POOL link names, any device udev's database
 * (run/udev/data/bMAJ:MIN) records as a zfs_member labelled POOL or as
 * claiming that link, any device libblkid reads as a zfs_member labelled
 * POOL, and any device a dev/disk/by-uuid/GUID link names for a pool GUID
 * read from a member (udev makes both links for a zfs_member: LABEL is the
 * pool name, UUID the pool GUID in decimal; every member claims them, one
 * wins). The union counts, so a member whose first sectors cannot be read
 * but that udev named is still protected, and so is every member of a
 * mirror or raidz that udev recorded or that can be read.
 */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "pci.h"
#include "plan.h"
#include "root.h"

struct vb_storage_use {
	struct vb_pci_addr pci;        /* the PCI device this use pins */
	struct vb_pci_addr controller; /* the storage controller; == pci unless pci is upstream */
	char *blockdev;   /* what the filesystem sits on: "nvme0n1p2", "dm-1", ZFS pool "rpool" */
	char *leaf;       /* the device on the controller: "sda3" (== blockdev when not stacked) */
	char *mountpoint; /* "/", "/home", "[swap]" */
	char *fstype;     /* "ext4", "swap", "zfs"; "" when unknown */
	bool is_root;     /* serves the root filesystem */
};

/*
 * What is known of the root filesystem's storage. The root is mountinfo's
 * "/" and the kernel command line's root= (a chroot seen from outside has
 * both, and they may differ): it is FOUND when either reached at least one
 * PCI device. NOT_BLOCK: the root is on no block device at all (nfs, cifs,
 * 9p, virtiofs, tmpfs, ramfs, rootfs, root=/dev/nfs): there is no
 * controller to protect. UNKNOWN otherwise: the root should be on a block
 * device and was not traced to PCI (a UUID, label, pool or device that
 * cannot be resolved, a root on loop or a device without a PCI ancestor,
 * overlay, an unknown root= form, nothing naming the root at all). One
 * unresolved source beside a NOT_BLOCK one gives UNKNOWN.
 */
enum vb_root_state {
	VB_ROOT_UNKNOWN = 0, /* the zero value: unknown until traced */
	VB_ROOT_FOUND,
	VB_ROOT_NOT_BLOCK,
};

struct vb_storage {
	struct vb_storage_use *v;
	size_t n;
	enum vb_root_state root_state;
	bool root_found;           /* the root filesystem's controller(s) were found, or the
				      root is on no block device: root_state != VB_ROOT_UNKNOWN */
	char root_unresolved[256]; /* when root_state is VB_ROOT_UNKNOWN: what could not be
				      resolved, e.g. "root=ZFS=rpool/ROOT/pve-1: no member of
				      pool rpool found (no dev/disk/by-label/rpool, none in
				      run/udev/data, no zfs_member with label rpool on the 3
				      readable block devices)"; "" otherwise */
};

/* Fills st (initialised here; free it whatever the return). Single entries
 * that cannot be resolved are skipped (log_debug). Returns 0, -ENOMEM, or
 * -ENOENT when nothing could be read at all (no proc/self/mountinfo, no
 * proc/swaps and no proc/cmdline under the root): st is then empty. The
 * root fields are set whatever the return (VB_ROOT_UNKNOWN on an error). */
int vb_storage_scan(const struct vb_root *root, struct vb_storage *st);
/* Frees the list; the root fields go back to VB_ROOT_UNKNOWN. */
void vb_storage_free(struct vb_storage *st);

/* The most important use of the PCI device a: a root use first, then the
 * first one found. NULL when a serves no storage. */
const struct vb_storage_use *vb_storage_find(const struct vb_storage *st,
					     const struct vb_pci_addr *a);

/* "the root filesystem (/ on dm-1 over sda3, ext4)" / "/home (sdc1, xfs)" /
 * "swap (sdb2)": what a use serves, for messages. */
void vb_storage_use_describe(const struct vb_storage_use *u, char *buf, size_t size);

/*
 * The policy. A device serving the root filesystem is refused always; one
 * serving another filesystem or swap is refused unless the selecting rule
 * has allow-storage=yes. Returns true when refused, with a reason in buf.
 * rule < 0 (no rule) counts as a rule without allow-storage.
 */
bool vb_storage_refuses(const struct vb_storage *st, const struct vb_config *cfg,
			const struct vb_pci_addr *a, int rule, char *buf, size_t size);

/* The plan veto of the host command. Scans lazily on the first call, so a
 * config that selects nothing costs no scan. */
struct vb_storage_policy {
	const struct vb_root *root;
	const struct vb_config *cfg;
	struct vb_storage st;
	bool scanned;
	int scan_err; /* -errno of a failed scan: every storage question is refused */
};

void vb_storage_policy_init(struct vb_storage_policy *p, const struct vb_root *root,
			    const struct vb_config *cfg);
void vb_storage_policy_free(struct vb_storage_policy *p);
/* Scans unless done; logs (once) when storage cannot be read. NULL when
 * the scan failed (out of memory): the veto then refuses every device. A
 * root without proc/ gives an empty list (logged at info, or as a warning
 * on the host). */
const struct vb_storage *vb_storage_policy_scan(struct vb_storage_policy *p);
/* A vb_plan_guard check (userdata: a struct vb_storage_policy): refuses the
 * root's controller (root-storage), other mounted storage and swap unless
 * allowed (mounted-storage), everything when the scan failed
 * (storage-unknown). Logs a warning for a storage controller that
 * allow-storage=yes lets through. */
int vb_storage_guard(const struct vb_root *root, const struct vb_config *cfg,
		     struct vb_plan_item *item, void *userdata);

/* Plans the job as the host command does, with the storage guard. pol is
 * initialised here; free it after use (its scan serves later questions). */
struct vb_job;
int vb_storage_plan_job(const struct vb_root *root, struct vb_job *job,
			struct vb_storage_policy *pol);
