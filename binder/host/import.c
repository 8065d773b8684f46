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

struct ctx {
	const struct vb_root *root;
	struct vb_recipe rec;
	struct vb_pci_list list;
	struct hit *hits; /* parallel to list.devs */
	bool *replace;    /* parallel to rec.v: the line goes away */
	char kver[128];
	bool kmod_ok;
	size_t n_targets;
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
			char where[4300];

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
	char dir[300];

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
		char where[4300];

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
			char where[4300];

			item_where(&c->rec.v[h->items[k]], where, sizeof(where));
			fprintf(f, "%s %s", k ? "," : "", where);
		}
		fputc('\n', f);
	}
	for (size_t k = 0; k < c->rec.n; k++) {
		char where[4300];

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

static int write_config(struct ctx *c, const char *config, const char *rules, size_t rlen)
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
	if (e == 0 && old)
		e = vb_backup_file(r, rel);
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
			char copy[4096], *w, *save = NULL, rest[4096] = "";
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

static int write_all(struct ctx *c, const char *config, const char *rules, size_t rlen)
{
	struct vb_boot boot;
	bool refresh = false, seen_proc = false;
	int r;

	r = write_config(c, config, rules, rlen);
	if (r < 0) {
		log_error("cannot write %s: %s", config ? config : "/etc/vfio-bind.conf",
			  r == -EINVAL ? "the rules would make it invalid" : vb_strerror(r));
		return r == -EINVAL ? VB_EXIT_CONFIG : VB_EXIT_FAILURE;
	}
	printf("appended %zu rule(s) to %s\n", c->n_targets,
	       config ? config : "/etc/vfio-bind.conf");
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
			printf("not edited: %s is not under /etc; remove its old lines (see the "
			       "# replaces comments) yourself\n",
			       it->file);
			continue;
		}
		r = edit_file(c, it->relpath);
		if (r < 0) {
			log_error("cannot edit %s: %s", it->file, vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		printf("commented out the old lines of %s (backup: /" VB_STATE_DIR "/backup/%s)\n",
		       it->file, it->relpath);
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
			printf("removed %s from /etc/kernel/cmdline (backup: /" VB_STATE_DIR
			       "/backup/etc/kernel/cmdline)\n",
			       it->text);
			refresh = true;
		} else if (it->src == VB_SRC_GRUB) {
			/* the admin's GRUB file is never edited by vfio-bind */
			printf("edit %s line %u: remove %s, then run %s\n", it->file, it->line,
			       it->text, boot.refresh);
		} else if (it->src == VB_SRC_PROC_CMDLINE && !seen_proc) {
			bool elsewhere = false;

			for (size_t j = 0; j < c->rec.n; j++)
				if (c->rec.v[j].src != VB_SRC_PROC_CMDLINE &&
				    strcmp(c->rec.v[j].text, it->text) == 0)
					elsewhere = true;
			if (!elsewhere) {
				printf("the running command line has %s, but no file under %s "
				       "names it: remove it from %s\n",
				       it->text, c->root->path, boot.cmdline_where);
				seen_proc = true;
			}
		}
	}
	if (refresh && vb_boot_refresh(c->root, &boot, false) < 0)
		return VB_EXIT_FAILURE;
	printf("now run: update-initramfs -u -k all (then reboot; vfio-bind doctor checks the "
	       "result)\n");
	return VB_EXIT_SUCCESS;
}

int vb_cmd_import(const struct vb_root *root, const char *config, bool write)
{
	struct ctx c = {.root = root};
	char *rules = NULL;
	size_t rlen = 0, n_replace = 0;
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
	if (!c.hits || !c.replace) {
		log_error("import: %s", vb_strerror(-ENOMEM));
		goto out;
	}
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
		char where[4300];

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
		printf("# Nothing to import: no vfio-pci recipe under %s.\n", root->path);
		ret = VB_EXIT_SUCCESS;
		goto out;
	}
	rules = rules_text(&c, &rlen);
	if (!rules) {
		log_error("import: %s", vb_strerror(-ENOMEM));
		goto out;
	}
	if (!write) {
		fputs(rules, stdout);
		log_notice("vfio-bind import --write appends these rules to %s and comments the "
			   "old lines out",
			   config ? config : "/etc/vfio-bind.conf");
		ret = VB_EXIT_SUCCESS;
		goto out;
	}
	ret = write_all(&c, config, rules, rlen);
out:
	free(rules);
	free(c.hits);
	free(c.replace);
	vb_pci_list_free(&c.list);
	vb_recipe_free(&c.rec);
	return ret;
}
