/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Tables through libsmartcols, as lsblk and lscpu print them: -o/--output
 * column selection ("+COL,..." appends to the defaults), --noheadings,
 * --raw, the width of the terminal (or $COLUMNS when stdout is not one;
 * unlimited without either), truncation and wrapping of the columns that
 * allow it, colour when enabled. The JSON of every command is written by
 * json.c from the same facts (the contract in vfio-bind(8)).
 */

#include <stdbool.h>
#include <stddef.h>

struct vb_coldef {
	const char *name; /* header and -o name */
	double whint;     /* libsmartcols width hint: <1 a fraction of the terminal */
	int flags;        /* SCOLS_FL_* */
	const char *help; /* one line for --help */
};

enum vb_color_mode { VB_COLOR_AUTO, VB_COLOR_ALWAYS, VB_COLOR_NEVER };

/* Parses --color's argument; -EINVAL when it is none of auto/always/never. */
int vb_color_parse(const char *s, enum vb_color_mode *ret);
/* Colour on stdout: always; never; auto = a terminal, TERM is not "dumb"
 * and NO_COLOR is unset or empty (https://no-color.org). */
bool vb_color_enabled(enum vb_color_mode mode);
/* Width to lay text out in: the terminal's, else $COLUMNS, else `fallback`
 * (0: no limit). */
size_t vb_output_width(size_t fallback);
/* isatty(stdout), asked once for the process */
bool vb_stdout_is_tty(void);

/* SGR sequences, as libsmartcols takes them */
#define VB_COLOR_GOOD "\033[32m"  /* green */
#define VB_COLOR_WARN "\033[33m"  /* yellow */
#define VB_COLOR_BAD "\033[1;31m" /* bold red */
#define VB_COLOR_RESET "\033[0m"

#define VB_TABLE_MAXCOLS 32

struct vb_table;

struct vb_table_opts {
	const char *output; /* -o LIST or NULL for the defaults */
	bool noheadings;
	bool raw;
	bool color;
};

/* defaults: column indices ending with -1. -EINVAL for an unknown column,
 * named in bad[size]; -ENOMEM. */
int vb_table_new(const struct vb_coldef *cols, size_t n_cols, const int *defaults,
		 const struct vb_table_opts *o, struct vb_table **ret, char *bad, size_t size);
void vb_table_free(struct vb_table *t);

/* A new row, under parent (a tree column makes it a child) or at the top. */
int vb_table_row(struct vb_table *t, int parent);
/* Sets column `col` (index into cols) of row `row`; a column not selected is
 * ignored. NULL shows "-". color: NULL or an SGR sequence (VB_COLOR_*). */
int vb_table_set(struct vb_table *t, int row, int col, const char *text, const char *color);
int vb_table_print(struct vb_table *t);

/* "  NAME   help" lines for a command's --help. */
void vb_table_help(const struct vb_coldef *cols, size_t n_cols);
