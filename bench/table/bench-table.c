// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lookup speed and memory of the remap table vs liburcu's cds_lfht and an
 * rbtree (dm-dust's structure). Prints markdown. Touches only its own memory.
 *
 *   bench-table [sizes...]          e.g. bench-table 1000 100000 1000000 16777216
 *   bench-table --callgrind N       small loops for instruction counting
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <time.h>

#include "dm-remap/table.h"
#include <urcu/rculfhash.h>

#define NR_BLOCKS	(1ULL << 36)	/* 256 TiB of 4 KiB blocks */
#define NR_SLOTS	(1ULL << 26)
#define KEY_MASK	(NR_BLOCKS - 1)

static u64 rng_state = 12345;

static u64 rnd(void)
{
	u64 z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A bijection on [0, 2^36): distinct keys without a duplicate check. */
static u64 key_of(u64 i)
{
	u64 x = i & KEY_MASK;

	x = (x * 0x5DEECE66DULL + 0xB) & KEY_MASK;
	x ^= x >> 17;
	x = (x * 0x2545F4914F6CDD1DULL) & KEY_MASK;
	x ^= x >> 19;
	return x;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: time sliced away to other load does not count. */
static double cpu_now(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- dm-remap table ---- */

static struct dmr_index ix;

static void dmr_build(const u64 *keys, u64 n)
{
	u64 i;

	if (dmr_index_init(&ix, NR_BLOCKS, NR_SLOTS, 0, NUMA_NO_NODE))
		abort();
	for (i = 0; i < n; i++)
		if (dmr_index_insert(&ix, keys[i], i & (NR_SLOTS - 1), false))
			abort();
}

/*
 * One lookup per structure, each returning what it found (entry or node
 * address, 0 if none); LOOKUP_LOOPS() below wraps them in a throughput loop
 * and in a dependent (latency) loop.
 */
static inline u64 dmr_one(u64 k)
{
	u64 e;

	rcu_read_lock();
	e = dmr_index_find_rcu(&ix, k);
	rcu_read_unlock();
	return e;
}

/* The probe alone: what the summary saves on misses. */
static inline u64 dmr_nosum_one(u64 k)
{
	u64 e;

	rcu_read_lock();
	e = dmr_table_lookup(rcu_dereference(ix.table), k);
	rcu_read_unlock();
	return e;
}

/* As if lookup were an out-of-line function in dm-remap-table.c. */
static __attribute__((noinline)) u64 dmr_find_outofline(const struct dmr_index *x,
							 u64 block)
{
	return dmr_index_find_rcu(x, block);
}

static inline u64 dmr_call_one(u64 k)
{
	u64 e;

	rcu_read_lock();
	e = dmr_find_outofline(&ix, k);
	rcu_read_unlock();
	return e;
}

/* ---- liburcu cds_lfht ---- */

struct lf_node {
	struct cds_lfht_node node;
	u64 key;
	u64 slot;
};

static struct cds_lfht *lf;
static struct lf_node *lf_arena;	/* like a kmem_cache: no per-node header */

static unsigned long lf_hash(u64 k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static int lf_match(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct lf_node, node)->key == *(const u64 *)key;
}

static void lf_build(const u64 *keys, u64 n)
{
	unsigned long size = 1;
	u64 i;

	while (size < n)
		size <<= 1;
	lf = cds_lfht_new(size, size, 0, 0, NULL);
	lf_arena = calloc(n, sizeof(*lf_arena));
	if (!lf || !lf_arena)
		abort();
	for (i = 0; i < n; i++) {
		lf_arena[i].key = keys[i];
		lf_arena[i].slot = i;
		cds_lfht_node_init(&lf_arena[i].node);
		cds_lfht_add(lf, lf_hash(keys[i]), &lf_arena[i].node);
	}
}

static inline u64 lf_one(u64 k)
{
	struct cds_lfht_iter it;
	u64 found;

	rcu_read_lock();
	cds_lfht_lookup(lf, lf_hash(k), lf_match, &k, &it);
	found = (uintptr_t)cds_lfht_iter_get_node(&it);
	rcu_read_unlock();
	return found;
}

static void lf_destroy(u64 n)
{
	u64 i;

	for (i = 0; i < n; i++)
		cds_lfht_del(lf, &lf_arena[i].node);
	if (cds_lfht_destroy(lf, NULL))
		abort();
	synchronize_rcu();
	free(lf_arena);
}

/* ---- rbtree, as in the kernel (dm-dust): colour in the parent pointer ---- */

struct rb_node {
	uintptr_t parent_color;	/* low bit: 1 = black */
	struct rb_node *left, *right;
	u64 key;
	u64 slot;
};

static struct rb_node *rb_root;
static struct rb_node *rb_arena;

static struct rb_node *rb_parent(const struct rb_node *n)
{
	return (struct rb_node *)(n->parent_color & ~1UL);
}

static bool rb_red(const struct rb_node *n)
{
	return n && !(n->parent_color & 1);
}

static void rb_set(struct rb_node *n, struct rb_node *p, bool black)
{
	n->parent_color = (uintptr_t)p | black;
}

static void rb_rotate(struct rb_node *x, bool left)
{
	struct rb_node *y = left ? x->right : x->left, *p = rb_parent(x);
	struct rb_node *mid = left ? y->left : y->right;

	if (left) {
		x->right = mid;
		y->left = x;
	} else {
		x->left = mid;
		y->right = x;
	}
	if (mid)
		rb_set(mid, x, mid->parent_color & 1);
	rb_set(y, p, y->parent_color & 1);
	rb_set(x, y, x->parent_color & 1);
	if (!p)
		rb_root = y;
	else if (p->left == x)
		p->left = y;
	else
		p->right = y;
}

static void rb_insert(struct rb_node *n)
{
	struct rb_node **link = &rb_root, *p = NULL, *g, *u;
	bool pleft;

	while (*link) {
		p = *link;
		link = n->key < p->key ? &p->left : &p->right;
	}
	rb_set(n, p, false);
	*link = n;
	/* CLRS insert fix-up. */
	while ((p = rb_parent(n)) && rb_red(p)) {
		g = rb_parent(p);
		pleft = g->left == p;
		u = pleft ? g->right : g->left;
		if (rb_red(u)) {
			rb_set(p, g, true);
			rb_set(u, g, true);
			rb_set(g, rb_parent(g), false);
			n = g;
			continue;
		}
		if (n == (pleft ? p->right : p->left)) {
			rb_rotate(p, pleft);
			n = p;
			p = rb_parent(n);
		}
		rb_set(p, rb_parent(p), true);
		rb_set(g, rb_parent(g), false);
		rb_rotate(g, !pleft);
	}
	rb_set(rb_root, NULL, true);
}

static void rb_build(const u64 *keys, u64 n)
{
	u64 i;

	rb_root = NULL;
	rb_arena = calloc(n, sizeof(*rb_arena));
	if (!rb_arena)
		abort();
	for (i = 0; i < n; i++) {
		rb_arena[i].key = keys[i];
		rb_arena[i].slot = i;
		rb_insert(&rb_arena[i]);
	}
}

/* No lock here; dm-dust also takes a spinlock per bio. */
static inline u64 rb_one(u64 k)
{
	const struct rb_node *n = rb_root;

	while (n && n->key != k)
		n = k < n->key ? n->left : n->right;
	return (uintptr_t)n;
}

/* Sanity: a red-black tree of n nodes is at most 2 log2(n + 1) deep. */
static unsigned int rb_depth(const struct rb_node *n)
{
	unsigned int l, r;

	if (!n)
		return 0;
	l = rb_depth(n->left);
	r = rb_depth(n->right);
	return 1 + (l > r ? l : r);
}

/* ---- loops ---- */

/* Always 0, but the compiler cannot know: it chains each lookup to the last. */
static volatile u64 chase_zero;

/*
 * _tput: independent lookups, the CPU overlaps their cache misses.
 * _lat: the next key depends on the previous result (the loaded entry or
 * node, not just a found flag that branch prediction would guess), as when
 * each lookup sits in its own bio's map call: the latency of one lookup.
 */
#define LOOKUP_LOOPS(name)						\
static u64 name##_tput(const u64 *q, u64 nq)				\
{									\
	u64 i, hits = 0;						\
									\
	for (i = 0; i < nq; i++)					\
		hits += name##_one(q[i]) != 0;				\
	return hits;							\
}									\
static u64 name##_lat(const u64 *q, u64 nq)				\
{									\
	u64 i, hits = 0, dep = 0, z = chase_zero;			\
									\
	for (i = 0; i < nq; i++) {					\
		dep = name##_one(q[i] ^ (dep & z));			\
		hits += dep != 0;					\
	}								\
	return hits;							\
}

LOOKUP_LOOPS(dmr)
LOOKUP_LOOPS(dmr_nosum)
LOOKUP_LOOPS(dmr_call)
LOOKUP_LOOPS(lf)
LOOKUP_LOOPS(rb)

/* ---- driver ---- */

#define NR_ROUNDS	5
#define NR_STRUCTS	5
#define NR_CASES	(4 * NR_STRUCTS)	/* {tput, lat} x {hit, miss} */

/*
 * Build all three, then measure in interleaved rounds and keep each case's
 * best pass: on a shared machine load bursts then hit every structure alike.
 */
static void run_size(u64 n, u64 nq)
{
	static const char * const names[] = {
		"dm-remap table", "dm-remap, no summary test",
		"dm-remap, out-of-line call", "cds_lfht", "rbtree",
	};
	static u64 (* const fns[][2])(const u64 *, u64) = {
		{ dmr_tput, dmr_lat }, { dmr_nosum_tput, dmr_nosum_lat },
		{ dmr_call_tput, dmr_call_lat }, { lf_tput, lf_lat },
		{ rb_tput, rb_lat },
	};
	u64 *keys = malloc(n * sizeof(u64));
	u64 *hitq = malloc(nq * sizeof(u64));
	u64 *missq = malloc(nq * sizeof(u64));
	double best[NR_CASES] = { 0 }, bytes[3], entry_bytes, t;
	size_t before;
	int round, c;
	u64 i, got;

	if (!keys || !hitq || !missq)
		abort();
	/* Half the lookups from 4M entries up: the slow rbtree passes dominate. */
	if (n >= 1 << 22)
		nq /= 2;
	for (i = 0; i < n; i++)
		keys[i] = key_of(i);
	for (i = 0; i < nq; i++) {
		hitq[i] = keys[rnd() % n];
		missq[i] = key_of(n + rnd() % (NR_BLOCKS - n));
	}

	before = heap_used();
	t = now();
	dmr_build(keys, n);
	bytes[0] = (double)(heap_used() - before) / n;
	entry_bytes = 8.0 * dmr_index_capacity(&ix) / n;
	fprintf(stderr, "  n=%" PRIu64 ": dmr built in %.2fs\n", n, now() - t);
	before = heap_used();
	t = now();
	lf_build(keys, n);
	bytes[1] = (double)(heap_used() - before) / n;
	fprintf(stderr, "  n=%" PRIu64 ": lfht built in %.2fs\n", n, now() - t);
	before = heap_used();
	t = now();
	rb_build(keys, n);
	bytes[2] = (double)(heap_used() - before) / n;
	fprintf(stderr, "  n=%" PRIu64 ": rbtree built in %.2fs, depth %u\n",
		n, now() - t, rb_depth(rb_root));

	/* Case c: structure c / 4, latency if c & 2, miss if c & 1. */
	for (round = 0; round < NR_ROUNDS; round++) {
		for (c = 0; c < NR_CASES; c++) {
			t = cpu_now();
			got = fns[c / 4][!!(c & 2)](c & 1 ? missq : hitq, nq);
			t = cpu_now() - t;
			if (got != (c & 1 ? 0 : nq)) {
				fprintf(stderr, "%s: wrong hit count\n", names[c / 4]);
				exit(1);
			}
			if (nq / t / 1e6 > best[c])
				best[c] = nq / t / 1e6;
		}
	}
	dmr_index_destroy(&ix);
	lf_destroy(n);
	free(rb_arena);

	for (c = 0; c < NR_CASES; c += 4) {
		printf("| %" PRIu64 " | %s | %.1f | %.1f | %.0f | %.0f | ", n,
		       names[c / 4], best[c], best[c + 1], 1e3 / best[c + 2],
		       1e3 / best[c + 3]);
		if (c == 0)
			printf("%.1f (entries %.1f) |\n", bytes[0], entry_bytes);
		else if (c >= 12)
			printf("%.1f |\n", bytes[c / 4 - 2]);
		else
			printf("|\n");
	}
	printf("| %" PRIu64 " | **dm-remap vs cds_lfht** | **%.2fx** | **%.2fx** | "
	       "**%.2fx** | **%.2fx** | |\n", n, best[0] / best[12],
	       best[1] / best[13], best[2] / best[14], best[3] / best[15]);
	fflush(stdout);
	free(keys);
	free(hitq);
	free(missq);
}

/* ---- callgrind: instructions per lookup on fixed, pre-classified keys ---- */

static __attribute__((noinline)) u64 cg_loop_hit(const u64 *q, u64 nq)
{
	u64 i, s = 0;

	for (i = 0; i < nq; i++)
		s += dmr_index_find_rcu(&ix, q[i]);
	return s;
}

static __attribute__((noinline)) u64 cg_loop_miss(const u64 *q, u64 nq)
{
	u64 i, s = 0;

	for (i = 0; i < nq; i++)
		s += dmr_index_find_rcu(&ix, q[i]);
	return s;
}

static __attribute__((noinline)) u64 cg_loop_skip(const u64 *q, u64 nq)
{
	u64 i, s = 0;

	for (i = 0; i < nq; i++)
		s += dmr_index_find_rcu(&ix, q[i]);
	return s;
}

static __attribute__((noinline)) u64 cg_loop_lfht_hit(const u64 *q, u64 nq)
{
	struct cds_lfht_iter it;
	u64 i, s = 0;

	for (i = 0; i < nq; i++) {
		cds_lfht_lookup(lf, lf_hash(q[i]), lf_match, &q[i], &it);
		s += cds_lfht_iter_get_node(&it) != NULL;
	}
	return s;
}

static int run_callgrind(u64 nq)
{
	const u64 n = 100000;
	u64 *keys = malloc(n * sizeof(u64));
	u64 *hit = malloc(nq * sizeof(u64));
	u64 *miss = malloc(nq * sizeof(u64));
	u64 *skip = malloc(nq * sizeof(u64));
	const struct dmr_table *t;
	u64 i, nm = 0, ns = 0, k;

	if (!keys || !hit || !miss || !skip)
		abort();
	for (i = 0; i < n; i++)
		keys[i] = key_of(i);
	dmr_build(keys, n);
	t = rcu_dereference(ix.table);
	for (i = 0; i < nq; i++)
		hit[i] = keys[rnd() % n];
	/* Misses that pass the summary (a present neighbour) and ones it skips. */
	while (nm < nq || ns < nq) {
		k = rnd() & KEY_MASK;
		if (dmr_index_lookup(&ix, k))
			continue;
		if (dmr_table_maybe(t, k)) {
			if (nm < nq)
				miss[nm++] = k;
		} else if (ns < nq) {
			skip[ns++] = k;
		}
	}
	lf_build(keys, n);
	rcu_read_lock();
	k = cg_loop_hit(hit, nq) != 0;
	k += cg_loop_miss(miss, nq) == 0;
	k += cg_loop_skip(skip, nq) == 0;
	k += cg_loop_lfht_hit(hit, nq) == nq;
	rcu_read_unlock();
	printf("callgrind loops: %" PRIu64 " lookups each, %s\n", nq,
	       k == 4 ? "results ok" : "RESULTS WRONG");
	lf_destroy(n);
	dmr_index_destroy(&ix);
	return k == 4 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const u64 def_sizes[] = { 1000, 100000, 1000000, 16777216 };
	const char *nq_env = getenv("BENCH_LOOKUPS");
	u64 nq = nq_env ? strtoull(nq_env, NULL, 0) : 1000000;
	int i, r = 0;

	rcu_register_thread();
	if (argc > 1 && !strcmp(argv[1], "--callgrind")) {
		r = run_callgrind(argc > 2 ? strtoull(argv[2], NULL, 0) : 100000);
		rcu_unregister_thread();
		return r;
	}
	printf("Random lookups, one thread, %" PRIu64 " lookups per pass (half from 4M entries), best of %d "
	       "interleaved passes, timed in thread CPU time; "
	       "keys uniform in 2^36 blocks; million lookups per CPU-second.\n\n", nq, NR_ROUNDS);
	printf("| entries | structure | hit M/s | miss M/s | hit ns (dependent) | "
	       "miss ns (dependent) | bytes/entry |\n");
	printf("|---:|---|---:|---:|---:|---:|---:|\n");
	if (argc > 1)
		for (i = 1; i < argc; i++)
			run_size(strtoull(argv[i], NULL, 0), nq);
	else
		for (i = 0; i < (int)ARRAY_SIZE(def_sizes); i++)
			run_size(def_sizes[i], nq);
	rcu_unregister_thread();
	return 0;
}
