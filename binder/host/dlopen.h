/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* One symbol of a library opened at run time, and where its address goes. */
struct vb_dlsym {
	const char *name;
	void **ptr;
};

/* A library opened when first needed (the way systemd opens libkmod). */
struct vb_dlib {
	const char *soname;      /* "libkmod.so.2" */
	const char *package;     /* the Debian package that has it, for the message */
	int prio;                /* how a missing library is logged (VB_LOG_*) */
	const char *consequence; /* appended to that message, e.g. "names not shown" */
	const struct vb_dlsym *syms;
	size_t n_syms;
	int state; /* 1: not tried yet; then 0 or -ELIBACC */
};

/* Opens the library and resolves every symbol into its pointer, once: later
 * calls return the first result. 0, or -ELIBACC when the library or a symbol
 * is missing, logged once at lib->prio with dlerror's words; then no pointer
 * is set. */
int vb_dlib_open(struct vb_dlib *lib);
