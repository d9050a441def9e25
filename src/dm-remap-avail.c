// SPDX-License-Identifier: GPL-2.0-only
/*
 * Is main usable: tells an outage from a media defect (main says offline,
 * probe reads of blocks not known bad, a burst of failing blocks), watches
 * main while it is down, and tests a remapped block of main in place before
 * reclaim (or probation, after a burst) moves it back. Runs in the worker;
 * reads and writes only main blocks whose data lives elsewhere.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "dm-remap.h"

/* Spread probe points: a cluster of bad sectors cannot cover them all. */
#define DMR_PROBE_POINTS	4

/* While main is down, how often to look whether it answers again (ms). */
#define DMR_PROBE_MS		1000

/* Read the first logical block of main block @block; true if it answered. */
static bool probe_one(struct remap_c *rc, u64 block, void *buf)
{
	unsigned int lbs = bdev_logical_block_size(rc->main_dev->bdev);

	/* Remapped or pending blocks of main may be bad: say nothing. */
	if (block >= rc->geo.nr_blocks || dmr_index_lookup(&rc->index, block))
		return false;
	if (dmr_block_io(rc, REQ_OP_READ, false, block, 0, lbs >> SECTOR_SHIFT, buf))
		return false;
	rc->last_good = block;
	return true;
}

/*
 * Does main answer at all? A read of the block that last answered, then of
 * blocks spread over the device: any success means it does. Each read is
 * one logical block, so the cost of a probe on a healthy device is small.
 */
bool dmr_main_answers(struct remap_c *rc, void *buf)
{
	unsigned int i;

	if (rc->last_good && probe_one(rc, rc->last_good, buf))
		return true;
	for (i = 0; i < DMR_PROBE_POINTS; i++)
		if (probe_one(rc, div_u64(rc->geo.nr_blocks * i, DMR_PROBE_POINTS), buf))
			return true;
	return false;
}

/* The index a ring of @size entries fills next, overwriting the oldest. */
static unsigned int ring_next(unsigned int *n, unsigned int *head,
			      unsigned int size)
{
	unsigned int i = *head;

	if (*n < size)
		return (*n)++;
	*head = (*head + 1) % size;
	return i;
}

/*
 * Record main block @block as failing though main answers. The ring holds the
 * last outage_blocks distinct such blocks, oldest first; a block already in
 * it is not counted again, so one bad block hit over and over is one block.
 */
void dmr_burst_note(struct remap_c *rc, u64 block)
{
	struct dmr_burst *b = &rc->burst;
	unsigned int i;

	if (!b->size)
		return;
	for (i = 0; i < b->n; i++)
		if (b->ring[i].block == block)
			return;
	i = ring_next(&b->n, &b->head, b->size);
	b->ring[i].block = block;
	b->ring[i].when = jiffies;
	b->last = jiffies;
}

/*
 * The error path remapped @block, noted failing, to @slot. Fewer than
 * outage_blocks such remaps fit in one window without a burst, so a ring of
 * that size holds every one a burst may take.
 */
void dmr_burst_remapped(struct remap_c *rc, u64 block, u64 slot)
{
	struct dmr_burst *b = &rc->burst;
	unsigned int i;

	if (!b->size)
		return;
	i = ring_next(&b->nr_recent, &b->recent_head, b->size);
	b->recent[i].block = block;
	b->recent[i].slot = slot;
	b->recent[i].when = jiffies;
}

/*
 * A burst was recognised: the blocks remapped within its window were
 * probably failing for the same reason, not their media. Once it is over,
 * each is tested in place and moved back if it passes.
 */
static void dmr_probation_take(struct remap_c *rc)
{
	struct dmr_burst *b = &rc->burst;
	unsigned long win = msecs_to_jiffies(b->window_ms);
	unsigned int i;

	for (i = 0; i < b->nr_recent && b->nr_probation < b->size; i++)
		if (time_before(jiffies, b->recent[i].when + win))
			b->probation[b->nr_probation++] = b->recent[i];
	b->nr_recent = 0;
	b->recent_head = 0;
}

/*
 * After a burst: reclaim what is still where the error path put it (not
 * moved by hand since). A suspend stops it; resume goes on.
 */
static void dmr_probation_run(struct remap_c *rc)
{
	const struct dmr_geom *g = &rc->index.geom;
	struct dmr_burst *b = &rc->burst;

	while (b->nr_probation && !READ_ONCE(rc->suspended)) {
		u64 block = b->probation[--b->nr_probation].block;
		u64 slot = b->probation[b->nr_probation].slot;
		u64 e = dmr_index_lookup(&rc->index, block);

		if (e && !dmr_entry_pending(rc, e) && dmr_entry_slot(g, e) == slot &&
		    dmr_reclaim_block(rc, block))
			rc->wstats.probation_reclaims++;
	}
	dmr_update_health(rc);
}

/*
 * Are blocks failing faster than media defects do? True once outage_blocks
 * distinct blocks failed within outage_window ms; after that, until a whole
 * window passes with no new block failing (a device that fails every write
 * keeps failing new ones; one bad block hit again does not count).
 */
bool dmr_burst(struct remap_c *rc)
{
	struct dmr_burst *b = &rc->burst;
	unsigned long win = msecs_to_jiffies(b->window_ms);

	if (!b->size)
		return false;
	if (rc->main_down_burst)
		return time_before(jiffies, b->last + win);
	return b->n == b->size && time_before(jiffies, b->ring[b->head].when + win);
}

/*
 * Main failed the retries and every probe, or blocks fail in a burst: an
 * outage, not bad blocks. The health says so (an event) until main answers
 * and the burst is over.
 */
void dmr_main_down(struct remap_c *rc, bool burst)
{
	rc->wstats.outage_rounds++;
	if (burst && !rc->main_down_burst)
		dmr_probation_take(rc);
	rc->main_down_burst |= burst;
	if (rc->main_down)
		return;
	DMWARN("%s: %s: errors pass through, nothing is remapped",
	       dm_table_device_name(rc->ti->table), burst ?
	       "blocks of main fail faster than media defects, taken for an outage" :
	       "main device does not answer");
	rc->main_down = true;
	rc->wstats.outages++;
	if (!READ_ONCE(rc->suspended))
		queue_delayed_work(rc->wq, &rc->probe_work,
				   msecs_to_jiffies(DMR_PROBE_MS));
}

/* Main answered and no burst is on: normal error handling again. */
void dmr_main_up(struct remap_c *rc)
{
	if (!rc->main_down)
		return;
	DMINFO("%s: main device answers again", dm_table_device_name(rc->ti->table));
	rc->main_down = false;
	rc->main_down_burst = false;
	if (rc->burst.nr_probation)
		queue_delayed_work(rc->wq, &rc->probe_work, 0);
}

/* Main said it is offline (end_io, any context): down until a probe answers. */
void dmr_main_offline(struct remap_c *rc)
{
	queue_work(rc->wq, &rc->offline_work);
}

static void dmr_offline_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(ws, struct remap_c, offline_work);

	if (rc->main_down || READ_ONCE(rc->suspended))
		return;
	dmr_main_down(rc, false);
	dmr_update_health(rc);
}

static void dmr_probe_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(to_delayed_work(ws), struct remap_c,
					  probe_work);
	unsigned int noio;
	void *buf;

	if (READ_ONCE(rc->suspended))
		return;		/* resume queues it again */
	noio = memalloc_noio_save();
	if (rc->main_down) {
		buf = kmalloc(rc->geo.block_size, GFP_KERNEL);
		if (buf && !dmr_burst(rc) && dmr_main_answers(rc, buf)) {
			dmr_main_up(rc);
			dmr_update_health(rc);
		} else {
			queue_delayed_work(rc->wq, &rc->probe_work,
					   msecs_to_jiffies(DMR_PROBE_MS));
		}
		kfree(buf);
	}
	if (!rc->main_down && rc->burst.nr_probation)
		dmr_probation_run(rc);
	memalloc_noio_restore(noio);
}

int dmr_avail_init(struct remap_c *rc)
{
	INIT_DELAYED_WORK(&rc->probe_work, dmr_probe_work);
	INIT_WORK(&rc->offline_work, dmr_offline_work);
	if (!rc->burst.size)
		return 0;
	rc->burst.ring = kvcalloc(rc->burst.size, sizeof(*rc->burst.ring),
				  GFP_KERNEL);
	rc->burst.recent = kvcalloc(rc->burst.size, sizeof(*rc->burst.recent),
				    GFP_KERNEL);
	rc->burst.probation = kvcalloc(rc->burst.size,
				       sizeof(*rc->burst.probation), GFP_KERNEL);
	return rc->burst.ring && rc->burst.recent && rc->burst.probation ?
	       0 : -ENOMEM;
}

/* Resume: keep watching a main that was down, finish a probation. */
void dmr_avail_resume(struct remap_c *rc)
{
	if (rc->main_down || rc->burst.nr_probation)
		queue_delayed_work(rc->wq, &rc->probe_work, 0);
}

void dmr_avail_exit(struct remap_c *rc)
{
	cancel_work_sync(&rc->offline_work);
	cancel_delayed_work_sync(&rc->probe_work);
	kvfree(rc->burst.ring);
	kvfree(rc->burst.recent);
	kvfree(rc->burst.probation);
}

/* Passes of the in-place test; the last pattern is unique to the block. */
#define DMR_TEST_PASSES		3

/*
 * Does main block @block (remapped: its data lives in a spare slot, main's
 * copy is stale) hold what is written to it? Each pass writes a pattern
 * with FUA and reads it back; a write or read error or a difference fails.
 * A drive may serve the read from its cache, so this finds blocks that
 * still fail, not every weak one; @buf and @got are block-sized.
 */
bool dmr_main_block_holds(struct remap_c *rc, u64 block, void *buf, void *got)
{
	unsigned int bs = rc->geo.block_size, i, pass;
	__le64 *stamp = buf;

	for (pass = 0; pass < DMR_TEST_PASSES; pass++) {
		if (pass < DMR_TEST_PASSES - 1) {
			memset(buf, pass ? 0xaa : 0x55, bs);
		} else {
			for (i = 0; i < bs / sizeof(*stamp); i++)
				stamp[i] = cpu_to_le64(block ^ ((u64)i << 48));
		}
		if (dmr_block_io(rc, REQ_OP_WRITE | REQ_FUA, false, block, 0,
				 rc->geo.block_sectors, buf) ||
		    dmr_block_io(rc, REQ_OP_READ, false, block, 0,
				 rc->geo.block_sectors, got) ||
		    memcmp(buf, got, bs))
			return false;
	}
	return true;
}
