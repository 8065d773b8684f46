/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Fake sysfs trees for the unit tests. A tree is built by tests/sysfs/mktree
 * from tests/sysfs/NAME.tree (VB_SRCDIR = source root, default ".") into a
 * fresh mkdtemp() directory under $TMPDIR (default /tmp). Every helper
 * ck_abort()s on failure, so tests need no error handling. mktree runs as an
 * executable (#!/usr/bin/env python3) unless VB_PYTHON names an interpreter.
 *
 * The first build of a tests/sysfs tree without options is kept as a template (in memory
 * shared by Check's runner and the test processes it forks); later calls
 * copy it instead of running python again. Trees a failing test could not
 * clean up, and the templates, are removed when the runner exits.
 */

#include <stdbool.h>
#include <stddef.h>

/* Builds tests/sysfs/NAME.tree; returns the malloc'ed root path. */
char *fixture_tree(const char *name);
/* Runs mktree with these arguments (NULL-terminated) plus the destination.
 * An argument without '/' that ends in ".tree" names a file in
 * tests/sysfs/, e.g. {"--sriov-vfs", "256", "sriov.tree", NULL} or
 * {"--synthetic", "1024", NULL}. */
char *fixture_tree_args(const char *const *args);
/* NAME.tree with variables set: vars is "NAME=VALUE[ NAME=VALUE...]", e.g.
 * fixture_tree_vars("sriov", "VFS=256"). */
char *fixture_tree_vars(const char *name, const char *vars);
/* A tree from a description given as text (tests/sysfs/README.md). */
char *fixture_tree_text(const char *text);
/* rm -rf root, free(root). NULL is a no-op. */
void fixture_cleanup(char *root);

/* Build the template now (optional: fixture_tree*() builds it on first use).
 * fixture_unload_all() removes templates and leftover trees (also done when
 * the runner exits). */
void fixture_preload(const char *name);
void fixture_preload_args(const char *const *args);
void fixture_unload_all(void);

/* File helpers, paths relative to root. */
/* Writes content to relpath under root, creating missing parent dirs. */
void fixture_write(const char *root, const char *relpath, const char *content);
/* Whole file, malloc'ed and NUL-terminated; NULL when it does not exist. */
char *fixture_read(const char *root, const char *relpath);
/* Target of a symlink, malloc'ed; NULL when it is not a symlink. */
char *fixture_readlink(const char *root, const char *relpath);
/* lstat() succeeds. */
bool fixture_exists(const char *root, const char *relpath);
/* rm -rf of one path under root; a missing path is fine. */
void fixture_remove(const char *root, const char *relpath);
void fixture_symlink(const char *root, const char *relpath, const char *target);

/* rm -rf relpath under dirfd (no symlink is followed). 0 or -errno. */
int fixture_rm_rf_at(int dirfd, const char *relpath);
/* Copies the tree at src to dst (must not exist): files, dirs, symlinks. */
int fixture_copy_tree(const char *src, const char *dst);

struct vb_pci_list;
struct vb_pci_dev;
/* The scanned device with this canonical address; ck_abort when absent. */
struct vb_pci_dev *fixture_find_dev(const struct vb_pci_list *list, const char *name);

struct vb_diags;
/* vb_diags_log()'s output (stderr, every priority); free it. */
char *fixture_diags_log(const struct vb_diags *d);
