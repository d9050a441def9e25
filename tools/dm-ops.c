// SPDX-License-Identifier: GPL-2.0-only
/*
 * The libdevmapper side of dm-remap-tool's host commands. Kept apart from
 * the metadata code: <libdevmapper.h> pulls in the kernel's __le64, which
 * user-shim.h defines differently.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "dm-ops.h"
#include "msg.h"


/* ---- libdevmapper ------------------------------------------------------- */

static struct dm_task *dm_named(int type, const char *name)
{
	struct dm_task *dmt = dm_task_create(type);

	if (!dmt)
		return NULL;
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* 1: @name exists and is a remap device, 0: does not exist, -1: not remap */
int remap_exists(const char *name, char *uuid, size_t ulen)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_INFO, name);
	struct dm_info info;
	uint64_t start, length;
	char *type = NULL, *params = NULL;
	int r = 0;

	/* INFO first: TABLE of a missing device logs an error */
	if (!dmt)
		return 0;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &info) || !info.exists)
		goto out;
	dm_task_destroy(dmt);
	dmt = dm_named(DM_DEVICE_TABLE, name);
	if (!dmt)
		return 0;
	dm_task_no_open_count(dmt);
	if (!dm_task_run(dmt))
		goto out;
	dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	r = type && !strcmp(type, "remap") ? 1 : -1;
	if (uuid)
		snprintf(uuid, ulen, "%s", dm_task_get_uuid(dmt) ?: "");
out:
	dm_task_destroy(dmt);
	return r;
}

/* name of the active device whose DM uuid is @uuid, or NULL */
char *name_of_uuid(const char *uuid)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	char *name = NULL;

	if (!dmt)
		return NULL;
	if (dm_task_set_uuid(dmt, uuid) && dm_task_run(dmt) &&
	    dm_task_get_info(dmt, &info) && info.exists)
		name = strdup(dm_task_get_name(dmt));
	dm_task_destroy(dmt);
	return name;
}

int dm_create(const char *name, const char *uuid, uint64_t len,
		     const char *params)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_CREATE, name);
	uint32_t cookie = 0;
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_uuid(dmt, uuid) &&
	     dm_task_add_target(dmt, 0, len, "remap", params) &&
	     dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	if (cookie)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ok ? 0 : -1;
}

int dm_remove(const char *name)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_REMOVE, name);
	uint32_t cookie = 0;
	int ok;

	if (!dmt)
		return -1;
	dm_task_retry_remove(dmt);
	ok = dm_task_set_cookie(dmt, &cookie, 0) && dm_task_run(dmt);
	if (cookie)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ok ? 0 : -1;
}

/* ---- status ------------------------------------------------------------- */

/* value of "key=" in a status line, or "?" */
const char *status_field(const char *line, const char *key, char *buf,
			 size_t len)
{
	size_t k = strlen(key);
	const char *p = line;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[k] == '=') {
			size_t n = strcspn(p + k + 1, " ");

			if (n >= len)
				n = len - 1;
			memcpy(buf, p + k + 1, n);
			buf[n] = '\0';
			return buf;
		}
		p += k;
	}
	snprintf(buf, len, "?");
	return buf;
}

static void devname_of(const char *majmin, char *out, size_t len)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/block/%s", majmin);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0) {
		snprintf(out, len, "%s", majmin);
		return;
	}
	target[n] = '\0';
	snprintf(out, len, "%s (%s)", strrchr(target, '/') + 1, majmin);
}

/* Seconds since 1970 (decimal text) as local "YYYY-MM-DD HH:MM". */
static const char *fmt_time(const char *secs, char *buf, size_t len)
{
	time_t t = (time_t)strtoll(secs, NULL, 10);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, len, "%s", secs);
	return buf;
}

int show_status(const char *name)
{
	struct dm_task *st = dm_named(DM_DEVICE_STATUS, name);
	struct dm_task *tb = dm_named(DM_DEVICE_TABLE, name);
	uint64_t start, length;
	char *type = NULL, *params = NULL, *ttype = NULL, *tparams = NULL;
	char b[14][64], mm[2][32], dn[2][300];
	uint64_t used = 0, total = 0;
	uint64_t sstart = 0, slen = 0;
	int r = 1;

	if (!st || !tb || !dm_task_run(st) || !dm_task_run(tb))
		goto out;
	dm_get_next_target(st, NULL, &start, &length, &type, &params);
	dm_get_next_target(tb, NULL, &start, &length, &ttype, &tparams);
	if (!type || strcmp(type, "remap") || !params || !tparams)
		goto out;
	sscanf(status_field(params, "spare", b[0], sizeof(b[0])), "%" SCNu64 "/%" SCNu64,
	       &used, &total);
	if (sscanf(tparams, "%31s %31s %" SCNu64 " %" SCNu64, mm[0], mm[1],
		   &sstart, &slen) != 4)
		goto out;
	devname_of(mm[0], dn[0], sizeof(dn[0]));
	devname_of(mm[1], dn[1], sizeof(dn[1]));
	printf("%s: health %s, %s remapped, %s pending, spare %" PRIu64 " of %" PRIu64 " blocks free, errors %s\n",
	       name, status_field(params, "health", b[1], sizeof(b[1])),
	       status_field(params, "remaps", b[2], sizeof(b[2])),
	       status_field(params, "pending", b[3], sizeof(b[3])),
	       total - used, total, status_field(params, "errors", b[4], sizeof(b[4])));
	printf("  %s, main %s, spare %s sectors %" PRIu64 "+%" PRIu64 ", block size %s, auto_remap %s, metadata %s\n",
	       dm_task_get_uuid(st) ?: "", dn[0], dn[1], sstart, slen,
	       status_field(params, "block_size", b[5], sizeof(b[5])),
	       status_field(params, "auto_remap", b[6], sizeof(b[6])),
	       status_field(params, "metadata", b[7], sizeof(b[7])));
	status_field(params, "scrub_last_pass", b[11], sizeof(b[11]));
	printf("  scrub %s, %s%% (block %s), last full pass %s, weak blocks moved %s\n",
	       status_field(params, "scrub", b[8], sizeof(b[8])),
	       status_field(params, "scrub_percent", b[9], sizeof(b[9])),
	       status_field(params, "scrub_pos", b[10], sizeof(b[10])),
	       strcmp(b[11], "0") ? fmt_time(b[11], b[12], sizeof(b[12])) : "never",
	       status_field(params, "weak_remaps", b[13], sizeof(b[13])));
	r = 0;
out:
	if (st)
		dm_task_destroy(st);
	if (tb)
		dm_task_destroy(tb);
	return r;
}

/* call @fn for every active remap device */
int for_each_remap(int (*fn)(const char *name))
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *names;
	unsigned int next = 0;
	int count = 0, r = 0;

	if (!dmt || !dm_task_run(dmt) || !(names = dm_task_get_names(dmt))) {
		tool_err("cannot list device-mapper devices (is dm_mod loaded? are you root?)");
		if (dmt)
			dm_task_destroy(dmt);
		return -1;
	}
	if (names->dev) {
		do {
			names = (struct dm_names *)((char *)names + next);
			if (remap_exists(names->name, NULL, 0) == 1) {
				count++;
				if (fn(names->name))
					r = -1;
			}
			next = names->next;
		} while (next);
	}
	dm_task_destroy(dmt);
	return r ? r : count;
}

int remap_status(const char *name, uint32_t *event_nr, char **params,
		 char *uuid, size_t ulen)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_STATUS, name);
	struct dm_info info;
	uint64_t start, length;
	char *type = NULL, *p = NULL;
	int r = 0;

	if (!dmt)
		return 0;
	if (!dm_task_run(dmt) || !dm_task_get_info(dmt, &info) || !info.exists)
		goto out;
	dm_get_next_target(dmt, NULL, &start, &length, &type, &p);
	r = -1;
	if (!type || strcmp(type, "remap") || !p)
		goto out;
	*params = strdup(p);
	if (!*params)
		goto out;
	*event_nr = info.event_nr;
	snprintf(uuid, ulen, "%s", dm_task_get_uuid(dmt) ?: "");
	r = 1;
out:
	dm_task_destroy(dmt);
	return r;
}

int remap_geometry(const char *name, uint64_t *sectors, uint64_t *block_size)
{
	uint32_t ev;
	char *params = NULL, uuid[160], bs[32];
	int r = remap_status(name, &ev, &params, uuid, sizeof(uuid));
	struct dm_task *dmt;
	uint64_t start;
	char *type, *p;

	if (r != 1)
		return -1;
	*block_size = strtoull(status_field(params, "block_size", bs, sizeof(bs)), NULL, 10);
	free(params);
	dmt = dm_named(DM_DEVICE_TABLE, name);
	if (!dmt)
		return -1;
	r = -1;
	if (dm_task_run(dmt) && dm_get_next_target(dmt, NULL, &start, sectors, &type, &p) == NULL &&
	    type && *block_size >= 512)
		r = 0;
	dm_task_destroy(dmt);
	return r;
}

int remap_message(const char *name, const char *msg, char *ans, size_t len)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_TARGET_MSG, name);
	const char *resp;
	int r = -1;

	if (!dmt)
		return -1;
	if (dm_task_set_sector(dmt, 0) && dm_task_set_message(dmt, msg) &&
	    dm_task_run(dmt)) {
		resp = dm_task_get_message_response(dmt);
		snprintf(ans, len, "%s", resp ? resp : "");
		r = 0;
	}
	dm_task_destroy(dmt);
	return r;
}

int remap_wait_event(const char *name, uint32_t event_nr)
{
	struct dm_task *dmt = dm_named(DM_DEVICE_WAITEVENT, name);
	int ok;

	if (!dmt)
		return -1;
	ok = dm_task_set_event_nr(dmt, event_nr) && dm_task_run(dmt);
	dm_task_destroy(dmt);
	return ok ? 0 : -1;
}
