/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading an initramfs image: cpio newc archives, the compressed one streamed
 * through its decompressor (fixed argv, no shell). See initramfs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "initramfs.h"
#include "util.h"

#define CPIO_HEADER 110
#define MAX_NAME 4096
#define MAX_CONFIG (1u << 20)

struct src {
	int fd;
	size_t pos, len;
	unsigned long long consumed; /* bytes of the stream handed out so far */
	bool eof;
	unsigned char buf[65536];
};

static void src_init(struct src *s, int fd)
{
	s->fd = fd;
	s->pos = s->len = 0;
	s->consumed = 0;
	s->eof = false;
}

/* Makes at least n bytes available (fewer at EOF); returns how many are. */
static ssize_t src_want(struct src *s, size_t n)
{
	if (n > sizeof(s->buf))
		n = sizeof(s->buf);
	if (s->len - s->pos >= n || s->eof)
		return (ssize_t)(s->len - s->pos);
	if (s->pos > 0) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->len -= s->pos;
		s->pos = 0;
	}
	while (s->len < n && !s->eof) {
		ssize_t k = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			s->eof = true;
		s->len += (size_t)k;
	}
	return (ssize_t)(s->len - s->pos);
}

static void src_consume(struct src *s, size_t n)
{
	s->pos += n;
	s->consumed += n;
}

/* Copies n bytes to out (NULL: discards them). -EIO when the stream ends. */
static int src_read(struct src *s, void *out, unsigned long long n)
{
	while (n > 0) {
		ssize_t have = src_want(s, 1);
		size_t k;

		if (have < 0)
			return (int)have;
		if (have == 0)
			return -EIO;
		k = (size_t)have < n ? (size_t)have : (size_t)n;
		if (out) {
			memcpy(out, s->buf + s->pos, k);
			out = (char *)out + k;
		}
		src_consume(s, k);
		n -= k;
	}
	return 0;
}

static int hex8(const unsigned char *p, unsigned long *v)
{
	uint32_t x;

	if (vb_hex_digits((const char *)p, 8, &x) < 0)
		return -EIO;
	*v = x;
	return 0;
}

static const char *strip_prefix(const char *name)
{
	for (;;) {
		if (name[0] == '/')
			name++;
		else if (name[0] == '.' && name[1] == '/')
			name += 2;
		else
			return name;
	}
}

/* One entry; *trailer set for TRAILER!!!. */
static int parse_entry(struct src *s, struct vb_initramfs *ir, bool *trailer)
{
	unsigned char h[CPIO_HEADER];
	unsigned long mode, filesize, namesize;
	char name[MAX_NAME + 1];
	const char *n;
	int r;

	*trailer = false;
	r = src_read(s, h, sizeof(h));
	if (r < 0)
		return r;
	/* fields: magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	if (hex8(h + 6 + 8, &mode) < 0 || hex8(h + 6 + 6 * 8, &filesize) < 0 ||
	    hex8(h + 6 + 11 * 8, &namesize) < 0)
		return -EIO;
	if (namesize == 0 || namesize > MAX_NAME)
		return -EIO;
	r = src_read(s, name, namesize);
	if (r < 0)
		return r;
	name[namesize] = 0;
	r = src_read(s, NULL, (4 - (CPIO_HEADER + namesize) % 4) % 4);
	if (r < 0)
		return r;
	if (strcmp(name, "TRAILER!!!") == 0) {
		*trailer = true;
		return src_read(s, NULL, filesize);
	}
	ir->n_entries++;
	n = strip_prefix(name);
	if ((mode & 0170000) == 0100000 || (mode & 0170000) == 0120000) {
		if (strcmp(n, VB_INITRAMFS_BINDER) == 0 ||
		    strcmp(n, VB_INITRAMFS_BINDER + 4) == 0) /* lib/vfio-bind/... */
			ir->has_binder = true;
		else if (strcmp(n, VB_INITRAMFS_SCRIPT) == 0)
			ir->has_script = true;
	}
	if ((mode & 0170000) == 0100000 &&
	    (strcmp(n, VB_INITRAMFS_CONFIG) == 0 || strcmp(n, VB_INITRAMFS_SNAPSHOT) == 0 ||
	     strcmp(n, VB_INITRAMFS_MAPPINGS) == 0) &&
	    filesize <= MAX_CONFIG) {
		char *c = malloc(filesize + 1), **slot;

		if (!c)
			return -ENOMEM;
		r = src_read(s, c, filesize);
		if (r < 0) {
			free(c);
			return r;
		}
		c[filesize] = 0;
		/* a later archive overrides an earlier one, as when the kernel unpacks */
		if (strcmp(n, VB_INITRAMFS_CONFIG) == 0) {
			ir->config_len = filesize;
			ir->has_config = true;
			slot = &ir->config;
		} else if (strcmp(n, VB_INITRAMFS_SNAPSHOT) == 0) {
			slot = &ir->snapshot;
		} else {
			slot = &ir->mappings;
		}
		free(*slot);
		*slot = c;
	} else {
		r = src_read(s, NULL, filesize);
		if (r < 0)
			return r;
	}
	return src_read(s, NULL, (4 - filesize % 4) % 4);
}

/* Archives until EOF (0) or data that is not cpio (1, left unconsumed). */
static int parse_archives(struct src *s, struct vb_initramfs *ir)
{
	for (;;) {
		ssize_t have;
		bool trailer;
		int r;

		/* padding between archives */
		for (;;) {
			have = src_want(s, 1);
			if (have < 0)
				return (int)have;
			if (have == 0)
				return 0;
			if (s->buf[s->pos] != 0)
				break;
			src_consume(s, 1);
		}
		have = src_want(s, 6);
		if (have < 0)
			return (int)have;
		if (have < 6 || memcmp(s->buf + s->pos, "07070", 5) != 0 ||
		    (s->buf[s->pos + 5] != '1' && s->buf[s->pos + 5] != '2'))
			return 1;
		do {
			r = parse_entry(s, ir, &trailer);
			if (r < 0)
				return r;
		} while (!trailer);
	}
}

static const struct compressor {
	unsigned char magic[6];
	size_t magic_len;
	const char *name;
	const char *argv[4];
} compressors[] = {
	{{0x28, 0xb5, 0x2f, 0xfd}, 4, "zstd", {"zstd", "-dcq", NULL}},
	{{0x1f, 0x8b}, 2, "gzip", {"gzip", "-dc", NULL}},
	{{0xfd, '7', 'z', 'X', 'Z', 0x00}, 6, "xz", {"xz", "-dc", NULL}},
	{{0x5d, 0x00, 0x00}, 3, "lzma", {"xz", "--format=lzma", "-dc", NULL}},
	{{'B', 'Z', 'h'}, 3, "bzip2", {"bzip2", "-dc", NULL}},
	{{0x02, 0x21, 0x4c, 0x18}, 4, "lz4", {"lz4", "-dc", NULL}},
	{{0x04, 0x22, 0x4d, 0x18}, 4, "lz4", {"lz4", "-dc", NULL}},
	{{0x89, 'L', 'Z', 'O'}, 4, "lzop", {"lzop", "-dc", NULL}},
};

static const struct compressor *detect(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < sizeof(compressors) / sizeof(compressors[0]); i++)
		if (n >= compressors[i].magic_len &&
		    memcmp(p, compressors[i].magic, compressors[i].magic_len) == 0)
			return &compressors[i];
	return NULL;
}

/* Child: stdin is the image at the compressed archive; exec the tool from a
 * fixed set of directories. Exit 127 when it is nowhere. */
static void run_decompressor(const struct compressor *c, int in, int out)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin"};
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		_exit(126);
	if (null >= 0)
		(void)dup2(null, 2);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "%s/%s", dirs[i], c->argv[0]);
		execv(path, (char *const *)c->argv);
	}
	_exit(127);
}

static int decompress(int fd, unsigned long long offset, const struct compressor *c,
		      struct vb_initramfs *ir, char *why, size_t why_size)
{
	struct src *s;
	size_t before = ir->n_entries;
	int p[2], status = 0, r;
	pid_t pid;

	if (lseek(fd, (off_t)offset, SEEK_SET) < 0)
		return -errno;
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		free(s);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		free(s);
		return r;
	}
	if (pid == 0)
		run_decompressor(c, fd, p[1]);
	close(p[1]);
	src_init(s, p[0]);
	r = parse_archives(s, ir);
	if (r == 1)
		r = -EIO; /* not cpio inside */
	close(p[0]);
	if (r < 0)
		(void)kill(pid, SIGKILL); /* our own child, stopped early */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	free(s);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(why, why_size, "%s is not installed: cannot read the %s archive", c->name,
			 c->name);
		return -ENOEXEC;
	}
	if (r < 0 || ir->n_entries == before) {
		snprintf(why, why_size, "the %s archive at offset %llu is corrupt or truncated",
			 c->name, offset);
		return -EIO;
	}
	return 0;
}

int vb_initramfs_read(const struct vb_root *root, const char *relpath, struct vb_initramfs *ir,
		      char *why, size_t why_size)
{
	const struct compressor *c;
	struct src *s;
	ssize_t have;
	int fd, r;

	memset(ir, 0, sizeof(*ir));
	snprintf(ir->compression, sizeof(ir->compression), "none");
	if (why_size)
		why[0] = 0;
	fd = vb_open(root, relpath, O_RDONLY);
	if (fd < 0) {
		snprintf(why, why_size, "%s", strerror(-fd));
		return fd;
	}
	s = malloc(sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	src_init(s, fd);
	r = parse_archives(s, ir);
	if (r == 1) {
		have = src_want(s, 6);
		c = have > 0 ? detect(s->buf + s->pos, (size_t)have) : NULL;
		if (!c) {
			snprintf(why, why_size,
				 "unknown data at offset %llu (not cpio, no known "
				 "compression)",
				 s->consumed);
			r = -ENOEXEC;
		} else {
			snprintf(ir->compression, sizeof(ir->compression), "%s", c->name);
			r = decompress(fd, s->consumed, c, ir, why, why_size);
		}
	} else if (r < 0) {
		snprintf(why, why_size, "corrupt or truncated cpio archive");
	}
	free(s);
	close(fd);
	if (r == 0 && ir->n_entries == 0) {
		snprintf(why, why_size, "empty image");
		r = -EIO;
	}
	return r;
}

void vb_initramfs_free(struct vb_initramfs *ir)
{
	free(ir->config);
	free(ir->snapshot);
	free(ir->mappings);
	memset(ir, 0, sizeof(*ir));
}
