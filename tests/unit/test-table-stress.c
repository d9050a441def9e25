// SPDX-License-Identifier: GPL-2.0-only
/*
 * Concurrency stress: RCU readers validate every lookup while one writer
 * churns the table through grows and shrinks. Usage: [seconds [readers [seed]]].
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "dm-remap/table.h"

/*
 * Every mapping is checkable: version v maps to slot ((v >> 1) << BLOCK_BITS |
 * block) with BUSY = v & 1, so odd versions are a busy flip of the even one
 * before them (one set_busy) and even ones a full update. state[block] = version << 2 | STABLE | PRESENT; the writer
 * stores an unstable state before touching the table and a stable one after,
 * and versions only grow, so a reader that sees the same stable state before
 * and after its lookup knows exactly what it must have found.
 */
#define BLOCK_BITS	18
#define NR_BLOCKS	(1ULL << BLOCK_BITS)
#define NR_SLOTS	(1ULL << 42)
#define PIN_EVERY	256		/* pinned blocks: never removed */
#define ST_PRESENT	1ULL
#define ST_STABLE	2ULL

static u64 state[NR_BLOCKS];
static struct dmr_index ix;
static int stop;
static u64 seed;

#define FAIL(...) do {							\
	fprintf(stderr, "FAIL test-table-stress seed=%" PRIu64 ": ", seed); \
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	exit(1);							\
} while (0)

static u64 rnd(u64 *s)
{
	u64 z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static u64 below(u64 *s, u64 n)
{
	return mul_u64_u64_shr(rnd(s), n, 64);
}

static bool pinned(u64 b)
{
	return !(b % PIN_EVERY);
}

static u64 slot_of(u64 b, u64 ver)
{
	return ((ver >> 1) << BLOCK_BITS) | b;
}

struct reader_stats {
	u64 seed;
	u64 lookups;
	u64 found;
	u64 exact;	/* lookups whose result was fully determined */
};

static void check_one(struct reader_stats *rs, u64 b)
{
	const struct dmr_geom *g = &ix.geom;
	u64 s1, s2, e, ve, lo, slot;

	s1 = __atomic_load_n(&state[b], __ATOMIC_ACQUIRE);
	rcu_read_lock();
	e = dmr_index_find_rcu(&ix, b);
	rcu_read_unlock();
	cmm_smp_rmb();	/* entry loads before the second state load */
	s2 = __atomic_load_n(&state[b], __ATOMIC_ACQUIRE);
	rs->lookups++;

	if (!e) {
		if (pinned(b))
			FAIL("pinned block %" PRIu64 " not found (state %#" PRIx64 ")",
			     b, s1);
		if (s1 == s2 && (s1 & ST_STABLE) && (s1 & ST_PRESENT))
			FAIL("present block %" PRIu64 " not found", b);
		return;
	}
	rs->found++;
	slot = dmr_entry_slot(g, e);
	ve = (slot >> BLOCK_BITS) << 1 | dmr_entry_busy(e);
	if (!dmr_entry_valid(e) || dmr_entry_block(g, e) != b ||
	    (slot & (NR_BLOCKS - 1)) != b)
		FAIL("block %" PRIu64 " returned foreign entry %#" PRIx64, b, e);
	/* Mid-change, the previous version may still be visible. */
	lo = (s1 >> 2) - !(s1 & ST_STABLE);
	if (ve < lo || ve > (s2 >> 2))
		FAIL("block %" PRIu64 " version %" PRIu64 " outside [%" PRIu64
		     ", %" PRIu64 "]", b, ve, lo, s2 >> 2);
	if (s1 == s2 && (s1 & ST_STABLE)) {
		rs->exact++;
		if (!(s1 & ST_PRESENT))
			FAIL("removed block %" PRIu64 " still found", b);
		if (ve != s1 >> 2)
			FAIL("block %" PRIu64 " stale version %" PRIu64 " != %"
			     PRIu64, b, ve, s1 >> 2);
	}
}

static void *reader(void *arg)
{
	struct reader_stats *rs = arg;
	u64 b;

	rcu_register_thread();
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		b = below(&rs->seed, 4) ? below(&rs->seed, NR_BLOCKS) :
			below(&rs->seed, NR_BLOCKS / PIN_EVERY) * PIN_EVERY;
		check_one(rs, b);
	}
	rcu_unregister_thread();
	return NULL;
}

/* Non-pinned present blocks, for O(1) random removal. */
static u32 plist[NR_BLOCKS], ppos[NR_BLOCKS];
static u64 pcount;

static void set_state(u64 b, u64 st)
{
	__atomic_store_n(&state[b], st, __ATOMIC_SEQ_CST);
}

static void w_insert(u64 b)
{
	u64 v = (state[b] >> 2) + 1;

	set_state(b, v << 2);
	if (dmr_index_insert(&ix, b, slot_of(b, v), v & 1))
		FAIL("insert %" PRIu64 " failed", b);
	set_state(b, v << 2 | ST_STABLE | ST_PRESENT);
	if (!pinned(b)) {
		ppos[b] = pcount;
		plist[pcount++] = b;
	}
}

static void w_update(u64 b)
{
	u64 v = (state[b] >> 2) + 1;
	int r;

	set_state(b, v << 2);
	if (v & 1)
		r = dmr_index_set_busy(&ix, b, true);
	else
		r = dmr_index_update(&ix, b, slot_of(b, v), false);
	if (r)
		FAIL("update %" PRIu64 " failed", b);
	set_state(b, v << 2 | ST_STABLE | ST_PRESENT);
}

static void w_remove(u64 b)
{
	u64 v = (state[b] >> 2) + 1;

	set_state(b, v << 2);
	if (dmr_index_remove(&ix, b))
		FAIL("remove %" PRIu64 " failed", b);
	set_state(b, v << 2 | ST_STABLE);
	plist[ppos[b]] = plist[--pcount];
	ppos[plist[ppos[b]]] = ppos[b];
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 6, elapsed;
	int nr_readers = argc > 2 ? atoi(argv[2]) : 2;
	struct reader_stats rs[16] = { 0 };
	pthread_t th[16];
	struct timespec t0, now;
	u64 ws, b, high, low, ops = 0, cycles = 0, grows = 0, shrinks = 0;
	u64 cap, lookups = 0, found = 0, exact = 0, max_cap = 0;
	int i;

	seed = argc > 3 ? strtoull(argv[3], NULL, 0) :
	       getenv("DMR_SEED") ? strtoull(getenv("DMR_SEED"), NULL, 0) :
	       (u64)time(NULL);
	if (nr_readers < 1 || nr_readers > 16)
		FAIL("1..16 readers");
	ws = seed;
	printf("test-table-stress: seed %" PRIu64 ", %d readers, %.1f s\n",
	       seed, nr_readers, secs);
	for (b = 0; b < NR_BLOCKS; b++)
		state[b] = 1 << 2 | ST_STABLE;	/* version 1: absent */
	rcu_register_thread();
	if (dmr_index_init(&ix, NR_BLOCKS, NR_SLOTS, 4, NUMA_NO_NODE))
		FAIL("init");
	for (b = 0; b < NR_BLOCKS; b += PIN_EVERY)
		w_insert(b);
	for (i = 0; i < nr_readers; i++) {
		rs[i].seed = seed * 1000003 + i + 1;
		if (pthread_create(&th[i], NULL, reader, &rs[i]))
			FAIL("pthread_create");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* One cycle: grow to a random high, shrink to a random low. */
		high = 2048 + below(&ws, below(&ws, 4) ? 32768 : NR_BLOCKS / 2);
		low = below(&ws, 3) ? below(&ws, 64) : below(&ws, high / 2);
		cap = dmr_index_capacity(&ix);
		if (!below(&ws, 4) &&
		    dmr_index_reserve(&ix, high - dmr_index_live(&ix)))
			FAIL("reserve");
		grows += dmr_index_capacity(&ix) > cap;
		cap = dmr_index_capacity(&ix);
		while (dmr_index_live(&ix) < high) {
			b = below(&ws, NR_BLOCKS);
			if (state[b] & ST_PRESENT)
				w_update(b);
			else
				w_insert(b);
			ops++;
			if (dmr_index_capacity(&ix) > cap)
				grows++;
			cap = dmr_index_capacity(&ix);
			max_cap = max(max_cap, cap);
		}
		while (pcount > low) {
			if (below(&ws, 4)) {
				w_remove(plist[below(&ws, pcount)]);
			} else {
				b = below(&ws, 2) ? plist[below(&ws, pcount)] :
				    below(&ws, NR_BLOCKS / PIN_EVERY) * PIN_EVERY;
				w_update(b);
			}
			ops++;
			if (dmr_index_capacity(&ix) < cap)
				shrinks++;
			cap = dmr_index_capacity(&ix);
		}
		cycles++;
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
		/* On a slow (sanitized, loaded) run, extend until there was churn. */
	} while (elapsed < secs ||
		 ((grows < 10 || shrinks < 10) && elapsed < 6 * secs));
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nr_readers; i++) {
		pthread_join(th[i], NULL);
		lookups += rs[i].lookups;
		found += rs[i].found;
		exact += rs[i].exact;
	}
	/* Quiescent final pass over every block. */
	for (b = 0; b < NR_BLOCKS; b++)
		check_one(&rs[0], b);
	printf("  writer: %" PRIu64 " ops, %" PRIu64 " cycles, %" PRIu64
	       " rebuilds (%" PRIu64 " grows, %" PRIu64 " shrinks), max capacity %"
	       PRIu64 "\n", ops, cycles, ix.rebuilds, grows, shrinks, max_cap);
	printf("  readers: %" PRIu64 " lookups, %" PRIu64 " found, %" PRIu64
	       " fully determined\n", lookups, found, exact);
	if (grows < 10 || shrinks < 10 || lookups < 1000)
		FAIL("too little churn to mean anything");
	dmr_index_destroy(&ix);
	rcu_unregister_thread();
	printf("PASS test-table-stress seed %" PRIu64 "\n", seed);
	return 0;
}
