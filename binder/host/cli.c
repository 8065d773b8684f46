/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host command. util-linux conventions: usage() on --help only, a short
 * "Try --help" otherwise; exit codes are documented in vfio-bind(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "diagnose.h"
#include "doctor.h"
#include "hotplug.h"
#include "import.h"
#include "job.h"
#include "json.h"
#include "cmdline.h"
#include "kmod.h"
#include "lock.h"
#include "log.h"
#include "mark.h"
#include "pve.h"
#include "snapshot-write.h"
#include "storage.h"

struct opts {
	const char *root;
	const char *config;
	const struct vb_kernel_ops *ops;
	struct vb_root r;
	bool strict_config; /* check, plan, apply: refuse a config others can change */
	bool device_mode;   /* apply --device: warnings about other devices are noise */
};

static void errtryhelp(void)
{
	fprintf(stderr, "Try 'vfio-bind --help' for more information.\n");
}

static void usage(void)
{
	fputs("Usage:\n"
	      " vfio-bind [options] <command> [<args>]\n"
	      "\n"
	      "Bind PCI devices declared in /etc/vfio-bind.conf to vfio-pci.\n"
	      "\n"
	      "Commands:\n"
	      " status [--json]          every PCI device, its driver and the rule selecting it\n"
	      " plan [--json]            what apply would do to each selected device, and why\n"
	      " apply [--dry-run] [--device <address>] [--auto]\n"
	      "                          bind the selected devices (or only this one) to vfio-pci\n"
	      " release [--force] [<address>...]\n"
	      "                          give devices back to their native drivers\n"
	      "                          (--force: even from a running Proxmox VM)\n"
	      " check [--kernel <ver>] [--snapshot <file>] [--mappings <file>]\n"
	      "                          validate the configuration (and the target kernel);\n"
	      "                          write the hardware snapshot and the resolved\n"
	      "                          Proxmox VE mappings for the initramfs\n"
	      " modules [--kernel <ver>] print the modules vfio-pci needs in that kernel\n"
	      " doctor [--json] [--kernel <ver>]\n"
	      "                          will passthrough work here, and what to fix\n"
	      " iommu [--apply|--remove] [--kernel <ver>]\n"
	      "                          the IOMMU words of the kernel command line\n"
	      " import [--write]         rules from the old vfio-pci recipe\n"
	      "\n"
	      "Options:\n"
	      " -r, --root <dir>         use <dir> as the root of every path (default /)\n"
	      " -c, --config <file>      configuration file (default <root>/etc/vfio-bind.conf)\n"
	      " -t, --timeout <ms>       give up on an unbind after <ms> (default 10000)\n"
	      " -w, --wait <sec>         wait up to <sec> for another vfio-bind (default 60)\n"
	      "     --kmsg               log to the kernel log (/dev/kmsg), as the udev rule does\n"
	      " -v, --verbose            more messages (repeat for debug)\n"
	      " -q, --quiet              errors only\n"
	      "\n"
	      " -h, --help               display this help\n"
	      " -V, --version            display version\n"
	      "\n"
	      "For more details see vfio-bind(8) and vfio-bind.conf(5).\n",
	      stdout);
}

static const char *via_name(enum vb_via via)
{
	switch (via) {
	case VB_VIA_RULE:
		return "rule";
	case VB_VIA_SLOT:
		return "expand=slot";
	case VB_VIA_GROUP:
		return "expand=group";
	default:
		return NULL;
	}
}

/* Loads the config (a missing default config is an empty one). Returns an
 * EXIT_* code on failure, 0 on success; *config_bad says whether the config
 * had errors (diagnostics are in job->diags, not printed yet). */
static int load_config(struct opts *o, struct vb_job *job, bool need_config, bool *config_bad)
{
	int r;

	*config_bad = false;
	if (o->strict_config) {
		char msg[VB_MESSAGE_MAX];

		/* the early binder trusts this file at boot */
		r = vb_config_check_perms(&o->r, o->config, msg, sizeof(msg), NULL);
		if (r == -EPERM) {
			log_error("%s", msg);
			return VB_EXIT_CONFIG;
		}
	}
	r = vb_job_load_config(job, &o->r, o->config);
	if (r == -ENOENT && !o->config && !need_config) {
		vb_config_free(&job->cfg);
		job->cfg.file = strdup("/etc/vfio-bind.conf");
	} else if (r == -EINVAL) {
		*config_bad = true;
	} else if (r < 0) {
		log_error("cannot read %s: %s", o->config ? o->config : "/etc/vfio-bind.conf",
			  vb_strerror(r));
		return VB_EXIT_CONFIG;
	}
	if (r == 0 || r == -EINVAL) {
		/* mapping= terms: Proxmox VE's pci.cfg for this node */
		struct vb_diags pd;

		r = vb_pve_job_mappings(&o->r, job, &pd);
		vb_diags_log(&pd);
		vb_diags_free(&pd);
		if (r == -EINVAL)
			*config_bad = true;
		else if (r < 0)
			return log_error("cannot resolve the mappings: %s", vb_strerror(r)),
			       VB_EXIT_FAILURE;
	}
	return 0;
}

/*
 * Loads the config and scans.
 * Returns EXIT_* code on failure, 0 on success; *config_bad says whether the
 * config had errors (diagnostics were printed).
 */
static int prepare(struct opts *o, struct vb_job *job, bool need_config, bool *config_bad)
{
	int r = load_config(o, job, need_config, config_bad);

	if (r)
		return r;
	r = vb_job_select(job, &o->r);
	if (!o->device_mode || job->diags.n_errors)
		vb_diags_log(&job->diags);
	if (r < 0) {
		log_error("cannot scan PCI devices under %s: %s", o->r.path, vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	return 0;
}

/* Options of a command; `accepted` is the getopt string of those it takes
 * ("j" --json, "k:" --kernel, "n" --dry-run). Positional arguments are an
 * error unless `positional` is set. Returns 0 or VB_EXIT_USAGE (logged). */
struct cmd_args {
	bool json;
	bool dry_run;
	const char *kver;
	const char *snapshot;
	const char *device;
	bool automatic;
	const char *mappings;
	bool force;
};

static int command_options(int argc, char **argv, const char *cmd, const char *accepted,
			   bool positional, struct cmd_args *a)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"kernel", required_argument, NULL, 'k'},
		{"dry-run", no_argument, NULL, 'n'},
		{"snapshot", required_argument, NULL, 's'},
		{"device", required_argument, NULL, 'd'},
		{"auto", no_argument, NULL, 'a'},
		{"mappings", required_argument, NULL, 'm'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	while ((c = getopt_long(argc, argv, accepted, longopts, NULL)) != -1) {
		if (c == '?' || !strchr(accepted, c)) {
			if (c != '?')
				log_error("%s: option --%s does not apply", cmd,
					  c == 'j'   ? "json"
					  : c == 'k' ? "kernel"
					  : c == 's' ? "snapshot"
					  : c == 'd' ? "device"
					  : c == 'a' ? "auto"
					  : c == 'm' ? "mappings"
					  : c == 'f' ? "force"
						     : "dry-run");
			return errtryhelp(), VB_EXIT_USAGE;
		}
		if (c == 'j')
			a->json = true;
		else if (c == 'k')
			a->kver = optarg;
		else if (c == 'n')
			a->dry_run = true;
		else if (c == 's')
			a->snapshot = optarg;
		else if (c == 'd')
			a->device = optarg;
		else if (c == 'a')
			a->automatic = true;
		else if (c == 'm')
			a->mappings = optarg;
		else if (c == 'f')
			a->force = true;
	}
	if (!positional && optind < argc) {
		log_error("%s: unexpected argument '%s'", cmd, argv[optind]);
		return errtryhelp(), VB_EXIT_USAGE;
	}
	return 0;
}

/* {"config": FILE, "config_valid": BOOL, "devices": [ ... */
static void json_devices_begin(struct json *j, const struct vb_job *job, bool bad)
{
	json_begin(j, stdout);
	json_object_open(j, NULL);
	json_str(j, "config", job->cfg.file);
	json_bool(j, "config_valid", !bad);
	json_array_open(j, "devices");
}

/* "vms": every Proxmox VM whose config (hostpciN) or PCI reservation names
 * the device; "running": it runs and holds the device (release refuses). */
static void json_vms(struct json *j, const struct vb_vms *vms, const struct vb_pci_addr *a)
{
	unsigned holder = vb_vms_holder(vms, a);

	json_array_open(j, "vms");
	for (size_t i = 0; i < vms->n; i++) {
		const struct vb_vm_use *u = &vms->v[i];

		if (!vb_vm_use_covers(u, a))
			continue;
		json_object_open(j, NULL);
		json_int(j, "vmid", u->vmid);
		json_str(j, "entry", u->entry[0] ? u->entry : NULL);
		json_str(j, "mapping", u->mapping[0] ? u->mapping : NULL);
		json_bool(j, "reservation", !u->entry[0]);
		json_bool(j, "running", holder == u->vmid);
		json_object_close(j);
	}
	json_array_close(j);
}

static int cmd_status(struct opts *o, int argc, char **argv)
{
	struct cmd_args a;
	bool json, bad;
	struct vb_job job;
	int r;

	r = command_options(argc, argv, "status", "j", false, &a);
	if (r)
		return r;
	json = a.json;

	vb_job_init(&job);
	r = prepare(o, &job, false, &bad);
	if (r) {
		vb_job_free(&job);
		return r;
	}

	/* The stable topology, for users to copy into a topology= rule; the
	 * column is as wide as the widest one. "" when the device vanished or
	 * its path is not a PCI one. */
	char(*topo)[VB_TOPOLOGY_MAX] = calloc(job.list.n ? job.list.n : 1, sizeof(*topo));
	int topo_w = (int)strlen("TOPOLOGY");
	if (!topo) {
		log_error("cannot list devices: %s", vb_strerror(-ENOMEM));
		vb_job_free(&job);
		return VB_EXIT_FAILURE;
	}
	for (size_t i = 0; i < job.list.n; i++) {
		if (vb_pci_topology(&o->r, &job.list.devs[i], topo[i], sizeof(topo[i])) < 0)
			topo[i][0] = 0;
		if ((int)strlen(topo[i]) > topo_w)
			topo_w = (int)strlen(topo[i]);
	}

	/* Proxmox VE: the VMs whose config or reservation names each device;
	 * the VMS column only on a Proxmox node ("*": running) */
	struct vb_vms vms;
	int vms_w = 3;
	if (vb_vms_load(&o->r, job.maps.n ? &job.maps : NULL, &vms) < 0) {
		free(topo);
		vb_job_free(&job);
		return VB_EXIT_FAILURE;
	}
	for (size_t i = 0; vms.pve && i < job.list.n; i++) {
		char v[256];

		vb_vms_describe(&vms, &job.list.devs[i].addr, false, v, sizeof(v));
		if ((int)strlen(v) > vms_w)
			vms_w = (int)strlen(v);
	}

	struct json j;
	if (json) {
		json_devices_begin(&j, &job, bad);
	} else {
		printf("%-12s %-9s %-9s %-6s %-14s %-10s %5s %4s %-*s ", "ADDRESS", "ID",
		       "SUBSYSTEM", "CLASS", "DRIVER", "OVERRIDE", "GROUP", "BOOT", topo_w,
		       "TOPOLOGY");
		if (vms.pve)
			printf("%-*s ", vms_w, "VMS");
		printf("%s\n", "SELECTED-BY");
	}
	for (size_t i = 0; i < job.list.n; i++) {
		struct vb_pci_dev *d = &job.list.devs[i];
		const struct vb_sel *s = &job.sel[i];
		char loc[VB_LOCATION_MAX], buf[16], grp[16];
		const char *where;

		/* a device that vanished mid-listing keeps what the scan saw */
		(void)vb_pci_load_group(&o->r, d);
		(void)vb_pci_load_boot_vga(&o->r, d);
		(void)vb_pci_load_override(&o->r, d);
		where = s->via != VB_VIA_NONE
				? vb_rule_location(&job.cfg, s->rule, loc, sizeof(loc))
				: NULL;

		if (json) {
			json_object_open(&j, NULL);
			json_str(&j, "address", d->name);
			snprintf(buf, sizeof(buf), "%04x", d->vendor);
			json_str(&j, "vendor", buf);
			snprintf(buf, sizeof(buf), "%04x", d->device);
			json_str(&j, "device", buf);
			snprintf(buf, sizeof(buf), "%04x", d->subsys_vendor);
			json_str(&j, "subsystem_vendor", buf);
			snprintf(buf, sizeof(buf), "%04x", d->subsys_device);
			json_str(&j, "subsystem_device", buf);
			snprintf(buf, sizeof(buf), "%06x", (unsigned)d->class);
			json_str(&j, "class", buf);
			json_str(&j, "driver", d->driver[0] ? d->driver : NULL);
			json_str(&j, "driver_override", d->override[0] ? d->override : NULL);
			if (d->iommu_group >= 0)
				json_int(&j, "iommu_group", d->iommu_group);
			else
				json_null(&j, "iommu_group");
			if (d->boot_vga >= 0)
				json_bool(&j, "boot_vga", d->boot_vga == 1);
			else
				json_null(&j, "boot_vga");
			json_str(&j, "topology", topo[i][0] ? topo[i] : NULL);
			json_str(&j, "selected_by", where);
			json_str(&j, "selected_via", via_name(s->via));
			if (s->excluded_by >= 0)
				json_str(&j, "excluded_by",
					 vb_rule_location(&job.cfg, s->excluded_by, loc,
							  sizeof(loc)));
			else
				json_null(&j, "excluded_by");
			json_vms(&j, &vms, &d->addr);
			json_object_close(&j);
		} else {
			char id[16], sub[16];

			snprintf(id, sizeof(id), "%04x:%04x", d->vendor, d->device);
			snprintf(sub, sizeof(sub), "%04x:%04x", d->subsys_vendor, d->subsys_device);
			if (d->iommu_group >= 0)
				snprintf(grp, sizeof(grp), "%d", d->iommu_group);
			else
				strcpy(grp, "-");
			char v[256];

			printf("%-12s %-9s %-9s %06x %-14s %-10s %5s %4s %-*s ", d->name, id, sub,
			       (unsigned)d->class, d->driver[0] ? d->driver : "-",
			       d->override[0] ? d->override : "-", grp,
			       d->boot_vga < 0 ? "-"
			       : d->boot_vga   ? "yes"
					       : "no",
			       topo_w, topo[i][0] ? topo[i] : "-");
			if (vms.pve) {
				vb_vms_describe(&vms, &d->addr, false, v, sizeof(v));
				printf("%-*s ", vms_w, v[0] ? v : "-");
			}
			printf("%s\n", where ? where : s->excluded_by >= 0 ? "(excluded)" : "-");
		}
	}
	if (json) {
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	}
	free(topo);
	vb_vms_free(&vms);
	vb_job_free(&job);
	return bad ? VB_EXIT_CONFIG : VB_EXIT_SUCCESS;
}

/* Plans with the storage veto (storage.h): a controller of the root
 * filesystem is never taken, one of other mounted storage or swap only with
 * allow-storage=yes. The caller frees pol. */
static int plan_storage(struct opts *o, struct vb_job *job, struct vb_storage_policy *pol)
{
	int r;

	r = vb_storage_plan_job(&o->r, job, pol);
	if (r < 0) {
		log_error("cannot plan: %s", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	return 0;
}

/* Without any IOMMU group every device is refused: one summary with the fix
 * says why, instead of only a refusal per device. */
static void log_no_iommu(struct opts *o, const struct vb_job *job)
{
	char msg[512], hint[1024];

	for (size_t i = 0; i < job->plan.n; i++) {
		const struct vb_plan_item *it = &job->plan.items[i];

		if (it->action != VB_ACT_REFUSE || !(it->dev->have & VB_PCI_HAVE_GROUP) ||
		    it->dev->iommu_group >= 0)
			continue;
		if (vb_diag_no_iommu(&o->r, msg, sizeof(msg), hint, sizeof(hint)))
			log_error("%s\n  hint: %s", msg, hint);
		return;
	}
}

static int plan_prepare(struct opts *o, struct vb_job *job, bool *bad)
{
	struct vb_storage_policy pol;
	int r = prepare(o, job, false, bad);

	if (r)
		return r;
	r = plan_storage(o, job, &pol);
	vb_storage_policy_free(&pol);
	if (r == 0)
		log_no_iommu(o, job);
	return r;
}

/* "refusal": the code of the reason shown (null unless refused), and
 * "refusals": every code that applies, most important first. */
static void json_refusals(struct json *j, const struct vb_plan_item *it)
{
	json_str(j, "refusal", it->action == VB_ACT_REFUSE ? vb_refusal_code(it->refusal) : NULL);
	json_array_open(j, "refusals");
	for (unsigned c = VB_REFUSE_NONE + 1; c < VB_REFUSE_COUNT_; c++)
		if (it->refusals & (1u << c))
			json_str(j, NULL, vb_refusal_code(c));
	json_array_close(j);
}

static int cmd_plan(struct opts *o, int argc, char **argv)
{
	struct cmd_args a;
	bool json, bad;
	struct vb_job job;
	int r;

	r = command_options(argc, argv, "plan", "j", false, &a);
	if (r)
		return r;
	json = a.json;
	o->strict_config = true;
	vb_job_init(&job);
	r = plan_prepare(o, &job, &bad);
	if (r) {
		vb_job_free(&job);
		return r;
	}

	struct json j;
	if (json) {
		json_devices_begin(&j, &job, bad);
	} else if (job.plan.n == 0) {
		printf("No device selected by %s.\n", job.cfg.file);
	} else {
		printf("%-12s %-8s %-14s %-24s %s\n", "ADDRESS", "ACTION", "DRIVER", "RULE",
		       "REASON");
	}
	for (size_t i = 0; i < job.plan.n; i++) {
		const struct vb_plan_item *it = &job.plan.items[i];
		char loc[VB_LOCATION_MAX];
		const char *where = vb_rule_location(&job.cfg, it->rule, loc, sizeof(loc));

		if (json) {
			json_object_open(&j, NULL);
			json_str(&j, "address", it->dev->name);
			json_str(&j, "action", vb_action_name(it->action));
			json_str(&j, "reason", it->reason);
			json_refusals(&j, it);
			json_str(&j, "rule", where);
			json_str(&j, "via", via_name(it->via));
			json_str(&j, "driver", it->dev->driver[0] ? it->dev->driver : NULL);
			json_object_close(&j);
		} else {
			printf("%-12s %-8s %-14s %-24s %s\n", it->dev->name,
			       vb_action_name(it->action),
			       it->dev->driver[0] ? it->dev->driver : "-", where ? where : "-",
			       it->reason);
		}
	}
	if (json) {
		json_array_close(&j);
		json_object_close(&j);
		json_end(&j);
	}
	vb_job_free(&job);
	return bad ? VB_EXIT_CONFIG : VB_EXIT_SUCCESS;
}

static unsigned timeout_ms = 10000;
static unsigned lock_wait_s = VB_LOCK_WAIT_DEFAULT_S;

/* The one lock (lock.h), held until the program exits. Logs; returns an
 * exit code. */
static int take_lock(struct opts *o)
{
	long holder = 0;
	char path[4200];
	int r = vb_lock_take(&o->r, lock_wait_s * 1000, &holder);

	if (r == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/" VB_LOCK_FILE, o->r.is_host ? "" : o->r.path);
	if (r == -ETIMEDOUT && holder)
		log_error("another vfio-bind (pid %ld) has been changing bindings for %u s: "
			  "nothing done (it holds %s; --wait allows longer)",
			  holder, lock_wait_s, path);
	else if (r == -ETIMEDOUT)
		log_error("another vfio-bind has been changing bindings for %u s: nothing done "
			  "(it holds %s; --wait allows longer)",
			  lock_wait_s, path);
	else
		log_error("cannot take the lock %s: %s", path, vb_strerror(r));
	return VB_EXIT_FAILURE;
}

/*
 * apply --device, before the lock: is the device selected at all? The udev
 * rule runs this for every PCI device that appears (all of them at coldplug),
 * so an unselected one must cost little, log nothing and never wait for the
 * lock. Returns -1 when it is selected, else the exit code.
 */
static int device_precheck(struct opts *o, const char *arg, struct vb_pci_addr *addr)
{
	struct vb_pci_dev *d;
	struct vb_job job;
	bool bad;
	int r;

	if (vb_pci_addr_parse_short(arg, addr) < 0) {
		log_error("apply: '%s' is not a PCI address (expected DDDD:BB:SS.F or BB:SS.F)",
			  arg);
		return errtryhelp(), VB_EXIT_USAGE;
	}
	vb_job_init(&job);
	r = load_config(o, &job, false, &bad);
	if (r == 0 && bad) {
		vb_diags_log(&job.diags);
		log_error("%s has errors: %s not considered", job.cfg.file, arg);
		r = VB_EXIT_CONFIG;
	}
	if (r == 0 && job.cfg.n_rules == 0)
		r = VB_EXIT_SUCCESS; /* no rule: nothing to scan for */
	else if (r == 0 && (r = vb_job_select(&job, &o->r)) < 0) {
		log_error("cannot scan PCI devices under %s: %s", o->r.path, vb_strerror(r));
		r = VB_EXIT_FAILURE;
	} else if (r == 0) {
		d = vb_pci_find(&job.list, addr);
		if (!d) {
			log_error("apply: no PCI device %s under %s", arg, o->r.path);
			r = VB_EXIT_DEVICE;
		} else if (job.sel[d - job.list.devs].via == VB_VIA_NONE) {
			log_debug("%s: not selected by %s", d->name, job.cfg.file);
			r = VB_EXIT_SUCCESS;
		} else if (strcmp(d->driver, VB_TARGET_DRIVER) == 0 &&
			   vb_pci_load_override(&o->r, d) == 0 &&
			   strcmp(d->override, VB_TARGET_DRIVER) == 0) {
			/* coldplug replays the add event of every device the
			 * initramfs took: done already, no need to wait */
			log_debug("%s: already on %s", d->name, VB_TARGET_DRIVER);
			r = VB_EXIT_SUCCESS;
		} else {
			r = -1;
		}
	}
	vb_job_free(&job);
	return r;
}

/* apply --auto (the unit, the udev rule) leaves alone what an admin gave
 * back with release, and refuses what the early binder refused this boot
 * (the hardware changed since the image was built, a protected controller):
 * only an admin's apply takes those (mark.h). */
static void apply_marks(struct opts *o, struct vb_job *job)
{
	size_t n = 0;

	for (size_t i = 0; i < job->plan.n; i++) {
		struct vb_plan_item *it = &job->plan.items[i];
		enum vb_refusal code = VB_REFUSE_HW_CHANGED;
		char why[320];

		if (vb_mark_get(&o->r, VB_MARK_RELEASED, it->dev, why, sizeof(why))) {
			log_notice("%s: given back by 'vfio-bind release': not taken again "
				   "('vfio-bind apply' takes it)",
				   it->dev->name);
			continue;
		}
		job->plan.items[n++] = *it;
		it = &job->plan.items[n - 1];
		if (it->action == VB_ACT_REFUSE ||
		    !vb_mark_get(&o->r, VB_MARK_BOOT_REFUSED, it->dev, why, sizeof(why)))
			continue;
		if (strncmp(why, "protected ", 10) == 0)
			code = VB_REFUSE_PROTECTED;
		vb_plan_refuse(it, code, "refused at boot: %s ('vfio-bind apply' takes it)",
			       strchr(why, ' ') ? strchr(why, ' ') + 1 : why);
	}
	job->plan.n = n;
}

static int cmd_apply(struct opts *o, int argc, char **argv)
{
	struct vb_apply_opts ao = {.unbind_timeout_ms = timeout_ms};
	struct vb_apply_summary sum;
	struct vb_pci_addr addr;
	struct cmd_args a;
	struct vb_job job;
	long t0 = vb_now_ms();
	bool bad;
	int r;

	r = command_options(argc, argv, "apply", "nd:a", false, &a);
	if (r)
		return r;
	ao.dry_run = a.dry_run;
	o->strict_config = true;
	if (a.automatic) {
		/* the unit and the udev rule obey the boot's switches, as the
		 * early binder does: vfio-bind=off is the way back from a taken
		 * display, for the whole boot */
		struct vb_boot_switches sw;

		(void)vb_boot_switches_read(&o->r, &sw);
		if (sw.mode == VB_BOOT_OFF) {
			vb_log(a.device ? VB_LOG_DEBUG : VB_LOG_NOTICE,
			       "disabled by vfio-bind=off on the kernel command line");
			return VB_EXIT_SUCCESS;
		}
		if (sw.mode == VB_BOOT_DRY_RUN)
			ao.dry_run = true;
	}
	if (a.device) {
		o->device_mode = true;
		r = device_precheck(o, a.device, &addr);
		if (r >= 0)
			return r;
	}
	if (!ao.dry_run && (r = take_lock(o)))
		return r;
	vb_job_init(&job);
	r = plan_prepare(o, &job, &bad);
	if (r || bad) {
		if (bad)
			log_error("%s has errors: nothing applied", job.cfg.file);
		vb_job_free(&job);
		return r ? r : VB_EXIT_CONFIG;
	}
	if (a.device) {
		/* only this device: the others are another event's (or the unit's) */
		struct vb_pci_dev *d = vb_pci_find(&job.list, &addr);

		if (!d || !vb_plan_keep_device(&job.plan, d)) {
			log_info("%s: no longer selected or present", a.device);
			vb_job_free(&job);
			return VB_EXIT_SUCCESS;
		}
	}
	if (a.automatic) {
		apply_marks(o, &job);
		if (a.device && job.plan.n == 0) {
			vb_job_free(&job);
			return VB_EXIT_SUCCESS; /* given back: said so */
		}
	}
	/* the unit on a machine whose config has no rule, and coldplug replaying
	 * an event for every device the initramfs took: said at debug level */
	r = vb_job_apply(&job, &o->r, &ao, t0,
			 (a.automatic ? VB_SUMMARY_QUIET_NONE : 0) |
				 (a.device ? VB_SUMMARY_QUIET_NOTHING : 0),
			 &sum);
	if (r < 0) {
		log_error("apply failed: %s", vb_strerror(r));
		r = VB_EXIT_FAILURE;
	} else {
		/* taken on purpose: a release mark no longer applies */
		for (size_t i = 0; i < job.plan.n && !ao.dry_run; i++)
			if (job.out[i].result == VB_RES_OK)
				vb_mark_clear(&o->r, VB_MARK_RELEASED, job.plan.items[i].dev);
		r = sum.failed > 0 ? VB_EXIT_DEVICE
		    : sum.refused  ? VB_EXIT_REFUSED
				   : VB_EXIT_SUCCESS;
	}
	vb_job_free(&job);
	return r;
}

/*
 * Before a release: a device a running Proxmox VM holds is kept (unless
 * force), and vfio-pci forgets the dynamic id ("VVVV DDDD") Proxmox's new_id
 * gave it, so that neither this device nor a twin is grabbed again when it
 * is probed (-ENODEV: no such id, -ENOENT: no vfio-pci). Removes the kept
 * devices from devs; returns VB_EXIT_REFUSED when there were any.
 */
static int release_vms(struct opts *o, const struct vb_job *job, struct vb_pci_dev **devs,
		       size_t *n, bool force)
{
	struct vb_vms vms;
	size_t k = 0;
	int ret = 0, r;

	if (vb_vms_load(&o->r, job->maps.n ? &job->maps : NULL, &vms) < 0)
		return VB_EXIT_FAILURE;
	for (size_t i = 0; i < *n; i++) {
		unsigned vm = vb_vms_holder(&vms, &devs[i]->addr);
		char id[16];
		bool dup = false;

		if (vm && !force) {
			log_error("release: %s is in use by running VM %u: not released\n  hint: "
				  "stop the VM first (qm stop %u), or release --force",
				  devs[i]->name, vm, vm);
			ret = VB_EXIT_REFUSED;
			continue;
		}
		if (vm)
			log_warning("release: %s is in use by running VM %u: released anyway "
				    "(--force)",
				    devs[i]->name, vm);
		for (size_t j = 0; j < k && !dup; j++)
			dup = devs[j]->vendor == devs[i]->vendor &&
			      devs[j]->device == devs[i]->device;
		devs[k++] = devs[i];
		if (dup)
			continue;
		snprintf(id, sizeof(id), "%04x %04x", devs[i]->vendor, devs[i]->device);
		r = vb_kernel_write_str(&o->r, "sys/bus/pci/drivers/vfio-pci/remove_id", id,
					timeout_ms);
		if (r == 0)
			log_info("vfio-pci: removed the dynamic id %s", id);
		else if (r != -ENODEV && r != -ENOENT)
			log_warning("cannot remove the vfio-pci dynamic id %s: %s", id,
				    vb_strerror(r));
	}
	*n = k;
	vb_vms_free(&vms);
	return ret;
}

static int cmd_release(struct opts *o, int argc, char **argv)
{
	struct vb_apply_opts ao = {.unbind_timeout_ms = timeout_ms};
	struct vb_pci_dev **devs = NULL;
	struct vb_outcome *out = NULL;
	struct cmd_args args;
	struct vb_job job;
	size_t n = 0;
	bool bad;
	int r, ret = VB_EXIT_SUCCESS;

	r = command_options(argc, argv, "release", "f", true, &args);
	if (r)
		return r;
	if ((r = take_lock(o)))
		return r;

	vb_job_init(&job);
	r = prepare(o, &job, false, &bad);
	if (r)
		goto out;
	devs = calloc(job.list.n + (argc - optind) + 1, sizeof(*devs));
	if (!devs) {
		r = VB_EXIT_FAILURE;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			struct vb_pci_addr a;
			struct vb_pci_dev *d;

			if (vb_pci_addr_parse_short(argv[i], &a) < 0) {
				log_error("release: '%s' is not a PCI address (expected "
					  "DDDD:BB:SS.F or BB:SS.F)",
					  argv[i]);
				r = VB_EXIT_USAGE;
				goto out;
			}
			d = vb_pci_find(&job.list, &a);
			if (!d) {
				log_error("release: no PCI device %s under %s", argv[i], o->r.path);
				ret = VB_EXIT_DEVICE;
				continue;
			}
			devs[n++] = d;
		}
	} else {
		if (bad) {
			log_error("%s has errors: name the devices to release", job.cfg.file);
			r = VB_EXIT_CONFIG;
			goto out;
		}
		for (size_t i = 0; i < job.list.n; i++)
			if (job.sel[i].via != VB_VIA_NONE)
				devs[n++] = &job.list.devs[i];
	}
	r = release_vms(o, &job, devs, &n, args.force);
	if (r)
		ret = r;
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		r = VB_EXIT_FAILURE;
		goto out;
	}
	r = vb_release(&o->r, devs, n, &ao, out);
	if (r < 0) {
		log_error("release failed: %s", vb_strerror(r));
		r = VB_EXIT_FAILURE;
	} else {
		/* given back: the udev rule must not take it again (mark.h) */
		for (size_t i = 0; i < n; i++)
			if (out[i].result == VB_RES_OK &&
			    vb_mark_set(&o->r, VB_MARK_RELEASED, devs[i], "released") < 0)
				log_warning("%s: cannot record the release in /%s: its next uevent "
					    "may take it again",
					    devs[i]->name, VB_MARK_RELEASED);
		r = r > 0 ? VB_EXIT_DEVICE : ret;
	}
out:
	free(out);
	free(devs);
	vb_job_free(&job);
	return r;
}

static int kernel_option(int argc, char **argv, const char *cmd, const char **kver)
{
	struct cmd_args a;
	int r = command_options(argc, argv, cmd, "k:", false, &a);

	*kver = a.kver;
	return r;
}

/* The vfio-pci module set of a kernel; logs and returns an exit code. */
static int resolve_vfio(struct opts *o, const char *kver_arg, struct vb_modset *set, char **kver)
{
	int err, r;

	*kver = vb_kernel_release(&o->r, kver_arg, &err);
	if (!*kver) {
		if (err == -EADDRNOTAVAIL)
			log_error("several kernels in %s/lib/modules: say which with --kernel",
				  o->r.path);
		else
			log_error("cannot tell the kernel release: %s", vb_strerror(err));
		return VB_EXIT_ENV;
	}
	{
		char dir[VB_LOCATION_MAX];

		snprintf(dir, sizeof(dir), "lib/modules/%s", *kver);
		if (!vb_exists(&o->r, dir)) {
			log_error("kernel %s is not installed: no %s under %s", *kver, dir,
				  o->r.path);
			return VB_EXIT_ENV;
		}
	}
	r = vb_modset_resolve(&o->r, *kver, VB_TARGET_DRIVER, set);
	if (r == -ENOENT) {
		log_error("kernel %s has no vfio-pci (neither a module in lib/modules/%s nor built "
			  "in): vfio-bind cannot work with it",
			  *kver, *kver);
		return VB_EXIT_ENV;
	}
	if (r < 0) {
		log_error("cannot resolve vfio-pci in kernel %s: %s", *kver, vb_strerror(r));
		return VB_EXIT_ENV;
	}
	return 0;
}

static int cmd_modules(struct opts *o, int argc, char **argv)
{
	struct vb_modset set;
	const char *kver_arg;
	char *kver = NULL;
	int r;

	r = kernel_option(argc, argv, "modules", &kver_arg);
	if (r)
		return r;
	r = resolve_vfio(o, kver_arg, &set, &kver);
	if (r == 0) {
		for (size_t i = 0; i < set.n; i++)
			printf("%s\n", set.names[i]);
		if (set.builtin)
			log_info("vfio-pci is built into %s", kver);
		vb_modset_free(&set);
	}
	free(kver);
	return r;
}

/* check's device part: plans as apply would and fails on every device the
 * storage policy refuses, naming the rule that selects it. pol is the
 * caller's (the snapshot reuses its scan). */
static int check_storage(struct opts *o, struct vb_job *job, struct vb_storage_policy *pol)
{
	int r = plan_storage(o, job, pol), ret = r;
	const struct vb_storage *st = r == 0 ? vb_storage_policy_scan(pol) : NULL;

	if (st && !st->root_found)
		log_warning("cannot tell which controller holds the root filesystem: %s; no "
			    "mass-storage controller (class 01) is taken without allow-storage=yes",
			    st->root_unresolved[0] ? st->root_unresolved : "nothing names it");
	for (size_t i = 0; r == 0 && i < job->plan.n; i++) {
		const struct vb_plan_item *it = &job->plan.items[i];
		char loc[VB_LOCATION_MAX];
		const char *where;

		/* a mapping that no longer fits: Proxmox refuses it at VM start;
		 * the boot does the same, the image can still be built */
		if (it->refusals & (1u << VB_REFUSE_MAPPING) &&
		    !(it->refusals & VB_REFUSALS_STORAGE)) {
			where = vb_rule_location(&job->cfg, it->rule, loc, sizeof(loc));
			log_warning(
				"%s: %s refused: %s\n  hint: correct the mapping in Datacenter > "
				"Resource Mappings (or pci.cfg), then update-initramfs -u",
				where ? where : job->cfg.file, it->dev->name, it->reason);
		}
		/* every check ran for every device: the IOMMU state, a bridge or
		 * a vanished sibling cannot hide a storage refusal */
		if (!(it->refusals & VB_REFUSALS_STORAGE))
			continue;
		if (pol->scan_err) {
			ret = VB_EXIT_FAILURE; /* logged by the scan */
			break;
		}
		where = vb_rule_location(&job->cfg, it->rule, loc, sizeof(loc));
		log_error("%s: %s refused: %s\n  hint: %s 'exclude path=%s'",
			  where ? where : job->cfg.file, it->dev->name, it->reason,
			  it->refusals & (1u << VB_REFUSE_ROOT_STORAGE)
				  ? "the host cannot boot without it: narrow the rule or add"
				  : "add allow-storage=yes to the rule to take it anyway, or add",
			  it->dev->name);
		ret = VB_EXIT_REFUSED;
	}
	return ret;
}

/* check --snapshot FILE: the hardware snapshot for the image (snapshot.h). */
static int write_snapshot(struct opts *o, struct vb_job *job, struct vb_storage_policy *pol,
			  bool devices, const char *kver, const char *path)
{
	FILE *f = fopen(path, "we");
	int r;

	if (!f) {
		log_error("cannot create %s: %s", path, vb_strerror(-errno));
		return VB_EXIT_FAILURE;
	}
	r = vb_snapshot_write(f, &o->r, job, pol, devices, kver);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		log_error("cannot write the hardware snapshot %s: %s", path, vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	if (!devices)
		log_notice("no sys/bus/pci/devices under %s: the snapshot records no hardware; at "
			   "boot no mass-storage controller is taken without allow-storage=yes",
			   o->r.path);
	return 0;
}

/* check --mappings FILE: the Proxmox mappings the rules use, resolved for
 * this node, for the early binder (mapping.h). */
static int write_mappings(const struct vb_job *job, const char *path)
{
	FILE *f = fopen(path, "we");
	int r;

	if (!f) {
		log_error("cannot create %s: %s", path, vb_strerror(-errno));
		return VB_EXIT_FAILURE;
	}
	r = vb_pve_mappings_write(f, &job->maps, &job->cfg);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		log_error("cannot write the mappings %s: %s", path, vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	return 0;
}

static int cmd_check(struct opts *o, int argc, char **argv)
{
	struct vb_storage_policy pol;
	struct cmd_args a;
	struct vb_job job;
	char *kver = NULL;
	bool bad, devices;
	int r;

	r = command_options(argc, argv, "check", "k:s:m:", false, &a);
	if (r)
		return r;
	o->strict_config = true;
	vb_job_init(&job);
	vb_storage_policy_init(&pol, &o->r, NULL);
	/* the initramfs hook may run in a chroot without sysfs: config only */
	devices = vb_exists(&o->r, "sys/bus/pci/devices");
	if (devices) {
		r = prepare(o, &job, true, &bad);
	} else {
		r = load_config(o, &job, true, &bad);
		if (r == 0)
			vb_diags_log(&job.diags);
	}
	if (r == 0 && bad)
		r = VB_EXIT_CONFIG;
	if (r == 0 && a.kver) {
		struct vb_modset set;

		r = resolve_vfio(o, a.kver, &set, &kver);
		if (r == 0)
			vb_modset_free(&set);
	}
	if (r == 0 && devices)
		r = check_storage(o, &job, &pol);
	else if (r == 0)
		log_info("no sys/bus/pci/devices under %s: devices not checked", o->r.path);
	if (r == 0 && a.snapshot)
		r = write_snapshot(o, &job, &pol, devices, kver ? kver : a.kver, a.snapshot);
	if (r == 0 && a.mappings && vb_config_uses_mappings(&job.cfg))
		r = write_mappings(&job, a.mappings);
	if (r == 0)
		log_info("%s: %zu rule(s), valid", job.cfg.file, job.cfg.n_rules);
	vb_storage_policy_free(&pol);
	free(kver);
	vb_job_free(&job);
	return r;
}

static int cmd_doctor(struct opts *o, int argc, char **argv)
{
	struct vb_doctor_opts d = {.config = o->config};
	struct cmd_args a;
	int r;

	r = command_options(argc, argv, "doctor", "jk:", false, &a);
	if (r)
		return r;
	d.json = a.json;
	d.kver = a.kver;
	return vb_doctor(&o->r, &d);
}

static int cmd_iommu(struct opts *o, int argc, char **argv)
{
	return vb_cmd_iommu(&o->r, argc, argv);
}

static int cmd_import(struct opts *o, int argc, char **argv)
{
	return vb_cmd_import(&o->r, o->config, argc, argv);
}

static const struct {
	const char *name;
	int (*fn)(struct opts *o, int argc, char **argv);
} commands[] = {
	{"status", cmd_status},   {"plan", cmd_plan},   {"apply", cmd_apply},
	{"release", cmd_release}, {"check", cmd_check}, {"modules", cmd_modules},
	{"doctor", cmd_doctor},   {"iommu", cmd_iommu}, {"import", cmd_import},
};

int vb_main(int argc, char **argv, const struct vb_kernel_ops *ops)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},    {"config", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},       {"wait", required_argument, NULL, 'w'},
		{"kmsg", no_argument, NULL, 'K'},          {NULL, 0, NULL, 0},
	};
	static struct vb_kernel_ops host_ops;
	struct opts o = {0};
	bool kmsg = false;
	int c, r, verbosity = 0;

	while ((c = getopt_long(argc, argv, "+r:c:t:w:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.root = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 't': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || v == 0 ||
			    v > 3600000) {
				log_error("invalid --timeout '%s': milliseconds, 1 to 3600000",
					  optarg);
				return errtryhelp(), VB_EXIT_USAGE;
			}
			timeout_ms = v;
			break;
		}
		case 'w': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || v > 3600) {
				log_error("invalid --wait '%s': seconds, 0 to 3600", optarg);
				return errtryhelp(), VB_EXIT_USAGE;
			}
			lock_wait_s = v;
			break;
		}
		case 'K':
			kmsg = true;
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'h':
			usage();
			return VB_EXIT_SUCCESS;
		case 'V':
			printf("vfio-bind %s\n", VB_VERSION);
			return VB_EXIT_SUCCESS;
		default:
			errtryhelp();
			return VB_EXIT_USAGE;
		}
	}
	/* in the kernel log, one line per decision, as the early binder logs */
	if (kmsg && verbosity == 0)
		verbosity = 1;
	vb_log_set_max_priority(verbosity < 0    ? VB_LOG_ERR
				: verbosity == 0 ? VB_LOG_NOTICE
				: verbosity == 1 ? VB_LOG_INFO
						 : VB_LOG_DEBUG);
	if (optind >= argc) {
		log_error("no command given");
		errtryhelp();
		return VB_EXIT_USAGE;
	}

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			r = vb_root_open(&o.r, o.root);
			if (r < 0) {
				log_error("cannot open root directory %s: %s",
					  o.root ? o.root : "/", vb_strerror(r));
				return VB_EXIT_FAILURE;
			}
			if (kmsg) {
				/* a udev RUN program's stderr is only seen with udev debugging */
				int fd =
					openat(o.r.fd, "dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

				if (fd >= 0)
					vb_log_set_kmsg_fd(fd);
			}
			if (ops) {
				o.r.ops = ops;
			} else {
				host_ops = vb_kernel_ops_real;
				host_ops.load_module = vb_kmod_load_module;
				o.r.ops = &host_ops;
			}
			optind = 1; /* getopt again over the command's own arguments */
			r = commands[i].fn(&o, sub_argc, sub_argv);
			vb_lock_release();
			vb_root_close(&o.r);
			return r;
		}
	}
	log_error("unknown command '%s'", argv[optind]);
	errtryhelp();
	return VB_EXIT_USAGE;
}
