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

#endif
