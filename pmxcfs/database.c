/*
 * database.c - see database.h.
 *
 * Schema (format 1):
 *   tree(inode INTEGER PRIMARY KEY, parent, version, mtime, type, name, data)
 *   meta(key TEXT PRIMARY KEY, value INTEGER): 'format' = 1, 'version' = N,
 *   'local_since' = the version at which local mode (pmxcfs -l) first wrote
 *   since the last cluster sync (absent when it never did)
 * PRAGMA application_id marks the file as ours.
 *
 * Durability: journal_mode=WAL with synchronous=FULL fsyncs the WAL at every
 * commit, so a commit that returned is on disk; dfsm batches
 * many ops per commit when writers are concurrent.
 */
#define LOG_SUBSYS "database"
#include "pmxcfs/database.h"
#include "pmxcfs/log.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DB_APPLICATION_ID 0x50564346 /* "PVCF" */
#define DB_FORMAT 1

enum db_state { DB_IDLE, DB_IN_TXN, DB_ERROR };

struct database {
	sqlite3 *conn;
	enum db_state state;
	sqlite3_stmt *st_write, *st_delete, *st_version, *st_begin, *st_commit, *st_rollback;
};

static int exec(sqlite3 *conn, const char *sql, char *errbuf, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(conn, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int query_int(sqlite3 *conn, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_NOTFOUND;
	}
	sqlite3_finalize(st);
	return rc;
}

static int prepare_all(struct database *db, char *errbuf, size_t errlen)
{
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{ &db->st_write,
		  "INSERT OR REPLACE INTO tree (inode, parent, version, mtime, type, name, "
		  "data) VALUES (?, ?, ?, ?, ?, ?, ?)" },
		{ &db->st_delete, "DELETE FROM tree WHERE inode = ?" },
		{ &db->st_version, "UPDATE meta SET value = ? WHERE key = 'version'" },
		{ &db->st_begin, "BEGIN IMMEDIATE" },
		{ &db->st_commit, "COMMIT" },
		{ &db->st_rollback, "ROLLBACK" },
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v3(db->conn, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
		                       stmts[i].st, NULL) != SQLITE_OK) {
			snprintf(errbuf, errlen, "cannot prepare statement: %s",
			         sqlite3_errmsg(db->conn));
			return -EIO;
		}
	}
	return 0;
}

static int create_schema(sqlite3 *conn, char *errbuf, size_t errlen)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "PRAGMA application_id = %d;"
	         "BEGIN;"
	         "CREATE TABLE tree (inode INTEGER PRIMARY KEY NOT NULL, parent INTEGER NOT NULL,"
	         " version INTEGER NOT NULL, mtime INTEGER NOT NULL, type INTEGER NOT NULL,"
	         " name TEXT NOT NULL, data BLOB);"
	         "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
	         "INSERT INTO meta VALUES ('format', %d), ('version', 1);"
	         "INSERT INTO tree VALUES (%d, 0, 1, 0, %d, '', NULL);"
	         "COMMIT;",
	         DB_APPLICATION_ID, DB_FORMAT, MEMDB_ROOT_INODE, MEMDB_DIR);
	return exec(conn, sql, errbuf, errlen);
}

/* PRAGMA quick_check: damaged pages are refused before anything reads them */
static int check_integrity(sqlite3 *conn, const char *path, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	const unsigned char *res = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(conn, "PRAGMA quick_check", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen,
		         "'%s' is corrupt or unreadable (%s): refusing to start; "
		         "restore a backup or move it away",
		         path, sqlite3_errmsg(conn));
		return -EINVAL;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		res = sqlite3_column_text(st, 0);
	if (!res || strcmp((const char *)res, "ok") != 0) {
		snprintf(errbuf, errlen,
		         "'%s' is corrupt (%s): refusing to start; restore a "
		         "backup or move it away",
		         path, res ? (const char *)res : sqlite3_errmsg(conn));
		err = -EINVAL;
	}
	sqlite3_finalize(st);
	return err;
}

int database_open(const char *path, struct database **out, char *errbuf, size_t errlen)
{
	struct database *db;
	struct stat sb;
	int64_t v, ntables;
	int rc, err;
	bool is_new = stat(path, &sb) != 0 || sb.st_size == 0;

	*out = NULL;
	if (!is_new && !S_ISREG(sb.st_mode)) {
		snprintf(errbuf, errlen, "'%s' is %s, not a database file: refusing to start", path,
		         S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
		return -EINVAL;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	rc =
	    sqlite3_open_v2(path, &db->conn,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "cannot open database '%s': %s", path,
		         db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		err = -EIO;
		goto out_close;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	/* the first real read tells whether this is a database at all */
	rc = query_int(
	    db->conn,
	    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('tree', 'meta')",
	    &ntables);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen,
		         "'%s' is not a readable SQLite database (%s): refusing to "
		         "start; move it away to start empty or restore a backup",
		         path, sqlite3_errstr(rc));
		err = -EINVAL;
		goto out_close;
	}
	if (ntables == 0) {
		int64_t other;
		query_int(db->conn, "SELECT count(*) FROM sqlite_master", &other);
		if (!is_new) {
			/* a non-empty file without our tables is someone else's */
			snprintf(errbuf, errlen,
			         "'%s' is not empty but not a pmxcfs database (%" PRId64
			         " foreign tables): refusing to use it",
			         path, other);
			err = -EINVAL;
			goto out_close;
		}
		if ((err = create_schema(db->conn, errbuf, errlen)))
			goto out_close;
		log_printf(LOG_NOTICE, "created new database '%s'", path);
	} else if (ntables != 2) {
		snprintf(errbuf, errlen,
		         "'%s': pmxcfs schema incomplete (missing table tree or meta)", path);
		err = -EINVAL;
		goto out_close;
	}
	if ((err = check_integrity(db->conn, path, errbuf, errlen)))
		goto out_close;
	if (query_int(db->conn, "PRAGMA application_id", &v) != SQLITE_OK ||
	    v != DB_APPLICATION_ID) {
		snprintf(errbuf, errlen,
		         "'%s' is not a pmxcfs database (application id %" PRId64 ")", path, v);
		err = -EINVAL;
		goto out_close;
	}
	if (query_int(db->conn, "SELECT value FROM meta WHERE key = 'format'", &v) != SQLITE_OK ||
	    v != DB_FORMAT) {
		snprintf(errbuf, errlen, "'%s': unsupported database format", path);
		err = -EINVAL;
		goto out_close;
	}
	if ((err = exec(db->conn, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", errbuf,
	                errlen)))
		goto out_close;
	if ((err = prepare_all(db, errbuf, errlen)))
		goto out_close;
	db->state = DB_IDLE;
	*out = db;
	return 0;

out_close:
	database_close(db);
	return err;
}

void database_close(struct database *db)
{
	if (!db)
		return;
	sqlite3_finalize(db->st_write);
	sqlite3_finalize(db->st_delete);
	sqlite3_finalize(db->st_version);
	sqlite3_finalize(db->st_begin);
	sqlite3_finalize(db->st_commit);
	sqlite3_finalize(db->st_rollback);
	if (db->conn)
		sqlite3_close_v2(db->conn);
	free(db);
}

int database_load(struct database *db, struct memdb **out, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	struct memdb *mdb;
	int64_t version;
	int rc, err = 0;

	*out = NULL;
	if (query_int(db->conn, "SELECT value FROM meta WHERE key = 'version'", &version) !=
	        SQLITE_OK ||
	    version < 1) {
		snprintf(errbuf, errlen, "database has no valid version");
		return -EINVAL;
	}
	mdb = memdb_new_empty();
	if (!mdb) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = sqlite3_prepare_v2(db->conn,
	                        "SELECT inode, parent, version, mtime, type, name, data FROM tree",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "cannot read tree: %s", sqlite3_errmsg(db->conn));
		memdb_free(mdb);
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct memdb_row row = {
			.inode = (uint64_t)sqlite3_column_int64(st, 0),
			.parent = (uint64_t)sqlite3_column_int64(st, 1),
			.version = (uint64_t)sqlite3_column_int64(st, 2),
			.mtime = sqlite3_column_int64(st, 3),
			.type = (uint8_t)sqlite3_column_int(st, 4),
		};
		int64_t type = sqlite3_column_int64(st, 4);
		row.name = (const char *)sqlite3_column_text(st, 5);
		row.name_len = (size_t)sqlite3_column_bytes(st, 5);
		row.data = sqlite3_column_blob(st, 6);
		row.size = (size_t)sqlite3_column_bytes(st, 6);
		if (type != MEMDB_DIR && type != MEMDB_REG)
			row.type = 0; /* rejected by memdb_load_row with the inode named */
		if (!row.name)
			row.name = "";
		if (sqlite3_column_int64(st, 0) <= 0 || sqlite3_column_int64(st, 2) <= 0) {
			snprintf(errbuf, errlen, "row with invalid inode %lld or version %lld",
			         sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2));
			err = -EINVAL;
			break;
		}
		if ((err = memdb_load_row(mdb, &row, errbuf, errlen)))
			break;
	}
	if (!err && rc != SQLITE_DONE) {
		snprintf(errbuf, errlen, "reading tree failed: %s", sqlite3_errmsg(db->conn));
		err = -EIO;
	}
	sqlite3_finalize(st);
	if (!err)
		err = memdb_load_finish(mdb, (uint64_t)version, errbuf, errlen);
	if (err) {
		memdb_free(mdb);
		return err;
	}
	*out = mdb;
	return 0;
}

static int step_reset(struct database *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_printf(LOG_ERR, "sqlite: %s", sqlite3_errmsg(db->conn));
		return -EIO;
	}
	return 0;
}

int database_begin(struct database *db)
{
	if (db->state != DB_IDLE)
		return -EIO;
	if (step_reset(db, db->st_begin)) {
		db->state = DB_ERROR;
		return -EIO;
	}
	db->state = DB_IN_TXN;
	return 0;
}

int database_commit(struct database *db)
{
	if (db->state != DB_IN_TXN)
		return -EIO;
	if (step_reset(db, db->st_commit)) {
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
		db->state = DB_ERROR;
		return -EIO;
	}
	db->state = DB_IDLE;
	return 0;
}

void database_rollback(struct database *db)
{
	if (db->state == DB_IN_TXN)
		step_reset(db, db->st_rollback);
	db->state = DB_ERROR;
}

void database_reset(struct database *db)
{
	if (sqlite3_get_autocommit(db->conn) == 0)
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	db->state = DB_IDLE;
}

bool database_failed(const struct database *db)
{
	return db->state == DB_ERROR;
}

static int store_write(void *ctx, const struct memdb_row *r)
{
	struct database *db = ctx;
	sqlite3_stmt *st = db->st_write;

	if (db->state != DB_IN_TXN)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->inode);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->parent);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->version);
	sqlite3_bind_int64(st, 4, r->mtime);
	sqlite3_bind_int(st, 5, r->type);
	sqlite3_bind_text(st, 6, r->name, (int)r->name_len, SQLITE_STATIC);
	if (r->type == MEMDB_REG)
		sqlite3_bind_blob(st, 7, r->size ? r->data : "", (int)r->size, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	return step_reset(db, st);
}

static int store_delete(void *ctx, uint64_t inode)
{
	struct database *db = ctx;
	if (db->state != DB_IN_TXN)
		return -EIO;
	sqlite3_bind_int64(db->st_delete, 1, (sqlite3_int64)inode);
	return step_reset(db, db->st_delete);
}

static int store_version(void *ctx, uint64_t version)
{
	struct database *db = ctx;
	if (db->state != DB_IN_TXN)
		return -EIO;
	sqlite3_bind_int64(db->st_version, 1, (sqlite3_int64)version);
	return step_reset(db, db->st_version);
}

void database_store(struct database *db, struct memdb_store *store)
{
	store->write_row = store_write;
	store->delete_row = store_delete;
	store->set_version = store_version;
	store->ctx = db;
}

/* memdb_foreach_row callback of database_replace */
static int replace_row(void *ctx, const struct memdb_row *r)
{
	return store_write(ctx, r);
}

int database_replace(struct database *db, struct memdb *mdb)
{
	int err;

	if ((err = database_begin(db)))
		return err;
	if (sqlite3_exec(db->conn, "DELETE FROM tree; DELETE FROM meta WHERE key = 'local_since'",
	                 NULL, NULL, NULL) != SQLITE_OK ||
	    memdb_foreach_row(mdb, replace_row, db) ||
	    store_version(db, memdb_version_locked(mdb))) {
		database_rollback(db);
		return -EIO;
	}
	return database_commit(db);
}

int database_backup(struct database *db, const char *path, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db->conn, "VACUUM INTO ?", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		snprintf(errbuf, errlen, "cannot back up the database to '%s': %s", path,
		         sqlite3_errmsg(db->conn));
		return -EIO;
	}
	return 0;
}

int database_mark_local(struct database *db, uint64_t version)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO meta VALUES ('local_since', %llu)",
	         (unsigned long long)version);
	return sqlite3_exec(db->conn, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

uint64_t database_local_since(struct database *db)
{
	int64_t v = 0;
	if (query_int(db->conn, "SELECT value FROM meta WHERE key = 'local_since'", &v) !=
	    SQLITE_OK)
		return 0;
	return v > 0 ? (uint64_t)v : 0;
}

void database_clear_local(struct database *db)
{
	sqlite3_exec(db->conn, "DELETE FROM meta WHERE key = 'local_since'", NULL, NULL, NULL);
}
