// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmr-replay-log: list a dm-log-writes log, or replay a prefix of it (with
 * optional lost or torn writes) onto a device or image file, to rebuild the
 * state a crash at that point could leave on the logged device.
 *
 * Log format (drivers/md/dm-log-writes.c): block 0 holds the super
 * (magic, version, nr_entries, sectorsize); entries follow from byte
 * sectorsize on, each one header block of sectorsize bytes (sector,
 * nr_sectors, flags, data_len, then the mark text for a MARK) followed by
 * nr_sectors * sectorsize bytes of data for a write. Discards, marks and
 * empty flushes carry no data. Positions are in units of sectorsize.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAGIC	0x6a736677736872ULL
#define LOG_VERSION	1ULL

#define F_FLUSH		(1ULL << 0)
#define F_FUA		(1ULL << 1)
#define F_DISCARD	(1ULL << 2)
#define F_MARK		(1ULL << 3)
#define F_METADATA	(1ULL << 4)
#define F_KNOWN		(F_FLUSH | F_FUA | F_DISCARD | F_MARK | F_METADATA)

#define ENTRY_HDR	32		/* struct log_write_entry */
#define MAX_ENTRY_BYTES	(256ULL << 20)	/* sanity bound for one write */

enum torn_mode { TORN_NONE, TORN_HEAD, TORN_TAIL, TORN_COUNT, TORN_RANGE };

struct entry {
	uint64_t index;
	uint64_t sector;	/* in units of the log's sectorsize */
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
	uint64_t data_off;	/* byte offset of the data in the log */
	char mark[512];
};

struct log {
	const char *path;
	int fd;
	uint64_t size;
	uint64_t nr_entries;
	uint32_t sectorsize;
	uint64_t next_off;	/* byte offset of the next entry header */
	uint64_t next_index;
};

static const char *prog = "dmr-replay-log";
static char context[64];	/* "batch line N: " while running a batch */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s", prog, context);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t fd_size(int fd, const char *path)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st))
		die("%s: fstat: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			die("%s: BLKGETSIZE64: %s", path, strerror(errno));
		return sz;
	}
	return (uint64_t)st.st_size;
}

static void xpread(int fd, const char *path, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: read of %zu bytes at %" PRIu64 ": %s", path, len,
			    off, n < 0 ? strerror(errno) : "unexpected end of file");
		done += (size_t)n;
	}
}

static void xpwrite(int fd, const char *path, const void *buf, size_t len,
		    uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write of %zu bytes at %" PRIu64 ": %s", path, len,
			    off, n < 0 ? strerror(errno) : "short write");
		done += (size_t)n;
	}
}

static void log_open(struct log *l, const char *path)
{
	unsigned char sb[ENTRY_HDR];
	uint64_t magic, version;

	l->path = path;
	l->fd = open(path, O_RDONLY);
	if (l->fd < 0)
		die("%s: %s", path, strerror(errno));
	l->size = fd_size(l->fd, path);
	if (l->size < sizeof(sb))
		die("%s: too short for a dm-log-writes super (%" PRIu64 " bytes)",
		    path, l->size);
	xpread(l->fd, path, sb, sizeof(sb), 0);
	magic = le64(sb);
	version = le64(sb + 8);
	l->nr_entries = le64(sb + 16);
	l->sectorsize = le32(sb + 24);
	if (magic != LOG_MAGIC)
		die("%s: not a dm-log-writes log (magic 0x%016" PRIx64
		    ", expected 0x%016llx)", path, magic, LOG_MAGIC);
	if (version != LOG_VERSION)
		die("%s: unsupported log version %" PRIu64 " (this tool reads %llu)",
		    path, version, LOG_VERSION);
	if (l->sectorsize < 512 || l->sectorsize > 65536 ||
	    (l->sectorsize & (l->sectorsize - 1)))
		die("%s: invalid sectorsize %" PRIu32 " in the log super", path,
		    l->sectorsize);
	l->next_off = l->sectorsize;
	l->next_index = 0;
}

/* Read the next entry header; the data stays in the log (data_off). */
static void log_next(struct log *l, struct entry *e)
{
	unsigned char *hdr = malloc(l->sectorsize);
	uint64_t bytes;

	if (!hdr)
		die("out of memory");
	if (l->next_off + l->sectorsize > l->size)
		die("%s: truncated: entry %" PRIu64 " of %" PRIu64
		    " would start at byte %" PRIu64 ", past the end (%" PRIu64 ")",
		    l->path, l->next_index, l->nr_entries, l->next_off, l->size);
	xpread(l->fd, l->path, hdr, l->sectorsize, l->next_off);
	memset(e, 0, sizeof(*e));
	e->index = l->next_index;
	e->sector = le64(hdr);
	e->nr_sectors = le64(hdr + 8);
	e->flags = le64(hdr + 16);
	e->data_len = le64(hdr + 24);
	if (e->flags & ~F_KNOWN)
		die("%s: entry %" PRIu64 " (byte %" PRIu64 "): unknown flags 0x%" PRIx64
		    " (corrupt log?)", l->path, e->index, l->next_off, e->flags);
	if (e->flags & F_MARK) {
		if (e->data_len > l->sectorsize - ENTRY_HDR ||
		    e->data_len >= sizeof(e->mark))
			die("%s: entry %" PRIu64 ": mark of %" PRIu64
			    " bytes does not fit its block", l->path, e->index,
			    e->data_len);
		memcpy(e->mark, hdr + ENTRY_HDR, e->data_len);
		e->mark[e->data_len] = '\0';
	}
	free(hdr);
	l->next_off += l->sectorsize;
	e->data_off = l->next_off;
	if (!(e->flags & (F_DISCARD | F_MARK))) {
		if (e->nr_sectors > MAX_ENTRY_BYTES / l->sectorsize)
			die("%s: entry %" PRIu64 ": %" PRIu64
			    " sectors is implausibly large (corrupt log?)",
			    l->path, e->index, e->nr_sectors);
		bytes = e->nr_sectors * l->sectorsize;
		if (e->data_off + bytes > l->size)
			die("%s: truncated: data of entry %" PRIu64
			    " runs past the end of the log", l->path, e->index);
		l->next_off += bytes;
	}
	l->next_index++;
}

static void flags_str(uint64_t f, char *buf, size_t len)
{
	static const char *const names[] = { "FLUSH", "FUA", "DISCARD", "MARK",
					     "METADATA" };
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & (1ULL << i)))
			continue;
		if (buf[0])
			strncat(buf, "|", len - strlen(buf) - 1);
		strncat(buf, names[i], len - strlen(buf) - 1);
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

static void usage(FILE *f, int code)
{
	fprintf(f,
"usage: %s --log LOG --list\n"
"       %s --log LOG --replay TARGET [--zero] [--limit N | --end-mark NAME]\n"
"                      [--skip K[,K...]]... [--torn K[:MODE]]\n"
"                      [--torn-last] [--digest SECTOR:COUNT] [-q]\n"
"       %s --log LOG --batch FILE [-q]\n"
"\n"
"Reads a dm-log-writes log (a device or an image of the log device).\n"
"  --list            one line per entry: index sector nr_sectors flags mark\n"
"                    (sector and nr_sectors in units of the log's sectorsize,\n"
"                    given on the '# ' header line; mark is '-' if none)\n"
"  --replay TARGET   apply the entries in order to TARGET (device or file):\n"
"                    writes are written, discards write zeroes, marks and\n"
"                    empty flushes change nothing\n"
"  --zero            zero all of TARGET first (a fresh replay)\n"
"  --limit N         stop after entry N (inclusive); default: every entry\n"
"  --end-mark NAME   stop after the first MARK entry whose text is NAME\n"
"  --skip K,...      do not apply these entries (a write lost in a crash)\n"
"  --torn K[:MODE]   apply only part of write K (a torn write): head = the\n"
"                    first half of its sectors (default), tail = the second\n"
"                    half, N = the first N sectors, F+N = the N sectors from\n"
"                    sector F of the write on (log sectorsize units)\n"
"  --torn-last       --torn on the last entry replayed\n"
"  --digest S:N      afterwards print 'digest TARGET HEX': a 64-bit FNV-1a\n"
"                    hash of sectors [S, S+N) (512 bytes) of TARGET, so that\n"
"                    callers can recognise identical replayed regions\n"
"  --batch FILE      several replays with one pass over the arguments: each\n"
"                    line of FILE ('-' = standard input) is 'TARGET [replay\n"
"                    options]'; blank lines and '#' lines are skipped\n"
"  -q                no summary line\n"
"Exit status: 0 done, 2 error (bad log, bad arguments, I/O error).\n",
		prog, prog, prog);
	exit(code);
}

static uint64_t parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!*s || *s == '-')
		die("%s: '%s' is not a number", what, s);
	v = strtoull(s, &end, 10);
	if (errno || *end)
		die("%s: '%s' is not a number", what, s);
	return v;
}

struct opts {
	const char *log, *target, *end_mark, *batch;
	bool list, zero, quiet, torn_last, have_limit;
	uint64_t limit;
	uint64_t *skip;
	size_t nr_skip;
	bool have_torn, have_digest;
	uint64_t digest_sector, digest_count;
	uint64_t torn;
	enum torn_mode torn_mode;
	uint64_t torn_first, torn_count;
};

static void add_skips(struct opts *o, const char *arg)
{
	char *s = strdup(arg), *tok, *save = NULL;

	if (!s)
		die("out of memory");
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t *n = realloc(o->skip, (o->nr_skip + 1) * sizeof(*n));

		if (!n)
			die("out of memory");
		o->skip = n;
		o->skip[o->nr_skip++] = parse_num(tok, "--skip");
	}
	free(s);
}

static void parse_torn(struct opts *o, const char *arg)
{
	char *s = strdup(arg), *colon;

	if (!s)
		die("out of memory");
	colon = strchr(s, ':');
	o->torn_mode = TORN_HEAD;
	if (colon) {
		*colon++ = '\0';
		if (!strcmp(colon, "head")) {
			o->torn_mode = TORN_HEAD;
		} else if (!strcmp(colon, "tail")) {
			o->torn_mode = TORN_TAIL;
		} else if (strchr(colon, '+')) {
			char *plus = strchr(colon, '+');

			*plus++ = '\0';
			o->torn_mode = TORN_RANGE;
			o->torn_first = parse_num(colon, "--torn first sector");
			o->torn_count = parse_num(plus, "--torn sector count");
		} else {
			o->torn_mode = TORN_COUNT;
			o->torn_count = parse_num(colon, "--torn sectors");
		}
	}
	o->torn = parse_num(s, "--torn");
	o->have_torn = true;
	free(s);
}

static bool skipped(const struct opts *o, uint64_t i)
{
	size_t k;

	for (k = 0; k < o->nr_skip; k++)
		if (o->skip[k] == i)
			return true;
	return false;
}

/* @line: arguments of one --batch line (no --log, --list or --batch). */
static void parse_args(struct opts *o, int argc, char **argv, bool line)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define NEEDV() do { if (!v) die("%s needs an argument", a); i++; } while (0)
		if (!line && !strcmp(a, "--log")) {
			NEEDV();
			o->log = v;
		} else if (!line && !strcmp(a, "--list")) {
			o->list = true;
		} else if (!line && !strcmp(a, "--batch")) {
			NEEDV();
			o->batch = v;
		} else if (!strcmp(a, "--replay")) {
			NEEDV();
			o->target = v;
		} else if (!strcmp(a, "--zero")) {
			o->zero = true;
		} else if (!strcmp(a, "--limit")) {
			NEEDV();
			o->limit = parse_num(v, "--limit");
			o->have_limit = true;
		} else if (!strcmp(a, "--end-mark")) {
			NEEDV();
			o->end_mark = v;
		} else if (!strcmp(a, "--skip")) {
			NEEDV();
			add_skips(o, v);
		} else if (!strcmp(a, "--torn")) {
			NEEDV();
			parse_torn(o, v);
		} else if (!strcmp(a, "--digest")) {
			char *colon;

			NEEDV();
			colon = strchr(v, ':');
			if (!colon)
				die("--digest: expected SECTOR:COUNT, got '%s'", v);
			*colon = '\0';
			o->digest_sector = parse_num(v, "--digest sector");
			o->digest_count = parse_num(colon + 1, "--digest count");
			*colon = ':';
			o->have_digest = true;
		} else if (!strcmp(a, "--torn-last")) {
			o->torn_last = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = true;
		} else if (!line && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			usage(stdout, 0);
		} else if (line) {
			die("unknown replay option '%s'", a);
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n", prog, a);
			usage(stderr, 2);
		}
#undef NEEDV
	}
	if (!o->log)
		die("--log LOG is required (try --help)");
	if ((int)o->list + !!o->target + !!o->batch != 1)
		die("give exactly one of --list, --replay TARGET and --batch FILE (try --help)");
	if ((o->list || o->batch) && (o->zero || o->have_limit || o->end_mark || o->nr_skip ||
			o->have_torn || o->torn_last || o->have_digest))
		die("replay options go with --replay (or on the --batch lines)");
	if (o->have_limit && o->end_mark)
		die("--limit and --end-mark are exclusive");
	if (o->have_torn && o->torn_last)
		die("--torn and --torn-last are exclusive");
}

static int do_list(struct log *l)
{
	struct entry e;
	char fl[64];
	uint64_t i;

	printf("# log %s: version %llu, sectorsize %" PRIu32 ", %" PRIu64
	       " entries\n", l->path, LOG_VERSION, l->sectorsize, l->nr_entries);
	printf("# index sector nr_sectors flags mark\n");
	for (i = 0; i < l->nr_entries; i++) {
		log_next(l, &e);
		flags_str(e.flags, fl, sizeof(fl));
		/* Mark text is free-form: keep each entry on one line. */
		for (char *p = e.mark; *p; p++)
			if (*p == '\n' || *p == ' ' || *p == '\t')
				*p = '_';
		printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s\n", e.index,
		       e.sector, e.nr_sectors, fl, e.mark[0] ? e.mark : "-");
	}
	return 0;
}

static void zero_target(int fd, const char *path, uint64_t size)
{
	struct stat st;
	static char zeros[1 << 16];
	uint64_t off;

	if (fstat(fd, &st))
		die("%s: fstat: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode) && size &&
	    !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		       (off_t)size))
		return;
	if (S_ISBLK(st.st_mode)) {
		uint64_t range[2] = { 0, size };

		if (!ioctl(fd, BLKZEROOUT, range))
			return;
	}
	for (off = 0; off < size; off += sizeof(zeros)) {
		uint64_t n = size - off < sizeof(zeros) ? size - off : sizeof(zeros);

		xpwrite(fd, path, zeros, (size_t)n, off);
	}
}

/* FNV-1a 64 of a sector range of the replayed target, read back. */
static void print_digest(int fd, const struct opts *o)
{
	uint64_t h = 0xcbf29ce484222325ULL, i, size = fd_size(fd, o->target);
	unsigned char sec[512];
	size_t k;

	if (o->digest_sector > size / 512 ||
	    o->digest_count > size / 512 - o->digest_sector)
		die("--digest %" PRIu64 ":%" PRIu64 ": past the end of %s", o->digest_sector,
		    o->digest_count, o->target);
	for (i = 0; i < o->digest_count; i++) {
		xpread(fd, o->target, sec, sizeof(sec), (o->digest_sector + i) * 512);
		for (k = 0; k < sizeof(sec); k++) {
			h ^= sec[k];
			h *= 0x100000001b3ULL;
		}
	}
	printf("digest %s %016" PRIx64 "\n", o->target, h);
}

/* Position of the last entry to replay, from --limit / --end-mark. */
static uint64_t find_last(struct log *l, const struct opts *o)
{
	struct entry e;
	uint64_t i;

	if (o->have_limit) {
		if (o->limit >= l->nr_entries)
			die("--limit %" PRIu64 ": the log has only %" PRIu64
			    " entries (0..%" PRIu64 ")", o->limit, l->nr_entries,
			    l->nr_entries ? l->nr_entries - 1 : 0);
		return o->limit;
	}
	if (!o->end_mark) {
		if (!l->nr_entries)
			return UINT64_MAX;	/* nothing to replay */
		return l->nr_entries - 1;
	}
	for (i = 0; i < l->nr_entries; i++) {
		log_next(l, &e);
		if ((e.flags & F_MARK) && !strcmp(e.mark, o->end_mark)) {
			l->next_off = l->sectorsize;
			l->next_index = 0;
			return i;
		}
	}
	die("%s: no mark '%s' in the log", l->path, o->end_mark);
}

static int do_replay(struct log *l, struct opts *o)
{
	uint64_t last, i, tsize, nwr = 0, ndisc = 0, nmark = 0, nflush = 0;
	uint64_t nskip = 0, ntorn = 0;
	unsigned char *buf = NULL;
	size_t cap = 0;
	struct entry e;
	int fd;
	size_t k;

	last = find_last(l, o);
	if (o->torn_last) {
		if (last == UINT64_MAX)
			die("--torn-last: the log is empty");
		o->torn = last;
		o->torn_mode = TORN_HEAD;
		o->have_torn = true;
	}
	for (k = 0; k < o->nr_skip; k++)
		if (last == UINT64_MAX || o->skip[k] > last)
			die("--skip %" PRIu64 ": past the last replayed entry",
			    o->skip[k]);
	if (o->have_torn && (last == UINT64_MAX || o->torn > last))
		die("--torn %" PRIu64 ": past the last replayed entry", o->torn);
	if (o->have_torn && skipped(o, o->torn))
		die("--torn %" PRIu64 ": that entry is also skipped", o->torn);

	fd = open(o->target, O_RDWR);
	if (fd < 0)
		die("%s: %s", o->target, strerror(errno));
	tsize = fd_size(fd, o->target);
	if (o->zero)
		zero_target(fd, o->target, tsize);

	for (i = 0; last != UINT64_MAX && i <= last; i++) {
		uint64_t off, first = 0, count, bytes;

		log_next(l, &e);
		if (o->have_torn && o->torn == i &&
		    ((e.flags & (F_MARK | F_DISCARD)) || !e.nr_sectors))
			die("--torn %" PRIu64 ": entry is not a write with data", i);
		if (e.flags & F_MARK) {
			nmark++;
			continue;
		}
		if ((e.flags & F_FLUSH) && !e.nr_sectors) {
			nflush++;
			continue;
		}
		if (e.sector > UINT64_MAX / l->sectorsize ||
		    e.nr_sectors > (UINT64_MAX / l->sectorsize) - e.sector ||
		    (e.sector + e.nr_sectors) * l->sectorsize > tsize)
			die("entry %" PRIu64 ": sectors %" PRIu64 "+%" PRIu64
			    " (of %" PRIu32 " bytes) run past the end of %s (%"
			    PRIu64 " bytes)", e.index, e.sector, e.nr_sectors,
			    l->sectorsize, o->target, tsize);
		if (skipped(o, i)) {
			nskip++;
			continue;
		}
		count = e.nr_sectors;
		if (o->have_torn && o->torn == i) {
			switch (o->torn_mode) {
			case TORN_HEAD:
				count = e.nr_sectors / 2;
				break;
			case TORN_TAIL:
				first = e.nr_sectors / 2;
				count = e.nr_sectors - first;
				break;
			case TORN_COUNT:
				if (o->torn_count > e.nr_sectors)
					die("--torn %" PRIu64 ":%" PRIu64 ": the entry has only %"
					    PRIu64 " sectors", i, o->torn_count, e.nr_sectors);
				count = o->torn_count;
				break;
			case TORN_RANGE:
				if (o->torn_first > e.nr_sectors ||
				    o->torn_count > e.nr_sectors - o->torn_first)
					die("--torn %" PRIu64 ":%" PRIu64 "+%" PRIu64
					    ": the entry has only %" PRIu64 " sectors", i,
					    o->torn_first, o->torn_count, e.nr_sectors);
				first = o->torn_first;
				count = o->torn_count;
				break;
			case TORN_NONE:
				break;
			}
			ntorn++;
		}
		bytes = count * l->sectorsize;
		off = (e.sector + first) * l->sectorsize;
		if (bytes > cap) {
			free(buf);
			cap = (size_t)bytes;
			buf = malloc(cap);
			if (!buf)
				die("out of memory (%zu bytes)", cap);
		}
		if (e.flags & F_DISCARD) {
			memset(buf, 0, (size_t)bytes);
			ndisc++;
		} else {
			xpread(l->fd, l->path, buf, (size_t)bytes,
			       e.data_off + first * l->sectorsize);
			nwr++;
		}
		if (bytes)
			xpwrite(fd, o->target, buf, (size_t)bytes, off);
		if (e.flags & F_FLUSH)
			nflush++;
	}
	if (fsync(fd) && errno != EINVAL)
		die("%s: fsync: %s", o->target, strerror(errno));
	if (o->have_digest)
		print_digest(fd, o);
	if (close(fd))
		die("%s: close: %s", o->target, strerror(errno));
	free(buf);
	free(o->skip);
	if (!o->quiet) {
		if (last == UINT64_MAX)
			printf("replayed nothing: the log is empty\n");
		else
			printf("replayed entries 0..%" PRIu64 ": %" PRIu64 " writes, %"
			       PRIu64 " discards, %" PRIu64 " flushes, %" PRIu64
			       " marks, %" PRIu64 " skipped, %" PRIu64 " torn\n",
			       last, nwr, ndisc, nflush, nmark, nskip, ntorn);
	}
	return 0;
}

#define MAX_LINE_ARGS 64

/* One replay per line of @o->batch, each from the start of the log. */
static int do_batch(struct log *l, const struct opts *o)
{
	FILE *f = strcmp(o->batch, "-") ? fopen(o->batch, "r") : stdin;
	char *line = NULL, *save, *tok;
	size_t cap = 0;
	unsigned long nr = 0;

	if (!f)
		die("%s: %s", o->batch, strerror(errno));
	while (getline(&line, &cap, f) >= 0) {
		char *argv[MAX_LINE_ARGS + 3];
		struct opts lo = { 0 };
		int argc = 0;

		snprintf(context, sizeof(context), "%s line %lu: ", o->batch, ++nr);
		tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || *tok == '#')
			continue;
		argv[argc++] = (char *)prog;
		argv[argc++] = (char *)"--replay";
		for (; tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (argc >= MAX_LINE_ARGS + 2)
				die("more than %d arguments", MAX_LINE_ARGS);
			argv[argc++] = tok;
		}
		argv[argc] = NULL;
		lo.log = o->log;
		lo.quiet = o->quiet;
		parse_args(&lo, argc, argv, true);
		l->next_off = l->sectorsize;
		l->next_index = 0;
		do_replay(l, &lo);
	}
	if (ferror(f))
		die("%s: read error", o->batch);
	context[0] = '\0';
	free(line);
	if (f != stdin)
		fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct log l;

	parse_args(&o, argc, argv, false);
	log_open(&l, o.log);
	if (o.list)
		return do_list(&l);
	if (o.batch)
		return do_batch(&l, &o);
	return do_replay(&l, &o);
}
