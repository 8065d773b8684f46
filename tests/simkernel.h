/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The simulated kernel: a struct vb_kernel_ops that changes a fake sysfs tree
 * (tests/sysfs/mktree) the way Linux changes /sys (see
 * ../shared/notes/kernel-facts.md):
 *
 *   devices/X/driver_override  stores the value up to the first newline;
 *                              "\n" (or "") clears it to "(null)"; a
 *                              zero-length write changes nothing. No unbind,
 *                              no module load.
 *   drivers/D/unbind  BDF      -ENODEV unless X is bound to D; removes the
 *                              driver links and uevent's DRIVER= line.
 *   drivers/D/bind    BDF      -ENODEV: no such device, or D does not match
 *                              (an override names another driver, or D's
 *                              table lacks X); -EBUSY: X already bound;
 *                              else D's probe result.
 *   drivers_probe     BDF      first registered driver that matches and
 *                              probes; success even when none attaches.
 *   devices/X/sriov_numvfs     0 removes the VFs; enabling is not simulated
 *                              (-EOPNOTSUPP): describe VFs in the tree.
 *   devices/X/sriov_drivers_autoprobe, remove, rescan, anything else: stored
 *                              (remove: hot-unplug).
 *   load_module(name)          registers a driver in state "module": creates
 *                              sys/module/M, sys/bus/pci/drivers/D and
 *                              attaches D to every unbound device it matches
 *                              (vfio-pci: those whose override names it).
 *                              -ENOENT when the kernel has no such module.
 *
 * Matching follows pci_match_device(): an override restricts matching to the
 * named driver and makes that driver match any device; vfio-pci matches only
 * through an override. vfio-pci's probe refuses header type != 0 (-EINVAL),
 * devices without an IOMMU group (-EINVAL) and PFs with sriov_numvfs > 0
 * (-EBUSY). A VF probes only with an override or when its PF's
 * sriov_drivers_autoprobe is 1.
 *
 * Driver match tables live in ROOT/.simkernel/drivers (written by mktree);
 * the write log in ROOT/.simkernel/writes. Fault settings live in a shared
 * anonymous mapping, so the children vb_kernel_write() forks for timed
 * writes see (and consume) them too.
 *
 * Fault patterns are "SUFFIX" or "SUFFIX=VALUE": SUFFIX matches a written
 * path (as given, or with symlinks resolved) when it is the whole path or
 * follows a '/'; VALUE, when present, must equal the written value (one
 * trailing newline of either is ignored: "\n" matches ""). Example:
 * "drivers/nvidia/unbind=0000:01:00.0".
 */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

/* Result recorded in the log for a write that hung (never returned). */
#define SIMKERNEL_HUNG 1

const struct vb_kernel_ops *simkernel_ops(void);
/* vb_root_open(root, dir) with the simulated kernel installed and every
 * fault forgotten (the write log is kept). ck_abort on failure. */
void simkernel_open(struct vb_root *root, const char *dir);
/* Forget every fault. */
void simkernel_reset(void);

/* The next `count` matching writes (count < 0: all) fail with -err (err may
 * be given either sign) and change nothing. */
void simkernel_fail(const char *pattern, int err, int count);
/* The next `count` matching writes reach the kernel with only the first half
 * of the value and return -EIO (what vb_write_real reports for a short
 * write). */
void simkernel_short_write(const char *pattern, int count);
/* The next `count` matching writes return 0 and change nothing (a driver
 * whose probe silently does not attach). */
void simkernel_ignore(const char *pattern, int count);
/* Every matching write blocks forever (like an unbind of a device a user
 * holds open). Only use with a timeout: vb_kernel_write runs the write in
 * a child and kills it. */
void simkernel_hang(const char *pattern);
/* Hot-unplug: after `after_n_writes` more writes, just before the next one is
 * handled, device bdf (its children and VFs too) disappears. */
void simkernel_vanish(const char *bdf, int after_n_writes);
/* load_module(name) fails with -err and loads nothing (name with - or _). */
void simkernel_module_fails(const char *name, int err);
/* Probe of device bdf by driver fails with -err (bdf NULL: every device). */
void simkernel_probe_fails(const char *driver, const char *bdf, int err);

/* Removes device bdf as a hot-unplug would. 0 or -errno. */
int simkernel_remove_device(const struct vb_root *root, const char *bdf);

/* The write log: every write attempt in order, and load_module calls as
 * path "@load_module" with the module name as value. */
struct simkernel_write {
	char *path;  /* as the caller passed it */
	char *value; /* as written (may contain "\n") */
	int result;  /* 0, -errno, or SIMKERNEL_HUNG */
	int pid;     /* the process that wrote (timed writes: vb_kernel_write's writer) */
};
struct simkernel_log {
	struct simkernel_write *v;
	size_t n;
};
void simkernel_log_read(const char *root, struct simkernel_log *log);
void simkernel_log_free(struct simkernel_log *log);
void simkernel_log_clear(const char *root);
/* Index of the first entry at or after `from` whose path matches suffix (as
 * in fault patterns, "" matches all) and, when value is not NULL, whose
 * value equals it (as in fault patterns); -1 when none. */
long simkernel_log_find(const struct simkernel_log *log, size_t from, const char *suffix,
			const char *value);
long simkernel_log_find_last(const struct simkernel_log *log, const char *suffix,
			     const char *value);
size_t simkernel_log_count(const struct simkernel_log *log, const char *suffix, const char *value);
/* How many different processes made the matching writes. */
size_t simkernel_log_count_pids(const struct simkernel_log *log, const char *suffix,
				const char *value);
/* Prints the log to stderr (for failing tests). */
void simkernel_log_dump(const struct simkernel_log *log);
