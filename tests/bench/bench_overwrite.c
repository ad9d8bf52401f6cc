/*
 * bench_overwrite.c - concurrent small-file overwrites for the cluster
 * benchmark: CLIENTS processes, each overwriting its own file in DIR
 * (open O_WRONLY|O_TRUNC, write SIZE bytes, close) as fast as it can until
 * the end time.
 *
 *   bench_overwrite --dir DIR [--clients N] [--seconds S] [--size BYTES]
 *                   [--start EPOCH_MS] [--tag NAME]
 *
 * --start makes several instances (one per cluster node) start together:
 * each waits until that wall-clock time (ms since the epoch), then runs S
 * seconds.  Prints one line: "<tag> clients N ops M seconds S ops/s R p50
 * P p99 Q" (latencies in microseconds over every client's operations).
 * Every write and close is checked; any failure exits 1.
 */
#include "latency.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPS_PER_CLIENT 200000

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One client: returns the number of ops, latencies into lat. */
static size_t client(const char *dir, const char *tag, int idx, double secs, size_t size,
                     uint64_t *lat)
{
	char path[4096], *buf = malloc(size);
	size_t n = 0;

	if (!buf)
		exit(1);
	snprintf(path, sizeof(path), "%s/ow-%s-%d", dir, tag, idx);
	uint64_t end = mono_ns() + (uint64_t)(secs * 1e9);
	while (n < MAX_OPS_PER_CLIENT) {
		uint64_t t0 = mono_ns();
		if (t0 >= end)
			break;
		memset(buf, 'a' + (int)(n % 26), size);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd) != 0) {
			fprintf(stderr, "bench_overwrite: %s: %s\n", path, strerror(errno));
			exit(1);
		}
		lat[n++] = mono_ns() - t0;
	}
	free(buf);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "start", required_argument, NULL, 't' },
		{ "tag", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *tag = "x";
	int clients = 1, c;
	double secs = 5;
	size_t size = 512;
	uint64_t start = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			clients = atoi(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'z':
			size = strtoul(optarg, NULL, 10);
			break;
		case 't':
			start = strtoull(optarg, NULL, 10);
			break;
		case 'g':
			tag = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!dir || clients < 1 || clients > 64 || secs <= 0 || size == 0 || size > 1024 * 1024) {
		fprintf(stderr,
		        "usage: bench_overwrite --dir DIR [--clients N] [--seconds S] "
		        "[--size BYTES] [--start EPOCH_MS] [--tag NAME]\n");
		return 2;
	}
	/* shared result area: per client, a count and its latencies */
	size_t per = MAX_OPS_PER_CLIENT;
	size_t bytes = (size_t)clients * (sizeof(size_t) + per * sizeof(uint64_t));
	unsigned char *shm =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return 1;
	size_t *counts = (size_t *)shm;
	uint64_t *lats = (uint64_t *)(shm + (size_t)clients * sizeof(size_t));

	while (start && wall_ms() < start)
		usleep(1000);
	uint64_t t0 = mono_ns();
	for (int i = 0; i < clients; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0) {
			counts[i] = client(dir, tag, i, secs, size, lats + (size_t)i * per);
			_exit(0);
		}
	}
	int failed = 0, st;
	while (wait(&st) > 0)
		failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	uint64_t wall = mono_ns() - t0;
	if (failed)
		return 1;
	size_t total = 0;
	for (int i = 0; i < clients; i++)
		total += counts[i];
	uint64_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return 1;
	size_t k = 0;
	for (int i = 0; i < clients; i++)
		for (size_t j = 0; j < counts[i]; j++)
			all[k++] = lats[(size_t)i * per + j];
	struct latency l = { 0 };
	if (total)
		latency_summarize(&l, all, total, wall);
	printf("%s clients %d ops %zu seconds %.2f ops/s %.0f p50 %.0f p99 %.0f\n", tag, clients,
	       total, (double)wall / 1e9, total ? l.ops : 0.0, l.p50_us, l.p99_us);
	return 0;
}
