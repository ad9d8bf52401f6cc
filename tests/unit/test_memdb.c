/*
 * test_memdb.c - unit tests of pmxcfs/memdb.c, the in-memory tree and its
 * deterministic validator, driven through memdb_apply() without FUSE, dfsm
 * or SQLite: tree operations and their errors, versions, limits, the guest
 * id rule, cluster locks (whose clock is the op's "now"), determinism of
 * the op stream, what the store callbacks see, loading checks and readers.
 */
#include "pmxcfs/memdb.h"
#include "pmxcfs/pathname.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define T0 1700000000 /* a "now" for ops */
#define MIB (1024 * 1024)

static struct memdb *fresh(void)
{
	struct memdb *db = memdb_new();
	ASSERT(db != NULL);
	return db;
}

static struct memdb_stat stat_of(struct memdb *db, const char *path)
{
	struct memdb_stat st;
	int r = memdb_resolve(db, path, &st);
	if (r)
		TEST_FAIL("resolve '%s': %s", path, strerror(-r));
	return st;
}

static int apply_name(struct memdb *db, uint16_t type, uint64_t parent, const char *name,
                      size_t len, struct memdb_result *res)
{
	struct cfs_op op = {
		.type = type, .parent = parent, .name = name, .name_len = (uint32_t)len, .now = T0
	};
	return mu_apply(db, &op, res);
}

/* ---- tree operations ---- */

static void t_new_root(void)
{
	struct memdb *db = fresh();
	struct memdb_stat st = stat_of(db, "/");
	uint64_t size, inodes;

	ASSERT_EQ(st.inode, MEMDB_ROOT_INODE);
	ASSERT_EQ(st.type, MEMDB_DIR);
	ASSERT_EQ(st.version, 1);
	ASSERT_EQ(memdb_version(db), 1);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, 0);
	ASSERT_EQ(inodes, 1);
	memdb_free(db);
}

static void t_create(void)
{
	struct memdb *db = fresh();
	struct memdb_result res;
	struct memdb_stat st;

	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, "a", 1, &res), 0);
	/* a new inode's number is the global version at its creation */
	ASSERT_EQ(res.inode, 2);
	ASSERT_EQ(res.version, 2);
	ASSERT_EQ(memdb_getattr(db, 2, &st), 0);
	ASSERT_EQ(st.type, MEMDB_REG);
	ASSERT_EQ(st.parent, MEMDB_ROOT_INODE);
	ASSERT_EQ(st.version, 2);
	ASSERT_EQ(st.mtime, T0);
	ASSERT_EQ(st.size, 0);
	ASSERT(!st.priv);
	/* the parent directory changed with it */
	st = stat_of(db, "");
	ASSERT_EQ(st.version, 2);
	ASSERT_EQ(st.mtime, T0);
	ASSERT_EQ(memdb_lookup(db, MEMDB_ROOT_INODE, "a", &st), 0);
	ASSERT_EQ(st.inode, 2);

	/* O_EXCL semantics: a second create of the name fails */
	ASSERT_EQ(mu_create(db, "a", T0), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "a", T0), -EEXIST);
	ASSERT_EQ(memdb_version(db), 2);
	memdb_free(db);
}

static void t_create_errors(void)
{
	struct memdb *db = fresh();
	struct memdb_result res;

	ASSERT_EQ(mu_create(db, "f", T0), 0);
	uint64_t f = mu_ino(db, "f");
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, 9999, "x", 1, &res), -ENOENT);
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, f, "x", 1, &res), -ENOTDIR);
	ASSERT_EQ(apply_name(db, CFS_OP_MKDIR, f, "x", 1, &res), -ENOTDIR);
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, "", 0, &res), -EINVAL);
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, ".", 1, &res), -EINVAL);
	ASSERT_EQ(apply_name(db, CFS_OP_MKDIR, MEMDB_ROOT_INODE, "..", 2, &res), -EINVAL);
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, "a/b", 3, &res), -EINVAL);
	ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, "a\0b", 3, &res), -EINVAL);
	ASSERT_EQ(res.inode, 0);
	ASSERT_EQ(memdb_version(db), 2);
	memdb_free(db);
}

static void t_unknown_op(void)
{
	struct memdb *db = fresh();
	struct memdb_result res;
	struct cfs_op op = { .type = 0, .parent = 1, .name = "x", .name_len = 1 };

	ASSERT_EQ(mu_apply(db, &op, &res), -EPROTO);
	op.type = CFS_OP_TYPE_MAX + 1;
	ASSERT_EQ(mu_apply(db, &op, &res), -EPROTO);
	ASSERT_EQ(memdb_version(db), 1);
	memdb_free(db);
}

static void t_mkdir_readdir(void)
{
	struct memdb *db = fresh();
	struct memdb_dirent *ents;
	size_t n;

	ASSERT_EQ(mu_mkdir(db, "d", T0), 0);
	ASSERT_EQ(mu_create(db, "d/f1", T0), 0);
	ASSERT_EQ(mu_mkdir(db, "d/sub", T0), 0);
	ASSERT_EQ(mu_create(db, "d/sub/f2", T0), 0);
	ASSERT_EQ(stat_of(db, "d").type, MEMDB_DIR);
	ASSERT_EQ(stat_of(db, "/d/sub/f2").type, MEMDB_REG);
	ASSERT_EQ(stat_of(db, "d//sub/").type, MEMDB_DIR);

	ASSERT_EQ(memdb_readdir(db, mu_ino(db, "d"), &ents, &n), 0);
	ASSERT_EQ(n, 2);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ents[i].name, "f1") == 0 && ents[i].type == MEMDB_REG)
			seen |= 1;
		if (strcmp(ents[i].name, "sub") == 0 && ents[i].type == MEMDB_DIR)
			seen |= 2;
	}
	ASSERT_EQ(seen, 3);
	memdb_dirents_free(ents, n);
	ASSERT_EQ(memdb_readdir(db, mu_ino(db, "d/f1"), &ents, &n), -ENOTDIR);
	ASSERT_EQ(memdb_readdir(db, 4242, &ents, &n), -ENOENT);
	ASSERT_EQ(memdb_readdir(db, mu_ino(db, "d/sub/f2"), &ents, &n), -ENOTDIR);

	struct memdb_stat st;
	ASSERT_EQ(memdb_resolve(db, "d/f1/x", &st), -ENOTDIR);
	ASSERT_EQ(memdb_resolve(db, "d/nope", &st), -ENOENT);
	memdb_free(db);
}

static void t_unlink_rmdir(void)
{
	struct memdb *db = fresh();
	uint64_t size, inodes;

	mu_mkdirs(db, "d/sub", T0);
	ASSERT_EQ(mu_create(db, "d/f", T0), 0);
	ASSERT_EQ(mu_put(db, "d/f", "hello", 5, T0), 0);
	uint64_t f = mu_ino(db, "d/f");

	ASSERT_EQ(mu_rmdir(db, "d", T0), -ENOTEMPTY);
	ASSERT_EQ(mu_rmdir(db, "d/f", T0), -ENOTDIR);
	ASSERT_EQ(mu_unlink(db, "d/sub", T0), -EISDIR);
	ASSERT_EQ(mu_unlink(db, "d/nope", T0), -ENOENT);
	ASSERT_EQ(mu_rmdir(db, "d/nope", T0), -ENOENT);

	uint64_t v = memdb_version(db);
	ASSERT_EQ(mu_unlink(db, "d/f", T0 + 5), 0);
	ASSERT_EQ(memdb_version(db), v + 1);
	ASSERT_EQ(stat_of(db, "d").version, v + 1);
	ASSERT_EQ(stat_of(db, "d").mtime, T0 + 5);
	struct memdb_stat st;
	ASSERT_EQ(memdb_getattr(db, f, &st), -ENOENT);
	ASSERT_EQ(mu_unlink(db, "d/f", T0), -ENOENT);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, 0);
	ASSERT_EQ(inodes, 3);

	ASSERT_EQ(mu_rmdir(db, "d/sub", T0), 0);
	ASSERT_EQ(mu_rmdir(db, "d", T0), 0);
	ASSERT_EQ(mu_ino(db, "d"), 0);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(inodes, 1);
	memdb_free(db);
}

static void t_rename_basic(void)
{
	struct memdb *db = fresh();

	mu_mkdirs(db, "a", T0);
	mu_mkdirs(db, "b", T0);
	ASSERT_EQ(mu_create(db, "a/f", T0), 0);
	ASSERT_EQ(mu_put(db, "a/f", "x", 1, T0), 0);
	uint64_t f = mu_ino(db, "a/f");
	uint64_t v = memdb_version(db);

	/* within a directory: same inode, new name, new version */
	ASSERT_EQ(mu_rename(db, "a/f", "a/g", 0, T0 + 1), 0);
	ASSERT_EQ(memdb_version(db), v + 1);
	ASSERT_EQ(mu_ino(db, "a/f"), 0);
	struct memdb_stat st = stat_of(db, "a/g");
	ASSERT_EQ(st.inode, f);
	ASSERT_EQ(st.version, v + 1);
	ASSERT_EQ(st.size, 1);
	ASSERT_EQ(stat_of(db, "a").version, v + 1);

	/* across directories: both directories change */
	ASSERT_EQ(mu_rename(db, "a/g", "b/h", 0, T0 + 2), 0);
	ASSERT_EQ(mu_ino(db, "b/h"), f);
	ASSERT_EQ(stat_of(db, "a").version, v + 2);
	ASSERT_EQ(stat_of(db, "a").mtime, T0 + 2);
	ASSERT_EQ(stat_of(db, "b").version, v + 2);
	ASSERT_EQ(stat_of(db, "b").mtime, T0 + 2);
	char name[16];
	ASSERT_EQ(memdb_name(db, f, name, sizeof(name)), 0);
	ASSERT_STR_EQ(name, "h");

	/* a directory with content moves as a whole */
	ASSERT_EQ(mu_rename(db, "b", "a/b2", 0, T0), 0);
	ASSERT_EQ(mu_ino(db, "a/b2/h"), f);

	/* onto itself: nothing happens */
	v = memdb_version(db);
	ASSERT_EQ(mu_rename(db, "a/b2/h", "a/b2/h", 0, T0), 0);
	ASSERT_EQ(mu_rename(db, "a/b2/h", "a/b2/h", CFS_OP_F_NOREPLACE, T0), 0);
	ASSERT_EQ(memdb_version(db), v);
	memdb_free(db);
}

static void t_rename_replace(void)
{
	struct memdb *db = fresh();
	uint64_t size, inodes;

	ASSERT_EQ(mu_create(db, "new", T0), 0);
	ASSERT_EQ(mu_put(db, "new", "new content", 11, T0), 0);
	ASSERT_EQ(mu_create(db, "cur", T0), 0);
	ASSERT_EQ(mu_put(db, "cur", "old", 3, T0), 0);
	uint64_t nino = mu_ino(db, "new"), oino = mu_ino(db, "cur");

	/* the editor's save: write a temporary, rename it over the file */
	ASSERT_EQ(mu_rename(db, "new", "cur", 0, T0), 0);
	ASSERT_EQ(mu_ino(db, "cur"), nino);
	ASSERT_EQ(mu_ino(db, "new"), 0);
	struct memdb_stat st;
	ASSERT_EQ(memdb_getattr(db, oino, &st), -ENOENT);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, 11);
	ASSERT_EQ(inodes, 2);

	/* an empty directory may be replaced by a directory */
	mu_mkdirs(db, "d1/x", T0);
	mu_mkdirs(db, "d2", T0);
	ASSERT_EQ(mu_rename(db, "d1", "d2", 0, T0), 0);
	ASSERT(mu_ino(db, "d2/x") != 0);
	memdb_free(db);
}

static void t_rename_noreplace(void)
{
	struct memdb *db = fresh();

	ASSERT_EQ(mu_create(db, "a", T0), 0);
	ASSERT_EQ(mu_create(db, "b", T0), 0);
	uint64_t a = mu_ino(db, "a"), b = mu_ino(db, "b");
	uint64_t v = memdb_version(db);

	ASSERT_EQ(mu_rename(db, "a", "b", CFS_OP_F_NOREPLACE, T0), -EEXIST);
	ASSERT_EQ(mu_ino(db, "a"), a);
	ASSERT_EQ(mu_ino(db, "b"), b);
	ASSERT_EQ(memdb_version(db), v);
	ASSERT_EQ(mu_rename(db, "a", "c", CFS_OP_F_NOREPLACE, T0), 0);
	ASSERT_EQ(mu_ino(db, "c"), a);
	memdb_free(db);
}

/* A rename that only replaces a target still at version want (compare-and-swap). */
static int rename_if(struct memdb *db, const char *from, const char *to, uint64_t want)
{
	struct cfs_op op = { .type = CFS_OP_RENAME, .now = T0, .flags = CFS_OP_F_IFVERSION };
	struct memdb_result res;
	op.mtime = (int64_t)want;
	op.parent = MEMDB_ROOT_INODE;
	op.name = from;
	op.name_len = (uint32_t)strlen(from);
	op.newparent = op.parent;
	op.newname = to;
	op.newname_len = (uint32_t)strlen(to);
	return mu_apply(db, &op, &res);
}

static void t_rename_ifversion(void)
{
	struct memdb *db = fresh();
	struct memdb_stat st;

	ASSERT_EQ(mu_create(db, "cur", T0), 0);
	ASSERT_EQ(mu_put(db, "cur", "old", 3, T0), 0);
	ASSERT_EQ(memdb_getattr(db, mu_ino(db, "cur"), &st), 0);
	uint64_t read_at = st.version;
	ASSERT_EQ(mu_create(db, "tmp", T0), 0);
	ASSERT_EQ(mu_put(db, "tmp", "mine", 4, T0), 0);
	/* someone else writes the file after it was read */
	ASSERT_EQ(mu_put(db, "cur", "theirs", 6, T0), 0);
	uint64_t v = memdb_version(db), tino = mu_ino(db, "tmp");
	ASSERT_EQ(rename_if(db, "tmp", "cur", read_at), -EAGAIN);
	ASSERT_EQ(memdb_version(db), v); /* nothing changed */
	ASSERT_EQ(mu_ino(db, "tmp"), tino);
	char buf[16] = "";
	size_t n = 0;
	ASSERT_EQ(memdb_read(db, mu_ino(db, "cur"), 0, sizeof(buf), buf, &n), 0);
	ASSERT_EQ(n, 6);
	ASSERT_EQ(memcmp(buf, "theirs", 6), 0);
	/* no target at all: refused too */
	ASSERT_EQ(rename_if(db, "tmp", "none", read_at), -EAGAIN);
	/* at the version it has now: done */
	ASSERT_EQ(memdb_getattr(db, mu_ino(db, "cur"), &st), 0);
	ASSERT_EQ(rename_if(db, "tmp", "cur", st.version), 0);
	ASSERT_EQ(mu_ino(db, "cur"), tino);
	memdb_free(db);
}

static void t_rename_errors(void)
{
	struct memdb *db = fresh();

	mu_mkdirs(db, "d/sub", T0);
	mu_mkdirs(db, "full/x", T0);
	mu_mkdirs(db, "empty", T0);
	ASSERT_EQ(mu_create(db, "f", T0), 0);
	uint64_t v = memdb_version(db);

	ASSERT_EQ(mu_rename(db, "nope", "x", 0, T0), -ENOENT);
	ASSERT_EQ(mu_rename(db, "d", "f", 0, T0), -ENOTDIR);
	ASSERT_EQ(mu_rename(db, "f", "empty", 0, T0), -EISDIR);
	ASSERT_EQ(mu_rename(db, "d", "full", 0, T0), -ENOTEMPTY);
	/* a directory into itself or its own subtree */
	ASSERT_EQ(mu_rename(db, "d", "d/sub/d", 0, T0), -EINVAL);
	ASSERT_EQ(mu_rename(db, "d", "d/d", 0, T0), -EINVAL);
	/* a parent replaced by its child: the parent is not empty */
	ASSERT_EQ(mu_rename(db, "d/sub", "d", 0, T0), -ENOTEMPTY);

	struct memdb_result res;
	struct cfs_op op = { .type = CFS_OP_RENAME,
		             .parent = 1,
		             .name = "f",
		             .name_len = 1,
		             .newparent = 4242,
		             .newname = "g",
		             .newname_len = 1 };
	ASSERT_EQ(mu_apply(db, &op, &res), -ENOENT);
	op.newparent = mu_ino(db, "f");
	ASSERT_EQ(mu_apply(db, &op, &res), -ENOTDIR);
	op.newparent = 1;
	op.newname = "..";
	op.newname_len = 2;
	ASSERT_EQ(mu_apply(db, &op, &res), -EINVAL);
	op.newname = "";
	op.newname_len = 0;
	ASSERT_EQ(mu_apply(db, &op, &res), -EINVAL);
	ASSERT_EQ(memdb_version(db), v);
	memdb_free(db);
}

static void t_root_reserved(void)
{
	struct memdb *db = fresh();
	static const char *const names[] = { ".version", ".members", ".vmlist",     ".clusterlog",
		                             "local",    "lxc",      "qemu-server", "openvz" };

	ASSERT_EQ(mu_create(db, "f", T0), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char sub[64];
		ASSERT_EQ(mu_create(db, names[i], T0), -EEXIST);
		ASSERT_EQ(mu_mkdir(db, names[i], T0), -EEXIST);
		ASSERT_EQ(mu_unlink(db, names[i], T0), -EACCES);
		ASSERT_EQ(mu_rmdir(db, names[i], T0), -EACCES);
		ASSERT_EQ(mu_rename(db, "f", names[i], 0, T0), -EACCES);
		ASSERT_EQ(mu_rename(db, names[i], "g", 0, T0), -EACCES);
		/* only at the root */
		mu_mkdirs(db, "sub", T0);
		snprintf(sub, sizeof(sub), "sub/%s", names[i]);
		ASSERT_EQ(mu_create(db, sub, T0), 0);
	}
	memdb_free(db);
}

static void t_put_read(void)
{
	struct memdb *db = fresh();
	char buf[64];
	size_t n;

	ASSERT_EQ(mu_create(db, "f", T0), 0);
	uint64_t f = mu_ino(db, "f");
	ASSERT_EQ(mu_put(db, "f", "0123456789", 10, T0 + 7), 0);
	struct memdb_stat st = stat_of(db, "f");
	ASSERT_EQ(st.size, 10);
	ASSERT_EQ(st.mtime, T0 + 7);
	ASSERT_EQ(st.version, memdb_version(db));

	ASSERT_EQ(memdb_read(db, f, 0, sizeof(buf), buf, &n), 0);
	ASSERT_EQ(n, 10);
	ASSERT(memcmp(buf, "0123456789", 10) == 0);
	ASSERT_EQ(memdb_read(db, f, 8, sizeof(buf), buf, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT(memcmp(buf, "89", 2) == 0);
	ASSERT_EQ(memdb_read(db, f, 3, 4, buf, &n), 0);
	ASSERT_EQ(n, 4);
	ASSERT(memcmp(buf, "3456", 4) == 0);
	ASSERT_EQ(memdb_read(db, f, 10, sizeof(buf), buf, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(memdb_read(db, f, UINT64_MAX, sizeof(buf), buf, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(memdb_read(db, MEMDB_ROOT_INODE, 0, sizeof(buf), buf, &n), -EISDIR);
	ASSERT_EQ(memdb_read(db, 4242, 0, sizeof(buf), buf, &n), -ENOENT);

	char *all;
	size_t len;
	ASSERT_EQ(memdb_read_all(db, f, &all, &len, &st), 0);
	ASSERT_EQ(len, 10);
	ASSERT(memcmp(all, "0123456789", 10) == 0);
	ASSERT_EQ(st.inode, f);
	free(all);

	/* a put replaces the whole content */
	ASSERT_EQ(mu_put(db, "f", "ab", 2, T0), 0);
	ASSERT_EQ(memdb_read_all(db, f, &all, &len, NULL), 0);
	ASSERT_EQ(len, 2);
	ASSERT(memcmp(all, "ab", 2) == 0);
	free(all);
	ASSERT_EQ(mu_put(db, "f", NULL, 0, T0), 0);
	ASSERT_EQ(memdb_read_all(db, f, &all, &len, NULL), 0);
	ASSERT_EQ(len, 0);
	ASSERT(all == NULL);

	ASSERT_EQ(mu_put(db, "", "x", 1, T0), -EISDIR);
	ASSERT_EQ(mu_put(db, "nope", "x", 1, T0), -ENOENT);
	ASSERT_EQ(memdb_read_all(db, MEMDB_ROOT_INODE, &all, &len, NULL), -EISDIR);
	memdb_free(db);
}

static void t_mtime(void)
{
	struct memdb *db = fresh();

	ASSERT_EQ(mu_create(db, "f", T0), 0);
	mu_mkdirs(db, "d", T0);
	uint64_t v = memdb_version(db);
	/* the op's mtime is set, not its now */
	ASSERT_EQ(mu_mtime(db, "f", 12345, T0 + 99), 0);
	struct memdb_stat st = stat_of(db, "f");
	ASSERT_EQ(st.mtime, 12345);
	ASSERT_EQ(st.version, v + 1);
	ASSERT_EQ(memdb_version(db), v + 1);
	ASSERT_EQ(mu_mtime(db, "d", -5, T0), 0);
	ASSERT_EQ(stat_of(db, "d").mtime, -5);
	/* mtime 0 outside priv/lock is an ordinary mtime */
	ASSERT_EQ(mu_mtime(db, "d", 0, T0), 0);
	ASSERT_EQ(stat_of(db, "d").mtime, 0);
	ASSERT_EQ(mu_mtime(db, "nope", 1, T0), -ENOENT);
	memdb_free(db);
}

static void t_priv_flag(void)
{
	struct memdb *db = fresh();

	mu_mkdirs(db, "priv/lock", T0);
	mu_mkdirs(db, "nodes/n1/priv", T0);
	mu_mkdirs(db, "other/priv", T0);
	ASSERT_EQ(mu_create(db, "priv/authkey.key", T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/n1/priv/x", T0), 0);
	ASSERT_EQ(mu_create(db, "other/priv/y", T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/n1/z", T0), 0);
	ASSERT(stat_of(db, "priv").priv);
	ASSERT(stat_of(db, "priv/lock").priv);
	ASSERT(stat_of(db, "priv/authkey.key").priv);
	ASSERT(stat_of(db, "nodes/n1/priv").priv);
	ASSERT(stat_of(db, "nodes/n1/priv/x").priv);
	ASSERT(!stat_of(db, "other/priv/y").priv);
	ASSERT(!stat_of(db, "nodes/n1/z").priv);
	ASSERT(!stat_of(db, "nodes").priv);
	memdb_free(db);
}

static void t_kcache_claim(void)
{
	struct memdb *db = fresh();

	ASSERT_EQ(mu_create(db, "f", T0), 0);
	ASSERT_EQ(mu_put(db, "f", "v1", 2, T0), 0);
	uint64_t f = mu_ino(db, "f"), v1 = stat_of(db, "f").version;
	/* first page-cached open: the kernel holds nothing of this version yet */
	ASSERT(!memdb_kcache_claim(db, f, v1));
	ASSERT(memdb_kcache_claim(db, f, v1));
	ASSERT(memdb_kcache_claim(db, f, v1));
	ASSERT_EQ(mu_put(db, "f", "v2!", 3, T0), 0);
	uint64_t v2 = stat_of(db, "f").version;
	ASSERT(v2 != v1);
	ASSERT(!memdb_kcache_claim(db, f, v2));
	ASSERT(memdb_kcache_claim(db, f, v2));
	/* going back to an older version is a change too */
	ASSERT(!memdb_kcache_claim(db, f, v1));
	ASSERT(!memdb_kcache_claim(db, 4242, 1));
	ASSERT(!memdb_kcache_claim(db, 4242, 1));
	memdb_free(db);
}

/* ---- versions ---- */

static void t_versions(void)
{
	struct memdb *db = fresh();
	uint64_t v = 1;

	/* each successful op advances the global version by exactly one */
#define STEP(call)                                                                                 \
	do {                                                                                       \
		ASSERT_EQ(call, 0);                                                                \
		ASSERT_EQ(memdb_version(db), ++v);                                                 \
	} while (0)
	STEP(mu_mkdir(db, "d", T0));
	ASSERT_EQ(mu_ino(db, "d"), v);
	STEP(mu_create(db, "d/f", T0));
	ASSERT_EQ(mu_ino(db, "d/f"), v);
	uint64_t fv = v;
	STEP(mu_create(db, "g", T0));
	/* per path: a node's version is the global version of its last change */
	ASSERT_EQ(stat_of(db, "d/f").version, fv);
	ASSERT_EQ(stat_of(db, "d").version, fv);
	ASSERT_EQ(stat_of(db, "g").version, v);
	ASSERT_EQ(stat_of(db, "").version, v);
	STEP(mu_put(db, "d/f", "x", 1, T0));
	ASSERT_EQ(stat_of(db, "d/f").version, v);
	ASSERT_EQ(stat_of(db, "d").version, fv); /* content changes leave the dir alone */
	STEP(mu_mtime(db, "g", 5, T0));
	ASSERT_EQ(stat_of(db, "g").version, v);
	STEP(mu_rename(db, "g", "d/g", 0, T0));
	ASSERT_EQ(stat_of(db, "d/g").version, v);
	ASSERT_EQ(stat_of(db, "d").version, v);
	ASSERT_EQ(stat_of(db, "").version, v);
	STEP(mu_unlink(db, "d/g", T0));
	STEP(mu_unlink(db, "d/f", T0));
	STEP(mu_rmdir(db, "d", T0));
	ASSERT_EQ(stat_of(db, "").version, v);
	/* inode numbers are never reused: a new file gets a new number */
	STEP(mu_mkdir(db, "d", T0));
	ASSERT_EQ(mu_ino(db, "d"), v);
	ASSERT(v != 2);
#undef STEP
	memdb_free(db);
}

static void t_failed_ops_change_nothing(void)
{
	struct memdb *db = fresh();
	struct mu_dump before, after;
	char big[CFS_MAX_NAME_LEN + 2];
	char *huge = calloc(1, MEMDB_MAX_FILE_SIZE + 1);

	ASSERT(huge != NULL);
	memset(big, 'n', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	mu_mkdirs(db, "nodes/a/lxc", T0);
	mu_mkdirs(db, "d/sub", T0);
	mu_mkdirs(db, "priv/lock/held", T0);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_create(db, "f", T0), 0);
	ASSERT_EQ(mu_put(db, "f", "data", 4, T0), 0);
	mu_dump_take(db, &before);

	ASSERT_EQ(mu_create(db, "f", T0 + 1), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "d", T0 + 1), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/held", T0 + 1), -EEXIST);
	ASSERT_EQ(mu_rmdir(db, "d", T0 + 1), -ENOTEMPTY);
	ASSERT_EQ(mu_unlink(db, "d", T0 + 1), -EISDIR);
	ASSERT_EQ(mu_rename(db, "d", "d/sub/x", 0, T0 + 1), -EINVAL);
	ASSERT_EQ(mu_rename(db, "f", "d", 0, T0 + 1), -EISDIR);
	ASSERT_EQ(mu_put(db, "f", huge, MEMDB_MAX_FILE_SIZE + 1, T0 + 1), -EFBIG);
	ASSERT_EQ(mu_put(db, "d", "x", 1, T0 + 1), -EISDIR);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/99.conf", T0 + 1), -EINVAL);
	ASSERT_EQ(mu_mkdir(db, "nodes/a/lxc/dir", T0 + 1), -EINVAL);
	ASSERT_EQ(mu_create(db, big, T0 + 1), -ENAMETOOLONG);
	ASSERT_EQ(mu_rename(db, "nodes/a", "nodes/b", 0, T0 + 1), -EPERM);
	ASSERT_EQ(mu_mtime(db, "priv/lock/held", 0, T0 + 1), -EBUSY);

	mu_dump_take(db, &after);
	mu_dump_assert_equal(&before, &after);
	mu_dump_free(&before);
	mu_dump_free(&after);
	free(huge);
	memdb_free(db);
}

/* ---- limits ---- */

static void t_limit_file_size(void)
{
	struct memdb *db = fresh();
	char *buf = malloc(MEMDB_MAX_FILE_SIZE + 1);
	char *all;
	size_t len;

	ASSERT(buf != NULL);
	memset(buf, 'q', MEMDB_MAX_FILE_SIZE + 1);
	ASSERT_EQ(mu_create(db, "f", T0), 0);
	ASSERT_EQ(mu_put(db, "f", "keep", 4, T0), 0);
	uint64_t v = memdb_version(db);
	ASSERT_EQ(mu_put(db, "f", buf, MEMDB_MAX_FILE_SIZE + 1, T0), -EFBIG);
	ASSERT_EQ(memdb_version(db), v);
	ASSERT_EQ(memdb_read_all(db, mu_ino(db, "f"), &all, &len, NULL), 0);
	ASSERT_EQ(len, 4);
	ASSERT(memcmp(all, "keep", 4) == 0);
	free(all);
	/* exactly the limit is fine */
	ASSERT_EQ(mu_put(db, "f", buf, MEMDB_MAX_FILE_SIZE, T0), 0);
	ASSERT_EQ(stat_of(db, "f").size, MEMDB_MAX_FILE_SIZE);
	free(buf);
	memdb_free(db);
}

static void t_limit_total_size(void)
{
	struct memdb *db = fresh();
	char *buf = malloc(MIB);
	uint64_t size, inodes;
	char name[32];
	int nfiles = MEMDB_MAX_TOTAL_SIZE / MIB;

	ASSERT(buf != NULL);
	memset(buf, 'z', MIB);
	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ASSERT_EQ(mu_create(db, name, T0), 0);
		ASSERT_EQ(mu_put(db, name, buf, MIB, T0), 0);
	}
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, MEMDB_MAX_TOTAL_SIZE);
	ASSERT_EQ(mu_create(db, "last", T0), 0); /* empty files cost nothing */
	uint64_t v = memdb_version(db);
	ASSERT_EQ(mu_put(db, "last", "x", 1, T0), -ENOSPC);
	ASSERT_EQ(memdb_version(db), v);
	ASSERT_EQ(stat_of(db, "last").size, 0);
	/* replacing a file with one of the same size fits */
	ASSERT_EQ(mu_put(db, "f0", buf, MIB, T0), 0);
	/* one byte freed makes room for exactly one byte */
	ASSERT_EQ(mu_put(db, "f1", buf, MIB - 1, T0), 0);
	ASSERT_EQ(mu_put(db, "last", "x", 1, T0), 0);
	ASSERT_EQ(mu_put(db, "last", "xy", 2, T0), -ENOSPC);
	/* space comes back with an unlink (f1 is still one byte short) */
	ASSERT_EQ(mu_unlink(db, "f2", T0), 0);
	ASSERT_EQ(mu_put(db, "last", buf, MIB, T0), 0);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, MEMDB_MAX_TOTAL_SIZE - 1);
	ASSERT_EQ(mu_put(db, "f1", buf, MIB, T0), 0);
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(size, MEMDB_MAX_TOTAL_SIZE);
	ASSERT_EQ(mu_create(db, "another", T0), 0);
	ASSERT_EQ(mu_put(db, "another", "x", 1, T0), -ENOSPC);
	free(buf);
	memdb_free(db);
}

static void t_limit_inodes(void)
{
	struct memdb *db = fresh();
	uint64_t size, inodes;
	char name[32];

	mu_mkdirs(db, "priv/lock/l", T0);
	memdb_usage(db, &size, &inodes);
	for (uint64_t i = inodes; i < MEMDB_MAX_INODES; i++) {
		struct memdb_result res;
		int len = snprintf(name, sizeof(name), "%" PRIu64, i);
		ASSERT_EQ(apply_name(db, CFS_OP_CREATE, MEMDB_ROOT_INODE, name, (size_t)len, &res),
		          0);
	}
	memdb_usage(db, &size, &inodes);
	ASSERT_EQ(inodes, MEMDB_MAX_INODES);
	uint64_t v = memdb_version(db);
	ASSERT_EQ(mu_create(db, "one-more", T0), -ENOSPC);
	ASSERT_EQ(mu_mkdir(db, "one-more", T0), -ENOSPC);
	ASSERT_EQ(memdb_version(db), v);
	/* taking over an expired lock creates nothing and still works */
	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0 + MEMDB_LOCK_TIMEOUT + 1), 0);
	/* renames and puts do not need inodes */
	ASSERT_EQ(mu_rename(db, "100", "renamed", 0, T0), 0);
	ASSERT_EQ(mu_put(db, "renamed", "x", 1, T0), 0);
	ASSERT_EQ(mu_unlink(db, "renamed", T0), 0);
	ASSERT_EQ(mu_create(db, "one-more", T0), 0);
	ASSERT_EQ(mu_create(db, "two-more", T0), -ENOSPC);
	memdb_free(db);
}

static void t_limit_name_len(void)
{
	struct memdb *db = fresh();
	char n255[CFS_MAX_NAME_LEN + 1], n256[CFS_MAX_NAME_LEN + 2], path[600];
	struct memdb_stat st;

	memset(n255, 'a', sizeof(n255));
	n255[CFS_MAX_NAME_LEN] = '\0';
	memset(n256, 'b', sizeof(n256));
	n256[CFS_MAX_NAME_LEN + 1] = '\0';

	ASSERT_EQ(mu_create(db, n255, T0), 0);
	ASSERT_EQ(memdb_lookup(db, MEMDB_ROOT_INODE, n255, &st), 0);
	ASSERT_EQ(mu_create(db, n256, T0), -ENAMETOOLONG);
	ASSERT_EQ(mu_mkdir(db, n256, T0), -ENAMETOOLONG);
	ASSERT_EQ(mu_rename(db, n255, n256, 0, T0), -ENAMETOOLONG);
	ASSERT_EQ(memdb_lookup(db, MEMDB_ROOT_INODE, n256, &st), -ENAMETOOLONG);
	ASSERT_EQ(mu_unlink(db, n256, T0), -ENAMETOOLONG);
	mu_mkdirs(db, "d", T0);
	snprintf(path, sizeof(path), "d/%s", n255);
	ASSERT_EQ(mu_mkdir(db, path, T0), 0);
	ASSERT_EQ(stat_of(db, path).type, MEMDB_DIR);
	memdb_free(db);
}

/* ---- guest ids ---- */

struct vm_seen {
	uint64_t vmid[16];
	char node[16][32];
	int type[16];
	size_t n;
};

static void vm_cb(void *ctx, uint64_t vmid, const char *node, int guest_type, uint64_t version)
{
	struct vm_seen *s = ctx;
	(void)version;
	ASSERT(s->n < 16);
	s->vmid[s->n] = vmid;
	snprintf(s->node[s->n], sizeof(s->node[0]), "%s", node);
	s->type[s->n] = guest_type;
	s->n++;
}

/* Is vmid registered, on node with type?  (exactly once) */
static void assert_vm(struct memdb *db, uint64_t vmid, const char *node, int type)
{
	struct vm_seen s = { .n = 0 };
	int found = 0;
	memdb_vmlist(db, vm_cb, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.vmid[i] != vmid)
			continue;
		found++;
		if (strcmp(s.node[i], node) != 0 || s.type[i] != type)
			TEST_FAIL("guest %" PRIu64 " on %s type %d, expected %s type %d", vmid,
			          s.node[i], s.type[i], node, type);
	}
	if (found != 1)
		TEST_FAIL("guest %" PRIu64 " registered %d times", vmid, found);
}

static size_t vm_count(struct memdb *db)
{
	struct vm_seen s = { .n = 0 };
	memdb_vmlist(db, vm_cb, &s);
	return s.n;
}

static struct memdb *guest_tree(void)
{
	struct memdb *db = fresh();
	mu_mkdirs(db, "nodes/a/lxc", T0);
	mu_mkdirs(db, "nodes/a/qemu-server", T0);
	mu_mkdirs(db, "nodes/b/lxc", T0);
	mu_mkdirs(db, "nodes/b/qemu-server", T0);
	return db;
}

static void t_guest_register(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/b/qemu-server/101.conf", T0), 0);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	assert_vm(db, 101, "b", CFS_GUEST_QEMU);
	ASSERT_EQ(vm_count(db), 2);
	ASSERT_EQ(mu_unlink(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(vm_count(db), 1);
	/* the id is free again */
	ASSERT_EQ(mu_create(db, "nodes/b/lxc/100.conf", T0), 0);
	assert_vm(db, 100, "b", CFS_GUEST_LXC);
	memdb_free(db);
}

static void t_guest_clash_create(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/b/qemu-server/100.conf", T0), -EEXIST);
	ASSERT_EQ(mu_create(db, "nodes/b/lxc/100.conf", T0), -EEXIST);
	ASSERT_EQ(mu_create(db, "nodes/a/qemu-server/100.conf", T0), -EEXIST);
	ASSERT_EQ(mu_ino(db, "nodes/b/qemu-server/100.conf"), 0);
	/* a node directory created later is covered too */
	mu_mkdirs(db, "nodes/c/qemu-server", T0);
	ASSERT_EQ(mu_create(db, "nodes/c/qemu-server/100.conf", T0), -EEXIST);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	memdb_free(db);
}

static void t_guest_clash_rename(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_create(db, "nodes/b/qemu-server/100.conf.tmp.42", T0), 0);
	/* a temporary renamed into place as a second config of 100 */
	ASSERT_EQ(mu_rename(db, "nodes/b/qemu-server/100.conf.tmp.42",
	                    "nodes/b/qemu-server/100.conf", 0, T0),
	          -EEXIST);
	ASSERT_EQ(mu_ino(db, "nodes/b/qemu-server/100.conf"), 0);
	/* a file from outside the guest dirs */
	ASSERT_EQ(mu_create(db, "stray", T0), 0);
	ASSERT_EQ(mu_rename(db, "stray", "nodes/b/lxc/100.conf", 0, T0), -EEXIST);
	/* a config of another id renamed to 100 */
	ASSERT_EQ(mu_create(db, "nodes/b/lxc/101.conf", T0), 0);
	ASSERT_EQ(mu_rename(db, "nodes/b/lxc/101.conf", "nodes/b/lxc/100.conf", 0, T0), -EEXIST);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	assert_vm(db, 101, "b", CFS_GUEST_LXC);
	/* but replacing 100's own config is the editor's save */
	ASSERT_EQ(
	    mu_rename(db, "nodes/b/qemu-server/100.conf.tmp.42", "nodes/a/lxc/100.conf", 0, T0), 0);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	ASSERT_EQ(vm_count(db), 2);
	memdb_free(db);
}

static void t_guest_migrate(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_put(db, "nodes/a/lxc/100.conf", "arch: amd64\n", 12, T0), 0);
	uint64_t ino = mu_ino(db, "nodes/a/lxc/100.conf");
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc/100.conf", "nodes/b/lxc/100.conf", 0, T0), 0);
	ASSERT_EQ(mu_ino(db, "nodes/b/lxc/100.conf"), ino);
	assert_vm(db, 100, "b", CFS_GUEST_LXC);
	ASSERT_EQ(vm_count(db), 1);
	/* the old place is no longer the owner, the new one is */
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), -EEXIST);
	/* lxc -> qemu-server within the id is a rename of the same guest */
	ASSERT_EQ(mu_rename(db, "nodes/b/lxc/100.conf", "nodes/a/qemu-server/100.conf", 0, T0), 0);
	assert_vm(db, 100, "a", CFS_GUEST_QEMU);
	/* renaming it out of the guest dirs frees the id */
	ASSERT_EQ(mu_rename(db, "nodes/a/qemu-server/100.conf", "backup-100", 0, T0), 0);
	ASSERT_EQ(vm_count(db), 0);
	ASSERT_EQ(mu_create(db, "nodes/b/lxc/100.conf", T0), 0);
	/* and a rename to another id within the guest dirs changes the id */
	ASSERT_EQ(mu_rename(db, "nodes/b/lxc/100.conf", "nodes/b/lxc/200.conf", 0, T0), 0);
	assert_vm(db, 200, "b", CFS_GUEST_LXC);
	ASSERT_EQ(vm_count(db), 1);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	memdb_free(db);
}

static void t_guest_low_ids(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/99.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/qemu-server/1.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/0.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/1000000000.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "x", T0), 0);
	ASSERT_EQ(mu_rename(db, "x", "nodes/a/lxc/99.conf", 0, T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc/100.conf", "nodes/a/lxc/99.conf", 0, T0), -EINVAL);
	/* outside the guest layout the names are ordinary */
	mu_mkdirs(db, "elsewhere/lxc", T0);
	ASSERT_EQ(mu_create(db, "elsewhere/lxc/99.conf", T0), 0);
	ASSERT_EQ(vm_count(db), 1);
	memdb_free(db);
}

static void t_guest_names(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/abc.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/0100.conf", T0), -EINVAL);
	ASSERT_EQ(mu_create(db, "nodes/a/lxc/notes.txt", T0), -EINVAL);
	ASSERT_EQ(mu_mkdir(db, "nodes/a/lxc/100", T0), -EINVAL);
	ASSERT_EQ(mu_mkdir(db, "nodes/a/qemu-server/sub.tmp", T0), -EINVAL);
	/* editor and tool temporaries are allowed and register nothing */
	static const char *const tmp[] = { "100.conf.tmp.4711", ".100.conf.swp", "4913",
		                           "100.conf~",         "#100.conf#",    "sedX1y2Z3" };
	for (size_t i = 0; i < sizeof(tmp) / sizeof(tmp[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "nodes/a/lxc/%s", tmp[i]);
		if (mu_create(db, path, T0) != 0)
			TEST_FAIL("creating %s refused", path);
	}
	ASSERT_EQ(vm_count(db), 0);
	/* vim's save: write the swap/temp, rename it over the config */
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc/4913", "nodes/a/lxc/100.conf", 0, T0), 0);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	/* renaming into a guest dir under a bad name */
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc/100.conf~", "nodes/a/lxc/bad", 0, T0), -EINVAL);
	/* directories cannot be moved into a guest dir */
	mu_mkdirs(db, "emptydir", T0);
	ASSERT_EQ(mu_rename(db, "emptydir", "nodes/a/lxc/emptydir.tmp", 0, T0), -EINVAL);
	memdb_free(db);
}

static void t_guest_layout_rename(void)
{
	struct memdb *db = guest_tree();

	ASSERT_EQ(mu_create(db, "nodes/a/lxc/100.conf", T0), 0);
	/* moving configs in or out of the layout by a directory rename is refused */
	ASSERT_EQ(mu_rename(db, "nodes/a", "nodes/c", 0, T0), -EPERM);
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc", "nodes/a/qemu-server2", 0, T0), -EPERM);
	ASSERT_EQ(mu_rename(db, "nodes", "nodes.old", 0, T0), -EPERM);
	ASSERT_EQ(mu_rename(db, "nodes/a/lxc", "nodes/b/lxc", 0, T0), -EPERM);
	mu_mkdirs(db, "staging/n/lxc", T0);
	ASSERT_EQ(mu_create(db, "staging/n/lxc/100.conf", T0), 0); /* not a guest dir */
	ASSERT_EQ(mu_rename(db, "staging/n", "nodes/n", 0, T0), -EPERM);
	ASSERT_EQ(mu_rename(db, "staging/n/lxc", "nodes/b/qemu-server", 0, T0), -EPERM);
	assert_vm(db, 100, "a", CFS_GUEST_LXC);
	ASSERT_EQ(vm_count(db), 1);
	/* without files, the layout may be rearranged */
	ASSERT_EQ(mu_rename(db, "nodes/b", "nodes/renamed", 0, T0), 0);
	ASSERT_EQ(mu_rmdir(db, "nodes/renamed/lxc", T0), 0);
	memdb_free(db);
}

/*
 * "Directories cannot be created there" (pmxcfs.8): that must hold however
 * the directory gets there, including by renaming a file-less tree with a
 * subdirectory into the place of an empty guest directory.
 */
static void t_guest_no_subdir_via_rename(void)
{
	struct memdb *db = guest_tree();

	mu_mkdirs(db, "tree/sub", T0);
	int r = mu_rename(db, "tree", "nodes/a/lxc", 0, T0);
	if (r == 0) {
		struct memdb_dirent *ents;
		size_t n;
		ASSERT_EQ(memdb_readdir(db, mu_ino(db, "nodes/a/lxc"), &ents, &n), 0);
		for (size_t i = 0; i < n; i++)
			if (ents[i].type == MEMDB_DIR)
				TEST_FAIL("directory '%s' ended up inside nodes/a/lxc",
				          ents[i].name);
		memdb_dirents_free(ents, n);
	}
	memdb_free(db);
}

/* ---- locks ---- */

static struct memdb *lock_tree(void)
{
	struct memdb *db = fresh();
	mu_mkdirs(db, "priv/lock", T0);
	return db;
}

static void t_lock_held(void)
{
	struct memdb *db = lock_tree();

	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0 + 60), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0 + MEMDB_LOCK_TIMEOUT), -EEXIST);
	/* a clock that runs backwards does not expire it either */
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0 - 1000), -EEXIST);
	/* a create of the name is never a takeover */
	ASSERT_EQ(mu_create(db, "priv/lock/ha", T0 + 1000), -EEXIST);
	/* release and take again */
	ASSERT_EQ(mu_rmdir(db, "priv/lock/ha", T0), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0 + 1), 0);
	memdb_free(db);
}

static void t_lock_takeover(void)
{
	struct memdb *db = lock_tree();
	struct memdb_result res;

	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0), 0);
	uint64_t ino = mu_ino(db, "priv/lock/ha");
	uint64_t v = memdb_version(db);
	uint64_t lockdir_v = stat_of(db, "priv/lock").version;

	struct cfs_op op = { .type = CFS_OP_MKDIR,
		             .parent = mu_ino(db, "priv/lock"),
		             .name = "ha",
		             .name_len = 2,
		             .now = T0 + MEMDB_LOCK_TIMEOUT + 1 };
	ASSERT_EQ(mu_apply(db, &op, &res), 0);
	ASSERT_EQ(res.inode, ino); /* the same lock, renewed */
	ASSERT_EQ(res.version, v + 1);
	struct memdb_stat st = stat_of(db, "priv/lock/ha");
	ASSERT_EQ(st.inode, ino);
	ASSERT_EQ(st.mtime, T0 + MEMDB_LOCK_TIMEOUT + 1);
	ASSERT_EQ(st.version, v + 1);
	ASSERT_EQ(stat_of(db, "priv/lock").version, lockdir_v);
	/* held again from the new time on */
	ASSERT_EQ(mu_mkdir(db, "priv/lock/ha", T0 + MEMDB_LOCK_TIMEOUT + 60), -EEXIST);
	memdb_free(db);
}

static void t_lock_renew(void)
{
	struct memdb *db = lock_tree();

	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0), 0);
	/* the holder renews with utime(now) */
	ASSERT_EQ(mu_mtime(db, "priv/lock/l", T0 + 100, T0 + 100), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0 + 150), -EEXIST);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0 + 100 + MEMDB_LOCK_TIMEOUT + 1), 0);
	memdb_free(db);
}

static void t_lock_expiry_request(void)
{
	struct memdb *db = lock_tree();

	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0), 0);
	uint64_t v = memdb_version(db);
	/* utime(lock, 0) before expiry: EBUSY, the lock stays as it is */
	ASSERT_EQ(mu_mtime(db, "priv/lock/l", 0, T0 + 10), -EBUSY);
	ASSERT_EQ(mu_mtime(db, "priv/lock/l", 0, T0 + MEMDB_LOCK_TIMEOUT), -EBUSY);
	ASSERT_EQ(memdb_version(db), v);
	ASSERT_EQ(stat_of(db, "priv/lock/l").mtime, T0);
	/* after expiry: released */
	ASSERT_EQ(mu_mtime(db, "priv/lock/l", 0, T0 + MEMDB_LOCK_TIMEOUT + 1), 0);
	ASSERT_EQ(mu_ino(db, "priv/lock/l"), 0);
	ASSERT_EQ(memdb_version(db), v + 1);
	ASSERT_EQ(stat_of(db, "priv/lock").version, v + 1);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/l", T0 + 500), 0);

	/* a lock with content is not released */
	ASSERT_EQ(mu_create(db, "priv/lock/l/owner", T0 + 500), 0);
	ASSERT_EQ(mu_mtime(db, "priv/lock/l", 0, T0 + 5000), -EBUSY);
	ASSERT(mu_ino(db, "priv/lock/l") != 0);
	memdb_free(db);
}

static void t_lock_only_in_priv_lock(void)
{
	struct memdb *db = fresh();

	mu_mkdirs(db, "lock/l", T0);
	mu_mkdirs(db, "other/priv/lock/l", T0);
	mu_mkdirs(db, "nodes/n/priv/lock/l", T0);
	mu_mkdirs(db, "priv/lock/l/nested", T0);
	const char *paths[] = { "lock/l", "other/priv/lock/l", "nodes/n/priv/lock/l",
		                "priv/lock/l/nested" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (mu_mkdir(db, paths[i], T0 + 100000) != -EEXIST)
			TEST_FAIL("'%s' taken over as a lock", paths[i]);
		/* utime 0 there is a plain mtime */
		ASSERT_EQ(mu_mtime(db, paths[i], 0, T0 + 100000), 0);
		ASSERT_EQ(stat_of(db, paths[i]).mtime, 0);
	}
	/* a file in priv/lock is no lock */
	ASSERT_EQ(mu_create(db, "priv/lock/file", T0), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/file", T0 + 100000), -EEXIST);
	memdb_free(db);
}

/*
 * A lock's age is op->now - mtime, both 64-bit values from ops (utime can
 * set any mtime, e.g. touch -d @-9223372036854775000).  The age must be
 * computed without signed overflow (undefined behaviour, and a verdict that
 * could differ between nodes built differently): a lock last touched at
 * the far past is expired, one touched in the far future is not.
 */
static void t_lock_time_overflow(void)
{
	struct memdb *db = lock_tree();

	ASSERT_EQ(mu_mkdir(db, "priv/lock/past", T0), 0);
	ASSERT_EQ(mu_mtime(db, "priv/lock/past", INT64_MIN + 1, T0), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/past", T0), 0); /* expired: taken over */

	ASSERT_EQ(mu_mkdir(db, "priv/lock/future", T0), 0);
	ASSERT_EQ(mu_mtime(db, "priv/lock/future", INT64_MAX, T0), 0);
	ASSERT_EQ(mu_mkdir(db, "priv/lock/future", -T0), -EEXIST);
	ASSERT_EQ(mu_mtime(db, "priv/lock/future", 0, -T0), -EBUSY);

	ASSERT_EQ(mu_mkdir(db, "priv/lock/rel", T0), 0);
	ASSERT_EQ(mu_mtime(db, "priv/lock/rel", INT64_MIN + 1, T0), 0);
	ASSERT_EQ(mu_mtime(db, "priv/lock/rel", 0, T0), 0); /* expired: released */
	ASSERT_EQ(mu_ino(db, "priv/lock/rel"), 0);
	memdb_free(db);
}

/* ---- determinism and persistence callbacks ---- */

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/*
 * A reproducible stream of ops over a small name space, with guest dirs and
 * locks, so that many ops succeed and many are refused.
 */
static void random_op(uint32_t *seed, struct memdb *ref, struct cfs_op *op, char *name,
                      char *newname, char *data)
{
	static const char *const dirs[] = {
		"",          "d",      "d/e", "nodes/a/lxc", "nodes/b/lxc", "nodes/a/qemu-server",
		"priv/lock", "nodes/a"
	};
	static const char *const names[] = { "x",        "y",        "d",       "e",
		                             "100.conf", "101.conf", "99.conf", "x.tmp",
		                             "lxc",      "l1",       "z" };
	size_t nd = sizeof(dirs) / sizeof(dirs[0]), nn = sizeof(names) / sizeof(names[0]);
	char path[128];

	memset(op, 0, sizeof(*op));
	op->type = (uint16_t)(1 + rnd(seed) % CFS_OP_TYPE_MAX);
	op->now = T0 + (int64_t)(rnd(seed) % 400);
	op->parent = mu_ino(ref, dirs[rnd(seed) % nd]);
	op->newparent = mu_ino(ref, dirs[rnd(seed) % nd]);
	snprintf(name, 32, "%s", names[rnd(seed) % nn]);
	snprintf(newname, 32, "%s", names[rnd(seed) % nn]);
	op->name = name;
	op->name_len = (uint32_t)strlen(name);
	op->newname = newname;
	op->newname_len = (uint32_t)strlen(newname);
	if (rnd(seed) % 8 == 0)
		op->flags = CFS_OP_F_NOREPLACE;
	snprintf(path, sizeof(path), "%s/%s", dirs[rnd(seed) % nd], names[rnd(seed) % nn]);
	op->inode = mu_ino(ref, path[0] == '/' ? path + 1 : path);
	op->mtime = rnd(seed) % 4 ? op->now : 0;
	op->data_len = rnd(seed) % 64;
	for (uint32_t i = 0; i < op->data_len; i++)
		data[i] = (char)rnd(seed);
	op->data = data;
}

static void t_determinism(void)
{
	struct memdb *a = fresh(), *b = fresh();
	uint32_t seed = 12345;
	int ok = 0, refused = 0;
	char name[32], newname[32], data[64];

	for (int i = 0; i < 2; i++) {
		struct memdb *db = i ? b : a;
		mu_mkdirs(db, "d/e", T0);
		mu_mkdirs(db, "nodes/a/lxc", T0);
		mu_mkdirs(db, "nodes/a/qemu-server", T0);
		mu_mkdirs(db, "nodes/b/lxc", T0);
		mu_mkdirs(db, "priv/lock", T0);
	}
	for (int i = 0; i < 5000; i++) {
		struct cfs_op op;
		struct memdb_result ra, rb;
		random_op(&seed, a, &op, name, newname, data);
		mu_apply(a, &op, &ra);
		mu_apply(b, &op, &rb);
		if (ra.err != rb.err || ra.inode != rb.inode || ra.version != rb.version)
			TEST_FAIL("op %d (%s): verdicts differ: %d/%" PRIu64 "/%" PRIu64
			          " vs %d/%" PRIu64 "/%" PRIu64,
			          i, cfs_op_type_name(op.type), ra.err, ra.inode, ra.version,
			          rb.err, rb.inode, rb.version);
		if (ra.err)
			refused++;
		else
			ok++;
	}
	/* the stream exercised both outcomes */
	ASSERT_GT(ok, 500);
	ASSERT_GT(refused, 500);

	struct mu_dump da, db_;
	mu_dump_take(a, &da);
	mu_dump_take(b, &db_);
	mu_dump_assert_equal(&da, &db_);
	mu_dump_free(&db_);

	/* loading the rows again gives the same tree (invariants held throughout) */
	char err[256] = "";
	struct memdb *c = memdb_new_empty();
	ASSERT(c != NULL);
	for (size_t i = 0; i < da.n; i++) {
		struct mu_row *r = &da.rows[i];
		struct memdb_row row = { .inode = r->inode,
			                 .parent = r->parent,
			                 .version = r->version,
			                 .mtime = r->mtime,
			                 .type = r->type,
			                 .name = r->name,
			                 .name_len = r->name_len,
			                 .data = r->data,
			                 .size = r->size };
		if (memdb_load_row(c, &row, err, sizeof(err)))
			TEST_FAIL("reloading row %" PRIu64 ": %s", r->inode, err);
	}
	if (memdb_load_finish(c, da.version, err, sizeof(err)))
		TEST_FAIL("reloading: %s", err);
	struct mu_dump dc;
	mu_dump_take(c, &dc);
	mu_dump_assert_equal(&da, &dc);
	mu_dump_free(&dc);
	mu_dump_free(&da);
	memdb_free(a);
	memdb_free(b);
	memdb_free(c);
}

static void t_store_callbacks(void)
{
	struct memdb *db = fresh();
	struct mu_mirror m = { .fail_after = 0 };
	struct memdb_store store = mu_mirror_store(&m);
	uint32_t seed = 777;
	char name[32], newname[32], data[64];

	/* start the mirror from the current tree */
	memdb_wrlock(db);
	ASSERT_EQ(memdb_foreach_row(db, mu_dump_add, &m.rows), 0);
	memdb_unlock(db);
	m.version = memdb_version(db);

	for (int i = 0; i < 3000; i++) {
		struct cfs_op op;
		struct memdb_result res;
		uint64_t before = memdb_version(db);
		int calls = m.calls;
		random_op(&seed, db, &op, name, newname, data);
		if (i < 40) { /* build some structure first */
			op.type = CFS_OP_MKDIR;
			static const char *const mk[] = { "d", "nodes", "priv" };
			op.parent = MEMDB_ROOT_INODE;
			op.name = mk[i % 3];
			op.name_len = (uint32_t)strlen(op.name);
			if (i >= 3) {
				op.parent = mu_ino(db, i % 2 ? "nodes" : "priv");
				op.name = i % 2 ? "a" : "lock";
				op.name_len = (uint32_t)strlen(op.name);
			}
			if (i >= 5 && i % 2) {
				op.parent = mu_ino(db, "nodes/a");
				op.name = "lxc";
				op.name_len = 3;
			}
		}
		memdb_wrlock(db);
		ASSERT_EQ(memdb_apply(db, &op, &res, &store), 0);
		memdb_unlock(db);
		if (res.err) {
			/* refused ops persist nothing */
			ASSERT_EQ(m.calls, calls);
			ASSERT_EQ(memdb_version(db), before);
		} else if (memdb_version(db) != before) {
			ASSERT_EQ(memdb_version(db), before + 1);
			ASSERT_EQ(m.version, before + 1);
		}
	}
	struct mu_dump tree;
	mu_dump_take(db, &tree);
	mu_dump_sort(&m.rows);
	m.rows.version = m.version;
	mu_dump_assert_equal(&tree, &m.rows);
	mu_dump_free(&tree);
	mu_dump_free(&m.rows);
	memdb_free(db);
}

static void t_store_failure(void)
{
	struct memdb *db = fresh();
	struct mu_mirror m = { .fail_after = 1 };
	struct memdb_store store = mu_mirror_store(&m);
	struct memdb_result res;
	struct cfs_op op = { .type = CFS_OP_CREATE, .parent = 1, .name = "f", .name_len = 1 };

	memdb_wrlock(db);
	ASSERT_EQ(memdb_apply(db, &op, &res, &store), -EIO);
	memdb_unlock(db);
	mu_dump_free(&m.rows);
	memdb_free(db);
}

/* ---- loading ---- */

struct loader {
	struct memdb *db;
	char err[256];
	int rc;
};

static void load_begin(struct loader *l)
{
	l->db = memdb_new_empty();
	ASSERT(l->db != NULL);
	l->err[0] = '\0';
	l->rc = 0;
}

static void load_row(struct loader *l, uint64_t inode, uint64_t parent, uint64_t version,
                     uint8_t type, const char *name, const char *data)
{
	struct memdb_row r = { .inode = inode,
		               .parent = parent,
		               .version = version,
		               .mtime = T0,
		               .type = type,
		               .name = name,
		               .name_len = strlen(name),
		               .data = data,
		               .size = data ? strlen(data) : 0 };
	if (l->rc == 0)
		l->rc = memdb_load_row(l->db, &r, l->err, sizeof(l->err));
}

/* Finish loading at version; expect rc and, on error, msg in the message. */
static void load_end(struct loader *l, uint64_t version, int rc, const char *msg)
{
	if (l->rc == 0)
		l->rc = memdb_load_finish(l->db, version, l->err, sizeof(l->err));
	if (l->rc != rc)
		TEST_FAIL("load: got %d (%s), want %d", l->rc, l->err, rc);
	if (msg && !strstr(l->err, msg))
		TEST_FAIL("load error '%s' does not mention '%s'", l->err, msg);
	memdb_free(l->db);
}

static void t_load_ok(void)
{
	struct loader l;
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 5, 1, 5, MEMDB_DIR, "nodes", NULL);
	load_row(&l, 6, 5, 6, MEMDB_DIR, "a", NULL);
	load_row(&l, 7, 6, 7, MEMDB_DIR, "lxc", NULL);
	load_row(&l, 9, 7, 9, MEMDB_REG, "100.conf", "x");
	load_row(&l, 3, 1, 3, MEMDB_REG, "f", "hello");
	ASSERT_EQ(l.rc, 0);
	ASSERT_EQ(memdb_load_finish(l.db, 12, l.err, sizeof(l.err)), 0);
	ASSERT_EQ(memdb_version(l.db), 12);
	ASSERT_EQ(mu_ino(l.db, "nodes/a/lxc/100.conf"), 9);
	ASSERT_EQ(stat_of(l.db, "f").size, 5);
	assert_vm(l.db, 100, "a", CFS_GUEST_LXC);
	/* the loaded guest index is live */
	mu_mkdirs(l.db, "nodes/b/lxc", T0);
	ASSERT_EQ(mu_create(l.db, "nodes/b/lxc/100.conf", T0), -EEXIST);
	uint64_t size, inodes;
	memdb_usage(l.db, &size, &inodes);
	ASSERT_EQ(size, 6);
	ASSERT_EQ(inodes, 8);
	memdb_free(l.db);
}

static void t_load_no_root(void)
{
	struct loader l;
	load_begin(&l);
	load_row(&l, 2, 1, 2, MEMDB_REG, "f", NULL);
	load_end(&l, 2, -EINVAL, "no root");
}

static void t_load_bad_rows(void)
{
	struct loader l;
	char longname[CFS_MAX_NAME_LEN + 2];
	memset(longname, 'x', sizeof(longname));
	longname[CFS_MAX_NAME_LEN + 1] = '\0';

	load_begin(&l);
	load_row(&l, 1, 0, 1, 7, "", NULL);
	load_end(&l, 1, -EINVAL, "unknown type");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 0, 1, 1, MEMDB_REG, "z", NULL);
	load_end(&l, 1, -EINVAL, "zero");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 0, MEMDB_REG, "z", NULL);
	load_end(&l, 2, -EINVAL, "zero");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_REG, "a", NULL);
	load_row(&l, 2, 1, 2, MEMDB_REG, "b", NULL);
	load_end(&l, 2, -EINVAL, "twice");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_DIR, "d", "content");
	load_end(&l, 2, -EINVAL, "directory with content");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_REG, "", NULL);
	load_end(&l, 1, -EINVAL, "root");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "root", NULL);
	load_end(&l, 1, -EINVAL, "root");

	const char *bad[] = { "", ".", "..", "a/b", longname };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_begin(&l);
		load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
		load_row(&l, 2, 1, 2, MEMDB_REG, bad[i], NULL);
		load_end(&l, 2, -EINVAL, "invalid name");
	}
}

static void t_load_big_file(void)
{
	struct loader l;
	char *big = malloc(MEMDB_MAX_FILE_SIZE + 2);
	ASSERT(big != NULL);
	memset(big, 'b', MEMDB_MAX_FILE_SIZE + 1);
	big[MEMDB_MAX_FILE_SIZE + 1] = '\0';
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_REG, "big", big);
	load_end(&l, 2, -EINVAL, "exceeds");
	free(big);
}

static void t_load_bad_links(void)
{
	struct loader l;

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 42, 2, MEMDB_REG, "orphan", NULL);
	load_end(&l, 2, -EINVAL, "does not exist");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_REG, "file", NULL);
	load_row(&l, 3, 2, 3, MEMDB_REG, "child", NULL);
	load_end(&l, 3, -EINVAL, "not a directory");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_REG, "same", NULL);
	load_row(&l, 3, 1, 3, MEMDB_DIR, "same", NULL);
	load_end(&l, 3, -EINVAL, "duplicate name");

	/* a cycle that does not reach the root */
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 3, 2, MEMDB_DIR, "a", NULL);
	load_row(&l, 3, 2, 3, MEMDB_DIR, "b", NULL);
	load_end(&l, 3, -EINVAL, "cycle");

	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 2, 2, MEMDB_DIR, "self", NULL);
	load_end(&l, 2, -EINVAL, "cycle");
}

static void t_load_guest_clash(void)
{
	struct loader l;
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 2, MEMDB_DIR, "nodes", NULL);
	load_row(&l, 3, 2, 3, MEMDB_DIR, "a", NULL);
	load_row(&l, 4, 2, 4, MEMDB_DIR, "b", NULL);
	load_row(&l, 5, 3, 5, MEMDB_DIR, "lxc", NULL);
	load_row(&l, 6, 4, 6, MEMDB_DIR, "qemu-server", NULL);
	load_row(&l, 7, 5, 7, MEMDB_REG, "100.conf", NULL);
	load_row(&l, 8, 6, 8, MEMDB_REG, "100.conf", NULL);
	load_end(&l, 8, -EINVAL, "guest id 100");
}

static void t_load_version(void)
{
	struct loader l;
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 2, 1, 9, MEMDB_REG, "f", NULL);
	load_end(&l, 8, -EINVAL, "older");
}

/*
 * Inode numbers are never reused because a new inode's number is the
 * global version at its creation: so no loaded inode may be above the
 * loaded version, or a later create would get an inode number that exists.
 */
static void t_load_inode_above_version(void)
{
	struct loader l;
	load_begin(&l);
	load_row(&l, 1, 0, 1, MEMDB_DIR, "", NULL);
	load_row(&l, 5, 1, 2, MEMDB_REG, "f", NULL);
	l.rc = memdb_load_finish(l.db, 3, l.err, sizeof(l.err));
	if (l.rc == 0) {
		/* accepted: then creates must not hand out inode 5 a second time */
		ASSERT_EQ(mu_create(l.db, "g", T0), 0);
		ASSERT_EQ(mu_create(l.db, "h", T0), 0);
		uint64_t f = mu_ino(l.db, "f"), h = mu_ino(l.db, "h");
		if (f == h || h == 5)
			TEST_FAIL("inode %" PRIu64 " handed out twice ('f' and 'h')", h);
	}
	memdb_free(l.db);
}

static void t_swap(void)
{
	struct memdb *a = fresh(), *b = fresh();
	ASSERT_EQ(mu_create(a, "in-a", T0), 0);
	ASSERT_EQ(mu_mkdir(b, "in-b", T0), 0);
	ASSERT_EQ(mu_mkdir(b, "in-b/x", T0), 0);
	memdb_wrlock(a);
	memdb_swap(a, b);
	memdb_unlock(a);
	ASSERT(mu_ino(a, "in-b/x") != 0);
	ASSERT_EQ(mu_ino(a, "in-a"), 0);
	ASSERT_EQ(memdb_version(a), 3);
	ASSERT(mu_ino(b, "in-a") != 0);
	ASSERT_EQ(memdb_version(b), 2);
	/* both keep working */
	ASSERT_EQ(mu_create(a, "in-b/x/y", T0), 0);
	ASSERT_EQ(mu_create(b, "z", T0), 0);
	memdb_free(a);
	memdb_free(b);
}

static const struct test_case cases[] = {
	{ "new_root", t_new_root },
	{ "create", t_create },
	{ "create_errors", t_create_errors },
	{ "unknown_op", t_unknown_op },
	{ "mkdir_readdir", t_mkdir_readdir },
	{ "unlink_rmdir", t_unlink_rmdir },
	{ "rename_basic", t_rename_basic },
	{ "rename_replace", t_rename_replace },
	{ "rename_noreplace", t_rename_noreplace },
	{ "rename_ifversion", t_rename_ifversion },
	{ "rename_errors", t_rename_errors },
	{ "root_reserved", t_root_reserved },
	{ "put_read", t_put_read },
	{ "mtime", t_mtime },
	{ "priv_flag", t_priv_flag },
	{ "kcache_claim", t_kcache_claim },
	{ "versions", t_versions },
	{ "failed_ops_change_nothing", t_failed_ops_change_nothing },
	{ "limit_file_size", t_limit_file_size },
	{ "limit_total_size", t_limit_total_size },
	{ "limit_inodes", t_limit_inodes },
	{ "limit_name_len", t_limit_name_len },
	{ "guest_register", t_guest_register },
	{ "guest_clash_create", t_guest_clash_create },
	{ "guest_clash_rename", t_guest_clash_rename },
	{ "guest_migrate", t_guest_migrate },
	{ "guest_low_ids", t_guest_low_ids },
	{ "guest_names", t_guest_names },
	{ "guest_layout_rename", t_guest_layout_rename },
	{ "guest_no_subdir_via_rename", t_guest_no_subdir_via_rename },
	{ "lock_held", t_lock_held },
	{ "lock_takeover", t_lock_takeover },
	{ "lock_renew", t_lock_renew },
	{ "lock_expiry_request", t_lock_expiry_request },
	{ "lock_only_in_priv_lock", t_lock_only_in_priv_lock },
	{ "lock_time_overflow", t_lock_time_overflow },
	{ "determinism", t_determinism },
	{ "store_callbacks", t_store_callbacks },
	{ "store_failure", t_store_failure },
	{ "load_ok", t_load_ok },
	{ "load_no_root", t_load_no_root },
	{ "load_bad_rows", t_load_bad_rows },
	{ "load_big_file", t_load_big_file },
	{ "load_bad_links", t_load_bad_links },
	{ "load_guest_clash", t_load_guest_clash },
	{ "load_version", t_load_version },
	{ "load_inode_above_version", t_load_inode_above_version },
	{ "swap", t_swap },
};

TEST_MAIN(cases)
