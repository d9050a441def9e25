/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API differences between the kernels dm-remap builds against
 * (6.1.y and 6.12.y are compile-checked: `make check-compat`). Each branch
 * names the kernel change that needs it; code outside this file uses only
 * the dmr_* names below.
 */
#ifndef DM_REMAP_COMPAT_H
#define DM_REMAP_COMPAT_H

#include <linux/version.h>
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/ioprio.h>
#include <linux/slab.h>

/* True when building against kernel a.b.c or newer (LINUX_VERSION_CODE). */
#define DMR_KERNEL_AT_LEAST(a, b, c) (KERNEL_VERSION(a, b, c) <= LINUX_VERSION_CODE)

/*
 * dm_io() takes an I/O priority since 6.9, commit 6e5f0f6383b4 ("dm io:
 * Support IO priority"), backported to 6.1.83 (see Debian's changelog of
 * linux 6.1.85-1) and to 6.6.23 with the dm-integrity recheck fixes.
 */
#if DMR_KERNEL_AT_LEAST(6, 9, 0) || \
	(DMR_KERNEL_AT_LEAST(6, 6, 23) && !DMR_KERNEL_AT_LEAST(6, 7, 0)) || \
	(DMR_KERNEL_AT_LEAST(6, 1, 83) && !DMR_KERNEL_AT_LEAST(6, 2, 0))
#define dmr_dm_io_prio(req, nr, where, errs, prio) \
	dm_io(req, nr, where, errs, prio)
#else
#define dmr_dm_io_prio(req, nr, where, errs, prio) dm_io(req, nr, where, errs)
#endif
#define dmr_dm_io(req, nr, where, errs) \
	dmr_dm_io_prio(req, nr, where, errs, IOPRIO_DEFAULT)

/*
 * The open mode of dm_get_device() and dm_table_get_mode() is a blk_mode_t
 * since 6.5 ("block: replace fmode_t with a block-specific type for block
 * open flags").
 */
#if DMR_KERNEL_AT_LEAST(6, 5, 0)
#define dmr_mode_t blk_mode_t
#else
#define dmr_mode_t fmode_t
#endif

/*
 * kvrealloc() lost its old-size argument in 6.12 ("mm: kvmalloc: align
 * kvrealloc() with krealloc()").
 */
#if DMR_KERNEL_AT_LEAST(6, 12, 0)
#define dmr_kvrealloc(p, oldsize, newsize, gfp) kvrealloc(p, newsize, gfp)
#else
#define dmr_kvrealloc(p, oldsize, newsize, gfp) \
	kvrealloc(p, oldsize, newsize, gfp)
#endif

/*
 * __assign_str() takes only the field since 6.10 ("tracing/treewide:
 * Remove second parameter of __assign_str()"): the
 * source is the one given to __string().
 */
#if DMR_KERNEL_AT_LEAST(6, 10, 0)
#define dmr_assign_str(dst, src) __assign_str(dst)
#else
#define dmr_assign_str(dst, src) __assign_str(dst, src)
#endif

#endif /* DM_REMAP_COMPAT_H */
