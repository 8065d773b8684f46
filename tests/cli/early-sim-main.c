/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-bind-early (built with glibc) with the simulated kernel. */
#include "early.h"
#include "simkernel.h"

int main(int argc, char **argv)
{
	return vb_early_main(argc, argv, simkernel_ops());
}
