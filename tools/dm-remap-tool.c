// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap-tool: offline check, dump, export, restore, repair, format and
 * import into the dm-remap metadata region on a spare device or image file
 * (pread/pwrite).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "md-state.h"
#include "msg.h"

/* <linux/fs.h> would clash with the __le64 of user-shim.h */
#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#endif
#ifndef BLKFLSBUF
#define BLKFLSBUF _IO(0x12, 97)
#endif

#define TOOL_VERSION "1.0"

enum { EXIT_CLEAN = 0, EXIT_BAD = 1, EXIT_USAGE = 2 };

/* ---- options ------------------------------------------------------------ */

struct opts {
	const char *cmd;
	const char *dev;
	const char *input;
	const char *output;
	const char *uuid;
	bool json, force, quiet;
	char **pos;		/* format MAIN SPARE [OPTIONS] */
	int npos;
	bool have_bs, have_main, have_start, have_len;
	u32 block_size;
	u64 main_sectors, spare_start, spare_len;
	bool have_fs;		/* -B or -O: export only */
	u32 fs_block_size;
	u64 fs_offset;		/* sectors */
};

static const char *const help_common =
"GEOMETRY OPTIONS (the arguments of the table line\n"
"  remap <main_dev> <spare_dev> <spare_start> <spare_len> [block_size]):\n"
"  -b, --block-size BYTES   remap block size, power of two 512..65536\n"
"                           (default 4096)\n"
"  -m, --main-sectors N     length of the main device (the target), sectors\n"
"  -s, --spare-start N      first sector of the spare area on DEVICE\n"
"                           (default 0)\n"
"  -l, --spare-len N        length of the spare area, sectors\n"
"  Numbers are decimal or 0x-prefixed hexadecimal; sectors are 512 bytes.\n";

static const char *const help_exit =
"EXIT STATUS\n"
"  0  success (check: metadata clean)\n"
"  1  metadata damaged or inconsistent, or the command refused to act\n"
"  2  usage error or I/O error\n";

struct cmd_help {
	const char *name;
	const char *synopsis;
	const char *desc;
	const char *opts;
	const char *examples;
};

static const struct cmd_help helps[] = {
	{ "check",
	  TOOL " check [-s N] [-b B -m N -l N] [-q] DEVICE",
	  "Read-only check of the metadata region: both superblocks, checksums,\n"
	  "magics, generations, block indexes, every record (type, range, slots\n"
	  "beyond the last one), duplicate main blocks across slots, duplicate\n"
	  "pending blocks, record counts and the pair digest against the\n"
	  "superblock. Uncommitted leftovers of an interrupted commit are\n"
	  "reported as info, damage that the commit protocol tolerates (a torn\n"
	  "non-current copy) as warning, anything else as error. DEVICE is\n"
	  "opened read-only and never written. Geometry options, if given, must\n"
	  "match the superblock.\n",
	  "  -q, --quiet              print only warnings, errors and the result\n",
	  "  " TOOL " check /dev/sdb1\n"
	  "  " TOOL " check --spare-start 2048 spare.img\n" },
	{ "dump",
	  TOOL " dump [--json] [-o FILE] [-f] [-s N] DEVICE",
	  "Print the committed metadata state: geometry, generation, uuid, every\n"
	  "mapping (main block -> slot), bad slots and pending blocks. The text\n"
	  "form is the input of 'restore'; --json is for programs. Refuses a\n"
	  "damaged state unless --force (best effort). DEVICE is opened read-only.\n",
	  "  -j, --json               JSON instead of the text dump\n"
	  "  -o, --output FILE        write to FILE instead of standard output\n"
	  "  -f, --force              dump what can be read despite errors\n",
	  "  " TOOL " dump /dev/sdb1 > md.txt\n"
	  "  " TOOL " dump --json spare.img | jq .counts\n" },
	{ "export",
	  TOOL " export [-B BYTES] [-O N] [-o FILE] [-f] [-s N] DEVICE",
	  "Print the pending (unreadable) blocks of the committed metadata as\n"
	  "the block numbers of a filesystem on the remap device, one per line,\n"
	  "ascending: the input of 'e2fsck -l FILE' (which marks them bad and\n"
	  "reports the files that use them) or of debugfs's 'icheck'. A pending\n"
	  "block larger than a filesystem block gives several numbers. DEVICE\n"
	  "is opened read-only.\n",
	  "  -B, --fs-block-size BYTES  the filesystem's block size, a power of\n"
	  "                           two 512..65536 (default 4096)\n"
	  "  -O, --fs-offset N        sector of the remap device where the\n"
	  "                           filesystem starts (default 0); pending\n"
	  "                           blocks before it are left out\n"
	  "  -o, --output FILE        write to FILE instead of standard output\n"
	  "  -f, --force              export what can be read despite errors\n",
	  "  " TOOL " export -B 4096 /dev/sdc1 > bad.txt && e2fsck -l bad.txt /dev/mapper/data\n" },
	{ "restore",
	  TOOL " restore -i DUMP [-b B -m N -s N -l N] [-f] DEVICE",
	  "Write a fresh, valid metadata state from a text dump (see 'dump';\n"
	  "JSON dumps are not accepted) onto DEVICE at the spare area. Geometry\n"
	  "comes from the dump; options, if given, override missing keys and\n"
	  "must equal present ones. The dump must end with an 'end' line. The\n"
	  "state is written with generations 1 and 2 (both copies of every\n"
	  "non-empty pair, both superblocks), and every other metadata block is\n"
	  "zeroed. Refuses to overwrite blocks that are neither zeroes nor\n"
	  "dm-remap metadata unless --force. Data blocks are not touched.\n",
	  "  -i, --input FILE         the text dump ('-' for standard input)\n"
	  "  -u, --uuid UUID          use this uuid instead of the dump's\n"
	  "  -f, --force              overwrite foreign data\n",
	  "  " TOOL " restore -i md.txt /dev/sdb1\n" },
	{ "repair",
	  TOOL " repair -o OUT [-s N] [-b B -m N -l N] [-f] DEVICE",
	  "Rebuild the metadata of DEVICE onto OUT (another device or image\n"
	  "file, never DEVICE itself): take the best committed state, skip\n"
	  "blocks and records that are damaged or invalid, resolve duplicates\n"
	  "(keep the mapping from the newest block), report every loss, and\n"
	  "write it as a fresh state at the same spare-start on OUT. If both\n"
	  "superblocks are lost, the geometry options are required and the\n"
	  "newest valid copy of each pair is used. Only the metadata region is\n"
	  "written: copy it back over the spare device, or repair onto a copy\n"
	  "of the whole spare device.\n",
	  "  -o, --output OUT         device or image file to write\n"
	  "  -f, --force              overwrite foreign data on OUT\n",
	  "  " TOOL " repair -o fixed.img /dev/sdb1\n"
	  "  dd if=fixed.img of=/dev/sdb1 bs=512 skip=S seek=S count=MD conv=notrunc\n"
	  "    (S = spare start, MD = md_sectors from 'dump fixed.img')\n" },
	{ "format",
	  TOOL " format -m N [-l N] [-s N] [-b B] [-u UUID] [-f] DEVICE\n"
	  "  " TOOL " format [-f] MAIN SPARE [OPTIONS]",
	  "Write an empty metadata state (no mappings) for the given geometry:\n"
	  "zero the metadata region, then both superblocks. --spare-len defaults\n"
	  "to the rest of DEVICE after --spare-start. An image file is extended\n"
	  "(sparse) to hold the whole spare area. Refuses to overwrite blocks\n"
	  "that are neither zeroes nor dm-remap metadata unless --force.\n"
	  "The second form takes the devices and options of a remaptab line\n"
	  "(remaptab(5), e.g. spare=tail:1G) and computes the geometry that\n"
	  "'open' uses.\n",
	  "  -u, --uuid UUID          uuid of the new metadata (default random)\n"
	  "  -f, --force              overwrite foreign data\n",
	  "  " TOOL " format -m 2097152 -l 204800 /dev/sdb1\n"
	  "  truncate -s 200M spare.img && " TOOL " format -m 2097152 spare.img\n" },
};

static const struct cmd_help *find_help(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].name, cmd))
			return &helps[i];
	return NULL;
}

static void print_cmd_help(const struct cmd_help *h, FILE *f)
{
	fprintf(f, "NAME\n  " TOOL " %s - %s metadata of a dm-remap spare device\n\n",
		h->name, h->name);
	fprintf(f, "SYNOPSIS\n  %s\n\n", h->synopsis);
	fprintf(f, "DESCRIPTION\n%s\n", h->desc);
	fprintf(f, "OPTIONS\n%s  -h, --help               this text\n\n%s\n",
		h->opts, help_common);
	fprintf(f, "%s\nEXAMPLES\n%s", help_exit, h->examples);
}

static void print_main_help(FILE *f)
{
	size_t i;

	fprintf(f,
		"NAME\n  " TOOL " - check, dump, export, restore, repair and format dm-remap metadata\n\n"
		"SYNOPSIS\n  " TOOL " COMMAND [OPTIONS] DEVICE\n  " TOOL " COMMAND --help\n\n"
		"DESCRIPTION\n"
		"  Works offline on the spare device (or an image file of it) of a\n"
		"  dm-remap target; the device must not be in use by an active table.\n"
		"  The on-disk format is described in docs/metadata-format.md.\n\n"
		"COMMANDS\n");
	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(f, "  %s\n", helps[i].synopsis);
	fprintf(f, "\n  Remap devices (open, close, status, scrub, monitor, import):\n"
		"  " TOOL " open --help, " TOOL " import --help\n");
	fprintf(f, "\n%s\n%s", help_common, help_exit);
}

static int parse_num(const char *s, u64 *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "main-sectors", required_argument, NULL, 'm' },
		{ "spare-start", required_argument, NULL, 's' },
		{ "spare-len", required_argument, NULL, 'l' },
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "fs-block-size", required_argument, NULL, 'B' },
		{ "fs-offset", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd_help *h = find_help(o->cmd);
	u64 v;
	int c;

	optind = 1;
	o->fs_block_size = 4096;
	while ((c = getopt_long(argc, argv, "b:m:s:l:i:o:u:jfqhB:O:", lopts,
				NULL)) != -1) {
		switch (c) {
		case 'B':
			if (parse_num(optarg, &v) || v < 512 || v > 65536 || (v & (v - 1)))
				return tool_usage("COMMAND", "bad --fs-block-size '%s': a power of two 512..65536",
						  optarg);
			o->fs_block_size = (u32)v;
			o->have_fs = true;
			break;
		case 'O':
			if (parse_num(optarg, &o->fs_offset) || o->fs_offset > U64_MAX >> 9)
				return tool_usage("COMMAND", "bad --fs-offset '%s'", optarg);
			o->have_fs = true;
			break;
		case 'b':
			if (parse_num(optarg, &v) || v > U32_MAX)
				return tool_usage("COMMAND", "bad --block-size '%s'", optarg);
			o->block_size = (u32)v;
			o->have_bs = true;
			break;
		case 'm':
			if (parse_num(optarg, &o->main_sectors))
				return tool_usage("COMMAND", "bad --main-sectors '%s'", optarg);
			o->have_main = true;
			break;
		case 's':
			if (parse_num(optarg, &o->spare_start))
				return tool_usage("COMMAND", "bad --spare-start '%s'", optarg);
			o->have_start = true;
			break;
		case 'l':
			if (parse_num(optarg, &o->spare_len))
				return tool_usage("COMMAND", "bad --spare-len '%s'", optarg);
			o->have_len = true;
			break;
		case 'i':
			o->input = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'u':
			o->uuid = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			print_cmd_help(h, stdout);
			exit(EXIT_CLEAN);
		default:
			return tool_usage("COMMAND", "bad option for '%s'", o->cmd);
		}
	}
	if (o->have_fs && strcmp(o->cmd, "export"))
		return tool_usage("COMMAND", "--fs-block-size and --fs-offset are options of 'export'");
	if (!strcmp(o->cmd, "format") && argc - optind >= 2 &&
	    argc - optind <= 3) {
		o->pos = argv + optind;
		o->npos = argc - optind;
		return 0;
	}
	if (optind != argc - 1)
		return tool_usage("COMMAND", "'%s' takes exactly one DEVICE", o->cmd);
	o->dev = argv[optind];
	if (!o->have_bs)
		o->block_size = DMR_DEFAULT_BLOCK_SIZE;
	return 0;
}

/* ---- device I/O --------------------------------------------------------- */

struct dev {
	const char *path;
	int fd;
	bool blk, reg;
	u64 size;		/* bytes */
	u64 base;		/* byte offset of the metadata region */
	bool io_error;		/* a real I/O error (exit 2) */
};

static int dev_open(struct dev *d, const char *path, bool rw, bool create)
{
	struct stat st;
	int flags = rw ? O_RDWR : O_RDONLY;

	memset(d, 0, sizeof(*d));
	d->path = path;
	if (create)
		flags |= O_CREAT;
	d->fd = open(path, flags | O_CLOEXEC, 0644);
	if (d->fd < 0) {
		tool_err("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(d->fd, &st)) {
		tool_err("cannot stat %s: %s", path, strerror(errno));
		close(d->fd);
		return -errno;
	}
	d->blk = S_ISBLK(st.st_mode);
	d->reg = S_ISREG(st.st_mode);
	if (d->blk) {
		if (ioctl(d->fd, BLKGETSIZE64, &d->size)) {
			tool_err("cannot size %s: %s", path, strerror(errno));
			close(d->fd);
			return -errno;
		}
	} else if (d->reg) {
		d->size = (u64)st.st_size;
	} else {
		tool_err("%s is neither a block device nor a regular file", path);
		close(d->fd);
		return -EINVAL;
	}
	return 0;
}

static void dev_refresh_size(struct dev *d)
{
	struct stat st;

	if (d->reg && !fstat(d->fd, &st))
		d->size = (u64)st.st_size;
}

static void dev_close(struct dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* spare_start in sectors -> byte base; refuse what off_t cannot address */
static int dev_set_base(struct dev *d, u64 spare_start, u64 region_sectors)
{
	u64 lim = (u64)INT64_MAX / 512;

	if (spare_start > lim || region_sectors > lim - spare_start) {
		tool_err("spare area beyond what this system can address");
		return -EOVERFLOW;
	}
	d->base = spare_start * 512;
	return 0;
}

static int dev_read(void *ctx, u64 mdi, void *buf)
{
	struct dev *d = ctx;
	u64 off = d->base + mdi * DMR_MD_BLOCK_SIZE;
	size_t done = 0;
	ssize_t n;

	if (mdi > ((u64)INT64_MAX - d->base) / DMR_MD_BLOCK_SIZE - 1)
		return -ENXIO;
	while (done < DMR_MD_BLOCK_SIZE) {
		n = pread(d->fd, (char *)buf + done, DMR_MD_BLOCK_SIZE - done,
			  (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			d->io_error = true;
			return -errno;
		}
		if (!n)
			return -ENXIO;	/* past the end: truncated */
		done += (size_t)n;
	}
	return 0;
}

static int dev_write(void *ctx, u64 mdi, const void *buf)
{
	struct dev *d = ctx;
	u64 off = d->base + mdi * DMR_MD_BLOCK_SIZE;
	size_t done = 0;
	ssize_t n;

	while (done < DMR_MD_BLOCK_SIZE) {
		n = pwrite(d->fd, (const char *)buf + done,
			   DMR_MD_BLOCK_SIZE - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			d->io_error = true;
			tool_err("write to %s failed: %s", d->path, strerror(errno));
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* for the writer: reads past the end of an image file are zeroes */
static int dev_read_or_zero(void *ctx, u64 mdi, void *buf)
{
	int r = dev_read(ctx, mdi, buf);

	if (r == -ENXIO) {
		memset(buf, 0, DMR_MD_BLOCK_SIZE);
		return 0;
	}
	return r;
}

static int dev_sync(void *ctx)
{
	struct dev *d = ctx;

	if (fsync(d->fd)) {
		d->io_error = true;
		tool_err("fsync %s failed: %s", d->path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- scanning into an md_state ------------------------------------------ */

#define MAX_PRINTED 100

struct load {
	struct dev *dev;
	struct md_state *st;
	u64 pair_gen;
	bool print;		/* print reports (check) */
	bool quiet;		/* ... but not info */
	bool to_stderr;
	bool header;		/* print the superblock summary (check) */
	u64 nr_info;
	u64 nr_printed, nr_unprinted;
	int oom;
	bool track;		/* fill cur: the current copy of each pair */
	signed char *cur;	/* ...by pair id (malloc'd by load_state) */
};

static const char *area_name(enum dmr_area a)
{
	return a == DMR_AREA_SB ? "superblock" :
	       a == DMR_AREA_ENTRY ? "entry block" : "pending block";
}

static void print_report(struct load *l, const struct dmr_report *r)
{
	static const char *const sev[] = { "info", "warning", "error" };
	FILE *f = l->to_stderr ? stderr : stdout;

	if (r->sev == DMR_SEV_INFO)
		l->nr_info++;
	if (!l->print || (l->quiet && r->sev == DMR_SEV_INFO))
		return;
	if (l->nr_printed >= MAX_PRINTED) {
		l->nr_unprinted++;
		return;
	}
	l->nr_printed++;
	fprintf(f, "%s: ", sev[r->sev]);
	if (r->area == DMR_AREA_SB) {
		if (r->copy >= 0)
			fprintf(f, "superblock copy %d: ", r->copy);
		else
			fprintf(f, "superblock: ");
	} else {
		fprintf(f, "%s %" PRIu64, area_name(r->area), r->index);
		if (r->copy >= 0)
			fprintf(f, " copy %c", 'A' + r->copy);
		if (r->pos != U64_MAX)
			fprintf(f, " %s %" PRIu64,
				r->area == DMR_AREA_ENTRY ? "slot" : "position",
				r->pos);
		fprintf(f, ": ");
	}
	fprintf(f, "%s", r->msg);
	if (r->pos != U64_MAX)
		fprintf(f, " (record 0x%016" PRIx64 ")", r->value);
	else if (r->sev == DMR_SEV_WARN && r->copy >= 0)
		fprintf(f, " (%s)", dmr_blk_state_str((enum dmr_blk_state)r->value));
	else if (r->sev == DMR_SEV_INFO && r->value)
		fprintf(f, " (generation %" PRIu64 ")", r->value);
	if (r->err == -ENXIO)
		fprintf(f, " (beyond the end of %s: truncated?)", l->dev->path);
	else if (r->err && r->err != -EUCLEAN && r->err != -EINVAL &&
		 r->err != -ENODATA && r->err != -EOPNOTSUPP)
		fprintf(f, " (%s)", strerror(-r->err));
	fputc('\n', f);
}

static void cb_report(void *ctx, const struct dmr_report *r)
{
	print_report(ctx, r);
}

static int cb_pair(void *ctx, const struct dmr_pair_info *pi)
{
	struct load *l = ctx;

	l->pair_gen = pi->generation;
	if (l->cur)
		l->cur[dmr_pair_id(&l->st->geo, pi->area, pi->index)] =
			(signed char)(pi->copy < 0 ? 0 : pi->copy);
	return 0;
}

static int cb_record(void *ctx, const struct dmr_record *rec)
{
	struct load *l = ctx;
	int r;

	if (rec->type == DMR_REC_MAPPED)
		r = md_state_add_map(l->st, rec->block, rec->pos, l->pair_gen);
	else if (rec->type == DMR_REC_BAD)
		r = md_state_add_bad(l->st, rec->pos);
	else
		r = md_state_add_pending(l->st, rec->block);
	if (r)
		l->oom = 1;
	return r;
}

static int cb_read(void *ctx, u64 mdi, void *buf)
{
	struct load *l = ctx;

	return dev_read(l->dev, mdi, buf);
}

static const struct dmr_scan_ops load_ops = {
	.read = cb_read,
	.pair = cb_pair,
	.record = cb_record,
	.report = cb_report,
};

struct scan_bufs {
	void *b[2];
};

static int bufs_alloc(struct scan_bufs *sb)
{
	sb->b[0] = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	sb->b[1] = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	return sb->b[0] && sb->b[1] ? 0 : -ENOMEM;
}

static void bufs_free(struct scan_bufs *sb)
{
	free(sb->b[0]);
	free(sb->b[1]);
}

/* compare the geometry options given on the command line with the sb */
static int check_opts_vs_sb(const struct opts *o, const struct dmr_sb *sb,
			    FILE *f)
{
	int bad = 0;

	if (o->have_bs && o->block_size != sb->block_size) {
		fprintf(f, "error: superblock: block size %u, not %u as given\n",
			sb->block_size, o->block_size);
		bad++;
	}
	if (o->have_main && o->main_sectors != sb->main_sectors) {
		fprintf(f, "error: superblock: main device %" PRIu64 " sectors, not %" PRIu64 " as given\n",
			sb->main_sectors, o->main_sectors);
		bad++;
	}
	if (o->have_len && o->spare_len != sb->spare_len) {
		fprintf(f, "error: superblock: spare length %" PRIu64 " sectors, not %" PRIu64 " as given\n",
			sb->spare_len, o->spare_len);
		bad++;
	}
	if (sb->spare_start != o->spare_start) {
		fprintf(f, "error: superblock: spare start %" PRIu64 ", but it was found at sector %" PRIu64 "\n",
			sb->spare_start, o->spare_start);
		bad++;
	}
	return bad;
}

/* ---- check -------------------------------------------------------------- */

static void print_problem(void *ctx, const char *msg)
{
	struct load *l = ctx;

	if (l->print)
		fprintf(l->to_stderr ? stderr : stdout, "error: records: %s\n",
			msg);
}

static void print_list(const char *what, const u64 *v, size_t n)
{
	size_t i, show = n > 32 ? 32 : n;

	printf("%s: %zu", what, n);
	for (i = 0; i < show; i++)
		printf("%s%" PRIu64, i ? ", " : " (", v[i]);
	printf("%s\n", n > show ? ", ...)" : show ? ")" : "");
}

static void print_header(const struct dmr_scan *s)
{
	const struct dmr_geometry *g = &s->geo;
	char u[37];

	md_uuid_format(s->sb.uuid, u);
	printf("superblock: copy %d, generation %" PRIu64 ", uuid %s, version %u\n",
	       s->sb_copy, s->sb.generation, u, s->sb.version);
	printf("geometry: block_size %u, main_sectors %" PRIu64 " (%" PRIu64 " blocks), spare_start %" PRIu64 ", spare_len %" PRIu64 "\n",
	       g->block_size, g->main_sectors, g->nr_blocks, g->spare_start,
	       g->spare_len);
	printf("layout: %" PRIu64 " slots, %" PRIu64 " entry block pairs, %u pending block pairs, metadata %" PRIu64 " sectors, data at sector %" PRIu64 "\n",
	       g->nr_slots, g->nr_entry_blocks, g->nr_pending_blocks,
	       g->md_sectors, g->data_start);
	printf("scrub: %s at block %" PRIu64 ", last full pass %" PRIu64 "\n",
	       md_scrub_name(s->sb.scrub_state), s->sb.scrub_pos,
	       s->sb.scrub_last_pass);
}

/*
 * Scan @d into @st. Returns the number of errors, or -errno when the scan
 * could not start. *@scan_out keeps the scanner state for the caller.
 */
static long load_state(struct load *l, const struct opts *o,
		       struct dmr_scan *s, struct scan_bufs *bufs)
{
	u64 errors = 0, end;
	int r;

	memset(s, 0, sizeof(*s));
	s->ops = &load_ops;
	s->ctx = l;
	s->buf[0] = bufs->b[0];
	s->buf[1] = bufs->b[1];
	s->flags = DMR_SCAN_KEEP_GOING;
	if (dev_set_base(l->dev, o->spare_start, 2 * DMR_MD_BLOCK_SECTORS))
		return -EOVERFLOW;
	r = dmr_scan_sb(s, NULL);
	if (s->sb_copy < 0)
		return r ? r : -EUCLEAN;
	errors += (u64)check_opts_vs_sb(o, &s->sb,
					l->to_stderr ? stderr : stdout);
	if (dev_set_base(l->dev, o->spare_start, s->geo.md_sectors))
		return -EOVERFLOW;
	l->st->geo = s->geo;
	memcpy(l->st->uuid, s->sb.uuid, DMR_UUID_SIZE);
	l->st->generation = s->sb.generation;
	l->st->sb_copy = s->sb_copy;
	l->st->scrub_state = s->sb.scrub_state;
	l->st->scrub_pos = s->sb.scrub_pos;
	l->st->scrub_last_pass = s->sb.scrub_last_pass;
	if (l->track) {
		free(l->cur);
		l->cur = calloc(s->geo.nr_entry_blocks + s->geo.nr_pending_blocks, 1);
		if (!l->cur)
			return -ENOMEM;
	}
	if (l->header)
		print_header(s);
	dev_refresh_size(l->dev);
	end = l->dev->base + s->geo.md_sectors * 512;
	if (l->dev->size < end) {
		fprintf(l->to_stderr ? stderr : stdout,
			"error: %s ends at sector %" PRIu64 ", inside the metadata region (it ends at sector %" PRIu64 "): truncated\n",
			l->dev->path, l->dev->size / 512, end / 512);
		errors++;
	}
	dmr_scan_pairs(s);
	if (l->oom)
		return -ENOMEM;
	errors += s->nr_errors;
	errors += md_state_validate(l->st, false, print_problem, l);
	if (l->nr_unprinted)
		fprintf(l->to_stderr ? stderr : stdout,
			"... %" PRIu64 " more findings not shown\n",
			l->nr_unprinted);
	return (long)errors;
}

static int exit_for_scan_error(struct dev *d, long r)
{
	if (d->io_error || r == -ENOMEM || r == -EOVERFLOW)
		return EXIT_USAGE;
	return EXIT_BAD;
}

static int cmd_check(struct opts *o)
{
	struct md_state st;
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct dev d;
	struct load l = { .dev = &d, .st = &st, .print = true,
			  .quiet = o->quiet, .header = !o->quiet };
	long r;
	int ret;

	md_state_init(&st);
	if (dev_open(&d, o->dev, false, false))
		return EXIT_USAGE;
	if (bufs_alloc(&bufs)) {
		tool_err("out of memory");
		ret = EXIT_USAGE;
		goto out;
	}
	printf("checking %s (spare area at sector %" PRIu64 ")\n", o->dev,
	       o->spare_start);
	r = load_state(&l, o, &s, &bufs);
	if (r < 0) {
		printf("result: FAILED, no usable superblock\n");
		ret = exit_for_scan_error(&d, r);
		goto out;
	}
	if (!o->quiet) {
		printf("records: %zu mapped, %zu bad, %zu pending (superblock: %" PRIu64 ", %" PRIu64 ", %" PRIu64 ")\n",
		       st.nr_maps, st.nr_bad, st.nr_pending, s.sb.nr_mapped,
		       s.sb.nr_bad, s.sb.nr_pending);
		print_list("bad slots", st.bad, st.nr_bad);
		print_list("pending blocks", st.pending, st.nr_pending);
		if (s.nr_leftover)
			printf("leftovers: %" PRIu64 " pairs hold an uncommitted copy; the next commit rewrites them\n",
			       s.nr_leftover);
		printf("next commit generation: %" PRIu64 "\n", s.next_gen);
	}
	if (d.io_error) {
		printf("result: FAILED, I/O errors\n");
		ret = EXIT_USAGE;
	} else if (r) {
		printf("result: FAILED, %ld errors, %" PRIu64 " warnings\n", r,
		       s.nr_warnings);
		ret = EXIT_BAD;
	} else {
		printf("result: clean, %" PRIu64 " warnings, %" PRIu64 " info\n",
		       s.nr_warnings, l.nr_info);
		ret = EXIT_CLEAN;
	}
out:
	bufs_free(&bufs);
	md_state_free(&st);
	dev_close(&d);
	return ret;
}

/* ---- dump --------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* export: the filesystem blocks that overlap pending blocks. */
static int print_export(const struct md_state *st, const struct opts *o, FILE *f)
{
	u64 bs = st->geo.block_size, fbs = o->fs_block_size;
	u64 off = o->fs_offset << 9, *blocks, first, last, n = 0, i, skipped = 0;

	blocks = calloc(st->nr_pending * (bs / fbs + 2) + 1, sizeof(*blocks));
	if (!blocks) {
		tool_err("out of memory");
		return -1;
	}
	for (i = 0; i < st->nr_pending; i++) {
		u64 start = st->pending[i] * bs, end = start + bs;

		if (end <= off) {
			skipped++;
			continue;
		}
		first = (start > off ? start - off : 0) / fbs;
		for (last = (end - off - 1) / fbs; first <= last; first++)
			blocks[n++] = first;
	}
	qsort(blocks, n, sizeof(*blocks), cmp_u64);
	for (i = 0; i < n; i++)
		if (!i || blocks[i] != blocks[i - 1])
			fprintf(f, "%" PRIu64 "\n", blocks[i]);
	if (skipped)
		tool_err("%" PRIu64 " pending blocks lie before --fs-offset: left out", skipped);
	free(blocks);
	return 0;
}

static int print_dump(const struct md_state *st, const struct opts *o, FILE *f)
{
	if (o->json)
		md_state_print_json(st, f);
	else
		md_state_print_text(st, f);
	return 0;
}

/* dump and export: load the committed state read-only, print it. */
static int cmd_print(struct opts *o,
		     int (*print)(const struct md_state *, const struct opts *, FILE *))
{
	struct md_state st;
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct dev d;
	struct load l = { .dev = &d, .st = &st, .print = true, .quiet = true,
			  .to_stderr = true };
	FILE *out = stdout;
	long r;
	int ret = EXIT_CLEAN;

	md_state_init(&st);
	if (dev_open(&d, o->dev, false, false))
		return EXIT_USAGE;
	if (bufs_alloc(&bufs)) {
		ret = EXIT_USAGE;
		goto out;
	}
	r = load_state(&l, o, &s, &bufs);
	if (r < 0) {
		tool_err("%s: no usable metadata", o->dev);
		ret = exit_for_scan_error(&d, r);
		goto out;
	}
	if (r > 0 && !o->force) {
		tool_err("%s: metadata damaged (%ld errors); use 'check' for a report, --force to %s anyway, 'repair' to fix",
		       o->dev, r, o->cmd);
		ret = d.io_error ? EXIT_USAGE : EXIT_BAD;
		goto out;
	}
	if (o->output) {
		out = fopen(o->output, "w");
		if (!out) {
			tool_err("cannot write %s: %s", o->output, strerror(errno));
			ret = EXIT_USAGE;
			goto out;
		}
	}
	if (print(&st, o, out))
		ret = EXIT_USAGE;
	if (out != stdout && fclose(out)) {
		tool_err("cannot write %s: %s", o->output, strerror(errno));
		ret = EXIT_USAGE;
	} else if (out == stdout && fflush(stdout)) {
		ret = EXIT_USAGE;
	}
	if (r > 0 && ret == EXIT_CLEAN)
		ret = EXIT_BAD;
out:
	bufs_free(&bufs);
	md_state_free(&st);
	dev_close(&d);
	return ret;
}

/* ---- writing commands --------------------------------------------------- */

static int random_uuid(u8 *u)
{
	size_t got = 0;
	ssize_t n;

	while (got < DMR_UUID_SIZE) {
		n = getrandom(u + got, DMR_UUID_SIZE - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	u[6] = (u8)((u[6] & 0x0f) | 0x40);	/* version 4 */
	u[8] = (u8)((u[8] & 0x3f) | 0x80);	/* variant 1 */
	return 0;
}

/*
 * Open @path for writing the region of @g: refuse foreign data without
 * --force, check the size of a block device, extend an image file.
 */
static int open_target(struct dev *d, const char *path,
		       const struct dmr_geometry *g, bool force, bool create)
{
	u64 end = (g->spare_start + g->spare_len) * 512, i, foreign = 0;
	u64 first = 0;
	void *buf;
	int r;

	r = dev_open(d, path, true, create);
	if (r)
		return r == -EEXIST ? -EIO : r;
	r = dev_set_base(d, g->spare_start, g->spare_len);
	if (r)
		goto fail;
	if (d->blk && d->size < end) {
		tool_err("%s: %" PRIu64 " sectors, the spare area ends at sector %" PRIu64,
		       path, d->size / 512, end / 512);
		r = -ENOSPC;
		goto fail;
	}
	buf = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	if (!buf) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < g->nr_md_blocks; i++) {
		r = dev_read_or_zero(d, i, buf);
		if (r) {
			tool_err("read %s failed: %s", path, strerror(-r));
			free(buf);
			goto fail;
		}
		if (!dmr_is_zero_block(buf) && !dmr_is_md_block(buf)) {
			if (!foreign)
				first = i;
			foreign++;
		}
	}
	free(buf);
	if (foreign && !force) {
		tool_err("refusing to write %s: %" PRIu64 " metadata blocks (first at sector %" PRIu64 ") hold data that is neither zeroes nor dm-remap metadata; use --force to overwrite",
		       path, foreign, dmr_md_sector(g, first));
		r = -EEXIST;
		goto fail;
	}
	if (foreign)
		printf("overwriting %" PRIu64 " blocks of foreign data (--force)\n",
		       foreign);
	if (d->reg && d->size < end) {
		if (ftruncate(d->fd, (off_t)end)) {
			tool_err("cannot extend %s: %s", path, strerror(errno));
			r = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	dev_close(d);
	return r;
}

static int write_state(struct dev *d, struct md_state *st)
{
	struct md_writer w = {
		.ctx = d, .read = dev_read_or_zero, .write = dev_write,
		.sync = dev_sync,
	};

	return md_state_write(st, &w);
}

/* read back what was written; 0 when it checks clean */
static int verify_written(struct dev *d, const struct md_state *want)
{
	struct md_state st;
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct load l = { .dev = d, .st = &st, .print = true, .quiet = true,
			  .to_stderr = true };
	struct opts o = { .spare_start = want->geo.spare_start };
	long r;

	md_state_init(&st);
	if (bufs_alloc(&bufs)) {
		bufs_free(&bufs);
		return -ENOMEM;
	}
	r = load_state(&l, &o, &s, &bufs);
	if (!r && (st.nr_maps != want->nr_maps || st.nr_bad != want->nr_bad ||
		   st.nr_pending != want->nr_pending))
		r = 1;
	bufs_free(&bufs);
	md_state_free(&st);
	if (r)
		tool_err("%s: read-back verification FAILED", d->path);
	return r ? -EIO : 0;
}

static int geometry_from(const struct opts *o, u32 bs, u64 main, u64 start,
			 u64 len, struct dmr_geometry *g)
{
	const char *why = NULL;
	int r;

	(void)o;
	r = dmr_geometry_compute(g, bs, main, start, len, &why);
	if (r)
		tool_err("invalid geometry: %s (block_size %u, main_sectors %" PRIu64 ", spare_start %" PRIu64 ", spare_len %" PRIu64 ")",
		       why, bs, main, start, len);
	return r;
}

static int finish_write(struct dev *d, struct md_state *st, const char *what)
{
	char u[37];
	int r;

	r = write_state(d, st);
	if (!r)
		r = verify_written(d, st);
	if (r) {
		tool_err("%s of %s failed", what, d->path);
		return d->io_error ? EXIT_USAGE : EXIT_BAD;
	}
	md_uuid_format(st->uuid, u);
	printf("%s: wrote %s: uuid %s, %" PRIu64 " slots, %zu mapped, %zu bad, %zu pending, metadata %" PRIu64 " sectors at %" PRIu64 "\n",
	       what, d->path, u, st->geo.nr_slots, st->nr_maps, st->nr_bad,
	       st->nr_pending, st->geo.md_sectors, st->geo.spare_start);
	return EXIT_CLEAN;
}

static int set_uuid(const struct opts *o, struct md_state *st, bool keep)
{
	if (o->uuid) {
		if (md_uuid_parse(o->uuid, st->uuid)) {
			tool_err("bad --uuid '%s'", o->uuid);
			return -EINVAL;
		}
		return 0;
	}
	if (keep)
		return 0;
	if (random_uuid(st->uuid)) {
		tool_err("cannot get random bytes: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

static void stderr_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "error: %s\n", msg);
}

static int target_exit(int r)
{
	return r == -EEXIST || r == -ENOSPC ? EXIT_BAD : EXIT_USAGE;
}

static int cmd_format(struct opts *o)
{
	struct md_state st;
	struct dev d;
	int ret, r;

	md_state_init(&st);
	if (!o->have_main)
		return tool_usage("COMMAND", "format needs --main-sectors");
	if (!o->have_len) {
		if (dev_open(&d, o->dev, false, false))
			return EXIT_USAGE;
		dev_close(&d);
		if (d.size / 512 <= o->spare_start)
			return tool_usage("COMMAND", "%s is empty past --spare-start: give --spare-len",
					 o->dev);
		o->spare_len = d.size / 512 - o->spare_start;
	}
	if (geometry_from(o, o->block_size, o->main_sectors, o->spare_start,
			  o->spare_len, &st.geo))
		return EXIT_BAD;
	if (set_uuid(o, &st, false))
		return EXIT_USAGE;
	r = open_target(&d, o->dev, &st.geo, o->force, false);
	if (r)
		return target_exit(r);
	ret = finish_write(&d, &st, "format");
	dev_close(&d);
	md_state_free(&st);
	return ret;
}

int tool_format(const char *path, const struct dmr_geometry *g, bool force)
{
	struct opts o = {
		.cmd = "format", .dev = path, .force = force,
		.block_size = g->block_size, .have_bs = true,
		.main_sectors = g->main_sectors, .have_main = true,
		.spare_start = g->spare_start, .have_start = true,
		.spare_len = g->spare_len, .have_len = true,
	};

	return cmd_format(&o);
}

static int probe_read(void *ctx, u64 mdi, void *buf)
{
	return dev_read(ctx, mdi, buf);
}

/* Scan the superblocks of the region at @d's base into @s. */
static int scan_sbs(struct dev *d, struct scan_bufs *bufs, struct dmr_scan *s)
{
	static const struct dmr_scan_ops ops = { .read = probe_read };

	memset(s, 0, sizeof(*s));
	s->ops = &ops;
	s->ctx = d;
	s->buf[0] = bufs->b[0];
	s->buf[1] = bufs->b[1];
	return dmr_scan_sb(s, NULL);
}

/*
 * A spare area is blank only when its whole metadata region is zeroes: one
 * with damaged superblocks but other metadata left is not (its remaps may
 * still be repairable).
 */
int tool_probe_spare(const char *path, const struct dmr_geometry *g,
		     struct dmr_sb *sb)
{
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct dev d;
	u64 i;
	int r;

	r = dev_open(&d, path, false, false);
	if (r)
		return r;
	r = dev_set_base(&d, g->spare_start, g->md_sectors);
	if (!r && bufs_alloc(&bufs))
		r = -ENOMEM;
	if (r)
		goto out;
	scan_sbs(&d, &bufs, &s);
	if (s.sb_copy >= 0) {
		*sb = s.sb;
		r = SPARE_VALID;
		goto out;
	}
	r = SPARE_BLANK;
	for (i = 0; i < g->nr_md_blocks; i++) {
		int e = dev_read_or_zero(&d, i, bufs.b[0]);

		if (e) {
			tool_err("read %s failed: %s", path, strerror(-e));
			r = e;
			break;
		}
		if (!dmr_is_zero_block(bufs.b[0])) {
			r = SPARE_NOT_BLANK;
			break;
		}
	}
out:
	bufs_free(&bufs);
	dev_close(&d);
	return r;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t cap = 65536, n = 0, k;
	char *buf, *nb;

	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
		cap *= 2;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

static int pick_value(const char *name, bool have_opt, u64 opt, bool have_dump,
		      u64 dump, u64 *out)
{
	if (have_opt && have_dump && opt != dump) {
		tool_err("--%s %" PRIu64 " differs from the dump's %" PRIu64,
		       name, opt, dump);
		return -EINVAL;
	}
	if (!have_opt && !have_dump) {
		tool_err("%s: not in the dump, give --%s", name, name);
		return -EINVAL;
	}
	*out = have_opt ? opt : dump;
	return 0;
}

static int cmd_restore(struct opts *o)
{
	struct md_dump_info info;
	struct md_state st;
	struct dev d;
	char err[256] = "";
	u64 bs, main, start, len;
	size_t tlen;
	char *text;
	int ret = EXIT_BAD, r;

	md_state_init(&st);
	if (!o->input)
		return tool_usage("COMMAND", "restore needs -i DUMP");
	text = read_all(o->input, &tlen);
	if (!text) {
		tool_err("cannot read %s: %s", o->input, strerror(errno));
		return EXIT_USAGE;
	}
	if (md_parse_text(text, tlen, &st, &info, err, sizeof(err))) {
		tool_err("%s: %s", o->input, err[0] ? err : "out of memory");
		goto out;
	}
	if (pick_value("block-size", o->have_bs, o->block_size,
		       info.have_block_size || !o->have_bs,
		       info.have_block_size ? info.block_size :
					      DMR_DEFAULT_BLOCK_SIZE, &bs) ||
	    pick_value("main-sectors", o->have_main, o->main_sectors,
		       info.have_main_sectors, info.main_sectors, &main) ||
	    pick_value("spare-start", o->have_start, o->spare_start,
		       info.have_spare_start || !o->have_start,
		       info.have_spare_start ? info.spare_start : 0, &start) ||
	    pick_value("spare-len", o->have_len, o->spare_len,
		       info.have_spare_len, info.spare_len, &len))
		goto out;
	if (geometry_from(o, (u32)bs, main, start, len, &st.geo))
		goto out;
	if ((info.have_nr_slots && info.nr_slots != st.geo.nr_slots) ||
	    (info.have_data_start && info.data_start != st.geo.data_start)) {
		tool_err("%s: nr_slots/data_start differ from the geometry (%" PRIu64 "/%" PRIu64 ")",
		       o->input, st.geo.nr_slots, st.geo.data_start);
		goto out;
	}
	if ((info.have_counts[0] && info.counts[0] != st.nr_maps) ||
	    (info.have_counts[1] && info.counts[1] != st.nr_bad) ||
	    (info.have_counts[2] && info.counts[2] != st.nr_pending)) {
		tool_err("%s: nr_mapped/nr_bad/nr_pending differ from the records listed",
		       o->input);
		goto out;
	}
	if (set_uuid(o, &st, info.have_uuid))
		goto out;
	if (md_state_validate(&st, false, stderr_problem, NULL)) {
		tool_err("%s: invalid records, nothing written", o->input);
		goto out;
	}
	r = open_target(&d, o->dev, &st.geo, o->force, false);
	if (r) {
		ret = target_exit(r);
		goto out;
	}
	ret = finish_write(&d, &st, "restore");
	dev_close(&d);
out:
	free(text);
	md_state_free(&st);
	return ret;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) || stat(b, &sb))
		return false;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* uuid of the first block with a good checksum, for repair without sb */
static int find_uuid(struct dev *d, const struct dmr_geometry *g, u8 *uuid)
{
	static const u8 zero[DMR_UUID_SIZE];
	struct dmr_blk_info info;
	void *buf = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	enum dmr_area a;
	u64 i;
	u32 c;

	if (!buf)
		return -ENOMEM;
	for (a = DMR_AREA_ENTRY; a <= DMR_AREA_PENDING; a++) {
		for (i = 0; i < dmr_area_blocks(g, a); i++) {
			for (c = 0; c < 2; c++) {
				if (dev_read(d, dmr_md_index(g, a, i, c), buf))
					continue;
				dmr_block_check(g, buf, a, i, c, zero, &info,
						NULL);
				if (info.state == DMR_BLK_STALE ||
				    info.state == DMR_BLK_VALID) {
					memcpy(uuid, (u8 *)buf + 32,
					       DMR_UUID_SIZE);
					free(buf);
					return 0;
				}
			}
		}
	}
	free(buf);
	return -ENOENT;
}

static int cmd_repair(struct opts *o)
{
	struct md_state st;
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct dev d, out;
	struct load l = { .dev = &d, .st = &st, .print = true,
			  .quiet = o->quiet };
	size_t fixed;
	long r;
	int ret = EXIT_BAD;

	md_state_init(&st);
	if (!o->output)
		return tool_usage("COMMAND", "repair needs -o OUT");
	if (same_file(o->dev, o->output))
		return tool_usage("COMMAND", "repair writes to another device or file, not to %s",
				 o->dev);
	if (dev_open(&d, o->dev, false, false))
		return EXIT_USAGE;
	if (bufs_alloc(&bufs)) {
		ret = EXIT_USAGE;
		goto out;
	}
	r = load_state(&l, o, &s, &bufs);
	if (r < 0 && !d.io_error && r != -ENOMEM && r != -EOVERFLOW) {
		/* no superblock: geometry from the command line */
		if (!o->have_main || !o->have_len) {
			tool_err("no usable superblock: give --main-sectors, --spare-len (and --block-size, --spare-start)");
			goto out;
		}
		md_state_free(&st);
		if (geometry_from(o, o->block_size, o->main_sectors,
				  o->spare_start, o->spare_len, &st.geo))
			goto out;
		if (dev_set_base(&d, o->spare_start, st.geo.md_sectors))
			goto out;
		if (find_uuid(&d, &st.geo, st.uuid)) {
			tool_err("no valid metadata block found; nothing to repair (use format)");
			goto out;
		}
		printf("repair: no superblock; using the newest valid copy of every pair\n");
		memset(&s, 0, sizeof(s));
		s.ops = &load_ops;
		s.ctx = &l;
		s.buf[0] = bufs.b[0];
		s.buf[1] = bufs.b[1];
		s.flags = DMR_SCAN_KEEP_GOING | DMR_SCAN_NO_SB;
		s.geo = st.geo;
		s.sb_copy = -1;
		s.sb.generation = DMR_MAX_GENERATION;
		memcpy(s.sb.uuid, st.uuid, DMR_UUID_SIZE);
		dmr_scan_pairs(&s);
		r = (long)s.nr_errors;
	}
	if (r < 0 || d.io_error || l.oom) {
		tool_err("cannot read %s", o->dev);
		ret = EXIT_USAGE;
		goto out;
	}
	fixed = md_state_validate(&st, true, print_problem, &l);
	if (r || fixed)
		printf("repair: %ld problems found; damaged blocks and invalid records dropped as reported above\n",
		       r + (long)fixed);
	if (set_uuid(o, &st, true))
		goto out;
	ret = open_target(&out, o->output, &st.geo, o->force, true);
	if (ret) {
		ret = target_exit(ret);
		goto out;
	}
	ret = finish_write(&out, &st, "repair");
	dev_close(&out);
out:
	bufs_free(&bufs);
	md_state_free(&st);
	dev_close(&d);
	return ret;
}

/* ---- main --------------------------------------------------------------- */

/* ---- offline import (import.c plans, this applies) ---------------------- */

int offline_geometry(const char *spare, u64 spare_start, u64 *sectors, u64 *bs)
{
	struct scan_bufs bufs = { { NULL, NULL } };
	struct dmr_scan s;
	struct dev d;
	int r = -ENOMEM;

	if (dev_open(&d, spare, false, false))
		return -EIO;
	if (bufs_alloc(&bufs) || dev_set_base(&d, spare_start, 2 * DMR_MD_BLOCK_SECTORS))
		goto out;
	r = scan_sbs(&d, &bufs, &s);
	if (s.sb_copy < 0) {
		tool_err("%s: no dm-remap metadata at sector %" PRIu64 "%s%s", spare,
			 spare_start, s.why ? ": " : "", s.why ? s.why : "");
		r = r ? r : -EUCLEAN;
		goto out;
	}
	*sectors = s.geo.main_sectors;
	*bs = s.geo.block_size;
	r = 0;
out:
	bufs_free(&bufs);
	dev_close(&d);
	return r;
}

/*
 * Claim block device @path exclusively (O_EXCL), as a live table would:
 * fails with EBUSY while one uses it. -1 after an error, else an fd (-2 for
 * a regular file, nothing to claim).
 */
static int claim(const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return -2;
	fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		tool_err("cannot open %s: %s%s", path, strerror(errno),
			 errno == EBUSY ? " (in use; for an open remap device: import FILE NAME)" : "");
	return fd;
}

/* Read (main) or write (spare) one block at byte @off; 0 or -errno. */
static int block_rw(int fd, bool write, void *buf, size_t len, u64 off)
{
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) :
			    pread(fd, buf, len, (off_t)off);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int offline_import(const char *mainp, const char *sparep, u64 spare_start,
		   const u64 *blocks, size_t nr, struct import_result *res)
{
	struct opts o = { .spare_start = spare_start };
	struct scan_bufs bufs = { { NULL, NULL } };
	struct md_writer w;
	struct md_state st;
	struct dmr_scan s;
	struct dev d;
	struct load l = { .dev = &d, .st = &st, .print = true, .quiet = true,
			  .to_stderr = true };
	u64 slot = 0, i, bs;
	size_t nm, np;
	unsigned char *used = NULL;
	struct stat ms, ss;
	void *buf = NULL;
	int mfd = -1, cm, cs = -2, ret = EX_USAGE;
	long r;

	memset(res, 0, sizeof(*res));
	md_state_init(&st);
	d.fd = -1;
	/* Main and spare may be one disk (spare=tail:): claim it once. */
	cm = claim(mainp);
	if (cm == -1)
		return EX_FAIL;
	if (stat(mainp, &ms) || stat(sparep, &ss) || !S_ISBLK(ms.st_mode) ||
	    ms.st_rdev != ss.st_rdev)
		cs = claim(sparep);
	if (cs == -1) {
		ret = EX_FAIL;
		goto out;
	}
	mfd = open(mainp, O_RDONLY | O_CLOEXEC);
	if (mfd < 0) {
		tool_err("cannot open %s: %s", mainp, strerror(errno));
		goto out;
	}
	/* A cached copy of a block must not hide its read error. */
	if (cm >= 0 && ioctl(mfd, BLKFLSBUF, 0))
		tool_err("%s: cannot drop its cache: %s", mainp, strerror(errno));
	if (dev_open(&d, sparep, true, false) || bufs_alloc(&bufs))
		goto out;
	/* The pairs' current copies: the commit writes the others. */
	l.track = true;
	r = load_state(&l, &o, &s, &bufs);
	if (r) {
		tool_err("%s: metadata %s; nothing imported (see 'check')", sparep,
			 r < 0 ? "unusable" : "damaged");
		goto out;
	}
	bs = st.geo.block_size;
	used = calloc(st.geo.nr_slots / 8 + 1, 1);
	buf = aligned_alloc(4096, bs < 4096 ? 4096 : bs);
	if (!used || !buf)
		goto out;
	for (i = 0; i < st.nr_maps; i++)
		used[st.maps[i].slot / 8] |= 1 << (st.maps[i].slot % 8);
	for (i = 0; i < st.nr_bad; i++)
		used[st.bad[i] / 8] |= 1 << (st.bad[i] % 8);

	ret = EX_OK;
	nm = st.nr_maps;
	np = st.nr_pending;
	for (i = 0; i < nr; i++) {
		/* The loaded records only: they are sorted, the new ones not. */
		struct md_state loaded = st;
		u64 b = blocks[i];

		loaded.nr_maps = nm;
		loaded.nr_pending = np;
		if (md_state_has_block(&loaded, b)) {
			res->already++;
			continue;
		}
		if (block_rw(mfd, false, buf, bs, b * bs)) {
			if (st.nr_pending + res->pending >= st.geo.pending_capacity) {
				res->no_space++;
				continue;
			}
			res->pending++;
			if (md_state_add_pending(&st, b))
				goto oom;
			continue;
		}
		for (;;) {	/* a slot that takes the data; bad ones are marked */
			while (slot < st.geo.nr_slots && used[slot / 8] & 1 << (slot % 8))
				slot++;
			if (slot == st.geo.nr_slots ||
			    !block_rw(d.fd, true, buf, bs,
				      dmr_slot_sector(&st.geo, slot) * 512))
				break;
			used[slot / 8] |= 1 << (slot % 8);
			if (md_state_add_bad(&st, slot))
				goto oom;
			res->bad_slots++;
		}
		if (slot == st.geo.nr_slots) {
			res->no_space++;
			continue;
		}
		used[slot / 8] |= 1 << (slot % 8);
		if (md_state_add_map(&st, b, slot, 0))
			goto oom;
		res->remapped++;
	}
	if (res->no_space)
		ret = EX_FAIL;
	if (!res->remapped && !res->pending && !res->bad_slots)
		goto out;
	if (md_state_validate(&st, false, stderr_problem, NULL)) {
		tool_err("%s: the new state is invalid: nothing written", sparep);
		ret = EX_USAGE;
		goto out;
	}
	w = (struct md_writer){ &d, dev_read_or_zero, dev_write, dev_sync };
	/* The copies reach the disk with the first sync of the commit. */
	if (md_state_commit(&st, &w, l.cur, s.next_gen, &s.sb)) {
		tool_err("%s: commit failed: the metadata is as before", sparep);
		ret = EX_USAGE;
	}
	goto out;
oom:
	tool_err("out of memory: nothing written");
	ret = EX_USAGE;
out:
	free(buf);
	free(used);
	free(l.cur);
	bufs_free(&bufs);
	md_state_free(&st);
	if (d.fd >= 0)
		dev_close(&d);
	if (mfd >= 0)
		close(mfd);
	if (cm >= 0)
		close(cm);
	if (cs >= 0)
		close(cs);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int r;

	if (argc < 2)
		return tool_usage("COMMAND", "missing COMMAND");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && find_help(argv[2]))
			print_cmd_help(find_help(argv[2]), stdout);
		else
			print_main_help(stdout);
		return EXIT_CLEAN;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf(TOOL " %s (metadata format version %u)\n", TOOL_VERSION,
		       DMR_FORMAT_VERSION);
		return EXIT_CLEAN;
	}
	if (host_command(argv[1]))
		return host_main(argc - 1, argv + 1);
	o.cmd = argv[1];
	if (!find_help(o.cmd))
		return tool_usage("COMMAND", "unknown command '%s'", o.cmd);
	r = parse_opts(argc - 1, argv + 1, &o);
	if (r)
		return r;
	if (!strcmp(o.cmd, "check"))
		return cmd_check(&o);
	if (!strcmp(o.cmd, "dump"))
		return cmd_print(&o, print_dump);
	if (!strcmp(o.cmd, "export"))
		return cmd_print(&o, print_export);
	if (!strcmp(o.cmd, "restore"))
		return cmd_restore(&o);
	if (!strcmp(o.cmd, "repair"))
		return cmd_repair(&o);
	if (o.npos)
		return host_format(o.npos, o.pos, o.force);
	return cmd_format(&o);
}
