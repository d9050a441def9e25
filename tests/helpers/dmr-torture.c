// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmr-torture: seeded concurrency torture of a dm-remap device, in the
 * spirit of rcutorture and fsx. See usage() for what runs concurrently.
 *
 * The invariant that matters: a read that succeeds returns, for each 512 B
 * sector, the stamp of the last acknowledged write of that sector or of a
 * write to it that failed since (a failed write leaves each sector old or
 * new). Errors are allowed only while a fault is injected (or one was
 * injected or healed during the I/O). Each I/O thread locks the blocks it
 * touches, so the driver itself never has two I/Os on one block in flight
 * and the model needs no ordering guesses.
 *
 * Reproducibility: every thread draws its decisions from its own generator
 * seeded with (seed, thread number) and never from an I/O's outcome, so a
 * seed replays the same operation sequence per thread; how the threads
 * interleave depends on timing and is not replayed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#define SECT		512u
#define MAGIC		0x31524f54524d44ULL	/* "DMRTOR1" */
#define NCAND		6
#define RING		4096
#define RING_SHOW	50
#define LINE		200
#define MAX_IO_BLOCKS	4
#define MAX_THREADS	16

/* --- options --- */
static uint64_t seed;
static unsigned int duration = 60, nthreads = 4;
static const char *main_nullb, *spare_nullb, *prefix = "tt";
static uint64_t data_start;		/* first slot sector of the spare */
static unsigned int bs = 4096;		/* remap block size, bytes */
static unsigned int hot_blocks = 128;	/* where faults and remaps cluster */
static bool allow_reload_failure;
/* -X: parts switched off, to tell which one a violation needs */
static bool no_msgs, no_main_faults, no_spare_faults, no_suspend, no_reload,
	    no_partial;

/* --- devices --- */
static char rname[64], mname[64], sname[64];	/* remap, main, spare dm names */
static char rpath[96], mdev[96], sdev[96];	/* /dev/mapper/<r>, /dev/<nullb> */
static uint64_t main_sectors, spare_sectors, spare_len, nblocks, bss;
static int rfd;

/* --- model: one entry per 512 B sector of the device --- */
struct sector_model {
	uint64_t acked;			/* last acknowledged write's seq */
	uint64_t cand[NCAND];		/* failed writes since then */
	uint8_t ncand;
	bool overflow;			/* more failed writes than cand[] */
	uint64_t overflow_min;		/* ... all with seq >= this */
};
static struct sector_model *model;
static pthread_mutex_t *block_lock;
static _Atomic uint64_t next_seq = 1;

/* --- shared state --- */
static atomic_bool stop, violated;
static _Atomic uint64_t io_ops, fault_epoch, reads_ok, writes_ok, io_errors;
static _Atomic int faults_active;
static _Atomic uint64_t n_msgs, n_status, n_suspends, n_reloads, n_faults;
/* what the remap/unremap/reclaim messages did (whether the spare cycles) */
static _Atomic uint64_t n_remapped, n_unremapped, n_reclaimed, n_refused,
	n_no_space, n_copy_failed, n_msg_errors;
/* the error path's outage handling, summed over the remap table's instances */
static _Atomic uint64_t n_outages, n_outage_rounds, n_probation;
/* the scrub's work, summed the same way */
static _Atomic uint64_t n_scrub_read, n_scrub_errors, n_weak;
static struct timespec t_start;
/* Every suspend ... resume (and table switch) of any device, and every
 * create/remove, goes under this lock: libdevmapper's node bookkeeping is
 * global, and a lower device must not be suspended under a suspended remap
 * device forever. Messages and status run without it. */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- op log ring --- */
struct logline {
	uint64_t ms;
	int tid;
	char text[LINE];
};
static struct logline ring[RING];
static uint64_t ring_n;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int my_tid;

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) * 1000 +
	       (t.tv_nsec - t_start.tv_nsec) / 1000000;
}

static void oplog(const char *fmt, ...)
{
	struct logline *l;
	va_list ap;

	pthread_mutex_lock(&ring_lock);
	l = &ring[ring_n++ % RING];
	l->ms = now_ms();
	l->tid = my_tid;
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&ring_lock);
}

static void dump_ring(uint64_t block)
{
	uint64_t i, from;

	pthread_mutex_lock(&ring_lock);
	from = ring_n > RING ? ring_n - RING : 0;
	if (block != UINT64_MAX) {
		fprintf(stderr, "operations on block %" PRIu64 " still in the log:\n", block);
		for (i = from; i < ring_n; i++) {
			struct logline *l = &ring[i % RING];
			char *p = strstr(l->text, " b=");
			uint64_t b0, nb;

			if (!p || sscanf(p, " b=%" SCNu64 "+%" SCNu64, &b0, &nb) != 2)
				continue;
			if (block >= b0 && block < b0 + nb)
				fprintf(stderr, "  %8.3f t%-2d %s\n", l->ms / 1000.0,
					l->tid, l->text);
		}
	}
	from = ring_n > RING_SHOW ? ring_n - RING_SHOW : 0;
	fprintf(stderr, "last %" PRIu64 " operations:\n", ring_n - from);
	for (i = from; i < ring_n; i++) {
		struct logline *l = &ring[i % RING];

		fprintf(stderr, "  %8.3f t%-2d %s\n", l->ms / 1000.0, l->tid, l->text);
	}
	pthread_mutex_unlock(&ring_lock);
}

static void resume_all(void);

/* Report a violation once (other threads just stop), then exit 1. */
static void violation(uint64_t block, const char *fmt, ...)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	pthread_mutex_lock(&once);
	atomic_store(&violated, true);
	atomic_store(&stop, true);
	fprintf(stderr, "\ndmr-torture: VIOLATION after %.3f s (seed %" PRIu64
		", thread %d):\n  ", now_ms() / 1000.0, seed, my_tid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_ring(block);
	fprintf(stderr, "dmr-torture: replay with -s %" PRIu64 " (same ops per thread; "
		"the interleaving differs)\nRESULT: violation seed=%" PRIu64 " after=%.3fs\n",
		seed, seed, now_ms() / 1000.0);
	fflush(stderr);
	resume_all();
	exit(1);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dmr-torture: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* --- random numbers: xorshift64* per thread --- */
struct rng {
	uint64_t s;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void rng_init(struct rng *r, uint64_t s, int tid)
{
	r->s = mix(s * 1000003 + tid + 1) | 1;
}

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ULL;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* --- stamps --- */
struct stamp {
	uint64_t magic, seed, block;
	uint32_t sector, tid;
	uint64_t seq;
};

static void fill_sector(unsigned char *p, uint64_t block, unsigned int sector,
			uint64_t seq)
{
	struct stamp st = { MAGIC, seed, block, sector, (uint32_t)my_tid, seq };
	uint64_t x = mix(seed ^ mix(block * 64 + sector) ^ mix(seq)), *w;
	unsigned int i;

	memcpy(p, &st, sizeof(st));
	w = (uint64_t *)(p + sizeof(st));
	for (i = 0; i < (SECT - sizeof(st)) / 8; i++) {
		x = mix(x + i);
		w[i] = x;
	}
}

/* 0: intact stamp of (block, sector); else why not (text in why). */
static int parse_sector(const unsigned char *p, uint64_t block, unsigned int sector,
			uint64_t *seq, char *why, size_t len)
{
	unsigned char want[SECT];
	struct stamp st;

	memcpy(&st, p, sizeof(st));
	if (st.magic != MAGIC || st.seed != seed) {
		snprintf(why, len, "no stamp (magic %016" PRIx64 " seed %" PRIu64 ")",
			 st.magic, st.seed);
		return 1;
	}
	*seq = st.seq;
	if (st.block != block || st.sector != sector) {
		snprintf(why, len, "stamp of block %" PRIu64 " sector %u seq %" PRIu64
			 " (misplaced data)", st.block, st.sector, st.seq);
		return 1;
	}
	fill_sector(want, block, sector, st.seq);
	if (memcmp(want + sizeof(st), p + sizeof(st), SECT - sizeof(st))) {
		snprintf(why, len, "stamp seq %" PRIu64 " with corrupt payload", st.seq);
		return 1;
	}
	return 0;
}

static bool allowed(const struct sector_model *m, uint64_t seq)
{
	unsigned int i;

	if (seq == m->acked)
		return true;
	for (i = 0; i < m->ncand; i++)
		if (m->cand[i] == seq)
			return true;
	return m->overflow && seq >= m->overflow_min;
}

static void describe(const struct sector_model *m, char *buf, size_t len)
{
	int n = snprintf(buf, len, "acked seq %" PRIu64, m->acked);
	unsigned int i;

	for (i = 0; i < m->ncand && n < (int)len; i++)
		n += snprintf(buf + n, len - n, "%s%" PRIu64, i ? "," : " or failed-write seq ",
			      m->cand[i]);
	if (m->overflow && n < (int)len)
		snprintf(buf + n, len - n, " or any failed seq >= %" PRIu64, m->overflow_min);
}

static void model_failed(struct sector_model *m, uint64_t seq)
{
	if (m->ncand < NCAND) {
		m->cand[m->ncand++] = seq;
	} else if (!m->overflow) {
		m->overflow = true;
		m->overflow_min = m->cand[0];
	}
}

static void model_acked(struct sector_model *m, uint64_t seq)
{
	m->acked = seq;
	m->ncand = 0;
	m->overflow = false;
}

/*
 * Check a buffer read from sectors [first, first+n) of the device against
 * the model (block locks held). Returns 0 or reports a violation.
 */
static void check_read(const unsigned char *buf, uint64_t first, unsigned int n,
		       const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t s = first + i, b = s / bss, seq = 0;
		const struct sector_model *m = &model[s];
		char why[160], exp[200];

		describe(m, exp, sizeof(exp));
		if (parse_sector(buf + (size_t)i * SECT, b, s % bss, &seq, why, sizeof(why)))
			violation(b, "%s: block %" PRIu64 " sector %u (device sector %"
				  PRIu64 ") read back %s; expected %s", what, b,
				  (unsigned int)(s % bss), s, why, exp);
		if (!allowed(m, seq))
			violation(b, "%s: block %" PRIu64 " sector %u (device sector %"
				  PRIu64 ") read back seq %" PRIu64 " (%s); expected %s",
				  what, b, (unsigned int)(s % bss), s, seq,
				  seq < m->acked ? "an OLDER write: acknowledged write lost" :
				  "a write the model does not allow", exp);
	}
}

/* --- libdevmapper --- */
static void dm_quiet_log(int level, const char *file, int line, int dm_errno,
			 const char *fmt, ...)
{
	(void)level; (void)file; (void)line; (void)dm_errno; (void)fmt;
}

/* Send a message; answer copied to out. 0 or the ioctl's errno. */
static int dm_msg(const char *dev, const char *msg, char *out, size_t len)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	int err = 0;

	if (!dmt)
		die("dm_task_create failed");
	if (!dm_task_set_name(dmt, dev) || !dm_task_set_sector(dmt, 0) ||
	    !dm_task_set_message(dmt, msg))
		die("cannot build message %s", msg);
	if (!dm_task_run(dmt)) {
		err = dm_task_get_errno(dmt);
		if (!err)
			err = EIO;
	} else if (out && len) {
		const char *r = dm_task_get_message_response(dmt);

		snprintf(out, len, "%s", r ? r : "");
	}
	dm_task_destroy(dmt);
	return err;
}

static int dm_status(const char *dev, bool table, char *out, size_t len);

/* Add the outage counters of the live remap instance (before it is replaced). */
static void sum_outage_stats(void)
{
	char ans[1024];
	const char *p;

	if (dm_msg(rname, "stats", ans, sizeof(ans)))
		return;
	if ((p = strstr(ans, " outages=")))
		atomic_fetch_add(&n_outages, strtoull(p + 9, NULL, 10));
	if ((p = strstr(ans, " outage_rounds=")))
		atomic_fetch_add(&n_outage_rounds, strtoull(p + 15, NULL, 10));
	if ((p = strstr(ans, " probation_reclaims=")))
		atomic_fetch_add(&n_probation, strtoull(p + 20, NULL, 10));
	if ((p = strstr(ans, " weak_remaps=")))
		atomic_fetch_add(&n_weak, strtoull(p + 13, NULL, 10));
	if (dm_status(rname, false, ans, sizeof(ans)))
		return;
	if ((p = strstr(ans, " scrub_read=")))
		atomic_fetch_add(&n_scrub_read, strtoull(p + 12, NULL, 10));
	if ((p = strstr(ans, " scrub_errors=")))
		atomic_fetch_add(&n_scrub_errors, strtoull(p + 14, NULL, 10));
}

/* The STATUS (or TABLE) line of a single-target device. */
static int dm_status(const char *dev, bool table, char *out, size_t len)
{
	struct dm_task *dmt = dm_task_create(table ? DM_DEVICE_TABLE : DM_DEVICE_STATUS);
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int err = 0;

	if (!dmt)
		die("dm_task_create failed");
	dm_task_set_name(dmt, dev);
	if (!dm_task_run(dmt)) {
		err = dm_task_get_errno(dmt);
		if (!err)
			err = EIO;
	} else {
		dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
		snprintf(out, len, "%s", params ? params : "");
	}
	dm_task_destroy(dmt);
	return err;
}

struct seg {
	uint64_t start, len;
	const char *type;
	char params[320];
};

/* Load a table (create when create is set, else reload the inactive slot). */
static int dm_load(const char *dev, bool create, const struct seg *segs, int n)
{
	struct dm_task *dmt = dm_task_create(create ? DM_DEVICE_CREATE : DM_DEVICE_RELOAD);
	uint32_t cookie = 0;
	int i, err = 0;

	if (!dmt)
		die("dm_task_create failed");
	dm_task_set_name(dmt, dev);
	for (i = 0; i < n; i++)
		if (!dm_task_add_target(dmt, segs[i].start, segs[i].len, segs[i].type,
					segs[i].params))
			die("dm_task_add_target failed");
	if (create)
		dm_task_set_cookie(dmt, &cookie, 0);
	if (!dm_task_run(dmt)) {
		err = dm_task_get_errno(dmt);
		if (!err)
			err = EIO;
	}
	if (create)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return err;
}

static int dm_simple(const char *dev, int type)
{
	struct dm_task *dmt = dm_task_create(type);
	uint32_t cookie = 0;
	int err = 0;

	if (!dmt)
		die("dm_task_create failed");
	dm_task_set_name(dmt, dev);
	if (type == DM_DEVICE_RESUME || type == DM_DEVICE_REMOVE)
		dm_task_set_cookie(dmt, &cookie, 0);
	if (!dm_task_run(dmt)) {
		err = dm_task_get_errno(dmt);
		if (!err)
			err = EIO;
	}
	if (type == DM_DEVICE_RESUME || type == DM_DEVICE_REMOVE)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return err;
}

/* reload + suspend + resume (ctl_lock held) */
static int dm_switch(const char *dev, const struct seg *segs, int n)
{
	int err = dm_load(dev, false, segs, n);

	if (err)
		return err;
	err = dm_simple(dev, DM_DEVICE_SUSPEND);
	if (err)
		return err;
	return dm_simple(dev, DM_DEVICE_RESUME);
}

static void resume_all(void)
{
	/* Best effort after a violation: leave no device suspended. */
	dm_simple(mname, DM_DEVICE_RESUME);
	dm_simple(sname, DM_DEVICE_RESUME);
	dm_simple(rname, DM_DEVICE_RESUME);
}

/* --- the remap table line --- */
struct features {
	int commit_interval;	/* -1: default */
	int read_retries;	/* -1: default */
	int outage_blocks;	/* -1: default; small: faults look like bursts */
	int scrub_rate;		/* -1: default */
	int weak_budget;	/* -1: default (0: never move weak blocks) */
	int slow_read_ms;	/* -1: default (off) */
	bool auto_off;
};

static void remap_seg(struct seg *s, const struct features *f)
{
	char feat[192] = "";
	int n = 0, nf = 0;

	if (f->commit_interval >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " commit_interval %d",
			      f->commit_interval);
		nf += 2;
	}
	if (f->read_retries >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " read_retries %d", f->read_retries);
		nf += 2;
	}
	if (f->outage_blocks >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n,
			      " outage_blocks %d outage_window 2000", f->outage_blocks);
		nf += 4;
	}
	if (f->scrub_rate >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " scrub_rate %d", f->scrub_rate);
		nf += 2;
	}
	if (f->weak_budget >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " weak_budget %d", f->weak_budget);
		nf += 2;
	}
	if (f->slow_read_ms >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " slow_read_ms %d", f->slow_read_ms);
		nf += 2;
	}
	if (f->auto_off) {
		n += snprintf(feat + n, sizeof(feat) - n, " auto_remap off");
		nf += 2;
	}
	s->start = 0;
	s->len = main_sectors;
	s->type = "remap";
	if (nf)
		snprintf(s->params, sizeof(s->params), "/dev/mapper/%s /dev/mapper/%s 0 %"
			 PRIu64 " %d%s", mname, sname, spare_len, nf, feat);
	else
		snprintf(s->params, sizeof(s->params), "/dev/mapper/%s /dev/mapper/%s 0 %"
			 PRIu64, mname, sname, spare_len);
}

/* --- faults on the lower devices --- */
enum fault_kind {
	F_NONE,
	F_WRITE_ERR,		/* flakey error_writes, always down */
	F_WRITE_FLAKY,		/* flakey error_writes, up 1 s / down 1 s */
	F_ALL_ERR,		/* flakey, all I/O fails */
	F_ERROR_TARGET,		/* the error target */
	F_NULLB_BAD,		/* null_blk bad sectors */
	F_KINDS
};
static const char *const fault_name[] = {
	"none", "flakey-error_writes", "flakey-error_writes-1/1", "flakey-down",
	"error-target", "nullb-badblocks",
};

struct fault {
	enum fault_kind kind;
	uint64_t first, len;	/* sectors of the lower device */
};

/* The table of a lower device over NULLB (SECTORS long) with fault f. */
static int lower_table(struct seg *segs, const char *nullb, uint64_t sectors,
		       const struct fault *f)
{
	int n = 0;
	bool dm_fault = f->kind != F_NONE && f->kind != F_NULLB_BAD;
	uint64_t end = f->first + f->len;

	if (dm_fault && f->first > 0) {
		segs[n] = (struct seg){ 0, f->first, "linear", "" };
		snprintf(segs[n++].params, sizeof(segs[0].params), "/dev/%s 0", nullb);
	}
	if (dm_fault) {
		segs[n] = (struct seg){ f->first, f->len, "flakey", "" };
		switch (f->kind) {
		case F_WRITE_ERR:
			snprintf(segs[n].params, sizeof(segs[0].params),
				 "/dev/%s %" PRIu64 " 0 1 1 error_writes", nullb, f->first);
			break;
		case F_WRITE_FLAKY:
			snprintf(segs[n].params, sizeof(segs[0].params),
				 "/dev/%s %" PRIu64 " 1 1 1 error_writes", nullb, f->first);
			break;
		case F_ALL_ERR:
			snprintf(segs[n].params, sizeof(segs[0].params),
				 "/dev/%s %" PRIu64 " 0 1", nullb, f->first);
			break;
		default:
			segs[n].type = "error";
			segs[n].params[0] = 0;
			break;
		}
		n++;
	}
	if (!dm_fault || end < sectors) {
		uint64_t s = dm_fault ? end : 0;

		segs[n] = (struct seg){ s, sectors - s, "linear", "" };
		snprintf(segs[n++].params, sizeof(segs[0].params), "/dev/%s %" PRIu64,
			 nullb, s);
	}
	return n;
}

/* null_blk bad sectors: pieces of at most 512 sectors (6.1 badblocks_set
 * stores longer ranges out of order). */
static void nullb_bad(const char *nullb, char op, uint64_t first, uint64_t len)
{
	char path[160], line[64];
	uint64_t s, e;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/config/nullb/%s/badblocks", nullb);
	for (s = first; s < first + len; s = e + 1) {
		e = s + 511 < first + len - 1 ? s + 511 : first + len - 1;
		fd = open(path, O_WRONLY);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		snprintf(line, sizeof(line), "%c%" PRIu64 "-%" PRIu64, op, s, e);
		if (write(fd, line, strlen(line)) < 0)
			die("%s > %s: %s", line, path, strerror(errno));
		close(fd);
	}
}

struct lower {
	const char *dm, *nullb;
	uint64_t sectors;
	struct fault f;
};
static struct lower lmain, lspare;

/* Switch a lower device to fault f (ctl_lock held). */
static void set_fault(struct lower *l, const struct fault *f)
{
	struct seg segs[3];
	int n, err;

	if (l->f.kind == F_NULLB_BAD)
		nullb_bad(l->nullb, '-', l->f.first, l->f.len);
	if (f->kind == F_NULLB_BAD)
		nullb_bad(l->nullb, '+', f->first, f->len);
	if ((l->f.kind != F_NONE && l->f.kind != F_NULLB_BAD) ||
	    (f->kind != F_NONE && f->kind != F_NULLB_BAD)) {
		n = lower_table(segs, l->nullb, l->sectors, f);
		err = dm_switch(l->dm, segs, n);
		if (err)
			die("switching %s to %s failed: %s", l->dm, fault_name[f->kind],
			    strerror(err));
	}
	l->f = *f;
}

/* --- I/O threads --- */
static unsigned char *alloc_buf(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("out of memory");
	return p;
}

static void lock_blocks(uint64_t b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		pthread_mutex_lock(&block_lock[b + i]);
}

static void unlock_blocks(uint64_t b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		pthread_mutex_unlock(&block_lock[b + i]);
}

/* An error is allowed while a fault is (or was, during the I/O) injected. */
static bool error_allowed(uint64_t epoch0, int active0)
{
	return active0 || atomic_load(&faults_active) ||
	       atomic_load(&fault_epoch) != epoch0;
}

static uint64_t pick_block(struct rng *r, unsigned int n)
{
	uint64_t span = chance(r, 75) ? hot_blocks : nblocks;

	return below(r, span - n + 1);
}

/* An I/O: 1..MAX_IO_BLOCKS whole blocks, or (@partial) one sector. */
static void pick_io(struct rng *r, bool partial, uint64_t *b, unsigned int *nb,
		    uint64_t *first, unsigned int *n)
{
	*nb = partial ? 1 : 1 + below(r, MAX_IO_BLOCKS);
	*b = pick_block(r, *nb);
	*first = *b * bss;
	*n = *nb * bss;
	if (partial) {
		*first += below(r, bss);
		*n = 1;
	}
}

static void do_write(struct rng *r, unsigned char *buf)
{
	uint64_t b, first, seq, ep;
	unsigned int nb, n, i;
	int active;
	ssize_t got;

	pick_io(r, chance(r, 20) && !no_partial, &b, &nb, &first, &n);
	lock_blocks(b, nb);
	seq = atomic_fetch_add(&next_seq, 1);
	for (i = 0; i < n; i++)
		fill_sector(buf + (size_t)i * SECT, (first + i) / bss, (first + i) % bss, seq);
	ep = atomic_load(&fault_epoch);
	active = atomic_load(&faults_active);
	oplog("write b=%" PRIu64 "+%u sector %" PRIu64 "+%u seq %" PRIu64, b, nb, first, n, seq);
	got = pwrite(rfd, buf, (size_t)n * SECT, first * SECT);
	if (got == (ssize_t)n * SECT) {
		for (i = 0; i < n; i++)
			model_acked(&model[first + i], seq);
		atomic_fetch_add(&writes_ok, 1);
		oplog("write ok b=%" PRIu64 "+%u seq %" PRIu64, b, nb, seq);
	} else {
		int e = got < 0 ? errno : EIO;

		for (i = 0; i < n; i++)
			model_failed(&model[first + i], seq);
		atomic_fetch_add(&io_errors, 1);
		oplog("write FAILED b=%" PRIu64 "+%u seq %" PRIu64 ": %s", b, nb, seq,
		      got < 0 ? strerror(e) : "short");
		if (!error_allowed(ep, active))
			violation(b, "write of block %" PRIu64 "+%u (seq %" PRIu64
				  ") failed (%s) with no fault injected", b, nb, seq,
				  strerror(e));
	}
	unlock_blocks(b, nb);
}

static void do_read(struct rng *r, unsigned char *buf)
{
	uint64_t b, first, ep;
	unsigned int nb, n;
	int active;
	ssize_t got;

	pick_io(r, chance(r, 20), &b, &nb, &first, &n);
	lock_blocks(b, nb);
	ep = atomic_load(&fault_epoch);
	active = atomic_load(&faults_active);
	oplog("read b=%" PRIu64 "+%u sector %" PRIu64 "+%u", b, nb, first, n);
	got = pread(rfd, buf, (size_t)n * SECT, first * SECT);
	if (got == (ssize_t)n * SECT) {
		check_read(buf, first, n, "read");
		atomic_fetch_add(&reads_ok, 1);
		oplog("read ok b=%" PRIu64 "+%u", b, nb);
	} else {
		int e = got < 0 ? errno : EIO;

		atomic_fetch_add(&io_errors, 1);
		oplog("read FAILED b=%" PRIu64 "+%u: %s", b, nb, got < 0 ? strerror(e) : "short");
		if (!error_allowed(ep, active))
			violation(b, "read of block %" PRIu64 "+%u failed (%s) with no "
				  "fault injected", b, nb, strerror(e));
	}
	unlock_blocks(b, nb);
}

struct targ {
	int tid;
};

static void *io_thread(void *arg)
{
	struct targ *t = arg;
	unsigned char *buf = alloc_buf((size_t)MAX_IO_BLOCKS * bs);
	struct rng r;

	my_tid = t->tid;
	rng_init(&r, seed, t->tid);
	while (!atomic_load(&stop)) {
		if (chance(&r, 55))
			do_write(&r, buf);
		else
			do_read(&r, buf);
		atomic_fetch_add(&io_ops, 1);
	}
	free(buf);
	return NULL;
}

/* --- message thread --- */
static void *msg_thread(void *arg)
{
	struct targ *t = arg;
	char msg[96], ans[4096];
	struct rng r;

	my_tid = t->tid;
	rng_init(&r, seed, t->tid);
	while (!atomic_load(&stop)) {
		unsigned int k = below(&r, 100), cnt;
		uint64_t b;
		int err;

		/*
		 * Mostly in the hot region, and more unremaps than remaps (most
		 * of either hit blocks already in the wanted state), so that
		 * the spare fills up and frees up again.
		 */
		cnt = 1 + (chance(&r, 70) ? below(&r, 4) : below(&r, 32));
		b = chance(&r, 95) ? below(&r, hot_blocks) : below(&r, nblocks);
		if (b + cnt > nblocks)
			cnt = nblocks - b;
		if (k < 25)
			snprintf(msg, sizeof(msg), "remap %" PRIu64 " %" PRIu64, b * bss,
				 (uint64_t)cnt * bss);
		else if (k < 52)
			snprintf(msg, sizeof(msg), "unremap %" PRIu64 " %" PRIu64, b * bss,
				 (uint64_t)cnt * bss);
		else if (k < 60)
			snprintf(msg, sizeof(msg), "reclaim %" PRIu64 " %" PRIu64, b * bss,
				 (uint64_t)cnt * bss);
		else if (k < 72)
			snprintf(msg, sizeof(msg), "query %" PRIu64, b * bss + below(&r, bss));
		else if (k < 82)
			snprintf(msg, sizeof(msg), "list %" PRIu64 " %u", b * bss,
				 1 + (unsigned int)below(&r, 64));
		else if (k < 90)
			snprintf(msg, sizeof(msg), "commit");
		else if (k < 95)
			snprintf(msg, sizeof(msg), "auto_remap %s", chance(&r, 70) ? "on" : "off");
		else if (k < 97)
			snprintf(msg, sizeof(msg), "stats");
		else	/* refused (EBUSY) when the state does not allow it */
			snprintf(msg, sizeof(msg), "scrub %s",
				 (const char *[]){ "start", "pause", "resume", "stop" }
				 [below(&r, 4)]);
		/* the draws above happen either way: -X keeps the sequence */
		if (no_msgs && (k < 60 || (k >= 90 && k < 95))) {
			sleep_ms(below(&r, 30));
			continue;
		}
		if (k < 60)
			oplog("msg %s b=%" PRIu64 "+%u ", msg, b, cnt);
		else
			oplog("msg %s", msg);
		err = dm_msg(rname, msg, ans, sizeof(ans));
		atomic_fetch_add(&n_msgs, 1);
		if (err) {
			oplog("msg %s -> %s", msg, strerror(err));
			if (k < 60)
				atomic_fetch_add(&n_msg_errors, 1);
		} else {
			char *nl = strchr(ans, '\n');
			unsigned int x, y, z, w;

			if (sscanf(ans, "remapped=%u already=%u no_space=%u copy_failed=%u",
				   &x, &y, &z, &w) == 4) {
				atomic_fetch_add(&n_remapped, x);
				atomic_fetch_add(&n_no_space, z);
				atomic_fetch_add(&n_copy_failed, w);
			} else if (sscanf(ans, "unremapped=%u not_remapped=%u copy_failed=%u",
					  &x, &y, &w) == 3) {
				atomic_fetch_add(&n_unremapped, x);
				atomic_fetch_add(&n_copy_failed, w);
			} else if (sscanf(ans, "reclaimed=%u not_remapped=%u refused=%u copy_failed=%u",
					  &x, &y, &z, &w) == 4) {
				atomic_fetch_add(&n_reclaimed, x);
				atomic_fetch_add(&n_refused, z);
				atomic_fetch_add(&n_copy_failed, w);
			}

			if (nl)
				*nl = 0;
			oplog("msg %s -> %.120s", msg, ans);
		}
		sleep_ms(below(&r, 30));
	}
	return NULL;
}

/* --- status thread: counters and list/query while tables change --- */
struct st {
	uint64_t used, total, remaps, pending, bad, migrating, gen;
	bool md_failed;
};

static int parse_status(const char *line, struct st *s)
{
	const char *p;

	memset(s, 0, sizeof(*s));
	p = strstr(line, " spare=");
	if (!p || sscanf(p, " spare=%" SCNu64 "/%" SCNu64, &s->used, &s->total) != 2)
		return -1;
	p = strstr(line, " remaps=");
	if (!p || sscanf(p, " remaps=%" SCNu64, &s->remaps) != 1)
		return -1;
	p = strstr(line, " pending=");
	if (!p || sscanf(p, " pending=%" SCNu64, &s->pending) != 1)
		return -1;
	p = strstr(line, " bad_slots=");
	if (!p || sscanf(p, " bad_slots=%" SCNu64, &s->bad) != 1)
		return -1;
	p = strstr(line, " migrating=");
	if (!p || sscanf(p, " migrating=%" SCNu64, &s->migrating) != 1)
		return -1;
	p = strstr(line, " generation=");
	if (!p || sscanf(p, " generation=%" SCNu64, &s->gen) != 1)
		return -1;
	s->md_failed = strstr(line, " metadata=failed") != NULL;
	return 0;
}

/*
 * used == remaps + bad_slots (bad slots are kept in the metadata, so this
 * holds across table loads too). While an error round runs, used may be
 * ahead by up to `migrating` slots; the check waits for a quiet moment: a
 * mismatch counts when it stays the same (same numbers, same generation,
 * nothing migrating) over STUCK_MS of polling, and always on a quiet device.
 */
#define STUCK_MS	3000
/* odd while a table instance changes: the status thread skips the check */
static _Atomic uint64_t load_gen;

static void check_counters(const char *line, const struct st *s, bool strict)
{
	static struct st last;
	static uint64_t since;
	static bool have;
	if (s->md_failed)
		violation(UINT64_MAX, "metadata=failed though no fault touches the "
			  "metadata region: %s", line);
	if (s->used > s->total)
		violation(UINT64_MAX, "spare used %" PRIu64 " > total %" PRIu64 ": %s",
			  s->used, s->total, line);
	if (s->used == s->remaps + s->bad) {
		have = false;
		return;
	}
	if (strict)
		violation(UINT64_MAX, "counters disagree on a quiet device: spare used %"
			  PRIu64 " != remaps %" PRIu64 " + bad_slots %" PRIu64 ": %s",
			  s->used, s->remaps, s->bad, line);
	if (s->migrating || !have || memcmp(&last, s, sizeof(*s))) {
		last = *s;
		since = now_ms();
		have = !s->migrating;
		return;
	}
	if (now_ms() - since >= STUCK_MS)
		violation(UINT64_MAX, "counters disagree for %u ms: spare used %" PRIu64
			  " != remaps %" PRIu64 " + bad_slots %" PRIu64 ": %s", STUCK_MS,
			  s->used, s->remaps, s->bad, line);
}

static void *status_thread(void *arg)
{
	struct targ *t = arg;
	char line[1024], ans[8192], msg[64];
	struct rng r;
	struct st s;

	my_tid = t->tid;
	rng_init(&r, seed, t->tid);
	while (!atomic_load(&stop)) {
		unsigned int k = below(&r, 10);
		int err;

		uint64_t g = atomic_load(&load_gen);

		err = dm_status(rname, false, line, sizeof(line));
		atomic_fetch_add(&n_status, 1);
		if (err)
			violation(UINT64_MAX, "STATUS ioctl failed: %s", strerror(err));
		if (parse_status(line, &s))
			violation(UINT64_MAX, "cannot parse status: %s", line);
		if (!(g & 1) && g == atomic_load(&load_gen))
			check_counters(line, &s, false);
		if (k < 3) {
			snprintf(msg, sizeof(msg), "list 0 %u", 1 + (unsigned int)below(&r, 200));
			dm_msg(rname, msg, ans, sizeof(ans));
		} else if (k < 5) {
			snprintf(msg, sizeof(msg), "query %" PRIu64, below(&r, hot_blocks * bss));
			dm_msg(rname, msg, ans, sizeof(ans));
		} else if (k < 6) {
			dm_status(rname, true, line, sizeof(line));
		}
		sleep_ms(below(&r, 10));
	}
	return NULL;
}

/* --- fault thread --- */
static void wait_progress(struct rng *r)
{
	/* End a fault after some I/O ran against it (bounded in time). */
	uint64_t want = atomic_load(&io_ops) + 5 + below(r, 200);
	uint64_t deadline = now_ms() + 300 + below(r, 4000);

	while (!atomic_load(&stop) && atomic_load(&io_ops) < want && now_ms() < deadline)
		sleep_ms(5);
}

static void *fault_thread(void *arg)
{
	struct targ *t = arg;
	static const struct fault none = { F_NONE, 0, 0 };
	struct rng r;

	my_tid = t->tid;
	rng_init(&r, seed, t->tid);
	while (!atomic_load(&stop)) {
		bool on_spare = chance(&r, 15);
		struct lower *l = on_spare ? &lspare : &lmain;
		struct fault f;

		if (no_main_faults && no_spare_faults)
			break;
		if (on_spare && no_spare_faults)
			on_spare = false, l = &lmain;
		if (!on_spare && no_main_faults)
			on_spare = true, l = &lspare;

		f.kind = 1 + below(&r, F_KINDS - 1);
		/*
		 * The spare gets bad sectors only: a dm fault there also fails
		 * the commit's PREFLUSH (flakey and error fail empty writes),
		 * which rightly ends all remapping (metadata=failed).
		 */
		if (on_spare)
			f.kind = F_NULLB_BAD;
		if (on_spare) {
			/* slots only: metadata faults would end all remapping */
			uint64_t slots = (spare_len - data_start) / bss;

			f.first = data_start + below(&r, slots) * bss;
			f.len = (1 + below(&r, 4)) * bss;
			if (f.first + f.len > spare_len)
				f.len = spare_len - f.first;
		} else {
			f.first = below(&r, hot_blocks) * bss;
			f.len = (1 + below(&r, 16)) * bss;
			if (f.first + f.len > l->sectors)
				f.len = l->sectors - f.first;
		}
		if (f.kind == F_NULLB_BAD) {
			/* sub-block ranges too: partial writes meet bad sectors */
			uint64_t end = on_spare ? spare_len : l->sectors;

			f.first += below(&r, bss);
			f.len = 1 + below(&r, 3 * bss);
			if (f.first >= end)
				f.first = end - 1;
			if (f.first + f.len > end)
				f.len = end - f.first;
		}
		pthread_mutex_lock(&ctl_lock);
		atomic_fetch_add(&faults_active, 1);
		atomic_fetch_add(&fault_epoch, 1);
		oplog("fault %s on %s sectors %" PRIu64 "+%" PRIu64 " b=%" PRIu64 "+%" PRIu64 " ",
		      fault_name[f.kind], on_spare ? "spare" : "main", f.first, f.len,
		      on_spare ? UINT64_MAX : f.first / bss,
		      on_spare ? 0 : (f.first + f.len + bss - 1) / bss - f.first / bss);
		set_fault(l, &f);
		pthread_mutex_unlock(&ctl_lock);
		atomic_fetch_add(&n_faults, 1);
		wait_progress(&r);
		pthread_mutex_lock(&ctl_lock);
		set_fault(l, &none);
		oplog("healed %s", on_spare ? "spare" : "main");
		atomic_fetch_add(&fault_epoch, 1);
		atomic_fetch_sub(&faults_active, 1);
		pthread_mutex_unlock(&ctl_lock);
		/*
		 * Some I/O with no fault, so that errors without one are seen
		 * and unremaps (which flush main, and fail while any dm fault
		 * is loaded there) get through.
		 */
		{
			uint64_t want = atomic_load(&io_ops) + 20 + below(&r, 400);

			while (!atomic_load(&stop) && atomic_load(&io_ops) < want)
				sleep_ms(5);
		}
	}
	return NULL;
}

/*
 * A new table instance went live (ctl_lock held, load_gen odd): check what
 * it loaded with the device suspended, so that no error round runs.
 */
static void check_loaded(void)
{
	char line[1024];
	struct st s;
	int err;

	err = dm_simple(rname, DM_DEVICE_SUSPEND);
	if (err)
		violation(UINT64_MAX, "suspend failed: %s", strerror(err));
	if (dm_status(rname, false, line, sizeof(line)) || parse_status(line, &s))
		violation(UINT64_MAX, "status after a reload failed: %s", line);
	if (s.used != s.remaps + s.bad)
		violation(UINT64_MAX, "after a reload: spare used %" PRIu64 " != remaps %"
			  PRIu64 " + bad_slots %" PRIu64 ": %s", s.used, s.remaps, s.bad,
			  line);
	oplog("loaded: %.120s", line);
	err = dm_simple(rname, DM_DEVICE_RESUME);
	if (err)
		violation(UINT64_MAX, "resume failed: %s", strerror(err));
}

/* reload + suspend + resume of the remap device, then check what it loaded */
static int remap_switch(const struct seg *seg)
{
	int err;

	atomic_fetch_add(&load_gen, 1);
	err = dm_switch(rname, seg, 1);
	if (!err)
		check_loaded();
	atomic_fetch_add(&load_gen, 1);
	return err;
}

/* --- control thread: suspend/resume and reloads of the remap device --- */
static struct features cur_features = { -1, -1, -1, -1, -1, -1, false };

static void *ctl_thread(void *arg)
{
	struct targ *t = arg;
	static const int ci[] = { 0, 10, 100, 1000, 3000 };
	struct rng r;

	my_tid = t->tid;
	rng_init(&r, seed, t->tid);
	while (!atomic_load(&stop)) {
		unsigned int k = below(&r, 100), hold = below(&r, 200);
		struct features f = cur_features;
		struct seg seg;
		int err;

		sleep_ms(200 + below(&r, 1500));
		if (atomic_load(&stop))
			break;
		if (k < 50 ? no_suspend : no_reload)
			continue;
		if (k < 50) {
			pthread_mutex_lock(&ctl_lock);
			oplog("suspend %s (%u ms)", rname, hold);
			err = dm_simple(rname, DM_DEVICE_SUSPEND);
			if (err)
				violation(UINT64_MAX, "suspend failed: %s", strerror(err));
			sleep_ms(hold);
			err = dm_simple(rname, DM_DEVICE_RESUME);
			if (err)
				violation(UINT64_MAX, "resume failed: %s", strerror(err));
			oplog("resumed %s", rname);
			pthread_mutex_unlock(&ctl_lock);
			atomic_fetch_add(&n_suspends, 1);
			continue;
		}
		if (k < 90) {
			f.commit_interval = chance(&r, 20) ? -1 : ci[below(&r, 5)];
			f.read_retries = chance(&r, 30) ? -1 : (int)below(&r, 4);
			f.outage_blocks = chance(&r, 60) ? -1 : (int)below(&r, 9);
			f.auto_off = chance(&r, 15);
			f.scrub_rate = chance(&r, 50) ? -1 :
				       (int[]){ 1024, 16384, 262144 }[below(&r, 3)];
			/* Weak blocks: faults that heal make reads work on a retry. */
			f.weak_budget = chance(&r, 50) ? -1 : (int)below(&r, 1000);
			f.slow_read_ms = chance(&r, 70) ? -1 : 1 + (int)below(&r, 50);
		}
		remap_seg(&seg, &f);
		pthread_mutex_lock(&ctl_lock);
		oplog("reload %s: %s", rname, seg.params);
		atomic_fetch_add(&load_gen, 1);
		err = dm_load(rname, false, &seg, 1);
		if (err) {
			oplog("reload refused: %s", strerror(err));
			if (!allow_reload_failure)
				violation(UINT64_MAX, "reload of the remap table under load "
					  "refused (%s): %s", strerror(err), seg.params);
		} else {
			sum_outage_stats();	/* of the instance it replaces */
			err = dm_simple(rname, DM_DEVICE_SUSPEND);
			if (err)
				violation(UINT64_MAX, "suspend failed: %s", strerror(err));
			err = dm_simple(rname, DM_DEVICE_RESUME);
			if (err)
				violation(UINT64_MAX, "resume with the new table failed: %s",
					  strerror(err));
			check_loaded();
			cur_features = f;
			oplog("reloaded %s", rname);
		}
		atomic_fetch_add(&load_gen, 1);
		pthread_mutex_unlock(&ctl_lock);
		atomic_fetch_add(&n_reloads, 1);
	}
	return NULL;
}

/* --- setup, final checks --- */
static uint64_t dev_sectors(const char *path)
{
	uint64_t bytes;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes))
		die("%s: %s", path, strerror(errno));
	close(fd);
	return bytes / SECT;
}

static void open_remap(void)
{
	rfd = open(rpath, O_RDWR | O_DIRECT);
	if (rfd < 0)
		die("open %s: %s", rpath, strerror(errno));
}

/* Write every block once (acknowledged: no faults yet). */
static void fill(void)
{
	unsigned int chunk = 64;
	unsigned char *buf = alloc_buf((size_t)chunk * bs);
	uint64_t b, s;

	for (b = 0; b < nblocks; b += chunk) {
		unsigned int n = nblocks - b < chunk ? nblocks - b : chunk;
		uint64_t seq = atomic_fetch_add(&next_seq, 1);

		for (s = 0; s < n * bss; s++)
			fill_sector(buf + s * SECT, b + s / bss, s % bss, seq);
		if (pwrite(rfd, buf, (size_t)n * bs, b * bs) != (ssize_t)n * bs)
			die("initial fill at block %" PRIu64 ": %s", b, strerror(errno));
		for (s = 0; s < n * bss; s++)
			model_acked(&model[b * bss + s], seq);
	}
	free(buf);
}

/* Read the whole device: every block readable, every sector allowed. */
static void verify_all(const char *what)
{
	unsigned int chunk = 64;
	unsigned char *buf = alloc_buf((size_t)chunk * bs);
	uint64_t b;

	for (b = 0; b < nblocks; b += chunk) {
		unsigned int n = nblocks - b < chunk ? nblocks - b : chunk, i;

		if (pread(rfd, buf, (size_t)n * bs, b * bs) == (ssize_t)n * bs) {
			check_read(buf, b * bss, n * bss, what);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (pread(rfd, buf, bs, (b + i) * bs) != (ssize_t)bs)
				violation(b + i, "%s: block %" PRIu64 " unreadable (%s) "
					  "with every fault healed", what, b + i,
					  strerror(errno));
			check_read(buf, (b + i) * bss, bss, what);
		}
	}
	free(buf);
}

/* Wait until the counters stop moving, then require used == remaps + bad. */
static struct st quiet_counters(const char *what)
{
	char line[1024], prev[1024] = "";
	uint64_t deadline = now_ms() + 60000;
	struct st s;

	for (;;) {
		if (dm_status(rname, false, line, sizeof(line)) || parse_status(line, &s))
			violation(UINT64_MAX, "%s: status failed: %s", what, line);
		if (!s.migrating && !strcmp(line, prev))
			break;
		if (now_ms() > deadline)
			violation(UINT64_MAX, "%s: status never settled: %s", what, line);
		snprintf(prev, sizeof(prev), "%s", line);
		sleep_ms(500);
	}
	oplog("%s: %s", what, line);
	printf("dmr-torture: %s: %s\n", what, line);
	check_counters(line, &s, true);
	return s;
}


static void create_devices(void)
{
	static const struct fault none = { F_NONE, 0, 0 };
	struct seg segs[3], seg;
	int n, err;

	lmain = (struct lower){ mname, main_nullb, main_sectors, none };
	lspare = (struct lower){ sname, spare_nullb, spare_sectors, none };
	n = lower_table(segs, main_nullb, main_sectors, &none);
	if ((err = dm_load(mname, true, segs, n)))
		die("create %s: %s", mname, strerror(err));
	n = lower_table(segs, spare_nullb, spare_sectors, &none);
	if ((err = dm_load(sname, true, segs, n)))
		die("create %s: %s", sname, strerror(err));
	remap_seg(&seg, &cur_features);
	if ((err = dm_load(rname, true, &seg, 1)))
		die("create %s (%s): %s", rname, seg.params, strerror(err));
	dm_task_update_nodes();
}

static void usage(void)
{
	fprintf(stderr,
"usage: dmr-torture -m MAIN_NULLB -S SPARE_NULLB -D DATA_START [-L SPARE_LEN] [options]\n"
"Creates dm devices PREFIX-main and PREFIX-spare (linear over the null_blk\n"
"devices /dev/MAIN_NULLB and /dev/SPARE_NULLB, which must be zero) and the\n"
"remap device PREFIX over them (spare area: the first SPARE_LEN sectors of\n"
"the spare, default all; its slots start at sector DATA_START), fills it\n"
"with stamped blocks, then runs\n"
"concurrently for the duration:\n"
"  -t N I/O threads: O_DIRECT reads and writes of 1-4 blocks or one sector,\n"
"       every sector stamped (block, sector, write seq, seed), checked\n"
"       against the model of acknowledged and failed writes;\n"
"  a message thread: remap, unremap, reclaim, query, list, commit,\n"
"       auto_remap, stats, scrub start/pause/resume/stop;\n"
"  a status thread: STATUS polling (spare used == remaps + bad_slots,\n"
"       metadata ok), list/query/table while tables change;\n"
"  a fault thread: on main (hot blocks) flakey error_writes (always or\n"
"       1 s of 2), flakey down, the error target or null_blk bad sectors;\n"
"       on the spare's slots null_blk bad sectors; each healed after some\n"
"       I/O ran into it;\n"
"  a control thread: suspend/resume, reloads with commit_interval,\n"
"       read_retries, auto_remap features.\n"
"Then heals everything, checks the counters on the quiet device, verifies\n"
"every block, removes and re-creates the remap device, verifies again and\n"
"removes its devices (run dm-remap-tool check on the spare afterwards).\n"
"options:\n"
"  -s SEED      (default: from the clock; printed)\n"
"  -d SECONDS   duration (default 60)\n"
"  -t N         I/O threads (default 4)\n"
"  -n PREFIX    dm device names (default tt)\n"
"  -H BLOCKS    hot region at the device start (default 128)\n"
"  -b BYTES     block size of the table (default 4096)\n"
"  -R           a refused reload of the remap table is logged, not a violation\n"
"  -X PARTS     switch parts off (comma list): msgs (remap/unremap/reclaim/auto_remap\n"
"               messages; query/list/commit stay), main, spare (faults on\n"
"               either), suspend, reload, partial (512 B writes)\n"
"exit: 0 no violation, 1 violation (seed and last operations printed),\n"
"      2 setup error\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS + 4];
	struct targ ta[MAX_THREADS + 4];
	bool have_seed = false, have_ds = false;
	struct st live, again;
	unsigned int i, nth = 0;
	struct timespec t;
	uint64_t last_report = 0;
	int c;

	while ((c = getopt(argc, argv, "s:d:t:m:S:D:L:n:H:b:RX:h")) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = true; break;
		case 'd': duration = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'm': main_nullb = optarg; break;
		case 'S': spare_nullb = optarg; break;
		case 'D': data_start = strtoull(optarg, NULL, 0); have_ds = true; break;
		case 'L': spare_len = strtoull(optarg, NULL, 0); break;
		case 'n': prefix = optarg; break;
		case 'H': hot_blocks = atoi(optarg); break;
		case 'b': bs = atoi(optarg); break;
		case 'R': allow_reload_failure = true; break;
		case 'X':
			no_msgs |= !!strstr(optarg, "msgs");
			no_main_faults |= !!strstr(optarg, "main");
			no_spare_faults |= !!strstr(optarg, "spare");
			no_suspend |= !!strstr(optarg, "suspend");
			no_reload |= !!strstr(optarg, "reload");
			no_partial |= !!strstr(optarg, "partial");
			break;
		default: usage();
		}
	}
	if (!main_nullb || !spare_nullb || !have_ds || nthreads < 1 ||
	    nthreads > MAX_THREADS || bs < SECT || bs % SECT)
		usage();
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	if (!have_seed) {
		clock_gettime(CLOCK_REALTIME, &t);
		seed = (uint64_t)t.tv_sec * 1000003 + t.tv_nsec / 1000;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	bss = bs / SECT;
	snprintf(rname, sizeof(rname), "%s", prefix);
	snprintf(mname, sizeof(mname), "%s-main", prefix);
	snprintf(sname, sizeof(sname), "%s-spare", prefix);
	snprintf(rpath, sizeof(rpath), "/dev/mapper/%s", rname);
	snprintf(mdev, sizeof(mdev), "/dev/%s", main_nullb);
	snprintf(sdev, sizeof(sdev), "/dev/%s", spare_nullb);
	main_sectors = dev_sectors(mdev) / bss * bss;
	spare_sectors = dev_sectors(sdev);
	nblocks = main_sectors / bss;
	if (hot_blocks > nblocks)
		hot_blocks = nblocks;
	if (!spare_len || spare_len > spare_sectors)
		spare_len = spare_sectors;
	if (data_start + bss > spare_len)
		die("data start %" PRIu64 " beyond the spare area", data_start);
	printf("dmr-torture: seed %" PRIu64 " duration %u s, %u I/O threads, %" PRIu64
	       " blocks of %u bytes (%u hot), spare area %" PRIu64 " sectors\n", seed,
	       duration, nthreads, nblocks, bs, hot_blocks, spare_len);

	dm_log_with_errno_init(dm_quiet_log);
	dm_udev_set_sync_support(0);
	model = calloc(nblocks * bss, sizeof(*model));
	block_lock = calloc(nblocks, sizeof(*block_lock));
	if (!model || !block_lock)
		die("out of memory");
	for (i = 0; i < nblocks; i++)
		pthread_mutex_init(&block_lock[i], NULL);

	create_devices();
	open_remap();
	fill();
	oplog("filled %" PRIu64 " blocks", nblocks);

	for (i = 0; i < nthreads + 4; i++) {
		void *(*fn)(void *) = i < nthreads ? io_thread :
			i == nthreads ? msg_thread : i == nthreads + 1 ? status_thread :
			i == nthreads + 2 ? fault_thread : ctl_thread;

		ta[i].tid = i + 1;
		if (pthread_create(&th[i], NULL, fn, &ta[i]))
			die("pthread_create failed");
		nth++;
	}
	while (!atomic_load(&stop) && now_ms() < (uint64_t)duration * 1000) {
		sleep_ms(200);
		if (now_ms() - last_report >= 10000) {
			last_report = now_ms();
			printf("dmr-torture: %.0f s: io %" PRIu64 " (reads ok %" PRIu64
			       ", writes ok %" PRIu64 ", errors %" PRIu64 "), msgs %" PRIu64
			       ", status %" PRIu64 ", faults %" PRIu64 ", suspends %" PRIu64
			       ", reloads %" PRIu64 "\n", now_ms() / 1000.0,
			       atomic_load(&io_ops), atomic_load(&reads_ok),
			       atomic_load(&writes_ok), atomic_load(&io_errors),
			       atomic_load(&n_msgs), atomic_load(&n_status),
			       atomic_load(&n_faults), atomic_load(&n_suspends),
			       atomic_load(&n_reloads));
		}
	}
	atomic_store(&stop, true);
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	my_tid = 0;
	printf("dmr-torture: stopped after %.1f s: io %" PRIu64 " (errors %" PRIu64
	       "), msgs %" PRIu64 ", status %" PRIu64 ", faults %" PRIu64 ", suspends %"
	       PRIu64 ", reloads %" PRIu64 "\n", now_ms() / 1000.0, atomic_load(&io_ops),
	       atomic_load(&io_errors), atomic_load(&n_msgs), atomic_load(&n_status),
	       atomic_load(&n_faults), atomic_load(&n_suspends), atomic_load(&n_reloads));
	printf("dmr-torture: messages: %" PRIu64 " blocks remapped, %" PRIu64 " unremapped, %"
	       PRIu64 " reclaimed, %" PRIu64 " refused by the test, %" PRIu64 " no_space, %"
	       PRIu64 " copy_failed, %" PRIu64 " remap/unremap/reclaim refused\n",
	       atomic_load(&n_remapped), atomic_load(&n_unremapped),
	       atomic_load(&n_reclaimed), atomic_load(&n_refused),
	       atomic_load(&n_no_space), atomic_load(&n_copy_failed),
	       atomic_load(&n_msg_errors));

	/* The fault thread healed its last fault; back to the base features. */
	if (atomic_load(&faults_active))
		die("a fault is still active after the threads stopped");
	quiet_counters("quiet device");
	sum_outage_stats();
	printf("dmr-torture: error path: %" PRIu64 " outages (%" PRIu64 " rounds), %" PRIu64
	       " blocks back from probation\n", atomic_load(&n_outages),
	       atomic_load(&n_outage_rounds), atomic_load(&n_probation));
	printf("dmr-torture: scrub: %" PRIu64 " blocks read, %" PRIu64 " found unreadable; %"
	       PRIu64 " weak blocks moved\n", atomic_load(&n_scrub_read),
	       atomic_load(&n_scrub_errors), atomic_load(&n_weak));
	{
		struct features base = { -1, -1, -1, -1, -1, -1, false };
		struct seg seg;
		int err;

		cur_features = base;
		remap_seg(&seg, &base);
		if ((err = remap_switch(&seg)))
			violation(UINT64_MAX, "final reload to the base table: %s",
				  strerror(err));
	}
	verify_all("final verify (live device)");
	/*
	 * That read every pending block; the ones that read whole again leave
	 * the list. A commit through the worker runs after those rechecks
	 * (one ordered queue), so the state compared below is settled.
	 */
	{
		char ans[256];
		int err = dm_msg(rname, "commit", ans, sizeof(ans));

		if (err)
			violation(UINT64_MAX, "commit after the final verify: %s",
				  strerror(err));
	}
	live = quiet_counters("verified device");
	close(rfd);
	if (dm_simple(rname, DM_DEVICE_REMOVE))
		die("remove %s: %s", rname, strerror(errno));
	{
		struct seg seg;
		int err;

		remap_seg(&seg, &cur_features);
		if ((err = dm_load(rname, true, &seg, 1)))
			violation(UINT64_MAX, "re-creating the remap device failed: %s",
				  strerror(err));
		dm_task_update_nodes();
	}
	open_remap();
	again = quiet_counters("re-created device");
	/* memory (before) and metadata (loaded now) must describe the same state */
	if (again.remaps != live.remaps || again.pending != live.pending ||
	    again.used != live.used || again.bad != live.bad)
		violation(UINT64_MAX, "the re-created device loaded spare used %" PRIu64
			  " remaps %" PRIu64 " pending %" PRIu64 " from the metadata; the "
			  "live device had %" PRIu64 " %" PRIu64 " %" PRIu64, again.used,
			  again.remaps, again.pending, live.used, live.remaps, live.pending);
	verify_all("final verify (re-created device)");
	printf("dmr-torture: final: used=%" PRIu64 " remaps=%" PRIu64 " pending=%"
	       PRIu64 "\n", again.used, again.remaps, again.pending);
	close(rfd);
	if (dm_simple(rname, DM_DEVICE_REMOVE) || dm_simple(mname, DM_DEVICE_REMOVE) ||
	    dm_simple(sname, DM_DEVICE_REMOVE))
		die("removing the devices failed");
	dm_task_update_nodes();
	printf("RESULT: pass seed=%" PRIu64 " duration=%us io=%" PRIu64 "\n", seed,
	       duration, atomic_load(&io_ops));
	return 0;
}
