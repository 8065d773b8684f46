/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Storage detection and the storage veto (binder/host/storage.c) on fake
 * roots built by tests/storage/mkroot from the tests/storage scenarios. Images that
 * libblkid reads are real: ext4 by mkfs.ext4, and a GPT disk and ZFS members
 * written by this program (`test-storage --mkimage gpt|zfs FILE ...`, called
 * by mkroot), since zfsutils-linux is not in Debian main.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"

/* ---- image writers (run by mkroot through VB_MKIMAGE) ---- */

static uint32_t crc32_le(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static void put32be(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* A GUID string into GPT's on-disk order (first three fields little-endian). */
static int guid_bytes(const char *s, uint8_t out[16])
{
	static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t raw[16];
	int n = 0;

	for (; *s && n < 16; s++) {
		unsigned v;

		if (*s == '-')
			continue;
		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		raw[n++] = v;
		s++;
	}
	if (n != 16)
		return -1;
	for (int i = 0; i < 16; i++)
		out[i] = raw[order[i]];
	return 0;
}

static int write_image(const char *file, const uint8_t *buf, size_t len, off_t size)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A 1 MiB disk with a protective MBR and a primary GPT holding one Linux
 * partition (sectors 40..2000) with the given PARTUUID and PARTLABEL. */
static int mkimage_gpt(const char *file, const char *partuuid, const char *partlabel)
{
	enum { SECTORS = 2048, ENTRIES = 128, ESIZE = 128 };
	static uint8_t img[34 * 512];
	uint8_t *mbr = img, *hdr = img + 512, *ent = img + 1024;

	memset(img, 0, sizeof(img));
	mbr[450] = 0xee;
	put32(mbr + 454, 1);
	put32(mbr + 458, SECTORS - 1);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;

	/* Linux filesystem data 0FC63DAF-8483-4772-8E79-3D69D8477DE4 */
	if (guid_bytes("0fc63daf-8483-4772-8e79-3d69d8477de4", ent) < 0 ||
	    guid_bytes(partuuid, ent + 16) < 0)
		return -1;
	put64(ent + 32, 40);
	put64(ent + 40, 2000);
	for (size_t i = 0; partlabel[i] && i < 36; i++)
		put16(ent + 56 + 2 * i, (unsigned char)partlabel[i]);

	memcpy(hdr, "EFI PART", 8);
	put32(hdr + 8, 0x00010000);
	put32(hdr + 12, 92);
	put64(hdr + 24, 1);
	put64(hdr + 32, SECTORS - 1);
	put64(hdr + 40, 34);
	put64(hdr + 48, SECTORS - 34);
	if (guid_bytes("c0ffee00-1234-4567-89ab-cdef01234567", hdr + 56) < 0)
		return -1;
	put64(hdr + 72, 2);
	put32(hdr + 80, ENTRIES);
	put32(hdr + 84, ESIZE);
	put32(hdr + 88, crc32_le(ent, ENTRIES * ESIZE));
	put32(hdr + 16, crc32_le(hdr, 92));
	return write_image(file, img, sizeof(img), SECTORS * 512);
}

/* A 64 MiB (sparse) ZFS member as libblkid's prober reads it: four
 * uberblocks in label 0 and the label's nvlist with the pool "name" and,
 * when guid is not NULL, the "pool_guid" (libblkid's UUID, in decimal). */
static int mkimage_zfs(const char *file, const char *pool, const char *guid)
{
	static uint8_t img[256 * 1024];
	size_t len = strlen(pool), padded = (len + 3) & ~(size_t)3;
	uint8_t *nv = img + 16 * 1024 + 12;

	if (len > 200)
		return -1;
	memset(img, 0, sizeof(img));
	put32be(nv, 12 + 4 + 12 + padded); /* nvp_size */
	put32be(nv + 8, 4);                /* nvp_namelen */
	memcpy(nv + 12, "name", 4);
	put32be(nv + 16, 9); /* DATA_TYPE_STRING */
	put32be(nv + 20, 1);
	put32be(nv + 24, len);
	memcpy(nv + 28, pool, len);
	if (guid) {
		uint8_t *gp = nv + 12 + 4 + 12 + padded;
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(guid, &end, 10);
		if (errno || end == guid || *end)
			return -1;
		put32be(gp, 12 + 12 + 16); /* nvp_size */
		put32be(gp + 8, 9);        /* nvp_namelen */
		memcpy(gp + 12, "pool_guid", 9);
		put32be(gp + 24, 8); /* DATA_TYPE_UINT64 */
		put32be(gp + 28, 1);
		put32be(gp + 32, v >> 32);
		put32be(gp + 36, (uint32_t)v);
	}
	for (int i = 0; i < 4; i++) {
		put64(img + 128 * 1024 + i * 1024, 0x00bab10cu); /* ub_magic */
		put64(img + 128 * 1024 + i * 1024 + 8, 5000);    /* ub_version */
	}
	return write_image(file, img, sizeof(img), 64 * 1024 * 1024);
}

static int mkimage(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[2], "gpt") == 0)
		return mkimage_gpt(argv[3], argv[4], "") < 0 ? 1 : 0;
	if (argc == 6 && strcmp(argv[2], "gpt") == 0)
		return mkimage_gpt(argv[3], argv[4], argv[5]) < 0 ? 1 : 0;
	if ((argc == 5 || argc == 6) && strcmp(argv[2], "zfs") == 0)
		return mkimage_zfs(argv[3], argv[4], argc == 6 ? argv[5] : NULL) < 0 ? 1 : 0;
	fprintf(stderr,
		"usage: %s --mkimage gpt FILE PARTUUID [PARTLABEL] | zfs FILE POOL [GUID]\n",
		argv[0]);
	return 2;
}

/* ---- fake roots ---- */

enum { T_BASIC, T_STACKED, T_MISC, T_BLKID, T_ZFS, T_EMPTY, _T_MAX };
static const char *const scenario_names[_T_MAX] = {"basic", "stacked", "misc",
						   "blkid", "zfs",     NULL};
static char tree[_T_MAX][512];
static char self_exe[4096];

static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void build_trees(void)
{
	const char *src = getenv("VB_SRCDIR"), *tmp = getenv("TMPDIR");
	char mkroot[4096], scenario[4096];
	ssize_t n;

	if (!src)
		src = ".";
	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n < 0) {
		perror("readlink /proc/self/exe");
		exit(1);
	}
	self_exe[n] = 0;
	setenv("VB_MKIMAGE", self_exe, 1);
	snprintf(mkroot, sizeof(mkroot), "%s/tests/storage/mkroot", src);
	for (int i = 0; i < _T_MAX; i++) {
		snprintf(tree[i], sizeof(tree[i]), "%s/vb-storage-XXXXXX", tmp);
		if (!mkdtemp(tree[i])) {
			perror("mkdtemp");
			exit(1);
		}
		if (!scenario_names[i])
			continue;
		snprintf(scenario, sizeof(scenario), "%s/tests/storage/%s.root", src,
			 scenario_names[i]);
		if (run((char *[]){"sh", mkroot, tree[i], scenario, NULL}) != 0) {
			fprintf(stderr, "mkroot %s failed (VB_SRCDIR=%s)\n", scenario, src);
			exit(1);
		}
	}
}

static void remove_trees(void)
{
	for (int i = 0; i < _T_MAX; i++)
		if (tree[i][0])
			run((char *[]){"rm", "-rf", tree[i], NULL});
}

static void write_file(int t, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree[t], rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static struct vb_root R;
static struct vb_storage ST;

static void scan_tree(int t)
{
	ck_assert_int_eq(vb_root_open(&R, tree[t]), 0);
	ck_assert_int_eq(vb_storage_scan(&R, &ST), 0);
}

static void teardown(void)
{
	vb_storage_free(&ST);
	vb_root_close(&R);
}

/* blkid scenario: a kernel command line, nothing mounted */
static void scan_cmdline(const char *cmdline)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s\n", cmdline);
	write_file(T_BLKID, "proc/cmdline", text);
	write_file(T_BLKID, "proc/self/mountinfo", "");
	scan_tree(T_BLKID);
}

/* zfs scenario: a kernel command line and a mountinfo */
static void scan_zfs(const char *cmdline, const char *mountinfo)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s\n", cmdline);
	write_file(T_ZFS, "proc/cmdline", text);
	write_file(T_ZFS, "proc/self/mountinfo", mountinfo);
	scan_tree(T_ZFS);
}

static void assert_root_found(void)
{
	ck_assert_int_eq(ST.root_state, VB_ROOT_FOUND);
	ck_assert(ST.root_found);
	ck_assert_str_eq(ST.root_unresolved, "");
}

static void assert_root_unknown(const char *why)
{
	ck_assert_int_eq(ST.root_state, VB_ROOT_UNKNOWN);
	ck_assert(!ST.root_found);
	ck_assert_str_eq(ST.root_unresolved, why);
}

static struct vb_pci_addr A(const char *s) {
	struct vb_pci_addr a;

	ck_assert_msg(vb_pci_addr_parse(s, &a) == 0, "bad address %s", s);
	return a;
}

static const struct vb_storage_use *
find(const char *bdf)
{
	struct vb_pci_addr a = A(bdf);
	return vb_storage_find(&ST, &a);
}

/* The use of bdf for blockdev (any one when blockdev is NULL). */
static const struct vb_storage_use *use_of(const char *bdf, const char *blockdev)
{
	struct vb_pci_addr a = A(bdf);

	for (size_t i = 0; i < ST.n; i++)
		if (vb_pci_addr_cmp(&ST.v[i].pci, &a) == 0 &&
		    (!blockdev || strcmp(ST.v[i].blockdev, blockdev) == 0))
			return &ST.v[i];
	return NULL;
}

static size_t uses_of(const char *bdf)
{
	struct vb_pci_addr a = A(bdf);
	size_t n = 0;

	for (size_t i = 0; i < ST.n; i++)
		n += vb_pci_addr_cmp(&ST.v[i].pci, &a) == 0;
	return n;
}

static void assert_use(const struct vb_storage_use *u, const char *blockdev, const char *leaf,
		       const char *mountpoint, const char *fstype, bool is_root)
{
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->blockdev, blockdev);
	ck_assert_str_eq(u->leaf, leaf);
	ck_assert_str_eq(u->mountpoint, mountpoint);
	ck_assert_str_eq(u->fstype, fstype);
	ck_assert(u->is_root == is_root);
}

static void assert_controller(const struct vb_storage_use *u, const char *bdf)
{
	struct vb_pci_addr a = A(bdf);

	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(vb_pci_addr_cmp(&u->controller, &a), 0);
}

static const char *describe(const struct vb_storage_use *u)
{
	static char buf[512];

	ck_assert_ptr_nonnull(u);
	vb_storage_use_describe(u, buf, sizeof(buf));
	return buf;
}

/* ---- basic: NVMe root, virtio-blk, AHCI, loop ---- */

START_TEST(test_nvme_root)
{
	scan_tree(T_BASIC);
	assert_use(find("0000:00:04.0"), "nvme0n1p1", "nvme0n1p1", "/", "ext4", true);
	assert_controller(find("0000:00:04.0"), "0000:00:04.0");
	ck_assert_str_eq(describe(find("0000:00:04.0")),
			 "the root filesystem (/ on nvme0n1p1, ext4)");
	/* the docker bind mount of the same device is not a second use */
	ck_assert_uint_eq(uses_of("0000:00:04.0"), 1);
	assert_root_found();
}
END_TEST

START_TEST(test_unmounted_disk_is_free)
{
	scan_tree(T_BASIC);
	ck_assert_ptr_null(find("0000:00:05.0"));
}
END_TEST

START_TEST(test_virtio_blk)
{
	scan_tree(T_BASIC);
	ck_assert_uint_eq(uses_of("0000:00:06.0"), 2);
	assert_use(use_of("0000:00:06.0", "vda1"), "vda1", "vda1", "/data", "xfs", false);
	/* mountinfo's octal escapes are decoded */
	assert_use(use_of("0000:00:06.0", "vda2"), "vda2", "vda2", "/mnt/my disk", "ext4", false);
	ck_assert_str_eq(describe(find("0000:00:06.0")),
			 "the filesystem mounted on /data (vda1, xfs)");
}
END_TEST

START_TEST(test_ahci_and_swap)
{
	scan_tree(T_BASIC);
	ck_assert_uint_eq(uses_of("0000:00:1f.2"), 2);
	assert_use(use_of("0000:00:1f.2", "sda1"), "sda1", "sda1", "/srv", "ext4", false);
	assert_use(use_of("0000:00:1f.2", "sda2"), "sda2", "sda2", "[swap]", "swap", false);
	ck_assert_str_eq(describe(use_of("0000:00:1f.2", "sda2")), "swap (sda2)");
}
END_TEST

START_TEST(test_loop_ignored)
{
	scan_tree(T_BASIC);
	/* nvme root, two on virtio, two on AHCI; nothing for loop0, proc, tmpfs */
	ck_assert_uint_eq(ST.n, 5);
	for (size_t i = 0; i < ST.n; i++)
		ck_assert_str_ne(ST.v[i].blockdev, "loop0");
}
END_TEST

/* ---- stacked: LUKS on LVM on md over two controllers ---- */

START_TEST(test_stacked_root_on_both_controllers)
{
	scan_tree(T_STACKED);
	assert_use(find("0000:00:17.0"), "dm-1", "sda2", "/", "ext4", true);
	assert_use(find("0000:05:00.0"), "dm-1", "sdb2", "/", "ext4", true);
	ck_assert_str_eq(describe(find("0000:05:00.0")),
			 "the root filesystem (/ on dm-1 over sdb2, ext4)");
}
END_TEST

START_TEST(test_stacked_upstream_port)
{
	scan_tree(T_STACKED);
	/* the root port on sdb's path is pinned too, naming its controller */
	assert_use(find("0000:00:1c.4"), "dm-1", "sdb2", "/", "ext4", true);
	assert_controller(find("0000:00:1c.4"), "0000:05:00.0");
	assert_controller(find("0000:05:00.0"), "0000:05:00.0");
}
END_TEST

START_TEST(test_stacked_partitioned_md)
{
	scan_tree(T_STACKED);
	/* /boot on md127p1: a partition's slaves are its md device's */
	assert_use(use_of("0000:00:17.0", "md127p1"), "md127p1", "sda1", "/boot", "ext2", false);
	assert_use(use_of("0000:05:00.0", "md127p1"), "md127p1", "sdb1", "/boot", "ext2", false);
}
END_TEST

START_TEST(test_stacked_swap_and_home)
{
	scan_tree(T_STACKED);
	assert_use(find("0000:02:00.0"), "dm-2", "nvme0n1p1", "[swap]", "swap", false);
	ck_assert_str_eq(describe(find("0000:02:00.0")), "swap (dm-2 over nvme0n1p1)");
	assert_use(find("0000:03:00.0"), "sdc1", "sdc1", "/home", "xfs", false);
	assert_controller(find("0000:00:1c.0"), "0000:03:00.0"); /* its root port */
}
END_TEST

/* ---- the policy ---- */

static struct vb_rule rules[2] = {
	{.line = 3},
	{.line = 7, .allow_storage = true},
};
static struct vb_config cfg = {.file = "/etc/vfio-bind.conf", .rules = rules, .n_rules = 2};

static bool refuses(const char *bdf, int rule, char *buf, size_t size)
{
	struct vb_pci_addr a = A(bdf);
	return vb_storage_refuses(&ST, &cfg, &a, rule, buf, size);
}

START_TEST(test_policy_root_never)
{
	char reason[256];

	scan_tree(T_STACKED);
	for (int rule = -1; rule < 2; rule++) {
		ck_assert(refuses("0000:00:17.0", rule, reason, sizeof(reason)));
		ck_assert_str_eq(reason, "controller of the root filesystem (/ on dm-1 over sda2, "
					 "ext4): never taken");
		ck_assert(refuses("0000:05:00.0", rule, reason, sizeof(reason)));
	}
	ck_assert(refuses("0000:00:1c.4", 1, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "upstream of 0000:05:00.0, the controller of the root filesystem "
				 "(/ on dm-1 over sdb2, ext4): never taken");
}
END_TEST

START_TEST(test_policy_home_needs_allow_storage)
{
	char reason[256];

	scan_tree(T_STACKED);
	ck_assert(refuses("0000:03:00.0", 0, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "controller of the filesystem mounted on /home (sdc1, xfs): taken "
				 "only with allow-storage=yes");
	ck_assert(refuses("0000:03:00.0", -1, reason, sizeof(reason)));
	ck_assert(!refuses("0000:03:00.0", 1, reason, sizeof(reason)));
}
END_TEST

START_TEST(test_policy_swap_needs_allow_storage)
{
	char reason[256];

	scan_tree(T_STACKED);
	ck_assert(refuses("0000:02:00.0", 0, reason, sizeof(reason)));
	ck_assert_str_eq(
		reason,
		"controller of swap (dm-2 over nvme0n1p1): taken only with allow-storage=yes");
	ck_assert(!refuses("0000:02:00.0", 1, reason, sizeof(reason)));
}
END_TEST

START_TEST(test_policy_other_devices_free)
{
	char reason[256] = "";

	scan_tree(T_STACKED);
	ck_assert(!refuses("0000:01:00.0", 0, reason, sizeof(reason)));
	ck_assert(!refuses("0000:00:02.0", 0, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "");
}
END_TEST

static struct vb_pci_dev mkdev(const char *bdf)
{
	struct vb_pci_dev d;

	memset(&d, 0, sizeof(d));
	d.addr = A(bdf);
	vb_pci_addr_format(&d.addr, d.name);
	return d;
}

START_TEST(test_veto)
{
	struct vb_storage_policy pol;
	struct vb_pci_dev root_ctl = mkdev("0000:00:17.0"), home = mkdev("0000:03:00.0"),
			  gpu = mkdev("0000:01:00.0");
	struct vb_plan_item it = {.rule = 1, .via = VB_VIA_RULE, .action = VB_ACT_BIND};

	ck_assert_int_eq(vb_root_open(&R, tree[T_STACKED]), 0);
	vb_storage_policy_init(&pol, &R, &cfg);
	ck_assert(!pol.scanned); /* lazy: nothing selected, nothing read */

	it.dev = &gpu;
	ck_assert_int_eq(vb_storage_guard(&R, &cfg, &it, &pol), 0);
	ck_assert_int_eq(it.action, VB_ACT_BIND);
	ck_assert(pol.scanned);
	ck_assert_uint_gt(pol.st.n, 0);

	it.dev = &root_ctl;
	ck_assert_int_eq(vb_storage_guard(&R, &cfg, &it, &pol), 0);
	ck_assert_int_eq(it.action, VB_ACT_REFUSE);
	ck_assert_int_eq(it.refusal, VB_REFUSE_ROOT_STORAGE);
	ck_assert_ptr_nonnull(strstr(it.reason, "root filesystem"));

	memset(&it, 0, sizeof(it));
	it.rule = 1; /* rule 1 has allow-storage=yes: taken, with a warning */
	it.action = VB_ACT_BIND;
	it.dev = &home;
	ck_assert_int_eq(vb_storage_guard(&R, &cfg, &it, &pol), 0);
	ck_assert_int_eq(it.action, VB_ACT_BIND);
	it.rule = 0;
	ck_assert_int_eq(vb_storage_guard(&R, &cfg, &it, &pol), 0);
	ck_assert_int_eq(it.refusal, VB_REFUSE_STORAGE);
	ck_assert_ptr_nonnull(strstr(it.reason, "allow-storage=yes"));

	vb_storage_policy_free(&pol);
}
END_TEST

START_TEST(test_no_proc)
{
	struct vb_storage_policy pol;
	struct vb_pci_dev d = mkdev("0000:00:17.0");
	struct vb_plan_item it = {.dev = &d, .rule = 0, .action = VB_ACT_BIND};

	/* a chroot without proc/: nothing known, nothing refused */
	ck_assert_int_eq(vb_root_open(&R, tree[T_EMPTY]), 0);
	ck_assert_int_eq(vb_storage_scan(&R, &ST), -ENOENT);
	ck_assert_uint_eq(ST.n, 0);
	vb_storage_policy_init(&pol, &R, &cfg);
	ck_assert_int_eq(vb_storage_guard(&R, &cfg, &it, &pol), 0);
	ck_assert_int_eq(it.action, VB_ACT_BIND);
	vb_storage_policy_free(&pol);
}
END_TEST

/* ---- misc: USB, virtio root by udev link, NVMe multipath, VMD, btrfs ---- */

START_TEST(test_usb_disk)
{
	scan_tree(T_MISC);
	assert_use(find("0000:00:14.0"), "sdb1", "sdb1", "/media/usb", "vfat", false);
}
END_TEST

START_TEST(test_virtio_root)
{
	scan_tree(T_MISC);
	assert_use(find("0000:00:05.0"), "vda1", "vda1", "/", "ext4", true);
	ck_assert_uint_eq(uses_of("0000:00:05.0"), 1);
}
END_TEST

START_TEST(test_nvme_multipath)
{
	scan_tree(T_MISC);
	assert_use(find("0000:00:04.0"), "nvme0n1p1", "nvme0n1p1", "/var", "xfs", false);
	assert_use(find("0000:00:08.0"), "nvme0n1p1", "nvme0n1p1", "/var", "xfs", false);
}
END_TEST

START_TEST(test_vmd)
{
	char reason[256];

	scan_tree(T_MISC);
	assert_use(find("10000:e1:00.0"), "nvme2n1", "nvme2n1", "/opt", "ext4", false);
	assert_use(find("0000:00:0e.0"), "nvme2n1", "nvme2n1", "/opt", "ext4", false);
	assert_controller(find("0000:00:0e.0"), "10000:e1:00.0");
	ck_assert(refuses("0000:00:0e.0", 0, reason, sizeof(reason)));
	ck_assert_str_eq(reason,
			 "upstream of 10000:e1:00.0, the controller of the filesystem "
			 "mounted on /opt (nvme2n1, ext4): taken only with allow-storage=yes");
}
END_TEST

START_TEST(test_btrfs_two_devices)
{
	scan_tree(T_MISC);
	assert_use(find("0000:07:00.0"), "sdc1", "sdc1", "/srv", "btrfs", false);
	assert_use(find("0000:08:00.0"), "sdd1", "sdd1", "/srv", "btrfs", false);
}
END_TEST

/* ---- blkid: the root named on the kernel command line ---- */

START_TEST(test_cmdline_uuid)
{
	char reason[256];

	scan_cmdline("BOOT_IMAGE=/vmlinuz root=UUID=11111111-2222-4333-8444-555555555555 ro");
	assert_use(find("0000:00:17.0"), "sda1", "sda1", "/", "ext4", true);
	/* loop0 holds a copy of the filesystem but has no PCI ancestor */
	ck_assert_uint_eq(ST.n, 1);
	ck_assert(refuses("0000:00:17.0", 1, reason, sizeof(reason)));
	ck_assert_str_eq(reason,
			 "controller of the root filesystem (/ on sda1, ext4): never taken");
}
END_TEST

START_TEST(test_cmdline_rootfstype_and_lv)
{
	/* rootfstype= wins over the probed type */
	scan_cmdline("root=UUID=11111111-2222-4333-8444-555555555555 rootfstype=ext3");
	assert_use(find("0000:00:17.0"), "sda1", "sda1", "/", "ext3", true);
	teardown();
	/* an LV's filesystem (dm-0 over sda2); UUIDs compare case-insensitively */
	scan_cmdline("root=UUID=AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE");
	assert_use(find("0000:00:17.0"), "dm-0", "sda2", "/", "ext4", true);
}
END_TEST

START_TEST(test_cmdline_udev_link)
{
	/* dev/disk/by-uuid/7777... -> ../../sdb1 and no image has that UUID:
	 * only udev's link can find it */
	scan_cmdline("root=UUID=77777777-7777-4777-8777-777777777777");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
	ck_assert_str_eq(describe(find("0000:06:00.0")), "the root filesystem (/ on sdb1)");
	teardown();
	scan_cmdline("root=/dev/disk/by-uuid/77777777-7777-4777-8777-777777777777");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
}
END_TEST

START_TEST(test_cmdline_label)
{
	scan_cmdline("root=LABEL=system ro");
	assert_use(find("0000:00:17.0"), "sda1", "sda1", "/", "ext4", true);
	ck_assert_uint_eq(ST.n, 1);
}
END_TEST

START_TEST(test_cmdline_partuuid)
{
	scan_cmdline("root=PARTUUID=3F9C1A2B-4D5E-4F60-8A7B-9C0D1E2F3A4B ro");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
	ck_assert_uint_eq(uses_of("0000:00:17.0"), 0);
	teardown();
	scan_cmdline("root=PARTUUID=3f9c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b/PARTNROFF=1");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
}
END_TEST

START_TEST(test_cmdline_partlabel)
{
	scan_cmdline("root=PARTLABEL=rootpart rootfstype=ext4");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "ext4", true);
	assert_controller(find("0000:00:1c.2"), "0000:06:00.0");
}
END_TEST

START_TEST(test_cmdline_dev)
{
	scan_cmdline("root=/dev/sdb1");
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
	teardown();
	scan_cmdline("root=/dev/mapper/vg-root"); /* found by dm/name */
	assert_use(find("0000:00:17.0"), "dm-0", "sda2", "/", "", true);
	teardown();
	scan_cmdline("root=8:17"); /* MAJ:MIN */
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "", true);
}
END_TEST

START_TEST(test_cmdline_zfs)
{
	scan_cmdline("BOOT_IMAGE=/ROOT/pve-1@/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 boot=zfs");
	assert_use(find("0000:01:00.0"), "rpool", "nvme0n1p3", "/", "zfs", true);
	assert_use(find("0000:02:00.0"), "rpool", "nvme1n1p3", "/", "zfs", true);
	ck_assert_str_eq(describe(find("0000:01:00.0")),
			 "the root filesystem (/ on rpool over nvme0n1p3, zfs)");
	ck_assert_ptr_null(find("0000:03:00.0")); /* pool "tank" is not in use */
}
END_TEST

START_TEST(test_mounted_zfs)
{
	write_file(T_BLKID, "proc/cmdline", "ro quiet\n");
	write_file(T_BLKID, "proc/self/mountinfo",
		   "21 1 0:50 / / rw - zfs rpool/ROOT/debian rw,xattr\n"
		   "22 21 0:51 / /tank/media rw - zfs tank/media rw\n"
		   "23 21 0:52 / /rpool/data rw - zfs rpool/data rw\n");
	scan_tree(T_BLKID);
	assert_use(find("0000:01:00.0"), "rpool", "nvme0n1p3", "/", "zfs", true);
	assert_use(find("0000:02:00.0"), "rpool", "nvme1n1p3", "/", "zfs", true);
	assert_use(find("0000:03:00.0"), "tank", "nvme2n1", "/tank/media", "zfs", false);
	ck_assert_uint_eq(ST.n, 3 + 3); /* and the root ports 01.1, 01.2, 01.3 upstream */
}
END_TEST

START_TEST(test_chroot_seen_from_outside)
{
	char real[4096], text[8400];

	/* `vfio-bind --root /target` with /target/proc mounted: mountinfo is
	 * the host's view, the target's root is mounted on /target */
	ck_assert_ptr_nonnull(realpath(tree[T_BLKID], real));
	snprintf(text, sizeof(text),
		 "21 1 8:17 / %s rw - ext4 /dev/sdb1 rw\n"
		 "22 21 8:1 / %s/home rw - ext4 /dev/sda1 rw\n",
		 real, real);
	write_file(T_BLKID, "proc/cmdline", "root=LABEL=live-media\n");
	write_file(T_BLKID, "proc/self/mountinfo", text);
	scan_tree(T_BLKID);
	assert_use(find("0000:06:00.0"), "sdb1", "sdb1", "/", "ext4", true);
	assert_use(find("0000:00:17.0"), "sda1", "sda1", "/home", "ext4", false);
	assert_root_found(); /* root=LABEL=live-media is the host's, not found */
}
END_TEST

START_TEST(test_cmdline_no_match)
{
	scan_cmdline("root=UUID=deadbeef-0000-4000-8000-000000000000");
	ck_assert_uint_eq(ST.n, 0);
	ck_assert(!ST.root_found);
	teardown();
	scan_cmdline("root=LABEL=cardlabel"); /* mmcblk0 reports size 0: not probed */
	ck_assert_uint_eq(ST.n, 0);
	assert_root_unknown("root=LABEL=cardlabel: not found (no dev/disk/by-label/cardlabel, no "
			    "label cardlabel on the 7 readable block devices)");
	teardown();
	scan_cmdline("root=/dev/nfs nfsroot=10.0.0.1:/srv");
	ck_assert_uint_eq(ST.n, 0);
	ck_assert_int_eq(ST.root_state, VB_ROOT_NOT_BLOCK);
	teardown();
	scan_cmdline("root=ZFS=nopool/ROOT");
	ck_assert_uint_eq(ST.n, 0);
	assert_root_unknown("root=ZFS=nopool/ROOT: no member of pool nopool found (no "
			    "dev/disk/by-label/nopool, no run/udev/data, no zfs_member with label "
			    "nopool on the 7 readable block devices)");
}
END_TEST

START_TEST(test_cmdline_words)
{
	/* the last root= wins; quotes are removed */
	scan_cmdline("root=LABEL=nothing quiet \"root=LABEL=system\" init=/bin/sh");
	assert_use(find("0000:00:17.0"), "sda1", "sda1", "/", "ext4", true);
	teardown();
	scan_cmdline("noroot=LABEL=system myroot=/dev/sdb1");
	ck_assert_uint_eq(ST.n, 0);
}
END_TEST

/* ---- zfs: pools found through udev's links and libblkid; the root state ---- */

START_TEST(test_zfs_by_label_only)
{
	/* nvme0n1p3 reads as zeros: only dev/disk/by-label/rpool names it */
	scan_zfs("BOOT_IMAGE=/ROOT/pve-1@/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 boot=zfs", "");
	assert_use(find("0000:01:00.0"), "rpool", "nvme0n1p3", "/", "zfs", true);
	assert_use(find("0000:00:01.1"), "rpool", "nvme0n1p3", "/", "zfs", true); /* its port */
	ck_assert_uint_eq(ST.n, 2);
	assert_root_found();
	teardown();
	/* the zfs: spelling (dracut, older initramfs-tools) */
	scan_zfs("root=zfs:rpool/ROOT/pve-1", "");
	assert_use(find("0000:01:00.0"), "rpool", "nvme0n1p3", "/", "zfs", true);
	assert_root_found();
}
END_TEST

START_TEST(test_zfs_mirror_two_controllers)
{
	char reason[256];

	/* sda3 is read by libblkid, nvme1n1p3 cannot be read and udev's
	 * by-label link names it: both controllers hold the root */
	scan_zfs("root=ZFS=dpool/ROOT/debian", "");
	assert_use(find("0000:00:17.0"), "dpool", "sda3", "/", "zfs", true);
	assert_use(find("0000:02:00.0"), "dpool", "nvme1n1p3", "/", "zfs", true);
	assert_root_found();
	for (int rule = -1; rule < 2; rule++) {
		ck_assert(refuses("0000:00:17.0", rule, reason, sizeof(reason)));
		ck_assert(refuses("0000:02:00.0", rule, reason, sizeof(reason)));
	}
	ck_assert_str_eq(reason, "controller of the root filesystem (/ on dpool over nvme1n1p3, "
				 "zfs): never taken");
}
END_TEST

START_TEST(test_zfs_by_uuid_guid)
{
	/* sdb1 says pool GUID 5017541432217011221; udev's by-uuid link for it
	 * names nvme2n1, which cannot be read; there is no by-label link */
	scan_zfs("root=ZFS=upool/ROOT/pve-1", "");
	assert_use(find("0000:06:00.0"), "upool", "sdb1", "/", "zfs", true);
	assert_use(find("0000:03:00.0"), "upool", "nvme2n1", "/", "zfs", true);
	assert_root_found();
}
END_TEST

START_TEST(test_zfs_udev_database)
{
	/* udev's link names one member; its database names all three */
	scan_zfs("root=ZFS=tank/ROOT/pve-1", "");
	assert_use(find("0000:04:00.0"), "tank", "nvme3n1", "/", "zfs", true);
	assert_use(find("0000:05:00.0"), "tank", "nvme4n1", "/", "zfs", true);
	assert_use(find("0000:08:00.0"), "tank", "nvme5n1", "/", "zfs", true);
	/* sdc1's record says LABEL=tank but ext4: not a member */
	ck_assert_ptr_null(find("0000:07:00.0"));
	ck_assert_uint_eq(ST.n, 6); /* and the three root ports */
	assert_root_found();
}
END_TEST

START_TEST(test_zfs_mounted_root_by_label)
{
	/* a running Proxmox host: mountinfo's / is the dataset; its member is
	 * found by udev's link only */
	scan_zfs("BOOT_IMAGE=/ROOT/pve-1@/boot/vmlinuz root=ZFS=rpool/ROOT/pve-1 boot=zfs",
		 "21 1 0:24 / / rw,relatime shared:1 - zfs rpool/ROOT/pve-1 rw,xattr,noacl\n"
		 "22 21 0:25 / /dpool rw shared:2 - zfs dpool rw\n");
	assert_use(find("0000:01:00.0"), "rpool", "nvme0n1p3", "/", "zfs", true);
	assert_use(find("0000:02:00.0"), "dpool", "nvme1n1p3", "/dpool", "zfs", false);
	assert_use(find("0000:00:17.0"), "dpool", "sda3", "/dpool", "zfs", false);
	assert_root_found();
}
END_TEST

START_TEST(test_zfs_pool_not_found)
{
	scan_zfs("root=ZFS=nopool/x boot=zfs", "");
	ck_assert_uint_eq(ST.n, 0);
	assert_root_unknown("root=ZFS=nopool/x: no member of pool nopool found (no "
			    "dev/disk/by-label/nopool, none in run/udev/data, no zfs_member with "
			    "label nopool on the 3 "
			    "readable block devices)");
	teardown();
	/* a by-label link to a device without a PCI device */
	scan_zfs("root=ZFS=lpool/ROOT", "");
	ck_assert_uint_eq(ST.n, 0);
	assert_root_unknown("root=ZFS=lpool/ROOT: no member of pool lpool found "
			    "(dev/disk/by-label/lpool: no PCI device under it, none in "
			    "run/udev/data, no zfs_member with "
			    "label lpool on the 3 readable block devices)");
	teardown();
	scan_zfs("root=ZFS=gpool/ROOT", "");
	assert_root_unknown("root=ZFS=gpool/ROOT: no member of pool gpool found "
			    "(dev/disk/by-label/gpool: no such block device, none in "
			    "run/udev/data, no zfs_member with "
			    "label gpool on the 3 readable block devices)");
	teardown();
	/* mountinfo's / on a pool that cannot be found */
	scan_zfs("ro quiet", "21 1 0:24 / / rw - zfs nopool/ROOT/pve-1 rw\n");
	assert_root_unknown("/ (zfs nopool/ROOT/pve-1): no member of pool nopool found (no "
			    "dev/disk/by-label/nopool, none in run/udev/data, no zfs_member with "
			    "label nopool on the 3 "
			    "readable block devices)");
	teardown();
	scan_zfs("root=ZFS=AUTO boot=zfs", "");
	assert_root_unknown("root=ZFS=AUTO: the pool is chosen at boot (bootfs), none is named");
}
END_TEST

START_TEST(test_root_unknown_forms)
{
	scan_zfs("root=UUID=deadbeef-0000-4000-8000-000000000000 ro", "");
	assert_root_unknown(
		"root=UUID=deadbeef-0000-4000-8000-000000000000: not found (no "
		"dev/disk/by-uuid/deadbeef-0000-4000-8000-000000000000, no UUID "
		"deadbeef-0000-4000-8000-000000000000 on the 3 readable block devices)");
	teardown();
	scan_zfs("root=PARTLABEL=nothing", "");
	assert_root_unknown(
		"root=PARTLABEL=nothing: not found (no dev/disk/by-partlabel/nothing, "
		"no partition label nothing in the partition tables of the 0 readable disks)");
	teardown();
	scan_zfs("root=/dev/sdz1", "");
	assert_root_unknown("root=/dev/sdz1: no such block device in sys");
	teardown();
	scan_zfs("root=8:99", "");
	assert_root_unknown("root=8:99: no such block device in sys");
	teardown();
	scan_zfs("root=/dev/loop0", "");
	assert_root_unknown("root=/dev/loop0: no PCI device under loop0");
	teardown();
	scan_zfs("root=block:/dev/sdc1", "");
	assert_root_unknown("root=block:/dev/sdc1: a form vfio-bind does not resolve");
	teardown();
	scan_zfs("ro quiet", "");
	assert_root_unknown("the root is not named (no / in proc/self/mountinfo, no root= in "
			    "proc/cmdline)");
	teardown();
	/* both sources unresolved: both said */
	scan_zfs("root=/dev/sdz1", "21 1 7:0 / / rw - ext4 /dev/loop0 rw\n");
	assert_root_unknown(
		"/ (ext4 /dev/loop0): no PCI device under loop0; root=/dev/sdz1: no such "
		"block device in sys");
	teardown();
	/* overlay: the root's data is on block devices it does not name */
	scan_zfs("ro", "21 1 0:30 / / rw - overlay overlay rw,lowerdir=/a,upperdir=/b\n");
	assert_root_unknown("/ (overlay overlay): no block device to trace");
}
END_TEST

START_TEST(test_root_found_either_source)
{
	/* root= resolved, / is not in mountinfo */
	scan_zfs("root=/dev/sdc1", "");
	assert_use(find("0000:07:00.0"), "sdc1", "sdc1", "/", "", true);
	assert_root_found();
	teardown();
	/* / resolved, root= names something else that cannot be found (a
	 * chroot seen from outside): the root is found */
	scan_zfs("root=LABEL=live-media", "21 1 8:33 / / rw - ext4 /dev/sdc1 rw\n");
	assert_use(find("0000:07:00.0"), "sdc1", "sdc1", "/", "ext4", true);
	assert_root_found();
}
END_TEST

START_TEST(test_root_not_block)
{
	scan_zfs("root=/dev/nfs nfsroot=10.0.0.1:/srv/root ip=dhcp",
		 "21 1 0:22 / / rw - nfs4 10.0.0.1:/srv/root rw\n");
	ck_assert_int_eq(ST.root_state, VB_ROOT_NOT_BLOCK);
	ck_assert(ST.root_found);
	ck_assert_str_eq(ST.root_unresolved, "");
	teardown();
	scan_zfs("rdinit=/init", "1 1 0:2 / / rw - rootfs rootfs rw\n");
	ck_assert_int_eq(ST.root_state, VB_ROOT_NOT_BLOCK);
	teardown();
	/* an unresolved source beside it wins: the root may be on a disk */
	scan_zfs("root=UUID=deadbeef-0000-4000-8000-000000000000",
		 "21 1 0:22 / / rw - tmpfs tmpfs rw\n");
	ck_assert_int_eq(ST.root_state, VB_ROOT_UNKNOWN);
	ck_assert(!ST.root_found);
	ck_assert_ptr_nonnull(strstr(ST.root_unresolved, "deadbeef"));
}
END_TEST

START_TEST(test_root_state_no_proc)
{
	ck_assert_int_eq(vb_root_open(&R, tree[T_EMPTY]), 0);
	ck_assert_int_eq(vb_storage_scan(&R, &ST), -ENOENT);
	assert_root_unknown("the root is not named (cannot read proc/self/mountinfo, cannot read "
			    "proc/cmdline)");
	vb_storage_free(&ST);
	ck_assert(!ST.root_found);
	ck_assert_str_eq(ST.root_unresolved, "");
}
END_TEST

/* ---- robustness ---- */

START_TEST(test_malformed)
{
	char path[1024];

	/* garbage lines, a link leaving the root, a device stacked on itself */
	write_file(T_BLKID, "proc/cmdline", "root=UUID=\n");
	write_file(T_BLKID, "proc/self/mountinfo",
		   "garbage\n"
		   "1 2 3\n"
		   "21 1 x:y / / rw - ext4 /dev/sda1 rw\n"
		   "22 1 8:99 / /a rw - ext4 /dev/sda9 rw\n"
		   "23 1 0:30 / /b rw - ext4 /dev/../../etc/passwd rw\n"
		   "24 1 253:7 / /c rw - ext4 /dev/dm-7 rw\n"
		   "25 1 0:31 / /d rw shared:1 master:2 -\n");
	write_file(T_BLKID, "proc/swaps", "Filename Type\n/dev/nothing partition 1 0 -2\n\n");
	snprintf(path, sizeof(path), "%s/sys/dev/block/8:99", tree[T_BLKID]);
	unlink(path);
	ck_assert_int_eq(symlink("../../../../../../../../../etc", path), 0);
	snprintf(path, sizeof(path), "%s/sys/devices/virtual/block/dm-7/slaves", tree[T_BLKID]);
	run((char *[]){"mkdir", "-p", path, NULL});
	snprintf(path, sizeof(path), "%s/sys/devices/virtual/block/dm-7/slaves/dm-7",
		 tree[T_BLKID]);
	ck_assert_int_eq(symlink("../../dm-7", path), 0);
	snprintf(path, sizeof(path), "%s/sys/dev/block/253:7", tree[T_BLKID]);
	ck_assert_int_eq(symlink("../../devices/virtual/block/dm-7", path), 0);

	scan_tree(T_BLKID);
	ck_assert_uint_eq(ST.n, 0);
	teardown();

	snprintf(path, sizeof(path), "%s/sys/dev/block/8:99", tree[T_BLKID]);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sys/dev/block/253:7", tree[T_BLKID]);
	unlink(path);
	run((char *[]){"sh", "-c", "rm -rf \"$0\"/sys/devices/virtual/block/dm-7", tree[T_BLKID],
		       NULL});
	write_file(T_BLKID, "proc/swaps", "Filename Type Size Used Priority\n");
}
END_TEST

static Suite *storage_suite(void)
{
	Suite *s = suite_create("storage");
	TCase *tc;

	tc = tcase_create("basic");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_nvme_root);
	tcase_add_test(tc, test_unmounted_disk_is_free);
	tcase_add_test(tc, test_virtio_blk);
	tcase_add_test(tc, test_ahci_and_swap);
	tcase_add_test(tc, test_loop_ignored);
	suite_add_tcase(s, tc);

	tc = tcase_create("stacked");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_stacked_root_on_both_controllers);
	tcase_add_test(tc, test_stacked_upstream_port);
	tcase_add_test(tc, test_stacked_partitioned_md);
	tcase_add_test(tc, test_stacked_swap_and_home);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_policy_root_never);
	tcase_add_test(tc, test_policy_home_needs_allow_storage);
	tcase_add_test(tc, test_policy_swap_needs_allow_storage);
	tcase_add_test(tc, test_policy_other_devices_free);
	tcase_add_test(tc, test_veto);
	tcase_add_test(tc, test_no_proc);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_usb_disk);
	tcase_add_test(tc, test_virtio_root);
	tcase_add_test(tc, test_nvme_multipath);
	tcase_add_test(tc, test_vmd);
	tcase_add_test(tc, test_btrfs_two_devices);
	suite_add_tcase(s, tc);

	tc = tcase_create("blkid");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_cmdline_uuid);
	tcase_add_test(tc, test_cmdline_rootfstype_and_lv);
	tcase_add_test(tc, test_cmdline_udev_link);
	tcase_add_test(tc, test_cmdline_label);
	tcase_add_test(tc, test_cmdline_partuuid);
	tcase_add_test(tc, test_cmdline_partlabel);
	tcase_add_test(tc, test_cmdline_dev);
	tcase_add_test(tc, test_cmdline_zfs);
	tcase_add_test(tc, test_mounted_zfs);
	tcase_add_test(tc, test_chroot_seen_from_outside);
	tcase_add_test(tc, test_cmdline_no_match);
	tcase_add_test(tc, test_cmdline_words);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("zfs");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_zfs_by_label_only);
	tcase_add_test(tc, test_zfs_mirror_two_controllers);
	tcase_add_test(tc, test_zfs_by_uuid_guid);
	tcase_add_test(tc, test_zfs_udev_database);
	tcase_add_test(tc, test_zfs_mounted_root_by_label);
	tcase_add_test(tc, test_zfs_pool_not_found);
	tcase_add_test(tc, test_root_unknown_forms);
	tcase_add_test(tc, test_root_found_either_source);
	tcase_add_test(tc, test_root_not_block);
	tcase_add_test(tc, test_root_state_no_proc);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc >= 2 && strcmp(argv[1], "--mkimage") == 0)
		return mkimage(argc, argv);

	vb_log_set_max_priority(getenv("VB_TEST_DEBUG") ? VB_LOG_DEBUG : VB_LOG_ERR);
	build_trees();
	sr = srunner_create(storage_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_trees();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
