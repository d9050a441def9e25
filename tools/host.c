// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-remap-tool host commands: open, close and status of remap devices
 * (libdevmapper), from the command line or /etc/remaptab, and format of
 * the spare area a remaptab line describes.
 */
#include <dirent.h>
#include <errno.h>
#include <strings.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid/blkid.h>

#include "dm-ops.h"
#include "msg.h"
#include "host.h"

#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#endif

#define UUID_PREFIX "REMAP-"

/* ---- devices ------------------------------------------------------------ */

struct bdev {
	char path[PATH_MAX];
	dev_t rdev;
	u64 sectors;
};

/* @spec: a path (symlinks such as /dev/disk/by-id/... followed) or TAG=value */
static int resolve(const char *spec, const char *what, struct bdev *b)
{
	struct stat st;
	char *p;
	u64 bytes;
	int fd;

	if (spec[0] == '/') {
		p = realpath(spec, NULL);
		if (!p) {
			tool_err("%s device %s: %s", what, spec, strerror(errno));
			return -1;
		}
	} else {
		p = blkid_evaluate_tag(spec, NULL, NULL);
		if (!p) {
			tool_err("%s device %s: no such device", what, spec);
			return -1;
		}
	}
	snprintf(b->path, sizeof(b->path), "%s", p);
	free(p);
	if (stat(b->path, &st) || !S_ISBLK(st.st_mode)) {
		tool_err("%s device %s (%s): not a block device", what, spec, b->path);
		return -1;
	}
	b->rdev = st.st_rdev;
	fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &bytes)) {
		tool_err("%s device %s: cannot read its size: %s", what, b->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	b->sectors = bytes / 512;
	return 0;
}

/* What `open` would load for @e: devices, geometry, table parameters. */
struct plan {
	struct bdev main, spare;
	struct dmr_geometry g;
	char params[512];
};

static int plan_entry(const struct remap_entry *e, struct plan *p)
{
	u32 bs = e->block_size ? e->block_size : DMR_DEFAULT_BLOCK_SIZE;
	u64 bss = bs / 512, len, start, slen;
	const char *why = NULL;
	int n, nf = 0;
	char feat[256] = "";

	if (resolve(e->main, "main", &p->main))
		return -1;
	if (e->tail) {
		p->spare = p->main;
		if (e->tail_sectors >= p->main.sectors) {
			tool_err("%s: spare=tail: %" PRIu64 " sectors is not smaller than %s (%" PRIu64 " sectors)",
			    e->name, e->tail_sectors, p->main.path, p->main.sectors);
			return -1;
		}
		len = (p->main.sectors - e->tail_sectors) / bss * bss;
		start = len;
		slen = p->main.sectors - len;
	} else {
		if (resolve(e->spare, "spare", &p->spare))
			return -1;
		if (p->spare.rdev == p->main.rdev) {
			tool_err("%s: main and spare are the same device %s: put the spare area at its end with spare=tail:SIZE",
			    e->name, p->main.path);
			return -1;
		}
		start = e->have_range ? e->spare_start : 0;
		slen = e->have_range ? e->spare_len : p->spare.sectors;
		if (start > p->spare.sectors || slen > p->spare.sectors - start ||
		    (!e->have_range && !slen)) {
			tool_err("%s: spare area %" PRIu64 "+%" PRIu64 " does not fit in %s (%" PRIu64 " sectors)",
			    e->name, start, slen, p->spare.path, p->spare.sectors);
			return -1;
		}
		len = p->main.sectors / bss * bss;
	}
	if (dmr_geometry_compute(&p->g, bs, len, start, slen, &why)) {
		tool_err("%s: invalid geometry: %s (block_size %u, main %" PRIu64 " sectors, spare %" PRIu64 "+%" PRIu64 ")",
		    e->name, why, bs, len, start, slen);
		return -1;
	}
	n = 0;
	if (e->block_size) {
		n += snprintf(feat + n, sizeof(feat) - n, " block_size %u", bs);
		nf += 2;
	}
	if (e->auto_remap >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " auto_remap %s",
			      e->auto_remap ? "on" : "off");
		nf += 2;
	}
	if (e->read_retries >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " read_retries %ld",
			      e->read_retries);
		nf += 2;
	}
	if (e->commit_interval >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " commit_interval %ld",
			      e->commit_interval);
		nf += 2;
	}
	if (e->outage_blocks >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " outage_blocks %ld",
			      e->outage_blocks);
		nf += 2;
	}
	if (e->outage_window >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " outage_window %ld",
			      e->outage_window);
		nf += 2;
	}
	if (e->scrub_rate >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " scrub_rate %ld",
			      e->scrub_rate);
		nf += 2;
	}
	if (e->weak_budget >= 0) {
		n += snprintf(feat + n, sizeof(feat) - n, " weak_budget %ld",
			      e->weak_budget);
		nf += 2;
	}
	if (e->slow_read_ms >= 0) {
		snprintf(feat + n, sizeof(feat) - n, " slow_read_ms %ld",
			 e->slow_read_ms);
		nf += 2;
	}
	n = snprintf(p->params, sizeof(p->params), "%u:%u %u:%u %" PRIu64 " %" PRIu64,
		     major(p->main.rdev), minor(p->main.rdev),
		     major(p->spare.rdev), minor(p->spare.rdev), start, slen);
	if (nf)
		snprintf(p->params + n, sizeof(p->params) - n, " %d%s", nf, feat);
	return 0;
}

/* ---- open / format / close ---------------------------------------------- */


static int open_entry(const struct remap_entry *e, bool quiet_if_open)
{
	struct plan p;
	struct dmr_sb sb;
	char uuid[64], u[37], *other;
	int r;

	r = remap_exists(e->name, NULL, 0);
	if (r) {
		if (r < 0) {
			tool_err("%s: a device-mapper device of that name exists and is not a remap device",
			    e->name);
			return EX_FAIL;
		}
		if (!quiet_if_open)
			printf("%s: already open\n", e->name);
		return EX_OK;
	}
	if (plan_entry(e, &p))
		return EX_FAIL;
	r = tool_probe_spare(p.spare.path, &p.g, &sb);
	if (r < 0)
		return EX_FAIL;
	if (r == SPARE_NOT_BLANK) {
		tool_err("%s: the spare area (sectors %" PRIu64 "-%" PRIu64 " of %s) holds neither dm-remap metadata nor zeroes: refusing to open.\n"
		    "  See what it is with '" TOOL " check -s %" PRIu64 " %s'; to start over (this forgets any remaps kept there):\n"
		    "  " TOOL " format --force %s %s %s",
		    e->name, p.g.spare_start, p.g.spare_start + p.g.spare_len - 1,
		    p.spare.path, p.g.spare_start, p.spare.path, e->main,
		    e->spare, e->options[0] ? e->options : "-");
		return EX_FAIL;
	}
	if (r == SPARE_BLANK) {
		r = tool_format(p.spare.path, &p.g, false);
		if (r)
			return r;
		if (tool_probe_spare(p.spare.path, &p.g, &sb) != SPARE_VALID) {
			tool_err("%s: no metadata on %s after format", e->name, p.spare.path);
			return EX_FAIL;
		}
	}
	md_uuid_format(sb.uuid, u);
	if (sb.block_size != p.g.block_size || sb.main_sectors != p.g.main_sectors ||
	    sb.spare_start != p.g.spare_start || sb.spare_len != p.g.spare_len) {
		tool_err("%s: the spare area on %s belongs to another main device or geometry: refusing to open",
		    e->name, p.spare.path);
		fprintf(stderr, "  its metadata (uuid %s): block_size %u, main %" PRIu64 " sectors, spare area %" PRIu64 "+%" PRIu64 "\n"
			"  this entry gives:    block_size %u, main %" PRIu64 " sectors, spare area %" PRIu64 "+%" PRIu64 "\n",
			u, sb.block_size, sb.main_sectors, sb.spare_start, sb.spare_len,
			p.g.block_size, p.g.main_sectors, p.g.spare_start, p.g.spare_len);
		return EX_FAIL;
	}
	snprintf(uuid, sizeof(uuid), UUID_PREFIX "%s", u);
	other = name_of_uuid(uuid);
	if (other) {
		tool_err("%s: the spare area on %s (metadata uuid %s) is already in use by the open device %s: refusing to open it twice",
		    e->name, p.spare.path, u, other);
		free(other);
		return EX_FAIL;
	}
	if (dm_create(e->name, uuid, p.g.main_sectors, p.params)) {
		tool_err("%s: the kernel refused the table '0 %" PRIu64 " remap %s' (the kernel log says why: dmesg | grep remap)",
		    e->name, p.g.main_sectors, p.params);
		return EX_FAIL;
	}
	printf("%s: opened /dev/mapper/%s (%s, main %s, spare %s sectors %" PRIu64 "+%" PRIu64 ")\n",
	       e->name, e->name, uuid, p.main.path, p.spare.path,
	       p.g.spare_start, p.g.spare_len);
	return EX_OK;
}

static int close_name(const char *name, bool quiet_if_closed)
{
	int r = remap_exists(name, NULL, 0);

	if (!r) {
		if (quiet_if_closed)
			return EX_OK;
		tool_err("%s: not open", name);
		return EX_FAIL;
	}
	if (r < 0) {
		tool_err("%s: not a remap device: refusing to close it", name);
		return EX_FAIL;
	}
	if (dm_remove(name)) {
		tool_err("%s: cannot close (in use? mounted?)", name);
		return EX_FAIL;
	}
	printf("%s: closed\n", name);
	return EX_OK;
}

/* ---- command line ------------------------------------------------------- */

static const char *const host_usage =
"SYNOPSIS\n"
"  " TOOL " open [-t REMAPTAB] NAME MAIN SPARE [OPTIONS]\n"
"  " TOOL " open [-t REMAPTAB] NAME\n"
"  " TOOL " open [-t REMAPTAB] --all\n"
"  " TOOL " close [-t REMAPTAB] NAME | --all\n"
"  " TOOL " status [NAME]\n"
"  " TOOL " scrub start|stop|pause|resume NAME | --all\n"
"  " TOOL " import -F FORMAT [-b BYTES] [-O N] [-n] FILE NAME (see import --help)\n"
"  " TOOL " format [-f] MAIN SPARE [OPTIONS]\n"
"\n"
"DESCRIPTION\n"
"  open creates the device-mapper device /dev/mapper/NAME over MAIN with\n"
"  the spare area on SPARE, with the DM uuid REMAP-<metadata uuid>. A\n"
"  blank (all-zero) spare area is formatted first; one holding other data,\n"
"  or metadata of another geometry, is refused. With NAME alone the line\n"
"  of that name in REMAPTAB is used; --all opens every line of REMAPTAB\n"
"  without 'noauto' (nothing at all when REMAPTAB has an error). close\n"
"  removes the device (--all: those of REMAPTAB). status prints health,\n"
"  counts, spare left, errors and the scrub of each open remap device.\n"
"  scrub sends the scrub message to NAME, or with --all to every open\n"
"  remap device (start leaves a pass that is on or paused as it is); the\n"
"  monthly dm-remap-scrub.timer runs 'scrub start --all'.\n"
"  MAIN and SPARE are paths (/dev/sdb, /dev/disk/by-id/...), UUID=,\n"
"  PARTUUID=, LABEL= or PARTLABEL=; SPARE is '-' with spare=tail:SIZE.\n"
"  OPTIONS is one comma-separated list, as in remaptab(5): spare=tail:SIZE,\n"
"  spare=START:LENGTH, block_size=BYTES, auto_remap=on|off,\n"
"  read_retries=N, commit_interval=MS,\n"
"  outage_blocks=N, outage_window=MS, scrub_rate=KIB, weak_budget=N,\n"
"  slow_read_ms=MS, noauto, nofail.\n"
"\n"
"OPTIONS\n"
"  -a, --all                every line of REMAPTAB\n"
"  -t, --remaptab FILE      instead of " REMAPTAB_DEFAULT "\n"
"  -f, --force              format: overwrite foreign data\n"
"  -h, --help               this text\n"
"\n"
"EXIT STATUS\n"
"  0  success\n"
"  1  a device could not be opened or closed, or is not open\n"
"  2  usage error, or an error in REMAPTAB\n"
"\n"
"EXAMPLES\n"
"  " TOOL " open data /dev/disk/by-id/ata-X /dev/disk/by-id/ata-Y\n"
"  " TOOL " open data /dev/sdb - spare=tail:1G\n"
"  " TOOL " status\n"
"  " TOOL " scrub start --all\n";

/* NAME MAIN SPARE [OPTIONS] from argv into @e */
static int entry_from_args(int n, char **a, struct remap_entry *e)
{
	char msg[512];

	remap_entry_init(e, 0);
	if (strlen(a[0]) > REMAP_NAME_MAX)
		return tool_usage("open", "name longer than %d characters", REMAP_NAME_MAX);
	if (strlen(a[1]) >= REMAP_SPEC_MAX || strlen(a[2]) >= REMAP_SPEC_MAX)
		return tool_usage("open", "device longer than %d characters", REMAP_SPEC_MAX - 1);
	strcpy(e->name, a[0]);
	strcpy(e->main, a[1]);
	strcpy(e->spare, a[2]);
	if (n == 4 && remap_parse_options(a[3], e, msg, sizeof(msg)))
		return tool_usage("open", "%s", msg);
	if (remap_check_entry(e, msg, sizeof(msg)))
		return tool_usage("open", "%s", msg);
	return 0;
}

/* ---- udev ---------------------------------------------------------------- */

/* does @spec name the device udev is processing (@devnode, its @links)? */
static bool spec_is_this(const char *spec, const char *devnode, char **links,
			 int nlinks)
{
	static const struct { const char *tag, *env; } tags[] = {
		{ "PARTUUID=", "ID_PART_ENTRY_UUID" },
		{ "PARTLABEL=", "ID_PART_ENTRY_NAME" },
		{ "UUID=", "ID_FS_UUID" },
		{ "LABEL=", "ID_FS_LABEL" },
	};
	size_t i;
	int k;

	if (spec[0] == '/') {
		struct stat a, b;

		if (!strcmp(spec, devnode))
			return true;
		for (k = 0; k < nlinks; k++) {
			const char *l = links[k];

			if (!strncmp(l, "/dev/", 5))
				l += 5;
			if (!strncmp(spec, "/dev/", 5) && !strcmp(spec + 5, l))
				return true;
		}
		/* a link udev made before (a "change" event) */
		return !stat(spec, &a) && !stat(devnode, &b) &&
		       S_ISBLK(a.st_mode) && a.st_rdev == b.st_rdev;
	}
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		size_t n = strlen(tags[i].tag);
		const char *v = getenv(tags[i].env);

		if (!strncmp(spec, tags[i].tag, n))
			return v && !strcasecmp(spec + n, v);
	}
	return false;
}

/*
 * `udev-match DEVNODE [LINK...]` for IMPORT{program} in 61-dm-remap.rules:
 * prints DM_REMAP_MAIN=<name> when the device is the main device of a
 * remaptab line. Silent on a remaptab with errors (open reports those).
 */
/* the name of an active remap device that holds @devnode, if any */
static bool remap_holder(const char *devnode, char *name, size_t len)
{
	char dir[96], path[400], buf[160];
	struct dirent *de;
	struct stat st;
	bool found = false;
	DIR *d;

	if (stat(devnode, &st) || !S_ISBLK(st.st_mode))
		return false;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders",
		 major(st.st_rdev), minor(st.st_rdev));
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		FILE *f;

		if (strncmp(de->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/uuid", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		found = fgets(buf, sizeof(buf), f) && !strncmp(buf, UUID_PREFIX, strlen(UUID_PREFIX));
		fclose(f);
		if (!found)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
		f = fopen(path, "r");
		if (!f || !fgets(name, (int)len, f))
			snprintf(name, len, "%.*s", (int)len - 1, de->d_name);
		if (f)
			fclose(f);
		name[strcspn(name, "\n")] = '\0';
	}
	closedir(d);
	return found;
}

static int udev_match(int n, char **a, const char *tab)
{
	char holder[REMAP_NAME_MAX + 2];
	struct remaptab t;
	size_t i;
	int r;

	if (n < 1)
		return tool_usage("open", "udev-match needs DEVNODE");
	/* a disk under an open remap device, remaptab or not */
	if (remap_holder(a[0], holder, sizeof(holder))) {
		printf("DM_REMAP_MAIN=%s\n", holder);
		return EX_OK;
	}
	r = remaptab_parse(tab, &t);
	if (r) {
		remaptab_free(&t);
		return EX_OK;
	}
	for (i = 0; i < t.n; i++) {
		if (spec_is_this(t.e[i].main, a[0], a + 1, n - 1)) {
			printf("DM_REMAP_MAIN=%s\n", t.e[i].name);
			break;
		}
	}
	remaptab_free(&t);
	return EX_OK;
}


int host_format(int argc, char **argv, bool force)
{
	struct remap_entry e;
	char *a[4] = { "format", argv[0], argv[1], argc > 2 ? argv[2] : "-" };
	struct plan p;
	int r;

	r = entry_from_args(4, a, &e);
	if (r)
		return r;
	if (plan_entry(&e, &p))
		return EX_FAIL;
	return tool_format(p.spare.path, &p.g, force);
}

static const char *const host_cmds[] = { "open", "close", "status", "udev-match",
						 "generate", "monitor", "import", "scrub" };

/* ---- scrub: the message to one or every open remap device ---------------- */

static const char *scrub_op;
static bool scrub_all;

static int scrub_one(const char *name)
{
	char msg[32], ans[64], buf[32];
	char *params = NULL;
	uint32_t ev;
	bool refused;

	snprintf(msg, sizeof(msg), "scrub %s", scrub_op);
	if (!remap_message(name, msg, ans, sizeof(ans))) {
		printf("%s: scrub %s\n", name, scrub_op);
		return 0;
	}
	/* Refused: say what state it is in (start while running, ...). */
	if (remap_status(name, &ev, &params, NULL, 0) <= 0) {
		tool_err("%s: scrub %s failed", name, scrub_op);
		return -1;
	}
	status_field(params, "scrub", buf, sizeof(buf));
	free(params);
	refused = strcmp(buf, "?") != 0;
	/* --all: a pass already on (or paused by hand) is left as it is. */
	if (scrub_all && refused && !strcmp(scrub_op, "start")) {
		printf("%s: scrub already %s: left as it is\n", name, buf);
		return 0;
	}
	tool_err("%s: scrub %s refused: the scrub is %s%s", name, scrub_op, buf,
		 refused ? "" : " (suspended? metadata failed?)");
	return -1;
}

static int host_scrub(int n, char **a, bool all)
{
	static const char *const ops[] = { "start", "stop", "pause", "resume" };
	size_t i;
	int r;

	/* "scrub start --all" as well as "scrub --all start" */
	if (n == 2 && (!strcmp(a[1], "--all") || !strcmp(a[1], "-a"))) {
		all = true;
		n = 1;
	}
	if (n < 1)
		return tool_usage("scrub", "scrub needs start, stop, pause or resume");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]) && strcmp(a[0], ops[i]); i++)
		;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return tool_usage("scrub", "unknown scrub command '%s'", a[0]);
	if (all == (n == 2) || n > 2)
		return tool_usage("scrub", "scrub %s needs one NAME or --all", a[0]);
	scrub_op = ops[i];
	scrub_all = all;
	if (!all) {
		r = remap_exists(a[1], NULL, 0);
		if (r != 1) {
			tool_err("%s: %s", a[1], r ? "not a remap device" : "not open");
			return EX_FAIL;
		}
		return scrub_one(a[1]) ? EX_FAIL : EX_OK;
	}
	r = for_each_remap(scrub_one);
	if (!r)
		printf("no remap device is open\n");
	return r < 0 ? EX_FAIL : EX_OK;
}

bool host_command(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(host_cmds) / sizeof(host_cmds[0]); i++)
		if (!strcmp(cmd, host_cmds[i]))
			return true;
	return false;
}

static int load_tab(const char *path, struct remaptab *t)
{
	int r = remaptab_parse(path, t);

	if (r) {
		if (r > 0)
			tool_err("%d error%s in %s: nothing done", r, r == 1 ? "" : "s", path);
		remaptab_free(t);
		return EX_USAGE;
	}
	return 0;
}

int host_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "remaptab", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *tab = REMAPTAB_DEFAULT;
	struct remaptab t = { NULL, 0 };
	struct remap_entry e;
	bool all = false;
	int c, n, r = EX_OK;
	size_t i;

	if (!strcmp(cmd, "monitor"))
		return host_monitor(argc, argv);
	if (!strcmp(cmd, "import"))
		return host_import(argc, argv);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+at:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 't':
			tab = optarg;
			break;
		case 'h':
			printf("NAME\n  " TOOL " open, close, status, scrub - remap devices from the command line or remaptab(5)\n\n%s",
			       host_usage);
			return EX_OK;
		default:
			return tool_usage("open", "bad option for '%s'", cmd);
		}
	}
	n = argc - optind;
	argv += optind;

	if (!strcmp(cmd, "generate"))
		return host_generate(n, argv);
	if (!strcmp(cmd, "scrub"))
		return host_scrub(n, argv, all);
	if (!strcmp(cmd, "udev-match")) {
		/* stderr of an IMPORT{program} goes to the journal */
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		return udev_match(n, argv, tab);
	}

	if (!strcmp(cmd, "status")) {
		if (all || n > 1)
			return tool_usage("open", "status takes at most one NAME");
		if (n == 1) {
			r = remap_exists(argv[0], NULL, 0);
			if (r != 1) {
				tool_err("%s: %s", argv[0], r ? "not a remap device" : "not open");
				return EX_FAIL;
			}
			return show_status(argv[0]);
		}
		n = for_each_remap(show_status);
		if (!n)
			printf("no remap device is open\n");
		return n < 0 ? EX_FAIL : EX_OK;
	}

	if (all && n)
		return tool_usage("open", "%s --all takes no NAME", cmd);
	if (!all && !n)
		return tool_usage("open", "%s needs NAME or --all", cmd);
	if (!strcmp(cmd, "close")) {
		if (!all) {
			if (n != 1)
				return tool_usage("open", "close takes one NAME");
			return close_name(argv[0], false);
		}
		r = load_tab(tab, &t);
		if (r)
			return r;
		for (i = t.n; i-- > 0;)
			if (close_name(t.e[i].name, true))
				r = EX_FAIL;
		remaptab_free(&t);
		return r;
	}

	/* open */
	if (n == 3 || n == 4) {
		r = entry_from_args(n, argv, &e);
		return r ? r : open_entry(&e, false);
	}
	if (n > 4)
		return tool_usage("open", "open takes NAME MAIN SPARE [OPTIONS] (options are one comma-separated argument)");
	if (n == 2)
		return tool_usage("open", "open takes NAME alone (from the remaptab) or NAME MAIN SPARE [OPTIONS]");
	r = load_tab(tab, &t);
	if (r)
		return r;
	for (i = 0; i < t.n; i++) {
		if (all ? t.e[i].noauto : strcmp(t.e[i].name, argv[0]))
			continue;
		if (open_entry(&t.e[i], all))
			r = EX_FAIL;
		if (!all)
			break;
	}
	if (!all && i == t.n) {
		tool_err("%s: no such line in %s", argv[0], tab);
		r = EX_FAIL;
	}
	remaptab_free(&t);
	return r;
}
