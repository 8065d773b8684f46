/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * /etc/vfio-bind.conf: one rule per line, documented in vfio-bind.conf(5).
 *
 *   bind    KEY=VALUE [KEY=VALUE...]   select devices (all terms must match)
 *   exclude KEY=VALUE [KEY=VALUE...]   remove devices that bind rules selected
 *
 * The parser never stops at the first problem: it collects diagnostics with
 * file:line:column, a message and a hint, and a config is valid when it has
 * no diagnostic of error severity.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "pci.h"
#include "util.h"

struct vb_mapping;

#define VB_CONFIG_MAX_SIZE (1024 * 1024) /* bytes; larger files are refused (-EFBIG) */
#define VB_CONFIG_MAX_LINE 4096          /* bytes per line, without the line end */
#define VB_CONFIG_MAX_RULES 4096
#define VB_CONFIG_MAX_TERMS 32 /* KEY=VALUE tokens per rule, options included */

enum vb_term_kind {
	VB_TERM_ADDRESS,  /* path= / address=: dddd:bb:ss.f, bb:ss.f, bb:ss, bb:ss.* */
	VB_TERM_ID,       /* id=vvvv:dddd, device may be * */
	VB_TERM_SUBSYS,   /* subsystem-id=vvvv:dddd, device may be * */
	VB_TERM_CLASS,    /* class=cc | ccss | ccsspp (prefix match) */
	VB_TERM_TOPOLOGY, /* topology=0000:00:03.1/00.0 (stable form, pci.h; last may be a slot) */
	VB_TERM_GROUP,    /* iommugroup=N */
	VB_TERM_BOOT_VGA, /* boot-vga=yes|no */
	VB_TERM_MAPPING,  /* mapping=NAME: a Proxmox VE PCI resource mapping (mapping.h) */
	_VB_TERM_MAX,
};

struct vb_term {
	enum vb_term_kind kind;
	unsigned column; /* 1-based column of the key */
	union {
		struct {
			struct vb_pci_addr addr;
			bool any_func; /* slot form: all functions */
		} address;
		struct {
			uint16_t vendor, device;
			bool any_device;
		} id; /* ID and SUBSYS */
		struct {
			/* The digits left-aligned in 24 bits: class=03 is 0x030000,
			 * class=0403 is 0x040300. A device matches when
			 * (dev->class & vb_class_mask(digits)) == value. */
			uint32_t value;
			unsigned digits; /* 2, 4 or 6 */
		} class;
		char *topology; /* the stable form (vb_pci_topology()), slot form allowed */
		unsigned group;
		bool boot_vga;
		struct {
			char *name; /* as written: Proxmox's IDs are case-sensitive */
			const struct vb_mapping *m; /* set by vb_mappings_link(); NULL: none */
		} mapping;
	};
};

enum {
	VB_EXPAND_SLOT = 1u << 0,  /* expand=slot: every function of the slot */
	VB_EXPAND_GROUP = 1u << 1, /* expand=group: every endpoint of the IOMMU group */
};

#define VB_VFS_MAX_ITEMS 32 /* items of vfs=LIST */

/* VF indices lo..hi (inclusive): index N is the PF's virtfnN link. */
struct vb_vf_range {
	uint16_t lo, hi;
};

struct vb_rule {
	bool exclude;
	struct vb_term *terms;
	size_t n_terms;
	unsigned expand;    /* VB_EXPAND_* */
	bool allow_storage; /* allow-storage=yes (see vfio-bind.conf(5)) */
	unsigned line;      /* 1-based */
	/* SR-IOV (vfio-bind.conf(5)): with vfs=, the terms select PFs and the
	 * rule takes those VFs of them, never the PF. */
	bool vfs_all;                             /* vfs=all */
	struct vb_vf_range vfs[VB_VFS_MAX_ITEMS]; /* vfs=LIST, as written */
	size_t n_vfs;
	int numvfs;                 /* numvfs=N: create N VFs when the PF has none; 0 unset */
	char driver[VB_DRIVER_MAX]; /* driver=NAME; "" is vfio-pci */
	unsigned vfs_column, numvfs_column; /* 1-based columns, for later messages */
};

struct vb_config {
	char *file; /* as given, used in every message */
	struct vb_rule *rules;
	size_t n_rules;
};

/* Mask of the class bits a class= term of `digits` hex digits compares. */
static inline uint32_t vb_class_mask(unsigned digits)
{
	return digits >= 6 ? 0xffffffu : (0xffffffu << (24 - 4 * digits)) & 0xffffffu;
}

/* Parses buf (any bytes, need not be NUL-terminated; never read past
 * buf+len). cfg and diags are outputs: both are initialised here (do not
 * vb_diags_init() them first) and must be freed whatever the return value.
 * Returns 0 when the config has no errors, -EINVAL when diags holds errors,
 * -EFBIG when len > VB_CONFIG_MAX_SIZE, -ENOMEM. cfg holds the rules that
 * parsed without error either way. */
int vb_config_parse(const char *file, const char *buf, size_t len, struct vb_config *cfg,
		    struct vb_diags *diags);
/* Reads `relpath` under root (and refuses files larger than 1 MiB) then
 * parses; file is the name printed in messages. -ENOENT when missing,
 * -EFBIG when too large, other -errno from reading (no diagnostic is added
 * for those: the caller logs). cfg and diags are initialised as above. */
int vb_config_load(const struct vb_root *root, const char *relpath, const char *file,
		   struct vb_config *cfg, struct vb_diags *diags);
void vb_config_free(struct vb_config *cfg);

/* Does rule index `rule` of cfg say allow-storage=yes? (-1, no rule: no.) */
/* "FILE:LINE" of rule `rule` into buf (the one formatter of a rule's place
 * for messages, tables and JSON); NULL when rule is not one of cfg's. */
const char *vb_rule_location(const struct vb_config *cfg, int rule, char *buf, size_t size);

static inline bool vb_rule_allows_storage(const struct vb_config *cfg, int rule)
{
	return cfg && rule >= 0 && (size_t)rule < cfg->n_rules && cfg->rules[rule].allow_storage;
}

/* Does the rule take VFs (vfs=)? Is VF `index` one of them? */
static inline bool vb_rule_has_vfs(const struct vb_rule *r)
{
	return r->vfs_all || r->n_vfs > 0;
}
bool vb_rule_takes_vf(const struct vb_rule *r, unsigned index);

/* The driver rule index `rule` binds to: driver=NAME, else "vfio-pci". */
const char *vb_rule_driver(const struct vb_config *cfg, int rule);

/* Canonical text of a term, for messages and JSON: "path=0000:01:00.0",
 * "path=0000:01:00.*" (slot), "id=10de:*", "class=0403", "iommugroup=12",
 * "boot-vga=yes", "topology=0000:00:03.1/00.0".
 * Parsing the output gives the same term. Returns the length, -ENOBUFS when
 * it does not fit (buf then holds a truncated string), -EINVAL. */
int vb_term_format(const struct vb_term *t, char *buf, size_t size);
/* The whole rule: "bind path=0000:01:00.* id=10de:* expand=slot,group
 * allow-storage=yes" (options only when set). Same returns. */
int vb_rule_format(const struct vb_rule *r, char *buf, size_t size);
/* Canonical key: "path", "id", "subsystem-id", "class", "topology",
 * "iommugroup", "boot-vga", "mapping"; NULL for an unknown kind. */
const char *vb_term_key(enum vb_term_kind kind);

/* The word of words[0..n_words) nearest to s[0..n) (case-insensitive, '_'
 * as '-') when it is near enough to be a typo; NULL otherwise. For the
 * "did you mean" hints. */
const char *vb_nearest_word(const char *s, size_t n, const char *const *words, size_t n_words);

/* A Proxmox VE configuration ID (pve-configid): a letter, then letters,
 * digits, '-' or '_', at least 2 characters; at most VB_MAPPING_NAME_MAX-1
 * here. Returns 0 or the 1-based offset of the first bad character (n+1:
 * too short or too long). */
#define VB_MAPPING_NAME_MAX 128
size_t vb_pve_configid_check(const char *s, size_t n);
