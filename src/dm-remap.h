/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private state of one dm-remap target instance, shared by the module's files.
 * Only src/ includes this; the on-disk format and table live in include/.
 */
#ifndef DM_REMAP_H
#define DM_REMAP_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include <dm-remap/format.h>
#include <dm-remap/table.h>

#include "compat.h"

#define DM_MSG_PREFIX "remap"

/* Pending blocks read successfully, queued for the worker to look at. */
#define DMR_RECHECK_MAX 16

/* An unsigned module parameter with its valid range (dmr_param_ops). */
struct dmr_param {
	unsigned int val;
	unsigned int min;
	unsigned int max;
};

extern const struct kernel_param_ops dmr_param_ops;

/* Per-CPU I/O counters; summed only when status is read. */
struct dmr_stats {
	u64 ios[2];		/* [op_is_write()]: reads, writes */
	u64 bytes[2];
	u64 spare_ios;
	u64 splits;
	u64 read_errors;
	u64 write_errors;
	u64 deferred;
};

/*
 * What the map path writes, one copy per CPU. Bios mapped in generation g
 * are counted in inflight[g]; a migration flips the generation and waits for
 * the old one to drain (see dmr_quiesce()).
 */
struct dmr_pcpu {
	long inflight[2];
	struct dmr_stats stats;
};

enum dmr_io_state {
	DMR_IO_MAPPED = 0,	/* on its way to a device */
	DMR_IO_HELD,		/* failed: the worker retries and fixes it */
	DMR_IO_HELD_WRITE,	/* full write of a pending block: remap it */
	DMR_IO_FINAL,		/* completed by the worker */
	DMR_IO_PENDING_READ,	/* a read of a pending block, sent to main */
	DMR_IO_TIMED,		/* a read of main timed for slow_read_ms */
};

/* Per-bio data, written by the map path and read back after an error. */
struct dmr_io {
	struct bvec_iter iter;		/* as sent: iter is consumed on completion */
	struct llist_node node;		/* the worker's error queue */
	u64 block;			/* main block, for bios sent to a spare slot */
	unsigned int items;		/* worker: pieces not yet settled */
	bool failed;			/* worker: a piece could not be saved */
	unsigned long start;		/* jiffies mapped, when DMR_IO_TIMED */
	u8 gen;				/* generation the bio was counted in */
	u8 state;			/* enum dmr_io_state */
	bool spare;			/* sent to a spare slot */
};

/*
 * The last distinct main blocks that failed while main answered (a ring of
 * @size, oldest at @head once full): too many within @window_ms is an outage.
 * Blocks the error path remapped before a burst was recognised wait on
 * probation until it is over.
 */
struct dmr_burst_remap {
	u64 block, slot;
	unsigned long when;		/* jiffies */
};

struct dmr_burst {
	struct {
		u64 block;
		unsigned long when;	/* jiffies */
	} *ring;
	struct dmr_burst_remap *recent;	/* the error path's last remaps (ring) */
	struct dmr_burst_remap *probation;
	unsigned int size;		/* outage_blocks; 0: no burst detection */
	unsigned int window_ms;		/* outage_window */
	unsigned int n, head;
	unsigned int nr_recent, recent_head;
	unsigned int nr_probation;
	unsigned long last;		/* when the newest block was added */
};

/* Counters of the worker's work; written by the worker only. */
struct dmr_work_stats {
	u64 manual_remaps;
	u64 auto_remaps;
	u64 unremaps;
	u64 batches;
	u64 copy_errors;
	u64 spare_full_errors;	/* bad blocks left unfixed: no spare */
	u64 pending_full;	/* unreadable blocks not recorded: list full */
	u64 migrating;		/* blocks in the batch being migrated */
	u64 outages;		/* times main stopped answering */
	u64 outage_rounds;	/* error rounds that found main down */
	u64 pending_readable;	/* pending blocks that read again */
	u64 probation_reclaims;	/* remapped in a burst, moved back after it */
	u64 weak_found;		/* blocks that read only on a retry or slowly */
	u64 weak_remaps;	/* ...moved to the spare */
	u64 weak_skipped;	/* ...left: over weak_budget, or spare low */
};

/* Weak blocks waiting for the worker (dm-remap-weak.c). */
#define DMR_WEAK_MAX	16

struct dmr_weak_item {
	u64 block;
	unsigned int nr;	/* blocks, when @slow */
	bool slow;		/* a slow read: time them; else read on a retry */
};

struct dmr_weak {
	spinlock_t lock;		/* the queue: end_io adds, the worker takes */
	unsigned int n;
	struct dmr_weak_item q[DMR_WEAK_MAX];
	struct work_struct work;
	unsigned int budget;		/* weak_budget: blocks an hour */
	unsigned int slow_ms;		/* slow_read_ms; 0: off */
	u64 credit;			/* worker: what the budget allows now */
	unsigned long refill;		/* jiffies credit was last added */
};

/* Scrub rate limits (KiB/s): the feature argument and module parameter. */
#define DMR_SCRUB_RATE_MIN	64
#define DMR_SCRUB_RATE_MAX	4194304
/* Bad blocks found by user I/O whose neighbourhood the scrub reads next. */
#define DMR_SCRUB_NEAR		8

/*
 * Patrol read of main (dm-remap-scrub.c): written by the worker only; status
 * reads it without a lock. @state, @pos and @last_pass are persisted.
 */
struct dmr_scrub {
	struct delayed_work work;
	unsigned int rate;		/* KiB/s */
	u32 state;			/* DMR_SCRUB_* (format.h) */
	u64 pos;			/* next block of the pass */
	u64 last_pass;			/* s since 1970 the last pass ended; 0 */
	u64 blocks_read;		/* counters since the table was loaded */
	u64 errors;			/* unreadable blocks made pending */
	u64 passes;
	u64 near[DMR_SCRUB_NEAR];
	unsigned int nr_near;
	u64 t0;				/* ktime the rate is measured from */
	u64 bytes;			/* scrubbed since t0 */
	unsigned long saved;		/* jiffies the position was persisted */
	void *buf;			/* one chunk, while a pass is on */
};

enum dmr_scrub_op {
	DMR_SCRUB_START,
	DMR_SCRUB_STOP,
	DMR_SCRUB_PAUSE,
	DMR_SCRUB_RESUME,
	DMR_SCRUB_SAVE,		/* persist the position (suspend) */
};

enum dmr_health {
	DMR_HEALTH_OK,
	DMR_HEALTH_DEGRADED,	/* some blocks remapped or pending */
	DMR_HEALTH_SPARE_LOW,	/* free spare below spare_low_percent */
	DMR_HEALTH_SPARE_FULL,
	DMR_HEALTH_METADATA_FAILED,
	DMR_HEALTH_MAIN_UNAVAILABLE,	/* main does not answer at all */
};

/* A record change waiting for the next commit. */
struct dmr_md_change {
	u64 slot;
	u64 rec;
	u64 seq;	/* order of queueing: the last change wins */
};

/* The metadata region: what was last committed, and what is queued. */
struct dmr_md {
	const struct dmr_geometry *geo;
	struct block_device *bdev;
	struct dm_bufio_client *bufio;
	struct dm_io_client *io;
	struct dmr_sb sb;		/* last committed superblock */
	u64 next_gen;
	u64 *pair_gen;			/* generation of each pair's current copy */
	unsigned long *pair_copy;	/* current copy of each pair */
	unsigned long *pair_force;	/* leftovers to overwrite next commit */
	bool force_pending;
	bool sb_dirty;			/* the scrub fields below changed */
	u32 scrub_state;		/* for the next superblock */
	u64 scrub_pos;
	u64 scrub_last_pass;
	bool failed;			/* a commit failed: no more changes */
	bool formatted;			/* this load formatted a blank region */
	const char *load_why;
	struct dmr_md_change *chg;
	u64 nr_chg;
	u64 cap_chg;
	u64 commits;
	u64 blocks_written;
};

struct remap_c {
	/*
	 * Read for every bio; written only by the constructor, a table
	 * publication (index.table, index.rebuilds) and a quiesce (gen). What
	 * a bio writes is per-CPU (pcpu) or its own (docs/design.md, "What a
	 * bio touches"); DMR_MAP_FIELD() in dm-remap-target.c keeps the fields
	 * below on cache lines of their own.
	 */
	struct dm_target *ti;
	struct dm_dev *main_dev;
	struct dm_dev *spare_dev;
	struct dmr_pcpu __percpu *pcpu;
	struct dmr_index index;
	unsigned int gen;
	unsigned int block_shift;	/* sectors -> blocks */
	unsigned int region_shift;	/* sectors -> summary regions */
	u64 pending_slot;		/* slot value of a pending entry */
	unsigned long slow_read_jiffies;	/* slow_read_ms; 0: off */
	struct dmr_geometry geo;

	/*
	 * Bios that hit a block under migration wait here. Raw: the map path
	 * takes it with preemption off, which PREEMPT_RT allows only for raw
	 * locks; it guards a list append.
	 */
	raw_spinlock_t defer_lock ____cacheline_aligned_in_smp;
	struct bio_list deferred;
	struct dmr_stats stats_base;	/* values at the last clear_stats */

	/* Background worker: the only writer of index, slots and metadata. */
	struct workqueue_struct *wq;
	struct work_struct work;
	struct llist_head requests;
	struct dm_kcopyd_client *kcopyd;
	unsigned long *slot_used;	/* mapped or bad spare slots */
	u64 slot_hint;
	u64 slots_used;			/* remaps + bad_slots */
	u64 bad_slots;
	struct dmr_work_stats wstats;
	struct dmr_md md;
	bool suspended;			/* postsuspend..preresume: no new work */
	bool suspending;		/* presuspend..resume: no error batching */
	bool md_loaded;			/* metadata read by this instance */
	struct list_head owner;		/* on the list of live instances */

	/* Error handling (dm-remap-errors.c), all worker-side but the queue. */
	struct llist_head errors;	/* held bios, from end_io and map */
	struct delayed_work err_work;
	struct bio_set bs;		/* clones for block-by-block retries */
	u64 *pending;			/* pending positions: block + 1, or 0 */
	u64 nr_pending;
	bool auto_remap;
	unsigned int read_retries;
	unsigned int commit_interval;	/* ms an error may wait to be batched */
	unsigned int features;		/* DMR_FEAT_*: given in the table line */
	enum dmr_health health;
	u64 event_remaps;		/* remaps and pending at the last event */
	u64 event_pending;
	/* Main's availability (dm-remap-avail.c), worker-side. */
	bool main_down;			/* it failed every probe, or a burst */
	bool main_down_burst;		/* ...a burst: up only once it is over */
	struct dmr_burst burst;		/* main blocks failing while it answers */
	u64 last_good;			/* the block of main that answered last */
	struct delayed_work probe_work;	/* while down: does it answer again? */
	struct work_struct offline_work; /* main returned BLK_STS_OFFLINE */
	/* Pending blocks a read found readable again, for the worker. */
	spinlock_t recheck_lock;
	unsigned int nr_recheck;
	u64 recheck[DMR_RECHECK_MAX];
	struct work_struct recheck_work;
	struct dmr_scrub scrub;
	struct dmr_weak weak;
	struct mutex lock;		/* index writes vs list; wstats */
};

/* Feature arguments given in the table line, echoed back by STATUSTYPE_TABLE. */
#define DMR_FEAT_BLOCK_SIZE		BIT(0)
#define DMR_FEAT_AUTO_REMAP		BIT(1)
#define DMR_FEAT_READ_RETRIES		BIT(2)
#define DMR_FEAT_COMMIT_INTERVAL	BIT(3)
#define DMR_FEAT_OUTAGE_BLOCKS		BIT(4)
#define DMR_FEAT_OUTAGE_WINDOW		BIT(5)
#define DMR_FEAT_SCRUB_RATE		BIT(6)
#define DMR_FEAT_WEAK_BUDGET		BIT(7)
#define DMR_FEAT_SLOW_READ		BIT(8)

/* dm-remap-stats.c */
int dmr_stats_alloc(struct remap_c *rc);
void dmr_stats_free(struct remap_c *rc);
void dmr_stats_sum(struct remap_c *rc, struct dmr_stats *sum);
void dmr_stats_clear(struct remap_c *rc);

/* dm-remap-target.c: maps one bio (also replays deferred ones). */
int dmr_map_bio(struct remap_c *rc, struct bio *bio);

/*
 * The map path reads the table with preemption off: under PREEMPT_RCU that
 * costs an increment instead of two calls, and synchronize_rcu() waits for
 * such sections as for rcu_read_lock() ones.
 */
static __always_inline void dmr_read_lock(void)
{
	rcu_read_lock_sched();
}

static __always_inline void dmr_read_unlock(void)
{
	rcu_read_unlock_sched();
}

static __always_inline const struct dmr_table *dmr_table_rcu(struct remap_c *rc)
{
	return rcu_dereference_sched(rc->index.table);
}

/* dm-remap-quiesce.c: the in-flight protocol between map path and worker. */
static inline void dmr_io_count(struct remap_c *rc, struct dmr_io *io)
{
	/* Acquire pairs with dmr_quiesce(): a new gen implies busy flags. */
	io->gen = smp_load_acquire(&rc->gen);
	this_cpu_inc(rc->pcpu->inflight[io->gen]);
}

static inline void dmr_io_uncount(struct remap_c *rc, struct dmr_io *io)
{
	this_cpu_dec(rc->pcpu->inflight[io->gen]);
}

void dmr_quiesce(struct remap_c *rc);
bool dmr_defer(struct remap_c *rc, struct bio *bio, u64 block,
	       struct dmr_io *io, u64 *e);
void dmr_replay(struct remap_c *rc);

/* dm-remap-space.c: slot allocator and pending list (worker only). */
int dmr_space_init(struct remap_c *rc);
void dmr_space_exit(struct remap_c *rc);
void dmr_space_reset(struct remap_c *rc);
void dmr_space_load_slot(struct remap_c *rc, u64 slot, bool bad);
void dmr_space_load_pending(struct remap_c *rc, u64 pos, u64 block);
u64 dmr_slot_alloc(struct remap_c *rc);
void dmr_slot_free(struct remap_c *rc, u64 slot);
int __must_check dmr_slot_mark_bad(struct remap_c *rc, u64 slot);
void dmr_slot_unmark_bad(struct remap_c *rc, u64 slot);
int __must_check dmr_pending_add(struct remap_c *rc, u64 block);
s64 __must_check dmr_pending_remove(struct remap_c *rc, u64 block);
void dmr_pending_restore(struct remap_c *rc, u64 pos, u64 block);

/* dm-remap-worker.c */
enum dmr_req_op {
	DMR_REQ_REMAP,
	DMR_REQ_UNREMAP,
	DMR_REQ_COMMIT,
	DMR_REQ_RECLAIM,	/* unremap the blocks main holds reliably again */
	DMR_REQ_SCRUB,		/* first: enum dmr_scrub_op */
};

struct dmr_req {
	struct llist_node node;
	enum dmr_req_op op;
	u64 first;			/* first block */
	u64 count;			/* blocks */
	struct completion done;
	/* results */
	int error;
	u64 changed;			/* remapped or unremapped */
	u64 skipped;			/* already (un)mapped */
	u64 no_space;			/* not remapped: spare full */
	u64 copy_failed;		/* main/spare unreadable while copying */
	u64 failed_blocks[8];		/* first few blocks that failed to copy */
	u64 refused;			/* reclaim: failed the test on main */
	u64 refused_blocks[8];
	bool weak;			/* remap: a weak block (counted apart) */
};

int dmr_worker_init(struct remap_c *rc);
void dmr_hold_bio(struct remap_c *rc, struct bio *bio, enum dmr_io_state state);
void dmr_update_health(struct remap_c *rc);
void dmr_health_init(struct remap_c *rc);
const char *dmr_health_name(enum dmr_health h);
void dmr_worker_exit(struct remap_c *rc);
void dmr_worker_submit(struct remap_c *rc, struct dmr_req *req);
void dmr_worker_flush(struct remap_c *rc);
void dmr_worker_kick_errors(struct remap_c *rc);
bool dmr_reclaim_block(struct remap_c *rc, u64 block);
void dmr_relocate_block(struct remap_c *rc, u64 block);

/* dm-remap-metadata.c: the worker is the only caller after load. */
int dmr_md_open(struct remap_c *rc, bool sb_only, const char **why);
void dmr_md_close(struct remap_c *rc);
int __must_check dmr_md_changed(struct remap_c *rc, bool *changed);
int __must_check dmr_md_reload(struct remap_c *rc, const char **why);
int __must_check dmr_md_set(struct remap_c *rc, u64 slot, u64 rec);
int __must_check dmr_md_commit(struct remap_c *rc);
void dmr_md_set_scrub(struct remap_c *rc, u32 state, u64 pos, u64 last_pass);
void dmr_md_discard(struct remap_c *rc);
void dmr_md_failed(struct remap_c *rc, const char *what, int r);

/* dm-remap-errors.c (worker; dmr_pending_readable from end_io) */
void dmr_errors_init(struct remap_c *rc);
void dmr_errors_round(struct remap_c *rc, struct llist_node *list);
void dmr_pending_readable(struct remap_c *rc, u64 block);
int dmr_block_io(struct remap_c *rc, blk_opf_t op, bool spare, u64 where,
		 unsigned int off, unsigned int count, void *buf);

/* dm-remap-avail.c (worker; dmr_main_offline from end_io): is main usable? */
int dmr_avail_init(struct remap_c *rc);
void dmr_avail_resume(struct remap_c *rc);
void dmr_avail_exit(struct remap_c *rc);
bool dmr_main_answers(struct remap_c *rc, void *buf);
bool dmr_main_block_holds(struct remap_c *rc, u64 block, void *buf, void *got);
void dmr_burst_note(struct remap_c *rc, u64 block);
void dmr_burst_remapped(struct remap_c *rc, u64 block, u64 slot);
bool dmr_burst(struct remap_c *rc);
void dmr_main_down(struct remap_c *rc, bool burst);
void dmr_main_offline(struct remap_c *rc);
void dmr_main_up(struct remap_c *rc);

/* dm-remap-scrub.c (worker; the message parses, status reads) */
extern struct dmr_param dmr_scrub_rate;
void dmr_scrub_init(struct remap_c *rc);
void dmr_scrub_exit(struct remap_c *rc);
void dmr_scrub_load(struct remap_c *rc);
void dmr_scrub_resume(struct remap_c *rc);
void dmr_scrub_suspend(struct remap_c *rc);
int __must_check dmr_scrub_checkpoint(struct remap_c *rc);
int __must_check dmr_scrub_control(struct remap_c *rc, enum dmr_scrub_op op);
int dmr_scrub_op_parse(const char *name);
const char *dmr_scrub_name(u32 state);
void dmr_scrub_near(struct remap_c *rc, u64 block);

/* dm-remap-weak.c (worker; dmr_weak_suspect from end_io) */
extern struct dmr_param dmr_weak_budget, dmr_slow_read_ms;
/* On while any instance has slow_read_ms: else the map path skips timing. */
DECLARE_STATIC_KEY_FALSE(dmr_slow_reads);
void dmr_weak_init(struct remap_c *rc);
void dmr_weak_exit(struct remap_c *rc);
void dmr_weak_suspect(struct remap_c *rc, u64 block, unsigned int nr);
void dmr_weak_found(struct remap_c *rc, u64 block);

static inline bool dmr_entry_pending(const struct remap_c *rc, u64 e)
{
	return dmr_entry_slot(&rc->index.geom, e) == rc->pending_slot;
}

static inline sector_t dmr_block_to_sector(struct remap_c *rc, u64 block)
{
	return (sector_t)block << rc->block_shift;
}

#endif /* DM_REMAP_H */
