/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `vfio-bind import [--write]`: the old recipe (recipe.h) as rules. Every
 * device the recipe hands to vfio-pci on this machine (ids= on modprobe.d,
 * initramfs-tools or the command line, modalias aliases) becomes one rule
 * naming its address and id, so identical cards become explicit, with a
 * comment naming the lines it came from. Without --write the output is a
 * config fragment (rules and # comments) on stdout; notes go to stderr.
 * --write appends it to the config, comments out the recipe's lines
 * (backups in var/lib/vfio-bind/backup) and says what to run next.
 */

#include <stdbool.h>

#include "root.h"

struct vb_names;

/* config: the -c file (a path on the running system) or NULL for
 * etc/vfio-bind.conf under the root. json: the one object of vfio-bind(8),
 * JSON OUTPUT, on stdout instead of the fragment (names: for its device
 * identities, may be NULL). Returns an exit code (cli.h). */
int vb_cmd_import(const struct vb_root *root, const char *config, bool write, bool json,
		  struct vb_names *names);
