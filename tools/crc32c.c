// SPDX-License-Identifier: GPL-2.0-only
/*
 * Userspace crc32c (Castagnoli) with the kernel's crc32c(seed, buf, len)
 * semantics: raw reflected update, no pre- or post-inversion. Pure code.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dm-remap/user-shim.h"

#define CRC32C_POLY_LE 0x82f63b78u

static u32 table[256];
static int table_ready;

static void crc32c_init_table(void)
{
	u32 i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1) ? CRC32C_POLY_LE : 0);
		table[i] = c;
	}
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static u32 crc32c_sw(u32 crc, const u8 *p, size_t len)
{
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		crc32c_init_table();
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static u32 crc32c_hw(u32 crc, const u8 *p, size_t len)
{
	u64 c = crc, v;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((u32)c, *p++);
		len--;
	}
	while (len >= 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((u32)c, *p++);
	return (u32)c;
}
#endif

u32 crc32c(u32 seed, const void *buf, size_t len)
{
#if defined(__x86_64__)
	static int hw = -1;

	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return crc32c_hw(seed, buf, len);
#endif
	return crc32c_sw(seed, buf, len);
}

/* Software path, exported for the self-test that compares both paths. */
u32 crc32c_generic(u32 seed, const void *buf, size_t len);
u32 crc32c_generic(u32 seed, const void *buf, size_t len)
{
	return crc32c_sw(seed, buf, len);
}
