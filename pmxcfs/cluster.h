/*
 * cluster.h - pmxcfs across nodes: corosync CPG transport, quorum, state
 * sync and periodic verification.  Plugs into dfsm as its transport (see
 * dfsm.h): every op is multicast with agreed order and applied by every
 * member in delivery order; the proposer returns when its own op was
 * delivered, applied and committed here.
 *
 * Node states (one thread, the cluster thread, moves between them; see
 * doc/replication.md for the full diagram):
 *
 *   DISCONNECTED --corosync reachable, CPG joined--> SYNCING
 *   SYNCING --all summaries in, no difference, or the source's STATE
 *             delivered and applied--> SYNCED
 *   SYNCED --membership change / checksum mismatch / quorum regained--> SYNCING
 *   any --corosync lost--> DISCONNECTED (pending writes fail with EIO)
 *
 * Writes: refused (EACCES) without quorum, wait while SYNCING (bounded,
 * then EAGAIN), are sent only while SYNCED.  Ops delivered while SYNCING
 * are queued and applied after the sync; ops delivered in a group that was
 * not quorate at its sync get the verdict EACCES on every member.
 */
#ifndef PMXCFS_CLUSTER_H
#define PMXCFS_CLUSTER_H

#include "pmxcfs/dfsm.h"
#include "pmxcfs/memdb.h"
#include "pmxcfs/sbuf.h"

#include <stdbool.h>
#include <stdint.h>

struct cluster;

/* What the kernel must forget after a change that came from elsewhere. */
struct cluster_hooks {
	void (*inode)(void *ctx, uint64_t inode); /* attributes (and pages at next open) */
	void (*entry)(void *ctx, uint64_t parent, const char *name); /* a directory entry */
	/*
	 * Every change up to version was applied and its inode/entry hooks
	 * called (may be NULL): pmxcfs releases the change feed from here.
	 */
	void (*settled)(void *ctx, uint64_t version);
	void *ctx;
};

struct cluster_opts {
	const char *nodename;
	const char *dbpath; /* diverged copies are saved next to it */
	unsigned verify_secs; /* periodic verification interval; 0: never */
	unsigned sync_wait_secs; /* how long a write waits for a sync to end */
};

/* Set up (no thread, no corosync connection yet); registers as d's transport. */
int cluster_new(struct dfsm *d, struct memdb *mdb, const struct cluster_opts *o,
                struct cluster **out);
void cluster_set_hooks(struct cluster *cl, const struct cluster_hooks *h);
/* Start the cluster thread (after daemonize): it connects and reconnects. */
int cluster_start(struct cluster *cl);
/* Leave the group, stop the thread, fail waiting writes; then free. */
void cluster_stop(struct cluster *cl);
void cluster_free(struct cluster *cl);

/* Corosync says this partition is quorate (and we are connected). */
bool cluster_quorate(struct cluster *cl);
/* Wait up to ms until writes can be sent (quorate and synced). */
bool cluster_wait_writable(struct cluster *cl, unsigned ms);
/* Ask for a verification round now (async-signal-safe: SIGUSR1). */
void cluster_request_verify(struct cluster *cl);
/* Replicate the cluster log: new entries and, after joins, the whole log. */
struct clusterlog;
void cluster_set_log(struct cluster *cl, struct clusterlog *clog);
/* Append an entry written here to the log and multicast it (any thread). */
void cluster_log(struct cluster *cl, const char *user, const char *tag, int pri, uint32_t pid,
                 int64_t time, const char *msg);

#define CLUSTER_MAX_NODES 64
struct cluster_node {
	uint32_t id;
	bool online;
	char name[64];
	char addr[64];
};
struct cluster_status {
	char cluster_name[64];
	uint32_t local_id;
	bool connected, quorate, writable;
	int sync; /* 0 disconnected, 1 syncing, 2 synced (ipc_sync_state) */
	uint64_t membership_version;
	size_t nnodes;
	struct cluster_node nodes[CLUSTER_MAX_NODES];
};
/* A consistent copy of the membership and quorum state (any thread). */
void cluster_status(struct cluster *cl, struct cluster_status *st);

/* The "cluster" and "nodelist" members of .members (JSON, without braces around). */
void cluster_render_members(struct cluster *cl, struct sbuf *sb);

#endif
