/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What an initramfs image holds of vfio-bind. The image is a concatenation of
 * cpio "newc" archives: uncompressed ones first (early microcode), then
 * usually one compressed archive (zstd by default on bookworm; gzip, xz,
 * lzma, bzip2, lz4 and lzop are recognised). The uncompressed part is parsed
 * here; the compressed part is streamed through the decompressor, run by
 * fork/exec with a fixed argv (no shell, nothing from any config reaches it)
 * from /usr/bin, /bin, /usr/sbin or /sbin, reading the image file on its
 * standard input.
 */

#include <stdbool.h>
#include <stddef.h>

#include "root.h"

#define VB_INITRAMFS_BINDER "usr/lib/vfio-bind/vfio-bind-early"
#define VB_INITRAMFS_SCRIPT "scripts/init-top/00-vfio-bind"
#define VB_INITRAMFS_CONFIG "etc/vfio-bind.conf"
#define VB_INITRAMFS_SNAPSHOT "etc/vfio-bind.snapshot"
#define VB_INITRAMFS_MAPPINGS "etc/vfio-bind.mappings"

struct vb_initramfs {
	bool has_binder; /* usr/lib/vfio-bind/vfio-bind-early (or lib/...) */
	bool has_script; /* scripts/init-top/00-vfio-bind */
	bool has_config; /* etc/vfio-bind.conf */
	char *config;    /* its content (NUL-terminated), NULL when absent */
	size_t config_len;
	char *snapshot;      /* etc/vfio-bind.snapshot (NUL-terminated), NULL when absent */
	char *mappings;      /* etc/vfio-bind.mappings (the same), NULL when absent */
	char compression[8]; /* of the last archive: "none", "zstd", "gzip", ... */
	size_t n_entries;    /* cpio entries seen */
};

/*
 * Reads relpath (under the root). 0 on success. -ENOENT: no such image.
 * Other failures leave a reason in why: -ENOEXEC (not a cpio image, or the
 * decompressor is missing: why names it), -EIO (truncated or corrupt),
 * -errno. ir is initialised here; free it whatever the return.
 */
int vb_initramfs_read(const struct vb_root *root, const char *relpath, struct vb_initramfs *ir,
		      char *why, size_t why_size);
void vb_initramfs_free(struct vb_initramfs *ir);
