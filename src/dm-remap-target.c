// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device-mapper glue of dm-remap: table parsing, bio mapping, status, messages.
 * Owns struct remap_c; changes the table only through the worker's requests.
 */
#include <linux/blkdev.h>
#include <linux/ctype.h>
#include <linux/bio.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-remap.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/*
 * What the map path and end_io read for every bio lies on cache lines that
 * nothing writes per I/O or per batch: before the first field the worker,
 * the error path or the defer lock write (struct remap_c), or before the
 * writer's counters of a table.
 */
#define DMR_MAP_FIELD(f)						\
	static_assert(offsetofend(struct remap_c, f) <=			\
		      offsetof(struct remap_c, defer_lock) &&		\
		      offsetof(struct remap_c, defer_lock) % SMP_CACHE_BYTES == 0)
DMR_MAP_FIELD(ti);
DMR_MAP_FIELD(main_dev);
DMR_MAP_FIELD(spare_dev);
DMR_MAP_FIELD(pcpu);
DMR_MAP_FIELD(index);
DMR_MAP_FIELD(gen);
DMR_MAP_FIELD(block_shift);
DMR_MAP_FIELD(region_shift);
DMR_MAP_FIELD(pending_slot);
DMR_MAP_FIELD(slow_read_jiffies);
DMR_MAP_FIELD(geo);
static_assert(offsetofend(struct dmr_table, summary) <=
	      offsetof(struct dmr_table, used) &&
	      offsetof(struct dmr_table, used) % SMP_CACHE_BYTES == 0);

static int dmr_param_set(const char *val, const struct kernel_param *kp)
{
	struct dmr_param *p = kp->arg;
	unsigned int v;

	if (kstrtouint(val, 10, &v) || v < p->min || v > p->max) {
		pr_err("dm-remap: %s must be an integer in [%u, %u]\n",
		       kp->name, p->min, p->max);
		return -EINVAL;
	}
	WRITE_ONCE(p->val, v);
	return 0;
}

static int dmr_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(((struct dmr_param *)kp->arg)->val));
}

const struct kernel_param_ops dmr_param_ops = {
	.set = dmr_param_set,
	.get = dmr_param_get,
};

static struct dmr_param summary_shift = { 10, 0, 30 };
module_param_cb(summary_shift, &dmr_param_ops, &summary_shift, 0644);
MODULE_PARM_DESC(summary_shift,
		 "log2 of blocks per summary bit, read at table load (0-30, default 10)");

static struct dmr_param batch_blocks = { 262144, 1, 16777216 };
module_param_cb(batch_blocks, &dmr_param_ops, &batch_blocks, 0644);
MODULE_PARM_DESC(batch_blocks,
		 "most blocks migrated in one worker batch (1-16777216, default 262144)");

static struct dmr_param read_retries = { 2, 0, 100 };
module_param_cb(read_retries, &dmr_param_ops, &read_retries, 0644);
MODULE_PARM_DESC(read_retries,
		 "default retries of a failed read before a block is pending (0-100, default 2)");

static struct dmr_param commit_interval = { 10, 0, 60000 };
module_param_cb(commit_interval, &dmr_param_ops, &commit_interval, 0644);
MODULE_PARM_DESC(commit_interval,
		 "default ms an I/O error waits to be batched with others (0-60000, default 10)");

static struct dmr_param outage_blocks = { 256, 0, 4096 };
module_param_cb(outage_blocks, &dmr_param_ops, &outage_blocks, 0644);
MODULE_PARM_DESC(outage_blocks,
		 "default number of distinct failing blocks within outage_window taken for an outage, 0: never (0-4096, default 256)");

static struct dmr_param outage_window = { 1000, 1, 600000 };
module_param_cb(outage_window, &dmr_param_ops, &outage_window, 0644);
MODULE_PARM_DESC(outage_window,
		 "default window in ms for outage_blocks (1-600000, default 1000)");

/*
 * Live instances by metadata region: a table loaded while another instance
 * of the same region is live (a reload) must not read metadata that one may
 * be committing; it loads at its first resume, when the other is suspended.
 */
static LIST_HEAD(dmr_owners);
static DEFINE_MUTEX(dmr_owners_lock);

static bool dmr_same_region(struct remap_c *a, struct remap_c *b)
{
	return a->spare_dev->bdev->bd_dev == b->spare_dev->bdev->bd_dev &&
	       a->geo.spare_start == b->geo.spare_start;
}

/* Register @rc; true if another instance of its region is live. */
static bool dmr_owner_add(struct remap_c *rc)
{
	struct remap_c *o;
	bool busy = false;

	mutex_lock(&dmr_owners_lock);
	list_for_each_entry(o, &dmr_owners, owner)
		busy |= dmr_same_region(o, rc);
	list_add(&rc->owner, &dmr_owners);
	mutex_unlock(&dmr_owners_lock);
	return busy;
}

/* Another instance of @rc's region is live and not suspended. */
static bool dmr_owner_conflict(struct remap_c *rc)
{
	struct remap_c *o;
	bool busy = false;

	mutex_lock(&dmr_owners_lock);
	list_for_each_entry(o, &dmr_owners, owner)
		busy |= o != rc && dmr_same_region(o, rc) && !READ_ONCE(o->suspended);
	mutex_unlock(&dmr_owners_lock);
	return busy;
}

static void dmr_owner_del(struct remap_c *rc)
{
	mutex_lock(&dmr_owners_lock);
	list_del(&rc->owner);
	mutex_unlock(&dmr_owners_lock);
}

/* Plain decimal only: kstrtoull() alone would also take a leading '+'. */
static int parse_u64(const char *arg, u64 *out)
{
	unsigned long long v;

	if (!isdigit(*arg) || kstrtoull(arg, 10, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_on_off(const char *arg, bool *out)
{
	if (!arg)
		return -EINVAL;
	if (!strcasecmp(arg, "on")) {
		*out = true;
		return 0;
	}
	if (!strcasecmp(arg, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int parse_uint_arg(struct dm_arg_set *as, unsigned int *argc,
			  unsigned int lo, unsigned int hi, unsigned int *out)
{
	if (!*argc)
		return -EINVAL;
	(*argc)--;
	if (kstrtouint(dm_shift_arg(as), 10, out) || *out < lo || *out > hi)
		return -EINVAL;
	return 0;
}

static int parse_features(struct dm_target *ti, struct dm_arg_set *as,
			  struct remap_c *rc, u32 *block_size)
{
	static const struct dm_arg group = {0, 18, "Invalid number of feature arguments"};
	unsigned int argc;
	const char *name;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&group, as, &argc, &ti->error);
	if (r)
		return r;
	while (argc) {
		name = dm_shift_arg(as);
		argc--;
		if (!strcasecmp(name, "block_size")) {
			if (parse_uint_arg(as, &argc, DMR_MIN_BLOCK_SIZE,
					   DMR_MAX_BLOCK_SIZE, block_size) ||
			    !is_power_of_2(*block_size)) {
				ti->error = "block_size must be a power of two from 512 to 65536";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_BLOCK_SIZE;
			continue;
		}
		if (!strcasecmp(name, "auto_remap")) {
			if (!argc || parse_on_off(dm_shift_arg(as), &rc->auto_remap)) {
				ti->error = "auto_remap must be on or off";
				return -EINVAL;
			}
			argc--;
			rc->features |= DMR_FEAT_AUTO_REMAP;
			continue;
		}
		if (!strcasecmp(name, "read_retries")) {
			if (parse_uint_arg(as, &argc, 0, 100, &rc->read_retries)) {
				ti->error = "read_retries must be 0 to 100";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_READ_RETRIES;
			continue;
		}
		if (!strcasecmp(name, "commit_interval")) {
			if (parse_uint_arg(as, &argc, 0, 60000, &rc->commit_interval)) {
				ti->error = "commit_interval must be 0 to 60000 (ms)";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_COMMIT_INTERVAL;
			continue;
		}
		if (!strcasecmp(name, "outage_blocks")) {
			if (parse_uint_arg(as, &argc, 0, 4096, &rc->burst.size)) {
				ti->error = "outage_blocks must be 0 to 4096";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_OUTAGE_BLOCKS;
			continue;
		}
		if (!strcasecmp(name, "scrub_rate")) {
			if (parse_uint_arg(as, &argc, DMR_SCRUB_RATE_MIN,
					   DMR_SCRUB_RATE_MAX, &rc->scrub.rate)) {
				ti->error = "scrub_rate must be 64 to 4194304 (KiB/s)";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_SCRUB_RATE;
			continue;
		}
		if (!strcasecmp(name, "weak_budget")) {
			if (parse_uint_arg(as, &argc, 0, 100000, &rc->weak.budget)) {
				ti->error = "weak_budget must be 0 to 100000 (blocks an hour)";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_WEAK_BUDGET;
			continue;
		}
		if (!strcasecmp(name, "slow_read_ms")) {
			if (parse_uint_arg(as, &argc, 0, 600000, &rc->weak.slow_ms)) {
				ti->error = "slow_read_ms must be 0 to 600000 (ms)";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_SLOW_READ;
			continue;
		}
		if (!strcasecmp(name, "outage_window")) {
			if (parse_uint_arg(as, &argc, 1, 600000, &rc->burst.window_ms)) {
				ti->error = "outage_window must be 1 to 600000 (ms)";
				return -EINVAL;
			}
			rc->features |= DMR_FEAT_OUTAGE_WINDOW;
			continue;
		}
		ti->error = "Unrecognised feature argument";
		return -EINVAL;
	}
	if (as->argc) {
		ti->error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

/* Reject every table line that does not describe two usable, disjoint ranges. */
static int remap_validate(struct dm_target *ti, struct remap_c *rc,
			  u32 block_size, u64 spare_start, u64 spare_len)
{
	struct block_device *mb = rc->main_dev->bdev, *sb = rc->spare_dev->bdev;
	const char *why;
	u64 spare_end;

	if (ti->len > bdev_nr_sectors(mb)) {
		ti->error = "Target length exceeds the main device";
		return -EINVAL;
	}
	if (!spare_len) {
		ti->error = "Spare length must not be zero";
		return -EINVAL;
	}
	if (check_add_overflow(spare_start, spare_len, &spare_end)) {
		ti->error = "Spare start + length overflows";
		return -EINVAL;
	}
	if (spare_end > bdev_nr_sectors(sb)) {
		ti->error = "Spare range exceeds the spare device";
		return -EINVAL;
	}
	if (mb == sb && spare_start < ti->len) {
		ti->error = "Spare range overlaps the mapped main range";
		return -EINVAL;
	}
	if (block_size < bdev_logical_block_size(mb) ||
	    block_size < bdev_logical_block_size(sb)) {
		ti->error = "block_size is smaller than a device's logical block size";
		return -EINVAL;
	}
	/* Slots and metadata lie at 4 KiB multiples from spare_start. */
	if (spare_start & ((bdev_logical_block_size(sb) >> SECTOR_SHIFT) - 1)) {
		ti->error = "spare_start is not aligned to the spare's logical block size";
		return -EINVAL;
	}
	if (ti->len & ((block_size >> SECTOR_SHIFT) - 1)) {
		ti->error = "Target length is not a multiple of block_size";
		return -EINVAL;
	}
	if (dmr_geometry_compute(&rc->geo, block_size, ti->len, spare_start,
				 spare_len, &why)) {
		ti->error = (char *)why;
		return -EINVAL;
	}
	return 0;
}

static int remap_init_index(struct dm_target *ti, struct remap_c *rc)
{
	int node = bdev_get_queue(rc->main_dev->bdev)->node;
	int r;

	/* One slot value past the spare marks pending (unreadable) blocks. */
	rc->pending_slot = rc->geo.nr_slots;
	r = dmr_index_init(&rc->index, rc->geo.nr_blocks, rc->geo.nr_slots + 1,
			   READ_ONCE(summary_shift.val), node);
	if (r == -EOVERFLOW) {
		ti->error = "Geometry too large: main blocks + spare slots exceed 62 bits";
		return r;
	}
	if (r) {
		ti->error = "Cannot allocate remap table";
		return r;
	}
	rc->region_shift = rc->block_shift + rc->index.summary_shift;
	return 0;
}

/*
 * remap <main_dev> <spare_dev> <spare_start> <spare_len>
 *       [<#feature args> [block_size <bytes>]]
 */
static int remap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	dmr_mode_t mode = dm_table_get_mode(ti->table);
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	u32 block_size = DMR_DEFAULT_BLOCK_SIZE;
	u64 spare_start, spare_len;
	struct remap_c *rc;
	const char *why;
	int r;

	if (argc < 4) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	if (parse_u64(argv[2], &spare_start)) {
		ti->error = "Invalid spare_start";
		return -EINVAL;
	}
	if (parse_u64(argv[3], &spare_len)) {
		ti->error = "Invalid spare_len";
		return -EINVAL;
	}

	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate remap context";
		return -ENOMEM;
	}
	rc->ti = ti;
	rc->suspended = true;	/* until a preresume succeeds */
	rc->auto_remap = true;
	rc->read_retries = READ_ONCE(read_retries.val);
	rc->commit_interval = READ_ONCE(commit_interval.val);
	rc->burst.size = READ_ONCE(outage_blocks.val);
	rc->burst.window_ms = READ_ONCE(outage_window.val);
	rc->scrub.rate = READ_ONCE(dmr_scrub_rate.val);
	rc->weak.budget = READ_ONCE(dmr_weak_budget.val);
	rc->weak.slow_ms = READ_ONCE(dmr_slow_read_ms.val);
	dm_consume_args(&as, 4);
	r = parse_features(ti, &as, rc, &block_size);
	if (r) {
		kfree(rc);
		return r;
	}
	raw_spin_lock_init(&rc->defer_lock);
	bio_list_init(&rc->deferred);
	mutex_init(&rc->lock);

	r = dm_get_device(ti, argv[0], mode, &rc->main_dev);
	if (r) {
		ti->error = "Main device lookup failed";
		goto bad;
	}
	r = dm_get_device(ti, argv[1], mode, &rc->spare_dev);
	if (r) {
		ti->error = "Spare device lookup failed";
		goto bad_main;
	}
	r = remap_validate(ti, rc, block_size, spare_start, spare_len);
	if (r)
		goto bad_spare;
	rc->block_shift = rc->geo.block_shift;

	r = remap_init_index(ti, rc);
	if (r)
		goto bad_spare;
	r = dmr_stats_alloc(rc);
	if (r) {
		ti->error = "Cannot allocate statistics";
		goto bad_index;
	}
	r = dmr_worker_init(rc);
	if (r) {
		ti->error = "Cannot start the background worker";
		goto bad_stats;
	}
	r = dmr_md_open(rc, dmr_owner_add(rc), &why);
	if (r) {
		ti->error = (char *)why;
		goto bad_owner;
	}
	dmr_health_init(rc);
	dmr_scrub_load(rc);

	/* Bio 0 of a flush goes to main, bio 1 to the spare. */
	ti->num_flush_bios = 2;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct dmr_io);
	/* Deferred bios are accounted when dmr_replay() submits them. */
	ti->accounts_remapped_io = true;
	ti->private = rc;
	return 0;

bad_owner:
	dmr_owner_del(rc);
	dmr_worker_exit(rc);
bad_stats:
	dmr_stats_free(rc);
bad_index:
	dmr_index_destroy(&rc->index);
bad_spare:
	dm_put_device(ti, rc->spare_dev);
bad_main:
	dm_put_device(ti, rc->main_dev);
bad:
	kfree(rc);
	return r;
}

static void remap_dtr(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	dmr_worker_exit(rc);
	dmr_owner_del(rc);
	dmr_md_close(rc);
	dmr_stats_free(rc);
	dmr_index_destroy(&rc->index);
	dm_put_device(ti, rc->spare_dev);
	dm_put_device(ti, rc->main_dev);
	kfree(rc);
}

/* Inline in every map: one counter pair, indexed by direction. */
static __always_inline void dmr_account(struct remap_c *rc, struct bio *bio)
{
	unsigned int dir = op_is_write(bio_op(bio));

	this_cpu_inc(rc->pcpu->stats.ios[dir]);
	this_cpu_add(rc->pcpu->stats.bytes[dir], bio->bi_iter.bi_size);
}

/*
 * Find where the main-device run starting at @block ends: the first block
 * after it (within @last) that is remapped. The summary skips empty regions.
 */
static u64 dmr_main_run_end(const struct dmr_table *t, u64 block, u64 last)
{
	u64 b;

	for (b = block + 1; b <= last; b++) {
		if (!dmr_table_maybe(t, b)) {
			/* Jump to the next summary region. */
			b |= (1ULL << t->summary_shift) - 1;
			continue;
		}
		if (dmr_table_lookup_inrange(t, b))
			return b;
	}
	return last + 1;
}

static void dmr_split(struct remap_c *rc, struct bio *bio, sector_t sector,
		      unsigned int nr, unsigned int len)
{
	dm_accept_partial_bio(bio, len);
	this_cpu_inc(rc->pcpu->stats.splits);
	trace_dmr_split(sector, nr, len);
}

/*
 * Where the spare run starting at @block (entry @e) ends: following blocks
 * whose slots follow its slot go in the same bio, so a large I/O over blocks
 * remapped together is not cut into blocks.
 */
static u64 dmr_spare_run_end(struct remap_c *rc, const struct dmr_table *t,
			     u64 block, u64 last, u64 e)
{
	u64 slot = dmr_entry_slot(&rc->index.geom, e), b;

	for (b = block + 1; b <= last; b++) {
		if (slot + (b - block) >= rc->geo.nr_slots ||
		    !dmr_table_maybe(t, b) ||
		    dmr_table_lookup_inrange(t, b) !=
		    dmr_entry_make(&rc->index.geom, b, slot + (b - block), false))
			break;
	}
	return b;
}

/* Send the bio, which starts in @block, to @slot. */
static __always_inline void dmr_map_slot(struct remap_c *rc, struct bio *bio,
					 struct dmr_io *io, sector_t sector,
					 u64 block, u64 slot)
{
	bio_set_dev(bio, rc->spare_dev->bdev);
	bio->bi_iter.bi_sector = dmr_slot_sector(&rc->geo, slot) +
				 (sector & (rc->geo.block_sectors - 1));
	io->iter = bio->bi_iter;
	io->spare = true;
	io->block = block;
	this_cpu_inc(rc->pcpu->stats.spare_ios);
	trace_dmr_spare_io(sector, bio_sectors(bio), slot, op_is_write(bio_op(bio)));
}

/* Send the run of remapped blocks starting at the bio's first to the spare. */
static void dmr_map_spare(struct remap_c *rc, const struct dmr_table *t,
			  struct bio *bio, struct dmr_io *io, sector_t sector,
			  u64 e, u64 last)
{
	u64 block = sector >> rc->block_shift, end;
	unsigned int nr = bio_sectors(bio);

	end = last > block ? dmr_spare_run_end(rc, t, block, last, e) : block + 1;
	if (end <= last)
		dmr_split(rc, bio, sector, nr, (end << rc->block_shift) - sector);
	dmr_map_slot(rc, bio, io, sector, block, dmr_entry_slot(&rc->index.geom, e));
}

/* A whole-block write of a pending block: the worker remaps it. */
static bool dmr_pending_full_write(struct remap_c *rc, struct bio *bio,
				   sector_t sector)
{
	return bio_op(bio) == REQ_OP_WRITE &&
	       !(sector & (rc->geo.block_sectors - 1)) &&
	       bio_sectors(bio) == rc->geo.block_sectors &&
	       READ_ONCE(rc->auto_remap) && !READ_ONCE(rc->md.failed);
}

/* slow_read_ms is on for some table: time this target's reads of main. */
static void dmr_map_timed(struct remap_c *rc, struct bio *bio, struct dmr_io *io)
{
	if (rc->slow_read_jiffies && bio_op(bio) == REQ_OP_READ &&
	    io->state == DMR_IO_MAPPED) {
		io->state = DMR_IO_TIMED;
		io->start = jiffies;
	}
}

/* Send the bio, cut to blocks that are not remapped, to main. */
static __always_inline int dmr_map_main(struct remap_c *rc, struct bio *bio,
					struct dmr_io *io, sector_t sector)
{
	bio_set_dev(bio, rc->main_dev->bdev);
	bio->bi_iter.bi_sector = sector;
	io->iter = bio->bi_iter;
	if (static_branch_unlikely(&dmr_slow_reads))
		dmr_map_timed(rc, bio, io);
	dmr_account(rc, bio);
	return DM_MAPIO_REMAPPED;
}

/* An empty flush: one clone per device. */
static noinline int dmr_map_flush(struct remap_c *rc, struct bio *bio,
				  struct dmr_io *io)
{
	io->iter = bio->bi_iter;
	/* A flush should not wait out commit_interval for held writes. */
	if (unlikely(!llist_empty(&rc->errors)))
		mod_delayed_work(rc->wq, &rc->err_work, 0);
	bio_set_dev(bio, dm_bio_get_target_bio_nr(bio) ?
		    rc->spare_dev->bdev : rc->main_dev->bdev);
	return DM_MAPIO_REMAPPED;
}

/*
 * The bio's first block has entry @e: send it to its slot, park it while the
 * block migrates, or handle a pending block. Called in the read section,
 * which it ends.
 */
static noinline int dmr_map_entry(struct remap_c *rc, struct bio *bio,
				  struct dmr_io *io, sector_t sector, u64 e)
	__releases(RCU_SCHED)
{
	unsigned int nr = bio_sectors(bio), len;
	u64 block = sector >> rc->block_shift;
	u64 last = (sector + nr - 1) >> rc->block_shift;

	if (unlikely(dmr_entry_busy(e) || dmr_entry_pending(rc, e))) {
		/* Both are about exactly this block. */
		len = min_t(sector_t, nr, ((block + 1) << rc->block_shift) - sector);
		if (len < nr)
			dmr_split(rc, bio, sector, nr, len);
		last = block;
		/* Not busy any more: e is where it went, read under the lock. */
		if (dmr_entry_busy(e) && dmr_defer(rc, bio, block, io, &e)) {
			dmr_read_unlock();
			return DM_MAPIO_SUBMITTED;
		}
		if (e && dmr_entry_pending(rc, e)) {
			if (bio_op(bio) == REQ_OP_READ) {
				/* end_io: a read that works again clears it */
				io->state = DMR_IO_PENDING_READ;
				io->block = block;
			}
			dmr_read_unlock();
			/* Reads and partial writes go to main. */
			if (!dmr_pending_full_write(rc, bio, sector))
				return dmr_map_main(rc, bio, io, sector);
			dmr_io_uncount(rc, io);
			io->iter = bio->bi_iter;
			io->iter.bi_sector = sector;
			dmr_account(rc, bio);
			dmr_hold_bio(rc, bio, DMR_IO_HELD_WRITE);
			return DM_MAPIO_SUBMITTED;
		}
		if (!e) {
			dmr_read_unlock();
			return dmr_map_main(rc, bio, io, sector);
		}
	}
	dmr_map_spare(rc, dmr_table_rcu(rc), bio, io, sector, e, last);
	dmr_read_unlock();
	dmr_account(rc, bio);
	return DM_MAPIO_REMAPPED;
}

/*
 * Everything but the unhit bio and the common hit: a bio over more than one
 * block, or a block that is busy or pending. Ends the read section.
 */
static noinline int dmr_map_table(struct remap_c *rc, const struct dmr_table *t,
				  struct bio *bio, struct dmr_io *io,
				  sector_t sector)
	__releases(RCU_SCHED)
{
	unsigned int nr = bio_sectors(bio);
	u64 block = sector >> rc->block_shift;
	u64 last = (sector + nr - 1) >> rc->block_shift, end, e;

	e = dmr_table_maybe_inrange(t, block) ?
	    dmr_table_lookup_inrange(t, block) : 0;
	if (e)
		return dmr_map_entry(rc, bio, io, sector, e);
	if (last != block) {
		/* To main up to the first remapped block. */
		end = dmr_main_run_end(t, block, last);
		if (end <= last)
			dmr_split(rc, bio, sector, nr,
				  (end << rc->block_shift) - sector);
	}
	dmr_read_unlock();
	return dmr_map_main(rc, bio, io, sector);
}

/*
 * The summary has a remap in the bio's region. A bio within one block that is
 * not remapped, or remapped and settled, is mapped here; the rest goes to
 * dmr_map_table(). Ends the read section.
 */
static noinline int dmr_map_hit(struct remap_c *rc, const struct dmr_table *t,
				struct bio *bio, struct dmr_io *io,
				sector_t sector)
	__releases(RCU_SCHED)
{
	u64 block = sector >> rc->block_shift;
	u64 e = dmr_table_lookup_inrange(t, block);

	if ((sector + bio_sectors(bio) - 1) >> rc->block_shift == block) {
		if (!e) {
			dmr_read_unlock();
			return dmr_map_main(rc, bio, io, sector);
		}
		if (!dmr_entry_busy(e) && !dmr_entry_pending(rc, e)) {
			dmr_map_slot(rc, bio, io, sector, block,
				     dmr_entry_slot(&rc->index.geom, e));
			dmr_read_unlock();
			dmr_account(rc, bio);
			return DM_MAPIO_REMAPPED;
		}
	}
	return dmr_map_table(rc, t, bio, io, sector);
}

/*
 * The map path. A bio whose first and last sectors lie in one summary region
 * without remaps goes the straight way: count it in the generation, test one
 * bit, send it to main. Not inlined into remap_map(): the bpftrace scripts
 * in trace/ probe it, with the target's context as arg0.
 */
noinline int dmr_map_bio(struct remap_c *rc, struct bio *bio)
{
	sector_t sector = dm_target_offset(rc->ti, bio->bi_iter.bi_sector);
	unsigned int nr = bio_sectors(bio);
	struct dmr_io *io = dm_per_bio_data(bio, sizeof(struct dmr_io));
	const struct dmr_table *t;
	u64 r;

	io->state = DMR_IO_MAPPED;
	io->spare = false;
	dmr_read_lock();
	dmr_io_count(rc, io);
	if (unlikely(!nr)) {
		dmr_read_unlock();
		return dmr_map_flush(rc, bio, io);
	}
	t = dmr_table_rcu(rc);
	if (t) {
		/* The bio lies within the target: r < the summary's bits. */
		r = sector >> rc->region_shift;
		if (unlikely((sector + nr - 1) >> rc->region_shift != r))
			return dmr_map_table(rc, t, bio, io, sector);
		if (unlikely(test_bit(r, t->summary)))
			return dmr_map_hit(rc, t, bio, io, sector);
	}
	dmr_read_unlock();
	return dmr_map_main(rc, bio, io, sector);
}

static int remap_map(struct dm_target *ti, struct bio *bio)
{
	return dmr_map_bio(ti->private, bio);
}

/*
 * What may be a media error on a read or a write is worth a retry and, if
 * main answers elsewhere, a remap. Transport, timeout, offline, resource and
 * again errors are about the path, not the medium, and pass through; so do
 * the errors of read-ahead and fail-fast bios, whose submitters take a
 * failure that may be transient and have their own fallback.
 */
static bool dmr_recoverable(struct remap_c *rc, struct bio *bio,
			    blk_status_t error)
{
	return (error == BLK_STS_IOERR || error == BLK_STS_MEDIUM) &&
	       (bio_op(bio) == REQ_OP_READ || bio_op(bio) == REQ_OP_WRITE) &&
	       !(bio->bi_opf & (REQ_RAHEAD | REQ_FAILFAST_MASK)) &&
	       READ_ONCE(rc->auto_remap);
}

/* A read of main that took longer than slow_read_ms: its blocks may be weak. */
static void dmr_slow_read(struct remap_c *rc, struct dmr_io *io)
{
	u64 first, last;

	if (!time_after(jiffies, io->start + rc->slow_read_jiffies))
		return;
	first = io->iter.bi_sector >> rc->block_shift;
	last = (io->iter.bi_sector + (io->iter.bi_size >> SECTOR_SHIFT) - 1) >>
	       rc->block_shift;
	dmr_weak_suspect(rc, first, last - first + 1);
}

/* A good completion of a bio that is not plainly mapped. */
static noinline int dmr_end_io_state(struct remap_c *rc, struct dmr_io *io)
{
	if (io->state == DMR_IO_FINAL)
		return DM_ENDIO_DONE;	/* completed by the worker */
	if (io->state == DMR_IO_TIMED)
		dmr_slow_read(rc, io);
	else	/* a read of a pending block */
		dmr_pending_readable(rc, io->block);
	io->state = DMR_IO_MAPPED;
	dmr_io_uncount(rc, io);
	return DM_ENDIO_DONE;
}

/* A failed completion. */
static noinline int dmr_end_io_error(struct remap_c *rc, struct bio *bio,
				     blk_status_t *error)
{
	struct dmr_io *io = dm_per_bio_data(bio, sizeof(struct dmr_io));
	bool write;

	if (io->state == DMR_IO_FINAL)
		return DM_ENDIO_DONE;	/* completed by the worker */
	io->state = DMR_IO_MAPPED;
	dmr_io_uncount(rc, io);
	if (*error == BLK_STS_OFFLINE && bio->bi_bdev == rc->main_dev->bdev)
		dmr_main_offline(rc);
	if (!io->iter.bi_size)
		return DM_ENDIO_DONE;

	write = op_is_write(bio_op(bio));
	if (write)
		this_cpu_inc(rc->pcpu->stats.write_errors);
	else
		this_cpu_inc(rc->pcpu->stats.read_errors);
	if (dmr_recoverable(rc, bio, *error)) {
		/* Completion consumed the iterator: restore it for the retry. */
		bio->bi_iter = io->iter;
		dmr_hold_bio(rc, bio, DMR_IO_HELD);
		return DM_ENDIO_INCOMPLETE;
	}
	trace_dmr_io_error(io->iter.bi_sector, io->iter.bi_size >> SECTOR_SHIFT, write,
			   blk_status_to_errno(*error), "passed");
	return DM_ENDIO_DONE;
}

/* Only ti lives across dm_per_bio_data() on the common path: a small frame. */
static int remap_end_io(struct dm_target *ti, struct bio *bio,
			blk_status_t *error)
{
	struct dmr_io *io;

	if (unlikely(*error))
		return dmr_end_io_error(ti->private, bio, error);
	io = dm_per_bio_data(bio, sizeof(struct dmr_io));
	if (unlikely(io->state != DMR_IO_MAPPED))
		return dmr_end_io_state(ti->private, io);
	dmr_io_uncount(ti->private, io);
	return DM_ENDIO_DONE;
}

/* A suspend waits for held bios: have the worker settle them now. */
static void remap_presuspend(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	WRITE_ONCE(rc->suspending, true);
	dmr_worker_kick_errors(rc);
}

static void remap_presuspend_undo(struct dm_target *ti)
{
	WRITE_ONCE(((struct remap_c *)ti->private)->suspending, false);
}

/* Finish the batch in flight; new requests are refused until resume. */
static void remap_postsuspend(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	dmr_scrub_suspend(rc);
	WRITE_ONCE(rc->suspended, true);
	dmr_worker_flush(rc);
}

/*
 * Load the metadata if the constructor left it (another instance was live),
 * or again if the table this one replaces committed since. That instance is
 * suspended now, so nothing else writes the region.
 */
static int remap_preresume(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;
	bool changed = true;
	const char *why = NULL;
	unsigned int noio;
	int r = 0;

	if (dmr_owner_conflict(rc)) {
		DMERR("%s: cannot resume: another live device uses this spare area",
		      dm_table_device_name(ti->table));
		return -EBUSY;
	}
	/* Suspended: the I/O of a reclaim could wait on this very device. */
	noio = memalloc_noio_save();
	if (rc->md_loaded)
		r = dmr_md_changed(rc, &changed);
	if (!r && changed) {
		r = dmr_md_reload(rc, &why);
		dmr_health_init(rc);
		dmr_scrub_load(rc);
	}
	memalloc_noio_restore(noio);
	if (r) {
		DMERR("%s: cannot resume: %s (%d)", dm_table_device_name(ti->table),
		      why ?: "metadata read failed", r);
		return r;
	}
	WRITE_ONCE(rc->suspending, false);
	WRITE_ONCE(rc->suspended, false);
	dmr_avail_resume(rc);
	dmr_scrub_resume(rc);
	return 0;
}

/* The table line as given: features only when the line had them. */
static void emit_table_line(struct remap_c *rc, char *result, unsigned int maxlen,
			    unsigned int *szp)
{
	unsigned int sz = *szp, f = rc->features;

	DMEMIT("%s %s %llu %llu", rc->main_dev->name, rc->spare_dev->name,
	       rc->geo.spare_start, rc->geo.spare_len);
	if (f)
		DMEMIT(" %u", 2 * hweight32(f));
	if (f & DMR_FEAT_BLOCK_SIZE)
		DMEMIT(" block_size %u", rc->geo.block_size);
	if (f & DMR_FEAT_AUTO_REMAP)
		DMEMIT(" auto_remap %s", rc->auto_remap ? "on" : "off");
	if (f & DMR_FEAT_READ_RETRIES)
		DMEMIT(" read_retries %u", rc->read_retries);
	if (f & DMR_FEAT_COMMIT_INTERVAL)
		DMEMIT(" commit_interval %u", rc->commit_interval);
	if (f & DMR_FEAT_OUTAGE_BLOCKS)
		DMEMIT(" outage_blocks %u", rc->burst.size);
	if (f & DMR_FEAT_OUTAGE_WINDOW)
		DMEMIT(" outage_window %u", rc->burst.window_ms);
	if (f & DMR_FEAT_SCRUB_RATE)
		DMEMIT(" scrub_rate %u", rc->scrub.rate);
	if (f & DMR_FEAT_WEAK_BUDGET)
		DMEMIT(" weak_budget %u", rc->weak.budget);
	if (f & DMR_FEAT_SLOW_READ)
		DMEMIT(" slow_read_ms %u", rc->weak.slow_ms);
	*szp = sz;
}

/* Unlocked reads: each field is written by the worker alone. */
static void emit_scrub(struct remap_c *rc, char *result, unsigned int maxlen,
		       unsigned int *szp)
{
	const struct dmr_scrub *sc = &rc->scrub;
	u64 pos = READ_ONCE(sc->pos), nr = rc->geo.nr_blocks;
	unsigned int sz = *szp;

	DMEMIT(" scrub=%s scrub_pos=%llu/%llu scrub_percent=%llu",
	       dmr_scrub_name(READ_ONCE(sc->state)), pos, nr,
	       div64_u64(pos * 100, nr));
	DMEMIT(" scrub_read=%llu scrub_errors=%llu scrub_last_pass=%llu",
	       READ_ONCE(sc->blocks_read), READ_ONCE(sc->errors),
	       READ_ONCE(sc->last_pass));
	*szp = sz;
}

static void remap_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	u64 used, bad, pending, live;
	struct dmr_work_stats ws;
	struct dmr_stats s;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		dmr_stats_sum(rc, &s);
		/* The worker changes these together under the lock. */
		mutex_lock(&rc->lock);
		ws = rc->wstats;
		used = rc->slots_used;
		bad = rc->bad_slots;
		pending = rc->nr_pending;
		live = dmr_index_live(&rc->index);
		mutex_unlock(&rc->lock);
		DMEMIT("%u.%u.%u spare=%llu/%llu remaps=%llu pending=%llu health=%s",
		       ti->type->version[0], ti->type->version[1],
		       ti->type->version[2], used, rc->geo.nr_slots,
		       live - pending, pending,
		       dmr_health_name(READ_ONCE(rc->health)));
		DMEMIT(" auto_remap=%s migrating=%llu manual_remaps=%llu auto_remaps=%llu",
		       READ_ONCE(rc->auto_remap) ? "on" : "off", ws.migrating,
		       ws.manual_remaps, ws.auto_remaps);
		DMEMIT(" unremaps=%llu copy_errors=%llu bad_slots=%llu",
		       ws.unremaps, ws.copy_errors, bad);
		DMEMIT(" metadata=%s generation=%llu commits=%llu",
		       READ_ONCE(rc->md.failed) ? "failed" : "ok",
		       READ_ONCE(rc->md.sb.generation), READ_ONCE(rc->md.commits));
		DMEMIT(" reads=%llu writes=%llu read_bytes=%llu write_bytes=%llu",
		       s.ios[0], s.ios[1], s.bytes[0], s.bytes[1]);
		DMEMIT(" spare_ios=%llu splits=%llu deferred=%llu",
		       s.spare_ios, s.splits, s.deferred);
		DMEMIT(" errors=W%llu:R%llu block_size=%u", s.write_errors,
		       s.read_errors, rc->geo.block_size);
		emit_scrub(rc, result, maxlen, &sz);
		DMEMIT(" weak_remaps=%llu", ws.weak_remaps);
		break;
	case STATUSTYPE_TABLE:
		emit_table_line(rc, result, maxlen, &sz);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",main_device=%s,spare_device=%s", rc->main_dev->name,
		       rc->spare_dev->name);
		DMEMIT(",spare_start=%llu,spare_len=%llu,block_size=%u;",
		       rc->geo.spare_start, rc->geo.spare_len,
		       rc->geo.block_size);
		break;
	}
}

/* Parse "<sector> [<count>]" into a block range inside the target. */
static int parse_range(struct remap_c *rc, unsigned int argc, char **argv,
		       u64 *first, u64 *count)
{
	u64 sector, nr = 1, end;

	if (argc < 1 || argc > 2) {
		DMERR_LIMIT("%s: expected <sector> [<count>]", argv[-1]);
		return -EINVAL;
	}
	if (parse_u64(argv[0], &sector) || (argc == 2 && parse_u64(argv[1], &nr))) {
		DMERR_LIMIT("%s: sector and count must be decimal numbers", argv[-1]);
		return -EINVAL;
	}
	if (!nr) {
		DMERR_LIMIT("%s: count must be at least 1", argv[-1]);
		return -EINVAL;
	}
	if (check_add_overflow(sector, nr, &end) || end > rc->ti->len) {
		DMERR_LIMIT("%s: sectors %llu+%llu run past the device end (%llu)",
			    argv[-1], sector, nr, (u64)rc->ti->len);
		return -EINVAL;
	}
	*first = sector >> rc->block_shift;
	*count = ((end - 1) >> rc->block_shift) - *first + 1;
	return 0;
}

/*
 * remap/unremap/commit through the worker, one batch per request so that a
 * range as large as the device can be interrupted between batches.
 */
static int msg_migrate(struct remap_c *rc, enum dmr_req_op op,
		       unsigned int argc, char **argv, char *result,
		       unsigned int maxlen)
{
	u64 first = 0, count = 1, done = 0, n;
	struct dmr_req *req;
	unsigned int sz = 0, i;
	int r;

	if (READ_ONCE(rc->suspended)) {
		DMERR_LIMIT("%s: device is suspended; resume it first", argv[-1]);
		return -EBUSY;
	}
	r = op == DMR_REQ_COMMIT ? 0 : parse_range(rc, argc, argv, &first, &count);
	if (r)
		return r;
	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	req->op = op;
	while (done < count) {
		n = min_t(u64, count - done, READ_ONCE(batch_blocks.val));
		req->first = first + done;
		req->count = n;
		dmr_worker_submit(rc, req);
		done += n;
		r = req->error;
		if (r || req->no_space)
			break;
		if (done < count && fatal_signal_pending(current)) {
			r = -EINTR;
			break;
		}
	}
	/* The blocks not tried for want of spare count as no_space too. */
	if (req->no_space)
		req->no_space += count - done;
	if (op == DMR_REQ_COMMIT) {
		if (r)
			DMERR("commit failed (%d)", r);
		else
			DMEMIT("generation=%llu", rc->md.sb.generation);
		r = r ?: 1;
		goto out;
	}
	if (r && !req->changed) {
		DMERR_LIMIT("%s failed (%d)%s", argv[-1], r,
			    rc->md.failed ? ": metadata writes failed" : "");
		goto out;
	}
	DMEMIT("%s=%llu %s=%llu", op == DMR_REQ_REMAP ? "remapped" :
	       op == DMR_REQ_RECLAIM ? "reclaimed" : "unremapped",
	       req->changed, op == DMR_REQ_REMAP ? "already" : "not_remapped",
	       req->skipped);
	if (op == DMR_REQ_REMAP)
		DMEMIT(" no_space=%llu", req->no_space);
	if (op == DMR_REQ_RECLAIM)
		DMEMIT(" refused=%llu", req->refused);
	DMEMIT(" copy_failed=%llu", req->copy_failed);
	for (i = 0; i < min_t(u64, req->refused, ARRAY_SIZE(req->refused_blocks)); i++)
		DMEMIT("%s%llu", i ? "," : " refused_blocks=", req->refused_blocks[i]);
	for (i = 0; i < min_t(u64, req->copy_failed, ARRAY_SIZE(req->failed_blocks)); i++)
		DMEMIT("%s%llu", i ? "," : " failed_blocks=", req->failed_blocks[i]);
	r = 1;
out:
	kfree(req);
	return r;
}

static int msg_query(struct remap_c *rc, unsigned int argc, char **argv,
		     char *result, unsigned int maxlen)
{
	unsigned int sz = 0;
	u64 sector, block, e;

	if (argc != 1 || parse_u64(argv[0], &sector) || sector >= rc->ti->len) {
		DMERR_LIMIT("query: expected one sector below %llu", (u64)rc->ti->len);
		return -EINVAL;
	}
	block = sector >> rc->block_shift;
	rcu_read_lock();
	e = dmr_index_find_rcu(&rc->index, block);
	rcu_read_unlock();
	if (!e) {
		DMEMIT("sector=%llu block=%llu main", sector, block);
		return 1;
	}
	if (dmr_entry_pending(rc, e)) {
		DMEMIT("sector=%llu block=%llu pending", sector, block);
		return 1;
	}
	DMEMIT("sector=%llu block=%llu %s slot=%llu spare_sector=%llu", sector,
	       block, dmr_entry_busy(e) ? "migrating" : "remapped",
	       dmr_entry_slot(&rc->index.geom, e),
	       dmr_slot_sector(&rc->geo, dmr_entry_slot(&rc->index.geom, e)));
	return 1;
}

#define LIST_LINE_MAX	64	/* "<sector> <block> <slot> <spare_sector>\n" */
#define LIST_DEFAULT	64

static int msg_list(struct remap_c *rc, unsigned int argc, char **argv,
		    char *result, unsigned int maxlen)
{
	u64 from = 0, max = LIST_DEFAULT, *ents, i, n, fit;
	unsigned int sz = 0;

	if (argc > 2 || (argc >= 1 && parse_u64(argv[0], &from)) ||
	    (argc == 2 && (parse_u64(argv[1], &max) || !max))) {
		DMERR_LIMIT("list: expected [<from_sector> [<max>=1..]]");
		return -EINVAL;
	}
	if (from >= rc->ti->len) {
		DMEMIT("count=0 next=none");
		return 1;
	}
	/* Never produce more than the result buffer holds. */
	fit = maxlen > 2 * LIST_LINE_MAX ? maxlen / LIST_LINE_MAX - 1 : 1;
	max = min3(max, fit, 4096ULL);
	ents = kvmalloc_array(max + 1, sizeof(*ents), GFP_KERNEL);
	if (!ents)
		return -ENOMEM;
	mutex_lock(&rc->lock);
	n = dmr_index_list(&rc->index, from >> rc->block_shift, ents, max + 1);
	mutex_unlock(&rc->lock);
	DMEMIT("count=%llu next=", min(n, max));
	if (n > max) {
		u64 next = dmr_entry_block(&rc->index.geom, ents[max]);

		DMEMIT("%llu", dmr_block_to_sector(rc, next));
	} else {
		DMEMIT("none");
	}
	for (i = 0; i < min(n, max); i++) {
		u64 b = dmr_entry_block(&rc->index.geom, ents[i]);
		u64 s = dmr_entry_slot(&rc->index.geom, ents[i]);

		if (s == rc->pending_slot)
			DMEMIT("\n%llu %llu pending", dmr_block_to_sector(rc, b), b);
		else
			DMEMIT("\n%llu %llu %llu %llu", dmr_block_to_sector(rc, b),
			       b, s, dmr_slot_sector(&rc->geo, s));
	}
	kvfree(ents);
	return 1;
}

static int msg_stats(struct remap_c *rc, char *result, unsigned int maxlen)
{
	unsigned int sz = 0;
	struct dmr_stats s;

	struct dmr_work_stats ws;
	u64 live, rebuilds;
	size_t bytes;

	dmr_stats_sum(rc, &s);
	mutex_lock(&rc->lock);
	live = dmr_index_live(&rc->index);
	bytes = dmr_index_bytes(&rc->index);
	rebuilds = rc->index.rebuilds;
	ws = rc->wstats;
	mutex_unlock(&rc->lock);
	DMEMIT("reads=%llu writes=%llu read_bytes=%llu write_bytes=%llu",
	       s.ios[0], s.ios[1], s.bytes[0], s.bytes[1]);
	DMEMIT(" spare_ios=%llu splits=%llu deferred=%llu",
	       s.spare_ios, s.splits, s.deferred);
	DMEMIT(" read_errors=%llu write_errors=%llu", s.read_errors, s.write_errors);
	DMEMIT(" remaps=%llu table_bytes=%zu table_rebuilds=%llu batches=%llu",
	       live, bytes, rebuilds, ws.batches);
	DMEMIT(" outages=%llu outage_rounds=%llu pending_readable=%llu probation_reclaims=%llu",
	       ws.outages, ws.outage_rounds, ws.pending_readable,
	       ws.probation_reclaims);
	DMEMIT(" weak_found=%llu weak_remaps=%llu weak_skipped=%llu",
	       ws.weak_found, ws.weak_remaps, ws.weak_skipped);
	return 1;
}

static int msg_scrub(struct remap_c *rc, unsigned int argc, char **argv)
{
	struct dmr_req req = { .op = DMR_REQ_SCRUB };
	int op = argc == 1 ? dmr_scrub_op_parse(argv[0]) : -EINVAL;

	if (op < 0) {
		DMERR_LIMIT("scrub: expected start, stop, pause or resume");
		return -EINVAL;
	}
	/* A table being replaced would lose it: say so instead. */
	if (READ_ONCE(rc->suspended)) {
		DMERR_LIMIT("scrub: device is suspended; resume it first");
		return -EBUSY;
	}
	req.first = op;
	dmr_worker_submit(rc, &req);
	return req.error;
}

static const char remap_help[] =
	"remap <sector> [<count>]: move the blocks covering the sectors to spare\n"
	"unremap <sector> [<count>]: copy them back to main, free their spare blocks\n"
	"reclaim <sector> [<count>]: unremap those whose main blocks pass a write/read test\n"
	"query <sector>: where the sector's block lives\n"
	"list [<from_sector> [<max>]]: remapped and pending blocks, paged (next=)\n"
	"auto_remap on|off: remap blocks that fail with I/O errors\n"
	"stats: I/O counters; clear_stats: reset them\n"
	"commit (or save): make queued metadata changes durable now\n"
	"scrub start|stop|pause|resume: read main in the background for bad blocks\n"
	"ping: answers pong; help: this text";

static int remap_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0;
	const char *cmd;

	if (!argc) {
		DMERR_LIMIT("empty message");
		return -EINVAL;
	}
	cmd = argv[0];
	if (!strcasecmp(cmd, "remap"))
		return msg_migrate(rc, DMR_REQ_REMAP, argc - 1, argv + 1,
				   result, maxlen);
	if (!strcasecmp(cmd, "unremap"))
		return msg_migrate(rc, DMR_REQ_UNREMAP, argc - 1, argv + 1,
				   result, maxlen);
	if (!strcasecmp(cmd, "reclaim"))
		return msg_migrate(rc, DMR_REQ_RECLAIM, argc - 1, argv + 1,
				   result, maxlen);
	if (!strcasecmp(cmd, "query"))
		return msg_query(rc, argc - 1, argv + 1, result, maxlen);
	if (!strcasecmp(cmd, "list"))
		return msg_list(rc, argc - 1, argv + 1, result, maxlen);
	if (!strcasecmp(cmd, "auto_remap")) {
		bool on;

		if (argc != 2 || parse_on_off(argv[1], &on)) {
			DMERR_LIMIT("auto_remap: expected on or off");
			return -EINVAL;
		}
		/* A table being replaced would lose it: say so instead. */
		if (READ_ONCE(rc->suspended)) {
			DMERR_LIMIT("auto_remap: device is suspended; resume it first");
			return -EBUSY;
		}
		WRITE_ONCE(rc->auto_remap, on);
		return 0;
	}
	if (!strcasecmp(cmd, "scrub"))
		return msg_scrub(rc, argc - 1, argv + 1);
	if (argc != 1) {
		DMERR_LIMIT("%s: takes no arguments (or unrecognised message)", cmd);
		return -EINVAL;
	}
	if (!strcasecmp(cmd, "stats"))
		return msg_stats(rc, result, maxlen);
	if (!strcasecmp(cmd, "commit") || !strcasecmp(cmd, "save"))
		return msg_migrate(rc, DMR_REQ_COMMIT, 0, argv + 1, result, maxlen);
	if (!strcasecmp(cmd, "clear_stats")) {
		dmr_stats_clear(rc);
		return 0;
	}
	if (!strcasecmp(cmd, "ping")) {
		DMEMIT("pong");
		return 1;
	}
	if (!strcasecmp(cmd, "help")) {
		DMEMIT("%s", remap_help);
		return 1;
	}
	DMERR_LIMIT("unrecognised message '%s'", cmd);
	return -EINVAL;
}

static int remap_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct remap_c *rc = ti->private;
	int r;

	r = fn(ti, rc->main_dev, 0, ti->len, data);
	if (r)
		return r;
	return fn(ti, rc->spare_dev, rc->geo.spare_start, rc->geo.spare_len, data);
}

static void remap_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct remap_c *rc = ti->private;

	/* Either device may serve any sector: honour the stricter of the two. */
	limits->logical_block_size =
		max3(limits->logical_block_size,
		     bdev_logical_block_size(rc->main_dev->bdev),
		     bdev_logical_block_size(rc->spare_dev->bdev));
}

static struct target_type remap_target = {
	.name = "remap",
	.version = {1, 1, 0},
	.module = THIS_MODULE,
	.ctr = remap_ctr,
	.dtr = remap_dtr,
	.map = remap_map,
	.end_io = remap_end_io,
	.presuspend = remap_presuspend,
	.presuspend_undo = remap_presuspend_undo,
	.postsuspend = remap_postsuspend,
	.preresume = remap_preresume,
	.status = remap_status,
	.message = remap_message,
	.iterate_devices = remap_iterate_devices,
	.io_hints = remap_io_hints,
};

static int __init dm_remap_init(void)
{
	int r = dm_register_target(&remap_target);

	if (r < 0)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_remap_exit(void)
{
	dm_unregister_target(&remap_target);
}

module_init(dm_remap_init);
module_exit(dm_remap_exit);

MODULE_DESCRIPTION(DM_NAME " target that remaps bad blocks to a spare area");
MODULE_AUTHOR("dm-remap developers");
MODULE_LICENSE("GPL");
MODULE_ALIAS("dm-remap");
MODULE_SOFTDEP("pre: crc32c");
