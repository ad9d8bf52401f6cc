/*
 * fuzz_database.c - libFuzzer target for pmxcfs/database.c: the input is
 * written to a file that is then opened and loaded as the database.  It
 * must be refused cleanly (an error with a message) or give a tree that
 * keeps memdb's invariants; an accepted database must also take a write.
 * The file lives in a private temporary directory and is removed (with any
 * -wal/-shm/-journal) after every input.
 */
#include "pmxcfs/database.h"
#include "pmxcfs/memdb.h"
#include "pmxcfs/pathname.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];

static void remove_files(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		unlink(p);
	}
}

static void cleanup(void)
{
	if (!dir[0])
		return;
	remove_files();
	rmdir(dir);
	dir[0] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/pve-fuzz-db-XXXXXX");
	if (!mkdtemp(dir))
		TEST_FAIL("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/config.db", dir);
	atexit(cleanup);
	return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		ASSERT(n > 0);
		done += (size_t)n;
	}
	ASSERT_EQ(close(fd), 0);
}

/* What memdb.h promises about every loaded tree. */
static void check_tree(struct memdb *mdb)
{
	struct mu_dump d;
	uint64_t size, inodes, total = 0;

	mu_dump_take(mdb, &d);
	memdb_usage(mdb, &size, &inodes);
	ASSERT_EQ(inodes, d.n);
	ASSERT(d.n >= 1 && d.n <= MEMDB_MAX_INODES);
	ASSERT_EQ(d.rows[0].inode, MEMDB_ROOT_INODE);
	ASSERT_EQ(d.rows[0].type, MEMDB_DIR);
	for (size_t i = 0; i < d.n; i++) {
		const struct mu_row *r = &d.rows[i];
		struct memdb_stat st;
		ASSERT(r->version <= d.version);
		/* new inode numbers are versions: none may lie ahead of the version */
		if (r->inode > d.version)
			TEST_FAIL("inode %" PRIu64 " above the database version %" PRIu64
			          ": a later create would reuse it",
			          r->inode, d.version);
		ASSERT(r->size <= MEMDB_MAX_FILE_SIZE);
		ASSERT(r->type == MEMDB_DIR || r->type == MEMDB_REG);
		ASSERT(r->type == MEMDB_REG || r->size == 0);
		total += r->size;
		if (r->inode == MEMDB_ROOT_INODE)
			continue;
		ASSERT(r->name_len >= 1 && r->name_len <= CFS_MAX_NAME_LEN);
		ASSERT_EQ(memdb_getattr(mdb, r->parent, &st), 0);
		ASSERT_EQ(st.type, MEMDB_DIR);
		ASSERT_EQ(memdb_lookup(mdb, r->parent, r->name, &st), 0);
		ASSERT_EQ(st.inode, r->inode);
	}
	ASSERT_EQ(total, size);
	ASSERT(total <= MEMDB_MAX_TOTAL_SIZE);
	mu_dump_free(&d);
}

/* An accepted database takes a write (or fails it cleanly, no crash). */
static void try_write(struct database *db, struct memdb *mdb)
{
	struct memdb_store store;
	struct memdb_result res;
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = MEMDB_ROOT_INODE,
		             .name = "fuzz-new",
		             .name_len = 8,
		             .now = 1700000000 };

	database_store(db, &store);
	if (database_begin(db))
		return;
	memdb_wrlock(mdb);
	int r = memdb_apply(mdb, &op, &res, &store);
	memdb_unlock(mdb);
	if (r || database_commit(db)) {
		database_rollback(db);
		return;
	}
	ASSERT(res.err == 0 || res.err == -EEXIST || res.err == -ENOSPC);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct database *db = NULL;
	struct memdb *mdb = NULL;
	char err[1024];

	write_input(data, size);
	err[0] = '\0';
	int r = database_open(path, &db, err, sizeof(err));
	if (r) {
		ASSERT(r == -EINVAL || r == -EIO || r == -ENOMEM);
		ASSERT(db == NULL);
		ASSERT(err[0] != '\0');
		goto out;
	}
	ASSERT(db != NULL);
	err[0] = '\0';
	r = database_load(db, &mdb, err, sizeof(err));
	if (r) {
		ASSERT(r == -EINVAL || r == -EIO || r == -ENOMEM);
		ASSERT(mdb == NULL);
		ASSERT(err[0] != '\0');
		goto out_close;
	}
	check_tree(mdb);
	try_write(db, mdb);
	memdb_free(mdb);
out_close:
	database_close(db);
out:
	remove_files();
	return 0;
}
