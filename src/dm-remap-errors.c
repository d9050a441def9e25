// SPDX-License-Identifier: GPL-2.0-only
/*
 * Automatic remapping: bios that failed on a device are retried block by
 * block in the worker; blocks that keep failing are remapped (writes) or
 * recorded as pending (reads), and the held bios completed only after that
 * is durable. Runs in the worker; touches the table, slot map and metadata.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "dm-remap.h"
#include "trace.h"

/* The piece of one held bio that lies inside one block. */
struct dmr_item {
	struct bio *bio;
	u64 block;
	unsigned int seq;	/* arrival order, kept by the sort */
	unsigned int off;	/* sectors into the block */
	unsigned int len;	/* sectors */
	unsigned int bio_off;	/* bytes into the bio */
	bool write;
	bool spare;		/* last tried on the spare... */
	u64 slot;		/* ...in this slot */
	bool bad;		/* still failing after the retries */
	bool held;		/* a write to a pending block, not sent to main */
	bool done;		/* the data is where it belongs */
	bool weak;		/* a read of main that worked only on a retry */
};

/* Where one bad block's data goes. */
struct dmr_fix {
	u64 block;
	u64 old;		/* previous entry (0: main, or pending) */
	u64 slot;		/* destination slot */
	unsigned int first;	/* its items: [first, first + n) */
	unsigned int n;
	bool relocate;		/* the old spare slot failed: mark it bad */
	bool old_bad;		/* ...and it was marked */
	bool ok;
	s64 pending_pos;	/* the old pending position it left, or -1 */
};

static struct dmr_io *io_of(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct dmr_io));
}

/*
 * Where the item's block lives now, by the map path's rules: its slot if
 * remapped, else main (also when pending). A migration or an earlier round
 * may have moved it since the bio was mapped; the worker is the only writer
 * of the table, so this stays true until the round publishes.
 */
static void item_locate(struct remap_c *rc, struct dmr_item *it)
{
	u64 e = dmr_index_lookup(&rc->index, it->block);

	it->spare = e && !dmr_entry_pending(rc, e);
	it->slot = it->spare ? dmr_entry_slot(&rc->index.geom, e) : 0;
}

/* Resubmit one item of a held bio to where its block is now; 0 on success. */
static int item_retry(struct remap_c *rc, struct dmr_item *it)
{
	struct dmr_io *io = io_of(it->bio);
	struct bio *clone;
	int r;

	item_locate(rc, it);
	clone = bio_alloc_clone(it->spare ? rc->spare_dev->bdev :
				rc->main_dev->bdev, it->bio, GFP_NOIO, &rc->bs);
	if (!clone)
		return -ENOMEM;
	clone->bi_iter = io->iter;
	bio_advance(clone, it->bio_off);
	clone->bi_iter.bi_size = it->len << SECTOR_SHIFT;
	clone->bi_iter.bi_sector = it->off +
		(it->spare ? dmr_slot_sector(&rc->geo, it->slot) :
			     dmr_block_to_sector(rc, it->block));
	/* Keep the caller's flags: a FUA write must be retried as FUA. */
	clone->bi_opf |= REQ_SYNC;
	r = submit_bio_wait(clone);
	bio_put(clone);
	return r;
}

/*
 * Synchronous I/O, through dm-io, to sectors [@off, @off + @count) of a block
 * on main or of a spare slot; @buf holds the whole block.
 */
int dmr_block_io(struct remap_c *rc, blk_opf_t op, bool spare, u64 where,
		 unsigned int off, unsigned int count, void *buf)
{
	struct dm_io_region region = {
		.bdev = spare ? rc->spare_dev->bdev : rc->main_dev->bdev,
		.sector = off + (spare ? dmr_slot_sector(&rc->geo, where) :
				 dmr_block_to_sector(rc, where)),
		.count = count,
	};
	struct dm_io_request req = {
		.bi_opf = op | REQ_SYNC,
		.mem.type = DM_IO_KMEM,
		.mem.ptr.addr = buf + (off << SECTOR_SHIFT),
		.client = rc->md.io,
	};

	return dmr_dm_io(&req, 1, &region, NULL);
}

/* Copy an item's data out of its bio into the block buffer. */
static void item_copy(struct dmr_item *it, void *block)
{
	struct bvec_iter iter = io_of(it->bio)->iter;
	char *to = block + (it->off << SECTOR_SHIFT);
	struct bio_vec bv;

	bio_advance_iter(it->bio, &iter, it->bio_off);
	iter.bi_size = it->len << SECTOR_SHIFT;
	__bio_for_each_segment(bv, it->bio, iter, iter) {
		memcpy_from_bvec(to, &bv);
		to += bv.bv_len;
	}
}

/* Split the held bios into per-block items, in arrival order. */
static struct dmr_item *make_items(struct remap_c *rc, struct llist_node *list,
				   unsigned int *nr)
{
	const unsigned int bs = rc->geo.block_sectors;
	struct dmr_item *items = NULL;
	unsigned int n = 0, cap = 0;
	struct dmr_io *io, *tmp;

	llist_for_each_entry_safe(io, tmp, list, node) {
		struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));
		u64 sector = io->spare ? dmr_block_to_sector(rc, io->block) +
			     ((io->iter.bi_sector - rc->geo.data_start) & (bs - 1)) :
			     io->iter.bi_sector;
		unsigned int left = io->iter.bi_size >> SECTOR_SHIFT, done = 0;

		io->items = 0;
		io->failed = false;

		while (left) {
			struct dmr_item *it;
			unsigned int off = sector & (bs - 1);

			if (n == cap) {
				struct dmr_item *bigger;

				cap = max(64U, cap * 2);
				/* The worker runs under memalloc_noio_save(). */
				bigger = dmr_kvrealloc(items, n * sizeof(*items),
						       cap * sizeof(*items),
						       GFP_KERNEL);
				if (!bigger) {
					kvfree(items);
					return NULL;
				}
				items = bigger;
			}
			it = &items[n];
			*it = (struct dmr_item) {
				.bio = bio, .seq = n, .off = off,
				.block = sector >> rc->block_shift,
				.len = min(left, bs - off),
				.bio_off = done << SECTOR_SHIFT,
				.write = op_is_write(bio_op(bio)),
				.bad = io->state == DMR_IO_HELD_WRITE,
				.held = io->state == DMR_IO_HELD_WRITE,
			};
			sector += it->len;
			done += it->len;
			left -= it->len;
			io->items++;
			n++;
		}
	}
	*nr = n;
	return items;
}

static int cmp_item(const void *a, const void *b)
{
	const struct dmr_item *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/*
 * Retry every item not yet done where its block is now, reads up to
 * @read_tries times; returns how many failed on main. A write held for a
 * pending block that an earlier round has remapped meanwhile is retried
 * like any other.
 */
static unsigned int retry_items(struct remap_c *rc, struct dmr_item *items,
				unsigned int n, unsigned int read_tries)
{
	unsigned int i, t, tries, failed = 0;

	for (i = 0; i < n; i++) {
		struct dmr_item *it = &items[i];

		if (it->done)
			continue;
		if (it->held) {
			u64 e = dmr_index_lookup(&rc->index, it->block);

			if (e && dmr_entry_pending(rc, e))
				continue;
			it->held = false;
		}
		tries = it->write ? 1 : read_tries;
		for (t = 0; t < tries; t++) {
			if (!item_retry(rc, it)) {
				it->done = true;
				break;
			}
		}
		/*
		 * Weak: it failed a retry of its own (now, or in the round's
		 * first pass), or the bio that failed was about this block
		 * alone, and a read then worked.
		 */
		it->weak = it->done && !it->write && !it->spare &&
			   (t || it->bad || io_of(it->bio)->items == 1);
		it->bad = !it->done;
		if (it->spare)
			continue;
		if (it->done)
			rc->last_good = it->block;
		else
			failed++;
	}
	return failed;
}

/*
 * A block that keeps failing is a media defect only while main answers
 * elsewhere: a probe first, then one more try of what still fails, so that
 * a device that came back between the retries and the probe is not taken
 * for bad blocks; and only while blocks do not fail faster than media
 * defects do (a device that reads but fails every write answers probes).
 * Returns false for an outage.
 */
static bool classify(struct remap_c *rc, struct dmr_item *items,
		     unsigned int n, unsigned int failed, void *buf)
{
	unsigned int i;

	if (!failed)
		return true;
	if (!dmr_main_answers(rc, buf)) {
		dmr_main_down(rc, false);
		return false;
	}
	retry_items(rc, items, n, min(rc->read_retries, 1U));
	for (i = 0; i < n; i++)
		if (items[i].bad && !items[i].spare)
			dmr_burst_note(rc, items[i].block);
	if (dmr_burst(rc)) {
		dmr_main_down(rc, true);
		return false;
	}
	dmr_main_up(rc);
	return true;
}

/* Mark in @covered the sectors of @fix's block that its held writes set. */
static void fix_covered(struct remap_c *rc, struct dmr_item *items,
			struct dmr_fix *fix, unsigned long *covered)
{
	unsigned int i;

	bitmap_zero(covered, rc->geo.block_sectors);
	for (i = fix->first; i < fix->first + fix->n; i++)
		if (items[i].write)
			bitmap_set(covered, items[i].off, items[i].len);
}

/*
 * The block as a whole is unreadable: read the logical blocks the held
 * writes do not fully overwrite one by one, so that bad sectors the writes
 * replace do not stop the repair. Fails if any other sector is unreadable.
 */
static int read_uncovered(struct remap_c *rc, unsigned long *covered,
			  bool spare, u64 where, void *buf)
{
	struct block_device *bdev = spare ? rc->spare_dev->bdev :
					    rc->main_dev->bdev;
	unsigned int u = bdev_logical_block_size(bdev) >> SECTOR_SHIFT, s;
	int r;

	for (s = 0; s < rc->geo.block_sectors; s += u) {
		if (find_next_zero_bit(covered, s + u, s) >= s + u)
			continue;
		r = dmr_block_io(rc, REQ_OP_READ, spare, where, s, u, buf);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Build the block's new content (old content, when readable and needed, with
 * the held writes laid over it in arrival order) and write it to the fix's
 * new slot; a slot that fails is marked bad and the next one tried. On
 * failure fix->slot is a slot to give back, or U64_MAX.
 */
static int fix_write(struct remap_c *rc, struct dmr_item *items,
		     struct dmr_fix *fix, void *buf)
{
	unsigned long covered[BITS_TO_LONGS(DMR_MAX_BLOCK_SIZE >> SECTOR_SHIFT)];
	const struct dmr_geom *g = &rc->index.geom;
	unsigned int i, tries, bs = rc->geo.block_sectors;
	int r;

	fix_covered(rc, items, fix, covered);
	if (!bitmap_full(covered, bs)) {
		bool from_spare = fix->old && !dmr_entry_pending(rc, fix->old);
		u64 where = from_spare ? dmr_entry_slot(g, fix->old) : fix->block;

		r = dmr_block_io(rc, REQ_OP_READ, from_spare, where, 0, bs, buf);
		if (r)
			r = read_uncovered(rc, covered, from_spare, where, buf);
		if (r)
			return r;	/* the rest of the block is unreadable */
	}
	for (i = fix->first; i < fix->first + fix->n; i++)
		if (items[i].write)
			item_copy(&items[i], buf);

	for (tries = 0; ; tries++) {
		r = dmr_block_io(rc, REQ_OP_WRITE, true, fix->slot, 0, bs, buf);
		if (!r)
			return 0;
		/* Never reuse it; persisted with the round's commit. */
		r = dmr_slot_mark_bad(rc, fix->slot);
		fix->slot = U64_MAX;
		if (r)
			return r;
		if (tries == 3)
			return -EIO;
		fix->slot = dmr_slot_alloc(rc);
		if (fix->slot == U64_MAX)
			return -ENOSPC;
	}
}

/*
 * Pick a new slot for every bad block with failed or held writes. Each
 * write was last tried where the block is now, so a block still remapped
 * has a slot that failed: it moves (relocate) and the slot is marked bad
 * once the data is safe elsewhere. Returns the number of fixes; blocks that
 * cannot be fixed (no spare, auto_remap off, metadata failed) keep their
 * items bad.
 */
static unsigned int plan_fixes(struct remap_c *rc, struct dmr_item *items,
			       unsigned int n, struct dmr_fix *fixes)
{
	unsigned int i = 0, j, nf = 0;
	bool has_write;

	while (i < n) {
		struct dmr_fix *fix = &fixes[nf];
		u64 e;

		for (j = i, has_write = false;
		     j < n && items[j].block == items[i].block; j++)
			has_write |= items[j].bad && items[j].write;
		if (!has_write || !READ_ONCE(rc->auto_remap) || rc->md.failed) {
			i = j;
			continue;
		}
		e = dmr_index_lookup(&rc->index, items[i].block);
		*fix = (struct dmr_fix) { .block = items[i].block, .old = e,
					  .first = i, .n = j - i,
					  .pending_pos = -1,
					  .relocate = e && !dmr_entry_pending(rc, e) };
		fix->slot = dmr_slot_alloc(rc);
		i = j;
		if (fix->slot == U64_MAX) {
			rc->wstats.spare_full_errors++;
			continue;
		}
		nf++;
	}
	return nf;
}

/* Publish the fixes (busy) so that new I/O to those blocks waits. */
static int publish_busy(struct remap_c *rc, struct dmr_fix *fixes,
			unsigned int nf)
{
	unsigned int i;
	int r;

	r = dmr_index_reserve(&rc->index, nf);
	for (i = 0; !r && i < nf; i++) {
		if (fixes[i].old)
			r = dmr_index_update(&rc->index, fixes[i].block,
					     dmr_entry_slot(&rc->index.geom, fixes[i].old),
					     true);
		else
			r = dmr_index_insert(&rc->index, fixes[i].block,
					     rc->pending_slot, true);
	}
	return r;
}

/* Record blocks whose reads keep failing on main as pending (persisted). */
static int plan_pending(struct remap_c *rc, struct dmr_item *items,
			unsigned int n)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		struct dmr_item *it = &items[i];

		if (!it->bad || it->write || it->spare)
			continue;
		if (dmr_index_lookup(&rc->index, it->block))
			continue;	/* already pending, or remapped since */
		r = dmr_pending_add(rc, it->block);
		if (r == -ENOSPC)
			continue;	/* pending list full: error only */
		if (r)
			return r;
		trace_dmr_remap(it->block, rc->pending_slot, true, "pending");
		dmr_scrub_near(rc, it->block);
	}
	return 0;
}

/*
 * A write held for a pending block that could not be remapped (spare full,
 * auto_remap off, metadata failed) goes to main like any write: the disk may
 * well take it. The block stays pending.
 */
static void write_held_to_main(struct remap_c *rc, struct dmr_item *items,
			       unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (items[i].held && !items[i].done)
			items[i].done = !item_retry(rc, &items[i]);
}

/* Complete each held bio once its last item is settled. */
static void complete_items(struct remap_c *rc, struct dmr_item *items,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct bio *bio = items[i].bio;
		struct dmr_io *io = io_of(bio);

		io->failed |= !items[i].done;
		if (--io->items)
			continue;
		trace_dmr_io_error(io->iter.bi_sector, io->iter.bi_size >> SECTOR_SHIFT,
				   op_is_write(bio_op(bio)), io->failed ? -EIO : 0,
				   io->failed ? "failed" : "recovered");
		io->state = DMR_IO_FINAL;
		bio->bi_status = io->failed ? BLK_STS_IOERR : BLK_STS_OK;
		bio_endio(bio);
	}
}

/*
 * A read of a pending block succeeded (end_io, any context): the worker
 * reads the whole block and, if all of it reads, takes it off the pending
 * list. Only a hint: when the queue is full it is dropped, and a later
 * read of the block asks again.
 */
void dmr_pending_readable(struct remap_c *rc, u64 block)
{
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&rc->recheck_lock, flags);
	for (i = 0; i < rc->nr_recheck && rc->recheck[i] != block; i++)
		;
	if (i == rc->nr_recheck && i < ARRAY_SIZE(rc->recheck))
		rc->recheck[rc->nr_recheck++] = block;
	spin_unlock_irqrestore(&rc->recheck_lock, flags);
	queue_work(rc->wq, &rc->recheck_work);
}

/*
 * Pending means "lives on main, unreadable": a block that reads whole again
 * (the errors came from an outage, or the drive recovered the sector) only
 * leaves the list and the table; no data moves, so no quiesce is needed.
 */
static void dmr_recheck_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(ws, struct remap_c, recheck_work);
	u64 blocks[DMR_RECHECK_MAX];
	s64 pos[DMR_RECHECK_MAX];
	unsigned int i, n, k = 0, noio;
	void *buf;
	int r = 0;

	spin_lock_irq(&rc->recheck_lock);
	n = rc->nr_recheck;
	memcpy(blocks, rc->recheck, n * sizeof(*blocks));
	rc->nr_recheck = 0;
	spin_unlock_irq(&rc->recheck_lock);
	/* A suspended instance may be replaced: it must not commit. */
	if (!n || READ_ONCE(rc->suspended) || rc->md.failed)
		return;
	noio = memalloc_noio_save();
	buf = kmalloc(rc->geo.block_size, GFP_KERNEL);
	for (i = 0; buf && i < n; i++) {
		u64 e = dmr_index_lookup(&rc->index, blocks[i]);

		if (!e || !dmr_entry_pending(rc, e) ||
		    dmr_block_io(rc, REQ_OP_READ, false, blocks[i], 0,
				 rc->geo.block_sectors, buf))
			continue;
		mutex_lock(&rc->lock);
		pos[k] = dmr_pending_remove(rc, blocks[i]);
		mutex_unlock(&rc->lock);
		if (pos[k] < 0) {
			r = pos[k];
			break;
		}
		blocks[k++] = blocks[i];
	}
	kfree(buf);
	if (r)
		dmr_md_discard(rc);
	else if (k)
		r = dmr_md_commit(rc);
	mutex_lock(&rc->lock);
	for (i = 0; i < k; i++) {
		if (r) {
			dmr_pending_restore(rc, pos[i], blocks[i]);
			continue;
		}
		dmr_index_remove(&rc->index, blocks[i]);
		rc->wstats.pending_readable++;
		trace_dmr_remap(blocks[i], rc->pending_slot, false, "readable");
	}
	mutex_unlock(&rc->lock);
	memalloc_noio_restore(noio);
	dmr_update_health(rc);
}

void dmr_errors_init(struct remap_c *rc)
{
	spin_lock_init(&rc->recheck_lock);
	INIT_WORK(&rc->recheck_work, dmr_recheck_work);
}

/*
 * One round over every held bio: retry, remap bad written blocks, mark
 * unreadable ones pending, commit once, then complete the bios.
 */
void dmr_errors_round(struct remap_c *rc, struct llist_node *list)
{
	const struct dmr_geom *g = &rc->index.geom;
	unsigned int n, nf, i, j;
	struct dmr_item *items;
	struct dmr_fix *fixes = NULL;
	void *buf = NULL;
	int r = 0;

	items = make_items(rc, list, &n);
	buf = kmalloc(rc->geo.block_size, GFP_KERNEL);
	if (!items || !buf) {
		struct dmr_io *io, *tmp;

		kvfree(items);
		kfree(buf);
		llist_for_each_entry_safe(io, tmp, list, node) {
			struct bio *bio = dm_bio_from_per_bio_data(io, sizeof(*io));

			io->state = DMR_IO_FINAL;
			bio->bi_status = BLK_STS_RESOURCE;
			bio_endio(bio);
		}
		return;
	}
	if (!classify(rc, items, n, retry_items(rc, items, n, rc->read_retries),
		      buf))
		goto complete;	/* an outage: the errors go up as they are */
	for (i = 0; i < n; i++)
		if (items[i].weak)
			dmr_weak_found(rc, items[i].block);
	sort(items, n, sizeof(*items), cmp_item, NULL);

	fixes = kvcalloc(n, sizeof(*fixes), GFP_KERNEL);
	if (!fixes)
		goto complete;

	mutex_lock(&rc->lock);
	nf = plan_fixes(rc, items, n, fixes);
	r = publish_busy(rc, fixes, nf);
	/* Status: slots in flight, so used may exceed remaps + bad by this. */
	rc->wstats.migrating = nf;
	mutex_unlock(&rc->lock);
	/* If publishing failed, every fix is rolled back below: items stay bad. */
	if (nf && !r) {
		dmr_quiesce(rc);
		for (i = 0; i < nf; i++) {
			r = fix_write(rc, items, &fixes[i], buf);
			fixes[i].ok = !r;
			/* A bad slot's record not queued: nothing may go live. */
			if (r && rc->md.failed)
				break;
			r = 0;
		}
	}
	for (i = 0; !r && i < nf; i++) {
		struct dmr_fix *fix = &fixes[i];

		if (!fix->ok)
			continue;
		if (fix->old && dmr_entry_pending(rc, fix->old)) {
			s64 pos = dmr_pending_remove(rc, fix->block);

			if (pos < 0)
				r = pos;
			else
				fix->pending_pos = pos;
		}
		/* The old slot's record becomes BAD only once the data moved. */
		if (!r && fix->relocate) {
			fix->old_bad = true;
			r = dmr_slot_mark_bad(rc, dmr_entry_slot(g, fix->old));
		}
		r = r ?: dmr_md_set(rc, fix->slot,
				    dmr_rec_make(DMR_REC_MAPPED, fix->block));
	}
	if (!r) {
		mutex_lock(&rc->lock);
		r = plan_pending(rc, items, n);
		mutex_unlock(&rc->lock);
	}
	if (!r)
		r = dmr_md_commit(rc);
	else
		dmr_md_discard(rc);

	mutex_lock(&rc->lock);
	for (i = 0; i < nf; i++) {
		struct dmr_fix *fix = &fixes[i];
		bool live = !r && fix->ok;

		if (live) {
			dmr_index_update(&rc->index, fix->block, fix->slot, false);
			rc->wstats.auto_remaps += !fix->relocate;
			if (!fix->relocate) {
				dmr_burst_remapped(rc, fix->block, fix->slot);
				dmr_scrub_near(rc, fix->block);
			}
			trace_dmr_remap(fix->block, fix->slot, true, "auto");
		} else if (fix->old) {
			/* Still mapped there: not counted bad after all. */
			if (fix->old_bad)
				dmr_slot_unmark_bad(rc, dmr_entry_slot(g, fix->old));
			if (fix->pending_pos >= 0)
				dmr_pending_restore(rc, fix->pending_pos,
						    fix->block);
			dmr_index_update(&rc->index, fix->block,
					 dmr_entry_slot(g, fix->old), false);
		} else {
			dmr_index_remove(&rc->index, fix->block);
		}
		if (!live && fix->slot != U64_MAX)
			dmr_slot_free(rc, fix->slot);
		for (j = fix->first; j < fix->first + fix->n; j++)
			if (items[j].write && items[j].bad)
				items[j].done = live;
	}
	rc->wstats.migrating = 0;
	mutex_unlock(&rc->lock);
	dmr_replay(rc);
	/* The event goes out before the bios that caused it complete. */
	dmr_update_health(rc);

complete:
	write_held_to_main(rc, items, n);
	complete_items(rc, items, n);
	kfree(buf);
	kvfree(fixes);
	kvfree(items);
}
