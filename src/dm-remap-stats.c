// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-CPU I/O counters and in-flight generation counters of a remap target.
 * Touches rc->pcpu and rc->stats_base; the map path updates the per-CPU
 * values inline.
 */
#include <linux/percpu.h>
#include <linux/string.h>

#include "dm-remap.h"

int dmr_stats_alloc(struct remap_c *rc)
{
	rc->pcpu = alloc_percpu(struct dmr_pcpu);
	return rc->pcpu ? 0 : -ENOMEM;
}

void dmr_stats_free(struct remap_c *rc)
{
	free_percpu(rc->pcpu);
	rc->pcpu = NULL;
}

static void dmr_stats_raw(struct remap_c *rc, struct dmr_stats *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct dmr_stats *s = &per_cpu_ptr(rc->pcpu, cpu)->stats;

		sum->ios[0] += READ_ONCE(s->ios[0]);
		sum->ios[1] += READ_ONCE(s->ios[1]);
		sum->bytes[0] += READ_ONCE(s->bytes[0]);
		sum->bytes[1] += READ_ONCE(s->bytes[1]);
		sum->spare_ios += READ_ONCE(s->spare_ios);
		sum->splits += READ_ONCE(s->splits);
		sum->read_errors += READ_ONCE(s->read_errors);
		sum->write_errors += READ_ONCE(s->write_errors);
		sum->deferred += READ_ONCE(s->deferred);
	}
}

/* Counters since the last clear: the per-CPU values are never written here. */
void dmr_stats_sum(struct remap_c *rc, struct dmr_stats *sum)
{
	const u64 *base = (const u64 *)&rc->stats_base;
	u64 *v = (u64 *)sum;
	size_t i;

	dmr_stats_raw(rc, sum);
	mutex_lock(&rc->lock);
	for (i = 0; i < sizeof(*sum) / sizeof(u64); i++)
		v[i] -= base[i];
	mutex_unlock(&rc->lock);
}

void dmr_stats_clear(struct remap_c *rc)
{
	struct dmr_stats now;

	dmr_stats_raw(rc, &now);
	mutex_lock(&rc->lock);
	rc->stats_base = now;
	mutex_unlock(&rc->lock);
}
