/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of the kernel command line (binder/core/cmdline.c): the one
 * tokenizer, and the boot switches that the boot script and the early binder
 * both take from it (vfio-bind-early --boot-switches).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static struct vb_boot_switches parse(const char *s)
{
	struct vb_boot_switches sw;

	vb_boot_switches_parse(s, &sw);
	return sw;
}

START_TEST(test_defaults)
{
	struct vb_boot_switches sw = parse("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet");

	ck_assert_int_eq(sw.mode, VB_BOOT_ON);
	ck_assert(!sw.debug);
	ck_assert_uint_eq(sw.timeout_s, VB_BOOT_TIMEOUT_DEFAULT);
	ck_assert_str_eq(sw.unknown, "");
	sw = parse("");
	ck_assert_int_eq(sw.mode, VB_BOOT_ON);
}
END_TEST

/* Each switch takes its last value, as the kernel's own parameters do. */
START_TEST(test_last_wins)
{
	ck_assert_int_eq(parse("vfio-bind=off").mode, VB_BOOT_OFF);
	ck_assert_int_eq(parse("vfio-bind=0").mode, VB_BOOT_OFF);
	ck_assert_int_eq(parse("vfio-bind=off vfio-bind=on").mode, VB_BOOT_ON);
	ck_assert_int_eq(parse("vfio-bind=off vfio-bind=1").mode, VB_BOOT_ON);
	ck_assert_int_eq(parse("vfio-bind=on vfio-bind=off").mode, VB_BOOT_OFF);
	ck_assert_int_eq(parse("vfio-bind=off vfio-bind=dry-run").mode, VB_BOOT_DRY_RUN);
	ck_assert_int_eq(parse("vfio-bind=dry-run vfio-bind=off").mode, VB_BOOT_OFF);
	ck_assert(parse("vfio-bind.debug").debug);
	ck_assert(parse("vfio-bind.debug=1").debug);
	ck_assert(!parse("vfio-bind.debug vfio-bind.debug=0").debug);
	ck_assert_uint_eq(parse("vfio-bind.timeout=30 vfio-bind.timeout=45").timeout_s, 45);
}
END_TEST

/* Strict numbers: a bad timeout leaves the last good one (or the default). */
START_TEST(test_timeout_strict)
{
	static const char *const bad[] = {
		"vfio-bind.timeout=",     "vfio-bind.timeout=0",     "vfio-bind.timeout=3601",
		"vfio-bind.timeout=12a",  "vfio-bind.timeout=-5",    "vfio-bind.timeout=+5",
		"vfio-bind.timeout=0x10", "vfio-bind.timeout=99999", "vfio-bind.timeout= 5",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vb_boot_switches sw = parse(bad[i]);

		ck_assert_msg(sw.timeout_s == VB_BOOT_TIMEOUT_DEFAULT, "%s: %u", bad[i],
			      sw.timeout_s);
	}
	ck_assert_uint_eq(parse("vfio-bind.timeout=1").timeout_s, 1);
	ck_assert_uint_eq(parse("vfio-bind.timeout=3600").timeout_s, 3600);
	ck_assert_uint_eq(parse("vfio-bind.timeout=20 vfio-bind.timeout=x").timeout_s, 20);
}
END_TEST

START_TEST(test_unknown)
{
	ck_assert_str_eq(parse("vfio-bind=maybe").unknown, "vfio-bind=maybe");
	ck_assert_str_eq(parse("vfio-bind.verbose vfio-bind=off").unknown, "vfio-bind.verbose");
	ck_assert_str_eq(parse("vfio-bind.timeout=abc").unknown, "vfio-bind.timeout=abc");
	/* not ours */
	ck_assert_str_eq(parse("vfio-binder=1 vfio_iommu_type1.allow_unsafe_interrupts=1").unknown,
			 "");
	ck_assert_int_eq(parse("vfio-bind=maybe").mode, VB_BOOT_ON);
}
END_TEST

START_TEST(test_tokenizer)
{
	const char *p = "  a=\"x y\"\tb\n c ", *w;
	size_t n;

	n = vb_cmdline_next(&p, &w);
	ck_assert_uint_eq(n, 7);
	ck_assert(strncmp(w, "a=\"x y\"", n) == 0);
	n = vb_cmdline_next(&p, &w);
	ck_assert(n == 1 && *w == 'b');
	n = vb_cmdline_next(&p, &w);
	ck_assert(n == 1 && *w == 'c');
	ck_assert_uint_eq(vb_cmdline_next(&p, &w), 0);

	/* a quoted blank does not start a word */
	ck_assert(!vb_cmdline_has("opt=\"x vfio-bind=off\"", "vfio-bind=off"));
	ck_assert(vb_cmdline_has("ro intel_iommu=on iommu=pt", "intel_iommu=on"));
	ck_assert(!vb_cmdline_has("ro intel_iommu=onx", "intel_iommu=on"));
}
END_TEST

START_TEST(test_value)
{
	char buf[32];

	ck_assert(vb_cmdline_value("root=/dev/sda1 ro root=ZFS=rpool/ROOT/pve-1", "root", buf,
				   sizeof(buf)));
	ck_assert_str_eq(buf, "ZFS=rpool/ROOT/pve-1");
	ck_assert(vb_cmdline_value("x module_blacklist=\"a,b\"", "module_blacklist", buf,
				   sizeof(buf)));
	ck_assert_str_eq(buf, "a,b");
	ck_assert(!vb_cmdline_value("rootwait rootfstype=ext4", "root", buf, sizeof(buf)));
	/* truncated, still terminated */
	ck_assert(vb_cmdline_value("k=0123456789", "k", buf, 5));
	ck_assert_str_eq(buf, "0123");
}
END_TEST

static Suite *cmdline_suite(void)
{
	Suite *s = suite_create("cmdline");
	TCase *tc = tcase_create("switches");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_last_wins);
	tcase_add_test(tc, test_timeout_strict);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_tokenizer);
	tcase_add_test(tc, test_value);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cmdline_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
