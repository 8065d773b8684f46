/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-bind with the simulated kernel behind the kernel-operations boundary.
 * VB_SIM_FAIL=PATTERN:ERRNO makes every matching write fail (simkernel.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "simkernel.h"

int main(int argc, char **argv)
{
	const char *f = getenv("VB_SIM_FAIL");
	const char *colon = f ? strrchr(f, ':') : NULL;

	if (colon) {
		char pattern[256];
		size_t n = (size_t)(colon - f) < sizeof(pattern) ? (size_t)(colon - f)
								 : sizeof(pattern) - 1;

		memcpy(pattern, f, n);
		pattern[n] = 0;
		simkernel_fail(pattern, atoi(colon + 1), -1);
	}
	return vb_main(argc, argv, simkernel_ops());
}
