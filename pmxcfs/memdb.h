/*
 * memdb.h - the in-memory tree of /etc/pve and its deterministic validator.
 *
 * memdb holds every directory and file (name, parent, type, mtime, version,
 * content) and applies cfs_op operations.  memdb_apply() is the validator and
 * the state transition in one: given the same state and the same op it gives
 * the same verdict and the same new state on every node, using no clock, no
 * randomness and no local configuration (the proposer's clock travels in the
 * op).  That is what lets a cluster apply the same op stream everywhere.
 *
 * Callers: pmxcfs/dfsm.c applies ops (holding the write lock), the FUSE layer
 * reads (the read functions take the read lock themselves), pmxcfs/database.c
 * loads rows at start-up.
 *
 * Invariants (checked on load, kept by apply):
 *   - inode numbers are unique and never reused: a new inode's number is the
 *     global version at its creation; the root is inode 1 (version 1).
 *   - every node but the root has a parent that exists and is a directory;
 *     following parents always reaches the root (no cycles).
 *   - names in one directory are unique and pass cfs_name_check().
 *   - a guest id has at most one config file nodes/<node>/<lxc|qemu-server>/
 *     <id>.conf in the whole tree; ids < 100 are refused there.
 *   - file size <= MEMDB_MAX_FILE_SIZE, sum of sizes <= MEMDB_MAX_TOTAL_SIZE,
 *     inode count <= MEMDB_MAX_INODES.
 *   - the global version is >= every node's version and grows by one per
 *     successful op that changes the tree (a rename onto itself succeeds
 *     and changes nothing, as POSIX wants); failed ops change nothing.
 *
 * Lock order (the only lock of this module): memdb->lock is a leaf with
 * respect to everything but the FUSE handle mutexes, which are taken before
 * it.  Never call out of memdb (store callbacks excepted, which must not take
 * other locks) while holding it.
 */
#ifndef PMXCFS_MEMDB_H
#define PMXCFS_MEMDB_H

#include "proto/cfs_op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMDB_ROOT_INODE 1
#define MEMDB_MAX_FILE_SIZE (1024 * 1024)
#define MEMDB_MAX_TOTAL_SIZE (128 * 1024 * 1024)
#define MEMDB_MAX_INODES (256 * 1024)
#define MEMDB_LOCK_TIMEOUT 120 /* seconds after which a priv/lock/<name> may be taken over */

enum memdb_type {
	MEMDB_DIR = 1,
	MEMDB_REG = 2,
};

/* Attributes of one node, copied out under the read lock. */
struct memdb_stat {
	uint64_t inode;
	uint64_t parent;
	uint64_t version;
	int64_t mtime;
	uint8_t type;
	bool priv; /* inside priv/ or nodes/<node>/priv/: not for www-data */
	uint64_t size;
};

/* One persisted row, as the database stores it. */
struct memdb_row {
	uint64_t inode;
	uint64_t parent;
	uint64_t version;
	int64_t mtime;
	uint8_t type;
	const char *name;
	size_t name_len;
	const void *data;
	size_t size;
};

/*
 * Where memdb_apply() persists what it changed, inside a transaction the
 * caller opened.  Each callback returns 0 or -errno; an error is passed on by
 * memdb_apply() as -EIO and the caller must roll back and reload.
 */
struct memdb_store {
	int (*write_row)(void *ctx, const struct memdb_row *row);
	int (*delete_row)(void *ctx, uint64_t inode);
	int (*set_version)(void *ctx, uint64_t version);
	void *ctx;
};

/* The verdict of one op: err is 0 or -errno, the same on every node. */
struct memdb_result {
	int err;
	uint64_t inode; /* create/mkdir: the new (or taken over) inode */
	uint64_t version; /* the global version after the op */
};

struct memdb_dirent {
	uint64_t inode;
	uint8_t type;
	char *name;
};

/* Called for each registered guest by memdb_vmlist(). */
typedef void (*memdb_vm_cb)(void *ctx, uint64_t vmid, const char *node, int guest_type,
                            uint64_t version);

struct memdb;

/* A tree with only the root directory (version 1).  NULL on ENOMEM. */
struct memdb *memdb_new(void);
void memdb_free(struct memdb *db);

/*
 * Loading: an empty memdb (memdb_new_empty) takes rows one by one, then
 * memdb_load_finish() links and checks the whole tree.  Errors are -EINVAL
 * with a message naming the offending row in errbuf.
 */
struct memdb *memdb_new_empty(void);
int memdb_load_row(struct memdb *db, const struct memdb_row *row, char *errbuf, size_t errlen);
int memdb_load_finish(struct memdb *db, uint64_t version, char *errbuf, size_t errlen);

/* Swap the contents of two trees (under a's write lock); used after a reload. */
void memdb_swap(struct memdb *a, struct memdb *b);

/*
 * The tree may hold applied operations that are not on disk and cannot be
 * reloaded: from now on every read and memdb_apply() fail with -EIO (never
 * show what was not committed).  Caller holds the write lock.
 */
void memdb_poison(struct memdb *db);

/* Write lock for a batch of memdb_apply() calls (dfsm's batch leader only). */
void memdb_wrlock(struct memdb *db);
void memdb_unlock(struct memdb *db);

/*
 * Validate and apply one op; the caller holds the write lock.  Returns 0 with
 * the verdict in *res, or -EIO when the store failed (state is then
 * undefined until the caller reloads it).  store may be NULL (memory only).
 */
int memdb_apply(struct memdb *db, const struct cfs_op *op, struct memdb_result *res,
                const struct memdb_store *store);

/* Iterate every node (load/repair/dump); caller holds a lock. */
typedef int (*memdb_row_cb)(void *ctx, const struct memdb_row *row);
int memdb_foreach_row(struct memdb *db, memdb_row_cb cb, void *ctx);

/* ---- cluster sync (pmxcfs/cluster.c) ---- */
void memdb_rdlock(struct memdb *db);
/* The global version; caller holds a lock. */
uint64_t memdb_version_locked(struct memdb *db);
/* A hash of every field of a row (content included). */
uint64_t memdb_row_hash(const struct memdb_row *r);
/*
 * The content checksum of the whole tree: the version and every row, order
 * independent, so two nodes with the same tree get the same value.  The
 * _locked variant expects a lock held; the other takes the read lock and
 * also reports the version and inode count at that instant.
 */
uint64_t memdb_checksum_locked(struct memdb *db);
uint64_t memdb_checksum(struct memdb *db, uint64_t *version, uint64_t *inodes);
/* One row by inode (pointers valid while the lock is held); -ENOENT. */
int memdb_row_locked(struct memdb *db, uint64_t inode, struct memdb_row *row);
/* The path of inode ("/nodes/a/lxc/100.conf"), for logs; lock held. */
void memdb_path_locked(struct memdb *db, uint64_t inode, char *buf, size_t len);

/* ---- readers: each takes the read lock itself ---- */
uint64_t memdb_version(struct memdb *db);
void memdb_usage(struct memdb *db, uint64_t *total_size, uint64_t *inodes);
int memdb_getattr(struct memdb *db, uint64_t inode, struct memdb_stat *st);
int memdb_lookup(struct memdb *db, uint64_t parent, const char *name, struct memdb_stat *st);
/* Copy the name of inode into buf (truncated to len - 1 bytes). */
int memdb_name(struct memdb *db, uint64_t inode, char *buf, size_t len);
/* Resolve a '/'-separated path relative to the root. */
int memdb_resolve(struct memdb *db, const char *path, struct memdb_stat *st);

/*
 * Copy up to size bytes from offset off of a file into buf; *nread gets the
 * count.  -ENOENT, -EISDIR.
 */
int memdb_read(struct memdb *db, uint64_t inode, uint64_t off, size_t size, void *buf,
               size_t *nread);

/* How many removed files memdb_read_removed() can still find. */
#define MEMDB_GRAVE_SLOTS 16

/*
 * A malloc'd copy of a file removed (unlinked or renamed over) among the
 * last MEMDB_GRAVE_SLOTS removals, for a read-only open whose lookup raced
 * with the removal (a local file system would open the old file too).
 * data and len may be NULL for its attributes only (the kernel asks them of
 * such an open file).  -ENOENT when it is no longer kept.
 */
int memdb_read_removed(struct memdb *db, uint64_t inode, char **data, size_t *len,
                       struct memdb_stat *st);

/* A malloc'd copy of a whole file (*data may be NULL when *len is 0). */
int memdb_read_all(struct memdb *db, uint64_t inode, char **data, size_t *len,
                   struct memdb_stat *st);

/* A snapshot of a directory; free with memdb_dirents_free(). */
int memdb_readdir(struct memdb *db, uint64_t inode, struct memdb_dirent **ents, size_t *n);
void memdb_dirents_free(struct memdb_dirent *ents, size_t n);

/* Every registered guest, in no particular order, under the read lock. */
void memdb_vmlist(struct memdb *db, memdb_vm_cb cb, void *ctx);

/*
 * The kernel page-cache verdict for the FUSE layer: record that the kernel
 * will cache version of inode (a page-cached open is being answered), and
 * return true when that is what it was already told it caches, so its
 * pages may be kept.  False for an unknown inode.
 */
bool memdb_kcache_claim(struct memdb *db, uint64_t inode, uint64_t version);

#endif
