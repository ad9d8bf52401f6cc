/*
 * bench_sqlite_commit.c - the durability floor under a pmxcfs write: the
 * cost of one SQLite commit shaped like the one pmxcfs does per PUT, on the
 * disk of a given directory.
 *
 *   bench_sqlite_commit [--dir DIR] [--commits N] [--size BYTES] [--json]
 *
 * In a fresh database file in DIR (default /var/tmp; removed at the end)
 * with pmxcfs's schema (tree + meta), each commit is what pmxcfs's apply
 * thread does for one file write with no concurrent writers:
 *   BEGIN IMMEDIATE; INSERT OR REPLACE INTO tree (...) one row with BYTES
 *   of data (cycling over 1000 inodes); UPDATE meta version; COMMIT
 * measured with journal_mode=WAL and
 *   synchronous=FULL    (what pmxcfs uses: the WAL is synced at each commit),
 *   synchronous=NORMAL  (no sync at commit: the CPU + write() part alone),
 * plus, for reference, the raw disk: pwrite 4 KiB + fdatasync of a file.
 * A pmxcfs overwrite cannot be faster than the synchronous=FULL figure
 * unless commits are batched (several writes per sync).
 *
 * Prints commits/s and p50/p99 latency (microseconds) per mode; exit 1 on
 * any error, 2 on usage errors.
 */
#include "latency.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct result {
	const char *name;
	struct latency lat;
};

static char dbpath[4200];
static char rawpath[4200];

static void cleanup(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[4300];
	if (dbpath[0]) {
		for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
			snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
			(void)unlink(p);
		}
	}
	if (rawpath[0])
		(void)unlink(rawpath);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bench_sqlite_commit: FAIL: ");
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

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("sqlite: %s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static void step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		die("sqlite step: %s", sqlite3_errmsg(db));
	sqlite3_reset(st);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die("sqlite prepare %s: %s", sql, sqlite3_errmsg(db));
	return st;
}

static void run_sqlite(struct result *r, const char *sync, size_t n, size_t size, uint64_t *lat)
{
	sqlite3 *db;
	char pragma[128];
	char *data = malloc(size);
	if (!data)
		die("out of memory");
	cleanup();
	if (sqlite3_open_v2(dbpath, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		die("cannot open %s: %s", dbpath, sqlite3_errmsg(db));
	exec(db,
	     "CREATE TABLE tree (inode INTEGER PRIMARY KEY NOT NULL, parent INTEGER NOT NULL,"
	     " version INTEGER NOT NULL, mtime INTEGER NOT NULL, type INTEGER NOT NULL,"
	     " name TEXT NOT NULL, data BLOB);"
	     "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
	     "INSERT INTO meta VALUES ('format', 1), ('version', 1);");
	snprintf(pragma, sizeof(pragma), "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;",
	         sync);
	exec(db, pragma);
	sqlite3_stmt *st_begin = prep(db, "BEGIN IMMEDIATE");
	sqlite3_stmt *st_commit = prep(db, "COMMIT");
	sqlite3_stmt *st_write = prep(db,
	                              "INSERT OR REPLACE INTO tree (inode, parent, version, mtime, "
	                              "type, name, data) VALUES (?, ?, ?, ?, ?, ?, ?)");
	sqlite3_stmt *st_version = prep(db, "UPDATE meta SET value = ? WHERE key = 'version'");
	char name[32];
	/* populate 1000 rows first (one transaction), like the create phase did */
	exec(db, "BEGIN");
	for (size_t i = 0; i < 1000; i++) {
		memset(data, 'a' + (int)(i % 26), size);
		snprintf(name, sizeof(name), "f%06zu", i);
		sqlite3_bind_int64(st_write, 1, (sqlite3_int64)i + 2);
		sqlite3_bind_int64(st_write, 2, 1);
		sqlite3_bind_int64(st_write, 3, (sqlite3_int64)i + 2);
		sqlite3_bind_int64(st_write, 4, 0);
		sqlite3_bind_int(st_write, 5, 2); /* MEMDB_REG */
		sqlite3_bind_text(st_write, 6, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st_write, 7, data, (int)size, SQLITE_TRANSIENT);
		step(db, st_write);
	}
	exec(db, "COMMIT");

	uint64_t start = now_ns();
	for (size_t k = 0; k < n; k++) {
		size_t i = k % 1000;
		memset(data, 'A' + (int)(k % 26), size);
		snprintf(name, sizeof(name), "f%06zu", i);
		uint64_t t0 = now_ns();
		step(db, st_begin);
		sqlite3_bind_int64(st_write, 1, (sqlite3_int64)i + 2);
		sqlite3_bind_int64(st_write, 2, 1);
		sqlite3_bind_int64(st_write, 3, (sqlite3_int64)(k + 2000));
		sqlite3_bind_int64(st_write, 4, (sqlite3_int64)time(NULL));
		sqlite3_bind_int(st_write, 5, 2); /* MEMDB_REG */
		sqlite3_bind_text(st_write, 6, name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st_write, 7, data, (int)size, SQLITE_STATIC);
		step(db, st_write);
		sqlite3_bind_int64(st_version, 1, (sqlite3_int64)(k + 2000));
		step(db, st_version);
		step(db, st_commit);
		lat[k] = now_ns() - t0;
	}
	latency_summarize(&r->lat, lat, n, now_ns() - start);
	sqlite3_finalize(st_begin);
	sqlite3_finalize(st_commit);
	sqlite3_finalize(st_write);
	sqlite3_finalize(st_version);
	if (sqlite3_close(db) != SQLITE_OK)
		die("sqlite close: %s", sqlite3_errmsg(db));
	free(data);
	cleanup();
}

static void run_raw(struct result *r, size_t n, uint64_t *lat)
{
	char block[4096];
	memset(block, 'x', sizeof(block));
	int fd = open(rawpath, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open %s: %s", rawpath, strerror(errno));
	uint64_t start = now_ns();
	for (size_t k = 0; k < n; k++) {
		uint64_t t0 = now_ns();
		/* append-like, as the WAL grows until a checkpoint resets it */
		ssize_t w = pwrite(fd, block, sizeof(block), (off_t)((k % 1000) * sizeof(block)));
		if (w != (ssize_t)sizeof(block))
			die("pwrite %s: %s", rawpath, w < 0 ? strerror(errno) : "short write");
		if (fdatasync(fd) != 0)
			die("fdatasync %s: %s", rawpath, strerror(errno));
		lat[k] = now_ns() - t0;
	}
	latency_summarize(&r->lat, lat, n, now_ns() - start);
	if (close(fd) != 0)
		die("close %s: %s", rawpath, strerror(errno));
	cleanup();
}

static size_t parse_num(const char *s, const char *what, size_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > max) {
		fprintf(stderr, "bench_sqlite_commit: bad %s '%s' (1..%zu)\n", what, s, max);
		exit(2);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "commits", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = "/var/tmp";
	size_t n = 1000, size = 512;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			dir = optarg;
			break;
		case 'n':
			n = parse_num(optarg, "--commits", 10000000);
			break;
		case 's':
			size = parse_num(optarg, "--size", 1024 * 1024);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: bench_sqlite_commit [--dir DIR] [--commits N] [--size "
			       "BYTES] [--json]\n");
			return 0;
		default:
			fprintf(stderr,
			        "usage: bench_sqlite_commit [--dir DIR] [--commits N] [--size "
			        "BYTES] [--json]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
		        "usage: bench_sqlite_commit [--dir DIR] [--commits N] [--size BYTES] "
		        "[--json]\n");
		return 2;
	}
	int k1 =
	    snprintf(dbpath, sizeof(dbpath), "%s/bench-sqlite-commit.%ld.db", dir, (long)getpid());
	int k2 = snprintf(rawpath, sizeof(rawpath), "%s/bench-sqlite-commit.%ld.raw", dir,
	                  (long)getpid());
	if (k1 < 0 || (size_t)k1 >= sizeof(dbpath) || k2 < 0 || (size_t)k2 >= sizeof(rawpath))
		die("directory name too long");
	if (atexit(cleanup) != 0)
		die("atexit failed");
	uint64_t *lat = calloc(n, sizeof(*lat));
	if (!lat)
		die("out of memory");

	struct result res[3] = {
		{ .name = "sqlite WAL synchronous=FULL" },
		{ .name = "sqlite WAL synchronous=NORMAL" },
		{ .name = "raw pwrite 4K + fdatasync" },
	};
	run_sqlite(&res[0], "FULL", n, size, lat);
	run_sqlite(&res[1], "NORMAL", n, size, lat);
	run_raw(&res[2], n, lat);

	printf(
	    "%zu commits of one %zu-byte row (+ meta version) in %s; latencies in microseconds\n\n",
	    n, size, dir);
	printf("%-30s | %10s | %9s | %9s | %9s\n", "mode", "commits/s", "p50", "p99", "mean");
	printf("-------------------------------+------------+-----------+-----------+----------\n");
	for (int i = 0; i < 3; i++)
		printf("%-30s | %10.0f | %9.1f | %9.1f | %9.1f\n", res[i].name, res[i].lat.ops,
		       res[i].lat.p50_us, res[i].lat.p99_us, res[i].lat.mean_us);
	if (json) {
		printf("{\"commits\":%zu,\"size\":%zu,\"modes\":{", n, size);
		for (int i = 0; i < 3; i++)
			printf("%s\"%s\":{\"ops_per_sec\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
			       "\"mean_us\":%.2f}",
			       i ? "," : "", res[i].name, res[i].lat.ops, res[i].lat.p50_us,
			       res[i].lat.p99_us, res[i].lat.mean_us);
		printf("}}\n");
	}
	free(lat);
	return 0;
}
