/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>

#include "dlopen.h"
#include "log.h"

static int dlib_load(const struct vb_dlib *lib)
{
	void *dl = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);

	if (!dl) {
		vb_log(lib->prio, "cannot open %s (package %s): %s%s%s", lib->soname, lib->package,
		       dlerror(), lib->consequence ? "; " : "",
		       lib->consequence ? lib->consequence : "");
		return -ELIBACC;
	}
	for (size_t i = 0; i < lib->n_syms; i++) {
		if (!dlsym(dl, lib->syms[i].name)) {
			vb_log(lib->prio, "%s (package %s) has no %s%s%s", lib->soname,
			       lib->package, lib->syms[i].name, lib->consequence ? "; " : "",
			       lib->consequence ? lib->consequence : "");
			dlclose(dl);
			return -ELIBACC;
		}
	}
	/* all there: only now are the pointers set */
	for (size_t i = 0; i < lib->n_syms; i++)
		*lib->syms[i].ptr = dlsym(dl, lib->syms[i].name);
	return 0;
}

int vb_dlib_open(struct vb_dlib *lib)
{
	if (lib->state > 0)
		lib->state = dlib_load(lib);
	return lib->state;
}
