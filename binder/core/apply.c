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
						    : "";

	char loc[VB_LOCATION_MAX];

	snprintf(buf, size, "%s%s", vb_rule_location(cfg, it->rule, loc, sizeof(loc)) ?: "no rule",
		 via);
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

/* Phase 4 for one device: bind to vfio-pci unless registration did, verify. */
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
	if (strcmp(d->driver, VB_TARGET_DRIVER) == 0)
		return 0; /* attached when vfio-pci registered */
	if (d->driver[0]) {
		snprintf(msg, sizeof(msg), "%s took the device first", d->driver);
		add_note(w, msg);
		return -EBUSY;
	}

	/* bind returns vfio-pci's probe error; drivers_probe would not */
	driver_attr(VB_TARGET_DRIVER, "bind", path);
	r = vb_kernel_write_str(root, path, d->name, 0);
	if (r == -ENOENT || r == -ENOTDIR) {
		/* no bind attribute (module loaded, driver dir missing): ask the bus */
		r = vb_kernel_write_str(root, "sys/bus/pci/drivers_probe", d->name, 0);
	}
	if (r == -EBUSY && vb_pci_refresh(root, d) == 0 && strcmp(d->driver, VB_TARGET_DRIVER) == 0)
		return 0; /* "already bound": to vfio-pci, since registration */
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
	if (strcmp(base, VB_TARGET_DRIVER) == 0) {
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
		snprintf(buf, size, "rebind %s -> " VB_TARGET_DRIVER, w->old_driver);
	else
		snprintf(buf, size, "bind");
	return buf;
}

/* One apply run: what every phase reads and updates. */
struct apply_run {
	const struct vb_root *root;
	const struct vb_config *cfg;
	const struct vb_plan *plan;
	struct vb_outcome *outcomes;
	struct work *works;
	unsigned timeout_ms; /* bound on each unbind */
	bool dry_run;
	size_t n_pending; /* works still to end up on vfio-pci */
	int failures;
	char who[512], what[VB_DRIVER_MAX + 32];
};

static const char *run_who(struct apply_run *a, size_t i)
{
	return item_who(a->cfg, &a->plan->items[i], a->who, sizeof(a->who));
}

static const char *run_what(struct apply_run *a, size_t i)
{
	return work_what(&a->works[i], a->what, sizeof(a->what));
}

/* Item i failed at step with err: it leaves the pending set. The caller
 * cleans up (rollback, restore) before logging with log_item_failed. */
static void item_failed(struct apply_run *a, size_t i, const char *step, int err)
{
	struct work *w = &a->works[i];

	fail(&a->outcomes[i], step, err);
	if (w->pending) {
		w->pending = false;
		a->n_pending--;
	}
	a->failures++;
}

static void log_item_failed(struct apply_run *a, size_t i, const char *what)
{
	log_failed(run_who(a, i), what ? what : run_what(a, i), &a->outcomes[i], &a->works[i]);
}

/* Phase 0: where is every device now? Refused items are skipped, devices
 * already on vfio-pci are done, the rest become pending (dry run: logged). */
static void phase_survey(struct apply_run *a)
{
	for (size_t i = 0; i < a->plan->n; i++) {
		const struct vb_plan_item *it = &a->plan->items[i];
		struct vb_outcome *o = &a->outcomes[i];
		struct work *w = &a->works[i];
		struct vb_pci_dev *d = it->dev;
		int r;

		if (it->action == VB_ACT_REFUSE) {
			o->result = VB_RES_SKIPPED;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_warning("%s: refused: %s", run_who(a, i), it->reason);
			continue;
		}
		r = vb_pci_refresh(a->root, d);
		if (r == 0)
			r = reread_override(a->root, d);
		if (r < 0) {
			w->vanished = r == -ENODEV;
			item_failed(a, i, "driver_override", r);
			log_item_failed(a, i, vb_action_name(it->action));
			continue;
		}
		vb_copy_str(w->old_driver, sizeof(w->old_driver), d->driver);
		vb_copy_str(w->old_override, sizeof(w->old_override), d->override);
		if (strcmp(d->driver, VB_TARGET_DRIVER) == 0) {
			o->result = VB_RES_OK;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: already bound to %s", run_who(a, i), VB_TARGET_DRIVER);
			continue;
		}
		if (it->action == VB_ACT_NOTHING ||
		    (it->action == VB_ACT_BIND) != (w->old_driver[0] == 0))
			log_notice("%s: changed since planning (%s): now on %s", run_who(a, i),
				   vb_action_name(it->action), or_none(w->old_driver));
		if (a->dry_run) {
			o->result = VB_RES_SKIPPED;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
			log_info("%s: dry run: %s: would %s%s%s, load %s and bind it",
				 run_who(a, i), run_what(a, i),
				 strcmp(w->old_override, VB_TARGET_DRIVER) == 0
					 ? "keep driver_override"
					 : "set driver_override=" VB_TARGET_DRIVER,
				 w->old_driver[0] ? ", unbind from " : "", w->old_driver,
				 VB_TARGET_DRIVER);
			continue;
		}
		w->pending = true;
		a->n_pending++;
	}
}

/* Phase 1: every override before any unbind, so that no host driver can
 * take a device we are about to free. */
static void phase_override(struct apply_run *a)
{
	for (size_t i = 0; i < a->plan->n; i++) {
		struct work *w = &a->works[i];
		struct vb_pci_dev *d = a->plan->items[i].dev;
		int r;

		if (!w->pending || strcmp(w->old_override, VB_TARGET_DRIVER) == 0)
			continue;
		r = write_override(a->root, d, VB_TARGET_DRIVER);
		if (r == 0) {
			w->wrote_override = true;
			continue;
		}
		item_failed(a, i, "driver_override", r);
		/* a failed (e.g. short) write may still have changed the value */
		restore_override(a->root, d, w);
		log_item_failed(a, i, NULL);
	}
}

/* After an unbind of item i ended with r (not 0): did the device go anyway,
 * else it failed, and what is left to undo. */
static void unbind_failed(struct apply_run *a, size_t i, int r)
{
	struct work *w = &a->works[i];
	struct vb_pci_dev *d = a->plan->items[i].dev;

	if (r != -ETIMEDOUT) {
		/* did it go anyway (-ENODEV: not bound to that driver now)? */
		int q = vb_pci_refresh(a->root, d);

		if (q == 0 && (!d->driver[0] || strcmp(d->driver, VB_TARGET_DRIVER) == 0))
			return; /* unbound or already ours: phase 4 decides */
		w->vanished = q == -ENODEV;
	}
	item_failed(a, i, "unbind", r);
	if (r == -ETIMEDOUT) {
		char msg[200];

		snprintf(msg, sizeof(msg),
			 "the unbind from %s may still complete: driver_override stays "
			 "%s so no host driver takes it; run vfio-bind again later",
			 w->old_driver, VB_TARGET_DRIVER);
		add_note(w, msg);
	} else if (!w->vanished) {
		restore_override(a->root, d, w);
	}
	log_item_failed(a, i, NULL);
}

static bool needs_unbind(const struct work *w)
{
	return w->pending && w->old_driver[0];
}

/* Phase 2: unbind from the current driver, each bounded by the timeout.
 * The unbinds go to the writer together (vb_kernel_write_many): one
 * process and no round trip per device. */
static void phase_unbind(struct apply_run *a)
{
	struct vb_kernel_req *reqs;
	char(*paths)[PATH_SIZE];
	size_t *idx, n = 0;
	int r = -ENOMEM;

	reqs = calloc(a->plan->n, sizeof(*reqs));
	paths = calloc(a->plan->n, sizeof(*paths));
	idx = calloc(a->plan->n, sizeof(*idx));
	if (reqs && paths && idx) {
		for (size_t i = 0; i < a->plan->n; i++) {
			if (!needs_unbind(&a->works[i]))
				continue;
			driver_attr(a->works[i].old_driver, "unbind", paths[n]);
			reqs[n].path = paths[n];
			reqs[n].buf = a->plan->items[i].dev->name;
			reqs[n].len = strlen(reqs[n].buf);
			idx[n++] = i;
		}
		r = vb_kernel_write_many(a->root, reqs, n, a->timeout_ms);
	}
	if (r < 0) {
		/* nothing was unbound: each device fails and is put back */
		for (size_t i = 0; i < a->plan->n; i++)
			if (needs_unbind(&a->works[i]))
				unbind_failed(a, i, r);
	} else {
		for (size_t k = 0; k < n; k++) {
			if (reqs[k].result == 0)
				a->works[idx[k]].unbound = true;
			else
				unbind_failed(a, idx[k], reqs[k].result);
		}
	}
	free(reqs);
	free(paths);
	free(idx);
}

/* Phase 3: vfio-pci; registering attaches it to overridden unbound devices.
 * When it cannot be loaded, every pending device goes back. */
static void phase_load(struct apply_run *a)
{
	char why[512];
	int r;

	if (a->n_pending == 0)
		return;
	r = a->root->ops->load_module(a->root, VB_TARGET_DRIVER);
	if (r >= 0)
		return;
	vb_module_explain_failure(a->root, VB_TARGET_DRIVER, r, why, sizeof(why));
	log_error("cannot load " VB_TARGET_DRIVER ": %s", why);
	for (size_t i = 0; i < a->plan->n; i++) {
		if (!a->works[i].pending)
			continue;
		item_failed(a, i, "load " VB_TARGET_DRIVER, r);
		rollback(a->root, a->plan->items[i].dev, &a->works[i]);
		log_item_failed(a, i, NULL);
	}
}

/* Phase 4: bind what registration did not take, and verify. */
static void phase_bind(struct apply_run *a)
{
	for (size_t i = 0; i < a->plan->n; i++) {
		struct work *w = &a->works[i];
		struct vb_pci_dev *d = a->plan->items[i].dev;
		struct vb_outcome *o = &a->outcomes[i];
		const char *step;
		int r;

		if (!w->pending)
			continue;
		r = bind_one(a->root, d, w, &step);
		if (r == 0) {
			w->pending = false;
			a->n_pending--;
			o->result = VB_RES_OK;
			vb_copy_str(o->driver_after, sizeof(o->driver_after), VB_TARGET_DRIVER);
			log_info("%s: %s: ok", run_who(a, i), run_what(a, i));
			continue;
		}
		item_failed(a, i, step, r);
		if (r == -ENODEV && vb_pci_refresh(a->root, d) == -ENODEV)
			w->vanished = true;
		else
			rollback(a->root, d, w);
		log_item_failed(a, i, NULL);
	}
}

/* Last: where every failed device ended up, for the outcomes. */
static void phase_settle(struct apply_run *a)
{
	for (size_t i = 0; i < a->plan->n; i++) {
		struct vb_outcome *o = &a->outcomes[i];
		struct vb_pci_dev *d = a->plan->items[i].dev;

		if (o->result != VB_RES_FAILED)
			continue;
		if (!a->works[i].vanished && vb_pci_refresh(a->root, d) == 0)
			vb_copy_str(o->driver_after, sizeof(o->driver_after), d->driver);
	}
}

int vb_apply(const struct vb_root *root, const struct vb_config *cfg, const struct vb_plan *plan,
	     const struct vb_apply_opts *opts, struct vb_outcome *outcomes)
{
	struct apply_run a = {
		.root = root,
		.cfg = cfg,
		.plan = plan,
		.outcomes = outcomes,
		.timeout_ms = opts ? opts->unbind_timeout_ms : 0,
		.dry_run = opts && opts->dry_run,
	};

	if (!plan || plan->n == 0)
		return 0;
	a.works = calloc(plan->n, sizeof(*a.works));
	if (!a.works)
		return -ENOMEM;
	memset(outcomes, 0, plan->n * sizeof(*outcomes));

	/* The phases, in order; each works on the devices still pending. A
	 * new step that must precede any override goes after the survey. */
	phase_survey(&a);
	phase_override(&a);
	phase_unbind(&a);
	phase_load(&a);
	phase_bind(&a);
	phase_settle(&a);

	free(a.works);
	return a.failures;
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
		on_vfio = strcmp(d->driver, VB_TARGET_DRIVER) == 0;
		ours = strcmp(d->override, VB_TARGET_DRIVER) == 0;
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
			log_info("%s: dry run: would %s%s and probe for its driver", who,
				 ours ? "clear driver_override" : "keep driver_override",
				 on_vfio ? ", unbind from " VB_TARGET_DRIVER : "");
			continue;
		}

		if (ours) {
			r = write_override(root, d, "");
			if (r < 0) {
				fail(o, "driver_override", r);
				failures++;
				vb_copy_str(w.old_override, sizeof(w.old_override),
					    VB_TARGET_DRIVER);
				restore_override(root, d, &w);
				log_failed(who, "release", o, &w);
				continue;
			}
		}
		if (on_vfio) {
			driver_attr(VB_TARGET_DRIVER, "unbind", path);
			r = vb_kernel_write_str(root, path, d->name, timeout);
			if (r < 0 && r != -ETIMEDOUT) {
				int q = vb_pci_refresh(root, d);

				if (q == 0 && strcmp(d->driver, VB_TARGET_DRIVER) != 0)
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
					vb_copy_str(w.old_override, sizeof(w.old_override),
						    VB_TARGET_DRIVER);
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
