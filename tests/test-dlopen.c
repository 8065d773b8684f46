/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * binder/host/dlopen.c: the libraries the host tool opens when it needs
 * them (libkmod, libpci). A present library sets every pointer, a missing
 * library or symbol sets none, is logged once at the library's priority and
 * gives -ELIBACC every time after without trying again.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlopen.h"
#include "log.h"

static char logged[1024];
static int n_logged, logged_prio;

static void hook(int prio, const char *text)
{
	n_logged++;
	logged_prio = prio;
	snprintf(logged, sizeof(logged), "%s", text);
}

static void setup(void)
{
	n_logged = 0;
	logged[0] = 0;
	vb_log_set_hook(hook);
}

static void teardown(void)
{
	vb_log_set_hook(NULL);
}

static size_t (*my_strlen)(const char *);
static char *(*my_strchr)(const char *, int);

START_TEST(test_present)
{
	struct vb_dlsym syms[] = {{"strlen", (void **)&my_strlen}, {"strchr", (void **)&my_strchr}};
	struct vb_dlib lib = {.soname = "libc.so.6",
			      .package = "libc6",
			      .prio = VB_LOG_ERR,
			      .syms = syms,
			      .n_syms = 2,
			      .state = 1};

	my_strlen = NULL;
	my_strchr = NULL;
	ck_assert_int_eq(vb_dlib_open(&lib), 0);
	ck_assert_ptr_nonnull(my_strlen);
	ck_assert_uint_eq(my_strlen("vfio"), 4);
	ck_assert_str_eq(my_strchr("a:b", ':'), ":b");
	ck_assert_int_eq(vb_dlib_open(&lib), 0);
	ck_assert_int_eq(n_logged, 0);
}
END_TEST

START_TEST(test_missing_library)
{
	struct vb_dlsym syms[] = {{"strlen", (void **)&my_strlen}};
	struct vb_dlib lib = {.soname = "libvfio-bind-nonexistent.so.9",
			      .package = "nothing",
			      .prio = VB_LOG_WARNING,
			      .consequence = "names not shown",
			      .syms = syms,
			      .n_syms = 1,
			      .state = 1};

	my_strlen = NULL;
	ck_assert_int_eq(vb_dlib_open(&lib), -ELIBACC);
	ck_assert_int_eq(n_logged, 1);
	ck_assert_int_eq(logged_prio & 0xff, VB_LOG_WARNING);
	ck_assert_msg(strstr(logged, "cannot open libvfio-bind-nonexistent.so.9 (package nothing)"),
		      "%s", logged);
	ck_assert_msg(strstr(logged, "; names not shown"), "%s", logged);
	/* once: not tried, not logged again */
	ck_assert_int_eq(vb_dlib_open(&lib), -ELIBACC);
	ck_assert_int_eq(n_logged, 1);
	ck_assert_ptr_null(my_strlen);
}
END_TEST

START_TEST(test_missing_symbol)
{
	struct vb_dlsym syms[] = {{"strlen", (void **)&my_strlen},
				  {"vb_no_such_symbol", (void **)&my_strchr}};
	struct vb_dlib lib = {.soname = "libc.so.6",
			      .package = "libc6",
			      .prio = VB_LOG_ERR,
			      .syms = syms,
			      .n_syms = 2,
			      .state = 1};

	my_strlen = NULL;
	my_strchr = NULL;
	ck_assert_int_eq(vb_dlib_open(&lib), -ELIBACC);
	ck_assert_int_eq(n_logged, 1);
	ck_assert_int_eq(logged_prio & 0xff, VB_LOG_ERR);
	ck_assert_msg(strstr(logged, "libc.so.6 (package libc6) has no vb_no_such_symbol"), "%s",
		      logged);
	/* none set, not even the one that was there */
	ck_assert_ptr_null(my_strlen);
	ck_assert_ptr_null(my_strchr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dlopen");
	TCase *tc = tcase_create("dlopen");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_present);
	tcase_add_test(tc, test_missing_library);
	tcase_add_test(tc, test_missing_symbol);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
