// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap-tool import: reads the bad-block lists users already have and
 * remaps the listed blocks of a live remap device, through dm-ops.c (status,
 * remap messages), or offline, through dm-remap-tool.c's offline_import().
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-ops.h"
#include "host.h"
#include "msg.h"

enum fmt { F_BADBLOCKS, F_DDRESCUE, F_LBA, F_MDADM };
static const char *const fmt_names[] = { "badblocks", "ddrescue", "lba", "mdadm" };
/* the list's unit when -b is not given; 0: the format says (bytes, sectors) */
static const uint64_t fmt_unit[] = { 1024, 0, 512, 0 };

/* One listed area, in bytes of the remap device, and where it was listed. */
struct area {
	uint64_t start, end;
	unsigned int line;
};

struct list {
	struct area *a;
	size_t n, cap;
	unsigned int errors;
	const char *path;
};

__attribute__((format(printf, 3, 4)))
static void bad_line(struct list *l, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, TOOL ": %s:%u: ", l->path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	l->errors++;
}

/* A number: decimal (leading zeroes too), or 0x hexadecimal when @hex. */
static int num(const char *s, bool hex, uint64_t *v)
{
	char *end;
	u64 d;

	if (!hex || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
		if (parse_dec(s, &d))
			return -1;
		*v = d;
		return 0;
	}
	if (!isxdigit((unsigned char)s[2]))
		return -1;
	errno = 0;
	*v = strtoull(s + 2, &end, 16);
	return errno || *end ? -1 : 0;
}

/* Add [pos, pos + len) units of @unit bytes, shifted by @off bytes. */
static int add(struct list *l, unsigned int line, uint64_t pos, uint64_t len,
	       uint64_t unit, uint64_t off)
{
	uint64_t start, end;

	if (__builtin_mul_overflow(pos, unit, &start) ||
	    __builtin_add_overflow(start, off, &start) ||
	    __builtin_mul_overflow(len, unit, &end) ||
	    __builtin_add_overflow(end, start, &end)) {
		bad_line(l, line, "position too large");
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct area *a = realloc(l->a, cap * sizeof(*a));

		if (!a)
			return -1;
		l->a = a;
		l->cap = cap;
	}
	l->a[l->n++] = (struct area){ start, end, line };
	return 0;
}

/* badblocks -o and plain LBA lists: one number per line. */
static int parse_numbers(struct list *l, unsigned int line, char *s, bool lba,
			 uint64_t unit, uint64_t off)
{
	char *f[2];
	uint64_t v;
	int n;

	if (lba && strchr(s, '#'))
		*strchr(s, '#') = '\0';
	n = split_blanks(s, f, 1);
	if (!n)
		return 0;
	if (n > 1 || num(f[0], lba, &v)) {
		bad_line(l, line, "expected one %s number", lba ? "LBA" : "block");
		return 0;
	}
	return add(l, line, v, 1, unit, off);
}

/*
 * GNU ddrescue mapfile: comments, a status line "pos status [pass]", then
 * "pos size status" in bytes; '-' (bad sector) and '/' (not scraped) areas
 * are the ones that failed.
 */
static int parse_ddrescue(struct list *l, unsigned int line, char *s,
			  bool *status_seen, uint64_t off)
{
	char *f[4];
	uint64_t pos, size;
	int n;

	if (*s == '#')
		return 0;
	n = split_blanks(s, f, 3);
	if (!n)
		return 0;
	if (!*status_seen) {
		*status_seen = true;
		if ((n == 2 || n == 3) && !num(f[0], true, &pos) && strlen(f[1]) == 1)
			return 0;
		bad_line(l, line, "expected the status line 'pos status [pass]'");
		return 0;
	}
	if (n != 3 || num(f[0], true, &pos) || num(f[1], true, &size) ||
	    strlen(f[2]) != 1 || !strchr("?*/-+", f[2][0])) {
		bad_line(l, line, "expected 'pos size status' (status one of ?*/-+)");
		return 0;
	}
	if (f[2][0] != '-' && f[2][0] != '/')
		return 0;
	if (!size) {
		bad_line(l, line, "empty area");
		return 0;
	}
	return add(l, line, pos, size, 1, off);
}

/* mdadm --examine-badblocks: "Bad-blocks on DEV:", then "SECTOR for N sectors". */
static int parse_mdadm(struct list *l, unsigned int line, char *s, uint64_t off)
{
	char *f[5];
	uint64_t sector, count;
	int n;

	if (!strncmp(s, "Bad-blocks on ", 14) || !strncmp(s, "Bad-blocks list is empty", 24) ||
	    !strncmp(s, "No bad-blocks list configured", 29))
		return 0;
	n = split_blanks(s, f, 4);
	if (!n)
		return 0;
	if (n != 4 || num(f[0], false, &sector) || strcmp(f[1], "for") ||
	    num(f[2], false, &count) || !count ||
	    (strcmp(f[3], "sectors") && strcmp(f[3], "sector"))) {
		bad_line(l, line, "expected 'SECTOR for N sectors'");
		return 0;
	}
	return add(l, line, sector, count, 512, off);
}

static int parse_file(FILE *fp, struct list *l, enum fmt fmt, uint64_t unit,
		      uint64_t off)
{
	bool status_seen = false;
	unsigned int line = 0;
	char *s = NULL;
	size_t cap = 0;
	int r = 0;

	while (!r && getline(&s, &cap, fp) >= 0) {
		line++;
		switch (fmt) {
		case F_BADBLOCKS:
		case F_LBA:
			r = parse_numbers(l, line, s, fmt == F_LBA, unit, off);
			break;
		case F_DDRESCUE:
			r = parse_ddrescue(l, line, s, &status_seen, off);
			break;
		case F_MDADM:
			r = parse_mdadm(l, line, s, off);
			break;
		}
	}
	free(s);
	if (fmt == F_DDRESCUE && !status_seen && !r)
		bad_line(l, line, "no status line: not a ddrescue mapfile");
	return r;
}

static int cmp_area(const void *a, const void *b)
{
	const struct area *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct run {
	uint64_t first, count;	/* remap blocks */
};

/* Sorted, merged runs of the remap blocks the areas touch. */
static struct run *plan_runs(struct list *l, uint64_t bs, size_t *nr,
			     uint64_t *blocks)
{
	struct run *r = calloc(l->n ? l->n : 1, sizeof(*r));
	size_t i, n = 0;

	*blocks = 0;
	if (!r)
		return NULL;
	qsort(l->a, l->n, sizeof(*l->a), cmp_area);
	for (i = 0; i < l->n; i++) {
		uint64_t first = l->a[i].start / bs, last = (l->a[i].end - 1) / bs;

		if (n && first <= r[n - 1].first + r[n - 1].count) {
			if (last >= r[n - 1].first + r[n - 1].count)
				r[n - 1].count = last - r[n - 1].first + 1;
			continue;
		}
		r[n++] = (struct run){ first, last - first + 1 };
	}
	for (i = 0; i < n; i++)
		*blocks += r[i].count;
	*nr = n;
	return r;
}

static const char import_usage[] =
"SYNOPSIS\n"
"  " TOOL " import -F FORMAT [-b BYTES] [-O N] [-n] FILE NAME\n"
"  " TOOL " import -F FORMAT [-b BYTES] [-O N] [-n] [-s N] FILE MAIN SPARE\n"
"\n"
"DESCRIPTION\n"
"  Reads a list of bad blocks of the device under remap device NAME and\n"
"  remaps every block it touches, as the 'remap' message does: a block\n"
"  that reads is copied to the spare area, one that does not becomes\n"
"  pending (its next full write remaps it). The whole file is checked\n"
"  first: a malformed line, or one past the end of NAME, is reported\n"
"  with its number and nothing is done. The plan is printed before it is\n"
"  carried out.\n"
"  With MAIN and SPARE instead of NAME the devices are not in use (no\n"
"  remap device open on them): the same is done offline, and written into\n"
"  the metadata of SPARE (at sector -s) by one commit that a crash either\n"
"  makes whole or leaves out. Blocks already remapped or pending are left.\n"
"  FORMAT is one of:\n"
"    badblocks  badblocks(8) -o output: one block number per line,\n"
"               in units of -b (badblocks' -b; default 1024)\n"
"    ddrescue   a GNU ddrescue mapfile: its '-' (bad sector) and '/'\n"
"               (not scraped) areas\n"
"    lba        one LBA per line, decimal or 0x hexadecimal, '#' comments,\n"
"               in units of -b (default 512): smartctl's LBA_of_first_error\n"
"    mdadm      mdadm --examine-badblocks output (sectors from the start of\n"
"               the member's data area: give its data offset with -O)\n"
"\n"
"OPTIONS\n"
"  -F, --format FORMAT      the list's format (required)\n"
"  -b, --unit BYTES         badblocks and lba: bytes per listed number\n"
"  -O, --offset N           sectors to add to every listed position: where\n"
"                           the listed device starts on NAME (default 0)\n"
"  -n, --dry-run            print the plan only\n"
"  -s, --spare-start N      offline: where the spare area starts on SPARE,\n"
"                           in sectors (default 0)\n"
"  -h, --help               this text\n"
"\n"
"EXIT STATUS\n"
"  0  every listed block is remapped or pending\n"
"  1  some could not be (spare full, a message failed, a device in use)\n"
"  2  usage error, or an error in FILE: nothing done\n"
"\n"
"EXAMPLES\n"
"  badblocks -b 4096 -o bad.txt /dev/sdb && " TOOL " import -F badblocks -b 4096 bad.txt data\n"
"  " TOOL " import -F ddrescue -n sdb.map data\n"
"  " TOOL " import -F lba -b 512 smart.txt /dev/sdb /dev/sdc\n";

/* Send the runs as remap messages; 0 if every block was handled. */
static int apply(const char *name, const struct run *r, size_t n, uint64_t bss)
{
	uint64_t sum[4] = { 0 };
	static const char *const keys[] = { "remapped", "already", "no_space", "copy_failed" };
	char msg[96], ans[512], val[32];
	size_t i, k;
	int failed = 0;

	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "remap %" PRIu64 " %" PRIu64,
			 r[i].first * bss, r[i].count * bss);
		if (remap_message(name, msg, ans, sizeof(ans))) {
			tool_err("%s: message '%s' failed", name, msg);
			failed = 1;
			continue;
		}
		for (k = 0; k < 4; k++)
			sum[k] += strtoull(status_field(ans, keys[k], val, sizeof(val)), NULL, 10);
	}
	printf("import: remapped=%" PRIu64 " already=%" PRIu64 " pending=%" PRIu64
	       " no_space=%" PRIu64 "\n", sum[0], sum[1], sum[3], sum[2]);
	return failed || sum[2] ? 1 : 0;
}

/* Offline: the listed blocks of @r, one by one, into the spare's metadata. */
static int apply_offline(const char *mainp, const char *sparep, uint64_t start,
			 const struct run *r, size_t n, uint64_t blocks)
{
	struct import_result res;
	uint64_t *b = malloc((blocks ? blocks : 1) * sizeof(*b)), k = 0, j;
	size_t i;
	int ret;

	if (!b) {
		tool_err("out of memory");
		return EX_USAGE;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < r[i].count; j++)
			b[k++] = r[i].first + j;
	ret = offline_import(mainp, sparep, start, b, k, &res);
	free(b);
	if (ret == EX_USAGE)
		return ret;
	printf("import: remapped=%" PRIu64 " already=%" PRIu64 " pending=%" PRIu64
	       " no_space=%" PRIu64 " bad_slots=%" PRIu64 "\n", res.remapped,
	       res.already, res.pending, res.no_space, res.bad_slots);
	return ret;
}

int host_import(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "unit", required_argument, NULL, 'b' },
		{ "offset", required_argument, NULL, 'O' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "spare-start", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct list l = { NULL, 0, 0, 0, NULL };
	uint64_t unit = 0, off = 0, sectors, bs, blocks, start = 0;
	int fmt = -1, c, ret = EX_USAGE, npos;
	bool dry = false, have_start = false;
	const char *name;
	struct run *runs = NULL;
	size_t i, nr;
	FILE *fp;

	optind = 1;
	while ((c = getopt_long(argc, argv, "F:b:O:ns:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			for (fmt = 0; fmt < 4 && strcmp(optarg, fmt_names[fmt]); fmt++)
				;
			if (fmt == 4)
				return tool_usage("import", "unknown format '%s'", optarg);
			break;
		case 'b':
			if (num(optarg, false, &unit) || !unit || unit > 1 << 20)
				return tool_usage("import", "bad --unit '%s': 1 to 1048576 bytes", optarg);
			break;
		case 'O':
			if (num(optarg, false, &off) || off > UINT64_MAX >> 9)
				return tool_usage("import", "bad --offset '%s'", optarg);
			break;
		case 'n':
			dry = true;
			break;
		case 's':
			if (num(optarg, false, &start) || start > UINT64_MAX >> 9)
				return tool_usage("import", "bad --spare-start '%s'", optarg);
			have_start = true;
			break;
		case 'h':
			printf("NAME\n  " TOOL " import - remap the blocks of a bad-block list\n\n%s",
			       import_usage);
			return EX_OK;
		default:
			return tool_usage("import", "bad option for 'import'");
		}
	}
	if (fmt < 0)
		return tool_usage("import", "import needs -F FORMAT");
	if (unit && !fmt_unit[fmt])
		return tool_usage("import", "--unit is for badblocks and lba lists");
	npos = argc - optind;
	if (npos != 2 && npos != 3)
		return tool_usage("import", "import takes FILE and NAME, or FILE MAIN SPARE");
	if (have_start && npos == 2)
		return tool_usage("import", "--spare-start is for FILE MAIN SPARE (offline)");
	name = argv[optind + 1];
	if (!unit)
		unit = fmt_unit[fmt];
	l.path = argv[optind];
	fp = strcmp(l.path, "-") ? fopen(l.path, "r") : stdin;
	if (!fp) {
		tool_err("cannot read %s: %s", l.path, strerror(errno));
		return EX_USAGE;
	}
	if (parse_file(fp, &l, fmt, unit, off << 9)) {
		tool_err("out of memory");
		goto out;
	}
	if (l.errors) {
		tool_err("%u error%s in %s: nothing done", l.errors,
			 l.errors == 1 ? "" : "s", l.path);
		goto out;
	}
	if (npos == 3 ? offline_geometry(argv[optind + 2], start, &sectors, &bs) :
			remap_geometry(name, &sectors, &bs)) {
		if (npos == 2)
			tool_err("%s: not an open remap device", name);
		ret = EX_FAIL;
		goto out;
	}
	for (i = 0; i < l.n; i++)
		if (l.a[i].end > sectors << 9)
			bad_line(&l, l.a[i].line, "bytes %" PRIu64 "-%" PRIu64
				 " lie past the end of %s (%" PRIu64 " bytes)",
				 l.a[i].start, l.a[i].end - 1, name, sectors << 9);
	if (l.errors) {
		tool_err("%u error%s in %s: nothing done", l.errors,
			 l.errors == 1 ? "" : "s", l.path);
		goto out;
	}
	runs = plan_runs(&l, bs, &nr, &blocks);
	if (!runs) {
		tool_err("out of memory");
		goto out;
	}
	printf("import: %s: %zu %s entr%s, %" PRIu64 " blocks of %" PRIu64
	       " bytes in %zu runs\n", l.path, l.n, fmt_names[fmt],
	       l.n == 1 ? "y" : "ies", blocks, bs, nr);
	for (i = 0; i < nr && i < 100; i++)
		printf("  remap %" PRIu64 " %" PRIu64 "\t(blocks %" PRIu64 "-%" PRIu64 ")\n",
		       runs[i].first * (bs >> 9), runs[i].count * (bs >> 9),
		       runs[i].first, runs[i].first + runs[i].count - 1);
	if (nr > 100)
		printf("  ... %zu more runs\n", nr - 100);
	if (dry)
		ret = EX_OK;
	else if (npos == 3)
		ret = apply_offline(name, argv[optind + 2], start, runs, nr, blocks);
	else
		ret = apply(name, runs, nr, bs >> 9);
out:
	if (fp != stdin)
		fclose(fp);
	free(runs);
	free(l.a);
	return ret;
}
