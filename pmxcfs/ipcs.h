/*
 * ipcs.h - the local IPC server of pmxcfs (libqb, shared memory): cluster
 * status, the change feed (watch, list) and the cluster log, for ctmgrd,
 * pvecm, pmxcfs-watch and pmxcfs-log.  Formats: proto/ipc_msg.h; client
 * library: proto/pmxcfs_client.h; doc/ipc.md.
 *
 * Access: root always; with allow_gid set, also processes whose effective
 * or supplementary group is allow_gid (pmxcfs --ipc-group).  Anyone else is
 * refused at connect.  A client that sends anything that is not a valid
 * request is logged and disconnected; the others are not affected.
 *
 * Threads: one thread of its own runs libqb's loop and does all the IPC
 * work.  Changes reach it through the feed's notify callback (an eventfd).
 * It takes memdb's read lock (status, list) and the feed's, clusterlog's
 * and cluster's locks, never while holding another.
 */
#ifndef PMXCFS_IPCS_H
#define PMXCFS_IPCS_H

#include "pmxcfs/cluster.h"
#include "pmxcfs/clusterlog.h"
#include "pmxcfs/feed.h"
#include "pmxcfs/memdb.h"

#include <sys/types.h>

struct ipcs_opts {
	const char *name; /* the libqb service name (IPC_DEFAULT_NAME) */
	const char *nodename;
	gid_t allow_gid; /* (gid_t)-1: root only */
	struct memdb *mdb;
	struct feed *feed;
	struct clusterlog *clog;
	struct cluster *cluster; /* NULL in local mode */
};

struct ipcs;

/*
 * Listen (before daemonizing, so a clash is reported on the terminal).
 * -EADDRINUSE when another server already uses the name; other -errno.
 */
int ipcs_new(const struct ipcs_opts *o, struct ipcs **out);
/* Start serving (the thread; after daemonizing). */
int ipcs_start(struct ipcs *s);
/* Disconnect every client, stop the thread, free. */
void ipcs_stop(struct ipcs *s);

#endif
