/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the diagnostics container (binder/core/diag.c): entries and
 * their fields, the counts, the cap, find, the location and the log format
 * the tests and the QEMU scenarios grep.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "fixture.h"
#include "log.h"

START_TEST(test_add_fields_counts)
{
	struct vb_diags d;
	const struct vb_diag *g;

	vb_diags_init(&d, "f");
	ck_assert_str_eq(d.file, "f");
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 3, 0, NULL, NULL, "w %d", 1),
			 0);
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 4, 2, NULL, "h", "e %s", "x"),
			 0);
	ck_assert_int_eq(
		vb_diags_add(&d, VB_SEV_NOTE, "vm", "other.cfg", 7, 1, "0000:01:00.0", NULL, "n"),
		0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_uint_eq(d.n_errors, 1);
	ck_assert_uint_eq(d.n_warnings, 1);
	ck_assert_uint_eq(d.n_dropped, 0);

	g = &d.v[0];
	ck_assert_int_eq(g->severity, VB_SEV_WARNING);
	ck_assert_str_eq(g->message, "w 1");
	ck_assert_ptr_null(g->hint);
	ck_assert_ptr_null(g->code);
	ck_assert_ptr_null(g->file);
	ck_assert_str_eq(g->dev, "");
	ck_assert_str_eq(vb_diag_file(&d, g), "f");
	ck_assert_str_eq(d.v[1].hint, "h");
	ck_assert_uint_eq(d.v[1].line, 4);
	ck_assert_uint_eq(d.v[1].column, 2);
	g = &d.v[2];
	ck_assert_str_eq(g->code, "vm");
	ck_assert_str_eq(g->file, "other.cfg");
	ck_assert_str_eq(vb_diag_file(&d, g), "other.cfg");
	ck_assert_str_eq(g->dev, "0000:01:00.0");

	ck_assert_str_eq(vb_severity_name(VB_SEV_ERROR), "error");
	ck_assert_str_eq(vb_severity_name(VB_SEV_WARNING), "warning");
	ck_assert_str_eq(vb_severity_name(VB_SEV_NOTE), "note");

	/* a long message is kept whole */
	{
		char big[3000];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		ck_assert_int_eq(
			vb_diags_add(&d, VB_SEV_NOTE, NULL, NULL, 0, 0, NULL, NULL, "<%s>", big),
			0);
		ck_assert_uint_eq(strlen(d.v[3].message), sizeof(big) + 1);
	}
	vb_diags_free(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.file);
	vb_diags_free(&d); /* twice is fine */
}
END_TEST

START_TEST(test_cap)
{
	struct vb_diags d;
	size_t i;

	vb_diags_init(&d, "f");
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 1, 0, NULL, NULL, "w"), 0);
	for (i = 0; i < VB_DIAGS_MAX + 10; i++)
		ck_assert_int_eq(
			vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 5, 1, NULL, NULL, "e %zu", i),
			0);
	ck_assert_int_eq(vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 9, 0, NULL, NULL, "late"), 0);
	ck_assert_uint_eq(d.n, VB_DIAGS_MAX);
	ck_assert_uint_eq(d.n_dropped, 12);
	ck_assert_uint_eq(d.n_errors, VB_DIAGS_MAX + 10); /* the dropped ones too */
	ck_assert_uint_eq(d.n_warnings, 2);
	ck_assert_str_eq(d.v[VB_DIAGS_MAX - 1].message, "e 98"); /* the first ones are kept */
	vb_diags_free(&d);

	/* a zeroed container works, with the default cap */
	memset(&d, 0, sizeof(d));
	for (i = 0; i < VB_DIAGS_MAX + 1; i++)
		vb_diags_add(&d, VB_SEV_NOTE, NULL, NULL, 0, 0, NULL, NULL, "n");
	ck_assert_uint_eq(d.n, VB_DIAGS_MAX);
	ck_assert_uint_eq(d.n_dropped, 1);
	ck_assert_uint_eq(d.n_errors + d.n_warnings, 0);
	vb_diags_free(&d);

	/* another cap, kept over vb_diags_free() */
	vb_diags_init(&d, NULL);
	d.max = 3;
	for (i = 0; i < 5; i++)
		vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 0, 0, NULL, NULL, "e");
	ck_assert_uint_eq(d.n, 3);
	ck_assert_uint_eq(d.n_dropped, 2);
	vb_diags_free(&d);
	ck_assert_uint_eq(d.max, 3);
	d.max = SIZE_MAX;
	for (i = 0; i < 1000; i++)
		vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 0, 0, NULL, NULL, "w %zu", i);
	ck_assert_uint_eq(d.n, 1000);
	ck_assert_str_eq(d.v[999].message, "w 999");
	vb_diags_free(&d);
}
END_TEST

START_TEST(test_find)
{
	struct vb_diags d;

	vb_diags_init(&d, NULL);
	vb_diags_add(&d, VB_SEV_NOTE, NULL, NULL, 0, 0, NULL, NULL, "no code");
	vb_diags_add(&d, VB_SEV_WARNING, "boot-vga", NULL, 0, 0, "0000:00:02.0", NULL, "a");
	vb_diags_add(&d, VB_SEV_ERROR, "boot-vga", NULL, 0, 0, "0000:01:00.0", NULL, "b");
	vb_diags_add(&d, VB_SEV_ERROR, "no-iommu", NULL, 0, 0, NULL, NULL, "c");

	ck_assert_str_eq(vb_diags_find(&d, "boot-vga", NULL)->message, "a");
	ck_assert_str_eq(vb_diags_find(&d, "boot-vga", "0000:01:00.0")->message, "b");
	ck_assert_ptr_null(vb_diags_find(&d, "boot-vga", "0000:02:00.0"));
	ck_assert_str_eq(vb_diags_find(&d, "no-iommu", "")->message, "c");
	ck_assert_ptr_null(vb_diags_find(&d, "kernel", NULL));
	ck_assert_str_eq(vb_diags_find(&d, NULL, NULL)->message, "no code");
	ck_assert_str_eq(vb_diags_find(&d, NULL, "0000:01:00.0")->message, "b");
	vb_diags_free(&d);
}
END_TEST

START_TEST(test_location)
{
	struct vb_diags d;
	char buf[64];

	vb_diags_init(&d, "vfio-bind.conf");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 2, 6, NULL, NULL, "a");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 2, 0, NULL, NULL, "b");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 0, 0, NULL, NULL, "c");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, "pci.cfg", 4, 1, NULL, NULL, "d");
	ck_assert_str_eq(vb_diag_location(&d, &d.v[0], buf, sizeof(buf)), "vfio-bind.conf:2:6");
	ck_assert_str_eq(vb_diag_location(&d, &d.v[1], buf, sizeof(buf)), "vfio-bind.conf:2");
	ck_assert_str_eq(vb_diag_location(&d, &d.v[2], buf, sizeof(buf)), "vfio-bind.conf");
	ck_assert_str_eq(vb_diag_location(&d, &d.v[3], buf, sizeof(buf)), "pci.cfg:4:1");
	ck_assert_str_eq(vb_diag_location(NULL, &d.v[3], buf, sizeof(buf)), "pci.cfg:4:1");
	ck_assert_str_eq(vb_diag_location(NULL, &d.v[0], buf, sizeof(buf)), "");
	vb_diags_free(&d);
}
END_TEST

START_TEST(test_log_format)
{
	struct vb_diags d;
	char *out;

	vb_diags_init(&d, "test.conf");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 2, 6, NULL, "did you mean 'iommugroup'?",
		     "unknown key '%s'", "iommu-group");
	vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 1, 0, NULL, NULL, "rule matches no device");
	vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 0, 0, NULL, NULL, "whole file");
	vb_diags_add(&d, VB_SEV_ERROR, "config", "/etc/pve/mapping/pci.cfg", 3, 0, "0000:01:00.0",
		     "h", "mapping 'gpu' has no map entry");
	vb_diags_add(&d, VB_SEV_NOTE, NULL, NULL, 5, 1, NULL, NULL, "a note");
	out = fixture_diags_log(&d);
	ck_assert_str_eq(
		out,
		"vfio-bind: test.conf:2:6: error: unknown key 'iommu-group'\n"
		"  hint: did you mean 'iommugroup'?\n"
		"vfio-bind: test.conf:1: warning: rule matches no device\n"
		"vfio-bind: test.conf: error: whole file\n"
		"vfio-bind: /etc/pve/mapping/pci.cfg:3: error: mapping 'gpu' has no map entry\n"
		"  hint: h\n"
		"vfio-bind: test.conf:5:1: note: a note\n");
	free(out);
	vb_diags_free(&d);

	/* no file anywhere */
	vb_diags_init(&d, NULL);
	vb_diags_add(&d, VB_SEV_WARNING, NULL, NULL, 1, 2, NULL, NULL, "w");
	out = fixture_diags_log(&d);
	ck_assert_str_eq(out, "vfio-bind: <config>:1:2: warning: w\n");
	free(out);
	vb_diags_free(&d);

	/* dropped entries are counted at the end */
	vb_diags_init(&d, "g");
	for (int i = 0; i < VB_DIAGS_MAX + 3; i++)
		vb_diags_add(&d, VB_SEV_ERROR, NULL, NULL, 1, 1, NULL, NULL, "x");
	out = fixture_diags_log(&d);
	ck_assert_ptr_nonnull(strstr(out, "vfio-bind: g:1:1: error: x\n"));
	ck_assert_ptr_nonnull(strstr(out, "error: g: 3 more diagnostics not shown\n"));
	free(out);
	vb_diags_free(&d);
}
END_TEST

static Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("container");

	tcase_add_test(tc, test_add_fields_counts);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_location);
	tcase_add_test(tc, test_log_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diag_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
