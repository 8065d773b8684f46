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
void json_str(struct json *j, const char *key,
	      const char *value); /* NULL or "" -> null when value is NULL */
void json_int(struct json *j, const char *key, long value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);

/*
 * The one JSON contract (vfio-bind(8), JSON OUTPUT): every command's object
 * opens with the envelope and closes with the messages logged meanwhile and
 * the exit code. The field list lives in the man page; tests/cli checks
 * every command's output against it.
 */
#define VB_JSON_SCHEMA_VERSION 1

struct vb_diags;
struct vb_pci_dev;
struct vb_names;

/* Start keeping every logged message for json_envelope_end(). */
void json_capture_messages(void);
/* {"schema_version", "command", "root", "config", "config_valid" (null
 * when valid < 0), "diagnostics": the config's, and leaves the object open. */
void json_envelope_begin(struct json *j, FILE *f, const char *command, const char *root,
			 const char *config, int valid, const struct vb_diags *diags);
/* "messages", "exit_code", closes the object. */
void json_envelope_end(struct json *j, int exit_code);
/* The identity of a device, the same in every command: address, id,
 * vendor, device, vendor_name, device_name, class, class_name, driver. */
void json_identity(struct json *j, const struct vb_pci_dev *d, struct vb_names *names);
void json_hex(struct json *j, const char *key, unsigned value, int digits);

/* A line for the admin of a command whose text is not a table (iommu,
 * import): stdout, or with --json a notice (stderr and the object's
 * messages) without the blank lines around it, since stdout is the
 * object's alone. */
void vb_say(bool json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
