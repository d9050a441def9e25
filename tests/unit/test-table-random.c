// SPDX-License-Identifier: GPL-2.0-only
/*
 * Randomized differential test of the remap table against a trivial model.
 * Usage: test-table-random [seed [ops-per-geometry]] (or DMR_SEED, DMR_OPS).
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "dm-remap/table.h"

static u64 seed, op;
static const char *geo_name;

#define FAIL(...) do {							\
	fprintf(stderr, "FAIL test-table-random seed=%" PRIu64		\
		" geometry=%s op=%" PRIu64 " line %d: ",		\
		seed, geo_name, op, __LINE__);				\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	exit(1);							\
} while (0)

#define CHECK_EQ(a, b) do {						\
	u64 a_ = (u64)(a), b_ = (u64)(b);				\
	if (a_ != b_)							\
		FAIL("%s == %s: %" PRIu64 " (%#" PRIx64 ") != %"	\
		     PRIu64 " (%#" PRIx64 ")", #a, #b, a_, a_, b_, b_);	\
} while (0)

static u64 rng_state;

/* splitmix64: tiny, seedable, good enough to drive a test. */
static u64 rnd(void)
{
	u64 z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static u64 below(u64 n)
{
	return mul_u64_u64_shr(rnd(), n, 64);
}

/*
 * The model: K candidate blocks, sorted, and the expected entry of each
 * (0 = absent). Sorted candidates make the expected listing a plain scan.
 */
struct model {
	u64 k;
	u64 *block;
	u64 *entry;
	u64 live;
};

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Index of the first candidate >= block. */
static u64 lower_bound(const struct model *m, u64 block)
{
	u64 lo = 0, hi = m->k, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->block[mid] < block)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void model_init(struct model *m, u64 nb, u64 k)
{
	u64 i, n = 0;

	m->block = calloc(k, sizeof(u64));
	m->entry = calloc(k, sizeof(u64));
	if (!m->block || !m->entry)
		FAIL("out of memory");
	if (k >= nb) {
		for (i = 0; i < nb; i++)
			m->block[i] = i;
		n = nb;
	} else {
		/* The extremes always take part; the rest is random. */
		m->block[n++] = 0;
		m->block[n++] = nb - 1;
		while (n < k) {
			for (; n < k; n++)
				m->block[n] = below(nb);
			qsort(m->block, n, sizeof(u64), cmp_u64);
			for (i = 1, n = 1; i < k; i++)
				if (m->block[i] != m->block[n - 1])
					m->block[n++] = m->block[i];
		}
	}
	qsort(m->block, n, sizeof(u64), cmp_u64);
	m->k = n;
	m->live = 0;
}

static u64 find_rcu(const struct dmr_index *ix, u64 block)
{
	u64 e;

	rcu_read_lock();
	e = dmr_index_find_rcu(ix, block);
	rcu_read_unlock();
	return e;
}

static void check_lookup(const struct dmr_index *ix, u64 block, u64 want)
{
	CHECK_EQ(find_rcu(ix, block), want);
	CHECK_EQ(dmr_index_lookup(ix, block), want);
}

static void check_bound(const struct dmr_index *ix, const struct model *m,
			bool reserved)
{
	const struct dmr_table *t = rcu_dereference(ix->table);

	/* A published table always keeps an EMPTY slot: probes terminate. */
	if (t && (t->used < t->live || t->used * 5 > t->capacity * 4))
		FAIL("used %" PRIu64 " live %" PRIu64 " capacity %" PRIu64,
		     t->used, t->live, t->capacity);
	CHECK_EQ(dmr_index_live(ix), m->live);
	if (reserved)
		return;	/* reserve() lifts the memory bound until a removal */
	if (!m->live) {
		CHECK_EQ(dmr_index_bytes(ix), 0);
		return;
	}
	if (dmr_index_capacity(ix) > 2 * m->live)
		FAIL("capacity %" PRIu64 " for %" PRIu64 " remaps",
		     dmr_index_capacity(ix), m->live);
}

static void check_list(const struct dmr_index *ix, const struct model *m,
		       u64 from, size_t max)
{
	static u64 out[512];
	size_t got, n = 0;
	u64 i;

	got = dmr_index_list(ix, from, out, max);
	for (i = lower_bound(m, from); i < m->k && n < max; i++) {
		if (!m->entry[i])
			continue;
		if (n >= got)
			FAIL("listing from %" PRIu64 " max %zu: only %zu",
			     from, max, got);
		CHECK_EQ(out[n], m->entry[i]);
		n++;
	}
	CHECK_EQ(got, n);
}

static void check_all(const struct dmr_index *ix, const struct model *m)
{
	const struct dmr_table *t = rcu_dereference(ix->table);
	u64 i, e, pos = 0, n = 0, j;

	while ((e = dmr_index_next(ix, &pos)) != 0) {
		j = lower_bound(m, dmr_entry_block(&ix->geom, e));
		if (j >= m->k || m->entry[j] != e)
			FAIL("iterator returned unexpected entry %#" PRIx64, e);
		n++;
	}
	CHECK_EQ(n, m->live);
	for (i = 0; i < m->k; i++) {
		check_lookup(ix, m->block[i], m->entry[i]);
		if (m->entry[i] && !dmr_table_maybe(t, m->block[i]))
			FAIL("summary misses block %" PRIu64, m->block[i]);
	}
}

struct geometry {
	const char *name;
	u64 nr_blocks, nr_slots;
	unsigned int summary_shift;
	u64 candidates;
};

static void run(const struct geometry *geo, u64 ops)
{
	struct dmr_index ix;
	struct model m;
	u64 target = 0, i, b, s, e, want, extra;
	bool reserved = false, busy;
	int r;

	geo_name = geo->name;
	CHECK_EQ(dmr_index_init(&ix, geo->nr_blocks, geo->nr_slots,
				geo->summary_shift, NUMA_NO_NODE), 0);
	model_init(&m, geo->nr_blocks, geo->candidates);
	for (op = 0; op < ops; op++) {
		/* Drift the population between empty and full. */
		if (!(op % 20000))
			target = below(5) ? below(m.k + 1) : (below(2) ? 0 : m.k);
		i = below(m.k);
		b = m.block[i];
		s = below(geo->nr_slots);
		busy = below(2);
		r = below(1000);
		if (r < 400) {
			if (r < (m.live < target ? 350 : 100)) {
				want = m.entry[i] ? -EEXIST : 0;
				CHECK_EQ(dmr_index_insert(&ix, b, s, busy), want);
				if (!want) {
					m.entry[i] = dmr_entry_make(&ix.geom, b, s, busy);
					m.live++;
				}
			} else {
				CHECK_EQ(dmr_index_remove(&ix, b),
					 m.entry[i] ? 0 : -ENOENT);
				if (m.entry[i]) {
					m.entry[i] = 0;
					m.live--;
					/* A removal re-applies the bound. */
					reserved = false;
				}
			}
		} else if (r < 500) {
			CHECK_EQ(dmr_index_update(&ix, b, s, busy),
				 m.entry[i] ? 0 : -ENOENT);
			if (m.entry[i])
				m.entry[i] = dmr_entry_make(&ix.geom, b, s, busy);
		} else if (r < 550) {
			CHECK_EQ(dmr_index_set_busy(&ix, b, busy),
				 m.entry[i] ? 0 : -ENOENT);
			if (m.entry[i])
				m.entry[i] = dmr_entry_with_busy(m.entry[i], busy);
		} else if (r < 850) {
			check_lookup(&ix, b, m.entry[i]);
		} else if (r < 990) {
			/* Any block: absent unless it is a present candidate. */
			b = below(geo->nr_blocks);
			e = lower_bound(&m, b);
			check_lookup(&ix, b, e < m.k && m.block[e] == b ?
					      m.entry[e] : 0);
		} else if (r < 995) {
			/* Out of geometry. */
			b = geo->nr_blocks + below(1000);
			CHECK_EQ(dmr_index_insert(&ix, b, 0, false), -ERANGE);
			CHECK_EQ(dmr_index_remove(&ix, b), -ERANGE);
			CHECK_EQ(dmr_index_insert(&ix, m.block[i],
						  geo->nr_slots, false), -ERANGE);
			check_lookup(&ix, b, 0);
			/* Would alias a candidate if the shift dropped high bits. */
			if (ix.geom.block_bits < 64)
				check_lookup(&ix, m.block[i] |
					     (1ULL << ix.geom.block_bits), 0);
		} else if (r < 998) {
			extra = below(m.k / 4 + 2);
			e = ix.rebuilds;
			CHECK_EQ(dmr_index_reserve(&ix, extra), 0);
			reserved = extra > 0;
			/* The next @extra inserts must not rebuild. */
			for (s = 0; s < extra && m.live < m.k; s++) {
				i = below(m.k);
				if (m.entry[i])
					continue;
				b = m.block[i];
				CHECK_EQ(dmr_index_insert(&ix, b, s % geo->nr_slots,
							  false), 0);
				m.entry[i] = dmr_entry_make(&ix.geom, b,
							    s % geo->nr_slots, false);
				m.live++;
			}
			if (ix.rebuilds > e + 1)
				FAIL("reserve(%" PRIu64 ") then inserts rebuilt %" PRIu64 " times",
				     extra, ix.rebuilds - e);
		} else {
			b = below(3) ? m.block[i] : below(geo->nr_blocks);
			check_list(&ix, &m, b, 1 + below(below(8) ? 64 : 512));
		}
		check_bound(&ix, &m, reserved);
		if (!(op % 100000))
			check_all(&ix, &m);
	}
	check_all(&ix, &m);
	printf("  %-10s ops %-8" PRIu64 " candidates %-6" PRIu64 " rebuilds %-6"
	       PRIu64 " final live %" PRIu64 "\n", geo->name, ops, m.k,
	       ix.rebuilds, m.live);
	dmr_index_destroy(&ix);
	free(m.block);
	free(m.entry);
}

int main(int argc, char **argv)
{
	static const struct geometry geos[] = {
		{ "tiny", 1000, 1000, 2, 1000 },
		{ "256T/256G", 1ULL << 36, 1ULL << 26, 0, 1 << 16 },
		{ "few-slots", 1 << 20, 7, 5, 1 << 14 },
		{ "2^61", 1ULL << 61, 2, 0, 4096 },
		{ "one", 1, 1, 0, 1 },
	};
	const char *s = argc > 1 ? argv[1] : getenv("DMR_SEED");
	const char *o = argc > 2 ? argv[2] : getenv("DMR_OPS");
	u64 ops = o ? strtoull(o, NULL, 0) : 1000000;
	u64 total = 0;
	size_t g;

	seed = s ? strtoull(s, NULL, 0) : (u64)time(NULL);
	rng_state = seed;
	printf("test-table-random: seed %" PRIu64 " (rerun: test-table-random %"
	       PRIu64 " %" PRIu64 ")\n", seed, seed, ops);
	rcu_register_thread();
	for (g = 0; g < ARRAY_SIZE(geos); g++) {
		run(&geos[g], ops);
		total += ops;
	}
	rcu_unregister_thread();
	printf("PASS test-table-random seed %" PRIu64 " (%" PRIu64 " ops)\n",
	       seed, total);
	return 0;
}
