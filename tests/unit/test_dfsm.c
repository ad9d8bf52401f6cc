/*
 * test_dfsm.c - unit tests of pmxcfs/dfsm.c in local mode, without FUSE:
 * proposers on several threads, one apply thread, a real database in a
 * temporary directory.  Every proposal gets its verdict, verdicts form one
 * total order (versions are handed out without gaps or repeats, each
 * proposer sees its own ops in order), what was acknowledged is on disk,
 * and a failed transaction gives EIO, changes nothing and is recovered
 * from (or, when the database cannot be reloaded, refuses all writes).
 */
#include "pmxcfs/database.h"
#include "pmxcfs/dfsm.h"
#include "pmxcfs/memdb.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"
#include "tests/unit/tmpdir.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000
#define NTHREADS 6
#define NOPS 150

struct env {
	char path[512];
	struct database *db;
	struct memdb *mdb;
	struct dfsm *d;
};

static void env_start(struct env *e, bool with_db)
{
	char err[512] = "";
	memset(e, 0, sizeof(*e));
	if (with_db) {
		tmpdir_path(e->path, sizeof(e->path), "config.db");
		if (database_open(e->path, &e->db, err, sizeof(err)))
			TEST_FAIL("database_open: %s", err);
		if (database_load(e->db, &e->mdb, err, sizeof(err)))
			TEST_FAIL("database_load: %s", err);
	} else {
		e->mdb = memdb_new();
		ASSERT(e->mdb != NULL);
	}
	ASSERT_EQ(dfsm_new(e->mdb, e->db, &e->d), 0);
	ASSERT(dfsm_quorate(e->d));
}

static void env_stop(struct env *e)
{
	dfsm_free(e->d);
	memdb_free(e->mdb);
	database_close(e->db);
}

/* Propose a name op; asserts the transport succeeded; returns the verdict. */
static int propose_name(struct dfsm *d, uint16_t type, uint64_t parent, const char *name,
                        struct memdb_result *res)
{
	struct cfs_op op = { .type = type,
		             .parent = parent,
		             .name = name,
		             .name_len = (uint32_t)strlen(name),
		             .now = T0 };
	int r = dfsm_propose(d, &op, res);
	if (r)
		TEST_FAIL("dfsm_propose %s '%s': %d", cfs_op_type_name(type), name, r);
	return res->err;
}

/* The tree on disk, loaded through a second connection. */
static void disk_dump(const char *path, struct mu_dump *out)
{
	struct database *db;
	struct memdb *mdb;
	char err[512] = "";
	if (database_open(path, &db, err, sizeof(err)) || database_load(db, &mdb, err, sizeof(err)))
		TEST_FAIL("reading back '%s': %s", path, err);
	mu_dump_take(mdb, out);
	memdb_free(mdb);
	database_close(db);
}

static void t_propose_memory_only(void)
{
	struct env e;
	struct memdb_result res;

	env_start(&e, false);
	ASSERT_EQ(propose_name(e.d, CFS_OP_MKDIR, MEMDB_ROOT_INODE, "d", &res), 0);
	ASSERT_EQ(res.inode, 2);
	ASSERT_EQ(res.version, 2);
	ASSERT_EQ(mu_ino(e.mdb, "d"), 2);
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, 2, "f", &res), 0);
	ASSERT_EQ(res.version, 3);
	/* a refused op is a verdict, not a transport error */
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, 2, "f", &res), -EEXIST);
	ASSERT_EQ(res.version, 3);
	ASSERT_EQ(propose_name(e.d, CFS_OP_RMDIR, MEMDB_ROOT_INODE, "d", &res), -ENOTEMPTY);
	env_stop(&e);
}

static void t_propose_durable(void)
{
	struct env e;
	struct memdb_result res;
	struct mu_dump mem, disk;

	env_start(&e, true);
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, MEMDB_ROOT_INODE, "f", &res), 0);
	struct cfs_op put = { .type = CFS_OP_PUT,
		              .inode = res.inode,
		              .data = "content\n",
		              .data_len = 8,
		              .now = T0 };
	ASSERT_EQ(dfsm_propose(e.d, &put, &res), 0);
	ASSERT_EQ(res.err, 0);
	/* acknowledged means committed: a second reader sees it now */
	disk_dump(e.path, &disk);
	mu_dump_take(e.mdb, &mem);
	mu_dump_assert_equal(&mem, &disk);
	mu_dump_free(&mem);
	mu_dump_free(&disk);
	env_stop(&e);
}

static void t_propose_unencodable(void)
{
	struct env e;
	struct memdb_result res;
	char name[CFS_OP_MAX_NAME + 1];

	env_start(&e, false);
	memset(name, 'x', sizeof(name));
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = 1,
		             .name = name,
		             .name_len = sizeof(name),
		             .now = T0 };
	ASSERT_EQ(dfsm_propose(e.d, &op, &res), -EINVAL);
	op.type = 0;
	op.name_len = 1;
	ASSERT_EQ(dfsm_propose(e.d, &op, &res), -EINVAL);
	ASSERT_EQ(memdb_version(e.mdb), 1);
	env_stop(&e);
}

struct worker {
	pthread_t th;
	struct dfsm *d;
	int id;
	struct memdb_result own[NOPS];
	struct memdb_result shared[NOPS];
	int status;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[32];

	for (int i = 0; i < NOPS && !w->status; i++) {
		/* its own file, then a name every worker races for */
		snprintf(name, sizeof(name), "w%d-%d", w->id, i);
		struct cfs_op op = { .type = CFS_OP_CREATE,
			             .parent = 1,
			             .name = name,
			             .name_len = (uint32_t)strlen(name),
			             .now = T0 + i };
		w->status = dfsm_propose(w->d, &op, &w->own[i]);
		if (w->status)
			break;
		snprintf(name, sizeof(name), "shared-%d", i);
		op.name_len = (uint32_t)strlen(name);
		w->status = dfsm_propose(w->d, &op, &w->shared[i]);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void t_concurrent_proposers(void)
{
	struct env e;
	static struct worker w[NTHREADS];
	uint64_t *versions = calloc(2 * NTHREADS * NOPS, sizeof(*versions));
	size_t nv = 0;

	ASSERT(versions != NULL);
	env_start(&e, true);
	for (int t = 0; t < NTHREADS; t++) {
		w[t].d = e.d;
		w[t].id = t;
		ASSERT_EQ(pthread_create(&w[t].th, NULL, worker_main, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		ASSERT_EQ(pthread_join(w[t].th, NULL), 0);

	for (int t = 0; t < NTHREADS; t++) {
		ASSERT_EQ(w[t].status, 0);
		uint64_t last = 0;
		for (int i = 0; i < NOPS; i++) {
			/* every own create succeeded, its inode is its version */
			ASSERT_EQ(w[t].own[i].err, 0);
			ASSERT_EQ(w[t].own[i].inode, w[t].own[i].version);
			/* a proposer's ops are applied in the order it made them */
			ASSERT_GT(w[t].own[i].version, last);
			last = w[t].own[i].version;
			versions[nv++] = w[t].own[i].version;
			if (w[t].shared[i].err == 0) {
				ASSERT_GT(w[t].shared[i].version, last);
				last = w[t].shared[i].version;
				versions[nv++] = w[t].shared[i].version;
			} else {
				ASSERT_EQ(w[t].shared[i].err, -EEXIST);
				ASSERT_GE(w[t].shared[i].version, last);
				last = w[t].shared[i].version;
			}
		}
	}
	/* exactly one winner per shared name */
	for (int i = 0; i < NOPS; i++) {
		int winners = 0;
		for (int t = 0; t < NTHREADS; t++)
			winners += w[t].shared[i].err == 0;
		ASSERT_EQ(winners, 1);
	}
	/* one total order: the successful ops hold versions 2..N+1, each once */
	ASSERT_EQ(nv, (size_t)NTHREADS * NOPS + NOPS);
	qsort(versions, nv, sizeof(*versions), cmp_u64);
	for (size_t i = 0; i < nv; i++)
		ASSERT_EQ(versions[i], i + 2);
	ASSERT_EQ(memdb_version(e.mdb), nv + 1);

	/* everything acknowledged is on disk, identical to memory */
	struct mu_dump mem, disk;
	mu_dump_take(e.mdb, &mem);
	ASSERT_EQ(mem.n, nv + 1);
	env_stop(&e);
	disk_dump(e.path, &disk);
	mu_dump_assert_equal(&mem, &disk);
	mu_dump_free(&mem);
	mu_dump_free(&disk);
	free(versions);
}

/*
 * A transaction that cannot start (another writer holds the database):
 * the batch gets EIO, memory is reloaded from disk, and the next
 * proposal succeeds.
 */
static void t_commit_failure_recovers(void)
{
	struct env e;
	struct memdb_result res;
	sqlite3 *other;

	env_start(&e, true);
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, MEMDB_ROOT_INODE, "before", &res), 0);
	ASSERT_EQ(sqlite3_open(e.path, &other), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

	struct cfs_op op = {
		.type = CFS_OP_CREATE, .parent = 1, .name = "lost", .name_len = 4, .now = T0
	};
	ASSERT_EQ(dfsm_propose(e.d, &op, &res), -EIO);
	ASSERT_EQ(mu_ino(e.mdb, "lost"), 0);
	ASSERT(mu_ino(e.mdb, "before") != 0);
	ASSERT_EQ(memdb_version(e.mdb), 2);

	ASSERT_EQ(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, MEMDB_ROOT_INODE, "after", &res), 0);
	ASSERT_EQ(res.version, 3);
	struct mu_dump mem, disk;
	mu_dump_take(e.mdb, &mem);
	disk_dump(e.path, &disk);
	mu_dump_assert_equal(&mem, &disk);
	mu_dump_free(&mem);
	mu_dump_free(&disk);
	env_stop(&e);
}

/*
 * A store failure that the reload cannot repair (the table is gone):
 * from then on every write is refused with EIO; memory keeps the last
 * committed state.
 */
static void t_store_failure_sticky(void)
{
	struct env e;
	struct memdb_result res;

	env_start(&e, true);
	ASSERT_EQ(propose_name(e.d, CFS_OP_CREATE, MEMDB_ROOT_INODE, "kept", &res), 0);
	sqlite3 *other;
	ASSERT_EQ(sqlite3_open(e.path, &other), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(other, "DROP TABLE tree", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	struct cfs_op op = {
		.type = CFS_OP_CREATE, .parent = 1, .name = "x", .name_len = 1, .now = T0
	};
	ASSERT_EQ(dfsm_propose(e.d, &op, &res), -EIO);
	op.name = "y";
	ASSERT_EQ(dfsm_propose(e.d, &op, &res), -EIO);
	/*
	 * The reload failed (the table is gone), so memory may hold the refused
	 * batch: every read fails rather than showing what is not on disk.
	 */
	struct memdb_stat st;
	ASSERT_EQ(memdb_resolve(e.mdb, "x", &st), -EIO);
	ASSERT_EQ(memdb_resolve(e.mdb, "kept", &st), -EIO);
	ASSERT_EQ(memdb_getattr(e.mdb, MEMDB_ROOT_INODE, &st), -EIO);
	env_stop(&e);
}

/*
 * A proposer that gives up while its request is still queued behind a stuck
 * commit withdraws it: the caller was told ETIMEDOUT, so the op must never
 * be applied (for a lock mkdir it would take a lock the caller gave up on).
 */
struct giveup_arg {
	struct dfsm *d;
	const char *name;
	int result;
};

static void *giveup_proposer(void *p)
{
	struct giveup_arg *a = p;
	struct cfs_op op = { .type = CFS_OP_MKDIR,
		             .parent = MEMDB_ROOT_INODE,
		             .name = a->name,
		             .name_len = (uint32_t)strlen(a->name),
		             .now = T0 };
	struct memdb_result res;
	int r = dfsm_propose(a->d, &op, &res);
	a->result = r ? r : res.err;
	return NULL;
}

static void t_giveup_withdraws_queued(void)
{
	struct env e;
	struct memdb_stat st;
	pthread_t t1, t2;

	env_start(&e, false);
	dfsm_set_deadlines(e.d, 1, 2);
	struct giveup_arg a1 = { e.d, "stuck", 1 }, a2 = { e.d, "queued", 1 };
	memdb_wrlock(e.mdb); /* the first leader's apply is stuck behind this */
	ASSERT_EQ(pthread_create(&t1, NULL, giveup_proposer, &a1), 0);
	usleep(200 * 1000);
	ASSERT_EQ(pthread_create(&t2, NULL, giveup_proposer, &a2), 0);
	pthread_join(t2, NULL); /* gives up after 2 s, still queued */
	ASSERT_EQ(a2.result, -ETIMEDOUT);
	memdb_unlock(e.mdb);
	pthread_join(t1, NULL);
	ASSERT_EQ(a1.result, 0); /* the leader applies its own batch once unstuck */
	/* an unrelated op later, and the shutdown, apply nothing of "queued" */
	ASSERT_EQ(
	    propose_name(e.d, CFS_OP_MKDIR, MEMDB_ROOT_INODE, "later", &(struct memdb_result){ 0 }),
	    0);
	ASSERT_EQ(memdb_lookup(e.mdb, MEMDB_ROOT_INODE, "queued", &st), -ENOENT);
	ASSERT_EQ(memdb_lookup(e.mdb, MEMDB_ROOT_INODE, "stuck", &st), 0);
	env_stop(&e);
}

static const struct test_case cases[] = {
	{ "propose_memory_only", t_propose_memory_only },
	{ "propose_durable", t_propose_durable },
	{ "propose_unencodable", t_propose_unencodable },
	{ "concurrent_proposers", t_concurrent_proposers },
	{ "commit_failure_recovers", t_commit_failure_recovers },
	{ "store_failure_sticky", t_store_failure_sticky },
	{ "giveup_withdraws_queued", t_giveup_withdraws_queued },
};

TEST_MAIN(cases)
