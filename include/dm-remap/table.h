/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * RCU-protected remap table: main block -> spare slot, read lock-free by the map path.
 * Shared by the kernel module and userspace; touches only its own memory.
 */
#ifndef DM_REMAP_TABLE_H
#define DM_REMAP_TABLE_H

#ifdef __KERNEL__
#include <linux/bitops.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/math64.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#else
#include "user-shim.h"
#endif

/*
 * Entry: (block << (slot_bits + 2)) | (slot << 2) | flags. A live entry always
 * has VALID set, so EMPTY (0) and TOMBSTONE (2) never collide with one.
 */
#define DMR_ENTRY_VALID		1ULL
#define DMR_ENTRY_BUSY		2ULL
#define DMR_ENTRY_FLAGS		3ULL
#define DMR_ENTRY_EMPTY		0ULL
#define DMR_ENTRY_TOMBSTONE	2ULL

/* Fibonacci hashing constant: 2^64 / golden ratio, odd. */
#define DMR_HASH_MUL		0x9E3779B97F4A7C15ULL

struct dmr_geom {
	u64 nr_blocks;		/* main device blocks */
	u64 nr_slots;		/* spare slots */
	unsigned int block_bits;
	unsigned int slot_bits;
};

/* One RCU-published snapshot; entries never move while it is visible. */
struct dmr_table {
	/* read by the map path */
	u64 capacity;
	u64 nr_blocks;
	u64 key_mask;		/* block bits and VALID */
	unsigned int key_shift;	/* slot_bits + 2 */
	unsigned int summary_shift;
	unsigned long *summary;	/* points behind entries[] */
	/* writer only: on a cache line of their own, away from the readers */
	u64 used ____cacheline_aligned_in_smp;	/* live + tombstones */
	u64 live;
	size_t bytes;		/* size of this allocation */
	u64 entries[];
};

struct dmr_index {
	struct dmr_table __rcu *table;	/* NULL while there are no remaps */
	struct dmr_geom geom;
	unsigned int summary_shift;
	int node;
	u64 rebuilds;		/* tables published, for stats and tests */
};

static inline u64 dmr_entry_make(const struct dmr_geom *g, u64 block, u64 slot,
				 bool busy)
{
	return (block << (g->slot_bits + 2)) | (slot << 2) |
	       (busy ? DMR_ENTRY_BUSY : 0) | DMR_ENTRY_VALID;
}

static inline u64 dmr_entry_block(const struct dmr_geom *g, u64 e)
{
	return e >> (g->slot_bits + 2);
}

static inline u64 dmr_entry_slot(const struct dmr_geom *g, u64 e)
{
	return (e >> 2) & ((1ULL << g->slot_bits) - 1);
}

static inline bool dmr_entry_valid(u64 e)
{
	return e & DMR_ENTRY_VALID;
}

static inline bool dmr_entry_busy(u64 e)
{
	return (e & DMR_ENTRY_FLAGS) == (DMR_ENTRY_VALID | DMR_ENTRY_BUSY);
}

static inline u64 dmr_entry_with_busy(u64 e, bool busy)
{
	return busy ? e | DMR_ENTRY_BUSY : e & ~DMR_ENTRY_BUSY;
}

/* Fastrange: maps the hash onto [0, capacity) without a division. */
static inline u64 dmr_table_home(const struct dmr_table *t, u64 block)
{
	return mul_u64_u64_shr(block * DMR_HASH_MUL, t->capacity, 64);
}

/*
 * False means "no remap in this block's region": the map path can skip the
 * lookup. The _inrange variant is for a block below t->nr_blocks;
 * out-of-geometry blocks are never remapped (and would alias keys).
 */
static inline bool dmr_table_maybe_inrange(const struct dmr_table *t, u64 block)
{
	return test_bit(block >> t->summary_shift, t->summary);
}

static inline bool dmr_table_maybe(const struct dmr_table *t, u64 block)
{
	return likely(block < t->nr_blocks) && dmr_table_maybe_inrange(t, block);
}

/*
 * Returns the live entry for @block (< t->nr_blocks) or 0. Safe against the
 * single writer: every slot is read once, whole, and live entries never move.
 */
static inline u64 dmr_table_lookup_inrange(const struct dmr_table *t, u64 block)
{
	const u64 *ent = t->entries;
	u64 cap = t->capacity, mask = t->key_mask;
	u64 key = (block << t->key_shift) | DMR_ENTRY_VALID;
	u64 i = dmr_table_home(t, block);
	u64 e;

	for (;;) {
		e = READ_ONCE(ent[i]);
		if ((e & mask) == key)
			return e;
		if (e == DMR_ENTRY_EMPTY)
			return 0;
		if (++i == cap)
			i = 0;
	}
}

/* Any block: out-of-geometry ones would alias keys, they are never mapped. */
static inline u64 dmr_table_lookup(const struct dmr_table *t, u64 block)
{
	if (unlikely(block >= t->nr_blocks))
		return 0;
	return dmr_table_lookup_inrange(t, block);
}

/* Map-path lookup; the caller holds rcu_read_lock() or has preemption off. */
static inline u64 dmr_index_find_rcu(const struct dmr_index *ix, u64 block)
{
	const struct dmr_table *t = rcu_dereference_check(ix->table,
							  rcu_read_lock_any_held());

	if (!t || !dmr_table_maybe(t, block))
		return 0;
	return dmr_table_lookup_inrange(t, block);
}

/* Writer API: callers serialize all of these; they may sleep. */
int dmr_geom_init(struct dmr_geom *g, u64 nr_blocks, u64 nr_slots);
int dmr_index_init(struct dmr_index *ix, u64 nr_blocks, u64 nr_slots,
		   unsigned int summary_shift, int node);
void dmr_index_reset(struct dmr_index *ix);
void dmr_index_destroy(struct dmr_index *ix);
int dmr_index_reserve(struct dmr_index *ix, u64 extra);
int dmr_index_insert(struct dmr_index *ix, u64 block, u64 slot, bool busy);
int dmr_index_update(struct dmr_index *ix, u64 block, u64 slot, bool busy);
int dmr_index_set_busy(struct dmr_index *ix, u64 block, bool busy);
int dmr_index_remove(struct dmr_index *ix, u64 block);
u64 dmr_index_lookup(const struct dmr_index *ix, u64 block);
u64 dmr_index_live(const struct dmr_index *ix);
size_t dmr_index_bytes(const struct dmr_index *ix);
u64 dmr_index_capacity(const struct dmr_index *ix);
size_t dmr_index_list(const struct dmr_index *ix, u64 from_block, u64 *out,
		      size_t max);
u64 dmr_index_next(const struct dmr_index *ix, u64 *pos);

#endif /* DM_REMAP_TABLE_H */
