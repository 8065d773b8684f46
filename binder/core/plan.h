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
	VB_ACT_REFUSE,  /* cannot or must not be taken; refusal and reason say why */
};

const char *vb_action_name(enum vb_action a); /* "nothing", "bind", "rebind", "refuse" */

/*
 * Why a device is refused, most important first: when several apply, the
 * item's refusal is the first of them in this order, and every one is
 * recorded in refusals. Every check runs for every selected device, so a
 * device refused for lacking an IOMMU group is still known to be the root
 * disk's controller (check exits 5 for it whatever the IOMMU state).
 */
enum vb_refusal {
	VB_REFUSE_NONE = 0,
	VB_REFUSE_ROOT_STORAGE,    /* "root-storage": serves the root filesystem */
	VB_REFUSE_PROTECTED,       /* "protected": the image's snapshot protects it */
	VB_REFUSE_HW_CHANGED,      /* "hardware-changed": differs from the image's snapshot */
	VB_REFUSE_MAPPING,         /* "mapping-mismatch": not what its Proxmox mapping says */
	VB_REFUSE_STORAGE,         /* "mounted-storage": other mounted storage or swap */
	VB_REFUSE_STORAGE_UNKNOWN, /* "storage-unknown": mass storage while the root's
				    * controller is unknown */
	VB_REFUSE_VANISHED,        /* "vanished" */
	VB_REFUSE_BRIDGE,          /* "bridge": not an endpoint */
	VB_REFUSE_SRIOV_PF,        /* "sriov-pf": a PF with VFs enabled */
	VB_REFUSE_NO_IOMMU,        /* "no-iommu-group" */
	VB_REFUSE_UNREADABLE,      /* "unreadable": an attribute could not be read */
	VB_REFUSE_COUNT_
};

const char *vb_refusal_code(enum vb_refusal r); /* the quoted names above; "" for NONE */

/* Refusals that protect the host's storage: check exits 5 for them. */
#define VB_REFUSALS_STORAGE                                                                        \
	((1u << VB_REFUSE_ROOT_STORAGE) | (1u << VB_REFUSE_PROTECTED) |                            \
	 (1u << VB_REFUSE_STORAGE) | (1u << VB_REFUSE_STORAGE_UNKNOWN))

struct vb_plan_item {
	struct vb_pci_dev *dev; /* points into the vb_pci_list */
	int rule;               /* selecting rule index */
	enum vb_via via;
	enum vb_action action;
	enum vb_refusal refusal; /* with VB_ACT_REFUSE: the most important reason */
	unsigned refusals;       /* 1u << code of every reason found */
	char reason[256];        /* the text of `refusal`, or what apply will do */
};

/* Records a refusal: the item becomes VB_ACT_REFUSE; the text replaces the
 * reason when code is more important than the refusal already there. */
void vb_plan_refuse(struct vb_plan_item *it, enum vb_refusal code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A guard adds refusals of its own (the host's storage scan, the early
 * binder's build-time snapshot) to every selected device, after the checks
 * that follow vfio-pci's probe. It returns 0, or -errno when it cannot
 * decide; the plan then refuses the device (fail closed) and goes on.
 */
struct vb_plan_guard {
	int (*check)(const struct vb_root *root, const struct vb_config *cfg,
		     struct vb_plan_item *item, void *userdata);
	void *userdata;
};

struct vb_plan {
	struct vb_plan_item *items;
	size_t n;
};

/* Builds one item per selected device, running guards[0..n_guards) on each.
 * 0 or -errno. */
int vb_plan_build(const struct vb_root *root, const struct vb_config *cfg, struct vb_pci_list *list,
		  const struct vb_sel *sel, const struct vb_plan_guard *guards, size_t n_guards,
		  struct vb_plan *plan);
void vb_plan_free(struct vb_plan *plan);

/* The fail-closed rule for mass storage (class 01) when nothing tells which
 * controller holds the root: refused unless the selecting rule says
 * allow-storage=yes. why says what is unknown ("the root filesystem's
 * controller was not found: ..."). Returns true when it refused. */
bool vb_plan_refuse_unknown_storage(const struct vb_config *cfg, struct vb_plan_item *it,
				    const char *why);

enum vb_result {
	VB_RES_PENDING = 0,
	VB_RES_OK,      /* on vfio-pci (now or before) */
	VB_RES_SKIPPED, /* refused by the plan, or dry run */
	VB_RES_FAILED,  /* a step failed; err and step say which */
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
