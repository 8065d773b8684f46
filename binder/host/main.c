/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "table.h"

int main(int argc, char **argv)
{
	/* Into a pipe or file, the output of plan or status on a large machine
	 * is tens of KiB: one write(2) instead of one per 4 KiB. */
	static char outbuf[64 * 1024];

	if (!vb_stdout_is_tty())
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	return vb_main(argc, argv, NULL);
}
