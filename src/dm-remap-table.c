// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writer side of the RCU remap table: geometry, in-place updates, rebuilds.
 * Touches only struct dmr_index and the tables it owns; callers serialize it.
 */
#ifdef __KERNEL__
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#endif
/* In userspace, table.h brings in user-shim.h. */
#include "dm-remap/table.h"

/* Readers load entries whole: a torn 64-bit load would decode garbage. */
static_assert(BITS_PER_LONG == 64, "dm-remap needs 64-bit single-copy atomicity");

/* Yield every this many entries while scanning a large table. */
#define DMR_RESCHED_EVERY	65536

/* The summary never exceeds 2^20 bits (128 KiB). */
#define DMR_SUMMARY_MAX_BITS	20

/* Bits needed to represent n - 1, at least 1. */
static unsigned int dmr_bits_for(u64 n)
{
	return max_t(unsigned int, 1, fls64(n - 1));
}

int dmr_geom_init(struct dmr_geom *g, u64 nr_blocks, u64 nr_slots)
{
	if (!nr_blocks || !nr_slots)
		return -EINVAL;
	g->nr_blocks = nr_blocks;
	g->nr_slots = nr_slots;
	g->block_bits = dmr_bits_for(nr_blocks);
	g->slot_bits = dmr_bits_for(nr_slots);
	/* Block, slot and two flag bits must share one u64. */
	if (g->block_bits + g->slot_bits + 2 > 64)
		return -EOVERFLOW;
	return 0;
}

/* The caller serializes writers, so the pointer cannot change under us. */
static struct dmr_table *dmr_wtable(const struct dmr_index *ix)
{
	return rcu_dereference_protected(ix->table, true);
}

/*
 * Capacity keeping the load at 5/8 after a rebuild. Rebuilds happen when
 * used > 4/5 of capacity (grow) or live < 1/2 of it (shrink), so capacity
 * stays <= 2 * live: at most 16 bytes of entries per remap.
 */
static u64 dmr_target_capacity(u64 live)
{
	return max_t(u64, 2, DIV_ROUND_UP(live * 8, 5));
}

static bool dmr_overfull(const struct dmr_table *t, u64 used)
{
	return used * 5 > t->capacity * 4;
}

static bool dmr_underfull(const struct dmr_table *t, u64 live)
{
	return live * 2 < t->capacity;
}

static void dmr_summary_set(struct dmr_table *t, u64 block)
{
	u64 r = block >> t->summary_shift;
	unsigned long *w = &t->summary[r / BITS_PER_LONG];

	/* Single writer: no atomic RMW needed, readers see old or new word. */
	WRITE_ONCE(*w, *w | (1UL << (r % BITS_PER_LONG)));
}

static struct dmr_table *dmr_table_alloc(const struct dmr_index *ix, u64 capacity)
{
	const struct dmr_geom *g = &ix->geom;
	u64 regions = ((g->nr_blocks - 1) >> ix->summary_shift) + 1;
	u64 sum_bytes = BITS_TO_LONGS(regions) * sizeof(unsigned long);
	struct dmr_table *t;
	u64 bytes;

	/* kvmalloc refuses more than INT_MAX; fail cleanly before that. */
	if (capacity > (INT_MAX - sizeof(*t) - sum_bytes) / sizeof(u64))
		return NULL;
	bytes = sizeof(*t) + capacity * sizeof(u64) + sum_bytes;
	t = kvzalloc_node(bytes, GFP_KERNEL, ix->node);
	if (!t)
		return NULL;
	t->capacity = capacity;
	t->nr_blocks = g->nr_blocks;
	t->key_shift = g->slot_bits + 2;
	t->key_mask = ~((1ULL << t->key_shift) - 1) | DMR_ENTRY_VALID;
	t->summary_shift = ix->summary_shift;
	t->summary = (unsigned long *)&t->entries[capacity];
	t->bytes = bytes;
	return t;
}

/*
 * Writer probe: index of @block's entry (*found set), else of the first
 * tombstone or empty slot where it would be inserted.
 */
static u64 dmr_table_probe(const struct dmr_table *t, u64 block, bool *found)
{
	u64 key = (block << t->key_shift) | DMR_ENTRY_VALID;
	u64 i = dmr_table_home(t, block);
	u64 reuse = t->capacity;
	u64 e;

	*found = false;
	for (;;) {
		e = t->entries[i];
		if ((e & t->key_mask) == key) {
			*found = true;
			return i;
		}
		if (e == DMR_ENTRY_EMPTY)
			return reuse < t->capacity ? reuse : i;
		if (e == DMR_ENTRY_TOMBSTONE && reuse == t->capacity)
			reuse = i;
		if (++i == t->capacity)
			i = 0;
	}
}

/* Place a live entry into a table that is not published yet. */
static void dmr_table_place(struct dmr_table *t, u64 e)
{
	u64 i = dmr_table_home(t, e >> t->key_shift);

	while (t->entries[i] != DMR_ENTRY_EMPTY)
		if (++i == t->capacity)
			i = 0;
	t->entries[i] = e;
	dmr_summary_set(t, e >> t->key_shift);
}

/*
 * Copy the live entries into a fresh table of @capacity (0: no table),
 * publish it and free the old one after a grace period. Readers keep using
 * the old snapshot meanwhile; nothing is written to either until we return.
 */
static int dmr_index_rebuild(struct dmr_index *ix, u64 capacity)
{
	struct dmr_table *old = dmr_wtable(ix), *t = NULL;
	u64 i;

	if (capacity) {
		t = dmr_table_alloc(ix, capacity);
		if (!t)
			return -ENOMEM;
		for (i = 0; old && i < old->capacity; i++) {
			if (dmr_entry_valid(old->entries[i]))
				dmr_table_place(t, old->entries[i]);
			if (!(i % DMR_RESCHED_EVERY))
				cond_resched();
		}
		t->live = old ? old->live : 0;
		t->used = t->live;
	}
	rcu_assign_pointer(ix->table, t);
	ix->rebuilds++;
	if (old) {
		synchronize_rcu();
		kvfree(old);
	}
	return 0;
}

/* Rebuild sized for @live remaps; no table at all for none. */
static int dmr_index_resize(struct dmr_index *ix, u64 live)
{
	return dmr_index_rebuild(ix, live ? dmr_target_capacity(live) : 0);
}

int dmr_index_init(struct dmr_index *ix, u64 nr_blocks, u64 nr_slots,
		   unsigned int summary_shift, int node)
{
	unsigned int min_shift;
	int r;

	memset(ix, 0, sizeof(*ix));
	r = dmr_geom_init(&ix->geom, nr_blocks, nr_slots);
	if (r)
		return r;
	/* Bound the summary to 2^20 bits; a shift past block_bits is useless. */
	min_shift = ix->geom.block_bits > DMR_SUMMARY_MAX_BITS ?
		    ix->geom.block_bits - DMR_SUMMARY_MAX_BITS : 0;
	ix->summary_shift = min(max(summary_shift, min_shift), ix->geom.block_bits);
	ix->node = node;
	RCU_INIT_POINTER(ix->table, NULL);
	return 0;
}

/* Drop every entry; readers under RCU keep the old snapshot until done. */
void dmr_index_reset(struct dmr_index *ix)
{
	dmr_index_rebuild(ix, 0);
}

void dmr_index_destroy(struct dmr_index *ix)
{
	kvfree(dmr_wtable(ix));
	RCU_INIT_POINTER(ix->table, NULL);
}

int dmr_index_reserve(struct dmr_index *ix, u64 extra)
{
	struct dmr_table *t = dmr_wtable(ix);
	u64 live = t ? t->live : 0;
	u64 used = t ? t->used : 0;

	/* There can never be more remaps than main blocks. */
	extra = min(extra, ix->geom.nr_blocks - live);
	if (!t)
		return extra ? dmr_index_resize(ix, extra) : 0;
	if (dmr_overfull(t, used + extra) || dmr_underfull(t, live + extra))
		return dmr_index_resize(ix, live + extra);
	return 0;
}

int dmr_index_insert(struct dmr_index *ix, u64 block, u64 slot, bool busy)
{
	struct dmr_table *t = dmr_wtable(ix);
	bool found;
	u64 i;
	int r;

	if (block >= ix->geom.nr_blocks || slot >= ix->geom.nr_slots)
		return -ERANGE;
	if (t) {
		i = dmr_table_probe(t, block, &found);
		if (found)
			return -EEXIST;
	}
	if (!t || dmr_overfull(t, t->used + 1)) {
		r = dmr_index_resize(ix, (t ? t->live : 0) + 1);
		if (r)
			return r;
		t = dmr_wtable(ix);
		i = dmr_table_probe(t, block, &found);
	}
	if (t->entries[i] == DMR_ENTRY_EMPTY)
		t->used++;
	t->live++;
	/* Summary first, so a reader that can see the entry sees its region. */
	dmr_summary_set(t, block);
	WRITE_ONCE(t->entries[i], dmr_entry_make(&ix->geom, block, slot, busy));
	return 0;
}

/* Replace a live entry in place: one store, readers see old or new. */
static int dmr_index_rewrite(struct dmr_index *ix, u64 block, u64 slot,
			     bool keep_slot, bool busy)
{
	struct dmr_table *t = dmr_wtable(ix);
	bool found;
	u64 i;

	if (block >= ix->geom.nr_blocks || slot >= ix->geom.nr_slots)
		return -ERANGE;
	if (!t)
		return -ENOENT;
	i = dmr_table_probe(t, block, &found);
	if (!found)
		return -ENOENT;
	if (keep_slot)
		slot = dmr_entry_slot(&ix->geom, t->entries[i]);
	WRITE_ONCE(t->entries[i], dmr_entry_make(&ix->geom, block, slot, busy));
	return 0;
}

int dmr_index_update(struct dmr_index *ix, u64 block, u64 slot, bool busy)
{
	return dmr_index_rewrite(ix, block, slot, false, busy);
}

int dmr_index_set_busy(struct dmr_index *ix, u64 block, bool busy)
{
	return dmr_index_rewrite(ix, block, 0, true, busy);
}

/*
 * A tombstone, never EMPTY: a reader probing past this slot for another
 * block must not stop early. A failed shrink keeps the (correct, larger)
 * table; the next remove or reserve retries.
 */
int dmr_index_remove(struct dmr_index *ix, u64 block)
{
	struct dmr_table *t = dmr_wtable(ix);
	bool found;
	u64 i;

	if (block >= ix->geom.nr_blocks)
		return -ERANGE;
	if (!t)
		return -ENOENT;
	i = dmr_table_probe(t, block, &found);
	if (!found)
		return -ENOENT;
	WRITE_ONCE(t->entries[i], DMR_ENTRY_TOMBSTONE);
	t->live--;
	if (dmr_underfull(t, t->live))
		dmr_index_resize(ix, t->live);
	return 0;
}

/* Writer-side lookup; readers use dmr_index_find_rcu(). */
u64 dmr_index_lookup(const struct dmr_index *ix, u64 block)
{
	const struct dmr_table *t = dmr_wtable(ix);

	return t ? dmr_table_lookup(t, block) : 0;
}

u64 dmr_index_live(const struct dmr_index *ix)
{
	const struct dmr_table *t = dmr_wtable(ix);

	return t ? t->live : 0;
}

u64 dmr_index_capacity(const struct dmr_index *ix)
{
	const struct dmr_table *t = dmr_wtable(ix);

	return t ? t->capacity : 0;
}

size_t dmr_index_bytes(const struct dmr_index *ix)
{
	const struct dmr_table *t = dmr_wtable(ix);

	return t ? t->bytes : 0;
}

/* Restore the max-heap property of heap[0..n) below @i. */
static void dmr_heap_down(u64 *heap, size_t n, size_t i)
{
	size_t c;
	u64 tmp;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && heap[c + 1] > heap[c])
			c++;
		if (heap[i] >= heap[c])
			break;
		tmp = heap[i];
		heap[i] = heap[c];
		heap[c] = tmp;
		i = c;
	}
}

/*
 * The @max live entries with the smallest blocks >= @from_block, ascending.
 * Entries order like their blocks (block is the high field). A max-heap of
 * size @max over one scan: O(capacity * log max). Writer side: it may sleep.
 */
size_t dmr_index_list(const struct dmr_index *ix, u64 from_block, u64 *out,
		      size_t max)
{
	const struct dmr_table *t = dmr_wtable(ix);
	size_t n = 0, k;
	u64 i, e, lo;
	u64 tmp;

	if (!t || !max || from_block >= ix->geom.nr_blocks)
		return 0;
	lo = from_block << t->key_shift;
	for (i = 0; i < t->capacity; i++) {
		if (!(i % DMR_RESCHED_EVERY))
			cond_resched();
		e = t->entries[i];
		if (!dmr_entry_valid(e) || e < lo)
			continue;
		if (n < max) {
			/* Sift up. */
			k = n++;
			out[k] = e;
			while (k && out[(k - 1) / 2] < out[k]) {
				tmp = out[k];
				out[k] = out[(k - 1) / 2];
				out[(k - 1) / 2] = tmp;
				k = (k - 1) / 2;
			}
		} else if (e < out[0]) {
			out[0] = e;
			dmr_heap_down(out, n, 0);
		}
	}
	/* Heap sort in place: repeatedly move the maximum to the end. */
	for (k = n; k > 1; k--) {
		tmp = out[0];
		out[0] = out[k - 1];
		out[k - 1] = tmp;
		dmr_heap_down(out, k - 1, 0);
	}
	return n;
}

/*
 * Walk live entries in table order: start with *pos = 0, returns 0 at the
 * end. Writer side; any insert or remove may rebuild and restart positions.
 */
u64 dmr_index_next(const struct dmr_index *ix, u64 *pos)
{
	const struct dmr_table *t = dmr_wtable(ix);
	u64 e;

	while (t && *pos < t->capacity) {
		e = t->entries[(*pos)++];
		if (dmr_entry_valid(e))
			return e;
	}
	return 0;
}
