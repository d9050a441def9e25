// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmr-iotest: write seeded random data to a block device and to a model file,
 * then check the device reads back byte-identical to the model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#define MAXIO (1u << 20)

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed, fast enough for fill. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void fill_random(unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v = rnd();

		memcpy(buf + i, &v, 8);
	}
	for (; i < len; i++)
		buf[i] = (unsigned char)rnd();
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static uint64_t dev_size(int fd)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st))
		die("fstat");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			die("BLKGETSIZE64");
		return sz;
	}
	return (uint64_t)st.st_size;
}

static void xpwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "write of %zu at %" PRIu64 ": %s\n", len, off,
			n < 0 ? strerror(errno) : "short write");
		exit(1);
	}
}

static void xpread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "read of %zu at %" PRIu64 ": %s\n", len, off,
			n < 0 ? strerror(errno) : "short read");
		exit(1);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dmr-iotest fill   DEV MODEL SEED\n"
		"       dmr-iotest write  DEV MODEL SEED OPS MIN MAX direct|buffered\n"
		"       dmr-iotest verify DEV MODEL\n"
		"fill writes the whole device; write does OPS random writes of\n"
		"MIN..MAX bytes (aligned to the logical block size when direct);\n"
		"verify reads the device "
		"with O_DIRECT and compares it with MODEL. Exit 1 on mismatch.\n");
	exit(2);
}

static unsigned char *alloc_buf(void)
{
	void *p;

	if (posix_memalign(&p, 4096, MAXIO))
		die("posix_memalign");
	return p;
}

static int do_fill(const char *dev, const char *model, uint64_t seed)
{
	unsigned char *buf = alloc_buf();
	int fd = open(dev, O_WRONLY | O_DIRECT);
	int mfd = open(model, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint64_t size, off;

	if (fd < 0 || mfd < 0)
		die("open");
	size = dev_size(fd);
	rng_state = seed | 1;
	for (off = 0; off < size; off += MAXIO) {
		size_t len = size - off < MAXIO ? size - off : MAXIO;

		fill_random(buf, len);
		xpwrite(fd, buf, len, off);
		xpwrite(mfd, buf, len, off);
	}
	if (fsync(fd) || fsync(mfd))
		die("fsync");
	printf("filled %" PRIu64 " bytes\n", size);
	return 0;
}

static int do_write(const char *dev, const char *model, uint64_t seed,
		    long ops, uint64_t min, uint64_t max, bool direct)
{
	unsigned char *buf = alloc_buf();
	int fd = open(dev, O_RDWR | (direct ? O_DIRECT : 0));
	int mfd = open(model, O_RDWR);
	uint64_t size, align = 1;
	long i;

	if (fd < 0 || mfd < 0)
		die("open");
	if (direct) {
		int lbs;

		if (ioctl(fd, BLKSSZGET, &lbs))
			die("BLKSSZGET");
		align = (uint64_t)lbs;
		min = (min + align - 1) / align * align;
	}
	if (min < align || max > MAXIO || min > max)
		usage();
	size = dev_size(fd);
	rng_state = seed | 1;
	for (i = 0; i < ops; i++) {
		uint64_t len = min + rnd() % (max - min + 1);
		uint64_t off;

		len = len / align * align;
		if (len > size)
			len = size / align * align;
		off = rnd() % (size - len + 1) / align * align;
		fill_random(buf, len);
		xpwrite(fd, buf, len, off);
		xpwrite(mfd, buf, len, off);
	}
	if (fsync(fd) || fsync(mfd))
		die("fsync");
	printf("wrote %ld ops (%s)\n", ops, direct ? "direct" : "buffered");
	return 0;
}

static int do_verify(const char *dev, const char *model)
{
	unsigned char *a = alloc_buf(), *b = alloc_buf();
	int fd = open(dev, O_RDONLY | O_DIRECT);
	int mfd = open(model, O_RDONLY);
	uint64_t size, off, bad = 0;

	if (fd < 0 || mfd < 0)
		die("open");
	size = dev_size(fd);
	if (dev_size(mfd) != size) {
		fprintf(stderr, "model size differs from device size\n");
		return 1;
	}
	for (off = 0; off < size; off += MAXIO) {
		size_t len = size - off < MAXIO ? size - off : MAXIO;
		size_t s;

		xpread(fd, a, len, off);
		xpread(mfd, b, len, off);
		if (!memcmp(a, b, len))
			continue;
		for (s = 0; s < len; s += 512) {
			if (!memcmp(a + s, b + s, 512))
				continue;
			if (bad < 10)
				fprintf(stderr, "mismatch at sector %" PRIu64 "\n",
					(off + s) / 512);
			bad++;
		}
	}
	if (bad) {
		fprintf(stderr, "%" PRIu64 " sectors differ\n", bad);
		return 1;
	}
	printf("verified %" PRIu64 " bytes\n", size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "fill"))
		return do_fill(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	if (argc == 9 && !strcmp(argv[1], "write"))
		return do_write(argv[2], argv[3], strtoull(argv[4], NULL, 0),
				atol(argv[5]), strtoull(argv[6], NULL, 0),
				strtoull(argv[7], NULL, 0),
				!strcmp(argv[8], "direct"));
	if (argc == 4 && !strcmp(argv[1], "verify"))
		return do_verify(argv[2], argv[3]);
	usage();
	return 2;
}
