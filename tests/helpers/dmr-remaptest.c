// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmr-remaptest: drive and check dm-remap's remap table from the guest.
 * Sends target messages through the device-mapper ioctl directly (one
 * process for hundreds of messages; dmsetup costs ~0.1 s each in the VM),
 * keeps a model of the remapped block set (a file of block numbers, one per
 * line, ascending) and checks every answer against it.
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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>

#define MSG_BUF		(1u << 20)
#define MAXIO		(1u << 20)

static const char *prog = "dmr-remaptest";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, ": %s\n", strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
"usage: dmr-remaptest COMMAND ARGS (NAME is the dm device name)\n"
"  msg NAME WORD...          send one message; print the answer; exit 1 and\n"
"                            print 'error: E<NAME> (errno)' if refused\n"
"  batch NAME                messages from stdin, one a line; prints 'ok ANSWER'\n"
"                            (newlines as ' | ') or 'err ERRNO' per line\n"
"  list NAME [PAGE]          every remap via 'list' paging (PAGE per call,\n"
"                            default 64), checking the paging; prints\n"
"                            '<sector> <block> <slot> <spare_sector>' lines\n"
"  storm NAME SET key=val... random remap/unremap messages checked against\n"
"                            the model SET (updated): bs=SECTORS blocks=N\n"
"                            [seed=1] [remaps=N] [msgs=N] [maxrun=N]\n"
"                            [unremap=PCT] [single=PCT] [slots=N] [sleep=US]\n"
"                            [from=BLOCK] [to=BLOCK] [hit=PCT: unremaps start\n"
"                            at a remapped block] [retry_busy=1: retry EBUSY]\n"
"                            (stops early when the file $STORM_STOP exists)\n"
"  checkmap NAME SET LIST key=val...  LIST (from 'list') must hold exactly\n"
"                            SET, slots distinct, sectors consistent; query\n"
"                            every listed block and samples=N others:\n"
"                            bs=SECTORS blocks=N data_start=S [samples=N]\n"
"                            [qmax=N: query about N of the listed blocks]\n"
"  bwrite DEV MODEL SEED OPS SET BS_BYTES direct|buffered\n"
"                            random writes across the boundaries of the\n"
"                            blocks in SET; MODEL (a dmr-iotest model) follows\n"
"  iomark read|write DEV OFFSET LEN|FILE NAME MARK\n"
"                            one O_DIRECT read of LEN bytes, or write of\n"
"                            FILE's content, at byte OFFSET of DEV; the\n"
"                            moment it returns, 'mark MARK' to the dm device\n"
"                            NAME (dm-log-writes). Prints 'ok' or 'error:\n"
"                            E<NAME>'; exit 0 or 1, the mark is sent either\n"
"                            way (2: usage, mark refused)\n"
"  sparecheck SPARE MODEL LIST BS_BYTES   every listed block's spare copy\n"
"                            equals the model\n"
"  geometry BS_BYTES MAIN_SECTORS SPARE_START SPARE_LEN\n"
"                            nr_slots, md_sectors and data_start by the\n"
"                            formula of docs/metadata-format.md\n"
"  gendump FILE N key=val... a restore dump with N random remaps:\n"
"                            bs=BYTES main=SECTORS spare_start=S spare_len=S\n"
"                            [seed=1]; also writes FILE.set\n");
	exit(2);
}

/* ---- random numbers -------------------------------------------------- */

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
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

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end) {
		fprintf(stderr, "%s: not a number: '%s'\n", prog, s);
		exit(2);
	}
	return v;
}

/* key=value options; returns def when absent. */
static uint64_t opt(int argc, char **argv, const char *key, uint64_t def,
		    bool required)
{
	size_t kl = strlen(key);
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], key, kl) && argv[i][kl] == '=')
			return num(argv[i] + kl + 1);
	if (required) {
		fprintf(stderr, "%s: missing %s=\n", prog, key);
		exit(2);
	}
	return def;
}

/* ---- device-mapper messages ------------------------------------------ */

static int ctl_fd = -1;
static struct dm_ioctl *dmi;

static void ctl_open(void)
{
	if (ctl_fd >= 0)
		return;
	ctl_fd = open("/dev/mapper/control", O_RDWR);
	if (ctl_fd < 0)
		die("open %s", "/dev/mapper/control");
	dmi = aligned_alloc(8, MSG_BUF);
	if (!dmi)
		die("%s", "malloc");
}

/* Send @msg to @name; 0 and the answer (maybe "") in *out, or -errno. */
static int dm_msg(const char *name, const char *msg, const char **out)
{
	struct dm_target_msg *tm;
	size_t ml = strlen(msg);

	ctl_open();
	if (strlen(name) >= DM_NAME_LEN ||
	    sizeof(*dmi) + sizeof(*tm) + ml + 1 > MSG_BUF) {
		errno = EINVAL;
		die("message too long: %s", msg);
	}
	memset(dmi, 0, sizeof(*dmi) + sizeof(*tm) + ml + 1);
	dmi->version[0] = DM_VERSION_MAJOR;
	dmi->data_size = MSG_BUF;
	dmi->data_start = sizeof(*dmi);
	strcpy(dmi->name, name);
	tm = (struct dm_target_msg *)((char *)dmi + dmi->data_start);
	tm->sector = 0;
	memcpy(tm->message, msg, ml + 1);
	if (ioctl(ctl_fd, DM_TARGET_MSG, dmi))
		return -errno;
	if (dmi->flags & DM_BUFFER_FULL_FLAG) {
		fprintf(stderr, "%s: answer to '%s' overflowed %u bytes\n", prog,
			msg, MSG_BUF);
		exit(2);
	}
	*out = (dmi->flags & DM_DATA_OUT_FLAG) ?
		(char *)dmi + dmi->data_start : "";
	return 0;
}

static const char *errname(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case ENODEV: return "ENODEV";
	default: return "E?";
	}
}

/* Answer must parse; dies with a message otherwise. */
static const char *must_msg(const char *name, const char *msg)
{
	const char *ans;
	int r = dm_msg(name, msg, &ans);

	if (r) {
		fprintf(stderr, "%s: message '%s' refused: %s (%d)\n", prog, msg,
			strerror(-r), -r);
		exit(1);
	}
	return ans;
}

static int cmd_msg(int argc, char **argv)
{
	char buf[4096] = "";
	const char *ans;
	int i, r;

	if (argc < 2)
		usage();
	for (i = 1; i < argc; i++) {
		if (strlen(buf) + strlen(argv[i]) + 2 > sizeof(buf))
			usage();
		if (i > 1)
			strcat(buf, " ");
		strcat(buf, argv[i]);
	}
	r = dm_msg(argv[0], buf, &ans);
	if (r) {
		printf("error: %s (%d)\n", errname(-r), -r);
		return 1;
	}
	if (*ans)
		printf("%s\n", ans);
	return 0;
}

static int cmd_batch(int argc, char **argv)
{
	char line[4096];
	const char *ans;
	int bad = 0, r;

	if (argc != 1)
		usage();
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		r = dm_msg(argv[0], line, &ans);
		if (r) {
			printf("err %s\n", errname(-r));
			bad = 1;
			continue;
		}
		printf("ok ");
		for (; *ans; ans++)
			fputs(*ans == '\n' ? " | " : (char[]){*ans, 0}, stdout);
		putchar('\n');
	}
	return bad;
}

/* ---- list paging ----------------------------------------------------- */

struct ent {
	uint64_t sector, block, slot, spare;
};

/*
 * Read every remap by paging; checks count= against the lines, ascending
 * blocks, next= = the first sector of the next page. Returns the number
 * of entries, fills *out (malloc'd).
 */
static size_t list_all(const char *name, uint64_t page, struct ent **out,
		       uint64_t *pages)
{
	size_t n = 0, cap = 1024;
	struct ent *e = malloc(cap * sizeof(*e));
	uint64_t from = 0, expect_first = UINT64_MAX;
	char msg[128];

	*pages = 0;
	for (;;) {
		unsigned long long count;
		char next[32];
		const char *ans, *p;
		uint64_t i;

		snprintf(msg, sizeof(msg), "list %" PRIu64 " %" PRIu64, from, page);
		ans = must_msg(name, msg);
		(*pages)++;
		if (sscanf(ans, "count=%llu next=%31s", &count, next) != 2) {
			fprintf(stderr, "%s: bad list answer: %.200s\n", prog, ans);
			exit(1);
		}
		if (count > page) {
			fprintf(stderr, "%s: list %s: count=%llu > max\n", prog,
				msg, count);
			exit(1);
		}
		p = strchr(ans, '\n');
		for (i = 0; i < count; i++) {
			struct ent x;

			if (!p || sscanf(p + 1, "%" SCNu64 " %" SCNu64 " %" SCNu64
					 " %" SCNu64, &x.sector, &x.block,
					 &x.slot, &x.spare) != 4) {
				fprintf(stderr, "%s: list '%s': count=%llu but line %" PRIu64
					" missing\n", prog, msg, count, i);
				exit(1);
			}
			p = strchr(p + 1, '\n');
			if (x.sector < from || (n && x.block <= e[n - 1].block)) {
				fprintf(stderr, "%s: list '%s': entry %" PRIu64
					" out of order\n", prog, msg, x.block);
				exit(1);
			}
			if (i == 0 && expect_first != UINT64_MAX &&
			    x.sector != expect_first) {
				fprintf(stderr, "%s: page at %" PRIu64 " starts with %"
					PRIu64 "\n", prog, from, x.sector);
				exit(1);
			}
			if (n == cap) {
				cap *= 2;
				e = realloc(e, cap * sizeof(*e));
			}
			e[n++] = x;
		}
		if (p) {
			fprintf(stderr, "%s: list '%s': more lines than count=%llu\n",
				prog, msg, count);
			exit(1);
		}
		if (!strcmp(next, "none"))
			break;
		if (count == 0) {
			fprintf(stderr, "%s: list '%s': next=%s on an empty page\n",
				prog, msg, next);
			exit(1);
		}
		from = num(next);
		if (from <= e[n - 1].sector) {
			fprintf(stderr, "%s: list next=%s not past the page\n", prog,
				next);
			exit(1);
		}
		expect_first = from;
	}
	*out = e;
	return n;
}

static int cmd_list(int argc, char **argv)
{
	struct ent *e;
	uint64_t pages, page = argc > 1 ? num(argv[1]) : 64;
	size_t i, n;

	if (argc < 1 || argc > 2)
		usage();
	n = list_all(argv[0], page, &e, &pages);
	for (i = 0; i < n; i++)
		printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		       e[i].sector, e[i].block, e[i].slot, e[i].spare);
	fprintf(stderr, "list: %zu entries in %" PRIu64 " pages of %" PRIu64 "\n",
		n, pages, page);
	free(e);
	return 0;
}

/* ---- the model set --------------------------------------------------- */

static unsigned char *set_load(const char *path, uint64_t blocks, uint64_t *n)
{
	unsigned char *s = calloc(blocks ? blocks : 1, 1);
	FILE *f = fopen(path, "r");
	unsigned long long b;

	*n = 0;
	if (!f)
		return s;	/* no file: empty set */
	while (fscanf(f, "%llu", &b) == 1) {
		if (b >= blocks || s[b]) {
			fprintf(stderr, "%s: %s: bad block %llu\n", prog, path, b);
			exit(2);
		}
		s[b] = 1;
		(*n)++;
	}
	fclose(f);
	return s;
}

static void set_save(const char *path, const unsigned char *s, uint64_t blocks)
{
	char tmp[4096];
	FILE *f;
	uint64_t b;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("create %s", tmp);
	for (b = 0; b < blocks; b++)
		if (s[b])
			fprintf(f, "%" PRIu64 "\n", b);
	if (fclose(f) || rename(tmp, path))
		die("write %s", path);
}

/*
 * Random remap/unremap messages; each answer must equal what the model
 * predicts. A single batch: blocks in order, already-remapped ones skipped,
 * the rest of the request no_space once the spare is full.
 */
static int cmd_storm(int argc, char **argv)
{
	const char *name, *path;
	uint64_t bs, blocks, remaps, msgs, maxrun, unpct, single, slots, sl;
	uint64_t from, to, hit, n_set, sent = 0, tot_re = 0, tot_un = 0, tot_al = 0;
	uint64_t tot_nr = 0, tot_ns = 0, nre = 0, nun = 0, eff = 0, busy = 0;
	unsigned int busy_run;
	const char *stop = getenv("STORM_STOP");
	bool retry_busy;
	unsigned char *set;
	struct timespec t0, t1;
	int bad = 0;

	if (argc < 2)
		usage();
	name = argv[0];
	path = argv[1];
	argc -= 2;
	argv += 2;
	bs = opt(argc, argv, "bs", 0, true);
	blocks = opt(argc, argv, "blocks", 0, true);
	rng_state = opt(argc, argv, "seed", 1, false) * 0x9E3779B97F4A7C15ULL | 1;
	remaps = opt(argc, argv, "remaps", UINT64_MAX, false);
	msgs = opt(argc, argv, "msgs", UINT64_MAX, false);
	maxrun = opt(argc, argv, "maxrun", 64, false);
	unpct = opt(argc, argv, "unremap", 0, false);
	single = opt(argc, argv, "single", 20, false);
	slots = opt(argc, argv, "slots", UINT64_MAX, false);
	sl = opt(argc, argv, "sleep", 0, false);
	from = opt(argc, argv, "from", 0, false);
	to = opt(argc, argv, "to", blocks, false);
	hit = opt(argc, argv, "hit", 0, false);
	retry_busy = opt(argc, argv, "retry_busy", 0, false);
	if (remaps == UINT64_MAX && msgs == UINT64_MAX)
		usage();
	if (!bs || from >= to || to > blocks || !maxrun)
		usage();
	set = set_load(path, blocks, &n_set);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	while (sent < msgs && tot_re < remaps) {
		if (stop && !access(stop, F_OK))
			break;
		bool un = rnd_below(100) < unpct;
		uint64_t run = rnd_below(100) < single ? 1 : 1 + rnd_below(maxrun);
		uint64_t first, sector, count, b, e_ch = 0, e_sk = 0, e_ns = 0;
		unsigned long long ch, sk, ns = 0, cf;
		const char *ans;
		char msg[128];
		int got;

		if (run > to - from)
			run = to - from;
		first = from + rnd_below(to - from - run + 1);
		if (un && n_set && rnd_below(100) < hit) {
			/* Start at a remapped block (from the model). */
			uint64_t tries = 0, b0;

			do
				b0 = from + rnd_below(to - from);
			while (!set[b0] && ++tries < 1000000);
			if (set[b0]) {
				first = b0 + run <= to ? b0 : to - run;
			}
		}
		/* Random sectors inside the first and last block. */
		sector = first * bs + rnd_below(bs);
		if (run == 1)
			count = 1 + rnd_below((first + 1) * bs - sector);
		else
			count = (first + run - 1) * bs + rnd_below(bs) + 1 - sector;
		if (run == 1 && rnd_below(2))
			snprintf(msg, sizeof(msg), "%s %" PRIu64,
				 un ? "unremap" : "remap", sector);
		else
			snprintf(msg, sizeof(msg), "%s %" PRIu64 " %" PRIu64,
				 un ? "unremap" : "remap", sector, count);
		for (b = first; b < first + run; b++) {
			if (un) {
				if (set[b]) {
					set[b] = 0;
					n_set--;
					e_ch++;
				} else {
					e_sk++;
				}
			} else if (set[b]) {
				e_sk++;
			} else if (n_set >= slots) {
				e_ns = first + run - b;
				break;
			} else {
				set[b] = 1;
				n_set++;
				e_ch++;
			}
		}
		for (busy_run = 0;;) {
			int r = dm_msg(name, msg, &ans);

			if (!r)
				break;
			/*
			 * Suspended: refused, nothing changed; retry. A
			 * suspend in the tests lasts seconds, and once the
			 * caller asks the storm to stop the device is live:
			 * EBUSY then is a device left suspended.
			 */
			if (r == -EBUSY && retry_busy && busy_run < 300 &&
			    !(stop && access(stop, F_OK) == 0)) {
				busy++;
				busy_run++;
				usleep(100000);
				continue;
			}
			fprintf(stderr, "%s: message '%s' refused: %s (%d)\n",
				prog, msg, strerror(-r), -r);
			return 1;
		}
		sent++;
		if (un)
			got = sscanf(ans, "unremapped=%llu not_remapped=%llu copy_failed=%llu",
				     &ch, &sk, &cf) == 3;
		else
			got = sscanf(ans, "remapped=%llu already=%llu no_space=%llu copy_failed=%llu",
				     &ch, &sk, &ns, &cf) == 4;
		if (!got || ch != e_ch || sk != e_sk || ns != e_ns || cf) {
			fprintf(stderr, "%s: '%s' answered '%s', model expects "
				"changed=%" PRIu64 " skipped=%" PRIu64 " no_space=%"
				PRIu64 "\n", prog, msg, ans, e_ch, e_sk, e_ns);
			bad = 1;
			break;
		}
		eff += ch > 0;
		if (un) {
			tot_un += ch;
			tot_nr += sk;
			nun++;
		} else {
			tot_re += ch;
			tot_al += sk;
			tot_ns += ns;
			nre++;
		}
		if (sl)
			usleep(sl);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	set_save(path, set, blocks);
	printf("storm: %" PRIu64 " messages (%" PRIu64 " remap, %" PRIu64
	       " unremap) in %.2f s: remapped=%" PRIu64 " already=%" PRIu64
	       " no_space=%" PRIu64 " unremapped=%" PRIu64 " not_remapped=%"
	       PRIu64 " effective=%" PRIu64 " model=%" PRIu64 " busy=%" PRIu64
	       "\n", sent, nre, nun,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       tot_re, tot_al, tot_ns, tot_un, tot_nr, eff, n_set, busy);
	return bad;
}

static size_t read_list_file(const char *path, struct ent **out)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 1024;
	struct ent *e = malloc(cap * sizeof(*e)), x;

	if (!f)
		die("open %s", path);
	while (fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		      &x.sector, &x.block, &x.slot, &x.spare) == 4) {
		if (n == cap) {
			cap *= 2;
			e = realloc(e, cap * sizeof(*e));
		}
		e[n++] = x;
	}
	fclose(f);
	*out = e;
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* LIST = SET, slots distinct and consistent, query agrees for each. */
static int cmd_checkmap(int argc, char **argv)
{
	const char *name, *setp, *listp;
	uint64_t bs, blocks, dstart, samples, n_set, i, *slots, bad = 0, qmax;
	uint64_t queried = 0;
	unsigned char *set;
	struct ent *e;
	size_t n;

	if (argc < 3)
		usage();
	name = argv[0];
	setp = argv[1];
	listp = argv[2];
	argc -= 3;
	argv += 3;
	bs = opt(argc, argv, "bs", 0, true);
	blocks = opt(argc, argv, "blocks", 0, true);
	dstart = opt(argc, argv, "data_start", 0, true);
	samples = opt(argc, argv, "samples", 200, false);
	qmax = opt(argc, argv, "qmax", UINT64_MAX, false);
	rng_state = opt(argc, argv, "seed", 7, false) | 1;
	set = set_load(setp, blocks, &n_set);
	n = read_list_file(listp, &e);
	if (n != n_set) {
		fprintf(stderr, "%s: list has %zu remaps, model %" PRIu64 "\n", prog,
			n, n_set);
		bad++;
	}
	slots = malloc((n + 1) * sizeof(*slots));
	for (i = 0; i < n; i++) {
		char msg[64], want[256];
		uint64_t sec = e[i].sector + rnd_below(bs);
		const char *ans;

		slots[i] = e[i].slot;
		if (e[i].block >= blocks || !set[e[i].block]) {
			if (bad++ < 10)
				fprintf(stderr, "%s: listed block %" PRIu64
					" not in the model\n", prog, e[i].block);
			continue;
		}
		set[e[i].block] = 2;
		if (e[i].sector != e[i].block * bs ||
		    e[i].spare != dstart + e[i].slot * bs) {
			if (bad++ < 10)
				fprintf(stderr, "%s: inconsistent list line %" PRIu64
					" %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", prog,
					e[i].sector, e[i].block, e[i].slot, e[i].spare);
		}
		if (n > qmax && rnd_below(n) >= qmax)
			continue;
		queried++;
		snprintf(msg, sizeof(msg), "query %" PRIu64, sec);
		ans = must_msg(name, msg);
		snprintf(want, sizeof(want), "sector=%" PRIu64 " block=%" PRIu64
			 " remapped slot=%" PRIu64 " spare_sector=%" PRIu64, sec,
			 e[i].block, e[i].slot, e[i].spare);
		if (strcmp(ans, want)) {
			if (bad++ < 10)
				fprintf(stderr, "%s: '%s' -> '%s', want '%s'\n", prog,
					msg, ans, want);
		}
	}
	for (i = 0; i < blocks; i++) {
		if (set[i] == 1) {
			if (bad++ < 10)
				fprintf(stderr, "%s: model block %" PRIu64
					" not listed\n", prog, i);
		}
	}
	qsort(slots, n, sizeof(*slots), cmp_u64);
	for (i = 1; i < n; i++) {
		if (slots[i] == slots[i - 1] && bad++ < 10)
			fprintf(stderr, "%s: slot %" PRIu64 " listed twice\n", prog,
				slots[i]);
	}
	/* Blocks not in the model answer "main". */
	for (i = 0; i < samples && n_set < blocks; i++) {
		uint64_t b, sec;
		char msg[64], want[128];
		const char *ans;

		do
			b = rnd_below(blocks);
		while (set[b]);
		sec = b * bs + rnd_below(bs);
		snprintf(msg, sizeof(msg), "query %" PRIu64, sec);
		ans = must_msg(name, msg);
		snprintf(want, sizeof(want), "sector=%" PRIu64 " block=%" PRIu64
			 " main", sec, b);
		if (strcmp(ans, want) && bad++ < 10)
			fprintf(stderr, "%s: '%s' -> '%s', want '%s'\n", prog, msg,
				ans, want);
	}
	if (bad) {
		fprintf(stderr, "%s: checkmap: %" PRIu64 " problems\n", prog, bad);
		return 1;
	}
	printf("checkmap: %zu remaps listed = model, %" PRIu64 " queried, %"
	       PRIu64 " unmapped blocks queried\n", n, queried, samples);
	return 0;
}

/* ---- data ------------------------------------------------------------ */

static uint64_t dev_size(int fd)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st))
		die("%s", "fstat");
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			die("%s", "BLKGETSIZE64");
		return sz;
	}
	return (uint64_t)st.st_size;
}

static void xpwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "%s: write of %zu at %" PRIu64 ": %s\n", prog, len,
			off, n < 0 ? strerror(errno) : "short write");
		exit(1);
	}
}

static void xpread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "%s: read of %zu at %" PRIu64 ": %s\n", prog, len,
			off, n < 0 ? strerror(errno) : "short read");
		exit(1);
	}
}

static void *xalloc(size_t n)
{
	void *p;

	if (posix_memalign(&p, 4096, n))
		die("%s", "posix_memalign");
	return p;
}

/* Writes that start or end inside a remapped block and cross its edge. */
static int cmd_bwrite(int argc, char **argv)
{
	const char *dev, *model;
	uint64_t ops, bsz, size, align = 1, n_set, nb, *list, i, k = 0;
	unsigned char *set, *buf = xalloc(MAXIO);
	bool direct;
	int fd, mfd;

	if (argc != 7)
		usage();
	dev = argv[0];
	model = argv[1];
	rng_state = num(argv[2]) | 1;
	ops = num(argv[3]);
	bsz = num(argv[5]);
	direct = !strcmp(argv[6], "direct");
	fd = open(dev, O_RDWR | (direct ? O_DIRECT : 0));
	mfd = open(model, O_RDWR);
	if (fd < 0 || mfd < 0)
		die("open %s", fd < 0 ? dev : model);
	size = dev_size(fd);
	if (direct) {
		int lbs;

		if (ioctl(fd, BLKSSZGET, &lbs))
			die("%s", "BLKSSZGET");
		align = (uint64_t)lbs;
	}
	nb = size / bsz;
	set = set_load(argv[4], nb, &n_set);
	if (!n_set) {
		fprintf(stderr, "%s: bwrite: empty set\n", prog);
		return 2;
	}
	list = malloc(n_set * sizeof(*list));
	for (i = 0; i < nb; i++)
		if (set[i])
			list[k++] = i;
	for (i = 0; i < ops; i++) {
		uint64_t b = list[rnd_below(n_set)];
		uint64_t edge = (b + rnd_below(2)) * bsz;
		uint64_t span = bsz * 2 < MAXIO / 2 ? bsz * 2 : MAXIO / 2;
		uint64_t pre = 1 + rnd_below(span), post = 1 + rnd_below(span);
		uint64_t off, end;

		off = edge > pre ? edge - pre : 0;
		end = edge + post < size ? edge + post : size;
		off = off / align * align;
		end = (end + align - 1) / align * align;
		if (end > size)
			end = size;
		if (end <= off)
			continue;
		fill_random(buf, end - off);
		xpwrite(fd, buf, end - off, off);
		xpwrite(mfd, buf, end - off, off);
	}
	if (fsync(fd) || fsync(mfd))
		die("%s", "fsync");
	printf("bwrite: %" PRIu64 " writes across edges of %" PRIu64
	       " remapped blocks (%s)\n", ops, n_set,
	       direct ? "direct" : "buffered");
	return 0;
}

/*
 * One I/O, then a dm-log-writes mark as soon as it returns: everything the
 * kernel did before completing the I/O is logged before the mark, and a
 * kernel that completes it early is caught with its commit still running
 * (dmsetup would take ~0.1 s to send the mark).
 */
static int cmd_iomark(int argc, char **argv)
{
	bool wr;
	uint64_t off, len;
	unsigned char *buf;
	char msg[256];
	const char *ans;
	ssize_t got;
	int fd, e = 0, r;

	if (argc != 6 || (strcmp(argv[0], "read") && strcmp(argv[0], "write")))
		usage();
	wr = !strcmp(argv[0], "write");
	off = num(argv[2]);
	if (wr) {
		int ffd = open(argv[3], O_RDONLY);

		if (ffd < 0)
			die("open %s", argv[3]);
		len = dev_size(ffd);
		buf = xalloc(len ? len : 1);
		xpread(ffd, buf, len, 0);
		close(ffd);
	} else {
		len = num(argv[3]);
		buf = xalloc(len ? len : 1);
	}
	snprintf(msg, sizeof(msg), "mark %s", argv[5]);
	ctl_open();
	fd = open(argv[1], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die("open %s", argv[1]);
	got = wr ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (got < 0)
		e = errno;
	else if ((uint64_t)got != len)
		e = EIO;
	r = dm_msg(argv[4], msg, &ans);
	if (r) {
		fprintf(stderr, "%s: '%s' to %s refused: %s\n", prog, msg,
			argv[4], strerror(-r));
		return 2;
	}
	close(fd);
	if (e) {
		printf("error: %s\n", errname(e));
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int cmd_sparecheck(int argc, char **argv)
{
	unsigned char *a = xalloc(65536), *b = xalloc(65536);
	uint64_t bsz, bad = 0;
	struct ent *e;
	size_t n, i;
	int fd, mfd;

	if (argc != 4)
		usage();
	bsz = num(argv[3]);
	fd = open(argv[0], O_RDONLY | O_DIRECT);
	mfd = open(argv[1], O_RDONLY);
	if (fd < 0 || mfd < 0)
		die("open %s", fd < 0 ? argv[0] : argv[1]);
	n = read_list_file(argv[2], &e);
	for (i = 0; i < n; i++) {
		xpread(fd, a, bsz, e[i].spare * 512);
		xpread(mfd, b, bsz, e[i].sector * 512);
		if (memcmp(a, b, bsz) && bad++ < 10)
			fprintf(stderr, "%s: spare slot %" PRIu64 " (sector %" PRIu64
				") differs from block %" PRIu64 "\n", prog,
				e[i].slot, e[i].spare, e[i].block);
	}
	if (bad) {
		fprintf(stderr, "%s: %" PRIu64 " spare blocks differ\n", prog, bad);
		return 1;
	}
	printf("sparecheck: %zu spare blocks hold the model's data\n", n);
	return 0;
}

/* ---- geometry (docs/metadata-format.md, section 2) -------------------- */

#define MD_E	506
#define MD_K	8

static uint64_t md_sectors(uint64_t s, uint64_t bs_sec)
{
	uint64_t n = (s + MD_E - 1) / MD_E;
	uint64_t blocks = 2 + 2 * n + 2 * MD_K;

	return (8 * blocks + bs_sec - 1) / bs_sec * bs_sec;
}

static uint64_t nr_slots(uint64_t bs_sec, uint64_t spare_len)
{
	uint64_t lo = 1, hi = spare_len / bs_sec, best = 0;

	while (lo <= hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (md_sectors(mid, bs_sec) + mid * bs_sec <= spare_len) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

static int cmd_geometry(int argc, char **argv)
{
	uint64_t bs_sec, start, len, s;

	if (argc != 4)
		usage();
	bs_sec = num(argv[0]) / 512;
	start = num(argv[2]);
	len = num(argv[3]);
	s = nr_slots(bs_sec, len);
	printf("nr_slots=%" PRIu64 " md_sectors=%" PRIu64 " data_start=%" PRIu64
	       " nr_blocks=%" PRIu64 "\n", s, md_sectors(s, bs_sec),
	       start + md_sectors(s, bs_sec), num(argv[1]) / bs_sec);
	return 0;
}

/* A dump with N random distinct blocks in N random distinct slots. */
static int cmd_gendump(int argc, char **argv)
{
	uint64_t n, bsz, main_sec, start, len, slots, blocks, i, *slot, *blk;
	unsigned char *used;
	char setp[4096];
	FILE *f, *sf;

	if (argc < 2)
		usage();
	n = num(argv[1]);
	bsz = opt(argc - 2, argv + 2, "bs", 4096, false);
	main_sec = opt(argc - 2, argv + 2, "main", 0, true);
	start = opt(argc - 2, argv + 2, "spare_start", 0, false);
	len = opt(argc - 2, argv + 2, "spare_len", 0, true);
	rng_state = opt(argc - 2, argv + 2, "seed", 1, false) | 1;
	slots = nr_slots(bsz / 512, len);
	blocks = main_sec / (bsz / 512);
	if (n > slots || n > blocks) {
		fprintf(stderr, "%s: %" PRIu64 " remaps do not fit (%" PRIu64
			" slots, %" PRIu64 " blocks)\n", prog, n, slots, blocks);
		return 2;
	}
	/* Partial Fisher-Yates over slots; blocks drawn without repeats. */
	slot = malloc(slots * sizeof(*slot));
	for (i = 0; i < slots; i++)
		slot[i] = i;
	for (i = 0; i < n; i++) {
		uint64_t j = i + rnd_below(slots - i), t = slot[i];

		slot[i] = slot[j];
		slot[j] = t;
	}
	used = calloc(blocks, 1);
	blk = malloc(n * sizeof(*blk));
	for (i = 0; i < n; i++) {
		uint64_t b;

		do
			b = rnd_below(blocks);
		while (used[b]);
		used[b] = 1;
		blk[i] = b;
	}
	f = fopen(argv[0], "w");
	if (!f)
		die("create %s", argv[0]);
	fprintf(f, "version 1\nblock_size %" PRIu64 "\nmain_sectors %" PRIu64
		"\nspare_start %" PRIu64 "\nspare_len %" PRIu64 "\nnr_slots %"
		PRIu64 "\nnr_mapped %" PRIu64 "\n", bsz, main_sec, start, len,
		slots, n);
	for (i = 0; i < n; i++)
		fprintf(f, "map %" PRIu64 " %" PRIu64 "\n", blk[i], slot[i]);
	fprintf(f, "end\n");
	if (fclose(f))
		die("write %s", argv[0]);
	snprintf(setp, sizeof(setp), "%s.set", argv[0]);
	sf = fopen(setp, "w");
	if (!sf)
		die("create %s", setp);
	for (i = 0; i < blocks; i++)
		if (used[i])
			fprintf(sf, "%" PRIu64 "\n", i);
	if (fclose(sf))
		die("write %s", setp);
	printf("gendump: %" PRIu64 " remaps over %" PRIu64 " slots, %" PRIu64
	       " blocks\n", n, slots, blocks);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "msg"))
		return cmd_msg(argc, argv);
	if (!strcmp(cmd, "batch"))
		return cmd_batch(argc, argv);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc, argv);
	if (!strcmp(cmd, "storm"))
		return cmd_storm(argc, argv);
	if (!strcmp(cmd, "checkmap"))
		return cmd_checkmap(argc, argv);
	if (!strcmp(cmd, "bwrite"))
		return cmd_bwrite(argc, argv);
	if (!strcmp(cmd, "iomark"))
		return cmd_iomark(argc, argv);
	if (!strcmp(cmd, "sparecheck"))
		return cmd_sparecheck(argc, argv);
	if (!strcmp(cmd, "geometry"))
		return cmd_geometry(argc, argv);
	if (!strcmp(cmd, "gendump"))
		return cmd_gendump(argc, argv);
	usage();
	return 2;
}
