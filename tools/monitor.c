// SPDX-License-Identifier: GPL-2.0-only
/*
 * `dm-remap-tool monitor`: one thread per remap device blocks in
 * DM_DEVICE_WAITEVENT (the target raises a dm event on every change of
 * health, remapped or pending blocks); the main thread blocks on kernel uevents to notice remap
 * devices appearing and going. On each event: log health changes and new
 * remapped/pending blocks with their sectors, run the hooks, rewrite the
 * Prometheus textfile. No polling.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "dm-ops.h"

#define TEXTFILE_DIR "/var/lib/prometheus/node-exporter"
#define HOOKS_DIR "/etc/dm-remap/hooks.d"
#define MAX_SECTORS_ENV 64	/* sectors listed in DM_REMAP_SECTORS */

struct mdev {
	char name[128];
	char uuid[140];
	bool seen;		/* first status read */
	bool live;
	char health[32];
	uint64_t remaps, pending, spare_used, spare_total;
	uint64_t werr, rerr, copy_errors, bad_slots;
	uint64_t scrub_percent, scrub_last_pass, weak_remaps;
	bool scrub_running;
	uint64_t *blocks;	/* sorted "sector*2 + pending" of the last list */
	size_t nr_blocks;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mdev **devs;
static size_t nr_devs;
static const char *textfile_dir = TEXTFILE_DIR;
static const char *hooks_dir = HOOKS_DIR;
static bool journal;

__attribute__((format(printf, 2, 3)))
static void logmsg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (journal)
		fprintf(stderr, "<%d>", prio);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t kv_u64(const char *line, const char *key)
{
	char buf[64];

	return strtoull(status_field(line, key, buf, sizeof(buf)), NULL, 10);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* every remapped (sector*2) and pending (sector*2+1) block, sorted */
static int list_blocks(const char *name, uint64_t **out, size_t *n)
{
	uint64_t *v = NULL, from = 0;
	size_t cap = 0, k = 0;

	for (;;) {
		char msg[64], *resp, *line, *save = NULL, next[32] = "";
		struct dm_task *dmt = dm_task_create(DM_DEVICE_TARGET_MSG);

		snprintf(msg, sizeof(msg), "list %" PRIu64, from);
		if (!dmt || !dm_task_set_name(dmt, name) ||
		    !dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg) ||
		    !dm_task_run(dmt) || !(resp = (char *)dm_task_get_message_response(dmt))) {
			if (dmt)
				dm_task_destroy(dmt);
			free(v);
			return -1;
		}
		for (line = strtok_r(resp, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			uint64_t s;
			char kind[16] = "";

			if (!strncmp(line, "count=", 6)) {
				const char *p = strstr(line, "next=");

				if (p)
					snprintf(next, sizeof(next), "%s", p + 5);
				continue;
			}
			if (sscanf(line, "%" SCNu64 " %*u %15s", &s, kind) < 2)
				continue;
			if (k == cap) {
				uint64_t *nv = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));

				if (!nv) {
					dm_task_destroy(dmt);
					free(v);
					return -1;
				}
				v = nv;
			}
			v[k++] = s * 2 + !strcmp(kind, "pending");
		}
		dm_task_destroy(dmt);
		if (!next[0] || !strcmp(next, "none"))
			break;
		from = strtoull(next, NULL, 10);
	}
	qsort(v, k, sizeof(*v), cmp_u64);
	*out = v;
	*n = k;
	return 0;
}

static void write_metrics(void)
{
	static const char *const states[] = { "ok", "degraded", "spare_low",
					      "spare_full", "metadata_failed",
					      "main_unavailable" };
	char tmp[PATH_MAX], dst[PATH_MAX];
	FILE *f;
	size_t i, s;

	snprintf(tmp, sizeof(tmp), "%s/.dm_remap.prom.%d", textfile_dir, getpid());
	snprintf(dst, sizeof(dst), "%s/dm_remap.prom", textfile_dir);
	f = fopen(tmp, "w");
	if (!f) {
		logmsg(4, "cannot write %s: %s", tmp, strerror(errno));
		return;
	}
#define METRIC(metric, type, help, expr) do {					\
	fprintf(f, "# HELP dm_remap_" metric " " help "\n# TYPE dm_remap_" metric " " type "\n"); \
	for (i = 0; i < nr_devs; i++)						\
		if (devs[i]->live && devs[i]->seen)				\
			fprintf(f, "dm_remap_" metric "{device=\"%s\"} %" PRIu64 "\n", \
				devs[i]->name, (uint64_t)(expr));		\
} while (0)
	METRIC("remapped_blocks", "gauge", "Blocks redirected to the spare area.", devs[i]->remaps);
	METRIC("pending_blocks", "gauge", "Unreadable blocks waiting for a whole-block write.", devs[i]->pending);
	METRIC("spare_free_blocks", "gauge", "Spare blocks still free.", devs[i]->spare_total - devs[i]->spare_used);
	METRIC("spare_blocks", "gauge", "All spare blocks.", devs[i]->spare_total);
	METRIC("write_errors_total", "counter", "Write errors returned by the devices since the table was loaded.", devs[i]->werr);
	METRIC("read_errors_total", "counter", "Read errors returned by the devices since the table was loaded.", devs[i]->rerr);
	METRIC("copy_errors_total", "counter", "Blocks whose copy to the spare area failed.", devs[i]->copy_errors);
	METRIC("bad_spare_blocks", "gauge", "Spare blocks found bad.", devs[i]->bad_slots);
	METRIC("scrub_running", "gauge", "1 while a scrub pass reads the device.", devs[i]->scrub_running);
	METRIC("scrub_percent", "gauge", "How far the scrub pass is, in percent.", devs[i]->scrub_percent);
	METRIC("scrub_last_pass_timestamp_seconds", "gauge", "When the last full scrub pass ended (0: never).", devs[i]->scrub_last_pass);
	METRIC("weak_remaps_total", "counter", "Weak blocks moved to the spare area since the table was loaded.", devs[i]->weak_remaps);
#undef METRIC
	fprintf(f, "# HELP dm_remap_health Health state of the device (1 for the current state).\n# TYPE dm_remap_health gauge\n");
	for (i = 0; i < nr_devs; i++) {
		if (!devs[i]->live || !devs[i]->seen)
			continue;
		for (s = 0; s < sizeof(states) / sizeof(states[0]); s++)
			fprintf(f, "dm_remap_health{device=\"%s\",state=\"%s\"} %d\n",
				devs[i]->name, states[s], !strcmp(devs[i]->health, states[s]));
	}
	if (fclose(f) || rename(tmp, dst)) {
		logmsg(4, "cannot write %s: %s", dst, strerror(errno));
		unlink(tmp);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* run every executable of hooks_dir, in name order, with @env added */
static void run_hooks(char **env)
{
	DIR *d = opendir(hooks_dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char **nn;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct stat st;
		pid_t pid;
		int status, k;

		snprintf(path, sizeof(path), "%s/%s", hooks_dir, names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode) || access(path, X_OK))
			continue;
		pid = fork();
		if (pid == 0) {
			for (k = 0; env[k]; k++)
				putenv(env[k]);
			execl(path, path, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			logmsg(3, "hook %s: cannot run: %s", path, strerror(errno));
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			logmsg(4, "hook %s failed (status %d)", path, status);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void hook_event(const struct mdev *m, const char *event,
		       const char *old_health, const char *sectors)
{
	char e[10][256];
	char *env[11];
	int k = 0;

	snprintf(e[k++], 256, "DM_REMAP_EVENT=%s", event);
	snprintf(e[k++], 256, "DM_REMAP_DEVICE=%s", m->name);
	snprintf(e[k++], 256, "DM_REMAP_UUID=%s", m->uuid);
	snprintf(e[k++], 256, "DM_REMAP_HEALTH=%s", m->health);
	snprintf(e[k++], 256, "DM_REMAP_OLD_HEALTH=%s", old_health);
	snprintf(e[k++], 256, "DM_REMAP_REMAPPED=%" PRIu64, m->remaps);
	snprintf(e[k++], 256, "DM_REMAP_PENDING=%" PRIu64, m->pending);
	snprintf(e[k++], 256, "DM_REMAP_SPARE_FREE=%" PRIu64, m->spare_total - m->spare_used);
	snprintf(e[k++], 256, "DM_REMAP_SECTORS=%.230s", sectors);
	for (int i = 0; i < k; i++)
		env[i] = e[i];
	env[k] = NULL;
	run_hooks(env);
}

/* read status and the block list; log and hook what changed. 0, or -1 if gone */
static int refresh(struct mdev *m, uint32_t *event_nr)
{
	char *params = NULL, health[32], buf[64], old[32];
	uint64_t last_pass;
	uint64_t *blocks = NULL;
	size_t nb = 0, i = 0, j = 0, nnew[2] = { 0, 0 };
	char sect[2][MAX_SECTORS_ENV * 21 + 1] = { "", "" };
	int r;

	r = remap_status(m->name, event_nr, &params, m->uuid, sizeof(m->uuid));
	if (r <= 0)
		return -1;
	if (list_blocks(m->name, &blocks, &nb)) {
		free(params);
		return -1;
	}
	snprintf(old, sizeof(old), "%s", m->seen ? m->health : "");
	snprintf(health, sizeof(health), "%s", status_field(params, "health", buf, sizeof(buf)));
	sscanf(status_field(params, "spare", buf, sizeof(buf)), "%" SCNu64 "/%" SCNu64,
	       &m->spare_used, &m->spare_total);
	m->remaps = kv_u64(params, "remaps");
	m->pending = kv_u64(params, "pending");
	m->copy_errors = kv_u64(params, "copy_errors");
	m->bad_slots = kv_u64(params, "bad_slots");
	sscanf(status_field(params, "errors", buf, sizeof(buf)), "W%" SCNu64 ":R%" SCNu64,
	       &m->werr, &m->rerr);
	m->scrub_running = !strcmp(status_field(params, "scrub", buf, sizeof(buf)), "running");
	m->scrub_percent = kv_u64(params, "scrub_percent");
	m->weak_remaps = kv_u64(params, "weak_remaps");
	last_pass = m->scrub_last_pass;
	m->scrub_last_pass = kv_u64(params, "scrub_last_pass");
	free(params);
	snprintf(m->health, sizeof(m->health), "%s", health);

	/* blocks in the new list and not in the old one */
	while (m->seen && i < nb) {
		if (j < m->nr_blocks && m->blocks[j] < blocks[i]) {
			j++;
			continue;
		}
		if (j < m->nr_blocks && m->blocks[j] == blocks[i]) {
			i++;
			j++;
			continue;
		}
		{
			int kind = (int)(blocks[i] & 1);
			uint64_t s = blocks[i] >> 1;

			logmsg(kind ? 4 : 5, "%s: sector %" PRIu64 " %s", m->name, s,
			       kind ? "unreadable: pending until a whole-block write" :
				      "remapped to the spare area");
			if (nnew[kind]++ < MAX_SECTORS_ENV)
				snprintf(sect[kind] + strlen(sect[kind]),
					 sizeof(sect[kind]) - strlen(sect[kind]),
					 "%s%" PRIu64, nnew[kind] > 1 ? " " : "", s);
		}
		i++;
	}
	free(m->blocks);
	m->blocks = blocks;
	m->nr_blocks = nb;

	if (!m->seen) {
		logmsg(6, "%s: watching (%s): health %s, %" PRIu64 " remapped, %" PRIu64 " pending, %" PRIu64 " of %" PRIu64 " spare blocks free",
		       m->name, m->uuid, m->health, m->remaps, m->pending,
		       m->spare_total - m->spare_used, m->spare_total);
		m->seen = true;
		write_metrics();
		return 0;
	}
	if (strcmp(old, m->health))
		logmsg(strcmp(m->health, "ok") ? 4 : 5, "%s: health %s -> %s (%" PRIu64 " remapped, %" PRIu64 " pending, %" PRIu64 " spare blocks free)",
		       m->name, old, m->health, m->remaps, m->pending,
		       m->spare_total - m->spare_used);
	if (m->scrub_last_pass != last_pass)
		logmsg(5, "%s: scrub pass done: %" PRIu64 " pending, %" PRIu64 " remapped",
		       m->name, m->pending, m->remaps);
	write_metrics();
	if (strcmp(old, m->health))
		hook_event(m, "health", old, sect[0]);
	if (m->scrub_last_pass != last_pass)
		hook_event(m, "scrub", old, "");
	if (nnew[0])
		hook_event(m, "remap", old, sect[0]);
	if (nnew[1])
		hook_event(m, "pending", old, sect[1]);
	return 0;
}

static void *watch(void *arg)
{
	struct mdev *m = arg;
	uint32_t ev = 0;
	int r;

	for (;;) {
		pthread_mutex_lock(&lock);
		r = refresh(m, &ev);
		pthread_mutex_unlock(&lock);
		if (r)
			break;
		/*
		 * Returns at once if an event came after the status above.
		 * libdevmapper is not thread-safe: every other call is made
		 * under the lock, this one (which blocks) alone outside it, as
		 * dmeventd does.
		 */
		if (remap_wait_event(m->name, ev)) {
			pthread_mutex_lock(&lock);
			r = remap_exists(m->name, NULL, 0);
			pthread_mutex_unlock(&lock);
			if (r != 1)
				break;
		}
	}
	pthread_mutex_lock(&lock);
	m->live = false;
	logmsg(5, "%s: no longer a remap device: not watched", m->name);
	write_metrics();
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int start_watch(const char *name)
{
	struct mdev *m, **nd;
	pthread_t t;
	size_t i;

	for (i = 0; i < nr_devs; i++)
		if (devs[i]->live && !strcmp(devs[i]->name, name))
			return 0;
	m = calloc(1, sizeof(*m));
	nd = realloc(devs, (nr_devs + 1) * sizeof(*devs));
	if (!m || !nd) {
		free(m);
		return -1;
	}
	devs = nd;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->live = true;
	devs[nr_devs++] = m;
	if (pthread_create(&t, NULL, watch, m)) {
		m->live = false;
		return -1;
	}
	pthread_detach(t);
	return 0;
}

static void scan(void)
{
	size_t i, k;

	pthread_mutex_lock(&lock);
	/* forget the devices whose threads ended */
	for (i = k = 0; i < nr_devs; i++) {
		if (devs[i]->live) {
			devs[k++] = devs[i];
		} else {
			free(devs[i]->blocks);
			free(devs[i]);
		}
	}
	nr_devs = k;
	for_each_remap(start_watch);
	pthread_mutex_unlock(&lock);
}

int host_monitor(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "textfile-dir", required_argument, NULL, 'd' },
		{ "hooks-dir", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	char buf[8192];
	int c, fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:k:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			textfile_dir = optarg;
			break;
		case 'k':
			hooks_dir = optarg;
			break;
		case 'h':
			printf("usage: dm-remap-tool monitor [--textfile-dir DIR] [--hooks-dir DIR]\n"
			       "  Watches every remap device; see dm-remap-tool(8).\n"
			       "  --textfile-dir DIR   Prometheus textfile directory (default " TEXTFILE_DIR ")\n"
			       "  --hooks-dir DIR      hook scripts (default " HOOKS_DIR ")\n");
			return 0;
		default:
			fprintf(stderr, "dm-remap-tool: bad option for 'monitor'\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dm-remap-tool: monitor takes no arguments\n");
		return 2;
	}
	journal = getenv("JOURNAL_STREAM") != NULL;
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		logmsg(3, "cannot listen to kernel uevents: %s", strerror(errno));
		return 1;
	}
	mkdir(textfile_dir, 0755);
	logmsg(6, "monitor started: metrics in %s/dm_remap.prom, hooks from %s",
	       textfile_dir, hooks_dir);
	pthread_mutex_lock(&lock);
	write_metrics();
	pthread_mutex_unlock(&lock);
	scan();
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			logmsg(3, "uevent socket: %s", strerror(errno));
			return 1;
		}
		buf[n] = '\0';
		/* "ACTION@/devices/virtual/block/dm-N": a dm device came, changed or went */
		if (strstr(buf, "/block/dm-"))
			scan();
	}
}
