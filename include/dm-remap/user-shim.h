/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace stand-ins for the kernel primitives used by the shared sources
 * (table, on-disk format), so the same C compiles into tools and tests.
 */
#ifndef DM_REMAP_USER_SHIM_H
#define DM_REMAP_USER_SHIM_H

#ifdef __KERNEL__
#error "user-shim.h is for userspace builds only"
#endif

#include <errno.h>
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <urcu.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;
typedef uint32_t __le32;
typedef uint64_t __le64;
typedef uint16_t __le16;
typedef unsigned int gfp_t;

#define GFP_KERNEL	0u
#define __GFP_ZERO	1u
#define NUMA_NO_NODE	(-1)

#define __rcu
#define __must_check	__attribute__((warn_unused_result))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#define READ_ONCE(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BITS_PER_LONG	64
#define BIT_WORD(nr)	((nr) / BITS_PER_LONG)
#define BIT_MASK(nr)	(1UL << ((nr) % BITS_PER_LONG))
#define BITS_TO_LONGS(n) (((n) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define min(a, b)	((a) < (b) ? (a) : (b))
#define max(a, b)	((a) > (b) ? (a) : (b))
#define min_t(t, a, b)	((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)	((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define cond_resched()	do { } while (0)
#define might_sleep()	do { } while (0)

#define cpu_to_le16(x)	htole16(x)
#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)
#define le16_to_cpu(x)	le16toh(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)

static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return (__atomic_load_n(&addr[BIT_WORD(nr)], __ATOMIC_RELAXED) >>
		(nr % BITS_PER_LONG)) & 1;
}

static inline void set_bit(unsigned long nr, unsigned long *addr)
{
	__atomic_fetch_or(&addr[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_RELAXED);
}

static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

static inline u64 mul_u64_u64_shr(u64 a, u64 b, unsigned int shift)
{
	return (u64)(((unsigned __int128)a * b) >> shift);
}

/* Cache-line aligned, as the kernel's allocations of these sizes are. */
static inline void *kvmalloc_node(size_t size, gfp_t flags, int node)
{
	size_t len = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, len ? len : 64);

	(void)node;
	if (p && (flags & __GFP_ZERO))
		memset(p, 0, len);
	return p;
}

static inline void *kvzalloc_node(size_t size, gfp_t flags, int node)
{
	return kvmalloc_node(size, flags | __GFP_ZERO, node);
}

static inline void kvfree(const void *p)
{
	free((void *)p);
}

/* liburcu provides rcu_dereference, rcu_assign_pointer, synchronize_rcu. */
#define rcu_dereference_protected(p, c)	(p)
#define rcu_dereference_check(p, c)	rcu_dereference(p)
#define ____cacheline_aligned_in_smp	__attribute__((__aligned__(64)))
#define rcu_access_pointer(p)		rcu_dereference(p)
#define RCU_INIT_POINTER(p, v)		((p) = (v))

u32 crc32c(u32 seed, const void *buf, size_t len);

/* table */
/*
 * liburcu 0.13 publishes with a fence plus a volatile store, which
 * ThreadSanitizer cannot see as ordering. C11 release/acquire emit the same
 * instructions on x86 and give TSan the publication edge.
 */
#include <assert.h>
#include <limits.h>

#undef rcu_dereference
#define rcu_dereference(p)		__atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#undef rcu_assign_pointer
#define rcu_assign_pointer(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif

#ifdef __SANITIZE_THREAD__
/*
 * The library is not instrumented, so TSan does not know that a grace period
 * orders every earlier read-side section before synchronize_rcu() returns.
 * Teach it exactly that edge (readers release at unlock, the updater acquires
 * after the grace period); a missing synchronize_rcu() is still reported.
 */
#include <sanitizer/tsan_interface.h>

/* Weak: one shared address for the edge, however many units include this. */
char dmr_tsan_gp __attribute__((weak));

static inline void dmr_tsan_read_unlock(void)
{
	__tsan_release(&dmr_tsan_gp);
	rcu_read_unlock();
}

static inline void dmr_tsan_synchronize_rcu(void)
{
	synchronize_rcu();
	__tsan_acquire(&dmr_tsan_gp);
}

#undef rcu_read_unlock
#define rcu_read_unlock()	dmr_tsan_read_unlock()
#undef synchronize_rcu
#define synchronize_rcu()	dmr_tsan_synchronize_rcu()
#endif /* __SANITIZE_THREAD__ */

/* format */
#include <assert.h>		/* static_assert */

#ifndef __packed
#define __packed	__attribute__((__packed__))
#endif
#ifndef BIT
#define BIT(nr)		(1UL << (nr))
#endif
#ifndef BIT_ULL
#define BIT_ULL(nr)	(1ULL << (nr))
#endif
#ifndef U32_MAX
#define U32_MAX		UINT32_MAX
#endif
#ifndef U64_MAX
#define U64_MAX		UINT64_MAX
#endif
#ifndef round_up
#define round_up(x, y)	((((x) - 1) | ((y) - 1)) + 1)	/* y: power of 2 */
#endif

static inline u64 div_u64_rem(u64 dividend, u32 divisor, u32 *remainder)
{
	*remainder = (u32)(dividend % divisor);
	return dividend / divisor;
}

static inline u64 div_u64(u64 dividend, u32 divisor)
{
	return dividend / divisor;
}

static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static inline void *memchr_inv(const void *start, int c, size_t bytes)
{
	const u8 *p = start;
	u64 pat = 0x0101010101010101ULL * (u8)c, w;
	size_t i = 0;

	for (; i + 8 <= bytes; i += 8) {	/* word at a time */
		memcpy(&w, p + i, 8);
		if (w != pat)
			break;
	}
	for (; i < bytes; i++)
		if (p[i] != (u8)c)
			return (void *)(p + i);
	return NULL;
}

#endif /* DM_REMAP_USER_SHIM_H */
