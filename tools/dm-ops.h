/* SPDX-License-Identifier: GPL-2.0-only */
/* dm-remap-tool: the device-mapper ioctls of the host commands (dm-ops.c). */
#ifndef DM_REMAP_TOOL_DM_OPS_H
#define DM_REMAP_TOOL_DM_OPS_H

#include <stddef.h>
#include <stdint.h>

/* 1: @name exists and is a remap device, 0: does not exist, -1: not remap */
int remap_exists(const char *name, char *uuid, size_t ulen);
/* name of the active device whose DM uuid is @uuid (malloc'd), or NULL */
char *name_of_uuid(const char *uuid);
int dm_create(const char *name, const char *uuid, uint64_t len,
	      const char *params);
int dm_remove(const char *name);
/* print the human status of remap device @name; 0 or 1 */
int show_status(const char *name);
/* call @fn for every active remap device: their number, or -1 */
int for_each_remap(int (*fn)(const char *name));

/* value of "key=" in a status line, or "?" */
const char *status_field(const char *line, const char *key, char *buf,
			 size_t len);
/*
 * Status line of remap device @name (malloc'd into *@params), its event
 * counter and DM uuid: 1, or 0 when it does not exist, -1 when not remap.
 */
int remap_status(const char *name, uint32_t *event_nr, char **params,
		 char *uuid, size_t ulen);
/* block until the event counter of @name differs from @event_nr: 0 or -1 */
int remap_wait_event(const char *name, uint32_t event_nr);
int host_monitor(int argc, char **argv);
/* remap device @name: its length in sectors and block size in bytes; 0 or -1 */
int remap_geometry(const char *name, uint64_t *sectors, uint64_t *block_size);
/* send @msg to remap device @name, its answer in @ans: 0 or -1 */
int remap_message(const char *name, const char *msg, char *ans, size_t len);
int host_import(int argc, char **argv);

#endif /* DM_REMAP_TOOL_DM_OPS_H */
