/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "snapshot-write.h"
#include "snapshot.h"

/* The rule of item i allows storage, for a device that is selected. */
static bool selected_with_allow(const struct vb_job *job, const struct vb_pci_dev *d)
{
	for (size_t i = 0; i < job->plan.n; i++) {
		const struct vb_plan_item *it = &job->plan.items[i];

		if (it->dev == d)
			return vb_rule_allows_storage(&job->cfg, it->rule);
	}
	return false;
}

static int write_dev(FILE *f, const struct vb_root *root, const char *kind, struct vb_pci_dev *d,
		     const char *what)
{
	char topo[VB_TOPOLOGY_MAX];
	int r = vb_pci_topology(root, d, topo, sizeof(topo));

	if (r < 0)
		return r;
	fprintf(f, "%s %s %04x:%04x %04x:%04x %06x %s", kind, d->name, d->vendor, d->device,
		d->subsys_vendor, d->subsys_device, (unsigned)d->class, topo);
	if (what) {
		/* one line: what a mount point holds never breaks it */
		fputc(' ', f);
		for (const char *p = what; *p && p - what < VB_SNAPSHOT_WHAT_MAX - 1; p++)
			fputc((unsigned char)*p < ' ' ? '?' : *p, f);
	}
	fputc('\n', f);
	return 0;
}

int vb_snapshot_write(FILE *f, const struct vb_root *root, struct vb_job *job,
		      struct vb_storage_policy *pol, bool sysfs, const char *kernel)
{
	const struct vb_storage *st = NULL;
	bool root_found = false;
	int r;

	if (sysfs) {
		st = vb_storage_policy_scan(pol);
		if (!st)
			return pol->scan_err ? pol->scan_err : -EIO;
		root_found = st->root_found;
	}
	fprintf(f,
		"# vfio-bind hardware snapshot, written by vfio-bind check --snapshot when\n"
		"# the initramfs was built. vfio-bind-early takes at boot only what still\n"
		"# matches it; see vfio-bind(8).\n"
		"vfio-bind-snapshot %d\n"
		"kernel %s\n"
		"sysfs %s\n"
		"root %s\n",
		VB_SNAPSHOT_VERSION, kernel && *kernel ? kernel : "unknown", sysfs ? "yes" : "no",
		root_found ? "found" : "unknown");
	if (!sysfs)
		return ferror(f) ? -EIO : 0;

	/* every storage controller the host uses, selected or not */
	for (size_t i = 0; i < job->list.n; i++) {
		struct vb_pci_dev *d = &job->list.devs[i];
		const struct vb_storage_use *u = vb_storage_find(st, &d->addr);
		char what[600], served[512];

		if (!u || (!u->is_root && selected_with_allow(job, d)))
			continue;
		vb_storage_use_describe(u, served, sizeof(served));
		snprintf(what, sizeof(what), "controller of %s", served);
		r = write_dev(f, root, "protect", d, what);
		if (r < 0)
			return r;
	}
	/* what the config selects and the storage guard lets through */
	for (size_t i = 0; i < job->plan.n; i++) {
		struct vb_plan_item *it = &job->plan.items[i];

		if (it->refusals & VB_REFUSALS_STORAGE)
			continue;
		r = write_dev(f, root, "select", it->dev, NULL);
		if (r == -ENODEV)
			continue; /* gone since the scan: not selected at boot either */
		if (r < 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}
