/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The /etc/vfio-bind.conf parser. The language is documented in
 * vfio-bind.conf(5); keep both in step.
 *
 * The parser runs in early boot (klibc) as well as on the host, so it uses
 * nothing beyond malloc, string.h and snprintf. It treats its input as
 * hostile: the buffer is not NUL-terminated, may hold any bytes and is only
 * ever read inside [buf, buf+len). Every problem becomes a diagnostic with
 * line, column, message and hint, and parsing goes on with the next line, so
 * one run reports every mistake in the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "root.h"

/* ------------------------------------------------------------------------ */
/* Keys */

enum {
	OPT_EXPAND = _VB_TERM_MAX, /* "slots" for the duplicate check */
	OPT_ALLOW_STORAGE,
	OPT_VFS,
	OPT_NUMVFS,
	OPT_DRIVER,
	_SLOT_MAX,
};

static const struct key {
	const char *name;
	int slot; /* vb_term_kind or OPT_* */
	const char *hint;
} keys[] = {
	{"path", VB_TERM_ADDRESS,
	 "expected a PCI address [DOMAIN:]BUS:SLOT.FUNC in hex as lspci prints it (e.g. "
	 "0000:01:00.0 or 01:00.0), or [DOMAIN:]BUS:SLOT or BUS:SLOT.* for every function of "
	 "the slot (e.g. 01:00)"},
	{"address", VB_TERM_ADDRESS,
	 "expected a PCI address [DOMAIN:]BUS:SLOT.FUNC in hex as lspci prints it (e.g. "
	 "0000:01:00.0 or 01:00.0), or [DOMAIN:]BUS:SLOT or BUS:SLOT.* for every function of "
	 "the slot (e.g. 01:00)"},
	{"id", VB_TERM_ID,
	 "expected VENDOR:DEVICE, 4 hex digits each, as 'lspci -nn' shows them in brackets "
	 "(e.g. id=10de:1b80); DEVICE may be *"},
	{"subsystem-id", VB_TERM_SUBSYS,
	 "expected VENDOR:DEVICE of the subsystem, 4 hex digits each, as 'lspci -vnn' shows "
	 "after 'Subsystem:' (e.g. subsystem-id=1028:1fc1); DEVICE may be *"},
	{"class", VB_TERM_CLASS,
	 "expected 2, 4 or 6 hex digits without 0x: base class, base+subclass or "
	 "base+subclass+prog-if (e.g. class=03 display, class=0300 VGA, class=0403 audio)"},
	{"topology", VB_TERM_TOPOLOGY,
	 "expected where the device is plugged in, as 'vfio-bind status' shows it: the "
	 "device on the root bus, then SLOT.FUNC per bridge (e.g. 0000:00:03.1/00.0), or its "
	 "directory under /sys/devices (e.g. pci0000:00/0000:00:03.1/0000:0a:00.0)"},
	{"iommugroup", VB_TERM_GROUP,
	 "expected a decimal group number from 0 to 2147483647, as in "
	 "/sys/kernel/iommu_groups/N"},
	{"boot-vga", VB_TERM_BOOT_VGA, "expected yes or no (or 1 or 0)"},
	{"mapping", VB_TERM_MAPPING,
	 "expected the ID of a Proxmox VE PCI resource mapping, as in "
	 "/etc/pve/mapping/pci.cfg (Datacenter > Resource Mappings), e.g. mapping=gpu"},
	{"expand", OPT_EXPAND, "expected slot, group or slot,group"},
	{"allow-storage", OPT_ALLOW_STORAGE,
	 "expected yes or no (or 1 or 0); read ALLOW-STORAGE in vfio-bind.conf(5) first"},
	{"vfs", OPT_VFS,
	 "expected all, or VF indices and ranges of them in decimal (e.g. vfs=0-3,6); index N "
	 "is the PF's virtfnN"},
	{"numvfs", OPT_NUMVFS,
	 "expected the number of VFs the PF must have, 1 to its sriov_totalvfs (e.g. numvfs=4)"},
	{"driver", OPT_DRIVER,
	 "expected a driver (module) name: vfio-pci (the default), a vfio-pci variant driver "
	 "such as mlx5_vfio_pci, or pci-stub"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
#define KEY_LIST                                                                                   \
	"path, address, id, subsystem-id, class, topology, iommugroup, boot-vga, mapping, "        \
	"expand, allow-storage, vfs, numvfs, driver"

/* Words people write for one of our keys, and keys we deliberately lack. */
static const struct {
	const char *word;
	const char *key; /* suggest this key... */
	const char *why; /* ...or explain */
} synonyms[] = {
	{"vendor", "id", NULL},
	{"device", "id", NULL},
	{"vendor-id", "id", NULL},
	{"device-id", "id", NULL},
	{"pci-id", "id", NULL},
	{"ids", "id", NULL},
	{"vid", "id", NULL},
	{"slot", "path", NULL},
	{"bdf", "path", NULL},
	{"addr", "path", NULL},
	{"pci", "path", NULL},
	{"subsystem", "subsystem-id", NULL},
	{"subsys", "subsystem-id", NULL},
	{"subsys-id", "subsystem-id", NULL},
	{"subvendor", "subsystem-id", NULL},
	{"group", "iommugroup", NULL},
	{"iommu", "iommugroup", NULL},
	{"physpath", "topology", NULL},
	{"devpath", "topology", NULL},
	{"sysfs", "topology", NULL},
	{"vga", "boot-vga", NULL},
	{"bootvga", "boot-vga", NULL},
	{"map", "mapping", NULL},
	{"pci-mapping", "mapping", NULL},
	{"resource-mapping", "mapping", NULL},
	{"node", NULL, "node= is a Proxmox cluster key; this file only describes this machine"},
	{"num-vfs", "numvfs", NULL},
	{"sriov-numvfs", "numvfs", NULL},
	{"sriov_numvfs", "numvfs", NULL},
	{"max_vfs", "numvfs", NULL},
	{"max-vfs", "numvfs", NULL},
	{"vf", "vfs", NULL},
	{"virtfn", "vfs", NULL},
	{"stub", "driver", NULL},
};

static bool tok_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static const struct key *key_lookup(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (tok_eq(s, n, keys[i].name))
			return &keys[i];
	return NULL;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Optimal string alignment distance, case-insensitive, '_' equal to '-'.
 * Only for short words: longer ones are never near a key. */
static unsigned edit_distance(const char *a, size_t na, const char *b)
{
	unsigned d[24][24];
	size_t nb = strlen(b), i, j;

	if (na >= 24 || nb >= 24)
		return 100;
	for (i = 0; i <= na; i++)
		d[i][0] = i;
	for (j = 0; j <= nb; j++)
		d[0][j] = j;
	for (i = 1; i <= na; i++) {
		for (j = 1; j <= nb; j++) {
			char ca = lower(a[i - 1]) == '_' ? '-' : lower(a[i - 1]);
			unsigned cost = ca != b[j - 1], v;

			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == b[j - 2] &&
			    lower(a[i - 2]) == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[na][nb];
}

/* The known word nearest to s, if it is near enough to be a typo. */
const char *vb_nearest_word(const char *s, size_t n, const char *const *words, size_t n_words)
{
	const char *best = NULL;
	unsigned best_d = 3, i;

	for (i = 0; i < n_words; i++) {
		unsigned dist = edit_distance(s, n, words[i]);

		/* two edits on a three-letter word is a different word */
		if (dist < best_d && dist * 2 < strlen(words[i]) + (n > 0)) {
			best = words[i];
			best_d = dist;
		}
	}
	return best;
}

static void unknown_key_hint(const char *s, size_t n, char *hint, size_t size)
{
	const char *names[N_KEYS], *k = NULL;
	char w[24];
	size_t i;

	/* synonyms are compared case-insensitively with '_' as '-' */
	if (n < sizeof(w)) {
		for (i = 0; i < n; i++)
			w[i] = lower(s[i]) == '_' ? '-' : lower(s[i]);
		w[n] = 0;
		for (i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++) {
			if (strcmp(w, synonyms[i].word) != 0)
				continue;
			if (synonyms[i].why) {
				snprintf(hint, size, "%s; valid keys: " KEY_LIST, synonyms[i].why);
				return;
			}
			k = synonyms[i].key;
		}
	}
	if (!k) {
		for (i = 0; i < N_KEYS; i++)
			names[i] = keys[i].name;
		k = vb_nearest_word(s, n, names, N_KEYS);
	}
	if (k)
		snprintf(hint, size, "did you mean '%s'? valid keys: " KEY_LIST, k);
	else
		snprintf(hint, size, "valid keys: " KEY_LIST);
}

/* ------------------------------------------------------------------------ */
/* Values */

/* Why a value is invalid and where (offset in the value). */
struct verr {
	size_t off;
	char msg[192];
};

static int verr(struct verr *e, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verr(struct verr *e, size_t off, const char *fmt, ...)
{
	va_list ap;

	e->off = off;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Bytes of the UTF-8 character at s (input is validated before tokens are
 * looked at, so this only decides how much to quote). */
static size_t char_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	return l > n ? n : l;
}

/* "'x'" or "the end of the value", for "found ..." messages. */
static const char *describe(const char *v, size_t n, size_t pos, char *buf, size_t size)
{
	if (pos >= n)
		return "the end of the value";
	snprintf(buf, size, "'%.*s'", (int)char_len(v + pos, n - pos), v + pos);
	return buf;
}

/* A run of hex digits at *pos: between min and max of them. */
static int read_hex(const char *v, size_t n, size_t *pos, unsigned min, unsigned max,
		    const char *what, uint32_t *ret, struct verr *e)
{
	size_t start = *pos, i = start;
	uint32_t x = 0;
	char b[8];

	while (i < n && vb_hexval(v[i]) >= 0) {
		if (i - start < 8)
			x = x * 16 + (uint32_t)vb_hexval(v[i]);
		i++;
	}
	if (i == start)
		return verr(e, i, "expected the %s in hex, found %s", what,
			    describe(v, n, i, b, sizeof(b)));
	if (i - start < min && i < n &&
	    ((v[i] >= 'g' && v[i] <= 'z') || (v[i] >= 'G' && v[i] <= 'Z')))
		return verr(e, i, "'%c' is not a hex digit", v[i]);
	if (i - start < min || i - start > max) {
		if (min == 1 && max == 1)
			return verr(e, start, "the %s '%.*s' must be one hex digit", what,
				    (int)(i - start), v + start);
		if (min == max)
			return verr(e, start, "the %s '%.*s' must be %u hex digits", what,
				    (int)(i - start), v + start, min);
		if (i - start < min)
			return verr(e, start, "the %s '%.*s' must be %u to %u hex digits", what,
				    (int)(i - start), v + start, min, max);
		return verr(e, start, "the %s '%.*s' has more than %u hex digits", what,
			    (int)(i - start), v + start, max);
	}
	*pos = i;
	*ret = x;
	return 0;
}

/* Expects the separator c at *pos after `what`. */
static int expect_sep(const char *v, size_t n, size_t *pos, char c, const char *what,
		      struct verr *e)
{
	char b[8];

	if (*pos < n && v[*pos] == c) {
		(*pos)++;
		return 0;
	}
	if (*pos < n && ((v[*pos] >= 'g' && v[*pos] <= 'z') || (v[*pos] >= 'G' && v[*pos] <= 'Z')))
		return verr(e, *pos, "'%c' is not a hex digit", v[*pos]);
	return verr(e, *pos, "expected '%c' after the %s, found %s", c, what,
		    describe(v, n, *pos, b, sizeof(b)));
}

/*
 * [DOMAIN:]BUS:SLOT[.FUNC|.*]. strict: the sysfs widths DDDD:BB:SS.F (the
 * kernel prints the domain %04x, so VMD domains have 5 digits), and the slot
 * form only as DDDD:BB:SS (for topology components). any_func NULL: no slot
 * form.
 */
static int parse_addr(const char *v, size_t n, bool strict, struct vb_pci_addr *a, bool *any_func,
		      struct verr *e)
{
	size_t pos = 0, colons = 0, i;
	uint32_t x;
	char b[8];
	int r;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < n; i++) {
		if (v[i] != ':')
			continue;
		if (++colons > 2)
			return verr(e, i, "unexpected third ':'");
	}
	if (colons == 0)
		return verr(e, 0, "expected %s",
			    strict ? "DOMAIN:BUS:SLOT.FUNC" : "[DOMAIN:]BUS:SLOT.FUNC");
	if (strict && colons != 2)
		return verr(e, 0, "expected DOMAIN:BUS:SLOT.FUNC with a 4-digit domain");

	if (colons == 2) {
		r = read_hex(v, n, &pos, strict ? 4 : 1, strict ? 8 : 4, "domain", &x, e);
		if (r < 0)
			return r;
		a->domain = x;
		r = expect_sep(v, n, &pos, ':', "domain", e);
		if (r < 0)
			return r;
	}
	r = read_hex(v, n, &pos, strict ? 2 : 1, 2, "bus", &x, e);
	if (r < 0)
		return r;
	a->bus = (uint8_t)x;
	r = expect_sep(v, n, &pos, ':', "bus", e);
	if (r < 0)
		return r;
	i = pos;
	r = read_hex(v, n, &pos, strict ? 2 : 1, 2, "slot", &x, e);
	if (r < 0)
		return r;
	if (x > 0x1f)
		return verr(e, i, "slot %02x is out of range (00-1f)", (unsigned)x);
	a->slot = (uint8_t)x;

	if (any_func)
		*any_func = false;
	if (pos == n) {
		if (any_func) {
			*any_func = true;
			return 0;
		}
		return verr(e, pos, "expected '.FUNC' after the slot");
	}
	r = expect_sep(v, n, &pos, '.', "slot", e);
	if (r < 0)
		return r;
	if (any_func && !strict && pos < n && v[pos] == '*') {
		*any_func = true;
		pos++;
	} else {
		i = pos;
		r = read_hex(v, n, &pos, 1, 1, "function", &x, e);
		if (r < 0)
			return r;
		if (x > 7)
			return verr(e, i, "function %x is out of range (0-7)", (unsigned)x);
		a->func = (uint8_t)x;
	}
	if (pos != n)
		return verr(e, pos, "unexpected %s after the function",
			    describe(v, n, pos, b, sizeof(b)));
	return 0;
}

static int parse_id(const char *v, size_t n, struct vb_term *t, struct verr *e)
{
	size_t pos = 0;
	uint32_t x;
	char b[8];
	int r;

	r = read_hex(v, n, &pos, 4, 4, "vendor ID", &x, e);
	if (r < 0)
		return r;
	t->id.vendor = (uint16_t)x;
	r = expect_sep(v, n, &pos, ':', "vendor ID", e);
	if (r < 0)
		return r;
	if (pos < n && v[pos] == '*') {
		t->id.any_device = true;
		pos++;
	} else {
		r = read_hex(v, n, &pos, 4, 4, "device ID", &x, e);
		if (r < 0)
			return r;
		t->id.device = (uint16_t)x;
	}
	if (pos != n)
		return verr(e, pos, "unexpected %s after the device ID",
			    describe(v, n, pos, b, sizeof(b)));
	return 0;
}

static int parse_class(const char *v, size_t n, struct vb_term *t, struct verr *e)
{
	size_t i;
	uint32_t x = 0;

	for (i = 0; i < n; i++) {
		if (vb_hexval(v[i]) < 0) {
			char b[8];

			return verr(e, i, "expected a hex digit, found %s",
				    describe(v, n, i, b, sizeof(b)));
		}
		if (i < 6)
			x = x * 16 + (uint32_t)vb_hexval(v[i]);
	}
	if (n != 2 && n != 4 && n != 6)
		return verr(e, 0, "expected 2, 4 or 6 hex digits, found %lu", (unsigned long)n);
	t->class.digits = (unsigned)n;
	t->class.value = x << (24 - 4 * n);
	return 0;
}

static int parse_group(const char *v, size_t n, struct vb_term *t, struct verr *e)
{
	uint64_t x = 0;
	size_t i;
	char b[8];

	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			if (i == 0 && (v[i] == '-' || v[i] == '+'))
				return verr(e, 0, "expected a group number without sign");
			return verr(e, i, "expected a decimal digit, found %s",
				    describe(v, n, i, b, sizeof(b)));
		}
		if (x <= 0x7fffffff)
			x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > 0x7fffffff)
		return verr(e, 0, "group number is out of range (0-2147483647)");
	t->group = (unsigned)x;
	return 0;
}

size_t vb_pve_configid_check(const char *s, size_t n)
{
	if (n < 2 || n >= VB_MAPPING_NAME_MAX)
		return n + 1;
	for (size_t i = 0; i < n; i++) {
		char c = lower(s[i]);

		if ((c >= 'a' && c <= 'z') ||
		    (i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_')))
			continue;
		return i + 1;
	}
	return 0;
}

static int parse_mapping(const char *v, size_t n, char **ret, struct verr *e)
{
	size_t bad = vb_pve_configid_check(v, n);
	char b[8];

	if (bad > n)
		return verr(e, 0,
			    n < 2 ? "a mapping ID has at least 2 characters"
				  : "a mapping ID has at most %d characters",
			    VB_MAPPING_NAME_MAX - 1);
	if (bad)
		return verr(e, bad - 1, "%s %s in a mapping ID",
			    bad == 1 ? "it must start with a letter, not" : "unexpected",
			    describe(v, n, bad - 1, b, sizeof(b)));
	*ret = malloc(n + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, v, n);
	(*ret)[n] = 0;
	return 0;
}

static int parse_bool(const char *v, size_t n, bool *ret, struct verr *e)
{
	if (tok_eq(v, n, "yes") || tok_eq(v, n, "1")) {
		*ret = true;
		return 0;
	}
	if (tok_eq(v, n, "no") || tok_eq(v, n, "0")) {
		*ret = false;
		return 0;
	}
	return verr(e, 0, "expected yes or no");
}

static int parse_expand(const char *v, size_t n, unsigned *ret, struct verr *e)
{
	size_t pos = 0;
	unsigned flags = 0;

	for (;;) {
		const char *c = memchr(v + pos, ',', n - pos);
		size_t end = c ? (size_t)(c - v) : n;
		unsigned f;

		if (end == pos)
			return verr(e, pos, "empty item in the list");
		if (tok_eq(v + pos, end - pos, "slot"))
			f = VB_EXPAND_SLOT;
		else if (tok_eq(v + pos, end - pos, "group"))
			f = VB_EXPAND_GROUP;
		else
			return verr(e, pos, "unknown expansion '%.*s'", (int)(end - pos), v + pos);
		if (flags & f)
			return verr(e, pos, "'%.*s' is listed twice", (int)(end - pos), v + pos);
		flags |= f;
		if (!c)
			break;
		pos = end + 1;
	}
	*ret = flags;
	return 0;
}

/* A decimal number of at most 5 digits at *pos, no sign. */
static int read_dec(const char *v, size_t n, size_t *pos, const char *what, unsigned long max,
		    unsigned long *ret, struct verr *e)
{
	size_t start = *pos, i = start;
	unsigned long x = 0;
	char b[8];

	while (i < n && v[i] >= '0' && v[i] <= '9') {
		if (x <= max)
			x = x * 10 + (unsigned long)(v[i] - '0');
		i++;
	}
	if (i == start)
		return verr(e, i, "expected %s in decimal, found %s", what,
			    describe(v, n, i, b, sizeof(b)));
	if (x > max)
		return verr(e, start, "%s '%.*s' is out of range (0-%lu)", what, (int)(i - start),
			    v + start, max);
	*pos = i;
	*ret = x;
	return 0;
}

/* vfs=all | N[-M][,N[-M]...]; an index listed twice is an error. */
static int parse_vfs(const char *v, size_t n, struct vb_rule *rule, struct verr *e)
{
	size_t pos = 0, k;

	if (tok_eq(v, n, "all")) {
		rule->vfs_all = true;
		return 0;
	}
	for (;;) {
		unsigned long lo, hi;
		size_t start = pos;
		int r;

		if (pos >= n || v[pos] == ',')
			return verr(e, pos, "empty item in the list");
		r = read_dec(v, n, &pos, "a VF index", 0xffff, &lo, e);
		if (r < 0)
			return r;
		hi = lo;
		if (pos < n && v[pos] == '-') {
			pos++;
			r = read_dec(v, n, &pos, "the end of the range", 0xffff, &hi, e);
			if (r < 0)
				return r;
			if (hi < lo)
				return verr(e, start, "range '%.*s' ends before it starts",
					    (int)(pos - start), v + start);
		}
		if (pos < n && v[pos] != ',')
			return verr(e, pos, "expected ',' or '-' after a VF index, found '%.*s'",
				    (int)char_len(v + pos, n - pos), v + pos);
		for (k = 0; k < rule->n_vfs; k++)
			if (lo <= rule->vfs[k].hi && hi >= rule->vfs[k].lo)
				return verr(e, start, "VF %lu is listed twice",
					    lo > rule->vfs[k].lo ? lo : rule->vfs[k].lo);
		if (rule->n_vfs == VB_VFS_MAX_ITEMS)
			return verr(e, start, "too many items (at most %d): use ranges",
				    VB_VFS_MAX_ITEMS);
		rule->vfs[rule->n_vfs].lo = (uint16_t)lo;
		rule->vfs[rule->n_vfs].hi = (uint16_t)hi;
		rule->n_vfs++;
		if (pos >= n)
			return 0;
		pos++; /* ',' */
	}
}

static int parse_numvfs(const char *v, size_t n, int *ret, struct verr *e)
{
	unsigned long x;
	size_t pos = 0;
	int r;

	if (n > 0 && (v[0] == '-' || v[0] == '+'))
		return verr(e, 0, "expected a number of VFs without sign");
	r = read_dec(v, n, &pos, "the number of VFs", 0xffff, &x, e);
	if (r < 0)
		return r;
	if (pos < n)
		return verr(e, pos, "expected a decimal digit, found '%.*s'",
			    (int)char_len(v + pos, n - pos), v + pos);
	if (x == 0)
		return verr(e, 0, "numvfs=0 would remove the VFs: vfio-bind only creates them");
	*ret = (int)x;
	return 0;
}

/* A module name as modprobe takes it: letters, digits, '_' and '-'. */
static int parse_driver(const char *v, size_t n, char *buf, struct verr *e)
{
	size_t i;

	if (n >= VB_DRIVER_MAX)
		return verr(e, 0, "a driver name has at most %d characters", VB_DRIVER_MAX - 1);
	for (i = 0; i < n; i++) {
		char c = v[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		    (i > 0 && c == '-'))
			continue;
		return verr(e, i, "'%.*s' cannot be part of a driver name",
			    (int)char_len(v + i, n - i), v + i);
	}
	if (tok_eq(v, n, "none"))
		return verr(e, 0, "'none' in driver_override binds no driver at all");
	memcpy(buf, v, n);
	buf[n] = 0;
	return 0;
}

bool vb_rule_takes_vf(const struct vb_rule *r, unsigned index)
{
	if (r->vfs_all)
		return true;
	for (size_t k = 0; k < r->n_vfs; k++)
		if (index >= r->vfs[k].lo && index <= r->vfs[k].hi)
			return true;
	return false;
}

const char *vb_rule_driver(const struct vb_config *cfg, int rule)
{
	if (cfg && rule >= 0 && (size_t)rule < cfg->n_rules && cfg->rules[rule].driver[0])
		return cfg->rules[rule].driver;
	return "vfio-pci";
}

/*
 * topology=. Two spellings, one meaning (vb_pci_topology() in pci.h):
 *
 *   stable  0000:40:03.1/00.0/04.0/00.0   what 'vfio-bind status' shows
 *   sysfs   [/sys/devices/]pci0000:40/0000:40:03.1/0000:41:00.0/0000:42:04.0/0000:43:00.0
 *
 * Both are normalised to the stable form here, so the bus numbers below the
 * root bus in a sysfs path are checked for form and then dropped: they are
 * what changes when a card renumbers the buses. The last hop may name a slot
 * without function (".../00", ".../0000:43:00"): every function there.
 */

struct topo_out {
	char *buf;
	size_t o, size;
	unsigned hops;
	bool overflow; /* never: the stable form is not longer than the value */
};

/* Appends one hop: "DDDD:BB:SS[.F]" (first), "BB:SS[.F]" (the first behind a
 * nested host bridge) or "SS[.F]"; func < 0 is the slot form. */
static void topo_emit(struct topo_out *t, bool first, bool nested, const struct vb_pci_addr *a,
		      int func)
{
	int k;

	if (t->hops > 0 && t->o < t->size)
		t->buf[t->o++] = '/';
	if (first)
		k = snprintf(t->buf + t->o, t->size - t->o, "%04x:%02x:%02x", (unsigned)a->domain,
			     a->bus, a->slot);
	else if (nested)
		k = snprintf(t->buf + t->o, t->size - t->o, "%02x:%02x", a->bus, a->slot);
	else
		k = snprintf(t->buf + t->o, t->size - t->o, "%02x", a->slot);
	if (k > 0)
		t->o += (size_t)k;
	if (func >= 0 && t->o < t->size) {
		k = snprintf(t->buf + t->o, t->size - t->o, ".%x", (unsigned)func);
		if (k > 0)
			t->o += (size_t)k;
	}
	if (t->o >= t->size) {
		t->o = t->size - 1;
		t->overflow = true;
	}
	t->hops++;
}

/* Is [start, end) the last component (only '/' after it)? */
static bool topo_last(const char *v, size_t n, size_t end)
{
	while (end < n && v[end] == '/')
		end++;
	return end == n;
}

/* "pciDDDD:BB" at v[start, end): a host bridge, as sysfs names its directory. */
static int topo_host_bridge(const char *v, size_t start, size_t end, uint32_t *domain,
			    uint32_t *bus, struct verr *e)
{
	size_t p = start + 3;
	uint32_t x;
	int r;

	r = read_hex(v, end, &p, 4, 8, "root bus domain", &x, e);
	if (r < 0)
		return r;
	*domain = x;
	r = expect_sep(v, end, &p, ':', "root bus domain", e);
	if (r < 0)
		return r;
	r = read_hex(v, end, &p, 2, 2, "root bus number", &x, e);
	if (r < 0)
		return r;
	*bus = x;
	if (p != end) {
		char b[8];

		return verr(e, p, "unexpected %s after the root bus",
			    describe(v, end, p, b, sizeof(b)));
	}
	return 0;
}

static bool topo_is_pci(const char *v, size_t start, size_t end)
{
	return end - start >= 3 && lower(v[start]) == 'p' && lower(v[start + 1]) == 'c' &&
	       lower(v[start + 2]) == 'i';
}

/* The sysfs spelling, from the first component on (prefix already skipped). */
static int topo_parse_sysfs(const char *v, size_t n, size_t pos, struct topo_out *t, struct verr *e)
{
	uint32_t domain = 0, root_bus = 0;
	bool need_device = false, platform = false;
	size_t comp = 0, last_end = pos;
	int r;

	while (pos < n) {
		const char *c;
		size_t start, end;

		/* "a//b" and a trailing '/' mean the same path: collapse */
		if (v[pos] == '/') {
			pos++;
			continue;
		}
		start = pos;
		c = memchr(v + pos, '/', n - pos);
		end = c ? (size_t)(c - v) : n;
		pos = last_end = end;

		if (comp == 0 && ((end - start == 8 && memcmp(v + start, "platform", 8) == 0) ||
				  (end - start > 4 && memcmp(v + start, "pci-", 4) == 0))) {
			/* ARM: the host controller is a platform device the path
			 * names ahead of the root bus (Xen's pcifront: "pci-0");
			 * the root bus's domain already tells the host bridges
			 * apart, as in vb_topology_from_physpath(). */
			platform = true;
			comp++;
			continue;
		}
		if (platform) {
			struct verr scratch;

			/* "platform/scb/fd500000.pcie/pci0000:00/...": up to the
			 * first component that is a root bus */
			comp++;
			if (!topo_is_pci(v, start, end) ||
			    topo_host_bridge(v, start, end, &domain, &root_bus, &scratch) < 0)
				continue;
			need_device = true;
			platform = false;
			continue;
		}
		if (topo_is_pci(v, start, end)) {
			if (need_device)
				return verr(e, start,
					    "expected a device after the root bus, found "
					    "another root bus");
			r = topo_host_bridge(v, start, end, &domain, &root_bus, e);
			if (r < 0)
				return r;
			need_device = true;
		} else if (comp == 0) {
			return verr(e, start,
				    "expected the root bus 'pciDDDD:BB' as first component, found "
				    "'%.*s'",
				    (int)(end - start > 40 ? 40 : end - start), v + start);
		} else {
			struct vb_pci_addr a;
			bool any = false;

			r = parse_addr(v + start, end - start, true, &a,
				       topo_last(v, n, end) ? &any : NULL, e);
			if (r < 0) {
				e->off += start;
				return r;
			}
			if (a.domain != domain)
				return verr(e, start,
					    "device domain %04x differs from the root bus's %04x",
					    (unsigned)a.domain, (unsigned)domain);
			if (need_device && a.bus != root_bus)
				return verr(
					e, start,
					"the first device must be on the root bus %02x, not bus "
					"%02x",
					(unsigned)root_bus, (unsigned)a.bus);
			/* below the root bus only the slot.function is kept */
			topo_emit(t, t->hops == 0, need_device, &a, any ? -1 : a.func);
			need_device = false;
		}
		comp++;
	}
	if (comp == 0)
		return verr(e, 0, "expected DDDD:BB:SS.F/SS.F/... or pciDDDD:BB/DDDD:BB:SS.F/...");
	if (platform)
		return verr(e, last_end,
			    "expected the root bus 'pciDDDD:BB' below the platform "
			    "device");
	if (need_device || t->hops == 0)
		return verr(e, last_end, "expected at least one device after the root bus");
	return 0;
}

/* SS[.F] at v[*pos, end); the slot form only when last. */
static int topo_slot_func(const char *v, size_t end, size_t *pos, bool last, struct vb_pci_addr *a,
			  int *func, struct verr *e)
{
	size_t i = *pos;
	uint32_t x;
	char b[8];
	int r;

	r = read_hex(v, end, pos, 2, 2, "slot", &x, e);
	if (r < 0)
		return r;
	if (x > 0x1f)
		return verr(e, i, "slot %02x is out of range (00-1f)", (unsigned)x);
	a->slot = (uint8_t)x;
	if (*pos == end) {
		if (!last)
			return verr(e, *pos,
				    "expected '.FUNC' after the slot (only the last hop "
				    "may leave out the function)");
		*func = -1;
		return 0;
	}
	r = expect_sep(v, end, pos, '.', "slot", e);
	if (r < 0)
		return r;
	i = *pos;
	r = read_hex(v, end, pos, 1, 1, "function", &x, e);
	if (r < 0)
		return r;
	if (x > 7)
		return verr(e, i, "function %x is out of range (0-7)", (unsigned)x);
	if (*pos != end)
		return verr(e, *pos, "unexpected %s after the function",
			    describe(v, end, *pos, b, sizeof(b)));
	*func = (int)x;
	return 0;
}

/* The stable spelling: DDDD:BB:SS.F, then SS.F or (behind a nested host
 * bridge) BB:SS.F per hop. */
static int topo_parse_stable(const char *v, size_t n, struct topo_out *t, struct verr *e)
{
	size_t pos = 0;
	int r;

	while (pos < n) {
		struct vb_pci_addr a = {0};
		size_t start, end, p, k, colons = 0;
		const char *c;
		bool last, any = false;
		int func = -1;

		if (v[pos] == '/') {
			pos++;
			continue;
		}
		start = p = pos;
		c = memchr(v + pos, '/', n - pos);
		end = pos = c ? (size_t)(c - v) : n;
		last = topo_last(v, n, end);
		for (k = start; k < end; k++)
			if (v[k] == ':')
				colons++;

		if (t->hops == 0) {
			if (colons != 2)
				return verr(e, start,
					    "expected the first hop as DOMAIN:BUS:SLOT.FUNC "
					    "(e.g. 0000:00:03.1), found '%.*s'",
					    (int)(end - start > 40 ? 40 : end - start), v + start);
			r = parse_addr(v + start, end - start, true, &a, last ? &any : NULL, e);
			if (r < 0) {
				e->off += start;
				return r;
			}
			topo_emit(t, true, false, &a, any ? -1 : a.func);
			continue;
		}
		if (colons == 2)
			return verr(e, start,
				    "'%.*s' is a full address: below the first hop write only "
				    "SLOT.FUNC (bus numbers below the root bus are not compared)",
				    (int)(end - start > 40 ? 40 : end - start), v + start);
		if (colons > 2)
			return verr(e, start, "unexpected ':' in a hop");
		if (colons == 1) {
			uint32_t x;

			/* the first hop behind a host bridge nested in the hop
			 * before (Intel VMD): its root bus number */
			r = read_hex(v, end, &p, 2, 2, "root bus number", &x, e);
			if (r < 0)
				return r;
			a.bus = (uint8_t)x;
			r = expect_sep(v, end, &p, ':', "root bus number", e);
			if (r < 0)
				return r;
		}
		r = topo_slot_func(v, end, &p, last, &a, &func, e);
		if (r < 0)
			return r;
		topo_emit(t, false, colons == 1, &a, func);
	}
	if (t->hops == 0)
		return verr(e, 0, "expected DDDD:BB:SS.F/SS.F/... or pciDDDD:BB/DDDD:BB:SS.F/...");
	return 0;
}

static int parse_topology(const char *v, size_t n, char **ret, struct verr *e)
{
	static const char prefix[] = "/sys/devices/";
	struct topo_out t = {0};
	size_t pos = 0, k;
	int r;

	t.size = n + 32;
	t.buf = malloc(t.size);
	if (!t.buf)
		return -ENOMEM;

	if (n >= sizeof(prefix) - 1 && memcmp(v, prefix, sizeof(prefix) - 1) == 0)
		pos = sizeof(prefix) - 1;
	else if (n >= sizeof(prefix) - 2 && memcmp(v, prefix + 1, sizeof(prefix) - 2) == 0)
		pos = sizeof(prefix) - 2;
	for (k = pos; k < n && v[k] == '/'; k++)
		;
	/* A leading '/' or "pci" is a path under /sys/devices; the stable
	 * form starts with a hex digit. */
	if (pos > 0 || (n > 0 && v[0] == '/') || topo_is_pci(v, k, n))
		r = topo_parse_sysfs(v, n, pos, &t, e);
	else
		r = topo_parse_stable(v, n, &t, e);
	if (r == 0 && (t.o >= VB_TOPOLOGY_MAX || t.overflow))
		r = verr(e, 0,
			 "%u hops are more than any PCI hierarchy has (at most %d characters "
			 "in the stable form)",
			 t.hops, VB_TOPOLOGY_MAX - 1);
	if (r < 0) {
		free(t.buf);
		return r;
	}
	t.buf[t.o] = 0;
	*ret = t.buf;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Lines */

struct token {
	const char *s;
	size_t n;
	size_t off; /* in the line */
};

struct parser {
	struct vb_config *cfg;
	struct vb_diags *diags;
	unsigned line;
	bool failed;        /* the current rule has an error */
	bool rules_limited; /* "too many rules" was reported */
};

static int perr(struct parser *p, size_t off, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct parser *p, size_t off, const char *hint, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vb_diags_add(p->diags, VB_SEV_ERROR, NULL, NULL, p->line, (unsigned)off + 1, NULL,
			    hint, "%s", msg);
}

/* Token text for messages: long tokens are cut (at a character boundary). */
static void quote(char *buf, size_t size, const char *s, size_t n)
{
	size_t max = size - 4, cut = n;

	if (n > max) {
		cut = max;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	memcpy(buf, s, cut);
	strcpy(buf + cut, n > cut ? "..." : "");
}

/*
 * Length of the valid UTF-8 sequence at s, 0 if invalid (overlong forms,
 * surrogates and code points past U+10FFFF are invalid, as in RFC 3629).
 */
static size_t utf8_valid(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c, min;

	if (s[0] < 0xc2)
		return 0; /* continuation byte or overlong 2-byte lead */
	if (s[0] < 0xe0) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] < 0xf0) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] < 0xf5) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Rejects bytes no text config has; 1 if the line is clean. */
static int check_bytes(struct parser *p, const char *s, size_t n)
{
	static const char hint_binary[] =
		"vfio-bind.conf is a UTF-8 text file; is this the right file, or was it damaged?";
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t l;

		if (c == '\t' || (c >= 0x20 && c < 0x7f))
			continue;
		if (c == 0)
			r = perr(p, i, hint_binary, "NUL byte in the line");
		else if (c == '\r')
			r = perr(p, i, "lines end with LF or CR LF; a CR alone is not a line end",
				 "carriage return in the middle of a line");
		else if (c < 0x20 || c == 0x7f)
			r = perr(p, i, "only spaces and tabs may separate words",
				 "control character 0x%02x", c);
		else if ((l = utf8_valid((const unsigned char *)s + i, n - i, &cp)) == 0)
			r = perr(p, i, hint_binary, "invalid UTF-8 byte 0x%02x", c);
		else if (cp < 0xa0)
			r = perr(p, i, "only spaces and tabs may separate words",
				 "control character U+%04X", (unsigned)cp);
		else {
			i += l - 1;
			continue;
		}
		return r < 0 ? r : 0;
	}
	return 1;
}

static const char hint_rule[] = "a rule is 'bind KEY=VALUE...' or 'exclude KEY=VALUE...', "
				"e.g. 'bind path=01:00.0'";

/* 1 when stored, 0 when over the limit, -ENOMEM. */
static int add_rule(struct parser *p, const struct vb_rule *rule)
{
	struct vb_config *cfg = p->cfg;
	int r;

	if (cfg->n_rules >= VB_CONFIG_MAX_RULES) {
		if (p->rules_limited)
			return 0;
		p->rules_limited = true;
		r = vb_diags_add(p->diags, VB_SEV_ERROR, NULL, NULL, p->line, 0, NULL,
				 "merge rules: one rule can match many devices (class=, "
				 "id=VENDOR:*, expand=group)",
				 "too many rules: at most %d are allowed; this and later rules "
				 "are ignored",
				 VB_CONFIG_MAX_RULES);
		return r < 0 ? r : 0;
	}
	/* Grow by doubling; the limit keeps the size far from overflow. */
	if ((cfg->n_rules & (cfg->n_rules - 1)) == 0) {
		size_t cap = cfg->n_rules ? cfg->n_rules * 2 : 4;
		struct vb_rule *v = realloc(cfg->rules, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		cfg->rules = v;
	}
	cfg->rules[cfg->n_rules++] = *rule;
	return 1;
}

static void free_terms(struct vb_term *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].kind == VB_TERM_TOPOLOGY)
			free(t[i].topology);
		else if (t[i].kind == VB_TERM_MAPPING)
			free(t[i].mapping.name);
	}
}

/* A token "KEY=VALUE" at tok[*i]; advances *i past what it consumed. */
static int parse_term(struct parser *p, const struct token *tok, size_t n_tok, size_t *i,
		      bool exclude, struct vb_rule *rule, struct vb_term *terms,
		      unsigned first_col[_SLOT_MAX])
{
	const struct token *t = &tok[*i];
	const char *eq = memchr(t->s, '=', t->n);
	const struct key *k;
	const char *v;
	size_t kn, vn, voff;
	char q[72], hint[512];
	struct verr e;
	int r, slot;

	(*i)++;
	quote(q, sizeof(q), t->s, t->n);
	if (!eq) {
		struct vb_pci_addr a;
		bool any;

		/* "KEY = VALUE" and "KEY =VALUE": one mistake, one error */
		if (*i < n_tok && tok[*i].s[0] == '=') {
			if (tok[*i].n == 1 && *i + 1 < n_tok)
				(*i)++;
			(*i)++;
			return perr(p, t->off, "write KEY=VALUE as one word, e.g. path=01:00.0",
				    "expected KEY=VALUE, found spaces around '=' after '%s'", q);
		}
		if (key_lookup(t->s, t->n))
			snprintf(hint, sizeof(hint), "write %s=VALUE as one word", q);
		else if (tok_eq(t->s, t->n, "bind") || tok_eq(t->s, t->n, "exclude"))
			snprintf(hint, sizeof(hint), "one rule per line: start a new line for '%s'",
				 q);
		else if (parse_addr(t->s, t->n, false, &a, &any, &e) == 0)
			snprintf(hint, sizeof(hint), "a PCI address is written path=%s", q);
		else
			unknown_key_hint(t->s, t->n, hint, sizeof(hint));
		return perr(p, t->off, hint, "expected KEY=VALUE, found '%s'", q);
	}

	kn = (size_t)(eq - t->s);
	v = eq + 1;
	vn = t->n - kn - 1;
	voff = t->off + kn + 1;
	if (kn == 0)
		return perr(p, t->off, "valid keys: " KEY_LIST, "expected a key before '='");
	k = key_lookup(t->s, kn);
	if (!k) {
		char kq[72];

		quote(kq, sizeof(kq), t->s, kn);
		unknown_key_hint(t->s, kn, hint, sizeof(hint));
		return perr(p, t->off, hint, "unknown key '%s'", kq);
	}
	if (vn == 0) {
		/* "KEY= VALUE": take the next word as the value that was meant */
		if (*i < n_tok && !memchr(tok[*i].s, '=', tok[*i].n)) {
			(*i)++;
			return perr(p, voff, "write KEY=VALUE as one word, e.g. path=01:00.0",
				    "expected a value right after '%s=', found a space", k->name);
		}
		return perr(p, voff, k->hint, "expected a value after '%s='", k->name);
	}

	slot = k->slot;
	if (first_col[slot]) {
		static const char hint_dup[] =
			"all terms of a rule must match at once (AND); to take devices that match "
			"either value, write one rule for each";

		if (slot == VB_TERM_ADDRESS)
			return perr(
				p, t->off, hint_dup,
				"duplicate key '%.*s': path= or address= (the same selector) is "
				"already given at column %u",
				(int)kn, t->s, first_col[slot]);
		return perr(p, t->off, hint_dup, "duplicate key '%s': already given at column %u",
			    k->name, first_col[slot]);
	}
	first_col[slot] = (unsigned)t->off + 1;

	if (slot >= _VB_TERM_MAX && exclude)
		return perr(
			p, t->off,
			"an exclude rule removes exactly the devices it matches; "
			"to remove a whole slot or group, match it (path=BUS:SLOT, iommugroup=N)",
			"%s= is not allowed on an exclude rule", k->name);

	if (slot < _VB_TERM_MAX) {
		struct vb_term *term = &terms[rule->n_terms];

		memset(term, 0, sizeof(*term));
		term->kind = (enum vb_term_kind)slot;
		term->column = (unsigned)t->off + 1;
		switch (term->kind) {
		case VB_TERM_ADDRESS:
			if (memchr(v, '/', vn))
				r = verr(&e, (size_t)((const char *)memchr(v, '/', vn) - v),
					 "expected a PCI address, found a path");
			else
				r = parse_addr(v, vn, false, &term->address.addr,
					       &term->address.any_func, &e);
			break;
		case VB_TERM_ID:
		case VB_TERM_SUBSYS:
			r = parse_id(v, vn, term, &e);
			break;
		case VB_TERM_CLASS:
			r = parse_class(v, vn, term, &e);
			break;
		case VB_TERM_TOPOLOGY:
			r = parse_topology(v, vn, &term->topology, &e);
			break;
		case VB_TERM_GROUP:
			r = parse_group(v, vn, term, &e);
			break;
		case VB_TERM_BOOT_VGA:
			r = parse_bool(v, vn, &term->boot_vga, &e);
			break;
		case VB_TERM_MAPPING:
			r = parse_mapping(v, vn, &term->mapping.name, &e);
			break;
		default:
			r = -EINVAL;
			e.off = 0;
			strcpy(e.msg, "internal error");
			break;
		}
		if (r == 0)
			rule->n_terms++;
	} else if (slot == OPT_EXPAND) {
		r = parse_expand(v, vn, &rule->expand, &e);
	} else if (slot == OPT_VFS) {
		rule->vfs_column = (unsigned)t->off + 1;
		r = parse_vfs(v, vn, rule, &e);
	} else if (slot == OPT_NUMVFS) {
		rule->numvfs_column = (unsigned)t->off + 1;
		r = parse_numvfs(v, vn, &rule->numvfs, &e);
	} else if (slot == OPT_DRIVER) {
		r = parse_driver(v, vn, rule->driver, &e);
	} else {
		r = parse_bool(v, vn, &rule->allow_storage, &e);
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		const char *h = k->hint;
		char vq[72];

		if (e.off < vn && v[e.off] == '#') {
			h = "'#' starts a comment only at the start of a word (after a space or "
			    "tab)";
			/* the rest was meant as a comment: no errors about its words */
			*i = n_tok;
		} else if (slot == VB_TERM_ADDRESS && memchr(v, '/', vn))
			h = "path= is a PCI address (as in Proxmox's PCI mappings); for the "
			    "physical path under /sys/devices use topology=";
		quote(vq, sizeof(vq), v, vn);
		return perr(p, voff + e.off, h, "invalid %.*s= value '%s': %s", (int)kn, t->s, vq,
			    e.msg);
	}
	return 0;
}

/* What vfs= and numvfs= mean together, and with expand=. */
static void check_sriov_options(struct parser *p, struct vb_rule *rule,
				const unsigned first_col[_SLOT_MAX])
{
	if (rule->numvfs && !vb_rule_has_vfs(rule)) {
		perr(p, first_col[OPT_NUMVFS] - 1,
		     "add vfs=all or vfs=LIST: the rule binds those VFs, the PF keeps its driver",
		     "numvfs= without vfs=: which of the VFs should the rule take?");
		return;
	}
	if (vb_rule_has_vfs(rule) && rule->expand) {
		perr(p, first_col[OPT_EXPAND] - 1,
		     "each VF is its own device; list the ones to take in vfs=",
		     "expand= does not combine with vfs=");
		return;
	}
	for (size_t k = 0; rule->numvfs && k < rule->n_vfs; k++)
		if (rule->vfs[k].hi >= (unsigned)rule->numvfs) {
			perr(p, first_col[OPT_VFS] - 1,
			     "VF indices count from 0: with numvfs=N they are 0 to N-1",
			     "VF %u is not below numvfs=%d",
			     rule->vfs[k].lo >= (unsigned)rule->numvfs ? rule->vfs[k].lo
								       : (unsigned)rule->numvfs,
			     rule->numvfs);
			return;
		}
}

static int parse_line(struct parser *p, const char *s, size_t n)
{
	struct token tok[1 + VB_CONFIG_MAX_TERMS];
	struct vb_term terms[VB_CONFIG_MAX_TERMS];
	unsigned first_col[_SLOT_MAX] = {0};
	struct vb_rule rule;
	size_t n_tok = 0, i = 0;
	bool exclude;
	int r;

	p->failed = false;
	if (n > VB_CONFIG_MAX_LINE)
		return perr(p, VB_CONFIG_MAX_LINE, "split the rule: several rules add up",
			    "line is longer than %d bytes", VB_CONFIG_MAX_LINE);
	r = check_bytes(p, s, n);
	if (r <= 0)
		return r;

	for (;;) {
		size_t start;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n || s[i] == '#')
			break;
		start = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		if (n_tok == sizeof(tok) / sizeof(tok[0]))
			return perr(p, start, "a rule has at most one term per key",
				    "too many terms in one rule (at most %d)", VB_CONFIG_MAX_TERMS);
		tok[n_tok].s = s + start;
		tok[n_tok].n = i - start;
		tok[n_tok].off = start;
		n_tok++;
	}
	if (n_tok == 0)
		return 0; /* blank or comment */

	if (tok_eq(tok[0].s, tok[0].n, "bind")) {
		exclude = false;
	} else if (tok_eq(tok[0].s, tok[0].n, "exclude")) {
		exclude = true;
	} else {
		static const char *const verbs[] = {"bind", "exclude"};
		const char *near = vb_nearest_word(tok[0].s, tok[0].n, verbs, 2);
		char q[72], hint[256];

		quote(q, sizeof(q), tok[0].s, tok[0].n);
		if (near)
			snprintf(hint, sizeof(hint), "did you mean '%s'? %s", near, hint_rule);
		else
			snprintf(hint, sizeof(hint), "%s", hint_rule);
		/* The rest of the line is not a rule: checking its words would
		 * only repeat this error in other words. */
		return perr(p, tok[0].off, hint, "unknown verb '%s': expected 'bind' or 'exclude'",
			    q);
	}

	memset(&rule, 0, sizeof(rule));
	rule.exclude = exclude;
	rule.line = p->line;
	i = 1;
	while (i < n_tok) {
		r = parse_term(p, tok, n_tok, &i, exclude, &rule, terms, first_col);
		if (r < 0) {
			free_terms(terms, rule.n_terms);
			return r;
		}
	}
	if (!p->failed && rule.n_terms == 0)
		perr(p, tok[0].off,
		     "add what to match: path=, address=, id=, subsystem-id=, class=, "
		     "topology=, iommugroup=, boot-vga= or mapping=",
		     "%s rule without a selector", exclude ? "exclude" : "bind");
	if (!p->failed)
		check_sriov_options(p, &rule, first_col);
	if (p->failed) {
		free_terms(terms, rule.n_terms);
		return 0;
	}
	rule.terms = malloc(rule.n_terms * sizeof(*rule.terms));
	if (!rule.terms) {
		free_terms(terms, rule.n_terms);
		return -ENOMEM;
	}
	memcpy(rule.terms, terms, rule.n_terms * sizeof(*rule.terms));
	r = add_rule(p, &rule);
	if (r <= 0) {
		free_terms(rule.terms, rule.n_terms);
		free(rule.terms);
		return r;
	}
	return 0;
}

int vb_config_parse(const char *file, const char *buf, size_t len, struct vb_config *cfg,
		    struct vb_diags *diags)
{
	struct parser p = {.cfg = cfg, .diags = diags};
	size_t pos = 0;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	vb_diags_init(diags, file);
	if (file) {
		cfg->file = strdup(file);
		if (!cfg->file || !diags->file)
			return -ENOMEM;
	}
	if (len > VB_CONFIG_MAX_SIZE)
		return -EFBIG;
	if (len > 0 && !buf)
		return -EINVAL;

	/* A UTF-8 byte order mark, as some editors write, is not text. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len, n = end - pos;

		p.line++;
		if (n > 0 && buf[end - 1] == '\r')
			n--; /* CR LF */
		r = parse_line(&p, buf + pos, n);
		if (r < 0)
			return r;
		pos = nl ? end + 1 : len;
	}
	return diags->n_errors > 0 ? -EINVAL : 0;
}

int vb_config_load(const struct vb_root *root, const char *relpath, const char *file,
		   struct vb_config *cfg, struct vb_diags *diags)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	vb_diags_init(diags, file);
	/* One byte more than allowed: vb_read_all refuses a file that fills
	 * its limit, and a file of exactly VB_CONFIG_MAX_SIZE is fine. */
	r = vb_read_all(root, relpath, VB_CONFIG_MAX_SIZE + 1, &buf, &len);
	if (r < 0)
		return r;
	if (len > VB_CONFIG_MAX_SIZE) {
		free(buf);
		return -EFBIG;
	}
	/* vb_config_parse initialises both again */
	vb_diags_free(diags);
	r = vb_config_parse(file, buf, len, cfg, diags);
	free(buf);
	return r;
}

void vb_config_free(struct vb_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_rules; i++) {
		free_terms(cfg->rules[i].terms, cfg->rules[i].n_terms);
		free(cfg->rules[i].terms);
	}
	free(cfg->rules);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------------ */
/* Formatting */

const char *vb_term_key(enum vb_term_kind kind)
{
	static const char *const names[_VB_TERM_MAX] = {
		[VB_TERM_ADDRESS] = "path",        [VB_TERM_ID] = "id",
		[VB_TERM_SUBSYS] = "subsystem-id", [VB_TERM_CLASS] = "class",
		[VB_TERM_TOPOLOGY] = "topology",   [VB_TERM_GROUP] = "iommugroup",
		[VB_TERM_BOOT_VGA] = "boot-vga",   [VB_TERM_MAPPING] = "mapping",
	};

	if ((unsigned)kind >= _VB_TERM_MAX)
		return NULL;
	return names[kind];
}

static int fmt_result(int n, size_t size)
{
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= size ? -ENOBUFS : n;
}

int vb_term_format(const struct vb_term *t, char *buf, size_t size)
{
	const char *key = vb_term_key(t->kind);
	const struct vb_pci_addr *a = &t->address.addr;
	int n;

	if (!key)
		return -EINVAL;
	switch (t->kind) {
	case VB_TERM_ADDRESS:
		if (t->address.any_func)
			n = snprintf(buf, size, "%s=%04x:%02x:%02x.*", key, (unsigned)a->domain,
				     a->bus, a->slot);
		else
			n = snprintf(buf, size, "%s=%04x:%02x:%02x.%x", key, (unsigned)a->domain,
				     a->bus, a->slot, a->func);
		break;
	case VB_TERM_ID:
	case VB_TERM_SUBSYS:
		if (t->id.any_device)
			n = snprintf(buf, size, "%s=%04x:*", key, t->id.vendor);
		else
			n = snprintf(buf, size, "%s=%04x:%04x", key, t->id.vendor, t->id.device);
		break;
	case VB_TERM_CLASS:
		if (t->class.digits != 2 && t->class.digits != 4 && t->class.digits != 6)
			return -EINVAL;
		n = snprintf(buf, size, "%s=%0*x", key, (int)t->class.digits,
			     (unsigned)(t->class.value >> (24 - 4 * t->class.digits)));
		break;
	case VB_TERM_TOPOLOGY:
		if (!t->topology)
			return -EINVAL;
		n = snprintf(buf, size, "%s=%s", key, t->topology);
		break;
	case VB_TERM_GROUP:
		n = snprintf(buf, size, "%s=%u", key, t->group);
		break;
	case VB_TERM_BOOT_VGA:
		n = snprintf(buf, size, "%s=%s", key, t->boot_vga ? "yes" : "no");
		break;
	case VB_TERM_MAPPING:
		if (!t->mapping.name)
			return -EINVAL;
		n = snprintf(buf, size, "%s=%s", key, t->mapping.name);
		break;
	default:
		return -EINVAL;
	}
	return fmt_result(n, size);
}

int vb_rule_format(const struct vb_rule *r, char *buf, size_t size)
{
	size_t o, i;
	int n;

	if (size == 0)
		return -ENOBUFS;
	n = snprintf(buf, size, "%s", r->exclude ? "exclude" : "bind");
	if (n < 0 || (size_t)n >= size)
		return fmt_result(n, size);
	o = (size_t)n;
	for (i = 0; i < r->n_terms; i++) {
		if (o + 1 >= size)
			return -ENOBUFS;
		buf[o++] = ' ';
		buf[o] = 0;
		n = vb_term_format(&r->terms[i], buf + o, size - o);
		if (n < 0)
			return n;
		o += (size_t)n;
	}
	if (r->expand) {
		n = snprintf(buf + o, size - o, " expand=%s%s%s",
			     r->expand & VB_EXPAND_SLOT ? "slot" : "",
			     (r->expand & VB_EXPAND_SLOT) && (r->expand & VB_EXPAND_GROUP) ? ","
											   : "",
			     r->expand & VB_EXPAND_GROUP ? "group" : "");
		if (n < 0 || (size_t)n >= size - o)
			return fmt_result(n, size - o);
		o += (size_t)n;
	}
	if (r->allow_storage) {
		n = snprintf(buf + o, size - o, " allow-storage=yes");
		if (n < 0 || (size_t)n >= size - o)
			return fmt_result(n, size - o);
		o += (size_t)n;
	}
	for (i = 0; vb_rule_has_vfs(r) && (i < r->n_vfs || (i == 0 && r->vfs_all)); i++) {
		const char *pre = i ? "," : " vfs=";

		if (r->vfs_all)
			n = snprintf(buf + o, size - o, "%sall", pre);
		else if (r->vfs[i].lo == r->vfs[i].hi)
			n = snprintf(buf + o, size - o, "%s%u", pre, r->vfs[i].lo);
		else
			n = snprintf(buf + o, size - o, "%s%u-%u", pre, r->vfs[i].lo, r->vfs[i].hi);
		if (n < 0 || (size_t)n >= size - o)
			return fmt_result(n, size - o);
		o += (size_t)n;
	}
	if (r->numvfs) {
		n = snprintf(buf + o, size - o, " numvfs=%d", r->numvfs);
		if (n < 0 || (size_t)n >= size - o)
			return fmt_result(n, size - o);
		o += (size_t)n;
	}
	if (r->driver[0]) {
		n = snprintf(buf + o, size - o, " driver=%s", r->driver);
		if (n < 0 || (size_t)n >= size - o)
			return fmt_result(n, size - o);
		o += (size_t)n;
	}
	return (int)o;
}

const char *vb_rule_location(const struct vb_config *cfg, int rule, char *buf, size_t size)
{
	if (!cfg || !cfg->file || rule < 0 || (size_t)rule >= cfg->n_rules)
		return NULL;
	snprintf(buf, size, "%s:%u", cfg->file, cfg->rules[rule].line);
	return buf;
}
