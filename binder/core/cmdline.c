/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "cmdline.h"
#include "root.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t vb_cmdline_next(const char **p, const char **word)
{
	const char *s = *p;
	bool quoted = false;

	while (is_blank(*s))
		s++;
	*word = s;
	while (*s && (quoted || !is_blank(*s))) {
		if (*s == '"')
			quoted = !quoted;
		s++;
	}
	*p = s;
	return (size_t)(s - *word);
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(w, s, len) == 0;
}

bool vb_cmdline_has(const char *cmdline, const char *word)
{
	const char *w;
	size_t len;

	while ((len = vb_cmdline_next(&cmdline, &w)) > 0)
		if (word_is(w, len, word))
			return true;
	return false;
}

bool vb_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key), len;
	const char *w;
	bool found = false;

	while ((len = vb_cmdline_next(&cmdline, &w)) > 0) {
		char word[1024];
		size_t n = 0;

		/* quotes group, they are not part of the word: the kernel reads
		 * "root=LABEL=x" as root= too */
		for (size_t i = 0; i < len; i++)
			if (w[i] != '"' && n + 1 < sizeof(word))
				word[n++] = w[i];
		word[n] = '\0';
		if (n <= klen || memcmp(word, key, klen) != 0 || word[klen] != '=')
			continue;
		found = true;
		if (size)
			vb_copy_str(buf, size, word + klen + 1);
	}
	return found;
}

/* Strict decimal 1..VB_BOOT_TIMEOUT_MAX; 0 for anything else. */
static unsigned parse_timeout(const char *s, size_t len)
{
	unsigned v = 0;

	if (len == 0 || len > 4)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v >= 1 && v <= VB_BOOT_TIMEOUT_MAX ? v : 0;
}

void vb_boot_switches_parse(const char *cmdline, struct vb_boot_switches *sw)
{
	static const char tpfx[] = "vfio-bind.timeout=";
	const char *w;
	size_t len;

	memset(sw, 0, sizeof(*sw));
	sw->timeout_s = VB_BOOT_TIMEOUT_DEFAULT;
	while ((len = vb_cmdline_next(&cmdline, &w)) > 0) {
		if (word_is(w, len, "vfio-bind=off") || word_is(w, len, "vfio-bind=0"))
			sw->mode = VB_BOOT_OFF;
		else if (word_is(w, len, "vfio-bind=on") || word_is(w, len, "vfio-bind=1"))
			sw->mode = VB_BOOT_ON;
		else if (word_is(w, len, "vfio-bind=dry-run"))
			sw->mode = VB_BOOT_DRY_RUN;
		else if (word_is(w, len, "vfio-bind.debug") || word_is(w, len, "vfio-bind.debug=1"))
			sw->debug = true;
		else if (word_is(w, len, "vfio-bind.debug=0"))
			sw->debug = false;
		else if (len > sizeof(tpfx) - 1 && memcmp(w, tpfx, sizeof(tpfx) - 1) == 0 &&
			 parse_timeout(w + sizeof(tpfx) - 1, len - (sizeof(tpfx) - 1)))
			sw->timeout_s =
				parse_timeout(w + sizeof(tpfx) - 1, len - (sizeof(tpfx) - 1));
		else if ((len > 10 && memcmp(w, "vfio-bind=", 10) == 0) ||
			 (len > 10 && memcmp(w, "vfio-bind.", 10) == 0)) {
			size_t n = len < sizeof(sw->unknown) - 1 ? len : sizeof(sw->unknown) - 1;

			memcpy(sw->unknown, w, n);
			sw->unknown[n] = '\0';
		}
	}
}

int vb_boot_switches_read(const struct vb_root *root, struct vb_boot_switches *sw)
{
	char buf[VB_CMDLINE_MAX];
	int r = vb_read_file(root, "proc/cmdline", buf, sizeof(buf));

	vb_boot_switches_parse(r < 0 ? "" : buf, sw);
	return r < 0 ? r : 0;
}

const char *vb_boot_mode_name(enum vb_boot_mode m)
{
	switch (m) {
	case VB_BOOT_ON:
		return "on";
	case VB_BOOT_OFF:
		return "off";
	case VB_BOOT_DRY_RUN:
		return "dry-run";
	}
	return "unknown";
}
