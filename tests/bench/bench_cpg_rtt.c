/*
 * bench_cpg_rtt.c - the floor under a replicated pmxcfs write: one corosync
 * CPG agreed multicast of BYTES bytes, timed from cpg_mcast_joined() to its
 * delivery back to the sender.
 *
 *   bench_cpg_rtt [--count N] [--size BYTES] [--group NAME]
 *
 * Run inside a cluster node (cluster-sim exec node1 ...): it joins its own
 * CPG group (default "bench-rtt", not pmxcfs's), waits for its join to be
 * delivered, then sends N messages one at a time (each after the previous
 * one came back) and prints ops/s, p50, p99 and max in microseconds, as
 * tests/bench/latency.c summarizes them.  The totem ring spans every
 * corosync node whether or not it joined this group, so the round trip is
 * the real one of the cluster.  Exit 1 on a corosync error.
 */
#include "latency.h"

#include <corosync/cpg.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t my_nodeid, my_pid;
static bool joined, got;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
                    void *msg, size_t len)
{
	(void)h;
	(void)g;
	(void)msg;
	(void)len;
	if (nodeid == my_nodeid && pid == my_pid)
		got = true;
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m,
                    size_t nm, const struct cpg_address *l, size_t nl, const struct cpg_address *j,
                    size_t nj)
{
	(void)h;
	(void)g;
	(void)m;
	(void)nm;
	(void)l;
	(void)nl;
	for (size_t i = 0; i < nj; i++)
		if (j[i].nodeid == my_nodeid && j[i].pid == my_pid)
			joined = true;
}

static int wait_for(cpg_handle_t h, int fd, bool *flag)
{
	while (!*flag) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10000) <= 0) {
			fprintf(stderr, "bench_cpg_rtt: no delivery within 10 s\n");
			return -1;
		}
		if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
			fprintf(stderr, "bench_cpg_rtt: cpg_dispatch failed\n");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	cpg_callbacks_t cb = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
	const char *group = "bench-rtt";
	size_t count = 2000, size = 512;
	cpg_handle_t h;
	struct cpg_name g;
	int c, fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'g':
			group = optarg;
			break;
		default:
			fprintf(stderr,
			        "usage: bench_cpg_rtt [--count N] [--size BYTES] [--group NAME]\n");
			return 2;
		}
	}
	if (count == 0 || size == 0 || size > 1024 * 1024 || strlen(group) >= sizeof(g.value)) {
		fprintf(stderr, "bench_cpg_rtt: bad --count, --size or --group\n");
		return 2;
	}
	if (cpg_initialize(&h, &cb) != CS_OK) {
		fprintf(stderr, "bench_cpg_rtt: cannot connect to corosync\n");
		return 1;
	}
	cpg_local_get(h, &my_nodeid);
	my_pid = (uint32_t)getpid();
	snprintf(g.value, sizeof(g.value), "%s", group);
	g.length = (uint32_t)strlen(group);
	if (cpg_join(h, &g) != CS_OK || cpg_fd_get(h, &fd) != CS_OK || wait_for(h, fd, &joined)) {
		fprintf(stderr, "bench_cpg_rtt: cannot join group %s\n", group);
		return 1;
	}
	char *buf = calloc(1, size);
	uint64_t *lat = calloc(count, sizeof(*lat));
	if (!buf || !lat)
		return 1;
	uint64_t start = now_ns();
	for (size_t i = 0; i < count; i++) {
		struct iovec iov = { buf, size };
		uint64_t t0 = now_ns();
		cs_error_t rc;
		got = false;
		while ((rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
			usleep(100);
		if (rc != CS_OK || wait_for(h, fd, &got)) {
			fprintf(stderr, "bench_cpg_rtt: send %zu failed (%d)\n", i, rc);
			return 1;
		}
		lat[i] = now_ns() - t0;
	}
	struct latency l;
	latency_summarize(&l, lat, count, now_ns() - start);
	printf("cpg agreed round trip, %zu bytes: %zu ops, %.0f ops/s, p50 %.1f us, p99 %.1f us, "
	       "max %.1f us\n",
	       size, l.n, l.ops, l.p50_us, l.p99_us, l.max_us);
	cpg_leave(h, &g);
	cpg_finalize(h);
	free(buf);
	free(lat);
	return 0;
}
