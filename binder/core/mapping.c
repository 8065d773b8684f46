/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolved Proxmox VE PCI mappings (mapping.h). Part of the early binder:
 * POSIX and klibc only, and small. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mapping.h"

#define MAPPINGS_MAX (256u << 10)

void vb_mappings_free(struct vb_mappings *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].paths);
		free(m->v[i].other_nodes);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

struct vb_mapping *vb_mappings_add(struct vb_mappings *m, const char *name, size_t name_len,
				   unsigned line)
{
	struct vb_mapping *x;

	if ((m->n & 7) == 0) {
		x = realloc(m->v, (m->n + 8) * sizeof(*x));
		if (!x)
			return NULL;
		m->v = x;
	}
	x = &m->v[m->n];
	memset(x, 0, sizeof(*x));
	x->name = malloc(name_len + 1);
	if (!x->name)
		return NULL;
	memcpy(x->name, name, name_len);
	x->name[name_len] = 0;
	x->line = line;
	m->n++;
	return x;
}

int vb_mapping_add_path(struct vb_mapping *m, const struct vb_map_path *p)
{
	if ((m->n & 7) == 0) {
		struct vb_map_path *v = realloc(m->paths, (m->n + 8) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->paths = v;
	}
	m->paths[m->n++] = *p;
	return 0;
}

const struct vb_mapping *vb_mappings_find(const struct vb_mappings *m, const char *name)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (strcmp(m->v[i].name, name) == 0)
			return &m->v[i];
	return NULL;
}

void vb_digest(const char *buf, size_t len, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ull;
	snprintf(out, 17, "%08x%08x", (unsigned)(h >> 32), (unsigned)h);
}

/* ------------------------------------------------------------------------ */
/* The image's file */

/* The next blank-separated word of [*p, end), NUL-terminated in place. */
static char *word(char **p, char *end)
{
	char *w;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p >= end)
		return NULL;
	w = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	if (*p < end)
		*(*p)++ = 0;
	return w;
}

static bool hex4(const char *s, uint16_t *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int h = vb_hexval(s[i]);

		if (h < 0)
			return false;
		v = v * 16 + (unsigned)h;
	}
	*ret = (uint16_t)v;
	return true;
}

static bool id_pair(const char *s, uint16_t *a, uint16_t *b)
{
	return s && strlen(s) == 9 && s[4] == ':' && hex4(s, a) && hex4(s + 5, b);
}

static bool number(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!s || !*s || strlen(s) > 10)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return false;
	*ret = v;
	return true;
}

/* path ADDRESS ID SUBSYS GROUP LINE */
static const char *parse_path(char **p, char *end, struct vb_map_path *x)
{
	char *a = word(p, end), *id = word(p, end), *sub = word(p, end), *g = word(p, end),
	     *ln = word(p, end), buf[VB_PCI_NAME_MAX];
	unsigned long v;

	memset(x, 0, sizeof(*x));
	if (!a || strlen(a) + 3 > sizeof(buf))
		return "bad address";
	x->slot = strchr(a, '.') == NULL;
	snprintf(buf, sizeof(buf), "%s%s", a, x->slot ? ".0" : "");
	if (vb_pci_addr_parse(buf, &x->addr) < 0)
		return "bad address";
	if (!id_pair(id, &x->vendor, &x->device))
		return "bad vendor:device";
	if (sub && strcmp(sub, "none") == 0)
		x->have_subsys = false;
	else if (id_pair(sub, &x->subsys_vendor, &x->subsys_device))
		x->have_subsys = true;
	else
		return "bad subsystem";
	if (g && strcmp(g, "-") == 0)
		x->group = VB_MAP_GROUP_UNCHECKED;
	else if (g && strcmp(g, "none") == 0)
		x->group = VB_MAP_GROUP_NONE;
	else if (number(g, 0x7fffffff, &v))
		x->group = (int)v;
	else
		return "bad group";
	if (!number(ln, 0xffffffff, &v))
		return "bad line number";
	x->line = (unsigned)v;
	return NULL;
}

int vb_mappings_parse(const char *text, struct vb_mappings *m, unsigned *bad_line, char *why,
		      size_t why_size)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1), *p, *end;
	const char *reason = NULL;
	struct vb_mapping *cur = NULL;
	bool have_version = false, have_node = false;
	unsigned line = 0;
	int r = 0;

	memset(m, 0, sizeof(*m));
	*bad_line = 0;
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len + 1);
	for (p = buf; *p && !reason && r == 0;) {
		char *eol = strchr(p, '\n'), *w, *v;
		struct vb_map_path x;
		unsigned long n;

		end = eol ? eol : p + strlen(p);
		*end = 0;
		line++;
		w = word(&p, end);
		if (!w || w[0] == '#') {
			p = eol ? end + 1 : end;
			continue;
		}
		if (!have_version) {
			v = word(&p, end);
			if (strcmp(w, "vfio-bind-mappings") != 0 || !v)
				reason = "not a vfio-bind mappings file";
			else if (strcmp(v, "1") != 0)
				reason = "unknown version (a newer vfio-bind wrote it)";
			have_version = true;
		} else if (strcmp(w, "node") == 0) {
			v = word(&p, end);
			if (!v || strlen(v) >= sizeof(m->node))
				reason = "bad node line";
			else
				snprintf(m->node, sizeof(m->node), "%s", v), have_node = true;
		} else if (strcmp(w, "source") == 0) {
			char *f = word(&p, end);

			v = word(&p, end);
			if (!f || !v || strlen(f) >= sizeof(m->source) || strlen(v) != 16)
				reason = "bad source line";
			else
				snprintf(m->source, sizeof(m->source), "%s", f),
					snprintf(m->digest, sizeof(m->digest), "%s", v);
		} else if (strcmp(w, "mapping") == 0) {
			char *name = word(&p, end), *ln = word(&p, end), *flag = word(&p, end);

			if (!name || vb_pve_configid_check(name, strlen(name)) ||
			    vb_mappings_find(m, name) || !number(ln, 0xffffffff, &n) ||
			    (flag && strcmp(flag, "mdev") != 0))
				reason = "bad mapping line";
			else if (!(cur = vb_mappings_add(m, name, strlen(name), (unsigned)n)))
				r = -ENOMEM;
			else
				cur->mdev = flag != NULL;
		} else if (strcmp(w, "path") == 0) {
			if (!cur)
				reason = "path before any mapping";
			else if (!(reason = parse_path(&p, end, &x)))
				r = vb_mapping_add_path(cur, &x);
		} else {
			reason = "unknown line";
		}
		if (!reason && r == 0 && word(&p, end))
			reason = "trailing words";
		p = eol ? end + 1 : end;
	}
	if (!reason && r == 0 && (!have_version || !have_node))
		reason = !have_version ? "empty file" : "no node line", line = 0;
	free(buf);
	if (reason || r < 0) {
		*bad_line = line;
		snprintf(why, why_size, "%s", reason ? reason : vb_strerror(-r));
		vb_mappings_free(m);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
}

int vb_mappings_load(const struct vb_root *root, struct vb_mappings *m, unsigned *bad_line,
		     char *why, size_t why_size)
{
	char *text;
	int r;

	memset(m, 0, sizeof(*m));
	*bad_line = 0;
	r = vb_read_text(root, VB_MAPPINGS_FILE, MAPPINGS_MAX, &text, why, why_size);
	if (r < 0)
		return r;
	r = vb_mappings_parse(text, m, bad_line, why, why_size);
	free(text);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Linking and matching */

const struct vb_term *vb_rule_mapping(const struct vb_rule *r)
{
	for (size_t i = 0; i < r->n_terms; i++)
		if (r->terms[i].kind == VB_TERM_MAPPING)
			return &r->terms[i];
	return NULL;
}

bool vb_config_uses_mappings(const struct vb_config *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++)
		if (vb_rule_mapping(&cfg->rules[i]))
			return true;
	return false;
}

int vb_mappings_link(const struct vb_mappings *m, struct vb_config *cfg, struct vb_diags *diags)
{
	const char *src = m->source[0] ? m->source : "/etc/pve/mapping/pci.cfg";
	int r = 0;

	for (size_t i = 0; i < cfg->n_rules && r == 0; i++) {
		struct vb_rule *rule = &cfg->rules[i];

		for (size_t k = 0; k < rule->n_terms && r == 0; k++) {
			struct vb_term *t = &rule->terms[k];
			const struct vb_mapping *x;
			char hint[512];

			if (t->kind != VB_TERM_MAPPING)
				continue;
			x = t->mapping.m = vb_mappings_find(m, t->mapping.name);
			if (!x) {
				const char **names = malloc((m->n + 1) * sizeof(*names));
				const char *near = NULL;
				size_t o = 0;

				if (!names)
					return -ENOMEM;
				for (size_t j = 0; j < m->n; j++)
					names[j] = m->v[j].name;
				near = vb_nearest_word(t->mapping.name, strlen(t->mapping.name),
						       names, m->n);
				free(names);
				if (near)
					o = (size_t)snprintf(hint, sizeof(hint),
							     "did you mean '%s'? ", near);
				if (m->n == 0)
					snprintf(
						hint + o, sizeof(hint) - o,
						"%s defines no mapping; create one in Datacenter > "
						"Resource Mappings",
						src);
				else
					snprintf(hint + o, sizeof(hint) - o,
						 "the mappings are listed in %s (pvesh get "
						 "/cluster/mapping/pci)",
						 src);
				r = vb_diags_add(diags, VB_SEV_ERROR, NULL, NULL, rule->line,
						 t->column, NULL, hint,
						 "unknown mapping '%s': not in %s", t->mapping.name,
						 src);
			} else if (x->mdev) {
				r = vb_diags_add(diags, VB_SEV_WARNING, NULL, NULL, rule->line,
						 t->column, NULL,
						 "a mediated-device mapping stays on its vendor "
						 "driver, which creates the mdevs",
						 "mapping '%s' is for mediated devices (mdev 1 at "
						 "%s:%u): skipped, it selects nothing",
						 x->name, src, x->line);
			} else if (x->n == 0) {
				r = vb_diags_add(
					diags, VB_SEV_WARNING, NULL, NULL, rule->line, t->column,
					NULL,
					x->other_nodes ? "add a map entry for this node" : NULL,
					"mapping '%s' has no entry for node '%s'%s%s%s: it selects "
					"nothing",
					x->name, m->node, x->other_nodes ? " (only for " : "",
					x->other_nodes ? x->other_nodes : "",
					x->other_nodes ? ")" : "");
			}
		}
	}
	if (r < 0)
		return r;
	return diags->n_errors ? -EINVAL : 0;
}

const struct vb_map_path *vb_mapping_covers(const struct vb_mapping *m, const struct vb_pci_addr *a)
{
	if (!m || m->mdev)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		const struct vb_map_path *p = &m->paths[i];

		if (p->addr.domain == a->domain && p->addr.bus == a->bus &&
		    p->addr.slot == a->slot && (p->slot || p->addr.func == a->func))
			return p;
	}
	return NULL;
}

void vb_mapping_check(const struct vb_root *root, const struct vb_config *cfg,
		      struct vb_pci_list *list, struct vb_plan_item *item)
{
	const struct vb_term *t;
	const struct vb_map_path *p;
	struct vb_pci_dev *d;
	char at[VB_PCI_NAME_MAX], what[96];
	int r;

	if (item->via != VB_VIA_RULE || item->rule < 0 || (size_t)item->rule >= cfg->n_rules)
		return;
	t = vb_rule_mapping(&cfg->rules[item->rule]);
	if (!t || !(p = vb_mapping_covers(t->mapping.m, &item->dev->addr)))
		return;
	d = p->slot ? vb_pci_find(list, &p->addr) : item->dev;
	vb_pci_addr_format(&p->addr, at);
	what[0] = 0;
	if (!d)
		snprintf(what, sizeof(what), "names %s, which does not exist", at);
	else if (d->vendor != p->vendor || d->device != p->device)
		snprintf(what, sizeof(what), "expects id %04x:%04x, %s has %04x:%04x", p->vendor,
			 p->device, at, d->vendor, d->device);
	else if (!p->have_subsys)
		snprintf(what, sizeof(what), "has no subsystem-id, %s has %04x:%04x", at,
			 d->subsys_vendor, d->subsys_device);
	else if (d->subsys_vendor != p->subsys_vendor || d->subsys_device != p->subsys_device)
		snprintf(what, sizeof(what), "expects subsystem-id %04x:%04x, %s has %04x:%04x",
			 p->subsys_vendor, p->subsys_device, at, d->subsys_vendor,
			 d->subsys_device);
	else if (p->group != VB_MAP_GROUP_UNCHECKED) {
		r = vb_pci_load_group(root, d);
		if (r < 0)
			snprintf(what, sizeof(what), "expects an IOMMU group check; %s: %s", at,
				 vb_strerror(-r));
		else if (p->group != d->iommu_group && p->group == VB_MAP_GROUP_NONE)
			snprintf(what, sizeof(what), "has no iommugroup, %s is in group %d", at,
				 d->iommu_group);
		else if (p->group != d->iommu_group && d->iommu_group < 0)
			snprintf(what, sizeof(what), "expects iommugroup %d, %s has no group",
				 p->group, at);
		else if (p->group != d->iommu_group)
			snprintf(what, sizeof(what), "expects iommugroup %d, %s is in group %d",
				 p->group, at, d->iommu_group);
	}
	if (what[0])
		vb_plan_refuse(item, VB_REFUSE_MAPPING,
			       "mapping '%s' (pci.cfg:%u) %s: hardware changed? not taken "
			       "(Proxmox refuses it too)",
			       t->mapping.name, p->line, what);
}
