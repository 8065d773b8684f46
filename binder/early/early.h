/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "root.h"

/* The whole early binder; ops replaces the kernel operations (tests pass the
 * simulated kernel), NULL for the real ones (writes + the image's modprobe). */
int vb_early_main(int argc, char **argv, const struct vb_kernel_ops *ops);
