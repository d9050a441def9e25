/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private state of one dm-remap target instance, shared by the module's files.
 * Only src/ includes this; the on-disk format and table live in include/.
 */
#ifndef DM_REMAP_H
#define DM_REMAP_H

#include <linux/device-mapper.h>
#include <linux/types.h>

#define DM_MSG_PREFIX "remap"

struct remap_c {
	struct dm_target *ti;
	struct dm_dev *main_dev;
	struct dm_dev *spare_dev;
	sector_t spare_start;
	sector_t spare_len;
};

#endif /* DM_REMAP_H */
