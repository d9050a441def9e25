// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target for the metadata format: region scanner, superblock and
 * block decoders, text dump parser, repair round trip. In-memory only.
 *
 * Input: byte 0 selects the mode (low 2 bits) and flags; the rest is mode
 * specific (see README.md in this directory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dm-remap/format.h"
#include "md-state.h"

#define BS DMR_MD_BLOCK_SIZE
#define MAX_MD_BLOCKS 64	/* keeps images small */

struct mem {
	u8 *d;
	u64 n;
};

static int m_read(void *ctx, u64 mdi, void *buf)
{
	struct mem *m = ctx;

	if (mdi >= m->n)
		return -ENXIO;
	memcpy(buf, m->d + mdi * BS, BS);
	return 0;
}

static int m_write(void *ctx, u64 mdi, const void *buf)
{
	struct mem *m = ctx;

	if (mdi >= m->n)
		abort();
	memcpy(m->d + mdi * BS, buf, BS);
	return 0;
}

static int m_sync(void *ctx)
{
	(void)ctx;
	return 0;
}

struct collect {
	struct mem *m;
	struct md_state *st;
	const struct dmr_geometry *g;
	u64 pair_gen;
	bool strict;	/* records must be valid */
};

static int c_read(void *ctx, u64 mdi, void *buf)
{
	struct collect *c = ctx;

	return m_read(c->m, mdi, buf);
}

static int c_pair(void *ctx, const struct dmr_pair_info *pi)
{
	struct collect *c = ctx;

	c->pair_gen = pi->generation;
	return 0;
}

static int c_record(void *ctx, const struct dmr_record *r)
{
	struct collect *c = ctx;

	if (r->type == DMR_REC_MAPPED)
		return md_state_add_map(c->st, r->block, r->pos, c->pair_gen);
	if (r->type == DMR_REC_BAD)
		return md_state_add_bad(c->st, r->pos);
	if (r->type == DMR_REC_PENDING)
		return md_state_add_pending(c->st, r->block);
	abort();
}

static const struct dmr_scan_ops c_ops = {
	.read = c_read, .pair = c_pair, .record = c_record,
};

static u8 sbuf[2][BS];

static int scan(struct mem *m, struct md_state *st, unsigned int flags,
		const struct dmr_geometry *expect, struct dmr_scan *s)
{
	struct collect c = { .m = m, .st = st };

	memset(s, 0, sizeof(*s));
	s->ops = &c_ops;
	s->ctx = &c;
	s->buf[0] = sbuf[0];
	s->buf[1] = sbuf[1];
	s->flags = flags;
	return dmr_scan(s, expect);
}

/* repair round trip: a fixed state written fresh must scan clean and equal */
static void roundtrip(struct md_state *st)
{
	struct md_state back;
	struct dmr_scan s;
	struct mem m;
	struct md_writer w;
	size_t i;

	if (st->geo.nr_md_blocks > MAX_MD_BLOCKS)
		return;
	md_state_validate(st, true, NULL, NULL);
	if (md_state_validate(st, false, NULL, NULL))
		abort();	/* fix must leave nothing to fix */
	m.n = st->geo.nr_md_blocks;
	m.d = calloc(m.n, BS);
	w.ctx = &m;
	w.read = m_read;
	w.write = m_write;
	w.sync = m_sync;
	if (md_state_write(st, &w))
		abort();
	md_state_init(&back);
	if (scan(&m, &back, 0, &st->geo, &s))
		abort();
	if (back.nr_maps != st->nr_maps || back.nr_bad != st->nr_bad ||
	    back.nr_pending != st->nr_pending)
		abort();
	back.geo = st->geo;
	if (md_state_validate(&back, false, NULL, NULL))
		abort();
	for (i = 0; i < st->nr_maps; i++)
		if (back.maps[i].block != st->maps[i].block ||
		    back.maps[i].slot != st->maps[i].slot)
			abort();
	if ((st->nr_bad && memcmp(back.bad, st->bad, st->nr_bad * 8)) ||
	    (st->nr_pending &&
	     memcmp(back.pending, st->pending, st->nr_pending * 8)))
		abort();
	md_state_free(&back);
	free(m.d);
}

/* base image: a few records, both copies, both superblocks */
static struct dmr_geometry base_geo;
static u8 *base_img;

static void make_base(void)
{
	static const u8 uuid[DMR_UUID_SIZE] = { 0xd, 0xe, 0xa, 0xd };
	struct md_state st;
	struct md_writer w;
	struct mem m;

	if (base_img)
		return;
	/* 2 entry pairs: 2 + 4 + 16 = 22 metadata blocks */
	if (dmr_geometry_compute(&base_geo, 4096, 1 << 20, 0, 8 * 900, NULL))
		abort();
	md_state_init(&st);
	st.geo = base_geo;
	memcpy(st.uuid, uuid, sizeof(uuid));
	md_state_add_map(&st, 7, 0, 0);
	md_state_add_map(&st, 9, 600, 0);
	md_state_add_bad(&st, 3);
	md_state_add_pending(&st, 11);
	m.n = base_geo.nr_md_blocks;
	m.d = calloc(m.n, BS);
	w.ctx = &m;
	w.read = m_read;
	w.write = m_write;
	w.sync = m_sync;
	if (md_state_write(&st, &w))
		abort();
	md_state_free(&st);
	base_img = m.d;
}

static void reseal_all(struct mem *m, bool sbs, bool blocks)
{
	u64 i;

	for (i = 0; i < m->n; i++) {
		u8 *b = m->d + i * BS;
		struct dmr_disk_sb *d = (struct dmr_disk_sb *)b;

		if (i < 2 && sbs)
			d->csum = cpu_to_le32(crc32c(~0u, b + 4, BS - 4) ^
					      DMR_SB_CSUM_XOR);
		else if (i >= 2 && blocks)
			dmr_block_seal(b);
	}
}

/* mode 0: patch the base image, scan strictly and best effort */
static void fuzz_region(const u8 *p, size_t n, u8 flags)
{
	struct dmr_scan s;
	struct md_state st;
	struct mem m;
	int r;

	make_base();
	m.n = base_geo.nr_md_blocks;
	m.d = malloc(m.n * BS);
	memcpy(m.d, base_img, m.n * BS);
	while (n >= 4) {
		u64 b = p[0] % m.n;
		size_t off = ((size_t)p[1] << 8 | p[2]) % BS;
		size_t len = p[3];

		p += 4;
		n -= 4;
		if (len > n)
			len = n;
		if (len > BS - off)
			len = BS - off;
		memcpy(m.d + b * BS + off, p, len);
		p += len;
		n -= len;
	}
	reseal_all(&m, flags & 4, flags & 8);
	if (flags & 16)
		m.n -= flags >> 5;	/* truncation */

	md_state_init(&st);
	r = scan(&m, &st, 0, flags & 128 ? &base_geo : NULL, &s);
	if (!r) {
		size_t i;

		if (s.nr_mapped != s.sb.nr_mapped || s.nr_bad != s.sb.nr_bad ||
		    s.nr_pending != s.sb.nr_pending ||
		    s.digest != s.sb.pair_digest)
			abort();
		for (i = 0; i < st.nr_maps; i++)
			if (st.maps[i].block >= s.geo.nr_blocks ||
			    st.maps[i].slot >= s.geo.nr_slots)
				abort();
	}
	md_state_free(&st);

	md_state_init(&st);
	r = scan(&m, &st, DMR_SCAN_KEEP_GOING, NULL, &s);
	if (s.sb_copy >= 0) {
		st.geo = s.geo;
		memcpy(st.uuid, s.sb.uuid, DMR_UUID_SIZE);
		roundtrip(&st);
	}
	md_state_free(&st);
	free(m.d);
}

/* mode 1: text dump -> validate/fix -> write -> scan */
static void fuzz_dump(const u8 *p, size_t n)
{
	struct md_dump_info info;
	struct md_state st;
	char err[128];

	md_state_init(&st);
	if (!md_parse_text((const char *)p, n, &st, &info, err, sizeof(err))) {
		u32 bs = info.have_block_size ? info.block_size : 4096;
		u64 main = info.have_main_sectors ? info.main_sectors : 1 << 20;
		u64 len = info.have_spare_len ? info.spare_len : 8 * 900;

		if (!dmr_geometry_compute(&st.geo, bs, main, info.spare_start,
					  len, NULL))
			roundtrip(&st);
	}
	md_state_free(&st);
}

/* mode 2: raw block decoders and the pickers */
static void fuzz_block(const u8 *p, size_t n, u8 flags)
{
	static const u8 uuid[DMR_UUID_SIZE];
	struct dmr_sb_copy c[2];
	struct dmr_blk_info a, b;
	const char *why = NULL;
	u8 blk[BS];
	u64 idx = flags >> 3;

	make_base();
	memset(blk, 0, BS);
	memcpy(blk, p, n < BS ? n : BS);
	if (flags & 4)
		reseal_all(&(struct mem){ blk, 1 }, true, false);
	c[0].state = dmr_sb_decode(blk, 0, &c[0].sb, &why);
	c[1].state = dmr_sb_decode(blk, 1, &c[1].sb, &why);
	if ((unsigned int)c[0].state >= DMR_BLK_NR_STATES || !why)
		abort();
	if (c[0].state == DMR_BLK_VALID) {
		struct dmr_geometry g;

		if (dmr_geometry_compute(&g, c[0].sb.block_size,
					 c[0].sb.main_sectors,
					 c[0].sb.spare_start,
					 c[0].sb.spare_len, NULL))
			abort();
		if (dmr_sb_check_geometry(&c[0].sb, &g, NULL))
			abort();
	}
	dmr_pick_sb(c, &why);
	if (flags & 8)
		dmr_block_seal(blk);
	dmr_block_check(&base_geo, blk, DMR_AREA_ENTRY, idx % 2, flags & 1,
			uuid, &a, NULL);
	dmr_block_check(&base_geo, blk, DMR_AREA_PENDING, idx % 8, flags & 1,
			uuid, &b, NULL);
	if (a.state != DMR_BLK_VALID && a.generation)
		abort();
	dmr_pick_copy(&a, &b, flags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] & 3) {
	case 0:
		fuzz_region(data + 1, size - 1, data[0]);
		break;
	case 1:
		fuzz_dump(data + 1, size - 1);
		break;
	default:
		fuzz_block(data + 1, size - 1, data[0]);
		break;
	}
	return 0;
}
