// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device-mapper glue of dm-remap: table parsing, bio mapping, status, messages.
 * Owns struct remap_c; reaches the table, worker and metadata only via their APIs.
 */
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-remap.h"

static int parse_sector(const char *arg, sector_t *out)
{
	unsigned long long v;

	if (kstrtoull(arg, 10, &v) || v != (sector_t)v)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Reject every table line that does not describe two usable, disjoint ranges. */
static int remap_validate_ranges(struct dm_target *ti, struct remap_c *rc)
{
	sector_t main_size = bdev_nr_sectors(rc->main_dev->bdev);
	sector_t spare_size = bdev_nr_sectors(rc->spare_dev->bdev);
	sector_t spare_end;

	if (ti->len > main_size) {
		ti->error = "Target length exceeds the main device";
		return -EINVAL;
	}
	if (!rc->spare_len) {
		ti->error = "Spare length must not be zero";
		return -EINVAL;
	}
	if (check_add_overflow(rc->spare_start, rc->spare_len, &spare_end)) {
		ti->error = "Spare start + length overflows";
		return -EINVAL;
	}
	if (spare_end > spare_size) {
		ti->error = "Spare range exceeds the spare device";
		return -EINVAL;
	}
	if (rc->main_dev->bdev == rc->spare_dev->bdev &&
	    rc->spare_start < ti->len) {
		ti->error = "Spare range overlaps the mapped main range";
		return -EINVAL;
	}
	return 0;
}

/*
 * remap <main_dev> <spare_dev> <spare_start> <spare_len>
 */
static int remap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	fmode_t mode = dm_table_get_mode(ti->table);
	struct remap_c *rc;
	int r;

	if (argc != 4) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}

	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate remap context";
		return -ENOMEM;
	}
	rc->ti = ti;

	if (parse_sector(argv[2], &rc->spare_start)) {
		ti->error = "Invalid spare_start";
		r = -EINVAL;
		goto bad;
	}
	if (parse_sector(argv[3], &rc->spare_len)) {
		ti->error = "Invalid spare_len";
		r = -EINVAL;
		goto bad;
	}

	r = dm_get_device(ti, argv[0], mode, &rc->main_dev);
	if (r) {
		ti->error = "Main device lookup failed";
		goto bad;
	}
	r = dm_get_device(ti, argv[1], mode, &rc->spare_dev);
	if (r) {
		ti->error = "Spare device lookup failed";
		goto bad_main;
	}

	r = remap_validate_ranges(ti, rc);
	if (r)
		goto bad_spare;

	/* Bio 0 of a flush goes to main, bio 1 to the spare. */
	ti->num_flush_bios = 2;
	ti->private = rc;
	return 0;

bad_spare:
	dm_put_device(ti, rc->spare_dev);
bad_main:
	dm_put_device(ti, rc->main_dev);
bad:
	kfree(rc);
	return r;
}

static void remap_dtr(struct dm_target *ti)
{
	struct remap_c *rc = ti->private;

	dm_put_device(ti, rc->spare_dev);
	dm_put_device(ti, rc->main_dev);
	kfree(rc);
}

static int remap_map(struct dm_target *ti, struct bio *bio)
{
	struct remap_c *rc = ti->private;

	if (unlikely(op_is_flush(bio->bi_opf) && !bio_sectors(bio))) {
		bio_set_dev(bio, dm_bio_get_target_bio_nr(bio) ?
			    rc->spare_dev->bdev : rc->main_dev->bdev);
		return DM_MAPIO_REMAPPED;
	}

	bio_set_dev(bio, rc->main_dev->bdev);
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	return DM_MAPIO_REMAPPED;
}

static void remap_status(struct dm_target *ti, status_type_t type,
			 unsigned int status_flags, char *result,
			 unsigned int maxlen)
{
	struct remap_c *rc = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%u.%u.%u", ti->type->version[0], ti->type->version[1],
		       ti->type->version[2]);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %llu %llu", rc->main_dev->name, rc->spare_dev->name,
		       (unsigned long long)rc->spare_start,
		       (unsigned long long)rc->spare_len);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",main_device=%s,spare_device=%s,spare_start=%llu,spare_len=%llu;",
		       rc->main_dev->name, rc->spare_dev->name,
		       (unsigned long long)rc->spare_start,
		       (unsigned long long)rc->spare_len);
		break;
	}
}

static int remap_message(struct dm_target *ti, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	unsigned int sz = 0;

	if (!argc)
		return -EINVAL;

	if (!strcasecmp(argv[0], "ping") && argc == 1) {
		DMEMIT("pong");
		return 1;
	}
	if (!strcasecmp(argv[0], "help") && argc == 1) {
		DMEMIT("messages: ping help");
		return 1;
	}

	DMERR("unrecognised message '%s' with %u argument(s)", argv[0], argc - 1);
	return -EINVAL;
}

static int remap_iterate_devices(struct dm_target *ti,
				 iterate_devices_callout_fn fn, void *data)
{
	struct remap_c *rc = ti->private;
	int r;

	r = fn(ti, rc->main_dev, 0, ti->len, data);
	if (r)
		return r;
	return fn(ti, rc->spare_dev, rc->spare_start, rc->spare_len, data);
}

static void remap_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct remap_c *rc = ti->private;

	/* Either device may serve any sector: honour the stricter of the two. */
	limits->logical_block_size =
		max3(limits->logical_block_size,
		     bdev_logical_block_size(rc->main_dev->bdev),
		     bdev_logical_block_size(rc->spare_dev->bdev));
}

static struct target_type remap_target = {
	.name = "remap",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = remap_ctr,
	.dtr = remap_dtr,
	.map = remap_map,
	.status = remap_status,
	.message = remap_message,
	.iterate_devices = remap_iterate_devices,
	.io_hints = remap_io_hints,
};

static int __init dm_remap_init(void)
{
	int r = dm_register_target(&remap_target);

	if (r < 0)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_remap_exit(void)
{
	dm_unregister_target(&remap_target);
}

module_init(dm_remap_init);
module_exit(dm_remap_exit);

MODULE_DESCRIPTION(DM_NAME " target that remaps bad blocks to a spare area");
MODULE_AUTHOR("dm-remap developers");
MODULE_LICENSE("GPL");
MODULE_ALIAS("dm-remap");
