/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints of dm-remap (events/dm_remap/ in tracefs), used by the bpftrace
 * scripts in trace/. Pure declarations; dm-remap-target.c instantiates them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dm_remap

#if !defined(DM_REMAP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define DM_REMAP_TRACE_H

#include <linux/tracepoint.h>

#include "compat.h"

/* A bio (or the piece of it inside one block) sent to a spare block. */
TRACE_EVENT(dmr_spare_io,
	    TP_PROTO(u64 sector, unsigned int sectors, u64 slot, bool write),
	    TP_ARGS(sector, sectors, slot, write),
	    TP_STRUCT__entry(__field(u64, sector)
			     __field(unsigned int, sectors)
			     __field(u64, slot)
			     __field(bool, write)),
	    TP_fast_assign(__entry->sector = sector;
			   __entry->sectors = sectors;
			   __entry->slot = slot;
			   __entry->write = write;),
	    TP_printk("sector=%llu sectors=%u slot=%llu %s", __entry->sector,
		      __entry->sectors, __entry->slot, __entry->write ? "W" : "R")
);

/* A bio cut at a block boundary: only @accepted of @sectors mapped now. */
TRACE_EVENT(dmr_split,
	    TP_PROTO(u64 sector, unsigned int sectors, unsigned int accepted),
	    TP_ARGS(sector, sectors, accepted),
	    TP_STRUCT__entry(__field(u64, sector)
			     __field(unsigned int, sectors)
			     __field(unsigned int, accepted)),
	    TP_fast_assign(__entry->sector = sector;
			   __entry->sectors = sectors;
			   __entry->accepted = accepted;),
	    TP_printk("sector=%llu sectors=%u accepted=%u", __entry->sector,
		      __entry->sectors, __entry->accepted)
);

/* A remap went live (@added) or was removed; @reason is a short word. */
TRACE_EVENT(dmr_remap,
	    TP_PROTO(u64 block, u64 slot, bool added, const char *reason),
	    TP_ARGS(block, slot, added, reason),
	    TP_STRUCT__entry(__field(u64, block)
			     __field(u64, slot)
			     __field(bool, added)
			     __string(reason, reason)),
	    TP_fast_assign(__entry->block = block;
			   __entry->slot = slot;
			   __entry->added = added;
			   dmr_assign_str(reason, reason);),
	    TP_printk("block=%llu slot=%llu %s reason=%s", __entry->block,
		      __entry->slot, __entry->added ? "added" : "removed",
		      __get_str(reason))
);

/* The worker applied a batch of @count blocks in @duration_ns. */
TRACE_EVENT(dmr_batch,
	    TP_PROTO(const char *op, u64 count, u64 duration_ns, int error),
	    TP_ARGS(op, count, duration_ns, error),
	    TP_STRUCT__entry(__string(op, op)
			     __field(u64, count)
			     __field(u64, duration_ns)
			     __field(int, error)),
	    TP_fast_assign(dmr_assign_str(op, op);
			   __entry->count = count;
			   __entry->duration_ns = duration_ns;
			   __entry->error = error;),
	    TP_printk("op=%s count=%llu duration_ns=%llu error=%d", __get_str(op),
		      __entry->count, __entry->duration_ns, __entry->error)
);

/* The scrub read @count blocks of main from @first; @bad could not be read. */
TRACE_EVENT(dmr_scrub,
	    TP_PROTO(u64 first, u64 count, unsigned int bad),
	    TP_ARGS(first, count, bad),
	    TP_STRUCT__entry(__field(u64, first)
			     __field(u64, count)
			     __field(unsigned int, bad)),
	    TP_fast_assign(__entry->first = first;
			   __entry->count = count;
			   __entry->bad = bad;),
	    TP_printk("first=%llu count=%llu bad=%u", __entry->first,
		      __entry->count, __entry->bad)
);

/* Main block @block is weak: it read only on a retry, or slowly (@why). */
TRACE_EVENT(dmr_weak,
	    TP_PROTO(u64 block, const char *why),
	    TP_ARGS(block, why),
	    TP_STRUCT__entry(__field(u64, block)
			     __string(why, why)),
	    TP_fast_assign(__entry->block = block;
			   dmr_assign_str(why, why);),
	    TP_printk("block=%llu why=%s", __entry->block, __get_str(why))
);

/* A metadata commit: @blocks metadata blocks (incl. superblock) written. */
TRACE_EVENT(dmr_commit,
	    TP_PROTO(u64 generation, u64 blocks, u64 duration_ns, int error),
	    TP_ARGS(generation, blocks, duration_ns, error),
	    TP_STRUCT__entry(__field(u64, generation)
			     __field(u64, blocks)
			     __field(u64, bytes)
			     __field(u64, duration_ns)
			     __field(int, error)),
	    TP_fast_assign(__entry->generation = generation;
			   __entry->blocks = blocks;
			   __entry->bytes = blocks * 4096;
			   __entry->duration_ns = duration_ns;
			   __entry->error = error;),
	    TP_printk("generation=%llu blocks=%llu bytes=%llu duration_ns=%llu error=%d",
		      __entry->generation, __entry->blocks, __entry->bytes,
		      __entry->duration_ns, __entry->error)
);

/* The remap table was rebuilt at a new capacity (0: freed). */
TRACE_EVENT(dmr_resize,
	    TP_PROTO(u64 old_capacity, u64 new_capacity, u64 duration_ns),
	    TP_ARGS(old_capacity, new_capacity, duration_ns),
	    TP_STRUCT__entry(__field(u64, old_capacity)
			     __field(u64, new_capacity)
			     __field(u64, duration_ns)),
	    TP_fast_assign(__entry->old_capacity = old_capacity;
			   __entry->new_capacity = new_capacity;
			   __entry->duration_ns = duration_ns;),
	    TP_printk("old=%llu new=%llu duration_ns=%llu", __entry->old_capacity,
		      __entry->new_capacity, __entry->duration_ns)
);

/* An I/O error seen by end_io, and what the target did about it. */
TRACE_EVENT(dmr_io_error,
	    TP_PROTO(u64 sector, unsigned int sectors, bool write, int error, const char *outcome),
	    TP_ARGS(sector, sectors, write, error, outcome),
	    TP_STRUCT__entry(__field(u64, sector)
			     __field(unsigned int, sectors)
			     __field(bool, write)
			     __field(int, error)
			     __string(outcome, outcome)),
	    TP_fast_assign(__entry->sector = sector;
			   __entry->sectors = sectors;
			   __entry->write = write;
			   __entry->error = error;
			   dmr_assign_str(outcome, outcome);),
	    TP_printk("sector=%llu sectors=%u %s error=%d outcome=%s",
		      __entry->sector, __entry->sectors, __entry->write ? "W" : "R",
		      __entry->error, __get_str(outcome))
);

#endif /* DM_REMAP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
