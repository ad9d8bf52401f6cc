/*
 * latency.h - the summary both benchmark programs print for a phase: ops/s
 * over the phase's wall time and nearest-rank percentiles of the per-op
 * latencies.  Used by bench_smallfile.c and bench_sqlite_commit.c.
 */
#ifndef PVE_BENCH_LATENCY_H
#define PVE_BENCH_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct latency {
	bool valid; /* set by latency_summarize */
	size_t n;
	double secs; /* wall time of the phase */
	double ops; /* n / secs */
	double p50_us, p99_us, max_us, mean_us;
};

/* Summarize n (> 0) per-op latencies in ns (sorted in place) over wall_ns. */
void latency_summarize(struct latency *l, uint64_t *ns, size_t n, uint64_t wall_ns);

#endif
