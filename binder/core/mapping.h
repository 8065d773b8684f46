/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Proxmox VE PCI resource mappings (`bind mapping=NAME`), resolved for this
 * node: the paths of the mapping's map entries whose node= is this node,
 * with what each entry says the device is. On the host they come from
 * /etc/pve/mapping/pci.cfg (binder/host/pve.h); in the initramfs, where the
 * cluster file system is not, from the file the hook wrote when the image
 * was built (VB_MAPPINGS_FILE):
 *
 *   # comment
 *   vfio-bind-mappings 1
 *   node NODE
 *   source FILE DIGEST        the pci.cfg read, FNV-1a 64 of its bytes (hex)
 *   mapping NAME LINE [mdev]  a mapping the config uses, its pci.cfg line
 *   path ADDRESS VVVV:DDDD SUBSYS GROUP LINE
 *
 * path: one path of a map entry of that mapping for this node; ADDRESS is
 * DDDD:BB:SS.F, or DDDD:BB:SS for every function of the slot (its function
 * 0 is compared, as Proxmox does); SUBSYS VVVV:DDDD or "none" (the entry
 * has no subsystem-id); GROUP the entry's iommugroup, "none" (it has
 * none), or "-" (not the entry's first path: Proxmox compares the group of
 * the first only). Any line the binder does not understand makes the whole
 * file invalid: the binder then takes nothing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pci.h"
#include "plan.h"
#include "root.h"

#define VB_MAPPINGS_FILE "etc/vfio-bind.mappings"
#define VB_MAPPINGS_VERSION 1

enum {
	VB_MAP_GROUP_NONE = -1,      /* the entry has no iommugroup */
	VB_MAP_GROUP_UNCHECKED = -2, /* not the entry's first path */
};

struct vb_map_path {
	struct vb_pci_addr addr;
	bool slot; /* no function: every function; function 0 is compared */
	uint16_t vendor, device;
	bool have_subsys;
	uint16_t subsys_vendor, subsys_device;
	int group;     /* >= 0, or VB_MAP_GROUP_* */
	unsigned line; /* of the map line in pci.cfg */
};

struct vb_mapping {
	char *name;
	unsigned line;             /* of the section in pci.cfg */
	bool mdev;                 /* mdev 1: mediated devices, never bound to vfio-pci */
	struct vb_map_path *paths; /* this node's only */
	size_t n;
	char *other_nodes; /* "pve2, pve3": nodes of the other entries (host only) */
};

struct vb_mappings {
	char node[64];
	char source[256]; /* the pci.cfg as the admin knows it */
	char digest[17];  /* FNV-1a 64 of its bytes, hex */
	struct vb_mapping *v;
	size_t n;
};

void vb_mappings_free(struct vb_mappings *m);
/* Adds a mapping (name copied); NULL on ENOMEM. */
struct vb_mapping *vb_mappings_add(struct vb_mappings *m, const char *name, size_t name_len,
				   unsigned line);
int vb_mapping_add_path(struct vb_mapping *m, const struct vb_map_path *p);
const struct vb_mapping *vb_mappings_find(const struct vb_mappings *m, const char *name);

/* FNV-1a 64 of buf, as 16 hex digits. */
void vb_digest(const char *buf, size_t len, char out[17]);

/* Parses the image's file (format above). 0, -ENOMEM, or -EINVAL with
 * *bad_line (0: the whole file) and why. */
int vb_mappings_parse(const char *text, struct vb_mappings *m, unsigned *bad_line, char *why,
		      size_t why_size);
/* Reads VB_MAPPINGS_FILE under the root and parses it; -ENOENT when absent. */
int vb_mappings_load(const struct vb_root *root, struct vb_mappings *m, unsigned *bad_line,
		     char *why, size_t why_size);

/* Does any rule of cfg have a mapping= term? */
bool vb_config_uses_mappings(const struct vb_config *cfg);

/* Points every mapping= term of cfg at its mapping in m. An unknown name is
 * an error at the term (with a did-you-mean hint); an mdev mapping and one
 * without an entry for m->node are warnings (they select nothing). 0,
 * -EINVAL (errors added), -ENOMEM. */
int vb_mappings_link(const struct vb_mappings *m, struct vb_config *cfg, struct vb_diags *diags);

/* The path of m that names address a (slot paths name every function). */
const struct vb_map_path *vb_mapping_covers(const struct vb_mapping *m,
					    const struct vb_pci_addr *a);

/* The mapping= term of a rule, NULL when it has none. */
const struct vb_term *vb_rule_mapping(const struct vb_rule *r);

/*
 * Proxmox's check at VM start, made before binding: the device the entry
 * names (function 0 for a slot path) must have the entry's id and
 * subsystem-id, and the first path its iommugroup; an entry lacking one the
 * device has, or having one the device lacks, does not match either
 * (Proxmox refuses both). Refuses item (VB_REFUSE_MAPPING) otherwise. For
 * items selected by a rule with a mapping= term; others are left alone.
 */
void vb_mapping_check(const struct vb_root *root, const struct vb_config *cfg,
		      struct vb_pci_list *list, struct vb_plan_item *item);
