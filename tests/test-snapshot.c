/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the hardware snapshot's reader (binder/core/snapshot.c):
 * every line the early binder trusts at boot, and every malformed one, which
 * must make the whole snapshot invalid (the binder then takes nothing).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

#define HEAD "vfio-bind-snapshot 1\nkernel 6.12.9-amd64\nsysfs yes\nroot found\n"

START_TEST(test_parse_good)
{
	static const char text[] =
		"# comment\n\n" HEAD
		"protect 0000:00:10.0 1af4:1042 1af4:1100 010000 0000:00:10.0 controller of the "
		"root filesystem (/ on vda, ext4)\n"
		"select 0000:02:00.0 8086:10D3 8086:0000 020000 0000:00:1c.0/00.0\n";
	struct vb_snapshot s;
	unsigned line;
	char why[128];

	ck_assert_int_eq(vb_snapshot_parse(text, &s, &line, why, sizeof(why)), 0);
	ck_assert(s.sysfs);
	ck_assert(s.root_found);
	ck_assert_str_eq(s.kernel, "6.12.9-amd64");
	ck_assert_uint_eq(s.n, 2);
	ck_assert_int_eq(s.devs[0].kind, VB_SNAP_PROTECT);
	ck_assert_str_eq(s.devs[0].address, "0000:00:10.0");
	ck_assert_uint_eq(s.devs[0].vendor, 0x1af4);
	ck_assert_uint_eq(s.devs[0].subsys_device, 0x1100);
	ck_assert_uint_eq(s.devs[0].class, 0x010000);
	ck_assert_str_eq(s.devs[0].what, "controller of the root filesystem (/ on vda, ext4)");
	ck_assert_int_eq(s.devs[1].kind, VB_SNAP_SELECT);
	ck_assert_uint_eq(s.devs[1].device, 0x10d3);
	ck_assert_str_eq(s.devs[1].topology, "0000:00:1c.0/00.0");
	ck_assert_str_eq(s.devs[1].what, "");
	vb_snapshot_free(&s);

	ck_assert_int_eq(vb_snapshot_parse("vfio-bind-snapshot 1\nsysfs no\nroot unknown\n", &s,
					   &line, why, sizeof(why)),
			 0);
	ck_assert(!s.sysfs);
	ck_assert(!s.root_found);
	ck_assert_uint_eq(s.n, 0);
	vb_snapshot_free(&s);
}
END_TEST

START_TEST(test_parse_bad)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *why;
	} bad[] = {
		{"", 0, "empty snapshot"},
		{"# only a comment\n", 0, "empty snapshot"},
		{"sysfs yes\n", 1, "not a vfio-bind snapshot"},
		{"vfio-bind-snapshot 2\n", 1, "unknown snapshot version"},
		{"vfio-bind-snapshot\n", 1, "not a vfio-bind snapshot"},
		{"vfio-bind-snapshot 1\nroot found\n", 0, "no sysfs line"},
		{"vfio-bind-snapshot 1\nsysfs yes\n", 0, "no root line"},
		{"vfio-bind-snapshot 1\nsysfs maybe\n", 2, "sysfs must be yes or no"},
		{"vfio-bind-snapshot 1\nsysfs yes\nroot lost\n", 3,
		 "root must be found or unknown"},
		{HEAD "frobnicate 1\n", 5, "unknown line"},
		{HEAD "sysfs yes no\n", 5, "trailing words"},
		{HEAD "select 0000:02:00 8086:10d3 8086:0000 020000 x\n", 5, "address"},
		{HEAD "select 0000:02:00.0 8086:10d 8086:0000 020000 x\n", 5, "vendor:device"},
		{HEAD "select 0000:02:00.0 8086:10d3 8086-0000 020000 x\n", 5, "subsystem"},
		{HEAD "select 0000:02:00.0 8086:10d3 8086:0000 0200 x\n", 5, "class"},
		{HEAD "select 0000:02:00.0 8086:10d3 8086:0000 02000g x\n", 5, "class"},
		{HEAD "select 0000:02:00.0 8086:10d3 8086:0000 020000\n", 5, "topology"},
		{HEAD "select 0000:02:00.0 8086:10d3 8086:0000 020000 0000:00:1c.0/00.0 extra\n", 5,
		 "trailing words"},
	};
	struct vb_snapshot s;
	unsigned line;
	char why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = vb_snapshot_parse(bad[i].text, &s, &line, why, sizeof(why));

		ck_assert_msg(r == -EINVAL, "case %zu: %d", i, r);
		ck_assert_msg(line == bad[i].line, "case %zu: line %u, want %u (%s)", i, line,
			      bad[i].line, why);
		ck_assert_msg(strstr(why, bad[i].why), "case %zu: '%s' lacks '%s'", i, why,
			      bad[i].why);
		ck_assert_ptr_null(s.devs);
	}
}
END_TEST

/* Many devices: the array grows. */
START_TEST(test_parse_many)
{
	char *text = malloc(64 * 1024), *p = text;
	struct vb_snapshot s;
	unsigned line;
	char why[128];

	p += sprintf(p, HEAD);
	for (int i = 0; i < 200; i++)
		p += sprintf(
			p, "select 0000:%02x:00.0 8086:10d3 8086:0000 020000 0000:00:1c.0/%02x.0\n",
			i, i % 32);
	ck_assert_int_eq(vb_snapshot_parse(text, &s, &line, why, sizeof(why)), 0);
	ck_assert_uint_eq(s.n, 200);
	ck_assert_str_eq(s.devs[199].address, "0000:c7:00.0");
	vb_snapshot_free(&s);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_parse_many);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
