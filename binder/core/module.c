/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "log.h"
#include "module.h"

/* modules.dep of a distribution kernel is ~1 MiB; the initramfs's is small. */
#define MODULES_DEP_MAX (16u << 20)

/* "vfio-pci" -> "vfio_pci": module names compare with '-' and '_' alike. */
static void underscored(const char *name, char *buf, size_t size)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	buf[i] = '\0';
}

/* Is module `mod` (underscored) in the comma-separated list? */
static bool in_list(const char *list, const char *mod)
{
	char item[64];
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n < sizeof(item)) {
			memcpy(item, p, n);
			item[n] = '\0';
			underscored(item, item, sizeof(item));
			if (strcmp(item, mod) == 0)
				return true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Does a line of modules.dep or modules.builtin name mod's file
 * (".../vfio-pci.ko", ".ko.xz", ".ko.zst" ...)? */
static bool lists_module(const char *text, const char *mod)
{
	size_t mlen = strlen(mod);

	for (const char *p = text; (p = strstr(p, ".ko")) != NULL; p += 3) {
		const char *start = p;
		char base[64];
		size_t n;

		while (start > text && start[-1] != '/' && start[-1] != '\n' && start[-1] != ' ')
			start--;
		n = (size_t)(p - start);
		if (n != mlen || n >= sizeof(base))
			continue;
		memcpy(base, start, n);
		base[n] = '\0';
		underscored(base, base, sizeof(base));
		if (strcmp(base, mod) == 0)
			return true;
	}
	return false;
}

void vb_module_explain_failure(const struct vb_root *root, const char *name, int err, char *buf,
			       size_t size)
{
	char cmdline[VB_CMDLINE_MAX], list[1024], mod[64], release[128], path[256];
	char *text = NULL;
	bool listed = false;
	size_t len;

	underscored(name, mod, sizeof(mod));
	if (vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline)) >= 0) {
		if (vb_cmdline_value(cmdline, "module_blacklist", list, sizeof(list)) &&
		    in_list(list, mod)) {
			snprintf(buf, size,
				 "module_blacklist=%s on the kernel command line forbids it", list);
			return;
		}
		if (vb_cmdline_value(cmdline, "modprobe.blacklist", list, sizeof(list)) &&
		    in_list(list, mod)) {
			snprintf(buf, size,
				 "modprobe.blacklist=%s on the kernel command line forbids it",
				 list);
			return;
		}
	}
	if (vb_read_file(root, "proc/sys/kernel/osrelease", release, sizeof(release)) > 0) {
		snprintf(path, sizeof(path), "lib/modules/%s/modules.dep", release);
		if (vb_read_all(root, path, MODULES_DEP_MAX, &text, &len) < 0) {
			snprintf(buf, size, "no /%s (%s)", path, vb_strerror(-err));
			return;
		}
		listed = lists_module(text, mod);
		free(text);
		text = NULL;
		if (!listed) {
			snprintf(path, sizeof(path), "lib/modules/%s/modules.builtin", release);
			if (vb_read_all(root, path, MODULES_DEP_MAX, &text, &len) >= 0) {
				listed = lists_module(text, mod);
				free(text);
			}
		}
		if (!listed) {
			snprintf(buf, size,
				 "%s is not in /lib/modules/%s (in the initramfs: run "
				 "update-initramfs -u for this kernel)",
				 name, release);
			return;
		}
	}
	snprintf(buf, size, "%s", vb_strerror(-err));
}
