/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapping.h"
#include "select.h"

/*
 * Term evaluation. The terms of a rule are evaluated in two passes: first the
 * ones answered from the scan (address, id, subsystem-id, class), then the
 * ones that read sysfs (boot-vga, iommugroup, topology). A rule of cheap terms
 * only never touches a file, and a failing cheap term spares the reads.
 */

static bool term_is_cheap(enum vb_term_kind k)
{
	return k == VB_TERM_ADDRESS || k == VB_TERM_ID || k == VB_TERM_SUBSYS ||
	       k == VB_TERM_CLASS || k == VB_TERM_MAPPING;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Does the device's stable topology `topo` (vb_pci_topology()) match the
 * term's, normalised the same way by the config parser? Equal (hex
 * case-insensitively), or, when the term's last hop is a slot without
 * function (".../04"), equal up to a ".F" suffix. Both strings hold only the
 * domain, the root bus and each hop's slot.function, so bus numbers below
 * the root bus are never compared. A term that is not in the stable form
 * (a sysfs path set by hand) equals no device's topology and matches none. */
static bool topology_match(const char *term, const char *topo)
{
	size_t i;

	for (i = 0; term[i]; i++)
		if (lower(term[i]) != lower(topo[i]))
			return false;
	if (topo[i] == '\0')
		return true;
	return i > 0 && topo[i] == '.' && topo[i + 1] >= '0' && topo[i + 1] <= '7' &&
	       topo[i + 2] == '\0';
}

bool vb_term_match(const struct vb_root *root, const struct vb_term *t, struct vb_pci_dev *d)
{
	switch (t->kind) {
	case VB_TERM_ADDRESS: {
		const struct vb_pci_addr *a = &t->address.addr;

		return a->domain == d->addr.domain && a->bus == d->addr.bus &&
		       a->slot == d->addr.slot && (t->address.any_func || a->func == d->addr.func);
	}
	case VB_TERM_ID:
		return t->id.vendor == d->vendor && (t->id.any_device || t->id.device == d->device);
	case VB_TERM_SUBSYS:
		return t->id.vendor == d->subsys_vendor &&
		       (t->id.any_device || t->id.device == d->subsys_device);
	case VB_TERM_CLASS:
		/* config.h: value is left-aligned in 24 bits (class=03 is 0x030000) */
		if (t->class.digits == 0 || t->class.digits > 6)
			return false;
		return (d->class & vb_class_mask(t->class.digits)) == t->class.value;
	case VB_TERM_TOPOLOGY:
		if (!t->topology || !*t->topology)
			return false;
		{
			char topo[VB_TOPOLOGY_MAX];

			if (vb_pci_topology(root, d, topo, sizeof(topo)) < 0)
				return false;
			return topology_match(t->topology, topo);
		}
	case VB_TERM_GROUP:
		if (vb_pci_load_group(root, d) < 0)
			return false;
		return d->iommu_group >= 0 && (unsigned)d->iommu_group == t->group;
	case VB_TERM_BOOT_VGA:
		if (vb_pci_load_boot_vga(root, d) < 0)
			return false;
		return (d->boot_vga == 1) == t->boot_vga;
	case VB_TERM_MAPPING:
		return vb_mapping_covers(t->mapping.m, &d->addr) != NULL;
	default:
		return false;
	}
}

bool vb_rule_match(const struct vb_root *root, const struct vb_rule *r, struct vb_pci_dev *d)
{
	size_t i;

	/* A rule without terms would take everything: never. */
	if (r->n_terms == 0)
		return false;
	for (i = 0; i < r->n_terms; i++)
		if (term_is_cheap(r->terms[i].kind) && !vb_term_match(root, &r->terms[i], d))
			return false;
	for (i = 0; i < r->n_terms; i++)
		if (!term_is_cheap(r->terms[i].kind) && !vb_term_match(root, &r->terms[i], d))
			return false;
	return true;
}

/* Growable array of device indices. */
struct idxv {
	size_t *v;
	size_t n, cap;
};

static int idxv_push(struct idxv *x, size_t i)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		size_t *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = i;
	return 0;
}

static bool same_slot(const struct vb_pci_dev *a, const struct vb_pci_dev *b)
{
	return a->addr.domain == b->addr.domain && a->addr.bus == b->addr.bus &&
	       a->addr.slot == b->addr.slot;
}

static void sel_add(struct vb_sel *s, int rule, enum vb_via via)
{
	if (s->via != VB_VIA_NONE)
		return; /* the first selection stays */
	s->via = via;
	s->rule = rule;
}

/* Devices ordered by IOMMU group (devices without a group left out), built the
 * first time an expand=group needs it. */
struct gent {
	int group;
	size_t idx;
};

struct group_index {
	struct gent *v;
	size_t n;
	bool built;
};

static int gent_cmp(const void *a, const void *b)
{
	const struct gent *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int group_index_build(const struct vb_root *root, struct vb_pci_list *list,
			     struct group_index *gi)
{
	size_t j;

	if (gi->built)
		return 0;
	gi->v = malloc((list->n ? list->n : 1) * sizeof(*gi->v));
	if (!gi->v)
		return -ENOMEM;
	gi->n = 0;
	for (j = 0; j < list->n; j++) {
		struct vb_pci_dev *d = &list->devs[j];

		if (vb_pci_load_group(root, d) < 0 || d->iommu_group < 0)
			continue;
		gi->v[gi->n].group = d->iommu_group;
		gi->v[gi->n].idx = j;
		gi->n++;
	}
	qsort(gi->v, gi->n, sizeof(*gi->v), gent_cmp);
	gi->built = true;
	return 0;
}

/* First position of `group` in the index, or gi->n. */
static size_t group_index_find(const struct group_index *gi, int group)
{
	size_t lo = 0, hi = gi->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (gi->v[mid].group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < gi->n && gi->v[lo].group == group ? lo : gi->n;
}

/*
 * expand= of bind rule `ri`, whose own matches are `seeds`. expand=slot adds
 * every function of each seed's slot; expand=group adds every endpoint of the
 * IOMMU group of each seed (and, with both, of each slot sibling).
 */
static int expand_rule(const struct vb_root *root, struct vb_pci_list *list, struct vb_sel *sel,
		       int ri, unsigned expand, const struct idxv *seeds, struct group_index *gi,
		       unsigned char *group_done)
{
	struct idxv all = {0};
	const struct idxv *gseeds = seeds;
	size_t s, k;
	int r = 0;

	if (expand & VB_EXPAND_SLOT) {
		for (s = 0; s < seeds->n; s++) {
			size_t j = seeds->v[s], lo = j, hi = j;

			while (lo > 0 && same_slot(&list->devs[lo - 1], &list->devs[j]))
				lo--;
			while (hi + 1 < list->n && same_slot(&list->devs[hi + 1], &list->devs[j]))
				hi++;
			for (k = lo; k <= hi; k++) {
				sel_add(&sel[k], ri, VB_VIA_SLOT);
				if ((expand & VB_EXPAND_GROUP) && (r = idxv_push(&all, k)) < 0)
					goto out;
			}
		}
		if (expand & VB_EXPAND_GROUP)
			gseeds = &all;
	}

	if (expand & VB_EXPAND_GROUP) {
		r = group_index_build(root, list, gi);
		if (r < 0)
			goto out;
		memset(group_done, 0, gi->n ? gi->n : 1);
		for (s = 0; s < gseeds->n; s++) {
			struct vb_pci_dev *d = &list->devs[gseeds->v[s]];
			size_t p;

			if (!(d->have & VB_PCI_HAVE_GROUP) || d->iommu_group < 0)
				continue;
			p = group_index_find(gi, d->iommu_group);
			if (p == gi->n || group_done[p])
				continue;
			group_done[p] = 1;
			for (; p < gi->n && gi->v[p].group == d->iommu_group; p++) {
				struct vb_pci_dev *m = &list->devs[gi->v[p].idx];

				if (sel[gi->v[p].idx].via != VB_VIA_NONE)
					continue;
				/* A member whose header cannot be read is not taken. */
				if (vb_pci_load_header(root, m) < 0 || !vb_pci_is_endpoint(m))
					continue;
				sel_add(&sel[gi->v[p].idx], ri, VB_VIA_GROUP);
			}
		}
	}
out:
	free(all.v);
	return r;
}

/* vfs= of bind rule `ri` on the PF it matched: selects each listed VF that
 * exists. Warns once per PF about listed indices it lacks, unless numvfs=
 * will create them (the PF has none yet). */
static int select_vfs(const struct vb_root *root, const struct vb_rule *rule, int ri,
		      struct vb_pci_list *list, struct vb_sel *sel, const struct vb_pci_dev *pf,
		      struct vb_diags *diags)
{
	unsigned first_missing = 0;
	bool missing = false;
	size_t k;

	for (k = 0; k < (rule->vfs_all ? 1 : rule->n_vfs); k++) {
		unsigned lo = rule->vfs_all ? 0 : rule->vfs[k].lo;
		unsigned hi = rule->vfs_all ? 0xffff : rule->vfs[k].hi;

		for (unsigned idx = lo; idx <= hi; idx++) {
			char name[VB_PCI_NAME_MAX];
			struct vb_pci_addr a;
			struct vb_pci_dev *vf;
			int r = vb_pci_virtfn(root, pf->name, idx, name);

			if (r == -ENOENT) {
				if (!rule->vfs_all && !missing) {
					missing = true;
					first_missing = idx;
				}
				break; /* VFs are numbered without gaps */
			}
			if (r < 0 || vb_pci_addr_parse(name, &a) < 0)
				continue;
			vf = vb_pci_find(list, &a);
			if (vf)
				sel_add(&sel[vf - list->devs], ri, VB_VIA_VF);
		}
	}
	if (missing && diags && !(rule->numvfs && pf->sriov_numvfs == 0))
		return vb_diags_add(
			diags, VB_SEV_WARNING, NULL, NULL, rule->line, rule->vfs_column, NULL,
			"VF indices count from 0 up to sriov_numvfs-1; numvfs=N creates "
			"them when the PF has none",
			"%s has no VF %u (sriov_numvfs is %d)", pf->name, first_missing,
			pf->sriov_numvfs);
	return 0;
}

int vb_select(const struct vb_root *root, const struct vb_config *cfg, struct vb_pci_list *list,
	      struct vb_sel *sel, struct vb_diags *diags)
{
	struct idxv *seeds = NULL;
	bool *matched = NULL;
	struct group_index gi = {0};
	unsigned char *group_done = NULL;
	size_t i, j;
	int r = 0;

	for (j = 0; j < list->n; j++) {
		sel[j].via = VB_VIA_NONE;
		sel[j].rule = -1;
		sel[j].excluded_by = -1;
	}
	if (cfg->n_rules == 0)
		return 0;

	seeds = calloc(cfg->n_rules, sizeof(*seeds));
	matched = calloc(cfg->n_rules, sizeof(*matched));
	if (!seeds || !matched) {
		r = -ENOMEM;
		goto out;
	}

	/* 1. Bind rules, in order: the first rule that matches a device owns it. */
	for (i = 0; i < cfg->n_rules; i++) {
		const struct vb_rule *rule = &cfg->rules[i];

		if (rule->exclude)
			continue;
		for (j = 0; j < list->n; j++) {
			if (!vb_rule_match(root, rule, &list->devs[j]))
				continue;
			if (vb_rule_has_vfs(rule)) {
				struct vb_pci_dev *pf = &list->devs[j];

				if (vb_pci_load_sriov(root, pf) < 0 || pf->sriov_numvfs < 0)
					continue; /* not a PF (a VF, or no SR-IOV) */
				matched[i] = true;
				r = select_vfs(root, rule, (int)i, list, sel, pf, diags);
				if (r < 0)
					goto out;
				continue;
			}
			matched[i] = true;
			sel_add(&sel[j], (int)i, VB_VIA_RULE);
			if (rule->expand && (r = idxv_push(&seeds[i], j)) < 0)
				goto out;
		}
	}

	/* 2. Expansions, in rule order; they never take over a selected device. */
	for (i = 0; i < cfg->n_rules; i++) {
		const struct vb_rule *rule = &cfg->rules[i];

		if (rule->exclude || !rule->expand || seeds[i].n == 0)
			continue;
		if ((rule->expand & VB_EXPAND_GROUP) && !group_done) {
			group_done = malloc(list->n ? list->n : 1);
			if (!group_done) {
				r = -ENOMEM;
				goto out;
			}
		}
		r = expand_rule(root, list, sel, (int)i, rule->expand, &seeds[i], &gi, group_done);
		if (r < 0)
			goto out;
	}

	/* 3. Exclude rules remove selected devices, expansions included. `rule`
	 * keeps the index of the rule that had selected the device. */
	for (i = 0; i < cfg->n_rules; i++) {
		const struct vb_rule *rule = &cfg->rules[i];

		if (!rule->exclude)
			continue;
		for (j = 0; j < list->n; j++) {
			if (sel[j].via == VB_VIA_NONE)
				continue;
			if (!vb_rule_match(root, rule, &list->devs[j]))
				continue;
			matched[i] = true;
			sel[j].via = VB_VIA_NONE;
			sel[j].excluded_by = (int)i;
		}
		/* Matching nothing selected is fine; matching nothing at all is
		 * worth a warning, as for bind rules. */
		for (j = 0; !matched[i] && j < list->n; j++)
			if (vb_rule_match(root, rule, &list->devs[j]))
				matched[i] = true;
	}

	/* 4. Rules that match nothing, in file order. */
	for (i = 0; diags && i < cfg->n_rules; i++) {
		const struct vb_term *mt = vb_rule_mapping(&cfg->rules[i]);

		/* a mapping without paths here was warned about when linked */
		if (matched[i] ||
		    (mt && (!mt->mapping.m || mt->mapping.m->mdev || mt->mapping.m->n == 0)))
			continue;
		r = vb_diags_add(diags, VB_SEV_WARNING, NULL, NULL, cfg->rules[i].line, 0, NULL,
				 "the hardware differs from the one the rule was written for; "
				 "compare with `vfio-bind status`",
				 "rule matches no device on this machine");
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	if (seeds)
		for (i = 0; i < cfg->n_rules; i++)
			free(seeds[i].v);
	free(seeds);
	free(matched);
	free(gi.v);
	free(group_done);
	return r;
}
