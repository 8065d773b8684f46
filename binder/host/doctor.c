/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `vfio-bind doctor`: gathers every diagnostic into one report, then prints
 * it as text (sections, one marker per line: ok, info, warn, FAIL) or JSON.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli.h"
#include "cmdline.h"
#include "diagnose.h"
#include "doctor.h"
#include "recipe.h"
#include "initramfs.h"
#include "job.h"
#include "json.h"
#include "names.h"
#include "table.h"
#include "kmod.h"
#include "log.h"
#include "pve.h"
#include "snapshot.h"
#include "storage.h"

enum vfio_state { VFIO_UNKNOWN, VFIO_MISSING, VFIO_MODULE, VFIO_BUILTIN };
enum kdrv_state { KDRV_UNKNOWN, KDRV_NONE, KDRV_MODULE, KDRV_BUILTIN };

struct target {
	struct vb_plan_item *item;
	char modalias[256];
	char kdriver[VB_DRIVER_MAX];
	enum kdrv_state kdriver_state;
	struct vb_group_check group;
	const char *group_reported_at; /* the target whose finding covers the group */
};

struct report {
	const struct vb_root *root;
	const struct vb_doctor_opts *o;
	FILE *out;

	char running[128]; /* "" under a fake root */
	char *kver;        /* NULL: unknown */
	unsigned kver_num;
	bool have_modules; /* lib/modules/KVER exists */
	char cmdline[VB_CMDLINE_MAX];
	bool have_cmdline;
	struct vb_iommu_info iommu;
	enum vfio_state vfio;
	struct vb_modset vfio_set;

	struct vb_job job;
	bool config_exists, config_valid, scanned, planned;
	int perm_r;
	struct vb_config_perm perm;

	struct target *targets;
	size_t n_targets;

	char image[VB_LOCATION_MAX]; /* "/boot/initrd.img-KVER" */
	const char *ir_state;
	char ir_why[256];
	struct vb_initramfs ir;
	bool ir_read, ir_config_same, want_initramfs;

	struct vb_stale_list stale;
	struct vb_diags f;
	struct vb_vms vms;
};

/* ------------------------------------------------------------------------ */
/* Gathering */

static const char *class_name(uint32_t class)
{
	static const struct {
		uint32_t prefix, mask;
		const char *name;
	} t[] = {
		{0x030000, 0xffff00, "VGA"},         {0x030200, 0xffff00, "3D controller"},
		{0x030000, 0xff0000, "display"},     {0x040300, 0xffff00, "audio"},
		{0x040000, 0xff0000, "multimedia"},  {0x010800, 0xffff00, "NVMe"},
		{0x010600, 0xffff00, "SATA"},        {0x010000, 0xff0000, "storage"},
		{0x020000, 0xff0000, "network"},     {0x0c0300, 0xffff00, "USB"},
		{0x0c0500, 0xffff00, "SMBus"},       {0x0c8000, 0xffff00, "serial bus"},
		{0x060400, 0xffff00, "PCI bridge"},  {0x060000, 0xff0000, "bridge"},
		{0x080000, 0xff0000, "system"},      {0x050000, 0xff0000, "memory"},
		{0x120000, 0xff0000, "accelerator"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if ((class & t[i].mask) == t[i].prefix)
			return t[i].name;
	return "device";
}

static void gather_kernel(struct report *rep)
{
	const struct vb_root *root = rep->root;
	char path[VB_LOCATION_MAX];
	struct vb_boot_switches sw;
	int err, r;

	if (root->is_host) {
		struct utsname u;
		if (uname(&u) == 0)
			snprintf(rep->running, sizeof(rep->running), "%s", u.release);
	}
	rep->have_cmdline =
		vb_read_file(root, "proc/cmdline", rep->cmdline, sizeof(rep->cmdline)) >= 0;
	if (rep->have_cmdline)
		vb_boot_switches_parse(rep->cmdline, &sw);
	if (rep->have_cmdline && sw.mode == VB_BOOT_OFF)
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_CMDLINE_OFF, NULL, 0, 0, NULL,
			     "remove vfio-bind=off from the kernel command line when you are done",
			     "vfio-bind=off is on the kernel command line: the early binder did "
			     "nothing this boot");

	rep->kver = vb_kernel_release(root, rep->o->kver, &err);
	if (!rep->kver) {
		if (err == -EADDRNOTAVAIL)
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL,
				     "say which with --kernel",
				     "several kernels in %s/lib/modules: the target kernel is "
				     "unknown",
				     root->is_host ? "" : root->path);
		else if (err == -EINVAL)
			vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_KERNEL, NULL, 0, 0, NULL, NULL,
				     "invalid kernel release '%s'", rep->o->kver);
		else if (err == -ENOENT && !root->is_host)
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL,
				     "say which with --kernel",
				     "no kernel in %s/lib/modules: the target kernel is unknown",
				     root->path);
		else
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL,
				     "say which with --kernel",
				     "cannot tell the target kernel release: %s", vb_strerror(err));
		return;
	}
	rep->kver_num = vb_kver_num(rep->kver);
	snprintf(path, sizeof(path), "lib/modules/%s", rep->kver);
	rep->have_modules = vb_exists(root, path);
	if (!rep->have_modules) {
		bool loaded = root->is_host && strcmp(rep->kver, rep->running) == 0 &&
			      vb_exists(root, "sys/module/vfio_pci");
		if (loaded) {
			rep->vfio = VFIO_MODULE;
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL,
				     "install the modules package of this kernel",
				     "/lib/modules/%s is missing (vfio-pci is loaded, but "
				     "update-initramfs cannot add the vfio modules)",
				     rep->kver);
		} else {
			vb_diags_add(
				&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL,
				"install the modules package of this kernel, or name "
				"another with --kernel",
				"/lib/modules/%s is missing: cannot tell whether kernel %s has "
				"vfio-pci or which drivers it would bind",
				rep->kver, rep->kver);
		}
		return;
	}
	r = vb_modset_resolve(root, rep->kver, VB_TARGET_DRIVER, &rep->vfio_set);
	if (r == -ENOENT) {
		rep->vfio = VFIO_MISSING;
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_NO_VFIO, NULL, 0, 0, NULL,
			     "use a kernel built with CONFIG_VFIO_PCI (every Debian kernel has it)",
			     "kernel %s has no vfio-pci (neither a module in /lib/modules/%s nor "
			     "built in)",
			     rep->kver, rep->kver);
	} else if (r < 0) {
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_KERNEL, NULL, 0, 0, NULL, NULL,
			     "cannot resolve vfio-pci in kernel %s: %s", rep->kver, vb_strerror(r));
	} else {
		rep->vfio = rep->vfio_set.builtin ? VFIO_BUILTIN : VFIO_MODULE;
	}
}

enum take { TAKE_ALL, TAKE_ERRORS, TAKE_OTHERS };

/* Copies a config's diagnostics (vfio-bind.conf's, pci.cfg's) into the
 * findings as VB_F_CONFIG, each with its file and place. */
static void take_config_diags(struct report *rep, const struct vb_diags *d, enum take which)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct vb_diag *g = &d->v[i];
		const char *file = vb_diag_file(d, g);

		if (which != TAKE_ALL && (which == TAKE_ERRORS) != (g->severity == VB_SEV_ERROR))
			continue;
		if (!file)
			file = rep->job.cfg.file;
		vb_diags_add(&rep->f, g->severity, VB_F_CONFIG, file, g->line, g->column, NULL,
			     g->hint, "%s", g->message);
	}
}

static void gather_config(struct report *rep)
{
	const struct vb_root *root = rep->root;
	struct vb_storage_policy pol;
	char msg[VB_MESSAGE_MAX];
	int r;

	rep->perm_r = vb_config_check_perms(root, rep->o->config, msg, sizeof(msg), &rep->perm);
	if (rep->perm_r == -EPERM) {
		snprintf(msg, sizeof(msg), "chown root:root %s; chmod 644 %s", rep->perm.file,
			 rep->perm.file);
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG_PERM, NULL, 0, 0, NULL, msg,
			     "%s is unsafe: %s; check, plan and apply refuse it", rep->perm.file,
			     rep->perm.why);
	}

	r = vb_job_load_config(&rep->job, root, rep->o->config);
	rep->config_exists = r != -ENOENT;
	rep->config_valid = r == 0 || r == -ENOENT;
	if (r == -ENOENT) {
		vb_config_free(&rep->job.cfg);
		rep->job.cfg.file = strdup(rep->o->config ? rep->o->config : "/etc/vfio-bind.conf");
		if (rep->o->config)
			vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG, NULL, 0, 0, NULL, NULL,
				     "%s does not exist", rep->o->config);
	} else if (r < 0 && r != -EINVAL) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG, NULL, 0, 0, NULL, NULL,
			     "cannot read %s: %s",
			     rep->job.cfg.file ? rep->job.cfg.file : "the configuration",
			     vb_strerror(r));
	}

	if (r == 0 || r == -EINVAL) {
		/* mapping= terms: pci.cfg's own errors are the config's */
		struct vb_diags pd;

		r = vb_pve_job_mappings(root, &rep->job, &pd);
		if (r < 0)
			rep->config_valid = false;
		take_config_diags(rep, &pd, TAKE_ALL);
		vb_diags_free(&pd);
	}
	(void)vb_vms_load(root, rep->job.maps.n ? &rep->job.maps : NULL, &rep->vms);

	r = vb_job_select(&rep->job, root);
	if (r < 0) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG, NULL, 0, 0, NULL, NULL,
			     "cannot scan PCI devices under %s: %s", root->path, vb_strerror(r));
	} else {
		rep->scanned = true;
	}
	/* every diagnostic of the config and the selection, errors first */
	take_config_diags(rep, &rep->job.diags, TAKE_ERRORS);
	take_config_diags(rep, &rep->job.diags, TAKE_OTHERS);
	if (rep->job.diags.n_dropped)
		vb_diags_add(
			&rep->f,
			rep->job.diags.n_errors > rep->job.diags.n ? VB_SEV_ERROR : VB_SEV_WARNING,
			VB_F_CONFIG, NULL, 0, 0, NULL, "run vfio-bind check",
			"%zu more configuration diagnostics not shown", rep->job.diags.n_dropped);
	if (!rep->scanned)
		return;
	/* plan as apply would: with the storage veto of the host command */
	r = vb_storage_plan_job(root, &rep->job, &pol);
	vb_storage_policy_free(&pol);
	if (r < 0) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG, NULL, 0, 0, NULL, NULL,
			     "cannot plan: %s", vb_strerror(r));
		return;
	}
	rep->planned = true;
}

static void gather_targets(struct report *rep)
{
	const struct vb_root *root = rep->root;
	struct vb_fb_range *fbs = NULL;
	size_t n_fbs = 0;
	bool *is_target;
	const struct target **reported = NULL; /* one finding per non-viable group */
	size_t n_reported = 0;

	if (!rep->planned)
		return;
	if (rep->job.plan.n == 0) {
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_NO_TARGETS, NULL, 0, 0, NULL,
			     "add bind rules, see vfio-bind.conf(5) and vfio-bind status",
			     "%s selects no device: vfio-bind has nothing to do",
			     rep->job.cfg.file);
		return;
	}
	rep->targets = calloc(rep->job.plan.n, sizeof(*rep->targets));
	is_target = calloc(rep->job.list.n ? rep->job.list.n : 1, sizeof(*is_target));
	reported = calloc(rep->job.plan.n, sizeof(*reported));
	if (!rep->targets || !is_target || !reported) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_CONFIG, NULL, 0, 0, NULL, NULL,
			     "out of memory");
		free(is_target);
		free(reported);
		return;
	}
	rep->n_targets = rep->job.plan.n;
	for (size_t i = 0; i < rep->job.plan.n; i++) {
		const struct vb_plan_item *it = &rep->job.plan.items[i];
		if (it->action != VB_ACT_REFUSE)
			is_target[it->dev - rep->job.list.devs] = true;
	}
	(void)vb_diag_framebuffers(root, &fbs, &n_fbs);

	for (size_t i = 0; i < rep->n_targets; i++) {
		struct target *t = &rep->targets[i];
		struct vb_pci_dev *d;
		char loc[VB_LOCATION_MAX];
		int r;

		t->item = &rep->job.plan.items[i];
		d = t->item->dev;
		t->group.group = -1;
		(void)vb_pci_load_all(root, d);

		if (t->item->action == VB_ACT_REFUSE) {
			/* without any group, the IOMMU section says it once */
			if (!(d->iommu_group < 0 && rep->iommu.n_groups == 0))
				vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_REFUSED, NULL, 0, 0,
					     d->name, NULL, "%s is refused: %s", d->name,
					     t->item->reason);
		}

		r = vb_diag_group(root, &rep->job.list, is_target, d, rep->kver_num, &t->group);
		if (r == 0 && t->group.n_blockers > 0) {
			for (size_t k = 0; k < n_reported && !t->group_reported_at; k++)
				if (reported[k]->group.group == t->group.group)
					t->group_reported_at = reported[k]->item->dev->name;
			if (!t->group_reported_at) {
				char list[1024], hint[VB_MESSAGE_MAX];
				size_t len = 0;

				reported[n_reported++] = t;
				t->group_reported_at = d->name;
				list[0] = 0;
				for (size_t k = 0; k < t->group.n_blockers && len < sizeof(list);
				     k++) {
					int w = snprintf(list + len, sizeof(list) - len,
							 "%s%s (%s)", k ? ", " : "",
							 t->group.blockers[k].name,
							 t->group.blockers[k].driver);
					if (w > 0)
						len += (size_t)w;
				}
				const char *where = vb_rule_location(&rep->job.cfg, t->item->rule,
								     loc, sizeof(loc));
				snprintf(hint, sizeof(hint),
					 "add expand=group to the rule%s%s, or select %s too "
					 "(exclude rules can keep devices you need)",
					 where ? " at " : "", where ? where : "",
					 t->group.n_blockers == 1 ? t->group.blockers[0].name
								  : "those devices");
				vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_GROUP, NULL, 0, 0, d->name,
					     hint,
					     "IOMMU group %d of %s is not viable: %s stay%s on a "
					     "host driver, and vfio gives a VM only whole groups",
					     t->group.group, d->name, list,
					     t->group.n_blockers == 1 ? "s" : "");
			}
		}

		t->kdriver_state = KDRV_UNKNOWN;
		if (vb_diag_modalias(root, d, t->modalias, sizeof(t->modalias)) > 0 &&
		    rep->have_modules) {
			bool builtin = false;

			r = vb_kmod_driver_for_alias(root, rep->kver, t->modalias, t->kdriver,
						     sizeof(t->kdriver), &builtin);
			if (r == 0)
				t->kdriver_state = builtin ? KDRV_BUILTIN : KDRV_MODULE;
			else if (r == -ENOENT)
				t->kdriver_state = KDRV_NONE;
		}
		if (t->kdriver_state == KDRV_BUILTIN && t->item->action != VB_ACT_REFUSE)
			vb_diags_add(&rep->f, VB_SEV_NOTE, VB_F_BUILTIN, NULL, 0, 0, d->name, NULL,
				     "%s is built into kernel %s: it binds %s before the "
				     "initramfs runs; vfio-bind will unbind it at boot",
				     t->kdriver, rep->kver, d->name);

		(void)vb_diag_boot_display(root, d, rep->kver_num, fbs, n_fbs, &rep->f);

		/* Proxmox VE: the VMs that pass it through */
		{
			char vms[512];

			vb_vms_describe(&rep->vms, &d->addr, true, vms, sizeof(vms));
			if (vms[0])
				vb_diags_add(&rep->f, VB_SEV_NOTE, VB_F_VM, NULL, 0, 0, d->name,
					     NULL, "used by VM %s", vms);
		}
	}
	free(fbs);
	free(is_target);
	free(reported);
}

/* Does the config have a line the hook counts as a rule (not blank, not #)? */
static bool has_rule_lines(const char *s, size_t len)
{
	bool start = true;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\n') {
			start = true;
		} else if (start && (c == ' ' || c == '\t' || c == '\r')) {
			continue;
		} else if (start) {
			if (c != '#')
				return true;
			start = false;
		}
	}
	return false;
}

/* What the image's hardware snapshot (snapshot.h) will let the early binder
 * do at the next boot, judged against the hardware now. */
static void check_image_snapshot(struct report *rep, const char *hint)
{
	struct vb_snapshot snap;
	char why[128];
	unsigned line;

	if (!rep->ir.snapshot) {
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_SNAPSHOT, NULL, 0, 0, NULL, hint,
			     "%s has no hardware snapshot (built by an older vfio-bind): "
			     "hardware changes go unseen at boot, and no mass-storage "
			     "controller is taken without allow-storage=yes",
			     rep->image);
		return;
	}
	if (vb_snapshot_parse(rep->ir.snapshot, &snap, &line, why, sizeof(why)) < 0) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_SNAPSHOT, NULL, 0, 0, NULL, hint,
			     "%s: /%s:%u: %s: the early binder will bind nothing", rep->image,
			     VB_INITRAMFS_SNAPSHOT, line, why);
		return;
	}
	if (!snap.sysfs)
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_SNAPSHOT, NULL, 0, 0, NULL,
			     "run update-initramfs -u on the host itself, not in a chroot",
			     "%s was built without /sys (a chroot or an installer): hardware "
			     "changes go unseen at boot, and no mass-storage controller is "
			     "taken without allow-storage=yes",
			     rep->image);
	else if (!snap.root_found)
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_SNAPSHOT, NULL, 0, 0, NULL, NULL,
			     "%s was built without knowing the root's controller: no "
			     "mass-storage controller is taken at boot without "
			     "allow-storage=yes",
			     rep->image);
	/* the boot guard on a copy of each planned item: what it would refuse */
	for (size_t i = 0; snap.sysfs && i < rep->job.plan.n; i++) {
		struct vb_plan_item it = rep->job.plan.items[i];

		it.action = VB_ACT_BIND;
		it.refusal = VB_REFUSE_NONE;
		it.refusals = 0;
		if (vb_snapshot_guard(rep->root, &rep->job.cfg, &it, &snap) < 0 ||
		    !(it.refusals & ((1u << VB_REFUSE_HW_CHANGED) | (1u << VB_REFUSE_PROTECTED))))
			continue;
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_SNAPSHOT, NULL, 0, 0, it.dev->name, hint,
			     "the next boot will not take it: %s", it.reason);
	}
	vb_snapshot_free(&snap);
}

/* The image's Proxmox mappings against pci.cfg now: the boot takes what
 * the image says, so a changed mapping needs a new image. */
static void check_image_mappings(struct report *rep, const char *hint)
{
	struct vb_mappings old;
	char why[128], *now = NULL;
	size_t now_len = 0;
	unsigned line;
	FILE *f;

	if (!vb_config_uses_mappings(&rep->job.cfg))
		return;
	if (!rep->ir.mappings) {
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_MAPPINGS, NULL, 0, 0, NULL, hint,
			     "%s has no /%s: the rules with mapping= select nothing at boot",
			     rep->image, VB_INITRAMFS_MAPPINGS);
		return;
	}
	if (vb_mappings_parse(rep->ir.mappings, &old, &line, why, sizeof(why)) < 0) {
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_MAPPINGS, NULL, 0, 0, NULL, hint,
			     "%s: /%s:%u: %s: the early binder will bind nothing", rep->image,
			     VB_INITRAMFS_MAPPINGS, line, why);
		return;
	}
	if (!rep->job.maps.source[0] || strcmp(old.digest, rep->job.maps.digest) == 0) {
		vb_mappings_free(&old);
		return;
	}
	/* pci.cfg changed: does what this node's rules use differ? */
	f = open_memstream(&now, &now_len);
	if (f) {
		(void)vb_pve_mappings_write(f, &rep->job.maps, &rep->job.cfg);
		fclose(f);
	}
	{
		const char *a = now ? strstr(now, "\nmapping ") : NULL;
		const char *b = strstr(rep->ir.mappings, "\nmapping ");
		bool same = strcmp(old.node, rep->job.maps.node) == 0 &&
			    ((!a && !b) || (a && b && strcmp(a, b) == 0));

		if (same)
			vb_diags_add(&rep->f, VB_SEV_NOTE, VB_F_MAPPINGS, NULL, 0, 0, NULL, NULL,
				     "%s changed after %s was built, not in the mappings this "
				     "node's rules use",
				     rep->job.maps.source, rep->image);
		else
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_MAPPINGS, NULL, 0, 0, NULL, hint,
				     "%s changed after %s was built: the next boot takes the "
				     "devices of the old mappings",
				     rep->job.maps.source, rep->image);
	}
	free(now);
	vb_mappings_free(&old);
}

/* Copies the value of the first "key=" line of a record to buf; false when
 * there is none. */
static bool record_value(const char *rec, size_t len, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);

	for (const char *p = rec; p < rec + len;) {
		const char *nl = memchr(p, '\n', (size_t)(rec + len - p));
		const char *end = nl ? nl : rec + len;

		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			snprintf(buf, size, "%.*s", (int)(end - p - klen - 1), p + klen + 1);
			return true;
		}
		p = end + 1;
	}
	return false;
}

/* The hook, run under dpkg with a config it could not use, built the image
 * without vfio-bind and left a record (initramfs-hooks/vfio-bind,
 * vfio-bind(8) INITRAMFS). */
static void gather_skipped(struct report *rep)
{
	char rel[VB_LOCATION_MAX], *rec = NULL, hint[VB_LOCATION_MAX + 200];
	char exit_s[16], date[64], pkg[256], msg[1024], detail[1024];
	const char *d = detail;
	size_t len;

	snprintf(rel, sizeof(rel), "var/lib/vfio-bind/initramfs-skipped/%s", rep->kver);
	if (vb_read_all(rep->root, rel, 64u << 10, &rec, &len) < 0)
		return;
	if (!record_value(rec, len, "exit", exit_s, sizeof(exit_s)))
		snprintf(exit_s, sizeof(exit_s), "unknown");
	if (!record_value(rec, len, "date", date, sizeof(date)))
		snprintf(date, sizeof(date), "an unknown date");
	if (!record_value(rec, len, "package", pkg, sizeof(pkg)))
		snprintf(pkg, sizeof(pkg), "an unknown package");
	if (!record_value(rec, len, "message", msg, sizeof(msg)))
		snprintf(msg, sizeof(msg), "no message");
	if (!record_value(rec, len, "detail", detail, sizeof(detail)))
		detail[0] = '\0';
	if (strncmp(d, "vfio-bind: ", 11) == 0)
		d += 11; /* the check's log prefix */
	free(rec);
	snprintf(hint, sizeof(hint),
		 "run vfio-bind check --kernel %s, correct /etc/vfio-bind.conf, then "
		 "update-initramfs -u -k %s (which removes /%s)",
		 rep->kver, rep->kver, rel);
	if (d[0])
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_IR_SKIPPED, NULL, 0, 0, NULL, hint,
			     "the initramfs of kernel %s was built without vfio-bind on %s, "
			     "under dpkg for %s: the check exited %s: %s",
			     rep->kver, date, pkg, exit_s, d);
	else
		vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_IR_SKIPPED, NULL, 0, 0, NULL, hint,
			     "the initramfs of kernel %s was built without vfio-bind on %s, "
			     "under dpkg for %s: %s",
			     rep->kver, date, pkg, msg);
}

static void gather_initramfs(struct report *rep)
{
	char rel[VB_PATH_MAX], *etc = NULL, hint[VB_LOCATION_MAX + 100],
			       create[VB_LOCATION_MAX + 100];
	size_t etc_len = 0;
	int r;

	rep->ir_state = "unknown";
	if (!rep->kver) {
		snprintf(rep->ir_why, sizeof(rep->ir_why), "the target kernel is unknown");
		return;
	}
	gather_skipped(rep);
	snprintf(rel, sizeof(rel), "boot/initrd.img-%s", rep->kver);
	snprintf(rep->image, sizeof(rep->image), "/%s", rel);
	{
		/* the hook runs `vfio-bind check`, which fails on a refused
		 * storage controller: rebuilding first would only fail */
		bool refused = false;

		for (size_t k = 0; k < rep->f.n; k++)
			refused |= strcmp(rep->f.v[k].code, VB_F_REFUSED) == 0;
		snprintf(hint, sizeof(hint), "%supdate-initramfs -u -k %s",
			 refused ? "resolve the refusals above first, then " : "", rep->kver);
	}
	snprintf(create, sizeof(create), "update-initramfs -c -k %s", rep->kver);
	/* the hook copies /etc/vfio-bind.conf of the root, whatever --config says */
	if (vb_read_all(rep->root, VB_DEFAULT_CONFIG, 1u << 20, &etc, &etc_len) < 0) {
		etc = NULL;
		etc_len = 0;
	}
	rep->want_initramfs = etc && has_rule_lines(etc, etc_len);

	r = vb_initramfs_read(rep->root, rel, &rep->ir, rep->ir_why, sizeof(rep->ir_why));
	if (r == -ENOENT) {
		rep->ir_state = "absent";
		if (rep->want_initramfs)
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_INITRAMFS, NULL, 0, 0, NULL,
				     create,
				     "no initramfs image %s: the early binder cannot run at "
				     "boot of kernel %s",
				     rep->image, rep->kver);
		goto out;
	}
	if (r < 0) {
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_INITRAMFS, NULL, 0, 0, NULL,
			     "check by hand: lsinitramfs IMAGE | grep vfio-bind",
			     "cannot read %s: %s; whether it holds vfio-bind is unknown",
			     rep->image, rep->ir_why);
		goto out;
	}
	rep->ir_read = true;
	rep->ir_config_same = rep->ir.has_config && etc && rep->ir.config_len == etc_len &&
			      memcmp(rep->ir.config, etc, etc_len) == 0;
	if (rep->want_initramfs) {
		if (!rep->ir.has_binder || !rep->ir.has_script) {
			rep->ir_state = "missing";
			vb_diags_add(&rep->f, VB_SEV_ERROR, VB_F_INITRAMFS, NULL, 0, 0, NULL, hint,
				     "%s has no vfio-bind (%s missing): the devices are not "
				     "bound at boot",
				     rep->image,
				     !rep->ir.has_binder ? VB_INITRAMFS_BINDER
							 : VB_INITRAMFS_SCRIPT);
		} else if (!rep->ir_config_same) {
			rep->ir_state = "stale";
			vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_INITRAMFS, NULL, 0, 0, NULL,
				     hint,
				     "%s holds %s /etc/vfio-bind.conf: the next boot binds "
				     "what the old file says",
				     rep->image, rep->ir.has_config ? "another" : "no");
		} else {
			rep->ir_state = "current";
		}
		if (rep->ir.has_binder) {
			check_image_snapshot(rep, hint);
			check_image_mappings(rep, hint);
		}
	} else if (rep->ir.has_binder || rep->ir.has_config) {
		rep->ir_state = "stale";
		vb_diags_add(&rep->f, VB_SEV_WARNING, VB_F_INITRAMFS, NULL, 0, 0, NULL, hint,
			     "%s still has vfio-bind with a configuration, but "
			     "/etc/vfio-bind.conf has no rule now",
			     rep->image);
	} else {
		rep->ir_state = "not-needed";
	}
out:
	free(etc);
}

static void gather_stale(struct report *rep)
{
	const char **drivers = calloc(2 * rep->n_targets + 1, sizeof(*drivers));
	size_t n = 0;

	if (!drivers)
		return;
	for (size_t i = 0; i < rep->n_targets; i++) {
		const struct target *t = &rep->targets[i];
		const char *cur = t->item->dev->driver;

		if (t->item->action == VB_ACT_REFUSE)
			continue; /* stays with its driver: a blacklist may still matter */
		if (cur[0] && !strstr(cur, "vfio"))
			drivers[n++] = cur;
		if (t->kdriver_state == KDRV_MODULE || t->kdriver_state == KDRV_BUILTIN)
			drivers[n++] = t->kdriver;
	}
	(void)vb_diag_stale(rep->root, drivers, n, &rep->stale, &rep->f);
	free(drivers);
}

/* ------------------------------------------------------------------------ */
/* Text */

/* The width of the terminal, else $COLUMNS, else 80: an 80-column
 * terminal never wraps a line; a wider one gets longer lines. */
static size_t width = 80;
static bool color;

static const char *mark_color(const char *mark)
{
	return strcmp(mark, "ok") == 0     ? VB_COLOR_GOOD
	       : strcmp(mark, "warn") == 0 ? VB_COLOR_WARN
	       : strcmp(mark, "FAIL") == 0 ? VB_COLOR_BAD
					   : NULL;
}

/* "  MARK  text" wrapped at width, continuation lines aligned with text. */
static void say(FILE *f, int indent, const char *mark, const char *text)
{
	size_t col = (size_t)indent + 6, avail = width > col + 30 ? width - col : 30;
	const char *p = text, *c = color ? mark_color(mark) : NULL;
	bool first = true;

	if (c)
		fprintf(f, "%*s%s%-5s" VB_COLOR_RESET " ", indent, "", c, mark);
	else
		fprintf(f, "%*s%-5s ", indent, "", mark);
	if (!*p)
		fputc('\n', f);
	while (*p) {
		size_t n = strcspn(p, "\n");
		const char *end = p + n;

		if (n > avail) {
			/* break at the last space that fits, else after the long word */
			const char *q;

			for (q = p + avail; q > p && *q != ' '; q--)
				;
			if (q == p)
				for (q = p + avail; q < p + n && *q != ' '; q++)
					;
			end = q;
		}
		if (!first)
			fprintf(f, "%*s", (int)col, "");
		fprintf(f, "%.*s\n", (int)(end - p), p);
		first = false;
		p = end;
		while (*p == ' ' || *p == '\n')
			p++;
	}
}

static void sayf(FILE *f, int indent, const char *mark, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sayf(FILE *f, int indent, const char *mark, const char *fmt, ...)
{
	char buf[VB_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say(f, indent, mark, buf);
}

/* The command line words that matter here (IOMMU, vfio, framebuffer). */
static void relevant_words(const char *cmdline, char *buf, size_t size)
{
	static const char *const keys[] = {
		"intel_iommu",
		"amd_iommu",
		"iommu",
		"intremap",
		"iommu.",
		"vfio",
		"pci-stub.",
		"pci_stub.",
		"video",
		"initcall_blacklist",
		"modprobe.blacklist",
		"module_blacklist",
		"pcie_acs_override",
		"nomodeset",
	};
	size_t len = 0, n;

	buf[0] = 0;
	for (const char *q = cmdline, *p; (n = vb_cmdline_next(&q, &p)) > 0;) {
		size_t klen;
		bool want = false;

		if (n == 2 && strncmp(p, "--", 2) == 0)
			break; /* the rest goes to init */
		klen = strcspn(p, "= \t");
		if (klen > n)
			klen = n;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && !want; i++) {
			size_t kl = strlen(keys[i]);
			/* "iommu." and "vfio" are prefixes, the others whole keys */
			want = keys[i][kl - 1] == '.' || strcmp(keys[i], "vfio") == 0
				       ? klen >= kl && strncmp(p, keys[i], kl) == 0
				       : klen == kl && strncmp(p, keys[i], kl) == 0;
		}
		if (want && len + n + 2 < size) {
			if (len)
				buf[len++] = ' ';
			memcpy(buf + len, p, n);
			len += n;
			buf[len] = 0;
		}
	}
}

static const char *mark_of(enum vb_severity l)
{
	return l == VB_SEV_ERROR ? "FAIL" : l == VB_SEV_WARNING ? "warn" : "info";
}

/* A finding's text: "FILE:LINE:COL: MESSAGE" when it has a place in a file
 * (the config's diagnostics), else the message. *buf: free it after use. */
static const char *finding_text(const struct vb_diag *x, char **buf)
{
	char loc[VB_LOCATION_MAX];

	*buf = NULL;
	if (!*vb_diag_location(NULL, x, loc, sizeof(loc)) ||
	    asprintf(buf, "%s: %s", loc, x->message) < 0) {
		*buf = NULL;
		return x->message;
	}
	return *buf;
}

static void say_finding(FILE *f, int indent, const struct vb_diag *x)
{
	char *buf;

	say(f, indent, mark_of(x->severity), finding_text(x, &buf));
	free(buf);
	if (x->hint)
		sayf(f, indent, "", "fix: %s", x->hint);
}

/* Prints the machine-level findings with one of these codes. */
static size_t say_findings(const struct report *rep, int indent, const char *const *codes)
{
	size_t n = 0;

	for (size_t i = 0; i < rep->f.n; i++) {
		const struct vb_diag *x = &rep->f.v[i];

		if (x->dev[0])
			continue;
		for (const char *const *c = codes; *c; c++) {
			if (strcmp(x->code, *c) == 0) {
				say_finding(rep->out, indent, x);
				n++;
				break;
			}
		}
	}
	return n;
}

/* A line without a mark, wrapped like say()'s text, continuation under it. */
static void wrap_line(FILE *f, int indent, const char *text)
{
	size_t avail = width > (size_t)indent + 30 ? width - (size_t)indent : 30;
	const char *p = text;
	bool first = true;

	while (*p) {
		size_t n = strlen(p);
		const char *end = p + n;

		/* continuation lines are indented 4 more */
		size_t lim = first || avail < 34 ? avail : avail - 4;

		if (n > lim) {
			const char *q;

			for (q = p + lim; q > p && *q != ' '; q--)
				;
			if (q == p)
				for (q = p + lim; *q && *q != ' '; q++)
					;
			end = q;
		}
		fprintf(f, "%*s%.*s\n", indent + (first ? 0 : 4), "", (int)(end - p), p);
		first = false;
		p = end;
		while (*p == ' ')
			p++;
	}
}

static void text_report(const struct report *rep)
{
	FILE *f = rep->out;
	const struct vb_iommu_info *io = &rep->iommu;

	fprintf(f, "vfio-bind doctor: root %s, kernel %s\n", rep->root->path,
		rep->kver ? rep->kver : "unknown");

	fprintf(f, "\nIOMMU\n");
	if (io->n_groups > 0 && io->kind != VB_IOMMU_NONE)
		sayf(f, 2, "ok", "%s (%s), %u IOMMU groups", vb_iommu_kind_name(io->kind),
		     io->units, io->n_groups);
	else if (io->n_groups > 0)
		sayf(f, 2, "ok",
		     "IOMMU on, %u IOMMU groups (type unknown: nothing in /sys/class/iommu)",
		     io->n_groups);
	say_findings(rep, 2, (const char *const[]){VB_F_NO_IOMMU, NULL});
	if (io->n_groups > 0) {
		if (io->irq_remap == 1)
			sayf(f, 2, "ok", "interrupt remapping on (%s)", io->irq_remap_how);
		else if (io->irq_remap < 0)
			say(f, 2, "info",
			    "interrupt remapping unknown (no IR- evidence in /proc/interrupts)");
		say_findings(rep, 2, (const char *const[]){VB_F_IRQ_REMAP, NULL});
	}

	fprintf(f, "\nKernel\n");
	if (rep->running[0])
		sayf(f, 2, "info", "running %s; checking %s", rep->running,
		     rep->kver ? rep->kver : "unknown");
	else if (rep->kver)
		sayf(f, 2, "info", "checking %s", rep->kver);
	if (rep->have_cmdline) {
		char words[VB_CMDLINE_MAX];

		relevant_words(rep->cmdline, words, sizeof(words));
		sayf(f, 2, "info", "command line: %s",
		     words[0] ? words : "no IOMMU, vfio or framebuffer parameter");
	}
	if (rep->vfio == VFIO_BUILTIN) {
		say(f, 2, "ok", "vfio-pci is built in");
	} else if (rep->vfio == VFIO_MODULE && rep->vfio_set.n) {
		char mods[1024];
		size_t len = 0;

		mods[0] = 0;
		for (size_t i = 0; i < rep->vfio_set.n && len < sizeof(mods); i++) {
			int w = snprintf(mods + len, sizeof(mods) - len, "%s%s", i ? " " : "",
					 rep->vfio_set.names[i]);
			if (w > 0)
				len += (size_t)w;
		}
		sayf(f, 2, "ok", "vfio-pci is a module (%s)", mods);
	} else if (rep->vfio == VFIO_MODULE) {
		say(f, 2, "ok", "vfio-pci is loaded");
	}
	say_findings(rep, 2,
		     (const char *const[]){VB_F_KERNEL, VB_F_NO_VFIO, VB_F_CMDLINE_OFF, NULL});

	fprintf(f, "\nConfiguration\n");
	if (!rep->config_exists && !rep->o->config) {
		sayf(f, 2, "info", "%s does not exist (no device is bound)", rep->job.cfg.file);
	} else if (rep->config_exists) {
		char perm[128] = "";

		if (rep->perm_r == 0)
			snprintf(perm, sizeof(perm), "; owner uid %u, mode %04o", rep->perm.uid,
				 rep->perm.mode & 07777);
		if (rep->config_valid)
			sayf(f, 2, rep->perm_r == 0 ? "ok" : "info", "%s: %zu rule%s, valid%s",
			     rep->job.cfg.file, rep->job.cfg.n_rules,
			     rep->job.cfg.n_rules == 1 ? "" : "s", perm);
	}
	say_findings(rep, 2, (const char *const[]){VB_F_CONFIG_PERM, VB_F_CONFIG, NULL});

	fprintf(f, "\nDevices\n");
	if (!rep->planned)
		say(f, 2, "info", "not checked (see above)");
	else if (rep->n_targets == 0)
		say_findings(rep, 2, (const char *const[]){VB_F_NO_TARGETS, NULL});
	for (size_t i = 0; i < rep->n_targets; i++) {
		const struct target *t = &rep->targets[i];
		const struct vb_plan_item *it = t->item;
		const struct vb_pci_dev *d = it->dev;
		char loc[VB_LOCATION_MAX], grp[32];
		const char *where = vb_rule_location(&rep->job.cfg, it->rule, loc, sizeof(loc));

		if (d->iommu_group >= 0)
			snprintf(grp, sizeof(grp), "group %d", d->iommu_group);
		else
			snprintf(grp, sizeof(grp), "no group");
		{
			const char *dn = vb_names_device(rep->o->names, d->vendor, d->device);
			char line[VB_MESSAGE_MAX];

			/* the name, when the database has it, in place of the class */
			snprintf(line, sizeof(line), "%s %04x:%04x %s, driver %s, %s: %s%s%s",
				 d->name, d->vendor, d->device, dn ? dn : class_name(d->class),
				 d->driver[0] ? d->driver : "none", grp, vb_action_name(it->action),
				 where ? " by " : "", where ? where : "");
			wrap_line(f, 2, line);
		}
		if (it->action == VB_ACT_REFUSE) {
			if (!vb_diags_find(&rep->f, VB_F_REFUSED, d->name))
				say(f, 4, "FAIL", "refused: no IOMMU group (see IOMMU)");
		} else {
			sayf(f, 4, "ok", "%s", it->reason);
		}
		/* a refused device stays where it is: its group does not matter */
		if (it->action == VB_ACT_REFUSE)
			;
		else if (t->group.group >= 0 && t->group.n_blockers == 0)
			sayf(f, 4, "ok", "IOMMU group %d: %zu device%s, none left on a host driver",
			     t->group.group, t->group.n_members,
			     t->group.n_members == 1 ? "" : "s");
		else if (t->group.n_blockers > 0 && t->group_reported_at &&
			 strcmp(t->group_reported_at, d->name) != 0)
			sayf(f, 4, "FAIL", "IOMMU group %d is not viable (see %s)", t->group.group,
			     t->group_reported_at);
		for (size_t k = 0; k < rep->f.n; k++)
			if (strcmp(rep->f.v[k].dev, d->name) == 0)
				say_finding(f, 4, &rep->f.v[k]);
		switch (t->kdriver_state) {
		case KDRV_MODULE:
			sayf(f, 4, "info", "kernel %s would bind %s (module)", rep->kver,
			     t->kdriver);
			break;
		case KDRV_NONE:
			sayf(f, 4, "info", "kernel %s has no driver for it", rep->kver);
			break;
		case KDRV_UNKNOWN:
			if (rep->have_modules)
				say(f, 4, "info", "driver of the target kernel unknown");
			break;
		case KDRV_BUILTIN:
			break; /* a finding says it */
		}
	}

	fprintf(f, "\nInitramfs\n");
	if (!rep->kver) {
		say(f, 2, "warn", "unknown: the target kernel is unknown");
	} else if (strcmp(rep->ir_state, "current") == 0) {
		sayf(f, 2, "ok", "%s (%s): vfio-bind and the same /etc/vfio-bind.conf", rep->image,
		     rep->ir.compression);
	} else if (strcmp(rep->ir_state, "not-needed") == 0) {
		sayf(f, 2, "ok", "%s (%s): no vfio-bind, none needed", rep->image,
		     rep->ir.compression);
	} else if (strcmp(rep->ir_state, "absent") == 0 && !rep->want_initramfs) {
		sayf(f, 2, "info", "%s does not exist (none needed)", rep->image);
	}
	say_findings(rep, 2,
		     (const char *const[]){VB_F_IR_SKIPPED, VB_F_INITRAMFS, VB_F_SNAPSHOT,
					   VB_F_MAPPINGS, NULL});

	fprintf(f, "\nLeftovers of a manual setup\n");
	if (!say_findings(rep, 2, (const char *const[]){VB_F_STALE, NULL}))
		say(f, 2, "ok",
		    "none in modprobe.d, initramfs-tools/modules, grub or the command line");

	fprintf(f, "\n");
	if (rep->f.n_errors == 0)
		fprintf(f, "READY");
	else
		fprintf(f, "NOT READY: %zu error%s", rep->f.n_errors,
			rep->f.n_errors == 1 ? "" : "s");
	if (rep->f.n_warnings)
		fprintf(f, "%s%zu warning%s%s", rep->f.n_errors ? ", " : " (", rep->f.n_warnings,
			rep->f.n_warnings == 1 ? "" : "s", rep->f.n_errors ? "" : ")");
	fputc('\n', f);
}

/* ------------------------------------------------------------------------ */
/* JSON */

static void json_findings(struct json *j, const char *key, const struct report *rep,
			  enum vb_severity level, const char *dev)
{
	json_array_open(j, key);
	for (size_t i = 0; i < rep->f.n; i++) {
		const struct vb_diag *x = &rep->f.v[i];

		char *buf;

		if (x->severity != level || (dev && strcmp(x->dev, dev) != 0))
			continue;
		json_object_open(j, NULL);
		json_str(j, "code", x->code);
		json_str(j, "level", vb_severity_name(x->severity));
		json_str(j, "address", x->dev[0] ? x->dev : NULL);
		json_str(j, "message", finding_text(x, &buf));
		free(buf);
		json_str(j, "hint", x->hint);
		json_object_close(j);
	}
	json_array_close(j);
}

static void json_report(const struct report *rep)
{
	const struct vb_iommu_info *io = &rep->iommu;
	struct json j;
	char buf[64];

	json_envelope_begin(&j, rep->out, "doctor", rep->root->path, rep->job.cfg.file,
			    rep->config_exists || rep->o->config ? rep->config_valid : -1,
			    &rep->job.diags);
	json_bool(&j, "ready", rep->f.n_errors == 0);

	json_object_open(&j, "iommu");
	json_bool(&j, "enabled", io->n_groups > 0);
	json_int(&j, "groups", io->n_groups);
	json_str(&j, "type", io->kind == VB_IOMMU_NONE ? NULL : vb_iommu_kind_name(io->kind));
	json_array_open(&j, "units");
	{
		char units[sizeof(io->units)], *save = NULL;

		snprintf(units, sizeof(units), "%s", io->units);
		for (char *u = strtok_r(units, " ", &save); u; u = strtok_r(NULL, " ", &save))
			json_str(&j, NULL, u);
	}
	json_array_close(&j);
	if (io->irq_remap < 0)
		json_null(&j, "interrupt_remapping");
	else
		json_bool(&j, "interrupt_remapping", io->irq_remap == 1);
	json_str(&j, "interrupt_remapping_source", io->irq_remap_how[0] ? io->irq_remap_how : NULL);
	json_object_close(&j);

	json_object_open(&j, "kernel");
	json_str(&j, "running", rep->running[0] ? rep->running : NULL);
	json_str(&j, "target", rep->kver);
	json_str(&j, "cmdline", rep->have_cmdline ? rep->cmdline : NULL);
	json_str(&j, "vfio_pci",
		 rep->vfio == VFIO_BUILTIN   ? "builtin"
		 : rep->vfio == VFIO_MODULE  ? "module"
		 : rep->vfio == VFIO_MISSING ? "missing"
					     : "unknown");
	json_array_open(&j, "vfio_modules");
	for (size_t i = 0; i < rep->vfio_set.n; i++)
		json_str(&j, NULL, rep->vfio_set.names[i]);
	json_array_close(&j);
	json_object_close(&j);

	json_object_open(&j, "configuration");
	json_str(&j, "file", rep->job.cfg.file);
	json_bool(&j, "exists", rep->config_exists);
	json_bool(&j, "valid", rep->config_valid);
	if (rep->perm_r == 0 || rep->perm_r == -EPERM) {
		json_bool(&j, "safe", rep->perm_r == 0);
		json_int(&j, "owner_uid", rep->perm.uid);
		snprintf(buf, sizeof(buf), "%04o", rep->perm.mode & 07777);
		json_str(&j, "mode", buf);
	} else {
		json_null(&j, "safe");
		json_null(&j, "owner_uid");
		json_null(&j, "mode");
	}
	json_int(&j, "rules", (long)rep->job.cfg.n_rules);
	json_object_close(&j);

	json_array_open(&j, "targets");
	for (size_t i = 0; i < rep->n_targets; i++) {
		const struct target *t = &rep->targets[i];
		const struct vb_pci_dev *d = t->item->dev;
		char loc[VB_LOCATION_MAX];

		json_object_open(&j, NULL);
		json_identity(&j, d, rep->o->names);
		json_str(&j, "action", vb_action_name(t->item->action));
		json_str(&j, "reason", t->item->reason);
		json_str(&j, "rule",
			 vb_rule_location(&rep->job.cfg, t->item->rule, loc, sizeof(loc)));
		if (d->iommu_group >= 0)
			json_int(&j, "iommu_group", d->iommu_group);
		else
			json_null(&j, "iommu_group");
		if (t->group.group >= 0)
			json_bool(&j, "group_viable", t->group.n_blockers == 0);
		else
			json_null(&j, "group_viable");
		json_array_open(&j, "group_blockers");
		for (size_t k = 0; k < t->group.n_blockers; k++) {
			json_object_open(&j, NULL);
			json_str(&j, "address", t->group.blockers[k].name);
			json_str(&j, "driver", t->group.blockers[k].driver);
			json_object_close(&j);
		}
		json_array_close(&j);
		json_str(&j, "modalias", t->modalias[0] ? t->modalias : NULL);
		json_str(&j, "kernel_driver",
			 t->kdriver_state == KDRV_MODULE || t->kdriver_state == KDRV_BUILTIN
				 ? t->kdriver
				 : NULL);
		if (t->kdriver_state == KDRV_MODULE || t->kdriver_state == KDRV_BUILTIN)
			json_bool(&j, "kernel_driver_builtin", t->kdriver_state == KDRV_BUILTIN);
		else
			json_null(&j, "kernel_driver_builtin");
		if (d->boot_vga >= 0)
			json_bool(&j, "boot_vga", d->boot_vga == 1);
		else
			json_null(&j, "boot_vga");
		json_array_open(&j, "vms");
		for (size_t k = 0; k < rep->vms.n; k++) {
			const struct vb_vm_use *u = &rep->vms.v[k];

			if (!vb_vm_use_covers(u, &d->addr))
				continue;
			json_object_open(&j, NULL);
			json_int(&j, "vmid", u->vmid);
			json_str(&j, "entry", u->entry[0] ? u->entry : NULL);
			json_str(&j, "mapping", u->mapping[0] ? u->mapping : NULL);
			json_bool(&j, "running", vb_vms_holder(&rep->vms, &d->addr) == u->vmid);
			json_object_close(&j);
		}
		json_array_close(&j);
		json_findings(&j, "errors", rep, VB_SEV_ERROR, d->name);
		json_findings(&j, "warnings", rep, VB_SEV_WARNING, d->name);
		json_findings(&j, "notes", rep, VB_SEV_NOTE, d->name);
		json_object_close(&j);
	}
	json_array_close(&j);

	json_object_open(&j, "initramfs");
	json_str(&j, "image", rep->image[0] ? rep->image : NULL);
	json_str(&j, "state", rep->ir_state);
	json_str(&j, "detail", rep->ir_why[0] ? rep->ir_why : NULL);
	if (rep->ir_read) {
		json_str(&j, "compression", rep->ir.compression);
		json_bool(&j, "has_binder", rep->ir.has_binder);
		json_bool(&j, "has_script", rep->ir.has_script);
		json_bool(&j, "has_config", rep->ir.has_config);
		json_bool(&j, "config_matches", rep->ir_config_same);
	} else {
		/* the contract has every field: null when the image was not read */
		json_null(&j, "compression");
		json_null(&j, "has_binder");
		json_null(&j, "has_script");
		json_null(&j, "has_config");
		json_null(&j, "config_matches");
	}
	json_object_close(&j);

	json_array_open(&j, "stale");
	for (size_t i = 0; i < rep->stale.n; i++) {
		const struct vb_stale *s = &rep->stale.v[i];

		json_object_open(&j, NULL);
		json_str(&j, "file", s->file);
		if (s->line)
			json_int(&j, "line", s->line);
		else
			json_null(&j, "line");
		json_str(&j, "text", s->text);
		json_str(&j, "reason", s->why);
		json_object_close(&j);
	}
	json_array_close(&j);

	json_findings(&j, "errors", rep, VB_SEV_ERROR, NULL);
	json_findings(&j, "warnings", rep, VB_SEV_WARNING, NULL);
	json_findings(&j, "notes", rep, VB_SEV_NOTE, NULL);
	json_envelope_end(&j, rep->f.n_errors ? VB_EXIT_ENV : VB_EXIT_SUCCESS);
}

/* ------------------------------------------------------------------------ */

int vb_doctor(const struct vb_root *root, const struct vb_doctor_opts *opts)
{
	struct report *rep = calloc(1, sizeof(*rep));
	int ret;

	if (!rep) {
		log_error("out of memory");
		return VB_EXIT_FAILURE;
	}
	rep->root = root;
	rep->o = opts;
	rep->out = opts->out ? opts->out : stdout;
	vb_job_init(&rep->job);
	vb_diags_init(&rep->f, NULL);
	rep->f.max = SIZE_MAX; /* every finding is shown */

	if (vb_diag_iommu(root, &rep->iommu, &rep->f) < 0) {
		ret = VB_EXIT_FAILURE;
		goto out;
	}
	gather_kernel(rep);
	gather_config(rep);
	gather_targets(rep);
	gather_initramfs(rep);
	gather_stale(rep);

	width = opts->width ? opts->width : vb_output_width(80);
	color = opts->color;
	if (opts->json)
		json_report(rep);
	else
		text_report(rep);
	fflush(rep->out);
	ret = rep->f.n_errors ? VB_EXIT_ENV : VB_EXIT_SUCCESS;
out:
	for (size_t i = 0; i < rep->n_targets; i++)
		vb_group_check_free(&rep->targets[i].group);
	free(rep->targets);
	vb_stale_list_free(&rep->stale);
	vb_vms_free(&rep->vms);
	vb_initramfs_free(&rep->ir);
	vb_modset_free(&rep->vfio_set);
	free(rep->kver);
	vb_job_free(&rep->job);
	vb_diags_free(&rep->f);
	free(rep);
	return ret;
}
