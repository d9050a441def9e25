// SPDX-License-Identifier: GPL-2.0-only
/*
 * Spare space: the slot allocator (free, mapped, bad) and the pending list.
 * The only writer of rc->slot_used, slots_used, bad_slots and pending[].
 */
#include <linux/slab.h>

#include "dm-remap.h"

int dmr_space_init(struct remap_c *rc)
{
	rc->slot_used = kvcalloc(BITS_TO_LONGS(rc->geo.nr_slots),
				 sizeof(unsigned long), GFP_KERNEL);
	rc->pending = kvcalloc(rc->geo.pending_capacity, sizeof(u64), GFP_KERNEL);
	if (!rc->slot_used || !rc->pending) {
		dmr_space_exit(rc);
		return -ENOMEM;
	}
	return 0;
}

void dmr_space_exit(struct remap_c *rc)
{
	kvfree(rc->pending);
	kvfree(rc->slot_used);
	rc->pending = NULL;
	rc->slot_used = NULL;
}

/* Forget everything before the metadata is loaded again. */
void dmr_space_reset(struct remap_c *rc)
{
	bitmap_zero(rc->slot_used, rc->geo.nr_slots);
	rc->slots_used = 0;
	rc->bad_slots = 0;
	rc->slot_hint = 0;
	memset(rc->pending, 0, rc->geo.pending_capacity * sizeof(u64));
	rc->nr_pending = 0;
}

/* Loading: slot @slot holds a MAPPED (@bad false) or BAD record. */
void dmr_space_load_slot(struct remap_c *rc, u64 slot, bool bad)
{
	__set_bit(slot, rc->slot_used);
	rc->slots_used++;
	rc->bad_slots += bad;
}

/* Loading: pending position @pos lists @block. */
void dmr_space_load_pending(struct remap_c *rc, u64 pos, u64 block)
{
	rc->pending[pos] = block + 1;
	rc->nr_pending++;
}

/* A free slot, marked used; U64_MAX when the spare is full. */
u64 dmr_slot_alloc(struct remap_c *rc)
{
	u64 n = rc->geo.nr_slots, s;

	s = find_next_zero_bit(rc->slot_used, n, rc->slot_hint);
	if (s >= n)
		s = find_first_zero_bit(rc->slot_used, n);
	if (s >= n)
		return U64_MAX;
	__set_bit(s, rc->slot_used);
	rc->slot_hint = s + 1;
	rc->slots_used++;
	return s;
}

/* Give back a slot that holds nothing durable (never a bad one). */
void dmr_slot_free(struct remap_c *rc, u64 slot)
{
	if (WARN_ON_ONCE(slot >= rc->geo.nr_slots ||
			 !test_bit(slot, rc->slot_used)))
		return;
	__clear_bit(slot, rc->slot_used);
	rc->slots_used--;
}

/*
 * A used slot that cannot be written: never hand it out again. The BAD
 * record goes out with the next commit; the slot stays used either way.
 */
int dmr_slot_mark_bad(struct remap_c *rc, u64 slot)
{
	rc->bad_slots++;
	return dmr_md_set(rc, slot, dmr_rec_make(DMR_REC_BAD, 0));
}

/* A bad mark that was never committed, on a slot that stays mapped. */
void dmr_slot_unmark_bad(struct remap_c *rc, u64 slot)
{
	WARN_ON_ONCE(!rc->bad_slots || !test_bit(slot, rc->slot_used));
	rc->bad_slots--;
}

/* Metadata record index of pending position @pos (after all entry records). */
static u64 pending_rec(struct remap_c *rc, u64 pos)
{
	return rc->geo.nr_entry_blocks * rc->geo.entries_per_block + pos;
}

/*
 * Remember an unreadable main block until a full write remaps it; the
 * caller holds rc->lock. -ENOSPC when the list is full.
 */
int dmr_pending_add(struct remap_c *rc, u64 block)
{
	u64 pos;
	int r;

	for (pos = 0; pos < rc->geo.pending_capacity; pos++)
		if (!rc->pending[pos])
			break;
	if (pos == rc->geo.pending_capacity) {
		rc->wstats.pending_full++;
		return -ENOSPC;
	}
	r = dmr_index_insert(&rc->index, block, rc->pending_slot, false);
	if (r)
		return r;
	r = dmr_md_set(rc, pending_rec(rc, pos),
		       dmr_rec_make(DMR_REC_PENDING, block));
	if (r) {
		dmr_index_remove(&rc->index, block);
		return r;
	}
	rc->pending[pos] = block + 1;
	rc->nr_pending++;
	return 0;
}

/*
 * Forget a pending block (its table entry is the caller's business). The
 * record change is queued first, so a failure leaves the list as it was.
 * Returns the position it had (for dmr_pending_restore), or -errno.
 */
s64 dmr_pending_remove(struct remap_c *rc, u64 block)
{
	u64 pos;
	int r;

	for (pos = 0; pos < rc->geo.pending_capacity; pos++) {
		if (rc->pending[pos] == block + 1) {
			r = dmr_md_set(rc, pending_rec(rc, pos), 0);
			if (r)
				return r;
			rc->pending[pos] = 0;
			rc->nr_pending--;
			return pos;
		}
	}
	return -ENOENT;
}

/*
 * Undo dmr_pending_remove() in memory when the change that removed it is
 * discarded (the metadata failed: nothing is committed until a reload,
 * which reads the record that still names @block at @pos).
 */
void dmr_pending_restore(struct remap_c *rc, u64 pos, u64 block)
{
	rc->pending[pos] = block + 1;
	rc->nr_pending++;
}
