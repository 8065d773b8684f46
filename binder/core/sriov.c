/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SR-IOV VF creation (sriov.h). Every write goes through the root's kernel
 * operations, one write(2) each. Only POSIX calls that klibc has: this file
 * is part of the early binder.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "select.h"
#include "sriov.h"
#include "util.h"

#define DEVICES_DIR "sys/bus/pci/devices"
#define PATH_SIZE 128

const char *vb_sriov_action_name(enum vb_sriov_action a)
{
	switch (a) {
	case VB_SRIOV_CREATE:
		return "create";
	case VB_SRIOV_PRESENT:
		return "present";
	case VB_SRIOV_MISMATCH:
		return "mismatch";
	case VB_SRIOV_TOO_MANY:
		return "too-many";
	case VB_SRIOV_NO_DRIVER:
		return "no-driver";
	case VB_SRIOV_FAILED:
		return "failed";
	}
	return "unknown";
}

static void pf_attr(const char *pf, const char *attr, char *buf)
{
	snprintf(buf, PATH_SIZE, DEVICES_DIR "/%s/%s", pf, attr);
}

/* A decimal sysfs attribute of the PF, 0..65535. */
static int read_uint(const struct vb_root *root, const char *pf, const char *attr, int *ret)
{
	char path[PATH_SIZE], buf[32], *end;
	unsigned long v;
	int r;

	pf_attr(pf, attr, path);
	r = vb_read_file(root, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	v = strtoul(buf, &end, 10);
	if (*end || v > 0xffff)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* "the VFs 0-1 of this PF to vfio-pci" for the reason text. */
static void taken_text(const struct vb_rule *rule, char *buf, size_t size)
{
	size_t o = 0;

	if (rule->vfs_all) {
		snprintf(buf, size, "every VF to %s", rule->driver[0] ? rule->driver : "vfio-pci");
		return;
	}
	o += (size_t)snprintf(buf, size, "VF%s ",
			      rule->n_vfs == 1 && rule->vfs[0].lo == rule->vfs[0].hi ? "" : "s");
	for (size_t k = 0; k < rule->n_vfs && o < size; k++) {
		if (rule->vfs[k].lo == rule->vfs[k].hi)
			o += (size_t)snprintf(buf + o, size - o, "%s%u", k ? "," : "",
					      rule->vfs[k].lo);
		else
			o += (size_t)snprintf(buf + o, size - o, "%s%u-%u", k ? "," : "",
					      rule->vfs[k].lo, rule->vfs[k].hi);
	}
	if (o < size)
		snprintf(buf + o, size - o, " to %s", rule->driver[0] ? rule->driver : "vfio-pci");
}

static void plan_pf(const struct vb_root *root, const struct vb_rule *rule, struct vb_pci_dev *pf,
		    struct vb_sriov_item *it)
{
	char taken[160];
	int r;

	it->numvfs = it->totalvfs = -1;
	taken_text(rule, taken, sizeof(taken));
	r = read_uint(root, pf->name, "sriov_numvfs", &it->numvfs);
	if (r == 0)
		r = read_uint(root, pf->name, "sriov_totalvfs", &it->totalvfs);
	if (r < 0) {
		it->action = VB_SRIOV_FAILED;
		it->err = r;
		snprintf(it->reason, sizeof(it->reason), "cannot read its SR-IOV state: %s",
			 vb_strerror(r));
		return;
	}
	if (rule->numvfs > it->totalvfs) {
		it->action = VB_SRIOV_TOO_MANY;
		snprintf(it->reason, sizeof(it->reason),
			 "numvfs=%d is more than the %d VFs it supports (sriov_totalvfs)",
			 rule->numvfs, it->totalvfs);
		return;
	}
	if (it->numvfs == rule->numvfs) {
		it->action = VB_SRIOV_PRESENT;
		snprintf(it->reason, sizeof(it->reason), "has its %d VFs already; %s", it->numvfs,
			 taken);
		return;
	}
	if (it->numvfs != 0) {
		it->action = VB_SRIOV_MISMATCH;
		snprintf(it->reason, sizeof(it->reason),
			 "has %d VFs, not numvfs=%d: left alone, since changing the count destroys "
			 "every VF (some may be in use); write 0 to its sriov_numvfs to let "
			 "vfio-bind create them",
			 it->numvfs, rule->numvfs);
		return;
	}
	if (vb_pci_refresh(root, pf) == 0 && !pf->driver[0]) {
		it->action = VB_SRIOV_NO_DRIVER;
		snprintf(it->reason, sizeof(it->reason),
			 "has no driver yet, and only its driver creates VFs: `vfio-bind apply` "
			 "creates %d once it has one",
			 rule->numvfs);
		return;
	}
	it->action = VB_SRIOV_CREATE;
	snprintf(it->reason, sizeof(it->reason),
		 "create %d VFs (autoprobe off while they appear); %s, the others to their "
		 "driver",
		 rule->numvfs, taken);
}

int vb_sriov_plan_build(const struct vb_root *root, const struct vb_config *cfg,
			struct vb_pci_list *list, struct vb_sriov_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct vb_rule *rule = &cfg->rules[i];

		if (rule->exclude || !rule->numvfs)
			continue;
		for (size_t j = 0; j < list->n; j++) {
			struct vb_pci_dev *pf = &list->devs[j];
			struct vb_sriov_item *it, *v;
			bool seen = false;

			if (!vb_rule_match(root, rule, pf) || vb_pci_load_sriov(root, pf) < 0 ||
			    pf->sriov_numvfs < 0)
				continue;
			for (size_t k = 0; k < plan->n && !seen; k++)
				seen = strcmp(plan->items[k].pf, pf->name) == 0;
			if (seen)
				continue; /* the first rule decides, as in selection */
			v = realloc(plan->items, (plan->n + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			plan->items = v;
			it = &v[plan->n++];
			memset(it, 0, sizeof(*it));
			vb_copy_str(it->pf, sizeof(it->pf), pf->name);
			it->rule = (int)i;
			plan_pf(root, rule, pf, it);
		}
	}
	return 0;
}

void vb_sriov_plan_free(struct vb_sriov_plan *plan)
{
	free(plan->items);
	memset(plan, 0, sizeof(*plan));
}

static int write_str(const struct vb_root *root, const char *path, const char *s)
{
	return vb_kernel_write_str(root, path, s, 0);
}

/* Steps 3-5 of sriov.h once the VFs exist. Returns the VFs the rule takes
 * whose override could not be written. */
static int settle_vfs(const struct vb_root *root, const struct vb_rule *rule, const char *pf,
		      int numvfs, bool autoprobe, const char *who)
{
	const char *driver = rule->driver[0] ? rule->driver : "vfio-pci";
	char path[PATH_SIZE], name[VB_PCI_NAME_MAX];
	int failed = 0, r;

	for (int i = 0; i < numvfs; i++) {
		if (!vb_rule_takes_vf(rule, (unsigned)i))
			continue;
		r = vb_pci_virtfn(root, pf, (unsigned)i, name);
		if (r == 0) {
			snprintf(path, sizeof(path), DEVICES_DIR "/%s/driver_override", name);
			r = write_str(root, path, driver);
		}
		if (r < 0) {
			log_error("%s: VF %d: cannot set driver_override=%s: %s", who, i, driver,
				  vb_strerror(r));
			failed++;
		}
	}
	pf_attr(pf, "sriov_drivers_autoprobe", path);
	if (autoprobe && (r = write_str(root, path, "1")) < 0)
		log_error("%s: cannot turn sriov_drivers_autoprobe on again: %s", who,
			  vb_strerror(r));
	for (int i = 0; autoprobe && i < numvfs; i++) {
		if (vb_rule_takes_vf(rule, (unsigned)i) ||
		    vb_pci_virtfn(root, pf, (unsigned)i, name) < 0)
			continue;
		r = write_str(root, "sys/bus/pci/drivers_probe", name);
		if (r < 0)
			log_warning("%s: VF %d (%s): drivers_probe failed: %s", who, i, name,
				    vb_strerror(r));
	}
	return failed;
}

static void create_pf(const struct vb_root *root, const struct vb_config *cfg,
		      struct vb_sriov_item *it, const char *who)
{
	const struct vb_rule *rule = &cfg->rules[it->rule];
	char path[PATH_SIZE], num[16];
	int autoprobe = 1, r;

	/* off before the VFs exist: set after, a VF driver could win */
	r = read_uint(root, it->pf, "sriov_drivers_autoprobe", &autoprobe);
	if (r == 0 && autoprobe) {
		pf_attr(it->pf, "sriov_drivers_autoprobe", path);
		r = write_str(root, path, "0");
	}
	if (r < 0) {
		it->action = VB_SRIOV_FAILED;
		it->err = r;
		log_error("%s: cannot turn sriov_drivers_autoprobe off: %s; no VF created", who,
			  vb_strerror(r));
		return;
	}
	snprintf(num, sizeof(num), "%d", rule->numvfs);
	pf_attr(it->pf, "sriov_numvfs", path);
	r = write_str(root, path, num);
	if (r < 0) {
		it->action = VB_SRIOV_FAILED;
		it->err = r;
		pf_attr(it->pf, "sriov_drivers_autoprobe", path);
		if (autoprobe)
			(void)write_str(root, path, "1");
		log_error("%s: cannot create %d VFs (sriov_numvfs): %s", who, rule->numvfs,
			  vb_strerror(r));
		return;
	}
	it->created = true;
	r = settle_vfs(root, rule, it->pf, rule->numvfs, autoprobe != 0, who);
	log_info("%s: created %d VFs%s", who, rule->numvfs,
		 r ? "; some taken VFs have no override (see above)" : "");
}

int vb_sriov_create(const struct vb_root *root, const struct vb_config *cfg,
		    struct vb_sriov_plan *plan, bool dry_run)
{
	char who[VB_PCI_NAME_MAX + VB_LOCATION_MAX];
	int created = 0;

	for (size_t i = 0; i < plan->n; i++) {
		struct vb_sriov_item *it = &plan->items[i];

		snprintf(who, sizeof(who), "%s %s:%u (numvfs=)", it->pf, cfg->file ? cfg->file : "",
			 cfg->rules[it->rule].line);
		switch (it->action) {
		case VB_SRIOV_CREATE:
			if (dry_run) {
				log_info("%s: dry run: would %s", who, it->reason);
				break;
			}
			create_pf(root, cfg, it, who);
			created += it->created;
			break;
		case VB_SRIOV_PRESENT:
			log_info("%s: %s", who, it->reason);
			break;
		case VB_SRIOV_NO_DRIVER:
			log_notice("%s: %s", who, it->reason);
			break;
		default:
			log_warning("%s: %s", who, it->reason);
			break;
		}
	}
	return created;
}
