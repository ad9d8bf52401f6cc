/*
 * dfsm.h - the ordering layer: proposed ops are delivered, in one total
 * order, to the apply step (validate in memdb, persist in the database).
 *
 * Local mode (this implementation): proposed ops are queued in arrival
 * order; one proposer at a time (the leader, see dfsm.c) applies the batch at
 * the head of the queue under memdb's write lock and commits it in one
 * SQLite transaction (group commit), then wakes the proposers with their
 * verdicts.  Cluster mode replaces the queue with
 * corosync CPG agreed delivery; the apply step stays the same.
 *
 * Ops travel encoded (proto/cfs_op.h) even locally, so the apply side only
 * ever sees what would come off the wire.
 *
 * Request life cycle:
 *
 *   dfsm_propose() --enqueue--> QUEUED --a leader takes the batch--> APPLYING
 *        ^ waits (deadline)                                              |
 *        +------------- DONE (verdict, after commit) <-------------------+
 *   a proposer that gives up while its request is still QUEUED withdraws
 *   it (it is never applied); one whose request is APPLYING marks it
 *   ABANDONED, and the leader frees it after applying (the outcome is only
 *   in the log).
 *
 * Threads: any number of proposers (FUSE threads); no thread of its own.
 * Lock order: dfsm->lock is never held while taking memdb's lock.
 */
#ifndef PMXCFS_DFSM_H
#define PMXCFS_DFSM_H

#include "pmxcfs/database.h"
#include "pmxcfs/memdb.h"
#include "proto/cfs_op.h"

#include <stdbool.h>
#include <stddef.h>

struct dfsm;

/* The ordering layer over mdb (and db, which may be NULL for tests). */
int dfsm_new(struct memdb *mdb, struct database *db, struct dfsm **out);

/* Apply what is still queued, refuse new proposals, free. */
void dfsm_free(struct dfsm *d);

/*
 * How long dfsm_propose waits before it logs (every log_secs) and gives up
 * (after giveup_secs: -ETIMEDOUT).  Defaults 5 and 120 s; tests shorten them.
 */
void dfsm_set_deadlines(struct dfsm *d, long log_secs, long giveup_secs);

/*
 * Propose op and wait until it is applied and durable.  Returns 0 with the
 * verdict in *res, or: -EACCES without quorum (nothing sent), -EIO when the
 * store is in its error state, -ETIMEDOUT when no verdict came within the
 * deadline (the op may still be applied), -ESHUTDOWN while stopping.
 */
int dfsm_propose(struct dfsm *d, const struct cfs_op *op, struct memdb_result *res);

/* May this node write?  Always true in local mode. */
bool dfsm_quorate(struct dfsm *d);

/*
 * Cluster mode (pmxcfs/cluster.c).  With a transport set, dfsm_propose
 * encodes the op and hands it to transport.propose, which multicasts it and
 * returns the verdict of its delivery; the transport applies every delivered
 * op (its own and the other nodes') with dfsm_apply, in delivery order.
 */
struct dfsm_transport {
	int (*propose)(void *ctx, const void *msg, size_t len, struct memdb_result *res);
	bool (*quorate)(void *ctx);
	void *ctx;
};
void dfsm_set_transport(struct dfsm *d, const struct dfsm_transport *t);

/* A delivered, encoded op and, after dfsm_apply, its verdict. */
struct dfsm_item {
	struct dfsm_item *next;
	const void *msg;
	size_t len;
	struct memdb_result res;
	int status; /* 0: res holds the verdict; -errno: not applied (malformed, store failed) */
};

/*
 * Apply a list of delivered ops in order, in one transaction (group commit).
 * -EIO when the store failed (every item then has status -EIO; memdb was
 * reloaded from disk).
 */
int dfsm_apply(struct dfsm *d, struct dfsm_item *items);

/* Replace the whole tree and database with fresh (a sync); fresh gets the old tree. */
int dfsm_replace_state(struct dfsm *d, struct memdb *fresh);

/* See database_local_since(); cluster thread only. */
uint64_t dfsm_local_since(struct dfsm *d);
void dfsm_clear_local(struct dfsm *d);

/*
 * Publish every applied, committed change to f (pmxcfs/feed.h); set before
 * any op is applied.  A replaced state resets it.
 */
struct feed;
void dfsm_set_feed(struct dfsm *d, struct feed *f);
/* The store could not be reloaded after a failed commit: nothing applies any more. */
bool dfsm_failed(struct dfsm *d);

/* Copy the database to path (a diverged copy before it is replaced). */
int dfsm_backup(struct dfsm *d, const char *path, char *errbuf, size_t errlen);

#endif
