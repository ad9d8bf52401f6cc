/*
 * test_database.c - unit tests of pmxcfs/database.c, the SQLite copy of
 * memdb: create and reopen (the loaded tree equals the one written through
 * the store callbacks), transactions and the sticky error state, and the
 * refusal of files that are not an intact pmxcfs database, which must name
 * the problem and leave the file's bytes as they were.  Every case works in
 * its own temporary directory (tests/unit/tmpdir.c).
 */
#include "pmxcfs/database.h"
#include "pmxcfs/memdb.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"
#include "tests/unit/tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1700000000
#define APP_ID 0x50564346 /* "PVCF", as database.c sets it */

/* ---- helpers ---- */

static char *path_of(const char *name)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];
	return tmpdir_path(b, sizeof(bufs[0]), name);
}

static struct database *open_ok(const char *path)
{
	struct database *db;
	char err[512] = "";
	int r = database_open(path, &db, err, sizeof(err));
	if (r)
		TEST_FAIL("database_open '%s': %d (%s)", path, r, err);
	ASSERT(db != NULL);
	return db;
}

static struct memdb *load_ok(struct database *db)
{
	struct memdb *mdb;
	char err[512] = "";
	int r = database_load(db, &mdb, err, sizeof(err));
	if (r)
		TEST_FAIL("database_load: %d (%s)", r, err);
	return mdb;
}

/* Apply op in its own transaction; returns the verdict. */
static int apply_txn(struct database *db, struct memdb *mdb, const struct cfs_op *op)
{
	struct memdb_store store;
	struct memdb_result res;

	database_store(db, &store);
	ASSERT_EQ(database_begin(db), 0);
	memdb_wrlock(mdb);
	ASSERT_EQ(memdb_apply(mdb, op, &res, &store), 0);
	memdb_unlock(mdb);
	ASSERT_EQ(database_commit(db), 0);
	ASSERT(!database_failed(db));
	return res.err;
}

static int create_txn(struct database *db, struct memdb *mdb, const char *dir, const char *name,
                      uint16_t type)
{
	struct cfs_op op = { .type = type,
		             .parent = mu_ino(mdb, dir),
		             .name = name,
		             .name_len = (uint32_t)strlen(name),
		             .now = T0 };
	return apply_txn(db, mdb, &op);
}

static int put_txn(struct database *db, struct memdb *mdb, const char *path, const void *data,
                   size_t len)
{
	struct cfs_op op = { .type = CFS_OP_PUT,
		             .inode = mu_ino(mdb, path),
		             .data = data,
		             .data_len = (uint32_t)len,
		             .now = T0 + 1 };
	return apply_txn(db, mdb, &op);
}

/* Run SQL on path through a separate connection (the test's own tool). */
static void sql(const char *path, const char *stmt)
{
	sqlite3 *c;
	char *msg = NULL;
	ASSERT_EQ(sqlite3_open(path, &c), SQLITE_OK);
	if (sqlite3_exec(c, stmt, NULL, NULL, &msg) != SQLITE_OK)
		TEST_FAIL("sql '%s' on %s: %s", stmt, path, msg ? msg : "?");
	sqlite3_close(c);
}

static int64_t sql_int(const char *path, const char *query)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	int64_t v;
	ASSERT_EQ(sqlite3_open(path, &c), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(c, query, -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return v;
}

static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	ASSERT(fd >= 0);
	ASSERT_EQ(fstat(fd, &st), 0);
	char *buf = malloc((size_t)st.st_size + 1);
	ASSERT(buf != NULL);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		ASSERT(n > 0);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	ASSERT_EQ(close(fd), 0);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* A pmxcfs database at path with a few entries and some content. */
static void make_db(const char *path, size_t filler)
{
	struct database *db = open_ok(path);
	struct memdb *mdb = load_ok(db);
	ASSERT_EQ(create_txn(db, mdb, "", "nodes", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes", "n1", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1", "lxc", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1/lxc", "100.conf", CFS_OP_CREATE), 0);
	ASSERT_EQ(put_txn(db, mdb, "nodes/n1/lxc/100.conf", "arch: amd64\n", 12), 0);
	if (filler) {
		char *buf = malloc(filler);
		ASSERT(buf != NULL);
		for (size_t i = 0; i < filler; i++)
			buf[i] = (char)(i * 7);
		ASSERT_EQ(create_txn(db, mdb, "", "filler", CFS_OP_CREATE), 0);
		ASSERT_EQ(put_txn(db, mdb, "filler", buf, filler), 0);
		free(buf);
	}
	memdb_free(mdb);
	database_close(db);
	/* closing the last connection checkpointed the WAL into the file */
	char wal[600];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	ASSERT(!exists(wal));
}

/*
 * database_open(path) must fail, with a message containing each of the
 * NULL-terminated substrings, and leave the file's bytes (if it is a
 * regular file) and the directory as they were.
 */
static void expect_refused(const char *path, const char *const *msgs)
{
	struct database *db = (struct database *)1;
	char err[512] = "";
	char *before = NULL, *after;
	size_t blen = 0, alen;
	struct stat st;
	bool regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	char side[600];

	if (regular)
		before = read_file(path, &blen);
	int r = database_open(path, &db, err, sizeof(err));
	if (r == 0)
		TEST_FAIL("'%s' was accepted", path);
	ASSERT(r == -EINVAL || r == -EIO);
	ASSERT(db == NULL);
	ASSERT(err[0] != '\0');
	for (; msgs && *msgs; msgs++)
		if (!strstr(err, *msgs))
			TEST_FAIL("error '%s' does not mention '%s'", err, *msgs);
	fprintf(stderr, "refused as expected: %s\n", err);
	if (regular) {
		after = read_file(path, &alen);
		ASSERT_EQ(alen, blen);
		ASSERT(memcmp(before, after, blen) == 0);
		free(after);
		free(before);
	}
	static const char *const suffixes[] = { "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
		if (exists(side))
			TEST_FAIL("refusing '%s' left '%s' behind", path, side);
	}
}

#define MSGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- creating, reopening ---- */

static void t_create_new(void)
{
	const char *p = path_of("config.db");
	struct database *db = open_ok(p);
	struct memdb *mdb = load_ok(db);
	struct mu_dump d;

	mu_dump_take(mdb, &d);
	ASSERT_EQ(d.n, 1);
	ASSERT_EQ(d.rows[0].inode, MEMDB_ROOT_INODE);
	ASSERT_EQ(d.rows[0].type, MEMDB_DIR);
	ASSERT_EQ(d.version, 1);
	mu_dump_free(&d);
	memdb_free(mdb);
	database_close(db);
	ASSERT_EQ(sql_int(p, "PRAGMA application_id"), APP_ID);
	ASSERT_EQ(sql_int(p, "SELECT value FROM meta WHERE key = 'format'"), 1);
	ASSERT_EQ(sql_int(p, "SELECT value FROM meta WHERE key = 'version'"), 1);
	/* durability settings stick to the file */
	sqlite3 *c;
	sqlite3_stmt *st;
	ASSERT_EQ(sqlite3_open(p, &c), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(c);
}

static void t_empty_file(void)
{
	/* a new, empty file gets the schema */
	const char *p = path_of("empty.db");
	write_file(p, "", 0);
	struct database *db = open_ok(p);
	struct memdb *mdb = load_ok(db);
	ASSERT_EQ(memdb_version(mdb), 1);
	memdb_free(mdb);
	database_close(db);
	ASSERT_EQ(sql_int(p, "PRAGMA application_id"), APP_ID);
}

static void t_reopen_identical(void)
{
	const char *p = path_of("config.db");
	struct database *db = open_ok(p);
	struct memdb *mdb = load_ok(db);
	struct mu_dump before, after;
	char *big = malloc(MEMDB_MAX_FILE_SIZE);

	ASSERT(big != NULL);
	for (size_t i = 0; i < MEMDB_MAX_FILE_SIZE; i++)
		big[i] = (char)(i ^ (i >> 8));
	ASSERT_EQ(create_txn(db, mdb, "", "nodes", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes", "n1", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1", "qemu-server", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1/qemu-server", "100.conf", CFS_OP_CREATE), 0);
	ASSERT_EQ(put_txn(db, mdb, "nodes/n1/qemu-server/100.conf", "memory: 512\n", 12), 0);
	ASSERT_EQ(create_txn(db, mdb, "", "binary", CFS_OP_CREATE), 0);
	ASSERT_EQ(put_txn(db, mdb, "binary", "a\0b\0\xff", 5), 0);
	ASSERT_EQ(create_txn(db, mdb, "", "big", CFS_OP_CREATE), 0);
	ASSERT_EQ(put_txn(db, mdb, "big", big, MEMDB_MAX_FILE_SIZE), 0);
	ASSERT_EQ(create_txn(db, mdb, "", "empty", CFS_OP_CREATE), 0);
	ASSERT_EQ(create_txn(db, mdb, "", "gone", CFS_OP_CREATE), 0);
	ASSERT_EQ(create_txn(db, mdb, "", "priv", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "priv", "lock", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "priv/lock", "ha", CFS_OP_MKDIR), 0);
	/* a refused op in a transaction writes nothing */
	ASSERT_EQ(create_txn(db, mdb, "", "empty", CFS_OP_CREATE), -EEXIST);

	struct cfs_op op = {
		.type = CFS_OP_UNLINK, .parent = 1, .name = "gone", .name_len = 4, .now = T0 + 2
	};
	ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	struct cfs_op ren = { .type = CFS_OP_RENAME,
		              .parent = 1,
		              .name = "binary",
		              .name_len = 6,
		              .newparent = mu_ino(mdb, "nodes/n1"),
		              .newname = "bin2",
		              .newname_len = 4,
		              .now = T0 + 3 };
	ASSERT_EQ(apply_txn(db, mdb, &ren), 0);
	struct cfs_op mt = {
		.type = CFS_OP_MTIME, .inode = mu_ino(mdb, "empty"), .mtime = -77, .now = T0 + 4
	};
	ASSERT_EQ(apply_txn(db, mdb, &mt), 0);
	/* several ops in one transaction (group commit) */
	struct memdb_store store;
	struct memdb_result res;
	database_store(db, &store);
	ASSERT_EQ(database_begin(db), 0);
	memdb_wrlock(mdb);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "g%d", i);
		struct cfs_op c = { .type = CFS_OP_CREATE,
			            .parent = 1,
			            .name = name,
			            .name_len = (uint32_t)strlen(name),
			            .now = T0 + i };
		ASSERT_EQ(memdb_apply(mdb, &c, &res, &store), 0);
		ASSERT_EQ(res.err, 0);
	}
	memdb_unlock(mdb);
	ASSERT_EQ(database_commit(db), 0);

	mu_dump_take(mdb, &before);
	memdb_free(mdb);
	database_close(db);

	db = open_ok(p);
	mdb = load_ok(db);
	mu_dump_take(mdb, &after);
	mu_dump_assert_equal(&before, &after);
	ASSERT_EQ(after.version, sql_int(p, "SELECT value FROM meta WHERE key = 'version'"));
	/* the guest index is rebuilt on load */
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1", "lxc", CFS_OP_MKDIR), 0);
	ASSERT_EQ(create_txn(db, mdb, "nodes/n1/lxc", "100.conf", CFS_OP_CREATE), -EEXIST);
	mu_dump_free(&before);
	mu_dump_free(&after);
	memdb_free(mdb);
	database_close(db);
	free(big);
}

static void t_rollback(void)
{
	const char *p = path_of("config.db");
	struct database *db = open_ok(p);
	struct memdb *mdb = load_ok(db);
	struct memdb_store store;
	struct memdb_result res;

	ASSERT_EQ(create_txn(db, mdb, "", "kept", CFS_OP_CREATE), 0);
	database_store(db, &store);
	ASSERT_EQ(database_begin(db), 0);
	struct cfs_op op = {
		.type = CFS_OP_CREATE, .parent = 1, .name = "dropped", .name_len = 7, .now = T0
	};
	memdb_wrlock(mdb);
	ASSERT_EQ(memdb_apply(mdb, &op, &res, &store), 0);
	memdb_unlock(mdb);
	database_rollback(db);
	database_reset(db);
	memdb_free(mdb);

	mdb = load_ok(db);
	ASSERT(mu_ino(mdb, "kept") != 0);
	ASSERT_EQ(mu_ino(mdb, "dropped"), 0);
	ASSERT_EQ(memdb_version(mdb), 2);
	/* and writing goes on */
	ASSERT_EQ(create_txn(db, mdb, "", "next", CFS_OP_CREATE), 0);
	memdb_free(mdb);
	database_close(db);
}

/* database.h: IN_TXN --database_rollback()--> IDLE */
static void t_rollback_state(void)
{
	struct database *db = open_ok(path_of("config.db"));
	ASSERT_EQ(database_begin(db), 0);
	database_rollback(db);
	/* sticky: memory may hold what was rolled back (database.h) */
	ASSERT(database_failed(db));
	ASSERT_EQ(database_begin(db), -EIO);
	database_reset(db);
	ASSERT(!database_failed(db));
	ASSERT_EQ(database_begin(db), 0);
	ASSERT_EQ(database_commit(db), 0);
	database_close(db);
}

static void t_txn_misuse(void)
{
	struct database *db = open_ok(path_of("config.db"));
	struct memdb *mdb = load_ok(db);
	struct memdb_store store;
	struct memdb_result res;
	struct cfs_op op = { .type = CFS_OP_CREATE, .parent = 1, .name = "f", .name_len = 1 };

	/* commit without a transaction */
	ASSERT_EQ(database_commit(db), -EIO);
	/* store callbacks outside a transaction fail: memdb_apply reports -EIO */
	database_store(db, &store);
	memdb_wrlock(mdb);
	ASSERT_EQ(memdb_apply(mdb, &op, &res, &store), -EIO);
	memdb_unlock(mdb);
	memdb_free(mdb);
	/* nested begin */
	ASSERT_EQ(database_begin(db), 0);
	ASSERT_EQ(database_begin(db), -EIO);
	ASSERT_EQ(database_commit(db), 0);
	/* nothing of the refused store reached the file */
	mdb = load_ok(db);
	ASSERT_EQ(mu_ino(mdb, "f"), 0);
	memdb_free(mdb);
	database_close(db);
}

static void t_sticky_error(void)
{
	const char *p = path_of("config.db");
	struct database *db = open_ok(p);
	sqlite3 *other;

	/* another writer holds the write lock: BEGIN fails */
	ASSERT_EQ(sqlite3_open(p, &other), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ(database_begin(db), -EIO);
	ASSERT(database_failed(db));
	ASSERT_EQ(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	/* sticky: every call fails until the owner resets */
	ASSERT_EQ(database_begin(db), -EIO);
	ASSERT_EQ(database_commit(db), -EIO);
	ASSERT(database_failed(db));
	database_reset(db);
	ASSERT(!database_failed(db));
	ASSERT_EQ(database_begin(db), 0);
	ASSERT_EQ(database_commit(db), 0);
	database_close(db);
}

/* ---- refusing what is not an intact pmxcfs database ---- */

static void t_refuse_random_bytes(void)
{
	const char *p = path_of("random.db");
	char buf[8192];
	uint32_t s = 4711;
	for (size_t i = 0; i < sizeof(buf); i++) {
		s = s * 1103515245u + 12345u;
		buf[i] = (char)(s >> 16);
	}
	write_file(p, buf, sizeof(buf));
	expect_refused(p, MSGS("not a readable SQLite database", p));
}

static void t_refuse_text_file(void)
{
	const char *p = path_of("text.db");
	const char *text = "# this is /etc/pve/storage.cfg, not a database\ndir: local\n";
	write_file(p, text, strlen(text));
	expect_refused(p, MSGS("not a readable SQLite database"));
}

/*
 * A one-byte file (e.g. left by "echo > config.db") is not empty and not a
 * database; SQLite itself reads it as an empty database, so it must not be
 * given the schema (which would overwrite it).
 */
static void t_refuse_tiny_file(void)
{
	const char *p = path_of("tiny.db");
	write_file(p, "x", 1);
	expect_refused(p, MSGS("not a pmxcfs database"));
}

static void t_refuse_truncated(void)
{
	const char *p = path_of("trunc.db");
	make_db(p, 200000);
	struct stat st;
	ASSERT_EQ(stat(p, &st), 0);
	ASSERT_GT(st.st_size, 3 * 4096);
	/* cut at a page boundary and in the middle of a page */
	ASSERT_EQ(truncate(p, st.st_size / 2), 0);
	expect_refused(p, MSGS(p));
	ASSERT_EQ(truncate(p, 4096 + 100), 0);
	expect_refused(p, MSGS(p));
	ASSERT_EQ(truncate(p, 4096), 0);
	expect_refused(p, MSGS(p));
	ASSERT_EQ(truncate(p, 50), 0);
	expect_refused(p, MSGS(p));
}

static void t_refuse_damaged_pages(void)
{
	const char *p = path_of("damaged.db");
	make_db(p, 100000);
	size_t len;
	char *data = read_file(p, &len);
	ASSERT_GT(len, 6 * 4096);
	/* keep the header page, scribble over b-tree pages after it */
	uint32_t s = 99;
	for (size_t i = 4096; i < 6 * 4096; i++) {
		s = s * 1103515245u + 12345u;
		data[i] = (char)(s >> 16);
	}
	write_file(p, data, len);
	free(data);
	expect_refused(p, MSGS(p));
}

static void t_refuse_directory(void)
{
	const char *p = path_of("dir.db");
	ASSERT_EQ(mkdir(p, 0700), 0);
	expect_refused(p, MSGS(p));
	struct stat st;
	ASSERT_EQ(stat(p, &st), 0);
	ASSERT(S_ISDIR(st.st_mode));
}

static void t_refuse_missing_dir(void)
{
	const char *p = path_of("no/such/dir/config.db");
	expect_refused(p, MSGS(p));
	ASSERT(!exists(path_of("no")));
}

static void t_refuse_wrong_application_id(void)
{
	const char *p = path_of("appid.db");
	make_db(p, 0);
	sql(p, "PRAGMA application_id = 305419896"); /* 0x12345678 */
	expect_refused(p, MSGS("not a pmxcfs database", "application id 305419896"));
}

static void t_refuse_other_schema(void)
{
	const char *p = path_of("other.db");
	sql(p,
	    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
	    "INSERT INTO users VALUES (1, 'root');");
	expect_refused(p, MSGS("not a pmxcfs database"));
	ASSERT_EQ(sql_int(p, "SELECT count(*) FROM users"), 1);
}

static void t_refuse_other_schema_same_names(void)
{
	/* tables called tree and meta, but somebody else's */
	const char *p = path_of("same-names.db");
	sql(p, "CREATE TABLE tree (a, b); CREATE TABLE meta (x);");
	expect_refused(p, MSGS("not a pmxcfs database"));
}

static void t_refuse_partial_schema(void)
{
	const char *p = path_of("partial.db");
	make_db(p, 0);
	sql(p, "DROP TABLE meta");
	expect_refused(p, MSGS("schema incomplete"));
}

static void t_refuse_wrong_format(void)
{
	const char *p = path_of("format.db");
	make_db(p, 0);
	sql(p, "UPDATE meta SET value = 2 WHERE key = 'format'");
	expect_refused(p, MSGS("unsupported database format"));
	sql(p, "DELETE FROM meta WHERE key = 'format'");
	expect_refused(p, MSGS("unsupported database format"));
}

/*
 * An existing SQLite file of another application that happens to have no
 * tables is "not a pmxcfs database" (database.h) and must not be turned
 * into one: only a new or empty file gets the schema.
 */
static void t_refuse_foreign_empty_sqlite(void)
{
	const char *p = path_of("foreign.db");
	sql(p, "PRAGMA application_id = 305419896; PRAGMA user_version = 7");
	struct stat st;
	ASSERT_EQ(stat(p, &st), 0);
	ASSERT_GT(st.st_size, 0);
	expect_refused(p, NULL);
	ASSERT_EQ(sql_int(p, "PRAGMA application_id"), 305419896);
}

/* ---- loading refuses inconsistent content, naming the row ---- */

static void expect_load_refused(const char *path, const char *msg)
{
	struct database *db = open_ok(path);
	struct memdb *mdb = (struct memdb *)1;
	char err[512] = "";
	int r = database_load(db, &mdb, err, sizeof(err));
	if (r == 0)
		TEST_FAIL("load of '%s' succeeded, expected '%s'", path, msg);
	ASSERT_EQ(r, -EINVAL);
	ASSERT(mdb == NULL);
	if (!strstr(err, msg))
		TEST_FAIL("load error '%s' does not mention '%s'", err, msg);
	fprintf(stderr, "load refused as expected: %s\n", err);
	database_close(db);
}

static void t_load_refuses_orphan(void)
{
	const char *p = path_of("orphan.db");
	make_db(p, 0);
	sql(p, "INSERT INTO tree VALUES (77, 4242, 2, 0, 2, 'orphan', x'00')");
	expect_load_refused(p, "inode 77");
}

static void t_load_refuses_bad_type(void)
{
	const char *p = path_of("type.db");
	make_db(p, 0);
	sql(p, "INSERT INTO tree VALUES (78, 1, 2, 0, 9, 'odd', NULL)");
	expect_load_refused(p, "inode 78: unknown type 0");
}

static void t_load_refuses_bad_name(void)
{
	const char *p = path_of("name.db");
	make_db(p, 0);
	sql(p, "INSERT INTO tree VALUES (79, 1, 2, 0, 2, 'a/b', NULL)");
	expect_load_refused(p, "inode 79: invalid name");
	sql(p, "UPDATE tree SET name = CAST(x'610062' AS TEXT) WHERE inode = 79");
	expect_load_refused(p, "inode 79: invalid name");
}

static void t_load_refuses_bad_numbers(void)
{
	const char *p = path_of("numbers.db");
	make_db(p, 0);
	sql(p, "INSERT INTO tree VALUES (-3, 1, 2, 0, 2, 'neg', NULL)");
	expect_load_refused(p, "invalid inode -3");
	sql(p, "UPDATE tree SET inode = 80, version = 0 WHERE inode = -3");
	expect_load_refused(p, "version 0");
}

static void t_load_refuses_bad_version(void)
{
	const char *p = path_of("version.db");
	make_db(p, 0);
	sql(p, "UPDATE meta SET value = 2 WHERE key = 'version'");
	expect_load_refused(p, "older than its newest entry");
	sql(p, "DELETE FROM meta WHERE key = 'version'");
	expect_load_refused(p, "no valid version");
}

static void t_load_refuses_guest_clash(void)
{
	const char *p = path_of("guest.db");
	make_db(p, 0);
	/* a second config of 100 on another node */
	sql(p,
	    "INSERT INTO tree VALUES (90, 2, 90, 0, 1, 'n2', NULL);"
	    "INSERT INTO tree VALUES (91, 90, 91, 0, 1, 'qemu-server', NULL);"
	    "INSERT INTO tree VALUES (92, 91, 92, 0, 2, '100.conf', x'');"
	    "UPDATE meta SET value = 92 WHERE key = 'version'");
	expect_load_refused(p, "guest id 100");
}

static void t_load_refuses_oversized(void)
{
	const char *p = path_of("oversized.db");
	make_db(p, 0);
	sql(p, "INSERT INTO tree VALUES (93, 1, 2, 0, 2, 'big', zeroblob(1048577))");
	expect_load_refused(p, "inode 93: file of 1048577 bytes exceeds");
}

static const struct test_case cases[] = {
	{ "create_new", t_create_new },
	{ "empty_file", t_empty_file },
	{ "reopen_identical", t_reopen_identical },
	{ "rollback", t_rollback },
	{ "rollback_state", t_rollback_state },
	{ "txn_misuse", t_txn_misuse },
	{ "sticky_error", t_sticky_error },
	{ "refuse_random_bytes", t_refuse_random_bytes },
	{ "refuse_text_file", t_refuse_text_file },
	{ "refuse_tiny_file", t_refuse_tiny_file },
	{ "refuse_truncated", t_refuse_truncated },
	{ "refuse_damaged_pages", t_refuse_damaged_pages },
	{ "refuse_directory", t_refuse_directory },
	{ "refuse_missing_dir", t_refuse_missing_dir },
	{ "refuse_wrong_application_id", t_refuse_wrong_application_id },
	{ "refuse_other_schema", t_refuse_other_schema },
	{ "refuse_other_schema_same_names", t_refuse_other_schema_same_names },
	{ "refuse_partial_schema", t_refuse_partial_schema },
	{ "refuse_wrong_format", t_refuse_wrong_format },
	{ "refuse_foreign_empty_sqlite", t_refuse_foreign_empty_sqlite },
	{ "load_refuses_orphan", t_load_refuses_orphan },
	{ "load_refuses_bad_type", t_load_refuses_bad_type },
	{ "load_refuses_bad_name", t_load_refuses_bad_name },
	{ "load_refuses_bad_numbers", t_load_refuses_bad_numbers },
	{ "load_refuses_bad_version", t_load_refuses_bad_version },
	{ "load_refuses_guest_clash", t_load_refuses_guest_clash },
	{ "load_refuses_oversized", t_load_refuses_oversized },
};

TEST_MAIN(cases)
