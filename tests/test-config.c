/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the config parser (binder/core/config.c) against the language
 * of vfio-bind.conf(5): every form of every key, every error with its line and
 * column, and hostile input. Every parse copies the text into a malloc'ed
 * buffer of exactly its length (no NUL) and frees it before the result is
 * looked at, so ASan/valgrind catch both over-reads and pointers kept into it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fixture.h"
#include "log.h"
#include "root.h"

/* ------------------------------------------------------------------------ */
/* Helpers */

static int parse_n(const char *text, size_t len, struct vb_config *c, struct vb_diags *d)
{
	char *buf = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, text, len);
	r = vb_config_parse("test.conf", buf, len, c, d);
	free(buf);
	return r;
}

static int parse(const char *text, struct vb_config *c, struct vb_diags *d)
{
	return parse_n(text, strlen(text), c, d);
}

static void dump(const struct vb_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "  %u:%u: %s (hint: %s)\n", d->v[i].line, d->v[i].column,
			d->v[i].message, d->v[i].hint ? d->v[i].hint : "-");
}

/* Parses one valid rule; the caller frees c. */
static const struct vb_rule *parse_rule(const char *text, struct vb_config *c)
{
	struct vb_diags d;
	int r;

	r = parse(text, c, &d);
	if (r != 0 || d.n != 0) {
		fprintf(stderr, "input: '%s'\n", text);
		dump(&d);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(c->n_rules, 1);
	vb_diags_free(&d);
	return &c->rules[0];
}

static const struct vb_term *parse_term1(const char *text, struct vb_config *c)
{
	const struct vb_rule *r = parse_rule(text, c);

	ck_assert_uint_eq(r->n_terms, 1);
	return &r->terms[0];
}

static void format_is(const struct vb_term *t, const char *want)
{
	char buf[256];
	int n = vb_term_format(t, buf, sizeof(buf));

	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_str_eq(buf, want);
}

/* The text has exactly one error, at line:col, with msg in its message. */
static void expect_error(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct vb_config c;
	struct vb_diags d;
	int r;

	r = parse(text, &c, &d);
	if (d.n != 1 || d.v[0].line != line || d.v[0].column != col ||
	    !strstr(d.v[0].message, msg)) {
		fprintf(stderr, "input: '%s'\n", text);
		dump(&d);
	}
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.n_errors, 1);
	ck_assert_int_eq(d.v[0].severity, VB_SEV_ERROR);
	ck_assert_uint_eq(d.v[0].line, line);
	ck_assert_uint_eq(d.v[0].column, col);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, msg));
	ck_assert_ptr_nonnull(d.v[0].hint);
	ck_assert_uint_eq(c.n_rules, 0);
	vb_config_free(&c);
	vb_diags_free(&d);
}

static bool terms_equal(const struct vb_term *a, const struct vb_term *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case VB_TERM_ADDRESS:
		return a->address.addr.domain == b->address.addr.domain &&
		       a->address.addr.bus == b->address.addr.bus &&
		       a->address.addr.slot == b->address.addr.slot &&
		       a->address.any_func == b->address.any_func &&
		       (a->address.any_func || a->address.addr.func == b->address.addr.func);
	case VB_TERM_ID:
	case VB_TERM_SUBSYS:
		return a->id.vendor == b->id.vendor && a->id.any_device == b->id.any_device &&
		       (a->id.any_device || a->id.device == b->id.device);
	case VB_TERM_CLASS:
		return a->class.value == b->class.value && a->class.digits == b->class.digits;
	case VB_TERM_TOPOLOGY:
		return strcmp(a->topology, b->topology) == 0;
	case VB_TERM_GROUP:
		return a->group == b->group;
	case VB_TERM_BOOT_VGA:
		return a->boot_vga == b->boot_vga;
	default:
		return false;
	}
}

/* Parses "bind <formatted term>" and checks it gives the same term and text. */
static void check_round_trip(const struct vb_term *t)
{
	char text[8192], again[8192];
	struct vb_config c;
	const struct vb_term *u;
	int n;

	strcpy(text, "bind ");
	n = vb_term_format(t, text + 5, sizeof(text) - 5);
	ck_assert_int_gt(n, 0);
	u = parse_term1(text, &c);
	ck_assert_msg(terms_equal(t, u), "round trip of '%s' changed the term", text);
	ck_assert_int_eq(vb_term_format(u, again, sizeof(again)), n);
	ck_assert_str_eq(again, text + 5);
	vb_config_free(&c);
}

/* ------------------------------------------------------------------------ */
/* Valid forms of every key */

static const struct {
	const char *text, *canon;
	unsigned domain, bus, slot, func;
	bool any_func;
} addrs[] = {
	{"bind path=0000:01:00.0", "path=0000:01:00.0", 0, 1, 0, 0, false},
	{"bind path=01:00.0", "path=0000:01:00.0", 0, 1, 0, 0, false},
	{"bind path=1:0.0", "path=0000:01:00.0", 0, 1, 0, 0, false},
	{"bind path=01:00", "path=0000:01:00.*", 0, 1, 0, 0, true},
	{"bind path=01:00.*", "path=0000:01:00.*", 0, 1, 0, 0, true},
	{"bind path=0000:0a:1f", "path=0000:0a:1f.*", 0, 0x0a, 0x1f, 0, true},
	{"bind path=ffff:ff:1f.7", "path=ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7, false},
	{"bind path=FFFF:FF:1F.7", "path=ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7, false},
	{"bind path=a:b:c.1", "path=000a:0b:0c.1", 0xa, 0xb, 0xc, 1, false},
	{"bind path=10:0a:02.*", "path=0010:0a:02.*", 0x10, 0xa, 2, 0, true},
	{"bind address=0000:0A:00.1", "path=0000:0a:00.1", 0, 0xa, 0, 1, false},
	{"bind address=00:02", "path=0000:00:02.*", 0, 0, 2, 0, true},
};

START_TEST(test_address_forms)
{
	struct vb_config c;
	const struct vb_term *t = parse_term1(addrs[_i].text, &c);

	ck_assert_int_eq(t->kind, VB_TERM_ADDRESS);
	ck_assert_uint_eq(t->address.addr.domain, addrs[_i].domain);
	ck_assert_uint_eq(t->address.addr.bus, addrs[_i].bus);
	ck_assert_uint_eq(t->address.addr.slot, addrs[_i].slot);
	ck_assert_uint_eq(t->address.addr.func, addrs[_i].func);
	ck_assert(t->address.any_func == addrs[_i].any_func);
	ck_assert_uint_eq(t->column, 6);
	format_is(t, addrs[_i].canon);
	check_round_trip(t);
	vb_config_free(&c);
}
END_TEST

static const struct {
	const char *text, *canon;
	enum vb_term_kind kind;
	unsigned vendor, device;
	bool any;
} ids[] = {
	{"bind id=10de:1b80", "id=10de:1b80", VB_TERM_ID, 0x10de, 0x1b80, false},
	{"bind id=10DE:1B80", "id=10de:1b80", VB_TERM_ID, 0x10de, 0x1b80, false},
	{"bind id=8086:*", "id=8086:*", VB_TERM_ID, 0x8086, 0, true},
	{"bind id=0000:ffff", "id=0000:ffff", VB_TERM_ID, 0, 0xffff, false},
	{"bind subsystem-id=1028:1fc1", "subsystem-id=1028:1fc1", VB_TERM_SUBSYS, 0x1028, 0x1fc1,
	 false},
	{"bind subsystem-id=1043:*", "subsystem-id=1043:*", VB_TERM_SUBSYS, 0x1043, 0, true},
	{"bind subsystem-id=AbCd:EfEf", "subsystem-id=abcd:efef", VB_TERM_SUBSYS, 0xabcd, 0xefef,
	 false},
};

START_TEST(test_id_forms)
{
	struct vb_config c;
	const struct vb_term *t = parse_term1(ids[_i].text, &c);

	ck_assert_int_eq(t->kind, ids[_i].kind);
	ck_assert_uint_eq(t->id.vendor, ids[_i].vendor);
	ck_assert(t->id.any_device == ids[_i].any);
	if (!ids[_i].any)
		ck_assert_uint_eq(t->id.device, ids[_i].device);
	format_is(t, ids[_i].canon);
	check_round_trip(t);
	vb_config_free(&c);
}
END_TEST

static const struct {
	const char *text, *canon;
	uint32_t value, mask;
	unsigned digits;
} classes[] = {
	{"bind class=03", "class=03", 0x030000, 0xff0000, 2},
	{"bind class=0300", "class=0300", 0x030000, 0xffff00, 4},
	{"bind class=0403", "class=0403", 0x040300, 0xffff00, 4},
	{"bind class=040300", "class=040300", 0x040300, 0xffffff, 6},
	{"bind class=0C0330", "class=0c0330", 0x0c0330, 0xffffff, 6},
	{"bind class=ff", "class=ff", 0xff0000, 0xff0000, 2},
};

START_TEST(test_class_forms)
{
	struct vb_config c;
	const struct vb_term *t = parse_term1(classes[_i].text, &c);

	ck_assert_int_eq(t->kind, VB_TERM_CLASS);
	ck_assert_uint_eq(t->class.value, classes[_i].value);
	ck_assert_uint_eq(t->class.digits, classes[_i].digits);
	ck_assert_uint_eq(vb_class_mask(t->class.digits), classes[_i].mask);
	format_is(t, classes[_i].canon);
	check_round_trip(t);
	vb_config_free(&c);
}
END_TEST

static const struct {
	const char *text, *value;
} topologies[] = {
	/* the stable form, as 'vfio-bind status' prints it */
	{"bind topology=0000:00:03.1/00.0", "0000:00:03.1/00.0"},
	{"bind topology=0000:40:03.1/00.0/04.0/00.0", "0000:40:03.1/00.0/04.0/00.0"},
	{"bind topology=0000:00:1f.3", "0000:00:1f.3"},
	{"bind topology=0000:00:1F.3", "0000:00:1f.3"},
	{"bind topology=0000:0A:03.1/1F.7", "0000:0a:03.1/1f.7"},
	{"bind topology=0000:00:03.1/00.0/", "0000:00:03.1/00.0"},
	{"bind topology=0000:00:03.1//00.0", "0000:00:03.1/00.0"},
	/* the last hop may be a slot: every function there */
	{"bind topology=0000:00:03.1/00", "0000:00:03.1/00"},
	{"bind topology=0000:00:1f", "0000:00:1f"},
	/* behind a host bridge nested in a device (Intel VMD) */
	{"bind topology=0000:00:0e.0/e0:01.0/00.0", "0000:00:0e.0/e0:01.0/00.0"},
	{"bind topology=0000:00:0e.0/E0:01", "0000:00:0e.0/e0:01"},
	/* the sysfs form: bus numbers below the root bus are dropped */
	{"bind topology=pci0000:00/0000:00:03.1/0000:0a:00.0", "0000:00:03.1/00.0"},
	{"bind topology=/sys/devices/pci0000:00/0000:00:03.1/0000:0a:00.0/", "0000:00:03.1/00.0"},
	{"bind topology=sys/devices/pci0000:00/0000:00:01.0", "0000:00:01.0"},
	{"bind topology=/pci0000:00//0000:00:01.0//", "0000:00:01.0"},
	{"bind topology=PCI0000:00/0000:00:1F.3", "0000:00:1f.3"},
	{"bind topology=pci0000:00/0000:00:03.1/0000:0a:00", "0000:00:03.1/00"},
	{"bind topology=pci0000:00/0000:00:03.1/0000:0A:00//", "0000:00:03.1/00"},
	{"bind topology=pci0001:40/0001:40:01.1/0001:41:00.0/0001:42:08.0/0001:43:00.3",
	 "0001:40:01.1/00.0/08.0/00.3"},
	{"bind topology=pci0000:40/0000:40:03.1/0000:42:00.0/0000:43:04.0/0000:44:00.0",
	 "0000:40:03.1/00.0/04.0/00.0"},
	{"bind topology=/sys/devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:01.0/"
	 "10000:e1:00.0",
	 "0000:00:0e.0/e0:01.0/00.0"},
	{"bind topology=/sys/devices/platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/"
	 "0000:01:00.0",
	 "0000:00:00.0/00.0"},
	{"bind topology=pci12345:00/12345:00:01.0", "12345:00:01.0"},
};

START_TEST(test_topology_forms)
{
	struct vb_config c;
	const struct vb_term *t = parse_term1(topologies[_i].text, &c);
	char want[256];

	ck_assert_int_eq(t->kind, VB_TERM_TOPOLOGY);
	ck_assert_str_eq(t->topology, topologies[_i].value);
	snprintf(want, sizeof(want), "topology=%s", topologies[_i].value);
	format_is(t, want);
	check_round_trip(t);
	vb_config_free(&c);
}
END_TEST

/* The parser reduces a sysfs path to exactly what vb_pci_topology() makes of
 * the device's own path: a rule copied from readlink matches its device. */
START_TEST(test_topology_sysfs_is_physpath_topology)
{
	static const char *const paths[] = {
		"pci0000:00/0000:00:10.0",
		"pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0",
		"pci0000:40/0000:40:03.1/0000:42:00.0/0000:43:04.0/0000:44:00.0",
		"pci0001:40/0001:40:01.1/0001:41:00.0/0001:42:08.0/0001:43:00.3",
		"pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:01.0/10000:e1:00.0",
		"pci0000:00/0000:00:0e.0/pci10001:00/10001:00:02.0",
		"platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0",
		"pci-0/pci0000:00/0000:00:00.0",
		"pci12345:00/12345:00:01.0",
	};
	char text[256], want[VB_TOPOLOGY_MAX];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct vb_config c;
		const struct vb_term *t;

		ck_assert_int_eq(vb_topology_from_physpath(paths[i], want, sizeof(want)), 0);
		snprintf(text, sizeof(text), "bind topology=/sys/devices/%s", paths[i]);
		t = parse_term1(text, &c);
		ck_assert_str_eq(t->topology, want);
		vb_config_free(&c);
		/* and the stable form parses to itself */
		snprintf(text, sizeof(text), "bind topology=%s", want);
		t = parse_term1(text, &c);
		ck_assert_str_eq(t->topology, want);
		vb_config_free(&c);
	}
}
END_TEST

/* As deep as a device's topology can be (VB_TOPOLOGY_MAX), and no deeper. */
START_TEST(test_topology_depth)
{
	char text[512];
	struct vb_config c;
	struct vb_diags d;
	const struct vb_term *t;
	size_t o, i;

	o = (size_t)snprintf(text, sizeof(text), "bind topology=0000:00:01.0");
	for (i = 1; i < 24; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "/00.0");
	t = parse_term1(text, &c);
	ck_assert_uint_eq(strlen(t->topology), VB_TOPOLOGY_MAX - 1);
	vb_config_free(&c);
	snprintf(text + o, sizeof(text) - o, "/00.0");
	ck_assert_int_eq(parse(text, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].column, 15);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "25 hops are more than any PCI hierarchy"));
	vb_config_free(&c);
	vb_diags_free(&d);
}
END_TEST

static const struct {
	const char *text, *canon;
	unsigned group;
} groups[] = {
	{"bind iommugroup=0", "iommugroup=0", 0},
	{"bind iommugroup=12", "iommugroup=12", 12},
	{"bind iommugroup=007", "iommugroup=7", 7},
	{"bind iommugroup=2147483647", "iommugroup=2147483647", 2147483647u},
};

START_TEST(test_group_forms)
{
	struct vb_config c;
	const struct vb_term *t = parse_term1(groups[_i].text, &c);

	ck_assert_int_eq(t->kind, VB_TERM_GROUP);
	ck_assert_uint_eq(t->group, groups[_i].group);
	format_is(t, groups[_i].canon);
	check_round_trip(t);
	vb_config_free(&c);
}
END_TEST

START_TEST(test_boot_vga_forms)
{
	static const struct {
		const char *text, *canon;
		bool v;
	} t4[] = {
		{"bind boot-vga=yes", "boot-vga=yes", true},
		{"bind boot-vga=1", "boot-vga=yes", true},
		{"bind boot-vga=no", "boot-vga=no", false},
		{"bind boot-vga=0", "boot-vga=no", false},
	};
	size_t i;

	for (i = 0; i < 4; i++) {
		struct vb_config c;
		const struct vb_term *t = parse_term1(t4[i].text, &c);

		ck_assert_int_eq(t->kind, VB_TERM_BOOT_VGA);
		ck_assert(t->boot_vga == t4[i].v);
		format_is(t, t4[i].canon);
		check_round_trip(t);
		vb_config_free(&c);
	}
}
END_TEST

START_TEST(test_options)
{
	static const struct {
		const char *text;
		unsigned expand;
		bool storage;
		const char *canon;
	} t[] = {
		{"bind id=10de:* expand=slot", VB_EXPAND_SLOT, false, "bind id=10de:* expand=slot"},
		{"bind id=10de:* expand=group", VB_EXPAND_GROUP, false,
		 "bind id=10de:* expand=group"},
		{"bind id=10de:* expand=slot,group", VB_EXPAND_SLOT | VB_EXPAND_GROUP, false,
		 "bind id=10de:* expand=slot,group"},
		{"bind expand=group,slot id=10de:*", VB_EXPAND_SLOT | VB_EXPAND_GROUP, false,
		 "bind id=10de:* expand=slot,group"},
		{"bind class=0108 allow-storage=yes", 0, true, "bind class=0108 allow-storage=yes"},
		{"bind class=0108 allow-storage=1", 0, true, "bind class=0108 allow-storage=yes"},
		{"bind class=0108 allow-storage=no", 0, false, "bind class=0108"},
		{"bind class=0108 allow-storage=0", 0, false, "bind class=0108"},
		{"bind class=0108 allow-storage=yes expand=group", VB_EXPAND_GROUP, true,
		 "bind class=0108 expand=group allow-storage=yes"},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vb_config c, c2;
		const struct vb_rule *r = parse_rule(t[i].text, &c), *r2;
		char buf[256];

		ck_assert(!r->exclude);
		ck_assert_uint_eq(r->n_terms, 1);
		ck_assert_uint_eq(r->expand, t[i].expand);
		ck_assert(r->allow_storage == t[i].storage);
		ck_assert_int_eq(vb_rule_format(r, buf, sizeof(buf)), (int)strlen(t[i].canon));
		ck_assert_str_eq(buf, t[i].canon);
		/* the rule's text round-trips too */
		r2 = parse_rule(buf, &c2);
		ck_assert_uint_eq(r2->expand, r->expand);
		ck_assert(r2->allow_storage == r->allow_storage);
		ck_assert(terms_equal(&r->terms[0], &r2->terms[0]));
		vb_config_free(&c);
		vb_config_free(&c2);
	}
}
END_TEST

START_TEST(test_sriov_options)
{
	static const struct {
		const char *text, *canon;
		bool all;
		size_t n_vfs;
		int numvfs;
		const char *driver;
	} t[] = {
		{"bind id=8086:1572 vfs=all", "bind id=8086:1572 vfs=all", true, 0, 0, "vfio-pci"},
		{"bind id=8086:1572 vfs=0-3,6 numvfs=8", "bind id=8086:1572 vfs=0-3,6 numvfs=8",
		 false, 2, 8, "vfio-pci"},
		{"bind numvfs=2 vfs=0 path=01:00.0 driver=pci-stub",
		 "bind path=0000:01:00.0 vfs=0 numvfs=2 driver=pci-stub", false, 1, 2, "pci-stub"},
		{"bind id=15b3:101e driver=mlx5_vfio_pci", "bind id=15b3:101e driver=mlx5_vfio_pci",
		 false, 0, 0, "mlx5_vfio_pci"},
		{"bind id=8086:1572 vfs=07,65535", "bind id=8086:1572 vfs=7,65535", false, 2, 0,
		 "vfio-pci"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vb_config c, c2;
		const struct vb_rule *r = parse_rule(t[i].text, &c), *r2;
		char buf[256];

		ck_assert(r->vfs_all == t[i].all);
		ck_assert_uint_eq(r->n_vfs, t[i].n_vfs);
		ck_assert_int_eq(r->numvfs, t[i].numvfs);
		ck_assert_str_eq(vb_rule_driver(&c, 0), t[i].driver);
		ck_assert_int_eq(vb_rule_format(r, buf, sizeof(buf)), (int)strlen(t[i].canon));
		ck_assert_str_eq(buf, t[i].canon);
		r2 = parse_rule(buf, &c2);
		ck_assert_int_eq(vb_rule_format(r2, buf, sizeof(buf)), (int)strlen(t[i].canon));
		ck_assert_str_eq(buf, t[i].canon);
		vb_config_free(&c);
		vb_config_free(&c2);
	}
	{
		struct vb_config c;
		const struct vb_rule *r = parse_rule("bind id=8086:1572 vfs=0-3,6", &c);

		ck_assert(vb_rule_takes_vf(r, 0) && vb_rule_takes_vf(r, 3) &&
			  vb_rule_takes_vf(r, 6));
		ck_assert(!vb_rule_takes_vf(r, 4) && !vb_rule_takes_vf(r, 5) &&
			  !vb_rule_takes_vf(r, 7));
		vb_config_free(&c);
	}
}
END_TEST

START_TEST(test_all_keys_in_one_rule)
{
	struct vb_config c;
	const struct vb_rule *r = parse_rule(
		"bind path=0000:0a:00.0 id=10de:1b80 subsystem-id=1458:3702 class=0300 "
		"topology=pci0000:00/0000:00:03.1/0000:0a:00.0 iommugroup=21 boot-vga=no "
		"expand=slot,group allow-storage=no",
		&c);
	char buf[512];

	ck_assert_uint_eq(r->n_terms, 7);
	ck_assert_int_eq(r->terms[0].kind, VB_TERM_ADDRESS);
	ck_assert_int_eq(r->terms[1].kind, VB_TERM_ID);
	ck_assert_int_eq(r->terms[2].kind, VB_TERM_SUBSYS);
	ck_assert_int_eq(r->terms[3].kind, VB_TERM_CLASS);
	ck_assert_int_eq(r->terms[4].kind, VB_TERM_TOPOLOGY);
	ck_assert_int_eq(r->terms[5].kind, VB_TERM_GROUP);
	ck_assert_int_eq(r->terms[6].kind, VB_TERM_BOOT_VGA);
	/* columns of each key */
	ck_assert_uint_eq(r->terms[0].column, 6);
	ck_assert_uint_eq(r->terms[1].column, 24);
	ck_assert_uint_eq(r->terms[2].column, 37);
	ck_assert_uint_eq(r->terms[6].column, 131);
	ck_assert_uint_eq(r->line, 1);
	ck_assert_int_gt(vb_rule_format(r, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "bind path=0000:0a:00.0 id=10de:1b80 subsystem-id=1458:3702 "
			      "class=0300 topology=0000:00:03.1/00.0 "
			      "iommugroup=21 boot-vga=no expand=slot,group");
	vb_config_free(&c);
}
END_TEST

START_TEST(test_exclude)
{
	struct vb_config c;
	struct vb_diags d;

	ck_assert_int_eq(parse("bind class=03 expand=group\n"
			       "exclude boot-vga=yes\n"
			       "exclude path=00:02 id=8086:*\n",
			       &c, &d),
			 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(c.n_rules, 3);
	ck_assert(!c.rules[0].exclude);
	ck_assert(c.rules[1].exclude);
	ck_assert(c.rules[2].exclude);
	ck_assert_uint_eq(c.rules[1].n_terms, 1);
	ck_assert_uint_eq(c.rules[2].n_terms, 2);
	ck_assert_uint_eq(c.rules[2].line, 3);
	ck_assert_uint_eq(c.rules[2].expand, 0);
	vb_config_free(&c);
	vb_diags_free(&d);
}
END_TEST

START_TEST(test_layout)
{
	/* comments, blank lines, tabs, CR LF, a BOM, no final newline */
	static const char text[] = "\xef\xbb\xbf# vfio-bind.conf\n"
				   "\n"
				   "   \t  \n"
				   "   # indented comment\n"
				   "bind path=01:00.0 # GPU\n"
				   "\tbind\tid=10de:*\t\texpand=slot\t#tabs\r\n"
				   "exclude id=10de:10f0#not a comment start\n"
				   "#bind path=02:00.0\n"
				   "bind  class=0403  \r\n"
				   "\r\n"
				   "bind path=03:00.0 #\n"
				   "bind iommugroup=5";
	struct vb_config c;
	struct vb_diags d;

	ck_assert_int_eq(parse(text, &c, &d), -EINVAL);
	/* line 7: '#' inside a word is part of the word */
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].line, 7);
	ck_assert_uint_eq(d.v[0].column, 21);
	ck_assert_ptr_nonnull(strstr(d.v[0].hint, "comment"));
	ck_assert_uint_eq(c.n_rules, 5);
	ck_assert_uint_eq(c.rules[0].line, 5);
	ck_assert_uint_eq(c.rules[1].line, 6);
	ck_assert_uint_eq(c.rules[1].terms[0].column, 7);
	ck_assert_uint_eq(c.rules[1].expand, VB_EXPAND_SLOT);
	ck_assert_uint_eq(c.rules[2].line, 9);
	ck_assert_uint_eq(c.rules[2].terms[0].column, 7);
	ck_assert_uint_eq(c.rules[3].line, 11);
	ck_assert_uint_eq(c.rules[4].line, 12);
	ck_assert_uint_eq(c.rules[4].terms[0].group, 5);
	vb_config_free(&c);
	vb_diags_free(&d);

	/* empty input and only comments */
	ck_assert_int_eq(parse("", &c, &d), 0);
	ck_assert_uint_eq(c.n_rules + d.n, 0);
	vb_config_free(&c);
	vb_diags_free(&d);
	ck_assert_int_eq(parse("#\n\n# x\r\n", &c, &d), 0);
	ck_assert_uint_eq(c.n_rules + d.n, 0);
	vb_config_free(&c);
	vb_diags_free(&d);
	ck_assert_int_eq(vb_config_parse("x", NULL, 0, &c, &d), 0);
	ck_assert_str_eq(c.file, "x");
	ck_assert_str_eq(d.file, "x");
	vb_config_free(&c);
	vb_diags_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Errors: exact line, column and message */

static const struct {
	const char *text;
	unsigned line, col;
	const char *msg;
} errors[] = {
	/* verbs */
	{"bnid id=10de:1b80", 1, 1, "unknown verb 'bnid'"},
	{"  Bind id=10de:1b80", 1, 3, "unknown verb 'Bind'"},
	{"path=01:00.0", 1, 1, "unknown verb 'path=01:00.0'"},
	{"unbind path=01:00.0 iommu-group=1", 1, 1, "unknown verb"},
	/* keys */
	{"bind iommu-group=3", 1, 6, "unknown key 'iommu-group'"},
	{"bind path=01:00.0 vendor=10de", 1, 19, "unknown key 'vendor'"},
	{"bind PATH=01:00.0", 1, 6, "unknown key 'PATH'"},
	{"bind =01:00.0", 1, 6, "expected a key before '='"},
	{"bind path", 1, 6, "expected KEY=VALUE, found 'path'"},
	{"bind 01:00.0", 1, 6, "expected KEY=VALUE, found '01:00.0'"},
	{"bind path=01:00.0 bind id=10de:*", 1, 19, "expected KEY=VALUE, found 'bind'"},
	{"bind path = 01:00.0", 1, 6, "spaces around '='"},
	{"bind path =01:00.0", 1, 6, "spaces around '='"},
	{"bind path= 01:00.0", 1, 11, "expected a value right after 'path='"},
	{"bind path=", 1, 11, "expected a value after 'path='"},
	{"bind id=10de:* id=8086:*", 1, 16, "duplicate key 'id'"},
	{"bind path=01:00.0 address=01:00.1", 1, 19, "duplicate key 'address'"},
	{"bind expand=slot id=10de:* expand=group", 1, 28, "duplicate key 'expand'"},
	{"exclude id=10de:* expand=group", 1, 19, "expand= is not allowed on an exclude rule"},
	{"exclude id=10de:* allow-storage=yes", 1, 19, "allow-storage= is not allowed"},
	/* SR-IOV and driver=: line, column of the key or of the bad part of the value */
	{"bind id=8086:1572 vfs=0-3,x", 1, 27, "expected a VF index in decimal, found 'x'"},
	{"bind id=8086:1572 vfs=3-1", 1, 23, "range '3-1' ends before it starts"},
	{"bind id=8086:1572 vfs=0-3,2", 1, 27, "VF 2 is listed twice"},
	{"bind id=8086:1572 vfs=70000", 1, 23, "out of range (0-65535)"},
	{"bind id=8086:1572 vfs=1;2", 1, 24, "expected ',' or '-' after a VF index"},
	{"bind id=8086:1572 numvfs=-1 vfs=all", 1, 26, "without sign"},
	{"bind id=8086:1572 numvfs=4x vfs=all", 1, 27, "expected a decimal digit"},
	{"bind id=8086:1572 numvfs=0 vfs=all", 1, 26, "only creates them"},
	{"bind id=8086:1572 numvfs=4", 1, 19, "numvfs= without vfs="},
	{"bind id=8086:1572 vfs=0,5 numvfs=4", 1, 19, "VF 5 is not below numvfs=4"},
	{"bind id=8086:1572 vfs=2-9 numvfs=4", 1, 19, "VF 4 is not below numvfs=4"},
	{"bind id=8086:1572 vfs=all expand=slot", 1, 27, "expand= does not combine with vfs="},
	{"bind id=8086:1572 vfs=all vfs=0", 1, 27, "duplicate key 'vfs'"},
	{"bind id=8086:1572 driver=Vfio", 1, 26, "'V' cannot be part of a driver name"},
	{"bind id=8086:1572 driver=-x", 1, 26, "'-' cannot be part"},
	{"bind id=8086:1572 driver=none", 1, 26, "binds no driver at all"},
	{"exclude id=8086:1572 driver=pci-stub", 1, 22, "driver= is not allowed on an exclude"},
	{"exclude id=8086:1572 numvfs=2", 1, 22, "numvfs= is not allowed on an exclude"},
	{"bind", 1, 1, "bind rule without a selector"},
	{"bind expand=group # x", 1, 1, "bind rule without a selector"},
	{"  exclude", 1, 3, "exclude rule without a selector"},
	/* path= */
	{"bind path=01:20.0", 1, 14, "slot 20 is out of range (00-1f)"},
	{"bind path=01:00.8", 1, 17, "function 8 is out of range (0-7)"},
	{"bind path=01:00.0x", 1, 18, "unexpected 'x' after the function"},
	{"bind path=01:00.a", 1, 17, "function a is out of range"},
	{"bind path=01:00.g", 1, 17, "expected the function in hex, found 'g'"},
	{"bind path=01:00.00", 1, 17, "the function '00' must be one hex digit"},
	{"bind path=100:00.0", 1, 11, "the bus '100' has more than 2 hex digits"},
	{"bind path=10000:00:00.0", 1, 11, "the domain '10000' has more than 4 hex digits"},
	{"bind path=0g:00.0", 1, 12, "'g' is not a hex digit"},
	{"bind path=01.00.0", 1, 11, "expected [DOMAIN:]BUS:SLOT.FUNC"},
	{"bind path=1:2:3:4.0", 1, 16, "unexpected third ':'"},
	{"bind path=:00.0", 1, 11, "expected the bus in hex, found ':'"},
	{"bind path=01:.0", 1, 14, "expected the slot in hex, found '.'"},
	{"bind path=01:00.", 1, 17, "expected the function in hex, found the end of the value"},
	{"bind path=01:00.*x", 1, 18, "unexpected 'x'"},
	{"bind path=01:00-0", 1, 16, "expected '.' after the slot, found '-'"},
	{"bind path=pci0000:00/0000:00:01.0", 1, 21, "found a path"},
	{"bind path=01:00.0é", 1, 18, "unexpected 'é'"},
	/* id=, subsystem-id= */
	{"bind id=10de", 1, 13, "expected ':' after the vendor ID, found the end"},
	{"bind id=10de:1b8", 1, 14, "the device ID '1b8' must be 4 hex digits"},
	{"bind id=10de:1b800", 1, 14, "the device ID '1b800' must be 4 hex digits"},
	{"bind id=10d:1b80", 1, 9, "the vendor ID '10d' must be 4 hex digits"},
	{"bind id=*:1b80", 1, 9, "expected the vendor ID in hex, found '*'"},
	{"bind id=10de:*x", 1, 15, "unexpected 'x' after the device ID"},
	{"bind id=10de:1b80:1", 1, 18, "unexpected ':'"},
	{"bind id=10dg:1b80", 1, 12, "'g' is not a hex digit"},
	{"bind id=10de:*#gpu", 1, 15, "unexpected '#'"},
	{"bind subsystem-id=1028", 1, 23, "expected ':' after the vendor ID"},
	{"bind subsystem-id=1028:xyz1", 1, 24, "expected the device ID in hex, found 'x'"},
	/* class= */
	{"bind class=3", 1, 12, "expected 2, 4 or 6 hex digits, found 1"},
	{"bind class=030", 1, 12, "expected 2, 4 or 6 hex digits, found 3"},
	{"bind class=03000000", 1, 12, "found 8"},
	{"bind class=0x03", 1, 13, "expected a hex digit, found 'x'"},
	{"bind class=03:00", 1, 14, "expected a hex digit, found ':'"},
	/* topology=, sysfs form */
	{"bind topology=pci0000:00", 1, 25, "expected at least one device after the root bus"},
	{"bind topology=/", 1, 15, "expected DDDD:BB:SS.F/SS.F/... or pciDDDD:BB/DDDD:BB:SS.F"},
	{"bind topology=/sys/bus/pci/devices/0000:01:00.0", 1, 16,
	 "expected the root bus 'pciDDDD:BB' as first component, found 'sys'"},
	{"bind topology=pci0000:0/0000:00:01.0", 1, 23, "the root bus number '0' must be 2"},
	{"bind topology=pci000:00/0000:00:01.0", 1, 18,
	 "the root bus domain '000' must be 4 to 8 hex digits"},
	{"bind topology=pci0000:00x/0000:00:01.0", 1, 25, "unexpected 'x' after the root bus"},
	{"bind topology=pci0000:00/00:01.0", 1, 26, "with a 4-digit domain"},
	{"bind topology=pci0000:00/0000:0:01.0", 1, 31, "the bus '0' must be 2 hex digits"},
	{"bind topology=pci0000:00/0000:00:01/0000:01:00.0", 1, 36,
	 "expected '.FUNC' after the slot"},
	{"bind topology=pci0000:00/0000:00:01.*", 1, 37, "expected the function in hex"},
	{"bind topology=pci0000:00/0000:00:20.0", 1, 34, "slot 20 is out of range"},
	{"bind topology=pci0000:00/0000:01:00.0", 1, 26, "must be on the root bus 00"},
	{"bind topology=pci0000:00/0001:00:01.0", 1, 26, "domain 0001 differs"},
	{"bind topology=pci0000:00/0000:00:01.0/0001:01:00.0", 1, 39, "domain 0001 differs"},
	{"bind topology=pci0000:00/0000:00:01.0/0000:01:00.0:", 1, 51, "unexpected third ':'"},
	{"bind topology=pci0000:00/pci0000:01/0000:01:00.0", 1, 26,
	 "expected a device after the root bus, found another root bus"},
	{"bind topology=pci0000:00/0000:00:0e.0/pci10000:e0", 1, 50,
	 "expected at least one device after the root bus"},
	{"bind topology=pci0000:00/0000:00:0e.0/pci10000:e0/10000:e1:00.0", 1, 51,
	 "must be on the root bus e0, not bus e1"},
	{"bind topology=/sys/devices/platform/scb/fd500000.pcie", 1, 54,
	 "expected the root bus 'pciDDDD:BB' below the platform device"},
	/* topology=, stable form */
	{"bind topology=00:01.0", 1, 15, "expected the first hop as DOMAIN:BUS:SLOT.FUNC"},
	{"bind topology=01.0/00.0", 1, 15, "expected the first hop as DOMAIN:BUS:SLOT.FUNC"},
	{"bind topology=0000:00:01.0/0000:01:00.0", 1, 28,
	 "'0000:01:00.0' is a full address: below the first hop write only SLOT.FUNC"},
	{"bind topology=0000:00:01.0/0.0", 1, 28, "the slot '0' must be 2 hex digits"},
	{"bind topology=0000:00:01.0/000.0", 1, 28, "the slot '000' must be 2 hex digits"},
	{"bind topology=0000:00:01/00.0", 1, 25, "expected '.FUNC' after the slot"},
	{"bind topology=0000:00:01.0/00/00.0", 1, 30,
	 "expected '.FUNC' after the slot (only the last hop may leave out the function)"},
	{"bind topology=0000:00:01.0/00.8", 1, 31, "function 8 is out of range (0-7)"},
	{"bind topology=0000:00:01.0/20.0", 1, 28, "slot 20 is out of range (00-1f)"},
	{"bind topology=0000:00:01.0/00.0x", 1, 32, "unexpected 'x' after the function"},
	{"bind topology=0000:00:01.0/00-0", 1, 30, "expected '.' after the slot, found '-'"},
	{"bind topology=0000:00:01.0/0g.0", 1, 29, "'g' is not a hex digit"},
	{"bind topology=0000:00:01.0/00.*", 1, 31, "expected the function in hex, found '*'"},
	{"bind topology=0000:00:01.0/1:2:3:4", 1, 28, "unexpected ':' in a hop"},
	{"bind topology=0000:00:01.0/e:01.0", 1, 28, "the root bus number 'e' must be 2"},
	{"bind topology=0000:00:0e.0/e0-01.0", 1, 28, "slot e0 is out of range"},
	{"bind topology=0000:00:01.0/..", 1, 28, "expected the slot in hex, found '.'"},
	/* iommugroup= */
	{"bind iommugroup=2147483648", 1, 17, "out of range (0-2147483647)"},
	{"bind iommugroup=99999999999999999999999", 1, 17, "out of range"},
	{"bind iommugroup=-1", 1, 17, "without sign"},
	{"bind iommugroup=+1", 1, 17, "without sign"},
	{"bind iommugroup=1a", 1, 18, "expected a decimal digit, found 'a'"},
	{"bind iommugroup=0x1f", 1, 18, "found 'x'"},
	{"bind iommugroup= 5", 1, 17, "expected a value right after 'iommugroup='"},
	/* boot-vga=, expand=, allow-storage= */
	{"bind boot-vga=maybe", 1, 15, "expected yes or no"},
	{"bind boot-vga=YES", 1, 15, "expected yes or no"},
	{"bind boot-vga=true", 1, 15, "expected yes or no"},
	{"bind id=10de:* expand=bus", 1, 23, "unknown expansion 'bus'"},
	{"bind id=10de:* expand=slot,", 1, 28, "empty item"},
	{"bind id=10de:* expand=,slot", 1, 23, "empty item"},
	{"bind id=10de:* expand=slot,slot", 1, 28, "'slot' is listed twice"},
	{"bind id=10de:* expand=Group", 1, 23, "unknown expansion 'Group'"},
	{"bind id=10de:* allow-storage=sure", 1, 30, "expected yes or no"},
	/* bytes */
	{"bind path=01:00.0\x01", 1, 18, "control character 0x01"},
	{"bind\x0bpath=01:00.0", 1, 5, "control character 0x0b"},
	{"bind path=01:00.0\rbind id=10de:*", 1, 18, "carriage return"},
	{"bind path=01:00.0 \x7f", 1, 19, "control character 0x7f"},
	{"bind path=01:00.0 # \xc2\x85", 1, 21, "control character U+0085"},
	{"bind path=01:00.0 # caf\xe9", 1, 24, "invalid UTF-8 byte 0xe9"},
	{"# \xc0\xaf overlong", 1, 3, "invalid UTF-8"},
	{"# \xed\xa0\x80 surrogate", 1, 3, "invalid UTF-8"},
	{"# \xf4\x90\x80\x80 too big", 1, 3, "invalid UTF-8"},
	{"# \xe2\x82 cut", 1, 3, "invalid UTF-8"},
	{"# \x80 stray", 1, 3, "invalid UTF-8"},
	{"\n\nbind id=10de:1b80 id=10de:1b81", 3, 19, "duplicate key 'id'"},
};

START_TEST(test_errors)
{
	expect_error(errors[_i].text, errors[_i].line, errors[_i].col, errors[_i].msg);
}
END_TEST

START_TEST(test_error_hints)
{
	static const struct {
		const char *text, *hint;
	} t[] = {
		{"bind iommu-group=3", "did you mean 'iommugroup'?"},
		{"bind iommu_group=3", "did you mean 'iommugroup'?"},
		{"bind subsystem_id=1028:*", "did you mean 'subsystem-id'?"},
		{"bind adress=01:00.0", "did you mean 'address'?"},
		{"bind calss=03", "did you mean 'class'?"},
		{"bind boot_vga=yes", "did you mean 'boot-vga'?"},
		{"bind expnad=slot", "did you mean 'expand'?"},
		{"bind vendor=10de", "did you mean 'id'?"},
		{"bind group=3", "did you mean 'iommugroup'?"},
		{"bind slot=01:00", "did you mean 'path'?"},
		{"bind PATH=01:00.0", "did you mean 'path'?"},
		{"bind driver=nvidia", "add what to match"},
		{"bind id=8086:1572 driver=Mlx5", "driver (module) name"},
		{"bind id=8086:1572 driver=none", "driver (module) name"},
		{"bind id=8086:1572 num-vfs=4 vfs=all", "did you mean 'numvfs'?"},
		{"bind id=8086:1572 vfs=0-3,x", "vfs=0-3,6"},
		{"bind id=8086:1572 vfs=3-1", "vfs=0-3,6"},
		{"bind id=8086:1572 vfs=1,0-2", "vfs=0-3,6"},
		{"bind id=8086:1572 vfs=0,", "vfs=0-3,6"},
		{"bind id=8086:1572 numvfs=4", "add vfs=all or vfs=LIST"},
		{"bind id=8086:1572 numvfs=0 vfs=all", "sriov_totalvfs"},
		{"bind id=8086:1572 numvfs=4 vfs=2-4", "0 to N-1"},
		{"bind id=8086:1572 vfs=all expand=group", "list the ones to take"},
		{"exclude id=8086:1572 vfs=all", "an exclude rule removes exactly"},
		{"bind node=pve", "Proxmox"},
		{"bind zzzzzz=1",
		 "valid keys: path, address, id, subsystem-id, class, topology, "
		 "iommugroup, boot-vga, mapping, expand, allow-storage, vfs, numvfs, driver"},
		{"bnid id=10de:1b80", "did you mean 'bind'?"},
		{"exlcude id=10de:1b80", "did you mean 'exclude'?"},
		{"path=01:00.0", "a rule is 'bind KEY=VALUE...'"},
		{"bind path", "write path=VALUE as one word"},
		{"bind 01:00.0", "a PCI address is written path=01:00.0"},
		{"bind path=01:00.0 bind id=10de:*", "one rule per line"},
		{"bind path=/sys/devices/x", "use topology="},
		{"bind id=10de", "lspci -nn"},
		{"bind class=0x03", "without 0x"},
		{"bind id=10de:* allow-storage=maybe", "ALLOW-STORAGE"},
		{"bind id=10de:1b80 id=10de:1b81", "write one rule for each"},
		{"bind path=01:00.0\x01", "spaces and tabs"},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vb_config c;
		struct vb_diags d;

		ck_assert_int_eq(parse(t[i].text, &c, &d), -EINVAL);
		ck_assert_uint_eq(d.n, 1);
		ck_assert_ptr_nonnull(d.v[0].hint);
		ck_assert_msg(strstr(d.v[0].hint, t[i].hint), "'%s': hint '%s' lacks '%s'",
			      t[i].text, d.v[0].hint, t[i].hint);
		vb_config_free(&c);
		vb_diags_free(&d);
	}
}
END_TEST

START_TEST(test_many_errors_reported)
{
	static const char text[] = "bind path=01:00.0\n"                 /* 1 ok */
				   "bnid path=02:00.0\n"                 /* 2 verb */
				   "bind iommu-group=4\n"                /* 3 key */
				   "# comment\n"                         /* 4 */
				   "bind id=10de:* class=3\n"            /* 5 class */
				   "exclude path=03:00.0\n"              /* 6 ok */
				   "bind path=01:00.9 id=1 boot-vga=x\n" /* 7: three errors */
				   "bind\n"                              /* 8 no selector */
				   "bind class=0300 expand=group\n";     /* 9 ok */
	static const struct {
		unsigned line, col;
	} want[] = {{2, 1}, {3, 6}, {5, 22}, {7, 17}, {7, 22}, {7, 33}, {8, 1}};
	struct vb_config c;
	struct vb_diags d;
	size_t i;

	ck_assert_int_eq(parse(text, &c, &d), -EINVAL);
	if (d.n != 7)
		dump(&d);
	ck_assert_uint_eq(d.n, 7);
	ck_assert_uint_eq(d.n_errors, 7);
	for (i = 0; i < 7; i++) {
		ck_assert_uint_eq(d.v[i].line, want[i].line);
		ck_assert_uint_eq(d.v[i].column, want[i].col);
	}
	/* the valid rules are kept */
	ck_assert_uint_eq(c.n_rules, 3);
	ck_assert_uint_eq(c.rules[0].line, 1);
	ck_assert_uint_eq(c.rules[1].line, 6);
	ck_assert_uint_eq(c.rules[2].line, 9);
	vb_config_free(&c);
	vb_diags_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Limits and hostile input */

START_TEST(test_line_length)
{
	size_t n = VB_CONFIG_MAX_LINE;
	char *text = malloc(3 * n + 100);
	struct vb_config c;
	struct vb_diags d;
	size_t o;

	/* exactly VB_CONFIG_MAX_LINE bytes (before CR LF): fine */
	o = (size_t)sprintf(text, "bind path=01:00.0 #");
	memset(text + o, 'x', n - o);
	o = n;
	memcpy(text + o, "\r\n", 2);
	o += 2;
	/* one more: an error at column 4097, and the next line still counts */
	o += (size_t)sprintf(text + o, "bind path=02:00.0 #");
	memset(text + o, 'y', n + 1 - 19);
	o += n + 1 - 19;
	o += (size_t)sprintf(text + o, "\nbind path=03:00.0\n");

	ck_assert_int_eq(parse_n(text, o, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].line, 2);
	ck_assert_uint_eq(d.v[0].column, VB_CONFIG_MAX_LINE + 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "longer than 4096 bytes"));
	ck_assert_uint_eq(c.n_rules, 2);
	ck_assert_uint_eq(c.rules[0].line, 1);
	ck_assert_uint_eq(c.rules[1].line, 3);
	vb_config_free(&c);
	vb_diags_free(&d);
	free(text);
}
END_TEST

START_TEST(test_limits)
{
	size_t size = (VB_CONFIG_MAX_RULES + 2) * 32, o = 0, i;
	char *text = malloc(size);
	struct vb_config c;
	struct vb_diags d;

	/* VB_CONFIG_MAX_RULES + 2 rules: one error, at the first one too many */
	for (i = 0; i < VB_CONFIG_MAX_RULES + 2; i++)
		o += (size_t)snprintf(text + o, size - o, "bind iommugroup=%zu\n", i);
	ck_assert_int_eq(parse_n(text, o, &c, &d), -EINVAL);
	ck_assert_uint_eq(c.n_rules, VB_CONFIG_MAX_RULES);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].line, VB_CONFIG_MAX_RULES + 1);
	ck_assert_uint_eq(d.v[0].column, 0);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "too many rules"));
	vb_config_free(&c);
	vb_diags_free(&d);

	/* 32 terms are fine as far as the count goes (they are duplicates) */
	o = (size_t)sprintf(text, "bind");
	for (i = 0; i < VB_CONFIG_MAX_TERMS; i++)
		o += (size_t)sprintf(text + o, " class=03");
	ck_assert_int_eq(parse_n(text, o, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, VB_CONFIG_MAX_TERMS - 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "duplicate key 'class'"));
	vb_config_free(&c);
	vb_diags_free(&d);
	/* 33 terms: one error at the 33rd */
	o += (size_t)sprintf(text + o, " class=03");
	ck_assert_int_eq(parse_n(text, o, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].column, 5 + 9 * VB_CONFIG_MAX_TERMS + 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "too many terms"));
	vb_config_free(&c);
	vb_diags_free(&d);
	free(text);
}
END_TEST

START_TEST(test_size_limit)
{
	size_t n = VB_CONFIG_MAX_SIZE + 1;
	char *text = malloc(n);
	struct vb_config c;
	struct vb_diags d;

	memset(text, '\n', n);
	ck_assert_int_eq(vb_config_parse("big", text, n, &c, &d), -EFBIG);
	vb_config_free(&c);
	vb_diags_free(&d);
	/* exactly the limit is fine */
	ck_assert_int_eq(vb_config_parse("big", text, n - 1, &c, &d), 0);
	vb_config_free(&c);
	vb_diags_free(&d);
	free(text);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
	/* every prefix of a valid config, each in an exact-size buffer: the
	 * parser must stop at len, whatever is (not) after it */
	static const char text[] = "bind path=0000:01:00.* id=10de:* subsystem-id=1458:37a2 "
				   "class=0300 topology=/sys/devices/pci0000:00/0000:00:03.1/ "
				   "iommugroup=1 boot-vga=no expand=slot,group allow-storage=yes";
	size_t n;

	for (n = 0; n <= sizeof(text) - 1; n++) {
		struct vb_config c;
		struct vb_diags d;
		int r = parse_n(text, n, &c, &d);

		ck_assert(r == 0 || r == -EINVAL);
		ck_assert((r == 0) == (d.n_errors == 0));
		vb_config_free(&c);
		vb_diags_free(&d);
	}
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char text[] = "bind path=01:00.0\nbind id=10de:1b80\0garbage\nbind class=03";
	struct vb_config c;
	struct vb_diags d;

	ck_assert_int_eq(parse_n(text, sizeof(text) - 1, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].line, 2);
	ck_assert_uint_eq(d.v[0].column, 18);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "NUL byte"));
	ck_assert_uint_eq(c.n_rules, 2); /* lines 1 and 3 */
	vb_config_free(&c);
	vb_diags_free(&d);
}
END_TEST

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
	/* xorshift32: the same bytes on every run */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Checks invariants that hold for any input. */
static void check_any(const char *buf, size_t len)
{
	struct vb_config c;
	struct vb_diags d;
	size_t i, j, lines = 1;
	int r;

	for (i = 0; i < len; i++)
		lines += buf[i] == '\n';
	r = vb_config_parse("rnd", buf, len, &c, &d);
	ck_assert(r == 0 || r == -EINVAL);
	ck_assert((r == 0) == (d.n_errors == 0));
	ck_assert_uint_le(d.n, VB_DIAGS_MAX);
	ck_assert_uint_eq(d.n_errors, d.n + d.n_dropped);
	for (i = 0; i < d.n; i++) {
		ck_assert_uint_ge(d.v[i].line, 1);
		ck_assert_uint_le(d.v[i].line, lines);
		ck_assert_uint_le(d.v[i].column, VB_CONFIG_MAX_LINE + 1);
		/* messages are printable whatever the input */
		for (j = 0; d.v[i].message[j]; j++)
			ck_assert((unsigned char)d.v[i].message[j] >= 0x20);
	}
	for (i = 0; i < c.n_rules; i++) {
		ck_assert_uint_ge(c.rules[i].n_terms, 1);
		for (j = 0; j < c.rules[i].n_terms; j++)
			check_round_trip(&c.rules[i].terms[j]);
	}
	vb_config_free(&c);
	vb_diags_free(&d);
}

START_TEST(test_random_bytes)
{
	size_t iter;

	for (iter = 0; iter < 2000; iter++) {
		size_t len = rng() % 300, i;
		char *buf = malloc(len ? len : 1);

		for (i = 0; i < len; i++)
			buf[i] = (char)rng();
		check_any(buf, len);
		free(buf);
	}
}
END_TEST

START_TEST(test_random_tokens)
{
	/* random lines from config pieces reach far deeper than random bytes */
	static const char *const pieces[] = {
		"bind",
		"exclude",
		" ",
		"\t",
		"\n",
		"\r\n",
		"#",
		"=",
		":",
		".",
		"*",
		"/",
		",",
		"path=",
		"address=",
		"id=",
		"subsystem-id=",
		"class=",
		"topology=",
		"iommugroup=",
		"boot-vga=",
		"expand=",
		"allow-storage=",
		"0000",
		"01",
		"1f",
		"7",
		"10de",
		"ffff",
		"pci0000:00",
		"0000:00:01.0",
		"slot",
		"group",
		"yes",
		"no",
		"0",
		"2147483647",
		"99999999999",
		"\xc3\xa9",
		"\xff",
		"\0",
		"\x01",
		"-",
		"+",
		"0x",
	};
	size_t iter;

	for (iter = 0; iter < 5000; iter++) {
		size_t n = rng() % 24, len = 0, i;
		char buf[1024];

		for (i = 0; i < n; i++) {
			const char *p = pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = *p ? strlen(p) : 1;

			memcpy(buf + len, p, pl);
			len += pl;
		}
		{
			char *exact = malloc(len ? len : 1);

			memcpy(exact, buf, len);
			check_any(exact, len);
			free(exact);
		}
	}
}
END_TEST

START_TEST(test_megabyte_of_garbage)
{
	size_t n = VB_CONFIG_MAX_SIZE, i;
	char *buf = malloc(n);
	struct vb_config c;
	struct vb_diags d;

	/* printable garbage with short lines: an error on nearly every line;
	 * diagnostics stop being kept at VB_DIAGS_MAX but are still counted */
	for (i = 0; i < n; i++)
		buf[i] = (rng() % 8 == 0) ? '\n' : (char)(0x21 + rng() % 94);
	ck_assert_int_eq(vb_config_parse("garbage", buf, n, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n, VB_DIAGS_MAX);
	ck_assert_uint_gt(d.n_dropped, 10000);
	ck_assert_uint_eq(d.n_errors, d.n + d.n_dropped);
	vb_config_free(&c);
	vb_diags_free(&d);

	/* raw random bytes */
	for (i = 0; i < n; i++)
		buf[i] = (char)rng();
	check_any(buf, n);
	/* one 1 MiB line, and a 1 MiB run of 0xff */
	memset(buf, 'a', n);
	check_any(buf, n);
	memset(buf, 0xff, n);
	check_any(buf, n);
	free(buf);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* API */

START_TEST(test_format_api)
{
	struct vb_term t = {.kind = VB_TERM_ADDRESS};
	char buf[64];

	ck_assert_str_eq(vb_term_key(VB_TERM_ADDRESS), "path");
	ck_assert_str_eq(vb_term_key(VB_TERM_ID), "id");
	ck_assert_str_eq(vb_term_key(VB_TERM_SUBSYS), "subsystem-id");
	ck_assert_str_eq(vb_term_key(VB_TERM_CLASS), "class");
	ck_assert_str_eq(vb_term_key(VB_TERM_TOPOLOGY), "topology");
	ck_assert_str_eq(vb_term_key(VB_TERM_GROUP), "iommugroup");
	ck_assert_str_eq(vb_term_key(VB_TERM_BOOT_VGA), "boot-vga");
	ck_assert_ptr_null(vb_term_key(_VB_TERM_MAX));

	t.address.addr.bus = 1;
	ck_assert_int_eq(vb_term_format(&t, buf, sizeof(buf)), 17);
	ck_assert_str_eq(buf, "path=0000:01:00.0");
	ck_assert_int_eq(vb_term_format(&t, buf, 17), -ENOBUFS);
	ck_assert_int_eq(vb_term_format(&t, buf, 18), 17);
	t.kind = _VB_TERM_MAX;
	ck_assert_int_eq(vb_term_format(&t, buf, sizeof(buf)), -EINVAL);
	t.kind = VB_TERM_TOPOLOGY;
	t.topology = NULL;
	ck_assert_int_eq(vb_term_format(&t, buf, sizeof(buf)), -EINVAL);
	t.kind = VB_TERM_CLASS;
	t.class.digits = 3;
	ck_assert_int_eq(vb_term_format(&t, buf, sizeof(buf)), -EINVAL);
}
END_TEST

START_TEST(test_rule_format_small_buffers)
{
	struct vb_config c;
	const struct vb_rule *r = parse_rule("exclude path=01:00 id=10de:* iommugroup=3", &c);
	char buf[128];
	int n = vb_rule_format(r, buf, sizeof(buf));
	size_t size;

	ck_assert_str_eq(buf, "exclude path=0000:01:00.* id=10de:* iommugroup=3");
	for (size = 0; size <= (size_t)n; size++) {
		char *small = malloc(size ? size : 1);

		ck_assert_int_eq(vb_rule_format(r, small, size), -ENOBUFS);
		free(small);
	}
	vb_config_free(&c);

	r = parse_rule("bind class=0108 expand=group allow-storage=yes", &c);
	n = vb_rule_format(r, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen("bind class=0108 expand=group allow-storage=yes"));
	for (size = 0; size <= (size_t)n; size++)
		ck_assert_int_eq(vb_rule_format(r, buf, size), -ENOBUFS);
	vb_config_free(&c);
}
END_TEST

START_TEST(test_diags_log_format)
{
	struct vb_config c;
	struct vb_diags d;
	char *out;

	ck_assert_int_eq(parse("bind path=01:00.0\nbind iommu-group=3\n", &c, &d), -EINVAL);
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 1, 0, NULL, NULL,
				      "rule matches no device"),
			 0);
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 0, 0, NULL, NULL, "whole file"),
			 0);
	out = fixture_diags_log(&d);
	ck_assert_ptr_nonnull(strstr(out, "test.conf:2:6: error: unknown key 'iommu-group'\n"
					  "  hint: did you mean 'iommugroup'?"));
	ck_assert_ptr_nonnull(strstr(out, "test.conf:1: warning: rule matches no device\n"));
	ck_assert_ptr_nonnull(strstr(out, "test.conf: error: whole file\n"));
	free(out);
	vb_config_free(&c);
	vb_diags_free(&d);

	/* dropped diagnostics are counted at the end */
	vb_diags_init(&d, "g");
	for (int i = 0; i < VB_DIAGS_MAX + 3; i++)
		vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 1, 1, NULL, NULL, "x");
	out = fixture_diags_log(&d);
	ck_assert_ptr_nonnull(strstr(out, "g: 3 more diagnostics not shown"));
	free(out);
	vb_diags_free(&d);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* vb_config_load and the shipped example */

static void write_file(const char *path, const char *text, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
}

START_TEST(test_load)
{
	char dir[] = "/tmp/vb-test-config.XXXXXX", path[256];
	struct vb_root root;
	struct vb_config c;
	struct vb_diags d;
	char *big;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	ck_assert(!root.is_host);
	ck_assert_int_eq(mkdir(strcat(strcpy(path, dir), "/etc"), 0755), 0);

	strcat(strcpy(path, dir), "/etc/vfio-bind.conf");
	write_file(path, "bind path=01:00\nbind id=10de:1b81 iommugroup=x\n", 46);
	ck_assert_int_eq(vb_config_load(&root, "etc/vfio-bind.conf", "/etc/vfio-bind.conf", &c, &d),
			 -EINVAL);
	ck_assert_str_eq(c.file, "/etc/vfio-bind.conf");
	ck_assert_str_eq(d.file, "/etc/vfio-bind.conf");
	ck_assert_uint_eq(c.n_rules, 1);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.v[0].line, 2);
	ck_assert_uint_eq(d.v[0].column, 30);
	vb_config_free(&c);
	vb_diags_free(&d);

	ck_assert_int_eq(vb_config_load(&root, "etc/missing.conf", "missing", &c, &d), -ENOENT);
	ck_assert_uint_eq(c.n_rules + d.n, 0);
	vb_config_free(&c);
	vb_diags_free(&d);

	/* 1 MiB is accepted, one byte more is refused */
	big = malloc(VB_CONFIG_MAX_SIZE + 1);
	memset(big, '#', VB_CONFIG_MAX_SIZE + 1);
	for (size_t i = 100; i < VB_CONFIG_MAX_SIZE; i += 100)
		big[i] = '\n';
	write_file(path, big, VB_CONFIG_MAX_SIZE);
	ck_assert_int_eq(vb_config_load(&root, "etc/vfio-bind.conf", "f", &c, &d), 0);
	vb_config_free(&c);
	vb_diags_free(&d);
	write_file(path, big, VB_CONFIG_MAX_SIZE + 1);
	ck_assert_int_eq(vb_config_load(&root, "etc/vfio-bind.conf", "f", &c, &d), -EFBIG);
	vb_config_free(&c);
	vb_diags_free(&d);
	free(big);

	unlink(path);
	strcat(strcpy(path, dir), "/etc");
	rmdir(path);
	rmdir(dir);
	vb_root_close(&root);
}
END_TEST

START_TEST(test_shipped_example)
{
	const char *src = getenv("VB_SRCDIR");
	char dir[4096];
	struct vb_root root;
	struct vb_config c;
	struct vb_diags d;
	int r;

	/* VB_SRCDIR is set by meson test; else run from the tree or build dir */
	if (src)
		snprintf(dir, sizeof(dir), "%s", src);
	else
		snprintf(dir, sizeof(dir), "%s",
			 access("conf/vfio-bind.conf", F_OK) == 0 ? "." : "..");
	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	/* the long example and the /etc/vfio-bind.conf that is installed */
	for (size_t i = 0; i < 2; i++) {
		const char *f = i == 0 ? "conf/vfio-bind.conf" : "conf/etc/vfio-bind.conf";

		r = vb_config_load(&root, f, f, &c, &d);
		if (d.n)
			dump(&d);
		ck_assert_msg(r == 0, "%s: %d", f, r);
		ck_assert_msg(c.n_rules == 0, "%s has %zu rule(s)", f, c.n_rules);
		ck_assert_uint_eq(d.n, 0);
		vb_config_free(&c);
		vb_diags_free(&d);
	}
	vb_root_close(&root);
}
END_TEST

START_TEST(test_shipped_example_rules_valid)
{
	/* Each commented-out example rule (a line "#bind ..." or "#exclude ...")
	 * must be valid once uncommented: the example teaches working syntax. */
	const char *src = getenv("VB_SRCDIR");
	char dir[4096], *buf, *line, *save = NULL;
	struct vb_root root;
	size_t len, n = 0;

	if (src)
		snprintf(dir, sizeof(dir), "%s", src);
	else
		snprintf(dir, sizeof(dir), "%s",
			 access("conf/vfio-bind.conf", F_OK) == 0 ? "." : "..");
	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	ck_assert_int_eq(vb_read_all(&root, "conf/vfio-bind.conf", VB_CONFIG_MAX_SIZE, &buf, &len),
			 0);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vb_config c;

		if (strncmp(line, "#bind ", 6) != 0 && strncmp(line, "#exclude ", 9) != 0)
			continue;
		parse_rule(line + 1, &c);
		vb_config_free(&c);
		n++;
	}
	/* the example shows every key */
	ck_assert_uint_ge(n, 8);
	free(buf);
	vb_root_close(&root);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_address_forms, 0, sizeof(addrs) / sizeof(addrs[0]));
	tcase_add_loop_test(tc, test_id_forms, 0, sizeof(ids) / sizeof(ids[0]));
	tcase_add_loop_test(tc, test_class_forms, 0, sizeof(classes) / sizeof(classes[0]));
	tcase_add_loop_test(tc, test_topology_forms, 0, sizeof(topologies) / sizeof(topologies[0]));
	tcase_add_test(tc, test_topology_sysfs_is_physpath_topology);
	tcase_add_test(tc, test_topology_depth);
	tcase_add_loop_test(tc, test_group_forms, 0, sizeof(groups) / sizeof(groups[0]));
	tcase_add_test(tc, test_boot_vga_forms);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_sriov_options);
	tcase_add_test(tc, test_all_keys_in_one_rule);
	tcase_add_test(tc, test_exclude);
	tcase_add_test(tc, test_layout);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_error_hints);
	tcase_add_test(tc, test_many_errors_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_line_length);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_not_nul_terminated);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_random_tokens);
	tcase_add_test(tc, test_megabyte_of_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, test_format_api);
	tcase_add_test(tc, test_rule_format_small_buffers);
	tcase_add_test(tc, test_diags_log_format);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_shipped_example);
	tcase_add_test(tc, test_shipped_example_rules_valid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
