/*
 * feed.h - the change feed: what changed in the tree, in apply order, for
 * watchers (ctmgrd, pmxcfs-watch) served by pmxcfs/ipcs.c.
 *
 * The apply step (dfsm.c, under memdb's write lock) stages one change per
 * path an op touched (two for a rename), and publishes the batch only after
 * its transaction committed: a watcher never hears of a change that is not
 * durable here.  A batch that failed is discarded.  A tree replaced by a
 * cluster sync resets the feed: every watch ends with "resync needed".
 *
 * History: the newest changes are kept in a bounded ring (max_events, and
 * max_bytes of paths).  Every version after floor is in it, so a watch from
 * any version >= floor replays exactly the changes after it; older versions
 * get IPC_RESYNC_HISTORY.  Versions grow by one per change-making op, so
 * "no gaps" is checkable by a client.
 *
 * Watchers: a subscription is a cursor into the ring, not a queue; a
 * publish costs the same whatever the number or speed of the watchers.
 * A watcher whose cursor fell out of the ring (or more than max_events
 * behind) is told IPC_RESYNC_OVERFLOW and its watch ends.
 *
 * Threads: staging/publish/reset from the apply thread (serialised by
 * memdb's write lock); release from pmxcfs's kinval thread; subscribe/take
 * from the IPC thread.  feed->lock is a leaf (taken under memdb's lock,
 * never the other way round); the notify callback runs under it and takes
 * no lock.
 */
#ifndef PMXCFS_FEED_H
#define PMXCFS_FEED_H

#include "proto/ipc_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEED_DEFAULT_EVENTS 65536
#define FEED_DEFAULT_BYTES (32u * 1024 * 1024)

struct feed;

/* A watcher's cursor; owned by the caller, zero-initialised. */
struct feed_sub {
	char *prefix;
	size_t prefix_len;
	uint64_t next_seq; /* the next ring position to look at */
	uint64_t from; /* changes at or below this version are skipped */
	uint64_t epoch;
	uint8_t resync; /* a pending IPC_RESYNC_* (the watch ends with it) */
	bool active;
};

struct feed *feed_new(uint64_t version, size_t max_events, size_t max_bytes);
void feed_free(struct feed *f);
/*
 * Called after each publish, release or reset, with feed's lock held (it
 * must not call into the feed; ipcs writes an eventfd).  Once
 * feed_set_notify(f, NULL, NULL) returned, no call is in flight.
 */
void feed_set_notify(struct feed *f, void (*fn)(void *ctx), void *ctx);

/* ---- the apply thread ---- */
/* Stage a change (paths relative to the root, no leading '/'). */
void feed_stage(struct feed *f, uint64_t version, int64_t mtime, uint8_t op, const char *path,
                const char *path2);
/* The staged batch is durable: make it visible.  _discard: it was rolled back. */
void feed_publish(struct feed *f);
void feed_discard(struct feed *f);
/* The tree was replaced (now at version): history gone, every watch resyncs. */
void feed_reset(struct feed *f, uint64_t version);
/*
 * Gated mode (cluster mode): a published change reaches watchers only once
 * feed_release() was called with its version or a newer one and the feed's
 * epoch at that time (feed_epoch), from any thread.  pmxcfs releases a
 * batch after the kernel dropped the directory entries the batch changed:
 * a watcher that opens a path right after its event must find the new
 * file, not a cached dentry of the old one.  A reset, too, is seen (every
 * watch resyncs) only once released; a release from before the reset
 * (an older epoch) is ignored.  Unreleased changes pushed out of the ring
 * become visible as an overflow.  Turning the gate off releases everything.
 */
void feed_set_gated(struct feed *f, bool gated);
uint64_t feed_epoch(struct feed *f);
void feed_release(struct feed *f, uint64_t epoch, uint64_t version);
/*
 * The newest version watchers may see (a listing reports it: its watch
 * from there replays what is not released yet, rather than skipping it).
 */
uint64_t feed_visible(struct feed *f);

/* ---- watchers ---- */
/*
 * Start (or restart) s at from (or at the newest version when from_now),
 * matching paths that start with prefix ("" = everything).  *version gets
 * the version the watch starts after.  When from cannot be served, the
 * watch still starts and its first take reports the resync reason.
 */
int feed_subscribe(struct feed *f, struct feed_sub *s, const char *prefix, uint64_t from,
                   bool from_now, uint64_t *version);
void feed_unsubscribe(struct feed *f, struct feed_sub *s);
/*
 * Hand the next changes for s to emit, in order, until emit returns false
 * (no room: the change is offered again next time) or nothing is left.
 * Returns the number emitted; when the watch must end, 0 with *resync set
 * to the reason (then send it and unsubscribe).
 */
size_t feed_take(struct feed *f, struct feed_sub *s,
                 bool (*emit)(void *ctx, const struct ipc_change *c), void *ctx, uint8_t *resync);
/* Something is waiting for s (changes or a resync). */
bool feed_pending(struct feed *f, const struct feed_sub *s);

/* Counters for status and tests. */
void feed_stats(struct feed *f, uint64_t *version, uint64_t *floor, uint64_t *events);

#endif
