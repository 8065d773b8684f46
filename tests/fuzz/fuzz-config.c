/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the config parser. Any bytes must parse without a crash,
 * a leak or an over-read, diagnostics must be sane, and every parsed term
 * must print to text that parses back to the same term.
 *
 * tests/fuzz/run builds each tests/fuzz/fuzz-TARGET.c with the sources named
 * on its fuzz-sources line (paths from the top of the tree), seeds it from
 * tests/fuzz/corpus/TARGET/ plus the files on its fuzz-seeds line, and uses
 * fuzz-TARGET.dict when there is one.
 *
 * fuzz-sources: binder/core/config.c binder/core/log.c binder/core/root.c binder/core/pci.c
 * fuzz-sources: binder/core/util.c binder/core/diag.c
 * fuzz-sources: binder/core/lock.c
 * fuzz-seeds: conf/vfio-bind.conf
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* vb_diags_log still formats every record; only the output is dropped */
	vb_log_set_max_priority(-1);
	return 0;
}

static int term_equal(const struct vb_term *a, const struct vb_term *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case VB_TERM_ADDRESS:
		return a->address.addr.domain == b->address.addr.domain &&
		       a->address.addr.bus == b->address.addr.bus &&
		       a->address.addr.slot == b->address.addr.slot &&
		       a->address.addr.func == b->address.addr.func &&
		       a->address.any_func == b->address.any_func;
	case VB_TERM_ID:
	case VB_TERM_SUBSYS:
		return a->id.vendor == b->id.vendor && a->id.device == b->id.device &&
		       a->id.any_device == b->id.any_device;
	case VB_TERM_CLASS:
		return a->class.value == b->class.value && a->class.digits == b->class.digits;
	case VB_TERM_TOPOLOGY:
		return strcmp(a->topology, b->topology) == 0;
	case VB_TERM_GROUP:
		return a->group == b->group;
	case VB_TERM_BOOT_VGA:
		return a->boot_vga == b->boot_vga;
	case VB_TERM_MAPPING:
		return strcmp(a->mapping.name, b->mapping.name) == 0;
	default:
		return 0;
	}
}

/* Parses text (one rule) and returns it; aborts unless it is valid. */
static void reparse(const char *text, size_t len, struct vb_config *c)
{
	struct vb_diags d;
	char *exact = malloc(len ? len : 1);

	CHECK(exact);
	memcpy(exact, text, len); /* no NUL after it, as in the real input */
	if (vb_config_parse("again", exact, len, c, &d) != 0 || c->n_rules != 1) {
		fprintf(stderr, "canonical text does not parse: '%.*s'\n", (int)len, text);
		abort();
	}
	vb_diags_free(&d);
	free(exact);
}

static void check_rule(const struct vb_rule *r)
{
	static char text[2 * VB_CONFIG_MAX_LINE + 64];
	struct vb_config c;
	size_t i;
	int n;

	CHECK(r->n_terms >= 1 && r->n_terms <= VB_CONFIG_MAX_TERMS);
	CHECK(!r->exclude || (r->expand == 0 && !r->allow_storage));
	CHECK((r->expand & ~(unsigned)(VB_EXPAND_SLOT | VB_EXPAND_GROUP)) == 0);

	/* each term: format, parse "bind TERM", same term, same text */
	for (i = 0; i < r->n_terms; i++) {
		const struct vb_term *t = &r->terms[i];
		char again[sizeof(text)];

		memcpy(text, "bind ", 5);
		n = vb_term_format(t, text + 5, sizeof(text) - 5);
		CHECK(n > 0);
		CHECK(vb_term_format(t, again, (size_t)n) == -ENOBUFS); /* one byte short */
		reparse(text, 5 + (size_t)n, &c);
		CHECK(c.rules[0].n_terms == 1);
		CHECK(term_equal(t, &c.rules[0].terms[0]));
		CHECK(vb_term_format(&c.rules[0].terms[0], again, sizeof(again)) == n);
		CHECK(memcmp(again, text + 5, (size_t)n) == 0);
		vb_config_free(&c);
	}

	/* the whole rule, when its canonical text fits on a line (it can be a
	 * little longer than the input: 1:0.0 prints as 0000:01:00.0) */
	n = vb_rule_format(r, text, sizeof(text));
	CHECK(n > 0);
	if (n <= VB_CONFIG_MAX_LINE) {
		reparse(text, (size_t)n, &c);
		CHECK(c.rules[0].n_terms == r->n_terms);
		CHECK(c.rules[0].exclude == r->exclude);
		CHECK(c.rules[0].expand == r->expand);
		CHECK(c.rules[0].allow_storage == r->allow_storage);
		for (i = 0; i < r->n_terms; i++)
			CHECK(term_equal(&r->terms[i], &c.rules[0].terms[i]));
		vb_config_free(&c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vb_config cfg;
	struct vb_diags d;
	size_t i, lines = 1;
	int r;

	r = vb_config_parse("fuzz.conf", (const char *)data, size, &cfg, &d);
	if (r == -EFBIG) {
		CHECK(size > VB_CONFIG_MAX_SIZE);
		goto out;
	}
	CHECK(r == 0 || r == -EINVAL);
	CHECK((r == 0) == (d.n_errors == 0));
	CHECK(d.n <= VB_DIAGS_MAX);
	CHECK(d.n_errors == d.n + d.n_dropped); /* the parser only reports errors */
	CHECK(cfg.n_rules <= VB_CONFIG_MAX_RULES);

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (i = 0; i < d.n; i++) {
		const struct vb_diag *g = &d.v[i];
		const char *s;

		CHECK(g->line >= 1 && g->line <= lines);
		CHECK(g->column <= VB_CONFIG_MAX_LINE + 1);
		CHECK(g->message && g->message[0]);
		CHECK(g->hint && g->hint[0]);
		/* whatever the input, messages hold no control characters */
		for (s = g->message; *s; s++)
			CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
		for (s = g->hint; *s; s++)
			CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
	}
	for (i = 1; i < cfg.n_rules; i++)
		CHECK(cfg.rules[i].line > cfg.rules[i - 1].line);
	for (i = 0; i < cfg.n_rules; i++)
		check_rule(&cfg.rules[i]);
	vb_diags_log(&d);
out:
	vb_config_free(&cfg);
	vb_diags_free(&d);
	return 0;
}
