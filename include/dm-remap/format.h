/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-remap on-disk metadata format: layout, geometry, codecs and the loader.
 * Shared by the kernel target and the userspace tools; pure code, no I/O.
 *
 * The byte-by-byte description and the crash-safety argument are in
 * docs/metadata-format.md; keep both in step.
 */
#ifndef DM_REMAP_FORMAT_H
#define DM_REMAP_FORMAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/compiler_attributes.h>
#else
#include "user-shim.h"
#endif

/* ---- constants ---------------------------------------------------------- */

#define DMR_FORMAT_VERSION	1u

#define DMR_MD_BLOCK_SIZE	4096u		/* metadata block, bytes */
#define DMR_MD_BLOCK_SECTORS	8u
#define DMR_MIN_BLOCK_SIZE	512u
#define DMR_MAX_BLOCK_SIZE	65536u
#define DMR_DEFAULT_BLOCK_SIZE	4096u
#define DMR_NR_PENDING_BLOCKS	8u		/* K: pending-block pairs */

/* "DMREMPSB", "DMREMPEN", "DMREMPPD" read as little-endian u64 */
#define DMR_SB_MAGIC		0x4253504d45524d44ULL
#define DMR_ENTRY_MAGIC		0x4e45504d45524d44ULL
#define DMR_PENDING_MAGIC	0x4450504d45524d44ULL

/* XORed into the crc32c so a block of one kind never checks as another */
#define DMR_SB_CSUM_XOR		0x0d3a1c5bu
#define DMR_ENTRY_CSUM_XOR	0x1e4b2d6cu
#define DMR_PENDING_CSUM_XOR	0x2f5c3e7du

/* Limits; every geometry above them is refused with a reason. */
#define DMR_MAX_SECTORS		BIT_ULL(63)	/* device sizes and ends */
#define DMR_MAX_BLOCKS		BIT_ULL(60)	/* main blocks (record field) */
#define DMR_MAX_SLOTS		BIT_ULL(32)	/* spare slots */
#define DMR_MAX_GENERATION	BIT_ULL(62)

/* Records: top 4 bits type, low 60 bits argument. 0 is a free record. */
#define DMR_REC_TYPE_SHIFT	60
#define DMR_REC_ARG_MASK	(BIT_ULL(DMR_REC_TYPE_SHIFT) - 1)
#define DMR_REC_FREE		0u	/* entry or pending: unused */
#define DMR_REC_MAPPED		1u	/* entry: slot holds main block arg */
#define DMR_REC_BAD		2u	/* entry: slot is bad, arg 0 */
#define DMR_REC_PENDING		3u	/* pending: main block arg unreadable */

#define DMR_UUID_SIZE		16

/*
 * Superblock flags. A loader refuses flags it does not know, so a module
 * that predates a feature does not overwrite its state.
 */
#define DMR_SB_FLAG_SCRUB	BIT(0)	/* the scrub fields are in use */
#define DMR_SB_FLAGS_KNOWN	DMR_SB_FLAG_SCRUB

/* scrub_state: where a patrol read of main stands. */
#define DMR_SCRUB_IDLE		0u
#define DMR_SCRUB_RUNNING	1u
#define DMR_SCRUB_PAUSED	2u

/* ---- on-disk structures (little-endian, packed, DMR_MD_BLOCK_SIZE) ------ */

struct dmr_disk_sb {
	__le32 csum;		/* crc32c(~0, bytes 4..4095) ^ DMR_SB_CSUM_XOR */
	__le32 flags;
	__le64 magic;		/* DMR_SB_MAGIC */
	__le32 version;		/* DMR_FORMAT_VERSION */
	__le32 copy;		/* 0 or 1: where this copy lives; = generation % 2 */
	__le64 generation;
	u8 uuid[DMR_UUID_SIZE];
	__le32 block_size;	/* bytes */
	__le32 md_block_size;	/* DMR_MD_BLOCK_SIZE */
	__le64 main_sectors;
	__le64 spare_start;
	__le64 spare_len;
	__le64 nr_slots;
	__le64 nr_entry_blocks;	/* N */
	__le32 nr_pending_blocks;	/* K */
	__le32 entries_per_block;	/* E */
	__le64 data_start;	/* absolute sector of slot 0 on the spare device */
	__le64 nr_mapped;
	__le64 nr_bad;
	__le64 nr_pending;
	__le64 pair_digest;	/* sum of dmr_digest_term() over all pairs */
	/* With DMR_SB_FLAG_SCRUB; all zero without it. */
	__le32 scrub_state;	/* DMR_SCRUB_* */
	__le32 scrub_pad;	/* zero */
	__le64 scrub_pos;	/* next main block of the pass, <= nr_blocks */
	__le64 scrub_last_pass;	/* end of the last full pass, s since 1970; 0 never */
	u8 reserved[3928];	/* zero */
} __packed;

struct dmr_disk_block_header {
	__le32 csum;		/* crc32c(~0, bytes 4..4095) ^ kind's XOR */
	__le32 copy;		/* 0 = copy A, 1 = copy B */
	__le64 magic;		/* DMR_ENTRY_MAGIC or DMR_PENDING_MAGIC */
	__le64 generation;	/* >= 1 */
	__le64 index;		/* block index within its area */
	u8 uuid[DMR_UUID_SIZE];	/* superblock uuid */
} __packed;

#define DMR_BLOCK_HEADER_SIZE	48u
#define DMR_ENTRIES_PER_BLOCK	\
	((DMR_MD_BLOCK_SIZE - DMR_BLOCK_HEADER_SIZE) / 8u)	/* E = 506 */

static_assert(sizeof(struct dmr_disk_sb) == DMR_MD_BLOCK_SIZE, "sb size");
static_assert(sizeof(struct dmr_disk_block_header) == DMR_BLOCK_HEADER_SIZE,
	      "block header size");
static_assert(DMR_BLOCK_HEADER_SIZE + DMR_ENTRIES_PER_BLOCK * 8 ==
	      DMR_MD_BLOCK_SIZE, "entry block size");

/* ---- geometry ----------------------------------------------------------- */

/* Everything derived from the table line; all sector values are 512 B. */
struct dmr_geometry {
	u32 block_size;		/* B, bytes */
	u32 block_sectors;	/* B / 512 */
	u32 block_shift;	/* log2(block_sectors) */
	u32 entries_per_block;	/* E */
	u32 nr_pending_blocks;	/* K */
	u64 main_sectors;	/* L */
	u64 nr_blocks;		/* L / block_sectors */
	u64 spare_start;
	u64 spare_len;
	u64 nr_slots;		/* S */
	u64 nr_entry_blocks;	/* N = ceil(S / E) */
	u64 nr_md_blocks;	/* 2 + 2N + 2K */
	u64 md_sectors;		/* metadata rounded up to block_sectors */
	u64 data_start;		/* spare_start + md_sectors */
	u64 pending_capacity;	/* K * E */
};

/*
 * Fill @g from the table line. Returns 0, -EINVAL (bad argument),
 * -ENOSPC (spare area cannot hold metadata plus one data block) or
 * -EOVERFLOW (above a limit); *@why (if @why) gets a static reason.
 */
int dmr_geometry_compute(struct dmr_geometry *g, u32 block_size,
			 u64 main_sectors, u64 spare_start, u64 spare_len,
			 const char **why);

/* Metadata block indexes count DMR_MD_BLOCK_SIZE units from spare_start. */
enum dmr_area {
	DMR_AREA_SB = 0,
	DMR_AREA_ENTRY = 1,
	DMR_AREA_PENDING = 2,
};

u64 dmr_md_index(const struct dmr_geometry *g, enum dmr_area area,
		 u64 index, u32 copy);
u64 dmr_md_sector(const struct dmr_geometry *g, u64 md_index);

/* Inline: the map path computes one for every remapped bio. */
static inline u64 dmr_slot_sector(const struct dmr_geometry *g, u64 slot)
{
	return g->data_start + (slot << g->block_shift);
}

static inline u64 dmr_main_sector(const struct dmr_geometry *g, u64 block)
{
	return block << g->block_shift;
}

/* slot -> (entry block index, record position in it) */
u64 dmr_slot_to_entry(const struct dmr_geometry *g, u64 slot, u32 *pos);
/* number of blocks in @area (N, K, or 2 superblock copies counted as 1) */
u64 dmr_area_blocks(const struct dmr_geometry *g, enum dmr_area area);
/* pair identifier for the digest: entry i -> i, pending k -> N + k */
u64 dmr_pair_id(const struct dmr_geometry *g, enum dmr_area area, u64 index);

/* ---- records ------------------------------------------------------------ */

static inline u64 dmr_rec_make(u32 type, u64 arg)
{
	return ((u64)type << DMR_REC_TYPE_SHIFT) | (arg & DMR_REC_ARG_MASK);
}

static inline u32 dmr_rec_type(u64 rec)
{
	return (u32)(rec >> DMR_REC_TYPE_SHIFT);
}

static inline u64 dmr_rec_arg(u64 rec)
{
	return rec & DMR_REC_ARG_MASK;
}

/*
 * Check one record found at @pos (slot for entries, position for
 * pending). Returns 0 when valid, -EUCLEAN otherwise with a reason.
 */
int dmr_rec_check(const struct dmr_geometry *g, enum dmr_area area, u64 pos,
		  u64 rec, const char **why);

/* ---- superblock --------------------------------------------------------- */

struct dmr_sb {
	u32 flags;
	u32 version;
	u32 copy;
	u64 generation;
	u8 uuid[DMR_UUID_SIZE];
	u32 block_size;
	u32 md_block_size;
	u64 main_sectors;
	u64 spare_start;
	u64 spare_len;
	u64 nr_slots;
	u64 nr_entry_blocks;
	u32 nr_pending_blocks;
	u32 entries_per_block;
	u64 data_start;
	u64 nr_mapped;
	u64 nr_bad;
	u64 nr_pending;
	u64 pair_digest;
	u32 scrub_state;	/* DMR_SB_FLAG_SCRUB follows these three */
	u64 scrub_pos;
	u64 scrub_last_pass;
};

/* Outcome of checking one copy of a superblock or of a pair block. */
enum dmr_blk_state {
	DMR_BLK_VALID = 0,	/* checksum, magic and every field OK */
	DMR_BLK_ZERO,		/* all zero: never written (generation 0) */
	DMR_BLK_STALE,		/* valid block of another uuid: empty */
	DMR_BLK_FOREIGN,	/* bad checksum and no dm-remap magic */
	DMR_BLK_BAD_CSUM,	/* dm-remap magic, checksum wrong */
	DMR_BLK_BAD_MAGIC,	/* checksum right, magic of another kind */
	DMR_BLK_BAD_COPY,	/* copy field differs from its location */
	DMR_BLK_BAD_INDEX,	/* index field differs from its location */
	DMR_BLK_BAD_FIELD,	/* a field out of range or inconsistent */
	DMR_BLK_NEWER,		/* superblock of a newer version or flags */
	DMR_BLK_NR_STATES
};

const char *dmr_blk_state_str(enum dmr_blk_state st);

/* Does this block carry one of the dm-remap magics at offset 8? */
bool dmr_is_md_block(const void *buf);
bool dmr_is_zero_block(const void *buf);

/* Fill the geometry fields of @sb from @g; counts and digest zeroed. */
void dmr_sb_init(struct dmr_sb *sb, const struct dmr_geometry *g,
		 const u8 *uuid);
/* Encode @sb into the DMR_MD_BLOCK_SIZE buffer @buf, checksum included. */
void dmr_sb_encode(void *buf, const struct dmr_sb *sb);
/*
 * Decode and validate the copy found at superblock location @copy.
 * Checks checksum, magic, version, flags, copy, generation parity,
 * geometry self-consistency, count ranges, the scrub fields and the
 * reserved area. The encoder sets DMR_SB_FLAG_SCRUB by the scrub fields.
 * @sb is filled whenever the checksum and magic are right.
 */
enum dmr_blk_state dmr_sb_decode(const void *buf, u32 copy, struct dmr_sb *sb,
				 const char **why);
/* Compare a loaded superblock with the table line. 0 or -EINVAL. */
int dmr_sb_check_geometry(const struct dmr_sb *sb,
			  const struct dmr_geometry *g, const char **why);

struct dmr_sb_copy {
	enum dmr_blk_state state;
	struct dmr_sb sb;
};

/*
 * Choose the superblock: the valid copy with the highest generation.
 * Returns 0 or 1, or -ENODATA (both blank: never formatted), -EINVAL
 * (no dm-remap superblock: foreign data), -EOPNOTSUPP (newer version),
 * -EUCLEAN (both damaged, or valid copies that disagree).
 */
int dmr_pick_sb(const struct dmr_sb_copy copies[2], const char **why);

/* ---- entry and pending blocks ------------------------------------------- */

struct dmr_blk_info {
	enum dmr_blk_state state;
	u64 generation;		/* 0 unless DMR_BLK_VALID */
};

/* Header for a block of @area (ENTRY or PENDING), all records free. */
void dmr_block_init(void *buf, enum dmr_area area, u64 index, u32 copy,
		    u64 generation, const u8 *uuid);
void dmr_block_set(void *buf, u32 pos, u64 rec);
u64 dmr_block_get(const void *buf, u32 pos);
/* Compute the checksum; call after the last dmr_block_set(). */
void dmr_block_seal(void *buf);
/*
 * Validate a block read at (@area, @index, @copy). Checks checksum,
 * magic, copy, index, uuid, generation range and every record.
 */
void dmr_block_check(const struct dmr_geometry *g, const void *buf,
		     enum dmr_area area, u64 index, u32 copy, const u8 *uuid,
		     struct dmr_blk_info *info, const char **why);

/*
 * Choose the current copy of a pair under superblock generation @sb_gen:
 * the usable copy (valid, zero or stale; generation <= @sb_gen) with the
 * highest generation. Returns 0 (A), 1 (B) or -EUCLEAN (no usable copy,
 * or two valid copies with the same generation).
 */
int dmr_pick_copy(const struct dmr_blk_info *a, const struct dmr_blk_info *b,
		  u64 sb_gen);

/* ---- commit helpers ----------------------------------------------------- */

/* Digest contribution of a pair whose current copy has generation @gen. */
u64 dmr_digest_term(u64 pair_id, u64 gen);
/* First generation > @max_seen whose superblock copy is not @cur_copy. */
u64 dmr_next_generation(u64 max_seen, u32 cur_copy);

/* ---- region scanner ----------------------------------------------------- */

enum dmr_severity {
	DMR_SEV_INFO = 0,	/* nothing lost, e.g. an uncommitted leftover */
	DMR_SEV_WARN = 1,	/* damage that the protocol tolerates */
	DMR_SEV_ERROR = 2,	/* the state cannot be trusted */
};

struct dmr_report {
	enum dmr_severity sev;
	int err;		/* -errno */
	enum dmr_area area;
	u64 index;		/* block index in area (copy number for SB) */
	int copy;		/* 0/1, or -1 for the pair as a whole */
	u64 pos;		/* slot / pending position, or U64_MAX */
	u64 value;		/* offending value, when meaningful */
	const char *msg;	/* static text */
};

/* A pair after its current copy has been chosen. */
struct dmr_pair_info {
	enum dmr_area area;
	u64 index;
	int copy;		/* current copy 0/1, -1 if none */
	u64 generation;		/* of the current copy (0: empty) */
	struct dmr_blk_info info[2];
	unsigned int flags;	/* DMR_PAIR_* */
};

/* other copy is valid with generation > sb: must be rewritten next commit */
#define DMR_PAIR_LEFTOVER	BIT(0)
/* other copy is non-zero and invalid (torn write or damage) */
#define DMR_PAIR_DAMAGED	BIT(1)
/* a copy belongs to another uuid (treated as empty) */
#define DMR_PAIR_STALE		BIT(2)

struct dmr_record {
	enum dmr_area area;
	u32 type;		/* DMR_REC_MAPPED, _BAD or _PENDING */
	u64 pos;		/* slot (entries) or position (pending) */
	u64 block;		/* main block, MAPPED and PENDING */
};

struct dmr_scan_ops {
	/* Read metadata block @md_index into the DMR_MD_BLOCK_SIZE @buf. */
	int (*read)(void *ctx, u64 md_index, void *buf);
	/* Optional: each pair, in order, once its copy is chosen. */
	int (*pair)(void *ctx, const struct dmr_pair_info *pi);
	/* Optional: each non-free record of the current copies. */
	int (*record)(void *ctx, const struct dmr_record *rec);
	/* Optional: each finding, whatever its severity. */
	void (*report)(void *ctx, const struct dmr_report *r);
};

/* dmr_scan flags */
#define DMR_SCAN_KEEP_GOING	BIT(0)	/* report all errors, skip bad */
#define DMR_SCAN_NO_SB		BIT(1)	/* sb/geo preset by caller */

struct dmr_scan {
	/* in */
	const struct dmr_scan_ops *ops;
	void *ctx;
	void *buf[2];		/* two DMR_MD_BLOCK_SIZE buffers */
	unsigned int flags;
	/* set by dmr_scan_sb() (or by the caller with DMR_SCAN_NO_SB) */
	struct dmr_geometry geo;
	struct dmr_sb sb;
	int sb_copy;
	struct dmr_sb_copy sbc[2];
	/* out */
	u64 nr_mapped;
	u64 nr_bad;
	u64 nr_pending;
	u64 digest;
	u64 max_gen;		/* highest generation seen anywhere */
	u64 next_gen;		/* generation of the next commit */
	u64 nr_leftover;	/* pairs to rewrite at the next commit */
	u64 nr_errors;
	u64 nr_warnings;
	int err;		/* first error, 0 if none */
	const char *why;	/* its reason */
};

/*
 * Read both superblocks and choose one; with @expect (the table line)
 * the geometry must match it. Fills s->sb, s->sb_copy, s->sbc, s->geo.
 */
int dmr_scan_sb(struct dmr_scan *s, const struct dmr_geometry *expect);
/*
 * Stream over every entry pair then every pending pair, two blocks in
 * memory at a time: choose the current copy, validate it, call ops->pair
 * and ops->record, then compare counts and digest with the superblock.
 * Returns 0 or the first error (-EUCLEAN for corruption, a read error,
 * or a callback's error).
 */
int dmr_scan_pairs(struct dmr_scan *s);
/* dmr_scan_sb() then dmr_scan_pairs(). */
int dmr_scan(struct dmr_scan *s, const struct dmr_geometry *expect);

#endif /* DM_REMAP_FORMAT_H */
