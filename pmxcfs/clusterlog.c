/*
 * clusterlog.c - see clusterlog.h.
 */
#include "pmxcfs/clusterlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct cl_entry {
	uint64_t instance, seq;
	int64_t time;
	int pri;
	uint32_t pid;
	char node[64];
	char user[64];
	char tag[64];
	char msg[512];
};

struct clusterlog {
	pthread_mutex_t lock;
	struct cl_entry *e; /* sorted by (time, instance, seq) */
	size_t count;
	uint64_t instance, next_seq;
};

struct clusterlog *clusterlog_new(void)
{
	struct clusterlog *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->e = calloc(CLUSTERLOG_MAX, sizeof(*cl->e));
	if (!cl->e) {
		free(cl);
		return NULL;
	}
	if (getrandom(&cl->instance, sizeof(cl->instance), 0) != sizeof(cl->instance)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		cl->instance = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 40);
	}
	pthread_mutex_init(&cl->lock, NULL);
	cl->next_seq = 1;
	return cl;
}

void clusterlog_free(struct clusterlog *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl->e);
	free(cl);
}

static int cmp_key(const struct cl_entry *a, int64_t time, uint64_t instance, uint64_t seq)
{
	if (a->time != time)
		return a->time < time ? -1 : 1;
	if (a->instance != instance)
		return a->instance < instance ? -1 : 1;
	return a->seq < seq ? -1 : a->seq > seq;
}

/* Insert unless present; lock held.  True when inserted. */
static bool insert_locked(struct clusterlog *cl, const struct cl_entry *n)
{
	size_t lo = 0, hi = cl->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_key(&cl->e[mid], n->time, n->instance, n->seq) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cl->count && cmp_key(&cl->e[lo], n->time, n->instance, n->seq) == 0)
		return false; /* have it */
	if (cl->count == CLUSTERLOG_MAX) {
		if (lo == 0)
			return false; /* older than everything kept */
		memmove(&cl->e[0], &cl->e[1], (lo - 1) * sizeof(*cl->e));
		lo--;
	} else {
		memmove(&cl->e[lo + 1], &cl->e[lo], (cl->count - lo) * sizeof(*cl->e));
		cl->count++;
	}
	cl->e[lo] = *n;
	return true;
}

static void to_ipc(const struct cl_entry *c, struct ipc_log_entry *e)
{
	*e = (struct ipc_log_entry){ .instance = c->instance,
		                     .seq = c->seq,
		                     .time = c->time,
		                     .pri = (uint8_t)c->pri,
		                     .pid = c->pid,
		                     .node = c->node,
		                     .user = c->user,
		                     .tag = c->tag,
		                     .msg = c->msg };
}

static void from_ipc(const struct ipc_log_entry *e, struct cl_entry *c)
{
	memset(c, 0, sizeof(*c));
	c->instance = e->instance;
	c->seq = e->seq;
	c->time = e->time;
	c->pri = e->pri & 7;
	c->pid = e->pid;
	snprintf(c->node, sizeof(c->node), "%s", e->node);
	snprintf(c->user, sizeof(c->user), "%s", e->user);
	snprintf(c->tag, sizeof(c->tag), "%s", e->tag);
	snprintf(c->msg, sizeof(c->msg), "%s", e->msg);
}

void clusterlog_add(struct clusterlog *cl, const char *node, const char *user, const char *tag,
                    int pri, uint32_t pid, int64_t time, const char *msg, struct ipc_wr *out)
{
	struct ipc_log_entry ie = { .time = time,
		                    .pri = (uint8_t)(pri & 7),
		                    .pid = pid,
		                    .node = node,
		                    .user = user,
		                    .tag = tag,
		                    .msg = msg };
	struct cl_entry c;

	pthread_mutex_lock(&cl->lock);
	ie.instance = cl->instance;
	ie.seq = cl->next_seq++;
	from_ipc(&ie, &c);
	insert_locked(cl, &c);
	pthread_mutex_unlock(&cl->lock);
	if (out) {
		to_ipc(&c, &ie);
		ipc_put_u32(out, 1);
		ipc_put_log_entry(out, &ie);
	}
}

void clusterlog_encode(struct clusterlog *cl, struct ipc_wr *out)
{
	struct ipc_log_entry ie;

	pthread_mutex_lock(&cl->lock);
	ipc_put_u32(out, (uint32_t)cl->count);
	for (size_t i = 0; i < cl->count; i++) {
		to_ipc(&cl->e[i], &ie);
		ipc_put_log_entry(out, &ie);
	}
	pthread_mutex_unlock(&cl->lock);
}

int clusterlog_merge(struct clusterlog *cl, const void *blob, size_t len)
{
	struct ipc_msg m = { .body = blob, .body_len = (uint32_t)len };
	struct ipc_log_entry ie;
	struct ipc_rd r;
	int merged = 0;

	if (len > IPC_MAX_MSG)
		return -EBADMSG;
	/* check everything first: a damaged blob merges nothing */
	for (int pass = 0; pass < 2; pass++) {
		ipc_rd_init(&r, &m);
		uint32_t n = ipc_get_u32(&r);
		if (pass == 1)
			pthread_mutex_lock(&cl->lock);
		for (uint32_t i = 0; i < n && !r.bad; i++) {
			if (ipc_get_log_entry(&r, &ie))
				break;
			if (pass == 1) {
				struct cl_entry c;
				from_ipc(&ie, &c);
				merged += insert_locked(cl, &c);
			}
		}
		if (pass == 1)
			pthread_mutex_unlock(&cl->lock);
		else if (ipc_rd_end(&r, true))
			return -EBADMSG;
	}
	return merged;
}

void clusterlog_foreach(struct clusterlog *cl, size_t max,
                        void (*fn)(void *ctx, const struct ipc_log_entry *e), void *ctx)
{
	struct ipc_log_entry ie;

	pthread_mutex_lock(&cl->lock);
	size_t first = cl->count > max ? cl->count - max : 0;
	for (size_t i = first; i < cl->count; i++) {
		to_ipc(&cl->e[i], &ie);
		fn(ctx, &ie);
	}
	pthread_mutex_unlock(&cl->lock);
}

void clusterlog_render(struct clusterlog *cl, struct sbuf *out)
{
	pthread_mutex_lock(&cl->lock);
	size_t n = cl->count < CLUSTERLOG_SHOW ? cl->count : CLUSTERLOG_SHOW;
	sbuf_addf(out, "{\n\"data\": [");
	for (size_t i = 0; i < n; i++) {
		const struct cl_entry *e = &cl->e[cl->count - 1 - i];
		/* a JSON-safe (53-bit) id, unique per entry */
		uint64_t uid =
		    ((e->instance * 0x9e3779b97f4a7c15ull) ^ e->seq) & ((1ull << 53) - 1);
		sbuf_addf(out, "%s\n{\"uid\": %llu, \"time\": %lld, \"pri\": %d, \"tag\": ",
		          i ? "," : "", (unsigned long long)uid, (long long)e->time, e->pri);
		sbuf_add_json(out, e->tag);
		sbuf_addf(out, ", \"pid\": %u, \"node\": ", e->pid);
		sbuf_add_json(out, e->node);
		sbuf_addf(out, ", \"user\": ");
		sbuf_add_json(out, e->user);
		sbuf_addf(out, ", \"msg\": ");
		sbuf_add_json(out, e->msg);
		sbuf_addf(out, "}");
	}
	sbuf_addf(out, "%s]\n}\n", n ? "\n" : "");
	pthread_mutex_unlock(&cl->lock);
}
