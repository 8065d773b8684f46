/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "early.h"

int main(int argc, char **argv)
{
	return vb_early_main(argc, argv, NULL);
}
