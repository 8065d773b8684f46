/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small helpers shared by the core, the host command and the early binder:
 * string copy, hex digits, word splitting, a monotonic clock. Only what
 * klibc has (the early binder links them).
 */

#include <stddef.h>
#include <stdint.h>

/* Buffer sizes, named for what they hold. */
#define VB_PATH_MAX 4096                           /* a path (PATH_MAX) */
#define VB_LOCATION_MAX (VB_PATH_MAX + 104)        /* a path and a line number or a short label */
#define VB_MESSAGE_MAX (2 * VB_LOCATION_MAX + 600) /* a message naming two such paths */
#define VB_CMDLINE_MAX 8192 /* /proc/cmdline: COMMAND_LINE_SIZE is at most 4096 */

/* Copies src into dst[size], truncating; always NUL-terminated. */
void vb_copy_str(char *dst, size_t size, const char *src);

/* The value of one hex digit, or -1. */
int vb_hexval(char c);
/* Exactly n hex digits at s (n <= 8) into *ret; 0 or -EINVAL. */
int vb_hex_digits(const char *s, size_t n, uint32_t *ret);

/* Splits s in place at blanks (spaces, tabs) into at most max words;
 * returns how many. */
size_t vb_split_words(char *s, char **w, size_t max);

/* Milliseconds on a clock that only moves forward (CLOCK_MONOTONIC; klibc:
 * the wall clock). */
long vb_now_ms(void);
