/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot loader, kernel command line and the IOMMU step (boot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "cmdline.h"
#include "diagnose.h"
#include "json.h"
#include "kmod.h"
#include "log.h"
#include "recipe.h"

#define MAX_CMDLINE 4096
#define RECORD VB_STATE_DIR "/iommu"
#define DROPIN_HEAD "# Written by vfio-bind iommu --apply; vfio-bind iommu --remove deletes it.\n"

static void set_argv(struct vb_boot *b, const char *cmd)
{
	size_t n = 0;
	char *p;

	snprintf(b->refresh, sizeof(b->refresh), "%s", cmd);
	snprintf(b->argv_buf, sizeof(b->argv_buf), "%s", cmd);
	for (p = strtok(b->argv_buf, " "); p && n < 7; p = strtok(NULL, " "))
		b->refresh_argv[n++] = p;
	b->refresh_argv[n] = NULL;
}

void vb_boot_detect(const struct vb_root *root, const char *kver, struct vb_boot *b)
{
	memset(b, 0, sizeof(*b));
	if (vb_exists(root, "etc/kernel/proxmox-boot-uuids") &&
	    (vb_exists(root, "etc/kernel/cmdline") || vb_exists(root, "etc/default/grub"))) {
		if (vb_exists(root, "etc/kernel/cmdline")) {
			b->kind = VB_BOOTL_PVE_SDBOOT;
			b->name = "proxmox-boot-tool (systemd-boot)";
			snprintf(b->cmdline_where, sizeof(b->cmdline_where), "/etc/kernel/cmdline");
		} else {
			b->kind = VB_BOOTL_PVE_GRUB;
			b->name = "proxmox-boot-tool (GRUB)";
			b->grub = true;
		}
		set_argv(b, "proxmox-boot-tool refresh");
	} else if (vb_exists(root, "etc/default/grub")) {
		b->kind = VB_BOOTL_GRUB;
		b->name = "GRUB";
		b->grub = true;
		set_argv(b, "update-grub");
	} else if (vb_exists(root, "etc/kernel/cmdline")) {
		char cmd[512];

		b->kind = VB_BOOTL_KERNEL_INSTALL;
		b->name = "systemd-boot (kernel-install)";
		snprintf(b->cmdline_where, sizeof(b->cmdline_where), "/etc/kernel/cmdline");
		if (kver && *kver)
			snprintf(cmd, sizeof(cmd), "kernel-install add %s /boot/vmlinuz-%s", kver,
				 kver);
		else
			snprintf(cmd, sizeof(cmd),
				 "kernel-install add $(uname -r) /boot/vmlinuz-$(uname -r)");
		set_argv(b, cmd);
	} else {
		b->kind = VB_BOOTL_UNKNOWN;
		b->name = "unknown";
		snprintf(b->cmdline_where, sizeof(b->cmdline_where),
			 "the boot loader's configuration (no /etc/default/grub, no "
			 "/etc/kernel/cmdline)");
		set_argv(b, "the boot loader's refresh command");
		return;
	}
	if (b->grub)
		snprintf(b->cmdline_where, sizeof(b->cmdline_where),
			 "GRUB_CMDLINE_LINUX in /etc/default/grub or /etc/default/grub.d/*.cfg");
}

int vb_boot_refresh(const struct vb_root *root, const struct vb_boot *b, bool json)
{
	int status;
	pid_t pid;

	if (b->kind == VB_BOOTL_UNKNOWN)
		return -ENOENT;
	if (!root->is_host) {
		vb_say(json, "not run (the root %s is not /): %s\n", root->path, b->refresh);
		return 0;
	}
	if (strchr(b->refresh, '$')) {
		vb_say(json, "not run (the kernel release is unknown): %s\n", b->refresh);
		return 0;
	}
	vb_say(json, "running: %s\n", b->refresh);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* with --json, stdout is the object's alone */
		if (json && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(b->refresh_argv[0], b->refresh_argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("%s failed (%s %d)", b->refresh, WIFEXITED(status) ? "exit" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ECHILD;
	}
	return 1;
}

/* ------------------------------------------------------------------------ */
/* etc/kernel/cmdline: one line, nothing else */

struct kcmdline {
	char line[MAX_CMDLINE]; /* without the newline */
	bool newline;           /* the file ended with one */
};

static int kcmdline_read(const struct vb_root *root, struct kcmdline *k)
{
	char *buf = NULL;
	size_t len, quotes = 0;
	int r = vb_read_all(root, "etc/kernel/cmdline", MAX_CMDLINE, &buf, &len);

	if (r < 0)
		return r;
	k->newline = len > 0 && buf[len - 1] == '\n';
	if (k->newline)
		buf[--len] = 0;
	r = len == 0 || len >= sizeof(k->line) ? -EBADMSG : 0;
	for (size_t i = 0; r == 0 && i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			r = -EBADMSG; /* a second line, a NUL, a control character */
		quotes += ch == '"';
	}
	if (r == 0 && quotes % 2)
		r = -EBADMSG;
	if (r == 0)
		memcpy(k->line, buf, len + 1);
	free(buf);
	return r;
}

static int kcmdline_write(const struct vb_root *root, const struct kcmdline *k)
{
	char buf[MAX_CMDLINE + 2];
	int n = snprintf(buf, sizeof(buf), "%s%s", k->line, k->newline ? "\n" : "");

	return vb_replace_file(root, "etc/kernel/cmdline", buf, (size_t)n, 0644);
}

/* Drops every occurrence of word (and the blank before it). true when found. */
static bool drop_word(char *line, const char *word)
{
	size_t wl = strlen(word);
	bool found = false;
	char *p = line;

	while ((p = strstr(p, word))) {
		bool start = p == line || p[-1] == ' ' || p[-1] == '\t';
		bool end = p[wl] == 0 || p[wl] == ' ' || p[wl] == '\t';

		if (!start || !end) {
			p++;
			continue;
		}
		found = true;
		if (p > line) {
			p--; /* the blank before it */
			wl++;
		} else if (p[wl]) {
			wl++; /* first word: the blank after it */
		}
		memmove(p, p + wl, strlen(p + wl) + 1);
		wl = strlen(word);
	}
	return found;
}

int vb_kernel_cmdline_remove(const struct vb_root *root, const char *word)
{
	struct kcmdline k;
	int r = kcmdline_read(root, &k);

	if (r < 0)
		return r;
	if (!drop_word(k.line, word))
		return -ENOENT;
	r = vb_backup_file(root, "etc/kernel/cmdline");
	return r < 0 ? r : kcmdline_write(root, &k);
}

/* ------------------------------------------------------------------------ */
/* What this CPU and kernel need */

void vb_boot_kernel(const struct vb_root *root, const char *kver, char *buf, size_t size)
{
	char cmdline[MAX_CMDLINE], img[512];
	char *k;
	int err;

	buf[0] = 0;
	if (kver && *kver) {
		vb_copy_str(buf, size, kver);
		return;
	}
	if (vb_read_file(root, "proc/sys/kernel/osrelease", buf, size) > 0)
		return;
	buf[0] = 0;
	if (vb_read_file(root, "proc/cmdline", cmdline, sizeof(cmdline)) > 0 &&
	    vb_cmdline_value(cmdline, "BOOT_IMAGE", img, sizeof(img))) {
		const char *v = strstr(img, "vmlinuz-");

		if (v && v[8]) {
			vb_copy_str(buf, size, v + 8);
			return;
		}
	}
	k = vb_kernel_release(root, NULL, &err);
	if (k)
		vb_copy_str(buf, size, k);
	free(k);
}

struct need {
	char vendor; /* 'I', 'A', 0 */
	char kver[128];
	const char *word; /* "intel_iommu=on" or NULL */
	char why[512];    /* the reason for word, or why nothing is needed */
	char running[MAX_CMDLINE];
	unsigned groups;
	/* the command lines (set by the command) */
	bool off;         /* intel_iommu=off is configured */
	bool have;        /* word is configured */
	bool on_running;  /* word is on the running command line */
	bool running_off; /* amd_iommu=off or iommu=off runs */
};

/* Is the Intel IOMMU on by default in kver? 1 yes, 0 no; why says how it
 * is known: the kernel's config when /boot has it, else the release. */
static int intel_default_on(const struct vb_root *root, const char *kver, char *why, size_t size)
{
	char rel[VB_LOCATION_MAX], *cfg = NULL;
	int on = -1;

	snprintf(rel, sizeof(rel), "boot/config-%s", kver);
	if (*kver && vb_read_all(root, rel, 1u << 22, &cfg, NULL) >= 0) {
		if (strstr(cfg, "\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y") ||
		    strstr(cfg, "\nCONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y")) {
			on = 1;
			snprintf(why, size,
				 "VT-d is on by default in this kernel (/boot/config-%s: %s)", kver,
				 strstr(cfg, "DEFAULT_ON=y") ? "CONFIG_INTEL_IOMMU_DEFAULT_ON=y"
							     : "CONFIG_INTEL_IOMMU_DEFAULT_ON_"
							       "INTGPU_OFF=y");
		} else if (strstr(cfg, "\nCONFIG_INTEL_IOMMU=y")) {
			on = 0;
			snprintf(why, size,
				 "VT-d is off by default in this kernel (/boot/config-%s has "
				 "neither CONFIG_INTEL_IOMMU_DEFAULT_ON nor _INTGPU_OFF)",
				 kver);
		}
		free(cfg);
		if (on >= 0)
			return on;
	}
	if (vb_kver_num(kver) >= 6008) {
		snprintf(why, size, "VT-d is on by default since kernel 6.8 (this is %s)", kver);
		return 1;
	}
	if (vb_kver_num(kver) > 0)
		snprintf(why, size, "VT-d is off by default before kernel 6.8 (this is %s)", kver);
	else
		snprintf(why, size,
			 "the kernel release is unknown: before 6.8 VT-d is off by "
			 "default");
	return 0;
}

/* configured_off: intel_iommu=off is configured; the word is needed whatever
 * the default, and the admin's word must go (the caller says so). */
static void need_compute(const struct vb_root *root, const char *kver_arg, bool configured_off,
			 struct need *n)
{
	char **names;
	size_t k;

	memset(n, 0, sizeof(*n));
	n->vendor = vb_cpu_vendor(root);
	vb_boot_kernel(root, kver_arg, n->kver, sizeof(n->kver));
	(void)vb_read_file(root, "proc/cmdline", n->running, sizeof(n->running));
	if (vb_diag_list_dir(root, "sys/kernel/iommu_groups", NULL, &names, &k) == 0) {
		n->groups = (unsigned)k;
		vb_diag_free_names(names, k);
	}
	if (n->vendor == 'A') {
		snprintf(n->why, sizeof(n->why),
			 "the kernel turns AMD-Vi on by default: no word is needed "
			 "(amd_iommu=on is not a valid value)");
	} else if (n->vendor == 'I') {
		if (!intel_default_on(root, n->kver, n->why, sizeof(n->why)) || configured_off)
			n->word = "intel_iommu=on";
	} else {
		snprintf(n->why, sizeof(n->why),
			 "neither GenuineIntel nor AuthenticAMD in /proc/cpuinfo: nothing "
			 "known to add");
	}
}

/* ------------------------------------------------------------------------ */
/* The configured command line */

/* Does any GRUB_CMDLINE_LINUX(_DEFAULT) line of grub or grub.d name word? */
static bool grub_has(const struct vb_root *root, const char *word, bool skip_dropin)
{
	char **names = NULL;
	size_t n = 0;
	bool found = false;

	(void)vb_diag_list_dir(root, "etc/default/grub.d", ".cfg", &names, &n);
	for (size_t i = 0; i <= n && !found; i++) {
		char rel[VB_LOCATION_MAX], *buf = NULL, *line, *next;

		if (i == 0)
			snprintf(rel, sizeof(rel), "etc/default/grub");
		else
			snprintf(rel, sizeof(rel), "etc/default/grub.d/%s", names[i - 1]);
		if (skip_dropin && strcmp(rel, VB_GRUB_DROPIN) == 0)
			continue;
		if (vb_read_all(root, rel, 1u << 20, &buf, NULL) < 0)
			continue;
		for (line = buf; line && !found; line = next) {
			const char *p = line, *eq;
			char val[MAX_CMDLINE];
			size_t vl;

			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			while (*p == ' ' || *p == '\t')
				p++;
			if (strncmp(p, "export ", 7) == 0)
				p += 7;
			if (strncmp(p, "GRUB_CMDLINE_LINUX", 18) != 0 || !(eq = strchr(p, '=')))
				continue;
			snprintf(val, sizeof(val), "%s", eq + 1);
			for (char *q = val; *q; q++)
				if (*q == '"' || *q == '\'')
					*q = ' ';
			vl = strcspn(val, "#");
			val[vl] = 0;
			found = vb_cmdline_has(val, word);
		}
		free(buf);
	}
	vb_diag_free_names(names, n);
	return found;
}

static bool configured_has(const struct vb_root *root, const struct vb_boot *b, const char *word)
{
	struct kcmdline k;

	if (b->grub)
		return grub_has(root, word, false);
	if (b->kind == VB_BOOTL_UNKNOWN || kcmdline_read(root, &k) < 0)
		return false;
	return vb_cmdline_has(k.line, word);
}

/* ------------------------------------------------------------------------ */
/* The record of what --apply wrote */

struct record {
	bool present;
	char how[16];   /* "created" or "edited" */
	char file[256]; /* relpath */
	char word[128];
};

static void record_read(const struct vb_root *root, struct record *rec)
{
	char buf[1024];
	const char *line;

	memset(rec, 0, sizeof(*rec));
	if (vb_read_file(root, RECORD, buf, sizeof(buf)) < 0)
		return;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (*line != '#' &&
		    sscanf(line, "%15s %255s %127s", rec->how, rec->file, rec->word) == 3) {
			rec->present = true;
			return;
		}
}

static int record_write(const struct vb_root *root, const char *how, const char *file,
			const char *word)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf),
			 "# What vfio-bind iommu --apply wrote; vfio-bind iommu --remove "
			 "undoes it.\n%s %s %s\n",
			 how, file, word);

	return vb_replace_file(root, RECORD, buf, (size_t)n, 0644);
}

static void dropin_text(const char *word, char *buf, size_t size)
{
	snprintf(buf, size, DROPIN_HEAD "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX %s\"\n", word);
}

/* ------------------------------------------------------------------------ */
/* The command */

/* What a run shows (the change --apply would make) or does, for --json;
 * the text says it as it goes. */
struct change {
	const char *action;         /* "create", "edit", "remove", "restore" */
	char file[VB_LOCATION_MAX]; /* as shown: "/etc/kernel/cmdline" */
	char *diff;
	const char *backup; /* as shown, or NULL */
};

struct report {
	bool json;
	struct change changes[2];
	size_t n_changes;
	bool written, refreshed;
};

/* A unified diff of file: old NULL creates new_ (lines), new_ NULL deletes
 * old (lines), else the one line old becomes new_. malloc'ed, NULL on ENOMEM. */
static char *diff_text(const char *file, const char *old, const char *new_)
{
	const char *body = old && new_ ? NULL : old ? old : new_;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, "--- %s\n+++ %s\n", old ? file : "/dev/null", new_ ? file : "/dev/null");
	if (body) {
		size_t lines = 0;

		for (const char *p = body; *p; p++)
			lines += *p == '\n';
		if (old)
			fprintf(f, "@@ -1,%zu +0,0 @@\n", lines);
		else
			fprintf(f, "@@ -0,0 +1,%zu @@\n", lines);
		for (const char *p = body; *p;) {
			size_t n = strcspn(p, "\n");

			fprintf(f, "%c%.*s\n", old ? '-' : '+', (int)n, p);
			p += n + (p[n] == '\n');
		}
	} else {
		fprintf(f, "@@ -1 +1 @@\n-%s\n+%s\n", old, new_);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Records a change (file is a relpath) with its diff; -ENOMEM when the
 * diff cannot be made. */
static int add_change(struct report *rep, const char *action, const char *file, const char *old,
		      const char *new_, const char *backup)
{
	struct change *c;
	char shown[VB_LOCATION_MAX];

	snprintf(shown, sizeof(shown), "/%s", file);
	if (rep->n_changes == sizeof(rep->changes) / sizeof(rep->changes[0]))
		return -ENOBUFS;
	c = &rep->changes[rep->n_changes];
	c->diff = diff_text(shown, old, new_);
	if (!c->diff)
		return -ENOMEM;
	c->action = action;
	snprintf(c->file, sizeof(c->file), "%s", shown);
	c->backup = backup;
	rep->n_changes++;
	return 0;
}

static int do_remove(const struct vb_root *root, const struct vb_boot *b, struct report *rep)
{
	bool json = rep->json;
	struct record rec;
	int r;

	record_read(root, &rec);
	if (!rec.present) {
		vb_say(json,
		       "nothing to remove: vfio-bind iommu --apply wrote nothing here (no /%s)\n",
		       RECORD);
		return VB_EXIT_SUCCESS;
	}
	if (strcmp(rec.how, "created") == 0) {
		char want[512], *cur = NULL;

		dropin_text(rec.word, want, sizeof(want));
		r = vb_read_all(root, rec.file, 1u << 20, &cur, NULL);
		if (r >= 0 && strcmp(cur, want) != 0) {
			free(cur);
			log_error("/%s changed since vfio-bind wrote it: not removed; delete it "
				  "yourself, then %s",
				  rec.file, b->refresh);
			return VB_EXIT_ENV;
		}
		free(cur);
		if (r >= 0 && unlinkat(root->fd, rec.file, 0) < 0) {
			log_error("cannot remove /%s: %s", rec.file, vb_strerror(-errno));
			return VB_EXIT_FAILURE;
		}
		if (r >= 0) {
			rep->written = true;
			if (add_change(rep, "remove", rec.file, want, NULL, NULL) < 0) {
				log_error("iommu: %s", vb_strerror(-ENOMEM));
				return VB_EXIT_FAILURE;
			}
		}
		vb_say(json, "removed /%s\n", rec.file);
	} else {
		char bak[VB_LOCATION_MAX], *orig = NULL, *cur = NULL, want[MAX_CMDLINE + 200];
		char before[MAX_CMDLINE];
		size_t olen;
		struct kcmdline k;

		snprintf(bak, sizeof(bak), VB_BACKUP_DIR "/%s", rec.file);
		r = kcmdline_read(root, &k);
		if (r < 0) {
			log_error("/%s: %s: not changed", rec.file,
				  r == -EBADMSG ? "not one command line" : vb_strerror(r));
			return r == -EBADMSG ? VB_EXIT_ENV : VB_EXIT_FAILURE;
		}
		snprintf(before, sizeof(before), "%s", k.line);
		if (vb_read_all(root, bak, MAX_CMDLINE, &orig, &olen) >= 0 &&
		    vb_read_all(root, rec.file, MAX_CMDLINE, &cur, NULL) >= 0) {
			/* what --apply made of the backup: restore it byte for byte */
			size_t l = olen && orig[olen - 1] == '\n' ? olen - 1 : olen;

			snprintf(want, sizeof(want), "%.*s %s%s", (int)l, orig, rec.word,
				 l < olen ? "\n" : "");
			if (strcmp(cur, want) == 0) {
				r = vb_replace_file(root, rec.file, orig, olen, 0644);
				free(cur);
				if (r < 0) {
					free(orig);
					log_error("cannot write /%s: %s", rec.file, vb_strerror(r));
					return VB_EXIT_FAILURE;
				}
				rep->written = true;
				orig[l] = 0; /* the line, for the diff */
				r = add_change(rep, "restore", rec.file, before, orig, NULL);
				free(orig);
				if (r < 0) {
					log_error("iommu: %s", vb_strerror(-ENOMEM));
					return VB_EXIT_FAILURE;
				}
				(void)unlinkat(root->fd, bak, 0);
				vb_say(json, "restored /%s\n", rec.file);
				goto done;
			}
		}
		free(orig);
		free(cur);
		/* edited since: take out only the word vfio-bind added */
		if (!drop_word(k.line, rec.word)) {
			vb_say(json, "/%s no longer has %s: nothing to remove\n", rec.file,
			       rec.word);
		} else {
			r = kcmdline_write(root, &k);
			if (r < 0) {
				log_error("cannot write /%s: %s", rec.file, vb_strerror(r));
				return VB_EXIT_FAILURE;
			}
			rep->written = true;
			if (add_change(rep, "edit", rec.file, before, k.line, NULL) < 0) {
				log_error("iommu: %s", vb_strerror(-ENOMEM));
				return VB_EXIT_FAILURE;
			}
			vb_say(json,
			       "removed %s from /%s (the file changed since --apply: the rest is "
			       "kept)\n",
			       rec.word, rec.file);
		}
		(void)unlinkat(root->fd, bak, 0);
	}
done:
	(void)unlinkat(root->fd, RECORD, 0);
	r = vb_boot_refresh(root, b, json);
	rep->refreshed = r > 0;
	return r < 0 ? VB_EXIT_FAILURE : VB_EXIT_SUCCESS;
}

static const char *boot_code(enum vb_boot_kind kind)
{
	switch (kind) {
	case VB_BOOTL_GRUB:
		return "grub";
	case VB_BOOTL_PVE_SDBOOT:
		return "proxmox-systemd-boot";
	case VB_BOOTL_PVE_GRUB:
		return "proxmox-grub";
	case VB_BOOTL_KERNEL_INSTALL:
		return "kernel-install";
	case VB_BOOTL_UNKNOWN:
		break;
	}
	return NULL;
}

/* The object of iommu --json (vfio-bind(8), JSON OUTPUT): what was found
 * before anything changed, then what was (or --apply would be) changed. */
static void iommu_json(const struct vb_root *root, const struct vb_boot *b, const struct need *n,
		       const struct report *rep, int ret)
{
	bool known = b->kind != VB_BOOTL_UNKNOWN;
	struct json j;

	json_envelope_begin(&j, stdout, "iommu", root->path, NULL, -1, NULL);
	json_str(&j, "cpu_vendor", n->vendor == 'I' ? "intel" : n->vendor == 'A' ? "amd" : NULL);
	json_str(&j, "kernel_release", n->kver[0] ? n->kver : NULL);
	json_str(&j, "needed", n->word);
	json_str(&j, "needed_reason", n->why);
	if (n->word)
		json_bool(&j, "in_running_cmdline", n->on_running);
	else
		json_null(&j, "in_running_cmdline");
	json_bool(&j, "running_off", n->running_off);
	json_int(&j, "groups", (long)n->groups);
	json_str(&j, "boot_loader", boot_code(b->kind));
	json_str(&j, "cmdline_file",
		 !known    ? NULL
		 : b->grub ? "/etc/default/grub"
			   : "/etc/kernel/cmdline");
	if (known && n->word)
		json_bool(&j, "configured", n->have);
	else
		json_null(&j, "configured");
	if (known)
		json_bool(&j, "configured_off", n->off);
	else
		json_null(&j, "configured_off");
	json_str(&j, "refresh", known ? b->refresh : NULL);
	json_array_open(&j, "changes");
	for (size_t i = 0; i < rep->n_changes; i++) {
		const struct change *c = &rep->changes[i];

		json_object_open(&j, NULL);
		json_str(&j, "action", c->action);
		json_str(&j, "file", c->file);
		json_str(&j, "diff", c->diff);
		json_str(&j, "backup", c->backup);
		json_object_close(&j);
	}
	json_array_close(&j);
	json_bool(&j, "written", rep->written);
	json_bool(&j, "refreshed", rep->refreshed);
	json_envelope_end(&j, ret);
}

/* Show and --apply. */
static int show_apply(const struct vb_root *root, enum vb_iommu_mode mode, const struct vb_boot *b,
		      const struct need *n, struct report *rep)
{
	bool json = rep->json;
	int r;

	if (!json) {
		printf("CPU:         %s\n", n->vendor == 'I'   ? "Intel (GenuineIntel)"
					    : n->vendor == 'A' ? "AMD (AuthenticAMD)"
							       : "unknown");
		printf("kernel:      %s\n", n->kver[0] ? n->kver : "unknown");
		printf("needed:      %s (%s)\n", n->word ? n->word : "nothing", n->why);
		printf("optional:    iommu=pt (host devices skip DMA translation; vfio-bind does "
		       "not write it)\n");
		if (n->word)
			printf("running:     %s %s /proc/cmdline; %u IOMMU group(s)\n", n->word,
			       n->on_running ? "is on" : "is not on", n->groups);
		else
			printf("running:     %u IOMMU group(s)%s\n", n->groups,
			       n->groups ? ""
					 : ": enable VT-d / AMD-Vi (\"IOMMU\") in the firmware "
					   "setup");
		printf("boot loader: %s, command line in %s\n", b->name, b->cmdline_where);
		if (n->running_off)
			printf("warning:     the running command line turns the IOMMU off "
			       "(amd_iommu=off or iommu=off): remove it from %s\n",
			       b->cmdline_where);
	}

	if (n->off) {
		/* appending "on" does not help: GRUB puts _DEFAULT (where "off"
		 * usually is) after GRUB_CMDLINE_LINUX, and the last word wins */
		if (!json)
			printf("configured:  intel_iommu=off is in %s\n", b->cmdline_where);
		if (mode == VB_IOMMU_APPLY) {
			log_error("intel_iommu=off is configured: vfio-bind does not edit it; "
				  "remove it from %s, then %s",
				  b->cmdline_where, b->refresh);
			return VB_EXIT_ENV;
		}
		vb_say(json, "\nRemove intel_iommu=off from %s, then run %s.\n", b->cmdline_where,
		       b->refresh);
		return VB_EXIT_SUCCESS;
	}
	if (!n->word) {
		vb_say(json, "\nNothing to change on the kernel command line.\n");
		return VB_EXIT_SUCCESS;
	}
	if (n->have) {
		if (!json)
			printf("configured:  yes, %s is in %s%s\n", n->word, b->cmdline_where,
			       n->on_running ? "" : " (reboot to use it)");
		if (mode == VB_IOMMU_APPLY)
			vb_say(json, "\nNothing to write.\n");
		return VB_EXIT_SUCCESS;
	}
	if (!json)
		printf("configured:  no\n\n");
	if (b->kind == VB_BOOTL_UNKNOWN) {
		log_error("no boot loader found under %s: add %s to the kernel command line "
			  "by hand",
			  root->path, n->word);
		return VB_EXIT_ENV;
	}

	if (b->grub) {
		char text[512], *cur = NULL;

		dropin_text(n->word, text, sizeof(text));
		if (vb_read_all(root, VB_GRUB_DROPIN, 1u << 20, &cur, NULL) >= 0) {
			/* someone else's file of that name: never touched */
			free(cur);
			log_error("/%s exists and is not what vfio-bind writes: not changed; add "
				  "%s to GRUB_CMDLINE_LINUX yourself",
				  VB_GRUB_DROPIN, n->word);
			return VB_EXIT_ENV;
		}
		if (add_change(rep, "create", VB_GRUB_DROPIN, NULL, text, NULL) < 0) {
			log_error("iommu: %s", vb_strerror(-ENOMEM));
			return VB_EXIT_FAILURE;
		}
		if (!json)
			fputs(rep->changes[0].diff, stdout);
		if (mode == VB_IOMMU_SHOW) {
			vb_say(json,
			       "\nvfio-bind iommu --apply writes this file, then runs: %s; reboot "
			       "afterwards\n",
			       b->refresh);
			return VB_EXIT_SUCCESS;
		}
		r = vb_replace_file(root, VB_GRUB_DROPIN, text, strlen(text), 0644);
		if (r == 0)
			r = record_write(root, "created", VB_GRUB_DROPIN, n->word);
		if (r < 0) {
			log_error("cannot write /%s: %s", VB_GRUB_DROPIN, vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		rep->written = true;
		vb_say(json, "\nwrote /%s\n", VB_GRUB_DROPIN);
	} else {
		struct kcmdline k;
		char old[MAX_CMDLINE];

		r = kcmdline_read(root, &k);
		if (r < 0) {
			if (r == -EBADMSG)
				log_error("/etc/kernel/cmdline is not one command line (a second "
					  "line, a control character or an odd number of quotes): "
					  "not changed; add %s yourself",
					  n->word);
			else
				log_error("cannot read /etc/kernel/cmdline: %s", vb_strerror(r));
			return r == -EBADMSG ? VB_EXIT_ENV : VB_EXIT_FAILURE;
		}
		snprintf(old, sizeof(old), "%s", k.line);
		if (strlen(k.line) + strlen(n->word) + 2 > sizeof(k.line)) {
			log_error("/etc/kernel/cmdline is too long to add %s", n->word);
			return VB_EXIT_ENV;
		}
		strcat(k.line, " ");
		strcat(k.line, n->word);
		if (add_change(rep, "edit", "etc/kernel/cmdline", old, k.line,
			       "/" VB_BACKUP_DIR "/etc/kernel/cmdline") < 0) {
			log_error("iommu: %s", vb_strerror(-ENOMEM));
			return VB_EXIT_FAILURE;
		}
		if (!json)
			fputs(rep->changes[0].diff, stdout);
		if (mode == VB_IOMMU_SHOW) {
			vb_say(json,
			       "\nvfio-bind iommu --apply edits this file (a backup is kept in "
			       "/" VB_BACKUP_DIR "), then runs: %s; reboot afterwards\n",
			       b->refresh);
			return VB_EXIT_SUCCESS;
		}
		r = vb_backup_file(root, "etc/kernel/cmdline");
		if (r == 0)
			r = kcmdline_write(root, &k);
		if (r == 0)
			r = record_write(root, "edited", "etc/kernel/cmdline", n->word);
		if (r < 0) {
			log_error("cannot write /etc/kernel/cmdline: %s", vb_strerror(r));
			return VB_EXIT_FAILURE;
		}
		rep->written = true;
		vb_say(json, "\nwrote /etc/kernel/cmdline (backup: /" VB_BACKUP_DIR
			     "/etc/kernel/cmdline)\n");
	}
	r = vb_boot_refresh(root, b, json);
	if (r < 0)
		return VB_EXIT_FAILURE;
	rep->refreshed = r > 0;
	vb_say(json, "reboot to boot with %s\n", n->word);
	return VB_EXIT_SUCCESS;
}

int vb_cmd_iommu(const struct vb_root *root, enum vb_iommu_mode mode, const char *kver, bool json)
{
	struct report rep = {.json = json};
	struct vb_boot b;
	struct need n;
	bool off;
	int ret;

	{
		char kv[128];

		vb_boot_kernel(root, kver, kv, sizeof(kv));
		vb_boot_detect(root, kv, &b);
	}
	/* read only: --remove's object says what it found too */
	off = configured_has(root, &b, "intel_iommu=off");
	need_compute(root, kver, off, &n);
	n.off = off;
	n.have = n.word && configured_has(root, &b, n.word);
	n.on_running = n.word && vb_cmdline_has(n.running, n.word);
	n.running_off = vb_cmdline_has(n.running, "amd_iommu=off") ||
			vb_cmdline_has(n.running, "iommu=off");
	if (mode == VB_IOMMU_REMOVE)
		ret = do_remove(root, &b, &rep);
	else
		ret = show_apply(root, mode, &b, &n, &rep);
	if (json)
		iommu_json(root, &b, &n, &rep, ret);
	for (size_t i = 0; i < rep.n_changes; i++)
		free(rep.changes[i].diff);
	return ret;
}
