/*
 * cfs_fuse.h - the FUSE front of pmxcfs (libfuse3 low-level, inode based).
 *
 * Turns kernel requests into memdb reads and proposed cfs_ops; owns the open
 * file handles (write buffers) and the kernel-cache policy.  main.c creates
 * the context, hands cfs_fuse_ops() and the context to fuse_session_new().
 */
#ifndef PMXCFS_CFS_FUSE_H
#define PMXCFS_CFS_FUSE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/types.h>

#include "pmxcfs/cluster.h"
#include "pmxcfs/clusterlog.h"
#include "pmxcfs/dfsm.h"
#include "pmxcfs/kinval.h"
#include "pmxcfs/kstate.h"
#include "pmxcfs/memdb.h"

struct cfs_fuse {
	struct memdb *mdb;
	struct dfsm *dfsm;
	struct cluster *cluster; /* NULL in local mode */
	struct kinval *kinval;
	struct kstate *kstate;
	struct clusterlog *clog;
	const char *nodename;
	int64_t starttime;
	gid_t gid; /* www-data */
	double timeout; /* entry and attribute cache timeout, seconds */
};

const struct fuse_lowlevel_ops *cfs_fuse_ops(void);

/*
 * Free the file handles the kernel never released (the session ended with
 * files open).  Call after the session loop has returned, before exit.
 */
void cfs_fuse_cleanup(void);

/*
 * kinval's store callback (kinval_set_store_done with the context): the
 * kernel now caches version of inode (ok) or not; ends kstate's storing.
 */
void cfs_fuse_store_done(void *ctx, uint64_t inode, uint64_t version, bool ok);

#endif
