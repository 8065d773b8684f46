/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-bind with the simulated kernel behind the kernel-operations boundary. */
#include "cli.h"
#include "simkernel.h"

int main(int argc, char **argv)
{
	return vb_main(argc, argv, simkernel_ops());
}
