/*
 * bench_feed_latency.c - how long after a writer's close() returns on node A
 * a watcher of the change feed on node B receives the change.
 *
 *   bench_feed_latency watch --prefix P --count N --out FILE [--timeout SECS]
 *   bench_feed_latency write --dir D --count N --out FILE [--gap-us U]
 *                            [--size BYTES] [--mount M]
 *   bench_feed_latency report WRITES WATCH
 *
 * watch   (run on node B, cluster-sim exec) connects to the node's pmxcfs
 *         (pmxcfs_connect(NULL): $PMXCFS_IPC_NAME or "pmxcfs"), watches P
 *         from now, prints "ready" once the watch is in place, then takes
 *         the CLOCK_MONOTONIC time of every "put" event under P as soon as
 *         pmxcfs_next_event() hands it out (blocking in libqb's event
 *         receive, no polling interval), until N puts came; then writes
 *         "<path> <t_ns>" lines to FILE.  Exit 1 when no event came for
 *         SECS (default 60) seconds, on a resync or on an IPC error.
 * write   (run on node A) writes D/f0 .. D/f<N-1>, each a new file: open
 *         (O_WRONLY|O_CREAT|O_TRUNC), write BYTES (default 100), close; the
 *         time is taken right after close() returns; then it sleeps U us
 *         (default 2000) so every write is measured on an idle cluster.
 *         Writes "<path relative to M> <t_ns>" lines to FILE (M, the mount,
 *         default /etc/pve: the paths the feed shows) and prints the
 *         writer's own open-to-close latency.  A new file makes two changes,
 *         "create" at open and "put" (the content) at close: the put is the
 *         one matched.
 * report  joins the two files by path: latency = t_event - t_close, printed
 *         as count, p50, p90, p99, max and min in microseconds.  A latency
 *         can be negative (node B applied and announced the change before
 *         close() returned on node A): it is reported as it is, not
 *         clamped.  Exit 1 if a write has no event.
 *
 * The two timestamps come from different processes in different network and
 * mount namespaces of one host: CLOCK_MONOTONIC is one clock for the whole
 * kernel (cluster-sim creates no time namespaces), so they are comparable.
 * On real separate machines they would not be.
 */
#include "latency.h"
#include "proto/pmxcfs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rec {
	char *path;
	uint64_t t_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: bench_feed_latency watch --prefix P --count N --out FILE [--timeout SECS]\n"
	        "       bench_feed_latency write --dir D --count N --out FILE [--gap-us U]\n"
	        "                                [--size BYTES] [--mount M]\n"
	        "       bench_feed_latency report WRITES WATCH\n");
	return 2;
}

static bool parse_size(const char *s, size_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return false;
	*v = (size_t)x;
	return true;
}

static int write_recs(const char *file, const struct rec *r, size_t n)
{
	FILE *f = fopen(file, "w");
	if (!f) {
		fprintf(stderr, "bench_feed_latency: %s: %s\n", file, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %" PRIu64 "\n", r[i].path, r[i].t_ns);
	if (fclose(f)) {
		fprintf(stderr, "bench_feed_latency: writing %s: %s\n", file, strerror(errno));
		return -1;
	}
	return 0;
}

static void free_recs(struct rec *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].path);
	free(r);
}

/* ---- watch ---- */

static int do_watch(const char *prefix, size_t count, const char *out, size_t timeout_s)
{
	struct pmxcfs_client *c;
	struct pmxcfs_event *ev = malloc(sizeof(*ev));
	struct rec *r = calloc(count, sizeof(*r));
	uint64_t start;
	size_t n = 0;
	int err, rc = 1;

	if (!ev || !r) {
		fprintf(stderr, "bench_feed_latency: out of memory\n");
		free(ev);
		free(r);
		return 1;
	}
	if ((err = pmxcfs_connect(NULL, &c))) {
		fprintf(stderr, "bench_feed_latency: cannot connect to pmxcfs: %s\n",
		        strerror(-err));
		free(ev);
		free(r);
		return 1;
	}
	if ((err = pmxcfs_watch(c, prefix, 0, PMXCFS_WATCH_NOW, &start))) {
		fprintf(stderr, "bench_feed_latency: cannot watch '%s': %s\n", prefix,
		        strerror(-err));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	while (n < count) {
		/* blocks in libqb's event receive: woken by the event itself */
		err = pmxcfs_next_event(c, ev, (int)(timeout_s * 1000));
		uint64_t t = now_ns();
		if (err == 0) {
			fprintf(stderr,
			        "bench_feed_latency: no event for %zu s (%zu of %zu puts seen)\n",
			        timeout_s, n, count);
			goto out;
		}
		if (err < 0) {
			fprintf(stderr, "bench_feed_latency: receiving events: %s\n",
			        strerror(-err));
			goto out;
		}
		if (ev->kind == PMXCFS_EV_RESYNC) {
			fprintf(stderr, "bench_feed_latency: the watch ended: resync needed (%s)\n",
			        ipc_resync_reason_name((unsigned)ev->reason));
			goto out;
		}
		if (ev->op != IPC_OP_PUT)
			continue;
		r[n].t_ns = t;
		if (!(r[n].path = strdup(ev->path))) {
			fprintf(stderr, "bench_feed_latency: out of memory\n");
			goto out;
		}
		n++;
	}
	rc = write_recs(out, r, n) ? 1 : 0;
out:
	pmxcfs_disconnect(c);
	free_recs(r, n);
	free(ev);
	return rc;
}

/* ---- write ---- */

static int do_write(const char *dir, size_t count, const char *out, size_t gap_us, size_t size,
                    const char *mount)
{
	size_t ml = strlen(mount);
	while (ml > 1 && mount[ml - 1] == '/')
		ml--;
	if (strncmp(dir, mount, ml) != 0 || dir[ml] != '/' || !dir[ml + 1]) {
		fprintf(stderr, "bench_feed_latency: --dir %s is not below the mount %s\n", dir,
		        mount);
		return 2;
	}
	const char *rel = dir + ml + 1;
	struct rec *r = calloc(count, sizeof(*r));
	uint64_t *lat = calloc(count, sizeof(*lat));
	char *buf = malloc(size + 1);
	int rc = 1;
	size_t n = 0;

	if (!r || !lat || !buf) {
		fprintf(stderr, "bench_feed_latency: out of memory\n");
		goto out;
	}
	struct timespec gap = { (time_t)(gap_us / 1000000), (long)(gap_us % 1000000) * 1000 };
	uint64_t t_start = now_ns();
	for (; n < count; n++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/f%zu", dir, n);
		memset(buf, 'x', size);
		int hl = snprintf(buf, size + 1, "bench_feed_latency write %zu ", n);
		if ((size_t)hl < size)
			buf[hl] = 'x'; /* no NUL inside the content */
		uint64_t t0 = now_ns();
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "bench_feed_latency: open %s: %s\n", path, strerror(errno));
			goto out;
		}
		ssize_t w = size ? write(fd, buf, size) : 0;
		if (w != (ssize_t)size) {
			fprintf(stderr, "bench_feed_latency: write %s: %s\n", path,
			        w < 0 ? strerror(errno) : "short write");
			close(fd);
			goto out;
		}
		if (close(fd)) {
			fprintf(stderr, "bench_feed_latency: close %s: %s\n", path,
			        strerror(errno));
			goto out;
		}
		uint64_t t = now_ns(); /* right after close() returned */
		lat[n] = t - t0;
		r[n].t_ns = t;
		snprintf(path, sizeof(path), "%s/f%zu", rel, n);
		if (!(r[n].path = strdup(path))) {
			fprintf(stderr, "bench_feed_latency: out of memory\n");
			goto out;
		}
		if (gap_us)
			nanosleep(&gap, NULL);
	}
	uint64_t wall = now_ns() - t_start;
	if (write_recs(out, r, n))
		goto out;
	struct latency l;
	latency_summarize(&l, lat, n, wall);
	printf("writer: %zu new files of %zu bytes, open+write+close p50 %.1f us, p99 %.1f us, "
	       "max %.1f us\n",
	       l.n, size, l.p50_us, l.p99_us, l.max_us);
	rc = 0;
out:
	if (r)
		free_recs(r, count); /* calloc: the unused ones are NULL */
	free(lat);
	free(buf);
	return rc;
}

/* ---- report ---- */

static int read_recs(const char *file, struct rec **out, size_t *nout)
{
	FILE *f = fopen(file, "r");
	struct rec *r = NULL;
	size_t n = 0, cap = 0;
	char path[4096];
	uint64_t t;
	int m;

	if (!f) {
		fprintf(stderr, "bench_feed_latency: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while ((m = fscanf(f, "%4095s %" SCNu64, path, &t)) == 2) {
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 1024;
			struct rec *p = realloc(r, nc * sizeof(*p));
			if (!p)
				break;
			r = p;
			cap = nc;
		}
		if (!(r[n].path = strdup(path)))
			break;
		r[n++].t_ns = t;
	}
	bool bad = m != EOF || ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "bench_feed_latency: %s: malformed line %zu (or out of memory)\n",
		        file, n + 1);
		free_recs(r, n);
		return -1;
	}
	*out = r;
	*nout = n;
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->path, ((const struct rec *)b)->path);
}

/* Nearest rank of a sorted array, as latency.c takes it. */
static uint64_t rank_of(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static int do_report(const char *wfile, const char *efile)
{
	struct rec *w, *e;
	size_t nw, ne, missing = 0, dup = 0, negative = 0;
	int rc = 1;

	if (read_recs(wfile, &w, &nw))
		return 1;
	if (read_recs(efile, &e, &ne)) {
		free_recs(w, nw);
		return 1;
	}
	uint64_t *lat = calloc(nw ? nw : 1, sizeof(*lat));
	int64_t *d = calloc(nw ? nw : 1, sizeof(*d));
	if (!lat || !d || nw == 0) {
		fprintf(stderr, "bench_feed_latency: %s\n", nw ? "out of memory" : "no writes");
		goto out;
	}
	qsort(e, ne, sizeof(*e), cmp_rec);
	for (size_t i = 1; i < ne; i++)
		if (!strcmp(e[i].path, e[i - 1].path) && dup++ < 5)
			fprintf(stderr, "bench_feed_latency: more than one put of %s\n", e[i].path);
	int64_t min = INT64_MAX;
	for (size_t i = 0; i < nw; i++) {
		struct rec key = { .path = w[i].path };
		struct rec *m = bsearch(&key, e, ne, sizeof(*e), cmp_rec);
		if (!m) {
			if (missing++ < 5)
				fprintf(stderr, "bench_feed_latency: no event for %s\n", w[i].path);
			continue;
		}
		while (m > e && !strcmp(m[-1].path, m->path))
			m--; /* the first put of that path */
		d[i] = (int64_t)m->t_ns - (int64_t)w[i].t_ns;
		if (d[i] < min)
			min = d[i];
		if (d[i] < 0)
			negative++;
	}
	if (missing || dup) {
		fprintf(stderr,
		        "bench_feed_latency: %zu of %zu writes without an event, %zu extra puts\n",
		        missing, nw, dup);
		goto out;
	}
	/*
	 * latency.c takes unsigned nanoseconds: shift by the most negative one
	 * and shift the percentiles back.
	 */
	uint64_t bias = min < 0 ? (uint64_t)-min : 0;
	for (size_t i = 0; i < nw; i++)
		lat[i] = (uint64_t)d[i] + bias;
	struct latency l;
	latency_summarize(&l, lat, nw, 0); /* sorts lat */
	double b = (double)bias / 1000.0;
	printf("feed latency, close() -> event: %zu writes, p50 %.1f us, p90 %.1f us, "
	       "p99 %.1f us, max %.1f us, min %.1f us, mean %.1f us, %zu negative\n",
	       nw, l.p50_us - b, (double)rank_of(lat, nw, 90) / 1000.0 - b, l.p99_us - b,
	       l.max_us - b, (double)lat[0] / 1000.0 - b, l.mean_us - b, negative);
	rc = 0;
out:
	free(lat);
	free(d);
	free_recs(w, nw);
	free_recs(e, ne);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "dir", required_argument, NULL, 'd' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "size", required_argument, NULL, 's' },
		{ "mount", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = NULL, *out = NULL, *dir = NULL, *mount = "/etc/pve";
	size_t count = 0, timeout = 60, gap = 2000, size = 100;
	int c;

	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	if (!strcmp(mode, "report"))
		return argc == 4 ? do_report(argv[2], argv[3]) : usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case 'p':
			prefix = optarg;
			break;
		case 'n':
			ok = parse_size(optarg, &count) && count > 0;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			ok = parse_size(optarg, &timeout) && timeout > 0 && timeout <= 86400;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'g':
			ok = parse_size(optarg, &gap) && gap <= 10000000;
			break;
		case 's':
			ok = parse_size(optarg, &size) && size <= 1024 * 1024;
			break;
		case 'm':
			mount = optarg;
			break;
		default:
			return usage();
		}
		if (!ok) {
			fprintf(stderr, "bench_feed_latency: invalid value '%s'\n", optarg);
			return 2;
		}
	}
	if (optind != argc || !count || !out)
		return usage();
	if (!strcmp(mode, "watch") && prefix && !dir)
		return do_watch(prefix, count, out, timeout);
	if (!strcmp(mode, "write") && dir && !prefix)
		return do_write(dir, count, out, gap, size, mount);
	return usage();
}
