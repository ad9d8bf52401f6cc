/*
 * migrate.h - moving a container to another node (restart mode: no live
 * state is carried over), the request travelling through /etc/pve.
 *
 * The source (pct migrate, on the owning node):
 *   1. checks the target node and that every volume is on shared storage;
 *   2. sets "lock: migrate" in the config;
 *   3. shuts the container down if it runs (--restart);
 *   4. writes the request nodes/<target>/ctmgrd/<ID>.start ("start 1" or
 *      "start 0");
 *   5. renames nodes/<source>/lxc/<ID>.conf to nodes/<target>/lxc/<ID>.conf
 *      (pmxcfs's atomic rename: the id is never registered twice);
 *   6. waits (bounded) until the target has taken it over.
 * The target's ctmgrd, on either the request or the config arriving, when
 * both are there and the config has "lock: migrate": starts the container
 * if asked, removes the lock, deletes the request - in that order, so a
 * ctmgrd killed half-way does the rest when it runs again.
 *
 * The container never runs on two nodes: it is stopped before its config
 * leaves the source, and only the node whose directory holds the config
 * starts it.  Recovery of a stuck migration: doc/ctmgrd.md.
 */
#ifndef CTMGR_MIGRATE_H
#define CTMGR_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

/* <etc>/nodes/<node>/ctmgrd/<id>.start */
void mig_request_path(const char *node, long id, char *buf, size_t len);

/*
 * The target's part (ctmgrd on node): if the request and a config with
 * "lock: migrate" are both in node's directories, carry it out.  0 when
 * done or nothing to do, -errno with err.  *started tells whether the
 * container was started.  -EAGAIN: a request without its config (yet).
 */
int mig_take_over(const char *node, long id, bool *started, char *err, size_t errlen);

#endif
