// SPDX-License-Identifier: GPL-2.0-only
/*
 * Persistent metadata on the spare area: load at table load, format a blank
 * region, and commit batches of record changes with FLUSH/FUA ordering.
 * Touches rc->md, and rc->index / slot map only while loading.
 */
#include <linux/dm-bufio.h>
#include <linux/dm-io.h>
#include <linux/sort.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "dm-remap.h"
#include "trace.h"

#define DMR_PREFETCH	256	/* metadata blocks read ahead while loading */

static sector_t md_block(struct dmr_md *md, enum dmr_area area, u64 index,
			 u32 copy)
{
	return dmr_md_index(md->geo, area, index, copy);
}

/* Write one 4 KiB metadata block synchronously, with @flags (FUA etc). */
static int md_write_sync(struct dmr_md *md, u64 md_index, void *buf,
			 blk_opf_t flags)
{
	struct dm_io_region where = {
		.bdev = md->bdev,
		.sector = dmr_md_sector(md->geo, md_index),
		.count = DMR_MD_BLOCK_SECTORS,
	};
	struct dm_io_request req = {
		.bi_opf = REQ_OP_WRITE | REQ_SYNC | flags,
		.mem.type = DM_IO_KMEM,
		.mem.ptr.addr = buf,
		.client = md->io,
	};

	return dmr_dm_io(&req, 1, &where, NULL);
}

static int md_read(struct dmr_md *md, u64 md_index, void *buf)
{
	struct dm_buffer *b;
	void *data;

	if (!(md_index % DMR_PREFETCH))
		dm_bufio_prefetch(md->bufio, md_index,
				  min_t(u64, DMR_PREFETCH,
					md->geo->nr_md_blocks - md_index));
	data = dm_bufio_read(md->bufio, md_index, &b);
	if (IS_ERR(data))
		return PTR_ERR(data);
	memcpy(buf, data, DMR_MD_BLOCK_SIZE);
	dm_bufio_release(b);
	return 0;
}

static int md_scan_pair(void *ctx, const struct dmr_pair_info *pi)
{
	struct dmr_md *md = &((struct remap_c *)ctx)->md;
	u64 p = dmr_pair_id(md->geo, pi->area, pi->index);

	md->pair_gen[p] = pi->generation;
	if (pi->copy == 1)
		__set_bit(p, md->pair_copy);
	/* A leftover of a crashed commit must be overwritten before reuse. */
	if (pi->flags & DMR_PAIR_LEFTOVER) {
		__set_bit(p, md->pair_force);
		md->force_pending = true;
	}
	return 0;
}

static int md_scan_record(void *ctx, const struct dmr_record *rec)
{
	struct remap_c *rc = ctx;
	int r;

	switch (rec->type) {
	case DMR_REC_MAPPED:
		r = dmr_index_insert(&rc->index, rec->block, rec->pos, false);
		if (r == -EEXIST)
			rc->md.load_why = "Metadata maps one main block to two spare slots";
		if (r)
			return r;
		dmr_space_load_slot(rc, rec->pos, false);
		return 0;
	case DMR_REC_BAD:
		dmr_space_load_slot(rc, rec->pos, true);
		return 0;
	case DMR_REC_PENDING:
		r = dmr_index_insert(&rc->index, rec->block, rc->pending_slot, false);
		if (r == -EEXIST)
			rc->md.load_why = "Metadata lists a block as both remapped and pending";
		if (r)
			return r;
		dmr_space_load_pending(rc, rec->pos, rec->block);
		return 0;
	default:
		return 0;
	}
}

static int md_scan_read_rc(void *ctx, u64 md_index, void *buf)
{
	return md_read(&((struct remap_c *)ctx)->md, md_index, buf);
}

static const struct dmr_scan_ops md_scan_ops = {
	.read = md_scan_read_rc,
	.pair = md_scan_pair,
	.record = md_scan_record,
};

/* A region without a superblock is formatted only if it is entirely zero. */
static int md_check_blank(struct dmr_md *md, void *buf, const char **why)
{
	u64 i;
	int r;

	for (i = 0; i < md->geo->nr_md_blocks; i++) {
		r = md_read(md, i, buf);
		if (r) {
			*why = "Cannot read the metadata region";
			return r;
		}
		if (!dmr_is_zero_block(buf)) {
			*why = "Spare area holds data that is not dm-remap metadata (not blank)";
			return -EINVAL;
		}
		cond_resched();
	}
	return 0;
}

/* Two superblocks, generations 1 and 2, over an empty region. */
static int md_format(struct dmr_md *md, void *buf, const char **why)
{
	struct dmr_sb sb;
	u8 uuid[DMR_UUID_SIZE];
	u64 gen;
	int r;

	generate_random_uuid(uuid);
	dmr_sb_init(&sb, md->geo, uuid);
	for (gen = 1; gen <= 2; gen++) {
		sb.generation = gen;
		sb.copy = gen & 1;
		dmr_sb_encode(buf, &sb);
		r = md_write_sync(md, md_block(md, DMR_AREA_SB, 0, sb.copy), buf,
				  REQ_PREFLUSH | REQ_FUA);
		if (r) {
			*why = "Cannot write the metadata superblock";
			return r;
		}
	}
	md->sb = sb;
	md->next_gen = dmr_next_generation(2, sb.copy);
	md->scrub_state = DMR_SCRUB_IDLE;
	md->scrub_pos = 0;
	md->scrub_last_pass = 0;
	md->sb_dirty = false;
	md->formatted = true;
	return 0;
}

static void md_free_state(struct dmr_md *md)
{
	kvfree(md->pair_gen);
	kvfree(md->pair_copy);
	kvfree(md->pair_force);
	kvfree(md->chg);
	md->pair_gen = NULL;
	md->pair_copy = NULL;
	md->pair_force = NULL;
	md->chg = NULL;
}

static int md_alloc_state(struct dmr_md *md)
{
	u64 pairs = md->geo->nr_entry_blocks + md->geo->nr_pending_blocks;

	md->pair_gen = kvcalloc(pairs, sizeof(u64), GFP_KERNEL);
	md->pair_copy = kvcalloc(BITS_TO_LONGS(pairs), sizeof(long), GFP_KERNEL);
	md->pair_force = kvcalloc(BITS_TO_LONGS(pairs), sizeof(long), GFP_KERNEL);
	if (!md->pair_gen || !md->pair_copy || !md->pair_force) {
		md_free_state(md);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Read the region into rc->index and the slot map (both empty on entry), or
 * format it when blank. With @sb_only, only check that the superblock fits
 * this table (another instance may be committing the rest: see remap_ctr).
 * Sets *why on failure; writes nothing unless blank.
 */
static int md_load(struct remap_c *rc, bool sb_only, const char **why)
{
	struct dmr_md *md = &rc->md;
	struct dmr_scan *s;
	int r;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->buf[0] = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	s->buf[1] = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	r = -ENOMEM;
	if (!s->buf[0] || !s->buf[1])
		goto out;
	s->ops = &md_scan_ops;
	s->ctx = rc;

	r = dmr_scan_sb(s, md->geo);
	if (r == -ENODATA && !sb_only) {
		r = md_check_blank(md, s->buf[0], why);
		if (!r)
			r = md_format(md, s->buf[0], why);
		goto out;
	}
	if (r) {
		*why = s->why ? s->why : "Invalid metadata superblock";
		goto out;
	}
	if (sb_only)
		goto out;
	r = dmr_index_reserve(&rc->index, s->sb.nr_mapped);
	if (r) {
		*why = "Cannot allocate the remap table";
		goto out;
	}
	r = dmr_scan_pairs(s);
	if (r) {
		*why = md->load_why ?: s->why ?: "Metadata is inconsistent";
		goto out;
	}
	md->sb = s->sb;
	md->next_gen = s->next_gen;
	md->scrub_state = s->sb.scrub_state;
	md->scrub_pos = s->sb.scrub_pos;
	md->scrub_last_pass = s->sb.scrub_last_pass;
	md->sb_dirty = false;
out:
	kfree(s->buf[0]);
	kfree(s->buf[1]);
	kfree(s);
	return r;
}

/*
 * (Re)load the metadata into an empty index and slot map: at the first
 * resume of a table whose constructor could not read it, or when the table
 * this one replaces committed since. Only called while nothing is mapped
 * and the instance it replaces is suspended, so nothing else commits; a
 * failure leaves the instance unloaded, and the next resume tries again.
 */
int dmr_md_reload(struct remap_c *rc, const char **why)
{
	struct dmr_md *md = &rc->md;
	u64 pairs = md->geo->nr_entry_blocks + md->geo->nr_pending_blocks;
	int r;

	/* Messages and status may read the index meanwhile: lock, RCU. */
	mutex_lock(&rc->lock);
	rc->md_loaded = false;
	dmr_index_reset(&rc->index);
	dmr_space_reset(rc);
	memset(md->pair_gen, 0, pairs * sizeof(u64));
	memset(md->pair_copy, 0, BITS_TO_LONGS(pairs) * sizeof(long));
	memset(md->pair_force, 0, BITS_TO_LONGS(pairs) * sizeof(long));
	md->force_pending = false;
	md->nr_chg = 0;
	md->failed = false;
	md->load_why = NULL;
	/* Our cache may hold what the other table has overwritten since. */
	dm_bufio_forget_buffers(md->bufio, 0, md->geo->nr_md_blocks);
	r = md_load(rc, false, why);
	if (r) {
		/* Never serve or commit over a half-loaded state. */
		dmr_index_reset(&rc->index);
		dmr_space_reset(rc);
	} else {
		rc->md_loaded = true;
	}
	mutex_unlock(&rc->lock);
	return r;
}

/*
 * Set up the metadata handle and read the region; with @sb_only just check
 * the superblock and leave the rest to the first resume (another live
 * instance may be committing to it: its superblock copies are written one
 * at a time, so one of the two always reads valid).
 */
int dmr_md_open(struct remap_c *rc, bool sb_only, const char **why)
{
	struct dmr_md *md = &rc->md;
	int r;

	md->geo = &rc->geo;
	md->bdev = rc->spare_dev->bdev;
	md->io = dm_io_client_create();
	if (IS_ERR(md->io)) {
		*why = "Cannot create a dm-io client";
		return PTR_ERR(md->io);
	}
	md->bufio = dm_bufio_client_create(md->bdev, DMR_MD_BLOCK_SIZE, 1, 0,
					   NULL, NULL, 0);
	if (IS_ERR(md->bufio)) {
		*why = "Cannot create a buffer cache for metadata";
		r = PTR_ERR(md->bufio);
		goto bad_io;
	}
	dm_bufio_set_sector_offset(md->bufio, rc->geo.spare_start);
	r = md_alloc_state(md);
	if (r) {
		*why = "Cannot allocate metadata state";
		goto bad_bufio;
	}
	r = md_load(rc, sb_only, why);
	if (r == -ENODATA)
		r = 0;	/* the live instance formats it: nothing to check yet */
	if (r)
		goto bad_state;
	rc->md_loaded = !sb_only;
	return 0;

bad_state:
	md_free_state(md);
bad_bufio:
	dm_bufio_client_destroy(md->bufio);
bad_io:
	dm_io_client_destroy(md->io);
	return r;
}

void dmr_md_close(struct remap_c *rc)
{
	struct dmr_md *md = &rc->md;

	md_free_state(md);
	dm_bufio_client_destroy(md->bufio);
	dm_io_client_destroy(md->io);
}

/*
 * Has another instance (the table this one replaces) committed since we
 * loaded? Compares the newest valid superblock generation with ours.
 */
int dmr_md_changed(struct remap_c *rc, bool *changed)
{
	struct dmr_md *md = &rc->md;
	struct dmr_sb_copy c[2];
	void *buf;
	u32 i;
	int r = 0, pick;

	buf = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		dm_bufio_forget(md->bufio, md_block(md, DMR_AREA_SB, 0, i));
		r = md_read(md, md_block(md, DMR_AREA_SB, 0, i), buf);
		if (r)
			goto out;
		c[i].state = dmr_sb_decode(buf, i, &c[i].sb, NULL);
	}
	pick = dmr_pick_sb(c, NULL);
	*changed = pick < 0 || c[pick].sb.generation != md->sb.generation;
out:
	kfree(buf);
	return r;
}

/*
 * Queue a record change for the next commit (worker only). @slot indexes the
 * records of all pairs: slots first, then pending positions after them.
 */
int dmr_md_set(struct remap_c *rc, u64 slot, u64 rec)
{
	struct dmr_md *md = &rc->md;

	if (md->failed)
		return -EIO;
	if (md->nr_chg == md->cap_chg) {
		u64 cap = max_t(u64, 64, md->cap_chg * 2);
		struct dmr_md_change *n = kvmalloc_array(cap, sizeof(*n), GFP_KERNEL);

		if (!n) {
			/* Memory already shows the change: disk must not lag silently. */
			dmr_md_failed(rc, "queue a record change", -ENOMEM);
			return -ENOMEM;
		}
		if (md->chg)
			memcpy(n, md->chg, md->nr_chg * sizeof(*n));
		kvfree(md->chg);
		md->chg = n;
		md->cap_chg = cap;
	}
	md->chg[md->nr_chg].slot = slot;
	md->chg[md->nr_chg].rec = rec;
	md->chg[md->nr_chg].seq = md->nr_chg;
	md->nr_chg++;
	return 0;
}

/*
 * Queue the scrub's state for the next commit (the worker only). It rides
 * on the commits of other changes, or makes one of its own.
 */
void dmr_md_set_scrub(struct remap_c *rc, u32 state, u64 pos, u64 last_pass)
{
	struct dmr_md *md = &rc->md;

	md->scrub_state = state;
	md->scrub_pos = pos;
	md->scrub_last_pass = last_pass;
	md->sb_dirty = state != md->sb.scrub_state || pos != md->sb.scrub_pos ||
		       last_pass != md->sb.scrub_last_pass;
}

/*
 * Every metadata failure ends here (dm-thin's metadata_operation_failed):
 * the device keeps serving the remaps it has, takes no new ones, and says
 * so in its health. The last good commit stays what a reload finds.
 */
void dmr_md_failed(struct remap_c *rc, const char *what, int r)
{
	struct dmr_md *md = &rc->md;

	md->nr_chg = 0;
	if (md->failed)
		return;
	WRITE_ONCE(md->failed, true);
	DMERR("%s: metadata %s failed (%d): no new remaps until reloaded",
	      dm_table_device_name(rc->ti->table), what, r);
	dmr_update_health(rc);
}

/* Drop queued changes that will not be committed. */
void dmr_md_discard(struct remap_c *rc)
{
	rc->md.nr_chg = 0;
}

static int cmp_change(const void *a, const void *b)
{
	const struct dmr_md_change *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	/* sort() is not stable: the later change to a record must win. */
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static s64 rec_delta(u64 old, u64 new, u32 type)
{
	return (s64)(new && dmr_rec_type(new) == type) -
	       (s64)(old && dmr_rec_type(old) == type);
}

/*
 * Shadow pair @p (entry pairs first, then pending pairs) into its other copy
 * with generation @gen, applying the queued changes of that pair starting at
 * *@ci. Counts and digest of the new state go into @sb.
 */
static int md_shadow_pair(struct dmr_md *md, u64 p, u64 gen, u64 *ci,
			  struct dmr_sb *sb)
{
	const u32 e = md->geo->entries_per_block;
	u64 n = md->geo->nr_entry_blocks;
	enum dmr_area area = p < n ? DMR_AREA_ENTRY : DMR_AREA_PENDING;
	u64 index = p < n ? p : p - n;
	u32 cur = test_bit(p, md->pair_copy);
	struct dm_buffer *ob = NULL, *nb;
	const void *old = NULL;
	void *data;
	u32 pos;

	if (md->pair_gen[p]) {
		old = dm_bufio_read(md->bufio, md_block(md, area, index, cur), &ob);
		if (IS_ERR(old))
			return PTR_ERR(old);
	}
	data = dm_bufio_new(md->bufio, md_block(md, area, index, !cur), &nb);
	if (IS_ERR(data)) {
		if (ob)
			dm_bufio_release(ob);
		return PTR_ERR(data);
	}
	dmr_block_init(data, area, index, !cur, gen, sb->uuid);
	for (pos = 0; old && pos < e; pos++)
		dmr_block_set(data, pos, dmr_block_get(old, pos));
	if (ob)
		dm_bufio_release(ob);

	while (*ci < md->nr_chg && md->chg[*ci].slot / e == p) {
		const struct dmr_md_change *c = &md->chg[*ci];
		u64 prev;

		pos = c->slot % e;
		prev = dmr_block_get(data, pos);
		sb->nr_mapped += rec_delta(prev, c->rec, DMR_REC_MAPPED);
		sb->nr_bad += rec_delta(prev, c->rec, DMR_REC_BAD);
		sb->nr_pending += rec_delta(prev, c->rec, DMR_REC_PENDING);
		dmr_block_set(data, pos, c->rec);
		(*ci)++;
	}
	dmr_block_seal(data);
	dm_bufio_mark_buffer_dirty(nb);
	dm_bufio_release(nb);
	sb->pair_digest += dmr_digest_term(p, gen) -
			   dmr_digest_term(p, md->pair_gen[p]);
	return 0;
}

/*
 * Make every queued change durable: shadow the dirty pairs into their other
 * copies and wait for them, then write the superblock with PREFLUSH|FUA so
 * it reaches stable media only after the blocks it vouches for. The old
 * state stays intact on disk until that last write (docs/metadata-format.md).
 */
int dmr_md_commit(struct remap_c *rc)
{
	struct dmr_md *md = &rc->md;
	const u32 e = md->geo->entries_per_block;
	u64 pairs = md->geo->nr_entry_blocks + md->geo->nr_pending_blocks;
	u64 gen = md->next_gen, ci = 0, p, i, nr_dirty = 0, *dirty;
	u64 t0 = ktime_get_ns();
	struct dmr_sb sb = md->sb;
	void *buf;
	int r = 0;

	if (md->failed)
		return -EIO;
	if (!md->nr_chg && !md->force_pending && !md->sb_dirty)
		return 0;
	buf = kmalloc(DMR_MD_BLOCK_SIZE, GFP_KERNEL);
	dirty = kvmalloc_array(md->force_pending ? pairs : md->nr_chg,
			       sizeof(*dirty), GFP_KERNEL);
	if (!buf || !dirty) {
		r = -ENOMEM;
		goto out;
	}

	sort(md->chg, md->nr_chg, sizeof(*md->chg), cmp_change, NULL);
	for (p = 0; p < pairs && !r; p++) {
		if (ci < md->nr_chg && md->chg[ci].slot / e == p) {
			dirty[nr_dirty++] = p;
			r = md_shadow_pair(md, p, gen, &ci, &sb);
		} else if (md->force_pending && test_bit(p, md->pair_force)) {
			dirty[nr_dirty++] = p;
			r = md_shadow_pair(md, p, gen, &ci, &sb);
		} else if (!md->force_pending) {
			if (ci >= md->nr_chg)
				break;
			/* Skip straight to the next changed pair. */
			p = md->chg[ci].slot / e - 1;
		}
	}
	if (!r)
		r = dm_bufio_write_dirty_buffers(md->bufio);
	if (r)
		goto fail;

	sb.generation = gen;
	sb.copy = gen & 1;
	sb.scrub_state = md->scrub_state;
	sb.scrub_pos = md->scrub_pos;
	sb.scrub_last_pass = md->scrub_last_pass;
	dmr_sb_encode(buf, &sb);
	r = md_write_sync(md, md_block(md, DMR_AREA_SB, 0, sb.copy), buf,
			  REQ_PREFLUSH | REQ_FUA);
	if (r)
		goto fail;

	/* Durable: the shadows are now the current copies. */
	for (i = 0; i < nr_dirty; i++) {
		change_bit(dirty[i], md->pair_copy);
		md->pair_gen[dirty[i]] = gen;
		__clear_bit(dirty[i], md->pair_force);
	}
	md->force_pending = false;
	md->sb_dirty = false;
	md->sb = sb;
	md->next_gen = dmr_next_generation(gen, sb.copy);
	md->nr_chg = 0;
	md->commits++;
	md->blocks_written += nr_dirty + 1;
	goto out;

fail:
	dmr_md_failed(rc, "commit", r);
out:
	/* Callers undo a failed commit in memory: the queue must go too. */
	if (r)
		dmr_md_discard(rc);
	trace_dmr_commit(gen, nr_dirty + 1, ktime_get_ns() - t0, r);
	kvfree(dirty);
	kfree(buf);
	return r;
}
