// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap-tool state: record lists, validation, dump printers, text dump
 * parser and the fresh-state writer. Touches no files; I/O via callbacks.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md-state.h"

void md_state_init(struct md_state *st)
{
	memset(st, 0, sizeof(*st));
	st->sb_copy = -1;
}

void md_state_free(struct md_state *st)
{
	free(st->maps);
	free(st->bad);
	free(st->pending);
	md_state_init(st);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int md_state_add_map(struct md_state *st, u64 block, u64 slot, u64 gen)
{
	if (grow((void **)&st->maps, &st->cap_maps, st->nr_maps + 1,
		 sizeof(*st->maps)))
		return -ENOMEM;
	st->maps[st->nr_maps].block = block;
	st->maps[st->nr_maps].slot = slot;
	st->maps[st->nr_maps].gen = gen;
	st->nr_maps++;
	return 0;
}

int md_state_add_bad(struct md_state *st, u64 slot)
{
	if (grow((void **)&st->bad, &st->cap_bad, st->nr_bad + 1,
		 sizeof(*st->bad)))
		return -ENOMEM;
	st->bad[st->nr_bad++] = slot;
	return 0;
}

int md_state_add_pending(struct md_state *st, u64 block)
{
	if (grow((void **)&st->pending, &st->cap_pending, st->nr_pending + 1,
		 sizeof(*st->pending)))
		return -ENOMEM;
	st->pending[st->nr_pending++] = block;
	return 0;
}

/* ---- validation --------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int cmp_map_slot(const void *a, const void *b)
{
	const struct md_map *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen > y->gen ? -1 : 1;
	return x->block < y->block ? -1 : x->block > y->block;
}

static int cmp_map_block(const void *a, const void *b)
{
	const struct md_map *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen > y->gen ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void sort(void *base, size_t n, size_t size,
		 int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

struct vctx {
	md_problem_fn fn;
	void *ctx;
	size_t n;
};

__attribute__((format(printf, 2, 3)))
static void problem(struct vctx *v, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->n++;
	if (v->fn)
		v->fn(v->ctx, msg);
}

static bool bsearch_u64(const u64 *a, size_t n, u64 key)
{
	return n && bsearch(&key, a, n, sizeof(*a), cmp_u64) != NULL;
}

static int cmp_map_key(const void *key, const void *elem)
{
	u64 b = *(const u64 *)key, e = ((const struct md_map *)elem)->block;

	return b < e ? -1 : b > e;
}

bool md_state_has_block(const struct md_state *st, u64 block)
{
	return bsearch_u64(st->pending, st->nr_pending, block) ||
	       (st->nr_maps && bsearch(&block, st->maps, st->nr_maps,
				       sizeof(*st->maps), cmp_map_key));
}

size_t md_state_validate(struct md_state *st, bool fix, md_problem_fn fn,
			 void *ctx)
{
	const struct dmr_geometry *g = &st->geo;
	struct vctx v = { fn, ctx, 0 };
	size_t i, o;

	/* ranges */
	for (i = o = 0; i < st->nr_maps; i++) {
		struct md_map *m = &st->maps[i];

		if (m->block >= g->nr_blocks || m->slot >= g->nr_slots) {
			problem(&v, "mapping of main block %" PRIu64 " to slot %" PRIu64 " out of range (%" PRIu64 " blocks, %" PRIu64 " slots)",
				m->block, m->slot, g->nr_blocks, g->nr_slots);
			if (fix)
				continue;
		}
		st->maps[o++] = *m;
	}
	st->nr_maps = o;
	for (i = o = 0; i < st->nr_bad; i++) {
		if (st->bad[i] >= g->nr_slots) {
			problem(&v, "bad slot %" PRIu64 " out of range (%" PRIu64 " slots)",
				st->bad[i], g->nr_slots);
			if (fix)
				continue;
		}
		st->bad[o++] = st->bad[i];
	}
	st->nr_bad = o;
	for (i = o = 0; i < st->nr_pending; i++) {
		if (st->pending[i] >= g->nr_blocks) {
			problem(&v, "pending main block %" PRIu64 " out of range (%" PRIu64 " blocks)",
				st->pending[i], g->nr_blocks);
			if (fix)
				continue;
		}
		st->pending[o++] = st->pending[i];
	}
	st->nr_pending = o;

	/* bad slots listed twice */
	sort(st->bad, st->nr_bad, sizeof(*st->bad), cmp_u64);
	for (i = o = 0; i < st->nr_bad; i++) {
		if (i && st->bad[i] == st->bad[i - 1]) {
			problem(&v, "bad slot %" PRIu64 " listed twice",
				st->bad[i]);
			if (fix)
				continue;
		}
		st->bad[o++] = st->bad[i];
	}
	st->nr_bad = o;

	/* a slot used by two mappings, or mapped and bad */
	sort(st->maps, st->nr_maps, sizeof(*st->maps), cmp_map_slot);
	for (i = o = 0; i < st->nr_maps; i++) {
		struct md_map *m = &st->maps[i];

		if (o && st->maps[o - 1].slot == m->slot) {
			problem(&v, "slot %" PRIu64 " holds two main blocks (%" PRIu64 " and %" PRIu64 ")",
				m->slot, st->maps[o - 1].block, m->block);
			if (fix)
				continue;
		}
		if (bsearch_u64(st->bad, st->nr_bad, m->slot))
			problem(&v, "slot %" PRIu64 " is both bad and mapped (main block %" PRIu64 ")",
				m->slot, m->block);
		st->maps[o++] = *m;
	}
	st->nr_maps = o;
	if (fix) {	/* keep the mapping, forget the bad mark */
		for (i = o = 0; i < st->nr_bad; i++) {
			struct md_map key = { .slot = st->bad[i] };
			size_t lo = 0, hi = st->nr_maps;
			bool used = false;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (st->maps[mid].slot < key.slot)
					lo = mid + 1;
				else
					hi = mid;
			}
			used = lo < st->nr_maps && st->maps[lo].slot == key.slot;
			if (!used)
				st->bad[o++] = st->bad[i];
		}
		st->nr_bad = o;
	}

	/* a main block mapped twice */
	sort(st->maps, st->nr_maps, sizeof(*st->maps), cmp_map_block);
	for (i = o = 0; i < st->nr_maps; i++) {
		struct md_map *m = &st->maps[i];

		if (o && st->maps[o - 1].block == m->block) {
			problem(&v, "main block %" PRIu64 " mapped twice (slots %" PRIu64 " and %" PRIu64 ")%s",
				m->block, st->maps[o - 1].slot, m->slot,
				fix ? "; keeping the first" : "");
			if (fix)
				continue;
		}
		st->maps[o++] = *m;
	}
	st->nr_maps = o;

	/* pending */
	sort(st->pending, st->nr_pending, sizeof(*st->pending), cmp_u64);
	for (i = o = 0; i < st->nr_pending; i++) {
		if (i && st->pending[i] == st->pending[i - 1]) {
			problem(&v, "pending main block %" PRIu64 " listed twice",
				st->pending[i]);
			if (fix)
				continue;
		}
		st->pending[o++] = st->pending[i];
	}
	st->nr_pending = o;
	if (st->nr_pending > g->pending_capacity) {
		problem(&v, "%zu pending blocks, more than the %" PRIu64 " the format holds",
			st->nr_pending, g->pending_capacity);
		if (fix)
			st->nr_pending = g->pending_capacity;
	}
	if (st->nr_maps + st->nr_bad > g->nr_slots)
		problem(&v, "more records than slots");
	return v.n;
}

/* ---- uuid --------------------------------------------------------------- */

void md_uuid_format(const u8 *u, char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int md_uuid_parse(const char *s, u8 *uuid)
{
	int i, n = 0, hi, lo;

	for (i = 0; n < DMR_UUID_SIZE; ) {
		if (s[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23)) {
			i++;
			continue;
		}
		hi = hexval((unsigned char)s[i]);
		if (hi < 0)
			return -EINVAL;
		lo = hexval((unsigned char)s[i + 1]);
		if (lo < 0)
			return -EINVAL;
		uuid[n++] = (u8)(hi << 4 | lo);
		i += 2;
	}
	return s[i] ? -EINVAL : 0;
}

/* ---- printers ----------------------------------------------------------- */

const char *md_scrub_name(u32 state)
{
	return state == DMR_SCRUB_RUNNING ? "running" :
	       state == DMR_SCRUB_PAUSED ? "paused" : "idle";
}

void md_state_print_text(const struct md_state *st, FILE *f)
{
	const struct dmr_geometry *g = &st->geo;
	char u[37];
	size_t i;

	md_uuid_format(st->uuid, u);
	fprintf(f, "# dm-remap metadata dump (text); restore with:\n");
	fprintf(f, "#   dm-remap-tool restore -i FILE DEVICE\n");
	fprintf(f, "version %u\n", DMR_FORMAT_VERSION);
	fprintf(f, "uuid %s\n", u);
	fprintf(f, "generation %" PRIu64 "\n", st->generation);
	fprintf(f, "block_size %u\n", g->block_size);
	fprintf(f, "main_sectors %" PRIu64 "\n", g->main_sectors);
	fprintf(f, "spare_start %" PRIu64 "\n", g->spare_start);
	fprintf(f, "spare_len %" PRIu64 "\n", g->spare_len);
	fprintf(f, "# derived: nr_blocks %" PRIu64 ", entries_per_block %u, entry_blocks %" PRIu64 ", pending_blocks %u, md_sectors %" PRIu64 "\n",
		g->nr_blocks, g->entries_per_block, g->nr_entry_blocks,
		g->nr_pending_blocks, g->md_sectors);
	fprintf(f, "nr_slots %" PRIu64 "\n", g->nr_slots);
	fprintf(f, "data_start %" PRIu64 "\n", g->data_start);
	fprintf(f, "nr_mapped %zu\n", st->nr_maps);
	fprintf(f, "nr_bad %zu\n", st->nr_bad);
	fprintf(f, "nr_pending %zu\n", st->nr_pending);
	fprintf(f, "# scrub %s at block %" PRIu64 ", last full pass %" PRIu64 " (restore starts idle)\n",
		md_scrub_name(st->scrub_state), st->scrub_pos, st->scrub_last_pass);
	fprintf(f, "# map <main block> <slot>   (slot sector = data_start + slot * %u)\n",
		g->block_sectors);
	for (i = 0; i < st->nr_maps; i++)
		fprintf(f, "map %" PRIu64 " %" PRIu64 "\n", st->maps[i].block,
			st->maps[i].slot);
	for (i = 0; i < st->nr_bad; i++)
		fprintf(f, "bad %" PRIu64 "\n", st->bad[i]);
	for (i = 0; i < st->nr_pending; i++)
		fprintf(f, "pending %" PRIu64 "\n", st->pending[i]);
	fprintf(f, "end\n");
}

void md_state_print_json(const struct md_state *st, FILE *f)
{
	const struct dmr_geometry *g = &st->geo;
	char u[37];
	size_t i;

	md_uuid_format(st->uuid, u);
	fprintf(f, "{\n  \"format_version\": %u,\n", DMR_FORMAT_VERSION);
	fprintf(f, "  \"uuid\": \"%s\",\n", u);
	fprintf(f, "  \"generation\": %" PRIu64 ",\n", st->generation);
	fprintf(f, "  \"superblock_copy\": %d,\n", st->sb_copy);
	fprintf(f, "  \"geometry\": {\n");
	fprintf(f, "    \"block_size\": %u,\n", g->block_size);
	fprintf(f, "    \"main_sectors\": %" PRIu64 ",\n", g->main_sectors);
	fprintf(f, "    \"nr_blocks\": %" PRIu64 ",\n", g->nr_blocks);
	fprintf(f, "    \"spare_start\": %" PRIu64 ",\n", g->spare_start);
	fprintf(f, "    \"spare_len\": %" PRIu64 ",\n", g->spare_len);
	fprintf(f, "    \"nr_slots\": %" PRIu64 ",\n", g->nr_slots);
	fprintf(f, "    \"entries_per_block\": %u,\n", g->entries_per_block);
	fprintf(f, "    \"nr_entry_blocks\": %" PRIu64 ",\n", g->nr_entry_blocks);
	fprintf(f, "    \"nr_pending_blocks\": %u,\n", g->nr_pending_blocks);
	fprintf(f, "    \"md_sectors\": %" PRIu64 ",\n", g->md_sectors);
	fprintf(f, "    \"data_start\": %" PRIu64 "\n  },\n", g->data_start);
	fprintf(f, "  \"counts\": { \"mapped\": %zu, \"bad\": %zu, \"pending\": %zu },\n",
		st->nr_maps, st->nr_bad, st->nr_pending);
	fprintf(f, "  \"scrub\": { \"state\": \"%s\", \"pos\": %" PRIu64 ", \"last_pass\": %" PRIu64 " },\n",
		md_scrub_name(st->scrub_state), st->scrub_pos, st->scrub_last_pass);
	fprintf(f, "  \"mappings\": [");
	for (i = 0; i < st->nr_maps; i++)
		fprintf(f, "%s\n    { \"block\": %" PRIu64 ", \"slot\": %" PRIu64 ", \"sector\": %" PRIu64 " }",
			i ? "," : "", st->maps[i].block, st->maps[i].slot,
			dmr_slot_sector(g, st->maps[i].slot));
	fprintf(f, "%s],\n  \"bad_slots\": [", st->nr_maps ? "\n  " : "");
	for (i = 0; i < st->nr_bad; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", st->bad[i]);
	fprintf(f, "],\n  \"pending\": [");
	for (i = 0; i < st->nr_pending; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", st->pending[i]);
	fprintf(f, "]\n}\n");
}

/* ---- text dump parser --------------------------------------------------- */

static int parse_u64(const char **p, const char *end, u64 *out)
{
	const char *s = *p;
	u64 v = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		u64 d = (u64)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		s++;
	}
	if (s < end && *s != ' ' && *s != '\t')
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static bool only_blanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	return s == end;
}

static bool keyword(const char **p, const char *end, const char *kw)
{
	size_t n = strlen(kw);

	if ((size_t)(end - *p) < n || memcmp(*p, kw, n))
		return false;
	if (*p + n < end && (*p)[n] != ' ' && (*p)[n] != '\t')
		return false;
	*p += n;
	return true;
}

__attribute__((format(printf, 4, 5)))
static int perr(char *err, size_t errlen, unsigned long line,
		const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "line %lu: %s", line, msg);
	return -EINVAL;
}

int md_parse_text(const char *text, size_t len, struct md_state *st,
		  struct md_dump_info *info, char *err, size_t errlen)
{
	static const char * const counts[3] = { "nr_mapped", "nr_bad",
						"nr_pending" };
	const char *p = text, *end = text + len, *eol, *q;
	unsigned long line = 0;
	bool ended = false;
	u64 a, b;
	int k;

	memset(info, 0, sizeof(*info));
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		line++;
		q = p;
		p = eol < end ? eol + 1 : end;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol || *q == '#' || only_blanks(q, eol))
			continue;
		if (memchr(q, '\0', (size_t)(eol - q)))
			return perr(err, errlen, line, "NUL byte");
		if (eol > q && eol[-1] == '\r')
			eol--;
		if (ended)
			return perr(err, errlen, line, "text after 'end'");
		if (keyword(&q, eol, "end")) {
			ended = true;
		} else if (keyword(&q, eol, "map")) {
			if (parse_u64(&q, eol, &a) || parse_u64(&q, eol, &b))
				return perr(err, errlen, line, "expected: map <main block> <slot>");
			if (md_state_add_map(st, a, b, 0))
				return -ENOMEM;
		} else if (keyword(&q, eol, "bad")) {
			if (parse_u64(&q, eol, &a))
				return perr(err, errlen, line, "expected: bad <slot>");
			if (md_state_add_bad(st, a))
				return -ENOMEM;
		} else if (keyword(&q, eol, "pending")) {
			if (parse_u64(&q, eol, &a))
				return perr(err, errlen, line, "expected: pending <main block>");
			if (md_state_add_pending(st, a))
				return -ENOMEM;
		} else if (keyword(&q, eol, "uuid")) {
			char u[64];
			size_t n;

			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			n = (size_t)(eol - q);
			while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
				n--;
			if (n >= sizeof(u))
				return perr(err, errlen, line, "bad uuid");
			memcpy(u, q, n);
			u[n] = '\0';
			if (md_uuid_parse(u, st->uuid))
				return perr(err, errlen, line, "bad uuid");
			info->have_uuid = true;
			q = eol;
		} else if (keyword(&q, eol, "version")) {
			if (parse_u64(&q, eol, &a))
				return perr(err, errlen, line, "expected: version <n>");
			if (a != DMR_FORMAT_VERSION)
				return perr(err, errlen, line, "unsupported dump version %" PRIu64, a);
		} else if (keyword(&q, eol, "generation")) {
			if (parse_u64(&q, eol, &st->generation))
				return perr(err, errlen, line, "expected: generation <n>");
		} else if (keyword(&q, eol, "block_size")) {
			if (parse_u64(&q, eol, &a) || a > U32_MAX)
				return perr(err, errlen, line, "expected: block_size <bytes>");
			info->block_size = (u32)a;
			info->have_block_size = true;
		} else if (keyword(&q, eol, "main_sectors")) {
			if (parse_u64(&q, eol, &info->main_sectors))
				return perr(err, errlen, line, "expected: main_sectors <n>");
			info->have_main_sectors = true;
		} else if (keyword(&q, eol, "spare_start")) {
			if (parse_u64(&q, eol, &info->spare_start))
				return perr(err, errlen, line, "expected: spare_start <n>");
			info->have_spare_start = true;
		} else if (keyword(&q, eol, "spare_len")) {
			if (parse_u64(&q, eol, &info->spare_len))
				return perr(err, errlen, line, "expected: spare_len <n>");
			info->have_spare_len = true;
		} else if (keyword(&q, eol, "nr_slots")) {
			if (parse_u64(&q, eol, &info->nr_slots))
				return perr(err, errlen, line, "expected: nr_slots <n>");
			info->have_nr_slots = true;
		} else if (keyword(&q, eol, "data_start")) {
			if (parse_u64(&q, eol, &info->data_start))
				return perr(err, errlen, line, "expected: data_start <n>");
			info->have_data_start = true;
		} else {
			for (k = 0; k < 3; k++)
				if (keyword(&q, eol, counts[k]))
					break;
			if (k == 3)
				return perr(err, errlen, line, "unknown keyword");
			if (parse_u64(&q, eol, &info->counts[k]))
				return perr(err, errlen, line, "expected: %s <n>", counts[k]);
			info->have_counts[k] = true;
		}
		if (!only_blanks(q, eol))
			return perr(err, errlen, line, "trailing text");
	}
	if (!ended)
		return perr(err, errlen, line, "missing 'end' line (truncated dump?)");
	return 0;
}

/* ---- fresh-state writer ------------------------------------------------- */

struct slot_rec {
	u64 slot;
	u64 rec;
};

static int cmp_slot_rec(const void *a, const void *b)
{
	const struct slot_rec *x = a, *y = b;

	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* write zeroes over @md_index unless it already reads as zeroes */
static int zero_block(const struct md_writer *w, u64 md_index, void *tmp)
{
	int r = w->read(w->ctx, md_index, tmp);

	if (r)
		return r;
	if (dmr_is_zero_block(tmp))
		return 0;
	memset(tmp, 0, DMR_MD_BLOCK_SIZE);
	return w->write(w->ctx, md_index, tmp);
}

static int write_pair(const struct md_writer *w, const struct dmr_geometry *g,
		      enum dmr_area area, u64 index, const u8 *uuid,
		      const u64 *recs, bool empty, void *buf, u64 digest[2])
{
	u32 c, j;
	int r;

	for (c = 0; c < 2; c++) {
		u64 mdi = dmr_md_index(g, area, index, c);

		if (empty) {
			r = zero_block(w, mdi, buf);
		} else {
			dmr_block_init(buf, area, index, c, c + 1, uuid);
			for (j = 0; j < g->entries_per_block; j++)
				if (recs[j])
					dmr_block_set(buf, j, recs[j]);
			dmr_block_seal(buf);
			r = w->write(w->ctx, mdi, buf);
			digest[c] += dmr_digest_term(dmr_pair_id(g, area, index),
						     c + 1);
		}
		if (r)
			return r;
	}
	return 0;
}

/* The records of the maps and bad slots, sorted by slot (malloc'd). */
static struct slot_rec *slot_recs(const struct md_state *st, size_t *n)
{
	struct slot_rec *sr;
	size_t k;

	*n = st->nr_maps + st->nr_bad;
	sr = malloc((*n ? *n : 1) * sizeof(*sr));
	if (!sr)
		return NULL;
	for (k = 0; k < st->nr_maps; k++) {
		sr[k].slot = st->maps[k].slot;
		sr[k].rec = dmr_rec_make(DMR_REC_MAPPED, st->maps[k].block);
	}
	for (k = 0; k < st->nr_bad; k++) {
		sr[st->nr_maps + k].slot = st->bad[k];
		sr[st->nr_maps + k].rec = dmr_rec_make(DMR_REC_BAD, 0);
	}
	sort(sr, *n, sizeof(*sr), cmp_slot_rec);
	return sr;
}

/*
 * The records of pair @i of @area into @recs: entries from @sr (sorted, the
 * next unused at *@pos), pending blocks packed from position 0. True if
 * there is none.
 */
static bool pair_recs(const struct md_state *st, const struct slot_rec *sr,
		      size_t n, size_t *pos, enum dmr_area area, u64 i,
		      u64 *recs)
{
	u32 E = st->geo.entries_per_block, j;
	bool empty = true;

	memset(recs, 0, E * sizeof(*recs));
	if (area == DMR_AREA_ENTRY) {
		for (; *pos < n && sr[*pos].slot < (i + 1) * E; (*pos)++) {
			recs[sr[*pos].slot - i * E] = sr[*pos].rec;
			empty = false;
		}
		return empty;
	}
	for (j = 0; j < E && i * E + j < st->nr_pending; j++) {
		recs[j] = dmr_rec_make(DMR_REC_PENDING, st->pending[i * E + j]);
		empty = false;
	}
	return empty;
}

int md_state_write(struct md_state *st, const struct md_writer *w)
{
	const struct dmr_geometry *g = &st->geo;
	static const enum dmr_area areas[] = { DMR_AREA_ENTRY, DMR_AREA_PENDING };
	u64 digest[2] = { 0, 0 }, i, recs[DMR_ENTRIES_PER_BLOCK];
	struct slot_rec *sr = NULL;
	size_t n, pos = 0;
	struct dmr_sb sb;
	void *buf = NULL;
	int r = -ENOMEM;
	u32 a, c;

	buf = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	sr = slot_recs(st, &n);
	if (!buf || !sr)
		goto out;

	/* 1: no valid superblock while the pairs change */
	for (c = 0; c < 2; c++) {
		r = zero_block(w, c, buf);
		if (r)
			goto out;
	}
	r = w->sync(w->ctx);
	if (r)
		goto out;

	/* 2: entry pairs, then pending pairs */
	for (a = 0; a < 2; a++) {
		for (i = 0; i < dmr_area_blocks(g, areas[a]); i++) {
			bool empty = pair_recs(st, sr, n, &pos, areas[a], i, recs);

			r = write_pair(w, g, areas[a], i, st->uuid, recs, empty,
				       buf, digest);
			if (r)
				goto out;
		}
	}
	r = w->sync(w->ctx);
	if (r)
		goto out;

	/* 3: superblocks, generation 1 (copy 1) then 2 (copy 0) */
	dmr_sb_init(&sb, g, st->uuid);
	sb.nr_mapped = st->nr_maps;
	sb.nr_bad = st->nr_bad;
	sb.nr_pending = st->nr_pending;
	for (i = 1; i <= 2; i++) {
		sb.generation = i;
		sb.copy = (u32)(i & 1);
		sb.pair_digest = digest[sb.generation - 1];
		dmr_sb_encode(buf, &sb);
		r = w->write(w->ctx, sb.copy, buf);
		if (!r)
			r = w->sync(w->ctx);
		if (r)
			goto out;
	}
	st->generation = 2;
	st->sb_copy = 0;
out:
	free(buf);
	free(sr);
	return r;
}

int md_state_commit(struct md_state *st, const struct md_writer *w,
		    const signed char *cur, u64 gen, const struct dmr_sb *old)
{
	const struct dmr_geometry *g = &st->geo;
	static const enum dmr_area areas[] = { DMR_AREA_ENTRY, DMR_AREA_PENDING };
	u64 digest = 0, i, id, recs[DMR_ENTRIES_PER_BLOCK];
	struct slot_rec *sr = NULL;
	size_t n, pos = 0;
	struct dmr_sb sb = *old;
	void *buf = NULL;
	int r = -ENOMEM;
	u32 a, j;

	buf = aligned_alloc(DMR_MD_BLOCK_SIZE, DMR_MD_BLOCK_SIZE);
	sr = slot_recs(st, &n);
	if (!buf || !sr)
		goto out;

	/* C1: every pair into its other copy at @gen; C2: flush */
	for (a = 0; a < 2; a++) {
		for (i = 0; i < dmr_area_blocks(g, areas[a]); i++) {
			id = dmr_pair_id(g, areas[a], i);
			pair_recs(st, sr, n, &pos, areas[a], i, recs);
			dmr_block_init(buf, areas[a], i, !cur[id], gen, st->uuid);
			for (j = 0; j < g->entries_per_block; j++)
				if (recs[j])
					dmr_block_set(buf, j, recs[j]);
			dmr_block_seal(buf);
			r = w->write(w->ctx, dmr_md_index(g, areas[a], i, !cur[id]),
				     buf);
			if (r)
				goto out;
			digest += dmr_digest_term(id, gen);
		}
	}
	r = w->sync(w->ctx);
	if (r)
		goto out;

	/* C3: the superblock copy @gen % 2 makes it the committed state */
	sb.generation = gen;
	sb.copy = (u32)(gen & 1);
	sb.nr_mapped = st->nr_maps;
	sb.nr_bad = st->nr_bad;
	sb.nr_pending = st->nr_pending;
	sb.pair_digest = digest;
	dmr_sb_encode(buf, &sb);
	r = w->write(w->ctx, sb.copy, buf);
	if (!r)
		r = w->sync(w->ctx);
	if (!r) {
		st->generation = gen;
		st->sb_copy = (int)sb.copy;
	}
out:
	free(buf);
	free(sr);
	return r;
}
