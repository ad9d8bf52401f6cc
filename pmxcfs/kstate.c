/*
 * kstate.c - per-inode kernel cache state; see kstate.h for the states and
 * the invariant.  A fixed-size chained hash of entries that exist only while
 * an inode has open page-cached readers, is draining or being stored, so
 * the table stays as small as the set of files being read.
 */
#include "pmxcfs/kstate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define KSTATE_BUCKETS 1024

struct kentry {
	struct kentry *next;
	uint64_t inode;
	uint64_t pc_version;
	unsigned pc_count;
	unsigned draining; /* invalidations in progress */
	bool storing; /* store_version is being pushed into the page cache */
	unsigned writers; /* open writable handles: readers use direct I/O */
	uint64_t store_version;
};

struct kstate {
	pthread_mutex_t lock;
	pthread_cond_t readers_gone; /* some entry's pc_count dropped to 0 */
	struct kentry *buckets[KSTATE_BUCKETS];
};

int kstate_new(struct kstate **out)
{
	struct kstate *ks = calloc(1, sizeof(*ks));
	if (!ks)
		return -ENOMEM;
	pthread_mutex_init(&ks->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ks->readers_gone, &ca);
	pthread_condattr_destroy(&ca);
	*out = ks;
	return 0;
}

void kstate_free(struct kstate *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < KSTATE_BUCKETS; i++) {
		struct kentry *e = ks->buckets[i];
		while (e) {
			struct kentry *next = e->next;
			free(e);
			e = next;
		}
	}
	pthread_cond_destroy(&ks->readers_gone);
	pthread_mutex_destroy(&ks->lock);
	free(ks);
}

static struct kentry **slot(struct kstate *ks, uint64_t inode)
{
	struct kentry **pp = &ks->buckets[(inode * 0x9e3779b97f4a7c15ull) >> 54];
	while (*pp && (*pp)->inode != inode)
		pp = &(*pp)->next;
	return pp;
}

static struct kentry *find(struct kstate *ks, uint64_t inode)
{
	return *slot(ks, inode);
}

/* The entry of inode, created if missing; NULL only when out of memory. */
static struct kentry *get(struct kstate *ks, uint64_t inode)
{
	struct kentry **pp = slot(ks, inode);
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (*pp)
			(*pp)->inode = inode;
	}
	return *pp;
}

/* Drop inode's entry if it no longer records anything. */
static void put(struct kstate *ks, uint64_t inode)
{
	struct kentry **pp = slot(ks, inode);
	struct kentry *e = *pp;
	if (e && !e->pc_count && !e->draining && !e->storing && !e->writers) {
		*pp = e->next;
		free(e);
	}
}

bool kstate_reader_open(struct kstate *ks, uint64_t inode, uint64_t version)
{
	bool cached = false;

	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	if (e &&
	    (e->draining || e->writers || (e->pc_count && e->pc_version != version) ||
	     (e->storing && e->store_version != version)))
		goto out_unlock;
	e = get(ks, inode);
	if (!e)
		goto out_unlock; /* direct I/O needs no bookkeeping */
	if (!e->pc_count) {
		e->pc_version = version;
	}
	e->pc_count++;
	cached = true;
out_unlock:
	pthread_mutex_unlock(&ks->lock);
	return cached;
}

bool kstate_reader_close(struct kstate *ks, uint64_t inode, uint64_t version, uint64_t cur_version)
{
	bool drain = false;

	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	if (e && e->pc_count && e->pc_version == version) {
		if (--e->pc_count == 0) {
			pthread_cond_broadcast(&ks->readers_gone);
			if (version != cur_version) {
				e->draining++;
				drain = true;
			}
		}
		put(ks, inode);
	}
	pthread_mutex_unlock(&ks->lock);
	return drain;
}

bool kstate_writer_open(struct kstate *ks, uint64_t inode, unsigned wait_ms)
{
	struct timespec deadline;
	bool clear = true;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ks->lock);
	struct kentry *e = get(ks, inode);
	if (!e) {
		pthread_mutex_unlock(&ks->lock);
		return false; /* out of memory: proceed without the gate */
	}
	e->writers++;
	while (e->pc_count) {
		if (pthread_cond_timedwait(&ks->readers_gone, &ks->lock, &deadline) == ETIMEDOUT) {
			clear = e->pc_count == 0;
			break;
		}
	}
	pthread_mutex_unlock(&ks->lock);
	return clear;
}

void kstate_writer_close(struct kstate *ks, uint64_t inode)
{
	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	if (e && e->writers) {
		e->writers--;
		put(ks, inode);
	}
	pthread_mutex_unlock(&ks->lock);
}

bool kstate_store_begin(struct kstate *ks, uint64_t inode, uint64_t version)
{
	bool ok = false;

	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	/* open writers do not matter: readers use direct I/O while they are open */
	if (!e || (!e->pc_count && !e->draining && !e->storing)) {
		e = get(ks, inode);
		if (e) {
			e->storing = true;
			e->store_version = version;
			ok = true;
		}
	}
	pthread_mutex_unlock(&ks->lock);
	return ok;
}

void kstate_store_end(struct kstate *ks, uint64_t inode)
{
	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	if (e && e->storing) {
		e->storing = false;
		put(ks, inode);
	}
	pthread_mutex_unlock(&ks->lock);
}

void kstate_drained(struct kstate *ks, uint64_t inode)
{
	pthread_mutex_lock(&ks->lock);
	struct kentry *e = find(ks, inode);
	if (e && e->draining) {
		e->draining--;
		put(ks, inode);
	}
	pthread_mutex_unlock(&ks->lock);
}
