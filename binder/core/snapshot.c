/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hardware snapshot's reader and the boot guard (snapshot.h). Part of
 * the early binder: POSIX and klibc only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "log.h"
#include "snapshot.h"

/* A snapshot is a few lines per selected or protected device. */
#define SNAPSHOT_MAX (256u << 10)

struct cursor {
	const char *p, *end; /* the rest of the line */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated word; false at the end of the line. */
static bool next_word(struct cursor *c, const char **w, size_t *n)
{
	while (c->p < c->end && is_blank(*c->p))
		c->p++;
	if (c->p >= c->end)
		return false;
	*w = c->p;
	while (c->p < c->end && !is_blank(*c->p))
		c->p++;
	*n = (size_t)(c->p - *w);
	return true;
}

static bool word_is(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* Exactly `digits` hex digits. */
static bool parse_hex(const char *w, size_t n, size_t digits, uint32_t *ret)
{
	return n == digits && vb_hex_digits(w, n, ret) == 0;
}

/* "VVVV:DDDD" */
static bool parse_id(const char *w, size_t n, uint16_t *a, uint16_t *b)
{
	uint32_t x, y;

	if (n != 9 || w[4] != ':' || !parse_hex(w, 4, 4, &x) || !parse_hex(w + 5, 4, 4, &y))
		return false;
	*a = (uint16_t)x;
	*b = (uint16_t)y;
	return true;
}

static bool copy_word(char *dst, size_t size, const char *w, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, w, n);
	dst[n] = '\0';
	return true;
}

/* protect|select ADDRESS ID SUBSYS CLASS TOPOLOGY [WHAT...] */
static int parse_dev(struct cursor *c, enum vb_snap_kind kind, struct vb_snap_dev *d,
		     const char **why)
{
	struct vb_pci_addr a;
	const char *w;
	size_t n;
	uint32_t cls;

	memset(d, 0, sizeof(*d));
	d->kind = kind;
	if (!next_word(c, &w, &n) || !copy_word(d->address, sizeof(d->address), w, n) ||
	    vb_pci_addr_parse(d->address, &a) < 0)
		return *why = "bad or missing address", -EINVAL;
	if (!next_word(c, &w, &n) || !parse_id(w, n, &d->vendor, &d->device))
		return *why = "bad or missing vendor:device", -EINVAL;
	if (!next_word(c, &w, &n) || !parse_id(w, n, &d->subsys_vendor, &d->subsys_device))
		return *why = "bad or missing subsystem", -EINVAL;
	if (!next_word(c, &w, &n) || !parse_hex(w, n, 6, &cls))
		return *why = "bad or missing class (6 hex digits)", -EINVAL;
	d->class = cls;
	if (!next_word(c, &w, &n) || !copy_word(d->topology, sizeof(d->topology), w, n))
		return *why = "bad or missing topology", -EINVAL;
	while (c->p < c->end && is_blank(*c->p))
		c->p++;
	n = (size_t)(c->end - c->p);
	if (kind == VB_SNAP_SELECT && n > 0)
		return *why = "trailing words", -EINVAL;
	if (n >= sizeof(d->what))
		n = sizeof(d->what) - 1;
	memcpy(d->what, c->p, n);
	d->what[n] = '\0';
	c->p = c->end;
	return 0;
}

static int add_dev(struct vb_snapshot *snap, const struct vb_snap_dev *d)
{
	struct vb_snap_dev *v;

	if ((snap->n & 15) == 0) {
		v = realloc(snap->devs, (snap->n + 16) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		snap->devs = v;
	}
	snap->devs[snap->n++] = *d;
	return 0;
}

int vb_snapshot_parse(const char *text, struct vb_snapshot *snap, unsigned *bad_line, char *why,
		      size_t why_size)
{
	bool have_version = false, have_sysfs = false, have_root = false;
	const char *p = text, *reason = NULL;
	unsigned line = 0;
	int r = 0;

	memset(snap, 0, sizeof(*snap));
	*bad_line = 0;
	while (*p && r == 0) {
		const char *eol = strchr(p, '\n');
		struct cursor c = {p, eol ? eol : p + strlen(p)};
		struct vb_snap_dev d;
		const char *w, *v;
		size_t n, vn;

		line++;
		p = eol ? eol + 1 : c.end;
		if (!next_word(&c, &w, &n) || w[0] == '#')
			continue;
		if (!have_version) {
			uint32_t ver = 0;

			if (!word_is(w, n, "vfio-bind-snapshot") || !next_word(&c, &v, &vn))
				reason = "not a vfio-bind snapshot", r = -EINVAL;
			else if (vn > 4 || !parse_hex(v, vn, vn, &ver) ||
				 ver != VB_SNAPSHOT_VERSION)
				reason = "unknown snapshot version (a newer vfio-bind wrote it)",
				r = -EINVAL;
			have_version = r == 0;
			continue;
		}
		if (word_is(w, n, "kernel")) {
			if (!next_word(&c, &v, &vn) ||
			    !copy_word(snap->kernel, sizeof(snap->kernel), v, vn))
				reason = "bad kernel line", r = -EINVAL;
		} else if (word_is(w, n, "sysfs")) {
			have_sysfs = next_word(&c, &v, &vn);
			if (have_sysfs && word_is(v, vn, "yes"))
				snap->sysfs = true;
			else if (!have_sysfs || !word_is(v, vn, "no"))
				reason = "sysfs must be yes or no", r = -EINVAL;
		} else if (word_is(w, n, "root")) {
			have_root = next_word(&c, &v, &vn);
			if (have_root && word_is(v, vn, "found"))
				snap->root_found = true;
			else if (!have_root || !word_is(v, vn, "unknown"))
				reason = "root must be found or unknown", r = -EINVAL;
		} else if (word_is(w, n, "protect") || word_is(w, n, "select")) {
			r = parse_dev(&c, w[0] == 'p' ? VB_SNAP_PROTECT : VB_SNAP_SELECT, &d,
				      &reason);
			if (r == 0)
				r = add_dev(snap, &d);
		} else {
			reason = "unknown line", r = -EINVAL;
		}
		if (r == 0 && c.p < c.end && next_word(&c, &v, &vn))
			reason = "trailing words", r = -EINVAL;
	}
	if (r == 0 && (!have_version || !have_sysfs || !have_root)) {
		reason = !have_version ? "empty snapshot"
			 : !have_sysfs ? "no sysfs line"
				       : "no root line";
		line = 0;
		r = -EINVAL;
	}
	if (r < 0) {
		*bad_line = line;
		snprintf(why, why_size, "%s", reason ? reason : vb_strerror(-r));
		vb_snapshot_free(snap);
	}
	return r;
}

int vb_snapshot_load(const struct vb_root *root, struct vb_snapshot *snap, unsigned *bad_line,
		     char *why, size_t why_size)
{
	char *text;
	int r;

	memset(snap, 0, sizeof(*snap));
	*bad_line = 0;
	r = vb_read_text(root, VB_SNAPSHOT_FILE, SNAPSHOT_MAX, &text, why, why_size);
	if (r < 0)
		return r;
	r = vb_snapshot_parse(text, snap, bad_line, why, why_size);
	free(text);
	return r;
}

void vb_snapshot_free(struct vb_snapshot *snap)
{
	free(snap->devs);
	snap->devs = NULL;
	snap->n = 0;
}

bool vb_snap_same_model(const struct vb_snap_dev *e, const struct vb_pci_dev *d)
{
	return e->vendor == d->vendor && e->device == d->device &&
	       e->subsys_vendor == d->subsys_vendor && e->subsys_device == d->subsys_device &&
	       e->class == d->class;
}

/* Does a select entry share e's model? Then e is told apart by topology. */
static bool model_selected(const struct vb_snapshot *s, const struct vb_snap_dev *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct vb_snap_dev *o = &s->devs[i];

		if (o->kind == VB_SNAP_SELECT && o->vendor == e->vendor && o->device == e->device &&
		    o->subsys_vendor == e->subsys_vendor && o->subsys_device == e->subsys_device &&
		    o->class == e->class)
			return true;
	}
	return false;
}

static const struct vb_snap_dev *find(const struct vb_snapshot *s, enum vb_snap_kind kind,
				      const char *topology, const char *address)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct vb_snap_dev *e = &s->devs[i];

		if (e->kind != kind)
			continue;
		if (topology && strcmp(e->topology, topology) == 0)
			return e;
		if (address && strcmp(e->address, address) == 0)
			return e;
	}
	return NULL;
}

int vb_snapshot_guard(const struct vb_root *root, const struct vb_config *cfg,
		      struct vb_plan_item *item, void *userdata)
{
	const struct vb_snapshot *s = userdata;
	struct vb_pci_dev *d = item->dev;
	const struct vb_snap_dev *e;
	char topo[VB_TOPOLOGY_MAX];
	int r;

	if (!s) {
		vb_plan_refuse_unknown_storage(cfg, item, "the image has no hardware snapshot");
		return 0;
	}
	if (!s->sysfs) {
		vb_plan_refuse_unknown_storage(cfg, item, "the image was built without /sys");
		return 0;
	}
	r = vb_pci_topology(root, d, topo, sizeof(topo));
	if (r < 0)
		return r;

	for (size_t i = 0; i < s->n; i++) {
		e = &s->devs[i];
		if (e->kind != VB_SNAP_PROTECT || !vb_snap_same_model(e, d))
			continue;
		if (strcmp(e->topology, topo) == 0 || !model_selected(s, e))
			vb_plan_refuse(item, VB_REFUSE_PROTECTED,
				       "%s when the image was built (then at %s, topology %s): "
				       "never taken",
				       e->what[0] ? e->what : "a storage controller", e->address,
				       e->topology);
	}

	/* A VF taken by vfs= may not have existed when the image was built
	 * (numvfs= makes it at boot), and its address follows the VF count: it
	 * is checked against the protected devices only. */
	if (item->via == VB_VIA_VF)
		e = NULL;
	else if ((e = find(s, VB_SNAP_SELECT, topo, NULL)) && !vb_snap_same_model(e, d))
		vb_plan_refuse(item, VB_REFUSE_HW_CHANGED,
			       "hardware changed at %s: was %04x:%04x [%04x:%04x] class %06x, "
			       "now %04x:%04x [%04x:%04x] class %06x; not taken",
			       d->name, e->vendor, e->device, e->subsys_vendor, e->subsys_device,
			       (unsigned)e->class, d->vendor, d->device, d->subsys_vendor,
			       d->subsys_device, (unsigned)d->class);
	else if (item->via != VB_VIA_VF && !e && (e = find(s, VB_SNAP_SELECT, NULL, d->name)))
		vb_plan_refuse(item, VB_REFUSE_HW_CHANGED,
			       "hardware changed at %s: was %04x:%04x [%04x:%04x] at %s, "
			       "now %04x:%04x [%04x:%04x] at %s; not taken",
			       d->name, e->vendor, e->device, e->subsys_vendor, e->subsys_device,
			       e->topology, d->vendor, d->device, d->subsys_vendor,
			       d->subsys_device, topo);
	else if (item->via != VB_VIA_VF && !e)
		vb_plan_refuse(item, VB_REFUSE_HW_CHANGED,
			       "hardware changed: %04x:%04x [%04x:%04x] at %s was not selected "
			       "when the image was built; not taken",
			       d->vendor, d->device, d->subsys_vendor, d->subsys_device, topo);

	if (!s->root_found)
		vb_plan_refuse_unknown_storage(cfg, item,
					       "the root's controller was unknown when the image "
					       "was built");
	return 0;
}
