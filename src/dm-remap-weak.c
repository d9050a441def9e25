// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weak blocks: main blocks that still read, but only on a retry or slowly,
 * are moved to the spare while their data can be read, within a budget.
 * Runs in the worker (dmr_weak_suspect from end_io); reads main, remaps.
 */
#include <linux/slab.h>
#include <linux/sched/mm.h>

#include "dm-remap.h"
#include "trace.h"

/* A slow read is timed again in pieces of at most this many blocks. */
#define DMR_WEAK_SPAN		64

/* The budget is counted in 1/(3600 * HZ) of a block: one block an hour. */
#define DMR_WEAK_UNIT		(3600ULL * HZ)

/*
 * Off by default: seen from here, a path that drops I/O for a moment looks
 * like a sector that read on a retry; moving it would spend the spare.
 */
struct dmr_param dmr_weak_budget = { 0, 0, 100000 };
module_param_cb(weak_budget, &dmr_param_ops, &dmr_weak_budget, 0644);
MODULE_PARM_DESC(weak_budget,
		 "default weak blocks moved to the spare per hour, 0: never (0-100000, default 0)");

DEFINE_STATIC_KEY_FALSE(dmr_slow_reads);

struct dmr_param dmr_slow_read_ms = { 0, 0, 600000 };
module_param_cb(slow_read_ms, &dmr_param_ops, &dmr_slow_read_ms, 0644);
MODULE_PARM_DESC(slow_read_ms,
		 "default time in ms after which a read of main marks its blocks weak, 0: off (0-600000, default 0)");

/* Queue a check or a move (any context); dropped when the queue is full. */
static void weak_queue(struct remap_c *rc, u64 block, unsigned int nr,
		       bool slow)
{
	struct dmr_weak *w = &rc->weak;
	unsigned long flags;

	spin_lock_irqsave(&w->lock, flags);
	if (w->n < DMR_WEAK_MAX) {
		w->q[w->n].block = block;
		w->q[w->n].nr = nr;
		w->q[w->n].slow = slow;
		w->n++;
	}
	spin_unlock_irqrestore(&w->lock, flags);
	queue_work(rc->wq, &w->work);
}

/*
 * A read of main blocks [@block, @block + @nr) took longer than
 * slow_read_ms (end_io, any context): the worker times them one by one.
 */
void dmr_weak_suspect(struct remap_c *rc, u64 block, unsigned int nr)
{
	unsigned int n;

	for (; nr; nr -= n, block += n) {
		n = min_t(unsigned int, nr, DMR_WEAK_SPAN);
		weak_queue(rc, block, n, true);
	}
}

/* @block read only on a retry (the worker: error path, scrub). */
void dmr_weak_found(struct remap_c *rc, u64 block)
{
	weak_queue(rc, block, 1, false);
}

/*
 * May one more weak block go to the spare? Only within the budget (a
 * bucket of weak_budget blocks, refilled at weak_budget an hour), and only
 * while the spare is not low: the rest is kept for blocks that fail.
 */
static bool weak_allowed(struct remap_c *rc)
{
	struct dmr_weak *w = &rc->weak;
	u64 cap = (u64)w->budget * DMR_WEAK_UNIT;

	w->credit = min(cap, w->credit + (u64)(jiffies - w->refill) * w->budget);
	w->refill = jiffies;
	if (w->credit < DMR_WEAK_UNIT || rc->health == DMR_HEALTH_SPARE_LOW ||
	    rc->health == DMR_HEALTH_SPARE_FULL || rc->health ==
	    DMR_HEALTH_MAIN_UNAVAILABLE)
		return false;
	w->credit -= DMR_WEAK_UNIT;
	return true;
}

static void weak_block(struct remap_c *rc, u64 block, const char *why)
{
	rc->wstats.weak_found++;
	trace_dmr_weak(block, why);
	if (!weak_allowed(rc)) {
		rc->wstats.weak_skipped++;
		DMWARN_LIMIT("%s: weak block %llu (%s) stays: no budget or spare",
			     dm_table_device_name(rc->ti->table), block, why);
		return;
	}
	dmr_relocate_block(rc, block);
}

/* Time one read of each block; the slow ones are weak. */
static void weak_time(struct remap_c *rc, u64 block, unsigned int nr, void *buf)
{
	u64 b;

	for (b = block; b < block + nr && b < rc->geo.nr_blocks; b++) {
		unsigned long t0 = jiffies;

		if (dmr_index_lookup(&rc->index, b) ||
		    dmr_block_io(rc, REQ_OP_READ, false, b, 0,
				 rc->geo.block_sectors, buf))
			continue;	/* moved since, or the error path's */
		if (time_after(jiffies, t0 + rc->slow_read_jiffies))
			weak_block(rc, b, "slow");
	}
}

static void dmr_weak_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(ws, struct remap_c, weak.work);
	struct dmr_weak *w = &rc->weak;
	struct dmr_weak_item q[DMR_WEAK_MAX];
	unsigned int i, n, noio;
	void *buf;

	spin_lock_irq(&w->lock);
	n = w->n;
	memcpy(q, w->q, n * sizeof(*q));
	w->n = 0;
	spin_unlock_irq(&w->lock);
	/* A suspended instance may be replaced: it must not commit. */
	if (!n || READ_ONCE(rc->suspended) || rc->md.failed || rc->main_down)
		return;
	noio = memalloc_noio_save();
	buf = kmalloc(rc->geo.block_size, GFP_KERNEL);
	for (i = 0; buf && i < n; i++) {
		if (q[i].slow)
			weak_time(rc, q[i].block, q[i].nr, buf);
		else if (!dmr_index_lookup(&rc->index, q[i].block))
			weak_block(rc, q[i].block, "retry");
	}
	kfree(buf);
	memalloc_noio_restore(noio);
	dmr_update_health(rc);
}

void dmr_weak_init(struct remap_c *rc)
{
	struct dmr_weak *w = &rc->weak;

	spin_lock_init(&w->lock);
	INIT_WORK(&w->work, dmr_weak_work);
	rc->slow_read_jiffies = msecs_to_jiffies(w->slow_ms);
	if (rc->slow_read_jiffies)
		static_branch_inc(&dmr_slow_reads);
	/* A new table may move a whole budget at once. */
	w->credit = (u64)w->budget * DMR_WEAK_UNIT;
	w->refill = jiffies;
}

void dmr_weak_exit(struct remap_c *rc)
{
	cancel_work_sync(&rc->weak.work);
	if (rc->slow_read_jiffies)
		static_branch_dec(&dmr_slow_reads);
}
