/*
 * fuzz_seed_gen.c - writes the generated part of the fuzzers' seed corpora
 * with the project's own code, so the seeds always match the current
 * formats (CTest runs it as the set-up fixture of the fuzz tests):
 *
 *   fuzz_seed_gen <cfs_op-dir> <database-dir>
 *
 * cfs_op: one encoded op of every type (decodable, so fuzz_cfs_op applies
 * them) and a few op scripts.  database: a small database written through
 * database_open/memdb_apply/database_commit, like pmxcfs writes it.
 */
#include "pmxcfs/database.h"
#include "pmxcfs/memdb.h"
#include "proto/cfs_op.h"
#include "tests/test.h"
#include "tests/unit/memdb_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		TEST_FAIL("creating %s: %s", path, strerror(errno));
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	ASSERT_EQ(close(fd), 0);
}

static void write_op(const char *dir, const char *name, const struct cfs_op *op)
{
	size_t len = cfs_op_encoded_size(op);
	uint8_t *buf = malloc(len);
	ASSERT(buf != NULL);
	ASSERT_EQ(cfs_op_encode(op, buf, len), (long)len);
	write_file(dir, name, buf, len);
	free(buf);
}

/* Inode numbers of the fuzz_cfs_op fixture (see fixture() there). */
enum {
	FX_NODES = 2,
	FX_A,
	FX_A_LXC,
	FX_A_QEMU,
	FX_B,
	FX_B_LXC,
	FX_PRIV,
	FX_LOCK,
	FX_LOCK_L,
	FX_D,
	FX_CONF100,
	FX_D_F = FX_CONF100 + 2
};

static void gen_cfs_op(const char *dir)
{
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = FX_B_LXC,
		             .name = "101.conf",
		             .name_len = 8,
		             .now = T0 };
	write_op(dir, "op-create", &op);
	op = (struct cfs_op){
		.type = CFS_OP_MKDIR, .parent = FX_LOCK, .name = "l", .name_len = 1, .now = T0 + 200
	};
	write_op(dir, "op-mkdir-lock-takeover", &op);
	op = (struct cfs_op){
		.type = CFS_OP_UNLINK, .parent = FX_D, .name = "f", .name_len = 1, .now = T0
	};
	write_op(dir, "op-unlink", &op);
	op = (struct cfs_op){
		.type = CFS_OP_RMDIR, .parent = FX_LOCK, .name = "l", .name_len = 1, .now = T0
	};
	write_op(dir, "op-rmdir", &op);
	op = (struct cfs_op){ .type = CFS_OP_RENAME,
		              .parent = FX_A_LXC,
		              .name = "100.conf",
		              .name_len = 8,
		              .newparent = FX_B_LXC,
		              .newname = "100.conf",
		              .newname_len = 8,
		              .flags = CFS_OP_F_NOREPLACE,
		              .now = T0 };
	write_op(dir, "op-rename-migrate", &op);
	op = (struct cfs_op){ .type = CFS_OP_PUT,
		              .inode = FX_D_F,
		              .data = "key: value\n",
		              .data_len = 11,
		              .now = T0 };
	write_op(dir, "op-put", &op);
	op = (struct cfs_op){
		.type = CFS_OP_MTIME, .inode = FX_LOCK_L, .mtime = 0, .now = T0 + 500
	};
	write_op(dir, "op-mtime-lock-expiry", &op);

	/* scripts: op, parent, newparent, inode, now, mtime, name, newname, data */
	static const uint8_t create_put[] = {
		0, FX_A_QEMU, 0, 0,  1, 1, 0x80, 0x80, 0, /* create nodes/a/qemu-server/100.conf */
		0, FX_B_LXC,  0, 0,  1, 1, 0x81, 0x80, 0, /* create nodes/b/lxc/101.conf */
		5, 0,         0, 15, 2, 2, 0x80, 0x80, 3, 'a', 'b', 'c', /* put */
	};
	write_file(dir, "script-create-put", create_put, sizeof(create_put));
	static const uint8_t lock[] = {
		1, FX_LOCK, 0, 0,         10,  0, 0x8d, 0x80, 0, /* mkdir priv/lock/l: held */
		1, FX_LOCK, 0, 0,         60,  0, 0x8d, 0x80, 0, /* later: taken over */
		6, 0,       0, FX_LOCK_L, 100, 0, 0x80, 0x80, 0, /* utime 0: expiry request */
		6, 0,       0, FX_LOCK_L, 200, 0, 0x80, 0x80, 0,
	};
	write_file(dir, "script-lock", lock, sizeof(lock));
	static const uint8_t rename[] = {
		4,    FX_A_LXC, FX_B_LXC, 0, 1, 0, 0x80, 0x80, 0, /* migrate 100 */
		4,    FX_D,     FX_A_LXC, 0, 1, 0, 0x8f, 0x83, 0, /* d/f -> 100.conf.tmp.1 */
		0x84, FX_A_LXC, FX_A_LXC, 0, 1, 0, 0x83, 0x80, 0, /* noreplace onto 100.conf */
		4,    FX_NODES, FX_NODES, 0, 1, 0, 0x89, 0x8a, 0, /* nodes/a -> nodes/b */
	};
	write_file(dir, "script-rename", rename, sizeof(rename));
}

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
	return res.err;
}

static void gen_database(const char *dir)
{
	char path[1024], err[512] = "";
	struct database *db;
	struct memdb *mdb;

	snprintf(path, sizeof(path), "%s/tiny.db", dir);
	unlink(path);
	if (database_open(path, &db, err, sizeof(err)) || database_load(db, &mdb, err, sizeof(err)))
		TEST_FAIL("creating %s: %s", path, err);
	static const char *const dirs[] = { "nodes",        "nodes/n1",
		                            "nodes/n1/lxc", "nodes/n1/qemu-server",
		                            "priv",         "priv/lock",
		                            "priv/lock/ha" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *slash = strrchr(dirs[i], '/');
		char parent[64] = "";
		if (slash)
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dirs[i]), dirs[i]);
		const char *name = slash ? slash + 1 : dirs[i];
		struct cfs_op op = { .type = CFS_OP_MKDIR,
			             .parent = mu_ino(mdb, parent),
			             .name = name,
			             .name_len = (uint32_t)strlen(name),
			             .now = T0 };
		ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	}
	struct cfs_op op = { .type = CFS_OP_CREATE,
		             .parent = mu_ino(mdb, "nodes/n1/lxc"),
		             .name = "100.conf",
		             .name_len = 8,
		             .now = T0 };
	ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	op = (struct cfs_op){ .type = CFS_OP_PUT,
		              .inode = mu_ino(mdb, "nodes/n1/lxc/100.conf"),
		              .data = "arch: amd64\nmemory: 512\n",
		              .data_len = 24,
		              .now = T0 };
	ASSERT_EQ(apply_txn(db, mdb, &op), 0);
	memdb_free(mdb);
	database_close(db);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fuzz_seed_gen <cfs_op-dir> <database-dir>\n");
		return 2;
	}
	gen_cfs_op(argv[1]);
	gen_database(argv[2]);
	return 0;
}
