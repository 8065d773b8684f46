/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Logging with syslog priorities. Two sinks: stderr (host command) and a
 * /dev/kmsg file descriptor (early boot, "<prio>vfio-bind: msg" records).
 * Functions that fail return -errno and do not log; their caller logs once.
 */

#include <stdarg.h>

#define VB_LOG_ERR 3
#define VB_LOG_WARNING 4
#define VB_LOG_NOTICE 5
#define VB_LOG_INFO 6
#define VB_LOG_DEBUG 7

/* Or'ed into a priority: the message carries its own severity word
 * ("file:1:2: error: ..."), so stderr gets no "error: " prefix. */
#define VB_LOG_BARE 0x100

/* Messages with a priority numerically above this are dropped. */
void vb_log_set_max_priority(int prio);
int vb_log_get_max_priority(void);

/* Send records to this kmsg fd (ownership stays with the caller), or -1 for
 * stderr. */
void vb_log_set_kmsg_fd(int fd);

/* Also hand every record that passes the priority filter to hook (text
 * without the "vfio-bind: " prefix; prio without VB_LOG_BARE), e.g. for
 * the messages of --json. NULL: none. */
void vb_log_set_hook(void (*hook)(int prio, const char *text));

void vb_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vb_logv(int prio, const char *fmt, va_list ap);

#define log_error(...) vb_log(VB_LOG_ERR, __VA_ARGS__)
#define log_warning(...) vb_log(VB_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) vb_log(VB_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) vb_log(VB_LOG_INFO, __VA_ARGS__)
#define log_debug(...) vb_log(VB_LOG_DEBUG, __VA_ARGS__)

/* strerror() replacement that is the same under glibc and klibc. */
const char *vb_strerror(int errnum);
