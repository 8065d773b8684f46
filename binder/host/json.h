/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tiny streaming JSON writer for --json output (stdout). Commas and
 * nesting are tracked, so callers only say what comes next. */

#include <stdbool.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	bool need_comma[32];
};

void json_begin(struct json *j, FILE *f);
void json_end(struct json *j); /* newline at the end */
void json_object_open(struct json *j, const char *key);
void json_object_close(struct json *j);
void json_array_open(struct json *j, const char *key);
void json_array_close(struct json *j);
void json_str(struct json *j, const char *key, const char *value); /* NULL or "" -> null when value is NULL */
void json_int(struct json *j, const char *key, long value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);
