/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The kernel command line: one tokenizer, and the boot switches of
 * vfio-bind. The boot script asks the early binder for the switches
 * (vfio-bind-early --boot-switches), so the script and the binder can never
 * read the same command line two ways.
 */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

/* Next word of a kernel command line at *p, as the kernel splits it: blanks
 * separate words, double quotes group blanks into one ("a=\"x y\""; the
 * quotes stay in the word). Returns the word's length (0 at the end) and
 * sets *word; advances *p. */
size_t vb_cmdline_next(const char **p, const char **word);

/* Is `word` (e.g. "intel_iommu=on") one of cmdline's words? */
bool vb_cmdline_has(const char *cmdline, const char *word);
/* The value of the last key=value word for key (copied into buf, quotes
 * removed). false when absent. */
bool vb_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size);

enum vb_boot_mode {
	VB_BOOT_ON = 0,  /* vfio-bind=on, =1, or nothing */
	VB_BOOT_OFF,     /* vfio-bind=off, =0 */
	VB_BOOT_DRY_RUN, /* vfio-bind=dry-run */
};

#define VB_BOOT_TIMEOUT_DEFAULT 120 /* seconds */
#define VB_BOOT_TIMEOUT_MAX 3600

struct vb_boot_switches {
	enum vb_boot_mode mode;
	bool debug;         /* vfio-bind.debug, vfio-bind.debug=1 (=0 turns it off) */
	unsigned timeout_s; /* vfio-bind.timeout=N, 1..3600 */
	char unknown[64];   /* the last vfio-bind word that is not understood, or "" */
};

/* Each switch takes its last value, as kernel parameters do. */
void vb_boot_switches_parse(const char *cmdline, struct vb_boot_switches *sw);
/* proc/cmdline under the root; defaults when unreadable (-errno returned). */
int vb_boot_switches_read(const struct vb_root *root, struct vb_boot_switches *sw);
const char *vb_boot_mode_name(enum vb_boot_mode m); /* "on", "off", "dry-run" */
