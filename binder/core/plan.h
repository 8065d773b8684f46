/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Planning and applying. A plan item says what apply will do to one
 * selected device and why. Apply runs in phases over all items, so that no
 * device is unbound before every override is in place:
 *   1. write driver_override (one write each),
 *   2. unbind from the current driver (bounded by a timeout),
 *   3. make sure vfio-pci is loaded (it attaches to overridden unbound devices),
 *   4. bind what is still unbound (drivers_probe), verify the driver link.
 * A failing device does not stop the others.
 */

#include <stdbool.h>

#include "config.h"
#include "pci.h"
#include "select.h"

#define VB_TARGET_DRIVER "vfio-pci"

enum vb_action {
	VB_ACT_NOTHING, /* already bound to vfio-pci */
	VB_ACT_BIND,    /* unbound: set override, bind */
	VB_ACT_REBIND,  /* bound to another driver: set override, unbind, bind */
	VB_ACT_REFUSE,  /* cannot or must not be taken; reason says why */
};

const char *vb_action_name(enum vb_action a); /* "nothing", "bind", "rebind", "refuse" */

struct vb_plan_item {
	struct vb_pci_dev *dev; /* points into the vb_pci_list */
	int rule;               /* selecting rule index */
	enum vb_via via;
	enum vb_action action;
	char reason[256];
};

struct vb_plan {
	struct vb_plan_item *items;
	size_t n;
};

/* Builds one item per selected device. 0 or -errno. */
int vb_plan_build(const struct vb_root *root, const struct vb_config *cfg, struct vb_pci_list *list,
		  const struct vb_sel *sel, struct vb_plan *plan);
void vb_plan_free(struct vb_plan *plan);

/* Hook run by vb_plan_build for each non-refused item, letting callers add
 * refusals (storage safety on the host). Return true to refuse and fill
 * reason. NULL: none. */
typedef bool (*vb_plan_veto_fn)(const struct vb_root *root, const struct vb_plan_item *item,
				char *reason, size_t size, void *userdata);
void vb_plan_set_veto(vb_plan_veto_fn fn, void *userdata);

enum vb_result {
	VB_RES_PENDING = 0,
	VB_RES_OK,        /* on vfio-pci (now or before) */
	VB_RES_SKIPPED,   /* refused by the plan, or dry run */
	VB_RES_FAILED,    /* a step failed; err and step say which */
};

struct vb_outcome {
	enum vb_result result;
	int err;          /* -errno of the failing step */
	const char *step; /* "driver_override", "unbind", "load vfio-pci", "bind", "verify";
			   * release: "driver_override", "unbind", "drivers_probe" */
	char driver_after[VB_DRIVER_MAX];
};

struct vb_apply_opts {
	bool dry_run;
	unsigned unbind_timeout_ms;
};

/* outcomes has plan->n entries. Logs one line per decision. Returns the
 * number of failed devices (>= 0) or -errno for a global failure. */
int vb_apply(const struct vb_root *root, const struct vb_config *cfg, const struct vb_plan *plan,
	     const struct vb_apply_opts *opts, struct vb_outcome *outcomes);

/* Release devs[0..n): clear the override ("\n"), unbind from vfio-pci,
 * drivers_probe so the native driver comes back. Returns failures or -errno. */
int vb_release(const struct vb_root *root, struct vb_pci_dev **devs, size_t n,
	       const struct vb_apply_opts *opts, struct vb_outcome *outcomes);
