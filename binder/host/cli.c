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
#include <libsmartcols.h>
#include "lock.h"
#include "log.h"
#include "mark.h"
#include "pve.h"
#include "names.h"
#include "snapshot-write.h"
#include "storage.h"
#include "table.h"

struct opts {
	const char *root;
	const char *config;
	const struct vb_kernel_ops *ops;
	struct vb_root r;
	bool strict_config; /* check, plan, apply: refuse a config others can change */
	bool device_mode;   /* apply --device: warnings about other devices are noise */
	bool color;         /* --color after auto was resolved */
	struct vb_names *names;
};

/* What a command's options said; positional arguments in argv[0..argc). */
struct cmd_args {
	bool json, dry_run, noheadings, raw, force, automatic, apply, remove, write;
	const char *kver, *snapshot, *output, *slot, *id, *mappings, *device;
	int argc;
	char **argv;
};

static void errtryhelp(void)
{
	fprintf(stderr, "Try 'vfio-bind --help' for more information.\n");
}

/* The names of this root's PCI ID database, opened on first use. */
static struct vb_names *names_of(struct opts *o)
{
	if (!o->names)
		o->names = vb_names_open(&o->r);
	return o->names;
}
static const char *rule_location(const struct vb_job *job, int rule, char *buf, size_t size)
{
	return vb_rule_location(&job->cfg, rule, buf, size);
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
	case VB_VIA_VF:
		return "vfs";
	default:
		return NULL;
	}
}

/* What a host command does between the steps of the run (job.h). */
struct host_run {
	struct opts *o;
	const char *device;             /* apply --device: the device named */
	const struct vb_pci_addr *addr; /* its address */
	bool need_config;               /* a missing config is an error, not an empty one */
	bool precheck;                  /* device_precheck: is it selected at all? */
	bool apply;                     /* cmd_apply: the plan is applied */
	bool automatic;                 /* apply --auto */
	bool dry_run;
};

/* mapping= terms: Proxmox VE's pci.cfg for this node */
static int host_mappings(struct vb_job *job, const struct vb_root *root, void *userdata)
{
	struct vb_diags pd;
	int r;

	(void)userdata;
	r = vb_pve_job_mappings(root, job, &pd);
	vb_diags_log(&pd);
	vb_diags_free(&pd);
	return r;
}

static int precheck_config(const struct host_run *h, struct vb_job *job);
static int precheck_device(const struct host_run *h, struct vb_job *job);
static int apply_planned(const struct host_run *h, struct vb_job *job);
static void log_no_iommu(struct opts *o, const struct vb_job *job);

static int host_step(struct vb_job *job, const struct vb_root *root, enum vb_job_step step, int r,
		     void *userdata)
{
	const struct host_run *h = userdata;
	struct opts *o = h->o;

	switch (step) {
	case VB_JOB_CONFIG:
		if (r == -ENOENT && !o->config && !h->need_config) {
			/* a missing default config is an empty one */
			vb_config_free(&job->cfg);
			job->cfg.file = strdup("/etc/vfio-bind.conf");
		} else if (r == -EINVAL) {
			job->config_bad = true; /* reported; never applied */
		} else if (r < 0) {
			log_error("cannot read %s: %s",
				  o->config ? o->config : "/etc/vfio-bind.conf", vb_strerror(r));
			return VB_EXIT_CONFIG;
		}
		return 0;
	case VB_JOB_MAPPINGS:
		if (r == -EINVAL)
			job->config_bad = true;
		else if (r < 0)
			return log_error("cannot resolve the mappings: %s", vb_strerror(r)),
			       VB_EXIT_FAILURE;
		return h->precheck ? precheck_config(h, job) : 0;
	case VB_JOB_SELECT:
		if (r < 0) {
			log_error("cannot scan PCI devices under %s: %s", root->path,
				  vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		return h->precheck ? precheck_device(h, job) : 0;
	case VB_JOB_SRIOV:
		if (r < 0) {
			log_error("cannot create SR-IOV VFs: %s", vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		return 0;
	case VB_JOB_PLAN:
		if (r < 0) {
			log_error("cannot plan: %s", vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		log_no_iommu(o, job);
		return h->apply ? apply_planned(h, job) : 0;
	case VB_JOB_APPLY:
		if (r < 0) {
			log_error("apply failed: %s", vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		/* taken on purpose: a release mark no longer applies */
		for (size_t i = 0; i < job->plan.n && !h->dry_run; i++)
			if (job->out[i].result == VB_RES_OK)
				vb_mark_clear(root, VB_MARK_RELEASED, job->plan.items[i].dev);
		return 0;
	}
	return 0;
}

/* Runs the pipeline (job.h) for a command: a config with errors is still
 * read and planned for the report. jo->step, when set, is the command's own
 * (it calls host_step for what it does not do itself). Returns vb_job_run's
 * value: 0, an EXIT_* code (logged) or VB_JOB_DONE. */
static int host_run(struct vb_job *job, struct vb_job_opts *jo, const struct host_run *h,
		    struct vb_apply_summary *sum)
{
	struct opts *o = h->o;

	if (o->strict_config) {
		char msg[VB_MESSAGE_MAX];

		/* the early binder trusts this file at boot */
		if (vb_config_check_perms(&o->r, o->config, msg, sizeof(msg), NULL) == -EPERM) {
			log_error("%s", msg);
			return VB_EXIT_CONFIG;
		}
	}
	jo->config = o->config;
	jo->mappings = host_mappings;
	if (!jo->step) {
		jo->step = host_step;
		jo->userdata = (void *)h;
	}
	return vb_job_run(job, &o->r, jo, sum);
}

/* Loads the config (a missing default config is an empty one). Returns an
 * EXIT_* code on failure, 0 on success; *config_bad says whether the config
 * had errors (diagnostics are in job->diags, not printed yet). */
static int load_config(struct opts *o, struct vb_job *job, bool need_config, bool *config_bad)
{
	const struct host_run h = {.o = o, .need_config = need_config};
	struct vb_job_opts jo = {
		.until = VB_JOB_MAPPINGS,
	};
	int r = host_run(job, &jo, &h, NULL);

	*config_bad = job->config_bad;
	return r;
}

/* The diagnostics after the scan: apply --device (the udev rule) says only
 * errors. */
static enum vb_job_log_diags host_log_diags(const struct opts *o)
{
	return o->device_mode ? VB_JOB_LOG_DIAGS_ERRORS : VB_JOB_LOG_DIAGS_ALL;
}

/*
 * Loads the config and scans.
 * Returns EXIT_* code on failure, 0 on success; *config_bad says whether the
 * config had errors (diagnostics were printed).
 */
static int prepare(struct opts *o, struct vb_job *job, bool need_config, bool *config_bad)
{
	const struct host_run h = {.o = o, .need_config = need_config};
	struct vb_job_opts jo = {
		.log_diags = host_log_diags(o),
		.until = VB_JOB_SELECT,
	};
	int r = host_run(job, &jo, &h, NULL);

	*config_bad = job->config_bad;
	return r;
}

/* The rule column of status and plan: "LINE" for a rule's own match,
 * "LINE+slot"/"LINE+group" for an expansion, "excl:LINE" for an exclude. */
static const char *rule_short(const struct vb_job *job, int rule, enum vb_via via, int excluded,
			      char *buf, size_t size)
{
	if (rule >= 0 && (size_t)rule < job->cfg.n_rules && via != VB_VIA_NONE)
		snprintf(buf, size, "%u%s", job->cfg.rules[rule].line,
			 via == VB_VIA_SLOT    ? "+slot"
			 : via == VB_VIA_GROUP ? "+group"
					       : "");
	else if (excluded >= 0 && (size_t)excluded < job->cfg.n_rules)
		snprintf(buf, size, "excl:%u", job->cfg.rules[excluded].line);
	else
		return NULL;
	return buf;
}

/* status' device filters, lspci's -s and -d, parsed as the rules the config
 * would write (path=, id=), so they accept what the config accepts. */
struct filters {
	struct vb_config cfg[3];
	size_t n;
};

static void filters_free(struct filters *f)
{
	for (size_t i = 0; i < f->n; i++)
		vb_config_free(&f->cfg[i]);
	f->n = 0;
}

static int filter_add(struct filters *f, const char *opt, const char *key, const char *value)
{
	char line[512];
	struct vb_diags diags;
	int r;

	if (strlen(value) > 200 || strpbrk(value, " \t\n#")) {
		log_error("status: invalid %s '%s'", opt, value);
		return -EINVAL;
	}
	snprintf(line, sizeof(line), "bind %s=%s\n", key, value);
	r = vb_config_parse(opt, line, strlen(line), &f->cfg[f->n], &diags);
	if (r < 0 || f->cfg[f->n].n_rules != 1) {
		log_error("status: invalid %s '%s': %s", opt, value,
			  diags.n ? diags.v[0].message : vb_strerror(r));
		vb_diags_free(&diags);
		vb_config_free(&f->cfg[f->n]);
		return -EINVAL;
	}
	vb_diags_free(&diags);
	f->n++;
	return 0;
}

static int filters_parse(struct filters *f, const struct cmd_args *a)
{
	memset(f, 0, sizeof(*f));
	if (a->argc > 1) {
		log_error("status: one ADDRESS at most (got '%s' and '%s')", a->argv[0],
			  a->argv[1]);
		return -EINVAL;
	}
	if (a->argc == 1 && filter_add(f, "ADDRESS", "path", a->argv[0]) < 0)
		return -EINVAL;
	if (a->slot && filter_add(f, "-s", "path", a->slot) < 0)
		goto fail;
	if (a->id) {
		/* lspci's VENDOR: means any device of the vendor */
		char id[64];
		size_t len = strlen(a->id);

		if (len + 2 > sizeof(id) || a->id[0] == ':') {
			log_error("status: invalid -d '%s': expected VENDOR:DEVICE or VENDOR:",
				  a->id);
			goto fail;
		}
		snprintf(id, sizeof(id), "%s%s", a->id, a->id[len - 1] == ':' ? "*" : "");
		if (filter_add(f, "-d", "id", id) < 0)
			goto fail;
	}
	return 0;
fail:
	filters_free(f);
	return -EINVAL;
}

static bool filters_match(const struct filters *f, const struct vb_root *r, struct vb_pci_dev *d)
{
	for (size_t i = 0; i < f->n; i++)
		if (!vb_rule_match(r, &f->cfg[i].rules[0], d))
			return false;
	return true;
}

/* Columns of status. Other facts (VFs under their PF, the VMs using a
 * device) add a column here, a line in status_row() and their JSON field. */
enum {
	SC_ADDRESS,
	SC_ID,
	SC_NAME,
	SC_VENDOR,
	SC_CLASS,
	SC_CLASS_NAME,
	SC_SUBSYSTEM,
	SC_DRIVER,
	SC_OVERRIDE,
	SC_GROUP,
	SC_BOOT_VGA,
	SC_TOPOLOGY,
	SC_RULE,
	SC_RULE_FILE,
	SC_VMS,
	SC_VF,
	SC_COUNT_
};

static const struct vb_coldef status_cols[SC_COUNT_] = {
	[SC_ADDRESS] = {"ADDRESS", 12, 0, "PCI address, DDDD:BB:SS.F"},
	[SC_ID] = {"ID", 9, 0, "vendor:device ID"},
	[SC_NAME] = {"NAME", 0.3, SCOLS_FL_TRUNC, "device name (PCI ID database)"},
	[SC_VENDOR] = {"VENDOR", 0.2, SCOLS_FL_TRUNC, "vendor name (PCI ID database)"},
	[SC_CLASS] = {"CLASS", 6, 0, "class code"},
	[SC_CLASS_NAME] = {"CLASS-NAME", 0.2, SCOLS_FL_TRUNC, "class name (PCI ID database)"},
	[SC_SUBSYSTEM] = {"SUBSYSTEM", 9, 0, "subsystem vendor:device ID"},
	[SC_DRIVER] = {"DRIVER", 8, 0, "the driver bound now"},
	[SC_OVERRIDE] = {"OVERRIDE", 8, 0, "driver_override"},
	[SC_GROUP] = {"GROUP", 5, SCOLS_FL_RIGHT, "IOMMU group"},
	[SC_BOOT_VGA] = {"BOOT-VGA", 3, 0, "the firmware's boot display (yes/no)"},
	[SC_TOPOLOGY] = {"TOPOLOGY", 12, 0, "where it is plugged in, for topology="},
	[SC_RULE] = {"RULE", 4, 0, "line of the selecting rule (+slot, +group: expansions; excl:)"},
	[SC_RULE_FILE] = {"RULE-FILE", 12, SCOLS_FL_TRUNC, "FILE:LINE of the selecting rule"},
	[SC_VMS] = {"VMS", 3, 0, "Proxmox VE VMs that name it (*: running)"},
	[SC_VF] = {"VF", 5, 0, "a VF's index and PF: \"VF N of PF\" (shown when there are VFs)"},
};
static const int status_default[] = {SC_ADDRESS, SC_ID, SC_NAME, SC_DRIVER, SC_GROUP, SC_RULE, -1};
/* on a Proxmox VE node the VMs are shown too */
static const int status_default_pve[] = {SC_ADDRESS, SC_ID,  SC_NAME, SC_DRIVER,
					 SC_GROUP,   SC_VMS, SC_RULE, -1};

/* One device of status, gathered once for the table and the JSON. */
struct status_row {
	struct vb_pci_dev *d;
	const struct vb_sel *s;
	char id[16], sub[16], class[8], group[16], topo[VB_TOPOLOGY_MAX];
	char rule[32], rule_file[VB_LOCATION_MAX], excl_file[VB_LOCATION_MAX], vms[256];
	char vf[48]; /* "VF N of PF", "" for a device that is no VF */
	const struct vb_vms *vm_list;
};

static void status_row(struct opts *o, const struct vb_job *job, const struct vb_vms *vms, size_t i,
		       struct status_row *w)
{
	struct vb_pci_dev *d = &job->list.devs[i];
	const struct vb_sel *s = &job->sel[i];

	w->vm_list = vms;
	vb_vms_describe(vms, &d->addr, false, w->vms, sizeof(w->vms));
	w->d = d;
	w->s = s;
	/* a device that vanished mid-listing keeps what the scan saw */
	(void)vb_pci_load_group(&o->r, d);
	(void)vb_pci_load_boot_vga(&o->r, d);
	(void)vb_pci_load_override(&o->r, d);
	if (vb_pci_topology(&o->r, d, w->topo, sizeof(w->topo)) < 0)
		w->topo[0] = 0;
	snprintf(w->id, sizeof(w->id), "%04x:%04x", d->vendor, d->device);
	snprintf(w->sub, sizeof(w->sub), "%04x:%04x", d->subsys_vendor, d->subsys_device);
	snprintf(w->class, sizeof(w->class), "%06x", (unsigned)d->class);
	if (d->iommu_group >= 0)
		snprintf(w->group, sizeof(w->group), "%d", d->iommu_group);
	else
		w->group[0] = 0;
	if (!rule_short(job, s->rule, s->via, s->excluded_by, w->rule, sizeof(w->rule)))
		w->rule[0] = 0;
	if (s->via == VB_VIA_NONE ||
	    !rule_location(job, s->rule, w->rule_file, sizeof(w->rule_file)))
		w->rule_file[0] = 0;
	if (!rule_location(job, s->excluded_by, w->excl_file, sizeof(w->excl_file)))
		w->excl_file[0] = 0;
	if (d->pf[0] && d->vf_index >= 0)
		snprintf(w->vf, sizeof(w->vf), "VF %d of %s", d->vf_index, d->pf);
	else
		w->vf[0] = 0;
}

static void status_table_row(struct opts *o, struct vb_table *t, const struct status_row *w)
{
	const struct vb_pci_dev *d = w->d;
	int row = vb_table_row(t, -1);
	bool on_vfio = strcmp(d->driver, VB_TARGET_DRIVER) == 0;

	if (row < 0)
		return;
	vb_table_set(t, row, SC_ADDRESS, d->name, NULL);
	vb_table_set(t, row, SC_ID, w->id, NULL);
	vb_table_set(t, row, SC_NAME, vb_names_device(names_of(o), d->vendor, d->device), NULL);
	vb_table_set(t, row, SC_VENDOR, vb_names_vendor(names_of(o), d->vendor), NULL);
	vb_table_set(t, row, SC_CLASS, w->class, NULL);
	vb_table_set(t, row, SC_CLASS_NAME, vb_names_class(names_of(o), d->class), NULL);
	vb_table_set(t, row, SC_SUBSYSTEM, w->sub, NULL);
	/* green: where vfio-bind wants it; yellow: selected, not there yet */
	vb_table_set(t, row, SC_DRIVER, d->driver,
		     on_vfio                    ? VB_COLOR_GOOD
		     : w->s->via != VB_VIA_NONE ? VB_COLOR_WARN
						: NULL);
	vb_table_set(t, row, SC_OVERRIDE, d->override, NULL);
	vb_table_set(t, row, SC_GROUP, w->group, NULL);
	vb_table_set(t, row, SC_BOOT_VGA,
		     d->boot_vga < 0 ? NULL
		     : d->boot_vga   ? "yes"
				     : "no",
		     NULL);
	vb_table_set(t, row, SC_TOPOLOGY, w->topo, NULL);
	vb_table_set(t, row, SC_RULE, w->rule, NULL);
	vb_table_set(t, row, SC_RULE_FILE, w->rule_file[0] ? w->rule_file : w->excl_file, NULL);
	vb_table_set(t, row, SC_VMS, w->vms, NULL);
	vb_table_set(t, row, SC_VF, w->vf, NULL);
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

static void status_json_row(struct opts *o, struct json *j, const struct status_row *w)
{
	const struct vb_pci_dev *d = w->d;

	json_object_open(j, NULL);
	json_identity(j, d, names_of(o));
	json_str(j, "subsystem_id", w->sub);
	json_hex(j, "subsystem_vendor", d->subsys_vendor, 4);
	json_hex(j, "subsystem_device", d->subsys_device, 4);
	json_str(j, "driver_override", d->override[0] ? d->override : NULL);
	if (d->iommu_group >= 0)
		json_int(j, "iommu_group", d->iommu_group);
	else
		json_null(j, "iommu_group");
	if (d->boot_vga >= 0)
		json_bool(j, "boot_vga", d->boot_vga == 1);
	else
		json_null(j, "boot_vga");
	json_str(j, "topology", w->topo[0] ? w->topo : NULL);
	json_str(j, "physfn", d->pf[0] ? d->pf : NULL);
	if (d->pf[0] && d->vf_index >= 0)
		json_int(j, "vf_index", d->vf_index);
	else
		json_null(j, "vf_index");
	json_str(j, "rule", w->rule_file[0] ? w->rule_file : NULL);
	json_str(j, "via", via_name(w->s->via));
	json_str(j, "excluded_by", w->excl_file[0] ? w->excl_file : NULL);
	json_vms(j, w->vm_list, &d->addr);
	json_object_close(j);
}

/* A table of cols, or a usage error naming the unknown column. */
static int table_open(struct opts *o, const struct cmd_args *a, const char *cmd,
		      const struct vb_coldef *cols, size_t n, const int *defaults,
		      struct vb_table **t)
{
	struct vb_table_opts to = {
		.output = a->output,
		.noheadings = a->noheadings,
		.raw = a->raw,
		.color = o->color,
	};
	char bad[128];
	int r = vb_table_new(cols, n, defaults, &to, t, bad, sizeof(bad));

	if (r == -EINVAL) {
		log_error("%s: unknown column '%s' ('vfio-bind %s --help' lists them)", cmd, bad,
			  cmd);
		errtryhelp();
		return VB_EXIT_USAGE;
	}
	if (r < 0) {
		log_error("%s: %s", cmd, vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	return 0;
}

static int table_print(struct vb_table *t)
{
	int r = vb_table_print(t);

	vb_table_free(t);
	if (r < 0) {
		log_error("cannot write the table: %s", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	return 0;
}

/* The order status lists devices in: each VF right after its PF, by index;
 * the rest in address order. *any_vf: some device is a VF. */
static int status_order(struct opts *o, struct vb_job *job, size_t **order, bool *any_vf)
{
	size_t n = job->list.n, n_order = 0;
	size_t *v = calloc(n ? n : 1, sizeof(*v));
	bool *placed = calloc(n ? n : 1, sizeof(*placed));

	if (!v || !placed) {
		free(v);
		free(placed);
		log_error("cannot list devices: %s", vb_strerror(-ENOMEM));
		return VB_EXIT_FAILURE;
	}
	for (size_t i = 0; i < n; i++) {
		struct vb_pci_dev *d = &job->list.devs[i];

		(void)vb_pci_load_physfn(&o->r, d);
		if (d->pf[0] && d->vf_index >= 0)
			*any_vf = true;
	}
	for (size_t i = 0; i < n; i++) {
		struct vb_pci_dev *d = &job->list.devs[i], *vf;
		char name[VB_PCI_NAME_MAX];
		struct vb_pci_addr va;

		if (d->pf[0] && d->vf_index >= 0 && vb_pci_addr_parse(d->pf, &va) == 0 &&
		    vb_pci_find(&job->list, &va))
			continue; /* listed under its PF */
		placed[i] = true;
		v[n_order++] = i;
		for (unsigned k = 0; k <= 0xffff && vb_pci_virtfn(&o->r, d->name, k, name) == 0;
		     k++)
			if (vb_pci_addr_parse(name, &va) == 0 &&
			    (vf = vb_pci_find(&job->list, &va)) && !placed[vf - job->list.devs]) {
				placed[vf - job->list.devs] = true;
				v[n_order++] = (size_t)(vf - job->list.devs);
			}
	}
	for (size_t i = 0; i < n; i++)
		if (!placed[i])
			v[n_order++] = i;
	free(placed);
	*order = v;
	return 0;
}

static int cmd_status(struct opts *o, const struct cmd_args *a)
{
	struct vb_table *t = NULL;
	size_t *order = NULL;
	bool any_vf = false;
	struct vb_vms vms = {0};
	struct filters f;
	struct vb_job job;
	struct json j;
	bool bad;
	int r, ret;

	if (filters_parse(&f, a) < 0)
		return errtryhelp(), VB_EXIT_USAGE;
	vb_job_init(&job);
	r = prepare(o, &job, false, &bad);
	if (r)
		goto out;
	/* Proxmox VE: the VMs whose config or reservation names each device */
	if (vb_vms_load(&o->r, job.maps.n ? &job.maps : NULL, &vms) < 0) {
		r = VB_EXIT_FAILURE;
		goto out;
	}
	/* VFs right after their PF, by index (a VF column appears then) */
	r = status_order(o, &job, &order, &any_vf);
	if (r)
		goto out;
	if (!a->json) {
		int defaults[SC_COUNT_ + 1], n = 0;

		for (const int *c = vms.pve ? status_default_pve : status_default; *c >= 0; c++) {
			if (*c == SC_RULE && any_vf)
				defaults[n++] = SC_VF;
			defaults[n++] = *c;
		}
		defaults[n] = -1;
		r = table_open(o, a, "status", status_cols, SC_COUNT_, defaults, &t);
		if (r)
			goto out;
	} else {
		json_envelope_begin(&j, stdout, "status", o->r.path, job.cfg.file, !bad,
				    &job.diags);
		json_array_open(&j, "devices");
	}
	for (size_t oi = 0; oi < job.list.n; oi++) {
		size_t i = order[oi];
		struct status_row w;

		if (!filters_match(&f, &o->r, &job.list.devs[i]))
			continue;
		status_row(o, &job, &vms, i, &w);
		if (a->json)
			status_json_row(o, &j, &w);
		else
			status_table_row(o, t, &w);
	}
	ret = bad ? VB_EXIT_CONFIG : VB_EXIT_SUCCESS;
	if (a->json) {
		json_array_close(&j);
		json_envelope_end(&j, ret);
		r = ret;
	} else {
		r = table_print(t);
		if (r == 0)
			r = ret;
	}
out:
	free(order);
	vb_vms_free(&vms);
	filters_free(&f);
	vb_job_free(&job);
	return r;
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

/* plan: loads, scans and plans with the storage veto (storage.h: a
 * controller of the root filesystem is never taken, one of other mounted
 * storage or swap only with allow-storage=yes); the VFs of numvfs= rules
 * are only planned. Returns an EXIT_* code (logged) or 0. */
static int plan_prepare(struct opts *o, struct vb_job *job, bool *bad)
{
	const struct host_run h = {.o = o};
	struct vb_storage_policy pol;
	const struct vb_plan_guard guard = {vb_storage_guard, &pol};
	struct vb_job_opts jo = {
		.log_diags = host_log_diags(o),
		.guards = &guard,
		.n_guards = 1,
		.until = VB_JOB_PLAN,
	};
	int r;

	vb_storage_policy_init(&pol, &o->r, &job->cfg);
	r = host_run(job, &jo, &h, NULL);
	vb_storage_policy_free(&pol);
	*bad = job->config_bad;
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

enum {
	PC_ADDRESS,
	PC_ACTION,
	PC_NAME,
	PC_ID,
	PC_DRIVER,
	PC_RULE,
	PC_RULE_FILE,
	PC_REFUSAL,
	PC_REASON,
	PC_COUNT_
};

static const struct vb_coldef plan_cols[PC_COUNT_] = {
	[PC_ADDRESS] = {"ADDRESS", 12, 0, "PCI address, DDDD:BB:SS.F"},
	[PC_ACTION] = {"ACTION", 6, 0, "nothing, bind, rebind or refuse"},
	[PC_NAME] = {"NAME", 0.2, SCOLS_FL_TRUNC, "device name (PCI ID database)"},
	[PC_ID] = {"ID", 9, 0, "vendor:device ID"},
	[PC_DRIVER] = {"DRIVER", 8, 0, "the driver bound now"},
	[PC_RULE] = {"RULE", 4, 0, "line of the selecting rule (+slot, +group: expansions)"},
	[PC_RULE_FILE] = {"RULE-FILE", 12, SCOLS_FL_TRUNC, "FILE:LINE of the selecting rule"},
	[PC_REFUSAL] = {"REFUSAL", 8, 0, "the code of the refusal (JSON refusal)"},
	[PC_REASON] = {"REASON", 0.4, SCOLS_FL_WRAP, "what apply will do, or why not"},
};
static const int plan_default[] = {PC_ADDRESS, PC_ACTION, PC_NAME, PC_DRIVER,
				   PC_RULE,    PC_REASON, -1};

enum { SR_PF, SR_ACTION, SR_RULE, SR_REASON, SR_COUNT_ };

static const struct vb_coldef sriov_cols[SR_COUNT_] = {
	[SR_PF] = {"PF", 12, 0, "the physical function"},
	[SR_ACTION] = {"SR-IOV", 6, 0, "create, present, mismatch, too-many, no-driver, failed"},
	[SR_RULE] = {"RULE", 4, 0, "line of the numvfs= rule"},
	[SR_REASON] = {"REASON", 0.5, SCOLS_FL_WRAP, "what happens to its VFs first"},
};
static const int sriov_default[] = {SR_PF, SR_ACTION, SR_RULE, SR_REASON, -1};

/* plan's second table: what numvfs= does to each PF before anything binds
 * (its own columns: -o names plan's). */
static int plan_sriov_table(struct opts *o, const struct cmd_args *a, const struct vb_job *job)
{
	struct cmd_args b = *a;
	struct vb_table *t = NULL;
	int r;

	b.output = NULL;
	r = table_open(o, &b, "plan", sriov_cols, SR_COUNT_, sriov_default, &t);

	if (r)
		return r;
	for (size_t i = 0; i < job->sriov.n; i++) {
		const struct vb_sriov_item *it = &job->sriov.items[i];
		char rule[32];
		int row = vb_table_row(t, -1);

		if (row < 0)
			break;
		snprintf(rule, sizeof(rule), "%u", job->cfg.rules[it->rule].line);
		vb_table_set(t, row, SR_PF, it->pf, NULL);
		vb_table_set(t, row, SR_ACTION, vb_sriov_action_name(it->action), NULL);
		vb_table_set(t, row, SR_RULE, rule, NULL);
		vb_table_set(t, row, SR_REASON, it->reason, NULL);
	}
	printf("\n");
	return table_print(t);
}

static int cmd_plan(struct opts *o, const struct cmd_args *a)
{
	struct vb_table *t = NULL;
	struct vb_job job;
	struct json j;
	bool bad;
	int r;

	if (!a->json) {
		r = table_open(o, a, "plan", plan_cols, PC_COUNT_, plan_default, &t);
		if (r)
			return r;
	}
	o->strict_config = true;
	vb_job_init(&job);
	r = plan_prepare(o, &job, &bad);
	if (r) {
		vb_table_free(t);
		vb_job_free(&job);
		return r;
	}

	if (a->json) {
		json_envelope_begin(&j, stdout, "plan", o->r.path, job.cfg.file, !bad, &job.diags);
		json_array_open(&j, "devices");
	}
	for (size_t i = 0; i < job.plan.n; i++) {
		const struct vb_plan_item *it = &job.plan.items[i];
		const struct vb_pci_dev *d = it->dev;
		char loc[VB_LOCATION_MAX], rule[32], id[16];
		const char *where = rule_location(&job, it->rule, loc, sizeof(loc));
		const char *act = vb_action_name(it->action);

		if (a->json) {
			json_object_open(&j, NULL);
			json_identity(&j, d, names_of(o));
			json_str(&j, "action", act);
			json_str(&j, "reason", it->reason);
			json_refusals(&j, it);
			json_str(&j, "rule", where);
			json_str(&j, "via", via_name(it->via));
			json_object_close(&j);
			continue;
		}
		int row = vb_table_row(t, -1);

		if (row < 0)
			break;
		snprintf(id, sizeof(id), "%04x:%04x", d->vendor, d->device);
		vb_table_set(t, row, PC_ADDRESS, d->name, NULL);
		vb_table_set(t, row, PC_ACTION, act,
			     it->action == VB_ACT_REFUSE    ? VB_COLOR_BAD
			     : it->action == VB_ACT_NOTHING ? NULL
							    : VB_COLOR_GOOD);
		vb_table_set(t, row, PC_NAME, vb_names_device(names_of(o), d->vendor, d->device),
			     NULL);
		vb_table_set(t, row, PC_ID, id, NULL);
		vb_table_set(t, row, PC_DRIVER, d->driver, NULL);
		vb_table_set(t, row, PC_RULE,
			     rule_short(&job, it->rule, it->via, -1, rule, sizeof(rule)), NULL);
		vb_table_set(t, row, PC_RULE_FILE, where, NULL);
		vb_table_set(t, row, PC_REFUSAL,
			     it->action == VB_ACT_REFUSE ? vb_refusal_code(it->refusal) : NULL,
			     NULL);
		vb_table_set(t, row, PC_REASON, it->reason, NULL);
	}
	int ret = bad ? VB_EXIT_CONFIG : VB_EXIT_SUCCESS;

	/* numvfs=: what apply (or the early binder) does to each PF first */
	if (a->json) {
		json_array_close(&j);
		json_array_open(&j, "sriov");
		for (size_t i = 0; i < job.sriov.n; i++) {
			const struct vb_sriov_item *it = &job.sriov.items[i];
			char loc[VB_LOCATION_MAX];

			json_object_open(&j, NULL);
			json_str(&j, "pf", it->pf);
			json_str(&j, "action", vb_sriov_action_name(it->action));
			json_int(&j, "numvfs", job.cfg.rules[it->rule].numvfs);
			json_int(&j, "current_numvfs", it->numvfs);
			json_int(&j, "totalvfs", it->totalvfs);
			json_str(&j, "rule", rule_location(&job, it->rule, loc, sizeof(loc)));
			json_str(&j, "reason", it->reason);
			json_object_close(&j);
		}
	}
	if (a->json) {
		json_array_close(&j);
		json_envelope_end(&j, ret);
	} else if (job.plan.n == 0) {
		vb_table_free(t);
		printf("No device selected by %s.\n", job.cfg.file);
	} else {
		r = table_print(t);
		if (r)
			ret = r;
	}
	if (!a->json && job.sriov.n > 0) {
		r = plan_sriov_table(o, a, &job);
		if (r && !ret)
			ret = r;
	}
	vb_job_free(&job);
	return ret;
}
static unsigned timeout_ms = 10000;

static unsigned lock_wait_s = VB_LOCK_WAIT_DEFAULT_S;

/* The one lock (lock.h), held until the program exits. Logs; returns an
 * exit code. */
static int take_lock(struct opts *o)
{
	long holder = 0;
	char path[VB_LOCATION_MAX];
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

/* A PF that a numvfs= rule selects: its driver's arrival (the udev rule's
 * bind event) is when its VFs can be made. */
static bool sriov_pf_of_rule(struct opts *o, const struct vb_job *job, struct vb_pci_dev *d)
{
	for (size_t i = 0; i < job->cfg.n_rules; i++)
		if (!job->cfg.rules[i].exclude && job->cfg.rules[i].numvfs &&
		    vb_rule_match(&o->r, &job->cfg.rules[i], d))
			return true;
	return false;
}

/* apply --device PF: the plan keeps the PF's VFs (those just made). */
static bool keep_vfs_of(const struct vb_root *root, struct vb_plan *plan,
			const struct vb_pci_dev *pf)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		if (vb_pci_load_physfn(root, plan->items[i].dev) == 0 &&
		    strcmp(plan->items[i].dev->pf, pf->name) == 0)
			plan->items[n++] = plan->items[i];
	plan->n = n;
	return n > 0;
}

/*
 * apply --device, before the lock: is the device selected at all? The udev
 * rule runs this for every PCI device that appears (all of them at coldplug),
 * so an unselected one must cost little, log nothing and never wait for the
 * lock. Returns -1 when it is selected, else the exit code.
 */
static int device_precheck(struct opts *o, const char *arg, struct vb_pci_addr *addr)
{
	const struct host_run h = {.o = o, .device = arg, .addr = addr, .precheck = true};
	struct vb_job_opts jo = {
		.until = VB_JOB_SELECT,
	};
	struct vb_job job;
	int r;

	if (vb_pci_addr_parse_short(arg, addr) < 0) {
		log_error("apply: '%s' is not a PCI address (expected DDDD:BB:SS.F or BB:SS.F)",
			  arg);
		return errtryhelp(), VB_EXIT_USAGE;
	}
	vb_job_init(&job);
	r = host_run(&job, &jo, &h, NULL);
	vb_job_free(&job);
	return r == 0 ? -1 : r == VB_JOB_DONE ? VB_EXIT_SUCCESS : r;
}

/* device_precheck, the config read: no rule, nothing to scan for. */
static int precheck_config(const struct host_run *h, struct vb_job *job)
{
	if (job->config_bad) {
		vb_diags_log(&job->diags);
		log_error("%s has errors: %s not considered", job->cfg.file, h->device);
		return VB_EXIT_CONFIG;
	}
	return job->cfg.n_rules == 0 ? VB_JOB_DONE : 0;
}

/* device_precheck, the scan done: 0 when the device is to be bound. */
static int precheck_device(const struct host_run *h, struct vb_job *job)
{
	struct opts *o = h->o;
	struct vb_pci_dev *d = vb_pci_find(&job->list, h->addr);
	const struct vb_sel *sel;

	if (!d) {
		log_error("apply: no PCI device %s under %s", h->device, o->r.path);
		return VB_EXIT_DEVICE;
	}
	sel = &job->sel[d - job->list.devs];
	if (sel->via == VB_VIA_NONE && !sriov_pf_of_rule(o, job, d)) {
		log_debug("%s: not selected by %s", d->name, job->cfg.file);
		return VB_JOB_DONE;
	}
	if (sel->via != VB_VIA_NONE &&
	    strcmp(d->driver, vb_rule_driver(&job->cfg, sel->rule)) == 0 &&
	    vb_pci_load_override(&o->r, d) == 0 && strcmp(d->override, d->driver) == 0) {
		/* coldplug replays the add event of every device the
		 * initramfs took: done already, no need to wait */
		log_debug("%s: already on %s", d->name, VB_TARGET_DRIVER);
		return VB_JOB_DONE;
	}
	return 0;
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

static const char *result_name(enum vb_result r)
{
	return r == VB_RES_OK        ? "ok"
	       : r == VB_RES_SKIPPED ? "skipped"
	       : r == VB_RES_FAILED  ? "failed"
				     : "pending";
}

/* apply's and release's JSON: one outcome per device. */
static void json_outcomes(struct opts *o, struct json *j, struct vb_pci_dev *const *devs,
			  const struct vb_plan_item *items, size_t n, const struct vb_outcome *out,
			  const char *action)
{
	json_array_open(j, "devices");
	for (size_t i = 0; out && i < n; i++) {
		const struct vb_pci_dev *d = items ? items[i].dev : devs[i];

		json_object_open(j, NULL);
		json_identity(j, d, names_of(o));
		json_str(j, "action", items ? vb_action_name(items[i].action) : action);
		json_str(j, "result", result_name(out[i].result));
		json_str(j, "step", out[i].result == VB_RES_FAILED ? out[i].step : NULL);
		json_str(j, "error",
			 out[i].result == VB_RES_FAILED && out[i].err ? vb_strerror(out[i].err)
								      : NULL);
		json_str(j, "driver_after", out[i].driver_after[0] ? out[i].driver_after : NULL);
		json_object_close(j);
	}
	json_array_close(j);
}

/* cmd_apply, the plan made: a config with errors applies nothing;
 * --device keeps only that device, --auto what no mark holds back. */
static int apply_planned(const struct host_run *h, struct vb_job *job)
{
	struct opts *o = h->o;

	if (job->config_bad) {
		log_error("%s has errors: nothing applied", job->cfg.file);
		return VB_EXIT_CONFIG;
	}
	if (h->device) {
		/* only this device: the others are another event's (or the unit's) */
		struct vb_pci_dev *d = vb_pci_find(&job->list, h->addr);
		bool pf = d && job->sel[d - job->list.devs].via == VB_VIA_NONE &&
			  sriov_pf_of_rule(o, job, d);

		if (!d || !(pf ? keep_vfs_of(&o->r, &job->plan, d)
			       : vb_plan_keep_device(&job->plan, d))) {
			log_info("%s: no longer selected or present", h->device);
			return VB_JOB_DONE;
		}
	}
	if (h->automatic) {
		apply_marks(o, job);
		if (h->device && job->plan.n == 0)
			return VB_JOB_DONE; /* given back: said so */
	}
	return 0;
}

static int cmd_apply(struct opts *o, const struct cmd_args *a)
{
	struct vb_apply_opts ao = {.unbind_timeout_ms = timeout_ms, .dry_run = a->dry_run};
	const struct vb_outcome *out = NULL; /* job.out once applied */
	struct host_run h = {.o = o, .device = a->device, .apply = true, .automatic = a->automatic};
	struct vb_storage_policy pol;
	const struct vb_plan_guard guard = {vb_storage_guard, &pol};
	struct vb_job_opts jo = {
		.create_vfs = true, /* numvfs=: made first, so that planning sees them */
		.guards = &guard,
		.n_guards = 1,
		.apply = &ao,
		.t0_ms = vb_now_ms(),
		/* the unit on a machine whose config has no rule, and coldplug
		 * replaying an event for every device the initramfs took: said at
		 * debug level */
		.summary_flags = (a->automatic ? VB_SUMMARY_QUIET_NONE : 0) |
				 (a->device ? VB_SUMMARY_QUIET_NOTHING : 0),
	};
	struct vb_apply_summary sum;
	struct vb_pci_addr addr;
	struct vb_job job;
	int r;

	o->strict_config = true;
	if (a->automatic) {
		/* the unit and the udev rule obey the boot's switches, as the
		 * early binder does: vfio-bind=off is the way back from a taken
		 * display, for the whole boot */
		struct vb_boot_switches sw;

		(void)vb_boot_switches_read(&o->r, &sw);
		if (sw.mode == VB_BOOT_OFF) {
			vb_log(a->device ? VB_LOG_DEBUG : VB_LOG_NOTICE,
			       "disabled by vfio-bind=off on the kernel command line");
			return VB_EXIT_SUCCESS;
		}
		if (sw.mode == VB_BOOT_DRY_RUN)
			ao.dry_run = true;
	}
	if (a->device) {
		o->device_mode = true;
		r = device_precheck(o, a->device, &addr);
		if (r >= 0)
			return r;
	}
	if (!ao.dry_run && (r = take_lock(o)))
		return r;
	h.addr = &addr;
	h.dry_run = ao.dry_run;
	jo.log_diags = host_log_diags(o);
	vb_job_init(&job);
	vb_storage_policy_init(&pol, &o->r, &job.cfg);
	r = host_run(&job, &jo, &h, &sum);
	vb_storage_policy_free(&pol);
	if (r == VB_JOB_DONE) {
		r = VB_EXIT_SUCCESS;
	} else if (r == 0) {
		out = job.out;
		r = sum.failed > 0 ? VB_EXIT_DEVICE
		    : sum.refused  ? VB_EXIT_REFUSED
				   : VB_EXIT_SUCCESS;
	}
	if (a->json && (r != VB_EXIT_FAILURE || out)) {
		struct json j;

		json_envelope_begin(&j, stdout, "apply", o->r.path, job.cfg.file, !job.config_bad,
				    &job.diags);
		json_bool(&j, "dry_run", ao.dry_run);
		json_outcomes(o, &j, NULL, job.plan.items, job.plan.n, out, NULL);
		json_envelope_end(&j, r);
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

static int cmd_release(struct opts *o, const struct cmd_args *args)
{
	struct vb_apply_opts ao = {.unbind_timeout_ms = timeout_ms};
	struct vb_pci_dev **devs = NULL;
	struct vb_outcome *out = NULL;
	struct vb_job job;
	size_t n = 0;
	bool bad = false, ran = false;
	int r, ret = VB_EXIT_SUCCESS;

	if ((r = take_lock(o)))
		return r;
	vb_job_init(&job);
	r = prepare(o, &job, false, &bad);
	if (r)
		goto out;
	devs = calloc(job.list.n + (size_t)args->argc + 1, sizeof(*devs));
	if (!devs) {
		r = VB_EXIT_FAILURE;
		goto out;
	}
	if (args->argc > 0) {
		for (int i = 0; i < args->argc; i++) {
			struct vb_pci_addr pa;
			struct vb_pci_dev *d;

			if (vb_pci_addr_parse_short(args->argv[i], &pa) < 0) {
				log_error("release: '%s' is not a PCI address (expected "
					  "DDDD:BB:SS.F or BB:SS.F)",
					  args->argv[i]);
				r = VB_EXIT_USAGE;
				goto out;
			}
			d = vb_pci_find(&job.list, &pa);
			if (!d) {
				log_error("release: no PCI device %s under %s", args->argv[i],
					  o->r.path);
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
	r = release_vms(o, &job, devs, &n, args->force);
	if (r)
		ret = r;
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		r = VB_EXIT_FAILURE;
		goto out;
	}
	r = vb_release(&o->r, devs, n, &ao, out);
	ran = true;
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
	if (args->json && (ran || r == VB_EXIT_CONFIG || r == VB_EXIT_USAGE)) {
		struct json j;

		json_envelope_begin(&j, stdout, "release", o->r.path, job.cfg.file, !bad,
				    &job.diags);
		json_bool(&j, "dry_run", false);
		json_outcomes(o, &j, devs, NULL, ran ? n : 0, out, "release");
		json_envelope_end(&j, r);
	}
	free(out);
	free(devs);
	vb_job_free(&job);
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

/* Adds the module set of every driver= of the config (variant drivers,
 * pci-stub) to set, each module once. A driver the kernel lacks is an error
 * naming the rule. Returns 0 or an exit code (logged). */
static int resolve_drivers(struct opts *o, const struct vb_job *job, const char *kver,
			   struct vb_modset *set)
{
	for (size_t i = 0; i < job->cfg.n_rules; i++) {
		const char *drv = job->cfg.rules[i].driver;
		struct vb_modset more;
		bool seen = false;
		int r;

		if (!drv[0] || strcmp(drv, VB_TARGET_DRIVER) == 0)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(job->cfg.rules[k].driver, drv) == 0;
		if (seen)
			continue;
		r = vb_modset_resolve(&o->r, kver, drv, &more);
		if (r == -ENOENT) {
			log_error("%s:%u: driver=%s: kernel %s has no such module (neither in "
				  "lib/modules/%s nor built in)\n  hint: vfio-pci variant drivers "
				  "exist only in kernels built with them; 'modinfo -k %s %s' tells",
				  job->cfg.file, job->cfg.rules[i].line, drv, kver, kver, kver,
				  drv);
			return VB_EXIT_ENV;
		}
		if (r < 0) {
			log_error("cannot resolve %s in kernel %s: %s", drv, kver, vb_strerror(r));
			return VB_EXIT_ENV;
		}
		for (size_t m = 0; m < more.n; m++) {
			bool dup = false;
			char **v;

			for (size_t k = 0; k < set->n && !dup; k++)
				dup = strcmp(set->names[k], more.names[m]) == 0;
			if (dup)
				continue;
			v = realloc(set->names, (set->n + 1) * sizeof(*v));
			if (!v) {
				vb_modset_free(&more);
				return VB_EXIT_FAILURE;
			}
			set->names = v;
			set->names[set->n++] = more.names[m];
			more.names[m] = NULL;
		}
		vb_modset_free(&more);
	}
	return 0;
}

static int cmd_modules(struct opts *o, const struct cmd_args *a)
{
	struct vb_modset set = {0};
	struct vb_job job;
	char *kver = NULL;
	bool bad;
	int r;

	/* the drivers that driver= names come with vfio-pci's set */
	vb_job_init(&job);
	r = load_config(o, &job, false, &bad);
	if (r == 0 && bad) {
		vb_diags_log(&job.diags);
		r = VB_EXIT_CONFIG;
	}
	if (r == 0)
		r = resolve_vfio(o, a->kver, &set, &kver);
	if (r == 0) {
		r = resolve_drivers(o, &job, kver, &set);
		if (r)
			vb_modset_free(&set);
	}
	if (r == 0 && !a->json) {
		for (size_t i = 0; i < set.n; i++)
			printf("%s\n", set.names[i]);
		if (set.builtin)
			log_info("vfio-pci is built into %s", kver);
	}
	if (a->json) {
		struct json j;

		json_envelope_begin(&j, stdout, "modules", o->r.path, NULL, -1, NULL);
		json_str(&j, "kernel_release", kver ? kver : a->kver);
		if (r == 0)
			json_bool(&j, "builtin", set.builtin);
		else
			json_null(&j, "builtin");
		json_array_open(&j, "modules");
		for (size_t i = 0; r == 0 && i < set.n; i++)
			json_str(&j, NULL, set.names[i]);
		json_array_close(&j);
		json_envelope_end(&j, r);
	}
	if (r == 0)
		vb_modset_free(&set);
	free(kver);
	vb_job_free(&job);
	return r;
}
/* check's device part, planned as apply would (r: the plan's result): fails
 * on every device the storage policy refuses, naming the rule that selects
 * it. pol is the plan's guard's (the snapshot reuses its scan). */
static int check_storage(struct vb_job *job, struct vb_storage_policy *pol, int r)
{
	const struct vb_storage *st;
	int ret = 0;

	if (r < 0) {
		log_error("cannot plan: %s", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	st = vb_storage_policy_scan(pol);
	if (st && !st->root_found)
		log_warning("cannot tell which controller holds the root filesystem: %s; no "
			    "mass-storage controller (class 01) is taken without allow-storage=yes",
			    st->root_unresolved[0] ? st->root_unresolved : "nothing names it");
	for (size_t i = 0; i < job->plan.n; i++) {
		const struct vb_plan_item *it = &job->plan.items[i];
		char loc[VB_LOCATION_MAX];
		const char *where;

		/* a mapping that no longer fits: Proxmox refuses it at VM start;
		 * the boot does the same, the image can still be built */
		if (it->refusals & (1u << VB_REFUSE_MAPPING) &&
		    !(it->refusals & VB_REFUSALS_STORAGE)) {
			where = rule_location(job, it->rule, loc, sizeof(loc));
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
		where = rule_location(job, it->rule, loc, sizeof(loc));
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

/* numvfs= against this machine's PFs (r: the SR-IOV plan's result): more
 * VFs than a PF supports is an error; a PF that has another count is left
 * alone at boot (a warning). */
static int check_sriov(struct vb_job *job, int r)
{
	int ret = 0;

	if (r < 0) {
		log_error("cannot read the SR-IOV state: %s", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	for (size_t i = 0; i < job->sriov.n; i++) {
		const struct vb_sriov_item *it = &job->sriov.items[i];
		char loc[VB_LOCATION_MAX];
		const char *where = vb_rule_location(&job->cfg, it->rule, loc, sizeof(loc));

		if (it->action == VB_SRIOV_TOO_MANY || it->action == VB_SRIOV_FAILED) {
			log_error("%s: %s: %s", where, it->pf, it->reason);
			ret = VB_EXIT_CONFIG;
		} else if (it->action == VB_SRIOV_MISMATCH) {
			log_warning("%s: %s: %s", where, it->pf, it->reason);
		}
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

/* What check does between the steps of the run. */
struct check_run {
	struct host_run h;
	const struct cmd_args *a;
	bool devices; /* sys/bus/pci/devices exists: they are checked */
	struct vb_storage_policy *pol;
	struct vb_modset *set;
	char **kver;
	bool *have_set;
};

/* The config read (with devices: and scanned): one with errors stops the
 * check; --kernel resolves the modules it needs. */
static int check_config(const struct check_run *c, struct vb_job *job)
{
	int r;

	if (job->config_bad)
		return VB_EXIT_CONFIG;
	if (!c->a->kver)
		return 0;
	r = resolve_vfio(c->h.o, c->a->kver, c->set, c->kver);
	*c->have_set = r == 0;
	if (r == 0)
		r = resolve_drivers(c->h.o, job, *c->kver, c->set);
	return r;
}

static int check_step(struct vb_job *job, const struct vb_root *root, enum vb_job_step step, int r,
		      void *userdata)
{
	const struct check_run *c = userdata;

	switch (step) {
	case VB_JOB_CONFIG:
		return host_step(job, root, step, r, (void *)&c->h);
	case VB_JOB_MAPPINGS:
		r = host_step(job, root, step, r, (void *)&c->h);
		if (r || c->devices)
			return r;
		vb_diags_log(&job->diags);
		return check_config(c, job);
	case VB_JOB_SELECT:
		r = host_step(job, root, step, r, (void *)&c->h);
		return r ? r : check_config(c, job);
	case VB_JOB_SRIOV:
		return check_sriov(job, r);
	case VB_JOB_PLAN:
		return check_storage(job, c->pol, r);
	case VB_JOB_APPLY:
		break;
	}
	return 0;
}

static int cmd_check(struct opts *o, const struct cmd_args *a)
{
	struct vb_storage_policy pol;
	const struct vb_plan_guard guard = {vb_storage_guard, &pol};
	struct vb_modset set = {0};
	struct vb_job job;
	char *kver = NULL;
	bool have_set = false;
	struct check_run c = {
		.h = {.o = o, .need_config = true},
		.a = a,
		.pol = &pol,
		.set = &set,
		.kver = &kver,
		.have_set = &have_set,
	};
	struct vb_job_opts jo = {
		.log_diags = VB_JOB_LOG_DIAGS_ALL,
		.guards = &guard,
		.n_guards = 1,
		.step = check_step,
		.userdata = &c,
	};
	int r;

	o->strict_config = true;
	vb_job_init(&job);
	vb_storage_policy_init(&pol, &o->r, NULL);
	/* the initramfs hook may run in a chroot without sysfs: config only */
	c.devices = vb_exists(&o->r, "sys/bus/pci/devices");
	/* the devices: planned as apply would, the VFs of numvfs= rules too */
	jo.until = c.devices ? VB_JOB_PLAN : VB_JOB_MAPPINGS;
	r = host_run(&job, &jo, &c.h, NULL);
	if (r == 0 && !c.devices)
		log_info("no sys/bus/pci/devices under %s: devices not checked", o->r.path);
	if (r == 0 && a->snapshot)
		r = write_snapshot(o, &job, &pol, c.devices, kver ? kver : a->kver, a->snapshot);
	if (r == 0 && a->mappings && vb_config_uses_mappings(&job.cfg))
		r = write_mappings(&job, a->mappings);
	if (r == 0)
		log_info("%s: %zu rule(s), valid", job.cfg.file, job.cfg.n_rules);
	if (a->json) {
		struct json j;

		json_envelope_begin(&j, stdout, "check", o->r.path, job.cfg.file,
				    job.cfg.file ? !job.config_bad : -1, &job.diags);
		json_int(&j, "rules", (long)job.cfg.n_rules);
		json_bool(&j, "devices_checked", c.devices && r != VB_EXIT_CONFIG);
		json_str(&j, "kernel_release", kver ? kver : a->kver);
		json_array_open(&j, "vfio_modules");
		for (size_t i = 0; have_set && i < set.n; i++)
			json_str(&j, NULL, set.names[i]);
		json_array_close(&j);
		json_str(&j, "snapshot", a->snapshot);
		json_envelope_end(&j, r);
	}
	if (have_set)
		vb_modset_free(&set);
	vb_storage_policy_free(&pol);
	free(kver);
	vb_job_free(&job);
	return r;
}

static int cmd_doctor(struct opts *o, const struct cmd_args *a)
{
	struct vb_doctor_opts d = {
		.config = o->config,
		.json = a->json,
		.kver = a->kver,
		.color = o->color,
		.names = names_of(o),
	};

	return vb_doctor(&o->r, &d);
}

static int cmd_iommu(struct opts *o, const struct cmd_args *a)
{
	if (a->apply && a->remove) {
		log_error("iommu: --apply and --remove exclude each other");
		errtryhelp();
		return VB_EXIT_USAGE;
	}
	return vb_cmd_iommu(&o->r,
			    a->apply    ? VB_IOMMU_APPLY
			    : a->remove ? VB_IOMMU_REMOVE
					: VB_IOMMU_SHOW,
			    a->kver, a->json);
}

static int cmd_import(struct opts *o, const struct cmd_args *a)
{
	/* the names only for JSON's identity: the text has none */
	return vb_cmd_import(&o->r, o->config, a->write, a->json, a->json ? names_of(o) : NULL);
}

/* ------------------------------------------------------------------------ */
/* The command line */

/* An option of one or more commands. The same letter may mean different
 * things to different commands (-n: apply --dry-run, status --noheadings),
 * never to one command. */
enum {
	OPT_JSON = 0x100,
	OPT_KERNEL,
	OPT_DRY_RUN,
	OPT_SNAPSHOT,
	OPT_OUTPUT,
	OPT_NOHEADINGS,
	OPT_RAW,
	OPT_SLOT,
	OPT_ID,
	OPT_COLOR,
	OPT_MAPPINGS,
	OPT_FORCE,
	OPT_DEVICE,
	OPT_AUTO,
	OPT_KMSG,
	OPT_APPLY,
	OPT_REMOVE,
	OPT_WRITE,
};

struct cmdopt {
	int id;
	const char *name; /* long name */
	int has_arg;
	char shortc; /* 0: long only */
	const char *arg, *help;
};

#define O_JSON                                                                                     \
	{                                                                                          \
		OPT_JSON, "json", no_argument, 'J', NULL, "JSON output (see vfio-bind(8))"         \
	}
#define O_KERNEL                                                                                   \
	{                                                                                          \
		OPT_KERNEL, "kernel", required_argument, 'k', "<ver>",                             \
			"the kernel release to check (default: the running one)"                   \
	}
#define O_OUTPUT                                                                                   \
	{                                                                                          \
		OPT_OUTPUT, "output", required_argument, 'o', "<list>",                            \
			"columns to show (+<list> adds to the default)"                            \
	}
#define O_NOHEADINGS                                                                               \
	{                                                                                          \
		OPT_NOHEADINGS, "noheadings", no_argument, 'n', NULL, "no header line"             \
	}
#define O_RAW                                                                                      \
	{                                                                                          \
		OPT_RAW, "raw", no_argument, 0, NULL, "raw output: no alignment, no truncation"    \
	}
#define O_END                                                                                      \
	{                                                                                          \
		0, NULL, 0, 0, NULL, NULL                                                          \
	}

static const struct cmdopt status_opts[] = {
	{OPT_SLOT, "slot", required_argument, 's', "<slot>",
	 "only devices at [DDDD:]BB:SS[.F] (lspci -s)"},
	{OPT_ID, "id", required_argument, 'd', "<vendor>:[<device>]",
	 "only devices with this ID (lspci -d)"},
	O_OUTPUT,
	O_NOHEADINGS,
	O_RAW,
	O_JSON,
	O_END,
};
static const struct cmdopt plan_opts[] = {O_OUTPUT, O_NOHEADINGS, O_RAW, O_JSON, O_END};
static const struct cmdopt apply_opts[] = {
	{OPT_DRY_RUN, "dry-run", no_argument, 'n', NULL, "say what would change, write nothing"},
	{OPT_DEVICE, "device", required_argument, 'd', "<address>",
	 "only this device (the udev rule's hotplug entry)"},
	{OPT_AUTO, "auto", no_argument, 'a', NULL,
	 "as the unit and udev run it (vfio-bind=off, released)"},
	O_JSON,
	O_END,
};
static const struct cmdopt release_opts[] = {
	{OPT_FORCE, "force", no_argument, 'f', NULL, "even from a running Proxmox VM"},
	O_JSON,
	O_END,
};
static const struct cmdopt check_opts[] = {
	O_KERNEL,
	{OPT_SNAPSHOT, "snapshot", required_argument, 's', "<file>",
	 "write the hardware snapshot for the initramfs"},
	{OPT_MAPPINGS, "mappings", required_argument, 'm', "<file>",
	 "write the Proxmox VE mappings for the initramfs"},
	O_JSON,
	O_END,
};
static const struct cmdopt kernel_opts[] = {O_KERNEL, O_JSON, O_END};
static const struct cmdopt iommu_opts[] = {
	{OPT_APPLY, "apply", no_argument, 'a', NULL,
	 "write the words where the boot loader reads them, refresh it"},
	{OPT_REMOVE, "remove", no_argument, 'R', NULL, "undo exactly what apply wrote"},
	O_KERNEL,
	O_JSON,
	O_END,
};
static const struct cmdopt import_opts[] = {
	{OPT_WRITE, "write", no_argument, 0, NULL,
	 "append the rules, comment out the old lines (backups kept)"},
	O_JSON,
	O_END,
};

/* Options of every command, before or after its name. */
static const struct cmdopt global_opts[] = {
	{'r', "root", required_argument, 'r', "<dir>",
	 "use <dir> as the root of every path (default /)"},
	{'c', "config", required_argument, 'c', "<file>",
	 "configuration file (default <root>/etc/vfio-bind.conf)"},
	{'t', "timeout", required_argument, 't', "<ms>",
	 "give up on an unbind after <ms> (default 10000)"},
	{'w', "wait", required_argument, 'w', "<sec>",
	 "wait up to <sec> for another vfio-bind (default 60)"},
	{OPT_KMSG, "kmsg", no_argument, 0, NULL, "log to the kernel log, as the udev rule does"},
	{OPT_COLOR, "color", optional_argument, 0, "[=<when>]",
	 "colour: auto (default), always or never"},
	{'v', "verbose", no_argument, 'v', NULL, "more messages (repeat for debug)"},
	{'q', "quiet", no_argument, 'q', NULL, "errors only"},
	{'h', "help", no_argument, 'h', NULL, "display this help"},
	{'V', "version", no_argument, 'V', NULL, "display version"},
	O_END,
};

struct command {
	const char *name;
	int (*fn)(struct opts *o, const struct cmd_args *a);
	const struct cmdopt *opts;
	const char *args; /* positional arguments, NULL: none */
	const char *summary;
	const struct vb_coldef *cols;
	size_t n_cols;
};

/* The commands. A new one is a line here, its options above and its
 * function; --help, completion words and option placement come with it. */
static const struct command commands[] = {
	{"status", cmd_status, status_opts, "[<address>]",
	 "every PCI device, its driver and the rule selecting it", status_cols, SC_COUNT_},
	{"plan", cmd_plan, plan_opts, NULL, "what apply would do to each selected device, and why",
	 plan_cols, PC_COUNT_},
	{"apply", cmd_apply, apply_opts, NULL, "bind the selected devices to vfio-pci", NULL, 0},
	{"release", cmd_release, release_opts, "[<address>...]",
	 "give devices back to their native drivers", NULL, 0},
	{"check", cmd_check, check_opts, NULL, "validate the configuration and the target kernel",
	 NULL, 0},
	{"modules", cmd_modules, kernel_opts, NULL, "print the modules vfio-pci needs in a kernel",
	 NULL, 0},
	{"doctor", cmd_doctor, kernel_opts, NULL, "will passthrough work here, and what to fix",
	 NULL, 0},
	{"iommu", cmd_iommu, iommu_opts, NULL, "the IOMMU words of the kernel command line", NULL,
	 0},
	{"import", cmd_import, import_opts, NULL, "rules from the old vfio-pci recipe", NULL, 0},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* util-linux's layout: 26 columns of option, then its help (on the next
 * line when the option is longer), within 80 columns. */
static void print_opts(const struct cmdopt *v)
{
	for (; v->name; v++) {
		char left[64];

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s", v->shortc ? "-" : "   ",
			 v->shortc ? v->shortc : ' ', v->shortc ? ", " : " ", v->name,
			 v->arg && v->has_arg == required_argument ? " " : "",
			 v->arg ? v->arg : "");
		if (strlen(left) > 24)
			printf(" %s\n %-24s %s\n", left, "", v->help);
		else
			printf(" %-24s %s\n", left, v->help);
	}
}

static void usage(void)
{
	fputs("Usage:\n"
	      " vfio-bind [options] <command> [<args>]\n"
	      "\n"
	      "Bind PCI devices declared in /etc/vfio-bind.conf to vfio-pci.\n"
	      "\n"
	      "Commands:\n",
	      stdout);
	for (size_t i = 0; i < N_COMMANDS; i++)
		printf(" %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nOptions:\n", stdout);
	print_opts(global_opts);
	fputs("\nOptions may stand before or after the command; 'vfio-bind <command> --help'\n"
	      "shows the options of a command.\n"
	      "For more details see vfio-bind(8) and vfio-bind.conf(5).\n",
	      stdout);
}

static void command_usage(const struct command *c)
{
	printf("Usage:\n vfio-bind %s [options]%s%s\n\n%c%s.\n", c->name, c->args ? " " : "",
	       c->args ? c->args : "", c->summary[0] - 'a' + 'A', c->summary + 1);
	fputs("\nOptions:\n", stdout);
	print_opts(c->opts);
	fputs("\nGlobal options:\n", stdout);
	print_opts(global_opts);
	if (c->cols) {
		fputs("\nAvailable output columns:\n", stdout);
		vb_table_help(c->cols, c->n_cols);
	}
	printf("\nFor more details see vfio-bind(8).\n");
}

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 32 || lb >= 32)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t k = 0; k <= lb; k++)
		d[0][k] = k;
	for (size_t i = 1; i <= la; i++)
		for (size_t k = 1; k <= lb; k++) {
			size_t cost = a[i - 1] != b[k - 1], v = d[i - 1][k] + 1;

			if (d[i][k - 1] + 1 < v)
				v = d[i][k - 1] + 1;
			if (d[i - 1][k - 1] + cost < v)
				v = d[i - 1][k - 1] + cost;
			if (i > 1 && k > 1 && a[i - 1] == b[k - 2] && a[i - 2] == b[k - 1] &&
			    d[i - 2][k - 2] + 1 < v)
				v = d[i - 2][k - 2] + 1;
			d[i][k] = v;
		}
	return d[la][lb];
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

static void unknown_command(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		size_t d = edit_distance(name, commands[i].name);

		if (d < best_d || (strncmp(name, commands[i].name, strlen(name)) == 0 && !best &&
				   strlen(name) >= 2)) {
			best_d = d < best_d ? d : best_d;
			best = commands[i].name;
		}
	}
	if (best)
		log_error("unknown command '%s'; did you mean '%s'?", name, best);
	else
		log_error("unknown command '%s'", name);
}

static const struct cmdopt *opt_by_id(const struct cmdopt *v, int id)
{
	for (; v && v->name; v++)
		if (v->id == id)
			return v;
	return NULL;
}

/* The command of argv: the first word that is neither an option nor the
 * argument of a global option. NULL when there is none. */
static const char *command_word(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || a[1] == 0)
			return a;
		if (a[1] == '-') {
			/* --root DIR, --config FILE, --timeout MS */
			for (const struct cmdopt *g = global_opts; g->name; g++)
				if (g->has_arg == required_argument && strcmp(a + 2, g->name) == 0)
					i++;
			continue;
		}
		/* -vr DIR: a global letter taking an argument ends the cluster */
		for (const char *p = a + 1; *p; p++) {
			const struct cmdopt *g = NULL;

			for (const struct cmdopt *x = global_opts; x->name; x++)
				if (x->shortc == *p)
					g = x;
			if (g && g->has_arg == required_argument) {
				if (p[1] == 0)
					i++;
				break;
			}
		}
	}
	return NULL;
}

/* Is `opt` (as written) an option of any command? For "does not apply". */
static bool option_of_another(const char *opt)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		for (const struct cmdopt *v = commands[i].opts; v->name; v++) {
			size_t len = strcspn(opt + 2, "=");

			if (opt[1] == '-'
				    ? strlen(v->name) == len && strncmp(v->name, opt + 2, len) == 0
				    : v->shortc && v->shortc == opt[1])
				return true;
		}
	return false;
}

static int parse_timeout(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || s[0] == '-' || v == 0 || v > 3600000) {
		log_error("invalid --timeout '%s': milliseconds, 1 to 3600000", s);
		return -EINVAL;
	}
	timeout_ms = (unsigned)v;
	return 0;
}

int vb_main(int argc, char **argv, const struct vb_kernel_ops *ops)
{
	static struct vb_kernel_ops host_ops;
	struct option longopts[64];
	char shortopts[128] = "+:";
	const struct command *cmd = NULL;
	const char *word = command_word(argc, argv);
	enum vb_color_mode color = VB_COLOR_AUTO;
	struct cmd_args a = {0};
	struct opts o = {0};
	bool help = false, version = false, kmsg = false;
	char **pos;
	int c, r, n = 0, verbosity = 0;

	if (word) {
		cmd = find_command(word);
		if (!cmd) {
			unknown_command(word);
			return errtryhelp(), VB_EXIT_USAGE;
		}
	}
	/* one getopt pass over global and command options, in any order (the
	 * command's word is skipped as a positional argument) */
	size_t sl = 2;
	for (int pass = 0; pass < 2; pass++)
		for (const struct cmdopt *v = pass ? (cmd ? cmd->opts : NULL) : global_opts;
		     v && v->name; v++) {
			longopts[n++] = (struct option){v->name, v->has_arg, NULL, v->id};
			if (v->shortc) {
				shortopts[sl++] = v->shortc;
				if (v->has_arg == required_argument)
					shortopts[sl++] = ':';
			}
		}
	shortopts[sl] = 0;
	longopts[n] = (struct option){NULL, 0, NULL, 0};
	/* permute: "-" would keep order; '+' is dropped so options may follow */
	memmove(shortopts, shortopts + 1, sl);

	pos = calloc((size_t)argc + 1, sizeof(*pos));
	if (!pos)
		return VB_EXIT_FAILURE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int id = c;

		/* a short letter of the command maps to its option id */
		if (cmd && c > 0 && c < 0x100 && !opt_by_id(global_opts, c))
			for (const struct cmdopt *v = cmd->opts; v->name; v++)
				if (v->shortc == c)
					id = v->id;
		switch (id) {
		case 'r':
			o.root = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 't':
			if (parse_timeout(optarg) < 0)
				goto usage_error;
			break;
		case OPT_COLOR:
			if (vb_color_parse(optarg, &color) < 0) {
				log_error("invalid --color '%s': auto, always or never", optarg);
				goto usage_error;
			}
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			version = true;
			break;
		case OPT_JSON:
			a.json = true;
			break;
		case OPT_KERNEL:
			a.kver = optarg;
			break;
		case OPT_DRY_RUN:
			a.dry_run = true;
			break;
		case OPT_SNAPSHOT:
			a.snapshot = optarg;
			break;
		case OPT_OUTPUT:
			a.output = optarg;
			break;
		case OPT_NOHEADINGS:
			a.noheadings = true;
			break;
		case OPT_RAW:
			a.raw = true;
			break;
		case OPT_SLOT:
			a.slot = optarg;
			break;
		case OPT_ID:
			a.id = optarg;
			break;
		case 'w': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || v > 3600) {
				log_error("invalid --wait '%s': seconds, 0 to 3600", optarg);
				goto usage_error;
			}
			lock_wait_s = (unsigned)v;
			break;
		}
		case OPT_KMSG:
			kmsg = true;
			break;
		case OPT_DEVICE:
			a.device = optarg;
			break;
		case OPT_AUTO:
			a.automatic = true;
			break;
		case OPT_MAPPINGS:
			a.mappings = optarg;
			break;
		case OPT_APPLY:
			a.apply = true;
			break;
		case OPT_REMOVE:
			a.remove = true;
			break;
		case OPT_WRITE:
			a.write = true;
			break;
		case OPT_FORCE:
			a.force = true;
			break;
		case ':':
			log_error("option '%s' requires an argument", argv[optind - 1]);
			goto usage_error;
		default: {
			const char *bad = argv[optind - 1];
			char sh[3] = {'-', (char)optopt, 0};

			if (optopt && bad[1] == '-')
				bad = sh; /* getopt gives the letter, not the word */
			else if (optopt && (bad[0] != '-' || bad[1] != optopt))
				bad = sh;
			if (cmd && option_of_another(bad))
				log_error("option '%s' does not apply to '%s'", bad, cmd->name);
			else
				log_error("unrecognized option '%s'", bad);
			goto usage_error;
		}
		}
	}
	for (int i = optind; i < argc; i++)
		pos[a.argc++] = argv[i];
	/* the command's own word is the first positional argument */
	if (cmd && a.argc > 0 && strcmp(pos[0], cmd->name) == 0) {
		a.argv = pos + 1;
		a.argc--;
	} else {
		a.argv = pos;
	}
	if (help) {
		if (cmd)
			command_usage(cmd);
		else
			usage();
		free(pos);
		return VB_EXIT_SUCCESS;
	}
	if (version) {
		printf("vfio-bind %s\n", VB_VERSION);
		free(pos);
		return VB_EXIT_SUCCESS;
	}
	if (!cmd) {
		log_error("no command given");
		goto usage_error;
	}
	if (!cmd->args && a.argc > 0) {
		log_error("%s: unexpected argument '%s'", cmd->name, a.argv[0]);
		goto usage_error;
	}
	/* in the kernel log, one line per decision, as the early binder logs */
	if (kmsg && verbosity == 0)
		verbosity = 1;
	vb_log_set_max_priority(verbosity < 0    ? VB_LOG_ERR
				: verbosity == 0 ? VB_LOG_NOTICE
				: verbosity == 1 ? VB_LOG_INFO
						 : VB_LOG_DEBUG);
	if (a.json)
		json_capture_messages();
	/* colour is for people: JSON and raw tables never get it */
	o.color = !a.json && !a.raw && vb_color_enabled(color);

	r = vb_root_open(&o.r, o.root);
	if (r < 0) {
		log_error("cannot open root directory %s: %s", o.root ? o.root : "/",
			  vb_strerror(r));
		free(pos);
		return VB_EXIT_FAILURE;
	}
	if (kmsg) {
		/* a udev RUN program's stderr is only seen with udev debugging */
		int fd = openat(o.r.fd, "dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);

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
	r = cmd->fn(&o, &a);
	vb_lock_release();
	vb_names_close(o.names);
	vb_root_close(&o.r);
	free(pos);
	return r;

usage_error:
	free(pos);
	errtryhelp();
	return VB_EXIT_USAGE;
}
