/*
 * clusterlog.c - see clusterlog.h.
 */
#include "pmxcfs/clusterlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cl_entry {
	uint64_t uid;
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
	struct cl_entry *ring;
	size_t head; /* next slot */
	size_t count;
	uint64_t next_uid;
};

struct clusterlog *clusterlog_new(void)
{
	struct clusterlog *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->ring = calloc(CLUSTERLOG_MAX, sizeof(*cl->ring));
	if (!cl->ring) {
		free(cl);
		return NULL;
	}
	pthread_mutex_init(&cl->lock, NULL);
	cl->next_uid = 1;
	return cl;
}

void clusterlog_free(struct clusterlog *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl->ring);
	free(cl);
}

void clusterlog_add(struct clusterlog *cl, const char *node, const char *user, const char *tag,
                    int pri, int64_t time, const char *msg)
{
	pthread_mutex_lock(&cl->lock);
	struct cl_entry *e = &cl->ring[cl->head];
	e->uid = cl->next_uid++;
	e->time = time;
	e->pri = pri;
	e->pid = (uint32_t)getpid();
	snprintf(e->node, sizeof(e->node), "%s", node);
	snprintf(e->user, sizeof(e->user), "%s", user);
	snprintf(e->tag, sizeof(e->tag), "%s", tag);
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	cl->head = (cl->head + 1) % CLUSTERLOG_MAX;
	if (cl->count < CLUSTERLOG_MAX)
		cl->count++;
	pthread_mutex_unlock(&cl->lock);
}

void clusterlog_render(struct clusterlog *cl, struct sbuf *out)
{
	pthread_mutex_lock(&cl->lock);
	size_t n = cl->count < CLUSTERLOG_SHOW ? cl->count : CLUSTERLOG_SHOW;
	sbuf_addf(out, "{\n\"data\": [");
	for (size_t i = 0; i < n; i++) {
		const struct cl_entry *e =
		    &cl->ring[(cl->head + CLUSTERLOG_MAX - 1 - i) % CLUSTERLOG_MAX];
		sbuf_addf(out, "%s\n{\"uid\": %llu, \"time\": %lld, \"pri\": %d, \"tag\": ",
		          i ? "," : "", (unsigned long long)e->uid, (long long)e->time, e->pri);
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
