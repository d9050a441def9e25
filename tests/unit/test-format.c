// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit and property tests of the shared metadata format (src/dm-remap-format.c)
 * and of the tool's state code (tools/md-state.c); in-memory images only.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

#include "dm-remap/format.h"
#include "md-state.h"

u32 crc32c_generic(u32 seed, const void *buf, size_t len);

/* ---- tiny harness ------------------------------------------------------- */

static int nr_pass, nr_fail;
static int cur_fail;
static const char *cur_name;

__attribute__((format(printf, 3, 4)))
static void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (cur_fail++ < 10) {
		fprintf(stderr, "  %s:%d: ", file, line);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond))						\
			fail_at(__FILE__, __LINE__, __VA_ARGS__);	\
	} while (0)

#define EQ(a, b)							\
	CHECK((u64)(a) == (u64)(b), "%s == %s: %" PRIu64 " != %" PRIu64, \
	      #a, #b, (u64)(a), (u64)(b))

static void run(const char *name, void (*fn)(void))
{
	cur_name = name;
	cur_fail = 0;
	fn();
	if (cur_fail) {
		nr_fail++;
		printf("FAIL: %s (%d failed checks)\n", name, cur_fail);
	} else {
		nr_pass++;
		printf("PASS: %s\n", name);
	}
	fflush(stdout);
}

static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static u64 rnd(void)
{
	u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static u64 rnd_below(u64 n)
{
	return n ? rnd() % n : 0;
}

/* ---- in-memory image ---------------------------------------------------- */

#define BS ((int)DMR_MD_BLOCK_SIZE)

struct img {
	u8 *d;
	u64 n;		/* blocks */
	u64 limit;	/* reads at or above fail with -ENXIO (truncation) */
};

static void img_init(struct img *im, u64 n)
{
	im->d = calloc(n, BS);
	im->n = n;
	im->limit = n;
}

static void img_copy(struct img *dst, const struct img *src)
{
	dst->n = src->n;
	dst->limit = src->limit;
	dst->d = malloc(src->n * BS);
	memcpy(dst->d, src->d, src->n * BS);
}

static void img_free(struct img *im)
{
	free(im->d);
	im->d = NULL;
}

static u8 *blk(struct img *im, u64 i)
{
	return im->d + i * BS;
}

/* ---- logical state and a kernel-like committer -------------------------- */

struct tstate {
	u64 *ent;	/* nr_slots records */
	u64 *pend;	/* pending_capacity records */
};

struct runtime {
	struct dmr_geometry g;
	u8 uuid[DMR_UUID_SIZE];
	int sb_copy;
	u64 sb_gen, next_gen, digest;
	u8 *cur;	/* per pair: current copy */
	u64 *gen;	/* per pair: generation of the current copy */
	u8 *leftover;	/* per pair: must be rewritten by the next commit */
	struct tstate st;
	u64 nr_pairs;
};

static void ts_alloc(struct tstate *t, const struct dmr_geometry *g)
{
	t->ent = calloc(g->nr_slots, 8);
	t->pend = calloc(g->pending_capacity, 8);
}

static void ts_free(struct tstate *t)
{
	free(t->ent);
	free(t->pend);
}

static void ts_copy(struct tstate *d, const struct tstate *s,
		    const struct dmr_geometry *g)
{
	memcpy(d->ent, s->ent, g->nr_slots * 8);
	memcpy(d->pend, s->pend, g->pending_capacity * 8);
}

static bool ts_equal(const struct tstate *a, const struct tstate *b,
		     const struct dmr_geometry *g)
{
	return !memcmp(a->ent, b->ent, g->nr_slots * 8) &&
	       !memcmp(a->pend, b->pend, g->pending_capacity * 8);
}

static void rt_alloc(struct runtime *rt, const struct dmr_geometry *g)
{
	memset(rt, 0, sizeof(*rt));
	rt->g = *g;
	rt->nr_pairs = g->nr_entry_blocks + g->nr_pending_blocks;
	rt->cur = calloc(rt->nr_pairs, 1);
	rt->gen = calloc(rt->nr_pairs, 8);
	rt->leftover = calloc(rt->nr_pairs, 1);
	ts_alloc(&rt->st, g);
}

static void rt_free(struct runtime *rt)
{
	free(rt->cur);
	free(rt->gen);
	free(rt->leftover);
	ts_free(&rt->st);
}

static void pair_area(const struct dmr_geometry *g, u64 p, enum dmr_area *a,
		      u64 *idx)
{
	if (p < g->nr_entry_blocks) {
		*a = DMR_AREA_ENTRY;
		*idx = p;
	} else {
		*a = DMR_AREA_PENDING;
		*idx = p - g->nr_entry_blocks;
	}
}

/* record j of pair p in state t (0 past the last slot) */
static u64 ts_rec(const struct tstate *t, const struct dmr_geometry *g, u64 p,
		  u32 j)
{
	enum dmr_area a;
	u64 idx, pos;

	pair_area(g, p, &a, &idx);
	pos = idx * g->entries_per_block + j;
	if (a == DMR_AREA_ENTRY)
		return pos < g->nr_slots ? t->ent[pos] : 0;
	return t->pend[pos];
}

static bool pair_differs(const struct tstate *x, const struct tstate *y,
			 const struct dmr_geometry *g, u64 p)
{
	u32 j;

	for (j = 0; j < g->entries_per_block; j++)
		if (ts_rec(x, g, p, j) != ts_rec(y, g, p, j))
			return true;
	return false;
}

/* loader: scan an image into a runtime (what the kernel ctr does) */
struct load_ctx {
	struct img *im;
	struct runtime *rt;
	int nr_reports[3];
};

static int ld_read(void *ctx, u64 mdi, void *buf)
{
	struct load_ctx *l = ctx;

	if (mdi >= l->im->limit)
		return -ENXIO;
	memcpy(buf, blk(l->im, mdi), BS);
	return 0;
}

static int ld_pair(void *ctx, const struct dmr_pair_info *pi)
{
	struct load_ctx *l = ctx;
	u64 p = dmr_pair_id(&l->rt->g, pi->area, pi->index);

	if (pi->copy < 0)
		return 0;
	l->rt->cur[p] = (u8)pi->copy;
	l->rt->gen[p] = pi->generation;
	l->rt->leftover[p] = !!(pi->flags & DMR_PAIR_LEFTOVER);
	return 0;
}

static int ld_record(void *ctx, const struct dmr_record *r)
{
	struct load_ctx *l = ctx;
	u64 v;

	if (r->area == DMR_AREA_ENTRY) {
		v = dmr_rec_make(r->type, r->type == DMR_REC_MAPPED ? r->block : 0);
		if (l->rt->st.ent[r->pos])
			return -EEXIST;
		l->rt->st.ent[r->pos] = v;
	} else {
		l->rt->st.pend[r->pos] = dmr_rec_make(r->type, r->block);
	}
	return 0;
}

static void ld_report(void *ctx, const struct dmr_report *r)
{
	struct load_ctx *l = ctx;

	l->nr_reports[r->sev]++;
}

static const struct dmr_scan_ops ld_ops = {
	.read = ld_read, .pair = ld_pair, .record = ld_record,
	.report = ld_report,
};

static u8 scanbuf[2][BS] __attribute__((aligned(64)));

/* returns the scan result; rt must be allocated for the right geometry */
static int load(struct img *im, struct runtime *rt,
		const struct dmr_geometry *expect, struct load_ctx *lc_out)
{
	struct load_ctx lc = { .im = im, .rt = rt };
	struct dmr_scan s;
	int r;

	memset(&s, 0, sizeof(s));
	s.ops = &ld_ops;
	s.ctx = &lc;
	s.buf[0] = scanbuf[0];
	s.buf[1] = scanbuf[1];
	memset(rt->st.ent, 0, rt->g.nr_slots * 8);
	memset(rt->st.pend, 0, rt->g.pending_capacity * 8);
	memset(rt->cur, 0, rt->nr_pairs);
	memset(rt->gen, 0, rt->nr_pairs * 8);
	memset(rt->leftover, 0, rt->nr_pairs);
	r = dmr_scan(&s, expect);
	if (lc_out)
		*lc_out = lc;
	if (r)
		return r;
	if (memcmp(&s.geo, &rt->g, sizeof(s.geo)))
		return -EXDEV;
	rt->sb_copy = s.sb_copy;
	rt->sb_gen = s.sb.generation;
	rt->next_gen = s.next_gen;
	rt->digest = s.sb.pair_digest;
	memcpy(rt->uuid, s.sb.uuid, DMR_UUID_SIZE);
	return 0;
}

struct write {
	u64 mdi;
	u8 data[BS];
};

/*
 * The commit protocol of docs/metadata-format.md: every dirty pair (and
 * every pair holding a leftover, unless @skip_cleaning) is written to its
 * non-current copy with generation G, then (after a flush) superblock
 * copy G % 2. Returns the number of writes; the last is the superblock.
 */
static size_t plan_commit(const struct runtime *rt, const struct tstate *ns,
			  struct write *w, bool skip_cleaning, u64 *new_digest)
{
	const struct dmr_geometry *g = &rt->g;
	u64 G = rt->next_gen, p, digest = rt->digest, idx;
	u64 cnt[3] = { 0, 0, 0 };
	struct dmr_sb sb;
	enum dmr_area a;
	size_t n = 0;
	u32 j, c;

	for (p = 0; p < rt->nr_pairs; p++) {
		if (!pair_differs(&rt->st, ns, g, p) &&
		    (skip_cleaning || !rt->leftover[p]))
			continue;
		pair_area(g, p, &a, &idx);
		c = 1 - rt->cur[p];
		dmr_block_init(w[n].data, a, idx, c, G, rt->uuid);
		for (j = 0; j < g->entries_per_block; j++)
			dmr_block_set(w[n].data, j, ts_rec(ns, g, p, j));
		dmr_block_seal(w[n].data);
		w[n].mdi = dmr_md_index(g, a, idx, c);
		digest -= dmr_digest_term(p, rt->gen[p]);
		digest += dmr_digest_term(p, G);
		n++;
	}
	for (p = 0; p < g->nr_slots; p++) {
		if (dmr_rec_type(ns->ent[p]) == DMR_REC_MAPPED)
			cnt[0]++;
		else if (dmr_rec_type(ns->ent[p]) == DMR_REC_BAD)
			cnt[1]++;
	}
	for (p = 0; p < g->pending_capacity; p++)
		cnt[2] += !!ns->pend[p];
	dmr_sb_init(&sb, g, rt->uuid);
	sb.generation = G;
	sb.copy = (u32)(G & 1);
	sb.nr_mapped = cnt[0];
	sb.nr_bad = cnt[1];
	sb.nr_pending = cnt[2];
	sb.pair_digest = digest;
	dmr_sb_encode(w[n].data, &sb);
	w[n].mdi = sb.copy;
	if (new_digest)
		*new_digest = digest;
	return n + 1;
}

static void apply(struct img *im, const struct write *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		memcpy(blk(im, w[i].mdi), w[i].data, BS);
}

/* a fresh formatted image (as dm-remap-tool format writes it) */
static void format_img(struct img *im, const struct dmr_geometry *g,
		       const u8 *uuid)
{
	struct dmr_sb sb;
	u32 c;

	img_init(im, g->nr_md_blocks);
	dmr_sb_init(&sb, g, uuid);
	for (c = 1; c <= 2; c++) {
		sb.generation = c;
		sb.copy = c & 1;
		dmr_sb_encode(blk(im, sb.copy), &sb);
	}
}

static const u8 uuid1[DMR_UUID_SIZE] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const u8 uuid2[DMR_UUID_SIZE] = {
	16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 1 };

static void small_geo(struct dmr_geometry *g, u64 slots_hint)
{
	/* spare sized for about @slots_hint 4 KiB slots */
	u64 len = slots_hint * 8 + 2048;
	int r = dmr_geometry_compute(g, 4096, 1ULL << 24, 0, len, NULL);

	if (r)
		abort();
}

/* random change of a state: map, unmap, mark bad, pending add/remove */
static void mutate(struct tstate *t, const struct dmr_geometry *g, int ops)
{
	u64 s, b;

	while (ops--) {
		s = rnd_below(g->nr_slots);
		switch (rnd_below(5)) {
		case 0:
		case 1:
			if (!t->ent[s]) {
				b = rnd_below(g->nr_blocks);
				t->ent[s] = dmr_rec_make(DMR_REC_MAPPED, b);
			}
			break;
		case 2:
			if (dmr_rec_type(t->ent[s]) == DMR_REC_MAPPED)
				t->ent[s] = 0;
			break;
		case 3:
			t->ent[s] = dmr_rec_make(DMR_REC_BAD, 0);
			break;
		default:
			s = rnd_below(g->pending_capacity);
			t->pend[s] = t->pend[s] ? 0 :
				dmr_rec_make(DMR_REC_PENDING,
					     rnd_below(g->nr_blocks));
		}
	}
}

/* run one full commit and account for it in rt */
static void commit_ok(struct img *im, struct runtime *rt, const struct tstate *ns)
{
	size_t nw, i;
	struct write *w = malloc((rt->nr_pairs + 1) * sizeof(*w));
	u64 d, p;

	nw = plan_commit(rt, ns, w, false, &d);
	apply(im, w, nw);
	for (i = 0; i + 1 < nw; i++) {
		for (p = 0; p < rt->nr_pairs; p++) {
			enum dmr_area a;
			u64 idx;

			pair_area(&rt->g, p, &a, &idx);
			if (dmr_md_index(&rt->g, a, idx, 0) == w[i].mdi ||
			    dmr_md_index(&rt->g, a, idx, 1) == w[i].mdi) {
				rt->cur[p] = 1 - rt->cur[p];
				rt->gen[p] = rt->next_gen;
				rt->leftover[p] = 0;
			}
		}
	}
	rt->digest = d;
	rt->sb_gen = rt->next_gen;
	rt->sb_copy = (int)(rt->next_gen & 1);
	rt->next_gen = dmr_next_generation(rt->sb_gen, (u32)rt->sb_copy);
	ts_copy(&rt->st, ns, &rt->g);
	free(w);
}

/* ---- tests: crc32c ------------------------------------------------------ */

static void t_crc32c(void)
{
	static const char v[] = "123456789";
	u8 buf[300];
	u32 a, b;
	int i, off, len;

	EQ(crc32c(~0u, v, 9) ^ ~0u, 0xe3069283u);
	EQ(crc32c_generic(~0u, v, 9) ^ ~0u, 0xe3069283u);
	EQ(crc32c(0, v, 0), 0);
	EQ(crc32c(0x12345678, v, 0), 0x12345678);
	/* 32 bytes of zeroes, iSCSI (RFC 3720) vector */
	memset(buf, 0, 32);
	EQ(crc32c(~0u, buf, 32) ^ ~0u, 0x8a9136aau);
	memset(buf, 0xff, 32);
	EQ(crc32c(~0u, buf, 32) ^ ~0u, 0x62a8ab43u);
	for (i = 0; i < 300; i++)
		buf[i] = (u8)rnd();
	for (off = 0; off < 9; off++)
		for (len = 0; len < 280; len += 7) {
			a = crc32c(0xabcdef01u, buf + off, (size_t)len);
			b = crc32c_generic(0xabcdef01u, buf + off, (size_t)len);
			CHECK(a == b, "hw/sw differ off %d len %d", off, len);
			/* chaining: crc(crc(s, x), y) == crc(s, x || y) */
			b = crc32c(crc32c(0xabcdef01u, buf + off, (size_t)len / 2),
				   buf + off + len / 2, (size_t)(len - len / 2));
			CHECK(a == b, "chaining off %d len %d", off, len);
		}
}

/* ---- tests: layout ------------------------------------------------------ */

static void t_layout(void)
{
	EQ(sizeof(struct dmr_disk_sb), 4096);
	EQ(offsetof(struct dmr_disk_sb, csum), 0);
	EQ(offsetof(struct dmr_disk_sb, flags), 4);
	EQ(offsetof(struct dmr_disk_sb, magic), 8);
	EQ(offsetof(struct dmr_disk_sb, version), 16);
	EQ(offsetof(struct dmr_disk_sb, copy), 20);
	EQ(offsetof(struct dmr_disk_sb, generation), 24);
	EQ(offsetof(struct dmr_disk_sb, uuid), 32);
	EQ(offsetof(struct dmr_disk_sb, block_size), 48);
	EQ(offsetof(struct dmr_disk_sb, md_block_size), 52);
	EQ(offsetof(struct dmr_disk_sb, main_sectors), 56);
	EQ(offsetof(struct dmr_disk_sb, spare_start), 64);
	EQ(offsetof(struct dmr_disk_sb, spare_len), 72);
	EQ(offsetof(struct dmr_disk_sb, nr_slots), 80);
	EQ(offsetof(struct dmr_disk_sb, nr_entry_blocks), 88);
	EQ(offsetof(struct dmr_disk_sb, nr_pending_blocks), 96);
	EQ(offsetof(struct dmr_disk_sb, entries_per_block), 100);
	EQ(offsetof(struct dmr_disk_sb, data_start), 104);
	EQ(offsetof(struct dmr_disk_sb, nr_mapped), 112);
	EQ(offsetof(struct dmr_disk_sb, nr_bad), 120);
	EQ(offsetof(struct dmr_disk_sb, nr_pending), 128);
	EQ(offsetof(struct dmr_disk_sb, pair_digest), 136);
	EQ(offsetof(struct dmr_disk_sb, scrub_state), 144);
	EQ(offsetof(struct dmr_disk_sb, scrub_pad), 148);
	EQ(offsetof(struct dmr_disk_sb, scrub_pos), 152);
	EQ(offsetof(struct dmr_disk_sb, scrub_last_pass), 160);
	EQ(offsetof(struct dmr_disk_sb, reserved), 168);
	EQ(offsetof(struct dmr_disk_block_header, csum), 0);
	EQ(offsetof(struct dmr_disk_block_header, copy), 4);
	EQ(offsetof(struct dmr_disk_block_header, magic), 8);
	EQ(offsetof(struct dmr_disk_block_header, generation), 16);
	EQ(offsetof(struct dmr_disk_block_header, index), 24);
	EQ(offsetof(struct dmr_disk_block_header, uuid), 32);
	EQ(DMR_ENTRIES_PER_BLOCK, 506);
	/* magic bytes as they appear on disk */
	{
		u8 b[BS];
		struct dmr_sb sb;
		struct dmr_geometry g;

		small_geo(&g, 100);
		dmr_sb_init(&sb, &g, uuid1);
		sb.generation = 2;
		dmr_sb_encode(b, &sb);
		CHECK(!memcmp(b + 8, "DMREMPSB", 8), "sb magic bytes");
		dmr_block_init(b, DMR_AREA_ENTRY, 0, 0, 1, uuid1);
		CHECK(!memcmp(b + 8, "DMREMPEN", 8), "entry magic bytes");
		dmr_block_init(b, DMR_AREA_PENDING, 0, 0, 1, uuid1);
		CHECK(!memcmp(b + 8, "DMREMPPD", 8), "pending magic bytes");
	}
}

/* ---- tests: geometry ---------------------------------------------------- */

/* independent model of the size rule */
static u64 need_model(u64 s, u32 bsec)
{
	u64 n = (s + 505) / 506, md = (2 + 2 * n + 16) * 8;

	md = (md + bsec - 1) / bsec * bsec;
	return md + s * bsec;
}

static void check_geo_invariants(const struct dmr_geometry *g)
{
	u32 bsec = g->block_size / 512;

	EQ(g->block_sectors, bsec);
	EQ(1u << g->block_shift, bsec);
	EQ(g->nr_blocks * bsec, g->main_sectors);
	CHECK(need_model(g->nr_slots, bsec) <= g->spare_len, "slots fit");
	CHECK(g->nr_slots == DMR_MAX_SLOTS ||
	      need_model(g->nr_slots + 1, bsec) > g->spare_len,
	      "slots maximal: %" PRIu64, g->nr_slots);
	EQ(g->nr_entry_blocks, (g->nr_slots + 505) / 506);
	EQ(g->nr_md_blocks, 2 + 2 * g->nr_entry_blocks + 16);
	EQ(g->md_sectors % bsec, 0);
	CHECK(g->md_sectors >= g->nr_md_blocks * 8 &&
	      g->md_sectors < g->nr_md_blocks * 8 + bsec, "md_sectors");
	EQ(g->data_start, g->spare_start + g->md_sectors);
	CHECK(dmr_slot_sector(g, g->nr_slots - 1) + bsec <=
	      g->spare_start + g->spare_len, "last slot inside spare");
	CHECK(dmr_md_sector(g, g->nr_md_blocks - 1) + 8 <= g->data_start,
	      "metadata before data");
	EQ(g->pending_capacity, 8 * 506);
}

static void t_geometry(void)
{
	struct dmr_geometry g;
	const char *why;
	u64 min_len, s, slot, idx;
	u32 bs, pos;
	int r, i;

	/* block size */
	why = NULL;
	EQ(dmr_geometry_compute(&g, 256, 1024, 0, 1 << 20, &why), -EINVAL);
	CHECK(why && *why, "reason given");
	EQ(dmr_geometry_compute(&g, 3072, 6 * 1024, 0, 1 << 20, &why), -EINVAL);
	EQ(dmr_geometry_compute(&g, 131072, 1 << 20, 0, 1 << 20, &why), -EINVAL);
	EQ(dmr_geometry_compute(&g, 0, 1 << 20, 0, 1 << 20, &why), -EINVAL);
	for (bs = 512; bs <= 65536; bs *= 2) {
		EQ(dmr_geometry_compute(&g, bs, 1 << 20, 0, 1 << 20, &why), 0);
		check_geo_invariants(&g);
	}
	/* main length */
	EQ(dmr_geometry_compute(&g, 4096, 0, 0, 1 << 20, &why), -EINVAL);
	EQ(dmr_geometry_compute(&g, 4096, 1001, 0, 1 << 20, &why), -EINVAL);
	EQ(dmr_geometry_compute(&g, 4096, 1ULL << 63, 0, 1 << 20, &why), 0);
	EQ(g.nr_blocks, 1ULL << 60);
	EQ(dmr_geometry_compute(&g, 4096, (1ULL << 63) + 8, 0, 1 << 20, &why),
	   -EOVERFLOW);
	EQ(dmr_geometry_compute(&g, 4096, U64_MAX - 7, 0, 1 << 20, &why),
	   -EOVERFLOW);
	EQ(dmr_geometry_compute(&g, 512, 1ULL << 61, 0, 1 << 20, &why),
	   -EOVERFLOW);
	EQ(dmr_geometry_compute(&g, 512, 1ULL << 60, 0, 1 << 20, &why), 0);
	/* spare end */
	EQ(dmr_geometry_compute(&g, 4096, 8, U64_MAX, 1 << 20, &why), -EOVERFLOW);
	EQ(dmr_geometry_compute(&g, 4096, 8, 1ULL << 62, (1ULL << 62) + 1, &why),
	   -EOVERFLOW);
	EQ(dmr_geometry_compute(&g, 65536, 128, (1ULL << 62), (1ULL << 62) - 4096,
				&why), -EOVERFLOW);	/* > 2^32 slots */
	EQ(dmr_geometry_compute(&g, 65536, 128, (1ULL << 62), 1ULL << 38, &why), 0);
	check_geo_invariants(&g);
	EQ(dmr_geometry_compute(&g, 512, 1, 0, 1ULL << 42, &why), -EOVERFLOW);
	CHECK(why && strstr(why, "slots"), "slots reason");
	/* exactly 2^32 slots is accepted */
	min_len = need_model(1ULL << 32, 1);
	EQ(dmr_geometry_compute(&g, 512, 1, 0, min_len, &why), 0);
	EQ(g.nr_slots, 1ULL << 32);
	EQ(dmr_geometry_compute(&g, 512, 1, 0, need_model((1ULL << 32) + 1, 1),
				&why), -EOVERFLOW);
	/* spare too small: metadata + one block */
	for (bs = 512; bs <= 65536; bs *= 2) {
		u32 bsec = bs / 512;

		min_len = need_model(1, bsec);
		EQ(dmr_geometry_compute(&g, bs, bsec, 100, min_len - 1, &why),
		   -ENOSPC);
		EQ(dmr_geometry_compute(&g, bs, bsec, 100, min_len, &why), 0);
		EQ(g.nr_slots, 1);
		check_geo_invariants(&g);
	}
	EQ(dmr_geometry_compute(&g, 4096, 8, 0, 0, &why), -ENOSPC);
	/* 256 TiB main, 256 GiB spare, 4 KiB blocks */
	EQ(dmr_geometry_compute(&g, 4096, 1ULL << 39, 2048, 1ULL << 29, &why), 0);
	check_geo_invariants(&g);
	EQ(g.nr_blocks, 1ULL << 36);
	CHECK(g.nr_slots > (1ULL << 26) / 100 * 99 && g.nr_slots < (1ULL << 26),
	      "256G spare slots %" PRIu64, g.nr_slots);
	/* 2^63-sector spare end at 64 KiB blocks */
	r = dmr_geometry_compute(&g, 65536, 1ULL << 63, 0, 1ULL << 63, &why);
	EQ(r, -EOVERFLOW);	/* 2^56 slots > 2^32 */
	/* random geometries, small and large */
	for (i = 0; i < 3000; i++) {
		u32 bsec;

		bs = 512u << rnd_below(8);
		bsec = bs / 512;
		s = rnd_below(4) ? rnd_below(1ULL << 24) :
				   rnd_below(1ULL << (30 + rnd_below(33)));
		r = dmr_geometry_compute(&g, bs, (rnd_below(1ULL << 40) + 1) * bsec,
					 rnd_below(1ULL << 40), s, &why);
		if (!r) {
			check_geo_invariants(&g);
			/* slot <-> entry */
			slot = rnd_below(g.nr_slots);
			idx = dmr_slot_to_entry(&g, slot, &pos);
			EQ(idx * 506 + pos, slot);
			CHECK(idx < g.nr_entry_blocks, "entry idx in range");
		} else {
			CHECK(r == -ENOSPC || r == -EOVERFLOW, "r %d", r);
			if (r == -ENOSPC)
				CHECK(need_model(1, bsec) > s, "ENOSPC wrong");
		}
		if (cur_fail)
			break;
	}
	/* metadata indexes */
	small_geo(&g, 2000);
	EQ(dmr_md_index(&g, DMR_AREA_SB, 0, 1), 1);
	EQ(dmr_md_index(&g, DMR_AREA_ENTRY, 0, 0), 2);
	EQ(dmr_md_index(&g, DMR_AREA_ENTRY, 3, 1), 9);
	EQ(dmr_md_index(&g, DMR_AREA_PENDING, 0, 0), 2 + 2 * g.nr_entry_blocks);
	EQ(dmr_md_index(&g, DMR_AREA_PENDING, 7, 1), g.nr_md_blocks - 1);
	EQ(dmr_md_sector(&g, 5), g.spare_start + 40);
	EQ(dmr_main_sector(&g, 3), 24);
	EQ(dmr_pair_id(&g, DMR_AREA_PENDING, 2), g.nr_entry_blocks + 2);
}

/* ---- tests: records ----------------------------------------------------- */

static void t_records(void)
{
	struct dmr_geometry g;
	const char *why;
	u64 r;

	small_geo(&g, 1000);
	r = dmr_rec_make(DMR_REC_MAPPED, 12345);
	EQ(dmr_rec_type(r), DMR_REC_MAPPED);
	EQ(dmr_rec_arg(r), 12345);
	EQ(dmr_rec_make(DMR_REC_MAPPED, DMR_REC_ARG_MASK) >> 60, 1);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 0, 0, &why), 0);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, r, &why), 0);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, g.nr_slots - 1,
			 dmr_rec_make(DMR_REC_MAPPED, g.nr_blocks - 1), &why), 0);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5,
			 dmr_rec_make(DMR_REC_MAPPED, g.nr_blocks), &why), -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, g.nr_slots, r, &why), -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, dmr_rec_make(DMR_REC_BAD, 0),
			 &why), 0);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, dmr_rec_make(DMR_REC_BAD, 1),
			 &why), -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, 7, &why), -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, dmr_rec_make(DMR_REC_PENDING, 1),
			 &why), -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_ENTRY, 5, dmr_rec_make(15, 1), &why),
	   -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_PENDING, 5,
			 dmr_rec_make(DMR_REC_PENDING, 1), &why), 0);
	EQ(dmr_rec_check(&g, DMR_AREA_PENDING, 5,
			 dmr_rec_make(DMR_REC_PENDING, g.nr_blocks), &why),
	   -EUCLEAN);
	EQ(dmr_rec_check(&g, DMR_AREA_PENDING, 5, r, &why), -EUCLEAN);
}

/* ---- tests: superblock -------------------------------------------------- */

static void reseal_sb(u8 *b)
{
	struct dmr_disk_sb *d = (struct dmr_disk_sb *)b;

	d->csum = cpu_to_le32(crc32c(~0u, b + 4, BS - 4) ^ DMR_SB_CSUM_XOR);
}

static void t_superblock(void)
{
	struct dmr_geometry g;
	struct dmr_sb sb, out;
	struct dmr_disk_sb *d;
	const char *why;
	u8 b[BS], b2[BS];
	int i;

	for (i = 0; i < 200; i++) {
		u32 bs = 512u << rnd_below(8);

		if (dmr_geometry_compute(&g, bs, (rnd_below(1ULL << 30) + 1) * (bs / 512),
					 rnd_below(1ULL << 40),
					 rnd_below(1ULL << 30) + (1 << 20), NULL))
			continue;
		dmr_sb_init(&sb, &g, i & 1 ? uuid1 : uuid2);
		sb.generation = rnd_below(DMR_MAX_GENERATION);
		sb.copy = sb.generation & 1;
		sb.nr_mapped = rnd_below(g.nr_slots / 2);
		sb.nr_bad = rnd_below(g.nr_slots / 2);
		sb.nr_pending = rnd_below(g.pending_capacity + 1);
		sb.pair_digest = rnd();
		if (i % 3) {	/* a scrub running or paused: flag set */
			sb.flags = DMR_SB_FLAG_SCRUB;
			sb.scrub_state = DMR_SCRUB_RUNNING + rnd_below(2);
			sb.scrub_pos = rnd_below(g.nr_blocks + 1);
			sb.scrub_last_pass = rnd();
		}
		dmr_sb_encode(b, &sb);
		EQ(dmr_sb_decode(b, sb.copy, &out, &why), DMR_BLK_VALID);
		CHECK(!memcmp(&sb, &out, sizeof(sb)), "sb round trip");
		EQ(dmr_sb_check_geometry(&out, &g, &why), 0);
		EQ(dmr_sb_decode(b, !sb.copy, &out, &why), DMR_BLK_BAD_COPY);
	}
	small_geo(&g, 1000);
	dmr_sb_init(&sb, &g, uuid1);
	sb.generation = 6;
	dmr_sb_encode(b, &sb);
	d = (struct dmr_disk_sb *)b2;
	EQ(dmr_sb_decode(b, 0, &out, &why), DMR_BLK_VALID);
	memset(b2, 0, BS);
	EQ(dmr_sb_decode(b2, 0, &out, &why), DMR_BLK_ZERO);
	for (i = 0; i < BS; i++)
		b2[i] = (u8)rnd();
	EQ(dmr_sb_decode(b2, 0, &out, &why), DMR_BLK_FOREIGN);
	memcpy(b2, b, BS);
	b2[200] ^= 1;
	EQ(dmr_sb_decode(b2, 0, &out, &why), DMR_BLK_BAD_CSUM);
	dmr_block_init(b2, DMR_AREA_ENTRY, 0, 0, 1, uuid1);
	dmr_block_seal(b2);
	EQ(dmr_sb_decode(b2, 0, &out, &why), DMR_BLK_BAD_CSUM);
	/* field checks behind a good checksum */
#define MUT(stmt, want)							\
	do {								\
		memcpy(b2, b, BS);					\
		stmt;							\
		reseal_sb(b2);						\
		EQ(dmr_sb_decode(b2, 0, &out, &why), want);		\
	} while (0)
	MUT(d->magic = cpu_to_le64(DMR_ENTRY_MAGIC), DMR_BLK_BAD_MAGIC);
	MUT(d->magic = cpu_to_le64(0x1234), DMR_BLK_FOREIGN);
	MUT(d->version = cpu_to_le32(2), DMR_BLK_NEWER);
	MUT(d->version = cpu_to_le32(0), DMR_BLK_BAD_FIELD);
	MUT(d->flags = cpu_to_le32(2), DMR_BLK_NEWER);
	/* scrub fields: only with their flag, and in range */
	MUT(d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB), DMR_BLK_VALID);
	MUT(d->scrub_last_pass = cpu_to_le64(1), DMR_BLK_BAD_FIELD);
	MUT((d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB),
	     d->scrub_state = cpu_to_le32(DMR_SCRUB_PAUSED),
	     d->scrub_pos = cpu_to_le64(g.nr_blocks)), DMR_BLK_VALID);
	MUT((d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB),
	     d->scrub_state = cpu_to_le32(DMR_SCRUB_RUNNING),
	     d->scrub_pos = cpu_to_le64(g.nr_blocks + 1)), DMR_BLK_BAD_FIELD);
	MUT((d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB),
	     d->scrub_state = cpu_to_le32(3)), DMR_BLK_BAD_FIELD);
	MUT((d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB),
	     d->scrub_pos = cpu_to_le64(5)), DMR_BLK_BAD_FIELD);
	MUT((d->flags = cpu_to_le32(DMR_SB_FLAG_SCRUB),
	     d->scrub_pad = cpu_to_le32(1)), DMR_BLK_BAD_FIELD);
	MUT(d->copy = cpu_to_le32(1), DMR_BLK_BAD_COPY);
	MUT(d->generation = cpu_to_le64(7), DMR_BLK_BAD_FIELD);
	MUT(d->generation = cpu_to_le64(DMR_MAX_GENERATION + 2), DMR_BLK_BAD_FIELD);
	MUT(d->md_block_size = cpu_to_le32(512), DMR_BLK_BAD_FIELD);
	MUT(d->block_size = cpu_to_le32(1000), DMR_BLK_BAD_FIELD);
	MUT(d->main_sectors = cpu_to_le64(12), DMR_BLK_BAD_FIELD);
	MUT(d->spare_len = cpu_to_le64(g.spare_len + 8 * 600), DMR_BLK_BAD_FIELD);
	MUT(d->nr_slots = cpu_to_le64(g.nr_slots + 1), DMR_BLK_BAD_FIELD);
	MUT(d->nr_entry_blocks = cpu_to_le64(g.nr_entry_blocks + 1), DMR_BLK_BAD_FIELD);
	MUT(d->nr_pending_blocks = cpu_to_le32(9), DMR_BLK_BAD_FIELD);
	MUT(d->entries_per_block = cpu_to_le32(500), DMR_BLK_BAD_FIELD);
	MUT(d->data_start = cpu_to_le64(g.data_start + 8), DMR_BLK_BAD_FIELD);
	MUT(d->nr_mapped = cpu_to_le64(g.nr_slots + 1), DMR_BLK_BAD_FIELD);
	MUT((d->nr_mapped = cpu_to_le64(g.nr_slots),
	     d->nr_bad = cpu_to_le64(1)), DMR_BLK_BAD_FIELD);
	MUT(d->nr_pending = cpu_to_le64(g.pending_capacity + 1), DMR_BLK_BAD_FIELD);
	MUT(d->reserved[3000] = 1, DMR_BLK_BAD_FIELD);
	MUT(d->reserved[0] = 0, DMR_BLK_VALID);
#undef MUT
	/* geometry differs from the table line */
	{
		struct dmr_geometry g2;

		dmr_geometry_compute(&g2, 4096, g.main_sectors + 8, 0,
				     g.spare_len, NULL);
		CHECK(dmr_sb_check_geometry(&sb, &g2, &why) == -EINVAL && why,
		      "main mismatch");
		dmr_geometry_compute(&g2, 512, g.main_sectors, 0, g.spare_len,
				     NULL);
		EQ(dmr_sb_check_geometry(&sb, &g2, &why), -EINVAL);
		dmr_geometry_compute(&g2, 4096, g.main_sectors, 8, g.spare_len,
				     NULL);
		EQ(dmr_sb_check_geometry(&sb, &g2, &why), -EINVAL);
	}
}

static void t_pick_sb(void)
{
	struct dmr_sb_copy c[2];
	struct dmr_geometry g;
	const char *why;

	small_geo(&g, 1000);
	memset(c, 0, sizeof(c));
	dmr_sb_init(&c[0].sb, &g, uuid1);
	dmr_sb_init(&c[1].sb, &g, uuid1);
	c[0].sb.generation = 4;
	c[1].sb.generation = 5;
	c[0].state = c[1].state = DMR_BLK_VALID;
	EQ(dmr_pick_sb(c, &why), 1);
	c[0].sb.generation = 6;
	EQ(dmr_pick_sb(c, &why), 0);
	c[1].state = DMR_BLK_BAD_CSUM;
	EQ(dmr_pick_sb(c, &why), 0);
	c[0].state = DMR_BLK_FOREIGN;
	c[1].state = DMR_BLK_VALID;
	EQ(dmr_pick_sb(c, &why), 1);
	c[0].state = DMR_BLK_ZERO;
	EQ(dmr_pick_sb(c, &why), 1);
	c[1].state = DMR_BLK_ZERO;
	EQ(dmr_pick_sb(c, &why), -ENODATA);
	c[1].state = DMR_BLK_FOREIGN;
	EQ(dmr_pick_sb(c, &why), -EINVAL);
	c[0].state = DMR_BLK_FOREIGN;
	EQ(dmr_pick_sb(c, &why), -EINVAL);
	c[0].state = DMR_BLK_BAD_CSUM;
	EQ(dmr_pick_sb(c, &why), -EUCLEAN);
	c[0].state = DMR_BLK_BAD_FIELD;
	c[1].state = DMR_BLK_ZERO;
	EQ(dmr_pick_sb(c, &why), -EUCLEAN);
	c[0].state = DMR_BLK_NEWER;
	c[1].state = DMR_BLK_VALID;
	EQ(dmr_pick_sb(c, &why), -EOPNOTSUPP);
	c[0].state = DMR_BLK_VALID;
	c[0].sb.uuid[0] ^= 1;
	EQ(dmr_pick_sb(c, &why), -EUCLEAN);
	c[0].sb.uuid[0] ^= 1;
	c[0].sb.main_sectors += 8;
	EQ(dmr_pick_sb(c, &why), -EUCLEAN);
}

/* ---- tests: blocks ------------------------------------------------------ */

static void t_blocks(void)
{
	struct dmr_geometry g;
	struct dmr_blk_info in;
	struct dmr_disk_block_header *h;
	u64 recs[DMR_ENTRIES_PER_BLOCK];
	u8 b[BS], b2[BS];
	u32 j;
	int i;

	small_geo(&g, 2000);
	h = (struct dmr_disk_block_header *)b2;
	for (i = 0; i < 100; i++) {
		u64 idx = rnd_below(g.nr_entry_blocks);
		u32 c = (u32)rnd_below(2);
		u64 gen = rnd_below(DMR_MAX_GENERATION) + 1;

		dmr_block_init(b, DMR_AREA_ENTRY, idx, c, gen, uuid1);
		for (j = 0; j < DMR_ENTRIES_PER_BLOCK; j++) {
			recs[j] = rnd_below(3) ? 0 :
				dmr_rec_make(DMR_REC_MAPPED, rnd_below(g.nr_blocks));
			dmr_block_set(b, j, recs[j]);
		}
		dmr_block_seal(b);
		dmr_block_check(&g, b, DMR_AREA_ENTRY, idx, c, uuid1, &in, NULL);
		EQ(in.state, DMR_BLK_VALID);
		EQ(in.generation, gen);
		for (j = 0; j < DMR_ENTRIES_PER_BLOCK; j++)
			EQ(dmr_block_get(b, j), recs[j]);
		dmr_block_check(&g, b, DMR_AREA_ENTRY, idx, !c, uuid1, &in, NULL);
		EQ(in.state, DMR_BLK_BAD_COPY);
		dmr_block_check(&g, b, DMR_AREA_ENTRY, idx + 1, c, uuid1, &in, NULL);
		EQ(in.state, DMR_BLK_BAD_INDEX);
		dmr_block_check(&g, b, DMR_AREA_PENDING, idx, c, uuid1, &in, NULL);
		EQ(in.state, DMR_BLK_BAD_CSUM);	/* xor differs per kind */
		dmr_block_check(&g, b, DMR_AREA_ENTRY, idx, c, uuid2, &in, NULL);
		EQ(in.state, DMR_BLK_STALE);
		EQ(in.generation, 0);
	}
	memset(b2, 0, BS);
	dmr_block_check(&g, b2, DMR_AREA_ENTRY, 0, 0, uuid1, &in, NULL);
	EQ(in.state, DMR_BLK_ZERO);
	for (i = 0; i < BS; i++)
		b2[i] = (u8)rnd();
	dmr_block_check(&g, b2, DMR_AREA_ENTRY, 0, 0, uuid1, &in, NULL);
	EQ(in.state, DMR_BLK_FOREIGN);
	dmr_block_init(b, DMR_AREA_PENDING, 2, 1, 9, uuid1);
	dmr_block_set(b, 3, dmr_rec_make(DMR_REC_PENDING, 77));
	dmr_block_seal(b);
	dmr_block_check(&g, b, DMR_AREA_PENDING, 2, 1, uuid1, &in, NULL);
	EQ(in.state, DMR_BLK_VALID);
	dmr_block_check(&g, b, DMR_AREA_PENDING, 8, 1, uuid1, &in, NULL);
	EQ(in.state, DMR_BLK_BAD_INDEX);	/* beyond K */
#define MUTB(stmt, want)						\
	do {								\
		memcpy(b2, b, BS);					\
		stmt;							\
		dmr_block_seal(b2);					\
		dmr_block_check(&g, b2, DMR_AREA_PENDING, 2, 1, uuid1, &in, NULL); \
		EQ(in.state, want);					\
	} while (0)
	MUTB(h->generation = 0, DMR_BLK_BAD_FIELD);
	MUTB(h->generation = cpu_to_le64(DMR_MAX_GENERATION + 1), DMR_BLK_BAD_FIELD);
	MUTB(h->index = cpu_to_le64(3), DMR_BLK_BAD_INDEX);
	MUTB(h->copy = cpu_to_le32(0), DMR_BLK_BAD_COPY);
	MUTB(h->uuid[5] ^= 0x40, DMR_BLK_STALE);
	MUTB(h->magic = cpu_to_le64(DMR_ENTRY_MAGIC), DMR_BLK_BAD_CSUM);
#undef MUTB
	memcpy(b2, b, BS);
	h->csum ^= cpu_to_le32(1);
	dmr_block_check(&g, b2, DMR_AREA_PENDING, 2, 1, uuid1, &in, NULL);
	EQ(in.state, DMR_BLK_BAD_CSUM);
	CHECK(dmr_is_md_block(b) && !dmr_is_md_block(b2 + 1), "magic probe");
}

static void t_pick_copy(void)
{
	struct dmr_blk_info a, b;

#define P(sa, ga, sb_, gb, sbgen, want)					\
	do {								\
		a.state = sa; a.generation = ga;			\
		b.state = sb_; b.generation = gb;			\
		EQ(dmr_pick_copy(&a, &b, sbgen), (u64)(s64)(want));	\
	} while (0)
	P(DMR_BLK_ZERO, 0, DMR_BLK_ZERO, 0, 5, 0);
	P(DMR_BLK_VALID, 3, DMR_BLK_ZERO, 0, 5, 0);
	P(DMR_BLK_ZERO, 0, DMR_BLK_VALID, 3, 5, 1);
	P(DMR_BLK_VALID, 3, DMR_BLK_VALID, 4, 5, 1);
	P(DMR_BLK_VALID, 5, DMR_BLK_VALID, 4, 5, 0);
	P(DMR_BLK_VALID, 6, DMR_BLK_VALID, 4, 5, 1);	/* leftover ignored */
	P(DMR_BLK_VALID, 3, DMR_BLK_VALID, 9, 5, 0);
	P(DMR_BLK_VALID, 6, DMR_BLK_ZERO, 0, 5, 1);
	P(DMR_BLK_BAD_CSUM, 0, DMR_BLK_VALID, 2, 5, 1);
	P(DMR_BLK_VALID, 2, DMR_BLK_FOREIGN, 0, 5, 0);
	P(DMR_BLK_BAD_CSUM, 0, DMR_BLK_ZERO, 0, 5, 1);
	P(DMR_BLK_STALE, 0, DMR_BLK_VALID, 2, 5, 1);
	P(DMR_BLK_STALE, 0, DMR_BLK_BAD_CSUM, 0, 5, 0);
	P(DMR_BLK_BAD_CSUM, 0, DMR_BLK_BAD_INDEX, 0, 5, -EUCLEAN);
	P(DMR_BLK_BAD_CSUM, 0, DMR_BLK_VALID, 6, 5, -EUCLEAN);
	P(DMR_BLK_VALID, 7, DMR_BLK_VALID, 6, 5, -EUCLEAN);
	P(DMR_BLK_VALID, 4, DMR_BLK_VALID, 4, 5, -EUCLEAN);
	P(DMR_BLK_NR_STATES, 0, DMR_BLK_VALID, 4, 5, 1);
#undef P
}

static void t_generations(void)
{
	u64 m, g;
	u32 c;

	for (m = 0; m < 50; m++)
		for (c = 0; c < 2; c++) {
			g = dmr_next_generation(m, c);
			CHECK(g > m && g <= m + 2 && (g & 1) != c,
			      "next gen %" PRIu64 " %u", m, c);
		}
	EQ(dmr_digest_term(5, 0), 0);
	CHECK(dmr_digest_term(5, 1) != dmr_digest_term(5, 2), "term gen");
	CHECK(dmr_digest_term(5, 1) != dmr_digest_term(6, 1), "term pair");
}

/* ---- tests: whole-region scans ------------------------------------------ */

static void t_scan_basic(void)
{
	struct dmr_geometry g, g2;
	struct runtime rt;
	struct img im;
	struct load_ctx lc;

	small_geo(&g, 3000);
	rt_alloc(&rt, &g);
	img_init(&im, g.nr_md_blocks);
	EQ(load(&im, &rt, NULL, NULL), -ENODATA);
	img_free(&im);
	format_img(&im, &g, uuid1);
	EQ(load(&im, &rt, &g, &lc), 0);
	EQ(rt.sb_gen, 2);
	EQ(rt.sb_copy, 0);
	EQ(rt.next_gen, 3);
	EQ(lc.nr_reports[DMR_SEV_ERROR] + lc.nr_reports[DMR_SEV_WARN], 0);
	dmr_geometry_compute(&g2, 4096, g.main_sectors - 8, 0, g.spare_len, NULL);
	EQ(load(&im, &rt, &g2, NULL), -EINVAL);
	/* foreign data */
	memset(blk(&im, 0), 0x5a, BS);
	memset(blk(&im, 1), 0x5a, BS);
	EQ(load(&im, &rt, NULL, NULL), -EINVAL);
	/* newer version */
	img_free(&im);
	format_img(&im, &g, uuid1);
	((struct dmr_disk_sb *)blk(&im, 1))->version = cpu_to_le32(2);
	reseal_sb(blk(&im, 1));
	EQ(load(&im, &rt, NULL, NULL), -EOPNOTSUPP);
	img_free(&im);
	rt_free(&rt);
}

/* random remap sets: commit through the protocol, scan back, compare */
static void t_roundtrip(void)
{
	struct dmr_geometry g;
	struct runtime rt, back;
	struct tstate ns;
	struct img im;
	int round, k;

	for (round = 0; round < 20; round++) {
		small_geo(&g, 200 + rnd_below(5000));
		rt_alloc(&rt, &g);
		rt_alloc(&back, &g);
		ts_alloc(&ns, &g);
		format_img(&im, &g, uuid1);
		EQ(load(&im, &rt, &g, NULL), 0);
		for (k = 0; k < 8; k++) {
			ts_copy(&ns, &rt.st, &g);
			mutate(&ns, &g, (int)rnd_below(200) + 1);
			commit_ok(&im, &rt, &ns);
			EQ(load(&im, &back, &g, NULL), 0);
			CHECK(ts_equal(&back.st, &ns, &g), "round trip %d/%d",
			      round, k);
			EQ(back.sb_gen, rt.sb_gen);
			EQ(back.next_gen, rt.next_gen);
			CHECK(!memcmp(back.cur, rt.cur, rt.nr_pairs) &&
			      !memcmp(back.gen, rt.gen, rt.nr_pairs * 8),
			      "pair state");
			/* sometimes continue from the reloaded runtime */
			if (rnd_below(2)) {
				ts_copy(&rt.st, &back.st, &g);
				memcpy(rt.cur, back.cur, rt.nr_pairs);
				memcpy(rt.gen, back.gen, rt.nr_pairs * 8);
			}
		}
		img_free(&im);
		ts_free(&ns);
		rt_free(&rt);
		rt_free(&back);
		if (cur_fail)
			break;
	}
}

/* build an image with a few commits; returns the runtime of the last one */
static void build_history(struct img *im, struct runtime *rt,
			  struct tstate *prev, int commits)
{
	struct tstate ns;
	int k;

	format_img(im, &rt->g, uuid1);
	if (load(im, rt, &rt->g, NULL))
		abort();
	ts_alloc(&ns, &rt->g);
	for (k = 0; k < commits; k++) {
		ts_copy(&ns, &rt->st, &rt->g);
		mutate(&ns, &rt->g, 60);
		if (prev)
			ts_copy(prev, &rt->st, &rt->g);
		commit_ok(im, rt, &ns);
	}
	ts_free(&ns);
}

/* outcome of scanning a damaged image */
enum outcome { OUT_CUR, OUT_PREV, OUT_ERR, OUT_WRONG };

static enum outcome classify(struct img *im, const struct dmr_geometry *g,
			     const struct tstate *cur, const struct tstate *prev)
{
	struct runtime back;
	enum outcome o;

	rt_alloc(&back, g);
	if (load(im, &back, g, NULL))
		o = OUT_ERR;
	else if (ts_equal(&back.st, cur, g))
		o = OUT_CUR;
	else if (prev && ts_equal(&back.st, prev, g))
		o = OUT_PREV;
	else
		o = OUT_WRONG;
	rt_free(&back);
	return o;
}

static void t_bitflips(void)
{
	struct dmr_geometry g;
	struct runtime rt;
	struct tstate prev;
	struct img im;
	u64 targets[6], mdi, p;
	enum outcome o;
	int t, i, bit, nt = 0;
	int counts[4] = { 0, 0, 0, 0 };

	small_geo(&g, 1500);
	rt_alloc(&rt, &g);
	ts_alloc(&prev, &g);
	build_history(&im, &rt, &prev, 7);
	/* current sb, other sb, current and other copies of two pairs */
	targets[nt++] = (u64)rt.sb_copy;
	targets[nt++] = (u64)!rt.sb_copy;
	for (i = 0; i < 2; i++) {	/* an entry pair, a pending pair */
		enum dmr_area a;
		u64 idx;

		p = i ? g.nr_entry_blocks : 0;
		while (p < rt.nr_pairs && !rt.gen[p])
			p++;
		if (p == rt.nr_pairs)
			break;
		pair_area(&g, p, &a, &idx);
		targets[nt++] = dmr_md_index(&g, a, idx, rt.cur[p]);
		targets[nt++] = dmr_md_index(&g, a, idx, !rt.cur[p]);
	}
	CHECK(nt == 6, "found targets");
	for (t = 0; t < nt; t++) {
		mdi = targets[t];
		for (i = 0; i < BS; i++) {
			for (bit = 0; bit < 8; bit++) {
				/* every bit of the first 160 bytes, one elsewhere */
				if (i >= 160 && bit != i % 8)
					continue;
				blk(&im, mdi)[i] ^= (u8)(1u << bit);
				o = classify(&im, &g, &rt.st, &prev);
				blk(&im, mdi)[i] ^= (u8)(1u << bit);
				counts[o]++;
				if (t == 0)	/* current sb: previous state */
					CHECK(o == OUT_PREV, "sb byte %d bit %d: %d", i, bit, o);
				else if (t == 1 || t == 3 || t == 5)
					CHECK(o == OUT_CUR, "target %d byte %d bit %d: %d",
					      t, i, bit, o);
				else	/* current copy: detected, never silent */
					CHECK(o == OUT_ERR || o == OUT_CUR,
					      "target %d byte %d bit %d: %d", t, i, bit, o);
			}
		}
	}
	CHECK(!counts[OUT_WRONG], "silent wrong states: %d", counts[OUT_WRONG]);
	img_free(&im);
	ts_free(&prev);
	rt_free(&rt);
}

/* crafted corruptions with valid checksums */
static void t_corruptions(void)
{
	struct dmr_geometry g;
	struct runtime rt;
	struct tstate prev;
	struct img im, work;
	struct dmr_disk_block_header *h;
	struct dmr_disk_sb *d;
	u64 p = 0, mdi, mdi_other;
	enum dmr_area a;
	u64 idx;

	small_geo(&g, 1500);
	rt_alloc(&rt, &g);
	ts_alloc(&prev, &g);
	build_history(&im, &rt, &prev, 6);
	while (!rt.gen[p])
		p++;
	pair_area(&g, p, &a, &idx);
	mdi = dmr_md_index(&g, a, idx, rt.cur[p]);
	mdi_other = dmr_md_index(&g, a, idx, !rt.cur[p]);
	EQ(classify(&im, &g, &rt.st, NULL), OUT_CUR);

#define WORK(stmt, want)						\
	do {								\
		img_copy(&work, &im);					\
		h = (struct dmr_disk_block_header *)blk(&work, mdi);	\
		d = (struct dmr_disk_sb *)blk(&work, (u64)rt.sb_copy);	\
		(void)h; (void)d;					\
		stmt;							\
		EQ(classify(&work, &g, &rt.st, &prev), want);		\
		img_free(&work);					\
	} while (0)
	/* truncation */
	WORK(work.limit = work.n - 1, OUT_ERR);
	WORK(work.limit = 1, OUT_ERR);
	WORK(work.limit = 0, OUT_ERR);
	/* wrong CRC */
	WORK(h->csum ^= cpu_to_le32(0x100), OUT_ERR);
	WORK(d->csum ^= cpu_to_le32(0x100), OUT_PREV);	/* other sb */
	/* current block with a higher generation (looks uncommitted) */
	WORK((h->generation = cpu_to_le64(rt.sb_gen + 1), dmr_block_seal((u8 *)h)),
	     OUT_ERR);
	/* lower generation: digest catches it */
	WORK((h->generation = cpu_to_le64(le64_to_cpu(h->generation) - 1),
	      dmr_block_seal((u8 *)h)), OUT_ERR);
	/* same generation on both copies */
	WORK((memcpy(blk(&work, mdi_other), h, BS),
	      ((struct dmr_disk_block_header *)blk(&work, mdi_other))->copy =
		cpu_to_le32(!rt.cur[p]),
	      dmr_block_seal(blk(&work, mdi_other))), OUT_ERR);
	/* wrong index: another pair's block copied here */
	WORK(memcpy(blk(&work, mdi), blk(&work, mdi + 2), BS), OUT_ERR);
	/* stale uuid block in place of the current copy */
	WORK((h->uuid[0] ^= 1, dmr_block_seal((u8 *)h)), OUT_ERR);
	/* out-of-range values */
	WORK((dmr_block_set(h, 0, dmr_rec_make(DMR_REC_MAPPED, g.nr_blocks)),
	      dmr_block_seal(h)), OUT_ERR);
	WORK((dmr_block_set(h, 1, dmr_rec_make(9, 1)), dmr_block_seal(h)),
	     OUT_ERR);
	WORK((dmr_block_set(h, 1, dmr_rec_make(DMR_REC_BAD, 4)),
	      dmr_block_seal(h)), OUT_ERR);
	/* record beyond the last slot, in the last entry block */
	{
		u64 last = g.nr_entry_blocks - 1;

		mdi = dmr_md_index(&g, DMR_AREA_ENTRY, last,
				   rt.cur[last]);
		if (last * 506 + 505 >= g.nr_slots)
			WORK((dmr_block_init(h, DMR_AREA_ENTRY, last, rt.cur[last],
				     rt.gen[last] ? rt.gen[last] : 1, uuid1),
		      dmr_block_set(h, 505, dmr_rec_make(DMR_REC_BAD, 0)),
		      dmr_block_seal(h)), OUT_ERR);
		mdi = dmr_md_index(&g, a, idx, rt.cur[p]);
	}
	/* count mismatch */
	WORK((d->nr_mapped = cpu_to_le64(le64_to_cpu(d->nr_mapped) + 1),
	      reseal_sb((u8 *)d)), OUT_ERR);
	WORK((d->nr_bad = cpu_to_le64(le64_to_cpu(d->nr_bad) ^ 1),
	      reseal_sb((u8 *)d)), OUT_ERR);
	WORK((d->pair_digest ^= cpu_to_le64(1), reseal_sb((u8 *)d)), OUT_ERR);
	/* a pair written but its superblock lost (flush broken): error */
	WORK(memset(blk(&work, mdi), 0, BS), OUT_ERR);
	/* both superblocks damaged */
	WORK((memset(blk(&work, 0), 0x11, 64), memset(blk(&work, 1), 0x11, 64)),
	     OUT_ERR);
	/* duplicate mapping across slots: the tool's validation catches it */
	{
		struct md_state st;

		md_state_init(&st);
		st.geo = g;
		md_state_add_map(&st, 10, 1, 1);
		md_state_add_map(&st, 11, 2, 1);
		EQ(md_state_validate(&st, false, NULL, NULL), 0);
		md_state_add_map(&st, 10, 3, 2);
		EQ(md_state_validate(&st, false, NULL, NULL), 1);
		EQ(md_state_validate(&st, true, NULL, NULL), 1);
		EQ(st.nr_maps, 2);
		EQ(st.maps[0].slot, 3);	/* newest generation kept */
		EQ(md_state_validate(&st, false, NULL, NULL), 0);
		md_state_add_map(&st, 12, 2, 1);	/* slot used twice */
		md_state_add_bad(&st, 3);		/* mapped and bad */
		md_state_add_bad(&st, 3);		/* bad twice */
		md_state_add_map(&st, g.nr_blocks, 4, 1);	/* range */
		md_state_add_bad(&st, g.nr_slots);
		md_state_add_pending(&st, 5);
		md_state_add_pending(&st, 5);
		md_state_add_pending(&st, g.nr_blocks);
		EQ(md_state_validate(&st, false, NULL, NULL), 7);
		EQ(md_state_validate(&st, true, NULL, NULL), 7);
		EQ(md_state_validate(&st, false, NULL, NULL), 0);
		md_state_free(&st);
	}
#undef WORK
	img_free(&im);
	ts_free(&prev);
	rt_free(&rt);
}

/*
 * Crash simulation: every subset of a commit's data writes, with at most
 * one of the rest torn, then the superblock write lost, torn or done.
 * The loaded state must be exactly the old or exactly the new one.
 */
static const char *const tear_names[] = { "half", "sector", "garbage",
					   "zeroed" };

static void tear(u8 *dst, const u8 *newb, int how)
{
	int i;

	switch (how) {
	case 0:
		memcpy(dst, newb, BS / 2);
		break;
	case 1:
		memcpy(dst + 512, newb + 512, 512);
		break;
	case 2:
		for (i = 0; i < 512; i++)
			dst[1024 + i] = (u8)rnd();
		break;
	default:
		memset(dst, 0, 2048);
	}
}

struct crash_stats {
	u64 runs, old, new_, err, wrong;
};

static void crash_check(struct img *im, const struct dmr_geometry *g,
			const struct tstate *oldst, const struct tstate *newst,
			struct crash_stats *cs, bool sb_done, const char *what)
{
	enum outcome o = classify(im, g, newst, oldst);

	cs->runs++;
	if (o == OUT_CUR)
		cs->new_++;
	else if (o == OUT_PREV)
		cs->old++;
	else if (o == OUT_ERR)
		cs->err++;
	else
		cs->wrong++;
	/* before the superblock is durable: old state exactly */
	if (!sb_done)
		CHECK(o == OUT_PREV || (o == OUT_CUR && ts_equal(oldst, newst, g)),
		      "%s: outcome %d", what, o);
	else
		CHECK(o == OUT_CUR, "%s: outcome %d", what, o);
}

static void crash_all(const struct img *base, const struct runtime *rt,
		      const struct tstate *ns, struct crash_stats *cs,
		      bool exhaustive)
{
	const struct dmr_geometry *g = &rt->g;
	struct write *w = malloc((rt->nr_pairs + 1) * sizeof(*w));
	size_t nw, nd, i;
	u64 mask, nmask, torn;
	struct img im;
	bool full;
	int how;

	nw = plan_commit(rt, ns, w, false, NULL);
	nd = nw - 1;
	/* every subset of up to 7 writes, else 48 random subsets */
	full = exhaustive && nd <= 7;
	nmask = full ? 1ULL << nd : 48;
	for (mask = 0; mask < nmask; mask++) {
		u64 m = full ? mask : rnd() & ((1ULL << nd) - 1);

		/* data writes in @m landed, nothing else */
		img_copy(&im, base);
		for (i = 0; i < nd; i++)
			if (m >> i & 1)
				memcpy(blk(&im, w[i].mdi), w[i].data, BS);
		crash_check(&im, g, &rt->st, ns, cs, false, "data subset");
		/* ...plus one more write torn */
		for (torn = 0; torn < nd; torn++) {
			if (m >> torn & 1)
				continue;
			for (how = 0; how < 4; how++) {
				struct img t;

				img_copy(&t, &im);
				tear(blk(&t, w[torn].mdi), w[torn].data, how);
				crash_check(&t, g, &rt->st, ns, cs, false,
					    tear_names[how]);
				img_free(&t);
			}
		}
		img_free(&im);
	}
	/* all data landed and flushed: sb lost, torn, or written */
	img_copy(&im, base);
	apply(&im, w, nd);
	crash_check(&im, g, &rt->st, ns, cs, false, "sb lost");
	for (how = 0; how < 4; how++) {
		struct img t;

		img_copy(&t, &im);
		tear(blk(&t, w[nd].mdi), w[nd].data, how);
		if (memcmp(blk(&t, w[nd].mdi), w[nd].data, BS))
			crash_check(&t, g, &rt->st, ns, cs, false, "sb torn");
		img_free(&t);
	}
	memcpy(blk(&im, w[nd].mdi), w[nd].data, BS);
	crash_check(&im, g, &rt->st, ns, cs, true, "sb done");
	img_free(&im);
	free(w);
}

static void t_torn_commits(void)
{
	struct dmr_geometry g;
	struct runtime rt;
	struct tstate ns;
	struct img im;
	struct crash_stats cs = { 0 };
	int round;

	for (round = 0; round < 12; round++) {
		small_geo(&g, 1000 + rnd_below(3000));
		rt_alloc(&rt, &g);
		ts_alloc(&ns, &g);
		build_history(&im, &rt, NULL, (int)rnd_below(4));
		/* a commit touching a few pairs, sometimes many */
		ts_copy(&ns, &rt.st, &g);
		mutate(&ns, &g, round < 8 ? (int)rnd_below(6) + 1 : 80);
		crash_all(&im, &rt, &ns, &cs, round < 8);
		img_free(&im);
		ts_free(&ns);
		rt_free(&rt);
		if (cur_fail)
			break;
	}
	printf("  crash runs %" PRIu64 ": old %" PRIu64 ", new %" PRIu64
	       ", refused %" PRIu64 ", wrong %" PRIu64 "\n",
	       cs.runs, cs.old, cs.new_, cs.err, cs.wrong);
	EQ(cs.wrong, 0);
	EQ(cs.err, 0);
}

/*
 * Double crash: commit A crashes leaving leftovers; after a reload, commit
 * B (a different change) crashes at every point; then commit B completes
 * and commit C, which does not touch A's pairs, completes: the leftovers
 * must never surface.
 */
static void t_double_crash(void)
{
	struct dmr_geometry g;
	struct runtime rt, rt2;
	struct tstate a, b, c;
	struct img im;
	struct write *w;
	struct crash_stats cs = { 0 };
	size_t nw, i;
	bool landed;
	int round;

	for (round = 0; round < 16; round++) {
		small_geo(&g, 2000 + rnd_below(3000));
		rt_alloc(&rt, &g);
		rt_alloc(&rt2, &g);
		ts_alloc(&a, &g);
		ts_alloc(&b, &g);
		ts_alloc(&c, &g);
		w = malloc((rt.nr_pairs + 1) * sizeof(*w));
		build_history(&im, &rt, NULL, 2);
		/* commit A: some data writes land, the superblock does not */
		ts_copy(&a, &rt.st, &g);
		mutate(&a, &g, 40);
		nw = plan_commit(&rt, &a, w, false, NULL);
		landed = false;
		for (i = 0; i + 1 < nw; i++)
			if (rnd_below(3)) {
				memcpy(blk(&im, w[i].mdi), w[i].data, BS);
				landed = true;
			}
		if (nw > 1 && rnd_below(2))	/* and one torn */
			tear(blk(&im, w[0].mdi), w[0].data, (int)rnd_below(4));
		/* restart */
		EQ(load(&im, &rt2, &g, NULL), 0);
		CHECK(ts_equal(&rt2.st, &rt.st, &g), "after crash A: old state");
		CHECK(rt2.next_gen > rt.next_gen || !landed,
		      "next gen skips leftovers");
		/* commit B from the reloaded runtime, crashing everywhere */
		ts_copy(&b, &rt2.st, &g);
		mutate(&b, &g, (int)rnd_below(4) + 1);
		crash_all(&im, &rt2, &b, &cs, true);
		/* B completes */
		commit_ok(&im, &rt2, &b);
		EQ(classify(&im, &g, &b, NULL), OUT_CUR);
		/* C touches one entry pair only */
		ts_copy(&c, &b, &g);
		c.ent[0] = c.ent[0] ? 0 : dmr_rec_make(DMR_REC_MAPPED, 1);
		crash_all(&im, &rt2, &c, &cs, true);
		commit_ok(&im, &rt2, &c);
		EQ(classify(&im, &g, &c, NULL), OUT_CUR);
		/* and a restart after C still sees C */
		EQ(load(&im, &rt, &g, NULL), 0);
		CHECK(ts_equal(&rt.st, &c, &g), "after C");
		img_free(&im);
		free(w);
		ts_free(&a);
		ts_free(&b);
		ts_free(&c);
		rt_free(&rt);
		rt_free(&rt2);
		if (cur_fail)
			break;
	}
	printf("  crash runs %" PRIu64 ": old %" PRIu64 ", new %" PRIu64
	       ", refused %" PRIu64 ", wrong %" PRIu64 "\n",
	       cs.runs, cs.old, cs.new_, cs.err, cs.wrong);
	EQ(cs.wrong, 0);
}

/* ---- the tool's commit (offline import): md_state_commit ---------------- */

struct rec_writer {
	struct write *w;
	size_t n, synced;	/* writes; how many were before the last sync */
};

static int rw_read(void *ctx, u64 mdi, void *buf)
{
	(void)ctx;
	(void)mdi;
	memset(buf, 0, BS);
	return 0;
}

static int rw_write(void *ctx, u64 mdi, const void *buf)
{
	struct rec_writer *r = ctx;

	r->w[r->n].mdi = mdi;
	memcpy(r->w[r->n].data, buf, BS);
	r->n++;
	return 0;
}

static int rw_sync(void *ctx)
{
	struct rec_writer *r = ctx;

	r->synced = r->n;
	return 0;
}

/* @t as an md_state (the tool's view of a loaded state). */
static void ts_to_md(const struct tstate *t, const struct dmr_geometry *g,
		     struct md_state *st)
{
	u64 i;

	md_state_init(st);
	st->geo = *g;
	memcpy(st->uuid, uuid1, DMR_UUID_SIZE);
	for (i = 0; i < g->nr_slots; i++) {
		if (dmr_rec_type(t->ent[i]) == DMR_REC_MAPPED)
			md_state_add_map(st, dmr_rec_arg(t->ent[i]), i, 1);
		else if (dmr_rec_type(t->ent[i]) == DMR_REC_BAD)
			md_state_add_bad(st, i);
	}
	for (i = 0; i < g->pending_capacity; i++)
		if (t->pend[i])
			md_state_add_pending(st, dmr_rec_arg(t->pend[i]));
}

/* ...and back: pending blocks packed from position 0, in order. */
static void md_to_ts(const struct md_state *st, const struct dmr_geometry *g,
		     struct tstate *t)
{
	size_t i;

	memset(t->ent, 0, g->nr_slots * 8);
	memset(t->pend, 0, g->pending_capacity * 8);
	for (i = 0; i < st->nr_maps; i++)
		t->ent[st->maps[i].slot] = dmr_rec_make(DMR_REC_MAPPED, st->maps[i].block);
	for (i = 0; i < st->nr_bad; i++)
		t->ent[st->bad[i]] = dmr_rec_make(DMR_REC_BAD, 0);
	for (i = 0; i < st->nr_pending; i++)
		t->pend[i] = dmr_rec_make(DMR_REC_PENDING, st->pending[i]);
}

/*
 * A state without duplicate blocks: slot s maps block 7 s + 3, pending
 * position p holds block 7 (nr_slots + p) + 1.
 */
static void valid_mutate(struct tstate *t, const struct dmr_geometry *g, int ops)
{
	u64 s;

	while (ops--) {
		s = rnd_below(g->nr_slots);
		if (rnd_below(4)) {
			t->ent[s] = t->ent[s] ? 0 : dmr_rec_make(DMR_REC_MAPPED, 7 * s + 3);
			continue;
		}
		s = rnd_below(g->pending_capacity);
		t->pend[s] = t->pend[s] ? 0 :
			dmr_rec_make(DMR_REC_PENDING, 7 * (g->nr_slots + s) + 1);
	}
}

/*
 * The tool commits as the kernel does: a crash at any point of an offline
 * import's commit (any subset of the pair writes landed, one torn, the
 * superblock lost or torn) loads the old state exactly, and once the
 * superblock is written the new one; the kernel commits on top of it after.
 */
static void t_tool_commit(void)
{
	struct crash_stats cs = { 0 };
	struct dmr_geometry g;
	struct runtime rt;
	struct tstate ns, old;
	struct md_state st;
	struct rec_writer rw;
	struct md_writer w = { &rw, rw_read, rw_write, rw_sync };
	struct img im, t;
	struct dmr_sb sb;
	signed char *cur;
	u64 i, m, k;
	int round, how;

	for (round = 0; round < 10 && !cur_fail; round++) {
		small_geo(&g, 600 + rnd_below(2000));
		rt_alloc(&rt, &g);
		ts_alloc(&ns, &g);
		ts_alloc(&old, &g);
		format_img(&im, &g, uuid1);
		EQ(load(&im, &rt, &g, NULL), 0);
		for (k = rnd_below(3); k--;) {	/* a history of kernel commits */
			ts_copy(&ns, &rt.st, &g);
			valid_mutate(&ns, &g, 40);
			commit_ok(&im, &rt, &ns);
		}
		if (round & 1) {	/* and a crashed one: leftovers */
			struct write *pw = malloc((rt.nr_pairs + 1) * sizeof(*pw));
			size_t nw;

			ts_copy(&ns, &rt.st, &g);
			valid_mutate(&ns, &g, 30);
			nw = plan_commit(&rt, &ns, pw, false, NULL);
			apply(&im, pw, nw - 1);
			free(pw);
			EQ(load(&im, &rt, &g, NULL), 0);
		}
		ts_copy(&old, &rt.st, &g);
		/* the import: new maps on free slots, new pending blocks */
		ts_to_md(&rt.st, &g, &st);
		for (i = 0; i < g.nr_slots; i += 1 + rnd_below(40))
			if (!rt.st.ent[i])
				md_state_add_map(&st, 7 * i + 3, i, 0);
		for (k = rnd_below(5); k--;)
			md_state_add_pending(&st, 7 * (g.nr_slots + k) + 2);
		EQ(md_state_validate(&st, false, NULL, NULL), 0);
		md_to_ts(&st, &g, &ns);
		cur = malloc(rt.nr_pairs);
		for (i = 0; i < rt.nr_pairs; i++)
			cur[i] = (signed char)rt.cur[i];
		EQ(dmr_sb_decode(blk(&im, (u64)rt.sb_copy), (u32)rt.sb_copy, &sb, NULL),
		   DMR_BLK_VALID);
		rw.w = malloc((rt.nr_pairs + 1) * sizeof(*rw.w));
		rw.n = rw.synced = 0;
		EQ(md_state_commit(&st, &w, cur, rt.next_gen, &sb), 0);
		EQ(rw.n, rt.nr_pairs + 1);		/* every pair, then the sb */
		EQ(rw.synced, rw.n);			/* ...after a sync, and synced */
		EQ(rw.w[rw.n - 1].mdi, rt.next_gen & 1);
		for (m = 0; m < 40; m++) {	/* pair writes landed in any order */
			img_copy(&t, &im);
			for (i = 0; i + 1 < rw.n; i++)
				if (rnd_below(2))
					memcpy(blk(&t, rw.w[i].mdi), rw.w[i].data, BS);
			k = rnd_below(rw.n - 1);
			tear(blk(&t, rw.w[k].mdi), rw.w[k].data, (int)rnd_below(4));
			crash_check(&t, &g, &old, &ns, &cs, false, "tool: pairs");
			img_free(&t);
		}
		img_copy(&t, &im);
		apply(&t, rw.w, rw.n - 1);
		crash_check(&t, &g, &old, &ns, &cs, false, "tool: sb lost");
		for (how = 0; how < 4; how++) {
			struct img t2;

			img_copy(&t2, &t);
			tear(blk(&t2, rw.w[rw.n - 1].mdi), rw.w[rw.n - 1].data, how);
			if (memcmp(blk(&t2, rw.w[rw.n - 1].mdi), rw.w[rw.n - 1].data, BS))
				crash_check(&t2, &g, &old, &ns, &cs, false, "tool: sb torn");
			img_free(&t2);
		}
		apply(&t, rw.w + rw.n - 1, 1);
		crash_check(&t, &g, &old, &ns, &cs, true, "tool: done");
		/* the kernel loads it and commits on top */
		EQ(load(&t, &rt, &g, NULL), 0);
		ts_copy(&old, &rt.st, &g);
		valid_mutate(&old, &g, 10);
		commit_ok(&t, &rt, &old);
		EQ(classify(&t, &g, &old, NULL), OUT_CUR);
		img_free(&t);
		img_free(&im);
		free(rw.w);
		free(cur);
		md_state_free(&st);
		ts_free(&ns);
		ts_free(&old);
		rt_free(&rt);
	}
	printf("  crash runs %" PRIu64 ": old %" PRIu64 ", new %" PRIu64
	       ", refused %" PRIu64 ", wrong %" PRIu64 "\n",
	       cs.runs, cs.old, cs.new_, cs.err, cs.wrong);
	EQ(cs.wrong, 0);
	EQ(cs.err, 0);
}

/* Without the leftover rewrite, a leftover would surface: the digest refuses. */
static void t_leftover_needs_cleaning(void)
{
	struct dmr_geometry g;
	struct runtime rt, rt2;
	struct tstate a, b;
	struct img im;
	struct write *w;
	size_t nw, i;
	int detected = 0, rounds = 0, round;

	for (round = 0; round < 10; round++) {
		small_geo(&g, 3000);
		rt_alloc(&rt, &g);
		rt_alloc(&rt2, &g);
		ts_alloc(&a, &g);
		ts_alloc(&b, &g);
		w = malloc((rt.nr_pairs + 1) * sizeof(*w));
		build_history(&im, &rt, NULL, 2);
		ts_copy(&a, &rt.st, &g);
		mutate(&a, &g, 40);
		nw = plan_commit(&rt, &a, w, false, NULL);
		apply(&im, w, nw - 1);		/* all data, no superblock */
		EQ(load(&im, &rt2, &g, NULL), 0);
		ts_copy(&b, &rt2.st, &g);
		b.pend[0] = b.pend[0] ? 0 : dmr_rec_make(DMR_REC_PENDING, 3);
		/* the buggy committer forgets the leftovers */
		nw = plan_commit(&rt2, &b, w, true, NULL);
		apply(&im, w, nw);
		if (ts_equal(&a, &rt.st, &g))
			goto next;
		rounds++;
		i = classify(&im, &g, &b, NULL);
		detected += i == OUT_ERR;
		CHECK(i == OUT_ERR, "leftover surfaced silently: %zu", i);
next:
		img_free(&im);
		free(w);
		ts_free(&a);
		ts_free(&b);
		rt_free(&rt);
		rt_free(&rt2);
	}
	CHECK(rounds > 0 && detected == rounds, "detected %d/%d", detected,
	      rounds);
}

/* stale blocks of an earlier format with another uuid read as empty */
static void t_stale_uuid(void)
{
	struct dmr_geometry g;
	struct runtime rt;
	struct img im, old;
	u64 i;

	small_geo(&g, 2000);
	rt_alloc(&rt, &g);
	build_history(&old, &rt, NULL, 4);
	/* reformat with a new uuid, keeping the old pair blocks */
	format_img(&im, &g, uuid2);
	for (i = 2; i < g.nr_md_blocks; i++)
		memcpy(blk(&im, i), blk(&old, i), BS);
	EQ(load(&im, &rt, &g, NULL), 0);
	EQ(rt.st.ent[0] | rt.st.ent[1], 0);
	for (i = 0; i < g.nr_slots; i++)
		if (rt.st.ent[i])
			break;
	EQ(i, g.nr_slots);
	img_free(&im);
	img_free(&old);
	rt_free(&rt);
}

/* a damaged current copy whose older copy has the same counts: digest only */
static void t_digest_only(void)
{
	struct dmr_geometry g;
	struct runtime rt;
	struct tstate ns, prev;
	struct img im;

	small_geo(&g, 2000);
	rt_alloc(&rt, &g);
	ts_alloc(&ns, &g);
	ts_alloc(&prev, &g);
	format_img(&im, &g, uuid1);
	EQ(load(&im, &rt, &g, NULL), 0);
	ns.ent[0] = dmr_rec_make(DMR_REC_MAPPED, 5);
	commit_ok(&im, &rt, &ns);
	ts_copy(&prev, &ns, &g);
	ns.ent[0] = 0;
	ns.ent[1] = dmr_rec_make(DMR_REC_MAPPED, 5);	/* moved, same counts */
	commit_ok(&im, &rt, &ns);
	EQ(classify(&im, &g, &ns, &prev), OUT_CUR);
	blk(&im, dmr_md_index(&g, DMR_AREA_ENTRY, 0, rt.cur[0]))[100] ^= 4;
	EQ(classify(&im, &g, &ns, &prev), OUT_ERR);
	img_free(&im);
	ts_free(&ns);
	ts_free(&prev);
	rt_free(&rt);
}

/* ---- tests: text dump parser -------------------------------------------- */

static void t_parser(void)
{
	static const char good[] =
		"# comment\nversion 1\nuuid 01020304-0506-0708-090a-0b0c0d0e0f10\n"
		"generation 9\nblock_size 4096\nmain_sectors 8192\n"
		"spare_start 0\r\nspare_len 40960\nnr_slots 10\n  map 5 7  \n"
		"bad 3\npending 4\n\nend\n";
	static const char *const bad[] = {
		"map 1 2\n",			/* no end */
		"map 1\nend\n",
		"map x 2\nend\n",
		"map 1 2 3\nend\n",
		"frob 1\nend\n",
		"version 2\nend\n",
		"uuid 1234\nend\n",
		"end\nmap 1 2\n",
		"map 99999999999999999999 1\nend\n",
		"block_size 99999999999\nend\n",
		"mapp 1 2\nend\n",
	};
	struct md_state st;
	struct md_dump_info info;
	char err[128];
	size_t i;

	md_state_init(&st);
	EQ(md_parse_text(good, sizeof(good) - 1, &st, &info, err, sizeof(err)), 0);
	EQ(st.nr_maps, 1);
	EQ(st.maps[0].block, 5);
	EQ(st.maps[0].slot, 7);
	EQ(st.nr_bad, 1);
	EQ(st.nr_pending, 1);
	EQ(info.block_size, 4096);
	EQ(info.spare_len, 40960);
	CHECK(info.have_uuid && st.uuid[0] == 1 && st.uuid[15] == 16, "uuid");
	md_state_free(&st);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		md_state_init(&st);
		err[0] = 0;
		CHECK(md_parse_text(bad[i], strlen(bad[i]), &st, &info, err,
				    sizeof(err)) == -EINVAL && err[0],
		      "bad dump %zu accepted", i);
		md_state_free(&st);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		rng_state = strtoull(argv[1], NULL, 0) | 1;
	printf("test-format: seed 0x%" PRIx64 "\n", rng_state);
	run("crc32c", t_crc32c);
	run("layout", t_layout);
	run("geometry", t_geometry);
	run("records", t_records);
	run("superblock", t_superblock);
	run("pick_sb", t_pick_sb);
	run("blocks", t_blocks);
	run("pick_copy", t_pick_copy);
	run("generations", t_generations);
	run("scan_basic", t_scan_basic);
	run("roundtrip", t_roundtrip);
	run("bitflips", t_bitflips);
	run("corruptions", t_corruptions);
	run("torn_commits", t_torn_commits);
	run("double_crash", t_double_crash);
	run("leftover_needs_cleaning", t_leftover_needs_cleaning);
	run("stale_uuid", t_stale_uuid);
	run("digest_only", t_digest_only);
	run("parser", t_parser);
	run("tool_commit", t_tool_commit);
	printf("%d passed, %d failed\n", nr_pass, nr_fail);
	return nr_fail ? 1 : 0;
}
