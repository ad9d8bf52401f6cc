/*
 * latency.c - see latency.h.
 */
#include "latency.h"

#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

void latency_summarize(struct latency *l, uint64_t *ns, size_t n, uint64_t wall_ns)
{
	double sum = 0;
	for (size_t k = 0; k < n; k++)
		sum += (double)ns[k];
	qsort(ns, n, sizeof(*ns), cmp_u64);
	l->valid = true;
	l->n = n;
	l->secs = (double)wall_ns / 1e9;
	l->ops = wall_ns ? (double)n / l->secs : 0;
	l->p50_us = pct_us(ns, n, 50);
	l->p99_us = pct_us(ns, n, 99);
	l->max_us = (double)ns[n - 1] / 1000.0;
	l->mean_us = sum / (double)n / 1000.0;
}
