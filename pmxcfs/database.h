/*
 * database.h - SQLite persistence of memdb: one row per inode plus the
 * global version, in WAL mode with synchronous=FULL.
 *
 * Only dfsm's batch leader writes (one at a time) (database_begin, the memdb_store callbacks
 * from database_store(), then database_commit or database_rollback); loading
 * happens once at start-up, before any thread runs.  Not thread safe.
 *
 * States (the sticky error of the durable path):
 *
 *     database_open()          database_begin()
 *   ----------------> IDLE ------------------------> IN_TXN
 *                      ^  <------------------------   |
 *                      |   database_commit() ok       | commit fails,
 *                      |                              | database_rollback()
 *                      |                              v
 *                      +---- database_reset() ---- ERROR  (every call -EIO)
 *
 * A rollback means the caller's memdb already holds changes that are not on
 * disk, so it leads to ERROR too.  In ERROR, memory and disk may disagree;
 * the owner must reload memdb from disk (database_load) and call
 * database_reset() before writing again.
 */
#ifndef PMXCFS_DATABASE_H
#define PMXCFS_DATABASE_H

#include "pmxcfs/memdb.h"

#include <stddef.h>

struct database;

/*
 * Open (creating if it does not exist) the database at path.  An existing
 * file that is not a pmxcfs database, is corrupt or unreadable is refused:
 * -EINVAL/-EIO with a message in errbuf.  A missing or 0-byte file gets the
 * schema; any other file without the pmxcfs tables is refused.
 */
int database_open(const char *path, struct database **out, char *errbuf, size_t errlen);
void database_close(struct database *db);

/*
 * Load every row into a new memdb and check it (memdb_load_finish).  On
 * error nothing is returned and errbuf names the problem.
 */
int database_load(struct database *db, struct memdb **out, char *errbuf, size_t errlen);

int database_begin(struct database *db);
int database_commit(struct database *db);
void database_rollback(struct database *db);
void database_reset(struct database *db);
bool database_failed(const struct database *db);

/*
 * Replace every row with the content of mdb (whose lock the caller holds), in
 * one transaction: the state transfer of a cluster sync.  -EIO leaves the
 * database in ERROR, as a failed commit does.
 */
int database_replace(struct database *db, struct memdb *mdb);

/* A consistent copy of the database at path (a new file), e.g. before a
 * diverged copy is replaced.  -EIO with a message in errbuf. */
int database_backup(struct database *db, const char *path, char *errbuf, size_t errlen);

/*
 * Local mode (pmxcfs -l) records the version it started writing from, once,
 * until a cluster sync replaces the tree (database_replace clears it): a
 * rejoining node then knows which of its rows are local edits.
 * database_local_since() is 0 when there were none.
 */
int database_mark_local(struct database *db, uint64_t version);
uint64_t database_local_since(struct database *db);
/* The tree is the cluster's again (synced with a quorate group). */
void database_clear_local(struct database *db);

/* The memdb_store that writes into the current transaction of db. */
void database_store(struct database *db, struct memdb_store *store);

#endif
