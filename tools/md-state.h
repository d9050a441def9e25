/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * In-memory metadata state for dm-remap-tool: record lists, validation,
 * text/JSON dump, text dump parser and the fresh-state writer. No file I/O.
 */
#ifndef DM_REMAP_MD_STATE_H
#define DM_REMAP_MD_STATE_H

#include <stdio.h>

#include "dm-remap/format.h"

struct md_map {
	u64 block;		/* main block */
	u64 slot;
	u64 gen;		/* generation of the block it came from */
};

struct md_state {
	struct dmr_geometry geo;
	u8 uuid[DMR_UUID_SIZE];
	u64 generation;		/* informational */
	int sb_copy;		/* informational, -1 if unknown */
	u32 scrub_state;	/* informational: restore starts idle */
	u64 scrub_pos, scrub_last_pass;
	struct md_map *maps;
	size_t nr_maps, cap_maps;
	u64 *bad;		/* bad slots */
	size_t nr_bad, cap_bad;
	u64 *pending;		/* pending main blocks */
	size_t nr_pending, cap_pending;
};

void md_state_init(struct md_state *st);
void md_state_free(struct md_state *st);
int md_state_add_map(struct md_state *st, u64 block, u64 slot, u64 gen);
int md_state_add_bad(struct md_state *st, u64 slot);
int md_state_add_pending(struct md_state *st, u64 block);

/* called once per problem found by md_state_validate() */
typedef void (*md_problem_fn)(void *ctx, const char *msg);

/*
 * Check ranges and uniqueness (a slot used twice, a main block mapped
 * twice, a pending block listed twice, too many pending blocks). With
 * @fix, drop the offending records instead (duplicates: keep the one of
 * the highest generation, then the lowest slot). Returns the number of
 * problems. Leaves maps sorted by main block, bad and pending sorted.
 */
size_t md_state_validate(struct md_state *st, bool fix, md_problem_fn fn,
			 void *ctx);

/* Is main block @block mapped or pending? @st must have passed validation. */
bool md_state_has_block(const struct md_state *st, u64 block);

void md_uuid_format(const u8 *uuid, char out[37]);
int md_uuid_parse(const char *s, u8 *uuid);

/* The scrub state's name, as the kernel's status line gives it. */
const char *md_scrub_name(u32 state);
void md_state_print_text(const struct md_state *st, FILE *f);
void md_state_print_json(const struct md_state *st, FILE *f);

/* which geometry keys a parsed dump carried */
struct md_dump_info {
	bool have_block_size, have_main_sectors;
	bool have_spare_start, have_spare_len;
	bool have_uuid;
	u32 block_size;
	u64 main_sectors, spare_start, spare_len;
	/* optional cross-checks */
	bool have_nr_slots, have_data_start;
	u64 nr_slots, data_start;
	bool have_counts[3];
	u64 counts[3];		/* mapped, bad, pending */
};

/*
 * Parse a text dump of @len bytes. Records go to @st (geometry is NOT
 * computed; the caller does that from @info and the command line).
 * Returns 0 or -EINVAL with a message "line N: ..." in @err.
 */
int md_parse_text(const char *text, size_t len, struct md_state *st,
		  struct md_dump_info *info, char *err, size_t errlen);

struct md_writer {
	void *ctx;
	int (*read)(void *ctx, u64 md_index, void *buf);
	int (*write)(void *ctx, u64 md_index, const void *buf);
	int (*sync)(void *ctx);
};

/*
 * Write @st as a fresh committed state: superblocks invalidated first,
 * then every pair (copy A generation 1, copy B generation 2, or zeroes),
 * sync, superblock copy 1 (generation 1), sync, copy 0 (generation 2),
 * sync. @st must have passed md_state_validate(). Returns 0 or -errno.
 */
int md_state_write(struct md_state *st, const struct md_writer *w);

/*
 * Commit @st over the committed state it was loaded from, as the kernel
 * commits (docs/metadata-format.md section 8): every pair into its
 * non-current copy (@cur, indexed by dmr_pair_id()) at generation @gen (the
 * scan's next_gen), sync, then superblock copy @gen % 2, with the flags and
 * scrub fields of @old, and sync. A crash at any point leaves the old state
 * or the new one. @st must have passed md_state_validate().
 */
int md_state_commit(struct md_state *st, const struct md_writer *w,
		    const signed char *cur, u64 gen, const struct dmr_sb *old);

#endif /* DM_REMAP_MD_STATE_H */
