/*
 * bench_smallfile.c - small-file benchmark for a pmxcfs mount (or any
 * directory), optionally against a baseline directory in the same run.
 *
 *   bench_smallfile --dir DIR [--baseline DIR] [--files N] [--size BYTES]
 *                   [--read-passes K] [--json[=FILE]]
 *
 * One client (this process, one thread).  In a fresh subdirectory of each
 * directory it runs these phases on N files of BYTES bytes (default 1000 x
 * 512), timing every single operation with clock_gettime(CLOCK_MONOTONIC):
 *
 *   create     open(O_CREAT|O_EXCL|O_WRONLY) + write BYTES + close
 *   overwrite  open(O_WRONLY|O_TRUNC) + write BYTES (new content) + close
 *   read       open(O_RDONLY) + read to EOF + close of an unchanged file;
 *              K passes over all files (default 5, so K x N reads), so that
 *              repeated reads of cached files are measured.  Also reported
 *              split into the first pass (read.1st) and the others (read.warm).
 *   rename     rename(fNNNNNN, rNNNNNN)
 *   unlink     unlink(rNNNNNN)
 *
 * Phases are interleaved: each phase runs on DIR and then on the baseline
 * before the next phase starts, so that noise from other load on the
 * machine hits both sides alike.  The baseline is meant to be a plain local
 * directory; the benchmark never calls fsync anywhere, on either side (a
 * pmxcfs close() is durable by itself: it commits to SQLite with
 * synchronous=FULL), which is what the reference comparison uses.
 *
 * Every syscall result is checked, and every read compares the content
 * byte for byte with what the last write put there (content depends on the
 * file index and the write generation); any error or mismatch makes the
 * program exit 1.  Exit 2 is a usage error.  Timing goals are reported
 * (PASS/MISS) but never change the exit status:
 *   overwrite >= 4000 ops/s on DIR;  read ops/s >= 20% of the baseline's.
 *
 * Output: a table (phase | DIR ops/s | p50 | p99 | baseline ops/s | p50 |
 * p99 | ratio DIR/baseline), latencies in microseconds; with --json, one
 * JSON document too (after the table on stdout, or into FILE).
 */
#include "latency.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GOAL_OVERWRITE_OPS 4000.0
#define GOAL_READ_RATIO 0.20

enum phase {
	PH_CREATE,
	PH_OVERWRITE,
	PH_READ,
	PH_READ_FIRST,
	PH_READ_WARM,
	PH_RENAME,
	PH_UNLINK,
	PH_COUNT
};

static const char *const phase_names[PH_COUNT] = {
	"create", "overwrite", "read", "read.1st", "read.warm", "rename", "unlink",
};

struct side {
	const char *label;
	const char *dir;
	char work[4096]; /* our subdirectory of dir */
	bool made;
	struct latency st[PH_COUNT];
};

static size_t opt_files = 1000;
static size_t opt_size = 512;
static unsigned opt_passes = 5;

static char *wbuf; /* content to write */
static char *rbuf; /* read buffer, opt_size + 1 bytes */
static char *ebuf; /* expected content */
static uint64_t *lat; /* per-op latencies (ns) of the running phase */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench_smallfile: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Content of file i after write generation gen: printable, unique per (i, gen). */
static void fill(char *buf, size_t i, unsigned gen)
{
	uint64_t x =
	    ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)gen + 1) * 0xD1B54A32D192ED03ull;
	int head = snprintf(buf, opt_size, "file %zu gen %u\n", i, gen);
	size_t k = head > 0 ? (size_t)head : 0;
	if (k > opt_size)
		k = opt_size;
	for (; k < opt_size; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (char)('a' + (x % 26));
	}
	if (opt_size > 0)
		buf[opt_size - 1] = '\n';
}

static void path_of(char *out, size_t len, const struct side *s, char prefix, size_t i)
{
	int n = snprintf(out, len, "%s/%c%06zu", s->work, prefix, i);
	if (n < 0 || (size_t)n >= len)
		die("path too long: %s/...", s->work);
}

static void write_all(int fd, const char *buf, size_t len, const char *path)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write %s: %s", path, strerror(errno));
		}
		if (w == 0)
			die("write %s: wrote 0 bytes", path);
		buf += w;
		len -= (size_t)w;
	}
}

static void close_checked(int fd, const char *path)
{
	if (close(fd) != 0)
		die("close %s: %s", path, strerror(errno));
}

/* Read the whole file into rbuf and compare with expected (opt_size bytes). */
static void read_verify(const char *path, const char *expected)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s for reading: %s", path, strerror(errno));
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, rbuf + got, opt_size + 1 - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read %s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > opt_size)
			die("read %s: file is longer than the %zu bytes written", path, opt_size);
	}
	close_checked(fd, path);
	if (got != opt_size)
		die("read %s: got %zu bytes, expected %zu", path, got, opt_size);
	if (memcmp(rbuf, expected, opt_size) != 0) {
		size_t k = 0;
		while (rbuf[k] == expected[k])
			k++;
		die("read %s: content differs from what was written (first difference at byte %zu)",
		    path, k);
	}
}

static void make_workdir(struct side *s)
{
	struct stat sb;
	if (stat(s->dir, &sb) != 0)
		die("%s directory %s: %s", s->label, s->dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		die("%s: %s is not a directory", s->label, s->dir);
	int n =
	    snprintf(s->work, sizeof(s->work), "%s/bench-smallfile.%ld", s->dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(s->work))
		die("directory name too long: %s", s->dir);
	if (mkdir(s->work, 0755) != 0)
		die("mkdir %s: %s", s->work, strerror(errno));
	s->made = true;
}

static void run_phase(struct side *s, enum phase ph)
{
	char path[4200], path2[4200];
	uint64_t t0, t1, start = now_ns();
	size_t n = opt_files;

	switch (ph) {
	case PH_CREATE:
	case PH_OVERWRITE:
		for (size_t i = 0; i < n; i++) {
			path_of(path, sizeof(path), s, 'f', i);
			fill(wbuf, i, ph == PH_CREATE ? 0 : 1);
			int flags =
			    ph == PH_CREATE ? O_CREAT | O_EXCL | O_WRONLY : O_WRONLY | O_TRUNC;
			t0 = now_ns();
			int fd = open(path, flags | O_CLOEXEC, 0644);
			if (fd < 0)
				die("open %s (%s): %s", path, phase_names[ph], strerror(errno));
			write_all(fd, wbuf, opt_size, path);
			close_checked(fd, path);
			t1 = now_ns();
			lat[i] = t1 - t0;
		}
		latency_summarize(&s->st[ph], lat, n, now_ns() - start);
		break;
	case PH_READ: {
		/* passes over unchanged files (last written by the overwrite phase) */
		uint64_t first_end = start;
		for (unsigned p = 0; p < opt_passes; p++) {
			for (size_t i = 0; i < n; i++) {
				path_of(path, sizeof(path), s, 'f', i);
				fill(ebuf, i, 1);
				t0 = now_ns();
				read_verify(path, ebuf);
				t1 = now_ns();
				lat[(size_t)p * n + i] = t1 - t0;
			}
			if (p == 0)
				first_end = now_ns();
		}
		uint64_t end = now_ns();
		size_t all = (size_t)opt_passes * n;
		/* read.warm and read.1st first: latency_summarize() sorts its slice */
		if (opt_passes > 1)
			latency_summarize(&s->st[PH_READ_WARM], lat + n, all - n, end - first_end);
		latency_summarize(&s->st[PH_READ_FIRST], lat, n, first_end - start);
		latency_summarize(&s->st[PH_READ], lat, all, end - start);
		break;
	}
	case PH_RENAME:
		for (size_t i = 0; i < n; i++) {
			path_of(path, sizeof(path), s, 'f', i);
			path_of(path2, sizeof(path2), s, 'r', i);
			t0 = now_ns();
			if (rename(path, path2) != 0)
				die("rename %s -> %s: %s", path, path2, strerror(errno));
			t1 = now_ns();
			lat[i] = t1 - t0;
		}
		latency_summarize(&s->st[ph], lat, n, now_ns() - start);
		/* untimed: the renamed files still hold the overwrite content */
		for (size_t i = 0; i < n; i += (n / 10 ? n / 10 : 1)) {
			struct stat sb;
			path_of(path, sizeof(path), s, 'f', i);
			if (lstat(path, &sb) == 0 || errno != ENOENT)
				die("%s still exists after its rename", path);
			path_of(path2, sizeof(path2), s, 'r', i);
			fill(ebuf, i, 1);
			read_verify(path2, ebuf);
		}
		break;
	case PH_UNLINK:
		for (size_t i = 0; i < n; i++) {
			path_of(path, sizeof(path), s, 'r', i);
			t0 = now_ns();
			if (unlink(path) != 0)
				die("unlink %s: %s", path, strerror(errno));
			t1 = now_ns();
			lat[i] = t1 - t0;
		}
		latency_summarize(&s->st[ph], lat, n, now_ns() - start);
		/* rmdir fails unless every file is gone */
		if (rmdir(s->work) != 0)
			die("rmdir %s after unlinking all files: %s", s->work, strerror(errno));
		s->made = false;
		break;
	default:
		die("internal: bad phase %d", (int)ph);
	}
}

/* Best effort removal of our subdirectory after a failure (atexit). */
static struct side *cleanup_sides[2];
static void cleanup(void)
{
	char path[4200];
	for (int k = 0; k < 2; k++) {
		struct side *s = cleanup_sides[k];
		if (!s || !s->made)
			continue;
		for (size_t i = 0; i < opt_files; i++) {
			path_of(path, sizeof(path), s, 'f', i);
			(void)unlink(path);
			path_of(path, sizeof(path), s, 'r', i);
			(void)unlink(path);
		}
		(void)rmdir(s->work);
		s->made = false;
	}
}

static void fmt_num(char *out, size_t len, const struct latency *st, int which)
{
	if (!st || !st->valid) {
		snprintf(out, len, "-");
		return;
	}
	double v = which == 0 ? st->ops : which == 1 ? st->p50_us : st->p99_us;
	snprintf(out, len, which == 0 ? "%.0f" : "%.1f", v);
}

static double ratio_of(const struct latency *a, const struct latency *b)
{
	if (!a->valid || !b || !b->valid || b->ops <= 0)
		return -1;
	return a->ops / b->ops;
}

static void print_table(const struct side *t, const struct side *b)
{
	char c[7][32];
	printf("\n%zu files x %zu bytes, %u read passes; latencies in microseconds\n", opt_files,
	       opt_size, opt_passes);
	printf("  test:     %s\n", t->dir);
	if (b)
		printf("  baseline: %s (plain directory, no fsync)\n", b->dir);
	printf("\n%-10s | %12s | %9s | %9s | %14s | %9s | %9s | %7s\n", "phase", "pmxcfs ops/s",
	       "p50", "p99", "baseline ops/s", "p50", "p99", "ratio");
	printf("-----------+--------------+-----------+-----------+----------------+-----------+---"
	       "--------+--------\n");
	for (int ph = 0; ph < PH_COUNT; ph++) {
		const struct latency *ts = &t->st[ph], *bs = b ? &b->st[ph] : NULL;
		if (!ts->valid)
			continue;
		fmt_num(c[0], sizeof(c[0]), ts, 0);
		fmt_num(c[1], sizeof(c[1]), ts, 1);
		fmt_num(c[2], sizeof(c[2]), ts, 2);
		fmt_num(c[3], sizeof(c[3]), bs, 0);
		fmt_num(c[4], sizeof(c[4]), bs, 1);
		fmt_num(c[5], sizeof(c[5]), bs, 2);
		double r = ratio_of(ts, bs);
		if (r < 0)
			snprintf(c[6], sizeof(c[6]), "-");
		else
			snprintf(c[6], sizeof(c[6]), "%.1f%%", r * 100);
		printf("%-10s | %12s | %9s | %9s | %14s | %9s | %9s | %7s\n", phase_names[ph], c[0],
		       c[1], c[2], c[3], c[4], c[5], c[6]);
	}
}

/* Goals; returns their states for the JSON output. */
static void print_goals(const struct side *t, const struct side *b, const char **g1,
                        const char **g2)
{
	double ow = t->st[PH_OVERWRITE].ops;
	*g1 = ow >= GOAL_OVERWRITE_OPS ? "PASS" : "MISS";
	printf("\ngoal: overwrite >= %.0f ops/s on pmxcfs: %.0f ops/s -> %s\n", GOAL_OVERWRITE_OPS,
	       ow, *g1);
	double r = ratio_of(&t->st[PH_READ], b ? &b->st[PH_READ] : NULL);
	if (r < 0) {
		*g2 = "n/a";
		printf("goal: read >= %.0f%% of baseline: no baseline -> n/a\n",
		       GOAL_READ_RATIO * 100);
	} else {
		*g2 = r >= GOAL_READ_RATIO ? "PASS" : "MISS";
		printf("goal: read >= %.0f%% of baseline: %.1f%% -> %s\n", GOAL_READ_RATIO * 100,
		       r * 100, *g2);
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_side(FILE *f, const struct side *s)
{
	fprintf(f, "{\"dir\":");
	json_str(f, s->dir);
	fprintf(f, ",\"phases\":{");
	bool first = true;
	for (int ph = 0; ph < PH_COUNT; ph++) {
		const struct latency *st = &s->st[ph];
		if (!st->valid)
			continue;
		fprintf(f,
		        "%s\"%s\":{\"n\":%zu,\"secs\":%.6f,\"ops_per_sec\":%.1f,\"p50_us\":%.2f,"
		        "\"p99_us\":%.2f,\"mean_us\":%.2f,\"max_us\":%.2f}",
		        first ? "" : ",", phase_names[ph], st->n, st->secs, st->ops, st->p50_us,
		        st->p99_us, st->mean_us, st->max_us);
		first = false;
	}
	fprintf(f, "}}");
}

static void write_json(const char *file, const struct side *t, const struct side *b, const char *g1,
                       const char *g2)
{
	FILE *f = stdout;
	if (file) {
		f = fopen(file, "w");
		if (!f)
			die("cannot write %s: %s", file, strerror(errno));
	}
	fprintf(f, "{\"files\":%zu,\"size\":%zu,\"read_passes\":%u,\"fsync\":false,\"test\":",
	        opt_files, opt_size, opt_passes);
	json_side(f, t);
	fprintf(f, ",\"baseline\":");
	if (b)
		json_side(f, b);
	else
		fprintf(f, "null");
	fprintf(f, ",\"ratio\":{");
	bool first = true;
	for (int ph = 0; ph < PH_COUNT; ph++) {
		double r = ratio_of(&t->st[ph], b ? &b->st[ph] : NULL);
		if (r < 0)
			continue;
		fprintf(f, "%s\"%s\":%.4f", first ? "" : ",", phase_names[ph], r);
		first = false;
	}
	fprintf(f,
	        "},\"goals\":{\"overwrite_ops_per_sec\":{\"want\":%.0f,\"result\":\"%s\"},"
	        "\"read_ratio\":{\"want\":%.2f,\"result\":\"%s\"}}}\n",
	        GOAL_OVERWRITE_OPS, g1, GOAL_READ_RATIO, g2);
	if (fflush(f) != 0 || ferror(f))
		die("writing the JSON output: %s", strerror(errno));
	if (file && fclose(f) != 0)
		die("closing %s: %s", file, strerror(errno));
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: bench_smallfile --dir DIR [--baseline DIR] [--files N] [--size BYTES]\n"
	    "                       [--read-passes K] [--json[=FILE]]\n"
	    "  --dir DIR          directory to test (a pmxcfs mount or a directory in it)\n"
	    "  --baseline DIR     run the same phases on DIR too (a plain local directory)\n"
	    "  --files N          number of files (default 1000)\n"
	    "  --size BYTES       bytes per file (default 512, at least 1)\n"
	    "  --read-passes K    read passes over all files (default 5)\n"
	    "  --json[=FILE]      also print a JSON document (to stdout after the table, or FILE)\n"
	    "Exit: 0 ok, 1 a syscall failed or content was wrong, 2 usage.\n");
}

static size_t parse_size(const char *s, const char *what, size_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > max) {
		fprintf(stderr, "bench_smallfile: bad %s '%s' (1..%zu)\n", what, s, max);
		exit(2);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	enum { OPT_FILES = 256, OPT_SIZE, OPT_DIR, OPT_BASELINE, OPT_JSON, OPT_PASSES };
	static const struct option longopts[] = {
		{ "files", required_argument, NULL, OPT_FILES },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "json", optional_argument, NULL, OPT_JSON },
		{ "read-passes", required_argument, NULL, OPT_PASSES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *baseline = NULL, *json_file = NULL;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FILES:
			opt_files = parse_size(optarg, "--files", 999999);
			break;
		case OPT_SIZE:
			opt_size = parse_size(optarg, "--size", 64u * 1024 * 1024);
			break;
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_BASELINE:
			baseline = optarg;
			break;
		case OPT_JSON:
			json = true;
			json_file = optarg;
			break;
		case OPT_PASSES:
			opt_passes = (unsigned)parse_size(optarg, "--read-passes", 1000);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dir || optind != argc) {
		usage(stderr);
		return 2;
	}

	wbuf = malloc(opt_size);
	ebuf = malloc(opt_size);
	rbuf = malloc(opt_size + 1);
	lat = calloc((size_t)opt_passes * opt_files, sizeof(*lat));
	if (!wbuf || !ebuf || !rbuf || !lat)
		die("out of memory");

	struct side test = { .label = "test", .dir = dir };
	struct side base = { .label = "baseline", .dir = baseline };
	struct side *sides[2] = { &test, baseline ? &base : NULL };
	int nsides = baseline ? 2 : 1;
	cleanup_sides[0] = &test;
	cleanup_sides[1] = baseline ? &base : NULL;
	if (atexit(cleanup) != 0)
		die("atexit failed");

	for (int k = 0; k < nsides; k++)
		make_workdir(sides[k]);
	static const enum phase order[] = { PH_CREATE, PH_OVERWRITE, PH_READ, PH_RENAME,
		                            PH_UNLINK };
	for (size_t p = 0; p < sizeof(order) / sizeof(order[0]); p++) {
		for (int k = 0; k < nsides; k++) {
			run_phase(sides[k], order[p]);
			fprintf(stderr, "# %-9s %-8s %10.0f ops/s\n", phase_names[order[p]],
			        sides[k]->label, sides[k]->st[order[p]].ops);
		}
	}

	const char *g1, *g2;
	print_table(&test, baseline ? &base : NULL);
	print_goals(&test, baseline ? &base : NULL, &g1, &g2);
	printf("content verified: every read matched the bytes written\n");
	if (fflush(stdout) != 0)
		die("writing the table: %s", strerror(errno));
	if (json)
		write_json(json_file, &test, baseline ? &base : NULL, g1, g2);
	return 0;
}
