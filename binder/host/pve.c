/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Proxmox VE's files, read as Proxmox writes them (pve.h). pci.cfg is a
 * section config (pve-common's SectionConfig): a line with the mapping's ID
 * alone starts a section, indented "KEY VALUE" lines follow, a blank line
 * ends it, lines whose first non-blank is '#' are comments anywhere. A map
 * value is a property string: comma-separated KEY=VALUE, any order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pve.h"

int vb_pve_node_name(const struct vb_root *root, char *buf, size_t size)
{
	char line[256];
	size_t n = 0;
	int r = vb_read_file(root, "etc/hostname", line, sizeof(line));

	if (r >= 0) {
		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		while (p[n] && p[n] != '.' && p[n] != '\n' && p[n] != ' ' && p[n] != '\t')
			n++;
		if (n > 0 && n < size) {
			memcpy(buf, p, n);
			buf[n] = 0;
			return 0;
		}
	}
	if (root->is_host) {
		struct utsname u;

		if (uname(&u) == 0) {
			n = strcspn(u.nodename, ".");
			if (n > 0 && n < size) {
				memcpy(buf, u.nodename, n);
				buf[n] = 0;
				return 0;
			}
		}
	}
	return r < 0 ? r : -ENOENT;
}

/* ------------------------------------------------------------------------ */
/* pci.cfg */

struct cfgp {
	struct vb_diags *d;
	unsigned line;
	const char *node;
	struct vb_mappings *out;
	int err; /* -ENOMEM */
};

static void perr(struct cfgp *p, size_t col, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void perr(struct cfgp *p, size_t col, const char *hint, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (vb_diags_add(p->d, VB_SEV_ERROR, NULL, NULL, p->line, (unsigned)col, NULL, hint, "%s",
			 msg) < 0)
		p->err = -ENOMEM;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool eq(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static bool hexn(const char *s, size_t n, size_t min, size_t max, bool lower_only, uint32_t *ret)
{
	uint32_t v = 0;

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		int h = vb_hexval(s[i]);

		if (h < 0 || (lower_only && s[i] >= 'A' && s[i] <= 'F'))
			return false;
		v = v * 16 + (uint32_t)h;
	}
	*ret = v;
	return true;
}

/* VVVV:DDDD, either case (Proxmox's pattern) */
static bool parse_idv(const char *s, size_t n, uint16_t *a, uint16_t *b)
{
	uint32_t x, y;

	if (n != 9 || s[4] != ':' || !hexn(s, 4, 4, 4, false, &x) ||
	    !hexn(s + 5, 4, 4, 4, false, &y))
		return false;
	*a = (uint16_t)x;
	*b = (uint16_t)y;
	return true;
}

/* One path: DDDD:BB:SS[.F], lower-case hex, the domain 4 or more digits. */
static bool parse_one_path(const char *s, size_t n, struct vb_map_path *x)
{
	const char *c1 = memchr(s, ':', n), *c2, *dot;
	uint32_t dom, bus, slot, fn = 0;

	if (!c1 || !(c2 = memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1))))
		return false;
	dot = memchr(c2 + 1, '.', (size_t)(s + n - c2 - 1));
	if (!hexn(s, (size_t)(c1 - s), 4, 8, true, &dom) ||
	    !hexn(c1 + 1, (size_t)(c2 - c1 - 1), 2, 2, true, &bus) ||
	    !hexn(c2 + 1, (size_t)((dot ? dot : s + n) - c2 - 1), 2, 2, true, &slot) ||
	    slot > 0x1f ||
	    (dot && (!hexn(dot + 1, (size_t)(s + n - dot - 1), 1, 1, true, &fn) || fn > 7)))
		return false;
	x->addr.domain = dom;
	x->addr.bus = (uint8_t)bus;
	x->addr.slot = (uint8_t)slot;
	x->addr.func = (uint8_t)fn;
	x->slot = !dot;
	return true;
}

static bool node_name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i > 0 && i + 1 < n))
			return false;
	}
	return n > 0;
}

static const char hint_map[] = "a map entry is 'map node=NODE,path=DDDD:BB:SS[.F][;...],"
			       "id=VVVV:DDDD[,subsystem-id=VVVV:DDDD][,iommugroup=N]"
			       "[,description=TEXT]', as Proxmox writes it";

static void add_other(struct vb_mapping *m, const char *node, size_t n, struct cfgp *p)
{
	size_t old = m->other_nodes ? strlen(m->other_nodes) : 0;
	char *s;

	/* once per node: entries are listed ", "-separated */
	for (const char *q = m->other_nodes; q && *q;) {
		size_t l = strcspn(q, ",");

		if (l == n && memcmp(q, node, n) == 0)
			return;
		q += l;
		while (*q == ',' || *q == ' ')
			q++;
	}
	s = realloc(m->other_nodes, old + n + 3);
	if (!s) {
		p->err = -ENOMEM;
		return;
	}
	if (old)
		memcpy(s + old, ", ", 2), old += 2;
	memcpy(s + old, node, n);
	s[old + n] = 0;
	m->other_nodes = s;
}

/* "map" value at column col: the property string of one entry. */
static void parse_map(struct cfgp *p, struct vb_mapping *m, const char *v, size_t n, size_t col)
{
	static const char *const keys[] = {"node",       "id",          "subsystem-id",
					   "iommugroup", "description", "path"};
	const char *val[6] = {0};
	size_t vlen[6] = {0}, vcol[6] = {0};
	uint16_t vendor = 0, device = 0, sv = 0, sd = 0;
	long group = VB_MAP_GROUP_NONE;
	bool bad = false;

	for (size_t pos = 0; pos <= n;) {
		const char *part = v + pos, *comma = memchr(part, ',', n - pos), *e;
		size_t len = comma ? (size_t)(comma - part) : n - pos, k, ws = 0;

		while (ws < len && blank(part[ws]))
			ws++;
		if (ws == len) { /* Proxmox skips empty parts */
			pos += len + 1;
			continue;
		}
		e = memchr(part, '=', len);
		if (!e || e == part || e + 1 == part + len) {
			perr(p, col + pos, hint_map,
			     !e          ? "'%.*s' in a map entry is not KEY=VALUE"
			     : e == part ? "'%.*s': a map entry's KEY=VALUE has no key"
					 : "'%.*s': a map entry's KEY=VALUE has no value",
			     (int)len, part);
			bad = true;
		} else {
			for (k = 0; k < 6 && !eq(part, (size_t)(e - part), keys[k]); k++)
				;
			if (k == 6) {
				const char *near =
					vb_nearest_word(part, (size_t)(e - part), keys, 6);
				char hint[160];

				snprintf(hint, sizeof(hint),
					 "%s%s%skeys: node, path, id, subsystem-id, iommugroup, "
					 "description",
					 near ? "did you mean '" : "", near ? near : "",
					 near ? "'? " : "");
				perr(p, col + pos, hint, "unknown key '%.*s' in a map entry",
				     (int)(e - part), part);
				bad = true;
			} else if (val[k]) {
				perr(p, col + pos, NULL, "duplicate key '%s' in a map entry",
				     keys[k]);
				bad = true;
			} else {
				val[k] = e + 1;
				vlen[k] = (size_t)(part + len - e - 1);
				vcol[k] = col + pos + (size_t)(e + 1 - part);
			}
		}
		pos += len + 1;
	}
	for (size_t k = 0; k < 6; k++)
		if (!val[k] && (k == 0 || k == 1 || k == 5)) {
			perr(p, col, hint_map, "map entry without %s=", keys[k]);
			bad = true;
		}
	if (val[0] && !node_name_ok(val[0], vlen[0]))
		perr(p, vcol[0], "a node name is letters, digits and '-'", "invalid node= '%.*s'",
		     (int)vlen[0], val[0]),
			bad = true;
	if (val[1] && !parse_idv(val[1], vlen[1], &vendor, &device))
		perr(p, vcol[1], "expected VVVV:DDDD, 4 hex digits each", "invalid id= '%.*s'",
		     (int)vlen[1], val[1]),
			bad = true;
	if (val[2] && !parse_idv(val[2], vlen[2], &sv, &sd))
		perr(p, vcol[2], "expected VVVV:DDDD, 4 hex digits each",
		     "invalid subsystem-id= '%.*s'", (int)vlen[2], val[2]),
			bad = true;
	if (val[3]) {
		group = 0;
		for (size_t i = 0; i < vlen[3] && group >= 0; i++)
			group = val[3][i] >= '0' && val[3][i] <= '9' && group < 0x7fffffff / 10
					? group * 10 + (val[3][i] - '0')
					: -1;
		if (group < 0 || vlen[3] == 0)
			perr(p, vcol[3], "an IOMMU group number, as in /sys/kernel/iommu_groups/N",
			     "invalid iommugroup= '%.*s'", (int)vlen[3], val[3]),
				bad = true;
	}
	if (val[4] && vlen[4] > 4096)
		perr(p, vcol[4], NULL, "description= is longer than 4096 characters"), bad = true;
	if (val[5]) {
		struct vb_map_path paths[64];
		size_t np = 0, pos = 0;

		while (pos <= vlen[5] && !bad) {
			const char *s = val[5] + pos, *semi = memchr(s, ';', vlen[5] - pos);
			size_t len = semi ? (size_t)(semi - s) : vlen[5] - pos;

			if (np == 64) {
				perr(p, vcol[5] + pos, NULL, "more than 64 paths in one map entry");
				bad = true;
			} else if (!parse_one_path(s, len, &paths[np])) {
				perr(p, vcol[5] + pos,
				     "a path is DDDD:BB:SS.F, or DDDD:BB:SS for every function, in "
				     "lower-case hex (as lspci -D prints it); alternatives are "
				     "separated by ';'",
				     "invalid path '%.*s'", (int)len, s);
				bad = true;
			}
			np++;
			pos += len + 1;
		}
		if (bad || !val[0])
			return;
		if (!eq(val[0], vlen[0], p->node)) {
			add_other(m, val[0], vlen[0], p);
			return;
		}
		for (size_t i = 0; i < np && p->err == 0; i++) {
			paths[i].vendor = vendor;
			paths[i].device = device;
			paths[i].have_subsys = val[2] != NULL;
			paths[i].subsys_vendor = sv;
			paths[i].subsys_device = sd;
			/* Proxmox compares the group of the first path only */
			paths[i].group = i == 0 ? (int)group : VB_MAP_GROUP_UNCHECKED;
			paths[i].line = p->line;
			if (vb_mapping_add_path(m, &paths[i]) < 0)
				p->err = -ENOMEM;
		}
	}
}

static bool parse_boolv(const char *v, size_t n)
{
	static const char *const ok[] = {"0", "1", "yes", "no", "on", "off", "true", "false"};
	char w[8];

	if (n >= sizeof(w))
		return false;
	for (size_t i = 0; i < n; i++)
		w[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
	w[n] = 0;
	for (size_t i = 0; i < 8; i++)
		if (strcmp(w, ok[i]) == 0)
			return true;
	return false;
}

static bool truthy(const char *v)
{
	return v[0] == '1' || v[0] == 'y' || v[0] == 'Y' || v[0] == 't' || v[0] == 'T' ||
	       ((v[0] == 'o' || v[0] == 'O') && (v[1] == 'n' || v[1] == 'N'));
}

int vb_pve_parse_pci_cfg(const char *file, const char *buf, size_t len, const char *node,
			 struct vb_mappings *out, struct vb_diags *diags)
{
	struct cfgp p = {.d = diags, .node = node, .out = out};
	struct vb_mapping *cur = NULL;
	unsigned have = 0, cur_maps = 0; /* bits: description, mdev, live-migration-capable */
	bool in = false;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	vb_diags_init(diags, file);
	snprintf(out->node, sizeof(out->node), "%s", node);
	snprintf(out->source, sizeof(out->source), "%s", file);
	vb_digest(buf, len, out->digest);
	for (;;) {
		const char *s = buf + pos, *nl = pos < len ? memchr(s, '\n', len - pos) : NULL;
		size_t n = pos < len ? (nl ? (size_t)(nl - s) : len - pos) : 0, i = 0, bad;
		bool end = pos >= len;

		p.line++;
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)s[k] < 0x20 && s[k] != '\t') {
				perr(&p, k + 1, "pci.cfg is a text file written by Proxmox VE",
				     "control character 0x%02x", (unsigned char)s[k]);
				n = 0;
				break;
			}
		while (i < n && blank(s[i]))
			i++;
		if (i < n && s[i] == '#')
			goto next;
		if (end || n == 0) { /* a blank line (or the end) ends the section */
			if (in && cur_maps == 0 && cur)
				vb_diags_add(diags, VB_SEV_ERROR, NULL, NULL, cur->line, 0, NULL,
					     hint_map, "mapping '%s' has no map entry", cur->name);
			in = false;
			cur = NULL;
			if (end)
				break;
			goto next;
		}
		if (i == n) {
			perr(&p, 1, "a blank line has no spaces or tabs",
			     "line of only spaces or tabs");
			goto next;
		}
		if (i == 0) {
			size_t w = 0, t;

			while (w < n && !blank(s[w]))
				w++;
			for (t = w; t < n && blank(s[t]); t++)
				;
			if (in) {
				perr(&p, 1, "end each mapping with a blank line",
				     "expected an indented property of mapping '%s', found '%.*s'",
				     cur ? cur->name : "?", (int)w, s);
				goto next;
			}
			in = true;
			cur = NULL;
			have = cur_maps = 0;
			if (t < n) {
				perr(&p, t + 1, "a section starts with the mapping's ID alone",
				     "unexpected '%.*s' after the mapping ID", (int)(n - t), s + t);
				goto next;
			}
			bad = vb_pve_configid_check(s, w);
			if (bad) {
				perr(&p, bad > w ? 1 : bad,
				     "a mapping ID is a letter, then letters, digits, '-' or '_'",
				     "invalid mapping ID '%.*s'", (int)w, s);
				goto next;
			}
			for (size_t k = 0; k < out->n; k++)
				if (eq(s, w, out->v[k].name)) {
					perr(&p, 1, NULL,
					     "duplicate mapping '%.*s' (first at line %u)", (int)w,
					     s, out->v[k].line);
					goto next;
				}
			cur = vb_mappings_add(out, s, w, p.line);
			if (!cur)
				p.err = -ENOMEM;
			goto next;
		}
		if (!in) {
			perr(&p, i + 1, "a property follows its mapping's ID line",
			     "indented line outside a mapping");
			goto next;
		}
		{
			size_t k0 = i, kn, v0;
			const char *key = s + i;
			static const char *const keys[] = {"description", "mdev",
							   "live-migration-capable", "map"};
			int k;

			while (i < n && !blank(s[i]))
				i++;
			kn = i - k0;
			while (i < n && blank(s[i]))
				i++;
			v0 = i;
			while (n > v0 && blank(s[n - 1]))
				n--;
			for (k = 0; k < 4 && !eq(key, kn, keys[k]); k++)
				;
			if (k == 4) {
				const char *near = vb_nearest_word(key, kn, keys, 4);
				char hint[160];

				snprintf(hint, sizeof(hint),
					 "%s%s%sproperties: description, mdev, "
					 "live-migration-capable, map",
					 near ? "did you mean '" : "", near ? near : "",
					 near ? "'? " : "");
				perr(&p, k0 + 1, hint, "unknown property '%.*s'", (int)kn, key);
				goto next;
			}
			if (v0 >= n) {
				perr(&p, k0 + 1, k == 3 ? hint_map : NULL,
				     "property '%s' without a value", keys[k]);
				goto next;
			}
			if (k < 3 && (have & (1u << k))) {
				perr(&p, k0 + 1, "only map may be given more than once",
				     "duplicate property '%s'", keys[k]);
				goto next;
			}
			have |= 1u << k;
			if (k == 0 && n - v0 > 4096)
				perr(&p, v0 + 1, NULL,
				     "description is longer than 4096 characters");
			else if ((k == 1 || k == 2) && !parse_boolv(s + v0, n - v0))
				perr(&p, v0 + 1, "expected 0 or 1", "invalid %s value '%.*s'",
				     keys[k], (int)(n - v0), s + v0);
			else if (k == 1 && cur)
				cur->mdev = truthy(s + v0);
			else if (k == 3 && cur) {
				cur_maps++;
				parse_map(&p, cur, s + v0, n - v0, v0 + 1);
			} else if (k == 3)
				cur_maps++;
		}
	next:
		if (p.err < 0)
			return p.err;
		pos = nl ? (size_t)(nl - buf) + 1 : len;
	}
	if (p.err < 0)
		return p.err;
	return diags->n_errors ? -EINVAL : 0;
}

static void label(const struct vb_root *root, const char *rel, char *buf, size_t size)
{
	if (root->is_host)
		snprintf(buf, size, "/%s", rel);
	else
		snprintf(buf, size, "%s%s%s", root->path,
			 root->path[strlen(root->path) - 1] == '/' ? "" : "/", rel);
}

/* The first mapping= term, where config errors about mappings are put. */
static const struct vb_term *first_term(const struct vb_config *cfg, unsigned *line)
{
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct vb_term *t = vb_rule_mapping(&cfg->rules[i]);

		if (t) {
			*line = cfg->rules[i].line;
			return t;
		}
	}
	return NULL;
}

int vb_pve_job_mappings(const struct vb_root *root, struct vb_job *job, struct vb_diags *pdiags)
{
	char file[VB_LOCATION_MAX], dir[VB_LOCATION_MAX], node[64];
	const struct vb_term *t;
	unsigned line = 0;
	char *buf = NULL;
	size_t len = 0;
	int r;

	vb_diags_init(pdiags, NULL);
	t = first_term(&job->cfg, &line);
	if (!t)
		return 0;
	label(root, VB_PVE_DIR, dir, sizeof(dir));
	label(root, VB_PVE_PCI_CFG, file, sizeof(file));
	if (!vb_exists(root, VB_PVE_DIR)) {
		r = vb_diags_add(&job->diags, VB_SEV_ERROR, NULL, NULL, line, t->column, NULL,
				 "mapping= names a Proxmox VE PCI resource mapping; on other "
				 "machines select the devices by path=, id= or topology=",
				 "mapping=%s needs %s, which does not exist: not a Proxmox VE node",
				 t->mapping.name, dir);
		return r < 0 ? r : -EINVAL;
	}
	if (!vb_exists(root, "etc/pve/.version") && !vb_exists(root, VB_PVE_PCI_CFG) &&
	    !vb_exists(root, "etc/pve/nodes")) {
		r = vb_diags_add(&job->diags, VB_SEV_ERROR, NULL, NULL, line, t->column, NULL,
				 "start it (systemctl start pve-cluster) and try again",
				 "mapping=%s: %s is empty: the cluster file system (pve-cluster) "
				 "is not mounted",
				 t->mapping.name, dir);
		return r < 0 ? r : -EINVAL;
	}
	r = vb_pve_node_name(root, node, sizeof(node));
	if (r < 0) {
		r = vb_diags_add(&job->diags, VB_SEV_ERROR, NULL, NULL, line, t->column, NULL,
				 "write the node's name to /etc/hostname",
				 "mapping=%s: cannot tell this node's name: %s", t->mapping.name,
				 vb_strerror(-r));
		return r < 0 ? r : -EINVAL;
	}
	r = vb_read_all(root, VB_PVE_PCI_CFG, 1u << 20, &buf, &len);
	if (r == -ENOENT) {
		buf = NULL;
		len = 0;
	} else if (r < 0) {
		r = vb_diags_add(&job->diags, VB_SEV_ERROR, NULL, NULL, line, t->column, NULL, NULL,
				 "mapping=%s: cannot read %s: %s", t->mapping.name, file,
				 vb_strerror(-r));
		return r < 0 ? r : -EINVAL;
	}
	vb_diags_free(pdiags);
	r = vb_pve_parse_pci_cfg(file, buf ? buf : "", len, node, &job->maps, pdiags);
	free(buf);
	if (r == -EINVAL) {
		r = vb_diags_add(&job->diags, VB_SEV_ERROR, NULL, NULL, line, t->column, NULL,
				 "fix it in Datacenter > Resource Mappings, or by hand",
				 "mapping=%s: %s has errors: no mapping is used", t->mapping.name,
				 file);
		vb_mappings_free(&job->maps);
		return r < 0 ? r : -EINVAL;
	}
	if (r < 0)
		return r;
	return vb_mappings_link(&job->maps, &job->cfg, &job->diags);
}

int vb_pve_mappings_write(FILE *f, const struct vb_mappings *m, const struct vb_config *cfg)
{
	fprintf(f,
		"# vfio-bind: the Proxmox VE PCI mappings this node's rules use, resolved by\n"
		"# vfio-bind check --mappings when the initramfs was built (the cluster file\n"
		"# system is not there at boot); see vfio-bind(8).\n"
		"vfio-bind-mappings %d\n"
		"node %s\n"
		"source %s %s\n",
		VB_MAPPINGS_VERSION, m->node, m->source, m->digest);
	for (size_t i = 0; i < m->n; i++) {
		const struct vb_mapping *x = &m->v[i];
		bool used = false;

		for (size_t k = 0; k < cfg->n_rules && !used; k++) {
			const struct vb_term *t = vb_rule_mapping(&cfg->rules[k]);

			used = t && t->mapping.m == x;
		}
		if (!used)
			continue;
		fprintf(f, "mapping %s %u%s\n", x->name, x->line, x->mdev ? " mdev" : "");
		for (size_t k = 0; k < x->n; k++) {
			const struct vb_map_path *p = &x->paths[k];
			char a[VB_PCI_NAME_MAX], g[16];

			vb_pci_addr_format(&p->addr, a);
			if (p->slot)
				a[strlen(a) - 2] = 0;
			if (p->group >= 0)
				snprintf(g, sizeof(g), "%d", p->group);
			else
				snprintf(g, sizeof(g), "%s",
					 p->group == VB_MAP_GROUP_NONE ? "none" : "-");
			fprintf(f, "path %s %04x:%04x ", a, p->vendor, p->device);
			if (p->have_subsys)
				fprintf(f, "%04x:%04x", p->subsys_vendor, p->subsys_device);
			else
				fputs("none", f);
			fprintf(f, " %s %u\n", g, p->line);
		}
	}
	return ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------------ */
/* Virtual machines */

void vb_vms_free(struct vb_vms *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

static int vms_add(struct vb_vms *v, const struct vb_vm_use *u)
{
	if ((v->n & 15) == 0) {
		struct vb_vm_use *x = realloc(v->v, (v->n + 16) * sizeof(*x));

		if (!x)
			return -ENOMEM;
		v->v = x;
	}
	v->v[v->n++] = *u;
	return 0;
}

/* qemu-server's test: the pid file's process runs and was started with
 * -pidfile naming that file (so a reused pid does not count). */
static bool pid_is_vm(const struct vb_root *root, unsigned long pid, unsigned vmid)
{
	char rel[64], want[64], *cmd = NULL;
	size_t len;
	bool ok = false;

	snprintf(rel, sizeof(rel), "proc/%lu/cmdline", pid);
	if (vb_read_all(root, rel, 64u << 10, &cmd, &len) < 0)
		return false;
	snprintf(want, sizeof(want), "qemu-server/%u.pid", vmid);
	for (size_t i = 0; i + 1 < len && !ok; i += strlen(cmd + i) + 1)
		if (strcmp(cmd + i, "-pidfile") == 0 && i + 9 < len) {
			const char *f = cmd + i + 9;
			size_t fl = strlen(f), wl = strlen(want);

			ok = fl >= wl && strcmp(f + fl - wl, want) == 0;
		}
	free(cmd);
	return ok;
}

static unsigned long vm_pid(const struct vb_root *root, unsigned vmid)
{
	char rel[64], buf[32], *end;
	unsigned long pid;

	snprintf(rel, sizeof(rel), "run/qemu-server/%u.pid", vmid);
	if (vb_read_file(root, rel, buf, sizeof(buf)) <= 0)
		return 0;
	errno = 0;
	pid = strtoul(buf, &end, 10);
	if (errno || *end || buf[0] < '1' || buf[0] > '9')
		return 0;
	return pid_is_vm(root, pid, vmid) ? pid : 0;
}

/* "ADDR" or "BB:SS[.F]" (qemu-server accepts a missing domain) */
static bool vm_addr(const char *s, size_t n, struct vb_pci_addr *a, bool *slot)
{
	char buf[24];
	size_t colons = 0;
	struct vb_map_path x;

	if (n + 6 > sizeof(buf))
		return false;
	for (size_t i = 0; i < n; i++)
		colons += s[i] == ':';
	snprintf(buf, sizeof(buf), "%s%.*s", colons == 1 ? "0000:" : "", (int)n, s);
	if (!parse_one_path(buf, strlen(buf), &x))
		return false;
	*a = x.addr;
	*slot = x.slot;
	return true;
}

/* hostpciN: [host=]ADDR[;ADDR...][,KEY=VALUE...] or mapping=NAME[,...] */
static int vm_line(struct vb_vms *out, const struct vb_mappings *maps, unsigned vmid, bool running,
		   const char *key, const char *v)
{
	struct vb_vm_use u = {.vmid = vmid, .running = running};
	const char *host = NULL, *mapping = NULL;
	size_t host_n = 0, map_n = 0;
	int r;

	snprintf(u.entry, sizeof(u.entry), "%s", key);
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ",");
		const char *e = memchr(p, '=', len);

		if (!e) {
			host = p, host_n = len;
		} else if ((size_t)(e - p) == 4 && memcmp(p, "host", 4) == 0) {
			host = e + 1, host_n = len - 5;
		} else if ((size_t)(e - p) == 7 && memcmp(p, "mapping", 7) == 0) {
			mapping = e + 1, map_n = len - 8;
		}
		p += len + (p[len] == ',');
	}
	if (mapping) {
		const struct vb_mapping *m;
		char name[VB_MAPPING_NAME_MAX];

		if (map_n >= sizeof(name))
			return 0;
		memcpy(name, mapping, map_n);
		name[map_n] = 0;
		snprintf(u.mapping, sizeof(u.mapping), "%s", name);
		m = vb_mappings_find(maps, name);
		for (size_t i = 0; m && i < m->n; i++) {
			u.addr = m->paths[i].addr;
			u.slot = m->paths[i].slot;
			if ((r = vms_add(out, &u)) < 0)
				return r;
		}
		return 0;
	}
	for (const char *p = host; p && host_n > 0;) {
		size_t len = 0;

		while (len < host_n && p[len] != ';')
			len++;
		if (vm_addr(p, len, &u.addr, &u.slot) && (r = vms_add(out, &u)) < 0)
			return r;
		if (len >= host_n)
			break;
		p += len + 1;
		host_n -= len + 1;
	}
	return 0;
}

static int vm_config(const struct vb_root *root, const struct vb_mappings *maps, unsigned vmid,
		     struct vb_vms *out)
{
	char rel[64], *buf = NULL;
	size_t len;
	bool running = vm_pid(root, vmid) != 0;
	int r = 0;

	snprintf(rel, sizeof(rel), "etc/pve/qemu-server/%u.conf", vmid);
	if (vb_read_all(root, rel, 1u << 20, &buf, &len) < 0)
		return 0;
	for (char *line = buf; line && *line && r == 0;) {
		char *nl = strchr(line, '\n'), *c;

		if (nl)
			*nl = 0;
		/* a snapshot section ([name]) or pending changes end the current config */
		if (line[0] == '[')
			break;
		c = strchr(line, ':');
		if (strncmp(line, "hostpci", 7) == 0 && c && c - line < 10 && c[1] == ' ') {
			*c = 0;
			r = vm_line(out, maps, vmid, running, line, c + 2);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return r;
}

/* ADDR VMID pid:PID | time:EPOCH (qemu-server's PCI.pm) */
static int reservations(const struct vb_root *root, struct vb_vms *out)
{
	char *buf = NULL;
	size_t len;
	int r = 0;

	if (vb_read_all(root, "run/qemu-server/pci-id-reservations", 1u << 20, &buf, &len) < 0)
		return 0;
	for (char *line = buf; line && *line && r == 0;) {
		char *nl = strchr(line, '\n'), addr[32], kind[8];
		unsigned vmid;
		unsigned long long v;
		struct vb_vm_use u = {0};

		if (nl)
			*nl = 0;
		if (sscanf(line, "%31s %u %7[a-z]:%llu", addr, &vmid, kind, &v) == 4 &&
		    vm_addr(addr, strlen(addr), &u.addr, &u.slot)) {
			u.vmid = vmid;
			if (strcmp(kind, "pid") == 0) {
				u.running = vm_pid(root, vmid) == v ||
					    pid_is_vm(root, (unsigned long)v, vmid);
				u.reserved = u.running;
			} else if (strcmp(kind, "time") == 0) {
				u.reserved = (unsigned long long)time(NULL) < v;
			}
			if (u.reserved)
				r = vms_add(out, &u);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return r;
}

int vb_vms_load(const struct vb_root *root, const struct vb_mappings *maps, struct vb_vms *out)
{
	struct vb_mappings own = {0};
	DIR *d;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->pve = vb_exists(root, VB_PVE_DIR);
	if (!out->pve)
		return 0;
	if (!maps) {
		/* VMs name mappings too: read pci.cfg for them (an invalid file
		 * resolves nothing; check and plan report it) */
		char node[64], *buf = NULL;
		size_t len;
		struct vb_diags dg;

		if (vb_pve_node_name(root, node, sizeof(node)) == 0 &&
		    vb_read_all(root, VB_PVE_PCI_CFG, 1u << 20, &buf, &len) == 0) {
			if (vb_pve_parse_pci_cfg(VB_PVE_PCI_CFG, buf, len, node, &own, &dg) < 0)
				vb_mappings_free(&own);
			vb_diags_free(&dg);
		}
		free(buf);
		maps = &own;
	}
	if (vb_opendir(root, "etc/pve/qemu-server", &d) == 0) {
		struct dirent *de;

		while (r == 0 && (de = readdir(d))) {
			char *end;
			unsigned long id = strtoul(de->d_name, &end, 10);

			if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
			    strcmp(end, ".conf") == 0 && id < 1000000000)
				r = vm_config(root, maps, (unsigned)id, out);
		}
		closedir(d);
	}
	if (r == 0)
		r = reservations(root, out);
	vb_mappings_free(&own);
	return r;
}

bool vb_vm_use_covers(const struct vb_vm_use *u, const struct vb_pci_addr *a)
{
	return u->addr.domain == a->domain && u->addr.bus == a->bus && u->addr.slot == a->slot &&
	       (u->slot || u->addr.func == a->func);
}

unsigned vb_vms_holder(const struct vb_vms *v, const struct vb_pci_addr *a)
{
	for (size_t i = 0; i < v->n; i++)
		if ((v->v[i].running || v->v[i].reserved) && vb_vm_use_covers(&v->v[i], a))
			return v->v[i].vmid;
	return 0;
}

void vb_vms_describe(const struct vb_vms *v, const struct vb_pci_addr *a, bool verbose, char *buf,
		     size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < v->n && o < size; i++) {
		const struct vb_vm_use *u = &v->v[i];
		bool seen = false;
		int w;

		if (!vb_vm_use_covers(u, a))
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = v->v[k].vmid == u->vmid && vb_vm_use_covers(&v->v[k], a);
		if (seen)
			continue;
		if (verbose)
			w = snprintf(buf + o, size - o, "%s%u (%s%s%s%s%s)", o ? ", " : "", u->vmid,
				     vb_vms_holder(v, a) == u->vmid ? "running" : "stopped",
				     u->entry[0] ? ", " : "", u->entry,
				     u->mapping[0] ? " mapping " : "", u->mapping);
		else
			w = snprintf(buf + o, size - o, "%s%u%s", o ? "," : "", u->vmid,
				     vb_vms_holder(v, a) == u->vmid ? "*" : "");
		if (w < 0)
			break;
		o += (size_t)w;
	}
}
