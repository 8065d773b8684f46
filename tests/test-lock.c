/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one lock (binder/core/lock.c) that every binding program takes: a
 * second holder waits, gives up after its bound naming the first, never
 * interleaves with it; a child that hangs in the kernel does not keep it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "lock.h"
#include "root.h"

static char *fresh_root(void)
{
	char tmpl[] = "/tmp/vblock-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return strdup(tmpl);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs fn in a child; returns its exit status. */
static int in_child(int (*fn)(const char *), const char *dir)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(dir));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int try_briefly(const char *dir)
{
	struct vb_root root;
	long holder = -1, t0 = now_ms();
	int r;

	/* a fork copies the parent's descriptor: another program has none */
	vb_lock_forget_in_child();
	if (vb_root_open(&root, dir) < 0)
		return 90;
	r = vb_lock_take(&root, 300, &holder);
	if (r == 0)
		return 0;
	if (r != -ETIMEDOUT)
		return 91;
	if (now_ms() - t0 < 250)
		return 92; /* gave up before its bound */
	return holder == (long)getppid() ? 10 : 93;
}

START_TEST(test_second_holder_waits_then_gives_up)
{
	char *dir = fresh_root();
	struct vb_root root;
	char *pid;

	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	/* no run/ in this root: made */
	ck_assert_int_eq(vb_lock_take(&root, 0, NULL), 0);
	pid = fixture_read(dir, VB_LOCK_FILE);
	ck_assert_ptr_nonnull(pid);
	ck_assert_int_eq(atol(pid), (long)getpid());
	free(pid);
	/* held: the other one times out after its wait, naming this process */
	ck_assert_int_eq(in_child(try_briefly, dir), 10);
	vb_lock_release();
	/* free: taken at once */
	ck_assert_int_eq(in_child(try_briefly, dir), 0);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

/* Two programs each write "<x" and ">x" around a pause, three times, under
 * the lock: the file must show every pair unbroken. */
static int worker(const char *dir, char tag)
{
	struct vb_root root;
	char path[4200];

	snprintf(path, sizeof(path), "%s/trace", dir);
	if (vb_root_open(&root, dir) < 0)
		return 90;
	for (int i = 0; i < 3; i++) {
		struct timespec ts = {0, 30 * 1000000L};
		char rec[2] = {'<', tag};
		int fd;

		if (vb_lock_take(&root, 10000, NULL) < 0)
			return 91;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, rec, 2) != 2)
			return 92;
		nanosleep(&ts, NULL);
		rec[0] = '>';
		if (write(fd, rec, 2) != 2)
			return 93;
		close(fd);
		vb_lock_release();
		nanosleep(&ts, NULL);
	}
	return 0;
}

START_TEST(test_holders_never_interleave)
{
	char *dir = fresh_root(), *trace;
	pid_t pids[2];
	int st;

	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		ck_assert_int_ge(pids[k], 0);
		if (pids[k] == 0)
			_exit(worker(dir, k ? 'b' : 'a'));
	}
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(waitpid(pids[k], &st, 0), pids[k]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d: status %d", k, st);
	}
	trace = fixture_read(dir, "trace");
	ck_assert_ptr_nonnull(trace);
	ck_assert_uint_eq(strlen(trace), 24); /* 2 workers x 3 rounds x "<x>x" */
	for (size_t i = 0; i < 24; i += 4)
		ck_assert_msg(trace[i] == '<' && trace[i + 2] == '>' &&
				      trace[i + 1] == trace[i + 3],
			      "interleaved at %zu: %s", i, trace);
	free(trace);
	fixture_cleanup(dir);
}
END_TEST

/* A forked child (vb_kernel_write's, for an unbind that may hang) closes
 * the descriptor: once its parent is done, the lock is free even while the
 * child still lives. */
START_TEST(test_hung_child_does_not_keep_it)
{
	char *dir = fresh_root();
	struct vb_root root;
	int st;
	pid_t child;

	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	ck_assert_int_eq(vb_lock_take(&root, 0, NULL), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		vb_lock_forget_in_child();
		pause(); /* "stuck in the kernel" */
		_exit(0);
	}
	vb_lock_release();
	ck_assert_int_eq(in_child(try_briefly, dir), 0);
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, &st, 0), child);

	/* without forgetting, the child would keep it: the control */
	ck_assert_int_eq(vb_lock_take(&root, 0, NULL), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	vb_lock_release();
	ck_assert_int_eq(in_child(try_briefly, dir), 93); /* held, by no live vfio-bind pid */
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

/* A holder that another program (flock(1), an old vfio-bind) holds without
 * writing its pid: the waiter gives up with pid 0, not a stale one. */
START_TEST(test_foreign_holder)
{
	char *dir = fresh_root();
	char path[4200];
	long holder = -1;
	struct vb_root root;
	int fd;

	snprintf(path, sizeof(path), "%s/run", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	fixture_write(dir, VB_LOCK_FILE, "999999999\n"); /* a dead pid */
	snprintf(path, sizeof(path), "%s/" VB_LOCK_FILE, dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(vb_root_open(&root, dir), 0);
	ck_assert_int_eq(vb_lock_take(&root, 0, &holder), -ETIMEDOUT);
	ck_assert_int_eq(holder, 0);
	close(fd);
	ck_assert_int_eq(vb_lock_take(&root, 0, &holder), 0);
	vb_lock_release();
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_test(tc, test_second_holder_waits_then_gives_up);
	tcase_add_test(tc, test_holders_never_interleave);
	tcase_add_test(tc, test_hung_child_does_not_keep_it);
	tcase_add_test(tc, test_foreign_holder);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
