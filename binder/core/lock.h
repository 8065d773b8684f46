/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one lock. Every program that changes bindings takes it first: the
 * early binder, `vfio-bind apply` (run by an admin or by vfio-bind.service),
 * `vfio-bind apply --device` (run by the udev rule) and `vfio-bind release`.
 * So two of them never interleave their writes on a device (udev runs one
 * program per event, in parallel).
 *
 * It is flock(2) on ROOT/run/vfio-bind.lock. /run is a tmpfs: in the
 * initramfs too, where initramfs-tools moves it onto the real root at
 * switch_root, so the file is the same before and after. The kernel drops
 * the lock when its holder exits, whatever way it exits. The holder's pid is
 * written into the file for the message of a waiter that gives up.
 */

#include "root.h"

#define VB_LOCK_FILE "run/vfio-bind.lock"
/* How long a waiter waits by default (seconds): longer than one unbind's
 * default bound (10 s), well below udev's event timeout (180 s). */
#define VB_LOCK_WAIT_DEFAULT_S 60

/*
 * Takes the lock, waiting at most wait_ms (0: one try). Returns 0 or -errno:
 * -ETIMEDOUT when another process held it all that time (*holder, when not
 * NULL, is then its pid, or 0 when unknown), other -errno when the lock file
 * cannot be opened (a missing run/ is created under a root that is not the
 * host's, for fake trees).
 */
int vb_lock_take(const struct vb_root *root, unsigned wait_ms, long *holder);
/* Drops the lock (no-op when not held). */
void vb_lock_release(void);
/* In a forked child: closes this process's lock descriptor without
 * unlocking, so a child that hangs in the kernel (an unbind) does not keep
 * the lock after its parent exits. */
void vb_lock_forget_in_child(void);
