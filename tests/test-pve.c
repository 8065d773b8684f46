/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of Proxmox VE support: the mapping= selector (config parser),
 * the strict pci.cfg parser, the resolution for this node, Proxmox's
 * id/subsystem-id/iommugroup check made by the plan, the image's mappings
 * file (written on the host, read by the early binder), and the VMs of the
 * node (configs, reservations, running processes). Fake Proxmox node trees:
 * tests/sysfs/proxmox.tree plus etc/hostname, etc/pve and run/qemu-server.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "job.h"
#include "mapping.h"
#include "pve.h"
#include "simkernel.h"

/* The Quadro's four functions (3d:00.*, group 33), the 82599 (19:00.*,
 * group 23), the I210 (02:00.0, group 13), the ASPEED VGA (05:00.0). */
static const char pci_cfg[] =
	"# written by Proxmox VE\n"
	"gpu\n"
	"\tdescription Quadro RTX 4000 for the CAD VM\n"
	"\tmap id=10de:1eb1,iommugroup=33,node=pve1,path=0000:3d:00,subsystem-id=10de:12a0\n"
	"\tmap id=10de:1eb1,node=pve2,path=0000:41:00.0,subsystem-id=10de:12a0,iommugroup=5\n"
	"\n"
	"nic\n"
	"\tmap node=pve1,path=0000:19:00.0;0000:19:00.1,id=8086:10fb,subsystem-id=8086:000c,"
	"iommugroup=23\n"
	"\n"
	"badid\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1539,subsystem-id=15d9:1533,iommugroup=13\n"
	"\n"
	"badsub\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1533,subsystem-id=15d9:0000,iommugroup=13\n"
	"\n"
	"nosub\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1533,iommugroup=13\n"
	"\n"
	"badgroup\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1533,subsystem-id=15d9:1533,iommugroup=12\n"
	"\n"
	"nogroup\n"
	"\tmap node=pve1,path=0000:02:00.0,id=8086:1533,subsystem-id=15d9:1533\n"
	"\n"
	"vgpu\n"
	"\tmdev 1\n"
	"\tmap node=pve1,path=0000:05:00.0,id=1a03:2000,subsystem-id=15d9:095d,iommugroup=14\n"
	"\n"
	"remote\n"
	"\tlive-migration-capable 0\n"
	"\tmap node=pve2,path=0000:01:00.0,id=1234:5678\n"
	"\tmap node=pve3,path=0000:01:00.0,id=1234:5678\n"
	"\tmap node=pve2,path=0000:02:00.0,id=1234:5678\n";

static char *node_tree(void)
{
	char *root = fixture_tree("proxmox");

	fixture_write(root, "etc/hostname", "pve1.example.com\n");
	fixture_write(root, "etc/pve/.version", "1\n");
	fixture_write(root, "etc/pve/mapping/pci.cfg", pci_cfg);
	return root;
}

/* Loads conf as the config and resolves its mappings. Returns
 * vb_pve_job_mappings()'s result; pd holds pci.cfg's diagnostics. */
static int load(const char *root_dir, struct vb_root *root, struct vb_job *job, const char *conf,
		struct vb_diags *pd)
{
	int r;

	fixture_write(root_dir, "etc/vfio-bind.conf", conf);
	simkernel_open(root, root_dir);
	vb_job_init(job);
	r = vb_job_load_config(job, root, NULL);
	ck_assert_int_eq(r, 0);
	return vb_pve_job_mappings(root, job, pd);
}

static const struct vb_diag *diag_with(const struct vb_diags *d, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].message, text))
			return &d->v[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */

START_TEST(test_config_term)
{
	static const char conf[] = "bind mapping=gpu expand=group\n"
				   "exclude mapping=Nic_2\n"
				   "bind mapping=1gpu\n"
				   "bind mapping=g\n"
				   "bind mapping=gp.u\n"
				   "bind mappng=gpu\n";
	struct vb_config cfg;
	struct vb_diags d;
	char buf[128];

	ck_assert_int_eq(vb_config_parse("c", conf, strlen(conf), &cfg, &d), -EINVAL);
	ck_assert_uint_eq(cfg.n_rules, 2);
	ck_assert_int_eq(cfg.rules[0].terms[0].kind, VB_TERM_MAPPING);
	ck_assert_str_eq(cfg.rules[0].terms[0].mapping.name, "gpu");
	ck_assert_ptr_null(cfg.rules[0].terms[0].mapping.m);
	ck_assert_int_gt(vb_rule_format(&cfg.rules[0], buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "bind mapping=gpu expand=group");
	ck_assert_int_gt(vb_rule_format(&cfg.rules[1], buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "exclude mapping=Nic_2");
	ck_assert(vb_config_uses_mappings(&cfg));
	ck_assert_uint_eq(d.n, 4);
	ck_assert_uint_eq(d.v[0].line, 3);
	ck_assert_uint_eq(d.v[0].column, 14);
	ck_assert_ptr_nonnull(strstr(d.v[0].message, "must start with a letter"));
	ck_assert_uint_eq(d.v[1].line, 4);
	ck_assert_ptr_nonnull(strstr(d.v[1].message, "at least 2 characters"));
	ck_assert_uint_eq(d.v[2].column, 16);
	ck_assert_ptr_nonnull(strstr(d.v[2].message, "unexpected '.'"));
	ck_assert_ptr_nonnull(strstr(d.v[3].hint, "did you mean 'mapping'?"));
	vb_config_free(&cfg);
	vb_diags_free(&d);
}
END_TEST

START_TEST(test_pci_cfg_good)
{
	struct vb_mappings m;
	struct vb_diags d;
	const struct vb_mapping *x;

	ck_assert_int_eq(vb_pve_parse_pci_cfg("pci.cfg", pci_cfg, strlen(pci_cfg), "pve1", &m, &d),
			 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(m.n, 9);
	ck_assert_str_eq(m.node, "pve1");
	ck_assert_uint_eq(strlen(m.digest), 16);
	x = vb_mappings_find(&m, "gpu");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->line, 2);
	ck_assert_uint_eq(x->n, 1); /* pve2's entry is not this node's */
	ck_assert(x->paths[0].slot);
	ck_assert_uint_eq(x->paths[0].addr.bus, 0x3d);
	ck_assert_uint_eq(x->paths[0].vendor, 0x10de);
	ck_assert_uint_eq(x->paths[0].device, 0x1eb1);
	ck_assert(x->paths[0].have_subsys);
	ck_assert_int_eq(x->paths[0].group, 33);
	ck_assert_uint_eq(x->paths[0].line, 4);
	ck_assert_str_eq(x->other_nodes, "pve2");
	x = vb_mappings_find(&m, "nic");
	ck_assert_uint_eq(x->n, 2); /* alternatives: both */
	ck_assert_int_eq(x->paths[0].group, 23);
	ck_assert_int_eq(x->paths[1].group, VB_MAP_GROUP_UNCHECKED);
	ck_assert_uint_eq(x->paths[1].addr.func, 1);
	ck_assert(!x->paths[1].slot);
	ck_assert(!vb_mappings_find(&m, "nosub")->paths[0].have_subsys);
	ck_assert_int_eq(vb_mappings_find(&m, "nogroup")->paths[0].group, VB_MAP_GROUP_NONE);
	ck_assert(vb_mappings_find(&m, "vgpu")->mdev);
	x = vb_mappings_find(&m, "remote");
	ck_assert_uint_eq(x->n, 0);
	ck_assert_str_eq(x->other_nodes, "pve2, pve3");
	ck_assert_ptr_null(vb_mappings_find(&m, "GPU")); /* IDs are case-sensitive */
	vb_mappings_free(&m);
	vb_diags_free(&d);

	/* the same file for another node */
	ck_assert_int_eq(vb_pve_parse_pci_cfg("pci.cfg", pci_cfg, strlen(pci_cfg), "pve2", &m, &d),
			 0);
	ck_assert_uint_eq(vb_mappings_find(&m, "gpu")->n, 1);
	ck_assert_uint_eq(vb_mappings_find(&m, "gpu")->paths[0].addr.bus, 0x41);
	ck_assert_uint_eq(vb_mappings_find(&m, "remote")->n, 2);
	ck_assert_uint_eq(vb_mappings_find(&m, "nic")->n, 0);
	vb_mappings_free(&m);
	vb_diags_free(&d);

	/* empty file, comments, no final newline */
	ck_assert_int_eq(vb_pve_parse_pci_cfg("pci.cfg", "", 0, "pve1", &m, &d), 0);
	ck_assert_uint_eq(m.n, 0);
	vb_mappings_free(&m);
	vb_diags_free(&d);
	{
		static const char t[] =
			"a1\n  # c\n\tmap node=pve1,id=1234:5678,path=0000:01:00.7,";
		ck_assert_int_eq(vb_pve_parse_pci_cfg("pci.cfg", t, strlen(t), "pve1", &m, &d), 0);
		ck_assert_uint_eq(m.v[0].n, 1);
		ck_assert_uint_eq(m.v[0].paths[0].addr.func, 7);
		vb_mappings_free(&m);
		vb_diags_free(&d);
	}
}
END_TEST

/* Every problem Proxmox would only warn about is an error, at its line and
 * column. */
START_TEST(test_pci_cfg_bad)
{
	static const struct {
		const char *text;
		unsigned line, column;
		const char *msg, *hint;
	} cases[] = {
		{"gpu extra\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n", 1, 5,
		 "after the mapping ID", NULL},
		{"1gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n", 1, 1, "invalid mapping ID",
		 NULL},
		{"\tmap node=a,id=1234:5678,path=0000:01:00.0\n", 1, 2, "outside a mapping", NULL},
		{"gpu\n\tmpa node=a,id=1234:5678,path=0000:01:00.0\n", 2, 2,
		 "unknown property 'mpa'", "did you mean 'map'?"},
		{"gpu\n\tmdev 2\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n", 2, 7,
		 "invalid mdev value", NULL},
		{"gpu\n\tmdev 1\n\tmdev 0\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n", 3, 2,
		 "duplicate property 'mdev'", NULL},
		{"gpu\n\tdescription x\n", 1, 0, "has no map entry", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0\nnic\n", 3, 1,
		 "expected an indented property", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n  \n", 3, 1,
		 "only spaces or tabs", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0\n\ngpu\n\tmap "
		 "node=a,id=1234:5678,path=0000:01:00.0\n",
		 4, 1, "duplicate mapping 'gpu' (first at line 1)", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0\r\n", 2, 43,
		 "control character 0x0d", NULL},
		{"gpu\n\tmap node=a,id=1234:5678\n", 2, 6, "map entry without path=", NULL},
		{"gpu\n\tmap id=1234:5678,path=0000:01:00.0\n", 2, 6,
		 "map entry without node=", NULL},
		{"gpu\n\tmap node=a,path=0000:01:00.0\n", 2, 6, "map entry without id=", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0,nod=b\n", 2, 44,
		 "unknown key 'nod'", "did you mean 'node'?"},
		{"gpu\n\tmap node=a,node=b,id=1234:5678,path=0000:01:00.0\n", 2, 13,
		 "duplicate key 'node'", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0,iommugroup\n", 2, 44,
		 "is not KEY=VALUE", NULL},
		{"gpu\n\tmap node=a,id=12345:678,path=0000:01:00.0\n", 2, 16, "invalid id=", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,subsystem-id=xx,path=0000:01:00.0\n", 2, 39,
		 "invalid subsystem-id=", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,iommugroup=-1,path=0000:01:00.0\n", 2, 37,
		 "invalid iommugroup=", NULL},
		{"gpu\n\tmap node=-a,id=1234:5678,path=0000:01:00.0\n", 2, 11,
		 "invalid node=", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.0;0000:0A:00.0\n", 2, 44,
		 "invalid path '0000:0A:00.0'", "lower-case hex"},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:20.0\n", 2, 31, "invalid path", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=01:00.0\n", 2, 31, "invalid path", NULL},
		{"gpu\n\tmap node=a,id=1234:5678,path=0000:01:00.8\n", 2, 31, "invalid path", NULL},
		{"gpu\n\tmap\n", 2, 2, "'map' without a value", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vb_mappings m;
		struct vb_diags d;
		const struct vb_diag *g;

		ck_assert_msg(vb_pve_parse_pci_cfg("pci.cfg", cases[i].text, strlen(cases[i].text),
						   "a", &m, &d) == -EINVAL,
			      "case %zu accepted", i);
		g = diag_with(&d, cases[i].msg);
		ck_assert_msg(g, "case %zu: no '%s' (first: %s)", i, cases[i].msg,
			      d.n ? d.v[0].message : "none");
		ck_assert_msg(g->line == cases[i].line && g->column == cases[i].column,
			      "case %zu: at %u:%u, expected %u:%u", i, g->line, g->column,
			      cases[i].line, cases[i].column);
		if (cases[i].hint)
			ck_assert_msg(g->hint && strstr(g->hint, cases[i].hint),
				      "case %zu hint: %s", i, g->hint ? g->hint : "none");
		vb_mappings_free(&m);
		vb_diags_free(&d);
	}
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Resolution, selection and Proxmox's check */

static const struct vb_plan_item *item_of(const struct vb_job *job, const char *name)
{
	for (size_t i = 0; i < job->plan.n; i++)
		if (strcmp(job->plan.items[i].dev->name, name) == 0)
			return &job->plan.items[i];
	return NULL;
}

START_TEST(test_select_mappings)
{
	char *dir = node_tree();
	struct vb_root root;
	struct vb_job job;
	struct vb_diags pd;
	const struct vb_diag *g;

	ck_assert_int_eq(load(dir, &root, &job,
			      "bind mapping=gpu\nbind mapping=nic\n"
			      "bind mapping=vgpu\nbind mapping=remote\n",
			      &pd),
			 0);
	ck_assert_uint_eq(pd.n, 0);
	g = diag_with(&job.diags, "is for mediated devices");
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->severity, VB_SEV_WARNING);
	ck_assert_uint_eq(g->line, 3);
	ck_assert_uint_eq(g->column, 6);
	g = diag_with(&job.diags, "has no entry for node 'pve1' (only for pve2, pve3)");
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->severity, VB_SEV_WARNING);
	ck_assert_int_eq(vb_job_select(&job, &root), 0);
	ck_assert_int_eq(vb_job_plan(&job, &root, NULL, 0), 0);
	/* the slot path: all four functions; the alternatives: both */
	ck_assert_uint_eq(job.plan.n, 6);
	ck_assert_ptr_nonnull(item_of(&job, "0000:3d:00.0"));
	ck_assert_ptr_nonnull(item_of(&job, "0000:3d:00.3"));
	ck_assert_ptr_nonnull(item_of(&job, "0000:19:00.1"));
	ck_assert_ptr_null(item_of(&job, "0000:05:00.0")); /* mdev: never */
	for (size_t i = 0; i < job.plan.n; i++)
		ck_assert_msg(job.plan.items[i].action != VB_ACT_REFUSE, "%s refused: %s",
			      job.plan.items[i].dev->name, job.plan.items[i].reason);
	/* the warned-about mappings are not also "matches no device" */
	ck_assert_ptr_null(diag_with(&job.diags, "matches no device"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_check_mismatch)
{
	static const struct {
		const char *mapping, *reason;
	} cases[] = {
		{"badid", "expects id 8086:1539, 0000:02:00.0 has 8086:1533"},
		{"badsub", "expects subsystem-id 15d9:0000, 0000:02:00.0 has 15d9:1533"},
		{"nosub", "has no subsystem-id, 0000:02:00.0 has 15d9:1533"},
		{"badgroup", "expects iommugroup 12, 0000:02:00.0 is in group 13"},
		{"nogroup", "has no iommugroup, 0000:02:00.0 is in group 13"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = node_tree(), conf[64];
		struct vb_root root;
		struct vb_job job;
		struct vb_diags pd;
		const struct vb_plan_item *it;

		snprintf(conf, sizeof(conf), "bind mapping=%s\n", cases[i].mapping);
		ck_assert_int_eq(load(dir, &root, &job, conf, &pd), 0);
		ck_assert_int_eq(vb_job_select(&job, &root), 0);
		ck_assert_int_eq(vb_job_plan(&job, &root, NULL, 0), 0);
		ck_assert_uint_eq(job.plan.n, 1);
		it = item_of(&job, "0000:02:00.0");
		ck_assert_int_eq(it->action, VB_ACT_REFUSE);
		ck_assert_int_eq(it->refusal, VB_REFUSE_MAPPING);
		ck_assert_str_eq(vb_refusal_code(it->refusal), "mapping-mismatch");
		ck_assert_msg(strstr(it->reason, cases[i].reason), "%s: %s", cases[i].mapping,
			      it->reason);
		ck_assert_ptr_nonnull(strstr(it->reason, "pci.cfg:"));
		vb_diags_free(&pd);
		vb_job_free(&job);
		vb_root_close(&root);
		fixture_cleanup(dir);
	}
}
END_TEST

/* Only the first path's group is compared; a slot path is judged by its
 * function 0, and a missing function 0 refuses the slot. */
START_TEST(test_check_first_path_and_slot)
{
	char *dir = node_tree();
	struct vb_root root;
	struct vb_job job;
	struct vb_diags pd;

	fixture_write(dir, "etc/pve/mapping/pci.cfg",
		      "nic\n"
		      "\tmap node=pve1,path=0000:19:00.1;0000:19:00.0,id=8086:10fb,"
		      "subsystem-id=8086:000c,iommugroup=23\n"
		      "\n"
		      "gpu\n"
		      "\tmap node=pve1,path=0000:3d:00,id=10de:1eb1,subsystem-id=10de:12a0,"
		      "iommugroup=33\n"
		      "\n"
		      "gone\n"
		      "\tmap node=pve1,path=0000:3c:10,id=10de:1eb1,subsystem-id=10de:12a0,"
		      "iommugroup=34\n");
	ck_assert_int_eq(load(dir, &root, &job, "bind mapping=nic\nbind mapping=gpu\n", &pd), 0);
	ck_assert_int_eq(vb_job_select(&job, &root), 0);
	ck_assert_int_eq(vb_job_plan(&job, &root, NULL, 0), 0);
	ck_assert_uint_eq(job.plan.n, 6);
	for (size_t i = 0; i < job.plan.n; i++)
		ck_assert_msg(job.plan.items[i].action != VB_ACT_REFUSE, "%s: %s",
			      job.plan.items[i].dev->name, job.plan.items[i].reason);
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* function 0 of the slot changed: every function is refused */
	fixture_write(dir, "etc/pve/mapping/pci.cfg",
		      "gpu\n\tmap node=pve1,path=0000:3d:00,id=10de:1eb0,subsystem-id=10de:12a0,"
		      "iommugroup=33\n");
	ck_assert_int_eq(load(dir, &root, &job, "bind mapping=gpu\n", &pd), 0);
	ck_assert_int_eq(vb_job_select(&job, &root), 0);
	ck_assert_int_eq(vb_job_plan(&job, &root, NULL, 0), 0);
	ck_assert_uint_eq(job.plan.n, 4);
	for (size_t i = 0; i < job.plan.n; i++) {
		ck_assert_int_eq(job.plan.items[i].refusal, VB_REFUSE_MAPPING);
		ck_assert_ptr_nonnull(
			strstr(job.plan.items[i].reason, "0000:3d:00.0 has 10de:1eb1"));
	}
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_resolve_errors)
{
	char *dir = fixture_tree("proxmox");
	struct vb_root root;
	struct vb_job job;
	struct vb_diags pd;
	const struct vb_diag *g;

	/* not a Proxmox node */
	ck_assert_int_eq(load(dir, &root, &job, "bind path=02:00.0\nbind mapping=gpu\n", &pd),
			 -EINVAL);
	g = diag_with(&job.diags, "which does not exist: not a Proxmox VE node");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->line, 2);
	ck_assert_uint_eq(g->column, 6);
	ck_assert_ptr_nonnull(strstr(g->message, "/etc/pve"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* pmxcfs not mounted: an empty /etc/pve */
	fixture_write(dir, "etc/pve/.keep-dir", "");
	fixture_remove(dir, "etc/pve/.keep-dir");
	ck_assert_int_eq(load(dir, &root, &job, "bind mapping=gpu\n", &pd), -EINVAL);
	ck_assert_ptr_nonnull(diag_with(&job.diags, "is not mounted"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* no config uses mapping=: nothing is read, nothing is said */
	ck_assert_int_eq(load(dir, &root, &job, "bind path=02:00.0\n", &pd), 0);
	ck_assert_uint_eq(job.diags.n, 0);
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	fixture_write(dir, "etc/hostname", "pve1\n");
	fixture_write(dir, "etc/pve/.version", "1\n");
	/* no pci.cfg: no mapping defined */
	ck_assert_int_eq(load(dir, &root, &job, "bind mapping=gpu\n", &pd), -EINVAL);
	g = diag_with(&job.diags, "unknown mapping 'gpu'");
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(strstr(g->hint, "defines no mapping"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* an unknown name, near one that exists */
	fixture_write(dir, "etc/pve/mapping/pci.cfg", pci_cfg);
	ck_assert_int_eq(load(dir, &root, &job, "# x\nbind  mapping=gppu\n", &pd), -EINVAL);
	g = diag_with(&job.diags, "unknown mapping 'gppu'");
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->severity, VB_SEV_ERROR);
	ck_assert_uint_eq(g->line, 2);
	ck_assert_uint_eq(g->column, 7);
	ck_assert_ptr_nonnull(strstr(g->hint, "did you mean 'gpu'?"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* pci.cfg has errors: they name pci.cfg:line, the config says so */
	fixture_write(dir, "etc/pve/mapping/pci.cfg", "gpu\n\tmap node=pve1,id=1\n");
	ck_assert_int_eq(load(dir, &root, &job, "bind mapping=gpu\n", &pd), -EINVAL);
	ck_assert_ptr_nonnull(strstr(pd.file, "etc/pve/mapping/pci.cfg"));
	g = diag_with(&pd, "invalid id=");
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->line, 2);
	ck_assert_ptr_nonnull(diag_with(&job.diags, "has errors: no mapping is used"));
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);

	/* the node name: the host name up to the first dot */
	{
		char node[64];

		fixture_write(dir, "etc/hostname", "  pve7.lab.example\n");
		simkernel_open(&root, dir);
		ck_assert_int_eq(vb_pve_node_name(&root, node, sizeof(node)), 0);
		ck_assert_str_eq(node, "pve7");
		fixture_remove(dir, "etc/hostname");
		ck_assert_int_eq(vb_pve_node_name(&root, node, sizeof(node)), -ENOENT);
		vb_root_close(&root);
	}
	fixture_cleanup(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The image's file */

START_TEST(test_image_file_roundtrip)
{
	char *dir = node_tree(), *text = NULL;
	size_t len = 0;
	struct vb_root root;
	struct vb_job job;
	struct vb_diags pd;
	struct vb_mappings m;
	unsigned line;
	char why[128];
	FILE *f;

	ck_assert_int_eq(load(dir, &root, &job,
			      "bind mapping=gpu\nbind mapping=nic\n"
			      "bind mapping=nosub\nbind mapping=nogroup\n",
			      &pd),
			 0);
	f = open_memstream(&text, &len);
	ck_assert_int_eq(vb_pve_mappings_write(f, &job.maps, &job.cfg), 0);
	fclose(f);
	/* only the mappings the rules use */
	ck_assert_ptr_null(strstr(text, "mapping vgpu"));
	ck_assert_ptr_nonnull(strstr(text, "\nnode pve1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\npath 0000:3d:00 10de:1eb1 10de:12a0 33 4\n"));
	ck_assert_ptr_nonnull(strstr(text, "\npath 0000:19:00.1 8086:10fb 8086:000c - 8\n"));
	ck_assert_ptr_nonnull(strstr(text, "\npath 0000:02:00.0 8086:1533 none 13 "));
	ck_assert_ptr_nonnull(strstr(text, "\npath 0000:02:00.0 8086:1533 15d9:1533 none "));

	ck_assert_int_eq(vb_mappings_parse(text, &m, &line, why, sizeof(why)), 0);
	ck_assert_str_eq(m.node, "pve1");
	ck_assert_str_eq(m.digest, job.maps.digest);
	ck_assert_uint_eq(m.n, 4);
	for (size_t i = 0; i < m.n; i++) {
		const struct vb_mapping *a = &m.v[i], *b = vb_mappings_find(&job.maps, a->name);

		ck_assert_ptr_nonnull(b);
		ck_assert_uint_eq(a->n, b->n);
		ck_assert_uint_eq(a->line, b->line);
		ck_assert_int_eq(memcmp(a->paths, b->paths, a->n * sizeof(*a->paths)), 0);
	}

	/* the early binder's way: the file in the image, the same selection */
	{
		struct vb_job early;
		struct vb_mappings em;

		fixture_write(dir, VB_MAPPINGS_FILE, text);
		vb_job_init(&early);
		ck_assert_int_eq(vb_job_load_config(&early, &root, NULL), 0);
		ck_assert_int_eq(vb_mappings_load(&root, &early.maps, &line, why, sizeof(why)), 0);
		ck_assert_int_eq(vb_mappings_link(&early.maps, &early.cfg, &early.diags), 0);
		ck_assert_int_eq(vb_job_select(&early, &root), 0);
		ck_assert_int_eq(vb_job_plan(&early, &root, NULL, 0), 0);
		ck_assert_int_eq(vb_job_select(&job, &root), 0);
		ck_assert_int_eq(vb_job_plan(&job, &root, NULL, 0), 0);
		ck_assert_uint_eq(early.plan.n, job.plan.n);
		for (size_t i = 0; i < job.plan.n; i++) {
			ck_assert_str_eq(early.plan.items[i].dev->name,
					 job.plan.items[i].dev->name);
			ck_assert_int_eq(early.plan.items[i].action, job.plan.items[i].action);
			ck_assert_str_eq(early.plan.items[i].reason, job.plan.items[i].reason);
		}
		ck_assert_int_eq(item_of(&early, "0000:02:00.0")->refusal, VB_REFUSE_MAPPING);
		vb_job_free(&early);
		/* a name the image does not know is an error: nothing taken */
		fixture_write(dir, "etc/vfio-bind.conf", "bind mapping=vgpu\n");
		vb_job_init(&early);
		ck_assert_int_eq(vb_job_load_config(&early, &root, NULL), 0);
		ck_assert_int_eq(vb_mappings_load(&root, &em, &line, why, sizeof(why)), 0);
		ck_assert_int_eq(vb_mappings_link(&em, &early.cfg, &early.diags), -EINVAL);
		vb_mappings_free(&em);
		vb_job_free(&early);
	}
	vb_mappings_free(&m);
	free(text);
	vb_diags_free(&pd);
	vb_job_free(&job);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

START_TEST(test_image_file_bad)
{
#define MH "vfio-bind-mappings 1\nnode pve1\n"
	static const struct {
		const char *text;
		unsigned line;
		const char *why;
	} cases[] = {
		{"", 0, "empty file"},
		{"vfio-bind-mappings 2\n", 1, "unknown version"},
		{"vfio-bind-snapshot 1\n", 1, "not a vfio-bind mappings file"},
		{"vfio-bind-mappings 1\nmapping a1 1\n", 0, "no node line"},
		{MH "path 0000:01:00.0 1234:5678 none - 3\n", 3, "path before any mapping"},
		{MH "mapping a1 1\npath 0000:01:00.0 1234:5678 none - 3 x\n", 4, "trailing words"},
		{MH "mapping a1 1\npath 0000:01:0.0 1234:5678 none - 3\n", 4, "bad address"},
		{MH "mapping a1 1\npath 0000:01:00.0 1234:567 none - 3\n", 4, "bad vendor:device"},
		{MH "mapping a1 1\npath 0000:01:00.0 1234:5678 any - 3\n", 4, "bad subsystem"},
		{MH "mapping a1 1\npath 0000:01:00.0 1234:5678 none -1 3\n", 4, "bad group"},
		{MH "mapping a1 1\npath 0000:01:00.0 1234:5678 none 1\n", 4, "bad line number"},
		{MH "mapping a1 1\nmapping a1 2\n", 4, "bad mapping line"},
		{MH "mapping a1 1 mdev2\n", 3, "bad mapping line"},
		{MH "source /etc/pve/mapping/pci.cfg 1234\n", 3, "bad source line"},
		{MH "bogus\n", 3, "unknown line"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vb_mappings m;
		unsigned line = 99;
		char why[128];

		ck_assert_msg(vb_mappings_parse(cases[i].text, &m, &line, why, sizeof(why)) ==
				      -EINVAL,
			      "case %zu accepted", i);
		ck_assert_msg(line == cases[i].line && strstr(why, cases[i].why),
			      "case %zu: line %u: %s", i, line, why);
		ck_assert_uint_eq(m.n, 0);
	}
#undef MH
}
END_TEST

/* ------------------------------------------------------------------------ */
/* VMs */

static void vm_running(const char *dir, unsigned vmid, unsigned pid)
{
	char rel[64], val[128];
	int n;

	snprintf(rel, sizeof(rel), "run/qemu-server/%u.pid", vmid);
	snprintf(val, sizeof(val), "%u\n", pid);
	fixture_write(dir, rel, val);
	snprintf(rel, sizeof(rel), "proc/%u/cmdline", pid);
	n = snprintf(val, sizeof(val),
		     "/usr/bin/kvm%c-id%c%u%c-pidfile%c/var/run/qemu-server/%u.pid", 0, 0, vmid, 0,
		     0, vmid);
	{
		char path[4200];
		FILE *f;

		snprintf(path, sizeof(path), "%s/proc/%u", dir, pid);
		fixture_write(dir, rel, "");
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fwrite(val, 1, (size_t)n + 1, f);
		fclose(f);
	}
}

static const struct vb_vm_use *use_of(const struct vb_vms *v, unsigned vmid, const char *addr)
{
	struct vb_pci_addr a;

	ck_assert_int_eq(vb_pci_addr_parse(addr, &a), 0);
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].vmid == vmid && vb_vm_use_covers(&v->v[i], &a))
			return &v->v[i];
	return NULL;
}

static unsigned holder(const struct vb_vms *v, const char *addr)
{
	struct vb_pci_addr a;

	ck_assert_int_eq(vb_pci_addr_parse(addr, &a), 0);
	return vb_vms_holder(v, &a);
}

START_TEST(test_vms)
{
	char *dir = node_tree(), line[256];
	struct vb_root root;
	struct vb_vms v;
	const struct vb_vm_use *u;

	fixture_write(dir, "etc/pve/qemu-server/100.conf",
		      "boot: order=scsi0\n"
		      "hostpci0: mapping=gpu,pcie=1,x-vga=1\n"
		      "hostpci1: 19:00.0;0000:19:00.1,rombar=0\n"
		      "memory: 8192\n"
		      "\n"
		      "[before-upgrade]\n"
		      "hostpci2: 0000:02:00.0\n");
	fixture_write(dir, "etc/pve/qemu-server/101.conf", "hostpci0: host=0000:18:00,pcie=1\n");
	fixture_write(dir, "etc/pve/qemu-server/102.conf", "hostpci3: mapping=nic\n");
	fixture_write(dir, "etc/pve/qemu-server/notavm.conf", "hostpci0: 0000:05:00.0\n");
	vm_running(dir, 100, 4242);
	/* 101's pid file names a process that is no VM of ours (a reused pid) */
	fixture_write(dir, "run/qemu-server/101.pid", "777\n");
	fixture_write(dir, "proc/777/cmdline", "/usr/sbin/sshd");
	snprintf(line, sizeof(line),
		 "0000:3d:00.0 100 pid:4242\n"
		 "0000:5e:00.0 103 pid:999\n"   /* a dead VM's leftover */
		 "0000:00:14.0 104 time:%lld\n" /* a VM starting now */
		 "0000:00:17.0 105 time:1000\n" /* a start that timed out long ago */
		 "garbage line\n",
		 (long long)time(NULL) + 600);
	fixture_write(dir, "run/qemu-server/pci-id-reservations", line);
	simkernel_open(&root, dir);
	ck_assert_int_eq(vb_vms_load(&root, NULL, &v), 0);
	ck_assert(v.pve);

	u = use_of(&v, 100, "0000:3d:00.2"); /* through the mapping's slot path */
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->entry, "hostpci0");
	ck_assert_str_eq(u->mapping, "gpu");
	ck_assert(u->running);
	u = use_of(&v, 100, "0000:19:00.1"); /* by address, domain optional */
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->entry, "hostpci1");
	ck_assert_str_eq(u->mapping, "");
	ck_assert_ptr_nonnull(use_of(&v, 100, "0000:19:00.0"));
	ck_assert_ptr_null(use_of(&v, 100, "0000:02:00.0")); /* only in a snapshot section */
	u = use_of(&v, 101, "0000:18:00.0");
	ck_assert_ptr_nonnull(u);
	ck_assert(!u->running);
	ck_assert_ptr_nonnull(use_of(&v, 102, "0000:19:00.1"));
	ck_assert_ptr_null(use_of(&v, 0, "0000:05:00.0"));

	ck_assert_uint_eq(holder(&v, "0000:3d:00.0"), 100);
	ck_assert_uint_eq(holder(&v, "0000:19:00.0"), 100); /* the running VM's config */
	ck_assert_uint_eq(holder(&v, "0000:18:00.0"), 0);   /* 101 is not running */
	ck_assert_uint_eq(holder(&v, "0000:5e:00.0"), 0);   /* pid 999 is gone */
	ck_assert_uint_eq(holder(&v, "0000:00:14.0"), 104); /* reserved for a start */
	ck_assert_uint_eq(holder(&v, "0000:00:17.0"), 0);

	{
		struct vb_pci_addr a;
		char buf[256];

		ck_assert_int_eq(vb_pci_addr_parse("0000:19:00.0", &a), 0);
		vb_vms_describe(&v, &a, false, buf, sizeof(buf));
		ck_assert_str_eq(buf, "100*,102");
		vb_vms_describe(&v, &a, true, buf, sizeof(buf));
		ck_assert_str_eq(buf,
				 "100 (running, hostpci1), 102 (stopped, hostpci3 mapping nic)");
	}
	vb_vms_free(&v);
	vb_root_close(&root);

	/* not a Proxmox node: nothing */
	fixture_remove(dir, "etc/pve");
	simkernel_open(&root, dir);
	ck_assert_int_eq(vb_vms_load(&root, NULL, &v), 0);
	ck_assert(!v.pve);
	ck_assert_uint_eq(v.n, 0);
	vb_vms_free(&v);
	vb_root_close(&root);
	fixture_cleanup(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pve");
	TCase *tc = tcase_create("pve");
	SRunner *sr;
	int failed;

	fixture_preload("proxmox");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_config_term);
	tcase_add_test(tc, test_pci_cfg_good);
	tcase_add_test(tc, test_pci_cfg_bad);
	tcase_add_test(tc, test_select_mappings);
	tcase_add_test(tc, test_check_mismatch);
	tcase_add_test(tc, test_check_first_path_and_slot);
	tcase_add_test(tc, test_resolve_errors);
	tcase_add_test(tc, test_image_file_roundtrip);
	tcase_add_test(tc, test_image_file_bad);
	tcase_add_test(tc, test_vms);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
