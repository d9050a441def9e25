// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scrub (patrol read): reads every main block that is not remapped, in order
 * and throttled, so that unreadable blocks are found before a user hits them.
 * Runs on the worker's queue; reads main, marks blocks pending, persists its
 * position in the superblock.
 */
#include <linux/dm-io.h>
#include <linux/ioprio.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>

#include "dm-remap.h"
#include "trace.h"

/* One read: large enough to stream, small enough not to hold user I/O back. */
#define DMR_SCRUB_CHUNK		(1024 * 1024)	/* bytes */
/*
 * While a pass runs, its position is persisted about this often (ms),
 * measured between the starts of the reads, with a tenth of slack: at one
 * chunk a second or slower, every chunk is persisted.
 */
#define DMR_SCRUB_SAVE_MS	1000
/* While main is down, look again this often (ms). */
#define DMR_SCRUB_WAIT_MS	1000

struct dmr_param dmr_scrub_rate = { 16384, DMR_SCRUB_RATE_MIN, DMR_SCRUB_RATE_MAX };
module_param_cb(scrub_rate, &dmr_param_ops, &dmr_scrub_rate, 0644);
MODULE_PARM_DESC(scrub_rate,
		 "default scrub read rate in KiB/s (64-4194304, default 16384)");

static const char *const dmr_scrub_names[] = {
	[DMR_SCRUB_IDLE] = "idle",
	[DMR_SCRUB_RUNNING] = "running",
	[DMR_SCRUB_PAUSED] = "paused",
};

const char *dmr_scrub_name(u32 state)
{
	return dmr_scrub_names[state];
}

static u64 chunk_blocks(struct remap_c *rc)
{
	return DMR_SCRUB_CHUNK >> (rc->block_shift + SECTOR_SHIFT);
}

/* Read blocks [@first, @first + @n) of main into @buf, at idle priority. */
static int scrub_read(struct remap_c *rc, u64 first, u64 n, void *buf)
{
	struct dm_io_region region = {
		.bdev = rc->main_dev->bdev,
		.sector = dmr_block_to_sector(rc, first),
		.count = n << rc->block_shift,
	};
	struct dm_io_request req = {
		.bi_opf = REQ_OP_READ,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = buf,
		.client = rc->md.io,
	};

	return dmr_dm_io_prio(&req, 1, &region, NULL,
			      IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
}

/*
 * A run failed: read it block by block, each up to 1 + read_retries times,
 * to find the blocks that cannot be read at all (into @bad) and the weak
 * ones that read only on a retry (dm-remap-weak.c moves them).
 */
static unsigned int scrub_split(struct remap_c *rc, u64 first, u64 n,
				void *buf, u64 *bad)
{
	unsigned int nbad = 0, t;
	u64 b;

	for (b = first; b < first + n; b++) {
		void *at = buf + ((b - first) << (rc->block_shift + SECTOR_SHIFT));

		for (t = 0; t <= rc->read_retries; t++)
			if (!scrub_read(rc, b, 1, at))
				break;
		if (t > rc->read_retries)
			bad[nbad++] = b;
		else if (t)
			dmr_weak_found(rc, b);
	}
	return nbad;
}

/*
 * Unreadable blocks while main answers become pending, as a user's failed
 * read would make them: never remapped with invented data. -EAGAIN when
 * the failures are an outage (main down, or a burst): nothing is recorded.
 */
static int scrub_bad(struct remap_c *rc, u64 *bad, unsigned int nbad)
{
	void *probe = kmalloc(rc->geo.block_size, GFP_KERNEL);
	unsigned int i;
	int r = 0;

	if (!probe)
		return -ENOMEM;
	if (!dmr_main_answers(rc, probe)) {
		dmr_main_down(rc, false);
		r = -EAGAIN;
		goto out;
	}
	for (i = 0; i < nbad; i++)
		dmr_burst_note(rc, bad[i]);
	if (dmr_burst(rc)) {
		dmr_main_down(rc, true);
		r = -EAGAIN;
		goto out;
	}
	mutex_lock(&rc->lock);
	for (i = 0; i < nbad && !r; i++) {
		if (dmr_index_lookup(&rc->index, bad[i]))
			continue;
		r = dmr_pending_add(rc, bad[i]);
		if (r == -ENOSPC) {
			r = 0;	/* list full: counted, the errors stay */
			continue;
		}
		if (!r) {
			rc->scrub.errors++;
			trace_dmr_remap(bad[i], rc->pending_slot, true, "scrub");
		}
	}
	mutex_unlock(&rc->lock);
out:
	kfree(probe);
	return r;
}

/* Read the blocks of [@first, @first + @n) that main holds; see scrub_bad(). */
static int scrub_range(struct remap_c *rc, u64 first, u64 n)
{
	struct dmr_scrub *sc = &rc->scrub;
	unsigned int nbad = 0;
	u64 b = first, end = first + n, run, *bad;
	unsigned long t0;
	int r = 0;

	bad = kmalloc_array(n, sizeof(*bad), GFP_KERNEL);
	if (!bad)
		return -ENOMEM;
	while (b < end) {
		void *at = sc->buf + ((b - first) << (rc->block_shift + SECTOR_SHIFT));

		/* Remapped and pending blocks do not live on main: skip them. */
		if (dmr_index_lookup(&rc->index, b)) {
			b++;
			continue;
		}
		for (run = 1; b + run < end &&
		     !dmr_index_lookup(&rc->index, b + run); run++)
			;
		t0 = jiffies;
		if (scrub_read(rc, b, run, at))
			nbad += scrub_split(rc, b, run, at, bad + nbad);
		else if (rc->slow_read_jiffies &&
			 time_after(jiffies, t0 + rc->slow_read_jiffies))
			dmr_weak_suspect(rc, b, run);	/* which blocks: timed */
		sc->blocks_read += run;
		b += run;
	}
	trace_dmr_scrub(first, n, nbad);
	if (nbad)
		r = scrub_bad(rc, bad, nbad);
	kfree(bad);
	return r;
}

/* The next range: around a newly found bad block first, else in order. */
static bool scrub_next(struct remap_c *rc, u64 *first, u64 *n)
{
	struct dmr_scrub *sc = &rc->scrub;
	u64 cb = chunk_blocks(rc), nr = rc->geo.nr_blocks;

	if (sc->nr_near) {
		u64 b = sc->near[--sc->nr_near];

		*first = b > cb / 2 ? b - cb / 2 : 0;
		*n = min(cb, nr - *first);
		return true;
	}
	*first = sc->pos;
	*n = min(cb, nr - sc->pos);
	return false;
}

/* Persist the state now; 0 or the commit's error (the metadata failed). */
static int scrub_save(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;

	dmr_md_set_scrub(rc, sc->state, sc->pos, sc->last_pass);
	return dmr_md_commit(rc);
}

/* Restart the rate measurement: a pause is not made up for by a burst. */
static void scrub_rate_reset(struct dmr_scrub *sc)
{
	sc->t0 = ktime_get_ns();
	sc->bytes = 0;
}

/* How long to wait before the next chunk to hold the configured rate. */
static unsigned long scrub_delay(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;
	u64 now = ktime_get_ns(), due;

	due = sc->t0 + div64_u64(sc->bytes * NSEC_PER_SEC,
				 (u64)sc->rate * 1024);
	/* Far behind (main was down, the queue busy): do not catch up. */
	if (now > due + NSEC_PER_SEC) {
		scrub_rate_reset(sc);
		return 0;
	}
	/* Keep the product above in range. */
	if (sc->bytes >= SZ_1G) {
		sc->t0 = due;
		sc->bytes = 0;
	}
	return due > now ? nsecs_to_jiffies(due - now) : 0;
}

static void scrub_free(struct dmr_scrub *sc)
{
	vfree(sc->buf);
	sc->buf = NULL;
	sc->nr_near = 0;
}

static void scrub_pass_end(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;

	sc->state = DMR_SCRUB_IDLE;
	sc->pos = 0;
	sc->last_pass = ktime_get_real_seconds();
	sc->passes++;
	scrub_free(sc);
	DMINFO("%s: scrub pass done: %llu blocks read, %llu unreadable since load",
	       dm_table_device_name(rc->ti->table), sc->blocks_read, sc->errors);
}

static void dmr_scrub_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(to_delayed_work(ws), struct remap_c,
					  scrub.work);
	struct dmr_scrub *sc = &rc->scrub;
	unsigned long delay = msecs_to_jiffies(DMR_SCRUB_WAIT_MS);
	unsigned long start = jiffies;
	unsigned int noio;
	u64 first, n, found;
	bool near;
	int r;

	/* A suspended instance may be replaced: resume queues it again. */
	if (READ_ONCE(rc->suspended) || rc->md.failed ||
	    sc->state != DMR_SCRUB_RUNNING)
		return;
	noio = memalloc_noio_save();
	if (rc->main_down)
		goto again;	/* an outage: nothing to learn about blocks */
	if (!sc->buf)
		sc->buf = vmalloc(DMR_SCRUB_CHUNK);
	if (!sc->buf)
		goto again;

	near = scrub_next(rc, &first, &n);
	found = sc->errors;
	r = scrub_range(rc, first, n);
	if (r == -EAGAIN || r == -ENOMEM) {
		if (near)
			sc->near[sc->nr_near++] = first + n / 2;
		goto again;	/* the range is read again when it can be */
	}
	if (r)
		goto out;	/* the metadata failed: health says so */
	sc->bytes += n << (rc->block_shift + SECTOR_SHIFT);
	if (!near)
		sc->pos = first + n;
	if (sc->pos >= rc->geo.nr_blocks)
		scrub_pass_end(rc);
	/* Found blocks and the end of a pass are durable before the event. */
	if (sc->errors != found || sc->state != DMR_SCRUB_RUNNING ||
	    time_after_eq(start, sc->saved +
			  msecs_to_jiffies(DMR_SCRUB_SAVE_MS * 9 / 10))) {
		sc->saved = start;
		r = scrub_save(rc);
	} else {
		dmr_md_set_scrub(rc, sc->state, sc->pos, sc->last_pass);
	}
	if (sc->state != DMR_SCRUB_RUNNING) {
		dm_table_event(rc->ti->table);
		goto out;
	}
	if (r)
		goto out;
	delay = scrub_delay(rc);
again:
	queue_delayed_work(rc->wq, &sc->work, delay);
out:
	memalloc_noio_restore(noio);
	dmr_update_health(rc);
}

/*
 * A bad block found by user I/O (the error path, in the worker): while a
 * pass runs, its neighbourhood is read next, as bad sectors cluster.
 */
void dmr_scrub_near(struct remap_c *rc, u64 block)
{
	struct dmr_scrub *sc = &rc->scrub;
	unsigned int i;

	if (sc->state != DMR_SCRUB_RUNNING || sc->nr_near == DMR_SCRUB_NEAR)
		return;
	for (i = 0; i < sc->nr_near; i++)
		if (sc->near[i] == block)
			return;
	sc->near[sc->nr_near++] = block;
}

static const char *const dmr_scrub_op_names[] = {
	[DMR_SCRUB_START] = "start",
	[DMR_SCRUB_STOP] = "stop",
	[DMR_SCRUB_PAUSE] = "pause",
	[DMR_SCRUB_RESUME] = "resume",
};

int dmr_scrub_op_parse(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(dmr_scrub_op_names); i++)
		if (!strcasecmp(name, dmr_scrub_op_names[i]))
			return i;
	return -EINVAL;
}

/*
 * The scrub message, in the worker: change the state and persist it before
 * answering. Refused changes leave everything as it was.
 */
int dmr_scrub_control(struct remap_c *rc, enum dmr_scrub_op op)
{
	static const u32 allowed[] = {
		[DMR_SCRUB_START] = BIT(DMR_SCRUB_IDLE),
		[DMR_SCRUB_STOP] = BIT(DMR_SCRUB_IDLE) | BIT(DMR_SCRUB_RUNNING) |
				   BIT(DMR_SCRUB_PAUSED),
		[DMR_SCRUB_PAUSE] = BIT(DMR_SCRUB_RUNNING),
		[DMR_SCRUB_RESUME] = BIT(DMR_SCRUB_PAUSED),
	};
	static const u32 next[] = {
		[DMR_SCRUB_START] = DMR_SCRUB_RUNNING,
		[DMR_SCRUB_STOP] = DMR_SCRUB_IDLE,
		[DMR_SCRUB_PAUSE] = DMR_SCRUB_PAUSED,
		[DMR_SCRUB_RESUME] = DMR_SCRUB_RUNNING,
	};
	struct dmr_scrub *sc = &rc->scrub;
	u32 old = sc->state;
	u64 old_pos = sc->pos;
	int r;

	if (!(allowed[op] & BIT(old))) {
		DMERR_LIMIT("scrub %s: the scrub is %s", dmr_scrub_op_names[op],
			    dmr_scrub_names[old]);
		return -EBUSY;
	}
	sc->state = next[op];
	if (op == DMR_SCRUB_START || op == DMR_SCRUB_STOP)
		sc->pos = 0;
	r = scrub_save(rc);
	if (r) {
		sc->state = old;
		sc->pos = old_pos;
		return r;
	}
	if (sc->state == DMR_SCRUB_RUNNING) {
		scrub_rate_reset(sc);
		mod_delayed_work(rc->wq, &sc->work, 0);
	} else {
		cancel_delayed_work(&sc->work);
		if (sc->state == DMR_SCRUB_IDLE)
			scrub_free(sc);
	}
	dm_table_event(rc->ti->table);
	return 0;
}

/* Take the persisted state (constructor, or a resume that reloaded). */
void dmr_scrub_load(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;

	sc->state = rc->md.scrub_state;
	sc->pos = rc->md.scrub_pos;
	sc->last_pass = rc->md.scrub_last_pass;
	sc->nr_near = 0;
}

/* Resume: a pass that was running goes on where it was. */
void dmr_scrub_resume(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;

	sc->saved = jiffies;
	if (sc->state == DMR_SCRUB_RUNNING) {
		scrub_rate_reset(sc);
		queue_delayed_work(rc->wq, &sc->work, 0);
	}
}

/*
 * Postsuspend, before new work is refused: stop reading and persist the
 * position, so that a table loaded next goes on exactly where this one was.
 */
void dmr_scrub_suspend(struct remap_c *rc)
{
	struct dmr_req req = { .op = DMR_REQ_SCRUB, .first = DMR_SCRUB_SAVE };

	cancel_delayed_work_sync(&rc->scrub.work);
	dmr_worker_submit(rc, &req);
}

/* The worker's side of dmr_scrub_suspend(). */
int dmr_scrub_checkpoint(struct remap_c *rc)
{
	struct dmr_scrub *sc = &rc->scrub;

	cancel_delayed_work(&sc->work);
	if (rc->md.failed)
		return -EIO;
	dmr_md_set_scrub(rc, sc->state, sc->pos, sc->last_pass);
	return rc->md.sb_dirty ? scrub_save(rc) : 0;
}

void dmr_scrub_init(struct remap_c *rc)
{
	INIT_DELAYED_WORK(&rc->scrub.work, dmr_scrub_work);
}

void dmr_scrub_exit(struct remap_c *rc)
{
	cancel_delayed_work_sync(&rc->scrub.work);
	scrub_free(&rc->scrub);
}
