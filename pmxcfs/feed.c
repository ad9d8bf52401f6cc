/*
 * feed.c - the change feed; see feed.h.
 */
#include "pmxcfs/feed.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct feed_ev {
	uint64_t version;
	int64_t mtime;
	uint8_t op;
	char *path, *path2; /* path2 may be NULL */
	size_t bytes;
};

struct feed {
	pthread_mutex_t lock;
	struct feed_ev *ring;
	size_t cap, max_bytes, bytes;
	uint64_t head, end; /* ring positions: oldest kept, next free */
	uint64_t floor; /* every change after this version is in the ring */
	uint64_t version; /* the newest published version */
	uint64_t epoch; /* +1 per reset */
	uint64_t published; /* changes ever published */
	/*
	 * Gated mode: published changes become visible to watchers only when
	 * released (ring positions below vend).  Ungated: vend == end.
	 */
	bool gated;
	uint64_t vend;
	uint64_t vis_epoch; /* != epoch: a reset that watchers may not see yet */
	void (*notify)(void *ctx);
	void *notify_ctx;

	/* the apply thread's batch */
	struct feed_ev *stage;
	size_t nstage, stage_cap;
	bool stage_lost; /* a change could not be staged (ENOMEM) */
	uint64_t stage_lost_version;
};

struct feed *feed_new(uint64_t version, size_t max_events, size_t max_bytes)
{
	struct feed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cap = max_events ? max_events : 1;
	f->ring = calloc(f->cap, sizeof(*f->ring));
	if (!f->ring) {
		free(f);
		return NULL;
	}
	f->max_bytes = max_bytes;
	f->floor = f->version = version;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static void ev_clear(struct feed_ev *e)
{
	free(e->path);
	free(e->path2);
	memset(e, 0, sizeof(*e));
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	for (uint64_t i = f->head; i < f->end; i++)
		ev_clear(&f->ring[i % f->cap]);
	feed_discard(f);
	free(f->stage);
	free(f->ring);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void feed_set_notify(struct feed *f, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&f->lock);
	f->notify = fn;
	f->notify_ctx = ctx;
	pthread_mutex_unlock(&f->lock);
}

/*
 * Under the lock, so feed_set_notify(f, NULL, NULL) returns only when no
 * call is in flight (the IPC server is freed after it; publish and release
 * come from two threads now)
 */
static void notify(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->notify)
		f->notify(f->notify_ctx);
	pthread_mutex_unlock(&f->lock);
}

void feed_stage(struct feed *f, uint64_t version, int64_t mtime, uint8_t op, const char *path,
                const char *path2)
{
	if (f->nstage == f->stage_cap) {
		size_t cap = f->stage_cap ? 2 * f->stage_cap : 64;
		struct feed_ev *s = realloc(f->stage, cap * sizeof(*s));
		if (!s)
			goto lost;
		f->stage = s;
		f->stage_cap = cap;
	}
	struct feed_ev *e = &f->stage[f->nstage];
	memset(e, 0, sizeof(*e));
	e->version = version;
	e->mtime = mtime;
	e->op = op;
	e->path = strdup(path);
	e->path2 = path2 && path2[0] ? strdup(path2) : NULL;
	if (!e->path || (path2 && path2[0] && !e->path2)) {
		ev_clear(e);
		goto lost;
	}
	e->bytes = sizeof(*e) + strlen(path) + (path2 ? strlen(path2) : 0);
	f->nstage++;
	return;
lost:
	/*
	 * Out of memory: a change that cannot be recorded must not be silently
	 * skipped.  At publish the history is dropped and every watch resyncs.
	 */
	f->stage_lost = true;
	if (version > f->stage_lost_version)
		f->stage_lost_version = version;
}

/* Drop the oldest kept change; lock held. */
static void evict(struct feed *f)
{
	struct feed_ev *e = &f->ring[f->head % f->cap];
	f->floor = e->version;
	f->bytes -= e->bytes;
	ev_clear(e);
	f->head++;
	if (f->vend < f->head)
		f->vend = f->head; /* dropped unseen: its watchers overflow */
}

/* Forget every kept change and end every watch; lock held. */
static void reset_locked(struct feed *f, uint64_t version)
{
	while (f->head < f->end)
		evict(f);
	f->floor = f->version = version;
	f->vend = f->end;
	f->epoch++;
	if (!f->gated)
		f->vis_epoch = f->epoch;
}

void feed_publish(struct feed *f)
{
	if (!f->nstage && !f->stage_lost)
		return;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nstage; i++) {
		struct feed_ev *e = &f->stage[i];
		while (f->end - f->head >= f->cap ||
		       (f->head < f->end && f->bytes + e->bytes > f->max_bytes))
			evict(f);
		f->ring[f->end % f->cap] = *e;
		f->end++;
		f->bytes += e->bytes;
		f->version = e->version;
		f->published++;
	}
	f->nstage = 0;
	bool wake = !f->gated;
	if (f->stage_lost) {
		uint64_t v =
		    f->stage_lost_version > f->version ? f->stage_lost_version : f->version;
		reset_locked(f, v);
		f->stage_lost = false;
		f->stage_lost_version = 0;
		wake = true;
	}
	if (!f->gated)
		f->vend = f->end;
	pthread_mutex_unlock(&f->lock);
	if (wake)
		notify(f);
}

void feed_set_gated(struct feed *f, bool gated)
{
	pthread_mutex_lock(&f->lock);
	f->gated = gated;
	bool wake = !gated && (f->vend < f->end || f->vis_epoch != f->epoch);
	if (!gated) {
		f->vend = f->end;
		f->vis_epoch = f->epoch;
	}
	pthread_mutex_unlock(&f->lock);
	if (wake)
		notify(f);
}

uint64_t feed_epoch(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	uint64_t e = f->epoch;
	pthread_mutex_unlock(&f->lock);
	return e;
}

void feed_release(struct feed *f, uint64_t epoch, uint64_t version)
{
	bool wake = false;

	pthread_mutex_lock(&f->lock);
	if (epoch != f->epoch) {
		/* queued before a reset: what it released is gone */
		pthread_mutex_unlock(&f->lock);
		return;
	}
	if (f->vis_epoch != epoch) {
		f->vis_epoch = epoch; /* the reset: every watch resyncs now */
		wake = true;
	}
	while (f->vend < f->end && f->ring[f->vend % f->cap].version <= version) {
		f->vend++;
		wake = true;
	}
	pthread_mutex_unlock(&f->lock);
	if (wake)
		notify(f);
}

void feed_discard(struct feed *f)
{
	for (size_t i = 0; i < f->nstage; i++)
		ev_clear(&f->stage[i]);
	f->nstage = 0;
	f->stage_lost = false;
	f->stage_lost_version = 0;
}

void feed_reset(struct feed *f, uint64_t version)
{
	feed_discard(f);
	pthread_mutex_lock(&f->lock);
	reset_locked(f, version);
	pthread_mutex_unlock(&f->lock);
	notify(f);
}

/* The newest version watchers may see; lock held. */
static uint64_t visible_locked(const struct feed *f)
{
	return f->vend > f->head ? f->ring[(f->vend - 1) % f->cap].version : f->floor;
}

uint64_t feed_visible(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	uint64_t v = visible_locked(f);
	pthread_mutex_unlock(&f->lock);
	return v;
}

int feed_subscribe(struct feed *f, struct feed_sub *s, const char *prefix, uint64_t from,
                   bool from_now, uint64_t *version)
{
	char *p = strdup(prefix);
	if (!p)
		return -ENOMEM;
	feed_unsubscribe(f, s);
	pthread_mutex_lock(&f->lock);
	s->prefix = p;
	s->prefix_len = strlen(p);
	s->active = true;
	s->epoch = f->epoch;
	s->resync = 0;
	s->from = from_now ? visible_locked(f) : from;
	if (s->from > f->version)
		s->resync = IPC_RESYNC_FUTURE;
	else if (s->from < f->floor)
		s->resync = IPC_RESYNC_HISTORY;
	/* versions grow along the ring: find the first change after from */
	uint64_t lo = f->head, hi = f->end;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (f->ring[mid % f->cap].version <= s->from)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->next_seq = lo;
	*version = s->resync ? f->version : s->from;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void feed_unsubscribe(struct feed *f, struct feed_sub *s)
{
	(void)f;
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

static bool matches(const struct feed_sub *s, const char *path)
{
	return path && strncmp(path, s->prefix, s->prefix_len) == 0;
}

/* The reason s must resync, or 0; lock held. */
static uint8_t check_locked(struct feed *f, struct feed_sub *s)
{
	if (s->resync)
		return s->resync;
	if (s->epoch != f->epoch)
		s->resync = IPC_RESYNC_STATE;
	else if (s->next_seq < f->head)
		s->resync = IPC_RESYNC_OVERFLOW;
	return s->resync;
}

size_t feed_take(struct feed *f, struct feed_sub *s,
                 bool (*emit)(void *ctx, const struct ipc_change *c), void *ctx, uint8_t *resync)
{
	size_t n = 0;

	*resync = 0;
	if (!s->active)
		return 0;
	pthread_mutex_lock(&f->lock);
	if (f->vis_epoch != f->epoch) {
		/* a reset not released yet: nothing to see (positions are stale) */
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	if ((*resync = check_locked(f, s))) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	for (; s->next_seq < f->vend; s->next_seq++) {
		const struct feed_ev *e = &f->ring[s->next_seq % f->cap];
		if (!matches(s, e->path))
			continue;
		struct ipc_change c = { .version = e->version,
			                .mtime = e->mtime,
			                .op = e->op,
			                .path = e->path,
			                .path2 = e->path2 ? e->path2 : "" };
		if (!emit(ctx, &c))
			break;
		n++;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

bool feed_pending(struct feed *f, const struct feed_sub *s)
{
	if (!s->active)
		return false;
	pthread_mutex_lock(&f->lock);
	bool p = f->vis_epoch == f->epoch &&
	    (s->resync || s->epoch != f->epoch || s->next_seq < f->vend);
	pthread_mutex_unlock(&f->lock);
	return p;
}

void feed_stats(struct feed *f, uint64_t *version, uint64_t *floor, uint64_t *events)
{
	pthread_mutex_lock(&f->lock);
	*version = f->version;
	*floor = f->floor;
	*events = f->published;
	pthread_mutex_unlock(&f->lock);
}
