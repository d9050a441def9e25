// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap metadata format: geometry, block codecs, checksums, validation
 * and the choice of the newest committed state. Pure code: no I/O, no locks.
 */
#ifdef __KERNEL__
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/math64.h>
#include <linux/crc32c.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/sched.h>
#else
#include "dm-remap/user-shim.h"
#endif

#include "dm-remap/format.h"

/* ---- small helpers ------------------------------------------------------ */

static void set_why(const char **why, const char *msg)
{
	if (why)
		*why = msg;
}

static u32 md_csum(const void *buf, u32 xor)
{
	return crc32c(~0u, (const u8 *)buf + 4, DMR_MD_BLOCK_SIZE - 4) ^ xor;
}

bool dmr_is_zero_block(const void *buf)
{
	return !memchr_inv(buf, 0, DMR_MD_BLOCK_SIZE);
}

static u64 magic_of(const void *buf)
{
	const struct dmr_disk_block_header *h = buf;

	return le64_to_cpu(h->magic);
}

bool dmr_is_md_block(const void *buf)
{
	u64 m = magic_of(buf);

	return m == DMR_SB_MAGIC || m == DMR_ENTRY_MAGIC ||
	       m == DMR_PENDING_MAGIC;
}

static const char * const state_names[DMR_BLK_NR_STATES] = {
	[DMR_BLK_VALID] = "valid",
	[DMR_BLK_ZERO] = "blank (all zero)",
	[DMR_BLK_STALE] = "stale (another uuid)",
	[DMR_BLK_FOREIGN] = "not dm-remap metadata",
	[DMR_BLK_BAD_CSUM] = "bad checksum",
	[DMR_BLK_BAD_MAGIC] = "wrong magic",
	[DMR_BLK_BAD_COPY] = "wrong copy number",
	[DMR_BLK_BAD_INDEX] = "wrong block index",
	[DMR_BLK_BAD_FIELD] = "invalid field",
	[DMR_BLK_NEWER] = "newer format version",
};

const char *dmr_blk_state_str(enum dmr_blk_state st)
{
	if ((unsigned int)st >= DMR_BLK_NR_STATES)
		return "unreadable";
	return state_names[st];
}

/* ---- geometry ----------------------------------------------------------- */

static u64 md_blocks_for(u64 slots, u64 *nr_entry_blocks)
{
	u64 n = div_u64(slots + DMR_ENTRIES_PER_BLOCK - 1,
			DMR_ENTRIES_PER_BLOCK);

	if (nr_entry_blocks)
		*nr_entry_blocks = n;
	return 2 + 2 * n + 2 * (u64)DMR_NR_PENDING_BLOCKS;
}

/* metadata plus data sectors for @slots; no overflow for slots*bs <= 2^63 */
static u64 spare_need(u64 slots, u32 block_sectors, u32 block_shift)
{
	u64 md = md_blocks_for(slots, NULL) * DMR_MD_BLOCK_SECTORS;

	md = round_up(md, (u64)block_sectors);
	return md + (slots << block_shift);
}

int dmr_geometry_compute(struct dmr_geometry *g, u32 block_size,
			 u64 main_sectors, u64 spare_start, u64 spare_len,
			 const char **why)
{
	u32 bs, shift;
	u64 lo, hi, mid;

	memset(g, 0, sizeof(*g));
	if (block_size < DMR_MIN_BLOCK_SIZE ||
	    block_size > DMR_MAX_BLOCK_SIZE || !is_power_of_2(block_size)) {
		set_why(why, "block size must be a power of two from 512 to 65536 bytes");
		return -EINVAL;
	}
	bs = block_size >> 9;
	for (shift = 0; (1u << shift) < bs; shift++)
		;
	if (!main_sectors) {
		set_why(why, "main device length is zero");
		return -EINVAL;
	}
	if (main_sectors > DMR_MAX_SECTORS) {
		set_why(why, "main device length above 2^63 sectors");
		return -EOVERFLOW;
	}
	if (main_sectors & (bs - 1)) {
		set_why(why, "main device length is not a multiple of the block size");
		return -EINVAL;
	}
	if ((main_sectors >> shift) > DMR_MAX_BLOCKS) {
		set_why(why, "main device has more than 2^60 blocks");
		return -EOVERFLOW;
	}
	if (spare_start > DMR_MAX_SECTORS ||
	    spare_len > DMR_MAX_SECTORS - spare_start) {
		set_why(why, "spare area ends above 2^63 sectors");
		return -EOVERFLOW;
	}

	/* largest S with need(S) <= spare_len; need() is non-decreasing */
	hi = spare_len >> shift;
	if (!hi || spare_need(1, bs, shift) > spare_len) {
		set_why(why, "spare area too small for the metadata and one block");
		return -ENOSPC;
	}
	lo = 1;
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (spare_need(mid, bs, shift) <= spare_len)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (lo > DMR_MAX_SLOTS) {
		set_why(why, "spare area holds more than 2^32 slots; shorten it");
		return -EOVERFLOW;
	}

	g->block_size = block_size;
	g->block_sectors = bs;
	g->block_shift = shift;
	g->entries_per_block = DMR_ENTRIES_PER_BLOCK;
	g->nr_pending_blocks = DMR_NR_PENDING_BLOCKS;
	g->main_sectors = main_sectors;
	g->nr_blocks = main_sectors >> shift;
	g->spare_start = spare_start;
	g->spare_len = spare_len;
	g->nr_slots = lo;
	g->nr_md_blocks = md_blocks_for(lo, &g->nr_entry_blocks);
	g->md_sectors = round_up(g->nr_md_blocks * DMR_MD_BLOCK_SECTORS,
				 (u64)bs);
	g->data_start = spare_start + g->md_sectors;
	g->pending_capacity = (u64)DMR_NR_PENDING_BLOCKS * DMR_ENTRIES_PER_BLOCK;
	return 0;
}

u64 dmr_md_index(const struct dmr_geometry *g, enum dmr_area area,
		 u64 index, u32 copy)
{
	switch (area) {
	case DMR_AREA_SB:
		return copy;
	case DMR_AREA_ENTRY:
		return 2 + 2 * index + copy;
	default:
		return 2 + 2 * g->nr_entry_blocks + 2 * index + copy;
	}
}

u64 dmr_md_sector(const struct dmr_geometry *g, u64 md_index)
{
	return g->spare_start + md_index * DMR_MD_BLOCK_SECTORS;
}

u64 dmr_slot_to_entry(const struct dmr_geometry *g, u64 slot, u32 *pos)
{
	return div_u64_rem(slot, g->entries_per_block, pos);
}

u64 dmr_area_blocks(const struct dmr_geometry *g, enum dmr_area area)
{
	switch (area) {
	case DMR_AREA_SB:
		return 1;
	case DMR_AREA_ENTRY:
		return g->nr_entry_blocks;
	default:
		return g->nr_pending_blocks;
	}
}

u64 dmr_pair_id(const struct dmr_geometry *g, enum dmr_area area, u64 index)
{
	return area == DMR_AREA_PENDING ? g->nr_entry_blocks + index : index;
}

/* ---- records ------------------------------------------------------------ */

int dmr_rec_check(const struct dmr_geometry *g, enum dmr_area area, u64 pos,
		  u64 rec, const char **why)
{
	u32 type = dmr_rec_type(rec);
	u64 arg = dmr_rec_arg(rec);

	if (!rec)
		return 0;
	if (area == DMR_AREA_ENTRY) {
		if (pos >= g->nr_slots) {
			set_why(why, "record beyond the last slot");
			return -EUCLEAN;
		}
		if (type == DMR_REC_MAPPED) {
			if (arg < g->nr_blocks)
				return 0;
			set_why(why, "mapped main block out of range");
			return -EUCLEAN;
		}
		if (type == DMR_REC_BAD) {
			if (!arg)
				return 0;
			set_why(why, "bad-slot record with a non-zero argument");
			return -EUCLEAN;
		}
		set_why(why, "entry record of unknown type");
		return -EUCLEAN;
	}
	if (type == DMR_REC_PENDING) {
		if (arg < g->nr_blocks)
			return 0;
		set_why(why, "pending main block out of range");
		return -EUCLEAN;
	}
	set_why(why, "pending record of unknown type");
	return -EUCLEAN;
}

/* ---- superblock --------------------------------------------------------- */

void dmr_sb_init(struct dmr_sb *sb, const struct dmr_geometry *g,
		 const u8 *uuid)
{
	memset(sb, 0, sizeof(*sb));
	sb->version = DMR_FORMAT_VERSION;
	memcpy(sb->uuid, uuid, DMR_UUID_SIZE);
	sb->block_size = g->block_size;
	sb->md_block_size = DMR_MD_BLOCK_SIZE;
	sb->main_sectors = g->main_sectors;
	sb->spare_start = g->spare_start;
	sb->spare_len = g->spare_len;
	sb->nr_slots = g->nr_slots;
	sb->nr_entry_blocks = g->nr_entry_blocks;
	sb->nr_pending_blocks = g->nr_pending_blocks;
	sb->entries_per_block = g->entries_per_block;
	sb->data_start = g->data_start;
}

void dmr_sb_encode(void *buf, const struct dmr_sb *sb)
{
	struct dmr_disk_sb *d = buf;

	bool scrub = sb->scrub_state || sb->scrub_pos || sb->scrub_last_pass;

	memset(d, 0, sizeof(*d));
	d->flags = cpu_to_le32((sb->flags & ~DMR_SB_FLAG_SCRUB) |
			       (scrub ? DMR_SB_FLAG_SCRUB : 0));
	d->magic = cpu_to_le64(DMR_SB_MAGIC);
	d->version = cpu_to_le32(sb->version);
	d->copy = cpu_to_le32(sb->copy);
	d->generation = cpu_to_le64(sb->generation);
	memcpy(d->uuid, sb->uuid, DMR_UUID_SIZE);
	d->block_size = cpu_to_le32(sb->block_size);
	d->md_block_size = cpu_to_le32(sb->md_block_size);
	d->main_sectors = cpu_to_le64(sb->main_sectors);
	d->spare_start = cpu_to_le64(sb->spare_start);
	d->spare_len = cpu_to_le64(sb->spare_len);
	d->nr_slots = cpu_to_le64(sb->nr_slots);
	d->nr_entry_blocks = cpu_to_le64(sb->nr_entry_blocks);
	d->nr_pending_blocks = cpu_to_le32(sb->nr_pending_blocks);
	d->entries_per_block = cpu_to_le32(sb->entries_per_block);
	d->data_start = cpu_to_le64(sb->data_start);
	d->nr_mapped = cpu_to_le64(sb->nr_mapped);
	d->nr_bad = cpu_to_le64(sb->nr_bad);
	d->nr_pending = cpu_to_le64(sb->nr_pending);
	d->pair_digest = cpu_to_le64(sb->pair_digest);
	d->scrub_state = cpu_to_le32(sb->scrub_state);
	d->scrub_pos = cpu_to_le64(sb->scrub_pos);
	d->scrub_last_pass = cpu_to_le64(sb->scrub_last_pass);
	d->csum = cpu_to_le32(md_csum(d, DMR_SB_CSUM_XOR));
}

static void sb_unpack(const struct dmr_disk_sb *d, struct dmr_sb *sb)
{
	sb->flags = le32_to_cpu(d->flags);
	sb->version = le32_to_cpu(d->version);
	sb->copy = le32_to_cpu(d->copy);
	sb->generation = le64_to_cpu(d->generation);
	memcpy(sb->uuid, d->uuid, DMR_UUID_SIZE);
	sb->block_size = le32_to_cpu(d->block_size);
	sb->md_block_size = le32_to_cpu(d->md_block_size);
	sb->main_sectors = le64_to_cpu(d->main_sectors);
	sb->spare_start = le64_to_cpu(d->spare_start);
	sb->spare_len = le64_to_cpu(d->spare_len);
	sb->nr_slots = le64_to_cpu(d->nr_slots);
	sb->nr_entry_blocks = le64_to_cpu(d->nr_entry_blocks);
	sb->nr_pending_blocks = le32_to_cpu(d->nr_pending_blocks);
	sb->entries_per_block = le32_to_cpu(d->entries_per_block);
	sb->data_start = le64_to_cpu(d->data_start);
	sb->nr_mapped = le64_to_cpu(d->nr_mapped);
	sb->nr_bad = le64_to_cpu(d->nr_bad);
	sb->nr_pending = le64_to_cpu(d->nr_pending);
	sb->pair_digest = le64_to_cpu(d->pair_digest);
	sb->scrub_state = le32_to_cpu(d->scrub_state);
	sb->scrub_pos = le64_to_cpu(d->scrub_pos);
	sb->scrub_last_pass = le64_to_cpu(d->scrub_last_pass);
}

static enum dmr_blk_state bad(const char **why, enum dmr_blk_state st,
			      const char *msg)
{
	set_why(why, msg);
	return st;
}

enum dmr_blk_state dmr_sb_decode(const void *buf, u32 copy, struct dmr_sb *sb,
				 const char **why)
{
	const struct dmr_disk_sb *d = buf;
	struct dmr_geometry g;

	memset(sb, 0, sizeof(*sb));
	if (dmr_is_zero_block(buf))
		return bad(why, DMR_BLK_ZERO, "superblock is blank");
	if (le32_to_cpu(d->csum) != md_csum(d, DMR_SB_CSUM_XOR)) {
		if (dmr_is_md_block(buf))
			return bad(why, DMR_BLK_BAD_CSUM,
				   "superblock checksum mismatch");
		return bad(why, DMR_BLK_FOREIGN,
			   "no dm-remap superblock (foreign data)");
	}
	if (le64_to_cpu(d->magic) != DMR_SB_MAGIC) {
		if (dmr_is_md_block(buf))
			return bad(why, DMR_BLK_BAD_MAGIC,
				   "metadata block of another kind where the superblock belongs");
		return bad(why, DMR_BLK_FOREIGN,
			   "no dm-remap superblock (foreign data)");
	}
	sb_unpack(d, sb);
	if (sb->version > DMR_FORMAT_VERSION)
		return bad(why, DMR_BLK_NEWER,
			   "superblock of a newer format version");
	if (sb->flags & ~DMR_SB_FLAGS_KNOWN)
		return bad(why, DMR_BLK_NEWER, "superblock has unknown flags");
	if (sb->version != DMR_FORMAT_VERSION)
		return bad(why, DMR_BLK_BAD_FIELD, "superblock version zero");
	if (sb->copy != copy)
		return bad(why, DMR_BLK_BAD_COPY,
			   "superblock copy number differs from its location");
	if (sb->generation > DMR_MAX_GENERATION ||
	    (sb->generation & 1) != copy)
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock generation out of range or of the wrong parity");
	if (sb->md_block_size != DMR_MD_BLOCK_SIZE)
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock metadata block size is not 4096");
	if (dmr_geometry_compute(&g, sb->block_size, sb->main_sectors,
				 sb->spare_start, sb->spare_len, NULL))
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock geometry is invalid");
	if (sb->nr_slots != g.nr_slots ||
	    sb->nr_entry_blocks != g.nr_entry_blocks ||
	    sb->nr_pending_blocks != g.nr_pending_blocks ||
	    sb->entries_per_block != g.entries_per_block ||
	    sb->data_start != g.data_start)
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock derived geometry is inconsistent");
	if (sb->nr_mapped > g.nr_slots || sb->nr_bad > g.nr_slots - sb->nr_mapped ||
	    sb->nr_pending > g.pending_capacity)
		return bad(why, DMR_BLK_BAD_FIELD, "superblock counts out of range");
	if (d->scrub_pad || (!(sb->flags & DMR_SB_FLAG_SCRUB) &&
			     (sb->scrub_state || sb->scrub_pos ||
			      sb->scrub_last_pass)) ||
	    sb->scrub_state > DMR_SCRUB_PAUSED || sb->scrub_pos > g.nr_blocks ||
	    (sb->scrub_state == DMR_SCRUB_IDLE && sb->scrub_pos))
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock scrub fields out of range or without their flag");
	if (memchr_inv(d->reserved, 0, sizeof(d->reserved)))
		return bad(why, DMR_BLK_BAD_FIELD,
			   "superblock reserved area is not zero");
	return DMR_BLK_VALID;
}

int dmr_sb_check_geometry(const struct dmr_sb *sb,
			  const struct dmr_geometry *g, const char **why)
{
	if (sb->block_size != g->block_size) {
		set_why(why, "metadata block size differs from the table line");
		return -EINVAL;
	}
	if (sb->main_sectors != g->main_sectors) {
		set_why(why, "metadata main device length differs from the table line");
		return -EINVAL;
	}
	if (sb->spare_start != g->spare_start || sb->spare_len != g->spare_len) {
		set_why(why, "metadata spare area differs from the table line");
		return -EINVAL;
	}
	return 0;
}

static bool sb_same_identity(const struct dmr_sb *a, const struct dmr_sb *b)
{
	return !memcmp(a->uuid, b->uuid, DMR_UUID_SIZE) &&
	       a->block_size == b->block_size &&
	       a->main_sectors == b->main_sectors &&
	       a->spare_start == b->spare_start &&
	       a->spare_len == b->spare_len;
}

static bool state_damaged(enum dmr_blk_state st)
{
	return st != DMR_BLK_VALID && st != DMR_BLK_ZERO &&
	       st != DMR_BLK_STALE && st != DMR_BLK_FOREIGN;
}

int dmr_pick_sb(const struct dmr_sb_copy copies[2], const char **why)
{
	bool v0 = copies[0].state == DMR_BLK_VALID;
	bool v1 = copies[1].state == DMR_BLK_VALID;

	if (copies[0].state == DMR_BLK_NEWER ||
	    copies[1].state == DMR_BLK_NEWER) {
		set_why(why, "metadata written by a newer dm-remap format");
		return -EOPNOTSUPP;
	}
	if (v0 && v1) {
		if (!sb_same_identity(&copies[0].sb, &copies[1].sb)) {
			set_why(why, "superblock copies disagree on uuid or geometry");
			return -EUCLEAN;
		}
		return copies[1].sb.generation > copies[0].sb.generation;
	}
	if (v0)
		return 0;
	if (v1)
		return 1;
	if (copies[0].state == DMR_BLK_ZERO && copies[1].state == DMR_BLK_ZERO) {
		set_why(why, "no superblock: spare area not formatted");
		return -ENODATA;
	}
	if (state_damaged(copies[0].state) || state_damaged(copies[1].state)) {
		set_why(why, "both superblock copies are damaged");
		return -EUCLEAN;
	}
	set_why(why, "no dm-remap superblock (foreign data)");
	return -EINVAL;
}

/* ---- entry and pending blocks ------------------------------------------- */

static u64 area_magic(enum dmr_area area)
{
	return area == DMR_AREA_PENDING ? DMR_PENDING_MAGIC : DMR_ENTRY_MAGIC;
}

static u32 area_xor(enum dmr_area area)
{
	return area == DMR_AREA_PENDING ? DMR_PENDING_CSUM_XOR :
					  DMR_ENTRY_CSUM_XOR;
}

void dmr_block_init(void *buf, enum dmr_area area, u64 index, u32 copy,
		    u64 generation, const u8 *uuid)
{
	struct dmr_disk_block_header *h = buf;

	memset(buf, 0, DMR_MD_BLOCK_SIZE);
	h->copy = cpu_to_le32(copy);
	h->magic = cpu_to_le64(area_magic(area));
	h->generation = cpu_to_le64(generation);
	h->index = cpu_to_le64(index);
	memcpy(h->uuid, uuid, DMR_UUID_SIZE);
}

static __le64 *block_records(const void *buf)
{
	return (__le64 *)((u8 *)buf + DMR_BLOCK_HEADER_SIZE);
}

void dmr_block_set(void *buf, u32 pos, u64 rec)
{
	block_records(buf)[pos] = cpu_to_le64(rec);
}

u64 dmr_block_get(const void *buf, u32 pos)
{
	return le64_to_cpu(block_records(buf)[pos]);
}

void dmr_block_seal(void *buf)
{
	struct dmr_disk_block_header *h = buf;
	enum dmr_area area = le64_to_cpu(h->magic) == DMR_PENDING_MAGIC ?
			     DMR_AREA_PENDING : DMR_AREA_ENTRY;

	h->csum = cpu_to_le32(md_csum(buf, area_xor(area)));
}

void dmr_block_check(const struct dmr_geometry *g, const void *buf,
		     enum dmr_area area, u64 index, u32 copy, const u8 *uuid,
		     struct dmr_blk_info *info, const char **why)
{
	const struct dmr_disk_block_header *h = buf;
	u64 gen;

	info->generation = 0;
	if (dmr_is_zero_block(buf)) {
		info->state = bad(why, DMR_BLK_ZERO, "block is blank");
		return;
	}
	if (le32_to_cpu(h->csum) != md_csum(buf, area_xor(area))) {
		if (dmr_is_md_block(buf))
			info->state = bad(why, DMR_BLK_BAD_CSUM,
					  "block checksum mismatch");
		else
			info->state = bad(why, DMR_BLK_FOREIGN,
					  "not a dm-remap metadata block");
		return;
	}
	if (le64_to_cpu(h->magic) != area_magic(area)) {
		info->state = bad(why, dmr_is_md_block(buf) ? DMR_BLK_BAD_MAGIC :
				  DMR_BLK_FOREIGN,
				  "block magic of another kind");
		return;
	}
	if (le32_to_cpu(h->copy) != copy) {
		info->state = bad(why, DMR_BLK_BAD_COPY,
				  "block copy number differs from its location");
		return;
	}
	if (index >= dmr_area_blocks(g, area) ||
	    le64_to_cpu(h->index) != index) {
		info->state = bad(why, DMR_BLK_BAD_INDEX,
				  "block index differs from its location");
		return;
	}
	gen = le64_to_cpu(h->generation);
	if (!gen || gen > DMR_MAX_GENERATION) {
		info->state = bad(why, DMR_BLK_BAD_FIELD,
				  "block generation out of range");
		return;
	}
	if (memcmp(h->uuid, uuid, DMR_UUID_SIZE)) {
		info->state = bad(why, DMR_BLK_STALE,
				  "block belongs to another metadata uuid");
		return;
	}
	info->state = DMR_BLK_VALID;
	info->generation = gen;
}

static bool usable(const struct dmr_blk_info *i, u64 sb_gen)
{
	if (i->state == DMR_BLK_ZERO || i->state == DMR_BLK_STALE)
		return true;
	return i->state == DMR_BLK_VALID && i->generation <= sb_gen;
}

static u64 usable_gen(const struct dmr_blk_info *i)
{
	return i->state == DMR_BLK_VALID ? i->generation : 0;
}

int dmr_pick_copy(const struct dmr_blk_info *a, const struct dmr_blk_info *b,
		  u64 sb_gen)
{
	bool ua = usable(a, sb_gen), ub = usable(b, sb_gen);
	u64 ga = usable_gen(a), gb = usable_gen(b);

	if (ua && ub) {
		if (ga == gb)
			return ga ? -EUCLEAN : 0;
		return gb > ga;
	}
	if (ua)
		return 0;
	if (ub)
		return 1;
	return -EUCLEAN;
}

/* ---- commit helpers ----------------------------------------------------- */

static u64 mix64(u64 z)
{
	z ^= z >> 30;
	z *= 0xbf58476d1ce4e5b9ULL;
	z ^= z >> 27;
	z *= 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z;
}

u64 dmr_digest_term(u64 pair_id, u64 gen)
{
	if (!gen)
		return 0;
	return mix64(mix64(pair_id + 0x9e3779b97f4a7c15ULL) ^ gen);
}

u64 dmr_next_generation(u64 max_seen, u32 cur_copy)
{
	u64 g = max_seen + 1;

	if ((g & 1) == cur_copy)
		g++;
	return g;
}

/* ---- region scanner ----------------------------------------------------- */

static void scan_report(struct dmr_scan *s, enum dmr_severity sev, int err,
			enum dmr_area area, u64 index, int copy, u64 pos,
			u64 value, const char *msg)
{
	struct dmr_report r = {
		.sev = sev, .err = err, .area = area, .index = index,
		.copy = copy, .pos = pos, .value = value, .msg = msg,
	};

	if (sev == DMR_SEV_ERROR) {
		s->nr_errors++;
		if (!s->err) {
			s->err = err;
			s->why = msg;
		}
	} else if (sev == DMR_SEV_WARN) {
		s->nr_warnings++;
	}
	if (s->ops->report)
		s->ops->report(s->ctx, &r);
}

static int scan_read(struct dmr_scan *s, u64 md_index, void *buf)
{
	int r = s->ops->read(s->ctx, md_index, buf);

	return r > 0 ? -EIO : r;
}

int dmr_scan_sb(struct dmr_scan *s, const struct dmr_geometry *expect)
{
	const char *why = NULL;
	u32 c;
	int r;

	s->err = 0;
	s->why = NULL;
	s->nr_errors = 0;
	s->nr_warnings = 0;
	s->sb_copy = -1;
	s->max_gen = 0;
	for (c = 0; c < 2; c++) {
		r = scan_read(s, c, s->buf[c]);
		if (r) {
			memset(&s->sbc[c], 0, sizeof(s->sbc[c]));
			s->sbc[c].state = DMR_BLK_NR_STATES;
			scan_report(s, DMR_SEV_ERROR, r, DMR_AREA_SB, c, c,
				    U64_MAX, 0, "cannot read superblock");
			if (!(s->flags & DMR_SCAN_KEEP_GOING))
				return r;
			continue;
		}
		s->sbc[c].state = dmr_sb_decode(s->buf[c], c, &s->sbc[c].sb,
						&why);
		if (s->sbc[c].state == DMR_BLK_VALID)
			s->max_gen = max(s->max_gen, s->sbc[c].sb.generation);
	}
	r = dmr_pick_sb(s->sbc, &why);
	if (r < 0) {
		if (s->err)
			return s->err;
		scan_report(s, DMR_SEV_ERROR, r, DMR_AREA_SB, 0, -1, U64_MAX, 0,
			    why);
		return r;
	}
	s->sb_copy = r;
	s->sb = s->sbc[r].sb;
	c = 1 - r;
	if (s->sbc[c].state == DMR_BLK_ZERO)
		scan_report(s, DMR_SEV_INFO, 0, DMR_AREA_SB, c, c, U64_MAX, 0,
			    "other superblock copy is blank");
	else if (s->sbc[c].state != DMR_BLK_VALID &&
		 s->sbc[c].state != DMR_BLK_NR_STATES)
		scan_report(s, DMR_SEV_WARN, -EUCLEAN, DMR_AREA_SB, c, c,
			    U64_MAX, s->sbc[c].state,
			    "other superblock copy is invalid (torn write or damage); it is rewritten by the next commit");
	/* decode validated the geometry, so this cannot fail */
	r = dmr_geometry_compute(&s->geo, s->sb.block_size, s->sb.main_sectors,
				 s->sb.spare_start, s->sb.spare_len, &why);
	if (r) {
		scan_report(s, DMR_SEV_ERROR, -EUCLEAN, DMR_AREA_SB, s->sb_copy,
			    s->sb_copy, U64_MAX, 0, why);
		return -EUCLEAN;
	}
	if (expect && dmr_sb_check_geometry(&s->sb, expect, &why)) {
		scan_report(s, DMR_SEV_ERROR, -EINVAL, DMR_AREA_SB, s->sb_copy,
			    s->sb_copy, U64_MAX, 0, why);
		return -EINVAL;
	}
	return s->flags & DMR_SCAN_KEEP_GOING ? 0 : s->err;
}

static int scan_records(struct dmr_scan *s, enum dmr_area area, u64 index,
			const void *blk)
{
	const struct dmr_geometry *g = &s->geo;
	struct dmr_record rec = { .area = area };
	const char *why = NULL;
	u64 v, base = index * g->entries_per_block;
	u32 j;
	int r;

	for (j = 0; j < g->entries_per_block; j++) {
		v = dmr_block_get(blk, j);
		if (!v)
			continue;
		rec.pos = base + j;
		if (dmr_rec_check(g, area, rec.pos, v, &why)) {
			scan_report(s, DMR_SEV_ERROR, -EUCLEAN, area, index, -1,
				    rec.pos, v, why);
			if (!(s->flags & DMR_SCAN_KEEP_GOING))
				return -EUCLEAN;
			continue;
		}
		rec.type = dmr_rec_type(v);
		rec.block = dmr_rec_arg(v);
		if (rec.type == DMR_REC_MAPPED)
			s->nr_mapped++;
		else if (rec.type == DMR_REC_BAD)
			s->nr_bad++;
		else
			s->nr_pending++;
		if (s->ops->record) {
			r = s->ops->record(s->ctx, &rec);
			if (r)
				return r;
		}
	}
	return 0;
}

static const char *pick_failure(const struct dmr_pair_info *pi, u64 sb_gen)
{
	const struct dmr_blk_info *a = &pi->info[0], *b = &pi->info[1];

	if (a->state == DMR_BLK_VALID && b->state == DMR_BLK_VALID &&
	    a->generation == b->generation)
		return "no usable copy: both copies have the same generation";
	if ((a->state == DMR_BLK_VALID && a->generation > sb_gen) ||
	    (b->state == DMR_BLK_VALID && b->generation > sb_gen))
		return "no usable copy: one damaged, the other uncommitted";
	return "no usable copy: both copies damaged or unreadable";
}

static int scan_pair(struct dmr_scan *s, enum dmr_area area, u64 index)
{
	struct dmr_pair_info pi = { .area = area, .index = index, .copy = -1 };
	u64 sb_gen = s->sb.generation;
	const char *why = NULL;
	u32 c, o;
	int r;

	for (c = 0; c < 2; c++) {
		r = scan_read(s, dmr_md_index(&s->geo, area, index, c),
			      s->buf[c]);
		if (r) {
			pi.info[c].state = DMR_BLK_NR_STATES;
			pi.info[c].generation = 0;
			scan_report(s, DMR_SEV_ERROR, r, area, index, c,
				    U64_MAX, 0, "cannot read metadata block");
			if (!(s->flags & DMR_SCAN_KEEP_GOING))
				return r;
			continue;
		}
		dmr_block_check(&s->geo, s->buf[c], area, index, c, s->sb.uuid,
				&pi.info[c], &why);
		if (pi.info[c].state == DMR_BLK_VALID)
			s->max_gen = max(s->max_gen, pi.info[c].generation);
		if (pi.info[c].state == DMR_BLK_STALE)
			pi.flags |= DMR_PAIR_STALE;
	}
	r = dmr_pick_copy(&pi.info[0], &pi.info[1], sb_gen);
	if (r < 0) {
		scan_report(s, DMR_SEV_ERROR, -EUCLEAN, area, index, -1,
			    U64_MAX, 0, pick_failure(&pi, sb_gen));
		if (!(s->flags & DMR_SCAN_KEEP_GOING))
			return -EUCLEAN;
		if (s->ops->pair)
			return s->ops->pair(s->ctx, &pi);
		return 0;
	}
	pi.copy = r;
	o = 1 - r;
	if (pi.info[r].state == DMR_BLK_VALID)
		pi.generation = pi.info[r].generation;
	if (pi.info[o].state == DMR_BLK_VALID && pi.info[o].generation > sb_gen) {
		pi.flags |= DMR_PAIR_LEFTOVER;
		s->nr_leftover++;
		scan_report(s, DMR_SEV_INFO, 0, area, index, o, U64_MAX,
			    pi.info[o].generation,
			    "uncommitted leftover of an interrupted commit (ignored)");
	} else if (state_damaged(pi.info[o].state) ||
		   pi.info[o].state == DMR_BLK_FOREIGN) {
		pi.flags |= DMR_PAIR_DAMAGED;
		scan_report(s, DMR_SEV_WARN, -EUCLEAN, area, index, o, U64_MAX,
			    pi.info[o].state,
			    "non-current copy is invalid (torn write or damage)");
	}
	s->digest += dmr_digest_term(dmr_pair_id(&s->geo, area, index),
				     pi.generation);
	if (s->ops->pair) {
		r = s->ops->pair(s->ctx, &pi);
		if (r)
			return r;
	}
	if (pi.info[pi.copy].state != DMR_BLK_VALID)
		return 0;
	return scan_records(s, area, index, s->buf[pi.copy]);
}

int dmr_scan_pairs(struct dmr_scan *s)
{
	static const enum dmr_area areas[2] = { DMR_AREA_ENTRY,
						DMR_AREA_PENDING };
	u64 i, errors_before = s->nr_errors;
	int a, r;

	s->nr_mapped = 0;
	s->nr_bad = 0;
	s->nr_pending = 0;
	s->digest = 0;
	s->nr_leftover = 0;
	for (a = 0; a < 2; a++) {
		for (i = 0; i < dmr_area_blocks(&s->geo, areas[a]); i++) {
			r = scan_pair(s, areas[a], i);
			if (r)
				return r;
			cond_resched();
		}
	}
	if (!(s->flags & DMR_SCAN_NO_SB) && s->nr_errors == errors_before) {
		if (s->nr_mapped != s->sb.nr_mapped ||
		    s->nr_bad != s->sb.nr_bad ||
		    s->nr_pending != s->sb.nr_pending)
			scan_report(s, DMR_SEV_ERROR, -EUCLEAN, DMR_AREA_SB,
				    s->sb_copy, s->sb_copy, U64_MAX, 0,
				    "record counts differ from the superblock");
		else if (s->digest != s->sb.pair_digest)
			scan_report(s, DMR_SEV_ERROR, -EUCLEAN, DMR_AREA_SB,
				    s->sb_copy, s->sb_copy, U64_MAX, 0,
				    "block generations differ from the superblock (a block was lost or is damaged)");
	}
	if (s->sb_copy >= 0)
		s->next_gen = dmr_next_generation(s->max_gen, s->sb_copy);
	else
		s->next_gen = s->max_gen + 1;
	return s->err;
}

int dmr_scan(struct dmr_scan *s, const struct dmr_geometry *expect)
{
	int r = dmr_scan_sb(s, expect);

	if (r)
		return r;
	r = dmr_scan_pairs(s);
	return r;
}
