/*
 * bench_hotplug.c - hot-plug latency: N memory changes written to a
 * container's config (on any node), each timed from the writer's close()
 * to the new limit being in the container's cgroup on the owning node.
 *
 *   bench_hotplug --conf /etc/pve/nodes/node1/lxc/990.conf --pid PID
 *                 [--count 200] [--gap-ms 20]
 *
 * PID is the container's init (as this process sees it); the limit is read
 * where the container sees it, /proc/PID/root/sys/fs/cgroup/memory/
 * memory.limit_in_bytes (cgroup v1) or .../memory.max (v2), polled every
 * 20 us.  Memory alternates between two values so every write changes it.
 * The config is rewritten in place (open O_TRUNC, write, close) as an
 * editor or pct would.  Prints the latency summary (p50/p99/max).
 */
#include "latency.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

/* the config text with its "memory: " line set to mb */
static char *with_memory(const char *conf, long mb, size_t *len)
{
	size_t cap = strlen(conf) + 64, k = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *p = conf; *p;) {
		size_t l = strcspn(p, "\n");
		if (!strncmp(p, "memory: ", 8))
			k += (size_t)snprintf(out + k, cap - k, "memory: %ld\n", mb);
		else
			k += (size_t)snprintf(out + k, cap - k, "%.*s\n", (int)l, p);
		p += l + (p[l] == '\n');
	}
	*len = k;
	return out;
}

static long long read_limit(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return atoll(buf);
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	long pid = 0, count = 200, gap_ms = 20;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--conf"))
			conf = argv[i + 1];
		else if (!strcmp(argv[i], "--pid"))
			pid = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--gap-ms"))
			gap_ms = atol(argv[i + 1]);
	}
	if (!conf || pid <= 0 || count <= 0) {
		fprintf(stderr,
		        "usage: bench_hotplug --conf FILE --pid PID [--count N] [--gap-ms G]\n");
		return 2;
	}
	char cg[256];
	snprintf(cg, sizeof(cg), "/proc/%ld/root/sys/fs/cgroup/memory/memory.limit_in_bytes", pid);
	if (read_limit(cg) < 0)
		snprintf(cg, sizeof(cg), "/proc/%ld/root/sys/fs/cgroup/memory.max", pid);
	if (read_limit(cg) < 0) {
		fprintf(stderr, "bench_hotplug: cannot read the container's memory limit (%s)\n",
		        cg);
		return 1;
	}
	size_t len;
	char *base = slurp(conf, &len);
	if (!base) {
		fprintf(stderr, "bench_hotplug: cannot read %s: %s\n", conf, strerror(errno));
		return 1;
	}
	uint64_t *lat = calloc((size_t)count, sizeof(*lat)), t_start = now_ns();
	for (long i = 0; i < count; i++) {
		long mb = i % 2 ? 160 : 192;
		char *text = with_memory(base, mb, &len);
		int fd = open(conf, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (!text || !lat || fd < 0 || write(fd, text, len) != (ssize_t)len) {
			fprintf(stderr, "bench_hotplug: cannot write %s: %s\n", conf,
			        strerror(errno));
			return 1;
		}
		if (close(fd) != 0) {
			fprintf(stderr, "bench_hotplug: close %s: %s\n", conf, strerror(errno));
			return 1;
		}
		uint64_t t0 = now_ns();
		free(text);
		long long want = (long long)mb << 20;
		while (read_limit(cg) != want) {
			if (now_ns() - t0 > 10ull * 1000000000u) {
				fprintf(
				    stderr,
				    "bench_hotplug: change %ld: the limit is not %lld after 10 s\n",
				    i, want);
				return 1;
			}
			usleep(20);
		}
		lat[i] = now_ns() - t0;
		usleep((useconds_t)gap_ms * 1000);
	}
	struct latency l;
	latency_summarize(&l, lat, (size_t)count, now_ns() - t_start);
	printf("hot-plug: %ld memory changes: close() -> cgroup limit p50 %.0f us p99 %.0f us max "
	       "%.0f us mean %.0f us\n",
	       count, l.p50_us, l.p99_us, l.max_us, l.mean_us);
	free(lat);
	free(base);
	return 0;
}
