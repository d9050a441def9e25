/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host commands of dm-remap-tool (open, close, status, monitor, format of a
 * remaptab entry) and the remaptab parser; the metadata helpers they use
 * from dm-remap-tool.c.
 */
#ifndef DM_REMAP_TOOL_HOST_H
#define DM_REMAP_TOOL_HOST_H

#include <stdbool.h>

#include "dm-remap/format.h"

#define REMAPTAB_DEFAULT "/etc/remaptab"
#define REMAP_NAME_MAX 127	/* DM_NAME_LEN - 1 */
#define REMAP_SPEC_MAX 1024

/* One remaptab line, or the arguments of `open NAME MAIN SPARE [OPTIONS]`. */
struct remap_entry {
	unsigned int line;		/* 0: from the command line */
	char name[REMAP_NAME_MAX + 1];
	char main[REMAP_SPEC_MAX];
	char spare[REMAP_SPEC_MAX];	/* "-" with spare=tail: */
	char options[REMAP_SPEC_MAX];	/* as written, for messages */
	bool tail;			/* spare=tail:SIZE */
	u64 tail_sectors;
	bool have_range;		/* spare=START:LEN */
	u64 spare_start, spare_len;	/* sectors */
	u32 block_size;			/* 0: default */
	int auto_remap;			/* -1 default, 0 off, 1 on */
	long read_retries;		/* -1 default */
	long commit_interval;		/* -1 default */
	long outage_blocks;		/* -1 default */
	long outage_window;		/* -1 default */
	long scrub_rate;		/* -1 default */
	long weak_budget;		/* -1 default */
	long slow_read_ms;		/* -1 default */
	bool noauto, nofail;
};

struct remaptab {
	struct remap_entry *e;
	size_t n;
};

void remap_entry_init(struct remap_entry *e, unsigned int line);
/*
 * Parse the comma-separated option list @s into @e. Returns 0, or -1 with
 * the reason in @err.
 */
int remap_parse_options(const char *s, struct remap_entry *e, char *err,
			size_t errlen);
/* Check NAME, MAIN, SPARE and the options together; same convention. */
int remap_check_entry(const struct remap_entry *e, char *err, size_t errlen);
/*
 * Parse @path. Every error is printed as "PATH:LINE: reason" to stderr;
 * returns the number of errors (the table is usable only when 0), or -1
 * when the file cannot be read.
 */
int remaptab_parse(const char *path, struct remaptab *t);
/*
 * Split @s in place on blanks into @f (room for @max + 1 fields); returns
 * the number of fields, which may exceed @max + 1 (only those are kept).
 */
int split_blanks(char *s, char **f, int max);
/* Plain decimal, no sign, no blanks, no overflow: 0 or -1. */
int parse_dec(const char *s, u64 *v);
void remaptab_free(struct remaptab *t);

/* From dm-remap-tool.c. */
enum spare_probe { SPARE_VALID, SPARE_BLANK, SPARE_NOT_BLANK };
/* Read the superblocks of the spare area of @g on @path: <0 on I/O error. */
int tool_probe_spare(const char *path, const struct dmr_geometry *g,
		     struct dmr_sb *sb);
/* `format` of @g on @path; returns the exit status. */
int tool_format(const char *path, const struct dmr_geometry *g, bool force);
void md_uuid_format(const u8 *uuid, char out[37]);
/* The remap device's length and block size from the metadata on @spare. */
int offline_geometry(const char *spare, u64 spare_start, u64 *sectors, u64 *bs);
struct import_result {
	u64 remapped, already, pending, no_space, bad_slots;
};
/*
 * Import @blocks (ascending) offline: each one MAIN reads is copied to a
 * free slot of the spare area and mapped, the others become pending, then
 * one crash-safe commit. Both devices must be unused. Returns the exit
 * status (1: some did not fit, or a device is in use).
 */
int offline_import(const char *mainp, const char *sparep, u64 spare_start,
		   const u64 *blocks, size_t nr, struct import_result *res);

/* Entry points of the host commands; return the exit status. */
int host_main(int argc, char **argv);
bool host_command(const char *cmd);
int host_format(int argc, char **argv, bool force);
int host_generate(int argc, char **argv);

#endif /* DM_REMAP_TOOL_HOST_H */
