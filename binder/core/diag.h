/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Diagnostics: the one container of problems found, for the config parser,
 * the selection, the Proxmox mappings, the early binder and the host's
 * doctor. An entry has a severity, and optionally a code (a stable id, e.g.
 * doctor's VB_F_*), a file with line and column, the device it is about, a
 * message and a hint (what to do).
 *
 * The file of an entry is its own or, when it has none, the container's: the
 * parser's container carries the config's name once, doctor's holds entries
 * of vfio-bind.conf and of Proxmox's pci.cfg side by side.
 *
 * Used in early boot (klibc): nothing beyond malloc, string.h and snprintf.
 */

#include <stddef.h>

#include "pci.h"

#define VB_DIAGS_MAX 100 /* entries kept by default; later ones are only counted */

enum vb_severity { VB_SEV_NOTE, VB_SEV_WARNING, VB_SEV_ERROR };

struct vb_diag {
	enum vb_severity severity;
	const char *code;          /* stable id (a string constant, not copied); NULL: none */
	char *file;                /* NULL: the container's file */
	unsigned line, column;     /* 1-based; line 0: the whole file, column 0: the whole line */
	char dev[VB_PCI_NAME_MAX]; /* the PCI device it is about; "": none */
	char *message;
	char *hint; /* what to do; NULL when nothing */
};

struct vb_diags {
	char *file;        /* the entries' file unless they have their own; may be NULL */
	struct vb_diag *v; /* at most max */
	size_t n;
	size_t max;        /* entries kept; 0: VB_DIAGS_MAX */
	size_t n_errors;   /* every error, the dropped ones included */
	size_t n_warnings; /* every warning, the dropped ones included */
	size_t n_dropped;  /* entries past max: counted, not kept */
};

/* file may be NULL. A zeroed container is an initialised one without a file.
 * d->max (0: VB_DIAGS_MAX) may be set after this; vb_diags_free() keeps it. */
void vb_diags_init(struct vb_diags *d, const char *file);
void vb_diags_free(struct vb_diags *d);
/* code, file and dev may be NULL (file NULL: the container's); line 0: about
 * the whole file, column 0: about the whole line; hint may be NULL. Past
 * d->max only counts (n_dropped, n_errors, n_warnings). 0 or -ENOMEM. */
int vb_diags_add(struct vb_diags *d, enum vb_severity sev, const char *code, const char *file,
		 unsigned line, unsigned column, const char *dev, const char *hint, const char *fmt,
		 ...) __attribute__((format(printf, 9, 10)));
/* First entry with this code and device (either NULL: any); NULL when none. */
const struct vb_diag *vb_diags_find(const struct vb_diags *d, const char *code, const char *dev);
/* Logs each entry as one record "FILE:LINE:COL: error: MESSAGE" (or
 * "warning:", "note:"; ":COL" left out for column 0, ":LINE:COL" for line 0;
 * FILE "<config>" when neither the entry nor the container has one), with
 * "\n  hint: HINT" appended when there is a hint; errors at VB_LOG_ERR,
 * warnings at VB_LOG_WARNING, notes at VB_LOG_NOTICE. Ends with a count of
 * dropped entries. */
void vb_diags_log(const struct vb_diags *d);

/* "note", "warning", "error". */
const char *vb_severity_name(enum vb_severity sev);
/* The file of g: its own, else d's (d may be NULL); NULL when neither has one. */
static inline const char *vb_diag_file(const struct vb_diags *d, const struct vb_diag *g)
{
	return g->file ? g->file : d ? d->file : NULL;
}
/* "FILE:LINE:COL", "FILE:LINE" (column 0), "FILE" (line 0) of g into buf,
 * FILE as vb_diag_file(); "" when there is no file. Returns buf. */
const char *vb_diag_location(const struct vb_diags *d, const struct vb_diag *g, char *buf,
			     size_t size);
