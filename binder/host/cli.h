/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "exit-codes.h"
#include "root.h"

/* The whole command; ops replaces the kernel operations (tests pass the
 * simulated kernel), NULL for the real ones. */
int vb_main(int argc, char **argv, const struct vb_kernel_ops *ops);
