/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The diagnostics container (diag.h). Runs in early boot too: malloc,
 * string.h and snprintf only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "log.h"

void vb_diags_init(struct vb_diags *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file ? strdup(file) : NULL;
}

void vb_diags_free(struct vb_diags *d)
{
	size_t max = d->max;

	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
		free(d->v[i].hint);
	}
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof(*d));
	d->max = max;
}

int vb_diags_add(struct vb_diags *d, enum vb_severity sev, const char *code, const char *file,
		 unsigned line, unsigned column, const char *dev, const char *hint, const char *fmt,
		 ...)
{
	struct vb_diag *g;
	va_list ap, aq;
	int len;

	if (sev == VB_SEV_ERROR)
		d->n_errors++;
	else if (sev == VB_SEV_WARNING)
		d->n_warnings++;
	/* A file of garbage has an error on every line; keeping a bounded
	 * number keeps memory and output bounded, the counts stay exact. */
	if (d->n >= (d->max ? d->max : VB_DIAGS_MAX)) {
		d->n_dropped++;
		return 0;
	}
	if ((d->n & (d->n - 1)) == 0 && d->n >= 8) { /* 8, 16, 32...: full */
		g = realloc(d->v, 2 * d->n * sizeof(*d->v));
		if (!g)
			return -ENOMEM;
		d->v = g;
	} else if (!d->v) {
		d->v = malloc(8 * sizeof(*d->v));
		if (!d->v)
			return -ENOMEM;
	}
	g = &d->v[d->n];
	memset(g, 0, sizeof(*g));
	g->severity = sev;
	g->code = code;
	g->line = line;
	g->column = column;
	if (dev)
		snprintf(g->dev, sizeof(g->dev), "%s", dev);
	va_start(ap, fmt);
	va_copy(aq, ap);
	len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	g->message = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (g->message)
		vsnprintf(g->message, (size_t)len + 1, fmt, ap);
	va_end(ap);
	g->file = file ? strdup(file) : NULL;
	g->hint = hint ? strdup(hint) : NULL;
	if (!g->message || (file && !g->file) || (hint && !g->hint)) {
		free(g->message);
		free(g->file);
		free(g->hint);
		return -ENOMEM;
	}
	d->n++;
	return 0;
}

const struct vb_diag *vb_diags_find(const struct vb_diags *d, const char *code, const char *dev)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct vb_diag *g = &d->v[i];

		if ((!code || (g->code && strcmp(g->code, code) == 0)) &&
		    (!dev || strcmp(g->dev, dev) == 0))
			return g;
	}
	return NULL;
}

const char *vb_severity_name(enum vb_severity sev)
{
	switch (sev) {
	case VB_SEV_ERROR:
		return "error";
	case VB_SEV_WARNING:
		return "warning";
	default:
		return "note";
	}
}

/* ":LINE:COL", ":LINE" or "" */
static void where(const struct vb_diag *g, char *buf, size_t size)
{
	if (g->line == 0)
		buf[0] = 0;
	else if (g->column == 0)
		snprintf(buf, size, ":%u", g->line);
	else
		snprintf(buf, size, ":%u:%u", g->line, g->column);
}

const char *vb_diag_location(const struct vb_diags *d, const struct vb_diag *g, char *buf,
			     size_t size)
{
	const char *file = vb_diag_file(d, g);
	char w[32];

	if (!file) {
		if (size)
			buf[0] = 0;
		return buf;
	}
	where(g, w, sizeof(w));
	snprintf(buf, size, "%s%s", file, w);
	return buf;
}

void vb_diags_log(const struct vb_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct vb_diag *g = &d->v[i];
		const char *file = vb_diag_file(d, g);
		int prio = (g->severity == VB_SEV_ERROR     ? VB_LOG_ERR
			    : g->severity == VB_SEV_WARNING ? VB_LOG_WARNING
							    : VB_LOG_NOTICE) |
			   VB_LOG_BARE;
		char w[32];

		where(g, w, sizeof(w));
		/* One record per diagnostic: in early boot each vb_log() is one
		 * kmsg record, and the hint must stay with its message. */
		vb_log(prio, "%s%s: %s: %s%s%s", file ? file : "<config>", w,
		       vb_severity_name(g->severity), g->message, g->hint ? "\n  hint: " : "",
		       g->hint ? g->hint : "");
	}
	if (d->n_dropped > 0)
		vb_log(d->n_errors > d->n ? VB_LOG_ERR : VB_LOG_WARNING,
		       "%s: %lu more diagnostics not shown", d->file ? d->file : "<config>",
		       (unsigned long)d->n_dropped);
}
