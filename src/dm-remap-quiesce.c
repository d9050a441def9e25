// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-flight protocol: bios count themselves in a generation, a migration
 * flips it and waits; bios that meet a busy block park here until replayed.
 * Touches rc->gen, rc->pcpu->inflight, rc->deferred; reads the index under RCU.
 *
 * Held bios (failed, waiting for the error round) are outside the counts: the
 * worker is single-threaded, so no migration runs while a round does, and a
 * round resolves every retry against the block's mapping at that moment.
 */
#include <linux/delay.h>

#include "dm-remap.h"

/* Flip the I/O generation and wait until every bio mapped before is done. */
void dmr_quiesce(struct remap_c *rc)
{
	unsigned int old = rc->gen;
	long sum;
	int cpu;

	/* Release: a bio that sees the new generation also sees busy flags. */
	smp_store_release(&rc->gen, old ^ 1);
	/*
	 * Every map call that read the old generation has now counted itself:
	 * the grace period covers their preemption-off sections.
	 */
	synchronize_rcu();
	for (;;) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += READ_ONCE(per_cpu_ptr(rc->pcpu, cpu)->inflight[old]);
		if (!sum)
			break;
		usleep_range(50, 200);
	}
}

/*
 * Park @bio if @block is under migration. Called in dmr_read_lock()
 * with the bio counted in io->gen; the bio lies within one block. Returns
 * true if parked; else *@e is the block's entry, read under the lock that
 * the worker takes after publishing, so it is not busy.
 */
bool dmr_defer(struct remap_c *rc, struct bio *bio, u64 block,
	       struct dmr_io *io, u64 *e)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&rc->defer_lock, flags);
	*e = dmr_index_find_rcu(&rc->index, block);
	if (!*e || !dmr_entry_busy(*e)) {
		raw_spin_unlock_irqrestore(&rc->defer_lock, flags);
		return false;
	}
	bio_list_add(&rc->deferred, bio);
	dmr_io_uncount(rc, io);
	this_cpu_inc(rc->pcpu->stats.deferred);
	raw_spin_unlock_irqrestore(&rc->defer_lock, flags);
	return true;
}

/* Map the parked bios again: called by the worker after it published. */
void dmr_replay(struct remap_c *rc)
{
	struct bio_list bios;
	struct bio *bio;

	raw_spin_lock_irq(&rc->defer_lock);
	bios = rc->deferred;
	bio_list_init(&rc->deferred);
	raw_spin_unlock_irq(&rc->defer_lock);

	while ((bio = bio_list_pop(&bios))) {
		if (dmr_map_bio(rc, bio) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
	}
}
