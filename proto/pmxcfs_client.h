/*
 * pmxcfs_client.h - libpmxcfs-client: talk to the local pmxcfs over its IPC
 * (libqb shared memory; formats in proto/ipc_msg.h; doc/ipc.md).
 *
 * What it offers:
 *   - cluster status (pvecm),
 *   - the change feed: watch a path prefix from a version and receive every
 *     later change in apply order, or an explicit "resync needed",
 *   - a listing of the tree under a prefix, at a version (what a watcher
 *     reads after a resync),
 *   - the cluster log: append, read.
 *
 * One connection is used by one thread at a time.  Every call returns 0
 * (or a count) on success and -errno on failure:
 *   -ENOENT / -ECONNREFUSED  pmxcfs is not running (or uses another name)
 *   -EACCES                  not allowed (root, or pmxcfs --ipc-group)
 *   -ENOTCONN                pmxcfs went away; connect again
 *   -EBADMSG                 pmxcfs sent something undecodable
 *   -ETIMEDOUT               no reply within 30 s
 *   others                   the request's own error (e.g. -EINVAL)
 *
 * Typical watcher (what ctmgrd does):
 *
 *   pmxcfs_connect(NULL, &c);
 *   pmxcfs_list(c, "nodes/n1/lxc/", &ents, &n, &v);   // read the state
 *   pmxcfs_watch(c, "nodes/n1/lxc/", v, 0, NULL);      // then every change after it
 *   for (;;) {
 *       poll on pmxcfs_fd(c), then
 *       while (pmxcfs_next_event(c, &ev, 0) == 1)
 *           if (ev.kind == PMXCFS_EV_RESYNC) -> list and watch again
 *           else handle ev.op on ev.path (ev.version grows by one per op)
 *   }
 */
#ifndef PVE_PMXCFS_CLIENT_H
#define PVE_PMXCFS_CLIENT_H

#include "proto/ipc_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pmxcfs_client;

/* name NULL: $PMXCFS_IPC_NAME, else "pmxcfs". */
int pmxcfs_connect(const char *name, struct pmxcfs_client **out);
void pmxcfs_disconnect(struct pmxcfs_client *c);
/* A descriptor that polls readable when an event may be waiting. */
int pmxcfs_fd(struct pmxcfs_client *c);

/* ---- status ---- */
struct pmxcfs_node {
	uint32_t id, votes;
	bool online;
	char name[64], addr[64];
};
struct pmxcfs_status {
	char cluster_name[64], local_name[64];
	uint32_t local_id;
	bool cluster; /* false: pmxcfs runs in local mode */
	bool connected, quorate, writable;
	int sync; /* enum ipc_sync_state */
	uint32_t expected_votes, total_votes, quorum;
	uint64_t db_version, membership_version;
	size_t nnodes;
	struct pmxcfs_node *nodes;
};
int pmxcfs_status(struct pmxcfs_client *c, struct pmxcfs_status *st);
void pmxcfs_status_clear(struct pmxcfs_status *st);

/* ---- watch ---- */
/*
 * Watch paths starting with prefix ("" = all; relative, no leading '/')
 * for changes after version from (PMXCFS_WATCH_NOW: after the newest).
 * *start gets the version the watch starts after.  One watch per
 * connection: a new one replaces the old.  If from cannot be served
 * (history gone, unknown version), the watch starts anyway and its first
 * event is a resync.
 */
#define PMXCFS_WATCH_NOW IPC_WATCH_FROM_NOW
int pmxcfs_watch(struct pmxcfs_client *c, const char *prefix, uint64_t from, unsigned flags,
                 uint64_t *start);
int pmxcfs_unwatch(struct pmxcfs_client *c);

enum pmxcfs_event_kind { PMXCFS_EV_CHANGE = 1, PMXCFS_EV_RESYNC = 2 };
struct pmxcfs_event {
	int kind;
	uint64_t version; /* CHANGE: the version the op made; RESYNC: the newest version */
	int64_t mtime;
	int op; /* enum ipc_op; ipc_op_name() */
	int reason; /* RESYNC: enum ipc_resync_reason; the watch has ended */
	char path[IPC_MAX_STR], path2[IPC_MAX_STR];
};
/*
 * The next event: 1 with *ev filled, 0 when none came within timeout_ms
 * (0: do not wait; -1: wait forever), or -errno.
 */
int pmxcfs_next_event(struct pmxcfs_client *c, struct pmxcfs_event *ev, int timeout_ms);

/* ---- listing ---- */
struct pmxcfs_entry {
	char *path;
	int type; /* 1 directory, 2 file */
	uint64_t version;
	int64_t mtime;
	uint64_t size;
};
/*
 * Every directory and file under prefix, sorted by path; *version is the
 * version of the first page.  A large tree comes in pages, each at the
 * version when it was read: watching from *version replays every change
 * that a later page may or may not show already, so a watcher misses
 * nothing (it may see a change whose result it listed).
 */
int pmxcfs_list(struct pmxcfs_client *c, const char *prefix, struct pmxcfs_entry **ents, size_t *n,
                uint64_t *version);
void pmxcfs_entries_free(struct pmxcfs_entry *ents, size_t n);

/* ---- cluster log ---- */
struct pmxcfs_log_entry {
	int64_t time;
	int pri;
	uint32_t pid;
	char node[64], user[64], tag[64], msg[512];
};
/* pri 0..7 (syslog); user NULL: "root@pam". */
int pmxcfs_log(struct pmxcfs_client *c, int pri, const char *tag, const char *user,
               const char *msg);
/* The newest max entries (at most 1024), oldest first. */
int pmxcfs_log_read(struct pmxcfs_client *c, size_t max, struct pmxcfs_log_entry **out, size_t *n);

#endif
