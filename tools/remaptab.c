// SPDX-License-Identifier: GPL-2.0-only
/*
 * remaptab(5) parser: "NAME MAIN SPARE [OPTIONS]" lines, full-line
 * comments, the option list shared with `dm-remap-tool open`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

__attribute__((format(printf, 3, 4)))
static int seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

int parse_dec(const char *s, u64 *v)
{
	u64 x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (u64)(*s - '0');
	}
	*v = x;
	return 0;
}

/* SIZE: bytes with an optional K/M/G/T suffix (1024-based) -> sectors */
static int parse_size(const char *s, u64 *sectors, bool zero_ok)
{
	char num[32];
	size_t n = strlen(s);
	unsigned int shift = 0;
	u64 v;

	if (!n || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: break;
	}
	if (shift)
		num[n - 1] = '\0';
	if (parse_dec(num, &v) || v > (UINT64_MAX >> shift))
		return -1;
	v <<= shift;
	if (v % 512 || (!v && !zero_ok))
		return -1;
	*sectors = v / 512;
	return 0;
}

static int parse_range(const char *key, const char *v, long lo, long hi,
		       long *out, char *err, size_t len)
{
	u64 x;

	if (parse_dec(v, &x) || x < (u64)lo || x > (u64)hi)
		return seterr(err, len, "option '%s=%s': not a decimal number from %ld to %ld",
			      key, v, lo, hi);
	*out = (long)x;
	return 0;
}

enum {
	O_SPARE = 1 << 0, O_BS = 1 << 1, O_AUTO = 1 << 2, O_RETRIES = 1 << 3,
	O_INTERVAL = 1 << 4, O_NOAUTO = 1 << 5, O_NOFAIL = 1 << 6,
	O_OBLOCKS = 1 << 7, O_OWINDOW = 1 << 8, O_SCRUB_RATE = 1 << 9,
	O_WEAK_BUDGET = 1 << 10, O_SLOW_READ = 1 << 11,
};

static const struct {
	const char *name;
	int bit;
	bool value;
} known[] = {
	{ "spare", O_SPARE, true },
	{ "block_size", O_BS, true },
	{ "auto_remap", O_AUTO, true },
	{ "read_retries", O_RETRIES, true },
	{ "commit_interval", O_INTERVAL, true },
	{ "outage_blocks", O_OBLOCKS, true },
	{ "outage_window", O_OWINDOW, true },
	{ "scrub_rate", O_SCRUB_RATE, true },
	{ "weak_budget", O_WEAK_BUDGET, true },
	{ "slow_read_ms", O_SLOW_READ, true },
	{ "noauto", O_NOAUTO, false },
	{ "nofail", O_NOFAIL, false },
};

static int parse_one(char *item, struct remap_entry *e, int *seen, char *err,
		     size_t len)
{
	char *v = strchr(item, '=');
	size_t i;
	long x = 0;
	u64 a;

	if (v)
		*v++ = '\0';
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(item, known[i].name))
			break;
	if (i == sizeof(known) / sizeof(known[0]))
		return seterr(err, len, "unknown option '%s'", item);
	if (*seen & known[i].bit)
		return seterr(err, len, "option '%s' given twice", item);
	*seen |= known[i].bit;
	if (known[i].value && (!v || !*v))
		return seterr(err, len, "option '%s' needs a value (%s=...)", item, item);
	if (!known[i].value && v)
		return seterr(err, len, "option '%s' takes no value", item);

	switch (known[i].bit) {
	case O_SPARE:
		if (!strncmp(v, "tail:", 5)) {
			if (parse_size(v + 5, &e->tail_sectors, false))
				return seterr(err, len, "option 'spare=%s': SIZE after 'tail:' must be a non-zero multiple of 512 bytes (suffix K, M, G or T)",
					      v);
			e->tail = true;
			return 0;
		} else {
			char *colon = strchr(v, ':');

			if (!colon)
				return seterr(err, len, "option 'spare=%s': expected spare=tail:SIZE or spare=START:LENGTH", v);
			*colon = '\0';
			if (parse_size(v, &e->spare_start, true) ||
			    parse_size(colon + 1, &e->spare_len, false))
				return seterr(err, len, "option 'spare=%s:%s': START and LENGTH must be multiples of 512 bytes (suffix K, M, G or T), LENGTH non-zero",
					      v, colon + 1);
			e->have_range = true;
		}
		return 0;
	case O_BS:
		if (parse_dec(v, &a) || a < 512 || a > 65536 || (a & (a - 1)))
			return seterr(err, len, "option 'block_size=%s': not a power of two from 512 to 65536", v);
		e->block_size = (u32)a;
		return 0;
	case O_AUTO:
		if (strcmp(v, "on") && strcmp(v, "off"))
			return seterr(err, len, "option 'auto_remap=%s': expected on or off", v);
		e->auto_remap = !strcmp(v, "on");
		return 0;
	case O_RETRIES:
		if (parse_range("read_retries", v, 0, 100, &x, err, len))
			return -1;
		e->read_retries = x;
		return 0;
	case O_INTERVAL:
		if (parse_range("commit_interval", v, 0, 60000, &x, err, len))
			return -1;
		e->commit_interval = x;
		return 0;
	case O_OBLOCKS:
		if (parse_range("outage_blocks", v, 0, 4096, &x, err, len))
			return -1;
		e->outage_blocks = x;
		return 0;
	case O_OWINDOW:
		if (parse_range("outage_window", v, 1, 600000, &x, err, len))
			return -1;
		e->outage_window = x;
		return 0;
	case O_SCRUB_RATE:
		if (parse_range("scrub_rate", v, 64, 4194304, &x, err, len))
			return -1;
		e->scrub_rate = x;
		return 0;
	case O_WEAK_BUDGET:
		if (parse_range("weak_budget", v, 0, 100000, &x, err, len))
			return -1;
		e->weak_budget = x;
		return 0;
	case O_SLOW_READ:
		if (parse_range("slow_read_ms", v, 0, 600000, &x, err, len))
			return -1;
		e->slow_read_ms = x;
		return 0;
	case O_NOAUTO:
		e->noauto = true;
		return 0;
	default:
		e->nofail = true;
		return 0;
	}
}

int remap_parse_options(const char *s, struct remap_entry *e, char *err,
			size_t errlen)
{
	char *copy, *p, *item;
	int seen = 0, r = 0;

	snprintf(e->options, sizeof(e->options), "%s", s);
	if (!strcmp(s, "-"))
		return 0;
	copy = strdup(s);
	if (!copy)
		return seterr(err, errlen, "out of memory");
	p = copy;
	while (!r && p) {
		item = strsep(&p, ",");
		if (!*item)
			r = seterr(err, errlen, "empty option in '%s'", s);
		else
			r = parse_one(item, e, &seen, err, errlen);
	}
	free(copy);
	return r;
}

static bool valid_spec(const char *s)
{
	static const char *const tags[] = { "UUID=", "PARTUUID=", "LABEL=",
					    "PARTLABEL=" };
	size_t i;

	if (s[0] == '/')
		return true;
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!strncmp(s, tags[i], strlen(tags[i])) && s[strlen(tags[i])])
			return true;
	return false;
}

int remap_check_entry(const struct remap_entry *e, char *err, size_t errlen)
{
	const char *c;

	if (!e->name[0])
		return seterr(err, errlen, "empty name");
	if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
		return seterr(err, errlen, "name '%s' is not allowed", e->name);
	for (c = e->name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.+:@-", *c))
			return seterr(err, errlen, "name '%s': only letters, digits and _.+:@- are allowed",
				      e->name);
	if (!valid_spec(e->main))
		return seterr(err, errlen, "main device '%s': expected an absolute path, UUID=, PARTUUID=, LABEL= or PARTLABEL=",
			      e->main);
	if (e->tail) {
		if (strcmp(e->spare, "-"))
			return seterr(err, errlen, "spare=tail: puts the spare area on the main device: the spare device must be '-', not '%s'",
				      e->spare);
		return 0;
	}
	if (!strcmp(e->spare, "-"))
		return seterr(err, errlen, "spare device '-' needs the option spare=tail:SIZE");
	if (!valid_spec(e->spare))
		return seterr(err, errlen, "spare device '%s': expected an absolute path, UUID=, PARTUUID=, LABEL=, PARTLABEL= or '-'",
			      e->spare);
	return 0;
}

void remap_entry_init(struct remap_entry *e, unsigned int line)
{
	memset(e, 0, sizeof(*e));
	e->line = line;
	e->auto_remap = -1;
	e->read_retries = -1;
	e->commit_interval = -1;
	e->outage_blocks = -1;
	e->outage_window = -1;
	e->scrub_rate = -1;
	e->weak_budget = -1;
	e->slow_read_ms = -1;
}

int split_blanks(char *s, char **f, int max)
{
	int n = 0;
	char *tok;

	while ((tok = strsep(&s, " \t\r\n")) != NULL) {
		if (!*tok)
			continue;
		if (n <= max)
			f[n] = tok;
		n++;
	}
	return n;
}

static int parse_line(char *s, unsigned int line, struct remap_entry *e,
		      char *err, size_t len)
{
	char *f[5];
	int n = split_blanks(s, f, 4);

	remap_entry_init(e, line);
	if (n < 3)
		return seterr(err, len, "expected NAME MAIN SPARE [OPTIONS], found %d field%s",
			      n, n == 1 ? "" : "s");
	if (n > 4)
		return seterr(err, len, "%d fields: expected at most NAME MAIN SPARE OPTIONS (options are one comma-separated field)",
			      n);
	if (strlen(f[0]) > REMAP_NAME_MAX)
		return seterr(err, len, "name longer than %d characters", REMAP_NAME_MAX);
	if (strlen(f[1]) >= REMAP_SPEC_MAX || strlen(f[2]) >= REMAP_SPEC_MAX)
		return seterr(err, len, "device longer than %d characters", REMAP_SPEC_MAX - 1);
	strcpy(e->name, f[0]);
	strcpy(e->main, f[1]);
	strcpy(e->spare, f[2]);
	if (n == 4 && remap_parse_options(f[3], e, err, len))
		return -1;
	return remap_check_entry(e, err, len);
}

int remaptab_parse(const char *path, struct remaptab *t)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, err[512];
	size_t cap = 0, i;
	unsigned int line = 0;
	int errors = 0;

	t->e = NULL;
	t->n = 0;
	if (!f) {
		fprintf(stderr, "dm-remap-tool: cannot read %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (getline(&buf, &cap, f) >= 0) {
		struct remap_entry e, *ne;
		char *p = buf;

		line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '#')
			continue;
		if (parse_line(p, line, &e, err, sizeof(err))) {
			fprintf(stderr, "%s:%u: %s\n", path, line, err);
			errors++;
			continue;
		}
		for (i = 0; i < t->n; i++)
			if (!strcmp(t->e[i].name, e.name))
				break;
		if (i < t->n) {
			fprintf(stderr, "%s:%u: name '%s' already used on line %u\n",
				path, line, e.name, t->e[i].line);
			errors++;
			continue;
		}
		ne = realloc(t->e, (t->n + 1) * sizeof(*ne));
		if (!ne) {
			fprintf(stderr, "dm-remap-tool: out of memory\n");
			errors++;
			break;
		}
		t->e = ne;
		t->e[t->n++] = e;
	}
	if (ferror(f)) {
		fprintf(stderr, "dm-remap-tool: error reading %s\n", path);
		errors++;
	}
	free(buf);
	fclose(f);
	return errors;
}

void remaptab_free(struct remaptab *t)
{
	free(t->e);
	t->e = NULL;
	t->n = 0;
}
