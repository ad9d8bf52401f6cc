/*
 * clusterlog.h - the cluster log: short lines (node, time, tag, priority,
 * user, message) that every node keeps, shown in /etc/pve/.clusterlog and
 * read and appended over IPC (pmxcfs/ipcs.c).
 *
 * Each entry is named by the pmxcfs run that wrote it (a random 64-bit
 * instance) and that run's counter, so copies that reach a node more than
 * once (its own multicast coming back, the exchange after a membership
 * change) are kept once.  Entries are kept sorted by (time, instance, seq),
 * at most CLUSTERLOG_MAX; the oldest are dropped.  In cluster mode
 * pmxcfs/cluster.c multicasts every new entry and, after each membership
 * change, the whole log, and merges what it receives: after a partition
 * heals, every node holds the entries of both sides.  Thread safe.
 */
#ifndef PMXCFS_CLUSTERLOG_H
#define PMXCFS_CLUSTERLOG_H

#include "pmxcfs/sbuf.h"
#include "proto/ipc_msg.h"

#include <stdint.h>

#define CLUSTERLOG_MAX 1024
#define CLUSTERLOG_SHOW 50

struct clusterlog;

struct clusterlog *clusterlog_new(void);
void clusterlog_free(struct clusterlog *cl);

/*
 * Append a new entry written here (strings are copied and cut to sane
 * lengths).  When out is not NULL, the entry is also encoded into it as a
 * log blob (see clusterlog_merge) for multicasting.
 */
void clusterlog_add(struct clusterlog *cl, const char *node, const char *user, const char *tag,
                    int pri, uint32_t pid, int64_t time, const char *msg, struct ipc_wr *out);

/*
 * A log blob: u32 count, then entries as ipc_put_log_entry() writes them.
 * _encode writes the whole log (oldest first); _merge adds the entries it
 * does not hold yet and returns how many, or -EBADMSG (nothing merged) for
 * a malformed blob.
 */
void clusterlog_encode(struct clusterlog *cl, struct ipc_wr *out);
int clusterlog_merge(struct clusterlog *cl, const void *blob, size_t len);

/* Call fn for the newest max entries, oldest first. */
void clusterlog_foreach(struct clusterlog *cl, size_t max,
                        void (*fn)(void *ctx, const struct ipc_log_entry *e), void *ctx);

/* {"data": [...]} with the newest CLUSTERLOG_SHOW entries, newest first. */
void clusterlog_render(struct clusterlog *cl, struct sbuf *out);

#endif
