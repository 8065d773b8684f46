/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Applying a plan, and releasing devices from vfio-pci.
 *
 * Apply runs in phases over all items (see plan.h) so that no device loses
 * its driver before every override is in place. Each item's state is read
 * again first: the plan may be older than the device (the action follows the
 * driver the device has now; refused items are never touched).
 *
 * What a failure leaves behind. The rule is: a failed device is put back
 * the way it was (its old driver_override, and its old driver if we unbound
 * it), and the log line says where it ended up. The one exception is an
 * unbind that does not return in time: the kernel may still be executing
 * it, and another write to the device would block on the same device lock.
 * Then driver_override stays "vfio-pci", on purpose: if the unbind completes
 * later, no host driver can take the device (nothing re-probes it, so it
 * stays unbound until the next vfio-bind run). The log says so.
 *
 * Only POSIX calls that klibc has: this file is part of the early binder.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "module.h"
#include "plan.h"

#define DEVICES_DIR "sys/bus/pci/devices"
#define PATH_SIZE 128

struct work {
	const char *target;               /* the driver to end on (plan item) */
	char old_override[VB_DRIVER_MAX]; /* driver_override before apply ("" none) */
	char old_driver[VB_DRIVER_MAX];   /* driver before apply ("" unbound) */
	bool pending;                     /* still to end up on vfio-pci */
	bool wrote_override;              /* phase 1 changed driver_override */
	bool unbound;                     /* phase 2 unbound it from old_driver */
	bool vanished;
	char note[224]; /* what cleanup did, for the log line */
};

static void add_note(struct work *w, const char *s)
{
	size_t n = strlen(w->note);

	snprintf(w->note + n, sizeof(w->note) - n, "%s%s", n ? "; " : "", s);
}

static void dev_attr(const struct vb_pci_dev *d, const char *attr, char *buf)
{
	snprintf(buf, PATH_SIZE, DEVICES_DIR "/%s/%s", d->name, attr);
}

static void driver_attr(const char *driver, const char *attr, char *buf)
{
	snprintf(buf, PATH_SIZE, "sys/bus/pci/drivers/%s/%s", driver, attr);
}

static const char *or_none(const char *driver)
{
	return driver[0] ? driver : "no driver";
}

/* "file:line" of the selecting rule, plus how it selected the device. */
static void rule_loc(const struct vb_config *cfg, const struct vb_plan_item *it, char *buf,
		     size_t size)
{
	const char *via = it->via == VB_VIA_SLOT    ? " (expand=slot)"
			  : it->via == VB_VIA_GROUP ? " (expand=group)"
			  : it->via == VB_VIA_VF    ? " (vfs=)"
						    : "";

	if (cfg && cfg->file && it->rule >= 0 && (size_t)it->rule < cfg->n_rules)
		snprintf(buf, size, "%s:%u%s", cfg->file, cfg->rules[it->rule].line, via);
	else
		snprintf(buf, size, "no rule%s", via);
}

static void fail(struct vb_outcome *o, const char *step, int err)
{
	o->result = VB_RES_FAILED;
	o->step = step;
	o->err = err;
}

static void log_failed(const char *who, const char *what, struct vb_outcome *o,
		       const struct work *w)
{
	if (w->vanished) {
		o->err = -ENODEV; /* whatever the step saw (-ENOENT for a write) */
		log_error("%s: %s: failed at %s: device vanished%s%s", who, what, o->step,
			  w->note[0] ? "; " : "", w->note);
	} else {
		log_error("%s: %s: failed at %s: %s%s%s", who, what, o->step, vb_strerror(o->err),
			  w->note[0] ? "; " : "", w->note);
	}
}

/* Reads driver_override again (the cached copy may be stale). */
static int reread_override(const struct vb_root *root, struct vb_pci_dev *d)
{
	d->have &= ~(unsigned)VB_PCI_HAVE_OVERRIDE;
	return vb_pci_load_override(root, d);
}

static int write_override(const struct vb_root *root, const struct vb_pci_dev *d, const char *v)
{
	char path[PATH_SIZE];

	dev_attr(d, "driver_override", path);
	/* "\n" clears; a zero-length write would not reach the kernel */
	return vb_kernel_write_str(root, path, v[0] ? v : "\n", 0);
}

/* Puts driver_override back to its value before apply, if it differs. */
static void restore_override(const struct vb_root *root, struct vb_pci_dev *d, struct work *w)
{
	char msg[256];
	int r;

	r = reread_override(root, d);
	if (r == -ENODEV) {
		w->vanished = true;
		return;
	}
	if (r == 0 && strcmp(d->override, w->old_override) == 0)
		return;
	r = write_override(root, d, w->old_override);
	if (r < 0)
		snprintf(msg, sizeof(msg), "could not restore driver_override: %s", vb_strerror(r));
	else
		snprintf(msg, sizeof(msg), "driver_override restored to %s",
			 w->old_override[0] ? w->old_override : "(null)");
	add_note(w, msg);
}

/* Undo for a device whose binding failed after phase 1: old override back,
 * and if phase 2 unbound it, bind it to its old driver again. */
static void rollback(const struct vb_root *root, struct vb_pci_dev *d, struct work *w)
{
	char path[PATH_SIZE], msg[320];
	int r;

	restore_override(root, d, w);
	if (w->vanished || !w->unbound)
		return;
	r = vb_pci_refresh(root, d);
	if (r == -ENODEV) {
		w->vanished = true;
		return;
	}
	if (r == 0 && d->driver[0]) {
		snprintf(msg, sizeof(msg), "now on %s", d->driver);
		add_note(w, msg);
		return;
	}
	driver_attr(w->old_driver, "bind", path);
	r = vb_kernel_write_str(root, path, d->name, 0);
	if (r == 0)
		r = vb_pci_refresh(root, d);
	if (r == 0 && strcmp(d->driver, w->old_driver) == 0)
		snprintf(msg, sizeof(msg), "back on %s", w->old_driver);
	else if (r < 0)
		snprintf(msg, sizeof(msg), "could not give it back to %s (%s): left unbound",
			 w->old_driver, vb_strerror(r));
	else
		snprintf(msg, sizeof(msg), "could not give it back to %s: now on %s", w->old_driver,
			 or_none(d->driver));
	add_note(w, msg);
}

/* Phase 4 for one device: bind to the target unless registration did, verify. */
static int bind_one(const struct vb_root *root, struct vb_pci_dev *d, struct work *w,
		    const char **step)
{
	char path[PATH_SIZE], link[256], msg[320];
	const char *base;
	int r;

	*step = "bind";
	r = vb_pci_refresh(root, d);
	if (r < 0)
		return r;
	if (strcmp(d->driver, w->target) == 0)
		return 0; /* attached when the driver registered */
	if (d->driver[0]) {
		snprintf(msg, sizeof(msg), "%s took the device first", d->driver);
		add_note(w, msg);
		return -EBUSY;
	}

	/* bind returns vfio-pci's probe error; drivers_probe would not */
	driver_attr(w->target, "bind", path);
	r = vb_kernel_write_str(root, path, d->name, 0);
	if (r == -ENOENT || r == -ENOTDIR) {
		/* no bind attribute (module loaded, driver dir missing): ask the bus */
		r = vb_kernel_write_str(root, "sys/bus/pci/drivers_probe", d->name, 0);
	}
	if (r == -EBUSY && vb_pci_refresh(root, d) == 0 && strcmp(d->driver, w->target) == 0)
		return 0; /* "already bound": to the target, since registration */
	if (r < 0)
		return r;

	*step = "verify";
	dev_attr(d, "driver", path);
	r = vb_read_link(root, path, link, sizeof(link));
	if (r == -ENOENT) {
		link[0] = 0;
	} else if (r < 0) {
		return r;
	}
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strcmp(base, w->target) == 0) {
		vb_copy_str(d->driver, sizeof(d->driver), base);
		return 0;
	}
	if (vb_pci_refresh(root, d) == -ENODEV)
		return -ENODEV;
	snprintf(msg, sizeof(msg), "bind reported success but the device is on %s", or_none(base));
	add_note(w, msg);
	return -ENODEV;
}

static void describe(const struct vb_pci_dev *d, char *buf, size_t size)
{
	snprintf(buf, size, "%s [%04x:%04x]", d->name, d->vendor, d->device);
}

/* "0000:01:00.0 [10de:2204] /etc/vfio-bind.conf:3" */
static const char *item_who(const struct vb_config *cfg, const struct vb_plan_item *it, char *buf,
			    size_t size)
{
	size_t n;

	describe(it->dev, buf, size);
	n = strlen(buf);
	if (n + 1 < size) {
		buf[n++] = ' ';
		rule_loc(cfg, it, buf + n, size - n);
	}
	return buf;
}

/* "rebind nvidia -> vfio-pci" or "bind" */
static const char *work_what(const struct work *w, char *buf, size_t size)
{
	if (w->old_driver[0])
		snprintf(buf, size, "rebind %s -> %s", w->old_driver, w->target);
	else if (strcmp(w->target, VB_TARGET_DRIVER) != 0)
		snprintf(buf, size, "bind to %s", w->target);
	else
		snprintf(buf, size, "bind");
	return buf;
}

int vb_apply(const struct vb_root *root, const struct vb_config *cfg, const struct vb_plan *plan,
	     const struct vb_apply_opts *opts, struct vb_outcome *outcomes)
{
	unsigned timeout = opts ? opts->unbind_timeout_ms : 0;
	bool dry = opts && opts->dry_run;
	char who[512], what[2 * VB_DRIVER_MAX + 32], path[PATH_SIZE];
	size_t i, n_pending = 0;
	struct work *works;
	int failures = 0, r;

	if (!plan || plan->n == 0)
		return 0;
	works = calloc(plan->n, sizeof(*works));
	if (!works)
		return -ENOMEM;
	memset(outcomes, 0, plan->n * sizeof(*outcomes));

#define WHO(it) item_who(cfg, (it), who, sizeof(who))
#define WHAT(w) work_what((w), what, sizeof(what))

	/* Phase 0: where is every device now? */
	for (i = 0; i < plan->n; i++) {
		const struct vb_plan_item *it = &plan->items[i];
		struct vb_outcome *o = &outcomes[i];
		struct work *w = &works[i];
		struct vb_pci_dev *d = it->dev;

		w->target = it->target ? it->target : VB_TARGET_DRIVER;
		if (it->action == VB_ACT_REFUSE) {
			o->result = VB_RES_SKIPPED;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_warning("%s: refused: %s", WHO(it), it->reason);
			continue;
		}
		r = vb_pci_refresh(root, d);
		if (r == 0)
			r = reread_override(root, d);
		if (r < 0) {
			w->vanished = r == -ENODEV;
			fail(o, "driver_override", r);
			failures++;
			log_failed(WHO(it), vb_action_name(it->action), o, w);
			continue;
		}
		vb_copy_str(w->old_driver, sizeof(w->old_driver), d->driver);
		vb_copy_str(w->old_override, sizeof(w->old_override), d->override);
		if (strcmp(d->driver, w->target) == 0) {
			o->result = VB_RES_OK;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: already bound to %s", WHO(it), w->target);
			continue;
		}
		if (it->action == VB_ACT_NOTHING ||
		    (it->action == VB_ACT_BIND) != (w->old_driver[0] == 0))
			log_notice("%s: changed since planning (%s): now on %s", WHO(it),
				   vb_action_name(it->action), or_none(w->old_driver));
		if (dry) {
			o->result = VB_RES_SKIPPED;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: dry run: %s: would %s%s%s%s, load %s and bind it", WHO(it),
				 WHAT(w),
				 strcmp(w->old_override, w->target) == 0 ? "keep driver_override"
									 : "set driver_override=",
				 strcmp(w->old_override, w->target) == 0 ? "" : w->target,
				 w->old_driver[0] ? ", unbind from " : "", w->old_driver,
				 w->target);
			continue;
		}
		w->pending = true;
		n_pending++;
	}

	/* Phase 1: every override before any unbind. */
	for (i = 0; i < plan->n; i++) {
		struct work *w = &works[i];
		struct vb_pci_dev *d = plan->items[i].dev;

		if (!w->pending || strcmp(w->old_override, w->target) == 0)
			continue;
		r = write_override(root, d, w->target);
		if (r == 0) {
			w->wrote_override = true;
			continue;
		}
		fail(&outcomes[i], "driver_override", r);
		w->pending = false;
		n_pending--;
		failures++;
		/* a failed (e.g. short) write may still have changed the value */
		restore_override(root, d, w);
		log_failed(WHO(&plan->items[i]), WHAT(w), &outcomes[i], w);
	}

	/* Phase 2: unbind from the current driver, bounded by the timeout. */
	for (i = 0; i < plan->n; i++) {
		struct work *w = &works[i];
		struct vb_pci_dev *d = plan->items[i].dev;

		if (!w->pending || !w->old_driver[0])
			continue;
		driver_attr(w->old_driver, "unbind", path);
		r = vb_kernel_write_str(root, path, d->name, timeout);
		if (r == 0) {
			w->unbound = true;
			continue;
		}
		if (r != -ETIMEDOUT) {
			/* did it go anyway (-ENODEV: not bound to that driver now)? */
			int q = vb_pci_refresh(root, d);

			if (q == 0 && (!d->driver[0] || strcmp(d->driver, w->target) == 0))
				continue; /* unbound or already ours: phase 4 decides */
			w->vanished = q == -ENODEV;
		}
		fail(&outcomes[i], "unbind", r);
		w->pending = false;
		n_pending--;
		failures++;
		if (r == -ETIMEDOUT) {
			char msg[200];

			snprintf(msg, sizeof(msg),
				 "the unbind from %s may still complete: driver_override stays "
				 "%s so no host driver takes it; run vfio-bind again later",
				 w->old_driver, w->target);
			add_note(w, msg);
		} else if (!w->vanished) {
			restore_override(root, d, w);
		}
		log_failed(WHO(&plan->items[i]), WHAT(w), &outcomes[i], w);
	}

	/* Phase 3: each target driver once (vfio-pci, driver= of the rules);
	 * registering attaches it to overridden unbound devices. */
	for (i = 0; n_pending > 0 && i < plan->n; i++) {
		const char *target = works[i].target;
		bool seen = false;

		if (!works[i].pending)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = works[k].pending && strcmp(works[k].target, target) == 0;
		if (seen)
			continue;
		r = root->ops->load_module(root, target);
		if (r < 0) {
			char why[512];

			vb_module_explain_failure(root, target, r, why, sizeof(why));
			log_error("cannot load %s: %s", target, why);
			for (size_t k = i; k < plan->n; k++) {
				struct work *w = &works[k];

				if (!w->pending || strcmp(w->target, target) != 0)
					continue;
				fail(&outcomes[k],
				     strcmp(target, VB_TARGET_DRIVER) == 0
					     ? "load " VB_TARGET_DRIVER
					     : "load module",
				     r);
				w->pending = false;
				n_pending--;
				failures++;
				rollback(root, plan->items[k].dev, w);
				log_failed(WHO(&plan->items[k]), WHAT(w), &outcomes[k], w);
			}
		}
	}

	/* Phase 4: bind what registration did not take, and verify. */
	for (i = 0; i < plan->n; i++) {
		struct work *w = &works[i];
		struct vb_pci_dev *d = plan->items[i].dev;
		const char *step;

		if (!w->pending)
			continue;
		w->pending = false;
		r = bind_one(root, d, w, &step);
		if (r == 0) {
			outcomes[i].result = VB_RES_OK;
			vb_copy_str(outcomes[i].driver_after, sizeof(outcomes[i].driver_after),
				    w->target);
			log_info("%s: %s: ok", WHO(&plan->items[i]), WHAT(w));
			continue;
		}
		fail(&outcomes[i], step, r);
		failures++;
		if (r == -ENODEV && vb_pci_refresh(root, d) == -ENODEV)
			w->vanished = true;
		else
			rollback(root, d, w);
		log_failed(WHO(&plan->items[i]), WHAT(w), &outcomes[i], w);
	}

	/* where every failed device ended up */
	for (i = 0; i < plan->n; i++) {
		struct vb_outcome *o = &outcomes[i];

		if (o->result != VB_RES_FAILED)
			continue;
		if (!works[i].vanished && vb_pci_refresh(root, plan->items[i].dev) == 0)
			vb_copy_str(o->driver_after, sizeof(o->driver_after),
				    plan->items[i].dev->driver);
	}
#undef WHO
#undef WHAT
	free(works);
	return failures;
}

int vb_release(const struct vb_root *root, struct vb_pci_dev **devs, size_t n,
	       const struct vb_apply_opts *opts, struct vb_outcome *outcomes)
{
	unsigned timeout = opts ? opts->unbind_timeout_ms : 0;
	bool dry = opts && opts->dry_run;
	char who[VB_PCI_NAME_MAX + 32], path[PATH_SIZE];
	int failures = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct vb_pci_dev *d = devs[i];
		struct vb_outcome *o = &outcomes[i];
		char old[VB_DRIVER_MAX], held_by[VB_DRIVER_MAX] = "";
		const char *held;
		struct work w;
		bool on_vfio, ours;
		int r;

		memset(o, 0, sizeof(*o));
		memset(&w, 0, sizeof(w));
		describe(d, who, sizeof(who));
		r = vb_pci_refresh(root, d);
		if (r == 0)
			r = reread_override(root, d);
		if (r < 0) {
			w.vanished = r == -ENODEV;
			fail(o, "driver_override", r);
			failures++;
			log_failed(who, "release", o, &w);
			continue;
		}
		/* Ours: an override naming vfio-pci, or the device on the driver
		 * its override names (a variant driver, pci-stub: driver=). A
		 * device on its native driver without an override is not. */
		held = d->override[0] ? d->override : VB_TARGET_DRIVER;
		on_vfio = d->driver[0] && (strcmp(d->driver, VB_TARGET_DRIVER) == 0 ||
					   strcmp(d->driver, held) == 0);
		ours = strcmp(d->override, VB_TARGET_DRIVER) == 0 ||
		       (d->override[0] && strcmp(d->driver, d->override) == 0);
		if (on_vfio)
			vb_copy_str(held_by, sizeof(held_by), d->driver);
		if (!on_vfio && !ours) {
			o->result = VB_RES_OK;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: release: not on %s, nothing to do (on %s%s%s)", who,
				 VB_TARGET_DRIVER, or_none(d->driver),
				 d->override[0] ? ", driver_override " : "", d->override);
			continue;
		}
		if (dry) {
			o->result = VB_RES_SKIPPED;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: dry run: would %s%s%s and probe for its driver", who,
				 ours ? "clear driver_override" : "keep driver_override",
				 on_vfio ? ", unbind from " : "", held_by);
			continue;
		}

		vb_copy_str(old, sizeof(old), d->override);
		if (ours) {
			r = write_override(root, d, "");
			if (r < 0) {
				fail(o, "driver_override", r);
				failures++;
				vb_copy_str(w.old_override, sizeof(w.old_override), old);
				restore_override(root, d, &w);
				log_failed(who, "release", o, &w);
				continue;
			}
		}
		if (on_vfio) {
			driver_attr(held_by, "unbind", path);
			r = vb_kernel_write_str(root, path, d->name, timeout);
			if (r < 0 && r != -ETIMEDOUT) {
				int q = vb_pci_refresh(root, d);

				if (q == 0 && strcmp(d->driver, held_by) != 0)
					r = 0; /* gone from vfio-pci anyway */
				w.vanished = q == -ENODEV;
			}
			if (r == -ETIMEDOUT) {
				fail(o, "unbind", r);
				failures++;
				add_note(&w, "the unbind may still complete; driver_override is "
					     "cleared, run vfio-bind release again later");
				log_failed(who, "release", o, &w);
				continue;
			}
			if (r < 0) {
				/* still on vfio-pci: keep it exactly as it was */
				fail(o, "unbind", r);
				failures++;
				if (ours && !w.vanished) {
					vb_copy_str(w.old_override, sizeof(w.old_override), old);
					restore_override(root, d, &w);
				}
				log_failed(who, "release", o, &w);
				continue;
			}
		}
		r = vb_kernel_write_str(root, "sys/bus/pci/drivers_probe", d->name, 0);
		if (r == 0)
			r = vb_pci_refresh(root, d);
		if (r < 0) {
			w.vanished = r == -ENODEV;
			fail(o, "drivers_probe", r);
			failures++;
			add_note(&w, "the device is left without a driver");
			log_failed(who, "release", o, &w);
			continue;
		}
		o->result = VB_RES_OK;
		vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
		if (d->driver[0])
			log_info("%s: release: ok, now on %s", who, d->driver);
		else
			log_info("%s: release: ok, no driver attached (left unbound)", who);
	}
	return failures;
}
