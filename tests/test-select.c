/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of selection (binder/core/select.c) on the fake sysfs trees of
 * tests/sysfs: every selector kind, AND within a rule, OR across rules,
 * expansions, excludes, attribution, warnings and lazy loading. Most tests
 * parse config text (the way users write it); term-level tests build terms
 * by hand to pin the exact semantics.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "pci.h"
#include "root.h"
#include "select.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

struct ctx {
	char *dir;
	struct vb_root root;
	struct vb_pci_list list;
	struct vb_config cfg;
	struct vb_diags diags;
	struct vb_sel *sel;
	bool have_cfg;
};

static void ctx_open_dir(struct ctx *c, char *dir)
{
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	ck_assert_ptr_nonnull(c->dir);
	ck_assert_int_eq(vb_root_open(&c->root, c->dir), 0);
	ck_assert(!c->root.is_host);
	ck_assert_int_eq(vb_pci_scan(&c->root, &c->list), 0);
	ck_assert_uint_gt(c->list.n, 0);
	c->sel = calloc(c->list.n, sizeof(*c->sel));
	ck_assert_ptr_nonnull(c->sel);
}

static void ctx_open(struct ctx *c, const char *tree)
{
	ctx_open_dir(c, fixture_tree(tree));
}

static void ctx_drop_config(struct ctx *c)
{
	if (!c->have_cfg)
		return;
	vb_config_free(&c->cfg);
	vb_diags_free(&c->diags);
	c->have_cfg = false;
}

static void ctx_close(struct ctx *c)
{
	ctx_drop_config(c);
	free(c->sel);
	vb_pci_list_free(&c->list);
	vb_root_close(&c->root);
	fixture_cleanup(c->dir);
}

/* Parses `text` (must be valid) and selects; returns vb_select's result. */
static int ctx_select(struct ctx *c, const char *text)
{
	ctx_drop_config(c);
	if (vb_config_parse("test.conf", text, strlen(text), &c->cfg, &c->diags) != 0) {
		size_t i;

		for (i = 0; i < c->diags.n; i++)
			fprintf(stderr, "test.conf:%u:%u: %s\n", c->diags.v[i].line,
				c->diags.v[i].column, c->diags.v[i].message);
		ck_abort_msg("config does not parse: %s", text);
	}
	c->have_cfg = true;
	ck_assert_uint_eq(c->diags.n, 0);
	return vb_select(&c->root, &c->cfg, &c->list, c->sel, &c->diags);
}

static size_t dev_index(const struct ctx *c, const char *name)
{
	struct vb_pci_addr a;
	struct vb_pci_dev *d;

	ck_assert_int_eq(vb_pci_addr_parse(name, &a), 0);
	d = vb_pci_find(&c->list, &a);
	ck_assert_msg(d != NULL, "no device %s in the tree", name);
	return (size_t)(d - c->list.devs);
}

static struct vb_pci_dev *dev(const struct ctx *c, const char *name)
{
	return &c->list.devs[dev_index(c, name)];
}

static const struct vb_sel *sel(const struct ctx *c, const char *name)
{
	return &c->sel[dev_index(c, name)];
}

/* Selected devices as "0000:01:00.0 0000:01:00.1" (address order). */
static const char *selected(const struct ctx *c)
{
	static char buf[8192];
	size_t j, o = 0;

	buf[0] = 0;
	for (j = 0; j < c->list.n; j++) {
		if (c->sel[j].via == VB_VIA_NONE)
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "",
				      c->list.devs[j].name);
		ck_assert_uint_lt(o, sizeof(buf));
	}
	return buf;
}

static size_t n_selected(const struct ctx *c)
{
	size_t j, n = 0;

	for (j = 0; j < c->list.n; j++)
		n += c->sel[j].via != VB_VIA_NONE;
	return n;
}

static void select_is(struct ctx *c, const char *conf, const char *want)
{
	ck_assert_int_eq(ctx_select(c, conf), 0);
	ck_assert_msg(strcmp(selected(c), want) == 0, "config:\n%s\nselected '%s', want '%s'", conf,
		      selected(c), want);
}

static void sel_is(const struct ctx *c, const char *name, enum vb_via via, int rule,
		   int excluded_by)
{
	const struct vb_sel *s = sel(c, name);

	ck_assert_msg(s->via == via && s->rule == rule && s->excluded_by == excluded_by,
		      "%s: via=%d rule=%d excluded_by=%d, want via=%d rule=%d excluded_by=%d", name,
		      s->via, s->rule, s->excluded_by, via, rule, excluded_by);
}

static size_t n_warnings(const struct ctx *c)
{
	size_t i, n = 0;

	for (i = 0; i < c->diags.n; i++)
		n += c->diags.v[i].severity == VB_SEV_WARNING;
	return n;
}

/* Is there a "matches no device" warning at `line`? */
static bool warned_at(const struct ctx *c, unsigned line)
{
	size_t i;

	for (i = 0; i < c->diags.n; i++) {
		const struct vb_diag *g = &c->diags.v[i];

		if (g->severity == VB_SEV_WARNING && g->line == line &&
		    strstr(g->message, "matches no device"))
			return true;
	}
	return false;
}

static bool term_match_text(struct ctx *c, const char *rule_text, const char *name)
{
	struct vb_config cfg;
	struct vb_diags d;
	bool m;

	ck_assert_int_eq(vb_config_parse("t.conf", rule_text, strlen(rule_text), &cfg, &d), 0);
	ck_assert_uint_eq(cfg.n_rules, 1);
	m = vb_rule_match(&c->root, &cfg.rules[0], dev(c, name));
	vb_config_free(&cfg);
	vb_diags_free(&d);
	return m;
}

static struct vb_term addr_term(unsigned dom, unsigned bus, unsigned slot, unsigned func,
				bool any_func)
{
	struct vb_term t;

	memset(&t, 0, sizeof(t));
	t.kind = VB_TERM_ADDRESS;
	t.address.addr.domain = dom;
	t.address.addr.bus = (uint8_t)bus;
	t.address.addr.slot = (uint8_t)slot;
	t.address.addr.func = (uint8_t)func;
	t.address.any_func = any_func;
	return t;
}

static struct vb_term id_term(enum vb_term_kind kind, unsigned v, unsigned d, bool any)
{
	struct vb_term t;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	t.id.vendor = (uint16_t)v;
	t.id.device = (uint16_t)d;
	t.id.any_device = any;
	return t;
}

static struct vb_term class_term(uint32_t value, unsigned digits)
{
	struct vb_term t;

	memset(&t, 0, sizeof(t));
	t.kind = VB_TERM_CLASS;
	t.class.value = value;
	t.class.digits = digits;
	return t;
}

static struct vb_term topo_term(char *path)
{
	struct vb_term t;

	memset(&t, 0, sizeof(t));
	t.kind = VB_TERM_TOPOLOGY;
	t.topology = path;
	return t;
}

/* ------------------------------------------------------------------------ */
/* Single terms, built by hand */

START_TEST(test_term_address)
{
	struct ctx c;
	struct vb_term t;

	ctx_open(&c, "desktop");
	t = addr_term(0, 1, 0, 1, false);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:01.0")));
	/* slot form: every function of 01:00, nothing else */
	t = addr_term(0, 1, 0, 0, true);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:02:00.0")));
	/* the domain counts */
	t = addr_term(1, 1, 0, 0, false);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	/* slot differs, same bus */
	t = addr_term(0, 0, 0x14, 0, true);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:14.2")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:17.0")));
	ck_assert_uint_eq(dev(&c, "0000:01:00.0")->have, 0);
	ctx_close(&c);
}
END_TEST

START_TEST(test_term_id_subsys)
{
	struct ctx c;
	struct vb_term t;

	ctx_open(&c, "desktop");
	t = id_term(VB_TERM_ID, 0x10de, 0x2204, false);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	t = id_term(VB_TERM_ID, 0x10de, 0, true);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	/* id= compares the device id, not the subsystem id */
	t = id_term(VB_TERM_ID, 0x1458, 0x403b, false);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));

	t = id_term(VB_TERM_SUBSYS, 0x1458, 0x403b, false);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	t = id_term(VB_TERM_SUBSYS, 0x1043, 0, true);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	/* subsystem-id= compares the subsystem, not the device id */
	t = id_term(VB_TERM_SUBSYS, 0x10de, 0x2204, false);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ctx_close(&c);
}
END_TEST

START_TEST(test_term_class)
{
	struct ctx c;
	struct vb_term t;

	ctx_open(&c, "desktop");
	/* 00:1f.3 is 040380, 01:00.1 is 040300, 00:14.0 0c0330, 00:1f.4 0c0500 */
	t = class_term(0x040000, 2);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:1f.3")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	t = class_term(0x040300, 4);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:1f.3")));
	t = class_term(0x040300, 6);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:1f.3")));
	t = class_term(0x0c0300, 4);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:14.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:1f.4")));
	/* the value is left-aligned: 0x03 is not class 03 */
	t = class_term(0x03, 2);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	/* a term with no digits never matches (it would match everything) */
	t = class_term(0, 0);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:00.0")));
	ctx_close(&c);
}
END_TEST

START_TEST(test_term_class_parsed)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert(term_match_text(&c, "bind class=03", "0000:01:00.0"));
	ck_assert(term_match_text(&c, "bind class=03", "0000:00:02.0"));
	ck_assert(!term_match_text(&c, "bind class=03", "0000:01:00.1"));
	ck_assert(term_match_text(&c, "bind class=0403", "0000:00:1f.3"));
	ck_assert(!term_match_text(&c, "bind class=0400", "0000:00:1f.3"));
	ck_assert(term_match_text(&c, "bind class=040380", "0000:00:1f.3"));
	ck_assert(!term_match_text(&c, "bind class=040380", "0000:01:00.1"));
	ck_assert(term_match_text(&c, "bind class=0C0330", "0000:00:14.0"));
	ctx_close(&c);
}
END_TEST

/* Hex case does not matter; forms that are not the stable one (terms built
 * by hand: the config parser never makes them) match nothing. */
static void term_topology_forms(struct ctx *cp)
{
	static const char *const none[] = {
		/* the sysfs spelling is normalised by the parser, never compared */
		"pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0",
		"/sys/devices/pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0",
		/* bus numbers below the root bus are not part of it */
		"0000:40:03.1/41:00.0/42:04.0/43:00.0",
		"0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0",
		"0000:40:03.1/00.0/04.0/00.0/",
		"/0000:40:03.1/00.0/04.0/00.0",
		"0000:40:03.1//00.0/04.0/00.0",
		"0000:40:03.1/00.0/04.0/0",
		"0000:40:03.1/00.0/04.0/00.",
		"0000:40:03.1/00.0/04.0/00.*",
		"0000:40:03.1/00.0/4.0/00.0",
		"40:03.1/00.0/04.0/00.0",
		"0001:40:03.1/00.0/04.0/00.0",
		"0000:41:03.1/00.0/04.0/00.0",
		"",
	};
	struct ctx *c = cp;
	struct vb_term t;
	char up[] = "0000:40:03.1/00.0/04.0/00.0", buf[128];
	size_t i, k;

	for (k = 0; up[k]; k++)
		if (up[k] >= 'a' && up[k] <= 'f')
			up[k] = (char)(up[k] - 'a' + 'A');
	t = topo_term(up);
	ck_assert(vb_term_match(&c->root, &t, dev(c, "0000:43:00.0")));
	t = topo_term(NULL);
	ck_assert(!vb_term_match(&c->root, &t, dev(c, "0000:43:00.0")));
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", none[i]);
		t = topo_term(buf);
		for (k = 0; k < c->list.n; k++)
			ck_assert_msg(!vb_term_match(&c->root, &t, &c->list.devs[k]),
				      "'%s' took %s", none[i], c->list.devs[k].name);
	}
}

START_TEST(test_term_topology)
{
	struct ctx c;
	struct vb_term t;
	char p1[] = "0000:40:03.1/00.0/04.0/00.0";
	char p2[] = "0000:40:03.1/00.0/04.0/00";
	char p3[] = "0000:40:03.1/00.0/04.0";
	char p4[] = "0000:40:03.1/00.0/04.0/00.1";
	char p5[] = "0000:40:03.1/00.0/04.0/00.0/00.0";
	char p6[] = "0000:40:03.1/00";
	char p7[] = "0000:40:03";
	char p8[] = "0000:00:03.1/00.0"; /* the other card, at 0a:00.0 */

	ctx_open(&c, "twin-gpu");
	t = topo_term(p1);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:43:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:0a:00.0")));
	ck_assert(dev(&c, "0000:43:00.0")->have & VB_PCI_HAVE_PHYSPATH);
	/* last hop without function: every function of the slot */
	t = topo_term(p2);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:43:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:0a:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:42:04.0")));
	/* a bridge's topology is not a prefix match for what is behind it */
	t = topo_term(p3);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:42:04.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	t = topo_term(p4);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:43:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	t = topo_term(p5);
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	/* a slot term takes the slot's functions, not what is behind them */
	t = topo_term(p6);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:41:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:42:04.0")));
	/* the slot form of the first hop */
	t = topo_term(p7);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:40:03.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:41:00.0")));
	t = topo_term(p8);
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:0a:00.0")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:43:00.0")));
	term_topology_forms(&c);
	ctx_close(&c);
}
END_TEST

START_TEST(test_term_group)
{
	struct ctx c;
	struct vb_term t;

	ctx_open(&c, "sel-plan");
	memset(&t, 0, sizeof(t));
	t.kind = VB_TERM_GROUP;
	t.group = 10;
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:01:00.1")));
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:04.0")));
	ck_assert(dev(&c, "0000:00:04.0")->have & VB_PCI_HAVE_GROUP);
	/* 00:02.0 has no IOMMU group (-1): no number matches it, not even ~0 */
	ck_assert_int_eq(vb_pci_load_group(&c.root, dev(&c, "0000:00:02.0")), 0);
	ck_assert_int_eq(dev(&c, "0000:00:02.0")->iommu_group, -1);
	t.group = (unsigned)-1;
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	t.group = 0x7fffffff;
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	t.group = 0;
	ck_assert(!vb_term_match(&c.root, &t, dev(&c, "0000:00:02.0")));
	ck_assert(vb_term_match(&c.root, &t, dev(&c, "0000:00:00.0")));
	ctx_close(&c);
}
END_TEST

START_TEST(test_term_boot_vga)
{
	struct ctx c;
	struct vb_term yes, no;

	ctx_open(&c, "desktop");
	memset(&yes, 0, sizeof(yes));
	yes.kind = VB_TERM_BOOT_VGA;
	yes.boot_vga = true;
	no = yes;
	no.boot_vga = false;
	ck_assert(vb_term_match(&c.root, &yes, dev(&c, "0000:00:02.0")));
	ck_assert(!vb_term_match(&c.root, &no, dev(&c, "0000:00:02.0")));
	ck_assert(!vb_term_match(&c.root, &yes, dev(&c, "0000:01:00.0")));
	ck_assert(vb_term_match(&c.root, &no, dev(&c, "0000:01:00.0")));
	/* no boot_vga attribute (not a VGA device): boot-vga=no */
	ck_assert(!vb_term_match(&c.root, &yes, dev(&c, "0000:00:14.0")));
	ck_assert(vb_term_match(&c.root, &no, dev(&c, "0000:00:14.0")));
	ck_assert_int_eq(dev(&c, "0000:00:14.0")->boot_vga, -1);
	ctx_close(&c);
}
END_TEST

START_TEST(test_rule_without_terms)
{
	struct ctx c;
	struct vb_rule r;
	struct vb_config cfg;
	size_t j;

	ctx_open(&c, "desktop");
	memset(&r, 0, sizeof(r));
	r.line = 1;
	ck_assert(!vb_rule_match(&c.root, &r, dev(&c, "0000:01:00.0")));
	memset(&cfg, 0, sizeof(cfg));
	cfg.rules = &r;
	cfg.n_rules = 1;
	ck_assert_int_eq(vb_select(&c.root, &cfg, &c.list, c.sel, NULL), 0);
	for (j = 0; j < c.list.n; j++)
		ck_assert_int_eq(c.sel[j].via, VB_VIA_NONE);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Rules */

START_TEST(test_and_within_rule)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	select_is(&c, "bind id=10de:* class=03\n", "0000:01:00.0");
	select_is(&c, "bind class=04 subsystem-id=1043:*\n", "0000:00:1f.3");
	select_is(&c, "bind id=10de:2204 class=0403\n", "");
	select_is(&c, "bind path=01:00 class=0403\n", "0000:01:00.1");
	select_is(&c, "bind class=03 boot-vga=no\n", "0000:01:00.0");
	select_is(&c, "bind class=03 boot-vga=yes\n", "0000:00:02.0");
	select_is(&c, "bind iommugroup=12 class=0403\n", "0000:01:00.1");
	ctx_close(&c);
}
END_TEST

START_TEST(test_or_across_rules)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	select_is(&c, "bind id=10de:2204\nbind id=10de:1aef\n", "0000:01:00.0 0000:01:00.1");
	select_is(&c, "bind path=00:14.0\n# comment\nbind id=144d:a80a\n",
		  "0000:00:14.0 0000:02:00.0");
	sel_is(&c, "0000:00:14.0", VB_VIA_RULE, 0, -1);
	sel_is(&c, "0000:02:00.0", VB_VIA_RULE, 1, -1);
	sel_is(&c, "0000:01:00.0", VB_VIA_NONE, -1, -1);
	ctx_close(&c);
}
END_TEST

START_TEST(test_first_rule_wins)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(ctx_select(&c, "bind class=03\nbind id=10de:2204\n"), 0);
	ck_assert_str_eq(selected(&c), "0000:00:02.0 0000:01:00.0");
	sel_is(&c, "0000:01:00.0", VB_VIA_RULE, 0, -1);
	sel_is(&c, "0000:00:02.0", VB_VIA_RULE, 0, -1);
	/* rule 2 matched (it just lost): no warning */
	ck_assert_uint_eq(n_warnings(&c), 0);

	ck_assert_int_eq(ctx_select(&c, "bind id=10de:2204\nbind class=03\n"), 0);
	sel_is(&c, "0000:01:00.0", VB_VIA_RULE, 0, -1);
	sel_is(&c, "0000:00:02.0", VB_VIA_RULE, 1, -1);
	ctx_close(&c);
}
END_TEST

START_TEST(test_twin_gpus)
{
	struct ctx c;

	ctx_open(&c, "twin-gpu");
	/* same ids: id= takes both cards */
	select_is(&c, "bind id=10de:2204\n", "0000:0a:00.0 0000:43:00.0");
	select_is(&c, "bind id=10de:2204 subsystem-id=1458:403b\n", "0000:0a:00.0 0000:43:00.0");
	/* the address tells them apart */
	select_is(&c, "bind path=0000:43:00.0\n", "0000:43:00.0");
	select_is(&c, "bind path=43:00\n", "0000:43:00.0 0000:43:00.1");
	select_is(&c, "bind address=43:00.*\n", "0000:43:00.0 0000:43:00.1");
	/* the topology too */
	select_is(&c,
		  "bind topology=pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0\n",
		  "0000:43:00.0");
	select_is(&c,
		  "bind topology=/sys/devices/pci0000:00/0000:00:03.1/0000:0a:00.1\n"
		  "bind topology=pci0000:00/0000:00:03.1/0000:0a:00.0/\n",
		  "0000:0a:00.0 0000:0a:00.1");
	select_is(&c, "bind topology=0000:40:03.1/00.0/04.0/00.0\n", "0000:43:00.0");
	select_is(&c, "bind topology=0000:40:03.1/00.0/04.0/00\n", "0000:43:00.0 0000:43:00.1");
	select_is(&c, "bind topology=0000:00:03.1/00\n", "0000:0a:00.0 0000:0a:00.1");
	/* and boot-vga */
	select_is(&c, "bind id=10de:2204 boot-vga=no\n", "0000:43:00.0");
	select_is(&c, "bind id=10de:2204 boot-vga=yes\n", "0000:0a:00.0");
	/* and the group */
	select_is(&c, "bind iommugroup=35\n", "0000:43:00.0 0000:43:00.1");
	ctx_close(&c);
}
END_TEST

/*
 * The same machine before and after a card went into the slot of an earlier
 * root port (tests/sysfs/renumber-*.tree): every bus behind the later ports
 * moved up by one. A topology= rule, in either spelling and written on
 * either side of the change, takes the same physical devices; a path= rule
 * for the old address takes another device, or none.
 */
static const struct {
	const char *conf, *before, *after;
} renumbered[] = {
	/* the stable form, as 'vfio-bind status' shows it */
	{"bind topology=0000:00:1c.4/00.0\n", "0000:02:00.0", "0000:03:00.0"},
	{"bind topology=0000:00:1c.4/00\n", "0000:02:00.0 0000:02:00.1",
	 "0000:03:00.0 0000:03:00.1"},
	{"bind topology=0000:00:1d.0/00.0/01.0/00.1\n", "0000:05:00.1", "0000:06:00.1"},
	{"bind topology=0000:00:1D.0/00.0/01.0/00\n", "0000:05:00.0 0000:05:00.1",
	 "0000:06:00.0 0000:06:00.1"},
	/* the sysfs path, copied before the card was added */
	{"bind topology=pci0000:00/0000:00:1c.4/0000:02:00.0\n", "0000:02:00.0", "0000:03:00.0"},
	{"bind topology=/sys/devices/pci0000:00/0000:00:1d.0/0000:03:00.0/0000:04:01.0/"
	 "0000:05:00\n",
	 "0000:05:00.0 0000:05:00.1", "0000:06:00.0 0000:06:00.1"},
	/* ... and after */
	{"bind topology=/sys/devices/pci0000:00/0000:00:1d.0/0000:04:00.0/0000:05:01.0/"
	 "0000:06:00.0/\n",
	 "0000:05:00.0", "0000:06:00.0"},
	/* a switch port is found by its topology too */
	{"bind topology=0000:00:1d.0/00.0/01.0\n", "0000:04:01.0", "0000:05:01.0"},
	/* the root bus and what is on it do not move */
	{"bind topology=0000:00:01.0/00\n", "0000:01:00.0 0000:01:00.1",
	 "0000:01:00.0 0000:01:00.1"},
	{"bind topology=0000:00:17.0\n", "0000:00:17.0", "0000:00:17.0"},
	/* the new card: nothing there before */
	{"bind topology=0000:00:1c.0/00.0\n", "", "0000:02:00.0"},
	/* the old addresses: another device (the new NVMe), or none */
	{"bind path=02:00\n", "0000:02:00.0 0000:02:00.1", "0000:02:00.0"},
	{"bind path=0000:05:00.0\n", "0000:05:00.0", ""},
};

/* "vvvv:dddd ssss:ssss cccccc" of each selected device, for comparing
 * devices across the two trees by what they are, not where. */
static const char *selected_identity(const struct ctx *c)
{
	static char buf[4096];
	size_t j, o = 0;

	buf[0] = 0;
	for (j = 0; j < c->list.n; j++) {
		const struct vb_pci_dev *d = &c->list.devs[j];

		if (c->sel[j].via == VB_VIA_NONE)
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%04x:%04x %04x:%04x %06x",
				      o ? " " : "", d->vendor, d->device, d->subsys_vendor,
				      d->subsys_device, (unsigned)d->class);
		ck_assert_uint_lt(o, sizeof(buf));
	}
	return buf;
}

/* What the trees above rest on: every device that is in both has the same
 * stable topology in both, and it differs from every other device's. */
static void topology_same_in_both_trees(struct ctx *bp, struct ctx *ap)
{
	static const char *const moved[][2] = {
		{"0000:01:00.0", "0000:01:00.0"}, {"0000:02:00.1", "0000:03:00.1"},
		{"0000:03:00.0", "0000:04:00.0"}, {"0000:04:01.0", "0000:05:01.0"},
		{"0000:05:00.0", "0000:06:00.0"}, {"0000:05:00.1", "0000:06:00.1"},
	};
	char a[VB_TOPOLOGY_MAX], b[VB_TOPOLOGY_MAX];
	struct ctx *before = bp, *after = ap;
	size_t i, k;

	for (i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		struct vb_pci_dev *x = dev(before, moved[i][0]), *y = dev(after, moved[i][1]);

		ck_assert_int_eq(vb_pci_topology(&before->root, x, a, sizeof(a)), 0);
		ck_assert_int_eq(vb_pci_topology(&after->root, y, b, sizeof(b)), 0);
		ck_assert_str_eq(a, b);
		ck_assert(x->vendor == y->vendor && x->device == y->device);
		/* the physical path changed (behind the later ports): that is
		 * what topology= no longer compares */
		if (strcmp(moved[i][0], moved[i][1]) != 0)
			ck_assert_str_ne(x->physpath, y->physpath);
		for (k = 0; k < after->list.n; k++) {
			char t[VB_TOPOLOGY_MAX];

			if (&after->list.devs[k] == y)
				continue;
			ck_assert_int_eq(
				vb_pci_topology(&after->root, &after->list.devs[k], t, sizeof(t)),
				0);
			ck_assert_str_ne(t, b);
		}
	}
	ck_assert_int_eq(vb_pci_topology(&after->root, dev(after, "0000:00:1d.0"), b, sizeof(b)),
			 0);
	ck_assert_str_eq(b, "0000:00:1d.0");
	ck_assert_int_eq(vb_pci_topology(&after->root, dev(after, "0000:06:00.1"), b, sizeof(b)),
			 0);
	ck_assert_str_eq(b, "0000:00:1d.0/00.0/01.0/00.1");
}

START_TEST(test_topology_survives_renumbering)
{
	struct ctx before, after;
	char id_before[4096];

	/* one pair of trees for every case: building trees is what costs */
	ctx_open(&before, "renumber-before");
	ctx_open(&after, "renumber-after");
	for (size_t i = 0; i < sizeof(renumbered) / sizeof(renumbered[0]); i++) {
		select_is(&before, renumbered[i].conf, renumbered[i].before);
		snprintf(id_before, sizeof(id_before), "%s", selected_identity(&before));
		select_is(&after, renumbered[i].conf, renumbered[i].after);
		if (strncmp(renumbered[i].conf, "bind topology=", 14) == 0 &&
		    renumbered[i].before[0] != 0)
			/* the same physical devices: same ids, subsystem and class */
			ck_assert_str_eq(selected_identity(&after), id_before);
		else
			ck_assert_str_ne(selected_identity(&after), id_before);
	}
	topology_same_in_both_trees(&before, &after);
	ctx_close(&before);
	ctx_close(&after);
}
END_TEST

START_TEST(test_class_prefixes)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	select_is(&c, "bind class=03\n", "0000:00:02.0 0000:01:00.0");
	select_is(&c, "bind class=0403\n", "0000:00:1f.3 0000:01:00.1");
	select_is(&c, "bind class=040300\n", "0000:01:00.1");
	select_is(&c, "bind class=0c\n", "0000:00:14.0 0000:00:1f.4");
	select_is(&c, "bind class=0c03\n", "0000:00:14.0");
	select_is(&c, "bind class=0c0330\n", "0000:00:14.0");
	select_is(&c, "bind class=0604\n", "0000:00:01.0 0000:00:06.0");
	ctx_close(&c);
}
END_TEST

START_TEST(test_group_selection)
{
	struct ctx c;

	ctx_open(&c, "proxmox");
	/* iommugroup= takes bridges too (plan refuses them, with a reason) */
	select_is(&c, "bind iommugroup=13\n",
		  "0000:00:1c.0 0000:00:1c.4 0000:02:00.0 0000:03:00.0");
	select_is(&c, "bind iommugroup=23\n", "0000:19:00.0 0000:19:00.1");
	select_is(&c, "bind iommugroup=33 class=0c\n", "0000:3d:00.2 0000:3d:00.3");
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Expansions and excludes */

START_TEST(test_expand_slot)
{
	struct ctx c;

	ctx_open(&c, "sel-expand");
	select_is(&c, "bind path=01:00.0 expand=slot\n", "0000:01:00.0 0000:01:00.1 0000:01:00.2");
	sel_is(&c, "0000:01:00.0", VB_VIA_RULE, 0, -1);
	sel_is(&c, "0000:01:00.1", VB_VIA_SLOT, 0, -1);
	sel_is(&c, "0000:01:00.2", VB_VIA_SLOT, 0, -1);
	/* from the last function of the slot, too */
	select_is(&c, "bind path=01:00.2 expand=slot\n", "0000:01:00.0 0000:01:00.1 0000:01:00.2");
	sel_is(&c, "0000:01:00.0", VB_VIA_SLOT, 0, -1);
	/* slot expansion reads no file */
	ck_assert_uint_eq(dev(&c, "0000:01:00.1")->have, 0);
	/* a device a later rule matches directly is that rule's, via RULE */
	ck_assert_int_eq(ctx_select(&c, "bind path=01:00.0 expand=slot\nbind class=0403\n"), 0);
	sel_is(&c, "0000:01:00.1", VB_VIA_RULE, 1, -1);
	sel_is(&c, "0000:01:00.2", VB_VIA_SLOT, 0, -1);
	/* a single-function slot stays alone; neighbours on the bus are others */
	select_is(&c, "bind path=02:00.0 expand=slot\n", "0000:02:00.0");
	ctx_close(&c);

	ctx_open(&c, "desktop");
	select_is(&c, "bind id=10de:2204 expand=slot\n", "0000:01:00.0 0000:01:00.1");
	select_is(&c, "bind path=00:1f.3 expand=slot\n", "0000:00:1f.0 0000:00:1f.3 0000:00:1f.4");
	ctx_close(&c);
}
END_TEST

START_TEST(test_expand_group)
{
	struct ctx c;

	ctx_open(&c, "sel-expand");
	select_is(&c, "bind path=01:00.0 expand=group\n", "0000:01:00.0 0000:01:00.2");
	sel_is(&c, "0000:01:00.2", VB_VIA_GROUP, 0, -1);
	sel_is(&c, "0000:01:00.1", VB_VIA_NONE, -1, -1);
	/* group 6: the bridge 00:1c.0 is skipped, the endpoints are taken */
	select_is(&c, "bind path=02:00.0 expand=group\n", "0000:01:00.1 0000:02:00.0");
	sel_is(&c, "0000:01:00.1", VB_VIA_GROUP, 0, -1);
	sel_is(&c, "0000:00:1c.0", VB_VIA_NONE, -1, -1);
	ctx_close(&c);

	ctx_open(&c, "proxmox");
	/* group 13: two root ports, the I210 and the ASMedia controller */
	select_is(&c, "bind id=8086:1533 expand=group\n", "0000:02:00.0 0000:03:00.0");
	sel_is(&c, "0000:03:00.0", VB_VIA_GROUP, 0, -1);
	/* group 14: the ASPEED bridge is skipped */
	select_is(&c, "bind id=1a03:2000 expand=group\n", "0000:05:00.0");
	/* the Quadro's four functions */
	select_is(&c, "bind path=3d:00.0 expand=group\n",
		  "0000:3d:00.0 0000:3d:00.1 0000:3d:00.2 0000:3d:00.3");
	ctx_close(&c);
}
END_TEST

START_TEST(test_expand_slot_and_group)
{
	struct ctx c;

	ctx_open(&c, "sel-expand");
	/* the slot's functions, then the groups of all of them (5 and 6) */
	select_is(&c, "bind path=01:00.0 expand=slot,group\n",
		  "0000:01:00.0 0000:01:00.1 0000:01:00.2 0000:02:00.0");
	sel_is(&c, "0000:01:00.0", VB_VIA_RULE, 0, -1);
	sel_is(&c, "0000:01:00.1", VB_VIA_SLOT, 0, -1);
	sel_is(&c, "0000:01:00.2", VB_VIA_SLOT, 0, -1);
	sel_is(&c, "0000:02:00.0", VB_VIA_GROUP, 0, -1);
	sel_is(&c, "0000:00:1c.0", VB_VIA_NONE, -1, -1);
	/* expansions of an earlier rule never take a later rule's device */
	ck_assert_int_eq(ctx_select(&c, "bind path=01:00.0 expand=slot,group\nbind id=8086:1533\n"),
			 0);
	sel_is(&c, "0000:02:00.0", VB_VIA_RULE, 1, -1);
	sel_is(&c, "0000:03:00.0", VB_VIA_RULE, 1, -1);
	ctx_close(&c);
}
END_TEST

START_TEST(test_expand_group_reads_groups)
{
	struct ctx c;
	size_t j;

	ctx_open(&c, "proxmox");
	ck_assert_int_eq(ctx_select(&c, "bind id=8086:1533 expand=group\n"), 0);
	/* group expansion needs every group */
	for (j = 0; j < c.list.n; j++)
		ck_assert(c.list.devs[j].have & VB_PCI_HAVE_GROUP);
	ctx_close(&c);
}
END_TEST

START_TEST(test_exclude)
{
	struct ctx c;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(ctx_select(&c, "bind class=03\nexclude boot-vga=yes\n"), 0);
	ck_assert_str_eq(selected(&c), "0000:01:00.0");
	sel_is(&c, "0000:00:02.0", VB_VIA_NONE, 0, 1);
	ck_assert_uint_eq(n_warnings(&c), 0);

	/* exclude before bind in the file: same result */
	ck_assert_int_eq(ctx_select(&c, "exclude boot-vga=yes\nbind class=03\n"), 0);
	ck_assert_str_eq(selected(&c), "0000:01:00.0");
	sel_is(&c, "0000:00:02.0", VB_VIA_NONE, 1, 0);

	/* exclude removes expansion results */
	ck_assert_int_eq(ctx_select(&c, "bind id=10de:2204 expand=slot\nexclude class=0403\n"), 0);
	ck_assert_str_eq(selected(&c), "0000:01:00.0");
	sel_is(&c, "0000:01:00.1", VB_VIA_NONE, 0, 1);

	/* the first exclude that matches is recorded */
	ck_assert_int_eq(ctx_select(&c, "bind path=01:00\nexclude path=01:00.1\n"
					"exclude id=10de:*\n"),
			 0);
	ck_assert_str_eq(selected(&c), "");
	sel_is(&c, "0000:01:00.1", VB_VIA_NONE, 0, 1);
	sel_is(&c, "0000:01:00.0", VB_VIA_NONE, 0, 2);
	ctx_close(&c);

	ctx_open(&c, "sel-expand");
	ck_assert_int_eq(ctx_select(&c, "bind path=01:00.0 expand=slot,group\n"
					"exclude iommugroup=6\n"),
			 0);
	ck_assert_str_eq(selected(&c), "0000:01:00.0 0000:01:00.2");
	sel_is(&c, "0000:02:00.0", VB_VIA_NONE, 0, 1);
	ctx_close(&c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Warnings, laziness, scale */

START_TEST(test_warnings)
{
	struct ctx c;
	size_t i;

	ctx_open(&c, "desktop");
	ck_assert_int_eq(ctx_select(&c, "bind id=10de:2204\n"
					"\n"
					"bind id=1002:73bf\n"
					"exclude path=05:00.0\n"
					"exclude class=0403\n"
					"exclude id=144d:a80a\n"),
			 0);
	ck_assert_uint_eq(n_warnings(&c), 2);
	ck_assert(warned_at(&c, 3));
	ck_assert(warned_at(&c, 4));
	/* line 5 removes nothing selected but matches devices: no warning */
	ck_assert(!warned_at(&c, 5));
	ck_assert(!warned_at(&c, 6));
	ck_assert(!warned_at(&c, 1));
	for (i = 0; i < c.diags.n; i++) {
		ck_assert_uint_eq(c.diags.v[i].column, 0);
		ck_assert_ptr_nonnull(c.diags.v[i].hint);
		ck_assert_ptr_nonnull(strstr(c.diags.v[i].hint, "vfio-bind status"));
	}
	ck_assert_uint_eq(c.diags.n_errors, 0);
	ck_assert_str_eq(selected(&c), "0000:01:00.0");

	/* an AND that matches nothing is a rule matching nothing */
	ck_assert_int_eq(ctx_select(&c, "bind id=10de:2204 boot-vga=yes\n"), 0);
	ck_assert(warned_at(&c, 1));
	ck_assert_str_eq(selected(&c), "");
	ctx_close(&c);
}
END_TEST

START_TEST(test_lazy_loading)
{
	struct ctx c;
	size_t j;

	ctx_open(&c, "proxmox");
	ck_assert_int_eq(ctx_select(&c, "bind id=10de:*\n"
					"bind path=19:00 class=02\n"
					"bind class=0c0330 subsystem-id=15d9:*\n"
					"exclude path=00:14.0\n"
					"bind id=ffff:ffff\n"),
			 0);
	ck_assert_uint_eq(n_selected(&c), 7);
	for (j = 0; j < c.list.n; j++)
		ck_assert_msg(c.list.devs[j].have == 0, "%s: have=%#x", c.list.devs[j].name,
			      c.list.devs[j].have);

	/* cheap terms first: only devices that pass id= get their group read,
	 * wherever iommugroup= is written in the rule */
	ck_assert_int_eq(ctx_select(&c, "bind iommugroup=33 id=10de:*\n"), 0);
	for (j = 0; j < c.list.n; j++) {
		const struct vb_pci_dev *d = &c.list.devs[j];

		ck_assert_msg(!!(d->have & VB_PCI_HAVE_GROUP) == (d->vendor == 0x10de),
			      "%s: have=%#x", d->name, d->have);
		ck_assert_uint_eq(d->have & ~(unsigned)VB_PCI_HAVE_GROUP, 0);
	}
	ck_assert_uint_eq(n_selected(&c), 4);
	ctx_close(&c);
}
END_TEST

START_TEST(test_sriov_many_vfs)
{
	struct ctx c;
	struct timespec t0, t1;
	double ms;
	size_t j, n;

	ctx_open_dir(&c, fixture_tree_vars("sriov", "VFS=256"));
	ck_assert_uint_ge(c.list.n, 256);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(ctx_select(&c, "bind id=8086:1889 expand=slot,group\n"
					"exclude path=0000:17:01.0\n"),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	n = 0;
	for (j = 0; j < c.list.n; j++) {
		const struct vb_pci_dev *d = &c.list.devs[j];

		if (d->vendor == 0x8086 && d->device == 0x1889 &&
		    j != dev_index(&c, "0000:17:01.0")) {
			ck_assert_int_eq(c.sel[j].via, VB_VIA_RULE);
			n++;
		} else {
			/* the PF (alone in slot 17:00, own group) stays out */
			ck_assert_int_eq(c.sel[j].via, VB_VIA_NONE);
		}
	}
	ck_assert_uint_eq(n, 255);
	sel_is(&c, "0000:17:01.0", VB_VIA_NONE, 0, 1);
	sel_is(&c, "0000:17:00.0", VB_VIA_NONE, -1, -1);
	ck_assert_uint_eq(n_warnings(&c), 0);
	ck_assert_msg(ms < 2000, "selection took %.1f ms", ms);
	ctx_close(&c);
}
END_TEST

static Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc;

	tc = tcase_create("terms");
	tcase_add_test(tc, test_term_address);
	tcase_add_test(tc, test_term_id_subsys);
	tcase_add_test(tc, test_term_class);
	tcase_add_test(tc, test_term_class_parsed);
	tcase_add_test(tc, test_term_topology);
	tcase_add_test(tc, test_topology_survives_renumbering);
	tcase_add_test(tc, test_term_group);
	tcase_add_test(tc, test_term_boot_vga);
	tcase_add_test(tc, test_rule_without_terms);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_and_within_rule);
	tcase_add_test(tc, test_or_across_rules);
	tcase_add_test(tc, test_first_rule_wins);
	tcase_add_test(tc, test_twin_gpus);
	tcase_add_test(tc, test_class_prefixes);
	tcase_add_test(tc, test_group_selection);
	suite_add_tcase(s, tc);

	tc = tcase_create("expand");
	tcase_add_test(tc, test_expand_slot);
	tcase_add_test(tc, test_expand_group);
	tcase_add_test(tc, test_expand_slot_and_group);
	tcase_add_test(tc, test_expand_group_reads_groups);
	tcase_add_test(tc, test_exclude);
	suite_add_tcase(s, tc);

	tc = tcase_create("behaviour");
	tcase_add_test(tc, test_warnings);
	tcase_add_test(tc, test_lazy_loading);
	tcase_add_test(tc, test_sriov_many_vfs);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static const char *const sriov256[] = {"--var", "VFS=256", "sriov.tree", NULL};
	SRunner *sr;
	int failed;

	/* built once in the runner; every forked test copies them */
	fixture_preload("desktop");
	fixture_preload("twin-gpu");
	fixture_preload("proxmox");
	fixture_preload("sel-expand");
	fixture_preload("sel-plan");
	fixture_preload_args(sriov256);

	vb_log_set_max_priority(VB_LOG_ERR);
	sr = srunner_create(select_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fixture_unload_all();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
