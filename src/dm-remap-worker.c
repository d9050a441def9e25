// SPDX-License-Identifier: GPL-2.0-only
/*
 * The background worker: the single writer of the remap table and slot map.
 * It batches remap/unremap requests, copies block contents with kcopyd while
 * I/O to those blocks waits, publishes the batch and replays waiting bios.
 */
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "dm-remap.h"
#include "trace.h"

static struct dmr_param spare_low_percent = { 10, 0, 100 };
module_param_cb(spare_low_percent, &dmr_param_ops, &spare_low_percent, 0644);
MODULE_PARM_DESC(spare_low_percent,
		 "health is spare_low below this % of free spare blocks (0-100, default 10)");

/* Longest run of contiguous blocks copied as one kcopyd job (sectors). */
#define DMR_RUN_MAX_SECTORS	2048

struct dmr_mig {
	u64 block;
	u64 slot;		/* U64_MAX once the block went pending */
	int read_err;		/* source unreadable */
	int write_err;		/* destination unwritable */
	bool bad;		/* the slot was marked bad */
};

struct dmr_copy {
	atomic_t pending;
	struct completion done;
};

struct dmr_run {
	struct dmr_copy *cp;
	struct dmr_mig *mig;	/* first block of the run */
	unsigned int n;		/* blocks in the run */
	int read_err;
	unsigned long write_err;
};

static void dmr_copy_done(int read_err, unsigned long write_err, void *context)
{
	struct dmr_run *run = context;

	run->read_err = read_err;
	run->write_err = write_err;
	if (atomic_dec_and_test(&run->cp->pending))
		complete(&run->cp->done);
}

static void dmr_region(struct remap_c *rc, struct dm_io_region *r, bool spare,
		       const struct dmr_mig *m, unsigned int n)
{
	r->bdev = spare ? rc->spare_dev->bdev : rc->main_dev->bdev;
	r->sector = spare ? dmr_slot_sector(&rc->geo, m->slot) :
			    dmr_block_to_sector(rc, m->block);
	r->count = (sector_t)n << rc->block_shift;
}

/* Copy @n runs with kcopyd, all in flight at once, and wait for them. */
static void dmr_copy_runs(struct remap_c *rc, struct dmr_run *runs, u64 n,
			  bool to_spare)
{
	struct dm_io_region from, to;
	struct dmr_copy cp;
	u64 i;

	atomic_set(&cp.pending, 1);
	init_completion(&cp.done);
	for (i = 0; i < n; i++) {
		runs[i].cp = &cp;
		dmr_region(rc, &from, !to_spare, runs[i].mig, runs[i].n);
		dmr_region(rc, &to, to_spare, runs[i].mig, runs[i].n);
		atomic_inc(&cp.pending);
		dm_kcopyd_copy(rc->kcopyd, &from, 1, &to, 0, dmr_copy_done, &runs[i]);
	}
	if (!atomic_dec_and_test(&cp.pending))
		wait_for_completion(&cp.done);
}

/*
 * Copy every block of @migs between main and spare (@to_spare gives the
 * direction), in runs of contiguous blocks; a failed run is retried block by
 * block (@single) so that only the blocks that really fail are reported.
 */
static int __must_check dmr_copy_blocks(struct remap_c *rc, struct dmr_mig *migs,
					u64 n, bool to_spare, bool single)
{
	unsigned int run_max = single ? 1 : DMR_RUN_MAX_SECTORS >> rc->block_shift;
	struct dmr_run *runs;
	u64 i, nr_runs = 0;
	int err = 0;

	runs = kvcalloc(n, sizeof(*runs), GFP_KERNEL);
	if (!runs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct dmr_run *r = nr_runs ? &runs[nr_runs - 1] : NULL;

		if (r && r->n < run_max &&
		    r->mig[r->n - 1].block + 1 == migs[i].block &&
		    r->mig[r->n - 1].slot + 1 == migs[i].slot) {
			r->n++;
			continue;
		}
		runs[nr_runs].mig = &migs[i];
		runs[nr_runs].n = 1;
		nr_runs++;
	}

	/*
	 * Retried blocks go one at a time: neighbours in flight together can
	 * be merged into one request, which fails as a whole.
	 */
	if (single) {
		for (i = 0; i < nr_runs; i++)
			dmr_copy_runs(rc, &runs[i], 1, to_spare);
	} else {
		dmr_copy_runs(rc, runs, nr_runs, to_spare);
	}

	for (i = 0; i < nr_runs && !err; i++) {
		struct dmr_run *r = &runs[i];

		if (!r->read_err && !r->write_err)
			continue;
		if (r->n > 1) {
			err = dmr_copy_blocks(rc, r->mig, r->n, to_spare, true);
			continue;
		}
		r->mig->read_err = r->read_err;
		r->mig->write_err = !!r->write_err;
	}
	kvfree(runs);
	return err;
}

static void dmr_note_failed(struct dmr_req *req, u64 block)
{
	if (req->copy_failed < ARRAY_SIZE(req->failed_blocks))
		req->failed_blocks[req->copy_failed] = block;
	req->copy_failed++;
}

/*
 * Close a batch (called with rc->lock held, drops it): count what this batch
 * changed and let the bios that waited for it go.
 */
static void dmr_batch_end(struct remap_c *rc, u64 *counter, u64 changed,
			  u64 failed)
{
	*counter += changed;
	rc->wstats.copy_errors += failed;
	rc->wstats.migrating = 0;
	rc->wstats.batches++;
	mutex_unlock(&rc->lock);
	dmr_replay(rc);
}

/* Remap blocks [first, first + count): allocate, copy, publish. */
static int dmr_remap_batch(struct remap_c *rc, struct dmr_req *req, u64 first,
			   u64 count)
{
	u64 changed0 = req->changed, failed0 = req->copy_failed;
	struct dmr_mig *migs;
	u64 b, i, n = 0;
	int r = 0;

	migs = kvcalloc(count, sizeof(*migs), GFP_KERNEL);
	if (!migs)
		return -ENOMEM;

	mutex_lock(&rc->lock);
	for (b = first; b < first + count; b++) {
		u64 slot;

		if (dmr_index_lookup(&rc->index, b)) {
			req->skipped++;
			continue;
		}
		slot = dmr_slot_alloc(rc);
		if (slot == U64_MAX) {
			req->no_space += first + count - b;
			break;
		}
		migs[n].block = b;
		migs[n].slot = slot;
		n++;
	}
	/* One table update for the whole batch, then in-place inserts. */
	r = dmr_index_reserve(&rc->index, n);
	for (i = 0; !r && i < n; i++)
		r = dmr_index_insert(&rc->index, migs[i].block, migs[i].slot, true);
	if (r) {
		while (i--)
			dmr_index_remove(&rc->index, migs[i].block);
		for (i = 0; i < n; i++)
			dmr_slot_free(rc, migs[i].slot);
		mutex_unlock(&rc->lock);
		kvfree(migs);
		return r;
	}
	rc->wstats.migrating = n;
	mutex_unlock(&rc->lock);
	if (!n)
		goto out;

	dmr_quiesce(rc);
	r = dmr_copy_blocks(rc, migs, n, true, false);

	/*
	 * A block main cannot read is not moved (its content would be
	 * invented): it becomes pending, so reads keep failing until a whole
	 * write of it remaps it. A slot that cannot be written is bad.
	 */
	mutex_lock(&rc->lock);
	for (i = 0; !r && i < n; i++) {
		struct dmr_mig *m = &migs[i];

		if (m->write_err) {
			m->bad = true;
			r = dmr_slot_mark_bad(rc, m->slot);
		} else if (m->read_err) {
			dmr_index_remove(&rc->index, m->block);
			dmr_slot_free(rc, m->slot);
			m->slot = U64_MAX;
			r = dmr_pending_add(rc, m->block);
			if (r == -ENOSPC)
				r = 0;	/* list full: it just stays on main */
		} else {
			r = dmr_md_set(rc, m->slot,
				       dmr_rec_make(DMR_REC_MAPPED, m->block));
		}
	}
	mutex_unlock(&rc->lock);

	/* Persist the batch before any of it goes live. */
	if (!r)
		r = dmr_md_commit(rc);
	else
		dmr_md_discard(rc);

	mutex_lock(&rc->lock);
	for (i = 0; i < n; i++) {
		struct dmr_mig *m = &migs[i];

		if (m->slot == U64_MAX) {
			dmr_note_failed(req, m->block);	/* now pending */
			continue;
		}
		if (r || m->read_err || m->write_err) {
			/* Not durable, or not copied: stay on main. */
			dmr_index_remove(&rc->index, m->block);
			if (!m->bad)
				dmr_slot_free(rc, m->slot);
			dmr_note_failed(req, m->block);
			continue;
		}
		dmr_index_set_busy(&rc->index, m->block, false);
		trace_dmr_remap(m->block, m->slot, true, req->weak ? "weak" : "manual");
		req->changed++;
	}
	dmr_batch_end(rc, req->weak ? &rc->wstats.weak_remaps :
				      &rc->wstats.manual_remaps,
		      req->changed - changed0, req->copy_failed - failed0);
out:
	kvfree(migs);
	return r;
}

/*
 * Reclaim: keep only the blocks whose main copy passes the in-place test.
 * They are still remapped, so I/O goes to their slots meanwhile and the
 * test's writes to main are never seen.
 */
static int dmr_reclaim_filter(struct remap_c *rc, struct dmr_req *req,
			      struct dmr_mig *migs, u64 *n)
{
	void *buf = kmalloc(rc->geo.block_size, GFP_KERNEL);
	void *got = kmalloc(rc->geo.block_size, GFP_KERNEL);
	u64 i, k = 0;

	if (!buf || !got) {
		kfree(buf);
		kfree(got);
		return -ENOMEM;
	}
	for (i = 0; i < *n; i++) {
		if (dmr_main_block_holds(rc, migs[i].block, buf, got)) {
			migs[k++] = migs[i];
			continue;
		}
		if (req->refused < ARRAY_SIZE(req->refused_blocks))
			req->refused_blocks[req->refused] = migs[i].block;
		req->refused++;
	}
	*n = k;
	kfree(buf);
	kfree(got);
	return 0;
}

/*
 * Copy blocks back to main and release their spare blocks; for reclaim,
 * only those whose main copy passes the in-place test.
 */
static int dmr_unremap_batch(struct remap_c *rc, struct dmr_req *req, u64 first,
			     u64 count)
{
	u64 changed0 = req->changed, failed0 = req->copy_failed;
	const struct dmr_geom *g = &rc->index.geom;
	struct dmr_mig *migs;
	u64 b, e, i, n = 0;
	int r = 0;

	migs = kvcalloc(count, sizeof(*migs), GFP_KERNEL);
	if (!migs)
		return -ENOMEM;

	/* The worker is the only writer of the table: this stays true. */
	for (b = first; b < first + count; b++) {
		e = dmr_index_lookup(&rc->index, b);
		if (!e || dmr_entry_pending(rc, e)) {
			req->skipped++;
			continue;
		}
		migs[n].block = b;
		migs[n].slot = dmr_entry_slot(g, e);
		n++;
	}
	if (n && req->op == DMR_REQ_RECLAIM)
		r = dmr_reclaim_filter(rc, req, migs, &n);
	if (r || !n)
		goto out;

	mutex_lock(&rc->lock);
	for (i = 0; i < n; i++)
		dmr_index_set_busy(&rc->index, migs[i].block, true);
	rc->wstats.migrating = n;
	mutex_unlock(&rc->lock);

	dmr_quiesce(rc);
	r = dmr_copy_blocks(rc, migs, n, false, false);
	/* The copies must be stable on main before the metadata forgets them. */
	if (!r)
		r = blkdev_issue_flush(rc->main_dev->bdev);
	for (i = 0; !r && i < n; i++) {
		if (!migs[i].read_err && !migs[i].write_err)
			r = dmr_md_set(rc, migs[i].slot, 0);
	}
	if (!r)
		r = dmr_md_commit(rc);
	else
		dmr_md_discard(rc);

	mutex_lock(&rc->lock);
	for (i = 0; i < n; i++) {
		struct dmr_mig *m = &migs[i];

		if (r || m->read_err || m->write_err) {
			/* Main did not get the data: the block stays remapped. */
			dmr_index_set_busy(&rc->index, m->block, false);
			dmr_note_failed(req, m->block);
			continue;
		}
		dmr_index_remove(&rc->index, m->block);
		dmr_slot_free(rc, m->slot);
		trace_dmr_remap(m->block, m->slot, false,
				req->op == DMR_REQ_RECLAIM ? "reclaim" : "manual");
		req->changed++;
	}
	dmr_batch_end(rc, &rc->wstats.unremaps, req->changed - changed0,
		      req->copy_failed - failed0);
out:
	kvfree(migs);
	return r;
}

static const char *const dmr_op_names[] = {
	[DMR_REQ_REMAP] = "remap",
	[DMR_REQ_UNREMAP] = "unremap",
	[DMR_REQ_COMMIT] = "commit",
	[DMR_REQ_RECLAIM] = "reclaim",
	[DMR_REQ_SCRUB] = "scrub",
};

/* Apply one request: at most dmr_batch_blocks() blocks (msg_migrate splits). */
static void dmr_process(struct remap_c *rc, struct dmr_req *req)
{
	u64 cap = dmr_index_capacity(&rc->index), t0 = ktime_get_ns(), t1;
	unsigned int noio = memalloc_noio_save();
	int r;

	/*
	 * A suspended instance may be about to be replaced by a table that
	 * reads the metadata: it must not commit any more.
	 */
	if (READ_ONCE(rc->suspended))
		r = -EBUSY;
	else if (rc->md.failed)
		r = -EIO;	/* metadata that failed takes no more changes */
	else if (req->op == DMR_REQ_COMMIT)
		r = dmr_md_commit(rc);
	else if (req->op == DMR_REQ_SCRUB && req->first == DMR_SCRUB_SAVE)
		r = dmr_scrub_checkpoint(rc);
	else if (req->op == DMR_REQ_SCRUB)
		r = dmr_scrub_control(rc, req->first);
	else if (req->op == DMR_REQ_REMAP)
		r = dmr_remap_batch(rc, req, req->first, req->count);
	else
		r = dmr_unremap_batch(rc, req, req->first, req->count);
	memalloc_noio_restore(noio);
	req->error = r;
	t1 = ktime_get_ns();
	trace_dmr_batch(dmr_op_names[req->op], req->changed, t1 - t0, r);
	if (dmr_index_capacity(&rc->index) != cap)
		trace_dmr_resize(cap, dmr_index_capacity(&rc->index), t1 - t0);
	dmr_update_health(rc);
}

/*
 * Reclaim one block for probation (dm-remap-avail.c), in the worker like a
 * reclaim request: true if it passed the in-place test and moved back.
 */
bool dmr_reclaim_block(struct remap_c *rc, u64 block)
{
	struct dmr_req req = { .op = DMR_REQ_RECLAIM, .first = block, .count = 1 };

	if (READ_ONCE(rc->suspended) || rc->md.failed)
		return false;
	return !dmr_unremap_batch(rc, &req, block, 1) && req.changed;
}

/*
 * Move a weak block (dm-remap-weak.c) to the spare, in the worker like a
 * remap request: its data is copied once the I/O in flight to it drained,
 * so no write that raced with the finding is lost; a block that fails
 * that read becomes pending. Counted as weak_remaps.
 */
void dmr_relocate_block(struct remap_c *rc, u64 block)
{
	struct dmr_req req = { .op = DMR_REQ_REMAP, .first = block, .count = 1,
			       .weak = true };

	if (!READ_ONCE(rc->suspended) && !rc->md.failed)
		dmr_remap_batch(rc, &req, block, 1);
}

static void dmr_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(ws, struct remap_c, work);
	struct llist_node *list = llist_reverse_order(llist_del_all(&rc->requests));
	struct dmr_req *req, *tmp;

	llist_for_each_entry_safe(req, tmp, list, node) {
		dmr_process(rc, req);
		complete(&req->done);
	}
}

static const char *const dmr_health_names[] = {
	[DMR_HEALTH_OK] = "ok",
	[DMR_HEALTH_DEGRADED] = "degraded",
	[DMR_HEALTH_SPARE_LOW] = "spare_low",
	[DMR_HEALTH_SPARE_FULL] = "spare_full",
	[DMR_HEALTH_METADATA_FAILED] = "metadata_failed",
	[DMR_HEALTH_MAIN_UNAVAILABLE] = "main_unavailable",
};

const char *dmr_health_name(enum dmr_health h)
{
	return dmr_health_names[h];
}

static enum dmr_health dmr_health_now(struct remap_c *rc)
{
	u64 total = rc->geo.nr_slots, used = rc->slots_used;
	enum dmr_health h;

	if (rc->md.failed)
		h = DMR_HEALTH_METADATA_FAILED;
	else if (rc->main_down)
		h = DMR_HEALTH_MAIN_UNAVAILABLE;
	else if (used >= total)
		h = DMR_HEALTH_SPARE_FULL;
	else if ((total - used) * 100 < total * READ_ONCE(spare_low_percent.val))
		h = DMR_HEALTH_SPARE_LOW;
	else if (dmr_index_live(&rc->index))
		h = DMR_HEALTH_DEGRADED;
	else
		h = DMR_HEALTH_OK;
	return h;
}

/* The state a freshly loaded table starts in: no event for it. */
void dmr_health_init(struct remap_c *rc)
{
	rc->health = dmr_health_now(rc);
	rc->event_pending = rc->nr_pending;
	rc->event_remaps = dmr_index_live(&rc->index) - rc->nr_pending;
}

/*
 * Called by the worker after each request and error round, once its changes
 * are committed: a change of health or of the remapped or pending counts
 * raises a dm event, so a monitor sees every new bad block, not only the
 * first one that degraded the device.
 */
void dmr_update_health(struct remap_c *rc)
{
	enum dmr_health h = dmr_health_now(rc);
	u64 pending = rc->nr_pending;
	u64 remaps = dmr_index_live(&rc->index) - pending;

	if (h != READ_ONCE(rc->health)) {
		DMINFO("%s: health %s -> %s",
		       dm_table_device_name(rc->ti->table),
		       dmr_health_names[rc->health], dmr_health_names[h]);
		WRITE_ONCE(rc->health, h);
	} else if (remaps == rc->event_remaps &&
		   pending == rc->event_pending) {
		return;
	}
	rc->event_remaps = remaps;
	rc->event_pending = pending;
	dm_table_event(rc->ti->table);
}

static void dmr_err_work(struct work_struct *ws)
{
	struct remap_c *rc = container_of(to_delayed_work(ws), struct remap_c,
					  err_work);
	struct llist_node *list = llist_reverse_order(llist_del_all(&rc->errors));
	unsigned int noio = memalloc_noio_save();

	if (list)
		dmr_errors_round(rc, list);
	dmr_update_health(rc);
	memalloc_noio_restore(noio);
}

/*
 * Hand a bio to the worker (from end_io or map, any context). The first
 * error of a round waits up to commit_interval for others to join it.
 */
void dmr_hold_bio(struct remap_c *rc, struct bio *bio, enum dmr_io_state state)
{
	struct dmr_io *io = dm_per_bio_data(bio, sizeof(struct dmr_io));

	io->state = state;
	if (!llist_add(&io->node, &rc->errors))
		return;
	/* A suspend waits for held bios: do not make it wait out the batching. */
	if (READ_ONCE(rc->suspending))
		mod_delayed_work(rc->wq, &rc->err_work, 0);
	else
		queue_delayed_work(rc->wq, &rc->err_work,
				   msecs_to_jiffies(READ_ONCE(rc->commit_interval)));
}

/* Start the error round now (suspend, flush). */
void dmr_worker_kick_errors(struct remap_c *rc)
{
	if (!llist_empty(&rc->errors))
		mod_delayed_work(rc->wq, &rc->err_work, 0);
}

/* Queue @req without locks and wait until the worker has applied it. */
void dmr_worker_submit(struct remap_c *rc, struct dmr_req *req)
{
	init_completion(&req->done);
	llist_add(&req->node, &rc->requests);
	queue_work(rc->wq, &rc->work);
	wait_for_completion(&req->done);
}

void dmr_worker_flush(struct remap_c *rc)
{
	flush_delayed_work(&rc->err_work);
	flush_workqueue(rc->wq);
}

int dmr_worker_init(struct remap_c *rc)
{
	int r;

	r = dmr_space_init(rc);
	if (r)
		return r;
	r = bioset_init(&rc->bs, 16, 0, 0);
	if (r)
		goto bad;
	rc->kcopyd = dm_kcopyd_client_create(NULL);
	if (IS_ERR(rc->kcopyd)) {
		r = PTR_ERR(rc->kcopyd);
		goto bad_bs;
	}
	r = dmr_avail_init(rc);
	if (r)
		goto bad_avail;
	r = -ENOMEM;
	rc->wq = alloc_ordered_workqueue("dm-remap", WQ_MEM_RECLAIM);
	if (!rc->wq)
		goto bad_avail;
	INIT_WORK(&rc->work, dmr_work);
	INIT_DELAYED_WORK(&rc->err_work, dmr_err_work);
	dmr_errors_init(rc);
	dmr_scrub_init(rc);
	dmr_weak_init(rc);
	init_llist_head(&rc->requests);
	init_llist_head(&rc->errors);
	return 0;

bad_avail:
	dmr_avail_exit(rc);
	dm_kcopyd_client_destroy(rc->kcopyd);
bad_bs:
	bioset_exit(&rc->bs);
bad:
	dmr_space_exit(rc);
	return r;
}

void dmr_worker_exit(struct remap_c *rc)
{
	cancel_delayed_work_sync(&rc->err_work);
	dmr_avail_exit(rc);	/* after err_work: a round may start the probe */
	cancel_work_sync(&rc->recheck_work);
	dmr_scrub_exit(rc);
	dmr_weak_exit(rc);
	destroy_workqueue(rc->wq);
	dm_kcopyd_client_destroy(rc->kcopyd);
	bioset_exit(&rc->bs);
	dmr_space_exit(rc);
}
