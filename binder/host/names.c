/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libpci rather than udev's hwdb: pci.ids is a text file that every Debian
 * system with pciutils has (libpci3 depends on the pci.ids package), the
 * test fixtures are a few readable lines of it, and lspci prints the very
 * same names. hwdb.bin is a compiled file that only systemd-hwdb can make.
 *
 * Only the name list of libpci is used: pci_init() (which chooses an access
 * method and may read the running system's config space) is never called.
 */
#include <errno.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlopen.h"
#include "log.h"
#include "names.h"

#define VB_PCI_IDS "usr/share/misc/pci.ids"
#define VB_NAME_MAX 256

struct vb_names {
	struct pci_access *pacc; /* NULL: no database */
	char vendor[VB_NAME_MAX], device[VB_NAME_MAX], class[VB_NAME_MAX];
};

/* libpci's error callback must not return; a corrupt pci.ids is the only
 * error it reports while loading, and it must not end vfio-bind. */
static jmp_buf load_failed;
static char load_error[512];

static void __attribute__((noreturn)) names_error(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(load_error, sizeof(load_error), msg, ap);
	va_end(ap);
	longjmp(load_failed, 1);
}

static void names_quiet(char *msg, ...)
{
	(void)msg;
}

/*
 * libpci (and the libudev and libz it links) is opened when there is a
 * name database to read, not at start: apply --device, which the udev rule
 * runs on every PCI add, prints no names.
 */
#define PCI_SYMBOLS(X)                                                                             \
	X(pci_alloc)                                                                               \
	X(pci_set_name_list_path)                                                                  \
	X(pci_load_name_list)                                                                      \
	X(pci_cleanup)                                                                             \
	X(pci_free_name_list)                                                                      \
	X(pci_lookup_name)

#define PCI_DECLARE(f) static typeof(f) *sym_##f;
PCI_SYMBOLS(PCI_DECLARE)
#undef PCI_DECLARE

#define PCI_SYM(f) {#f, (void **)&sym_##f},
static const struct vb_dlsym pci_syms[] = {PCI_SYMBOLS(PCI_SYM)};
#undef PCI_SYM

static struct vb_dlib libpci = {
	.soname = "libpci.so.3",
	.package = "libpci3",
	.prio = VB_LOG_WARNING,
	.consequence = "names not shown",
	.syms = pci_syms,
	.n_syms = sizeof(pci_syms) / sizeof(pci_syms[0]),
	.state = 1,
};

struct vb_names *vb_names_open(const struct vb_root *root)
{
	struct vb_names *n = calloc(1, sizeof(*n));
	char *path;
	size_t len;

	if (!n)
		return NULL;
	if (!vb_exists(root, VB_PCI_IDS) || vb_dlib_open(&libpci) < 0)
		return n; /* hex ids only */
	len = strlen(root->path) + sizeof("/" VB_PCI_IDS);
	path = malloc(len);
	n->pacc = path ? sym_pci_alloc() : NULL;
	if (!n->pacc) {
		free(path);
		return n;
	}
	/* libpci opens the file by name: the root's copy, never the host's */
	snprintf(path, len, "%s%s" VB_PCI_IDS, root->path,
		 root->path[0] && root->path[strlen(root->path) - 1] == '/' ? "" : "/");
	sym_pci_set_name_list_path(n->pacc, path, 1);
	n->pacc->error = names_error;
	n->pacc->warning = names_quiet;
	n->pacc->debug = names_quiet;
	/* no ~/.pciids-cache, no DNS, no hwdb: names from this root only */
	n->pacc->id_lookup_mode = PCI_LOOKUP_NO_HWDB;
	if (setjmp(load_failed) == 0) {
		if (!sym_pci_load_name_list(n->pacc)) {
			sym_pci_cleanup(n->pacc);
			n->pacc = NULL;
		}
	} else {
		log_warning("%s: names not shown", load_error);
		sym_pci_free_name_list(n->pacc);
		sym_pci_cleanup(n->pacc);
		n->pacc = NULL;
	}
	return n;
}

void vb_names_close(struct vb_names *n)
{
	if (!n)
		return;
	if (n->pacc)
		sym_pci_cleanup(n->pacc);
	free(n);
}

#define LOOKUP_FLAGS (PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB)

const char *vb_names_vendor(struct vb_names *n, uint16_t vendor)
{
	if (!n || !n->pacc)
		return NULL;
	return sym_pci_lookup_name(n->pacc, n->vendor, sizeof(n->vendor),
				   PCI_LOOKUP_VENDOR | LOOKUP_FLAGS, (int)vendor);
}

const char *vb_names_device(struct vb_names *n, uint16_t vendor, uint16_t device)
{
	if (!n || !n->pacc)
		return NULL;
	return sym_pci_lookup_name(n->pacc, n->device, sizeof(n->device),
				   PCI_LOOKUP_DEVICE | LOOKUP_FLAGS, (int)vendor, (int)device);
}

const char *vb_names_class(struct vb_names *n, uint32_t class)
{
	if (!n || !n->pacc)
		return NULL;
	/* libpci's class lookup takes base and subclass (16 bits) */
	return sym_pci_lookup_name(n->pacc, n->class, sizeof(n->class),
				   PCI_LOOKUP_CLASS | LOOKUP_FLAGS, (int)(class >> 8));
}
