/*
 * memdb_util.h - helpers shared by the unit tests and fuzzers that drive
 * memdb (test_memdb.c, test_database.c, test_dfsm.c, test_cfs_op.c,
 * fuzz_cfs_op.c): apply ops by path, take a sorted copy of a whole tree
 * ("dump") to compare two trees row by row, mirror a store, compare ops.
 * Every helper asserts on misuse (via tests/test.h), so a test reads as a
 * list of operations and expected verdicts.
 */
#ifndef PVE_TESTS_UNIT_MEMDB_UTIL_H
#define PVE_TESTS_UNIT_MEMDB_UTIL_H

#include "pmxcfs/memdb.h"

#include <stddef.h>
#include <stdint.h>

/* A copy of one row (name NUL terminated, data malloc'd or NULL). */
struct mu_row {
	uint64_t inode, parent, version;
	int64_t mtime;
	uint8_t type;
	char *name;
	size_t name_len;
	char *data;
	size_t size;
};

/* Every row of a tree sorted by inode, plus the global version. */
struct mu_dump {
	struct mu_row *rows;
	size_t n, cap;
	uint64_t version;
};

void mu_dump_take(struct memdb *db, struct mu_dump *d);
void mu_dump_free(struct mu_dump *d);
/* Abort (naming the first difference) unless a and b hold the same rows. */
void mu_dump_assert_equal(const struct mu_dump *a, const struct mu_dump *b);
/* Append a copy of row (memdb_row_cb signature; ctx is a struct mu_dump). */
int mu_dump_add(void *ctx, const struct memdb_row *row);
/* Sort the rows by inode (after mu_dump_add calls). */
void mu_dump_sort(struct mu_dump *d);

/*
 * A memdb_store that mirrors every persisted row into rows (unsorted, one
 * entry per inode) and the version, counting its calls; with fail_after > 0
 * the fail_after-th call and every later one fail with -EIO.  Seed rows with
 * memdb_foreach_row(db, mu_dump_add, &m->rows); free with mu_dump_free.
 */
struct mu_mirror {
	struct mu_dump rows;
	uint64_t version;
	int fail_after;
	int calls;
};

struct memdb_store mu_mirror_store(struct mu_mirror *m);

/* Abort unless a and b are the same op, field by field and byte by byte. */
void mu_assert_same_op(const struct cfs_op *a, const struct cfs_op *b);

/* Apply op under the write lock without a store; returns the verdict. */
int mu_apply(struct memdb *db, const struct cfs_op *op, struct memdb_result *res);

/* The inode at path ("" or "/" = root), or 0 when it does not resolve. */
uint64_t mu_ino(struct memdb *db, const char *path);

/* Path-based ops at time now; each returns the verdict (0 or -errno). */
int mu_create(struct memdb *db, const char *path, int64_t now);
int mu_mkdir(struct memdb *db, const char *path, int64_t now);
int mu_unlink(struct memdb *db, const char *path, int64_t now);
int mu_rmdir(struct memdb *db, const char *path, int64_t now);
int mu_rename(struct memdb *db, const char *from, const char *to, uint32_t flags, int64_t now);
int mu_put(struct memdb *db, const char *path, const void *data, size_t len, int64_t now);
int mu_mtime(struct memdb *db, const char *path, int64_t mtime, int64_t now);
/* mkdir every component of path that is missing (asserting success). */
void mu_mkdirs(struct memdb *db, const char *path, int64_t now);

#endif
