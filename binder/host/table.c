/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "table.h"

struct vb_table {
	struct libscols_table *tb;
	const struct vb_coldef *cols;
	size_t n_cols;
	int sel_of[VB_TABLE_MAXCOLS];     /* column index -> position in the table, -1 */
	size_t natural[VB_TABLE_MAXCOLS]; /* widest cell or header, by column index */
	int wrap_col;                     /* the column wrapped at words, -1 */
	char **wrap_text;                 /* its cells, by row */
	struct libscols_line **rows;
	size_t n_rows, cap_rows;
};

int vb_color_parse(const char *s, enum vb_color_mode *ret)
{
	if (!s || strcmp(s, "auto") == 0)
		*ret = VB_COLOR_AUTO;
	else if (strcmp(s, "always") == 0)
		*ret = VB_COLOR_ALWAYS;
	else if (strcmp(s, "never") == 0)
		*ret = VB_COLOR_NEVER;
	else
		return -EINVAL;
	return 0;
}

bool vb_color_enabled(enum vb_color_mode mode)
{
	const char *e;

	if (mode != VB_COLOR_AUTO)
		return mode == VB_COLOR_ALWAYS;
	e = getenv("NO_COLOR");
	if (e && *e)
		return false;
	e = getenv("TERM");
	if (e && strcmp(e, "dumb") == 0)
		return false;
	return vb_stdout_is_tty();
}

bool vb_stdout_is_tty(void)
{
	static int tty = -1; /* asked once: stdout does not change */

	if (tty < 0)
		tty = isatty(STDOUT_FILENO);
	return tty;
}

static size_t env_columns(void)
{
	const char *e = getenv("COLUMNS");
	char *end;
	unsigned long v;

	if (!e || !*e)
		return 0;
	errno = 0;
	v = strtoul(e, &end, 10);
	if (errno || *end || v == 0 || v > 100000)
		return 0;
	return v;
}

size_t vb_output_width(size_t fallback)
{
	struct winsize ws;
	size_t c;

	if (vb_stdout_is_tty() && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	c = env_columns();
	return c ? c : fallback;
}

static int find_col(const struct vb_coldef *cols, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(cols[i].name) == len && strncasecmp(cols[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

int vb_table_new(const struct vb_coldef *cols, size_t n_cols, const int *defaults,
		 const struct vb_table_opts *o, struct vb_table **ret, char *bad, size_t size)
{
	int order[VB_TABLE_MAXCOLS], n = 0;
	const char *p = o->output;
	struct vb_table *t;

	if (n_cols > VB_TABLE_MAXCOLS)
		return -E2BIG;
	if (!p || *p == '+') {
		for (const int *d = defaults; *d >= 0 && n < VB_TABLE_MAXCOLS; d++)
			order[n++] = *d;
		if (p)
			p++;
	}
	while (p && *p) {
		size_t len = strcspn(p, ",");
		int c = find_col(cols, n_cols, p, len);

		if (c < 0) {
			snprintf(bad, size, "%.*s", (int)len, p);
			return -EINVAL;
		}
		if (n < VB_TABLE_MAXCOLS)
			order[n++] = c;
		p += len;
		if (*p == ',')
			p++;
	}
	if (n == 0) {
		snprintf(bad, size, "%s", o->output ? o->output : "");
		return -EINVAL;
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tb = scols_new_table();
	if (!t->tb) {
		free(t);
		return -ENOMEM;
	}
	t->cols = cols;
	t->n_cols = n_cols;
	t->wrap_col = -1;
	for (size_t i = 0; i < n_cols; i++)
		t->natural[i] = strlen(cols[i].name);
	for (size_t i = 0; i < VB_TABLE_MAXCOLS; i++)
		t->sel_of[i] = -1;
	scols_table_enable_noheadings(t->tb, o->noheadings);
	scols_table_enable_raw(t->tb, o->raw);
	scols_table_enable_colors(t->tb, o->color);
	/* a pipe without $COLUMNS gets whole lines: nothing to fit */
	bool unlimited = o->raw || (!vb_stdout_is_tty() && !env_columns());

	for (int i = 0; i < n; i++) {
		int flags = cols[order[i]].flags;

		if (unlimited)
			flags &= ~(SCOLS_FL_TRUNC | SCOLS_FL_WRAP);
		if (t->sel_of[order[i]] >= 0)
			continue; /* asked twice: shown once */
		struct libscols_column *cl = scols_table_new_column(t->tb, cols[order[i]].name,
								    cols[order[i]].whint, flags);

		if (!cl) {
			vb_table_free(t);
			return -ENOMEM;
		}
		if (flags & SCOLS_FL_WRAP) {
			/* wrapped at the newlines vb_table_print() puts between words */
			scols_column_set_wrapfunc(cl, scols_wrapnl_chunksize,
						  scols_wrapnl_nextchunk, NULL);
			scols_column_set_safechars(cl, "\n");
			t->wrap_col = order[i];
		}
		t->sel_of[order[i]] = (int)scols_table_get_ncols(t->tb) - 1;
	}
	*ret = t;
	return 0;
}

void vb_table_free(struct vb_table *t)
{
	if (!t)
		return;
	scols_unref_table(t->tb);
	for (size_t i = 0; t->wrap_text && i < t->n_rows; i++)
		free(t->wrap_text[i]);
	free(t->wrap_text);
	free(t->rows);
	free(t);
}

int vb_table_row(struct vb_table *t, int parent)
{
	struct libscols_line *ln;

	if (t->n_rows == t->cap_rows) {
		size_t cap = t->cap_rows ? 2 * t->cap_rows : 64;
		struct libscols_line **v = realloc(t->rows, cap * sizeof(*v));
		char **w;

		if (!v)
			return -ENOMEM;
		t->rows = v;
		w = realloc(t->wrap_text, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		memset(w + t->cap_rows, 0, (cap - t->cap_rows) * sizeof(*w));
		t->wrap_text = w;
		t->cap_rows = cap;
	}
	ln = scols_table_new_line(t->tb, parent >= 0 && (size_t)parent < t->n_rows ? t->rows[parent]
										   : NULL);
	if (!ln)
		return -ENOMEM;
	t->rows[t->n_rows] = ln;
	return (int)t->n_rows++;
}

int vb_table_set(struct vb_table *t, int row, int col, const char *text, const char *color)
{
	struct libscols_cell *ce;
	int pos;

	if (row < 0 || (size_t)row >= t->n_rows || col < 0 || (size_t)col >= t->n_cols)
		return -EINVAL;
	pos = t->sel_of[col];
	if (pos < 0)
		return 0;
	if (text && strlen(text) > t->natural[col])
		t->natural[col] = strlen(text);
	if (col == t->wrap_col) {
		free(t->wrap_text[row]);
		t->wrap_text[row] = strdup(text && *text ? text : "-");
		if (!t->wrap_text[row])
			return -ENOMEM;
	}
	if (scols_line_set_data(t->rows[row], (size_t)pos, text && *text ? text : "-") < 0)
		return -ENOMEM;
	ce = scols_line_get_cell(t->rows[row], (size_t)pos);
	if (color && ce)
		scols_cell_set_color(ce, color);
	return 0;
}

int vb_table_print(struct vb_table *t)
{
	size_t c = vb_output_width(0);

	/* a terminal: its width; a pipe with $COLUMNS (the tests, `COLUMNS=80
	 * vfio-bind status | less`): that width; a pipe without it: whole
	 * lines, for scripts. The width is set here rather than left to
	 * libsmartcols, whose own guess overshoots with a wrapped column. */
	if (c) {
		scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_ALWAYS);
		scols_table_set_termwidth(t->tb, c);
	}
	if (t->wrap_col >= 0 && c) {
		/* The wrapped column gets what the others leave, at least 35% of
		 * the width (libsmartcols then truncates the columns that allow
		 * it), and its text is broken at spaces to that width. */
		size_t others = 0, w;

		for (size_t i = 0; i < t->n_cols; i++)
			if (t->sel_of[i] >= 0 && (int)i != t->wrap_col)
				others += t->natural[i] + 1;
		w = others < c ? c - others : 0;
		if (w < c * 35 / 100)
			w = c * 35 / 100;
		for (size_t r = 0; r < t->n_rows; r++) {
			char *txt = t->wrap_text[r];
			size_t start = 0, last_space = 0;

			if (!txt)
				continue;
			for (size_t i = 0; txt[i]; i++) {
				if (txt[i] == ' ')
					last_space = i;
				if (i - start >= w && last_space > start) {
					txt[last_space] = '\n';
					start = last_space + 1;
				}
			}
			scols_line_set_data(t->rows[r], (size_t)t->sel_of[t->wrap_col], txt);
		}
	}
	if (scols_print_table(t->tb) < 0)
		return -EIO;
	return fflush(stdout) == 0 ? 0 : -errno;
}

void vb_table_help(const struct vb_coldef *cols, size_t n_cols)
{
	for (size_t i = 0; i < n_cols; i++)
		printf(" %14s  %s\n", cols[i].name, cols[i].help);
}
