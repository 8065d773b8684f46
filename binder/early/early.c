/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio-bind-early: the binder that runs from the initramfs (init-top, before
 * udev's coldplug). Static, klibc. It does only what boot needs: read the
 * config, select, override, unbind, get vfio-pci loaded, bind, verify, and
 * log each decision to /dev/kmsg. It never stops the boot: every failure is
 * logged and the program returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "early.h"
#include "exit-codes.h"
#include "job.h"
#include "lock.h"
#include "log.h"
#include "mark.h"
#include "mapping.h"
#include "snapshot.h"

#define MODPROBE_TIMEOUT_MS 30000
/* Nothing else binds in the initramfs: a held lock is a stray binder. */
#define LOCK_WAIT_MS 10000

static const char *const modprobe_paths[] = {
	"/sbin/modprobe",
	"/usr/sbin/modprobe",
	"/bin/modprobe",
	"/usr/bin/modprobe",
};

/* What modprobe printed (it has exited: the pipe holds all of it), one
 * kernel log line each. */
static void log_modprobe_output(int fd, const char *name)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	char *line, *next;

	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		if (*line)
			log_warning("modprobe %s: %s", name, line);
	}
}

/*
 * Loading through the image's modprobe resolves dependencies and softdeps
 * from the image's own modules.dep, exactly as the hook resolved them.
 * Only ever on the real root: under a fake root nothing reaches the kernel.
 */
static int load_module_modprobe(const struct vb_root *root, const char *name)
{
	char *argv[] = {(char *)"modprobe", (char *)name, NULL};
	char *envp[] = {(char *)"PATH=/sbin:/usr/sbin:/bin:/usr/bin", NULL};
	const char *path = NULL;
	int status, waited = 0, err[2];
	pid_t pid;

	if (!root->is_host)
		return vb_load_module_fake_root(root, name);
	for (size_t i = 0; i < sizeof(modprobe_paths) / sizeof(modprobe_paths[0]); i++) {
		if (access(modprobe_paths[i], X_OK) == 0) {
			path = modprobe_paths[i];
			break;
		}
	}
	if (!path)
		return -ENOENT;

	/* modprobe's own message says why (not found, forbidden): keep it */
	if (pipe(err) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(err[0]);
		close(err[1]);
		return r;
	}
	if (pid == 0) {
		close(err[0]);
		dup2(err[1], 2);
		execve(path, argv, envp);
		_exit(127);
	}
	close(err[1]);
	/* modprobe is bounded like any other step: the boot must go on */
	for (;;) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (waited >= MODPROBE_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			close(err[0]);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	log_modprobe_output(err[0], name);
	close(err[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOEXEC : -EIO;
}

/* The image's hardware snapshot (snapshot.h). 1 loaded, 0 absent (the
 * guard then applies the fail-closed storage rule), -errno corrupt: then
 * nothing is taken. Logs. */
static int load_snapshot(const struct vb_root *root, struct vb_snapshot *snap)
{
	char why[128];
	unsigned line;
	int r = vb_snapshot_load(root, snap, &line, why, sizeof(why));

	if (r == -ENOENT) {
		log_warning("no /" VB_SNAPSHOT_FILE " in the image: hardware changes since it was "
			    "built go unseen, and no mass-storage controller is taken without "
			    "allow-storage=yes (run update-initramfs -u)");
		return 0;
	}
	if (r < 0) {
		if (line)
			log_error("/" VB_SNAPSHOT_FILE
				  ":%u: %s: hardware snapshot invalid, no device "
				  "bound (boot continues; run update-initramfs -u)",
				  line, why);
		else
			log_error("/" VB_SNAPSHOT_FILE ": %s: hardware snapshot invalid, no device "
				  "bound (boot continues; run update-initramfs -u)",
				  why);
		return r;
	}
	if (!snap->sysfs)
		log_notice("the image was built without /sys (a chroot?): hardware changes go "
			   "unseen, and no mass-storage controller is taken without "
			   "allow-storage=yes");
	else if (!snap->root_found)
		log_notice("the root's controller was unknown when the image was built: no "
			   "mass-storage controller is taken without allow-storage=yes");
	return 1;
}

/* What the snapshot made this boot refuse, the real system's unit and udev
 * rule refuse too (mark.h): /run moves to the real root. */
static void mark_refusals(const struct vb_root *root, const struct vb_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct vb_plan_item *it = &plan->items[i];
		const char *code = it->refusals & (1u << VB_REFUSE_HW_CHANGED)  ? "hardware-changed"
				   : it->refusals & (1u << VB_REFUSE_PROTECTED) ? "protected"
										: NULL;
		char text[300];

		if (!code)
			continue;
		snprintf(text, sizeof(text), "%s %s", code, it->reason);
		if (vb_mark_set(root, VB_MARK_BOOT_REFUSED, it->dev, text) < 0)
			log_warning("%s: cannot record the refusal in /" VB_MARK_BOOT_REFUSED
				    ": the real system may take it",
				    it->dev->name);
	}
}

/* The Proxmox mappings the hook resolved when the image was built (pmxcfs
 * is not in the initramfs). Only when a rule says mapping=. 0, or -errno
 * when the file is missing or invalid or a name is unknown: then nothing is
 * taken. Logs. */
static int load_mappings(struct vb_job *job, const struct vb_root *root, void *userdata)
{
	char why[128];
	unsigned line;
	int r;

	(void)userdata;
	if (!vb_config_uses_mappings(&job->cfg))
		return 0;
	r = vb_mappings_load(root, &job->maps, &line, why, sizeof(why));
	if (r < 0) {
		char at[16] = "";

		if (line)
			snprintf(at, sizeof(at), ":%u", line);
		log_error("/" VB_MAPPINGS_FILE "%s: %s: the Proxmox mappings of the image are "
			  "unusable, no device bound (boot continues; run update-initramfs -u)",
			  at, why);
		return r;
	}
	r = vb_mappings_link(&job->maps, &job->cfg, &job->diags);
	if (r < 0) {
		vb_diags_log(&job->diags);
		log_error("configuration has errors: no device bound (boot continues)");
	}
	return r;
}

static const struct vb_kernel_ops early_ops = {
	.write = vb_write_real,
	.load_module = load_module_modprobe,
};

/* What the boot does between the steps of the run (job.h). */
struct early_run {
	const char *config;
	struct vb_snapshot *snap;
	struct vb_plan_guard *guard;
	bool dry_run;
};

static int early_config(struct vb_job *job, int r, const struct early_run *e)
{
	if (r == -ENOENT) {
		log_info("no %s: nothing to bind", e->config ? e->config : "/" VB_DEFAULT_CONFIG);
		return VB_JOB_DONE;
	}
	if (r < 0) {
		vb_diags_log(&job->diags);
		if (r == -EINVAL)
			log_error("configuration has errors: no device bound (boot continues)");
		else
			log_error("cannot read %s: %s (boot continues)",
				  e->config ? e->config : "/" VB_DEFAULT_CONFIG, vb_strerror(r));
		return VB_EXIT_CONFIG;
	}
	return 0;
}

/* The config is final: the snapshot and the lock, before the scan. */
static int early_prepare(const struct vb_root *root, int r, const struct early_run *e)
{
	long holder = 0;

	if (r < 0)
		return VB_EXIT_CONFIG; /* logged by load_mappings */
	r = load_snapshot(root, e->snap);
	if (r < 0)
		return VB_EXIT_CONFIG;
	e->guard->userdata = r > 0 ? e->snap : NULL;

	r = vb_lock_take(root, LOCK_WAIT_MS, &holder);
	if (r == -ETIMEDOUT) {
		log_error("another vfio-bind (pid %ld) held /" VB_LOCK_FILE
			  " for %d s: no device bound (boot continues)",
			  holder, LOCK_WAIT_MS / 1000);
		return VB_EXIT_FAILURE;
	}
	/* no lock file (no /run): nothing else can be running this early */
	if (r < 0)
		log_warning("cannot take /" VB_LOCK_FILE ": %s; binding without it",
			    vb_strerror(r));
	return 0;
}

static int early_step(struct vb_job *job, const struct vb_root *root, enum vb_job_step step, int r,
		      void *userdata)
{
	static const char *const failed[] = {
		[VB_JOB_SELECT] = "cannot scan PCI devices",
		[VB_JOB_SRIOV] = "cannot create SR-IOV VFs",
		[VB_JOB_PLAN] = "cannot plan",
		[VB_JOB_APPLY] = "apply failed",
	};
	const struct early_run *e = userdata;

	if (step == VB_JOB_CONFIG)
		return early_config(job, r, e);
	if (step == VB_JOB_MAPPINGS)
		return early_prepare(root, r, e);
	if (r < 0) {
		log_error("%s: %s", failed[step], vb_strerror(r));
		/* no VFs: the boot goes on with the devices there are */
		return step == VB_JOB_SRIOV   ? 0
		       : step == VB_JOB_APPLY ? VB_EXIT_DEVICE
					      : VB_EXIT_FAILURE;
	}
	if (step == VB_JOB_PLAN && job->plan.n == 0) {
		log_info("%zu rule(s) select no device on this machine", job->cfg.n_rules);
		return VB_JOB_DONE;
	}
	if (step == VB_JOB_APPLY && !e->dry_run)
		mark_refusals(root, &job->plan);
	return 0;
}

static void usage(void)
{
	fputs("Usage: vfio-bind-early [--root DIR] [--config FILE] [--dry-run] [--debug]\n"
	      "       vfio-bind-early [--root DIR] --boot-switches\n"
	      "Binds the devices of /etc/vfio-bind.conf to vfio-pci at early boot.\n"
	      "--boot-switches prints the vfio-bind switches of the kernel command line\n"
	      "(mode=on|off|dry-run timeout=SECONDS debug=0|1) for the boot script.\n",
	      stdout);
}

int vb_early_main(int argc, char **argv, const struct vb_kernel_ops *ops)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},    {"config", required_argument, NULL, 'c'},
		{"dry-run", no_argument, NULL, 'n'},       {"debug", no_argument, NULL, 'd'},
		{"boot-switches", no_argument, NULL, 'S'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	const char *root_dir = NULL;
	struct vb_apply_opts ao = {.unbind_timeout_ms = 5000};
	struct vb_apply_summary sum;
	struct vb_root root;
	struct vb_job job;
	struct vb_boot_switches sw;
	struct vb_snapshot snap = {0};
	struct vb_plan_guard guard = {vb_snapshot_guard, NULL};
	bool debug = false, print_switches = false;
	struct early_run e = {.snap = &snap, .guard = &guard};
	struct vb_job_opts opts = {
		.mappings = load_mappings,
		.log_diags = VB_JOB_LOG_DIAGS_ALL,
		.create_vfs = true,
		.guards = &guard,
		.n_guards = 1,
		.apply = &ao,
		.t0_ms = vb_now_ms(),
		.step = early_step,
		.userdata = &e,
	};
	int c, r, kmsg, ret = VB_EXIT_SUCCESS;

	while ((c = getopt_long(argc, argv, "r:c:ndhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root_dir = optarg;
			break;
		case 'c':
			opts.config = e.config = optarg;
			break;
		case 'n':
			ao.dry_run = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'S':
			print_switches = true;
			break;
		case 'h':
			usage();
			return VB_EXIT_SUCCESS;
		case 'V':
			printf("vfio-bind-early %s\n", VB_VERSION);
			return VB_EXIT_SUCCESS;
		default:
			fputs("Try 'vfio-bind-early --help' for more information.\n", stderr);
			return VB_EXIT_FAILURE;
		}
	}

	r = vb_root_open(&root, root_dir);
	if (r < 0) {
		log_error("cannot open root %s: %s", root_dir ? root_dir : "/", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	root.ops = ops ? ops : &early_ops;
	if (print_switches) {
		/* for the boot script, so that both read the command line alike */
		(void)vb_boot_switches_read(&root, &sw);
		printf("mode=%s timeout=%u debug=%d\n", vb_boot_mode_name(sw.mode), sw.timeout_s,
		       sw.debug);
		vb_root_close(&root);
		return VB_EXIT_SUCCESS;
	}

	kmsg = openat(root.fd, "dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (kmsg >= 0)
		vb_log_set_kmsg_fd(kmsg);

	(void)vb_boot_switches_read(&root, &sw);
	if (sw.debug)
		debug = true;
	vb_log_set_max_priority(debug ? VB_LOG_DEBUG : VB_LOG_INFO);
	if (sw.unknown[0])
		log_warning(
			"ignoring unknown kernel parameter %s (known: vfio-bind=on|off|dry-run, "
			"vfio-bind.debug, vfio-bind.timeout=SECONDS)",
			sw.unknown);
	if (sw.mode == VB_BOOT_OFF) {
		log_notice("disabled by vfio-bind=off on the kernel command line");
		goto done;
	}
	if (sw.mode == VB_BOOT_DRY_RUN)
		ao.dry_run = true;
	e.dry_run = ao.dry_run;

	vb_job_init(&job);
	r = vb_job_run(&job, &root, &opts, &sum);
	if (r == VB_JOB_DONE)
		ret = VB_EXIT_SUCCESS;
	else if (r)
		ret = r;
	else if (sum.failed > 0)
		ret = VB_EXIT_DEVICE;
	vb_lock_release();
	vb_snapshot_free(&snap);
	vb_job_free(&job);
done:
	if (kmsg >= 0)
		close(kmsg);
	vb_root_close(&root);
	return ret;
}
