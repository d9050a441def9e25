// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the remap table (src/dm-remap-table.c) built in userspace.
 * Touches only its own memory; DMR_TEST_MAX caps the memory-bound sweep.
 */
#include <inttypes.h>
#include <stdio.h>

#include "dm-remap/table.h"

#define FAIL(...) do {							\
	fprintf(stderr, "FAIL test-table %s:%d: ", __func__, __LINE__);	\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	exit(1);							\
} while (0)

#define CHECK(c) do { if (!(c)) FAIL("%s", #c); } while (0)
#define CHECK_EQ(a, b) do {						\
	u64 a_ = (u64)(a), b_ = (u64)(b);				\
	if (a_ != b_)							\
		FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_); \
} while (0)

static u64 find_rcu(const struct dmr_index *ix, u64 block)
{
	u64 e;

	rcu_read_lock();
	e = dmr_index_find_rcu(ix, block);
	rcu_read_unlock();
	return e;
}

static u64 header_and_summary(const struct dmr_index *ix)
{
	u64 regions = ((ix->geom.nr_blocks - 1) >> ix->summary_shift) + 1;

	return sizeof(struct dmr_table) + BITS_TO_LONGS(regions) * sizeof(long);
}

/* The memory bound: entries <= 16 bytes per remap, and nothing when empty. */
static void check_bound(const struct dmr_index *ix)
{
	u64 live = dmr_index_live(ix);

	if (!live) {
		CHECK(!rcu_dereference(ix->table));
		CHECK_EQ(dmr_index_bytes(ix), 0);
		return;
	}
	if (dmr_index_capacity(ix) * sizeof(u64) > 16 * live)
		FAIL("live %" PRIu64 " capacity %" PRIu64, live,
		     dmr_index_capacity(ix));
	CHECK(dmr_index_bytes(ix) <= 16 * live + header_and_summary(ix));
}

static void test_geometry(void)
{
	struct dmr_index ix;
	struct dmr_geom g;

	/* 256 TiB main, 256 GiB spare at 4 KiB: exactly 64 bits. */
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 36, 1ULL << 26), 0);
	CHECK_EQ(g.block_bits, 36);
	CHECK_EQ(g.slot_bits, 26);
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 36, (1ULL << 26) - 4096), 0);
	CHECK_EQ(dmr_geom_init(&g, (1ULL << 36) + 1, 1ULL << 26), -EOVERFLOW);
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 36, (1ULL << 26) + 1), -EOVERFLOW);
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 37, 1ULL << 25), 0);
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 62, 1), -EOVERFLOW);
	CHECK_EQ(dmr_geom_init(&g, 1ULL << 61, 1), 0);
	CHECK_EQ(g.block_bits, 61);
	CHECK_EQ(g.slot_bits, 1);
	CHECK_EQ(dmr_geom_init(&g, 1, 1), 0);
	CHECK_EQ(g.block_bits, 1);
	CHECK_EQ(g.slot_bits, 1);
	CHECK_EQ(dmr_geom_init(&g, 3, 4), 0);
	CHECK_EQ(g.block_bits, 2);
	CHECK_EQ(g.slot_bits, 2);
	CHECK_EQ(dmr_geom_init(&g, 5, 1), 0);
	CHECK_EQ(g.block_bits, 3);
	CHECK_EQ(dmr_geom_init(&g, 0, 1), -EINVAL);
	CHECK_EQ(dmr_geom_init(&g, 1, 0), -EINVAL);

	CHECK_EQ(dmr_index_init(&ix, 1ULL << 36, 1ULL << 26, 0, NUMA_NO_NODE), 0);
	CHECK_EQ(ix.summary_shift, 16);		/* 2^20 summary bits */
	dmr_index_destroy(&ix);
	CHECK_EQ(dmr_index_init(&ix, (1ULL << 36) + 1, 1ULL << 26, 0, 0),
		 -EOVERFLOW);
	CHECK_EQ(dmr_index_init(&ix, 1ULL << 36, 1ULL << 26, 40, 0), 0);
	CHECK_EQ(ix.summary_shift, 36);		/* clamped: one region */
	dmr_index_destroy(&ix);
	CHECK_EQ(dmr_index_init(&ix, 1000, 10, 3, 0), 0);
	CHECK_EQ(ix.summary_shift, 3);
	dmr_index_destroy(&ix);
	CHECK_EQ(dmr_index_init(&ix, (1ULL << 20) + 1, 10, 0, 0), 0);
	CHECK_EQ(ix.summary_shift, 1);
	dmr_index_destroy(&ix);
}

static void roundtrip(u64 nr_blocks, u64 nr_slots, u64 block, u64 slot)
{
	struct dmr_geom g;
	u64 e;
	int busy;

	CHECK_EQ(dmr_geom_init(&g, nr_blocks, nr_slots), 0);
	for (busy = 0; busy < 2; busy++) {
		e = dmr_entry_make(&g, block, slot, busy);
		CHECK(e != DMR_ENTRY_EMPTY && e != DMR_ENTRY_TOMBSTONE);
		CHECK(dmr_entry_valid(e));
		CHECK_EQ(dmr_entry_busy(e), busy);
		CHECK_EQ(dmr_entry_block(&g, e), block);
		CHECK_EQ(dmr_entry_slot(&g, e), slot);
		CHECK_EQ(dmr_entry_with_busy(e, !busy),
			 dmr_entry_make(&g, block, slot, !busy));
		CHECK_EQ(dmr_entry_with_busy(e, busy), e);
	}
}

static void test_encoding(void)
{
	static const u64 geo[][2] = {
		{ 1, 1 }, { 2, 2 }, { 3, 5 }, { 1ULL << 36, 1ULL << 26 },
		{ (1ULL << 36) - 1, (1ULL << 26) - 1 }, { 1ULL << 61, 2 },
		{ 2, 1ULL << 61 }, { 1ULL << 31, 1ULL << 31 },
		{ 1000003, 77777 },
	};
	u64 x = 0x243F6A8885A308D3ULL;
	size_t i;
	int k;

	CHECK(!dmr_entry_valid(DMR_ENTRY_EMPTY));
	CHECK(!dmr_entry_valid(DMR_ENTRY_TOMBSTONE));
	CHECK(!dmr_entry_busy(DMR_ENTRY_TOMBSTONE));
	for (i = 0; i < ARRAY_SIZE(geo); i++) {
		u64 nb = geo[i][0], ns = geo[i][1];

		roundtrip(nb, ns, 0, 0);
		roundtrip(nb, ns, nb - 1, ns - 1);
		roundtrip(nb, ns, nb - 1, 0);
		roundtrip(nb, ns, 0, ns - 1);
		for (k = 0; k < 1000; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			roundtrip(nb, ns, (x >> 7) % nb, (x >> 3) % ns);
		}
	}
}

static void test_empty(void)
{
	struct dmr_index ix;
	u64 out[4], pos = 0;

	CHECK_EQ(dmr_index_init(&ix, 1ULL << 30, 1 << 20, 0, NUMA_NO_NODE), 0);
	CHECK(!rcu_dereference(ix.table));
	CHECK_EQ(find_rcu(&ix, 0), 0);
	CHECK_EQ(dmr_index_lookup(&ix, 12), 0);
	CHECK_EQ(dmr_index_live(&ix), 0);
	CHECK_EQ(dmr_index_bytes(&ix), 0);
	CHECK_EQ(dmr_index_list(&ix, 0, out, 4), 0);
	CHECK_EQ(dmr_index_next(&ix, &pos), 0);
	CHECK_EQ(dmr_index_remove(&ix, 3), -ENOENT);
	CHECK_EQ(dmr_index_update(&ix, 3, 1, false), -ENOENT);
	CHECK_EQ(dmr_index_reserve(&ix, 0), 0);
	CHECK(!rcu_dereference(ix.table));

	CHECK_EQ(dmr_index_insert(&ix, 7, 9, false), 0);
	CHECK(rcu_dereference(ix.table));
	CHECK_EQ(dmr_index_remove(&ix, 7), 0);
	CHECK(!rcu_dereference(ix.table));	/* back to nothing */

	/* A reserve with no insert is undone by reserve(0). */
	CHECK_EQ(dmr_index_reserve(&ix, 100), 0);
	CHECK(dmr_index_capacity(&ix) >= 125);
	CHECK_EQ(dmr_index_reserve(&ix, 0), 0);
	CHECK(!rcu_dereference(ix.table));
	dmr_index_destroy(&ix);
}

static void test_ops(void)
{
	const u64 nb = 1ULL << 36, ns = (1ULL << 26) - 100;
	struct dmr_index ix;
	const struct dmr_geom *g = &ix.geom;
	u64 e, b;

	CHECK_EQ(dmr_index_init(&ix, nb, ns, 0, NUMA_NO_NODE), 0);
	CHECK_EQ(dmr_index_insert(&ix, 0, 0, false), 0);
	CHECK_EQ(dmr_index_insert(&ix, nb - 1, ns - 1, true), 0);
	CHECK_EQ(dmr_index_insert(&ix, 12345, 77, false), 0);
	CHECK_EQ(dmr_index_insert(&ix, 12345, 78, false), -EEXIST);
	CHECK_EQ(dmr_index_insert(&ix, nb, 1, false), -ERANGE);
	CHECK_EQ(dmr_index_insert(&ix, 1, ns, false), -ERANGE);
	CHECK_EQ(dmr_index_update(&ix, 12345, ns, false), -ERANGE);
	CHECK_EQ(dmr_index_remove(&ix, nb), -ERANGE);
	CHECK_EQ(dmr_index_live(&ix), 3);

	CHECK_EQ(find_rcu(&ix, 0), dmr_entry_make(g, 0, 0, false));
	CHECK_EQ(find_rcu(&ix, nb - 1), dmr_entry_make(g, nb - 1, ns - 1, true));
	e = find_rcu(&ix, 12345);
	CHECK_EQ(dmr_entry_slot(g, e), 77);
	CHECK(!dmr_entry_busy(e));
	CHECK_EQ(dmr_index_lookup(&ix, 12345), e);
	CHECK_EQ(find_rcu(&ix, 12346), 0);
	/* Out-of-geometry blocks must not alias in-range keys. */
	CHECK_EQ(find_rcu(&ix, nb + 12345), 0);
	CHECK_EQ(dmr_index_lookup(&ix, nb), 0);
	CHECK_EQ(find_rcu(&ix, ~0ULL), 0);

	CHECK_EQ(dmr_index_set_busy(&ix, 12345, true), 0);
	CHECK_EQ(find_rcu(&ix, 12345), dmr_entry_make(g, 12345, 77, true));
	CHECK_EQ(dmr_index_update(&ix, 12345, 500, false), 0);
	CHECK_EQ(find_rcu(&ix, 12345), dmr_entry_make(g, 12345, 500, false));
	CHECK_EQ(dmr_index_set_busy(&ix, 99, true), -ENOENT);

	CHECK_EQ(dmr_index_remove(&ix, 12345), 0);
	CHECK_EQ(dmr_index_remove(&ix, 12345), -ENOENT);
	CHECK_EQ(find_rcu(&ix, 12345), 0);
	CHECK_EQ(dmr_index_live(&ix), 2);
	/* Re-insert after delete (reuses the tombstone or a fresh slot). */
	CHECK_EQ(dmr_index_insert(&ix, 12345, 1, false), 0);
	CHECK_EQ(dmr_entry_slot(g, find_rcu(&ix, 12345)), 1);

	/* Many blocks, then delete every other: the rest must stay findable. */
	for (b = 1000; b < 21000; b++)
		CHECK_EQ(dmr_index_insert(&ix, b * 977, b, b & 1), 0);
	for (b = 1000; b < 21000; b += 2)
		CHECK_EQ(dmr_index_remove(&ix, b * 977), 0);
	for (b = 1000; b < 21000; b++) {
		e = find_rcu(&ix, b * 977);
		if (b & 1)
			CHECK_EQ(e, dmr_entry_make(g, b * 977, b, true));
		else
			CHECK_EQ(e, 0);
	}
	check_bound(&ix);
	dmr_index_destroy(&ix);
}

static bool summary_bit(const struct dmr_index *ix, u64 block)
{
	const struct dmr_table *t = rcu_dereference(ix->table);

	return t && dmr_table_maybe(t, block);
}

static void test_summary(void)
{
	struct dmr_index ix;
	u64 b, r, rebuilds;

	/* 2^20 blocks, regions of 2^10 blocks: 1024 summary bits. */
	CHECK_EQ(dmr_index_init(&ix, 1 << 20, 1 << 10, 10, NUMA_NO_NODE), 0);
	CHECK_EQ(dmr_index_insert(&ix, 5000, 1, false), 0);
	for (r = 0; r < 1024; r++)
		CHECK_EQ(summary_bit(&ix, r << 10), r == 4);
	CHECK(summary_bit(&ix, 4096) && summary_bit(&ix, 5119));
	CHECK(!summary_bit(&ix, 5120) && !summary_bit(&ix, 4095));
	CHECK(!summary_bit(&ix, 1 << 20));	/* beyond the device */

	CHECK_EQ(dmr_index_insert(&ix, 900000, 2, false), 0);
	CHECK_EQ(dmr_index_insert(&ix, 100, 3, false), 0);
	CHECK_EQ(dmr_index_insert(&ix, 200, 4, false), 0);
	CHECK_EQ(dmr_index_insert(&ix, 300, 5, false), 0);
	CHECK(summary_bit(&ix, 900001));
	/* Delete without rebuild: the bit stays as a false positive. */
	rebuilds = ix.rebuilds;
	CHECK_EQ(dmr_index_remove(&ix, 900000), 0);
	CHECK_EQ(ix.rebuilds, rebuilds);
	CHECK(summary_bit(&ix, 900001));
	CHECK_EQ(find_rcu(&ix, 900000), 0);
	/* Force a rebuild: stale bits are recomputed away. */
	CHECK_EQ(dmr_index_reserve(&ix, 1000), 0);
	CHECK(ix.rebuilds > rebuilds);
	CHECK(!summary_bit(&ix, 900001));
	CHECK(summary_bit(&ix, 5000) && summary_bit(&ix, 100));
	CHECK_EQ(find_rcu(&ix, 900001), 0);

	/* Every inserted block's region is marked. */
	for (b = 7; b < (1 << 20); b += 7919)
		if (!dmr_index_lookup(&ix, b))
			CHECK_EQ(dmr_index_insert(&ix, b, b % 1000, false), 0);
	for (b = 7; b < (1 << 20); b += 7919)
		CHECK(summary_bit(&ix, b));
	dmr_index_destroy(&ix);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void test_list(void)
{
	enum { N = 5000 };
	const u64 nb = 1ULL << 36;
	struct dmr_index ix;
	static u64 blocks[N], out[N + 10];
	u64 x = 1, from, pos, e, seen;
	size_t i, n, got, page;

	CHECK_EQ(dmr_index_init(&ix, nb, 1 << 20, 0, NUMA_NO_NODE), 0);
	/* Block 0 (entry value 1 or 3) is the smallest possible key. */
	CHECK_EQ(dmr_index_insert(&ix, 0, 5, true), 0);
	for (i = 1; i < N; i++) {
		do {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			blocks[i] = (x >> 20) % nb;
		} while (dmr_index_lookup(&ix, blocks[i]) || !blocks[i]);
		CHECK_EQ(dmr_index_insert(&ix, blocks[i], i, i & 1), 0);
	}
	n = 0;
	pos = 0;
	while ((e = dmr_index_next(&ix, &pos)) != 0)
		blocks[n++] = dmr_entry_block(&ix.geom, e);
	CHECK_EQ(n, dmr_index_live(&ix));
	qsort(blocks, n, sizeof(u64), cmp_u64);
	for (i = 1; i < n; i++)
		CHECK(blocks[i - 1] < blocks[i]);

	/* Full listing in one call. */
	got = dmr_index_list(&ix, 0, out, N + 10);
	CHECK_EQ(got, n);
	for (i = 0; i < n; i++)
		CHECK_EQ(dmr_entry_block(&ix.geom, out[i]), blocks[i]);

	/* Paging with several page sizes. */
	for (page = 1; page <= 1024; page = page * 3 + 1) {
		from = 0;
		seen = 0;
		for (;;) {
			got = dmr_index_list(&ix, from, out, page);
			CHECK(got <= page);
			for (i = 0; i < got; i++) {
				CHECK_EQ(dmr_entry_block(&ix.geom, out[i]),
					 blocks[seen + i]);
				CHECK_EQ(out[i], dmr_index_lookup(&ix, blocks[seen + i]));
			}
			seen += got;
			if (got < page)
				break;
			from = dmr_entry_block(&ix.geom, out[got - 1]) + 1;
			if (from >= nb)
				break;
		}
		CHECK_EQ(seen, n);
	}
	/* From the middle of a gap, and from beyond the device. */
	got = dmr_index_list(&ix, blocks[n / 2] + 1, out, 3);
	CHECK_EQ(got, 3);
	CHECK_EQ(dmr_entry_block(&ix.geom, out[0]), blocks[n / 2 + 1]);
	CHECK_EQ(dmr_index_list(&ix, blocks[n - 1] + 1, out, 3), 0);
	CHECK_EQ(dmr_index_list(&ix, nb, out, 3), 0);
	CHECK_EQ(dmr_index_list(&ix, 0, out, 0), 0);
	dmr_index_destroy(&ix);
}

static void test_reserve(void)
{
	struct dmr_index ix;
	u64 b, rebuilds;

	CHECK_EQ(dmr_index_init(&ix, 1ULL << 36, 1 << 20, 0, NUMA_NO_NODE), 0);
	CHECK_EQ(dmr_index_insert(&ix, 1, 1, false), 0);
	CHECK_EQ(dmr_index_reserve(&ix, 100000), 0);
	rebuilds = ix.rebuilds;
	for (b = 0; b < 100000; b++)
		CHECK_EQ(dmr_index_insert(&ix, 1000 + b * 3, b, false), 0);
	CHECK_EQ(ix.rebuilds, rebuilds);	/* the batch needed no rebuild */
	check_bound(&ix);
	/* Reserving what is already there is free. */
	CHECK_EQ(dmr_index_reserve(&ix, 10), 0);
	CHECK_EQ(ix.rebuilds, rebuilds);
	/* Too much for one allocation: -ENOMEM, table intact. */
	CHECK_EQ(dmr_index_reserve(&ix, ~0ULL), -ENOMEM);
	CHECK_EQ(ix.rebuilds, rebuilds);
	CHECK_EQ(dmr_index_live(&ix), 100001);
	CHECK(dmr_index_lookup(&ix, 1000 + 99999 * 3));
	dmr_index_destroy(&ix);

	/* A tiny device: reserve is clamped to the blocks that exist. */
	CHECK_EQ(dmr_index_init(&ix, 3, 3, 0, NUMA_NO_NODE), 0);
	CHECK_EQ(dmr_index_reserve(&ix, ~0ULL), 0);
	CHECK(dmr_index_capacity(&ix) <= 5);
	for (b = 0; b < 3; b++)
		CHECK_EQ(dmr_index_insert(&ix, b, 2 - b, false), 0);
	for (b = 0; b < 3; b++)
		CHECK_EQ(dmr_entry_slot(&ix.geom, find_rcu(&ix, b)), 2 - b);
	check_bound(&ix);
	dmr_index_destroy(&ix);
}

/* Every size from 1 up to max on the way up and down must meet the bound. */
static void test_memory_bound(u64 max)
{
	const u64 nb = 1ULL << 36;
	struct dmr_index ix;
	u64 i, b, next = 5000;

	CHECK_EQ(dmr_index_init(&ix, nb, 1 << 24, 0, NUMA_NO_NODE), 0);
	for (i = 0; i < max; i++) {
		/* A bijection on [0, 2^36): spread but reproducible keys. */
		b = (i * 0x9E3779B1ULL) & (nb - 1);
		CHECK_EQ(dmr_index_insert(&ix, b, i & 0xffffff, false), 0);
		check_bound(&ix);
		if (i + 1 == next || i + 1 == max) {
			CHECK_EQ(dmr_index_live(&ix), i + 1);
			CHECK_EQ(dmr_entry_slot(&ix.geom, find_rcu(&ix, b)),
				 i & 0xffffff);
			printf("  size %-9" PRIu64 " capacity %-9" PRIu64
			       " entry bytes/remap %.2f table bytes %zu\n",
			       i + 1, dmr_index_capacity(&ix),
			       8.0 * dmr_index_capacity(&ix) / (i + 1),
			       dmr_index_bytes(&ix));
			next = next * 4;
		}
	}
	for (i = 0; i < max; i++) {
		b = (i * 0x9E3779B1ULL) & (nb - 1);
		CHECK_EQ(dmr_index_remove(&ix, b), 0);
		check_bound(&ix);
	}
	CHECK(!rcu_dereference(ix.table));
	dmr_index_destroy(&ix);
}

/* reset: every entry gone, the table free for reuse (a metadata reload). */
static void test_reset(void)
{
	struct dmr_index ix;
	u64 b, rebuilds;

	CHECK_EQ(dmr_index_init(&ix, 1ULL << 30, 1 << 20, 4, NUMA_NO_NODE), 0);
	dmr_index_reset(&ix);	/* nothing to drop: still no table */
	CHECK(!rcu_dereference(ix.table));
	CHECK_EQ(dmr_index_reserve(&ix, 1000), 0);
	for (b = 0; b < 1000; b++)
		CHECK_EQ(dmr_index_insert(&ix, b * 977, b, b & 1), 0);
	rebuilds = ix.rebuilds;
	dmr_index_reset(&ix);
	CHECK(!rcu_dereference(ix.table));
	CHECK_EQ(ix.rebuilds, rebuilds + 1);
	CHECK_EQ(dmr_index_live(&ix), 0);
	CHECK_EQ(dmr_index_bytes(&ix), 0);
	for (b = 0; b < 1000; b++) {
		CHECK_EQ(find_rcu(&ix, b * 977), 0);
		CHECK_EQ(dmr_index_lookup(&ix, b * 977), 0);
	}
	CHECK_EQ(dmr_index_insert(&ix, 5, 6, false), 0);
	CHECK_EQ(dmr_index_lookup(&ix, 5), dmr_entry_make(&ix.geom, 5, 6, false));
	check_bound(&ix);
	dmr_index_destroy(&ix);
}

int main(void)
{
	const char *env = getenv("DMR_TEST_MAX");
	u64 max = env ? strtoull(env, NULL, 0) : 16ULL << 20;

	rcu_register_thread();
	test_geometry();
	test_encoding();
	test_empty();
	test_ops();
	test_summary();
	test_list();
	test_reserve();
	test_reset();
	test_memory_bound(max);
	rcu_unregister_thread();
	printf("PASS test-table (memory bound checked at every size 1..%" PRIu64
	       ")\n", max);
	return 0;
}
