/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dlopen.h"
#include "kmod.h"
#include "log.h"

/*
 * libkmod is opened when a command first needs it (check, the initramfs
 * hook, doctor, import, a module load on the host), not at start: the
 * commands the udev rule and the unit run at every boot (apply --device on
 * each PCI add, status, plan) do not pay for loading it and the compression
 * libraries it links (libzstd, liblzma, libcrypto). systemd opens libkmod
 * the same way. The package depends on libkmod2 by name for it.
 */
#define KMOD_SYMBOLS(X)                                                                            \
	X(kmod_new)                                                                                \
	X(kmod_unref)                                                                              \
	X(kmod_set_log_priority)                                                                   \
	X(kmod_load_resources)                                                                     \
	X(kmod_list_next)                                                                          \
	X(kmod_module_new_from_lookup)                                                             \
	X(kmod_module_get_module)                                                                  \
	X(kmod_module_unref)                                                                       \
	X(kmod_module_unref_list)                                                                  \
	X(kmod_module_get_name)                                                                    \
	X(kmod_module_get_path)                                                                    \
	X(kmod_module_get_softdeps)                                                                \
	X(kmod_module_get_dependencies)                                                            \
	X(kmod_module_probe_insert_module)

#define KMOD_DECLARE(f) static typeof(f) *sym_##f;
KMOD_SYMBOLS(KMOD_DECLARE)
#undef KMOD_DECLARE

/* libkmod.h's kmod_list_foreach(), through the opened library */
#define vb_kmod_list_foreach(e, first)                                                             \
	for ((e) = (first); (e) != NULL; (e) = sym_kmod_list_next((first), (e)))

#define KMOD_SYM(f) {#f, (void **)&sym_##f},
static const struct vb_dlsym kmod_syms[] = {KMOD_SYMBOLS(KMOD_SYM)};
#undef KMOD_SYM

static struct vb_dlib libkmod = {
	.soname = "libkmod.so.2",
	.package = "libkmod2",
	.prio = VB_LOG_ERR,
	.syms = kmod_syms,
	.n_syms = sizeof(kmod_syms) / sizeof(kmod_syms[0]),
	.state = 1,
};

/* 0, or -ELIBACC (logged once) */
static int kmod_open(void)
{
	return vb_dlib_open(&libkmod);
}

char *vb_kernel_release(const struct vb_root *root, const char *kver, int *err)
{
	struct dirent *de;
	char *found = NULL;
	DIR *dir;
	int n = 0;

	*err = 0;
	if (kver) {
		/* a release is a single path component */
		if (!*kver || strchr(kver, '/') || strcmp(kver, ".") == 0 ||
		    strcmp(kver, "..") == 0) {
			*err = -EINVAL;
			return NULL;
		}
		found = strdup(kver);
		if (!found)
			*err = -ENOMEM;
		return found;
	}
	if (root->is_host) {
		struct utsname u;
		if (uname(&u) < 0) {
			*err = -errno;
			return NULL;
		}
		found = strdup(u.release);
		if (!found)
			*err = -ENOMEM;
		return found;
	}
	*err = vb_opendir(root, "lib/modules", &dir);
	if (*err < 0)
		return NULL;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		free(found);
		found = strdup(de->d_name);
	}
	closedir(dir);
	if (n != 1) {
		/* none or several kernels: the caller must say which (--kernel) */
		free(found);
		*err = n == 0 ? -ENOENT : -EADDRNOTAVAIL;
		return NULL;
	}
	if (!found)
		*err = -ENOMEM;
	return found;
}

static struct kmod_ctx *ctx_new(const struct vb_root *root, const char *kver)
{
	char dirname[VB_LOCATION_MAX], c1[VB_LOCATION_MAX], c2[VB_LOCATION_MAX],
		c3[VB_LOCATION_MAX];
	const char *config_paths[4];
	struct kmod_ctx *ctx;
	const char *sep = root->path[strlen(root->path) - 1] == '/' ? "" : "/";

	snprintf(dirname, sizeof(dirname), "%s%slib/modules/%s", root->path, sep, kver);
	/* modprobe.d of the root, so softdeps and blacklists of that system apply */
	snprintf(c1, sizeof(c1), "%s%setc/modprobe.d", root->path, sep);
	snprintf(c2, sizeof(c2), "%s%srun/modprobe.d", root->path, sep);
	snprintf(c3, sizeof(c3), "%s%slib/modprobe.d", root->path, sep);
	config_paths[0] = c1;
	config_paths[1] = c2;
	config_paths[2] = c3;
	config_paths[3] = NULL;
	ctx = sym_kmod_new(dirname, config_paths);
	if (!ctx)
		return NULL;
	sym_kmod_set_log_priority(ctx, 0); /* we report errors ourselves */
	if (sym_kmod_load_resources(ctx) < 0) {
		/* no modules.dep.bin: kmod falls back to the text files */
	}
	return ctx;
}

static bool modset_has(const struct vb_modset *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->names[i], name) == 0)
			return true;
	return false;
}

static int modset_add(struct vb_modset *set, const char *name)
{
	char **nv;

	if (modset_has(set, name))
		return 0;
	nv = realloc(set->names, (set->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	set->names = nv;
	set->names[set->n] = strdup(name);
	if (!set->names[set->n])
		return -ENOMEM;
	set->n++;
	return 0;
}

/* The modules whose dependencies are being walked, outermost first: a soft
 * dependency cycle (modprobe.d "softdep a pre: b" with "softdep b pre: a")
 * leads back to one of them, which is then skipped as libkmod's probe list
 * does. Without this, the walk went on to the depth cap, where it dropped the
 * dependencies of the innermost module and listed it before them. */
#define WALK_MAX 32
struct walk {
	struct vb_modset *set;
	const char *stack[WALK_MAX];
	int depth;
};

static int add_module_tree(struct kmod_ctx *ctx, struct kmod_module *mod, struct walk *w);

static int add_list(struct kmod_ctx *ctx, struct kmod_list *list, struct walk *w)
{
	struct kmod_list *l;
	int r = 0;

	vb_kmod_list_foreach(l, list)
	{
		struct kmod_module *m = sym_kmod_module_get_module(l);
		if (r == 0)
			r = add_module_tree(ctx, m, w);
		sym_kmod_module_unref(m);
	}
	return r;
}

/* Dependencies and pre-softdeps first, the module, then post-softdeps: the
 * order modprobe would load them in. */
static int add_module_tree(struct kmod_ctx *ctx, struct kmod_module *mod, struct walk *w)
{
	struct kmod_list *deps, *pre = NULL, *post = NULL;
	const char *name = sym_kmod_module_get_name(mod);
	int r;

	if (modset_has(w->set, name))
		return 0;
	for (int i = 0; i < w->depth; i++)
		if (strcmp(w->stack[i], name) == 0)
			return 0; /* a cycle: already being added further out */
	if (!sym_kmod_module_get_path(mod))
		return 0; /* built in: nothing to copy */
	if (w->depth >= WALK_MAX)
		return -ELOOP; /* an incomplete set would make an unbootable initramfs */
	w->stack[w->depth++] = name;

	sym_kmod_module_get_softdeps(mod, &pre, &post);
	/* soft dependencies name modules or aliases: resolve each */
	r = add_list(ctx, pre, w);
	if (r < 0)
		goto out;
	deps = sym_kmod_module_get_dependencies(mod);
	r = add_list(ctx, deps, w);
	sym_kmod_module_unref_list(deps);
	if (r < 0)
		goto out;
	r = modset_add(w->set, name);
	if (r < 0)
		goto out;
	r = add_list(ctx, post, w);
out:
	w->depth--;
	sym_kmod_module_unref_list(pre);
	sym_kmod_module_unref_list(post);
	return r;
}

int vb_modset_resolve(const struct vb_root *root, const char *kver, const char *module,
		      struct vb_modset *set)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	char path[VB_LOCATION_MAX];
	int r;

	memset(set, 0, sizeof(*set));
	snprintf(path, sizeof(path), "lib/modules/%s", kver);
	if (!vb_exists(root, path))
		return -ENOENT;
	r = kmod_open();
	if (r < 0)
		return r;
	ctx = ctx_new(root, kver);
	if (!ctx)
		return -ENOMEM;
	r = sym_kmod_module_new_from_lookup(ctx, module, &list);
	if (r < 0 || !list) {
		sym_kmod_unref(ctx);
		return r < 0 ? r : -ENOENT;
	}
	vb_kmod_list_foreach(l, list)
	{
		struct kmod_module *m = sym_kmod_module_get_module(l);
		if (!sym_kmod_module_get_path(m))
			set->builtin = true;
		else if (r >= 0) {
			struct walk w = {.set = set};
			r = add_module_tree(ctx, m, &w);
		}
		sym_kmod_module_unref(m);
	}
	sym_kmod_module_unref_list(list);
	sym_kmod_unref(ctx);
	if (r < 0)
		vb_modset_free(set);
	return r < 0 ? r : 0;
}

void vb_modset_free(struct vb_modset *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	memset(set, 0, sizeof(*set));
}

int vb_kmod_driver_for_alias(const struct vb_root *root, const char *kver, const char *modalias,
			     char *buf, size_t size, bool *builtin)
{
	struct kmod_list *list = NULL;
	struct kmod_module *m;
	struct kmod_ctx *ctx;
	int r;

	r = kmod_open();
	if (r < 0)
		return r;
	ctx = ctx_new(root, kver);
	if (!ctx)
		return -ENOMEM;
	r = sym_kmod_module_new_from_lookup(ctx, modalias, &list);
	if (r < 0 || !list) {
		sym_kmod_unref(ctx);
		return r < 0 ? r : -ENOENT;
	}
	/* The first match is the one udev would load first. */
	m = sym_kmod_module_get_module(list);
	snprintf(buf, size, "%s", sym_kmod_module_get_name(m));
	*builtin = sym_kmod_module_get_path(m) == NULL;
	sym_kmod_module_unref(m);
	sym_kmod_module_unref_list(list);
	sym_kmod_unref(ctx);
	return 0;
}

int vb_kmod_load_module(const struct vb_root *root, const char *name)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	int r;

	if (!root->is_host)
		return vb_load_module_fake_root(root, name);

	r = kmod_open();
	if (r < 0)
		return r;
	ctx = sym_kmod_new(NULL, NULL);
	if (!ctx)
		return -ENOMEM;
	sym_kmod_set_log_priority(ctx, 0);
	r = sym_kmod_module_new_from_lookup(ctx, name, &list);
	if (r < 0 || !list) {
		sym_kmod_unref(ctx);
		return r < 0 ? r : -ENOENT;
	}
	vb_kmod_list_foreach(l, list)
	{
		struct kmod_module *m = sym_kmod_module_get_module(l);
		r = sym_kmod_module_probe_insert_module(m, 0, NULL, NULL, NULL, NULL);
		sym_kmod_module_unref(m);
		if (r >= 0)
			break;
	}
	sym_kmod_module_unref_list(list);
	sym_kmod_unref(ctx);
	return r < 0 ? r : 0;
}
