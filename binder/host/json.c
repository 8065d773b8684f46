/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json.h"

static void json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Separator, indentation and key of the next member. */
static void json_member(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->need_comma[j->depth])
			fputc(',', j->f);
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
		j->need_comma[j->depth] = true;
	}
	if (key) {
		json_escape(j->f, key);
		fputs(": ", j->f);
	}
}

void json_begin(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->need_comma[0] = false;
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

static void json_open(struct json *j, const char *key, char c)
{
	json_member(j, key);
	fputc(c, j->f);
	if (j->depth < 31)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	bool had = j->need_comma[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
}

void json_object_open(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_object_close(struct json *j)
{
	json_close(j, '}');
}

void json_array_open(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

void json_array_close(struct json *j)
{
	json_close(j, ']');
}

void json_str(struct json *j, const char *key, const char *value)
{
	json_member(j, key);
	if (value)
		json_escape(j->f, value);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, long value)
{
	json_member(j, key);
	fprintf(j->f, "%ld", value);
}

void json_bool(struct json *j, const char *key, bool value)
{
	json_member(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_member(j, key);
	fputs("null", j->f);
}

/* ------------------------------------------------------------------------ */
/* The contract */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "names.h"
#include "pci.h"

struct captured {
	int prio;
	char *text;
};
static struct captured *captured;
static size_t n_captured, cap_captured;

static void capture(int prio, const char *text)
{
	if (n_captured == cap_captured) {
		size_t cap = cap_captured ? 2 * cap_captured : 16;
		struct captured *v = realloc(captured, cap * sizeof(*v));

		if (!v)
			return; /* the message still went to stderr */
		captured = v;
		cap_captured = cap;
	}
	captured[n_captured].prio = prio;
	captured[n_captured].text = strdup(text);
	if (captured[n_captured].text)
		n_captured++;
}

void json_capture_messages(void)
{
	vb_log_set_hook(capture);
}

static const char *level_name(int prio)
{
	return prio <= VB_LOG_ERR       ? "error"
	       : prio == VB_LOG_WARNING ? "warning"
	       : prio == VB_LOG_NOTICE  ? "notice"
	       : prio == VB_LOG_INFO    ? "info"
					: "debug";
}

void json_hex(struct json *j, const char *key, unsigned value, int digits)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%0*x", digits, value);
	json_str(j, key, buf);
}

void json_envelope_begin(struct json *j, FILE *f, const char *command, const char *root,
			 const char *config, int valid, const struct vb_diags *diags)
{
	json_begin(j, f);
	json_object_open(j, NULL);
	json_int(j, "schema_version", VB_JSON_SCHEMA_VERSION);
	json_str(j, "command", command);
	json_str(j, "root", root);
	json_str(j, "config", config);
	if (valid < 0)
		json_null(j, "config_valid");
	else
		json_bool(j, "config_valid", valid);
	json_array_open(j, "diagnostics");
	for (size_t i = 0; diags && i < diags->n; i++) {
		const struct vb_diag *g = &diags->v[i];
		const char *file = vb_diag_file(diags, g);

		json_object_open(j, NULL);
		json_str(j, "file", file ? file : config);
		if (g->line)
			json_int(j, "line", g->line);
		else
			json_null(j, "line");
		if (g->column)
			json_int(j, "column", g->column);
		else
			json_null(j, "column");
		json_str(j, "level", vb_severity_name(g->severity));
		json_str(j, "message", g->message);
		json_str(j, "hint", g->hint);
		json_object_close(j);
	}
	json_array_close(j);
}

void json_envelope_end(struct json *j, int exit_code)
{
	vb_log_set_hook(NULL);
	json_array_open(j, "messages");
	for (size_t i = 0; i < n_captured; i++) {
		json_object_open(j, NULL);
		json_str(j, "level", level_name(captured[i].prio));
		json_str(j, "text", captured[i].text);
		json_object_close(j);
		free(captured[i].text);
	}
	json_array_close(j);
	free(captured);
	captured = NULL;
	n_captured = cap_captured = 0;
	json_int(j, "exit_code", exit_code);
	json_object_close(j);
	json_end(j);
}

void json_identity(struct json *j, const struct vb_pci_dev *d, struct vb_names *names)
{
	char buf[16];

	json_str(j, "address", d->name);
	snprintf(buf, sizeof(buf), "%04x:%04x", d->vendor, d->device);
	json_str(j, "id", buf);
	json_hex(j, "vendor", d->vendor, 4);
	json_hex(j, "device", d->device, 4);
	json_str(j, "vendor_name", vb_names_vendor(names, d->vendor));
	json_str(j, "device_name", vb_names_device(names, d->vendor, d->device));
	json_hex(j, "class", (unsigned)d->class, 6);
	json_str(j, "class_name", vb_names_class(names, d->class));
	json_str(j, "driver", d->driver[0] ? d->driver : NULL);
}

void vb_say(bool json, const char *fmt, ...)
{
	char buf[VB_MESSAGE_MAX];
	const char *p = buf;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	if (!json) {
		vprintf(fmt, ap);
		va_end(ap);
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	while (*p == '\n')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '\n')
		n--;
	log_notice("%.*s", (int)n, p);
}
