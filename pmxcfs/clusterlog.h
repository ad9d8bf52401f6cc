/*
 * clusterlog.h - the cluster log shown in /etc/pve/.clusterlog.
 *
 * Local mode keeps the node's own entries in a bounded in-memory ring
 * (CLUSTERLOG_MAX entries; the oldest are dropped).  Thread safe.
 */
#ifndef PMXCFS_CLUSTERLOG_H
#define PMXCFS_CLUSTERLOG_H

#include "pmxcfs/sbuf.h"

#include <stdint.h>

#define CLUSTERLOG_MAX 1024
#define CLUSTERLOG_SHOW 50

struct clusterlog;

struct clusterlog *clusterlog_new(void);
void clusterlog_free(struct clusterlog *cl);

/* Append an entry; strings are copied (and truncated to sane lengths). */
void clusterlog_add(struct clusterlog *cl, const char *node, const char *user, const char *tag,
                    int pri, int64_t time, const char *msg);

/* {"data": [...]} with the newest CLUSTERLOG_SHOW entries, newest first. */
void clusterlog_render(struct clusterlog *cl, struct sbuf *out);

#endif
