/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `vfio-bind import` (import.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "config.h"
#include "diagnose.h"
#include "import.h"
#include "json.h"
#include "kmod.h"
#include "log.h"
#include "pci.h"
#include "recipe.h"

#define MAX_SOURCES 16
#define COMMENT_MARK "# vfio-bind import: "

struct hit {
	size_t items[MAX_SOURCES]; /* recipe items selecting the device */
	size_t n;
	char native[64]; /* the driver the kernel would bind, "" unknown */
};

/* A file --write changed, for --json (the text says it as it goes). */
struct change {
	const char *action; /* "append", "comment-out", "remove-word" */
	char *file;         /* as shown */
	char *backup;       /* as shown, or NULL */
};

struct ctx {
	const struct vb_root *root;
	bool json;
	struct vb_names *names; /* for the JSON identity */
	struct vb_recipe rec;
	struct vb_pci_list list;
	struct hit *hits; /* parallel to list.devs */
	bool *replace;    /* parallel to rec.v: the line goes away */
	char kver[128];
	bool kmod_ok;
	size_t n_targets;
	struct change *changes; /* rec.n + 2 of them */
	size_t n_changes;
	bool written, refreshed;
};

static void add_hit(struct hit *h, size_t item)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->items[i] == item)
			return;
	if (h->n < MAX_SOURCES)
		h->items[h->n++] = item;
}

/* "FILE:LINE" of an item, "/proc/cmdline" for the running command line. */
static void item_where(const struct vb_recipe_item *it, char *buf, size_t size)
{
	if (it->src == VB_SRC_PROC_CMDLINE)
		snprintf(buf, size, "/proc/cmdline");
	else
		snprintf(buf, size, "%s:%u", it->file, it->line);
}

static void match_ids(struct ctx *c, size_t item)
{
	const struct vb_recipe_item *it = &c->rec.v[item];

	for (const char *p = it->ids; p && *p;) {
		size_t len = strcspn(p, ",");
		struct vb_pci_id_match m;

		if (len && vb_pci_id_match_parse(p, len, &m) < 0) {
			char where[VB_LOCATION_MAX];

			item_where(it, where, sizeof(where));
			log_warning("%s: '%.*s' is not a vfio-pci id (VENDOR:DEVICE[:SUBVENDOR:"
				    "SUBDEVICE[:CLASS:MASK]]): vfio-pci ignores it, so does import",
				    where, (int)len, p);
		} else if (len) {
			for (size_t i = 0; i < c->list.n; i++)
				if (vb_pci_is_endpoint(&c->list.devs[i]) &&
				    vb_pci_id_matches(&m, &c->list.devs[i]))
					add_hit(&c->hits[i], item);
		}
		p += len;
		if (*p == ',')
			p++;
	}
}

static void match_alias(struct ctx *c, size_t item)
{
	const struct vb_recipe_item *it = &c->rec.v[item];

	for (size_t i = 0; i < c->list.n; i++) {
		char ma[256];

		if (!vb_pci_is_endpoint(&c->list.devs[i]) ||
		    vb_diag_modalias(c->root, &c->list.devs[i], ma, sizeof(ma)) < 0)
			continue;
		if (fnmatch(it->value, ma, 0) == 0)
			add_hit(&c->hits[i], item);
	}
}

static void native_drivers(struct ctx *c)
{
	char dir[VB_LOCATION_MAX];

	snprintf(dir, sizeof(dir), "lib/modules/%s", c->kver);
	c->kmod_ok = c->kver[0] != 0 && vb_exists(c->root, dir);
	if (!c->kmod_ok)
		log_notice("no module tree of kernel %s under %s: the drivers the blacklists "
			   "keep away are unknown; blacklists are kept",
			   c->kver[0] ? c->kver : "(unknown)", c->root->path);
	for (size_t i = 0; c->kmod_ok && i < c->list.n; i++) {
		struct vb_pci_dev *d = &c->list.devs[i];
		char ma[256];
		bool builtin;
		int r;

		if (!vb_pci_is_endpoint(d) || vb_diag_modalias(c->root, d, ma, sizeof(ma)) < 0)
			continue;
		r = vb_kmod_driver_for_alias(c->root, c->kver, ma, c->hits[i].native,
					     sizeof(c->hits[i].native), &builtin);
		if (r == -ENOENT) {
			c->hits[i].native[0] = 0;
		} else if (r < 0) {
			c->kmod_ok = false;
			log_notice("cannot read the modules of kernel %s (%s): blacklists are "
				   "kept and not checked",
				   c->kver, vb_strerror(r));
		} else if (vb_modname_eq(c->hits[i].native, "vfio_pci")) {
			c->hits[i].native[0] = 0; /* only its override-only or dynamic ids */
		}
	}
}

/* Is `drv` the native driver of a device the recipe passes through? */
static bool target_driver(const struct ctx *c, const char *drv)
{
	for (size_t i = 0; i < c->list.n; i++)
		if (c->hits[i].n && c->hits[i].native[0] && vb_modname_eq(c->hits[i].native, drv))
			return true;
	return false;
}

/* Decides which recipe lines go and reports blacklists that hurt the host. */
static void decide(struct ctx *c)
{
	for (size_t k = 0; k < c->rec.n; k++) {
		const struct vb_recipe_item *it = &c->rec.v[k];
		char where[VB_LOCATION_MAX];

		item_where(it, where, sizeof(where));
		switch (it->kind) {
		case VB_RECIPE_IDS:
		case VB_RECIPE_ALIAS:
		case VB_RECIPE_SOFTDEP:
		case VB_RECIPE_MODULE:
			c->replace[k] = true;
			break;
		case VB_RECIPE_STUB_IDS:
			log_notice("%s: %s: pci-stub is not imported (vfio-bind binds vfio-pci); "
				   "remove it once the devices are in rules",
				   where, it->text);
			break;
		case VB_RECIPE_BLACKLIST: {
			bool all_targets = c->kmod_ok;

			for (const char *p = it->value; *p;) {
				size_t len = strcspn(p, ",");
				char drv[64];

				snprintf(drv, sizeof(drv), "%.*s", (int)len, p);
				if (!c->kmod_ok || !target_driver(c, drv))
					all_targets = false;
				for (size_t i = 0; c->kmod_ok && i < c->list.n; i++) {
					const struct vb_pci_dev *d = &c->list.devs[i];

					if (c->hits[i].n || !c->hits[i].native[0] ||
					    !vb_modname_eq(c->hits[i].native, drv))
						continue;
					log_warning("%s: %s also keeps %s from %s [%04x:%04x], "
						    "which the old recipe does not pass through%s",
						    where, it->text, drv, d->name, d->vendor,
						    d->device,
						    target_driver(c, drv)
							    ? ": the host gets it back once "
							      "the line is gone"
							    : "");
				}
				p += len;
				if (*p == ',')
					p++;
			}
			/* only blacklists of the passed-through devices' drivers
			 * belong to the recipe; others are the admin's business */
			c->replace[k] = all_targets;
			break;
		}
		}
	}
}

/* The rules, as config text. */
static char *rules_text(struct ctx *c, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, "# Imported by vfio-bind import from the old vfio-pci recipe.\n");
	for (size_t i = 0; i < c->list.n; i++) {
		const struct vb_pci_dev *d = &c->list.devs[i];
		const struct hit *h = &c->hits[i];
		bool storage = (d->class >> 16) == 0x01;

		if (!h->n)
			continue;
		if (storage)
			fprintf(f, "# a storage controller: vfio-bind never takes one that holds "
				   "a mounted file system without allow-storage=yes; check with "
				   "vfio-bind plan, then uncomment\n# ");
		fprintf(f, "bind path=%s id=%04x:%04x  # from", d->name, d->vendor, d->device);
		for (size_t k = 0; k < h->n; k++) {
			char where[VB_LOCATION_MAX];

			item_where(&c->rec.v[h->items[k]], where, sizeof(where));
			fprintf(f, "%s %s", k ? "," : "", where);
		}
		fputc('\n', f);
	}
	for (size_t k = 0; k < c->rec.n; k++) {
		char where[VB_LOCATION_MAX];

		if (!c->replace[k])
			continue;
		item_where(&c->rec.v[k], where, sizeof(where));
		fprintf(f, "# replaces %s: %s\n", where, c->rec.v[k].text);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* ------------------------------------------------------------------------ */
/* --write */

/* *backed_up: the config existed, and its backup was kept. */
static int write_config(struct ctx *c, const char *config, const char *rules, size_t rlen,
			bool *backed_up)
{
	struct vb_root host;
	const struct vb_root *r = c->root;
	const char *rel = "etc/vfio-bind.conf";
	char *old = NULL, *buf;
	size_t olen = 0, len;
	struct vb_config cfg;
	struct vb_diags diags;
	int e;

	if (config) {
		e = vb_root_open(&host, config[0] == '/' ? "/" : ".");
		if (e < 0)
			return e;
		r = &host;
		rel = config[0] == '/' ? config + 1 : config;
	}
	e = vb_read_all(r, rel, VB_CONFIG_MAX_SIZE, &old, &olen);
	if (e < 0 && e != -ENOENT)
		goto out;
	len = olen + rlen + 2;
	buf = malloc(len + 1);
	if (!buf) {
		e = -ENOMEM;
		goto out;
	}
	len = (size_t)snprintf(buf, len + 1, "%s%s%s%s", old ? old : "",
			       olen && old[olen - 1] != '\n' ? "\n" : "", olen ? "\n" : "", rules);
	/* never leave a config that the boot would refuse */
	e = vb_config_parse(config ? config : "/etc/vfio-bind.conf", buf, len, &cfg, &diags);
	if (e < 0)
		vb_diags_log(&diags);
	vb_config_free(&cfg);
	vb_diags_free(&diags);
	if (e == 0 && old) {
		e = vb_backup_file(r, rel);
		*backed_up = e == 0;
	}
	if (e == 0)
		e = vb_replace_file(r, rel, buf, len, 0644);
	free(buf);
out:
	free(old);
	if (config)
		vb_root_close(&host);
	return e;
}

/* Comments out the replaced lines of one file. An `options vfio-pci` line
 * with other parameters keeps them on a new line without ids=. */
static int edit_file(struct ctx *c, const char *relpath)
{
	char *buf = NULL, *out = NULL, *line, *next;
	size_t size = 0;
	unsigned no = 0;
	FILE *f;
	int r = vb_read_all(c->root, relpath, 1u << 20, &buf, NULL);

	if (r < 0)
		return r;
	f = open_memstream(&out, &size);
	if (!f) {
		free(buf);
		return -ENOMEM;
	}
	for (line = buf; line; line = next) {
		const struct vb_recipe_item *it = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else if (!*line)
			break; /* after the last newline */
		no++;
		for (size_t k = 0; k < c->rec.n; k++)
			if (c->replace[k] && c->rec.v[k].line == no &&
			    strcmp(c->rec.v[k].relpath, relpath) == 0)
				it = &c->rec.v[k];
		if (!it) {
			fprintf(f, "%s%s", line, next ? "\n" : "");
			continue;
		}
		fprintf(f, COMMENT_MARK "%s\n", line);
		if (it->kind == VB_RECIPE_IDS && it->src == VB_SRC_MODPROBE) {
			char copy[VB_RECIPE_LINE_MAX], *w, *save = NULL,
							   rest[VB_RECIPE_LINE_MAX] = "";
			unsigned nw = 0;

			snprintf(copy, sizeof(copy), "%s", line);
			for (w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
				if (strncmp(w, "ids=", 4) != 0 && w[0] != '#' && ++nw &&
				    strlen(rest) + strlen(w) + 2 < sizeof(rest)) {
					strcat(rest, nw > 1 ? " " : "");
					strcat(rest, w);
				}
			if (nw > 2)
				fprintf(f, "%s\n", rest);
		}
	}
	free(buf);
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	r = vb_backup_file(c->root, relpath);
	if (r == 0)
		r = vb_replace_file(c->root, relpath, out, size, 0644);
	free(out);
	return r;
}

/* Records a change (once per action and file); file and backup as shown.
 * Out of memory it is left out of the JSON, not undone. */
static void add_change(struct ctx *c, const char *action, const char *file, const char *backup)
{
	struct change *ch = &c->changes[c->n_changes];

	for (size_t i = 0; i < c->n_changes; i++)
		if (strcmp(c->changes[i].action, action) == 0 &&
		    strcmp(c->changes[i].file, file) == 0)
			return;
	ch->action = action;
	ch->file = strdup(file);
	ch->backup = backup ? strdup(backup) : NULL;
	if (ch->file && (!backup || ch->backup)) {
		c->n_changes++;
		return;
	}
	free(ch->file);
	free(ch->backup);
}

static int write_all(struct ctx *c, const char *config, const char *rules, size_t rlen)
{
	const char *shown = config ? config : "/etc/vfio-bind.conf";
	bool refresh = false, seen_proc = false, backed_up = false;
	struct vb_boot boot;
	int r;

	r = write_config(c, config, rules, rlen, &backed_up);
	if (r < 0) {
		log_error("cannot write %s: %s", shown,
			  r == -EINVAL ? "the rules would make it invalid" : vb_strerror(r));
		return r == -EINVAL ? VB_EXIT_CONFIG : VB_EXIT_FAILURE;
	}
	c->written = true;
	{
		/* where vb_backup_file() keeps it: under the root, or under the
		 * directory -c is relative to */
		char bak[VB_LOCATION_MAX + sizeof(VB_BACKUP_DIR "/")];

		snprintf(bak, sizeof(bak), "%s" VB_BACKUP_DIR "/%s",
			 !config || config[0] == '/' ? "/" : "",
			 !config            ? "etc/vfio-bind.conf"
			 : config[0] == '/' ? config + 1
					    : config);
		add_change(c, "append", shown, backed_up ? bak : NULL);
	}
	vb_say(c->json, "appended %zu rule(s) to %s\n", c->n_targets, shown);
	for (size_t k = 0; k < c->rec.n; k++) {
		const struct vb_recipe_item *it = &c->rec.v[k];
		bool first = true;

		if (!c->replace[k] || it->src == VB_SRC_GRUB || it->src == VB_SRC_KERNEL_CMDLINE ||
		    it->src == VB_SRC_PROC_CMDLINE)
			continue;
		for (size_t j = 0; j < k; j++)
			if (c->replace[j] && strcmp(c->rec.v[j].relpath, it->relpath) == 0)
				first = false;
		if (!first)
			continue;
		if (strncmp(it->relpath, "etc/", 4) != 0) {
			/* /usr/lib and /run belong to packages and programs: not ours to edit */
			vb_say(c->json,
			       "not edited: %s is not under /etc; remove its old lines (see the "
			       "# replaces comments) yourself\n",
			       it->file);
			continue;
		}
		r = edit_file(c, it->relpath);
		if (r < 0) {
			log_error("cannot edit %s: %s", it->file, vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		{
			char bak[VB_LOCATION_MAX + sizeof(VB_BACKUP_DIR "/")];

			snprintf(bak, sizeof(bak), "/" VB_BACKUP_DIR "/%s", it->relpath);
			add_change(c, "comment-out", it->file, bak);
			vb_say(c->json, "commented out the old lines of %s (backup: %s)\n",
			       it->file, bak);
		}
	}
	vb_boot_detect(c->root, c->kver, &boot);
	for (size_t k = 0; k < c->rec.n; k++) {
		const struct vb_recipe_item *it = &c->rec.v[k];

		if (!c->replace[k])
			continue;
		if (it->src == VB_SRC_KERNEL_CMDLINE) {
			r = vb_kernel_cmdline_remove(c->root, it->text);
			if (r < 0 && r != -ENOENT) {
				log_error("/etc/kernel/cmdline: %s: not changed; remove %s "
					  "yourself",
					  r == -EBADMSG ? "not one command line" : vb_strerror(r),
					  it->text);
				return r == -EBADMSG ? VB_EXIT_ENV : VB_EXIT_FAILURE;
			}
			if (r == 0)
				add_change(c, "remove-word", "/etc/kernel/cmdline",
					   "/" VB_BACKUP_DIR "/etc/kernel/cmdline");
			vb_say(c->json,
			       "removed %s from /etc/kernel/cmdline (backup: /" VB_BACKUP_DIR
			       "/etc/kernel/cmdline)\n",
			       it->text);
			refresh = true;
		} else if (it->src == VB_SRC_GRUB) {
			/* the admin's GRUB file is never edited by vfio-bind */
			vb_say(c->json, "edit %s line %u: remove %s, then run %s\n", it->file,
			       it->line, it->text, boot.refresh);
		} else if (it->src == VB_SRC_PROC_CMDLINE && !seen_proc) {
			bool elsewhere = false;

			for (size_t j = 0; j < c->rec.n; j++)
				if (c->rec.v[j].src != VB_SRC_PROC_CMDLINE &&
				    strcmp(c->rec.v[j].text, it->text) == 0)
					elsewhere = true;
			if (!elsewhere) {
				vb_say(c->json,
				       "the running command line has %s, but no file under %s "
				       "names it: remove it from %s\n",
				       it->text, c->root->path, boot.cmdline_where);
				seen_proc = true;
			}
		}
	}
	if (refresh) {
		r = vb_boot_refresh(c->root, &boot, c->json);
		if (r < 0)
			return VB_EXIT_FAILURE;
		c->refreshed = r > 0;
	}
	vb_say(c->json, "now run: update-initramfs -u -k all (then reboot; vfio-bind doctor "
			"checks the result)\n");
	return VB_EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* --json */

static const char *kind_name(enum vb_recipe_kind kind)
{
	switch (kind) {
	case VB_RECIPE_IDS:
		return "ids";
	case VB_RECIPE_STUB_IDS:
		return "pci-stub-ids";
	case VB_RECIPE_ALIAS:
		return "alias";
	case VB_RECIPE_BLACKLIST:
		return "blacklist";
	case VB_RECIPE_SOFTDEP:
		return "softdep";
	case VB_RECIPE_MODULE:
		return "module";
	}
	return NULL;
}

/* The object of import --json (vfio-bind(8), JSON OUTPUT). */
static void import_json(struct ctx *c, const char *config, const char *rules, int ret)
{
	struct json j;

	json_envelope_begin(&j, stdout, "import", c->root->path,
			    config ? config : "/etc/vfio-bind.conf", -1, NULL);
	json_array_open(&j, "recipe");
	for (size_t k = 0; k < c->rec.n; k++) {
		const struct vb_recipe_item *it = &c->rec.v[k];

		json_object_open(&j, NULL);
		json_str(&j, "file", it->src == VB_SRC_PROC_CMDLINE ? "/proc/cmdline" : it->file);
		if (it->line)
			json_int(&j, "line", it->line);
		else
			json_null(&j, "line");
		json_str(&j, "kind", kind_name(it->kind));
		json_str(&j, "text", it->text);
		json_array_open(&j, "matched");
		for (size_t i = 0; i < c->list.n; i++)
			for (size_t h = 0; h < c->hits[i].n; h++)
				if (c->hits[i].items[h] == k)
					json_str(&j, NULL, c->list.devs[i].name);
		json_array_close(&j);
		json_bool(&j, "replaced", c->replace[k]);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_array_open(&j, "rules");
	for (size_t i = 0; i < c->list.n; i++) {
		const struct vb_pci_dev *d = &c->list.devs[i];
		const struct hit *h = &c->hits[i];
		char rule[128];

		if (!h->n)
			continue;
		json_object_open(&j, NULL);
		json_identity(&j, d, c->names);
		snprintf(rule, sizeof(rule), "bind path=%s id=%04x:%04x", d->name, d->vendor,
			 d->device);
		json_str(&j, "rule", rule);
		json_bool(&j, "commented_out", (d->class >> 16) == 0x01);
		json_array_open(&j, "from");
		for (size_t k = 0; k < h->n; k++) {
			char where[VB_LOCATION_MAX];

			item_where(&c->rec.v[h->items[k]], where, sizeof(where));
			json_str(&j, NULL, where);
		}
		json_array_close(&j);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_str(&j, "fragment", rules);
	json_bool(&j, "written", c->written);
	json_array_open(&j, "changes");
	for (size_t i = 0; i < c->n_changes; i++) {
		json_object_open(&j, NULL);
		json_str(&j, "action", c->changes[i].action);
		json_str(&j, "file", c->changes[i].file);
		json_str(&j, "backup", c->changes[i].backup);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_bool(&j, "refreshed", c->refreshed);
	json_envelope_end(&j, ret);
}

int vb_cmd_import(const struct vb_root *root, const char *config, bool write, bool json,
		  struct vb_names *names)
{
	struct ctx c = {.root = root, .json = json, .names = names};
	char *rules = NULL;
	size_t rlen = 0, n_replace = 0;
	bool emit = false; /* the JSON object: once the recipe and devices were read */
	int r, ret = VB_EXIT_FAILURE;

	r = vb_recipe_scan(root, &c.rec);
	if (r < 0) {
		log_error("cannot read the old recipe: %s", vb_strerror(r));
		return VB_EXIT_FAILURE;
	}
	r = vb_pci_scan(root, &c.list);
	if (r < 0) {
		log_error("cannot scan PCI devices under %s: %s", root->path, vb_strerror(r));
		goto out;
	}
	c.hits = calloc(c.list.n + 1, sizeof(*c.hits));
	c.replace = calloc(c.rec.n + 1, sizeof(*c.replace));
	c.changes = calloc(c.rec.n + 2, sizeof(*c.changes));
	if (!c.hits || !c.replace || !c.changes) {
		log_error("import: %s", vb_strerror(-ENOMEM));
		goto out;
	}
	emit = json;
	for (size_t i = 0; i < c.list.n; i++)
		(void)vb_pci_load_header(root, &c.list.devs[i]);
	vb_boot_kernel(root, NULL, c.kver, sizeof(c.kver));
	for (size_t k = 0; k < c.rec.n; k++) {
		if (c.rec.v[k].ids)
			match_ids(&c, k);
		else if (c.rec.v[k].kind == VB_RECIPE_ALIAS)
			match_alias(&c, k);
	}
	native_drivers(&c);
	decide(&c);
	for (size_t i = 0; i < c.list.n; i++)
		c.n_targets += c.hits[i].n > 0;
	for (size_t k = 0; k < c.rec.n; k++)
		n_replace += c.replace[k];
	for (size_t k = 0; k < c.rec.n; k++) {
		const struct vb_recipe_item *it = &c.rec.v[k];
		bool any = false;
		char where[VB_LOCATION_MAX];

		if (!it->ids && it->kind != VB_RECIPE_ALIAS)
			continue;
		for (size_t i = 0; i < c.list.n && !any; i++)
			for (size_t j = 0; j < c.hits[i].n; j++)
				any |= c.hits[i].items[j] == k;
		item_where(it, where, sizeof(where));
		if (!any)
			log_notice("%s: %s matches no device on this machine: no rule", where,
				   it->text);
	}
	if (n_replace == 0) {
		vb_say(json, "# Nothing to import: no vfio-pci recipe under %s.\n", root->path);
		ret = VB_EXIT_SUCCESS;
		goto out;
	}
	rules = rules_text(&c, &rlen);
	if (!rules) {
		log_error("import: %s", vb_strerror(-ENOMEM));
		goto out;
	}
	if (!write) {
		if (!json)
			fputs(rules, stdout);
		log_notice("vfio-bind import --write appends these rules to %s and comments the "
			   "old lines out",
			   config ? config : "/etc/vfio-bind.conf");
		ret = VB_EXIT_SUCCESS;
		goto out;
	}
	ret = write_all(&c, config, rules, rlen);
out:
	if (emit)
		import_json(&c, config, rules, ret);
	for (size_t i = 0; i < c.n_changes; i++) {
		free(c.changes[i].file);
		free(c.changes[i].backup);
	}
	free(c.changes);
	free(rules);
	free(c.hits);
	free(c.replace);
	vb_pci_list_free(&c.list);
	vb_recipe_free(&c.rec);
	return ret;
}
